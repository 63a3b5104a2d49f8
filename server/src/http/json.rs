//! A JSON body extractor whose rejections are problem answers
//! (`validation`, 400) instead of axum's plain-text 4xx. The CRM side
//! reads JSON only; the Files API reads forms too (`body::ApiBody`).

use axum::extract::{FromRequest, Request};
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
