//! Kommo fidelity, download links and the trash's answers: a file's
//! `_links.download` serves its current version and `download_version`
//! the version the object showed, for as long as the file exists, to the
//! account's bearer token, as an integration that stored them sends them;
//! browsers get the same links signed for `--link-ttl`
//! (`signed_download*`). `DELETE /v1.0/files` answers what Kommo's
//! reference and its PHP library both accept, `POST /v1.0/files/restore`
//! what the reference shows. On SQLite and PostgreSQL.

use std::time::Duration;

use axum::{
    body::Body,
    http::{header, HeaderName, Request},
};
use satchel::{state::Settings, testing::Backend};
use serde_json::{json, Value};
use support::{get, path_of, pattern, send, sha256_hex, Answer};

use crate::support;

use support::kommo::Kommo;

const PUBLIC_URL: &str = "https://drive.satchel.test";

type Ctx = Kommo;

impl Ctx {
    /// A stored link followed as an integration follows it: with its
    /// token, as the PHP library sends every request.
    async fn follow(&self, file: &Value, link: &str) -> Answer {
        self.php("GET", &path_of(href(file, link)), None).await
    }

    /// A link followed as a browser follows it: no header.
    async fn open(&self, file: &Value, link: &str) -> Answer {
        send(&self.router, get(&path_of(href(file, link)))).await
    }

    /// Both stored links of `file` serve `bytes` to the account's token.
    async fn stored_links_serve(&self, file: &Value, bytes: &[u8]) {
        for link in ["download", "download_version"] {
            assert_eq!(bytes_of(&self.follow(file, link).await), bytes, "{link}");
        }
    }

    /// `GET uri` with exactly these headers.
    async fn get_with(&self, uri: &str, headers: &[(HeaderName, &str)]) -> Answer {
        let mut request = Request::get(uri);
        for (name, value) in headers {
            request = request.header(name, *value);
        }
        send(&self.router, request.body(Body::empty()).unwrap()).await
    }

    async fn trash(&self, uuid: &str) -> Answer {
        self.php("DELETE", "/v1.0/files", Some(json!([{ "uuid": uuid }]))).await
    }
}

fn href<'a>(object: &'a Value, link: &str) -> &'a str {
    object["_links"][link]["href"].as_str().unwrap_or_else(|| panic!("no {link}: {object}"))
}

fn uuid(file: &Value) -> String {
    file["uuid"].as_str().unwrap().to_owned()
}

/// The bytes of a 200, checked as the file's whole answer.
fn bytes_of(answer: &Answer) -> Vec<u8> {
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.body.clone()
}

async fn download_serves_the_current_version_and_download_version_the_one_shown(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let (v1, v2) = (pattern(700, 1), pattern(900, 2));
    let first = ctx.upload("report.pdf", &v1, None).await;
    let file_uuid = uuid(&first);

    // The links carry no credential and no expiry: nothing but a path.
    let stable = href(&first, "download");
    assert_eq!(stable, format!("{PUBLIC_URL}/download/{file_uuid}/report%2Epdf"));
    let version = first["version_uuid"].as_str().unwrap();
    assert_eq!(
        href(&first, "download_version"),
        format!("{PUBLIC_URL}/download/{file_uuid}/{version}/report%2Epdf")
    );
    assert_eq!(bytes_of(&ctx.follow(&first, "download").await), v1);

    // A new version: the link stored before it serves the new bytes, the
    // stored version link still the old ones.
    let second = ctx.upload("report.pdf", &v2, Some(&file_uuid)).await;
    assert_eq!(bytes_of(&ctx.follow(&first, "download").await), v2);
    assert_eq!(bytes_of(&ctx.follow(&first, "download_version").await), v1);
    assert_eq!(bytes_of(&ctx.follow(&second, "download_version").await), v2);
    assert_eq!(href(&first, "download"), href(&second, "download"), "one link per file");
    let versions = ctx.ok("GET", &format!("/v1.0/files/{file_uuid}/versions"), None).await;
    let old = &versions["_embedded"]["versions"][1];
    assert_eq!(href(old, "download"), href(&first, "download_version"));
    assert_eq!(bytes_of(&ctx.follow(old, "download").await), v1);

    // The first version made active again: the current link follows it,
    // under any name the file has since.
    let back = json!({ "version_uuid": version });
    ctx.ok("PATCH", &format!("/v1.0/files/{file_uuid}"), Some(back)).await;
    ctx.ok("PATCH", &format!("/v1.0/files/{file_uuid}"), Some(json!({ "name": "Final" }))).await;
    assert_eq!(bytes_of(&ctx.follow(&second, "download").await), v1);
    ctx.app.cleanup().await;
}

async fn the_current_link_answers_ranges_etags_and_names_as_a_version_link(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let bytes = pattern(2000, 5);
    let file = ctx.upload("Relatório.txt", &bytes, None).await;
    let link = path_of(href(&file, "download"));
    let bearer = format!("Bearer {}", ctx.token);
    let ranged = ctx
        .get_with(&link, &[(header::AUTHORIZATION, &bearer), (header::RANGE, "bytes=100-199")])
        .await;
    assert_eq!(ranged.status, 206);
    assert_eq!(ranged.header("content-range"), Some("bytes 100-199/2000"));
    assert_eq!(ranged.body, &bytes[100..200]);
    let whole = ctx.follow(&file, "download").await;
    let etag = format!("\"{}\"", sha256_hex(&bytes));
    assert_eq!(whole.header("etag"), Some(etag.as_str()));
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(whole.header("x-content-type-options"), Some("nosniff"));
    let disposition = whole.header("content-disposition").unwrap();
    assert!(disposition.ends_with("filename*=UTF-8''Relat%C3%B3rio%2Etxt"), "{disposition}");
    let unchanged = ctx
        .get_with(&link, &[(header::AUTHORIZATION, &bearer), (header::IF_NONE_MATCH, &etag)])
        .await;
    assert_eq!(unchanged.status, 304);
    ctx.app.cleanup().await;
}

async fn stored_links_outlive_the_signed_link_lifetime(backend: Backend) {
    // Signed links here expire the moment they are made, as every signed
    // link has once `--link-ttl` has passed.
    let settings =
        Settings { public_url: PUBLIC_URL.into(), link_ttl: Duration::ZERO, ..Settings::default() };
    let ctx = Ctx::with(backend, settings).await;
    let bytes = pattern(300, 7);
    let file = ctx.upload("kept.bin", &bytes, None).await;
    ctx.open(&file, "signed_download").await.problem(403, "forbidden");
    ctx.open(&file, "signed_download_version").await.problem(403, "forbidden");
    ctx.stored_links_serve(&file, &bytes).await;
    // A token sent with an expired signed link decides alone.
    assert_eq!(bytes_of(&ctx.follow(&file, "signed_download").await), bytes);
    ctx.app.cleanup().await;
}

async fn links_need_the_accounts_token_or_a_signature(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let file = ctx.upload("private.txt", b"private", None).await;
    // No header and no signature: 401, as every request without a token.
    ctx.open(&file, "download").await.problem(401, "unauthorized");
    ctx.open(&file, "download_version").await.problem(401, "unauthorized");
    // Another account's token: the file does not exist for it.
    let stranger = ctx.app.token("globex", "files,files_delete,crm").await;
    for link in ["download", "download_version"] {
        let theirs = ctx.php_as(&stranger, "GET", &path_of(href(&file, link)), None).await;
        theirs.problem(404, "not-found");
    }
    // A token of the account without `files`: 403 naming it.
    let crm_only = ctx.app.token("acme", "crm").await;
    let refused = ctx.php_as(&crm_only, "GET", &path_of(href(&file, "download")), None).await;
    assert!(refused.problem(403, "forbidden")["detail"].as_str().unwrap().contains("files"));
    // A signature is for its own link only.
    let signed = href(&file, "signed_download_version");
    let sign = &signed[signed.find("?sign=").unwrap()..];
    let moved = format!("{}{sign}", path_of(href(&file, "download")));
    send(&ctx.router, get(&moved)).await.problem(403, "forbidden");
    ctx.app.cleanup().await;
}

async fn browsers_open_the_signed_links_without_a_header(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let (v1, v2) = (pattern(100, 8), pattern(120, 9));
    let first = ctx.upload("page.txt", &v1, None).await;
    let second = ctx.upload("page.txt", &v2, Some(&uuid(&first))).await;
    assert!(href(&second, "signed_download").starts_with(href(&second, "download")));
    assert!(href(&second, "signed_download").contains("?sign="));
    assert_eq!(bytes_of(&ctx.open(&second, "signed_download").await), v2);
    assert_eq!(bytes_of(&ctx.open(&first, "signed_download").await), v2, "the current version");
    assert_eq!(bytes_of(&ctx.open(&first, "signed_download_version").await), v1);
    let versions = ctx.ok("GET", &format!("/v1.0/files/{}/versions", uuid(&first)), None).await;
    let old = &versions["_embedded"]["versions"][1];
    assert_eq!(bytes_of(&ctx.open(old, "signed_download").await), v1);
    // A browser behind a proxy's Basic sign-in still sends its header:
    // only a bearer token takes the signature's place.
    let link = path_of(href(&second, "signed_download"));
    let basic = ctx.get_with(&link, &[(header::AUTHORIZATION, "Basic dXNlcjpwYXNz")]).await;
    assert_eq!(bytes_of(&basic), v2);
    ctx.app.cleanup().await;
}

async fn a_trashed_files_links_are_404_until_it_is_restored(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let bytes = pattern(64, 4);
    let file = ctx.upload("binned.txt", &bytes, None).await;
    assert_eq!(ctx.trash(&uuid(&file)).await.status, 200);
    for link in ["download", "download_version"] {
        ctx.follow(&file, link).await.problem(404, "not-found");
    }
    for link in ["signed_download", "signed_download_version"] {
        ctx.open(&file, link).await.problem(404, "not-found");
    }
    // Restored, the links stored before serve again.
    let restored = ctx.php("POST", "/v1.0/files/restore", Some(json!([{ "uuid": uuid(&file) }])));
    assert_eq!(restored.await.status, 200);
    ctx.stored_links_serve(&file, &bytes).await;
    ctx.app.cleanup().await;
}

async fn delete_and_restore_answer_as_kommo_and_its_php_library_accept(backend: Backend) {
    let ctx = Ctx::new(backend, PUBLIC_URL).await;
    let a = ctx.upload("a.txt", b"a", None).await;
    let b = ctx.upload("b.txt", b"bb", None).await;
    let both = json!([{ "uuid": uuid(&a) }, { "uuid": uuid(&b) }]);

    // 200 with a JSON object, as the reference shows; `result` is what
    // the library's `Files::delete()` returns, and a body it decodes to a
    // non-empty array is the only 200 it does not refuse as "not json".
    let trashed = ctx.php("DELETE", "/v1.0/files", Some(both.clone())).await;
    assert_eq!(trashed.status, 200, "{}", trashed.text());
    assert_eq!(trashed.header("content-type"), Some("application/json"));
    assert_eq!(trashed.body, br#"{"result":true}"#);
    // Trashing again what is in the trash answers the same.
    assert_eq!(ctx.php("DELETE", "/v1.0/files", Some(both.clone())).await.json()["result"], true);
    // One unknown uuid: 400, nothing moved.
    let c = ctx.upload("c.txt", b"c", None).await;
    let unknown = json!([{ "uuid": uuid(&c) }, { "uuid": "00000000-0000-4000-8000-000000000000" }]);
    ctx.php("DELETE", "/v1.0/files", Some(unknown)).await.problem(400, "validation");
    assert_eq!(
        ctx.ok("GET", &format!("/v1.0/files/{}", uuid(&c)), None).await["is_trashed"],
        false
    );

    // Restore: 200 `{_count, _embedded: {files}}`, each file whole.
    let restored = ctx.ok("POST", "/v1.0/files/restore", Some(both)).await;
    assert_eq!(restored["_count"], 2);
    let files = restored["_embedded"]["files"].as_array().unwrap();
    let uuids: Vec<String> = files.iter().map(uuid).collect();
    assert_eq!(uuids, [uuid(&a), uuid(&b)]);
    for (file, before) in files.iter().zip([&a, &b]) {
        assert_eq!(file["is_trashed"], false);
        assert_eq!(
            (file["deleted_at"].clone(), file["deleted_by"].clone()),
            (Value::Null, Value::Null)
        );
        assert_eq!(href(file, "download"), href(before, "download"), "the same stable link");
    }
    // A file outside the trash comes back as it is.
    let untouched = ctx.ok("POST", "/v1.0/files/restore", Some(json!([{ "uuid": uuid(&c) }])));
    assert_eq!(untouched.await["_embedded"]["files"][0]["uuid"], uuid(&c).as_str());
    // A file that is not there: 404.
    let gone = json!([{ "uuid": "00000000-0000-4000-8000-000000000000" }]);
    ctx.php("POST", "/v1.0/files/restore", Some(gone)).await.problem(404, "not-found");
    ctx.app.cleanup().await;
}

on_both!(
    download_serves_the_current_version_and_download_version_the_one_shown,
    the_current_link_answers_ranges_etags_and_names_as_a_version_link,
    stored_links_outlive_the_signed_link_lifetime,
    links_need_the_accounts_token_or_a_signature,
    browsers_open_the_signed_links_without_a_header,
    a_trashed_files_links_are_404_until_it_is_restored,
    delete_and_restore_answer_as_kommo_and_its_php_library_accept,
);
