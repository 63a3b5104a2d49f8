//! HTTP behaviour shared by every resource: authentication and scopes,
//! problem answers, health, metrics, the OpenAPI document and its page,
//! CORS, compression, body limits and the pages' fallback.

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use satchel::{
    domain::{Scope, Scopes},
    store::now_unix,
    testing::{Backend, TestApp},
};
use support::{get, send};

use crate::support;

fn issue(token: Option<&str>) -> Request<Body> {
    let mut r = Request::post("/api/v4/files/issue_token");
    if let Some(t) = token {
        r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    r.body(Body::empty()).unwrap()
}

async fn token(app: &TestApp, account: &str, scopes: &str) -> String {
    app.token(account, scopes).await
}

async fn protected_endpoint_answers_per_contract(backend: Backend) {
    let app = TestApp::new(backend).await;
    let router = app.router();

    let none = send(&router, issue(None)).await;
    none.problem(401, "unauthorized");
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));

    let unknown = send(&router, issue(Some("sat_forged"))).await;
    unknown.problem(401, "unauthorized");

    let files_only = token(&app, "acme", "files").await;
    let body = send(&router, issue(Some(&files_only))).await.problem(403, "forbidden");
    assert!(body["detail"].as_str().unwrap().contains("`crm`"), "{body}");

    let crm_only = token(&app, "acme", "crm").await;
    let body = send(&router, issue(Some(&crm_only))).await.problem(403, "forbidden");
    assert!(body["detail"].as_str().unwrap().contains("`files`"), "{body}");

    let full = token(&app, "acme", "files,files_delete,crm").await;
    let issued = send(&router, issue(Some(&full))).await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.text());
    let issued = issued.json();
    let widget = issued["token"].as_str().unwrap();
    let expires_at = issued["expires_at"].as_i64().unwrap();
    assert!((expires_at - now_unix() - 3600).abs() <= 5, "lives one hour");

    // The issued token belongs to the same account and carries `files` only.
    let grant = app.state.db.find_grant(widget).await.unwrap().unwrap();
    assert_eq!(grant.account, app.state.db.ensure_account("acme").await.unwrap());
    assert_eq!(grant.scopes, Scopes::from(Scope::Files));
    let body = send(&router, issue(Some(widget))).await.problem(403, "forbidden");
    assert!(body["detail"].as_str().unwrap().contains("`crm`"));

    // An expired token is as good as none.
    let acme = app.state.db.ensure_account("acme").await.unwrap();
    let all: Scopes = "files,crm".parse().unwrap();
    let old = app.state.db.create_token(acme, all, Some(now_unix() - 1), None).await.unwrap();
    send(&router, issue(Some(old.expose()))).await.problem(401, "unauthorized");
    app.cleanup().await;
}

#[tokio::test]
async fn sqlite_protected_endpoint_answers_per_contract() {
    protected_endpoint_answers_per_contract(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_protected_endpoint_answers_per_contract() {
    protected_endpoint_answers_per_contract(Backend::Postgres).await;
}

async fn health_reports_the_database(backend: Backend, name: &str) {
    let app = TestApp::new(backend).await;
    let answer = send(&app.router(), get("/healthz")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), serde_json::json!({"status": "ok", "database": name}));
    app.cleanup().await;
}

#[tokio::test]
async fn sqlite_health_reports_the_database() {
    health_reports_the_database(Backend::Sqlite, "sqlite").await;
}

#[tokio::test]
async fn postgres_health_reports_the_database() {
    health_reports_the_database(Backend::Postgres, "postgres").await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = TestApp::new(Backend::Sqlite).await;
    let router = app.router();
    for _ in 0..3 {
        send(&router, issue(None)).await;
    }
    let metrics = send(&router, get("/metrics")).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.header("content-type").unwrap().starts_with("text/plain"));
    let text = metrics.text();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("satchel_http_requests_total{")
                && l.contains(r#"route="/api/v4/files/issue_token""#)
                && l.contains(r#"status="401""#)
        })
        .unwrap_or_else(|| panic!("no counter line in:\n{text}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "{line}");
    assert!(text.contains("satchel_http_request_duration_seconds_bucket"));
    app.cleanup().await;
}

/// The value of the first sample line of `name` whose labels include
/// every one of `labels`.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .find(|l| {
            l.strip_prefix(name).is_some_and(|rest| rest.starts_with(['{', ' ']))
                && labels.iter().all(|label| l.contains(label))
        })
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
}

/// Parts stored and refused (by reason), their bytes and latency, and
/// the store-wide gauges, as an operator's dashboard reads them.
#[tokio::test]
async fn metrics_count_parts_bytes_and_open_uploads() {
    let app = TestApp::new(Backend::Sqlite).await;
    let router = app.router();
    let token = token(&app, "acme", "files").await;
    let before = send(&router, get("/metrics")).await.text();
    let stored_before =
        sample(&before, "satchel_upload_parts_stored_total", &[r#"face="kommo""#]).unwrap_or(0.0);
    let bytes_before = sample(&before, "satchel_upload_bytes_stored_total", &[]).unwrap_or(0.0);

    support::upload_one_part(&router, &token, "a.bin", &support::pattern(1000, 1), None).await;
    let open = serde_json::json!({"file_name": "b.bin", "file_size": 10});
    let opened = send(&router, support::with_token("POST", "/v1.0/sessions", &token, Some(open)))
        .await
        .json();
    let url = support::path_of(opened["upload_url"].as_str().unwrap());
    let too_long = Request::post(url).body(Body::from(vec![7u8; 11])).unwrap();
    let refused = send(&router, too_long).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text());
    let reason = refused.json()["type"].as_str().unwrap().to_owned();

    let text = send(&router, get("/metrics")).await.text();
    let stored = sample(&text, "satchel_upload_parts_stored_total", &[r#"face="kommo""#]);
    assert!(stored.unwrap() >= stored_before + 1.0, "{text}");
    let bytes = sample(&text, "satchel_upload_bytes_stored_total", &[]).unwrap();
    assert!(bytes >= bytes_before + 1000.0, "{bytes} after {bytes_before}");
    let reason_label = format!(r#"reason="{reason}""#);
    let refused =
        sample(&text, "satchel_upload_parts_refused_total", &[r#"face="kommo""#, &reason_label]);
    assert!(refused.unwrap() >= 1.0, "{text}");
    assert!(text.contains("satchel_upload_part_duration_seconds_bucket"), "{text}");
    for gauge in ["satchel_upload_sessions_open", "satchel_trash_bytes", "satchel_trash_files"] {
        assert!(sample(&text, gauge, &[]).is_some(), "no {gauge} in\n{text}");
    }
    // The figures themselves come from the database, whatever node saw
    // the uploads.
    let gauges = app.state.db.gauges(now_unix()).await.unwrap();
    assert_eq!((gauges.open_sessions, gauges.open_session_bytes), (1, 10));
    assert_eq!((gauges.trashed_files, gauges.trashed_bytes), (0, 0));

    // A sweep, and a database that fails, are counted too; then every
    // series the dashboard in docs/ charts is there.
    satchel::jobs::sweep(&app.state).await.unwrap();
    let broken = TestApp::new(Backend::Sqlite).await;
    let broken_token = broken.token("acme", "files").await;
    broken.state.db.close().await;
    let failed =
        send(&broken.router(), support::with_token("GET", "/v1.0/files", &broken_token, None))
            .await;
    failed.problem(500, "internal");
    let text = send(&router, get("/metrics")).await.text();
    assert!(sample(&text, "satchel_internal_errors_total", &[r#"kind="database""#]).is_some());
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/grafana-dashboard.json"
    ))
    .unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    let mut charted = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for name in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if name.starts_with("satchel_") {
                    assert!(
                        text.contains(&format!("\n{name}")),
                        "{name} is charted but not exported"
                    );
                    charted += 1;
                }
            }
        }
    }
    assert!(charted >= 10, "{charted}");
    broken.cleanup().await;
    app.cleanup().await;
}

/// `/readyz` answers 200 while the database and the store answer, and
/// 503 naming what failed once one does not; `/healthz` is liveness.
#[tokio::test]
async fn readiness_checks_the_database_and_the_store() {
    let app = TestApp::new(Backend::Sqlite).await;
    let router = app.router();
    let ready = send(&router, get("/readyz")).await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text());
    assert_eq!(
        ready.json(),
        serde_json::json!({"status": "ok", "database": "ok", "storage": "ok"})
    );
    app.state.db.close().await;
    let down = send(&router, get("/readyz")).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE, "{}", down.text());
    let body = down.json();
    assert_eq!(
        (body["status"].as_str(), body["storage"].as_str()),
        (Some("unavailable"), Some("ok"))
    );
    assert_ne!(body["database"], "ok", "{body}");
    app.cleanup().await;

    // An S3 endpoint that stops answering.
    let s3 = satchel::testing::S3Server::start();
    let url = format!("s3://{}/ready", s3.bucket);
    let blobs: std::sync::Arc<dyn satchel::blob::BlobStore> =
        std::sync::Arc::new(satchel::blob::S3Store::from_builder(&url, s3.builder()).unwrap());
    let app = TestApp::with(Backend::Sqlite, Default::default(), Some(blobs)).await;
    let router = app.router();
    assert_eq!(send(&router, get("/readyz")).await.status, StatusCode::OK);
    drop(s3);
    let down = send(&router, get("/readyz")).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE, "{}", down.text());
    let body = down.json();
    assert_eq!(
        (body["database"].as_str(), body["status"].as_str()),
        (Some("ok"), Some("unavailable"))
    );
    assert_ne!(body["storage"], "ok", "{body}");
    app.cleanup().await;
}

/// Invented methods, as anyone may send them, share one label value:
/// the exposition does not grow with them.
#[tokio::test]
async fn metrics_do_not_grow_with_invented_methods() {
    let app = TestApp::new(Backend::Sqlite).await;
    let router = app.router();
    let invented = |i: usize| {
        axum::http::Request::builder()
            .method(format!("BREW{i}").as_str())
            .uri("/healthz")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    send(&router, invented(0)).await;
    let other = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.contains(r#"method="other""#))
            .map(|l| l.rsplit_once(' ').map_or(l, |(series, _)| series).to_owned())
            .collect()
    };
    let before = other(&send(&router, get("/metrics")).await.text());
    assert!(!before.is_empty(), "the invented method is counted as other");
    for i in 1..=50 {
        send(&router, invented(i)).await;
    }
    let text = send(&router, get("/metrics")).await.text();
    assert!(!text.contains("BREW"), "a method name became a label");
    assert_eq!(other(&text), before, "fifty more invented methods added series");
    app.cleanup().await;
}

#[tokio::test]
async fn openapi_document_is_3_1_and_lists_the_endpoints() {
    let app = TestApp::new(Backend::Sqlite).await;
    let router = app.router();
    let doc = send(&router, get("/api/openapi.json")).await;
    assert_eq!(doc.status, StatusCode::OK);
    let doc = doc.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in ["/healthz", "/metrics", "/api/v4/files/issue_token", "/tus", "/tus/{token}"] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");

    // The browsable page and its assets come from the binary itself.
    let page = send(&router, get("/api/docs/")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("swagger-ui"), "{}", page.text());
    let css = send(&router, get("/api/docs/swagger-ui.css")).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.body.len() > 1000);
    app.cleanup().await;
}

#[tokio::test]
async fn text_answers_are_compressed_when_the_client_accepts_it() {
    let app = TestApp::new(Backend::Sqlite).await;
    let request = Request::get("/api/openapi.json")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let answer = send(&app.router(), request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-encoding"), Some("gzip"));
    assert_eq!(&answer.body[..2], &[0x1f, 0x8b], "gzip magic");
    app.cleanup().await;
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let mut app = TestApp::new(Backend::Sqlite).await;
    let mut settings = (*app.state.settings).clone();
    settings.cors_origins = vec!["https://crm.example".into()];
    app.state.settings = std::sync::Arc::new(settings);
    let router = app.router();
    let preflight = |origin: &str| {
        Request::options("/api/v4/files/issue_token")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .body(Body::empty())
            .unwrap()
    };
    let allowed = send(&router, preflight("https://crm.example")).await;
    assert_eq!(allowed.header("access-control-allow-origin"), Some("https://crm.example"));
    let other = send(&router, preflight("https://evil.example")).await;
    assert_eq!(other.header("access-control-allow-origin"), None);
    app.cleanup().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let app = TestApp::new(Backend::Sqlite).await;
    let full = token(&app, "acme", "files,crm").await;
    let request = Request::post("/api/v4/files/issue_token")
        .header(header::AUTHORIZATION, format!("Bearer {full}"))
        .header(header::CONTENT_LENGTH, 2 * 1024 * 1024)
        .body(Body::from(vec![b'x'; 2 * 1024 * 1024]))
        .unwrap();
    let answer = send(&app.router(), request).await;
    answer.problem(413, "body-too-large");
    app.cleanup().await;
}

#[tokio::test]
async fn api_errors_made_outside_handlers_are_problems_too() {
    let app = TestApp::new(Backend::Sqlite).await;
    let router = app.router();
    send(&router, get("/v1.0/no-such-thing")).await.problem(404, "not-found");
    send(&router, get("/api/v4/nowhere/at/all")).await.problem(404, "not-found");
    let wrong_method = Request::put("/v1.0/sessions").body(Body::empty()).unwrap();
    send(&router, wrong_method).await.problem(405, "method-not-allowed");
    app.cleanup().await;
}

#[tokio::test]
async fn home_page_is_rendered_on_the_server_with_its_hydration_script() {
    let app = TestApp::new(Backend::Sqlite).await;
    let router = app.router();
    let home = send(&router, get("/")).await;
    assert_eq!(home.status, StatusCode::OK);
    let html = home.text();
    assert!(html.contains("<h1>Satchel</h1>"), "{html}");
    assert!(html.contains("/pkg/satchel.js"), "hydration script: {html}");
    assert!(html.contains(r#"href="/api/docs""#));

    let missing = send(&router, get("/no/such/page")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    app.cleanup().await;
}

/// Building a router lists the pages' routes, and Leptos switches resource
/// loading off process-wide while it lists them. Routers built while a page
/// renders elsewhere in the process (every test builds its own) must not
/// leave that render waiting for a resource that never loads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_while_other_routers_are_built() {
    use std::sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    };
    let app = TestApp::new(Backend::Sqlite).await;
    let router = app.router();
    let rendering = Arc::new(AtomicBool::new(true));
    // A thread of its own: a failed render must not wait for it to end.
    let builder = {
        let (app_state, rendering) = (app.state.clone(), rendering.clone());
        let runtime = tokio::runtime::Handle::current();
        std::thread::spawn(move || {
            let _inside = runtime.enter();
            let mut built = 0;
            while rendering.load(Ordering::Relaxed) {
                drop(satchel::http::app(app_state.clone()));
                built += 1;
            }
            built
        })
    };
    for round in 0..100 {
        let home =
            tokio::time::timeout(std::time::Duration::from_secs(10), send(&router, get("/")))
                .await
                .unwrap_or_else(|_| {
                    panic!("render {round} of the home page still waits after 10 s")
                });
        assert_eq!(home.status, StatusCode::OK);
        assert!(home.text().contains("<h1>Satchel</h1>"));
    }
    rendering.store(false, Ordering::Relaxed);
    let built = builder.join().unwrap();
    assert!(built > 0, "no router was built while the pages rendered");
    app.cleanup().await;
}
