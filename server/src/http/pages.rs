//! The server's side of the pages (`app::pages::backend`): who a
//! session cookie signs in, and Satchel's own API called in-process as
//! that browser's account. The call carries its `Auth` as a request
//! extension, which only in-process requests can have.

use std::sync::Arc;

use app::pages::{
    backend::{Backend, Pages, Pending},
    Viewer,
};
use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Router,
};
use serde_json::Value;
use tower::ServiceExt;

use super::{auth::Auth, login};
use crate::{
    domain::{Scope, Scopes},
    state::AppState,
    store::now_unix,
};

/// What a signed-in browser may do: everything its account may, except
/// moving files to the trash when its sign-in link said `--no-delete`.
fn page_scopes(may_delete: bool) -> Scopes {
    let mut scopes = vec![Scope::Files, Scope::Crm];
    if may_delete {
        scopes.push(Scope::FilesDelete);
    }
    scopes.into_iter().collect()
}

/// The id pages act as in `created_by` (a browser session, not a token).
pub const PAGE_USER: i64 = 0;

struct PagesBackend {
    state: AppState,
    api: Router,
}

impl Backend for PagesBackend {
    fn viewer(&self, headers: axum::http::HeaderMap) -> Pending<Option<Viewer>> {
        let state = self.state.clone();
        Box::pin(async move {
            let secret = login::cookie_value(&headers, login::COOKIE)?;
            let session = state.db.web_session(secret, now_unix()).await.ok()??;
            Some(Viewer {
                account: session.account_name,
                csrf: session.csrf,
                may_delete: session.may_delete,
            })
        })
    }

    fn call(
        &self,
        headers: axum::http::HeaderMap,
        method: &'static str,
        uri: String,
        body: Option<Value>,
    ) -> Pending<std::result::Result<(u16, Value), String>> {
        let (state, api) = (self.state.clone(), self.api.clone());
        Box::pin(async move {
            let secret = login::cookie_value(&headers, login::COOKIE).ok_or("sign in first")?;
            let session = state
                .db
                .web_session(secret, now_unix())
                .await
                .map_err(|e| e.to_string())?
                .ok_or("sign in first")?;
            let mut request = Request::builder()
                .method(method)
                .uri(uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
                .map_err(|e| e.to_string())?;
            request.extensions_mut().insert(Auth {
                account: session.account,
                scopes: page_scopes(session.may_delete),
                user: PAGE_USER,
            });
            let answer = api.oneshot(request).await.map_err(|e| e.to_string())?;
            let status = answer.status().as_u16();
            let bytes = axum::body::to_bytes(answer.into_body(), usize::MAX)
                .await
                .map_err(|e| e.to_string())?;
            Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
        })
    }

    fn content_security_policy(&self, nonce: &str) -> String {
        page_policy(nonce, login::origin_of(&self.state.settings.public_url))
    }

    fn purge_in_days(&self, deleted_at: i64) -> i64 {
        let ttl = self.state.settings.trash_ttl.as_secs() as i64;
        crate::domain::trash::days_left(deleted_at, now_unix(), ttl)
    }
}

/// The Content-Security-Policy of Satchel's pages: scripts only from
/// Satchel, or inline with this response's `nonce`, and the widget's
/// wasm; requests and images to Satchel's own origin and its public URL's
/// (the upload and download links are absolute); no plug-ins, no
/// `<base>`, forms only to Satchel, and no page may frame it. Styles may
/// be inline: the widget carries its own.
pub fn page_policy(nonce: &str, public_origin: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' {public_origin} data: blob:; \
         connect-src 'self' {public_origin}; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// The backend the pages' context carries.
pub fn backend(state: &AppState, api: Router) -> Pages {
    Pages(Arc::new(PagesBackend { state: state.clone(), api }))
}

/// The pages' state-changing requests must come from Satchel's own
/// origin when the browser names one (with the CSRF token, this keeps
/// other sites out even where SameSite cookies do not).
pub async fn same_origin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let origin = request.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok());
    if !safe && origin.is_some_and(|o| o != login::origin_of(&state.settings.public_url)) {
        return (StatusCode::FORBIDDEN, "this request comes from another site").into_response();
    }
    next.run(request).await
}
