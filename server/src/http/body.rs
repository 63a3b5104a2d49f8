//! The body of a Files API request in each encoding Kommo documents or its
//! integrators send: `application/json`, `multipart/form-data` (text
//! fields) and `application/x-www-form-urlencoded` (PHP's
//! `http_build_query`), all read into the same typed value. Form keys
//! nest with brackets and their text is read as the field's type
//! (`domain::form`). Rejections are problem answers: 415 for another or a
//! missing Content-Type, 400 `validation` for a body that cannot be read.
//! The CRM side keeps `ApiJson`: Kommo documents only JSON there.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::{header, HeaderMap, StatusCode},
};
use serde::de::DeserializeOwned;

use super::json::ApiJson;
use crate::{domain::form, error::Error};

/// The encodings a Files API body may come in, for error texts.
const ACCEPTED: &str = "application/json, application/x-www-form-urlencoded or multipart/form-data";

/// A Files API body, read into `T` from whichever encoding it came in.
pub struct ApiBody<T>(pub T);

/// How a body is encoded, from its Content-Type.
#[derive(Debug, PartialEq, Eq)]
enum Encoding {
    Json,
    UrlEncoded,
    Multipart { boundary: String },
}

/// The media type of a Content-Type (`type/subtype`, lowercase, without
/// parameters).
fn media_type(content_type: &str) -> String {
    let essence = content_type.split(';').next().unwrap_or_default();
    essence.trim().to_ascii_lowercase()
}

/// The boundary of a `multipart/form-data` Content-Type; `None` for any
/// other type, 400 for a multipart type without a usable boundary.
pub fn multipart_boundary(headers: &HeaderMap) -> Result<Option<String>, Error> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default();
    if media_type(text) != "multipart/form-data" {
        return Ok(None);
    }
    multer::parse_boundary(text).map(Some).map_err(|e| {
        Error::validation(format!(
            "the multipart/form-data Content-Type has no usable boundary ({e})"
        ))
    })
}

fn encoding_of(headers: &HeaderMap) -> Result<Encoding, Error> {
    if let Some(boundary) = multipart_boundary(headers)? {
        return Ok(Encoding::Multipart { boundary });
    }
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Err(Error::UnsupportedMediaType(format!(
            "the request has no Content-Type; send the body as {ACCEPTED}"
        )));
    };
    let media = media_type(value.to_str().unwrap_or_default());
    match media.as_str() {
        "application/x-www-form-urlencoded" => Ok(Encoding::UrlEncoded),
        // axum's JSON reader takes `application/*+json` too.
        m if m == "application/json" || (m.starts_with("application/") && m.ends_with("+json")) => {
            Ok(Encoding::Json)
        }
        other => Err(Error::UnsupportedMediaType(format!(
            "a body of type `{other}` is not read here; send it as {ACCEPTED}"
        ))),
    }
}

/// The whole body, within the API's body limit.
async fn bytes_of<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Error> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::BodyTooLarge { max: super::JSON_BODY_LIMIT as u64 }
        } else {
            Error::validation(rejection.body_text())
        }
    })
}

/// The `name=value` pairs of a multipart form's fields, in order. A field
/// with a file name is read as text like any other.
async fn multipart_fields(body: Bytes, boundary: String) -> Result<Vec<(String, String)>, Error> {
    let malformed = |e: multer::Error| Error::validation(format!("multipart body: {e}"));
    let chunks = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut form = multer::Multipart::new(chunks, boundary);
    let mut pairs = Vec::new();
    while let Some(field) = form.next_field().await.map_err(malformed)? {
        let Some(name) = field.name().map(str::to_owned) else {
            return Err(Error::validation(
                "multipart body: a field has no name in its Content-Disposition",
            ));
        };
        pairs.push((name, field.text().await.map_err(malformed)?));
    }
    Ok(pairs)
}

/// A form that looks like JSON was most likely sent by a client that
/// labelled its JSON as a form (as `curl -d` does); say so.
fn json_hint(body: &[u8]) -> &'static str {
    let text = body.trim_ascii_start();
    let looks_like_json = text.starts_with(b"{")
        || text.starts_with(b"[{")
        || text.starts_with(b"[\"")
        || text == b"[]";
    if looks_like_json {
        " (the body looks like JSON: send it with Content-Type: application/json)"
    } else {
        ""
    }
}

impl<S, T> FromRequest<S> for ApiBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match encoding_of(req.headers())? {
            Encoding::Json => ApiJson::from_request(req, state).await.map(|ApiJson(v)| ApiBody(v)),
            Encoding::UrlEncoded => {
                let body = bytes_of(req, state).await?;
                form::from_urlencoded(&body)
                    .map(ApiBody)
                    .map_err(|e| Error::validation(format!("form body: {e}{}", json_hint(&body))))
            }
            Encoding::Multipart { boundary } => {
                let body = bytes_of(req, state).await?;
                let pairs = multipart_fields(body, boundary).await?;
                form::from_pairs(pairs)
                    .map(ApiBody)
                    .map_err(|e| Error::validation(format!("multipart body: {e}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::HeaderValue};
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Rename {
        name: Option<String>,
        size: Option<u32>,
    }

    #[derive(Debug, Deserialize)]
    struct Named {
        #[allow(dead_code)]
        name: String,
    }

    async fn read_as<T: DeserializeOwned>(
        content_type: Option<&str>,
        body: &str,
    ) -> Result<T, Error> {
        let mut request = Request::new(Body::from(body.to_owned()));
        if let Some(ct) = content_type {
            request.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        ApiBody::<T>::from_request(request, &()).await.map(|ApiBody(r)| r)
    }

    async fn read(content_type: Option<&str>, body: &str) -> Result<Rename, Error> {
        read_as(content_type, body).await
    }

    fn expected(name: &str, size: u32) -> Rename {
        Rename { name: Some(name.to_owned()), size: Some(size) }
    }

    #[tokio::test]
    async fn each_encoding_reads_into_the_same_value() {
        let json = read(Some("application/json"), r#"{"name": "a b", "size": 3}"#).await;
        assert_eq!(json.unwrap(), expected("a b", 3));
        let form = read(Some("application/x-www-form-urlencoded"), "name=a+b&size=3").await;
        assert_eq!(form.unwrap(), expected("a b", 3));
        let form =
            read(Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"), "name=a%20b&size=3");
        assert_eq!(form.await.unwrap(), expected("a b", 3));
        let multipart = "--XyZ\r\n\
             Content-Disposition: form-data; name=\"name\"\r\n\r\n\
             a b\r\n\
             --XyZ\r\n\
             Content-Disposition: form-data; name=\"size\"\r\n\r\n\
             3\r\n\
             --XyZ--\r\n";
        let parsed = read(Some("multipart/form-data; boundary=XyZ"), multipart).await;
        assert_eq!(parsed.unwrap(), expected("a b", 3));
    }

    #[tokio::test]
    async fn another_or_no_content_type_is_415_naming_the_accepted_ones() {
        for content_type in [Some("text/plain"), Some("application/xml"), None] {
            let error = read(content_type, "name=x").await.unwrap_err();
            let Error::UnsupportedMediaType(detail) = &error else {
                panic!("{content_type:?}: {error:?}");
            };
            assert!(detail.contains(ACCEPTED), "{detail}");
        }
        let error = read(Some("text/plain; charset=utf-8"), "").await.unwrap_err();
        assert!(error.to_string().contains("`text/plain`"), "{error}");
    }

    #[tokio::test]
    async fn malformed_bodies_are_validation_errors_that_say_why() {
        let error = read(Some("application/x-www-form-urlencoded"), "size=big").await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "form body: size: expected a whole number, not negative, found `big`"
        );
        // Labelled as a form, JSON reads as one odd key: a required field is
        // missing, and the detail says why.
        let error = read_as::<Named>(Some("application/x-www-form-urlencoded"), r#"{"name": "x"}"#);
        let error = error.await.unwrap_err();
        assert!(matches!(error, Error::Validation(_)));
        assert!(error.to_string().contains("looks like JSON"), "{error}");
        let error = read(Some("multipart/form-data"), "").await.unwrap_err();
        assert!(error.to_string().contains("boundary"), "{error}");
        let cut = "--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nab";
        let error = read(Some("multipart/form-data; boundary=XyZ"), cut).await.unwrap_err();
        assert!(error.to_string().starts_with("multipart body: "), "{error}");
        let error = read(Some("application/json"), "{not json").await.unwrap_err();
        assert!(matches!(error, Error::Validation(_)), "{error:?}");
    }
}
