//! The files attached to an entity (Kommo's Media tab): list, attach,
//! detach; and the entities one file is attached to. Files come here
//! through `PUT` and through attachment notes; a file that sits only in a
//! custom field is not attached.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{resolve_file, trashed_meanwhile, CrmAuth, FileUuid, Params, Target};
use crate::{
    domain::{
        crm::{batch, parse_file_ref, EntityType, FieldError, FileRef},
        paging::page_of,
    },
    error::{Error, Result},
    http::{
        json::ApiJson,
        links::{Href, ListLinks},
    },
    state::AppState,
    store::{accounts::AccountId, now_unix},
};

/// One file of the Media tab; `id` is the link's, for `before_id`.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct MediaFile {
    pub file_uuid: String,
    pub id: i64,
    /// The file is in the trash; the link stays until it is purged.
    pub is_deleted: bool,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct MediaEmbedded {
    pub files: Vec<MediaFile>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct MediaList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub _links: Option<ListLinks>,
    pub _embedded: MediaEmbedded,
}

/// The files a PUT or DELETE body names, as the caller's file ids. With
/// `for_use`, each must be usable (PUT); a detach may name a trashed file.
async fn named_files(
    state: &AppState,
    account: AccountId,
    body: &Value,
    for_use: bool,
) -> Result<Vec<(i64, String)>> {
    let items = batch(body).map_err(Error::Validation)?;
    let mut files = Vec::with_capacity(items.len());
    let mut failed = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut errors: Vec<FieldError> = Vec::new();
        if let Some(reference) = parse_file_ref(item, "", &mut errors) {
            // Entity links are to files, not versions.
            let reference = FileRef { version_uuid: None, ..reference };
            if for_use {
                if let Some((file, _)) =
                    resolve_file(state, account, &reference, &mut errors).await?
                {
                    files.push((file.id, file.uuid));
                }
            } else {
                match state.db.file_by_uuid(account, &reference.file_uuid).await? {
                    Some(file) => files.push((file.id, file.uuid)),
                    None => errors.push(FieldError::new(
                        "NotFound",
                        "file_uuid",
                        format!("there is no file {}", reference.file_uuid),
                    )),
                }
            }
        }
        if !errors.is_empty() {
            failed.push((i.to_string(), errors));
        }
    }
    if !failed.is_empty() {
        return Err(Error::CrmValidation(failed));
    }
    Ok(files)
}

/// The Media entries of these files on the entity, as the answer lists
/// them.
async fn entries(state: &AppState, entity_id: i64, files: &[(i64, String)]) -> Result<MediaList> {
    let file_ids: Vec<i64> = files.iter().map(|(id, _)| *id).collect();
    let links = state.db.media_links(entity_id, &file_ids).await?;
    let files = links
        .into_iter()
        .map(|l| MediaFile { file_uuid: l.file_uuid, id: l.id, is_deleted: l.trashed_at.is_some() })
        .collect();
    Ok(MediaList { _links: None, _embedded: MediaEmbedded { files } })
}

/// The entity's Media tab, newest first; `before_id` pages on; 204 when
/// empty.
#[utoipa::path(get, path = "/api/v4/{entity_type}/{id}/files", tag = "crm",
    security(("bearer" = [])),
    params(("entity_type" = String, Path), ("id" = i64, Path),
        ("limit" = Option<i64>, Query, description = "default 50; above 250 reads as 250"),
        ("before_id" = Option<i64>, Query, description = "only links older than this id")),
    responses((status = 200, body = MediaList), (status = 204, description = "no files"),
        (status = 404, body = crate::http::problem::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Target { kind, entity, .. }: Target,
    params: Params,
) -> Result<Response> {
    let (limit, before_id) = (params.paging()?.limit, params.before_id()?);
    let rows = state.db.media(entity.id, before_id, limit).await?;
    let Some((rows, more)) = page_of(rows, limit) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let base =
        format!("{}/api/v4/{}/{}/files", state.settings.public_url, kind.as_str(), entity.id);
    let self_ = Href {
        href: match before_id {
            Some(b) => format!("{base}?limit={limit}&before_id={b}"),
            None => format!("{base}?limit={limit}"),
        },
    };
    let next = more.then(|| Href {
        href: format!("{base}?limit={limit}&before_id={}", rows.last().map_or(0, |r| r.id)),
    });
    let files = rows
        .into_iter()
        .map(|r| MediaFile { file_uuid: r.file_uuid, id: r.id, is_deleted: r.trashed_at.is_some() })
        .collect();
    Ok(Json(MediaList {
        _links: Some(ListLinks { self_, next, prev: None, first: None }),
        _embedded: MediaEmbedded { files },
    })
    .into_response())
}

/// Attach files to the entity (all or nothing); files already attached
/// stay. 202 with the links.
#[utoipa::path(put, path = "/api/v4/{entity_type}/{id}/files", tag = "crm",
    security(("bearer" = [])), params(("entity_type" = String, Path), ("id" = i64, Path)),
    request_body = Vec<FileUuid>,
    responses((status = 202, body = MediaList),
        (status = 400, body = crate::http::problem::Problem, description = "unknown, foreign or trashed file; nothing attached"),
        (status = 404, body = crate::http::problem::Problem)))]
pub async fn attach(
    State(state): State<AppState>,
    Target { auth, entity, .. }: Target,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<MediaList>)> {
    let files = named_files(&state, auth.account, &body, true).await?;
    let file_ids: Vec<i64> = files.iter().map(|(id, _)| *id).collect();
    state
        .db
        .attach_files(auth.account, entity.id, &file_ids, auth.user, now_unix())
        .await
        .map_err(trashed_meanwhile)?;
    Ok((StatusCode::ACCEPTED, Json(entries(&state, entity.id, &files).await?)))
}

/// Detach files from the entity; files not attached are ignored. 202
/// with the links removed.
#[utoipa::path(delete, path = "/api/v4/{entity_type}/{id}/files", tag = "crm",
    security(("bearer" = [])), params(("entity_type" = String, Path), ("id" = i64, Path)),
    request_body = Vec<FileUuid>,
    responses((status = 202, body = MediaList),
        (status = 400, body = crate::http::problem::Problem, description = "unknown or foreign file; nothing detached"),
        (status = 404, body = crate::http::problem::Problem)))]
pub async fn detach(
    State(state): State<AppState>,
    Target { auth, entity, .. }: Target,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<MediaList>)> {
    let files = named_files(&state, auth.account, &body, false).await?;
    let removed = entries(&state, entity.id, &files).await?;
    let file_ids: Vec<i64> = files.iter().map(|(id, _)| *id).collect();
    state.db.detach_files(entity.id, &file_ids).await?;
    Ok((StatusCode::ACCEPTED, Json(removed)))
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct LinkedEntityView {
    pub id: i64,
    pub name: String,
    pub entity_type: String,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
#[schema(as = FileEntityLinks)]
pub struct FileLinks {
    pub file_uuid: String,
    /// The file is in the trash; its links stay until it is purged.
    pub is_deleted: bool,
    pub entities: Vec<LinkedEntityView>,
}

/// The entities a file is attached to (through `PUT` or attachment notes).
#[utoipa::path(get, path = "/api/v4/files/{uuid}/links", tag = "crm",
    security(("bearer" = [])), params(("uuid" = String, Path)),
    responses((status = 200, body = FileLinks), (status = 404, body = crate::http::problem::Problem)))]
pub async fn file_links(
    State(state): State<AppState>,
    CrmAuth(auth): CrmAuth,
    Path(uuid): Path<String>,
) -> Result<Json<FileLinks>> {
    let file = state.db.file_by_uuid(auth.account, &uuid).await?.ok_or(Error::NotFound("file"))?;
    let entities = state
        .db
        .file_links(file.id)
        .await?
        .into_iter()
        .filter(|e| EntityType::parse(&e.entity_type).is_some())
        .map(|e| LinkedEntityView { id: e.id, name: e.name, entity_type: e.entity_type })
        .collect();
    Ok(Json(FileLinks { file_uuid: file.uuid.clone(), is_deleted: file.is_trashed(), entities }))
}

pub fn router(base: &str) -> Router<AppState> {
    Router::new().route(&format!("{base}/{{id}}/files"), get(list).put(attach).delete(detach))
}

pub fn file_links_router() -> Router<AppState> {
    Router::new().route("/api/v4/files/{uuid}/links", get(file_links))
}
