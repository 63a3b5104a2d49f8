//! The entity pages' data: what a list and a card show, and the server
//! functions that read and change leads, contacts and companies (fields,
//! notes, the Media tab) through Satchel's API. State-changing calls
//! carry the session's CSRF token as an argument.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::feed::FeedItem;
#[cfg(feature = "ssr")]
use crate::pages::backend;
use crate::pages::shared::FileChip;

/// A file field's value on a card: the file it shows and every version,
/// newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldFile {
    pub current: FileChip,
    pub versions: Vec<FileChip>,
}

/// One custom field on a card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldCard {
    pub id: i64,
    pub name: String,
    /// `file` or `text`.
    pub field_type: String,
    pub text: Option<String>,
    pub files: Vec<FieldFile>,
}

/// Everything an entity's card shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityCard {
    pub kind: String,
    pub id: i64,
    pub name: String,
    pub feed: Vec<FeedItem>,
    /// The Media tab: attached files and note files, newest first.
    pub media: Vec<FileChip>,
    pub fields: Vec<FieldCard>,
}

/// One row of an entity list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityRow {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
}

/// The account's entities of one type, oldest first (the first 250).
#[server(prefix = "/_pages")]
pub async fn entities(kind: String) -> Result<Vec<EntityRow>, ServerFnError> {
    let kind = backend::kind(&kind)?.to_owned();
    let (status, json) = backend::call("GET", format!("/api/v4/{kind}?limit=250"), None).await?;
    if status == 204 {
        return Ok(Vec::new());
    }
    Ok(backend::embedded(&json, &kind)
        .iter()
        .map(|e| EntityRow {
            id: e["id"].as_i64().unwrap_or_default(),
            name: e["name"].as_str().unwrap_or_default().to_owned(),
            created_at: e["created_at"].as_i64().unwrap_or_default(),
        })
        .collect())
}

/// Creates an entity; its id.
#[server(prefix = "/_pages")]
pub async fn create_entity(csrf: String, kind: String, name: String) -> Result<i64, ServerFnError> {
    backend::check_csrf(&csrf).await?;
    let kind = backend::kind(&kind)?.to_owned();
    let body = serde_json::json!([{ "name": name }]);
    let (_, json) = backend::call("POST", format!("/api/v4/{kind}"), Some(body)).await?;
    json["_embedded"][kind.as_str()][0]["id"]
        .as_i64()
        .ok_or_else(|| ServerFnError::new("the entity was not created"))
}

/// Everything an entity's card shows: fields with version histories, the
/// feed and the Media tab.
#[server(prefix = "/_pages")]
pub async fn load_card(kind: String, id: i64) -> Result<EntityCard, ServerFnError> {
    use backend::{call, call_raw, chip, embedded, version_chips};
    let kind = backend::kind(&kind)?.to_owned();
    let entity = match call_raw("GET", format!("/api/v4/{kind}/{id}"), None).await? {
        (200, json) => json,
        (404, _) => return Err(ServerFnError::new("There is no such entity.")),
        (_, json) => {
            return Err(ServerFnError::new(
                json["detail"].as_str().unwrap_or("unavailable").to_owned(),
            ))
        }
    };
    let (_, definitions) = call("GET", format!("/api/v4/{kind}/custom_fields"), None).await?;
    let mut fields = Vec::new();
    for definition in embedded(&definitions, "custom_fields") {
        let field_id = definition["id"].as_i64().unwrap_or_default();
        let values = entity["custom_fields_values"]
            .as_array()
            .and_then(|all| all.iter().find(|f| f["field_id"] == field_id))
            .and_then(|f| f["values"].as_array().cloned())
            .unwrap_or_default();
        let mut card = FieldCard {
            id: field_id,
            name: definition["name"].as_str().unwrap_or_default().to_owned(),
            field_type: definition["type"].as_str().unwrap_or_default().to_owned(),
            text: None,
            files: Vec::new(),
        };
        for value in values {
            let value = &value["value"];
            if let Some(text) = value.as_str() {
                card.text = Some(text.to_owned());
                continue;
            }
            let Some(uuid) = value["file_uuid"].as_str() else { continue };
            let deleted = value["is_deleted"] == true;
            let (status, versions) =
                call_raw("GET", format!("/v1.0/files/{uuid}/versions?with=deleted"), None).await?;
            if status != 200 {
                continue;
            }
            let versions = version_chips(&versions, uuid, deleted);
            let current = versions
                .iter()
                .find(|v| Some(v.version_uuid.as_str()) == value["version_uuid"].as_str())
                .cloned()
                .or_else(|| versions.first().cloned());
            if let Some(mut current) = current {
                if let Some(name) = value["file_name"].as_str() {
                    current.name = name.to_owned();
                }
                card.files.push(FieldFile { current, versions });
            }
        }
        fields.push(card);
    }
    let mut notes = Vec::new();
    let (status, listed) =
        call("GET", format!("/api/v4/{kind}/{id}/notes?limit=250"), None).await?;
    if status == 200 {
        for note in embedded(&listed, "notes") {
            let params = &note["params"];
            let file = match params["file_uuid"].as_str() {
                Some(uuid) => {
                    chip(uuid, params["version_uuid"].as_str(), params["file_name"].as_str())
                        .await?
                        .map(|mut c| {
                            c.is_deleted = params["is_deleted"] == true;
                            c
                        })
                }
                None => None,
            };
            notes.push(super::feed::Note {
                id: note["id"].as_i64().unwrap_or_default(),
                created_at: note["created_at"].as_i64().unwrap_or_default(),
                detail: super::feed::describe(
                    note["note_type"].as_str().unwrap_or_default(),
                    params,
                ),
                text: params["text"].as_str().map(str::to_owned),
                file,
            });
        }
    }
    let mut media = Vec::new();
    let (status, listed) =
        call("GET", format!("/api/v4/{kind}/{id}/files?limit=250"), None).await?;
    if status == 200 {
        for entry in embedded(&listed, "files") {
            if let Some(uuid) = entry["file_uuid"].as_str() {
                if let Some(c) = chip(uuid, None, None).await? {
                    media.push(c);
                }
            }
        }
    }
    Ok(EntityCard {
        kind,
        id,
        name: entity["name"].as_str().unwrap_or_default().to_owned(),
        feed: super::feed::group(notes),
        media,
        fields,
    })
}

/// A one-hour `files` token for the upload widget on a page. It is
/// fetched by the page's script when it needs it, never put in the HTML.
#[server(prefix = "/_pages")]
pub async fn widget_token(csrf: String) -> Result<String, ServerFnError> {
    backend::check_csrf(&csrf).await?;
    let (_, json) = backend::call("POST", "/api/v4/files/issue_token".into(), None).await?;
    json["token"].as_str().map(str::to_owned).ok_or_else(|| ServerFnError::new("no token"))
}

/// Puts an uploaded file into an entity's feed, as an attachment note
/// (named as the file is), which also puts it in the Media tab: what
/// uploading in a CRM card does.
#[server(prefix = "/_pages")]
pub async fn attach_file(
    csrf: String,
    kind: String,
    id: i64,
    file_uuid: String,
) -> Result<(), ServerFnError> {
    backend::check_csrf(&csrf).await?;
    let body =
        serde_json::json!([{ "note_type": "attachment", "params": { "file_uuid": file_uuid } }]);
    backend::call("POST", format!("/api/v4/{}/{id}/notes", backend::kind(&kind)?), Some(body))
        .await?;
    Ok(())
}

/// Takes a file out of an entity's Media tab.
#[server(prefix = "/_pages")]
pub async fn detach_file(
    csrf: String,
    kind: String,
    id: i64,
    file_uuid: String,
) -> Result<(), ServerFnError> {
    backend::check_csrf(&csrf).await?;
    let body = serde_json::json!([{ "file_uuid": file_uuid }]);
    backend::call("DELETE", format!("/api/v4/{}/{id}/files", backend::kind(&kind)?), Some(body))
        .await?;
    Ok(())
}

/// Sets a text field's value (empty clears it).
#[server(prefix = "/_pages")]
pub async fn set_text_field(
    csrf: String,
    kind: String,
    id: i64,
    field_id: i64,
    text: String,
) -> Result<(), ServerFnError> {
    backend::check_csrf(&csrf).await?;
    let text = text.trim();
    let values = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::json!([{ "value": text }])
    };
    let body = serde_json::json!({
        "custom_fields_values": [{ "field_id": field_id, "values": values }]
    });
    backend::call("PATCH", format!("/api/v4/{}/{id}", backend::kind(&kind)?), Some(body)).await?;
    Ok(())
}

/// Adds a common note (a comment) to an entity's feed.
#[server(prefix = "/_pages")]
pub async fn add_note(
    csrf: String,
    kind: String,
    id: i64,
    text: String,
) -> Result<(), ServerFnError> {
    backend::check_csrf(&csrf).await?;
    let text = text.trim();
    if text.is_empty() {
        return Err(ServerFnError::new("Write something first."));
    }
    let body = serde_json::json!([{ "note_type": "common", "params": { "text": text } }]);
    backend::call("POST", format!("/api/v4/{}/{id}/notes", backend::kind(&kind)?), Some(body))
        .await?;
    Ok(())
}
