//! The trash: `DELETE /v1.0/files` moves a batch of files into it (all or
//! nothing, scopes `files` and `files_delete`), `POST /v1.0/files/restore`
//! takes a batch out, and `GET /v1.0/files/stats` answers the account's
//! usage against its quota.

use axum::{
    extract::State,
    routing::{delete, get, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{auth::Auth, body::ApiBody, files::FilesEmbedded};
use crate::{
    domain::Scope,
    error::{Error, Result},
    state::AppState,
    store::{now_unix, trash::Restore},
};

/// Most files one batch may name.
pub const MAX_BATCH: usize = 250;

#[derive(Deserialize, ToSchema)]
pub struct FileRef {
    pub uuid: String,
}

/// The uuids of a batch body: at least one, at most `MAX_BATCH`, each
/// named once.
fn batch_uuids(body: Vec<FileRef>) -> Result<Vec<String>> {
    if body.is_empty() {
        return Err(Error::validation(
            "the body names no files: send [{\"uuid\": \"...\"}], or as a form 0[uuid]=...",
        ));
    }
    if body.len() > MAX_BATCH {
        return Err(Error::validation(format!(
            "a batch names at most {MAX_BATCH} files; this one names {}",
            body.len()
        )));
    }
    let mut uuids: Vec<String> = Vec::with_capacity(body.len());
    for FileRef { uuid } in body {
        if !uuids.contains(&uuid) {
            uuids.push(uuid);
        }
    }
    Ok(uuids)
}

/// The answer to `DELETE /v1.0/files`: `{"result": true}`. Kommo's
/// reference shows a 200 with a JSON object; its PHP library
/// (`Files::delete`) returns `result` from the body, and fails on a 200
/// whose body is `{}` ("Response body is not json"), so this is the one
/// answer both accept.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Trashed {
    pub result: bool,
}

/// Move files to the trash.
#[utoipa::path(delete, path = "/v1.0/files", tag = "files", security(("bearer" = [])),
    request_body(description = "JSON, or a form (urlencoded or multipart) with PHP-style bracket keys",
        content((Vec<FileRef> = "application/json"), (Vec<FileRef> = "application/x-www-form-urlencoded"),
            (Vec<FileRef> = "multipart/form-data"))),
    responses((status = 200, body = Trashed, description = "every file named is in the trash"),
        (status = 400, body = super::problem::Problem, description = "an unknown uuid: nothing moved"),
        (status = 415, body = super::problem::Problem, description = "unsupported-media-type: not JSON, multipart or urlencoded"),
        (status = 403, body = super::problem::Problem, description = "`files_delete` missing")))]
pub async fn trash(
    State(state): State<AppState>,
    auth: Auth,
    ApiBody(body): ApiBody<Vec<FileRef>>,
) -> Result<Json<Trashed>> {
    auth.require(Scope::Files)?;
    auth.require(Scope::FilesDelete)?;
    let uuids = batch_uuids(body)?;
    match state.db.trash_files(auth.account, &uuids, auth.user, now_unix()).await? {
        Ok(()) => Ok(Json(Trashed { result: true })),
        Err(unknown) => Err(Error::validation(format!(
            "there is no file {unknown}; no file was moved to the trash"
        ))),
    }
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct RestoredFiles {
    pub _count: usize,
    pub _embedded: FilesEmbedded,
}

/// Take files out of the trash.
#[utoipa::path(post, path = "/v1.0/files/restore", tag = "files", security(("bearer" = [])),
    request_body(description = "JSON, or a form (urlencoded or multipart) with PHP-style bracket keys",
        content((Vec<FileRef> = "application/json"), (Vec<FileRef> = "application/x-www-form-urlencoded"),
            (Vec<FileRef> = "multipart/form-data"))),
    responses((status = 200, body = RestoredFiles),
        (status = 400, body = super::problem::Problem, description = "quota-exceeded: nothing restored"),
        (status = 415, body = super::problem::Problem, description = "unsupported-media-type: not JSON, multipart or urlencoded"),
        (status = 404, body = super::problem::Problem, description = "a file that is gone: nothing restored")))]
pub async fn restore(
    State(state): State<AppState>,
    auth: Auth,
    ApiBody(body): ApiBody<Vec<FileRef>>,
) -> Result<Json<RestoredFiles>> {
    auth.require(Scope::Files)?;
    let uuids = batch_uuids(body)?;
    let cutoff = crate::jobs::purge_cutoff(&state, now_unix());
    let ids = match state
        .db
        .restore_files(auth.account, &uuids, cutoff, state.settings.quota_bytes)
        .await?
    {
        Restore::Restored(ids) => ids,
        Restore::Unknown(_) => return Err(Error::NotFound("file")),
        Restore::OverQuota { used, size, quota } => {
            return Err(Error::QuotaExceeded { used, size, quota })
        }
    };
    let mut files = Vec::with_capacity(ids.len());
    for id in ids {
        let file = state.db.file_by_id(id).await?.ok_or(Error::NotFound("file"))?;
        files.push(state.file_view(&file).await?);
    }
    Ok(Json(RestoredFiles { _count: files.len(), _embedded: FilesEmbedded { files } }))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Stats {
    /// Bytes of every version of the files outside the trash.
    pub used_bytes: u64,
    pub trashed_bytes: u64,
    /// `null` when unlimited.
    pub quota_bytes: Option<u64>,
    /// What the trash may hold before its longest-trashed files are
    /// purged early; `null` when unlimited.
    pub trash_quota_bytes: Option<u64>,
    /// Files outside the trash.
    pub file_count: u64,
}

/// The account's usage (beyond Kommo).
#[utoipa::path(get, path = "/v1.0/files/stats", tag = "files", security(("bearer" = [])),
    responses((status = 200, body = Stats)))]
pub async fn stats(State(state): State<AppState>, auth: Auth) -> Result<Json<Stats>> {
    auth.require(Scope::Files)?;
    let usage = state.db.usage(auth.account).await?;
    Ok(Json(Stats {
        used_bytes: usage.used_bytes,
        trashed_bytes: usage.trashed_bytes,
        quota_bytes: state.settings.quota_bytes,
        trash_quota_bytes: state.settings.trash_quota_bytes,
        file_count: usage.file_count,
    }))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1.0/files", delete(trash))
        .route("/v1.0/files/restore", post(restore))
        .route("/v1.0/files/stats", get(stats))
}
