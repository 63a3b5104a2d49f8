//! Signing in to the pages: one-time links, the session cookie, and
//! sign-out guarded against cross-site requests.

use axum::{body::Body, http::Request};
use satchel::testing::{Backend, TestApp};
use support::{send, Answer};

use crate::support;

fn get(uri: &str, cookie: Option<&str>) -> Request<Body> {
    let mut r = Request::get(uri);
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    r.body(Body::empty()).unwrap()
}

fn logout(cookie: &str, origin: Option<&str>, form: &str) -> Request<Body> {
    let mut r = Request::post("/logout")
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(o) = origin {
        r = r.header("origin", o);
    }
    r.body(Body::from(form.to_owned())).unwrap()
}

fn set_cookie(answer: &Answer) -> String {
    answer.header("set-cookie").expect("a cookie").to_owned()
}

async fn a_link_signs_in_once_and_sign_out_needs_the_csrf_token(backend: Backend) {
    let app = TestApp::new(backend).await;
    let router = app.router();
    let account = app.state.db.ensure_account("acme").await.unwrap();
    let link = app.state.login_link(account, true).await.unwrap();
    let path = &link[link.find("/login/").unwrap()..];

    let signed_in = send(&router, get(path, None)).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.text());
    assert_eq!(signed_in.header("location"), Some("/"));
    assert_eq!(signed_in.header("referrer-policy"), Some("no-referrer"));
    let cookie = set_cookie(&signed_in);
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=2592000"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "http public URL: no Secure");
    let pair = cookie.split(';').next().unwrap().to_owned();
    let secret = pair.strip_prefix("satchel_session=").unwrap();
    let session =
        app.state.db.web_session(secret, satchel::store::now_unix()).await.unwrap().unwrap();
    assert_eq!(session.account, account);

    // Used once; a forged link is refused the same way.
    let again = send(&router, get(path, None)).await;
    assert_eq!(again.status, 410);
    assert!(again.text().contains("satchel login-link"));
    assert_eq!(send(&router, get("/login/sat_forged", None)).await.status, 410);

    // Sign-out: no token, a wrong one, or another site's page: 403.
    send(&router, logout(&pair, None, "")).await.problem(403, "forbidden");
    send(&router, logout(&pair, None, "csrf=wrong")).await.problem(403, "forbidden");
    let form = format!("csrf={}", session.csrf);
    send(&router, logout(&pair, Some("https://evil.example"), &form))
        .await
        .problem(403, "forbidden");
    // Without the cookie, nobody is signed in.
    let anonymous = Request::post("/logout")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.clone()))
        .unwrap();
    send(&router, anonymous).await.problem(401, "unauthorized");

    let out = send(&router, logout(&pair, Some("http://127.0.0.1:3000"), &form)).await;
    assert_eq!(out.status, 303, "{}", out.text());
    assert!(set_cookie(&out).contains("Max-Age=0"), "the cookie is cleared");
    assert!(app.state.db.web_session(secret, satchel::store::now_unix()).await.unwrap().is_none());
    send(&router, logout(&pair, None, &form)).await.problem(401, "unauthorized");
    app.cleanup().await;
}

#[tokio::test]
async fn sqlite_a_link_signs_in_once_and_sign_out_needs_the_csrf_token() {
    a_link_signs_in_once_and_sign_out_needs_the_csrf_token(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_link_signs_in_once_and_sign_out_needs_the_csrf_token() {
    a_link_signs_in_once_and_sign_out_needs_the_csrf_token(Backend::Postgres).await;
}
