//! An integration written for Kommo, driving the app: one account with a
//! token of every scope, and requests sent as Kommo's official PHP
//! library sends them (its headers, a JSON body when there is one, or a
//! form as PHP encodes it).

use axum::{
    body::Body,
    http::{header, Request},
    Router,
};
use satchel::{
    state::Settings,
    testing::{Backend, TestApp},
};
use serde_json::Value;

use super::{send, Answer};

pub struct Kommo {
    pub app: TestApp,
    pub router: Router,
    /// `files`, `files_delete` and `crm`.
    pub token: String,
}

impl Kommo {
    /// Uploads `bytes` in one part as the account's token, as a new file
    /// or a new version of `file_uuid`; the file object.
    pub async fn upload(&self, name: &str, bytes: &[u8], file_uuid: Option<&str>) -> Value {
        super::upload_one_part(&self.router, &self.token, name, bytes, file_uuid).await
    }

    /// The app at `public_url`, with account `acme` and its token.
    pub async fn new(backend: Backend, public_url: &str) -> Kommo {
        let settings = Settings { public_url: public_url.into(), ..Settings::default() };
        Kommo::with(backend, settings).await
    }

    /// The app with `settings`, with account `acme` and its token.
    pub async fn with(backend: Backend, settings: Settings) -> Kommo {
        let app = TestApp::with(backend, settings, None).await;
        let token = app.token("acme", "files,files_delete,crm").await;
        Kommo { router: app.router(), app, token }
    }

    /// A request as the PHP library sends it with `token`: its headers,
    /// and a JSON body (`json_encode` of the array) when there is one.
    pub async fn php_as(
        &self,
        token: &str,
        method: &str,
        uri: &str,
        body: Option<Value>,
    ) -> Answer {
        let builder = php_request(token, method, uri);
        let request = match body {
            Some(body) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        };
        send(&self.router, request.unwrap()).await
    }

    /// A request with the PHP library's headers and the account's token,
    /// and `body` sent as it is with this Content-Type (a form, say).
    pub async fn php_encoded(
        &self,
        method: &str,
        uri: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> Answer {
        let request = php_request(&self.token, method, uri)
            .header(header::CONTENT_TYPE, content_type)
            .body(body.into())
            .unwrap();
        send(&self.router, request).await
    }

    /// `php_as` with the account's token.
    pub async fn php(&self, method: &str, uri: &str, body: Option<Value>) -> Answer {
        self.php_as(&self.token, method, uri, body).await
    }

    /// `php` that must answer 200; its JSON body.
    pub async fn ok(&self, method: &str, uri: &str, body: Option<Value>) -> Value {
        let answer = self.php(method, uri, body).await;
        assert_eq!(answer.status, 200, "{method} {uri}: {}", answer.text());
        answer.json()
    }
}

/// A request with the headers Kommo's PHP library sends, and `token`.
fn php_request(token: &str, method: &str, uri: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::USER_AGENT, "amoCRM-API-Library/1.16.0")
        .header("X-Library-Version", "1.16.0")
        .header("X-Client-UUID", "3f0e7a1c-54d6-4b6f-9c1e-2b2d3c4e5f60")
}
