//! A part sent as a `multipart/form-data` form, as Kommo documents it and
//! browser forms send it: the part's bytes are the file field's, the first
//! field that has a file name or is named `file`. Other fields are
//! skipped. The bytes stream through as they arrive, like a raw
//! body's; nothing holds more than the chunk in hand.
//!
//! This module only turns the request body into the part's byte stream;
//! what may be stored is `ingest`'s. A form's Content-Length counts the
//! form, so it says nothing of the part's length, and a `Content-Digest`
//! (RFC 9530: the digest of the content as sent, the form) cannot be
//! checked against the part's bytes: a form that carries one is refused.

use axum::{
    body::{Body, Bytes},
    http::HeaderMap,
};
use futures::{stream::BoxStream, StreamExt, TryStreamExt};
use multer::{Constraints, Field, Multipart, SizeLimit};
use utoipa::ToSchema;

use crate::error::{Error, Result};

/// Room a form may take beyond its file's bytes: boundaries, headers and
/// other (skipped) fields.
pub const FORM_OVERHEAD: u64 = 64 * 1024;

/// Why a form carries no part.
const NO_FILE: &str = "the multipart form has no file field: send the part's bytes in a field \
                       with a file name, or in one named `file`";

/// The boundary when the body is a multipart form; `None` for a raw body.
/// 400 for a multipart Content-Type without a boundary, or a form that
/// announces a Content-Digest. Reads only headers.
pub fn form_boundary(headers: &HeaderMap) -> Result<Option<String>> {
    let boundary = super::body::multipart_boundary(headers)?;
    if boundary.is_some() && headers.contains_key("content-digest") {
        return Err(Error::validation(
            "Content-Digest is the digest of the form as sent, which cannot be checked against \
             the part's bytes: send the part as the raw body to have it checked, or leave the \
             header out",
        ));
    }
    Ok(boundary)
}

/// The bytes of the form's file field, as a stream of the same kind as a
/// raw body's. The form may be at most `max_part_size` plus
/// `FORM_OVERHEAD` bytes. A form without a file field, or one that breaks
/// off, ends the stream with an error saying so.
pub fn file_bytes(
    body: Body,
    boundary: String,
    max_part_size: u64,
) -> BoxStream<'static, std::result::Result<Bytes, axum::Error>> {
    let limit = SizeLimit::new().whole_stream(max_part_size.saturating_add(FORM_OVERHEAD));
    let form = Multipart::with_constraints(
        body.into_data_stream(),
        boundary,
        Constraints::new().size_limit(limit),
    );
    futures::stream::try_unfold(Reading { form, field: None }, next_chunk)
        .map_err(axum::Error::new)
        .boxed()
}

/// A part sent as a form, for the OpenAPI document: the handler reads
/// the body as a stream, not into this.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PartForm {
    /// The part's bytes: the first field that has a file name (whatever
    /// its name) or is named `file`.
    #[schema(content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}

/// Where the reading of a form stands: its file field, once found.
struct Reading {
    form: Multipart<'static>,
    field: Option<Field<'static>>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The file field's next chunk; at its end, the rest of the form is read
/// through (and checked) and the stream ends.
async fn next_chunk(
    mut reading: Reading,
) -> std::result::Result<Option<(Bytes, Reading)>, BoxError> {
    loop {
        let Some(field) = reading.field.as_mut() else {
            reading.field = Some(file_field(&mut reading.form).await?);
            continue;
        };
        match field.chunk().await? {
            Some(chunk) if chunk.is_empty() => continue,
            Some(chunk) => return Ok(Some((chunk, reading))),
            None => {
                // The form must be whole: a later field is read through
                // (the parser allows one field at a time), and so is the
                // closing boundary.
                drop(reading.field.take());
                while reading.form.next_field().await?.is_some() {}
                return Ok(None);
            }
        }
    }
}

/// The first field that has a file name or is named `file`.
async fn file_field(
    form: &mut Multipart<'static>,
) -> std::result::Result<Field<'static>, BoxError> {
    while let Some(field) = form.next_field().await? {
        if field.file_name().is_some() || field.name() == Some("file") {
            return Ok(field);
        }
    }
    Err(NO_FILE.into())
}

#[cfg(test)]
mod tests {
    use axum::http::{header, HeaderValue};

    use super::*;

    const BOUNDARY: &str = "----satchel7MA4YWxkTrZu0gW";

    fn form(fields: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, file_name, bytes) in fields {
            body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            let disposition = match file_name {
                Some(f) => format!("form-data; name=\"{name}\"; filename=\"{f}\""),
                None => format!("form-data; name=\"{name}\""),
            };
            body.extend_from_slice(format!("Content-Disposition: {disposition}\r\n").as_bytes());
            if file_name.is_some() {
                body.extend_from_slice(b"Content-Type: application/octet-stream\r\n");
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        body
    }

    /// Sends `body` in chunks of `size` bytes, as a network would.
    fn chunked(body: Vec<u8>, size: usize) -> Body {
        let chunks: Vec<std::result::Result<Bytes, std::io::Error>> =
            body.chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        Body::from_stream(futures::stream::iter(chunks))
    }

    async fn read(body: Body, max: u64) -> std::result::Result<Vec<u8>, String> {
        let mut stream = file_bytes(body, BOUNDARY.to_owned(), max);
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        }
        Ok(bytes)
    }

    #[tokio::test]
    async fn the_file_field_streams_through_whatever_the_chunking() {
        let part: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 251) as u8).collect();
        let body = form(&[
            ("comment", None, b"skipped"),
            ("upload", Some("part.bin"), &part),
            ("after", None, b"read through"),
        ]);
        for size in [1, 7, 100, 4096, body.len()] {
            let got = read(chunked(body.clone(), size), 10_000).await;
            assert_eq!(got.as_deref(), Ok(&part[..]), "chunks of {size}");
        }
    }

    #[tokio::test]
    async fn a_field_named_file_counts_without_a_file_name_and_may_be_empty() {
        let body = form(&[("name", None, b"x"), ("file", None, b"abc")]);
        assert_eq!(read(Body::from(body), 10).await.unwrap(), b"abc");
        let empty = form(&[("file", Some("empty.txt"), b"")]);
        assert_eq!(read(Body::from(empty), 10).await.unwrap(), b"");
    }

    #[tokio::test]
    async fn a_form_without_a_file_or_cut_off_ends_in_an_error() {
        let none = form(&[("name", None, b"x")]);
        let error = read(Body::from(none), 10).await.unwrap_err();
        assert!(error.contains("no file field"), "{error}");
        let mut cut = form(&[("file", Some("a.bin"), b"0123456789")]);
        cut.truncate(cut.len() - 20);
        assert!(read(Body::from(cut), 10).await.is_err());
        // A form far larger than a part is cut short by the parser.
        let huge = form(&[("other", None, &vec![b'x'; 100_000]), ("file", Some("a"), b"1")]);
        assert!(read(Body::from(huge), 10).await.is_err());
    }

    #[test]
    fn only_multipart_forms_are_read_as_forms() {
        let headers = |pairs: &[(&str, &str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(
                    header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                );
            }
            map
        };
        assert_eq!(form_boundary(&headers(&[])).unwrap(), None);
        let raw = headers(&[("content-type", "application/octet-stream")]);
        assert_eq!(form_boundary(&raw).unwrap(), None);
        // curl --data-binary labels raw bytes as a urlencoded form.
        let curl = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        assert_eq!(form_boundary(&curl).unwrap(), None);
        let multipart = headers(&[("content-type", "multipart/form-data; boundary=abc")]);
        assert_eq!(form_boundary(&multipart).unwrap().as_deref(), Some("abc"));
        let no_boundary = headers(&[("content-type", "multipart/form-data")]);
        assert!(form_boundary(&no_boundary).is_err());
        let digest = headers(&[
            ("content-type", "multipart/form-data; boundary=abc"),
            ("content-digest", "sha-256=:AAAA:"),
        ]);
        assert!(form_boundary(&digest).unwrap_err().to_string().contains("Content-Digest"));
    }
}
