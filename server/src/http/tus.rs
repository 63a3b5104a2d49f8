//! tus 1.0.0 (tus.io) over the ingest core, for tus-js-client, Uppy,
//! tuspy and the other tus clients.
//!
//! - `OPTIONS /tus`: the version, extensions, maximum size and checksum
//!   algorithms.
//! - `POST /tus` (creation, creation-with-upload): a bearer token with
//!   the `files` scope, `Upload-Length` and `Upload-Metadata`; 201 with
//!   the upload's URL, `/tus/{token}`, a capability bound to the
//!   session's expiry like the Kommo part URLs (no token needed on it).
//! - `HEAD /tus/{token}`: the offset; `PATCH`: bytes at the offset;
//!   `DELETE` (termination): frees the bytes.
//!
//! A PATCH body goes to the core as consecutive appends of at most
//! `max_part_size` bytes each, streamed; bytes of a body cut midway are
//! kept where the store can (local disk), so `HEAD` moves past them. A
//! PATCH with `Upload-Checksum` (or that announces it as a trailer) is
//! checked whole before anything of it is stored, so it may carry at most
//! `max_part_size` bytes (413 above). The last PATCH's answer and `HEAD`
//! on a finished upload carry `Satchel-File-Uuid` and `Satchel-File` (the
//! file's API URL).

use axum::{
    body::{Body, Bytes},
    extract::{Path, Request, State},
    http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{head, post},
    Extension, Router,
};
use futures::{stream::BoxStream, Stream, StreamExt};
use http_body_util::BodyExt;
use std::{
    pin::Pin,
    task::{Context, Poll},
};
use tower_http::cors::{Any, CorsLayer};

use super::{
    auth::Auth,
    upload::{session_of, take_share, takes_bytes},
};
use crate::{
    domain::{
        tus::{self, ChecksumError},
        Scope,
    },
    error::{Error, Result},
    ingest::{self, lifetime::Grant, open::Opening, Append},
    state::AppState,
    store::{
        now_unix,
        sessions::{concat, status, SessionRecord},
    },
};

const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");
const UPLOAD_EXPIRES: HeaderName = HeaderName::from_static("upload-expires");
const UPLOAD_COMPLETE: HeaderName = HeaderName::from_static("upload-complete");
const UPLOAD_CONCAT: HeaderName = HeaderName::from_static("upload-concat");
const INTEROP: HeaderName = HeaderName::from_static("upload-draft-interop-version");
const FILE_UUID: HeaderName = HeaderName::from_static("satchel-file-uuid");
const FILE_URL: HeaderName = HeaderName::from_static("satchel-file");

/// The headers a browser on another origin may read.
const EXPOSED: [&str; 15] = [
    "upload-concat",
    "location",
    "tus-resumable",
    "tus-version",
    "tus-extension",
    "tus-max-size",
    "upload-offset",
    "upload-length",
    "upload-defer-length",
    "upload-expires",
    "upload-complete",
    "upload-limit",
    "upload-draft-interop-version",
    "satchel-file-uuid",
    "satchel-file",
];

pub fn router(state: &AppState) -> Router<AppState> {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST, Method::HEAD, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allow_headers(Any)
        .expose_headers(EXPOSED.map(HeaderName::from_static));
    Router::new()
        .route("/tus", post(create))
        .route("/tus/{token}", head(offset).patch(patch).delete(terminate))
        .layer(cors)
        .layer(middleware::from_fn_with_state(state.clone(), protocol))
}

/// Which protocol a request speaks: tus 1.0.0, or the IETF draft at an
/// interop version (`Upload-Draft-Interop-Version`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Face {
    Tus,
    Draft(u8),
}

/// Tells the faces apart and keeps each one's rules for every answer.
///
/// - `OPTIONS` without `Access-Control-Request-Method` asks what the
///   server offers (a browser's preflight goes on to CORS).
/// - A request with `Upload-Draft-Interop-Version` speaks the draft (6 or
///   8; another is 400); its answers carry the version back, and the
///   draft's problems their IANA type URIs (a 409 also `Upload-Offset`).
/// - Any other request speaks tus: without `Tus-Resumable: 1.0.0` it is
///   412 with `Tus-Version`; every answer carries `Tus-Resumable`.
async fn protocol(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let face = match request.headers().get(&INTEROP) {
        None => Face::Tus,
        Some(value) => match value.to_str().map_err(|_| String::new()).and_then(tus::parse_interop)
        {
            Ok(version) => Face::Draft(version),
            Err(why) => return Error::validation(why).into_response(),
        },
    };
    if request.method() == Method::OPTIONS {
        if request.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
            return next.run(request).await;
        }
        return options(&state);
    }
    // Methods tus does not define reach the router, which answers 405.
    if !matches!(*request.method(), Method::POST | Method::HEAD | Method::PATCH | Method::DELETE) {
        return next.run(request).await;
    }
    request.extensions_mut().insert(face);
    match face {
        Face::Tus => {
            let version = request.headers().get(&TUS_RESUMABLE).and_then(|v| v.to_str().ok());
            let mut response = if version == Some(tus::VERSION) {
                next.run(request).await
            } else {
                let why = match version {
                    None => "Tus-Resumable is missing: this is a tus 1.0.0 endpoint (or send \
                             Upload-Draft-Interop-Version for the IETF draft)"
                        .to_owned(),
                    Some(v) => format!("tus {v} is not served here, only {}", tus::VERSION),
                };
                let mut refused = Error::PreconditionFailed(why).into_response();
                refused.headers_mut().insert("tus-version", HeaderValue::from_static(tus::VERSION));
                refused
            };
            response.headers_mut().insert(TUS_RESUMABLE, HeaderValue::from_static(tus::VERSION));
            response
        }
        Face::Draft(version) => {
            let mut response = draft_problem(next.run(request).await).await;
            response.headers_mut().insert(INTEROP, HeaderValue::from(u16::from(version)));
            response
        }
    }
}

/// A problem of the draft's own kinds gets its registered type URI; an
/// offset mismatch also the offset to go on from.
async fn draft_problem(response: Response) -> Response {
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return Error::validation("the answer could not be read").into_response();
    };
    let Ok(mut problem) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let slug = problem["type"].as_str().unwrap_or_default().to_owned();
    if let Some((_, uri)) = tus::DRAFT_PROBLEM_TYPES.iter().find(|(s, _)| *s == slug) {
        problem["type"] = (*uri).into();
        if let Some(offset) = problem["expected-offset"].as_u64() {
            parts.headers.insert(UPLOAD_OFFSET, offset.into());
        }
        parts.headers.remove(header::CONTENT_LENGTH);
        return Response::from_parts(parts, Body::from(problem.to_string()));
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// What the server offers, to both faces.
fn options(state: &AppState) -> Response {
    let max = state.settings.max_file_size;
    let headers = [
        ("tus-resumable", tus::VERSION.to_owned()),
        ("tus-version", tus::VERSION.to_owned()),
        ("tus-extension", tus::EXTENSIONS.to_owned()),
        ("tus-max-size", max.to_string()),
        ("tus-checksum-algorithm", tus::CHECKSUM_ALGORITHMS.to_owned()),
        ("upload-limit", format!("min-size=0, max-size={max}")),
        ("accept-patch", format!("{}, {}", tus::PATCH_CONTENT_TYPE, tus::PARTIAL_UPLOAD)),
    ];
    (StatusCode::NO_CONTENT, headers).into_response()
}

/// The tus version a request speaks: 1.0.0, the one served.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the header; requests are read by `protocol`
pub enum TusResumable {
    #[schema(rename = "1.0.0")]
    V1,
}

const TUS_RESUMABLE_DOC: &str = "1.0.0; a request of the IETF draft sends \
    Upload-Draft-Interop-Version (6 or 8) instead (see docs/API.md)";

/// Creates an upload; with a body (tus's creation-with-upload, the
/// draft's creation with content), stores it too.
#[utoipa::path(post, path = "/tus", tag = "uploads", security(("bearer" = [])),
    params(
        ("Tus-Resumable" = TusResumable, Header, description = TUS_RESUMABLE_DOC),
        ("Upload-Length" = Option<u64>, Header, description = "the upload's length (or Upload-Defer-Length: 1)"),
        ("Upload-Metadata" = Option<String>, Header, description = "filename, filetype, file_uuid, with_preview, sha256; values base64"),
        ("Upload-Concat" = Option<String>, Header, pattern = "^(partial|final;.+)$", description = "partial, or final;<partial upload URLs>"),
        ("Upload-Complete" = Option<String>, Header, description = "the IETF draft: ?1 or ?0"),
    ),
    request_body(description = "optional: the first bytes (creation-with-upload)",
        content((Option<Vec<u8>> = "application/offset+octet-stream"))),
    responses(
        (status = 201, description = "created: Location, Upload-Expires, Upload-Offset when bytes came; Satchel-File-Uuid once it is a file"),
        (status = 400, body = super::problem::Problem),
        (status = 401, body = super::problem::Problem),
        (status = 412, body = super::problem::Problem, description = "unsupported-version, with Tus-Version"),
        (status = 413, body = super::problem::Problem),
        (status = 429, body = super::problem::Problem, description = "too-many-requests: the account has as many unfinished uploads as it may"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Extension(face): Extension<Face>,
    auth: Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    auth.require(Scope::Files)?;
    let concat = match text_header(&headers, &UPLOAD_CONCAT)? {
        Some(value) => Some(tus::parse_concat(value).map_err(Error::Validation)?),
        None => None,
    };
    if let Some(tus::Concat::Final(urls)) = concat {
        return create_final(&state, &auth, &headers, &urls).await;
    }
    let deferred = match text_header(&headers, &HeaderName::from_static("upload-defer-length"))? {
        None => false,
        Some("1") if face == Face::Tus => true,
        Some(_) => return Err(Error::validation("Upload-Defer-Length can only be 1 (tus)")),
    };
    let declared = content_length(&headers)?;
    let upload_length = match text_header(&headers, &UPLOAD_LENGTH)? {
        Some(text) => Some(tus::parse_length("Upload-Length", text).map_err(Error::Validation)?),
        None => None,
    };
    // The draft: Upload-Complete is required; ?1 with the content makes
    // its length the upload's.
    let complete = match face {
        Face::Tus => None,
        Face::Draft(_) => {
            if headers.contains_key(&UPLOAD_OFFSET) {
                return Err(Error::validation("a creation request carries no Upload-Offset"));
            }
            Some(upload_complete(&headers)?.ok_or_else(|| {
                Error::validation("Upload-Complete (?1 or ?0) is required to create an upload")
            })?)
        }
    };
    if deferred && upload_length.is_some() {
        return Err(Error::validation("send Upload-Length or Upload-Defer-Length, not both"));
    }
    let length = match (upload_length, complete, declared) {
        _ if deferred => state.settings.max_file_size,
        (Some(length), Some(true), Some(content)) if length != content => {
            return Err(Error::InconsistentLength(format!(
                "Upload-Length is {length} but the complete upload's content is {content} bytes"
            )))
        }
        (Some(length), _, _) => length,
        (None, Some(true), Some(content)) => content,
        (None, _, _) => {
            return Err(Error::validation(match face {
                Face::Tus => "Upload-Length is required",
                Face::Draft(_) => {
                    "Upload-Length is required, unless Upload-Complete is ?1 and \
                                   Content-Length gives the content's length"
                }
            }))
        }
    };
    let max = state.settings.max_file_size;
    if length > max {
        return Err(Error::BodyTooLarge { max });
    }
    let metadata = match text_header(&headers, &HeaderName::from_static("upload-metadata"))? {
        Some(text) => tus::parse_metadata(text).map_err(Error::Validation)?,
        None => tus::Metadata::default(),
    };
    let session = ingest::open::open(
        &state,
        Opening {
            account: auth.account,
            user: auth.user,
            file_name: metadata.file_name.as_deref().unwrap_or("upload"),
            file_size: length as i64,
            content_type: metadata.content_type.as_deref(),
            file_uuid: metadata.file_uuid.as_deref(),
            with_preview: metadata.with_preview,
            sha256: metadata.sha256.as_deref(),
            concat: concat.map(|_| concat::PARTIAL),
            length_deferred: deferred,
            part_size: None,
        },
    )
    .await?;
    let location = state.tus_url(session.id);
    let mut answer = Response::builder()
        .status(StatusCode::CREATED)
        .header(header::LOCATION, &location)
        .body(Body::empty())
        .expect("valid headers");
    let with_body = match face {
        Face::Tus => {
            headers.get(header::CONTENT_TYPE).is_some_and(|v| v == tus::PATCH_CONTENT_TYPE)
        }
        Face::Draft(_) => {
            declared.is_some_and(|n| n > 0) || headers.contains_key(header::TRANSFER_ENCODING)
        }
    };
    let (end, session) = if with_body || length == 0 {
        let stored = store(&state, session, 0, &headers, body).await?;
        answer.headers_mut().insert(UPLOAD_OFFSET, stored.0.into());
        stored
    } else {
        (0, session)
    };
    if complete == Some(true) && end != length {
        return Err(Error::InconsistentLength(format!(
            "the upload was said to be complete, but its content ended at byte {end} of {length}"
        )));
    }
    state_headers(&state, face, &session, answer.headers_mut()).await?;
    Ok(answer)
}

/// A final upload of tus concatenation: its partial uploads, in order,
/// each of this account and claimed by no other final. Completed at once
/// when they all are (concatenation), else when the last one completes
/// (concatenation-unfinished). It takes no bytes of its own.
async fn create_final(
    state: &AppState,
    auth: &Auth,
    headers: &HeaderMap,
    urls: &[String],
) -> Result<Response> {
    if headers.contains_key(&UPLOAD_LENGTH) {
        return Err(Error::validation(
            "a final upload takes no Upload-Length: its length is its partial uploads'",
        ));
    }
    let mut partials = Vec::with_capacity(urls.len());
    for url in urls {
        let not_usable = |why: &str| Error::validation(format!("Upload-Concat: {url} {why}"));
        let token = tus::token_of(url).ok_or_else(|| not_usable("is not an upload URL here"))?;
        let (partial, _, _) =
            session_of(state, token).await.map_err(|_| not_usable("is not an upload here"))?;
        if partial.account_id != auth.account.0 {
            return Err(not_usable("is not an upload here"));
        }
        if partial.concat.as_deref() != Some(concat::PARTIAL) {
            return Err(not_usable("is not a partial upload (Upload-Concat: partial)"));
        }
        if partial.concat_final.is_some() {
            return Err(not_usable("already belongs to a final upload"));
        }
        if partial.length_deferred != 0 {
            return Err(not_usable("has no length yet (Upload-Defer-Length); name it first"));
        }
        if partial.is_expired_at(now_unix()) {
            return Err(not_usable("has expired"));
        }
        partials.push(partial);
    }
    let length: i64 = partials.iter().map(|p| p.file_size).sum();
    let metadata = match text_header(headers, &HeaderName::from_static("upload-metadata"))? {
        Some(text) => tus::parse_metadata(text).map_err(Error::Validation)?,
        None => tus::Metadata::default(),
    };
    let session = ingest::open::open(
        state,
        Opening {
            account: auth.account,
            user: auth.user,
            file_name: metadata.file_name.as_deref().unwrap_or("upload"),
            file_size: length,
            content_type: metadata.content_type.as_deref(),
            file_uuid: metadata.file_uuid.as_deref(),
            with_preview: metadata.with_preview,
            sha256: metadata.sha256.as_deref(),
            concat: Some(concat::FINAL),
            length_deferred: false,
            part_size: None,
        },
    )
    .await?;
    let ids: Vec<i64> = partials.iter().map(|p| p.id).collect();
    if !state.db.claim_partials(auth.account, session.id, &ids, now_unix()).await? {
        state.db.cancel_session(session.id).await?;
        return Err(Error::validation(
            "Upload-Concat: a partial upload was claimed by another final upload or expired \
             meanwhile; nothing was made",
        ));
    }
    ingest::concat::stitch(state, session.id).await?;
    let session = state.db.session(session.id).await?.ok_or(Error::NotFound("upload"))?;
    let mut answer = Response::builder()
        .status(StatusCode::CREATED)
        .header(header::LOCATION, state.tus_url(session.id))
        .body(Body::empty())
        .expect("valid headers");
    state_headers(state, Face::Tus, &session, answer.headers_mut()).await?;
    Ok(answer)
}

/// `Upload-Concat` as HEAD answers it: `partial`, or `final;` and the
/// partial uploads' URLs.
async fn concat_header(state: &AppState, session: &SessionRecord) -> Result<Option<String>> {
    Ok(match session.concat.as_deref() {
        Some(concat::PARTIAL) => Some("partial".to_owned()),
        Some(_) => {
            let partials = state.db.partials_of(session.id).await?;
            let urls: Vec<String> = partials.iter().map(|p| state.tus_url(p.id)).collect();
            Some(format!("final;{}", urls.join(" ")))
        }
        None => None,
    })
}

/// The offset: where the next append starts.
#[utoipa::path(head, path = "/tus/{token}", tag = "uploads",
    params(("token" = String, Path, description = "from Location"),
        ("Tus-Resumable" = TusResumable, Header, description = TUS_RESUMABLE_DOC)),
    responses(
        (status = 200, description = "tus: Upload-Offset, Upload-Length (or Upload-Defer-Length), Upload-Metadata, Upload-Concat, Cache-Control: no-store"),
        (status = 204, description = "the IETF draft: Upload-Offset, Upload-Complete, Upload-Limit"),
        (status = 404, description = "unknown or terminated"),
        (status = 410, description = "expired"),
    ))]
pub async fn offset(
    State(state): State<AppState>,
    Extension(face): Extension<Face>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    if face != Face::Tus {
        for name in [&UPLOAD_OFFSET, &UPLOAD_COMPLETE, &UPLOAD_LENGTH] {
            if headers.contains_key(name) {
                return Err(Error::validation(format!("offset retrieval carries no {name}")));
            }
        }
    }
    let (session, _, _) = session_of(&state, &token).await?;
    if Grant::of(&session, now_unix()) == Grant::Expired {
        return Err(Error::SessionExpired);
    }
    let (at, session) = ingest::position(&state, &session).await?;
    let completed = session.status == status::COMPLETED;
    let received = if completed { session.file_size as u64 } else { at.received };
    let mut answer = Response::builder()
        .status(if face == Face::Tus { StatusCode::OK } else { StatusCode::NO_CONTENT })
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::empty())
        .expect("valid headers");
    match session.length_deferred {
        0 => answer.headers_mut().insert(UPLOAD_LENGTH, session.file_size.into()),
        _ => answer.headers_mut().insert("upload-defer-length", HeaderValue::from_static("1")),
    };
    let concat = concat_header(&state, &session).await?;
    // An unfinished final upload has no offset of its own (tus).
    let is_final = concat.as_deref().is_some_and(|c| c.starts_with("final;"));
    if completed || !is_final {
        answer.headers_mut().insert(UPLOAD_OFFSET, received.into());
    }
    if let Some(concat) = concat {
        let value = HeaderValue::from_str(&concat).map_err(|_| Error::NotFound("upload"))?;
        answer.headers_mut().insert(UPLOAD_CONCAT, value);
    }
    if face == Face::Tus {
        answer.headers_mut().insert(
            "upload-metadata",
            HeaderValue::from_str(&tus::encode_metadata(&session.file_name, &session.mime_type))
                .expect("base64 is a valid header"),
        );
    }
    state_headers(&state, face, &session, answer.headers_mut()).await?;
    Ok(answer)
}

/// Bytes at the offset.
#[utoipa::path(patch, path = "/tus/{token}", tag = "uploads",
    params(("token" = String, Path, description = "from Location"),
        ("Tus-Resumable" = TusResumable, Header, description = TUS_RESUMABLE_DOC),
        ("Upload-Offset" = u64, Header, description = "where the upload stands"),
        ("Upload-Checksum" = Option<String>, Header, description = "sha1, sha256 or md5, base64"),
        ("Upload-Length" = Option<u64>, Header, description = "names a deferred length")),
    request_body(description = "the bytes (the IETF draft's appends are application/partial-upload)",
        content((Vec<u8> = "application/offset+octet-stream"))),
    responses(
        (status = 204, description = "stored: Upload-Offset; Satchel-File-Uuid and Satchel-File once it is a file"),
        (status = 400, body = super::problem::Problem),
        (status = 403, body = super::problem::Problem, description = "a final upload of concatenation"),
        (status = 404, body = super::problem::Problem),
        (status = 409, body = super::problem::Problem, description = "mismatching-upload-offset"),
        (status = 410, body = super::problem::Problem, description = "session-expired"),
        (status = 413, body = super::problem::Problem),
        (status = 415, body = super::problem::Problem),
        (status = 460, body = super::problem::Problem, description = "checksum-mismatch; nothing kept"),
    ))]
pub async fn patch(
    State(state): State<AppState>,
    Extension(face): Extension<Face>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let wanted = match face {
        Face::Tus => tus::PATCH_CONTENT_TYPE,
        Face::Draft(_) => tus::PARTIAL_UPLOAD,
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if content_type != Some(wanted) {
        return Err(Error::UnsupportedMediaType(format!(
            "an append's body is {wanted}, not {}",
            content_type.unwrap_or("untyped")
        )));
    }
    let sent = text_header(&headers, &UPLOAD_OFFSET)?
        .ok_or_else(|| Error::validation("Upload-Offset is required"))?;
    let sent = tus::parse_length("Upload-Offset", sent).map_err(Error::Validation)?;
    let complete = match face {
        Face::Tus => None,
        Face::Draft(_) => upload_complete(&headers)?,
    };
    let (session, _, _) = session_of(&state, &token).await?;
    takes_bytes(&session)?;
    if matches!(session.concat.as_deref(), Some(concat::FINAL | concat::STITCHED)) {
        return Err(Error::Forbidden("a final upload takes no bytes: PATCH its partial uploads"));
    }
    let session = match text_header(&headers, &UPLOAD_LENGTH)? {
        None => session,
        Some(text) => name_length(&state, session, text).await?,
    };
    let length = session.file_size as u64;
    let declared = content_length(&headers)?;
    if face != Face::Tus && session.status == status::COMPLETED && declared != Some(0) {
        return Err(Error::UploadCompleted);
    }
    if let (Some(true), Some(len)) = (complete, declared) {
        if sent.saturating_add(len) != length {
            return Err(Error::InconsistentLength(format!(
                "this append is said to complete the upload, but it ends at byte {} of {length}",
                sent.saturating_add(len)
            )));
        }
    }
    let (end, session) = store(&state, session, sent, &headers, body).await?;
    if complete == Some(true) && end != length {
        return Err(Error::InconsistentLength(format!(
            "this append was said to complete the upload, but it ended at byte {end} of {length}"
        )));
    }
    let mut answer = Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(UPLOAD_OFFSET, end)
        .body(Body::empty())
        .expect("valid headers");
    state_headers(&state, face, &session, answer.headers_mut()).await?;
    Ok(answer)
}

/// `Upload-Length` on a PATCH: names the length of an upload created
/// with `Upload-Defer-Length` (once, not below what it holds); on any
/// other upload it must be the length it has.
async fn name_length(
    state: &AppState,
    session: SessionRecord,
    text: &str,
) -> Result<SessionRecord> {
    let length = tus::parse_length("Upload-Length", text).map_err(Error::Validation)?;
    if session.length_deferred == 0 {
        if length != session.file_size as u64 {
            return Err(Error::validation(format!(
                "Upload-Length is {}; it cannot change",
                session.file_size
            )));
        }
        return Ok(session);
    }
    if length > state.settings.max_file_size {
        return Err(Error::BodyTooLarge { max: state.settings.max_file_size });
    }
    let (at, _) = ingest::position(state, &session).await?;
    if !state.db.set_length(session.id, length as i64, at.received as i64).await? {
        return Err(Error::validation(format!(
            "Upload-Length {length} is below the {} bytes stored, or the length was named before",
            at.received
        )));
    }
    // The digest starts over from the database's cursor.
    state.ingest.digest_locks.forget(session.id);
    if at.received == length {
        // Everything is here already: the file completes now.
        ingest::digest::advance(state, session.id, None, true).await?;
    }
    state.db.session(session.id).await?.ok_or(Error::NotFound("upload"))
}

/// Termination (tus), cancellation (the draft): the upload and its bytes
/// are gone.
#[utoipa::path(delete, path = "/tus/{token}", tag = "uploads",
    params(("token" = String, Path, description = "from Location"),
        ("Tus-Resumable" = TusResumable, Header, description = TUS_RESUMABLE_DOC)),
    responses(
        (status = 204, description = "terminated; its bytes are freed"),
        (status = 400, body = super::problem::Problem, description = "complete, or a partial upload a final one took"),
        (status = 404, body = super::problem::Problem),
    ))]
pub async fn terminate(
    State(state): State<AppState>,
    Extension(face): Extension<Face>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode> {
    if face != Face::Tus
        && (headers.contains_key(&UPLOAD_OFFSET) || headers.contains_key(&UPLOAD_COMPLETE))
    {
        return Err(Error::validation("cancellation carries no Upload-Offset or Upload-Complete"));
    }
    let (session, _, _) = session_of(&state, &token).await?;
    if session.status == status::COMPLETED && session.concat.as_deref() == Some(concat::PARTIAL) {
        return Err(Error::validation(
            "this partial upload is complete: a final upload takes it, or it expires unused",
        ));
    }
    if session.status == status::COMPLETED {
        return Err(Error::validation(
            "the upload is complete and is a file now; trash it with DELETE /v1.0/files",
        ));
    }
    if session.concat_final.is_some() {
        return Err(Error::validation(
            "this partial upload belongs to a final upload; terminate the final one",
        ));
    }
    if !state.db.cancel_session(session.id).await? {
        return Err(Error::NotFound("upload"));
    }
    state.ingest.forget(session.id);
    // A final's partials go with it: the sweeper expires them and frees
    // their bytes.
    crate::jobs::free_parts_of(&state, session.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What every answer about an upload says of it: tus's `Upload-Expires`
/// while unfinished, the draft's `Upload-Complete` and `Upload-Limit`,
/// and once it is a file, `Satchel-File-Uuid` and `Satchel-File`.
async fn state_headers(
    state: &AppState,
    face: Face,
    session: &SessionRecord,
    headers: &mut HeaderMap,
) -> Result<()> {
    let completed = session.status == status::COMPLETED;
    match face {
        Face::Tus if !completed => {
            headers.insert(UPLOAD_EXPIRES, http_date(session.expires_at));
        }
        Face::Tus => {}
        Face::Draft(version) => {
            headers
                .insert(UPLOAD_COMPLETE, HeaderValue::from_static(tus::complete_value(completed)));
            let limit = tus::upload_limit(
                version,
                state.settings.max_file_size,
                session.expires_at - now_unix(),
            );
            headers.insert("upload-limit", HeaderValue::from_str(&limit).expect("ASCII"));
        }
    }
    finished_headers(state, session, headers).await
}

/// `Upload-Complete`, if sent; 400 if it is not `?1` or `?0`.
fn upload_complete(headers: &HeaderMap) -> Result<Option<bool>> {
    text_header(headers, &UPLOAD_COMPLETE)?
        .map(|v| tus::parse_complete(v).map_err(Error::Validation))
        .transpose()
}

/// `Content-Length`, if sent.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>> {
    text_header(headers, &header::CONTENT_LENGTH)?
        .map(|v| tus::parse_length("Content-Length", v).map_err(Error::Validation))
        .transpose()
}

/// Stores a body sent for offset `sent`: 409 unless `sent` is where the
/// upload stands, 413 past its length. Returns the offset after it.
async fn store(
    state: &AppState,
    session: SessionRecord,
    sent: u64,
    headers: &HeaderMap,
    body: Body,
) -> Result<(u64, SessionRecord)> {
    let (at, session) = ingest::position(state, &session).await?;
    let file_size = session.file_size as u64;
    let offset = if session.status == status::COMPLETED { file_size } else { at.received };
    if sent != offset {
        return Err(Error::OffsetMismatch { expected: offset, sent });
    }
    let declared = content_length(headers)?;
    if declared.is_some_and(|len| offset + len > file_size) {
        return Err(Error::BodyTooLarge { max: file_size - offset });
    }
    let checksum =
        text_header(headers, &HeaderName::from_static("upload-checksum"))?.map(str::to_owned);
    let trailer = headers
        .get_all(header::TRAILER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|name| name.trim().eq_ignore_ascii_case("upload-checksum")));
    if session.status == status::COMPLETED || (declared == Some(0) && file_size > 0) {
        return Ok((offset, session)); // nothing to store
    }
    let share = take_share(state, &session)?;
    let slot = state.part_slots.clone().acquire_owned().await.expect("never closed");
    // On a task of its own, so a client that goes away cannot cancel a
    // write midway (see the Kommo face).
    let state = state.clone();
    tokio::spawn(async move {
        let stored = if checksum.is_some() || trailer {
            checked(&state, session, offset, declared, checksum, body).await
        } else {
            streamed(&state, session, offset, declared, StreamExt::boxed(body.into_data_stream()))
                .await
        };
        drop((share, slot));
        stored
    })
    .await
    .map_err(|e| Error::Io(std::io::Error::other(e)))?
}

/// A body without a checksum: consecutive appends of at most a piece
/// each, the largest part the server grants (`largest_part_size`). On
/// local disk that is at least `LOCAL_MAX_PART_SIZE`: each piece is
/// made durable and recorded before the next, so fewer, larger pieces
/// take one flush and one commit per 16 MiB instead of per part, and the
/// piece writer holds a small batch whatever the piece's length. On S3 a
/// piece is one object held whole before its PUT: a part.
async fn streamed(
    state: &AppState,
    mut session: SessionRecord,
    start: u64,
    declared: Option<u64>,
    body: BoxStream<'static, std::result::Result<Bytes, axum::Error>>,
) -> Result<(u64, SessionRecord)> {
    let part_size = session.part_size as u64;
    let piece_size = ingest::open::largest_part_size(state);
    let mut source = Pieces { body, leftover: None };
    let mut offset = start;
    loop {
        let left = declared.map(|d| d - (offset - start));
        // A zero-byte file still takes its one empty append.
        let empty_file = session.file_size == 0 && offset == 0;
        match left {
            Some(0) if !empty_file => break,
            None if !empty_file && !source.has_more().await? => break,
            _ => {}
        }
        let len = left.map(|l| l.min(piece_size));
        let request = Append {
            start: offset,
            part: u32::try_from(offset / part_size + 1).unwrap_or(u32::MAX),
            declared: len,
            body_sha256: None,
            whole_digest: None,
            keep_cut: true,
            max_len: Some(piece_size),
        };
        let piece = Limited { source: &mut source, left: len.unwrap_or(piece_size) };
        let appended = match ingest::append(state, &session, request, piece).await {
            // Without a declared length, only bytes past the end are refused
            // for their size.
            Err(Error::PartSize(_)) if declared.is_none() => {
                return Err(Error::BodyTooLarge { max: session.file_size as u64 - offset })
            }
            other => other?,
        };
        let moved = appended.end > offset;
        offset = appended.end;
        session = appended.session;
        if !moved || session.status == status::COMPLETED {
            break;
        }
    }
    Ok((offset, session))
}

/// A body with `Upload-Checksum` (a header, or a trailer it announced):
/// read whole, at most a part, checked, then stored in one append.
async fn checked(
    state: &AppState,
    session: SessionRecord,
    start: u64,
    declared: Option<u64>,
    header_checksum: Option<String>,
    body: Body,
) -> Result<(u64, SessionRecord)> {
    let part_size = session.part_size as u64;
    // Checked whole before anything is stored, so held whole: a part.
    if declared.is_some_and(|len| len > part_size) {
        return Err(Error::BodyTooLarge { max: part_size });
    }
    let limited = http_body_util::Limited::new(body, part_size as usize);
    let collected = limited.collect().await.map_err(|e| {
        if e.is::<http_body_util::LengthLimitError>() {
            Error::BodyTooLarge { max: part_size }
        } else {
            Error::BodyTooSlow(format!("the body ended before it was whole: {e}"))
        }
    })?;
    let trailer_checksum = collected
        .trailers()
        .and_then(|t| t.get("upload-checksum"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = collected.to_bytes();
    let Some(checksum) = header_checksum.or(trailer_checksum) else {
        return Err(Error::validation(
            "the body announced an Upload-Checksum trailer but none came",
        ));
    };
    let (algorithm, expected) = tus::parse_checksum(&checksum).map_err(|e| match e {
        ChecksumError::Unsupported(why) | ChecksumError::Malformed(why) => Error::Validation(why),
    })?;
    if tus::digest(algorithm, &bytes) != expected {
        return Err(Error::ChecksumMismatch(
            "the body does not match Upload-Checksum; nothing of it was stored".into(),
        ));
    }
    let sha256: [u8; 32] =
        tus::digest(tus::Algorithm::Sha256, &bytes).try_into().expect("32 bytes");
    let request = Append {
        start,
        part: u32::try_from(start / part_size + 1).unwrap_or(u32::MAX),
        declared: Some(bytes.len() as u64),
        body_sha256: Some(sha256),
        whole_digest: None,
        keep_cut: false,
        max_len: None,
    };
    let one = futures::stream::iter([Ok::<_, std::convert::Infallible>(bytes)]);
    let appended = ingest::append(state, &session, request, one).await?;
    Ok((appended.end, appended.session))
}

/// The request body, handed out a piece at a time.
struct Pieces {
    body: BoxStream<'static, std::result::Result<Bytes, axum::Error>>,
    leftover: Option<Bytes>,
}

impl Pieces {
    /// Whether the body has bytes left; waits for the next chunk if need be.
    async fn has_more(&mut self) -> Result<bool> {
        while self.leftover.as_ref().is_none_or(Bytes::is_empty) {
            match self.body.next().await {
                Some(Ok(chunk)) => self.leftover = Some(chunk),
                Some(Err(e)) => {
                    return Err(Error::BodyTooSlow(format!("the body ended early: {e}")))
                }
                None => return Ok(false),
            }
        }
        Ok(true)
    }
}

/// At most `left` more bytes of the body.
struct Limited<'a> {
    source: &'a mut Pieces,
    left: u64,
}

impl Stream for Limited<'_> {
    type Item = std::result::Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let mut chunk = match self.source.leftover.take() {
            Some(chunk) if !chunk.is_empty() => chunk,
            _ => match self.source.body.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(chunk))) => chunk,
                other => return other,
            },
        };
        if chunk.len() as u64 > self.left {
            let rest = chunk.split_off(self.left as usize);
            self.source.leftover = Some(rest);
        }
        self.left -= chunk.len() as u64;
        Poll::Ready(Some(Ok(chunk)))
    }
}

/// `Satchel-File-Uuid` and `Satchel-File` once the upload is a file.
async fn finished_headers(
    state: &AppState,
    session: &SessionRecord,
    headers: &mut HeaderMap,
) -> Result<()> {
    let Some(file_id) = session.file_id.filter(|_| session.status == status::COMPLETED) else {
        return Ok(());
    };
    let file = state.db.file_by_id(file_id).await?.ok_or(Error::NotFound("file"))?;
    let url = format!("{}/v1.0/files/{}", state.settings.public_url, file.uuid);
    headers.insert(FILE_UUID, HeaderValue::from_str(&file.uuid).expect("a uuid"));
    headers.insert(FILE_URL, HeaderValue::from_str(&url).map_err(|_| Error::NotFound("file"))?);
    Ok(())
}

/// A header's text, if sent; 400 if it is not text.
fn text_header<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<Option<&'h str>> {
    headers
        .get(name)
        .map(|v| v.to_str().map_err(|_| Error::validation(format!("{name} is not text"))))
        .transpose()
}

/// A Unix time as an HTTP date (RFC 9110), as `Upload-Expires` wants it.
fn http_date(unix: i64) -> HeaderValue {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64);
    HeaderValue::from_str(&httpdate::fmt_http_date(at)).expect("an HTTP date is a valid header")
}

impl AppState {
    /// The URL of a tus upload: the capability to HEAD, PATCH and DELETE it.
    pub fn tus_url(&self, session_id: i64) -> String {
        let token = self.signing.keys().part_token(session_id, 1, 0);
        format!("{}/tus/{token}", self.settings.public_url)
    }
}
