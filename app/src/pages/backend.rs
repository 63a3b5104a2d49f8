//! The server's side of the pages' calls: the `Backend` the server crate
//! implements (who a session cookie signs in, Satchel's API called
//! in-process as that browser) and the helpers every page family's
//! server functions use to call it, check what the browser sent and turn
//! API objects into chips. Server-only (`ssr`); no views.

use std::{future::Future, pin::Pin, sync::Arc};

use leptos::prelude::*;
use serde_json::Value;

use super::{
    shared::{entity_kind, FileChip},
    Viewer,
};

/// What a `Backend` answers with, later.
pub type Pending<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Implemented by the server crate.
pub trait Backend: Send + Sync {
    /// The browser a request's session cookie signs in, if any.
    fn viewer(&self, headers: http::HeaderMap) -> Pending<Option<Viewer>>;

    /// Satchel's API, called as that browser's account: status and
    /// JSON body (null when empty). `Err` when nobody is signed in.
    fn call(
        &self,
        headers: http::HeaderMap,
        method: &'static str,
        uri: String,
        body: Option<Value>,
    ) -> Pending<Result<(u16, Value), String>>;

    /// Whole days until a file trashed at `deleted_at` is purged.
    fn purge_in_days(&self, deleted_at: i64) -> i64;

    /// The `Content-Security-Policy` of a page whose inline scripts carry
    /// `nonce`.
    fn content_security_policy(&self, nonce: &str) -> String;
}

/// Headers every page is sent with: its Content-Security-Policy, with
/// this response's nonce (Leptos puts it on its inline scripts), and
/// `Cache-Control: no-store`, for a page shows what a signed-in browser
/// may see.
pub fn secure_page() {
    use http::{header, HeaderValue};
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else { return };
    if let (Some(pages), Some(nonce)) = (use_context::<Pages>(), leptos::nonce::use_nonce()) {
        let policy = pages.0.content_security_policy(&nonce.to_string());
        if let Ok(value) = HeaderValue::from_str(&policy) {
            response.insert_header(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    response.insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The backend, as a Leptos context.
#[derive(Clone)]
pub struct Pages(pub Arc<dyn Backend>);

fn pages() -> Result<Pages, ServerFnError> {
    use_context::<Pages>().ok_or_else(|| ServerFnError::new("the pages backend is missing"))
}

async fn headers() -> Result<http::HeaderMap, ServerFnError> {
    Ok(leptos_axum::extract::<http::HeaderMap>().await?)
}

pub(crate) fn purge_in_days(deleted_at: i64) -> Result<i64, ServerFnError> {
    Ok(pages()?.0.purge_in_days(deleted_at))
}

pub(crate) async fn viewer() -> Result<Option<Viewer>, ServerFnError> {
    Ok(pages()?.0.viewer(headers().await?).await)
}

/// An API call that must succeed; its problem's detail otherwise.
pub(crate) async fn call(
    method: &'static str,
    uri: String,
    body: Option<Value>,
) -> Result<(u16, Value), ServerFnError> {
    let (status, json) = call_raw(method, uri, body).await?;
    if status >= 400 {
        let detail = json["detail"].as_str().unwrap_or("the request was refused");
        return Err(ServerFnError::new(detail.to_owned()));
    }
    Ok((status, json))
}

/// A chip for a version (`GET /v1.0/files/{uuid}/versions/{version}`),
/// named `name` when the note or value gives one.
pub(crate) async fn chip(
    file_uuid: &str,
    version_uuid: Option<&str>,
    name: Option<&str>,
) -> Result<Option<FileChip>, ServerFnError> {
    let file = match call_raw("GET", format!("/v1.0/files/{file_uuid}?with=deleted"), None).await? {
        (200, json) => json,
        _ => return Ok(None),
    };
    let version = match version_uuid {
        Some(v) if v != file["version_uuid"] => {
            match call_raw(
                "GET",
                format!("/v1.0/files/{file_uuid}/versions/{v}?with=deleted"),
                None,
            )
            .await?
            {
                (200, json) => json,
                _ => return Ok(None),
            }
        }
        _ => file.clone(),
    };
    Ok(Some(chip_of(&version, file_uuid, file["is_trashed"] == true, name)))
}

/// A file or version object's name with its extension (objects
/// show the name without it, and the extension in `metadata`).
pub(crate) fn name_with_extension(json: &Value) -> String {
    let name = json["name"].as_str().unwrap_or_default();
    match json["metadata"]["extension"].as_str().unwrap_or_default() {
        "" => name.to_owned(),
        extension => format!("{name}.{extension}"),
    }
}

/// A chip from a file or version object.
pub(crate) fn chip_of(
    json: &Value,
    file_uuid: &str,
    is_deleted: bool,
    name: Option<&str>,
) -> FileChip {
    let version_uuid = json["version_uuid"].as_str().or_else(|| json["uuid"].as_str());
    FileChip {
        file_uuid: file_uuid.to_owned(),
        version_uuid: version_uuid.unwrap_or_default().to_owned(),
        name: name.map(str::to_owned).unwrap_or_else(|| name_with_extension(json)),
        size: json["size"].as_i64().unwrap_or_default(),
        kind: json["type"].as_str().unwrap_or("file").to_owned(),
        download: json["_links"]["signed_download"]["href"].as_str().unwrap_or("").into(),
        is_deleted,
    }
}

/// The objects a list answer embeds under `key` (none when it has none).
pub(crate) fn embedded(json: &Value, key: &str) -> Vec<Value> {
    json["_embedded"][key].as_array().cloned().unwrap_or_default()
}

/// A chip for each version a versions list
/// (`GET /v1.0/files/{uuid}/versions`) holds, newest first.
pub(crate) fn version_chips(json: &Value, file_uuid: &str, is_deleted: bool) -> Vec<FileChip> {
    embedded(json, "versions").iter().map(|v| chip_of(v, file_uuid, is_deleted, None)).collect()
}

/// An API call whatever its status.
pub(crate) async fn call_raw(
    method: &'static str,
    uri: String,
    body: Option<Value>,
) -> Result<(u16, Value), ServerFnError> {
    pages()?.0.call(headers().await?, method, uri, body).await.map_err(ServerFnError::new)
}

/// An entity type from the browser, checked before it goes into an
/// API path.
pub(crate) fn kind(kind: &str) -> Result<&str, ServerFnError> {
    entity_kind(kind)
        .map(|k| k.0)
        .ok_or_else(|| ServerFnError::new(format!("There is no entity type {kind:?}.")))
}

/// A file uuid from the browser, checked before it goes into an API
/// path.
pub(crate) fn uuid(uuid: &str) -> Result<&str, ServerFnError> {
    let fits = !uuid.is_empty()
        && uuid.len() <= 64
        && uuid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if fits {
        Ok(uuid)
    } else {
        Err(ServerFnError::new("There is no such file."))
    }
}

/// Refuses a state-changing call without the session's CSRF token.
pub(crate) async fn check_csrf(csrf: &str) -> Result<(), ServerFnError> {
    match viewer().await? {
        // Compared in constant time: the time taken tells nothing of how
        // much of a guess was right.
        Some(v)
            if bool::from(subtle::ConstantTimeEq::ct_eq(v.csrf.as_bytes(), csrf.as_bytes())) =>
        {
            Ok(())
        }
        Some(_) => Err(ServerFnError::new("the page's CSRF token is wrong; reload the page")),
        None => Err(ServerFnError::new("sign in first")),
    }
}
