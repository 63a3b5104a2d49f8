//! Notes on an entity: `common` (text) and `attachment` (a file version,
//! which also lands in the entity's Media tab). Read back oldest first,
//! with the params Kommo returns.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::{page_of, resolve_file, trashed_meanwhile, ListLinks, Params, Target};
use crate::{
    domain::crm::{batch, parse_note, NoteInput},
    error::{Error, Result},
    http::{crm::entities::SelfLink, files::Href, json::ApiJson},
    state::AppState,
    store::{
        crm::{NewNote, NoteRecord},
        now_unix,
    },
};

/// A note as Kommo shows it.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct NoteView {
    pub id: i64,
    pub entity_id: i64,
    pub note_type: String,
    /// `{"text"}` for a common note; for an attachment `file_uuid`,
    /// `version_uuid`, `file_name`, `original_name`, `is_drive_attachment`
    /// and `is_deleted` (the file is in the trash).
    #[schema(value_type = Object)]
    pub params: Value,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: Option<i64>,
    pub updated_by: Option<i64>,
    pub responsible_user_id: Option<i64>,
    pub group_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub _links: SelfLink,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct NotesEmbedded {
    pub notes: Vec<NoteView>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct NoteList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub _page: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub _links: Option<ListLinks>,
    pub _embedded: NotesEmbedded,
}

fn note_view(state: &AppState, entity_type: &str, note: &NoteRecord) -> NoteView {
    let params = match note.note_type.as_str() {
        "attachment" => json!({
            "file_uuid": note.file_uuid,
            "version_uuid": note.version_uuid,
            "file_name": note.file_name,
            "original_name": note.original_name,
            "is_drive_attachment": true,
            "is_deleted": note.trashed_at.is_some(),
        }),
        _ => json!({ "text": note.text_value }),
    };
    NoteView {
        id: note.id,
        entity_id: note.entity_id,
        note_type: note.note_type.clone(),
        params,
        created_at: note.created_at,
        updated_at: note.updated_at,
        created_by: note.created_by,
        updated_by: note.created_by,
        responsible_user_id: note.created_by,
        group_id: 0,
        request_id: None,
        _links: SelfLink {
            self_: Href {
                href: format!(
                    "{}/api/v4/{entity_type}/{}/notes/{}",
                    state.settings.public_url, note.entity_id, note.id
                ),
            },
        },
    }
}

/// Add notes to an entity (a batch, all or nothing). An attachment note
/// without `version_uuid` records the file's active version; without
/// `file_name` it takes the file's name.
#[utoipa::path(post, path = "/api/v4/{entity_type}/{id}/notes", tag = "crm",
    security(("bearer" = [])), params(("entity_type" = String, Path), ("id" = i64, Path)),
    request_body(content = Object, description = "[{\"note_type\": \"common\", \"params\": {\"text\"}}] or \
        [{\"note_type\": \"attachment\", \"params\": {\"file_uuid\", \"version_uuid\"?, \"file_name\"?}, \"created_at\"?}]"),
    responses((status = 200, body = NoteList),
        (status = 400, body = crate::http::problem::Problem, description = "validation-errors or file-trashed; nothing written"),
        (status = 404, body = crate::http::problem::Problem)))]
pub async fn add(
    State(state): State<AppState>,
    Target { auth, kind, entity }: Target,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<NoteList>> {
    let items = batch(&body).map_err(Error::Validation)?;
    let now = now_unix();
    let mut ready = Vec::with_capacity(items.len());
    let mut failed = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut errors = Vec::new();
        let note = match parse_note(item, &mut errors) {
            Some(NoteInput::Common { text, created_at }) => {
                Some(NewNote::Common { text, created_at: created_at.unwrap_or(now) })
            }
            Some(NoteInput::Attachment { file: reference, created_at }) => {
                resolve_file(&state, auth.account, &reference, &mut errors).await?.map(
                    |(file, version)| {
                        let (version_id, version_name) = match version {
                            Some(v) => (v.id, v.name),
                            None => (file.version_id, file.name.clone()),
                        };
                        NewNote::Attachment {
                            file_id: file.id,
                            version_id,
                            file_name: reference.file_name.unwrap_or(version_name),
                            created_at: created_at.unwrap_or(now),
                        }
                    },
                )
            }
            None => None,
        };
        match note {
            Some(note) if errors.is_empty() => ready.push(note),
            _ => failed.push((i.to_string(), errors)),
        }
    }
    if !failed.is_empty() {
        return Err(Error::CrmValidation(failed));
    }
    let ids = state
        .db
        .add_notes(auth.account, entity.id, &ready, auth.user, now)
        .await
        .map_err(trashed_meanwhile)?;
    let mut records = state.db.notes(entity.id, Some(&ids), 0, ids.len() as i64).await?;
    records.sort_by_key(|n| ids.iter().position(|id| *id == n.id));
    let notes = records
        .iter()
        .enumerate()
        .map(|(i, n)| NoteView {
            request_id: Some(i.to_string()),
            ..note_view(&state, kind.as_str(), n)
        })
        .collect();
    Ok(Json(NoteList { _page: None, _links: None, _embedded: NotesEmbedded { notes } }))
}

/// An entity's notes, oldest first; 204 when none.
#[utoipa::path(get, path = "/api/v4/{entity_type}/{id}/notes", tag = "crm",
    security(("bearer" = [])),
    params(("entity_type" = String, Path), ("id" = i64, Path), ("page" = Option<i64>, Query), ("limit" = Option<i64>, Query),
        ("filter[id][]" = Option<Vec<i64>>, Query, description = "only these notes; repeatable, also `filter[id][0]` or `filter[id]=1`")),
    responses((status = 200, body = NoteList), (status = 204, description = "no notes"),
        (status = 400, body = crate::http::problem::Problem, description = "a bad page, limit or id, named"),
        (status = 404, body = crate::http::problem::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    Target { kind, entity, .. }: Target,
    params: Params,
) -> Result<Response> {
    let (page, limit, ids) = (params.page()?, params.limit()?, params.ids()?);
    let offset = (page - 1).saturating_mul(limit);
    let rows = state.db.notes(entity.id, Some(&ids), offset, limit).await?;
    let Some((records, more)) = page_of(rows, limit) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let link = |page: i64| Href {
        href: format!(
            "{}/api/v4/{}/{}/notes?{}",
            state.settings.public_url,
            kind.as_str(),
            entity.id,
            params.page_query(page, limit)
        ),
    };
    let notes = records.iter().map(|n| note_view(&state, kind.as_str(), n)).collect();
    Ok(Json(NoteList {
        _page: Some(page),
        _links: Some(ListLinks { self_: link(page), next: more.then(|| link(page + 1)) }),
        _embedded: NotesEmbedded { notes },
    })
    .into_response())
}

pub fn router(base: &str) -> Router<AppState> {
    Router::new().route(&format!("{base}/{{id}}/notes"), post(add).get(list))
}
