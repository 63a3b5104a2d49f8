//! The trash: batch delete with its own scope, all or nothing; restore;
//! usage and quota; on SQLite and PostgreSQL.

use axum::Router;
use satchel::{
    state::Settings,
    testing::{Backend, TestApp},
};
use serde_json::{json, Value};
use support::{path_of, pattern, send, upload_one_part, with_token, Answer};

use crate::support;

struct Ctx {
    app: TestApp,
    router: Router,
    /// `files` and `files_delete`.
    token: String,
    /// `files` only.
    reader: String,
}

impl Ctx {
    async fn new(backend: Backend, settings: Settings) -> Ctx {
        let app = TestApp::with(backend, settings, None).await;
        let token = app.token("acme", "files,files_delete").await;
        let reader = app.token("acme", "files").await;
        Ctx { router: app.router(), app, token, reader }
    }

    async fn call(&self, method: &str, uri: &str, token: &str, body: Option<Value>) -> Answer {
        send(&self.router, with_token(method, uri, token, body)).await
    }

    /// Uploads a one-part file and returns its file object.
    async fn upload(&self, name: &str, size: usize) -> Value {
        upload_one_part(&self.router, &self.token, name, &pattern(size, 9), None).await
    }

    async fn stats(&self) -> Value {
        let answer = self.call("GET", "/v1.0/files/stats", &self.reader, None).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.json()
    }

    async fn file(&self, uuid: &str, with_deleted: bool) -> Answer {
        let uri = format!("/v1.0/files/{uuid}{}", if with_deleted { "?with=deleted" } else { "" });
        self.call("GET", &uri, &self.reader, None).await
    }
}

fn refs(uuids: &[&str]) -> Value {
    Value::Array(uuids.iter().map(|u| json!({"uuid": u})).collect())
}

async fn files_go_to_the_trash_and_come_back(backend: Backend) {
    let ctx = Ctx::new(backend, Settings::default()).await;
    let a = ctx.upload("a.txt", 1000).await;
    let b = ctx.upload("b.txt", 300).await;
    let (ua, ub) = (a["uuid"].as_str().unwrap(), b["uuid"].as_str().unwrap());
    let stats = ctx.stats().await;
    assert_eq!(
        stats,
        json!({"used_bytes": 1300, "trashed_bytes": 0, "quota_bytes": null,
            "trash_quota_bytes": null, "file_count": 2})
    );

    // `files_delete` is needed besides `files`.
    let denied = ctx.call("DELETE", "/v1.0/files", &ctx.reader, Some(refs(&[ua]))).await;
    assert!(denied.problem(403, "forbidden")["detail"].as_str().unwrap().contains("files_delete"));

    // All or nothing: an unknown uuid moves nothing.
    let unknown = "00000000-0000-4000-8000-000000000000";
    let refused = ctx.call("DELETE", "/v1.0/files", &ctx.token, Some(refs(&[ua, unknown]))).await;
    assert!(refused.problem(400, "validation")["detail"].as_str().unwrap().contains(unknown));
    assert_eq!(ctx.file(ua, false).await.status, 200);
    // Another account's file is unknown too.
    let other = ctx.app.token("globex", "files,files_delete").await;
    let theirs = ctx.call("DELETE", "/v1.0/files", &other, Some(refs(&[ua]))).await;
    theirs.problem(400, "validation");
    // Bad bodies.
    ctx.call("DELETE", "/v1.0/files", &ctx.token, Some(json!([]))).await.problem(400, "validation");
    ctx.call("DELETE", "/v1.0/files", &ctx.token, Some(json!({"uuid": ua})))
        .await
        .problem(400, "validation");

    // Trashed: gone from reads and downloads, kept with `with=deleted`.
    let trashed = ctx.call("DELETE", "/v1.0/files", &ctx.token, Some(refs(&[ua, ua]))).await;
    assert_eq!(trashed.status, 200, "{}", trashed.text());
    ctx.file(ua, false).await.problem(404, "not-found");
    let seen = ctx.file(ua, true).await.json();
    assert_eq!(seen["is_trashed"], true);
    assert!(seen["deleted_at"].as_i64().unwrap() > 0);
    assert!(seen["deleted_by"]["id"].is_i64());
    let link = path_of(a["_links"]["signed_download"]["href"].as_str().unwrap());
    assert_eq!(send(&ctx.router, support::get(&link)).await.status, 404);
    let stats = ctx.stats().await;
    assert_eq!(
        (stats["used_bytes"].as_u64(), stats["trashed_bytes"].as_u64()),
        (Some(300), Some(1000))
    );
    assert_eq!(stats["file_count"], 1);
    // A trashed file takes no new version.
    let version = json!({"file_name": "a.txt", "file_size": 5, "file_uuid": ua});
    ctx.call("POST", "/v1.0/sessions", &ctx.token, Some(version))
        .await
        .problem(400, "file-trashed");

    // Restore: all or nothing, then the file is back as it was.
    let missing =
        ctx.call("POST", "/v1.0/files/restore", &ctx.reader, Some(refs(&[ua, unknown]))).await;
    missing.problem(404, "not-found");
    assert_eq!(ctx.file(ua, false).await.status, 404, "nothing was restored");
    let restored =
        ctx.call("POST", "/v1.0/files/restore", &ctx.reader, Some(refs(&[ua, ub]))).await;
    assert_eq!(restored.status, 200, "{}", restored.text());
    let restored = restored.json();
    assert_eq!(restored["_count"], 2);
    assert_eq!(restored["_embedded"]["files"][0]["uuid"], ua);
    assert_eq!(restored["_embedded"]["files"][0]["is_trashed"], false);
    assert!(restored["_embedded"]["files"][0]["deleted_at"].is_null());
    assert_eq!(send(&ctx.router, support::get(&link)).await.status, 200);
    assert_eq!(ctx.stats().await["used_bytes"], 1300);
    ctx.app.cleanup().await;
}

#[tokio::test]
async fn sqlite_files_go_to_the_trash_and_come_back() {
    files_go_to_the_trash_and_come_back(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_files_go_to_the_trash_and_come_back() {
    files_go_to_the_trash_and_come_back(Backend::Postgres).await;
}

async fn trashing_frees_quota_at_once_and_restore_must_fit(backend: Backend) {
    let ctx = Ctx::new(backend, Settings { quota_bytes: Some(1500), ..Settings::default() }).await;
    let a = ctx.upload("a.bin", 1000).await;
    let too_big = json!({"file_name": "b.bin", "file_size": 1000});
    ctx.call("POST", "/v1.0/sessions", &ctx.token, Some(too_big.clone()))
        .await
        .problem(400, "quota-exceeded");
    assert_eq!(ctx.stats().await["quota_bytes"], 1500);
    let uuid = a["uuid"].as_str().unwrap();
    assert_eq!(
        ctx.call("DELETE", "/v1.0/files", &ctx.token, Some(refs(&[uuid]))).await.status,
        200
    );
    // Upload b in a's freed space: a cannot come back without going over,
    // and nothing is restored.
    ctx.upload("b.bin", 1000).await;
    let refused = ctx
        .call("POST", "/v1.0/files/restore", &ctx.token, Some(refs(&[uuid])))
        .await
        .problem(400, "quota-exceeded");
    assert!(refused["detail"].as_str().unwrap().contains("1000"), "{refused}");
    assert_eq!(ctx.stats().await["used_bytes"], 1000);
    assert_eq!(ctx.file(uuid, true).await.json()["is_trashed"], true);
    // A file that fits comes back.
    let small = ctx.upload("c.bin", 400).await;
    let small_uuid = small["uuid"].as_str().unwrap();
    assert_eq!(
        ctx.call("DELETE", "/v1.0/files", &ctx.token, Some(refs(&[small_uuid]))).await.status,
        200
    );
    let restored =
        ctx.call("POST", "/v1.0/files/restore", &ctx.token, Some(refs(&[small_uuid]))).await;
    assert_eq!(restored.status, 200, "{}", restored.text());
    assert_eq!(ctx.stats().await["used_bytes"], 1400);
    ctx.app.cleanup().await;
}

#[tokio::test]
async fn sqlite_trashing_frees_quota_at_once() {
    trashing_frees_quota_at_once_and_restore_must_fit(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_trashing_frees_quota_at_once() {
    trashing_frees_quota_at_once_and_restore_must_fit(Backend::Postgres).await;
}

/// Files under the local blob store's upload directory.
fn stored_uploads(ctx: &Ctx) -> usize {
    let dir = ctx.app.db.dir().join("blobs").join("uploads");
    std::fs::read_dir(dir).map(|entries| entries.count()).unwrap_or(0)
}

async fn the_trash_is_purged_after_its_ttl(backend: Backend) {
    let ttl = Settings { trash_ttl: std::time::Duration::from_secs(2), ..Settings::default() };
    let ctx = Ctx::new(backend, ttl).await;
    let a = ctx.upload("a.txt", 1000).await;
    let ua = a["uuid"].as_str().unwrap().to_owned();
    // A second version of `a`, and a file that stays.
    let version = json!({"file_name": "a.txt", "file_size": 500, "file_uuid": ua});
    let opened = ctx.call("POST", "/v1.0/sessions", &ctx.token, Some(version)).await.json();
    let part = axum::http::Request::post(path_of(opened["upload_url"].as_str().unwrap()))
        .body(axum::body::Body::from(pattern(500, 3)))
        .unwrap();
    assert_eq!(send(&ctx.router, part).await.status, 200);
    ctx.upload("b.txt", 300).await;
    assert_eq!(stored_uploads(&ctx), 3, "one blob per upload session");

    assert_eq!(ctx.call("DELETE", "/v1.0/files", &ctx.token, Some(refs(&[&ua]))).await.status, 200);
    assert_eq!(ctx.stats().await["trashed_bytes"], 1500);
    // The background job, as `satchel serve` runs it, purges within a
    // sweep period (one second for a two-second TTL) after the TTL.
    let sweeper = satchel::jobs::spawn_sweeper(ctx.app.state.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
    while ctx.file(&ua, true).await.status != 404 {
        assert!(std::time::Instant::now() < deadline, "the file was not purged in time");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    sweeper.abort();

    assert_eq!(stored_uploads(&ctx), 1, "both versions' bytes are gone; b's stay");
    let restore = ctx.call("POST", "/v1.0/files/restore", &ctx.reader, Some(refs(&[&ua]))).await;
    restore.problem(404, "not-found");
    let stats = ctx.stats().await;
    assert_eq!(
        stats,
        json!({"used_bytes": 300, "trashed_bytes": 0, "quota_bytes": null,
            "trash_quota_bytes": null, "file_count": 1})
    );
    let pool = ctx.app.state.db.pool();
    let rows: i64 = sqlx::query_scalar(
        "select (select count(*) from file_versions) + (select count(*) from upload_sessions) \
         + (select count(*) from upload_pieces)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(rows, 3, "b's version, session and part are all that remain");
    // A second sweep finds nothing to do.
    assert_eq!(satchel::jobs::sweep(&ctx.app.state).await.unwrap().files_purged, 0);
    ctx.app.cleanup().await;
}

#[tokio::test]
async fn sqlite_the_trash_is_purged_after_its_ttl() {
    the_trash_is_purged_after_its_ttl(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_the_trash_is_purged_after_its_ttl() {
    the_trash_is_purged_after_its_ttl(Backend::Postgres).await;
}

async fn a_full_trash_gives_up_its_longest_trashed_files_early(backend: Backend) {
    let settings = Settings { trash_quota_bytes: Some(2000), ..Settings::default() };
    let ctx = Ctx::new(backend, settings).await;
    let mut uuids = Vec::new();
    for name in ["a.bin", "b.bin", "c.bin", "kept.bin"] {
        uuids.push(ctx.upload(name, 1000).await["uuid"].as_str().unwrap().to_owned());
    }
    // Trashed one after another: a first, c last.
    for uuid in &uuids[..3] {
        let trashed = ctx.call("DELETE", "/v1.0/files", &ctx.token, Some(refs(&[uuid]))).await;
        assert_eq!(trashed.status, 200);
        sqlx::query("update files set deleted_at = deleted_at - 10 where deleted_at is not null")
            .execute(ctx.app.state.db.pool())
            .await
            .unwrap();
    }
    let stats = ctx.stats().await;
    assert_eq!(
        (stats["trashed_bytes"].as_u64(), stats["trash_quota_bytes"].as_u64()),
        (Some(3000), Some(2000))
    );
    let swept = satchel::jobs::sweep(&ctx.app.state).await.unwrap();
    assert_eq!(swept.files_purged, 1, "only as much as takes the trash back to its quota");
    ctx.file(&uuids[0], true).await.problem(404, "not-found");
    for uuid in &uuids[1..] {
        assert_eq!(ctx.file(uuid, true).await.status, 200, "{uuid}");
    }
    assert_eq!(ctx.stats().await["trashed_bytes"], 2000);
    let restored = ctx.call("POST", "/v1.0/files/restore", &ctx.token, Some(refs(&[&uuids[1]])));
    assert_eq!(restored.await.status, 200);
    assert_eq!(satchel::jobs::sweep(&ctx.app.state).await.unwrap().files_purged, 0);
    ctx.app.cleanup().await;
}

#[tokio::test]
async fn sqlite_a_full_trash_gives_up_its_longest_trashed_files_early() {
    a_full_trash_gives_up_its_longest_trashed_files_early(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_full_trash_gives_up_its_longest_trashed_files_early() {
    a_full_trash_gives_up_its_longest_trashed_files_early(Backend::Postgres).await;
}
