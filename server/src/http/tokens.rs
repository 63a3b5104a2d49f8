//! `POST /api/v4/files/issue_token`: a short-lived `files`-only token for
//! a browser widget, issued by a CRM backend that holds a `crm` token.

use axum::{extract::State, routing::post, Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Auth;
use crate::{
    domain::{Scope, Scopes},
    error::Result,
    state::AppState,
    store::now_unix,
};

/// How long an issued widget token lives.
pub const WIDGET_TOKEN_TTL_SECS: i64 = 3600;

#[derive(Serialize, serde::Deserialize, ToSchema)]
pub struct IssuedToken {
    /// A bearer token with scope `files` only.
    pub token: String,
    /// Unix seconds after which the token is refused.
    pub expires_at: i64,
}

/// Issue a one-hour `files` token for the browser widget (beyond Kommo).
/// Needs a token with scopes `crm` and `files`.
#[utoipa::path(post, path = "/api/v4/files/issue_token", tag = "crm",
    security(("bearer" = [])),
    responses(
        (status = 200, body = IssuedToken),
        (status = 401, body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 403, body = super::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn issue_token(State(state): State<AppState>, auth: Auth) -> Result<Json<IssuedToken>> {
    auth.require(Scope::Crm)?;
    auth.require(Scope::Files)?;
    let expires_at = now_unix() + WIDGET_TOKEN_TTL_SECS;
    let secret = state
        .db
        .create_token(auth.account, Scopes::from(Scope::Files), Some(expires_at), Some(auth.user))
        .await?;
    Ok(Json(IssuedToken { token: secret.expose().to_owned(), expires_at }))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v4/files/issue_token", post(issue_token))
}
