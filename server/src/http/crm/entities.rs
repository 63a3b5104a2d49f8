//! Leads, contacts and companies: create (batch), get, list, patch name
//! and `custom_fields_values`; and their custom field definitions.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::{resolve_fields, trashed_meanwhile, CrmAuth, Kind, Params, Target};
use crate::{
    domain::{
        crm::{batch, parse_entity, parse_name, EntityType, FieldError, FieldType},
        paging::page_of,
    },
    error::{Error, Result},
    http::{
        json::ApiJson,
        links::{Href, ListLinks},
    },
    state::AppState,
    store::{
        accounts::AccountId,
        crm::{EntityRecord, StoredField, ValueRecord},
        now_unix,
    },
};

/// One value of a field: text, or a file as Kommo reads it back
/// (`file_uuid`, `version_uuid`, `file_name`, `file_size`, `is_deleted`).
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct ValueView {
    #[schema(value_type = Object)]
    pub value: Value,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct FieldValuesView {
    pub field_id: i64,
    pub field_name: String,
    pub field_code: Option<String>,
    pub field_type: String,
    pub values: Vec<ValueView>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct SelfLink {
    #[serde(rename = "self")]
    pub self_: Href,
}

/// A lead, contact or company.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct EntityView {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: Option<i64>,
    pub updated_by: Option<i64>,
    pub account_id: i64,
    /// Null when no field has a value, as Kommo answers.
    pub custom_fields_values: Option<Vec<FieldValuesView>>,
    /// The item's index in a create batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub _links: SelfLink,
}

/// `{"_embedded": {"leads" | "contacts" | "companies": [...]}}`.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct EntityList {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub _page: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub _links: Option<ListLinks>,
    #[schema(value_type = Object)]
    pub _embedded: Value,
}

fn value_view(row: &ValueRecord) -> ValueView {
    let value = match &row.file_uuid {
        Some(uuid) => json!({
            "file_uuid": uuid,
            "version_uuid": row.version_uuid,
            "file_name": row.file_name,
            "file_size": row.file_size,
            "is_deleted": row.trashed_at.is_some(),
        }),
        None => json!(row.text_value.clone().unwrap_or_default()),
    };
    ValueView { value }
}

impl AppState {
    /// Views of these entities, with their field values, in the same order.
    pub async fn entity_views(&self, entities: &[EntityRecord]) -> Result<Vec<EntityView>> {
        let ids: Vec<i64> = entities.iter().map(|e| e.id).collect();
        let values = self.db.field_values(&ids).await?;
        Ok(entities
            .iter()
            .map(|e| {
                let mut fields: Vec<FieldValuesView> = Vec::new();
                for row in values.iter().filter(|v| v.entity_id == e.id) {
                    match fields.last_mut() {
                        Some(f) if f.field_id == row.field_id => f.values.push(value_view(row)),
                        _ => fields.push(FieldValuesView {
                            field_id: row.field_id,
                            field_name: row.field_name.clone(),
                            field_code: None,
                            field_type: row.field_type.clone(),
                            values: vec![value_view(row)],
                        }),
                    }
                }
                EntityView {
                    id: e.id,
                    name: e.name.clone(),
                    created_at: e.created_at,
                    updated_at: e.updated_at,
                    created_by: e.created_by,
                    updated_by: e.updated_by,
                    account_id: e.account_id,
                    custom_fields_values: (!fields.is_empty()).then_some(fields),
                    request_id: None,
                    _links: SelfLink {
                        self_: Href {
                            href: format!(
                                "{}/api/v4/{}/{}",
                                self.settings.public_url, e.entity_type, e.id
                            ),
                        },
                    },
                }
            })
            .collect())
    }
}

/// Parses and resolves one entity of a request; problems go to `errors`.
async fn prepare(
    state: &AppState,
    account: AccountId,
    kind: EntityType,
    item: &Value,
    errors: &mut Vec<FieldError>,
) -> Result<(Option<String>, Vec<StoredField>)> {
    let fields = state.db.custom_field_types(account, kind).await?;
    let input = parse_entity(item, &fields, errors);
    let stored = resolve_fields(state, account, input.fields, errors).await?;
    Ok((input.name, stored))
}

/// Create entities (a batch of 1 to 250, all or nothing).
#[utoipa::path(post, path = "/api/v4/{entity_type}", tag = "crm", security(("bearer" = [])),
    params(("entity_type" = String, Path, description = "leads, contacts or companies")),
    request_body(content = Object, description = "[{\"name\", \"custom_fields_values\"?}]"),
    responses((status = 200, body = EntityList),
        (status = 400, body = crate::http::problem::Problem, description = "validation-errors; nothing created")))]
pub async fn create(
    State(state): State<AppState>,
    CrmAuth(auth): CrmAuth,
    Kind(kind): Kind,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<EntityList>> {
    let items = batch(&body).map_err(Error::Validation)?;
    let mut ready = Vec::with_capacity(items.len());
    let mut failed = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut errors = Vec::new();
        let (name, fields) = prepare(&state, auth.account, kind, item, &mut errors).await?;
        if name.is_none() && errors.iter().all(|e| e.path != "name") {
            errors.push(FieldError::new("NotBlank", "name", "a name is required"));
        }
        if errors.is_empty() {
            ready.push((name.unwrap_or_default(), fields));
        } else {
            failed.push((i.to_string(), errors));
        }
    }
    if !failed.is_empty() {
        return Err(Error::CrmValidation(failed));
    }
    let ids = state
        .db
        .create_entities(auth.account, kind, &ready, auth.user, now_unix())
        .await
        .map_err(trashed_meanwhile)?;
    let mut records = Vec::with_capacity(ids.len());
    for id in ids {
        records
            .push(state.db.entity(auth.account, kind, id).await?.ok_or(Error::NotFound("entity"))?);
    }
    let mut views = state.entity_views(&records).await?;
    for (i, view) in views.iter_mut().enumerate() {
        view.request_id = Some(i.to_string());
    }
    Ok(Json(EntityList { _page: None, _links: None, _embedded: json!({ kind.as_str(): views }) }))
}

/// A page of entities of one type, oldest first; 204 when none.
#[utoipa::path(get, path = "/api/v4/{entity_type}", tag = "crm", security(("bearer" = [])),
    params(("entity_type" = String, Path), ("page" = Option<i64>, Query),
        ("limit" = Option<i64>, Query, description = "default 50; above 250 reads as 250"),
        ("filter[id][]" = Option<Vec<i64>>, Query, description = "only these ids; repeatable, also `filter[id][0]` or `filter[id]=1`")),
    responses((status = 200, body = EntityList), (status = 204, description = "none"),
        (status = 400, body = crate::http::problem::Problem, description = "a bad page, limit or id, named")))]
pub async fn list(
    State(state): State<AppState>,
    CrmAuth(auth): CrmAuth,
    Kind(kind): Kind,
    params: Params,
) -> Result<Response> {
    let (paging, ids) = (params.paging()?, params.ids()?);
    let rows = state.db.entities(auth.account, kind, &ids, paging.offset(), paging.limit).await?;
    let Some((records, more)) = page_of(rows, paging.limit) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let views = state.entity_views(&records).await?;
    let link = |page: i64| Href {
        href: format!(
            "{}/api/v4/{}?{}",
            state.settings.public_url,
            kind.as_str(),
            params.page_query(page, &paging)
        ),
    };
    Ok(Json(EntityList {
        _page: Some(paging.page),
        _links: Some(ListLinks::paged(paging.page, more, link)),
        _embedded: json!({ kind.as_str(): views }),
    })
    .into_response())
}

/// One entity with its field values.
#[utoipa::path(get, path = "/api/v4/{entity_type}/{id}", tag = "crm", security(("bearer" = [])),
    params(("entity_type" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = EntityView), (status = 404, body = crate::http::problem::Problem)))]
pub async fn get_one(State(state): State<AppState>, target: Target) -> Result<Json<EntityView>> {
    let mut views = state.entity_views(std::slice::from_ref(&target.entity)).await?;
    Ok(Json(views.remove(0)))
}

/// Rename an entity and/or replace the values of the fields named.
#[utoipa::path(patch, path = "/api/v4/{entity_type}/{id}", tag = "crm", security(("bearer" = [])),
    params(("entity_type" = String, Path), ("id" = i64, Path)),
    request_body(content = Object, description = "{\"name\"?, \"custom_fields_values\"?}"),
    responses((status = 200, body = EntityView),
        (status = 400, body = crate::http::problem::Problem, description = "validation-errors; nothing changed"),
        (status = 404, body = crate::http::problem::Problem)))]
pub async fn patch(
    State(state): State<AppState>,
    Target { auth, kind, entity }: Target,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<EntityView>> {
    let mut errors = Vec::new();
    let (name, fields) = prepare(&state, auth.account, kind, &body, &mut errors).await?;
    if !errors.is_empty() {
        return Err(Error::crm(errors));
    }
    state
        .db
        .update_entity(entity.id, name.as_deref(), &fields, auth.user, now_unix())
        .await
        .map_err(trashed_meanwhile)?;
    let entity = state
        .db
        .entity(auth.account, kind, entity.id)
        .await?
        .ok_or(Error::NotFound(kind.singular()))?;
    let mut views = state.entity_views(std::slice::from_ref(&entity)).await?;
    Ok(Json(views.remove(0)))
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct FieldView {
    pub id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub entity_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct FieldsEmbedded {
    pub custom_fields: Vec<FieldView>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct FieldList {
    pub _total_items: usize,
    pub _embedded: FieldsEmbedded,
}

/// Define custom fields of type `file` or `text` for an entity type.
#[utoipa::path(post, path = "/api/v4/{entity_type}/custom_fields", tag = "crm",
    security(("bearer" = [])), params(("entity_type" = String, Path)),
    request_body(content = Object, description = "[{\"name\", \"type\": \"file\" | \"text\"}]"),
    responses((status = 200, body = FieldList),
        (status = 400, body = crate::http::problem::Problem, description = "validation-errors; nothing created")))]
pub async fn create_fields(
    State(state): State<AppState>,
    CrmAuth(auth): CrmAuth,
    Kind(kind): Kind,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<FieldList>> {
    let items = batch(&body).map_err(Error::Validation)?;
    let mut ready = Vec::with_capacity(items.len());
    let mut failed = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut errors = Vec::new();
        let name = parse_name(item.get("name").unwrap_or(&Value::Null), "name")
            .map_err(|e| errors.push(e))
            .ok();
        let field_type = item.get("type").and_then(Value::as_str).and_then(FieldType::parse);
        if field_type.is_none() {
            errors.push(FieldError::new("NotSupportedChoice", "type", "type must be file or text"));
        }
        match (name, field_type) {
            (Some(name), Some(t)) if errors.is_empty() => ready.push((name, t)),
            _ => failed.push((i.to_string(), errors)),
        }
    }
    if !failed.is_empty() {
        return Err(Error::CrmValidation(failed));
    }
    let ids = state.db.create_custom_fields(auth.account, kind, &ready, now_unix()).await?;
    let custom_fields: Vec<FieldView> = ids
        .into_iter()
        .zip(ready)
        .enumerate()
        .map(|(i, (id, (name, t)))| FieldView {
            id,
            name,
            kind: t.as_str().into(),
            entity_type: kind.as_str().into(),
            request_id: Some(i.to_string()),
        })
        .collect();
    Ok(Json(FieldList {
        _total_items: custom_fields.len(),
        _embedded: FieldsEmbedded { custom_fields },
    }))
}

/// Every custom field of an entity type.
#[utoipa::path(get, path = "/api/v4/{entity_type}/custom_fields", tag = "crm",
    security(("bearer" = [])), params(("entity_type" = String, Path)),
    responses((status = 200, body = FieldList)))]
pub async fn list_fields(
    State(state): State<AppState>,
    CrmAuth(auth): CrmAuth,
    Kind(kind): Kind,
) -> Result<Json<FieldList>> {
    let custom_fields: Vec<FieldView> = state
        .db
        .custom_fields(auth.account, kind)
        .await?
        .into_iter()
        .map(|f| FieldView {
            id: f.id,
            name: f.name,
            kind: f.field_type,
            entity_type: f.entity_type,
            request_id: None,
        })
        .collect();
    Ok(Json(FieldList {
        _total_items: custom_fields.len(),
        _embedded: FieldsEmbedded { custom_fields },
    }))
}

pub fn router(base: &str) -> Router<AppState> {
    Router::new()
        .route(base, post(create).get(list))
        .route(&format!("{base}/custom_fields"), post(create_fields).get(list_fields))
        .route(&format!("{base}/{{id}}"), get(get_one).patch(patch))
}
