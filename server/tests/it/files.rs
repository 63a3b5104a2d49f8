//! The files catalogue: listing with Kommo's filters, order and pages;
//! renaming and switching the active version; on SQLite and PostgreSQL.

use axum::{body::Body, http::Request, Router};
use satchel::testing::{Backend, TestApp};
use serde_json::{json, Value};
use support::{path_of, pattern, send, upload_one_part, with_token, Answer};

use crate::support;

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
        upload_one_part(&self.router, &self.token, name, bytes, file_uuid).await
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
    assert_eq!(renamed["sanitized_name"], "Q3 summary");
    assert_eq!(renamed["metadata"]["extension"], "pdf");
    assert!(renamed["updated_by"]["id"].is_i64());
    let again = ctx.patch(uuid, json!({"name": "Q3 summary.pdf"})).await.json();
    assert_eq!(again["name"], "Q3 summary", "no doubled extension");
    assert_eq!(again["metadata"]["extension"], "pdf");
    assert_eq!(
        ctx.call("GET", &format!("/v1.0/files/{uuid}"), None).await.json()["name"],
        "Q3 summary"
    );

    // The first version becomes active again: size, sha256 and bytes follow.
    let switched = ctx.patch(uuid, json!({"version_uuid": v1["version_uuid"]})).await.json();
    assert_eq!(switched["version_uuid"], v1["version_uuid"]);
    assert_eq!(switched["size"], 700);
    assert_eq!(switched["sha256"], v1["sha256"]);
    let link = path_of(switched["_links"]["signed_download"]["href"].as_str().unwrap());
    assert_eq!(send(&ctx.router, support::get(&link)).await.body, first);
    let versions = ctx.call("GET", &format!("/v1.0/files/{uuid}/versions"), None).await.json();
    assert_eq!(versions["_count"], 2, "both versions stay listed");
    // The listing's size filter and order see the active version's size.
    assert_eq!(names(&ctx, "filter[size][from]=600").await, ["Q3 summary.pdf"]);
    assert!(names(&ctx, "filter[size][to]=500").await.is_empty());

    // A rename that gives an extension-less file one makes it filterable.
    let bare = ctx.upload("README", &pattern(10, 3), None).await;
    let bare_uuid = bare["uuid"].as_str().unwrap();
    assert_eq!(bare["metadata"]["extension"], "");
    assert!(names(&ctx, "filter[extensions][]=md").await.is_empty());
    let named = ctx.patch(bare_uuid, json!({"name": "README.MD"})).await.json();
    assert_eq!(named["metadata"]["extension"], "md");
    assert_eq!(names(&ctx, "filter[extensions][]=md").await, ["README.md"]);

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
    assert_eq!(trash.status, 200);
    ctx.patch(uuid, json!({"name": "y"})).await.problem(404, "not-found");
    ctx.app.cleanup().await;
}

/// Names that look like something else are refused where they enter;
/// an extension that changes length when lowercased renames cleanly.
async fn names_refuse_bidi_controls_and_odd_extensions_rename(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let kelvin = ctx.upload("a.\u{212A}", &pattern(10, 4), None).await;
    let uuid = kelvin["uuid"].as_str().unwrap();
    let renamed = ctx.patch(uuid, json!({"name": "b"})).await;
    assert_eq!(renamed.status, 200, "{}", renamed.text());
    assert_eq!(renamed.json()["name"], "b");
    assert_eq!(renamed.json()["metadata"]["extension"], "k");

    let spoof = json!({"file_name": "invoice\u{202E}fdp.exe", "file_size": 3});
    let refused = ctx.call("POST", "/v1.0/sessions", Some(spoof)).await.problem(400, "validation");
    assert!(refused["detail"].as_str().unwrap().contains("U+202E"), "{refused}");
    let sessions = ctx.call("GET", "/v1.0/sessions", None).await;
    assert!(!sessions.text().contains("invoice"), "nothing was opened: {}", sessions.text());
    let refused = ctx.patch(uuid, json!({"name": "\u{2067}x"})).await.problem(400, "validation");
    assert!(refused["detail"].as_str().unwrap().contains("U+2067"), "{refused}");
    let file = ctx.call("GET", &format!("/v1.0/files/{uuid}"), None).await.json();
    assert_eq!(file["name"], "b", "the refused rename changed nothing");
    ctx.app.cleanup().await;
}

#[tokio::test]
async fn sqlite_names_refuse_bidi_controls_and_odd_extensions_rename() {
    names_refuse_bidi_controls_and_odd_extensions_rename(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_names_refuse_bidi_controls_and_odd_extensions_rename() {
    names_refuse_bidi_controls_and_odd_extensions_rename(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_files_are_renamed_and_switch_versions() {
    files_are_renamed_and_switch_versions(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_files_are_renamed_and_switch_versions() {
    files_are_renamed_and_switch_versions(Backend::Postgres).await;
}

/// Names of the listed files with their extensions, in order; none for
/// 204.
async fn names(ctx: &Ctx, query: &str) -> Vec<String> {
    let answer = ctx.call("GET", &format!("/v1.0/files?{query}"), None).await;
    if answer.status == 204 {
        assert!(answer.body.is_empty());
        return vec![];
    }
    assert_eq!(answer.status, 200, "{query}: {}", answer.text());
    let page = answer.json();
    let files = page["_embedded"]["files"].as_array().unwrap();
    assert_eq!(page["_count"], files.len());
    files
        .iter()
        .map(|f| {
            match (f["name"].as_str().unwrap(), f["metadata"]["extension"].as_str().unwrap()) {
                (name, "") => name.to_owned(),
                (name, extension) => format!("{name}.{extension}"),
            }
        })
        .collect()
}

async fn files_are_listed_with_kommo_filters(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let other_author = ctx.app.token("acme", "files").await;
    let mut uuids = std::collections::HashMap::new();
    // name, size, days ago, uploaded by the second token
    let seeds = [
        ("Report.pdf", 100, 0, false),
        ("photo.PNG", 2000, 1, false),
        ("notes.txt", 50, 10, true),
        ("Report.final.pdf", 500, 40, true),
        ("50%_off.pdf", 10, 400, false),
    ];
    let now = satchel::store::now_unix();
    let mut second_author = 0;
    for (name, size, days_ago, by_other) in seeds {
        let file = if by_other {
            let request = json!({"file_name": name, "file_size": size});
            let opened = send(
                &ctx.router,
                with_token("POST", "/v1.0/sessions", &other_author, Some(request)),
            )
            .await
            .json();
            let url = path_of(opened["upload_url"].as_str().unwrap());
            send(&ctx.router, Request::post(url).body(Body::from(pattern(size, 4))).unwrap())
                .await
                .json()
        } else {
            ctx.upload(name, &pattern(size, 4), None).await
        };
        if by_other {
            second_author = file["created_by"]["id"].as_i64().unwrap();
        }
        let uuid = file["uuid"].as_str().unwrap().to_owned();
        // Back-date it: `days_ago` days before now, at the same time of day.
        let at = now - days_ago * 86_400;
        sqlx::query("update files set created_at = $1, updated_at = $2 where uuid = $3")
            .bind(at)
            .bind(at + 60)
            .bind(&uuid)
            .execute(ctx.app.state.db.pool())
            .await
            .unwrap();
        uuids.insert(name, uuid);
    }

    // Newest first by default.
    let all = ["Report.pdf", "photo.png", "notes.txt", "Report.final.pdf", "50%_off.pdf"];
    assert_eq!(names(&ctx, "").await, all);
    assert_eq!(
        names(&ctx, "order[created_at]=asc").await,
        all.iter().rev().copied().collect::<Vec<_>>()
    );
    assert_eq!(
        names(&ctx, "order[size]=asc").await,
        ["50%_off.pdf", "notes.txt", "Report.pdf", "Report.final.pdf", "photo.png"]
    );
    assert_eq!(
        names(&ctx, "order[name]=desc").await,
        ["Report.pdf", "Report.final.pdf", "photo.png", "notes.txt", "50%_off.pdf"]
    );

    // Extensions, case-insensitively; several are OR-ed.
    assert_eq!(
        names(&ctx, "filter[extensions][]=pdf").await,
        ["Report.pdf", "Report.final.pdf", "50%_off.pdf"]
    );
    assert_eq!(
        names(&ctx, "filter[extensions][]=png&filter[extensions][]=TXT").await,
        ["photo.png", "notes.txt"]
    );
    // Name: as shown (without extension) or whole.
    assert_eq!(names(&ctx, "filter[name]=Report").await, ["Report.pdf"]);
    assert_eq!(names(&ctx, "filter[name]=report.final").await, ["Report.final.pdf"]);
    assert_eq!(names(&ctx, "filter[name]=photo.png").await, ["photo.png"]);
    // Term: part of the name; wildcards are literal.
    assert_eq!(names(&ctx, "filter[term]=REPORT").await, ["Report.pdf", "Report.final.pdf"]);
    assert_eq!(names(&ctx, "filter[term]=%25").await, ["50%_off.pdf"]);
    assert_eq!(names(&ctx, "filter[term]=_").await, ["50%_off.pdf"]);
    // Size, in units.
    assert_eq!(
        names(&ctx, "filter[size][from]=1&filter[size][to]=2&filter[size][unit]=1000").await,
        ["photo.png"]
    );
    assert_eq!(names(&ctx, "filter[size][to]=50").await, ["notes.txt", "50%_off.pdf"]);
    // Uuids, authors, sources.
    let two = format!("filter[uuid]={},{}", uuids["notes.txt"], uuids["photo.PNG"]);
    assert_eq!(names(&ctx, &two).await, ["photo.png", "notes.txt"]);
    assert_eq!(
        names(&ctx, &format!("filter[created_by][]={second_author}")).await,
        ["notes.txt", "Report.final.pdf"]
    );
    assert!(names(&ctx, "filter[source_id]=5").await.is_empty());
    // Dates: presets and ranges, on created_at or updated_at.
    assert_eq!(
        names(&ctx, "filter[date][date_preset]=last_3_days").await,
        ["Report.pdf", "photo.png"]
    );
    assert_eq!(names(&ctx, "filter[date][date_preset]=day").await, ["Report.pdf"]);
    let range = format!(
        "filter[date][type]=updated_at&filter[date][from]={}&filter[date][to]={}",
        now - 11 * 86_400,
        now - 86_400 + 60
    );
    assert_eq!(names(&ctx, &range).await, ["photo.png", "notes.txt"]);
    // Every filter together.
    let combined = format!("filter[extensions][]=pdf&filter[term]=report&filter[size][from]=200&filter[created_by][]={second_author}&filter[date][from]={}", now - 50 * 86_400);
    assert_eq!(names(&ctx, &combined).await, ["Report.final.pdf"]);

    // Pages, with HAL links that keep the filters.
    let first = ctx.call("GET", "/v1.0/files?limit=2&order[size]=asc", None).await.json();
    assert_eq!(first["_page"], 1);
    assert_eq!(first["_count"], 2);
    let next = first["_links"]["next"]["href"].as_str().unwrap();
    assert!(next.contains("page=2") && next.contains("order%5Bsize%5D=asc"), "{next}");
    let second = ctx.call("GET", &path_of(next), None).await.json();
    assert_eq!(second["_embedded"]["files"][0]["name"], "Report");
    let last = ctx.call("GET", "/v1.0/files?limit=2&page=3", None).await.json();
    assert_eq!(last["_count"], 1);
    assert!(last["_links"]["next"].is_null());
    assert!(last["_links"]["self"]["href"].as_str().unwrap().ends_with("page=3&limit=2"));
    assert_eq!(ctx.call("GET", "/v1.0/files?limit=2&page=4", None).await.status, 204);

    // The trash: out of normal listings, alone with filter[deleted]=true.
    let trash =
        ctx.call("DELETE", "/v1.0/files", Some(json!([{"uuid": uuids["notes.txt"]}]))).await;
    assert_eq!(trash.status, 200);
    assert!(!names(&ctx, "").await.contains(&"notes.txt".to_owned()));
    assert_eq!(names(&ctx, "filter[deleted]=true").await, ["notes.txt"]);

    // Bad values are named; another account sees nothing.
    for (query, named) in [
        ("filter[size][from]=big", "filter[size][from]"),
        ("filter[date][date_preset]=fortnight", "filter[date][date_preset]"),
        ("limit=0", "limit"),
        ("order[colour]=asc", "order"),
    ] {
        let answer = ctx.call("GET", &format!("/v1.0/files?{query}"), None).await;
        let detail = answer.problem(400, "validation")["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(named), "{query}: {detail}");
    }
    let stranger = ctx.app.token("globex", "files").await;
    assert_eq!(
        send(&ctx.router, with_token("GET", "/v1.0/files", &stranger, None)).await.status,
        204
    );
    ctx.app.cleanup().await;
}

#[tokio::test]
async fn sqlite_files_are_listed_with_kommo_filters() {
    files_are_listed_with_kommo_filters(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_files_are_listed_with_kommo_filters() {
    files_are_listed_with_kommo_filters(Backend::Postgres).await;
}
