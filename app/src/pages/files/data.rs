//! The Files manager's data: what its table, usage bar and drawer show,
//! and the server functions that read and change the catalogue through
//! Satchel's API.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::query::FilesQuery;
#[cfg(feature = "ssr")]
use crate::pages::backend;
use crate::pages::shared::FileChip;

/// An entity a file is attached to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedEntity {
    /// `leads`, `contacts` or `companies`.
    pub kind: String,
    pub id: i64,
    pub name: String,
}

impl LinkedEntity {
    pub fn href(&self) -> String {
        format!("/{}/{}", self.kind, self.id)
    }
}

/// One row of the manager's table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRow {
    pub chip: FileChip,
    pub extension: String,
    pub created_at: i64,
    /// Who uploaded it, for people.
    pub author: String,
    /// In the Trash: whole days until it is purged.
    pub purge_in_days: Option<i64>,
    pub links: Vec<LinkedEntity>,
}

/// One page of the manager's table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilesPage {
    pub rows: Vec<FileRow>,
    pub has_next: bool,
}

/// The account's usage (`GET /v1.0/files/stats`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub used_bytes: i64,
    pub trashed_bytes: i64,
    /// `None`: unlimited.
    pub quota_bytes: Option<i64>,
    pub file_count: i64,
}

/// A file's detail drawer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDrawer {
    pub row: FileRow,
    /// Every version, newest first; the active one is `row.chip`.
    pub versions: Vec<FileChip>,
}

/// Who a file's `created_by` names, for people.
pub fn author(created_by: Option<i64>) -> String {
    match created_by {
        Some(0) => "Signed-in user".into(),
        Some(id) => format!("API token {id}"),
        None => "—".into(),
    }
}

#[cfg(feature = "ssr")]
mod on_server {
    use leptos::prelude::ServerFnError;
    use serde_json::Value;

    use super::{author, FileRow, LinkedEntity};
    use crate::pages::backend::{call, call_raw, chip_of, purge_in_days};

    /// A table row from a file object, with its linked entities.
    pub async fn row(file: &Value) -> Result<FileRow, ServerFnError> {
        let uuid = file["uuid"].as_str().unwrap_or_default().to_owned();
        let trashed = file["is_trashed"] == true;
        let (status, links) = call_raw("GET", format!("/api/v4/files/{uuid}/links"), None).await?;
        let links = if status == 200 {
            links["entities"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|e| LinkedEntity {
                    kind: e["entity_type"].as_str().unwrap_or_default().to_owned(),
                    id: e["id"].as_i64().unwrap_or_default(),
                    name: e["name"].as_str().unwrap_or_default().to_owned(),
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(FileRow {
            chip: chip_of(file, &uuid, trashed, None),
            extension: file["metadata"]["extension"].as_str().unwrap_or_default().to_owned(),
            created_at: file["created_at"].as_i64().unwrap_or_default(),
            author: author(file["created_by"]["id"].as_i64()),
            purge_in_days: file["deleted_at"].as_i64().map(purge_in_days).transpose()?,
            links,
        })
    }

    /// Moves files to the trash (`DELETE`) or restores them, all or none.
    pub async fn batch(method: &'static str, uri: &str, uuids: &str) -> Result<(), ServerFnError> {
        let body: Vec<Value> = uuids
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| serde_json::json!({ "uuid": u }))
            .collect();
        if body.is_empty() {
            return Err(ServerFnError::new("Select at least one file."));
        }
        call(method, uri.into(), Some(Value::Array(body))).await?;
        Ok(())
    }
}

/// One page of the manager's table.
#[server(prefix = "/_pages")]
pub async fn list_files(query: FilesQuery) -> Result<FilesPage, ServerFnError> {
    let (status, json) = backend::call("GET", query.api_uri(), None).await?;
    if status == 204 {
        return Ok(FilesPage { rows: Vec::new(), has_next: false });
    }
    let mut rows = Vec::new();
    for file in backend::embedded(&json, "files") {
        rows.push(on_server::row(&file).await?);
    }
    Ok(FilesPage { rows, has_next: json["_links"]["next"]["href"].is_string() })
}

/// The account's usage against its quota.
#[server(prefix = "/_pages")]
pub async fn file_usage() -> Result<Usage, ServerFnError> {
    let (_, json) = backend::call("GET", "/v1.0/files/stats".into(), None).await?;
    Ok(Usage {
        used_bytes: json["used_bytes"].as_i64().unwrap_or_default(),
        trashed_bytes: json["trashed_bytes"].as_i64().unwrap_or_default(),
        quota_bytes: json["quota_bytes"].as_i64(),
        file_count: json["file_count"].as_i64().unwrap_or_default(),
    })
}

/// A file's drawer: its row, every version and its links.
#[server(prefix = "/_pages")]
pub async fn file_detail(uuid: String) -> Result<FileDrawer, ServerFnError> {
    use backend::{call_raw, version_chips};
    let uuid = backend::uuid(&uuid)?.to_owned();
    let file = match call_raw("GET", format!("/v1.0/files/{uuid}?with=deleted"), None).await? {
        (200, json) => json,
        _ => return Err(ServerFnError::new("There is no such file (it may have been purged).")),
    };
    let row = on_server::row(&file).await?;
    let (_, versions) =
        call_raw("GET", format!("/v1.0/files/{uuid}/versions?with=deleted"), None).await?;
    let versions = version_chips(&versions, &uuid, row.chip.is_deleted);
    Ok(FileDrawer { row, versions })
}

/// Moves the files (uuids separated by commas) to the trash, all or none.
#[server(prefix = "/_pages")]
pub async fn trash_files(csrf: String, uuids: String) -> Result<(), ServerFnError> {
    backend::check_csrf(&csrf).await?;
    on_server::batch("DELETE", "/v1.0/files", &uuids).await
}

/// Restores the files (uuids separated by commas) from the trash.
#[server(prefix = "/_pages")]
pub async fn restore_files(csrf: String, uuids: String) -> Result<(), ServerFnError> {
    backend::check_csrf(&csrf).await?;
    on_server::batch("POST", "/v1.0/files/restore", &uuids).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authors_read_as_people_would_say_them() {
        assert_eq!(author(Some(0)), "Signed-in user");
        assert_eq!(author(Some(7)), "API token 7");
        assert_eq!(author(None), "—");
    }
}
