//! `/embed-demo`: a plain HTML page (not a Leptos page) that loads the
//! wasm bundle with a script tag and mounts the upload widget, standing
//! for a CRM page whose backend called `issue_token`. It hands out a
//! one-hour `files` token of the `default` account to whoever opens it,
//! so it is served only on a loopback address or with `--demo`, and is
//! 404 otherwise.

use axum::{
    extract::State,
    http::header,
    response::{Html, IntoResponse, Response},
    routing::get,
    Router,
};

use super::tokens::WIDGET_TOKEN_TTL_SECS;
use crate::{
    domain::{Scope, Scopes},
    error::{Error, Result},
    state::AppState,
    store::now_unix,
};

const PAGE: &str = include_str!("assets/embed-demo.html");

/// The page, with a fresh token in its configuration block.
pub async fn embed_demo(State(state): State<AppState>) -> Result<Response> {
    if !state.settings.embed_demo {
        return Err(Error::NotFound("page"));
    }
    let account = state.db.ensure_account("default").await?;
    let expires_at = now_unix() + WIDGET_TOKEN_TTL_SECS;
    let token =
        state.db.create_token(account, Scopes::from(Scope::Files), Some(expires_at), None).await?;
    let config = serde_json::json!({ "endpoint": "", "token": token.expose() });
    // `<` cannot end the script block from inside JSON text.
    let config = config.to_string().replace('<', "\\u003c");
    let page = PAGE.replace("__SATCHEL_CONFIG__", &config);
    Ok(([(header::CACHE_CONTROL, "no-store")], Html(page)).into_response())
}

pub fn router() -> Router<AppState> {
    Router::new().route("/embed-demo", get(embed_demo))
}
