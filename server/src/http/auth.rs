//! Bearer-token authentication. Handlers take an `Auth` argument and call
//! `require` for each scope they need; everything they then read or write
//! is filtered by `auth.account`, so another account's things look absent.

use axum::{
    extract::FromRequestParts,
    http::{request::Parts, HeaderMap},
};

use crate::{
    domain::{Scope, Scopes},
    error::{Error, Result},
    state::AppState,
    store::accounts::AccountId,
};

/// An authenticated caller: the account the token belongs to and what it
/// may do.
#[derive(Clone, Copy, Debug)]
pub struct Auth {
    pub account: AccountId,
    pub scopes: Scopes,
    /// Who acts, for `created_by` and `updated_by`.
    pub user: i64,
}

impl Auth {
    /// 403 naming `scope` unless the token carries it.
    pub fn require(&self, scope: Scope) -> Result<()> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(Error::MissingScope(scope))
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The caller a request's bearer token names; 401 without a valid one.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Auth> {
    let token = bearer(headers).ok_or(Error::Unauthorized)?;
    let grant = state.db.find_grant(token).await?.ok_or(Error::Unauthorized)?;
    Ok(Auth { account: grant.account, scopes: grant.scopes, user: grant.user })
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        // The pages call the API in-process as a signed-in browser
        // (`http::pages`); only such calls carry an `Auth` extension.
        if let Some(auth) = parts.extensions.get::<Auth>() {
            return Ok(*auth);
        }
        authenticate(state, &parts.headers).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts_with(header: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(h) = header {
            headers.insert("authorization", h.parse().unwrap());
        }
        headers
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_token_required() {
        assert_eq!(bearer(&parts_with(Some("Bearer abc"))), Some("abc"));
        assert_eq!(bearer(&parts_with(Some("bearer  abc "))), Some("abc"));
        assert_eq!(bearer(&parts_with(Some("Basic abc"))), None);
        assert_eq!(bearer(&parts_with(Some("Bearer "))), None);
        assert_eq!(bearer(&parts_with(None)), None);
    }
}
