//! `GET /download/{file_uuid}/{name}` (the file's current version) and
//! `GET /download/{file_uuid}/{version_uuid}/{name}` (one version): the
//! bytes, to a bearer token of the file's account (the links stay valid
//! for as long as the file exists) or by a signed link (`?sign=`, for
//! browsers, valid for `--link-ttl`). Streams the parts in order from the
//! blob store; never holds a file in memory.

use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use futures::TryStreamExt;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;

use super::auth::{authenticate, bearer};
use crate::{
    blob::BlobKey,
    domain::{
        file_name::FileName,
        range::{answer_range, RangeAnswer},
        signing::{LinkError, CURRENT_VERSION},
        Scope,
    },
    error::{Error, Result},
    state::AppState,
    store::files::{FileRecord, VersionRecord},
};

#[derive(Deserialize)]
pub struct SignQuery {
    sign: Option<String>,
}

/// The file's current version: 200, or 206 for a single `Range`, 304 when
/// `If-None-Match` holds the ETag (the SHA-256).
#[utoipa::path(get, path = "/download/{file_uuid}/{name}", tag = "files",
    params(("file_uuid" = String, Path), ("name" = String, Path),
        ("sign" = Option<String>, Query, description = "signature from a file's `_links.signed_download`; not needed with a bearer token")),
    responses((status = 200, description = "the bytes"), (status = 206, description = "a range"),
        (status = 304), (status = 401, body = super::problem::Problem),
        (status = 403, body = super::problem::Problem), (status = 404, body = super::problem::Problem),
        (status = 416, body = super::problem::Problem)))]
pub async fn download_current(
    State(state): State<AppState>,
    Path((file_uuid, _name)): Path<(String, String)>,
    Query(query): Query<SignQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let sign = query.sign.as_deref();
    let file = granted_file(&state, &file_uuid, CURRENT_VERSION, sign, &headers).await?;
    let version = state
        .db
        .version_by_uuid(file.id, &file.version_uuid)
        .await?
        .ok_or(Error::NotFound("version"))?;
    serve(&state, version, &headers).await
}

/// One version: 200, or 206 for a single `Range`, 304 when
/// `If-None-Match` holds the ETag (the SHA-256).
#[utoipa::path(get, path = "/download/{file_uuid}/{version_uuid}/{name}", tag = "files",
    params(("file_uuid" = String, Path), ("version_uuid" = String, Path), ("name" = String, Path),
        ("sign" = Option<String>, Query, description = "signature from a file's or version's `_links.signed_download*`; not needed with a bearer token")),
    responses((status = 200, description = "the bytes"), (status = 206, description = "a range"),
        (status = 304), (status = 401, body = super::problem::Problem),
        (status = 403, body = super::problem::Problem), (status = 404, body = super::problem::Problem),
        (status = 416, body = super::problem::Problem)))]
pub async fn download(
    State(state): State<AppState>,
    Path((file_uuid, version_uuid, _name)): Path<(String, String, String)>,
    Query(query): Query<SignQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let sign = query.sign.as_deref();
    let version =
        granted_version(&state, &file_uuid, &version_uuid, &version_uuid, sign, &headers).await?;
    serve(&state, version, &headers).await
}

/// A version's bytes, answering `Range` and `If-None-Match`.
async fn serve(state: &AppState, version: VersionRecord, headers: &HeaderMap) -> Result<Response> {
    let etag = format!("\"{}\"", version.sha256);
    let size = version.size as u64;

    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex etag"));
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    response_headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=0"));
    if if_none_match(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&version.mime_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    response_headers.insert(header::CONTENT_DISPOSITION, content_disposition(&version.name));

    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, end) = match answer_range(range_header, size) {
        RangeAnswer::Full => (StatusCode::OK, 0, size),
        RangeAnswer::Partial { start, end } => {
            let value = format!("bytes {start}-{}/{size}", end - 1);
            response_headers
                .insert(header::CONTENT_RANGE, HeaderValue::from_str(&value).expect("ascii"));
            (StatusCode::PARTIAL_CONTENT, start, end)
        }
        RangeAnswer::Unsatisfiable => return Err(Error::RangeNotSatisfiable { size }),
    };
    response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));

    let segments = crate::stored::version_segments(&state.db, &version, start, end).await?;
    let body = crate::stored::read_segments(state.blobs.clone(), segments).map_err(|e| {
        tracing::error!(error = %e, "download stream failed");
        std::io::Error::other("download failed")
    });
    Ok((status, response_headers, Body::from_stream(body)).into_response())
}

/// A preview of a version, by the signed link in `previews[].download_link`
/// or with a bearer token.
#[utoipa::path(get, path = "/download/{file_uuid}/{version_uuid}/preview/{width}", tag = "files",
    params(("file_uuid" = String, Path), ("version_uuid" = String, Path), ("width" = i64, Path, minimum = 1, maximum = 100000),
        ("sign" = Option<String>, Query)),
    responses((status = 200, description = "the preview image"),
        (status = 403, body = super::problem::Problem), (status = 404, body = super::problem::Problem)))]
pub async fn download_preview(
    State(state): State<AppState>,
    Path((file_uuid, version_uuid, width)): Path<(String, String, i64)>,
    Query(query): Query<SignQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let signed_as = format!("{version_uuid}/preview/{width}");
    let sign = query.sign.as_deref();
    let version =
        granted_version(&state, &file_uuid, &version_uuid, &signed_as, sign, &headers).await?;
    let preview = state
        .db
        .previews(version.id)
        .await?
        .into_iter()
        .find(|p| p.width == width)
        .ok_or(Error::NotFound("preview"))?;
    let stream = state.blobs.get(&BlobKey::new(preview.blob_key)?, None).await?;
    let mut response_headers = HeaderMap::new();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&preview.mime_type).expect("a stored MIME type"),
    );
    response_headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response_headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    Ok((StatusCode::OK, response_headers, Body::from_stream(stream)).into_response())
}

/// The version a link or token grants, 404 when its file is trashed. A
/// link must carry a valid signature of exactly `signed_as`; a bearer
/// token needs `files` in the file's account.
async fn granted_version(
    state: &AppState,
    file_uuid: &str,
    version_uuid: &str,
    signed_as: &str,
    sign: Option<&str>,
    headers: &HeaderMap,
) -> Result<VersionRecord> {
    let file = granted_file(state, file_uuid, signed_as, sign, headers).await?;
    state.db.version_by_uuid(file.id, version_uuid).await?.ok_or(Error::NotFound("version"))
}

/// The file a link or token grants, 404 when it is trashed (as its
/// `GET /v1.0/files/{uuid}` is). A bearer token, when sent, decides: it
/// needs `files` of the file's account, and the signature is not read, so
/// an integration may send its token with any link it kept. Without one
/// (another scheme, such as a proxy's Basic sign-in, does not count), the
/// link must carry a valid signature for exactly this file and
/// `signed_as` (a version uuid, `CURRENT_VERSION`, or a preview); without
/// either: 401.
async fn granted_file(
    state: &AppState,
    file_uuid: &str,
    signed_as: &str,
    sign: Option<&str>,
    headers: &HeaderMap,
) -> Result<FileRecord> {
    let file = match sign {
        Some(sign) if bearer(headers).is_none() => {
            match state.verify_download(file_uuid, signed_as, sign).await {
                Ok(()) => {}
                Err(LinkError::Expired) => {
                    return Err(Error::Forbidden("the download link has expired"))
                }
                Err(LinkError::Invalid) => {
                    return Err(Error::Forbidden("the download link is not valid"))
                }
            }
            state.db.file_by_uuid_any_account(file_uuid).await?
        }
        _ => {
            let auth = authenticate(state, headers).await?;
            auth.require(Scope::Files)?;
            state.db.file_by_uuid(auth.account, file_uuid).await?
        }
    };
    file.filter(|f| !f.is_trashed()).ok_or(Error::NotFound("file"))
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// `attachment` with an ASCII fallback name and the exact UTF-8 name
/// (RFC 6266 / RFC 5987).
fn content_disposition(name: &str) -> HeaderValue {
    let sanitized = FileName::parse(name).map(|n| n.sanitized()).unwrap_or_else(|_| "file".into());
    let ascii: String =
        sanitized.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '_' }).collect();
    let encoded = utf8_percent_encode(&sanitized, NON_ALPHANUMERIC);
    HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or(HeaderValue::from_static("attachment"))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/download/{file_uuid}/{name}", get(download_current))
        .route("/download/{file_uuid}/{version_uuid}/{name}", get(download))
        .route("/download/{file_uuid}/{version_uuid}/preview/{width}", get(download_preview))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_carries_ascii_and_utf8_names() {
        let v = content_disposition("Relatório final.pdf");
        assert_eq!(
            v.to_str().unwrap(),
            "attachment; filename=\"Relat_rio final.pdf\"; filename*=UTF-8''Relat%C3%B3rio%20final%2Epdf"
        );
    }

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"a\", W/\"b\""));
        assert!(if_none_match(&h, "\"b\""));
        assert!(!if_none_match(&h, "\"c\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(if_none_match(&h, "\"c\""));
    }
}
