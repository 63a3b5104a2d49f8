//! A JSON body extractor whose rejections are problem answers
//! (`validation`, 400) instead of axum's plain-text 4xx. The CRM side
//! reads JSON only; the Files API reads forms too (`body::ApiBody`).
//! And the CRM side's answer type: Kommo's `/api/v4` answers
//! `application/hal+json` (its reference says so for every method), its
//! drive (`/v1.0`) `application/json`.

use axum::{
    extract::{FromRequest, Request},
    http::{header, HeaderValue},
    response::Response,
};
use serde::de::DeserializeOwned;

use crate::error::Error;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(Error::validation(rejection.body_text())),
        }
    }
}

/// The media type of the CRM side's JSON answers.
pub const HAL_JSON: &str = "application/hal+json";

/// Middleware for the CRM side: a JSON answer goes out as
/// `application/hal+json`; problems and other bodies are left alone.
pub async fn hal_json(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if headers.get(header::CONTENT_TYPE).is_some_and(|v| v == "application/json") {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(HAL_JSON));
    }
    response
}
