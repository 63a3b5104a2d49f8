//! Signing in to Satchel's pages: `GET /login/{secret}` uses a one-time
//! sign-in link (printed by `satchel login-link`, and at the first start)
//! and opens a browser session; `POST /logout` ends it.
//!
//! The session cookie is `HttpOnly` and `SameSite=Lax` (and `Secure` on an
//! https public URL), so scripts cannot read it and other sites' pages
//! cannot send it with their POSTs. State-changing requests from the
//! pages must also carry the session's CSRF token (form field `csrf` or
//! header `x-csrf-token`) and, when the browser names one, an `Origin`
//! equal to Satchel's.

use axum::{
    extract::{FromRequestParts, Path, State},
    http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
    Form, Router,
};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::{
    error::{Error, Result},
    state::AppState,
    store::{now_unix, web::WebSession},
};

/// The browser session's cookie.
pub const COOKIE: &str = "satchel_session";
/// How long a sign-in link works.
pub const LINK_TTL_SECS: i64 = 15 * 60;
/// How long a browser stays signed in.
pub const SESSION_TTL_SECS: i64 = 30 * 86_400;

/// The value of the cookie `name` in a request's `Cookie` headers.
pub fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A signed-in browser: its session and the cookie secret naming it.
#[derive(Clone, Debug)]
pub struct WebUser {
    pub session: WebSession,
    secret: String,
}

impl WebUser {
    /// Refuses a state-changing request whose CSRF token is missing or
    /// wrong, or that comes from another origin.
    pub fn check_csrf(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        form: Option<&str>,
    ) -> Result<()> {
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
            if origin != origin_of(&state.settings.public_url) {
                return Err(Error::Forbidden("this request comes from another site"));
            }
        }
        let sent = form.or_else(|| headers.get("x-csrf-token").and_then(|v| v.to_str().ok()));
        match sent {
            Some(token) if bool::from(token.as_bytes().ct_eq(self.session.csrf.as_bytes())) => {
                Ok(())
            }
            _ => {
                Err(Error::Forbidden("the page's CSRF token is missing or wrong; reload the page"))
            }
        }
    }
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let secret = cookie_value(&parts.headers, COOKIE).ok_or(Error::Unauthorized)?;
        let session = state.db.web_session(secret, now_unix()).await?.ok_or(Error::Unauthorized)?;
        Ok(WebUser { session, secret: secret.to_owned() })
    }
}

/// `scheme://host[:port]` of a URL, as browsers send it in `Origin`.
pub fn origin_of(url: &str) -> &str {
    match url.find("://") {
        Some(i) => url[i + 3..].find('/').map_or(url, |j| &url[..i + 3 + j]),
        None => url,
    }
}

impl AppState {
    /// A fresh sign-in link for the account; its session may delete
    /// files when `may_delete`.
    pub async fn login_link(
        &self,
        account: crate::store::accounts::AccountId,
        may_delete: bool,
    ) -> Result<String> {
        let secret =
            self.db.create_login_link(account, now_unix() + LINK_TTL_SECS, may_delete).await?;
        Ok(format!("{}/login/{}", self.settings.public_url, secret.expose()))
    }

    fn session_cookie(&self, value: &str, max_age: i64) -> HeaderValue {
        let secure = if self.settings.public_url.starts_with("https://") { "; Secure" } else { "" };
        let cookie =
            format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
        HeaderValue::from_str(&cookie).expect("a cookie of token characters")
    }
}

const LINK_REFUSED: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Sign-in link not valid</title></head><body><main><h1>This sign-in link does not work</h1>\
<p>It has expired (links last 15 minutes) or was already used. Run <code>satchel login-link</code> \
on the server for a new one.</p></main></body></html>";

/// Uses a sign-in link: sets the session cookie and goes to the pages.
pub async fn login(State(state): State<AppState>, Path(secret): Path<String>) -> Result<Response> {
    let now = now_unix();
    let Some((account, may_delete)) = state.db.use_login_link(&secret, now).await? else {
        return Ok((StatusCode::GONE, Html(LINK_REFUSED)).into_response());
    };
    let cookie =
        state.db.create_web_session(account, may_delete, now, now + SESSION_TTL_SECS).await?;
    let mut response = Redirect::to("/").into_response();
    let headers = response.headers_mut();
    headers.insert(header::SET_COOKIE, state.session_cookie(cookie.expose(), SESSION_TTL_SECS));
    // The secret must not leak through the Referer of the next page.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// Signs the browser out.
pub async fn logout(
    State(state): State<AppState>,
    user: WebUser,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response> {
    user.check_csrf(&state, &headers, form.csrf.as_deref())?;
    state.db.end_web_session(&user.secret).await?;
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().insert(header::SET_COOKIE, state.session_cookie("", 0));
    Ok(response)
}

pub fn router() -> Router<AppState> {
    Router::new().route("/login/{secret}", get(login)).route("/logout", post(logout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, "a=1; satchel_session=sat_x ; b=2".parse().unwrap());
        assert_eq!(cookie_value(&headers, COOKIE), Some("sat_x"));
        assert_eq!(cookie_value(&headers, "b"), Some("2"));
        assert_eq!(cookie_value(&headers, "satchel"), None);
        headers.append(header::COOKIE, "c=3".parse().unwrap());
        assert_eq!(cookie_value(&headers, "c"), Some("3"));
    }

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert_eq!(origin_of("http://127.0.0.1:3000"), "http://127.0.0.1:3000");
        assert_eq!(origin_of("https://files.example.com/base"), "https://files.example.com");
    }
}
