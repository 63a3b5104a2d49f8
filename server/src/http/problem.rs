//! Errors as `application/problem+json` (RFC 9457) with a stable `type`
//! slug. Internal errors are logged with their details; the client only
//! learns that something went wrong.

use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Error;

/// The code of a CRM validation problem that is a file in the trash.
pub const FILE_TRASHED_CODE: &str = "FileTrashed";

/// The body of every 4xx/5xx answer.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// Stable slug, e.g. `validation`, `unauthorized`, `forbidden`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Fields some problems add, such as the resume point of a 409.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Error {
    /// Status, slug and title; the mapping every variant's doc promises.
    fn classify(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Error::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Error::MissingScope(_) | Error::Forbidden(_) => {
                (StatusCode::FORBIDDEN, "forbidden", "Forbidden")
            }
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Error::Validation(_) => (StatusCode::BAD_REQUEST, "validation", "Invalid request"),
            Error::FileTooLarge { .. } => {
                (StatusCode::BAD_REQUEST, "file-too-large", "File too large")
            }
            Error::QuotaExceeded { .. } => {
                (StatusCode::BAD_REQUEST, "quota-exceeded", "Quota exceeded")
            }
            Error::FileTrashed => (StatusCode::BAD_REQUEST, "file-trashed", "File is in the trash"),
            Error::CrmValidation(items) => {
                if items.iter().flat_map(|(_, e)| e).any(|e| e.code == FILE_TRASHED_CODE) {
                    (StatusCode::BAD_REQUEST, "file-trashed", "File is in the trash")
                } else {
                    (StatusCode::BAD_REQUEST, "validation", "Invalid request")
                }
            }
            Error::PartSize { .. } => (StatusCode::BAD_REQUEST, "part-size", "Wrong part size"),
            Error::BodyTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "body-too-large", "Body too large")
            }
            Error::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            Error::PartOutOfOrder { .. } => {
                (StatusCode::CONFLICT, "part-out-of-order", "Part out of order")
            }
            Error::PartConflict(_) => (StatusCode::CONFLICT, "part-conflict", "Part conflict"),
            Error::TooManyRequests(_) => {
                (StatusCode::TOO_MANY_REQUESTS, "too-many-requests", "Too many requests")
            }
            Error::BodyTooSlow(_) => {
                (StatusCode::REQUEST_TIMEOUT, "body-too-slow", "Body arrived too slowly")
            }
            Error::ChecksumMismatch(_) => (
                StatusCode::from_u16(460).expect("460 is a valid status"),
                "checksum-mismatch",
                "Checksum mismatch",
            ),
            Error::SessionExpired => (StatusCode::GONE, "session-expired", "Session expired"),
            Error::SessionCompleted => (StatusCode::GONE, "session-completed", "Upload completed"),
            Error::OffsetMismatch { .. } => {
                (StatusCode::CONFLICT, "mismatching-upload-offset", "Mismatching upload offset")
            }
            Error::UploadCompleted => {
                (StatusCode::BAD_REQUEST, "completed-upload", "Upload is complete")
            }
            Error::InconsistentLength(_) => (
                StatusCode::BAD_REQUEST,
                "inconsistent-upload-length",
                "Inconsistent upload length",
            ),
            Error::PreconditionFailed(_) => {
                (StatusCode::PRECONDITION_FAILED, "unsupported-version", "Unsupported version")
            }
            Error::RangeNotSatisfiable { .. } => (
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range-not-satisfiable",
                "Range not satisfiable",
            ),
            Error::Config(_)
            | Error::Verify(_)
            | Error::Database(_)
            | Error::Migrate(_)
            | Error::Io(_)
            | Error::ObjectStore(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error")
            }
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.classify();
        let detail = if self.is_internal() {
            tracing::error!(error = %self, "request failed");
            super::metrics::internal_error(&self);
            "Something went wrong on the server; it has been logged.".to_owned()
        } else {
            self.to_string()
        };
        let mut extra = serde_json::Map::new();
        if let Error::CrmValidation(items) = &self {
            let listed: Vec<serde_json::Value> = items
                .iter()
                .map(|(request_id, errors)| {
                    let errors: Vec<serde_json::Value> = errors
                        .iter()
                        .map(|e| serde_json::json!({"code": e.code, "path": e.path, "detail": e.detail}))
                        .collect();
                    serde_json::json!({"request_id": request_id, "errors": errors})
                })
                .collect();
            extra.insert("validation-errors".into(), listed.into());
        }
        if let Error::PartOutOfOrder { next_part, next_url, received, .. } = &self {
            extra.insert("next_part".into(), (*next_part).into());
            if let Some(url) = next_url {
                extra.insert("next_url".into(), url.clone().into());
            }
            extra.insert("received".into(), (*received).into());
        }
        if let Error::OffsetMismatch { expected, sent } = &self {
            extra.insert("expected-offset".into(), (*expected).into());
            extra.insert("provided-offset".into(), (*sent).into());
        }
        let problem = Problem {
            kind: slug.into(),
            title: title.into(),
            status: status.as_u16(),
            detail,
            extra,
        };
        let mut response = (status, Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        response.extensions_mut().insert(ProblemKind(slug));
        if let Error::RangeNotSatisfiable { size } = self {
            if let Ok(v) = header::HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The `type` slug of a problem answer, kept on the response for the
/// metrics middleware (refused parts by reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProblemKind(pub &'static str);

/// Turns error answers made outside handlers (body limits, timeouts,
/// unknown methods, axum's own rejections) into problem answers, so every
/// 4xx/5xx of the API is `application/problem+json`.
pub async fn problems_only(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    // A handler that answers an error in a documented shape of its own
    // (`/readyz`) marks it with its kind.
    let explained = response.extensions().get::<ProblemKind>().is_some();
    if !(status.is_client_error() || status.is_server_error()) || is_problem || explained {
        return response;
    }
    let (slug, title) = match status {
        StatusCode::NOT_FOUND => ("not-found", "Not found"),
        StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "Method not allowed"),
        StatusCode::PAYLOAD_TOO_LARGE => ("body-too-large", "Body too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", "Unsupported media type"),
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => ("timeout", "Timed out"),
        s if s.is_client_error() => ("validation", "Invalid request"),
        _ => ("internal", "Internal error"),
    };
    let (mut parts, body) = response.into_parts();
    // Client errors from layers explain themselves in plain text; keep it.
    let detail = match axum::body::to_bytes(body, 4096).await {
        Ok(text) if status.is_client_error() && !text.is_empty() => {
            String::from_utf8_lossy(&text).into_owned()
        }
        _ => title.to_owned(),
    };
    let problem = Problem {
        kind: slug.into(),
        title: title.into(),
        status: status.as_u16(),
        detail,
        extra: serde_json::Map::new(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/problem+json"));
    parts.extensions.insert(ProblemKind(slug));
    let body = serde_json::to_vec(&problem).expect("a problem serializes");
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// 404 for paths under the API prefixes that no route claims.
pub async fn no_such_endpoint() -> Error {
    Error::NotFound("endpoint")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Scope;

    async fn body_of(error: Error) -> (StatusCode, String, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let ctype = response.headers()[header::CONTENT_TYPE].to_str().unwrap().to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        (status, ctype, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn missing_scope_is_403_problem_naming_the_scope() {
        let (status, ctype, body) = body_of(Error::MissingScope(Scope::FilesDelete)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(ctype, "application/problem+json");
        assert_eq!(body["type"], "forbidden");
        assert_eq!(body["status"], 403);
        assert!(body["detail"].as_str().unwrap().contains("files_delete"));
    }

    #[tokio::test]
    async fn internal_errors_do_not_leak_details() {
        let secret = "select * from api_tokens at /srv/satchel/data";
        let (status, _, body) = body_of(Error::Io(std::io::Error::other(secret.to_owned()))).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["type"], "internal");
        assert!(!body.to_string().contains("api_tokens"));
        assert!(!body.to_string().contains("/srv/satchel"));
    }
}
