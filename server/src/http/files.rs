//! The file and version objects as Kommo shapes them, and the read
//! endpoints: one file, its versions, one version.

use axum::{
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    auth::Auth,
    body::ApiBody,
    links::{Href, ListLinks},
    query::KommoQuery,
};
use crate::{
    domain::{
        file_name::{classify, FileName},
        listing::ListQuery,
        paging::page_of,
        query::QueryParams,
        signing::CURRENT_VERSION,
        Scope,
    },
    error::{Error, Result},
    state::AppState,
    store::{
        files::{FileRecord, VersionRecord},
        now_unix,
    },
};

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct Actor {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
}

fn actor(id: Option<i64>) -> Option<Actor> {
    id.map(|id| Actor { id, kind: "internal".into() })
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct Metadata {
    /// Lowercase, without the dot; empty when the name has none.
    pub extension: String,
    pub mime_type: String,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct Preview {
    pub download_link: String,
    pub width: u32,
    pub height: u32,
}

/// A file's links. `download` (the current version, whichever it is when
/// the link is followed) and `download_version` (the version the object
/// shows) stay valid for as long as the file exists, sent with a bearer
/// token of its account. The `signed_*` twins (beyond Kommo) are the same
/// links signed for `--link-ttl`, for a browser that sends no header.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct FileLinks {
    #[serde(rename = "self")]
    pub self_: Href,
    pub download: Href,
    pub download_version: Href,
    pub signed_download: Href,
    pub signed_download_version: Href,
}

/// A file, with its active version's size, type and digest. Every key
/// Kommo documents is present, `null` when it has no value (Kommo's PHP
/// library reads each one).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct FileView {
    pub uuid: String,
    pub version_uuid: String,
    pub id: i64,
    /// The name without its extension, as Kommo shows it.
    pub name: String,
    /// `name` in ASCII (Cyrillic transliterated, accents dropped).
    pub sanitized_name: String,
    pub size: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub metadata: Metadata,
    pub previews: Option<Vec<Preview>>,
    pub is_trashed: bool,
    pub has_multiple_versions: bool,
    pub source_id: Option<i64>,
    pub session_id: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
    pub created_by: Option<Actor>,
    pub updated_by: Option<Actor>,
    pub deleted_by: Option<Actor>,
    /// Hex SHA-256 of the active version's bytes (beyond Kommo).
    pub sha256: String,
    pub _links: FileLinks,
}

/// A version's links: `download` with a bearer token, as long as the
/// file exists; `signed_download` (beyond Kommo) without, for
/// `--link-ttl`.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct VersionLinks {
    #[serde(rename = "self")]
    pub self_: Href,
    pub download: Href,
    pub signed_download: Href,
}

/// One version of a file, with every key Kommo documents.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct VersionView {
    pub uuid: String,
    pub file_uuid: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The version's name without its extension.
    pub name: String,
    /// `name` in ASCII.
    pub sanitized_name: String,
    pub size: i64,
    pub is_main: bool,
    /// Where the version came from; Satchel has no sources: null.
    pub source_id: Option<i64>,
    /// Hex SHA-256 of the version's bytes (beyond Kommo).
    pub sha256: String,
    pub created_at: i64,
    pub created_by: Option<Actor>,
    /// When the version was last made the active one (its upload, or a
    /// `PATCH` with its `version_uuid`).
    pub updated_at: i64,
    pub updated_by: Option<Actor>,
    pub metadata: Metadata,
    pub previews: Option<Vec<Preview>>,
    pub _links: VersionLinks,
}

/// Name-derived fields shared by files and versions.
struct Described {
    stem: String,
    /// Kommo's `sanitized_name`: the stem in ASCII.
    sanitized: String,
    /// The last segment of a download link: the whole name in ASCII.
    download_name: String,
    kind: &'static str,
    metadata: Metadata,
}

fn describe(name: &str, mime_type: &str) -> Described {
    // Stored names were validated on the way in; fall back gracefully anyway.
    let parsed = FileName::parse(name).unwrap_or_else(|_| FileName::parse("file").expect("valid"));
    let extension = parsed.extension();
    Described {
        stem: parsed.stem().to_owned(),
        sanitized: parsed.sanitized_stem(),
        download_name: parsed.ascii(),
        kind: classify(mime_type, extension.as_deref()).as_str(),
        metadata: Metadata {
            extension: extension.unwrap_or_default(),
            mime_type: mime_type.to_owned(),
        },
    }
}

impl AppState {
    /// The link to a file's bytes, `name` its last segment: the current
    /// version without `version_uuid`, else that version. It carries no
    /// credential and no expiry; it serves a bearer token of the account.
    pub fn download_link(&self, file_uuid: &str, version_uuid: Option<&str>, name: &str) -> String {
        let name = utf8_percent_encode(name, NON_ALPHANUMERIC);
        let public_url = &self.settings.public_url;
        match version_uuid {
            Some(version_uuid) => {
                format!("{public_url}/download/{file_uuid}/{version_uuid}/{name}")
            }
            None => format!("{public_url}/download/{file_uuid}/{name}"),
        }
    }

    /// `download_link` signed for `--link-ttl`, to be followed without a
    /// header.
    pub fn signed_download_link(
        &self,
        file_uuid: &str,
        version_uuid: Option<&str>,
        name: &str,
    ) -> String {
        let expires_at = now_unix() + self.settings.link_ttl.as_secs() as i64;
        let signed_as = version_uuid.unwrap_or(CURRENT_VERSION);
        let sign = self.signing.keys().download_signature(file_uuid, signed_as, expires_at);
        format!("{}?sign={sign}", self.download_link(file_uuid, version_uuid, name))
    }

    /// A link and its signed twin, as `(download, signed_download)`.
    fn download_links(
        &self,
        file_uuid: &str,
        version_uuid: Option<&str>,
        name: &str,
    ) -> (Href, Href) {
        (
            Href { href: self.download_link(file_uuid, version_uuid, name) },
            Href { href: self.signed_download_link(file_uuid, version_uuid, name) },
        )
    }

    /// A signed link to one preview of a version.
    pub fn preview_link(&self, file_uuid: &str, version_uuid: &str, width: i64) -> String {
        let expires_at = now_unix() + self.settings.link_ttl.as_secs() as i64;
        let what = format!("{version_uuid}/preview/{width}");
        let sign = self.signing.keys().download_signature(file_uuid, &what, expires_at);
        format!(
            "{}/download/{file_uuid}/{version_uuid}/preview/{width}?sign={sign}",
            self.settings.public_url
        )
    }

    /// `previews` as Kommo shows them: null when there are none.
    async fn preview_views(
        &self,
        file_uuid: &str,
        version_id: i64,
        version_uuid: &str,
    ) -> Result<Option<Vec<Preview>>> {
        let previews = self.db.previews(version_id).await?;
        Ok((!previews.is_empty()).then(|| {
            previews
                .iter()
                .map(|p| Preview {
                    download_link: self.preview_link(file_uuid, version_uuid, p.width),
                    width: p.width as u32,
                    height: p.height as u32,
                })
                .collect()
        }))
    }

    pub async fn file_view(&self, file: &FileRecord) -> Result<FileView> {
        let previews = self.preview_views(&file.uuid, file.version_id, &file.version_uuid).await?;
        let d = describe(&file.name, &file.mime_type);
        let (download, signed_download) = self.download_links(&file.uuid, None, &d.download_name);
        let (download_version, signed_download_version) =
            self.download_links(&file.uuid, Some(&file.version_uuid), &d.download_name);
        Ok(FileView {
            uuid: file.uuid.clone(),
            version_uuid: file.version_uuid.clone(),
            id: file.id,
            name: d.stem,
            sanitized_name: d.sanitized,
            size: file.size,
            kind: d.kind.into(),
            metadata: d.metadata,
            previews,
            is_trashed: file.is_trashed(),
            has_multiple_versions: file.version_count > 1,
            source_id: file.source_id,
            session_id: file.session_id,
            created_at: file.created_at,
            updated_at: file.updated_at,
            deleted_at: file.deleted_at,
            created_by: actor(file.created_by),
            updated_by: actor(file.updated_by),
            deleted_by: actor(file.deleted_by),
            sha256: file.sha256.clone(),
            _links: FileLinks {
                self_: Href {
                    href: format!("{}/v1.0/files/{}", self.settings.public_url, file.uuid),
                },
                download,
                download_version,
                signed_download,
                signed_download_version,
            },
        })
    }

    pub async fn version_view(
        &self,
        file: &FileRecord,
        version: &VersionRecord,
    ) -> Result<VersionView> {
        let previews = self.preview_views(&file.uuid, version.id, &version.uuid).await?;
        let d = describe(&version.name, &version.mime_type);
        let (download, signed_download) =
            self.download_links(&file.uuid, Some(&version.uuid), &d.download_name);
        Ok(VersionView {
            uuid: version.uuid.clone(),
            file_uuid: file.uuid.clone(),
            kind: d.kind.into(),
            name: d.stem,
            size: version.size,
            is_main: version.id == file.version_id,
            source_id: version.source_id,
            sha256: version.sha256.clone(),
            created_at: version.created_at,
            created_by: actor(version.created_by),
            updated_at: version.updated_at,
            updated_by: actor(version.updated_by),
            metadata: d.metadata,
            previews,
            _links: VersionLinks {
                self_: Href {
                    href: format!(
                        "{}/v1.0/files/{}/versions/{}",
                        self.settings.public_url, file.uuid, version.uuid
                    ),
                },
                download,
                signed_download,
            },
            sanitized_name: d.sanitized,
        })
    }

    /// The caller's file, 404 when absent, another account's, or trashed
    /// (unless `with_deleted`).
    pub async fn visible_file(
        &self,
        auth: &Auth,
        uuid: &str,
        with_deleted: bool,
    ) -> Result<FileRecord> {
        let file =
            self.db.file_by_uuid(auth.account, uuid).await?.ok_or(Error::NotFound("file"))?;
        if file.is_trashed() && !with_deleted {
            return Err(Error::NotFound("file"));
        }
        Ok(file)
    }
}

/// Whether `with` (a comma list) asks for trashed files too.
fn with_deleted(query: &QueryParams) -> bool {
    query.comma_list("with").contains(&"deleted")
}

/// One file. A trashed file is 404 unless `with=deleted`.
#[utoipa::path(get, path = "/v1.0/files/{uuid}", tag = "files", security(("bearer" = [])),
    params(("uuid" = String, Path), ("with" = Option<String>, Query, description = "`deleted` to see a trashed file")),
    responses((status = 200, body = FileView), (status = 404, body = super::problem::Problem)))]
pub async fn get_file(
    State(state): State<AppState>,
    auth: Auth,
    Path(uuid): Path<String>,
    KommoQuery(query): KommoQuery,
) -> Result<Json<FileView>> {
    auth.require(Scope::Files)?;
    let file = state.visible_file(&auth, &uuid, with_deleted(&query)).await?;
    Ok(Json(state.file_view(&file).await?))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct VersionsEmbedded {
    pub versions: Vec<VersionView>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct VersionList {
    pub _count: usize,
    pub _embedded: VersionsEmbedded,
}

/// A file's versions, newest first.
#[utoipa::path(get, path = "/v1.0/files/{uuid}/versions", tag = "files", security(("bearer" = [])),
    params(("uuid" = String, Path)),
    responses((status = 200, body = VersionList), (status = 404, body = super::problem::Problem)))]
pub async fn list_versions(
    State(state): State<AppState>,
    auth: Auth,
    Path(uuid): Path<String>,
    KommoQuery(query): KommoQuery,
) -> Result<Json<VersionList>> {
    auth.require(Scope::Files)?;
    let file = state.visible_file(&auth, &uuid, with_deleted(&query)).await?;
    let mut versions = Vec::new();
    for version in state.db.versions(file.id).await? {
        versions.push(state.version_view(&file, &version).await?);
    }
    Ok(Json(VersionList { _count: versions.len(), _embedded: VersionsEmbedded { versions } }))
}

/// One version (beyond Kommo).
#[utoipa::path(get, path = "/v1.0/files/{uuid}/versions/{version_uuid}", tag = "files",
    security(("bearer" = [])),
    params(("uuid" = String, Path), ("version_uuid" = String, Path)),
    responses((status = 200, body = VersionView), (status = 404, body = super::problem::Problem)))]
pub async fn get_version(
    State(state): State<AppState>,
    auth: Auth,
    Path((uuid, version_uuid)): Path<(String, String)>,
    KommoQuery(query): KommoQuery,
) -> Result<Json<VersionView>> {
    auth.require(Scope::Files)?;
    let file = state.visible_file(&auth, &uuid, with_deleted(&query)).await?;
    let version = state
        .db
        .version_by_uuid(file.id, &version_uuid)
        .await?
        .ok_or(Error::NotFound("version"))?;
    Ok(Json(state.version_view(&file, &version).await?))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct FilesEmbedded {
    pub files: Vec<FileView>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct FilePage {
    pub _page: i64,
    /// Files on this page.
    pub _count: usize,
    pub _embedded: FilesEmbedded,
    pub _links: ListLinks,
}

/// The account's files, with Kommo's filters, order and pages.
#[utoipa::path(get, path = "/v1.0/files", tag = "files", security(("bearer" = [])),
    params(
        ("filter[uuid]" = Option<String>, Query, description = "comma-separated uuids"),
        ("filter[name]" = Option<String>, Query, description = "the name as shown, or the whole name"),
        ("filter[extensions][]" = Option<Vec<String>>, Query, description = "repeatable; also `[0]`, `[1]`… or a comma list"),
        ("filter[term]" = Option<String>, Query, description = "part of the name"),
        ("filter[source_id]" = Option<i64>, Query),
        ("filter[deleted]" = Option<String>, Query, description = "passed (any value but `0` or `false`): only trashed files"),
        ("filter[size][from]" = Option<u64>, Query), ("filter[size][to]" = Option<u64>, Query),
        ("filter[size][unit]" = Option<u64>, Query, minimum = 1, description = "bytes per unit, default 1"),
        ("filter[date][type]" = Option<String>, Query, pattern = "^(created_at|updated_at)$", description = "created_at or updated_at"),
        ("filter[date][from]" = Option<i64>, Query, description = "unix seconds, included"),
        ("filter[date][to]" = Option<i64>, Query, description = "unix seconds, included"),
        ("filter[date][date_preset]" = Option<String>, Query,
            pattern = "^(day|tomorrow|yesterday|week|previous_week|next_week|month|next_month|previous_month|quarter|previous_quarter|next_quarter|last_3_days|next_3_days|last_6_month|year)$",
            description = "a calendar period in UTC, over from/to: day, tomorrow, yesterday, week, previous_week, \
                next_week, month, next_month, previous_month, quarter, previous_quarter, next_quarter, \
                last_3_days, next_3_days, last_6_month, year"),
        ("filter[created_by][]" = Option<Vec<i64>>, Query, description = "repeatable; also `[0]`, `[1]`… or a comma list"),
        ("filter[updated_by][]" = Option<Vec<i64>>, Query, description = "repeatable; also `[0]`, `[1]`… or a comma list"),
        ("order[created_at]" = Option<String>, Query, pattern = "^(asc|desc)$", description = "asc or desc; also order[updated_at], order[size], order[name]"),
        ("page" = Option<i64>, Query, minimum = 1),
        ("limit" = Option<i64>, Query, minimum = 1, description = "default 50; above 250 reads as 250"),
    ),
    responses((status = 200, body = FilePage), (status = 204, description = "nothing matches"),
        (status = 400, body = super::problem::Problem, description = "a bad filter value, named")))]
pub async fn list_files(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    auth.require(Scope::Files)?;
    let raw = raw.unwrap_or_default();
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(raw.as_bytes()).into_owned().collect();
    let params = QueryParams::from_pairs(pairs.iter().cloned());
    let query = ListQuery::parse(&params, now_unix()).map_err(Error::Validation)?;
    let rows = state.db.list_files(auth.account, &query).await?;
    let Some((rows, more)) = page_of(rows, query.paging.limit) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mut files = Vec::with_capacity(rows.len());
    for row in &rows {
        files.push(state.file_view(row).await?);
    }
    // The query as sent (so the PHP library's `nextPage()`, which sends a
    // link's query again, walks the same list), with the page and the
    // limit used.
    let page_link = |page: i64| {
        let mut link = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs.iter().filter(|(k, _)| k != "page" && k != "limit") {
            link.append_pair(k, v);
        }
        query.paging.append_to(page, &mut link);
        Href { href: format!("{}/v1.0/files?{}", state.settings.public_url, link.finish()) }
    };
    let page = FilePage {
        _page: query.paging.page,
        _count: files.len(),
        _links: ListLinks::paged(query.paging.page, more, page_link),
        _embedded: FilesEmbedded { files },
    };
    Ok(Json(page).into_response())
}

/// What `PATCH /v1.0/files/{uuid}` changes: one of the two.
#[derive(Deserialize, ToSchema)]
#[schema(min_properties = 1, max_properties = 1)]
pub struct FilePatch {
    /// The name as shown, without extension; the extension is kept.
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 255,
        pattern = "^\\s*[^\\s\\x00-\\x1f\\x7f-\\x9f\\u00ad\\u061c\\u180e\\u200b\\u200e\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb]([^\\x00-\\x1f\\x7f-\\x9f\\u00ad\\u061c\\u180e\\u200b\\u200e\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb]*[^\\s\\x00-\\x1f\\x7f-\\x9f\\u00ad\\u061c\\u180e\\u200b\\u200e\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u206f\\ufeff\\ufff9-\\ufffb])?\\s*$"
    )]
    pub name: Option<String>,
    /// The version to make active.
    #[schema(nullable = false, min_length = 1)]
    pub version_uuid: Option<String>,
}

/// Rename a file, or make another of its versions the active one.
#[utoipa::path(patch, path = "/v1.0/files/{uuid}", tag = "files", security(("bearer" = [])),
    params(("uuid" = String, Path)),
    request_body(description = "JSON, or a form (urlencoded or multipart) with PHP-style bracket keys",
        content((FilePatch = "application/json"), (FilePatch = "application/x-www-form-urlencoded"),
            (FilePatch = "multipart/form-data"))),
    responses((status = 200, body = FileView),
        (status = 400, body = super::problem::Problem, description = "both or neither; a bad name"),
        (status = 415, body = super::problem::Problem, description = "unsupported-media-type: not JSON, multipart or urlencoded"),
        (status = 404, body = super::problem::Problem)))]
pub async fn patch_file(
    State(state): State<AppState>,
    auth: Auth,
    Path(uuid): Path<String>,
    ApiBody(patch): ApiBody<FilePatch>,
) -> Result<Json<FileView>> {
    auth.require(Scope::Files)?;
    let file = state.visible_file(&auth, &uuid, false).await?;
    match (patch.name, patch.version_uuid) {
        (Some(_), Some(_)) => {
            return Err(Error::validation(
                "send either name or version_uuid, not both: a rename and a version switch \
                 are separate changes",
            ))
        }
        (None, None) => {
            return Err(Error::validation("nothing to change: send name or version_uuid"))
        }
        (Some(name), None) => {
            let current = FileName::parse(&file.name).map_err(Error::Validation)?;
            let renamed = current
                .renamed(&name)
                .map_err(|e| Error::validation(e.replace("file_name", "name")))?;
            state.db.rename_file(file.id, renamed.as_str(), auth.user, now_unix()).await?;
        }
        (None, Some(version_uuid)) => {
            let version = state
                .db
                .version_by_uuid(file.id, &version_uuid)
                .await?
                .ok_or(Error::NotFound("version"))?;
            let current = FileName::parse(&file.name).map_err(Error::Validation)?;
            let name = current
                .with_extension_of(&FileName::parse(&version.name).map_err(Error::Validation)?);
            state
                .db
                .activate_version(file.id, &version, name.as_str(), auth.user, now_unix())
                .await?;
        }
    }
    let file = state.db.file_by_id(file.id).await?.ok_or(Error::NotFound("file"))?;
    Ok(Json(state.file_view(&file).await?))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1.0/files", get(list_files))
        .route("/v1.0/files/{uuid}", get(get_file).patch(patch_file))
        .route("/v1.0/files/{uuid}/versions", get(list_versions))
        .route("/v1.0/files/{uuid}/versions/{version_uuid}", get(get_version))
}
