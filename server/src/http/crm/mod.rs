//! The CRM side under `/api/v4`, in Kommo's shapes: entities with custom
//! fields (`entities`), notes (`notes`) and the files attached to entities
//! (`media`). Everything needs the `crm` scope and sees only the caller's
//! account. Every file a request puts to use goes through
//! `domain::trash::usable`; a bad one fails the whole request with Kommo's
//! `validation-errors` and nothing is written.

use axum::{
    extract::{FromRequestParts, Path},
    http::request::Parts,
    Router,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{auth::Auth, problem::FILE_TRASHED_CODE, query::KommoQuery};
use crate::{
    domain::{
        crm::{EntityType, FieldError, FieldInput, FileRef, ValueInput},
        paging::{positive, Paging, MAX_LIMIT},
        query::QueryParams,
        trash::{usable, Unusable},
        Scope,
    },
    error::{Error, Result},
    state::AppState,
    store::{
        accounts::AccountId,
        crm::{EntityRecord, StoredField, StoredValue},
        files::{FileRecord, VersionRecord},
    },
};

pub mod entities;
pub mod media;
pub mod notes;

/// A caller holding the `crm` scope; 401/403 before anything else runs.
#[derive(Clone, Copy, Debug)]
pub struct CrmAuth(pub Auth);

impl FromRequestParts<AppState> for CrmAuth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let auth = Auth::from_request_parts(parts, state).await?;
        auth.require(Scope::Crm)?;
        Ok(CrmAuth(auth))
    }
}

/// The entity type a route serves, read from its path (`/api/v4/{type}/...`):
/// each type has its own static routes, so no path can be mistaken for
/// another.
#[derive(Clone, Copy, Debug)]
pub struct Kind(pub EntityType);

impl<S: Send + Sync> FromRequestParts<S> for Kind {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        parts
            .uri
            .path()
            .strip_prefix("/api/v4/")
            .and_then(|rest| rest.split('/').next())
            .and_then(EntityType::parse)
            .map(Kind)
            .ok_or(Error::NotFound("entity type"))
    }
}

/// The entity a route's `{id}` names, of the route's type, in the
/// caller's account (which needs `crm`); 404 for an unknown, foreign or
/// malformed id.
pub struct Target {
    pub auth: Auth,
    pub kind: EntityType,
    pub entity: EntityRecord,
}

impl FromRequestParts<AppState> for Target {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let CrmAuth(auth) = CrmAuth::from_request_parts(parts, state).await?;
        let Kind(kind) = Kind::from_request_parts(parts, state).await?;
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| Error::NotFound(kind.singular()))?;
        let entity = entity_of(state, auth.account, kind, &id).await?;
        Ok(Target { auth, kind, entity })
    }
}

/// Query parameters of the CRM lists, read by `domain::query`'s one rule
/// (`filter[id][]=1`, `filter[id][0]=1`, `filter%5Bid%5D%5B0%5D=1` alike),
/// so a bad value is a problem answer naming it. `filter[...]` keys a list
/// does not know are ignored, as Kommo ignores them.
#[derive(Default)]
pub struct ListParams(QueryParams);

impl ListParams {
    /// `page` and `limit`, read as every list reads them (`Paging`).
    pub fn paging(&self) -> Result<Paging> {
        Paging::from_query(&self.0).map_err(Error::Validation)
    }

    pub fn before_id(&self) -> Result<Option<i64>> {
        match self.0.one("before_id").map_err(Error::Validation)? {
            None | Some("") => Ok(None),
            Some(v) => positive("before_id", v).map(Some).map_err(Error::Validation),
        }
    }

    /// `filter[id]`: one id or a list of them (Kommo documents no comma
    /// list here, so `1,2` is refused as not a number); at most
    /// `MAX_LIMIT`. Empty: no filter.
    pub fn ids(&self) -> Result<Vec<i64>> {
        let ids = self
            .0
            .list("filter[id]")
            .into_iter()
            .map(|v| positive("filter[id][]", v))
            .collect::<Result<Vec<i64>, String>>()
            .map_err(Error::Validation)?;
        if ids.len() > MAX_LIMIT as usize {
            return Err(Error::validation(format!(
                "filter[id][] names at most {MAX_LIMIT} ids, not {}",
                ids.len()
            )));
        }
        Ok(ids)
    }

    /// The query string of a page link: `filter[id]` as sent (in Kommo's
    /// `[]` form), then `page` and the limit used.
    pub fn page_query(&self, page: i64, paging: &Paging) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for id in self.0.list("filter[id]") {
            query.append_pair("filter[id][]", id);
        }
        paging.append_to(page, &mut query);
        query.finish()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let KommoQuery(query) =
            KommoQuery::from_request_parts(parts, state).await.unwrap_or_default();
        Ok(ListParams(query))
    }
}

pub type Params = ListParams;

/// The caller's entity of this type; 404 for an unknown, foreign or
/// malformed id.
pub(super) async fn entity_of(
    state: &AppState,
    account: AccountId,
    kind: EntityType,
    id: &str,
) -> Result<EntityRecord> {
    let not_found = Error::NotFound(kind.singular());
    let id: i64 = id.parse().map_err(|_| not_found)?;
    state.db.entity(account, kind, id).await?.ok_or(Error::NotFound(kind.singular()))
}

/// A file reference resolved against the caller's account: the file
/// must be usable, and a `version_uuid`, when sent, one of its versions.
/// A problem is added to `errors` (at the reference's path) instead.
pub async fn resolve_file(
    state: &AppState,
    account: AccountId,
    reference: &FileRef,
    errors: &mut Vec<FieldError>,
) -> Result<Option<(FileRecord, Option<VersionRecord>)>> {
    let found = state.db.file_by_uuid(account, &reference.file_uuid).await?;
    let file = match usable(found.as_ref()) {
        Ok(file) => file.clone(),
        Err(Unusable::Unknown) => {
            errors.push(FieldError::new(
                "NotFound",
                &reference.path,
                format!("there is no file {}", reference.file_uuid),
            ));
            return Ok(None);
        }
        Err(Unusable::Trashed) => {
            errors.push(FieldError::new(
                FILE_TRASHED_CODE,
                &reference.path,
                format!("file {} is in the trash; restore it first", reference.file_uuid),
            ));
            return Ok(None);
        }
    };
    let version = match &reference.version_uuid {
        None => None,
        Some(uuid) => match state.db.version_by_uuid(file.id, uuid).await? {
            Some(version) => Some(version),
            None => {
                errors.push(FieldError::new(
                    "NotFound",
                    reference.path.replace("file_uuid", "version_uuid"),
                    format!("file {} has no version {uuid}", reference.file_uuid),
                ));
                return Ok(None);
            }
        },
    };
    Ok(Some((file, version)))
}

/// Parsed field values with their files resolved, ready to store.
pub async fn resolve_fields(
    state: &AppState,
    account: AccountId,
    fields: Vec<FieldInput>,
    errors: &mut Vec<FieldError>,
) -> Result<Vec<StoredField>> {
    let mut stored = Vec::with_capacity(fields.len());
    for field in fields {
        let mut values = Vec::with_capacity(field.values.len());
        for value in field.values {
            match value {
                ValueInput::Text(text) => values.push(StoredValue::Text(text)),
                ValueInput::File(reference) => {
                    if let Some((file, version)) =
                        resolve_file(state, account, &reference, errors).await?
                    {
                        values.push(StoredValue::File {
                            file_id: file.id,
                            version_id: version.map(|v| v.id),
                            file_name: reference.file_name,
                        });
                    }
                }
            }
        }
        stored.push(StoredField { field_id: field.field_id, values });
    }
    Ok(stored)
}

/// A file that went to the trash between the checks and the write (the
/// store refuses it): the same answer as for one trashed before.
pub fn trashed_meanwhile(error: Error) -> Error {
    match error {
        Error::FileTrashed => Error::crm(vec![FieldError::new(
            FILE_TRASHED_CODE,
            "file_uuid",
            "a file was moved to the trash meanwhile; nothing was written",
        )]),
        other => other,
    }
}

/// `{"file_uuid"}` as PUT and DELETE of entity files send it.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct FileUuid {
    pub file_uuid: String,
}

pub fn router() -> Router<AppState> {
    let mut router = Router::new().merge(media::file_links_router());
    for kind in EntityType::ALL {
        let base = format!("/api/v4/{}", kind.as_str());
        router = router
            .merge(entities::router(&base))
            .merge(notes::router(&base))
            .merge(media::router(&base));
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(raw: &str) -> ListParams {
        ListParams(QueryParams::parse(raw))
    }

    #[test]
    fn ids_read_every_list_form_and_name_a_bad_one() {
        for raw in
            ["filter[id][]=3&filter[id][]=5", "filter%5Bid%5D%5B1%5D=3&filter%5Bid%5D%5B4%5D=5"]
        {
            assert_eq!(params(raw).ids().unwrap(), [3, 5], "{raw}");
        }
        assert_eq!(params("filter[id]=7").ids().unwrap(), [7]);
        assert_eq!(params("filter[name]=x").ids().unwrap(), Vec::<i64>::new());
        for raw in ["filter[id][0]=x", "filter[id]=1,2", "filter[id][]=0"] {
            let error = params(raw).ids().unwrap_err().to_string();
            assert!(error.contains("filter[id][]"), "{raw}: {error}");
        }
    }

    #[test]
    fn page_links_keep_the_ids_in_kommos_form() {
        let p = params("filter%5Bid%5D%5B0%5D=3&filter[other]=1&page=1&limit=2");
        let paging = p.paging().unwrap();
        assert_eq!(paging, Paging { page: 1, limit: 2 });
        assert_eq!(p.page_query(2, &paging), "filter%5Bid%5D%5B%5D=3&page=2&limit=2");
        assert!(params("limit[]=5").paging().unwrap_err().to_string().contains("limit"));
        assert_eq!(params("limit=500").paging().unwrap().limit, MAX_LIMIT);
        assert!(params("before_id=x").before_id().unwrap_err().to_string().contains("before_id"));
    }
}
