//! Kommo's notes API for leads, contacts and companies: list by entity
//! type or by entity (Kommo's filters, `domain::notes::NoteFilter`), get
//! one by id in both path forms, add in batch (`entity_id` in each note,
//! or the entity in the path) and edit in batch or one at a time. Every
//! type Kommo documents, its `params` checked by `domain::notes`; an
//! attachment note pins a file version and lands in the entity's Media
//! tab. A batch is all or nothing: one bad note and none is written.

use std::collections::{HashMap, HashSet};

use axum::{
    extract::{Path, State},
    http::{StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::{entity_of, resolve_file, trashed_meanwhile, CrmAuth, Kind, Target};
use crate::{
    domain::{
        crm::{batch, EntityType, FieldError},
        notes::{parse_note_item, Mode, NoteContent, NoteFilter, NoteItem, NoteType},
        paging::page_of,
        query::QueryParams,
    },
    error::{Error, Result},
    http::{
        auth::Auth,
        crm::entities::SelfLink,
        json::ApiJson,
        links::{Href, ListLinks},
        query::KommoQuery,
    },
    state::AppState,
    store::{
        crm::{EntityRecord, NoteBody, NoteEdit, NoteQuery, NoteRecord, NoteWrite},
        now_unix,
    },
};

/// A note as Kommo shows it.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct NoteView {
    pub id: i64,
    pub entity_id: i64,
    pub note_type: String,
    /// By type: `common` `{text}`; `call_in`/`call_out` `{uniq?, duration,
    /// source, link?, phone, call_result?, call_status?, call_responsible?}`;
    /// `service_message`/`extended_service_message` `{service, text}`;
    /// `geolocation` `{text?, address?, longitude, latitude}`;
    /// `sms_in`/`sms_out` `{text, phone}`; `attachment` `{file_uuid,
    /// version_uuid, file_name, original_name, is_drive_attachment,
    /// is_deleted}` (`is_deleted`: the file is in the trash).
    #[schema(value_type = Object)]
    pub params: Value,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: Option<i64>,
    pub updated_by: Option<i64>,
    pub responsible_user_id: Option<i64>,
    pub group_id: i64,
    pub account_id: i64,
    /// Only with `with=is_pinned`; notes are never pinned here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_pinned: Option<bool>,
    /// In an add or edit answer: the item's `request_id` exactly as sent
    /// (else its index in the batch, as a string).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub request_id: Option<Value>,
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

fn note_view(state: &AppState, note: &NoteRecord) -> NoteView {
    let params = match note.note_type.as_str() {
        "attachment" => json!({
            "file_uuid": note.file_uuid,
            "version_uuid": note.version_uuid,
            "file_name": note.file_name,
            "original_name": note.original_name,
            "is_drive_attachment": true,
            "is_deleted": note.trashed_at.is_some(),
        }),
        _ => note
            .params
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_else(|| json!({ "text": note.text_value })),
    };
    NoteView {
        id: note.id,
        entity_id: note.entity_id,
        note_type: note.note_type.clone(),
        params,
        created_at: note.created_at,
        updated_at: note.updated_at,
        created_by: note.created_by,
        updated_by: note.updated_by,
        responsible_user_id: note.created_by,
        group_id: 0,
        account_id: note.account_id,
        is_pinned: None,
        request_id: None,
        _links: SelfLink {
            self_: Href {
                href: format!(
                    "{}/api/v4/{}/{}/notes/{}",
                    state.settings.public_url, note.entity_type, note.entity_id, note.id
                ),
            },
        },
    }
}

/// A note id from the path; 404 when it is not a number.
fn note_id(text: &str) -> Result<i64> {
    text.parse().map_err(|_| Error::NotFound("note"))
}

/// Whether `with=is_pinned` was asked for.
fn with_is_pinned(query: &QueryParams) -> bool {
    query.comma_list("with").contains(&"is_pinned")
}

/// The `request_id` an item's problems are listed under: as sent, else
/// its index.
fn request_key(item: &Value, index: usize) -> String {
    match item.get("request_id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => index.to_string(),
    }
}

/// A note's content made ready to store: an attachment's file resolved
/// (unknown, foreign or trashed files are problems in `errors`).
async fn body_of(
    state: &AppState,
    auth: &Auth,
    note_type: NoteType,
    content: NoteContent,
    errors: &mut Vec<FieldError>,
) -> Result<Option<NoteBody>> {
    match content {
        NoteContent::Params(params) => {
            let text = params.get("text").and_then(Value::as_str).map(str::to_owned);
            Ok(Some(NoteBody::Params {
                note_type: note_type.as_str(),
                params: Value::Object(params).to_string(),
                text,
            }))
        }
        NoteContent::Attachment(reference) => {
            let resolved = resolve_file(state, auth.account, &reference, errors).await?;
            Ok(resolved.map(|(file, version)| {
                let (version_id, version_name) = match version {
                    Some(v) => (v.id, v.name),
                    None => (file.version_id, file.name.clone()),
                };
                NoteBody::Attachment {
                    file_id: file.id,
                    version_id,
                    file_name: reference.file_name.unwrap_or(version_name),
                }
            }))
        }
    }
}

/// The notes written, in the order of `ids`, each with its request id.
async fn answer_batch(
    state: &AppState,
    auth: &Auth,
    ids: &[i64],
    request_ids: Vec<Value>,
    uri: &Uri,
) -> Result<Json<NoteList>> {
    let records = state.db.notes_by_id(auth.account, ids).await?;
    let by_id: HashMap<i64, &NoteRecord> = records.iter().map(|n| (n.id, n)).collect();
    let mut notes = Vec::with_capacity(ids.len());
    for (id, request_id) in ids.iter().zip(request_ids) {
        let note = by_id.get(id).ok_or(Error::NotFound("note"))?;
        notes.push(NoteView { request_id: Some(request_id), ..note_view(state, note) });
    }
    let self_ = Href { href: format!("{}{}", state.settings.public_url, uri.path()) };
    Ok(Json(NoteList {
        _page: None,
        _links: Some(ListLinks { self_, next: None, prev: None, first: None }),
        _embedded: NotesEmbedded { notes },
    }))
}

/// Checks every item of an add and resolves its files; the notes ready
/// to write with their request ids, or every problem of every item.
/// `path_entity`: the entity the path names, if it names one.
async fn prepare_adds(
    state: &AppState,
    auth: &Auth,
    kind: EntityType,
    items: &[Value],
    path_entity: Option<&EntityRecord>,
) -> Result<Vec<(Value, NoteWrite)>> {
    let now = now_unix();
    let mut known: HashMap<i64, bool> = HashMap::new();
    let mut ready = Vec::with_capacity(items.len());
    let mut failed = Vec::new();
    for (i, raw) in items.iter().enumerate() {
        let mut errors = Vec::new();
        let item = parse_note_item(raw, Mode::Add, &mut errors);
        let entity_id = match (path_entity, item.as_ref().and_then(|n| n.entity_id)) {
            (Some(entity), Some(sent)) if sent != entity.id => {
                errors.push(FieldError::new(
                    "InvalidValue",
                    "entity_id",
                    format!("this note goes to {} {}, not {sent}", kind.singular(), entity.id),
                ));
                None
            }
            (Some(entity), _) => Some(entity.id),
            (None, Some(sent)) => {
                let exists = match known.get(&sent) {
                    Some(exists) => *exists,
                    None => {
                        let exists = state.db.entity(auth.account, kind, sent).await?.is_some();
                        *known.entry(sent).or_insert(exists)
                    }
                };
                if !exists {
                    errors.push(FieldError::new(
                        "NotFound",
                        "entity_id",
                        format!("there is no {} {sent}", kind.singular()),
                    ));
                }
                Some(sent)
            }
            (None, None) => {
                if item.is_some() {
                    errors.push(FieldError::new(
                        "NotBlank",
                        "entity_id",
                        format!("each note names the {} it goes to", kind.singular()),
                    ));
                }
                None
            }
        };
        let mut write = None;
        if let Some(NoteItem {
            note_type, content: Some(content), created_at, updated_at, ..
        }) = item.clone()
        {
            if let Some(body) = body_of(state, auth, note_type, content, &mut errors).await? {
                write = entity_id.map(|entity_id| NoteWrite {
                    entity_id,
                    body,
                    created_at: created_at.unwrap_or(now),
                    updated_at: updated_at.unwrap_or(now),
                });
            }
        }
        match write {
            Some(write) if errors.is_empty() => {
                let request_id =
                    item.and_then(|n| n.request_id).unwrap_or_else(|| Value::from(i.to_string()));
                ready.push((request_id, write));
            }
            _ => failed.push((request_key(raw, i), errors)),
        }
    }
    if !failed.is_empty() {
        return Err(Error::CrmValidation(failed));
    }
    Ok(ready)
}

/// Writes checked notes and answers them.
async fn add(
    state: &AppState,
    auth: &Auth,
    ready: Vec<(Value, NoteWrite)>,
    uri: &Uri,
) -> Result<Json<NoteList>> {
    let (request_ids, writes): (Vec<Value>, Vec<NoteWrite>) = ready.into_iter().unzip();
    let ids =
        state.db.write_notes(auth.account, &writes, auth.user).await.map_err(trashed_meanwhile)?;
    answer_batch(state, auth, &ids, request_ids, uri).await
}

/// Add notes to entities of one type: a JSON array (even of one), each
/// note with its `entity_id`. All or nothing.
#[utoipa::path(post, path = "/api/v4/{entity_type}/notes", tag = "crm",
    security(("bearer" = [])), params(("entity_type" = String, Path, description = "leads, contacts or companies")),
    request_body(content = Object, description = "[{\"entity_id\", \"note_type\", \"params\", \"request_id\"?, \"created_at\"?, \"updated_at\"?}]; \
        note_type: common, call_in, call_out, service_message, extended_service_message, geolocation, sms_in, sms_out, attachment"),
    responses((status = 200, body = NoteList, description = "the notes added, each with its request_id as sent"),
        (status = 400, body = crate::http::problem::Problem, description = "validation-errors by request_id, or file-trashed; nothing written")))]
pub async fn add_batch(
    State(state): State<AppState>,
    CrmAuth(auth): CrmAuth,
    Kind(kind): Kind,
    uri: Uri,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<NoteList>> {
    let items = batch(&body).map_err(Error::Validation)?;
    let ready = prepare_adds(&state, &auth, kind, items, None).await?;
    add(&state, &auth, ready, &uri).await
}

/// Add notes to one entity (a batch, all or nothing). An attachment note
/// without `version_uuid` records the file's active version; without
/// `file_name` it takes the file's name.
#[utoipa::path(post, path = "/api/v4/{entity_type}/{id}/notes", tag = "crm",
    security(("bearer" = [])), params(("entity_type" = String, Path), ("id" = i64, Path)),
    request_body(content = Object, description = "[{\"note_type\", \"params\", \"entity_id\"? (this entity), \"request_id\"?, \"created_at\"?, \"updated_at\"?}]"),
    responses((status = 200, body = NoteList),
        (status = 400, body = crate::http::problem::Problem, description = "validation-errors or file-trashed; nothing written"),
        (status = 404, body = crate::http::problem::Problem)))]
pub async fn add_to_entity(
    State(state): State<AppState>,
    Target { auth, kind, entity }: Target,
    uri: Uri,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<NoteList>> {
    let items = batch(&body).map_err(Error::Validation)?;
    let ready = prepare_adds(&state, &auth, kind, items, Some(&entity)).await?;
    add(&state, &auth, ready, &uri).await
}

/// An edit of one note: the raw item, and the note's id when the path
/// gives it.
struct EditItem<'a> {
    raw: &'a Value,
    path_id: Option<i64>,
}

/// Checks every item of an edit against the note it names; the edits
/// ready to write with their request ids, or every problem.
async fn prepare_edits(
    state: &AppState,
    auth: &Auth,
    kind: EntityType,
    items: Vec<EditItem<'_>>,
) -> Result<Vec<(Value, NoteEdit)>> {
    let now = now_unix();
    let mut seen = HashSet::new();
    let mut ready = Vec::with_capacity(items.len());
    let mut failed = Vec::new();
    for (i, EditItem { raw, path_id }) in items.into_iter().enumerate() {
        let mut errors = Vec::new();
        let id = path_id.or_else(|| raw.get("id").and_then(Value::as_i64).filter(|id| *id > 0));
        let stored = match id {
            Some(id) => state.db.note(auth.account, kind, id).await?,
            None => None,
        };
        let Some(stored) = stored else {
            let error = match (id, raw.get("id")) {
                (Some(id), _) => FieldError::new(
                    "NotFound",
                    "id",
                    format!("there is no note {id} on {}", kind.as_str()),
                ),
                (None, None | Some(Value::Null)) => {
                    FieldError::new("NotBlank", "id", "each note to edit names its id")
                }
                (None, Some(_)) => {
                    FieldError::new("InvalidType", "id", "must be a whole number from 1")
                }
            };
            failed.push((request_key(raw, i), vec![error]));
            continue;
        };
        if !seen.insert(stored.id) {
            errors.push(FieldError::new(
                "Duplicate",
                "id",
                format!("note {} is edited twice", stored.id),
            ));
        }
        let stored_type = NoteType::parse(&stored.note_type).unwrap_or(NoteType::Common);
        let item = parse_note_item(raw, Mode::Edit { stored: stored_type }, &mut errors);
        if let Some(item) = &item {
            if item.id.is_some_and(|sent| sent != stored.id) {
                errors.push(FieldError::new(
                    "InvalidValue",
                    "id",
                    format!("the path names note {}", stored.id),
                ));
            }
            if item.entity_id.is_some_and(|sent| sent != stored.entity_id) {
                errors.push(FieldError::new(
                    "InvalidValue",
                    "entity_id",
                    format!(
                        "note {} is on {} {}; a note does not move",
                        stored.id,
                        kind.singular(),
                        stored.entity_id
                    ),
                ));
            }
        }
        let Some(item) = item else {
            failed.push((request_key(raw, i), errors));
            continue;
        };
        let body = match item.content {
            Some(content) => body_of(state, auth, item.note_type, content, &mut errors).await?,
            None => None,
        };
        if !errors.is_empty() {
            failed.push((request_key(raw, i), errors));
            continue;
        }
        let request_id = item.request_id.unwrap_or_else(|| Value::from(i.to_string()));
        ready.push((
            request_id,
            NoteEdit {
                id: stored.id,
                entity_id: stored.entity_id,
                body,
                created_at: item.created_at,
                updated_at: item.updated_at.unwrap_or(now),
            },
        ));
    }
    if !failed.is_empty() {
        return Err(Error::CrmValidation(failed));
    }
    Ok(ready)
}

/// Writes checked edits; the ids edited and their request ids.
async fn edit(
    state: &AppState,
    auth: &Auth,
    ready: Vec<(Value, NoteEdit)>,
) -> Result<(Vec<i64>, Vec<Value>)> {
    let (request_ids, edits): (Vec<Value>, Vec<NoteEdit>) = ready.into_iter().unzip();
    state.db.edit_notes(auth.account, &edits, auth.user).await.map_err(trashed_meanwhile)?;
    Ok((edits.iter().map(|e| e.id).collect(), request_ids))
}

/// Edit notes of one entity type: a JSON array, each item with the `id`
/// of its note (and, as Kommo's library sends it, its `entity_id`).
/// `params` replace the note's params; without them they stay; a new
/// `note_type` needs its params. All or nothing.
#[utoipa::path(patch, path = "/api/v4/{entity_type}/notes", tag = "crm",
    security(("bearer" = [])), params(("entity_type" = String, Path)),
    request_body(content = Object, description = "[{\"id\", \"entity_id\"?, \"note_type\"?, \"params\"?, \"request_id\"?, \"created_at\"?, \"updated_at\"?}]"),
    responses((status = 200, body = NoteList),
        (status = 400, body = crate::http::problem::Problem, description = "validation-errors by request_id (an unknown id is NotFound); nothing changed")))]
pub async fn edit_batch(
    State(state): State<AppState>,
    CrmAuth(auth): CrmAuth,
    Kind(kind): Kind,
    uri: Uri,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<NoteList>> {
    let items = batch(&body).map_err(Error::Validation)?;
    let items = items.iter().map(|raw| EditItem { raw, path_id: None }).collect();
    let ready = prepare_edits(&state, &auth, kind, items).await?;
    let (ids, request_ids) = edit(&state, &auth, ready).await?;
    answer_batch(&state, &auth, &ids, request_ids, &uri).await
}

/// Edits the one note a path names and answers it.
async fn edit_one(
    state: &AppState,
    auth: &Auth,
    kind: EntityType,
    id: i64,
    body: &Value,
) -> Result<Json<NoteView>> {
    if !body.is_object() {
        return Err(Error::validation("the body must be a JSON object: the note's changes"));
    }
    let ready = prepare_edits(state, auth, kind, vec![EditItem { raw: body, path_id: Some(id) }])
        .await
        .map_err(|e| match e {
            // One note, named by the path: unknown is 404, as for a GET.
            Error::CrmValidation(items)
                if items
                    .iter()
                    .flat_map(|(_, e)| e)
                    .any(|e| e.code == "NotFound" && e.path == "id") =>
            {
                Error::NotFound("note")
            }
            other => other,
        })?;
    let sent_request_id = body.get("request_id").is_some();
    let (ids, request_ids) = edit(state, auth, ready).await?;
    let note = state.db.note(auth.account, kind, ids[0]).await?.ok_or(Error::NotFound("note"))?;
    let request_id = request_ids.into_iter().next().filter(|_| sent_request_id);
    Ok(Json(NoteView { request_id, ..note_view(state, &note) }))
}

/// Edit one note of an entity type.
#[utoipa::path(patch, path = "/api/v4/{entity_type}/notes/{id}", tag = "crm",
    security(("bearer" = [])), params(("entity_type" = String, Path), ("id" = i64, Path, description = "the note")),
    request_body(content = Object, description = "{\"note_type\"?, \"params\"?, \"entity_id\"?, \"request_id\"?, \"created_at\"?, \"updated_at\"?}"),
    responses((status = 200, body = NoteView),
        (status = 400, body = crate::http::problem::Problem, description = "validation-errors; nothing changed"),
        (status = 404, body = crate::http::problem::Problem)))]
pub async fn edit_by_type(
    State(state): State<AppState>,
    CrmAuth(auth): CrmAuth,
    Kind(kind): Kind,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<NoteView>> {
    edit_one(&state, &auth, kind, note_id(&id)?, &body).await
}

/// Edit one note of an entity (the path Kommo's PHP library's
/// `updateOne` uses).
#[utoipa::path(patch, path = "/api/v4/{entity_type}/{id}/notes/{note_id}", tag = "crm",
    security(("bearer" = [])),
    params(("entity_type" = String, Path), ("id" = i64, Path, description = "the entity"), ("note_id" = i64, Path)),
    request_body(content = Object, description = "{\"note_type\"?, \"params\"?, \"entity_id\"?, \"request_id\"?, \"created_at\"?, \"updated_at\"?}"),
    responses((status = 200, body = NoteView),
        (status = 400, body = crate::http::problem::Problem, description = "validation-errors; nothing changed"),
        (status = 404, body = crate::http::problem::Problem, description = "no such entity, or the note is not on it")))]
pub async fn edit_by_entity(
    State(state): State<AppState>,
    CrmAuth(auth): CrmAuth,
    Kind(kind): Kind,
    Path((entity, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<NoteView>> {
    let (_, note) = note_on_entity(&state, &auth, kind, &entity, &id).await?;
    edit_one(&state, &auth, kind, note.id, &body).await
}

/// The entity a path names and its note the path names; 404 for either
/// unknown, or a note on another entity.
async fn note_on_entity(
    state: &AppState,
    auth: &Auth,
    kind: EntityType,
    entity: &str,
    id: &str,
) -> Result<(EntityRecord, NoteRecord)> {
    let entity = entity_of(state, auth.account, kind, entity).await?;
    let note = state
        .db
        .note(auth.account, kind, note_id(id)?)
        .await?
        .filter(|n| n.entity_id == entity.id)
        .ok_or(Error::NotFound("note"))?;
    Ok((entity, note))
}

/// A page of notes, as Kommo's list answers it; 204 when none.
async fn list_notes(
    state: &AppState,
    auth: &Auth,
    kind: EntityType,
    entity_id: Option<i64>,
    query: &QueryParams,
) -> Result<Response> {
    let filter = NoteFilter::from_query(query).map_err(Error::Validation)?;
    let rows = state
        .db
        .notes(&NoteQuery { account: auth.account, kind, entity_id, filter: &filter })
        .await?;
    let Some((records, more)) = page_of(rows, filter.paging.limit) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let base = match entity_id {
        Some(id) => format!("{}/api/v4/{}/{id}/notes", state.settings.public_url, kind.as_str()),
        None => format!("{}/api/v4/{}/notes", state.settings.public_url, kind.as_str()),
    };
    let link = |page: i64| Href { href: format!("{base}?{}", filter.page_query(page)) };
    let pinned = filter.with_is_pinned.then_some(false);
    let notes =
        records.iter().map(|n| NoteView { is_pinned: pinned, ..note_view(state, n) }).collect();
    Ok(Json(NoteList {
        _page: Some(filter.paging.page),
        _links: Some(ListLinks::paged(filter.paging.page, more, link)),
        _embedded: NotesEmbedded { notes },
    })
    .into_response())
}

/// Notes of one entity type, oldest first unless `order` says otherwise;
/// 204 when none match.
#[utoipa::path(get, path = "/api/v4/{entity_type}/notes", tag = "crm",
    security(("bearer" = [])),
    params(("entity_type" = String, Path),
        ("page" = Option<i64>, Query, description = "from 1"),
        ("limit" = Option<i64>, Query, description = "default 50; above 250 reads as 250"),
        ("filter[id][]" = Option<Vec<i64>>, Query, description = "only these notes; also `filter[id][0]=`, `filter[id]=`"),
        ("filter[entity_id][]" = Option<Vec<i64>>, Query, description = "only notes of these entities"),
        ("filter[note_type][]" = Option<Vec<String>>, Query, description = "only these types; also a comma list"),
        ("filter[updated_at]" = Option<i64>, Query, description = "edited at or after this time; or `filter[updated_at][from]`/`[to]`, both ends included"),
        ("order[updated_at]" = Option<String>, Query, description = "asc or desc"),
        ("order[id]" = Option<String>, Query, description = "asc or desc"),
        ("with" = Option<String>, Query, description = "`is_pinned` adds `is_pinned`")),
    responses((status = 200, body = NoteList), (status = 204, description = "no notes match"),
        (status = 400, body = crate::http::problem::Problem, description = "a bad parameter, named")))]
pub async fn list_by_type(
    State(state): State<AppState>,
    CrmAuth(auth): CrmAuth,
    Kind(kind): Kind,
    KommoQuery(query): KommoQuery,
) -> Result<Response> {
    list_notes(&state, &auth, kind, None, &query).await
}

/// An entity's notes, oldest first unless `order` says otherwise; 204
/// when none match. The same parameters as the list by entity type.
#[utoipa::path(get, path = "/api/v4/{entity_type}/{id}/notes", tag = "crm",
    security(("bearer" = [])),
    params(("entity_type" = String, Path), ("id" = i64, Path),
        ("page" = Option<i64>, Query), ("limit" = Option<i64>, Query),
        ("filter[id][]" = Option<Vec<i64>>, Query), ("filter[note_type][]" = Option<Vec<String>>, Query),
        ("filter[updated_at]" = Option<i64>, Query), ("order[updated_at]" = Option<String>, Query),
        ("order[id]" = Option<String>, Query)),
    responses((status = 200, body = NoteList), (status = 204, description = "no notes match"),
        (status = 400, body = crate::http::problem::Problem, description = "a bad parameter, named"),
        (status = 404, body = crate::http::problem::Problem)))]
pub async fn list_by_entity(
    State(state): State<AppState>,
    Target { auth, kind, entity }: Target,
    KommoQuery(query): KommoQuery,
) -> Result<Response> {
    list_notes(&state, &auth, kind, Some(entity.id), &query).await
}

/// One note of an entity type.
#[utoipa::path(get, path = "/api/v4/{entity_type}/notes/{id}", tag = "crm",
    security(("bearer" = [])), params(("entity_type" = String, Path), ("id" = i64, Path, description = "the note")),
    responses((status = 200, body = NoteView), (status = 404, body = crate::http::problem::Problem)))]
pub async fn get_by_type(
    State(state): State<AppState>,
    CrmAuth(auth): CrmAuth,
    Kind(kind): Kind,
    Path(id): Path<String>,
    KommoQuery(query): KommoQuery,
) -> Result<Json<NoteView>> {
    let note =
        state.db.note(auth.account, kind, note_id(&id)?).await?.ok_or(Error::NotFound("note"))?;
    Ok(Json(NoteView {
        is_pinned: with_is_pinned(&query).then_some(false),
        ..note_view(&state, &note)
    }))
}

/// One note of an entity (each note's `_links.self`).
#[utoipa::path(get, path = "/api/v4/{entity_type}/{id}/notes/{note_id}", tag = "crm",
    security(("bearer" = [])),
    params(("entity_type" = String, Path), ("id" = i64, Path, description = "the entity"), ("note_id" = i64, Path)),
    responses((status = 200, body = NoteView),
        (status = 404, body = crate::http::problem::Problem, description = "no such entity, or the note is not on it")))]
pub async fn get_by_entity(
    State(state): State<AppState>,
    CrmAuth(auth): CrmAuth,
    Kind(kind): Kind,
    Path((entity, id)): Path<(String, String)>,
    KommoQuery(query): KommoQuery,
) -> Result<Json<NoteView>> {
    let (_, note) = note_on_entity(&state, &auth, kind, &entity, &id).await?;
    Ok(Json(NoteView {
        is_pinned: with_is_pinned(&query).then_some(false),
        ..note_view(&state, &note)
    }))
}

pub fn router(base: &str) -> Router<AppState> {
    Router::new()
        .route(&format!("{base}/notes"), get(list_by_type).post(add_batch).patch(edit_batch))
        .route(&format!("{base}/notes/{{id}}"), get(get_by_type).patch(edit_by_type))
        .route(&format!("{base}/{{id}}/notes"), get(list_by_entity).post(add_to_entity))
        .route(
            &format!("{base}/{{id}}/notes/{{note_id}}"),
            get(get_by_entity).patch(edit_by_entity),
        )
}
