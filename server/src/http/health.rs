//! `/healthz`: liveness, including a database round trip.

use axum::{extract::State, routing::get, Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{error::Result, state::AppState};

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the answer is 200.
    status: &'static str,
    /// `sqlite` or `postgres`.
    database: &'static str,
}

/// Liveness: 200 when the server answers and its database does.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Health), (status = 500, body = super::problem::Problem)))]
pub async fn healthz(State(state): State<AppState>) -> Result<Json<Health>> {
    state.db.ping().await?;
    let database = match state.db.kind() {
        crate::store::DbKind::Sqlite => "sqlite",
        crate::store::DbKind::Postgres => "postgres",
    };
    Ok(Json(Health { status: "ok", database }))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}
