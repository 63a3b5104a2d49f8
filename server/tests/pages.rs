//! The pages' server calls: as the signed-in browser's account, only with
//! the session's CSRF token and from Satchel's own origin; and pages that
//! read on the server, so they work without JavaScript.

use app::pages::api::CreateEntity;
use axum::{body::Body, http::Request};
use leptos::server_fn::ServerFn;
use satchel::testing::{Backend, TestApp};
use support::send;

mod support;

async fn sign_in(app: &TestApp, router: &axum::Router) -> (String, String) {
    let account = app.state.db.ensure_account("acme").await.unwrap();
    let link = app.state.login_link(account).await.unwrap();
    let path = &link[link.find("/login/").unwrap()..];
    let answer = send(router, Request::get(path).body(Body::empty()).unwrap()).await;
    let cookie = answer.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let secret = cookie.strip_prefix("satchel_session=").unwrap();
    let session =
        app.state.db.web_session(secret, satchel::store::now_unix()).await.unwrap().unwrap();
    (cookie, session.csrf)
}

fn create(cookie: &str, origin: &str, csrf: &str, name: &str) -> Request<Body> {
    Request::post(CreateEntity::PATH)
        .header("cookie", cookie)
        .header("origin", origin)
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(format!("csrf={csrf}&kind=leads&name={name}")))
        .unwrap()
}

async fn leads_page(router: &axum::Router, cookie: Option<&str>) -> String {
    let mut request = Request::get("/leads");
    if let Some(c) = cookie {
        request = request.header("cookie", c);
    }
    send(router, request.body(Body::empty()).unwrap()).await.text()
}

async fn pages_act_as_the_signed_in_account_only_with_the_csrf_token(backend: Backend) {
    let app = TestApp::new(backend).await;
    let router = app.router();
    let (cookie, csrf) = sign_in(&app, &router).await;
    let home = "http://127.0.0.1:3000";

    let wrong = send(&router, create(&cookie, home, "sat_wrong", "Nope")).await;
    assert!(wrong.status.is_server_error() || wrong.status.is_client_error(), "{}", wrong.status);
    assert!(wrong.text().contains("CSRF"), "{}", wrong.text());
    let elsewhere = send(&router, create(&cookie, "https://evil.example", &csrf, "Nope")).await;
    assert_eq!(elsewhere.status, 403);
    let anonymous = send(&router, create("satchel_session=sat_none", home, &csrf, "Nope")).await;
    assert!(!anonymous.status.is_success());
    assert!(!leads_page(&router, Some(&cookie)).await.contains("Nope"), "nothing was created");

    let made = send(&router, create(&cookie, home, &csrf, "Real+deal")).await;
    assert!(made.status.is_success(), "{}: {}", made.status, made.text());
    // The page renders the list on the server: readable without scripts.
    let page = leads_page(&router, Some(&cookie)).await;
    assert!(page.contains(">Real deal</a>"), "{page}");
    // Another browser, not signed in, is told how to sign in.
    let stranger = leads_page(&router, None).await;
    assert!(stranger.contains("satchel login-link") && !stranger.contains("Real deal"));
    // The entity belongs to the signed-in account.
    let token = app.token("acme", "crm").await;
    let listed = send(&router, support::with_token("GET", "/api/v4/leads", &token, None)).await;
    assert_eq!(listed.json()["_embedded"]["leads"][0]["name"], "Real deal");
    app.cleanup().await;
}

#[tokio::test]
async fn sqlite_pages_act_as_the_signed_in_account_only_with_the_csrf_token() {
    pages_act_as_the_signed_in_account_only_with_the_csrf_token(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_pages_act_as_the_signed_in_account_only_with_the_csrf_token() {
    pages_act_as_the_signed_in_account_only_with_the_csrf_token(Backend::Postgres).await;
}

/// An `Auth` can reach the API only from inside the process: a request
/// from outside with no token is refused whatever it carries.
#[tokio::test]
async fn outside_requests_cannot_pose_as_a_page() {
    let app = TestApp::new(Backend::Sqlite).await;
    let router = app.router();
    let (cookie, _) = sign_in(&app, &router).await;
    // A session cookie is not an API credential.
    let with_cookie =
        Request::get("/api/v4/leads").header("cookie", &cookie).body(Body::empty()).unwrap();
    support::Answer::problem(&send(&router, with_cookie).await, 401, "unauthorized");
    app.cleanup().await;
}
