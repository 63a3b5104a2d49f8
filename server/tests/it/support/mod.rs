//! Helpers for driving the whole app without sockets.
#![allow(dead_code)]

use axum::{
    body::Body,
    http::{header, HeaderMap, Request, StatusCode},
    Router,
};
use serde_json::Value;
use tower::ServiceExt;

pub mod kommo;

/// Runs each `async fn(Backend)` named as a test on SQLite, in module
/// `sqlite`, and on PostgreSQL, in module `postgres`.
#[allow(unused_macros)]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(satchel::testing::Backend::Sqlite).await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(satchel::testing::Backend::Postgres).await; })*
        }
    };
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}), status {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts a problem answer with this status and slug; returns its body.
    pub fn problem(&self, status: u16, slug: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(self.header("content-type"), Some("application/problem+json"));
        let body = self.json();
        assert_eq!(body["type"], slug, "{body}");
        assert_eq!(body["status"], status);
        assert!(body["title"].is_string() && body["detail"].is_string());
        body
    }
}

pub async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
    Answer { status, headers, body }
}

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

pub fn with_token(method: &str, uri: &str, token: &str, json: Option<Value>) -> Request<Body> {
    let builder = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    match json {
        Some(v) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

/// The path and query of an absolute URL the server handed out.
pub fn path_of(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme.find('/').map_or("/".to_owned(), |i| after_scheme[i..].to_owned())
}

/// Uploads `bytes` through the API in one part, as a new file or a new
/// version of `file_uuid`; the file object the last part answers.
pub async fn upload_one_part(
    app: &Router,
    token: &str,
    name: &str,
    bytes: &[u8],
    file_uuid: Option<&str>,
) -> Value {
    let mut request = serde_json::json!({"file_name": name, "file_size": bytes.len()});
    if let Some(uuid) = file_uuid {
        request["file_uuid"] = Value::from(uuid);
    }
    let opened = send(app, with_token("POST", "/v1.0/sessions", token, Some(request))).await;
    assert_eq!(opened.status, 200, "{}", opened.text());
    let url = path_of(opened.json()["upload_url"].as_str().unwrap());
    let stored = send(app, Request::post(url).body(Body::from(bytes.to_vec())).unwrap()).await;
    assert_eq!(stored.status, 200, "{}", stored.text());
    stored.json()
}

/// Deterministic bytes that differ at every offset a bug could confuse.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(31).wrapping_add(seed as u32) as u8).collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
