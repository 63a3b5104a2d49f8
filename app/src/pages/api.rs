//! What the pages ask of the server, as Leptos server functions. On the
//! server they call Satchel's own HTTP API in-process, as the signed-in
//! browser (`Backend`, provided by the server crate), so the pages follow
//! exactly the rules the API does. State-changing calls carry the
//! session's CSRF token as an argument.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in browser, as the pages see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub account: String,
    /// Sent back with every state-changing call.
    pub csrf: String,
    /// Whether it may move files to the trash.
    pub may_delete: bool,
}

pub use super::feed::{FeedItem, FileChip};

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

#[cfg(feature = "ssr")]
pub mod backend {
    //! The server's side of the pages' calls.
    use std::{future::Future, pin::Pin, sync::Arc};

    use serde_json::Value;

    use super::Viewer;

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
    }

    /// The backend, as a Leptos context.
    #[derive(Clone)]
    pub struct Pages(pub Arc<dyn Backend>);
}

#[cfg(feature = "ssr")]
pub(crate) mod on_server {
    use leptos::prelude::*;
    use serde_json::Value;

    use super::backend::Pages;

    fn pages() -> Result<Pages, ServerFnError> {
        use_context::<Pages>().ok_or_else(|| ServerFnError::new("the pages backend is missing"))
    }

    async fn headers() -> Result<http::HeaderMap, ServerFnError> {
        Ok(leptos_axum::extract::<http::HeaderMap>().await?)
    }

    pub fn purge_in_days(deleted_at: i64) -> Result<i64, ServerFnError> {
        Ok(pages()?.0.purge_in_days(deleted_at))
    }

    pub async fn viewer() -> Result<Option<super::Viewer>, ServerFnError> {
        Ok(pages()?.0.viewer(headers().await?).await)
    }

    /// An API call that must succeed; its problem's detail otherwise.
    pub async fn call(
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
    pub async fn chip(
        file_uuid: &str,
        version_uuid: Option<&str>,
        name: Option<&str>,
    ) -> Result<Option<super::FileChip>, ServerFnError> {
        let file =
            match call_raw("GET", format!("/v1.0/files/{file_uuid}?with=deleted"), None).await? {
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
    pub fn name_with_extension(json: &Value) -> String {
        let name = json["name"].as_str().unwrap_or_default();
        match json["metadata"]["extension"].as_str().unwrap_or_default() {
            "" => name.to_owned(),
            extension => format!("{name}.{extension}"),
        }
    }

    /// A chip from a file or version object.
    pub fn chip_of(
        json: &Value,
        file_uuid: &str,
        is_deleted: bool,
        name: Option<&str>,
    ) -> super::FileChip {
        let version_uuid = json["version_uuid"].as_str().or_else(|| json["uuid"].as_str());
        super::FileChip {
            file_uuid: file_uuid.to_owned(),
            version_uuid: version_uuid.unwrap_or_default().to_owned(),
            name: name.map(str::to_owned).unwrap_or_else(|| name_with_extension(json)),
            size: json["size"].as_i64().unwrap_or_default(),
            kind: json["type"].as_str().unwrap_or("file").to_owned(),
            download: json["_links"]["download"]["href"].as_str().unwrap_or_default().to_owned(),
            is_deleted,
        }
    }

    /// An API call whatever its status.
    pub async fn call_raw(
        method: &'static str,
        uri: String,
        body: Option<Value>,
    ) -> Result<(u16, Value), ServerFnError> {
        pages()?.0.call(headers().await?, method, uri, body).await.map_err(ServerFnError::new)
    }

    /// An entity type from the browser, checked before it goes into an
    /// API path.
    pub fn kind(kind: &str) -> Result<&str, ServerFnError> {
        crate::pages::KINDS
            .iter()
            .find(|k| k.0 == kind)
            .map(|k| k.0)
            .ok_or_else(|| ServerFnError::new(format!("There is no entity type {kind:?}.")))
    }

    /// A file uuid from the browser, checked before it goes into an API
    /// path.
    pub fn uuid(uuid: &str) -> Result<&str, ServerFnError> {
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
    pub async fn check_csrf(csrf: &str) -> Result<(), ServerFnError> {
        match viewer().await? {
            Some(v) if v.csrf == csrf => Ok(()),
            Some(_) => Err(ServerFnError::new("the page's CSRF token is wrong; reload the page")),
            None => Err(ServerFnError::new("sign in first")),
        }
    }
}

/// Who is signed in (`None`: nobody).
#[server(prefix = "/_pages")]
pub async fn current_viewer() -> Result<Option<Viewer>, ServerFnError> {
    on_server::viewer().await
}

/// The account's entities of one type, oldest first (the first 250).
#[server(prefix = "/_pages")]
pub async fn entities(kind: String) -> Result<Vec<EntityRow>, ServerFnError> {
    let kind = on_server::kind(&kind)?.to_owned();
    let (status, json) = on_server::call("GET", format!("/api/v4/{kind}?limit=250"), None).await?;
    if status == 204 {
        return Ok(Vec::new());
    }
    Ok(json["_embedded"][kind.as_str()]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|e| EntityRow {
                    id: e["id"].as_i64().unwrap_or_default(),
                    name: e["name"].as_str().unwrap_or_default().to_owned(),
                    created_at: e["created_at"].as_i64().unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Creates an entity; its id.
#[server(prefix = "/_pages")]
pub async fn create_entity(csrf: String, kind: String, name: String) -> Result<i64, ServerFnError> {
    on_server::check_csrf(&csrf).await?;
    let kind = on_server::kind(&kind)?.to_owned();
    let body = serde_json::json!([{ "name": name }]);
    let (_, json) = on_server::call("POST", format!("/api/v4/{kind}"), Some(body)).await?;
    json["_embedded"][kind.as_str()][0]["id"]
        .as_i64()
        .ok_or_else(|| ServerFnError::new("the entity was not created"))
}

/// Everything an entity's card shows: fields with version histories, the
/// feed and the Media tab.
#[server(prefix = "/_pages")]
pub async fn load_card(kind: String, id: i64) -> Result<EntityCard, ServerFnError> {
    use on_server::{call, call_raw, chip, chip_of};
    let kind = on_server::kind(&kind)?.to_owned();
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
    for definition in
        definitions["_embedded"]["custom_fields"].as_array().cloned().unwrap_or_default()
    {
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
            let versions: Vec<FileChip> = versions["_embedded"]["versions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|v| chip_of(v, uuid, deleted, None))
                .collect();
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
        for note in listed["_embedded"]["notes"].as_array().cloned().unwrap_or_default() {
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
        for entry in listed["_embedded"]["files"].as_array().cloned().unwrap_or_default() {
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
    on_server::check_csrf(&csrf).await?;
    let (_, json) = on_server::call("POST", "/api/v4/files/issue_token".into(), None).await?;
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
    on_server::check_csrf(&csrf).await?;
    let body =
        serde_json::json!([{ "note_type": "attachment", "params": { "file_uuid": file_uuid } }]);
    on_server::call("POST", format!("/api/v4/{}/{id}/notes", on_server::kind(&kind)?), Some(body))
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
    on_server::check_csrf(&csrf).await?;
    let body = serde_json::json!([{ "file_uuid": file_uuid }]);
    on_server::call(
        "DELETE",
        format!("/api/v4/{}/{id}/files", on_server::kind(&kind)?),
        Some(body),
    )
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
    on_server::check_csrf(&csrf).await?;
    let text = text.trim();
    let values = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::json!([{ "value": text }])
    };
    let body = serde_json::json!({
        "custom_fields_values": [{ "field_id": field_id, "values": values }]
    });
    on_server::call("PATCH", format!("/api/v4/{}/{id}", on_server::kind(&kind)?), Some(body))
        .await?;
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
    on_server::check_csrf(&csrf).await?;
    let text = text.trim();
    if text.is_empty() {
        return Err(ServerFnError::new("Write something first."));
    }
    let body = serde_json::json!([{ "note_type": "common", "params": { "text": text } }]);
    on_server::call("POST", format!("/api/v4/{}/{id}/notes", on_server::kind(&kind)?), Some(body))
        .await?;
    Ok(())
}
