//! Kommo fidelity, body encodings: the Files API methods read JSON,
//! `multipart/form-data` and `application/x-www-form-urlencoded` bodies
//! alike, forms written as PHP writes them (`http_build_query`, curl's
//! multipart with a `CURLFile`), and a part may come as a multipart form
//! with its bytes in the file field. Malformed forms are 400 with a detail
//! that names the key, other Content-Types 415; nothing is written on
//! refusal. On SQLite and PostgreSQL.

use axum::{
    body::Body,
    http::{header, Request},
};
use satchel::testing::Backend;
use serde_json::{json, Value};
use support::{get, path_of, pattern, send, sha256_hex, Answer};

use crate::support;

use support::kommo::Kommo;

const PUBLIC_URL: &str = "https://drive.satchel.test";

const FORM: &str = "application/x-www-form-urlencoded";

type Ctx = Kommo;

/// One field of a multipart form: its name, its file name if it is a
/// file, its bytes.
type Field<'a> = (&'a str, Option<&'a str>, &'a [u8]);

/// A `multipart/form-data` body as curl (PHP's `CURLOPT_POSTFIELDS` with
/// a `CURLFile`) writes it, and its Content-Type.
fn multipart(fields: &[Field]) -> (String, Vec<u8>) {
    let boundary = "------------------------d74496d66958873e";
    let mut body = Vec::new();
    for (name, file_name, bytes) in fields {
        let head = match file_name {
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
            Some(file) => format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            ),
        };
        body.extend(format!("--{boundary}\r\n{head}").into_bytes());
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").into_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Ctx {
    /// The app with one file, `a.txt`: its uuid, and how many upload
    /// sessions there are.
    async fn with_one_file(backend: Backend) -> (Ctx, String, i64) {
        let ctx = Ctx::new(backend, PUBLIC_URL).await;
        let file = ctx.upload("a.txt", &pattern(10, 4), None).await;
        let sessions = ctx.count("upload_sessions").await;
        (ctx, file["uuid"].as_str().unwrap().to_owned(), sessions)
    }

    async fn form(&self, method: &str, uri: &str, body: &str) -> Answer {
        self.php_encoded(method, uri, FORM, body.to_owned()).await
    }

    async fn multipart(&self, method: &str, uri: &str, fields: &[Field<'_>]) -> Answer {
        let (content_type, body) = multipart(fields);
        self.php_encoded(method, uri, &content_type, body).await
    }

    /// Sends a part to `url` as a multipart form (no Authorization: the
    /// URL is the credential).
    async fn part_form(&self, url: &str, fields: &[Field<'_>], digest: Option<&str>) -> Answer {
        let (content_type, body) = multipart(fields);
        let mut request = Request::post(path_of(url)).header(header::CONTENT_TYPE, content_type);
        if let Some(digest) = digest {
            request = request.header("content-digest", digest);
        }
        send(&self.router, request.body(Body::from(body)).unwrap()).await
    }

    async fn file(&self, uuid: &str) -> Answer {
        self.php("GET", &format!("/v1.0/files/{uuid}?with=deleted"), None).await
    }

    async fn count(&self, table: &str) -> i64 {
        let sql = format!("select cast(count(*) as bigint) from {table}");
        sqlx::query_scalar::<_, i64>(&sql).fetch_one(self.app.state.db.pool()).await.unwrap()
    }

    /// How many bytes of an upload are stored, from its resume point.
    async fn received(&self, upload_url: &str) -> u64 {
        let point = send(&self.router, get(&path_of(upload_url))).await;
        assert_eq!(point.status, 200, "{}", point.text());
        point.json()["received"].as_u64().unwrap()
    }

    async fn download(&self, file: &Value) -> Vec<u8> {
        let link = file["_links"]["signed_download"]["href"].as_str().unwrap();
        let got = send(&self.router, get(&path_of(link))).await;
        assert_eq!(got.status, 200, "{}", got.text());
        got.body
    }
}

fn ok(answer: &Answer, status: u16) -> Value {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.text());
    if answer.body.is_empty() {
        Value::Null
    } else {
        answer.json()
    }
}

/// Asserts 400 `validation` whose detail holds every one of `words`.
fn refused(answer: &Answer, words: &[&str]) {
    let problem = answer.problem(400, "validation");
    let detail = problem["detail"].as_str().unwrap();
    for word in words {
        assert!(detail.contains(word), "{word:?} not in {detail:?}");
    }
}

async fn sessions_open_by_form_and_parts_arrive_as_multipart_forms(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let bytes = pattern(3000, 11);

    // A session opened with a multipart body, the way Kommo documents it.
    let opened = ctx
        .multipart(
            "POST",
            "/v1.0/sessions",
            &[
                ("file_name", None, "Отчёт 2024.pdf".as_bytes()),
                ("file_size", None, b"3000"),
                ("content_type", None, b"application/pdf"),
                ("with_preview", None, b"0"),
            ],
        )
        .await;
    let session = ok(&opened, 200);
    assert!(session["upload_url"].as_str().unwrap().starts_with(PUBLIC_URL));
    assert_eq!(session["max_part_size"], 524_288);

    // Part 1 in the first field with a file name, after a text field.
    let url = session["upload_url"].as_str().unwrap();
    let first = ctx
        .part_form(
            url,
            &[("note", None, b"ignored"), ("blob", Some("part-1"), &bytes[..1000])],
            None,
        )
        .await;
    let accepted = ok(&first, 202);
    assert_eq!((accepted["part"].as_u64(), accepted["received"].as_u64()), (Some(1), Some(1000)));
    assert_eq!(ctx.received(url).await, 1000);

    // Part 2 in a field named `file` without a file name, a field after it.
    let next = accepted["next_url"].as_str().unwrap();
    let last =
        ctx.part_form(next, &[("file", None, &bytes[1000..]), ("after", None, b"x")], None).await;
    let file = ok(&last, 200);
    assert_eq!(file["name"], "Отчёт 2024");
    assert_eq!(file["size"], 3000);
    assert_eq!(file["metadata"]["mime_type"], "application/pdf");
    assert_eq!(file["sha256"], sha256_hex(&bytes));
    assert_eq!(file["session_id"], session["session_id"]);
    assert_eq!(ctx.download(&file).await, bytes);

    // A new version through a session opened as http_build_query writes
    // it (`true` as 1, brackets and UTF-8 percent-encoded, spaces as +),
    // its one part a multipart form.
    let uuid = file["uuid"].as_str().unwrap();
    let version = pattern(700, 12);
    let query = format!(
        "file_name=%D0%9E%D1%82%D1%87%D1%91%D1%82+2024+v2.pdf&file_size=700&with_preview=1\
         &file_uuid={uuid}"
    );
    let session = ok(&ctx.form("POST", "/v1.0/sessions", &query).await, 200);
    let url = session["upload_url"].as_str().unwrap();
    let done = ok(&ctx.part_form(url, &[("file", Some("v2.pdf"), &version)], None).await, 200);
    assert_eq!(done["uuid"], uuid);
    assert_eq!(done["has_multiple_versions"], true);
    assert_eq!(done["sha256"], sha256_hex(&version));
    assert_eq!(ctx.download(&done).await, version);
    let versions = ctx.ok("GET", &format!("/v1.0/files/{uuid}/versions"), None).await;
    assert_eq!(versions["_count"], 2);

    // JSON still works as before, beside the forms.
    let json = json!({"file_name": "plain.txt", "file_size": 0});
    ok(&ctx.php("POST", "/v1.0/sessions", Some(json)).await, 200);
    ctx.app.cleanup().await;
}

async fn files_are_renamed_trashed_and_restored_by_form(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let a = ctx.upload("report.pdf", &pattern(100, 1), None).await;
    let b = ctx.upload("photo.png", &pattern(200, 2), None).await;
    let (ua, ub) = (a["uuid"].as_str().unwrap(), b["uuid"].as_str().unwrap());

    // http_build_query(['name' => 'Q3 report']): the extension is kept.
    let renamed = ok(&ctx.form("PATCH", &format!("/v1.0/files/{ua}"), "name=Q3+report").await, 200);
    assert_eq!(renamed["name"], "Q3 report");
    assert_eq!(renamed["metadata"]["extension"], "pdf");
    assert_eq!(ctx.file(ua).await.json()["name"], "Q3 report");

    // A version switch sent as a multipart form.
    let first_version = a["version_uuid"].as_str().unwrap();
    let newer = ctx.upload("report.pdf", &pattern(150, 3), Some(ua)).await;
    assert_ne!(newer["version_uuid"], first_version);
    let fields: [Field; 1] = [("version_uuid", None, first_version.as_bytes())];
    let switched = ok(&ctx.multipart("PATCH", &format!("/v1.0/files/{ua}"), &fields).await, 200);
    assert_eq!(switched["version_uuid"], first_version);
    assert_eq!(switched["size"], 100);

    // http_build_query([['uuid' => $a], ['uuid' => $b]]) to the trash.
    let both = format!("0%5Buuid%5D={ua}&1%5Buuid%5D={ub}");
    assert_eq!(ok(&ctx.form("DELETE", "/v1.0/files", &both).await, 200), json!({"result": true}));
    for uuid in [ua, ub] {
        assert_eq!(ctx.file(uuid).await.json()["is_trashed"], true);
    }
    // ... and back, as a multipart form.
    let fields: [Field; 2] = [("0[uuid]", None, ua.as_bytes()), ("1[uuid]", None, ub.as_bytes())];
    let restored = ok(&ctx.multipart("POST", "/v1.0/files/restore", &fields).await, 200);
    assert_eq!(restored["_count"], 2);
    let files = &restored["_embedded"]["files"];
    assert_eq!((files[0]["uuid"].as_str(), files[1]["uuid"].as_str()), (Some(ua), Some(ub)));

    // The other ways a list is written: `[][uuid]`, `[0][uuid]`.
    ok(&ctx.form("DELETE", "/v1.0/files", &format!("[][uuid]={ub}")).await, 200);
    assert_eq!(ctx.file(ub).await.json()["is_trashed"], true);
    assert_eq!(ctx.file(ua).await.json()["is_trashed"], false);
    let restored =
        ok(&ctx.form("POST", "/v1.0/files/restore", &format!("[0][uuid]={ub}")).await, 200);
    assert_eq!(restored["_embedded"]["files"][0]["uuid"], ub);
    assert_eq!(ctx.file(ub).await.json()["is_trashed"], false);
    ctx.app.cleanup().await;
}

async fn malformed_forms_are_refused_and_nothing_is_written(backend: Backend) {
    let (ctx, ua, sessions) = Ctx::with_one_file(backend).await;
    let ua = ua.as_str();

    for (body, words) in [
        ("file_name=a.txt&file_size=big", &["file_size", "whole number", "`big`"][..]),
        ("file_name=a.txt&file_size=1&with_preview=maybe", &["with_preview", "`maybe`"]),
        ("file_size=1", &["missing field `file_name`"]),
        ("file_name%5B=a.txt&file_size=1", &["file_name[", "malformed"]),
        ("file_name=a.txt&file_name[x]=b&file_size=1", &["file_name[x]", "both"]),
        // `curl -d '{...}'` labels JSON as a form.
        (r#"{"file_name": "a.txt", "file_size": 1}"#, &["looks like JSON"]),
    ] {
        refused(&ctx.form("POST", "/v1.0/sessions", body).await, words);
    }
    let answer = ctx.multipart("POST", "/v1.0/sessions", &[("file_size", None, b"1")]).await;
    refused(&answer, &["multipart body", "missing field `file_name`"]);
    let (_, body) = multipart(&[("file_name", None, b"a.txt"), ("file_size", None, b"1")]);
    let no_boundary = ctx.php_encoded("POST", "/v1.0/sessions", "multipart/form-data", body).await;
    refused(&no_boundary, &["boundary"]);
    let (content_type, mut cut) = multipart(&[("file_name", None, b"a.txt")]);
    cut.truncate(cut.len() - 30);
    refused(&ctx.php_encoded("POST", "/v1.0/sessions", &content_type, cut).await, &["multipart"]);
    assert_eq!(ctx.count("upload_sessions").await, sessions, "no session was opened");

    // Renames and batches: refused whole.
    refused(&ctx.form("PATCH", &format!("/v1.0/files/{ua}"), "name[x]=b").await, &["name"]);
    refused(&ctx.form("DELETE", "/v1.0/files", &format!("uuid={ua}")).await, &["a list", "`uuid`"]);
    let one_unknown = format!("0[uuid]={ua}&1[uuid]=00000000-0000-0000-0000-000000000000");
    refused(&ctx.form("DELETE", "/v1.0/files", &one_unknown).await, &["no file was moved"]);
    refused(&ctx.form("POST", "/v1.0/files/restore", "").await, &["names no files", "0[uuid]"]);
    let kept = ctx.file(ua).await.json();
    assert_eq!((kept["name"].as_str(), kept["is_trashed"].as_bool()), (Some("a"), Some(false)));

    // Parts: a form without a file field, or one carrying a Content-Digest
    // (a digest of the form, not of the part), stores nothing.
    let session =
        ok(&ctx.form("POST", "/v1.0/sessions", "file_name=b.bin&file_size=64").await, 200);
    let url = session["upload_url"].as_str().unwrap();
    let bytes = pattern(64, 5);
    let no_file =
        ctx.part_form(url, &[("name", None, b"b.bin"), ("size", None, b"64")], None).await;
    refused(&no_file, &["no file field", "0 new bytes were kept"]);
    let digest = format!("sha-256=:{}:", base64_sha256(&bytes));
    let with_digest = ctx.part_form(url, &[("file", Some("b.bin"), &bytes)], Some(&digest)).await;
    refused(&with_digest, &["Content-Digest"]);
    assert_eq!(ctx.received(url).await, 0);
    let file = ok(&ctx.part_form(url, &[("file", Some("b.bin"), &bytes)], None).await, 200);
    assert_eq!(file["sha256"], sha256_hex(&bytes));

    // A form's Content-Length is not the part's: a file field over
    // max_part_size is 413 once its bytes pass the limit.
    let big = ctx.form("POST", "/v1.0/sessions", "file_name=c.bin&file_size=600000").await;
    let url = ok(&big, 200)["upload_url"].as_str().unwrap().to_owned();
    let over = pattern(524_289, 6);
    let answer = ctx.part_form(&url, &[("file", Some("c.bin"), &over)], None).await;
    answer.problem(413, "body-too-large");
    assert_eq!(ctx.received(&url).await, 0);
    ctx.app.cleanup().await;
}

async fn other_content_types_are_refused_with_415(backend: Backend) {
    let (ctx, ua, sessions) = Ctx::with_one_file(backend).await;
    let ua = ua.as_str();

    let xml = "<file_name>a.txt</file_name>";
    for (method, uri) in [
        ("POST", "/v1.0/sessions".to_owned()),
        ("PATCH", format!("/v1.0/files/{ua}")),
        ("DELETE", "/v1.0/files".to_owned()),
        ("POST", "/v1.0/files/restore".to_owned()),
    ] {
        for content_type in ["text/plain", "application/xml; charset=utf-8"] {
            let answer = ctx.php_encoded(method, &uri, content_type, xml).await;
            let problem = answer.problem(415, "unsupported-media-type");
            let detail = problem["detail"].as_str().unwrap();
            assert!(detail.contains(content_type.split(';').next().unwrap()), "{detail}");
            assert!(detail.contains("application/x-www-form-urlencoded"), "{detail}");
        }
    }
    let bare = Request::post("/v1.0/sessions")
        .header(header::AUTHORIZATION, format!("Bearer {}", ctx.token))
        .body(Body::from("file_name=a.txt&file_size=1"))
        .unwrap();
    let problem = send(&ctx.router, bare).await.problem(415, "unsupported-media-type");
    assert!(problem["detail"].as_str().unwrap().contains("no Content-Type"), "{problem}");
    assert_eq!(ctx.count("upload_sessions").await, sessions);
    assert_eq!(ctx.file(ua).await.json()["is_trashed"], false);

    // A part that is not a multipart form is its raw bytes, whatever its
    // Content-Type says (curl --data-binary sends raw bytes as a form).
    let session = ok(&ctx.form("POST", "/v1.0/sessions", "file_name=c.txt&file_size=9").await, 200);
    let url = path_of(session["upload_url"].as_str().unwrap());
    let raw = Request::post(url)
        .header(header::CONTENT_TYPE, FORM)
        .body(Body::from("a=1&b=2&c"))
        .unwrap();
    let file = ok(&send(&ctx.router, raw).await, 200);
    assert_eq!(file["sha256"], sha256_hex(b"a=1&b=2&c"));
    ctx.app.cleanup().await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_encoding_read() {
    let ctx = Ctx::new(Backend::Sqlite, PUBLIC_URL).await;
    let doc = ctx.ok("GET", "/api/openapi.json", None).await;
    let encodings = ["application/json", FORM, "multipart/form-data"];
    for (path, method) in [
        ("/v1.0/sessions", "post"),
        ("/v1.0/files/{uuid}", "patch"),
        ("/v1.0/files", "delete"),
        ("/v1.0/files/restore", "post"),
    ] {
        let refused = &doc["paths"][path][method]["responses"]["415"];
        assert!(refused.is_object(), "{method} {path} documents its 415");
        let content = &doc["paths"][path][method]["requestBody"]["content"];
        for encoding in encodings {
            assert!(
                content[encoding]["schema"].is_object(),
                "{method} {path} {encoding}: {content}"
            );
        }
    }
    let part = &doc["paths"]["/upload/{token}"]["post"]["requestBody"]["content"];
    assert!(part["application/octet-stream"].is_object(), "{part}");
    let form = part["multipart/form-data"]["schema"]["$ref"].as_str().unwrap();
    let name = form.strip_prefix("#/components/schemas/").unwrap();
    let file = &doc["components"]["schemas"][name]["properties"]["file"];
    assert_eq!(file["contentMediaType"], "application/octet-stream", "{file}");
    ctx.app.cleanup().await;
}

fn base64_sha256(bytes: &[u8]) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
}

on_both!(
    sessions_open_by_form_and_parts_arrive_as_multipart_forms,
    files_are_renamed_trashed_and_restored_by_form,
    malformed_forms_are_refused_and_nothing_is_written,
    other_content_types_are_refused_with_415,
);
