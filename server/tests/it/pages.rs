//! The pages' server calls: as the signed-in browser's account, only with
//! the session's CSRF token and from Satchel's own origin; and pages that
//! read on the server, so they work without JavaScript.

use app::pages::{entities::data::CreateEntity, files::data::TrashFiles};
use axum::{body::Body, http::Request};
use leptos::server_fn::ServerFn;
use satchel::{
    state::Settings,
    testing::{Backend, TestApp},
};
use support::{pattern, send};

use crate::support;

async fn sign_in(app: &TestApp, router: &axum::Router) -> (String, String) {
    sign_in_with(app, router, true).await
}

/// Signs a browser in to `acme`; `may_delete` as the link gives it.
async fn sign_in_with(app: &TestApp, router: &axum::Router, may_delete: bool) -> (String, String) {
    let account = app.state.db.ensure_account("acme").await.unwrap();
    let link = app.state.login_link(account, may_delete).await.unwrap();
    let path = &link[link.find("/login/").unwrap()..];
    let answer = send(router, Request::get(path).body(Body::empty()).unwrap()).await;
    let cookie = answer.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let secret = cookie.strip_prefix("satchel_session=").unwrap();
    let session =
        app.state.db.web_session(secret, satchel::store::now_unix()).await.unwrap().unwrap();
    (cookie, session.csrf)
}

/// A server function call as a page's script makes it: a form body.
fn page_call(path: &str, cookie: &str, origin: &str, form: String) -> Request<Body> {
    Request::post(path)
        .header("cookie", cookie)
        .header("origin", origin)
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap()
}

fn create(cookie: &str, origin: &str, csrf: &str, name: &str) -> Request<Body> {
    page_call(CreateEntity::PATH, cookie, origin, format!("csrf={csrf}&kind=leads&name={name}"))
}

/// A page's HTML as the server renders it, for this cookie (if any).
async fn page_html(router: &axum::Router, path: &str, cookie: Option<&str>) -> String {
    let mut request = Request::get(path);
    if let Some(c) = cookie {
        request = request.header("cookie", c);
    }
    send(router, request.body(Body::empty()).unwrap()).await.text()
}

async fn leads_page(router: &axum::Router, cookie: Option<&str>) -> String {
    page_html(router, "/leads", cookie).await
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

/// Every page comes with a Content-Security-Policy whose nonce is the one
/// its inline scripts carry, keeps out of frames, and is never cached.
#[tokio::test]
async fn pages_carry_their_policy_and_are_never_cached() {
    let app = TestApp::new(Backend::Sqlite).await;
    let router = app.router();
    let (cookie, _) = sign_in(&app, &router).await;
    let mut nonces = Vec::new();
    for path in ["/", "/files", "/leads", "/no-such-page"] {
        let request = Request::get(path).header("cookie", &cookie).body(Body::empty()).unwrap();
        let answer = send(&router, request).await;
        assert_eq!(answer.header("cache-control"), Some("no-store"), "{path}");
        let policy = answer.header("content-security-policy").expect(path).to_owned();
        for directive in ["frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        let nonce = policy.split("'nonce-").nth(1).and_then(|r| r.split('\'').next()).unwrap();
        assert!(nonce.len() >= 16, "{path}: {policy}");
        let html = answer.text();
        let scripts = html.matches("<script").count();
        let carried = html.matches(&format!("nonce=\"{nonce}\"")).count();
        assert!(scripts > 0 && carried == scripts, "{path}: {carried} of {scripts} scripts");
        nonces.push(nonce.to_owned());
    }
    nonces.dedup();
    assert_eq!(nonces.len(), 4, "a fresh nonce for every response");
    app.cleanup().await;
}

/// A file in `acme`, uploaded through the API; its uuid.
async fn upload(router: &axum::Router, token: &str, name: &str) -> String {
    let file = support::upload_one_part(router, token, name, &pattern(10, 3), None).await;
    file["uuid"].as_str().unwrap().to_owned()
}

fn trash(cookie: &str, csrf: &str, uuids: &str) -> Request<Body> {
    let form = format!("csrf={csrf}&uuids={uuids}");
    page_call(TrashFiles::PATH, cookie, "http://127.0.0.1:3000", form)
}

async fn files_page(router: &axum::Router, cookie: &str, query: &str) -> String {
    page_html(router, &format!("/files{query}"), Some(cookie)).await
}

/// The Files manager renders on the server; a sign-in made with
/// `--no-delete` sees trashing as unavailable and is refused it by the
/// API, while a full one trashes, all or nothing.
async fn the_files_manager_trashes_only_with_the_right(backend: Backend) {
    let settings = Settings { quota_bytes: Some(1000), ..Settings::default() };
    let app = TestApp::with(backend, settings, None).await;
    let router = app.router();
    let token = app.token("acme", "files").await;
    let kept = upload(&router, &token, "Kept report.pdf").await;
    upload(&router, &token, "Other.txt").await;

    let (reader, reader_csrf) = sign_in_with(&app, &router, false).await;
    let page = files_page(&router, &reader, "?term=report").await;
    assert!(page.contains("Kept report.pdf") && !page.contains("Other.txt"), "{page}");
    assert!(page.contains("Your sign-in may not delete files."), "{page}");
    let refused = send(&router, trash(&reader, &reader_csrf, &kept)).await;
    assert!(!refused.status.is_success(), "{}", refused.status);
    assert!(refused.text().contains("files_delete"), "{}", refused.text());

    let (editor, editor_csrf) = sign_in_with(&app, &router, true).await;
    let page = files_page(&router, &editor, "").await;
    assert!(!page.contains("may not delete"), "{page}");
    // Usage against the quota, as a bar.
    assert!(page.contains("20 B of 1.0 KB used"), "{page}");
    assert!(page.contains(r#"<meter min="0" max="1000" value="20""#), "{page}");
    // One unknown uuid: nothing moves.
    let partly = send(&router, trash(&editor, &editor_csrf, &format!("{kept},no-such-file"))).await;
    assert!(!partly.status.is_success());
    assert!(files_page(&router, &editor, "").await.contains("Kept report.pdf"));
    let done = send(&router, trash(&editor, &editor_csrf, &kept)).await;
    assert!(done.status.is_success(), "{}: {}", done.status, done.text());
    let active = files_page(&router, &editor, "").await;
    assert!(!active.contains("Kept report.pdf") && active.contains("Other.txt"), "{active}");
    assert!(
        active.contains("10 B of 1.0 KB used") && active.contains("10 B in the trash"),
        "{active}"
    );
    let trashed = files_page(&router, &editor, "?trash=1").await;
    assert!(trashed.contains("Kept report.pdf") && trashed.contains("in 30 days"), "{trashed}");
    // The drawer of a trashed file says when it goes.
    let drawer = files_page(&router, &editor, &format!("?trash=1&open={kept}")).await;
    assert!(drawer.contains("In the trash; purged in 30 days"), "{drawer}");
    app.cleanup().await;
}

#[tokio::test]
async fn sqlite_the_files_manager_trashes_only_with_the_right() {
    the_files_manager_trashes_only_with_the_right(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_the_files_manager_trashes_only_with_the_right() {
    the_files_manager_trashes_only_with_the_right(Backend::Postgres).await;
}
