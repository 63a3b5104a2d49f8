//! `/embed-demo`: a plain HTML page (not a Leptos page) that loads the
//! wasm bundle with a script tag and mounts the upload widget, standing
//! for a CRM page whose backend called `issue_token`. It hands out a
//! one-hour `files` token of the `default` account to whoever opens it,
//! so it is served only with `--demo`, or to requests addressed to a
//! loopback host when Satchel listens on loopback with a loopback public
//! URL (`state::EmbedDemo`); it is 404 otherwise.

use axum::{
    extract::State,
    http::{header, HeaderMap},
    response::{Html, IntoResponse, Response},
    routing::get,
    Router,
};

use super::tokens::WIDGET_TOKEN_TTL_SECS;
use crate::{
    domain::{Scope, Scopes},
    error::{Error, Result},
    state::{AppState, EmbedDemo},
    store::now_unix,
};

const PAGE: &str = include_str!("assets/embed-demo.html");

/// The page, with a fresh token in its configuration block.
pub async fn embed_demo(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let served = match state.settings.embed_demo {
        EmbedDemo::Always => true,
        EmbedDemo::Loopback => is_loopback_host(host),
        EmbedDemo::Off => false,
    };
    if !served {
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
    // The page stands for an integrator's page, whose own policy would
    // rule its scripts; it is only kept out of frames.
    let headers = [
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
    ];
    Ok((headers, Html(page)).into_response())
}

/// Whether a Host header (or URL authority) names this machine:
/// `localhost`, `127.0.0.0/8` or `[::1]`, with any port.
pub fn is_loopback_host(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                authority
            }
        }),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

pub fn router() -> Router<AppState> {
    Router::new().route("/embed-demo", get(embed_demo))
}

#[cfg(test)]
mod tests {
    use super::is_loopback_host;

    #[test]
    fn only_this_machine_is_loopback() {
        for yes in [
            "127.0.0.1",
            "127.0.0.1:3000",
            "localhost",
            "LOCALHOST:80",
            "[::1]:3000",
            "[::1]",
            "127.1.2.3",
        ] {
            assert!(is_loopback_host(yes), "{yes}");
        }
        for no in [
            "",
            "files.example.com",
            "files.example.com:3000",
            "10.0.0.1:3000",
            "localhost.evil.com",
            "[2001:db8::1]:80",
            "0.0.0.0:3000",
        ] {
            assert!(!is_loopback_host(no), "{no}");
        }
    }
}
