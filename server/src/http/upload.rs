//! Kommo's part chain over the ingest core: `POST /upload/{token}` sends a
//! part, `GET` answers the resume point, `DELETE` cancels. The token in
//! the URL is the credential; it names the session, the part number and
//! the file offset the part starts at. This module only reads requests
//! (token, headers, body) and writes answers; what may be stored where is
//! `ingest`'s.

use axum::{
    body::Body,
    extract::{Path, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{files::FileView, part_body};
use crate::{
    domain::{digest::content_digest_sha256, parts::PartNumber},
    error::{Error, Result},
    ingest::{self, lifetime::Grant, shares::Busy, Append, Appended},
    state::AppState,
    store::{
        now_unix,
        sessions::{status, SessionRecord},
    },
};

pub use app::wire::{CompletedPoint, PartAccepted, Position, ResumeAnswer};

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CompletedFile {
    #[serde(flatten)]
    pub file: FileView,
}

/// `?part=k`: part *k* of a client that cuts full `max_part_size` parts.
#[derive(Deserialize)]
pub struct PartQuery {
    part: Option<u32>,
}

/// The session a token names, or why it cannot be used: 404 for a forged
/// token, an unknown or cancelled session.
pub(super) async fn session_of(
    state: &AppState,
    token: &str,
) -> Result<(SessionRecord, PartNumber, u64)> {
    let granted = state.verify_part_token(token).await.ok_or(Error::NotFound("upload session"))?;
    let session =
        state.db.session(granted.session_id).await?.ok_or(Error::NotFound("upload session"))?;
    if session.status == status::CANCELLED {
        return Err(Error::NotFound("upload session"));
    }
    let offset = granted
        .offset
        .unwrap_or(u64::from(granted.part.saturating_sub(1)) * session.part_size as u64);
    Ok((session, granted.part, offset))
}

/// Whether a session's URL still takes bytes: while it is open, and for
/// replays within the grace after it completed (`ingest::lifetime`).
pub(super) fn takes_bytes(session: &SessionRecord) -> Result<()> {
    match Grant::of(session, now_unix()) {
        Grant::Open | Grant::Replays => Ok(()),
        Grant::Completed => Err(Error::SessionCompleted),
        Grant::Expired => Err(Error::SessionExpired),
        Grant::Cancelled => Err(Error::NotFound("upload session")),
    }
}

/// Store a part.
#[utoipa::path(post, path = "/upload/{token}", tag = "uploads",
    params(("token" = String, Path, description = "from upload_url or next_url"),
        ("part" = Option<u32>, Query, description = "part k of full-size parts (part_url_template)")),
    request_body(description = "the part's raw bytes, or a multipart form with them in its file field",
        content((Vec<u8> = "application/octet-stream"), (part_body::PartForm = "multipart/form-data"))),
    responses(
        (status = 202, body = PartAccepted, description = "an intermediate part was stored"),
        (status = 200, body = CompletedFile, description = "the part completed the file: the file"),
        (status = 400, body = super::problem::Problem, description = "part-size"),
        (status = 404, body = super::problem::Problem),
        (status = 408, body = super::problem::Problem, description = "body-too-slow"),
        (status = 409, body = super::problem::Problem, description = "part-out-of-order, part-conflict"),
        (status = 410, body = super::problem::Problem, description = "session-expired; session-completed (past the grace for replays)"),
        (status = 413, body = super::problem::Problem),
        (status = 429, body = super::problem::Problem, description = "too-many-requests, with Retry-After"),
        (status = 460, body = super::problem::Problem, description = "checksum-mismatch"),
    ))]
pub async fn put_part(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<PartQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let (session, mut part, mut start) = session_of(&state, &token).await?;
    takes_bytes(&session)?;
    if let Some(k) = query.part {
        let shape = ingest::shape_of(&state, &session);
        start = shape.offset_of_part(k).ok_or(Error::NotFound("part"))?;
        part = k;
    }
    // A part may come as a multipart form, its bytes in the file field;
    // the form's Content-Length is not the part's.
    let form = part_body::form_boundary(&headers)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|_| form.is_none());
    if declared.is_some_and(|len| len > session.part_size as u64) {
        return Err(Error::BodyTooLarge { max: session.part_size as u64 });
    }
    let request = Append {
        start,
        part,
        declared,
        body_sha256: digest_header(&headers, "content-digest")?,
        // Read only when the append completes the file, where it counts.
        whole_digest: headers
            .get("repr-digest")
            .map(|v| v.to_str().unwrap_or("\u{fffd}").to_owned()),
        keep_cut: true,
        max_len: None,
    };
    let session_id = session.id;
    // Fair shares first, before the body is read: a session gets its
    // window, an account its share; the body slots are the server's.
    let share = take_share(&state, &session)?;
    let slot = state.part_slots.clone().acquire_owned().await.expect("never closed");
    // The append runs on a task of its own, so a client that goes away
    // cannot cancel a write midway: the body then ends in an error, which
    // the append sees and handles. Part requests are not cut off by
    // --request-timeout (a large part on a slow link takes long); a body
    // slower than --min-upload-rate is dropped instead.
    let appended = tokio::spawn({
        let state = state.clone();
        let stream = match form {
            None => body.into_data_stream().boxed(),
            Some(boundary) => part_body::file_bytes(body, boundary, session.part_size as u64),
        };
        async move {
            let appended = ingest::append(&state, &session, request, stream).await;
            // Held until the body is done with, even if the client left.
            drop((share, slot));
            appended
        }
    })
    .await
    .map_err(|e| Error::Io(std::io::Error::other(e)))?;
    match appended {
        Ok(appended) => answer(&state, part, appended).await,
        Err(Error::PartOutOfOrder { part, next_part, received, window, .. }) => {
            let next_url = Some(state.part_url(session_id, next_part, received));
            Err(Error::PartOutOfOrder { part, next_part, next_url, received, window })
        }
        Err(e) => Err(e),
    }
}

/// A request's share of its session's window and its account's parts in
/// flight, taken before its body is read; 429 when there is none.
pub(super) fn take_share(
    state: &AppState,
    session: &SessionRecord,
) -> Result<ingest::shares::Share> {
    let settings = &state.settings;
    state
        .ingest
        .shares
        .take(session.id, session.account_id, settings.upload_window, settings.parts_per_account)
        .map_err(|busy| match busy {
            Busy::Session { limit } => Error::TooManyRequests(format!(
                "this upload already has {limit} requests in flight; send this one when one of \
                 them is answered"
            )),
            Busy::Account { limit } => Error::TooManyRequests(format!(
                "this account already has {limit} upload requests in flight; send this one when \
                 one of them is answered"
            )),
        })
}

/// The SHA-256 a digest header (`Content-Digest` or `Repr-Digest`, RFC
/// 9530) announces; 400 when it is malformed.
fn digest_header(headers: &HeaderMap, name: &str) -> Result<Option<[u8; 32]>> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| Error::validation(format!("{name} is not text")))?;
    content_digest_sha256(text).map_err(|e| Error::validation(format!("{name}: {e}")))
}

/// 202 with where the next part goes, or 200 with the file once the part
/// completed it (and for parts that end the file, sent again afterwards).
async fn answer(state: &AppState, part: PartNumber, appended: Appended) -> Result<Response> {
    let Appended { end, mut session, created_version, completes } = appended;
    let file_size = session.file_size as u64;
    // The file's end is stored, but bytes before it may not be yet: where
    // the upload stands (finding that may complete the file just now).
    let mut at = None;
    if end == file_size && session.status != status::COMPLETED {
        let (position, fresh) = ingest::position(state, &session).await?;
        (at, session) = (Some(position), fresh);
    }
    let completed = session.status == status::COMPLETED;
    if completed && (created_version.is_some() || end == file_size || completes) {
        let file_id = session.file_id.ok_or(Error::NotFound("file"))?;
        let file = state.db.file_by_id(file_id).await?.ok_or(Error::NotFound("file"))?;
        let mut view = state.file_view(&file).await?;
        view.session_id = session.id;
        return Ok((StatusCode::OK, Json(CompletedFile { file: view })).into_response());
    }
    let next_url = match at {
        None => state.part_url(session.id, part.saturating_add(1), end),
        Some(at) => state.part_url(session.id, at.next_part, at.received),
    };
    let body = PartAccepted { session_id: session.id, next_url, part, received: end };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// The resume point (beyond Kommo). A completed upload's says only that,
/// with its file's uuid: the URL is no key to the file.
#[utoipa::path(get, path = "/upload/{token}", tag = "uploads",
    params(("token" = String, Path)),
    responses((status = 200, body = ResumeAnswer), (status = 404, body = super::problem::Problem)))]
pub async fn resume_point(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<ResumeAnswer>> {
    let (session, _, _) = session_of(&state, &token).await?;
    let grant = Grant::of(&session, now_unix());
    let (at, session) = match grant {
        Grant::Open => ingest::position(&state, &session).await?,
        _ => (ingest::Position { received: 0, next_part: 1, ranges: vec![] }, session),
    };
    // Moving the digest may have completed it just now.
    if session.status == status::COMPLETED && grant != Grant::Expired {
        let file_id = session.file_id.ok_or(Error::NotFound("file"))?;
        let file = state.db.file_by_id(file_id).await?.ok_or(Error::NotFound("file"))?;
        return Ok(Json(ResumeAnswer::Completed(CompletedPoint {
            session_id: session.id,
            status: "completed".into(),
            file_uuid: file.uuid,
        })));
    }
    let next = (grant == Grant::Open).then_some(at.next_part);
    Ok(Json(ResumeAnswer::Open(Position {
        session_id: session.id,
        status: if next.is_some() { "uploading" } else { "expired" }.into(),
        file_name: session.file_name.clone(),
        file_size: session.file_size,
        received: at.received,
        next_part: next,
        next_url: next.map(|n| state.part_url(session.id, n, at.received)),
        ranges: at.ranges.iter().map(|&(s, e)| [s, e]).collect(),
        max_part_size: session.part_size as u64,
        window: state.settings.upload_window,
        expires_at: session.expires_at,
    })))
}

/// Cancel the session and free its parts (beyond Kommo).
#[utoipa::path(delete, path = "/upload/{token}", tag = "uploads",
    params(("token" = String, Path)),
    responses((status = 204), (status = 404, body = super::problem::Problem),
        (status = 409, body = super::problem::Problem), (status = 410, body = super::problem::Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<StatusCode> {
    let (session, _, _) = session_of(&state, &token).await?;
    match Grant::of(&session, now_unix()) {
        Grant::Open => {}
        Grant::Replays | Grant::Completed => {
            return Err(Error::validation("the upload is complete; trash the file instead"))
        }
        Grant::Expired => return Err(Error::SessionExpired),
        Grant::Cancelled => return Err(Error::NotFound("upload session")),
    }
    if !state.db.cancel_session(session.id).await? {
        return Err(Error::NotFound("upload session"));
    }
    state.ingest.forget(session.id);
    crate::jobs::free_parts_of(&state, session.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> Router<AppState> {
    Router::new().route("/upload/{token}", get(resume_point).post(put_part).delete(cancel))
}
