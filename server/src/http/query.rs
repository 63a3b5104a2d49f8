//! The query string as `domain::query::QueryParams` reads it, for any
//! handler: Kommo's `key[]=v`, PHP's `key[0]=v` (brackets encoded or not)
//! and comma lists all arrive alike. Reading never fails; a bad value is
//! refused by whoever reads it, naming its key.

use std::convert::Infallible;

use axum::{extract::FromRequestParts, http::request::Parts};

use crate::domain::query::QueryParams;

/// The request's query parameters.
#[derive(Clone, Debug, Default)]
pub struct KommoQuery(pub QueryParams);

impl<S: Send + Sync> FromRequestParts<S> for KommoQuery {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(KommoQuery(QueryParams::parse(parts.uri.query().unwrap_or_default())))
    }
}
