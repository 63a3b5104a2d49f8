//! The files catalogue: renaming and switching the active version, on
//! SQLite and PostgreSQL.

use axum::{body::Body, http::Request, Router};
use satchel::testing::{Backend, TestApp};
use serde_json::{json, Value};
use support::{path_of, pattern, send, with_token, Answer};

mod support;

struct Ctx {
    app: TestApp,
    router: Router,
    token: String,
}

impl Ctx {
    async fn new(backend: Backend) -> Ctx {
        let app = TestApp::new(backend).await;
        let token = app.token("acme", "files,files_delete").await;
        Ctx { router: app.router(), app, token }
    }

    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> Answer {
        send(&self.router, with_token(method, uri, &self.token, body)).await
    }

    /// Uploads `bytes` in one part, as a new file or a new version.
    async fn upload(&self, name: &str, bytes: &[u8], file_uuid: Option<&str>) -> Value {
        let mut request = json!({"file_name": name, "file_size": bytes.len()});
        if let Some(uuid) = file_uuid {
            request["file_uuid"] = json!(uuid);
        }
        let opened = self.call("POST", "/v1.0/sessions", Some(request)).await.json();
        let url = path_of(opened["upload_url"].as_str().unwrap());
        let stored =
            send(&self.router, Request::post(url).body(Body::from(bytes.to_vec())).unwrap()).await;
        assert_eq!(stored.status, 200, "{}", stored.text());
        stored.json()
    }

    async fn patch(&self, uuid: &str, body: Value) -> Answer {
        self.call("PATCH", &format!("/v1.0/files/{uuid}"), Some(body)).await
    }
}

async fn files_are_renamed_and_switch_versions(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let (first, second) = (pattern(700, 1), pattern(400, 2));
    let v1 = ctx.upload("Report.PDF", &first, None).await;
    let uuid = v1["uuid"].as_str().unwrap();
    let v2 = ctx.upload("Report.PDF", &second, Some(uuid)).await;
    assert!(v2["version_uuid"].is_string());
    assert_ne!(v2["version_uuid"], v1["version_uuid"]);

    // A rename keeps the extension, as Kommo shows names without it.
    let renamed = ctx.patch(uuid, json!({"name": "Q3 summary"})).await;
    assert_eq!(renamed.status, 200, "{}", renamed.text());
    let renamed = renamed.json();
    assert_eq!(renamed["name"], "Q3 summary");
    assert_eq!(renamed["sanitized_name"], "Q3 summary.PDF");
    assert_eq!(renamed["metadata"]["extension"], "pdf");
    assert!(renamed["updated_by"]["id"].is_i64());
    let again = ctx.patch(uuid, json!({"name": "Q3 summary.pdf"})).await.json();
    assert_eq!(again["sanitized_name"], "Q3 summary.pdf", "no doubled extension");
    assert_eq!(
        ctx.call("GET", &format!("/v1.0/files/{uuid}"), None).await.json()["name"],
        "Q3 summary"
    );

    // The first version becomes active again: size, sha256 and bytes follow.
    let switched = ctx.patch(uuid, json!({"version_uuid": v1["version_uuid"]})).await.json();
    assert_eq!(switched["version_uuid"], v1["version_uuid"]);
    assert_eq!(switched["size"], 700);
    assert_eq!(switched["sha256"], v1["sha256"]);
    let link = path_of(switched["_links"]["download"]["href"].as_str().unwrap());
    assert_eq!(send(&ctx.router, support::get(&link)).await.body, first);
    let versions = ctx.call("GET", &format!("/v1.0/files/{uuid}/versions"), None).await.json();
    assert_eq!(versions["_count"], 2, "both versions stay listed");

    // Refusals.
    let both = json!({"name": "x", "version_uuid": v2["version_uuid"]});
    ctx.patch(uuid, both).await.problem(400, "validation");
    ctx.patch(uuid, json!({})).await.problem(400, "validation");
    ctx.patch(uuid, json!({"name": "  "})).await.problem(400, "validation");
    ctx.patch(uuid, json!({"version_uuid": "no-such-version"})).await.problem(404, "not-found");
    ctx.patch("no-such-file", json!({"name": "x"})).await.problem(404, "not-found");
    let other = ctx.app.token("globex", "files").await;
    let theirs = send(
        &ctx.router,
        with_token("PATCH", &format!("/v1.0/files/{uuid}"), &other, Some(json!({"name": "x"}))),
    )
    .await;
    theirs.problem(404, "not-found");
    // A trashed file is not renamed.
    let trash = ctx.call("DELETE", "/v1.0/files", Some(json!([{"uuid": uuid}]))).await;
    assert_eq!(trash.status, 204);
    ctx.patch(uuid, json!({"name": "y"})).await.problem(404, "not-found");
    ctx.app.cleanup().await;
}

#[tokio::test]
async fn sqlite_files_are_renamed_and_switch_versions() {
    files_are_renamed_and_switch_versions(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_files_are_renamed_and_switch_versions() {
    files_are_renamed_and_switch_versions(Backend::Postgres).await;
}
