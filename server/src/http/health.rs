//! `/healthz`: liveness, including a database round trip; `/readyz`:
//! readiness, the database and the blob store both answering.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
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

/// How long `/readyz` waits for the database and for the store.
const READINESS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ok` when both answer (200), `unavailable` otherwise (503).
    status: &'static str,
    /// `ok`, or why the database did not answer.
    database: String,
    /// `ok`, or why the blob store did not answer.
    storage: String,
}

/// Readiness: 200 when the database and the blob store both answer, 503
/// (saying which failed) otherwise, so a load balancer sends no uploads
/// to a node that cannot store them. Nothing is written.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let said = |outcome: Result<()>| match outcome {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            e.to_string()
        }
    };
    let (database, storage) =
        tokio::join!(within(state.db.ping()), within(crate::blob::reachable(state.blobs.as_ref())));
    let (database, storage) = (said(database), said(storage));
    let ready = database == "ok" && storage == "ok";
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let answer = if ready { "ok" } else { "unavailable" };
    let mut response =
        (status, Json(Readiness { status: answer, database, storage })).into_response();
    if !ready {
        response.extensions_mut().insert(super::problem::ProblemKind("not-ready"));
    }
    response
}

/// A check's outcome, or a failure once it has taken too long: a store
/// that retries a dead endpoint would hold the probe for minutes, and a
/// load balancer needs its answer in seconds.
async fn within(check: impl std::future::Future<Output = Result<()>>) -> Result<()> {
    tokio::time::timeout(READINESS_TIMEOUT, check).await.unwrap_or_else(|_| {
        Err(crate::error::Error::Config(format!(
            "no answer within {} s",
            READINESS_TIMEOUT.as_secs()
        )))
    })
}

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}
