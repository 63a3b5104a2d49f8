//! `GET /api/v4/account`: Kommo's account object, with what Satchel can
//! answer truthfully, and `with=drive_url`, which is how a Kommo
//! integration finds the host serving the Files API (here: Satchel's own
//! public URL). Any valid token of the account may ask, whatever its
//! scopes, as any Kommo token may.
//!
//! Kommo's official PHP library fails unless `created_at`, `updated_at`
//! (integers), `name`, `subdomain` and `customers_mode` (strings) are
//! present, and reads the other plain fields without checking them, so
//! every field is always sent; where Satchel has nothing to say (country,
//! currency) it sends an empty string rather than invent one.

use axum::{extract::State, routing::get, Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{auth::Auth, links::Href, query::KommoQuery};
use crate::{
    domain::account::{AccountWith, CONTACT_NAME_DISPLAY_ORDER, CUSTOMERS_MODE},
    error::{Error, Result},
    state::AppState,
};

#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct AccountLinks {
    #[serde(rename = "self")]
    pub self_: Href,
}

/// Chat rights (`with=amojo_rights`): Satchel has no chats.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct AmojoRights {
    pub can_direct: bool,
    pub can_create_groups: bool,
}

/// What `with` embeds: empty lists and no rights, as Satchel has no user
/// groups, task types or chats.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug, Default)]
pub struct AccountEmbedded {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amojo_rights: Option<AmojoRights>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users_groups: Option<Vec<serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_types: Option<Vec<serde_json::Value>>,
}

/// The account a token belongs to, in Kommo's shape.
#[derive(Serialize, Deserialize, ToSchema, Clone, Debug)]
pub struct AccountView {
    pub id: i64,
    pub name: String,
    /// The account's name: Satchel's accounts are named, not hosted on
    /// subdomains.
    pub subdomain: String,
    /// Unix seconds.
    pub created_at: i64,
    /// 0: accounts are created from the command line, by no user.
    pub created_by: i64,
    /// Accounts never change once created: `created_at`.
    pub updated_at: i64,
    pub updated_by: i64,
    /// The id the token acts as (`created_by` of what it makes).
    pub current_user_id: i64,
    /// Empty: Satchel keeps no country.
    pub country: String,
    /// Empty: Satchel keeps no currency.
    pub currency: String,
    pub currency_symbol: String,
    /// `unavailable`: no customers on Satchel's CRM side.
    pub customers_mode: String,
    pub is_unsorted_on: bool,
    pub is_loss_reason_enabled: bool,
    pub is_helpbot_enabled: bool,
    pub is_technical_account: bool,
    /// 1: a contact's name shows as written.
    pub contact_name_display_order: i64,
    pub mobile_feature_version: i64,
    /// With `with=drive_url`: the Files API's base URL, no trailing slash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drive_url: Option<String>,
    /// With `with=is_api_filter_enabled`: always true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_api_filter_enabled: Option<bool>,
    pub _links: AccountLinks,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub _embedded: Option<AccountEmbedded>,
}

/// The caller's account. `with` is a comma list; `drive_url`,
/// `amojo_rights`, `users_groups`, `task_types` and
/// `is_api_filter_enabled` are answered, other values ignored.
#[utoipa::path(get, path = "/api/v4/account", tag = "crm", security(("bearer" = [])),
    params(("with" = Option<String>, Query,
        description = "comma list: drive_url, amojo_rights, users_groups, task_types, is_api_filter_enabled; others are ignored")),
    responses((status = 200, body = AccountView),
        (status = 401, body = super::problem::Problem, content_type = "application/problem+json")))]
pub async fn get_account(
    State(state): State<AppState>,
    auth: Auth,
    KommoQuery(query): KommoQuery,
) -> Result<Json<AccountView>> {
    let account = state.db.account(auth.account).await?.ok_or(Error::Unauthorized)?;
    let with = AccountWith::parse(query.comma_list("with"));
    let public_url = state.settings.public_url.trim_end_matches('/');
    let embedded = with.embeds().then(|| AccountEmbedded {
        amojo_rights: with
            .amojo_rights
            .then_some(AmojoRights { can_direct: false, can_create_groups: false }),
        users_groups: with.users_groups.then(Vec::new),
        task_types: with.task_types.then(Vec::new),
    });
    Ok(Json(AccountView {
        id: account.id,
        subdomain: account.name.clone(),
        name: account.name,
        created_at: account.created_at,
        created_by: 0,
        updated_at: account.created_at,
        updated_by: 0,
        current_user_id: auth.user,
        country: String::new(),
        currency: String::new(),
        currency_symbol: String::new(),
        customers_mode: CUSTOMERS_MODE.to_owned(),
        is_unsorted_on: false,
        is_loss_reason_enabled: false,
        is_helpbot_enabled: false,
        is_technical_account: false,
        contact_name_display_order: CONTACT_NAME_DISPLAY_ORDER,
        mobile_feature_version: 0,
        drive_url: with.drive_url.then(|| public_url.to_owned()),
        is_api_filter_enabled: with.is_api_filter_enabled.then_some(true),
        _links: AccountLinks { self_: Href { href: format!("{public_url}/api/v4/account") } },
        _embedded: embedded,
    }))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v4/account", get(get_account))
}
