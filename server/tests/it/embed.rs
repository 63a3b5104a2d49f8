//! `/embed-demo`: served with a fresh `files` token on loopback (or with
//! `--demo`), 404 otherwise.

use axum::{body::Body, http::Request};
use satchel::{
    state::{EmbedDemo, Settings},
    testing::{Backend, TestApp},
};
use support::{get, send, with_token};

use crate::support;

/// The token the page carries in its configuration block.
fn token_in(page: &str) -> String {
    let start = page.find("\"token\":\"").expect("a token in the page") + 9;
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn the_demo_page_hands_out_a_short_lived_files_token() {
    let app = TestApp::new(Backend::Sqlite).await;
    let router = app.router();
    let page = send(&router, on_host("/embed-demo", "127.0.0.1:3000")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let html = page.text();
    assert!(html.contains("import init, { mount } from '/pkg/satchel.js'"), "loads the bundle");
    let token = token_in(&html);
    let again = send(&router, on_host("/embed-demo", "localhost:3000")).await;
    assert_ne!(token, token_in(&again.text()), "fresh each time");
    // A request addressed to another host (a proxy, DNS rebinding) gets
    // nothing.
    send(&router, on_host("/embed-demo", "files.example.com")).await.problem(404, "not-found");
    send(&router, get("/embed-demo")).await.problem(404, "not-found");
    // It uploads, and nothing more.
    let opened = send(
        &router,
        with_token(
            "POST",
            "/v1.0/sessions",
            &token,
            Some(serde_json::json!({"file_name": "a", "file_size": 1})),
        ),
    )
    .await;
    assert_eq!(opened.status, 200, "{}", opened.text());
    let crm = send(&router, with_token("GET", "/api/v4/leads", &token, None)).await;
    assert_eq!(crm.status, 403);
    let expires: i64 = sqlx::query_scalar("select max(expires_at) from api_tokens")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    let left = expires - satchel::store::now_unix();
    assert!((3590..=3600).contains(&left), "{left}");
    app.cleanup().await;
}

fn on_host(uri: &str, host: &str) -> Request<Body> {
    Request::get(uri).header("host", host).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn the_demo_page_is_absent_off_loopback_without_demo() {
    let settings = Settings { embed_demo: EmbedDemo::Off, ..Settings::default() };
    let app = TestApp::with(Backend::Sqlite, settings, None).await;
    send(&app.router(), on_host("/embed-demo", "127.0.0.1")).await.problem(404, "not-found");
    let tokens: i64 = sqlx::query_scalar("select count(*) from api_tokens")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(tokens, 0, "no token made");
    app.cleanup().await;
}

#[tokio::test]
async fn with_demo_the_page_is_served_to_any_host() {
    let settings = Settings { embed_demo: EmbedDemo::Always, ..Settings::default() };
    let app = TestApp::with(Backend::Sqlite, settings, None).await;
    let page = send(&app.router(), on_host("/embed-demo", "files.example.com")).await;
    assert_eq!(page.status, 200);
    app.cleanup().await;
}
