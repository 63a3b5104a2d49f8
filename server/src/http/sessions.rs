//! `POST /v1.0/sessions` opens an upload session; `GET /v1.0/sessions`
//! lists the account's unfinished ones (to resume from another device).

use axum::{extract::State, routing::get, Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{auth::Auth, body::ApiBody};
use crate::{
    domain::Scope,
    error::Result,
    ingest::open::Opening,
    state::AppState,
    store::{now_unix, sessions::SessionRecord},
};

#[derive(Deserialize, ToSchema)]
pub struct OpenSession {
    /// 1..=255 characters after trimming; no control or invisible
    /// formatting characters.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^\\s*[^\\s\\x00-\\x1f\\x7f-\\x9f\\u00ad\\u061c\\u180e\\u200b\\u200e\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb]([^\\x00-\\x1f\\x7f-\\x9f\\u00ad\\u061c\\u180e\\u200b\\u200e\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb]*[^\\s\\x00-\\x1f\\x7f-\\x9f\\u00ad\\u061c\\u180e\\u200b\\u200e\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb])?\\s*$"
    )]
    pub file_name: String,
    /// Bytes, `0..=max_file_size` (2 GiB unless the server says less).
    #[schema(minimum = 0, maximum = 2147483648_i64)]
    pub file_size: i64,
    /// MIME type; guessed from the extension when absent (or null) or
    /// not one. Every optional field may be null, which is absence.
    pub content_type: Option<String>,
    /// Upload a new version of this file.
    pub file_uuid: Option<String>,
    pub with_preview: Option<bool>,
    /// Hex SHA-256 the completed file must have (beyond Kommo).
    #[schema(pattern = "^[0-9a-fA-F]{64}$")]
    pub sha256: Option<String>,
    /// The part size this client wants, in bytes (beyond Kommo): a
    /// multiple of 64 of at least 65536, granted up to the server's
    /// largest (16 MiB on local disk, `--max-part-size` on S3); the
    /// answer's `max_part_size` is what was granted. Absent: the server's
    /// part size.
    #[schema(minimum = 65536, multiple_of = 64)]
    pub max_part_size: Option<u64>,
}

pub use app::wire::SessionOpened;

#[derive(Serialize, Deserialize, ToSchema)]
pub struct OpenSessionSummary {
    pub session_id: i64,
    pub file_name: String,
    pub file_size: i64,
    pub received: u64,
    pub next_part: u32,
    /// Only for the user who opened the session (its token, the widget
    /// tokens that token issued, or the signed-in user); null for others.
    pub next_url: Option<String>,
    /// As `next_url`: the URL is the session's credential.
    pub upload_url: Option<String>,
    pub expires_at: i64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SessionsEmbedded {
    pub sessions: Vec<OpenSessionSummary>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SessionList {
    pub _count: usize,
    pub _embedded: SessionsEmbedded,
}

impl AppState {
    /// The absolute URL part `part` of a session is sent to, starting at
    /// file offset `offset`.
    pub fn part_url(&self, session_id: i64, part: u32, offset: u64) -> String {
        let token = self.signing.keys().part_token(session_id, part, offset);
        format!("{}/upload/{token}", self.settings.public_url)
    }
}

/// How many parts a file has when cut into full parts (one for an empty
/// file).
pub fn part_count(session: &SessionRecord) -> u32 {
    let parts = (session.file_size as u64).div_ceil(session.part_size as u64).max(1);
    u32::try_from(parts).unwrap_or(u32::MAX)
}

/// Open an upload session.
#[utoipa::path(post, path = "/v1.0/sessions", tag = "uploads", security(("bearer" = [])),
    request_body(description = "JSON, or a form (urlencoded or multipart) with PHP-style bracket keys",
        content((OpenSession = "application/json"), (OpenSession = "application/x-www-form-urlencoded"),
            (OpenSession = "multipart/form-data"))),
    responses(
        (status = 200, body = SessionOpened),
        (status = 400, body = super::problem::Problem, description = "validation, file-too-large, file-trashed"),
        (status = 415, body = super::problem::Problem, description = "unsupported-media-type: not JSON, multipart or urlencoded"),
        (status = 404, body = super::problem::Problem, description = "file_uuid unknown"),
        (status = 429, body = super::problem::Problem, description = "too-many-requests: the account has as many unfinished sessions as it may"),
    ))]
pub async fn open_session(
    State(state): State<AppState>,
    auth: Auth,
    ApiBody(request): ApiBody<OpenSession>,
) -> Result<Json<SessionOpened>> {
    auth.require(Scope::Files)?;
    let session = crate::ingest::open::open(
        &state,
        Opening {
            account: auth.account,
            user: auth.user,
            file_name: &request.file_name,
            file_size: request.file_size,
            content_type: request.content_type.as_deref(),
            file_uuid: request.file_uuid.as_deref(),
            with_preview: request.with_preview.unwrap_or(false),
            sha256: request.sha256.as_deref(),
            concat: None,
            length_deferred: false,
            part_size: request.max_part_size,
        },
    )
    .await?;
    let upload_url = state.part_url(session.id, 1, 0);
    Ok(Json(SessionOpened {
        session_id: session.id,
        part_url_template: format!("{upload_url}?part={{part}}"),
        upload_url,
        max_file_size: state.settings.max_file_size,
        max_part_size: session.part_size as u64,
        expires_at: session.expires_at,
        part_count: part_count(&session),
        window: state.settings.upload_window,
    }))
}

/// The account's unfinished sessions, oldest first (beyond Kommo); their
/// URLs only for the user who opened them.
#[utoipa::path(get, path = "/v1.0/sessions", tag = "uploads", security(("bearer" = [])),
    responses((status = 200, body = SessionList)))]
pub async fn list_sessions(State(state): State<AppState>, auth: Auth) -> Result<Json<SessionList>> {
    auth.require(Scope::Files)?;
    let mut sessions = Vec::new();
    for s in state.db.open_sessions(auth.account, now_unix()).await? {
        let (at, s) = crate::ingest::position(&state, &s).await?;
        if s.status != crate::store::sessions::status::UPLOADING {
            continue; // completed just now by moving its digest
        }
        // The URLs are credentials: only whoever opened the session gets them.
        let opener = s.created_by == Some(auth.user);
        sessions.push(OpenSessionSummary {
            session_id: s.id,
            file_name: s.file_name.clone(),
            file_size: s.file_size,
            received: at.received,
            next_part: at.next_part,
            next_url: opener.then(|| state.part_url(s.id, at.next_part, at.received)),
            upload_url: opener.then(|| state.part_url(s.id, 1, 0)),
            expires_at: s.expires_at,
        });
    }
    Ok(Json(SessionList { _count: sessions.len(), _embedded: SessionsEmbedded { sessions } }))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1.0/sessions", get(list_sessions).post(open_session))
}
