//! Upload sessions and part uploads, every status code of the contract's
//! "Upload sessions" section, on SQLite and PostgreSQL (and S3 blobs).

use std::{sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{header, Request},
    Router,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use satchel::{
    blob::{BlobStore, S3Store},
    state::Settings,
    testing::{Backend, S3Server, TestApp},
};
use serde_json::{json, Value};
use support::{get, path_of, pattern, send, sha256_hex, with_token, Answer};

use crate::support;

const PART: u64 = 1024;

/// Parts of one upload that may be in flight: part 4 lies past the window
/// while nothing is stored.
const WINDOW: u32 = 3;

fn settings() -> Settings {
    Settings {
        max_part_size: PART,
        max_file_size: 64 * PART,
        upload_window: WINDOW,
        ..Settings::default()
    }
}

struct Ctx {
    app: TestApp,
    router: Router,
    token: String,
}

impl Ctx {
    async fn new(backend: Backend) -> Ctx {
        Self::with(backend, settings(), None).await
    }

    async fn with(backend: Backend, settings: Settings, blobs: Option<Arc<dyn BlobStore>>) -> Ctx {
        let app = TestApp::with(backend, settings, blobs).await;
        let token = app.token("acme", "files").await;
        Ctx { router: app.router(), app, token }
    }

    async fn open(&self, request: Value) -> Answer {
        send(&self.router, with_token("POST", "/v1.0/sessions", &self.token, Some(request))).await
    }

    async fn open_ok(&self, name: &str, size: usize) -> Value {
        let answer = self.open(json!({"file_name": name, "file_size": size})).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        answer.json()
    }

    async fn put(&self, url: &str, bytes: &[u8]) -> Answer {
        send(&self.router, part_request(url, bytes, None)).await
    }

    /// Uploads `bytes` part by part and returns the final file object.
    async fn upload(&self, name: &str, bytes: &[u8]) -> Value {
        let session = self.open_ok(name, bytes.len()).await;
        self.send_all(&session, bytes).await
    }

    async fn send_all(&self, session: &Value, bytes: &[u8]) -> Value {
        let mut url = session["upload_url"].as_str().unwrap().to_owned();
        let chunks: Vec<&[u8]> =
            if bytes.is_empty() { vec![&[]] } else { bytes.chunks(PART as usize).collect() };
        for (i, chunk) in chunks.iter().enumerate() {
            let answer = self.put(&url, chunk).await;
            if i + 1 < chunks.len() {
                assert_eq!(answer.status, 202, "part {}: {}", i + 1, answer.text());
                url = answer.json()["next_url"].as_str().unwrap().to_owned();
            } else {
                assert_eq!(answer.status, 200, "last part: {}", answer.text());
                return answer.json();
            }
        }
        unreachable!()
    }

    async fn get_json(&self, uri: &str) -> Answer {
        send(&self.router, with_token("GET", uri, &self.token, None)).await
    }

    async fn download(&self, url: &str, range: Option<&str>) -> Answer {
        let mut request = Request::get(path_of(url));
        if let Some(r) = range {
            request = request.header(header::RANGE, r);
        }
        send(&self.router, request.body(Body::empty()).unwrap()).await
    }

    async fn cleanup(self) {
        self.app.cleanup().await;
    }
}

fn part_request(url: &str, bytes: &[u8], digest: Option<&str>) -> Request<Body> {
    let mut r = Request::post(path_of(url)).header(header::CONTENT_LENGTH, bytes.len());
    if let Some(d) = digest {
        r = r.header("content-digest", d);
    }
    r.body(Body::from(bytes.to_vec())).unwrap()
}

fn content_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha-256=:{}:", STANDARD.encode(sha2::Sha256::digest(bytes)))
}

async fn a_file_uploads_in_parts_and_downloads_byte_for_byte(ctx: Ctx) {
    let bytes = pattern(2 * PART as usize + 300, 1);
    let session = ctx.open_ok("Relatório Q3.pdf", bytes.len()).await;
    assert_eq!(session["max_part_size"], PART);
    assert_eq!(session["max_file_size"], 64 * PART);
    assert_eq!(session["part_count"], 3);
    assert!(session["upload_url"].as_str().unwrap().starts_with("http://127.0.0.1:3000/upload/"));
    assert!(session["expires_at"].as_i64().unwrap() > satchel::store::now_unix());

    let first = ctx.put(session["upload_url"].as_str().unwrap(), &bytes[..1024]).await;
    assert_eq!(first.status, 202);
    let first = first.json();
    assert_eq!(first["part"], 1);
    assert_eq!(first["received"], 1024);
    assert_eq!(first["session_id"], session["session_id"]);
    let second = ctx.put(first["next_url"].as_str().unwrap(), &bytes[1024..2048]).await.json();
    assert_eq!(second["received"], 2048);
    let last = ctx.put(second["next_url"].as_str().unwrap(), &bytes[2048..]).await;
    assert_eq!(last.status, 200, "{}", last.text());
    let file = last.json();

    assert_eq!(file["session_id"], session["session_id"]);
    assert_eq!(file["name"], "Relatório Q3");
    assert_eq!(file["sanitized_name"], "Relatorio Q3");
    assert_eq!(file["size"], bytes.len());
    assert_eq!(file["type"], "document");
    assert_eq!(file["metadata"], json!({"extension": "pdf", "mime_type": "application/pdf"}));
    assert_eq!(file["is_trashed"], false);
    assert_eq!(file["has_multiple_versions"], false);
    assert_eq!(file["sha256"], sha256_hex(&bytes), "digest computed as parts arrived");
    assert_eq!(file["created_by"]["type"], "internal");
    assert!(file["previews"].is_null() && file["deleted_at"].is_null());

    // The file reads back, and its versions list holds the one version.
    let uuid = file["uuid"].as_str().unwrap();
    let fetched = ctx.get_json(&format!("/v1.0/files/{uuid}")).await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.json()["version_uuid"], file["version_uuid"]);
    let versions = ctx.get_json(&format!("/v1.0/files/{uuid}/versions")).await.json();
    assert_eq!(versions["_count"], 1);
    assert_eq!(versions["_embedded"]["versions"][0]["is_main"], true);
    assert_eq!(versions["_embedded"]["versions"][0]["sha256"], file["sha256"]);

    // The signed link downloads the exact bytes without a header.
    let link = file["_links"]["signed_download"]["href"].as_str().unwrap();
    let got = ctx.download(link, None).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, bytes);
    assert_eq!(got.header("etag"), Some(format!("\"{}\"", sha256_hex(&bytes)).as_str()));
    assert_eq!(got.header("accept-ranges"), Some("bytes"));
    assert_eq!(got.header("content-type"), Some("application/pdf"));
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        got.header("content-disposition"),
        Some(
            "attachment; filename=\"Relat_rio Q3.pdf\"; filename*=UTF-8''Relat%C3%B3rio%20Q3%2Epdf"
        )
    );

    // A range across a part boundary, a suffix range, one past the end.
    let mid = ctx.download(link, Some("bytes=1000-2100")).await;
    assert_eq!(mid.status, 206);
    assert_eq!(mid.body, &bytes[1000..=2100]);
    assert_eq!(
        mid.header("content-range"),
        Some(format!("bytes 1000-2100/{}", bytes.len()).as_str())
    );
    let tail = ctx.download(link, Some("bytes=-10")).await;
    assert_eq!(tail.body, &bytes[bytes.len() - 10..]);
    ctx.download(link, Some("bytes=999999-")).await.problem(416, "range-not-satisfiable");

    // If-None-Match with the ETag: 304, no body.
    let etag = got.header("etag").unwrap().to_owned();
    let request = Request::get(path_of(link))
        .header(header::IF_NONE_MATCH, etag)
        .body(Body::empty())
        .unwrap();
    let cached = send(&ctx.router, request).await;
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_a_file_uploads_in_parts_and_downloads_byte_for_byte() {
    a_file_uploads_in_parts_and_downloads_byte_for_byte(Ctx::new(Backend::Sqlite).await).await;
}

#[tokio::test]
async fn postgres_a_file_uploads_in_parts_and_downloads_byte_for_byte() {
    a_file_uploads_in_parts_and_downloads_byte_for_byte(Ctx::new(Backend::Postgres).await).await;
}

#[tokio::test]
async fn postgres_and_s3_a_file_uploads_in_parts_and_downloads_byte_for_byte() {
    let server = S3Server::start();
    let url = format!("s3://{}/uploads", server.bucket);
    let blobs: Arc<dyn BlobStore> =
        Arc::new(S3Store::from_builder(&url, server.builder()).unwrap());
    let ctx = Ctx::with(Backend::Postgres, settings(), Some(blobs)).await;
    a_file_uploads_in_parts_and_downloads_byte_for_byte(ctx).await;
}

/// Sends `sizes` as consecutive parts along the chain; the last answer.
async fn send_sized(ctx: &Ctx, session: &Value, bytes: &[u8], sizes: &[usize]) -> Answer {
    assert_eq!(sizes.iter().sum::<usize>(), bytes.len());
    let mut url = session["upload_url"].as_str().unwrap().to_owned();
    let mut at = 0;
    let mut last = None;
    for (i, size) in sizes.iter().enumerate() {
        let answer = ctx.put(&url, &bytes[at..at + size]).await;
        at += size;
        if i + 1 < sizes.len() {
            assert_eq!(answer.status, 202, "part {}: {}", i + 1, answer.text());
            let json = answer.json();
            assert_eq!(json["part"], i + 1);
            assert_eq!(json["received"], at, "the part's end");
            url = json["next_url"].as_str().unwrap().to_owned();
        }
        last = Some(answer);
    }
    last.unwrap()
}

async fn parts_of_any_size_up_to_the_limit_make_the_file(ctx: Ctx) {
    let bytes = pattern(3 * PART as usize + 77, 21);
    let session = ctx.open_ok("mixed.bin", bytes.len()).await;
    let sizes = [100, PART as usize, 1, 513, PART as usize, bytes.len() - 2662];
    let last = send_sized(&ctx, &session, &bytes, &sizes).await;
    assert_eq!(last.status, 200, "{}", last.text());
    let file = last.json();
    assert_eq!(file["sha256"], sha256_hex(&bytes));
    let link = file["_links"]["signed_download"]["href"].as_str().unwrap();
    assert_eq!(ctx.download(link, None).await.body, bytes);
    // Ranges read the recorded pieces, across their boundaries.
    let range = ctx.download(link, Some("bytes=90-1700")).await;
    assert_eq!(range.status, 206);
    assert_eq!(range.body, &bytes[90..=1700]);
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_parts_of_any_size_up_to_the_limit_make_the_file() {
    parts_of_any_size_up_to_the_limit_make_the_file(Ctx::new(Backend::Sqlite).await).await;
}

#[tokio::test]
async fn postgres_parts_of_any_size_up_to_the_limit_make_the_file() {
    parts_of_any_size_up_to_the_limit_make_the_file(Ctx::new(Backend::Postgres).await).await;
}

#[tokio::test]
async fn postgres_and_s3_parts_of_any_size_up_to_the_limit_make_the_file() {
    let server = S3Server::start();
    let url = format!("s3://{}/mixed", server.bucket);
    let blobs: Arc<dyn BlobStore> =
        Arc::new(S3Store::from_builder(&url, server.builder()).unwrap());
    let ctx = Ctx::with(Backend::Postgres, settings(), Some(blobs)).await;
    parts_of_any_size_up_to_the_limit_make_the_file(ctx).await;
}

/// Kommo's own example session answers `max_part_size: 131072`; a client
/// may cut parts that small from a server that offers 512 KiB.
async fn a_kommo_client_cutting_128_kib_parts_of_a_512_kib_session(backend: Backend) {
    let settings = Settings { max_part_size: 512 * 1024, ..Settings::default() };
    let ctx = Ctx::with(backend, settings, None).await;
    let bytes = pattern(1024 * 1024 + 5000, 22);
    let session = ctx.open_ok("kommo.bin", bytes.len()).await;
    assert_eq!(session["max_part_size"], 512 * 1024);
    let mut sizes = vec![128 * 1024; 8];
    sizes.push(5000);
    let last = send_sized(&ctx, &session, &bytes, &sizes).await;
    assert_eq!(last.status, 200, "{}", last.text());
    let file = last.json();
    assert_eq!(file["sha256"], sha256_hex(&bytes));
    assert_eq!(file["size"], bytes.len());
    let link = file["_links"]["signed_download"]["href"].as_str().unwrap();
    assert_eq!(ctx.download(link, None).await.body, bytes);
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_a_kommo_client_cutting_128_kib_parts_of_a_512_kib_session() {
    a_kommo_client_cutting_128_kib_parts_of_a_512_kib_session(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_kommo_client_cutting_128_kib_parts_of_a_512_kib_session() {
    a_kommo_client_cutting_128_kib_parts_of_a_512_kib_session(Backend::Postgres).await;
}

/// A client may ask for its own part size (beyond Kommo): larger parts
/// on local disk, where a part streams to its place; on S3, where a part
/// is held whole, no more than `--max-part-size`.
async fn a_client_may_ask_for_its_part_size(ctx: Ctx, on_s3: bool) {
    let mib = 1024 * 1024;
    let bytes = pattern(2 * mib + mib / 2, 23);
    let asked = if on_s3 { 128 * 1024 } else { mib };
    let opened = ctx
        .open(json!({"file_name": "big.bin", "file_size": bytes.len(), "max_part_size": asked}))
        .await;
    assert_eq!(opened.status, 200, "{}", opened.text());
    let session = opened.json();
    assert_eq!(session["max_part_size"], asked);
    assert_eq!(session["part_count"], bytes.len().div_ceil(asked));
    // A part over the size asked for is refused before anything is kept.
    let url = session["upload_url"].as_str().unwrap();
    ctx.put(url, &bytes[..asked + 1]).await.problem(413, "body-too-large");
    // The resume point keeps the session's size.
    let resumed = send(&ctx.router, get(&path_of(url))).await.json();
    assert_eq!(
        (resumed["max_part_size"].as_u64(), resumed["received"].as_u64()),
        (Some(asked as u64), Some(0))
    );
    let sizes: Vec<usize> = bytes.chunks(asked).map(<[u8]>::len).collect();
    let last = send_sized(&ctx, &session, &bytes, &sizes).await;
    assert_eq!(last.status, 200, "{}", last.text());
    assert_eq!(last.json()["sha256"], sha256_hex(&bytes));

    // More than the server's largest gets the largest.
    let (too_big, largest) = if on_s3 { (256 * 1024, 128 * 1024) } else { (64 * mib, 16 * mib) };
    let opened =
        ctx.open(json!({"file_name": "x.bin", "file_size": 10, "max_part_size": too_big})).await;
    assert_eq!(opened.status, 200, "{}", opened.text());
    assert_eq!(opened.json()["max_part_size"], largest);
    for wrong in [json!(1000), json!(65_601), json!("lots")] {
        let opened =
            ctx.open(json!({"file_name": "x.bin", "file_size": 10, "max_part_size": wrong})).await;
        let problem = opened.problem(400, "validation");
        assert!(problem["detail"].as_str().unwrap().contains("max_part_size"), "{problem}");
    }
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_a_client_may_ask_for_its_part_size() {
    let settings = Settings { max_part_size: 512 * 1024, max_file_size: 1 << 26, ..settings() };
    a_client_may_ask_for_its_part_size(Ctx::with(Backend::Sqlite, settings, None).await, false)
        .await;
}

#[tokio::test]
async fn postgres_a_client_may_ask_for_its_part_size() {
    let settings = Settings { max_part_size: 512 * 1024, max_file_size: 1 << 26, ..settings() };
    a_client_may_ask_for_its_part_size(Ctx::with(Backend::Postgres, settings, None).await, false)
        .await;
}

#[tokio::test]
async fn postgres_and_s3_a_client_may_ask_for_its_part_size() {
    let server = S3Server::start();
    let url = format!("s3://{}/asked", server.bucket);
    let blobs: Arc<dyn BlobStore> =
        Arc::new(S3Store::from_builder(&url, server.builder()).unwrap());
    let settings = Settings { max_part_size: 128 * 1024, max_file_size: 1 << 26, ..settings() };
    let ctx = Ctx::with(Backend::Postgres, settings, Some(blobs)).await;
    a_client_may_ask_for_its_part_size(ctx, true).await;
}

/// The URL of part `k` from the session's template.
fn templated(session: &Value, k: usize) -> String {
    session["part_url_template"].as_str().unwrap().replace("{part}", &k.to_string())
}

async fn parts_inside_the_window_arrive_in_any_order_at_once(ctx: Ctx) {
    let bytes = pattern(7 * PART as usize + 333, 23);
    let session = ctx.open_ok("window.bin", bytes.len()).await;
    assert_eq!(session["window"], WINDOW);
    let parts: Vec<&[u8]> = bytes.chunks(PART as usize).collect();
    assert_eq!(parts.len(), 8);
    // Parts 3, 1 and 2 at once: all inside the window of 3.
    let (u1, u2, u3) = (templated(&session, 1), templated(&session, 2), templated(&session, 3));
    let (c, a, b) =
        tokio::join!(ctx.put(&u3, parts[2]), ctx.put(&u1, parts[0]), ctx.put(&u2, parts[1]));
    for (answer, k) in [(&a, 1), (&b, 2), (&c, 3)] {
        assert_eq!(answer.status, 202, "part {k}: {}", answer.text());
        assert_eq!(answer.json()["part"], k);
        assert_eq!(answer.json()["received"], k * PART as usize);
    }
    let resume = send(&ctx.router, get(&path_of(session["upload_url"].as_str().unwrap()))).await;
    let resume = resume.json();
    assert_eq!(resume["received"], 3 * PART);
    assert_eq!(resume["next_part"], 4);
    assert_eq!(resume["window"], WINDOW);
    // Part 7 is past the window (3 parts past byte 3 * PART): 409 with
    // the resume point; part 6 lies inside it, ahead of a gap.
    let beyond = ctx.put(&templated(&session, 7), parts[6]).await;
    let body = beyond.problem(409, "part-out-of-order");
    assert_eq!((body["received"].as_u64(), body["next_part"].as_u64()), (Some(3 * PART), Some(4)));
    assert_eq!(ctx.put(&templated(&session, 6), parts[5]).await.status, 202);
    let resume = send(&ctx.router, get(&path_of(session["upload_url"].as_str().unwrap()))).await;
    assert_eq!(resume.json()["ranges"], json!([[0, 3 * PART], [5 * PART, 6 * PART]]));
    // The rest, the last part first; the part that fills the last gap
    // completes the file.
    assert_eq!(ctx.put(&templated(&session, 8), parts[7]).await.status, 409, "past the window");
    let (u4, u5) = (templated(&session, 4), templated(&session, 5));
    let (d, e) = tokio::join!(ctx.put(&u5, parts[4]), ctx.put(&u4, parts[3]));
    assert_eq!((d.status.as_u16(), e.status.as_u16()), (202, 202), "{} {}", d.text(), e.text());
    let seven = ctx.put(&templated(&session, 7), parts[6]).await;
    assert_eq!(seven.status, 202, "{}", seven.text());
    let last = ctx.put(&templated(&session, 8), parts[7]).await;
    assert_eq!(last.status, 200, "{}", last.text());
    let file = last.json();
    assert_eq!(file["sha256"], sha256_hex(&bytes));
    let link = file["_links"]["signed_download"]["href"].as_str().unwrap();
    assert_eq!(ctx.download(link, None).await.body, bytes);
    // Sent again after the end, a part is answered as before.
    let again = ctx.put(&templated(&session, 2), parts[1]).await;
    assert_eq!(again.status, 202);
    assert_eq!(again.json(), b.json());
    ctx.put(&templated(&session, 2), &pattern(PART as usize, 99))
        .await
        .problem(409, "part-conflict");
    // A part number past the file is no part at all.
    ctx.put(&templated(&session, 9), b"x").await.problem(404, "not-found");
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_parts_inside_the_window_arrive_in_any_order_at_once() {
    parts_inside_the_window_arrive_in_any_order_at_once(Ctx::new(Backend::Sqlite).await).await;
}

#[tokio::test]
async fn postgres_parts_inside_the_window_arrive_in_any_order_at_once() {
    parts_inside_the_window_arrive_in_any_order_at_once(Ctx::new(Backend::Postgres).await).await;
}

#[tokio::test]
async fn postgres_and_s3_parts_inside_the_window_arrive_in_any_order_at_once() {
    let server = S3Server::start();
    let url = format!("s3://{}/window", server.bucket);
    let blobs: Arc<dyn BlobStore> =
        Arc::new(S3Store::from_builder(&url, server.builder()).unwrap());
    let ctx = Ctx::with(Backend::Postgres, settings(), Some(blobs)).await;
    parts_inside_the_window_arrive_in_any_order_at_once(ctx).await;
}

/// Bytes the whole-file digest has read back from the store so far.
fn read_back(ctx: &Ctx) -> u64 {
    ctx.app.state.ingest.read_back.load(std::sync::atomic::Ordering::Relaxed)
}

/// Pieces that overtook the digest are read back by a task of the
/// session's own once the piece before them is in, with no later request
/// to carry them; the part whose bytes let the stored run reach the
/// file's end reads back what is left itself, and answers with the file.
async fn the_digest_reads_back_overtaking_parts_off_the_request_path(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let bytes = pattern(4 * PART as usize + 5, 31);
    let parts: Vec<&[u8]> = bytes.chunks(PART as usize).collect();
    let session = ctx.open_ok("overtaken.bin", bytes.len()).await;
    // Part 2 overtakes part 1: nothing continues the digest yet.
    assert_eq!(ctx.put(&templated(&session, 2), parts[1]).await.status, 202);
    assert_eq!(read_back(&ctx), 0);
    // Part 1 continues it (hashed as it arrived) and answers; part 2 is
    // read back afterwards, without any request waiting for it.
    assert_eq!(ctx.put(&templated(&session, 1), parts[0]).await.status, 202);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while read_back(&ctx) < PART {
        assert!(std::time::Instant::now() < deadline, "part 2 was never read back");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(read_back(&ctx), PART, "part 2, once");
    // The last part first, then part 3: part 3 fills the last gap, so it
    // takes the last part in (read back) and answers with the file.
    assert_eq!(ctx.put(&templated(&session, 5), parts[4]).await.status, 202);
    assert_eq!(ctx.put(&templated(&session, 4), parts[3]).await.status, 202);
    let third = ctx.put(&templated(&session, 3), parts[2]).await;
    assert_eq!(third.status, 200, "{}", third.text());
    assert_eq!(third.json()["sha256"], sha256_hex(&bytes));
    let link = third.json()["_links"]["signed_download"]["href"].as_str().unwrap().to_owned();
    assert_eq!(ctx.download(&link, None).await.body, bytes);
    // Parts 4 and 5 were read back, by part 3's request; part 3 never was.
    assert_eq!(read_back(&ctx), PART + PART + 5);
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_the_digest_reads_back_overtaking_parts_off_the_request_path() {
    the_digest_reads_back_overtaking_parts_off_the_request_path(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_the_digest_reads_back_overtaking_parts_off_the_request_path() {
    the_digest_reads_back_overtaking_parts_off_the_request_path(Backend::Postgres).await;
}

/// A part request whose connection dies after `sent` bytes of `bytes`.
fn cut_request(url: &str, bytes: &[u8], sent: usize) -> Request<Body> {
    let first: Result<bytes::Bytes, std::io::Error> = Ok(bytes[..sent].to_vec().into());
    let cut = Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset"));
    let stream = futures::stream::iter([first, cut]);
    Request::post(path_of(url))
        .header(header::CONTENT_LENGTH, bytes.len())
        .body(Body::from_stream(stream))
        .unwrap()
}

async fn a_part_cut_off_midway_resumes_where_its_bytes_stopped(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let bytes = pattern(2 * PART as usize + 50, 31);
    let session = ctx.open_ok("cut.bin", bytes.len()).await;
    let first = session["upload_url"].as_str().unwrap().to_owned();
    let second = ctx.put(&first, &bytes[..PART as usize]).await.json()["next_url"]
        .as_str()
        .unwrap()
        .to_owned();
    // Part 2 loses its connection after 600 of its 1024 bytes: on local
    // disk they are kept, and the resume point moves past them.
    let cut = send(&ctx.router, cut_request(&second, &bytes[1024..2048], 600)).await;
    assert!(cut.status.is_client_error(), "{}", cut.text());
    let resume = send(&ctx.router, get(&path_of(&first))).await.json();
    assert_eq!(resume["received"], 1024 + 600);
    assert_eq!(resume["next_part"], 3, "the rest of part 2 goes as the next part");
    // The client sends only what is missing, from the resume point's URL.
    let rest = ctx.put(resume["next_url"].as_str().unwrap(), &bytes[1624..2048]).await;
    assert_eq!(rest.status, 202, "{}", rest.text());
    assert_eq!(rest.json()["received"], 2048);
    let third = rest.json()["next_url"].as_str().unwrap().to_owned();
    // A Kommo client that sends the whole part again is answered too: the
    // bytes already stored are compared, not written twice.
    let whole = ctx.put(&second, &bytes[1024..2048]).await;
    assert_eq!(whole.status, 202, "{}", whole.text());
    assert_eq!(whole.json()["received"], 2048);
    let last = ctx.put(&third, &bytes[2048..]).await;
    assert_eq!(last.status, 200, "{}", last.text());
    assert_eq!(last.json()["sha256"], sha256_hex(&bytes));
    let link = last.json()["_links"]["signed_download"]["href"].as_str().unwrap().to_owned();
    assert_eq!(ctx.download(&link, None).await.body, bytes);

    // Cut off again, then sent whole at once: the kept bytes are compared
    // and the rest is stored.
    let session = ctx.open_ok("cut-again.bin", bytes.len()).await;
    let first = session["upload_url"].as_str().unwrap().to_owned();
    send(&ctx.router, cut_request(&first, &bytes[..1024], 300)).await;
    let whole = ctx.put(&first, &bytes[..1024]).await;
    assert_eq!(whole.status, 202, "{}", whole.text());
    // Different bytes over the kept ones: 409, nothing stored.
    let session = ctx.open_ok("cut-other.bin", bytes.len()).await;
    let first = session["upload_url"].as_str().unwrap().to_owned();
    send(&ctx.router, cut_request(&first, &bytes[..1024], 300)).await;
    ctx.put(&first, &pattern(1024, 99)).await.problem(409, "part-conflict");
    assert_eq!(send(&ctx.router, get(&path_of(&first))).await.json()["received"], 300);
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_a_part_cut_off_midway_resumes_where_its_bytes_stopped() {
    a_part_cut_off_midway_resumes_where_its_bytes_stopped(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_part_cut_off_midway_resumes_where_its_bytes_stopped() {
    a_part_cut_off_midway_resumes_where_its_bytes_stopped(Backend::Postgres).await;
}

#[tokio::test]
async fn on_s3_a_part_cut_off_midway_is_sent_again_whole() {
    let server = S3Server::start();
    let url = format!("s3://{}/cut", server.bucket);
    let blobs: Arc<dyn BlobStore> =
        Arc::new(S3Store::from_builder(&url, server.builder()).unwrap());
    let ctx = Ctx::with(Backend::Postgres, settings(), Some(blobs)).await;
    let bytes = pattern(PART as usize + 10, 32);
    let session = ctx.open_ok("cut.bin", bytes.len()).await;
    let first = session["upload_url"].as_str().unwrap().to_owned();
    send(&ctx.router, cut_request(&first, &bytes[..1024], 600)).await;
    assert_eq!(send(&ctx.router, get(&path_of(&first))).await.json()["received"], 0);
    let next =
        ctx.put(&first, &bytes[..1024]).await.json()["next_url"].as_str().unwrap().to_owned();
    let last = ctx.put(&next, &bytes[1024..]).await;
    assert_eq!(last.json()["sha256"], sha256_hex(&bytes));
    ctx.cleanup().await;
}

/// A part request whose body sends `first` and then waits for more until
/// the returned sender is dropped.
fn held_request(
    url: &str,
    first: &[u8],
    len: usize,
) -> (Request<Body>, tokio::sync::mpsc::Sender<()>) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
    let first: Result<bytes::Bytes, std::io::Error> = Ok(first.to_vec().into());
    let rest = futures::stream::poll_fn(move |cx| match rx.poll_recv(cx) {
        std::task::Poll::Ready(_) => std::task::Poll::Ready(None),
        std::task::Poll::Pending => std::task::Poll::Pending,
    });
    use futures::StreamExt;
    let stream = futures::stream::iter([first]).chain(rest.map(Ok::<bytes::Bytes, std::io::Error>));
    let request = Request::post(path_of(url))
        .header(header::CONTENT_LENGTH, len)
        .body(Body::from_stream(stream))
        .unwrap();
    (request, tx)
}

async fn no_session_or_account_holds_more_than_its_share(backend: Backend) {
    let settings = Settings { parts_per_account: 4, ..settings() };
    let ctx = Ctx::with(backend, settings, None).await;
    let bytes = pattern(8 * PART as usize, 41);
    let session = ctx.open_ok("share.bin", bytes.len()).await;
    // The window's worth of parts on the wire, their bodies unfinished.
    let mut held = Vec::new();
    for k in 1..=WINDOW as usize {
        let (request, tx) = held_request(&templated(&session, k), &bytes[..10], PART as usize);
        let router = ctx.router.clone();
        held.push((tokio::spawn(async move { send(&router, request).await }), tx));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // One more part of the same upload: 429 at once, body unread.
    let more = ctx.put(&templated(&session, 4), &bytes[3 * 1024..4 * 1024]).await;
    assert!(more.problem(429, "too-many-requests")["detail"].as_str().unwrap().contains("upload"));
    assert_eq!(more.header("retry-after"), Some("1"));
    // Another upload of the account gets the one share left, then no more.
    let other = ctx.open_ok("other.bin", bytes.len()).await;
    let (request, tx) = held_request(other["upload_url"].as_str().unwrap(), &bytes[..10], 1024);
    let router = ctx.router.clone();
    held.push((tokio::spawn(async move { send(&router, request).await }), tx));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let third = ctx.open_ok("third.bin", bytes.len()).await;
    let refused = ctx.put(third["upload_url"].as_str().unwrap(), &bytes[..1024]).await;
    assert!(refused.problem(429, "too-many-requests")["detail"]
        .as_str()
        .unwrap()
        .contains("account"));
    // Another account is not held up.
    let token = ctx.app.token("globex", "files").await;
    let theirs = send(
        &ctx.router,
        with_token(
            "POST",
            "/v1.0/sessions",
            &token,
            Some(json!({"file_name": "g", "file_size": 10})),
        ),
    )
    .await
    .json();
    assert_eq!(ctx.put(theirs["upload_url"].as_str().unwrap(), &bytes[..10]).await.status, 200);
    // Once the held requests end, their shares are free again.
    for (task, tx) in held {
        drop(tx);
        task.await.unwrap();
    }
    // (The cut bodies left 10 bytes of each part; the upload goes on.)
    let resume = send(&ctx.router, get(&path_of(session["upload_url"].as_str().unwrap()))).await;
    let rest = ctx.put(resume.json()["next_url"].as_str().unwrap(), &bytes[10..1024]).await;
    assert_eq!(rest.status, 202, "{}", rest.text());
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_no_session_or_account_holds_more_than_its_share() {
    no_session_or_account_holds_more_than_its_share(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_no_session_or_account_holds_more_than_its_share() {
    no_session_or_account_holds_more_than_its_share(Backend::Postgres).await;
}

#[tokio::test]
async fn a_body_that_trickles_slower_than_the_minimum_rate_is_dropped() {
    let settings = Settings {
        min_upload_rate: 1000,
        min_rate_grace: Duration::from_millis(300),
        ..settings()
    };
    let ctx = Ctx::with(Backend::Sqlite, settings, None).await;
    let bytes = pattern(2 * PART as usize, 42);
    let session = ctx.open_ok("slow.bin", bytes.len()).await;
    let url = session["upload_url"].as_str().unwrap().to_owned();
    let (request, _tx) = held_request(&url, &bytes[..10], PART as usize);
    let started = std::time::Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(10), send(&ctx.router, request))
        .await
        .expect("the slow body is dropped, not waited for");
    answer.problem(408, "body-too-slow");
    assert!(started.elapsed() < Duration::from_secs(5));
    // What arrived is kept: the rest goes from the resume point.
    let resume = send(&ctx.router, get(&path_of(&url))).await.json();
    assert_eq!(resume["received"], 10);
    let rest = ctx.put(resume["next_url"].as_str().unwrap(), &bytes[10..1024]).await;
    assert_eq!(rest.status, 202, "{}", rest.text());
    ctx.cleanup().await;
}

/// A refused completion takes its last piece back only while nothing
/// moved: not once another node completed the session or the digest moved.
async fn a_refused_last_piece_is_taken_back_only_while_nothing_moved(backend: Backend) {
    use satchel::store::sessions::DigestCursor;
    let ctx = Ctx::new(backend).await;
    let bytes = pattern(2 * PART as usize, 43);
    let session = ctx.open_ok("back.bin", bytes.len()).await;
    let id = session["session_id"].as_i64().unwrap();
    let url = session["upload_url"].as_str().unwrap();
    let next = ctx.put(url, &bytes[..1024]).await.json()["next_url"].as_str().unwrap().to_owned();
    let db = &ctx.app.state.db;
    let record = db.session(id).await.unwrap().unwrap();
    // Where the database has the digest (the process may hold it further).
    let at = DigestCursor { upto: record.digest_upto, state: record.digest_state.clone() };
    let key = db.pieces(id).await.unwrap()[0].blob_key.clone();
    let start = DigestCursor { upto: 0, state: None };
    let elsewhere = DigestCursor { upto: at.upto + 1, state: None };
    // The digest is not where the caller read it: nothing happens.
    assert!(!db.take_back_piece(id, &elsewhere, &start, 0, &key).await.unwrap());
    // Another blob key (the piece was sent again meanwhile): nothing.
    assert!(!db.take_back_piece(id, &at, &start, 0, "uploads/other").await.unwrap());
    assert_eq!(db.pieces(id).await.unwrap().len(), 1);
    assert_eq!(db.session(id).await.unwrap().unwrap().digest_upto, at.upto);
    // Completed: nothing is taken back any more.
    let done = ctx.put(&next, &bytes[1024..]).await;
    assert_eq!(done.status, 200, "{}", done.text());
    let end =
        DigestCursor { upto: 2048, state: db.session(id).await.unwrap().unwrap().digest_state };
    let last_key = db.pieces(id).await.unwrap()[1].blob_key.clone();
    assert!(!db.take_back_piece(id, &end, &at, 1024, &last_key).await.unwrap());
    let link = done.json()["_links"]["signed_download"]["href"].as_str().unwrap().to_owned();
    assert_eq!(ctx.download(&link, None).await.body, bytes, "the file is whole");
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_a_refused_last_piece_is_taken_back_only_while_nothing_moved() {
    a_refused_last_piece_is_taken_back_only_while_nothing_moved(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_refused_last_piece_is_taken_back_only_while_nothing_moved() {
    a_refused_last_piece_is_taken_back_only_while_nothing_moved(Backend::Postgres).await;
}

async fn part_rules_hold(ctx: Ctx) {
    let bytes = pattern(3 * PART as usize, 2);
    let session = ctx.open_ok("data.bin", bytes.len()).await;
    let url1 = session["upload_url"].as_str().unwrap().to_owned();

    // An empty part before the end, or a part past the end: 400
    // part-size, nothing stored.
    ctx.put(&url1, &[]).await.problem(400, "part-size");
    let small = ctx.open_ok("small.bin", 100).await;
    let past = ctx.put(small["upload_url"].as_str().unwrap(), &bytes[..101]).await;
    assert!(past.problem(400, "part-size")["detail"].as_str().unwrap().contains("past the end"));
    // Bigger than a part may ever be: 413 before reading.
    ctx.put(&url1, &vec![0u8; PART as usize + 1]).await.problem(413, "body-too-large");
    // A Content-Digest that does not match: 460, nothing stored.
    let wrong = content_digest(b"something else");
    let answer = send(&ctx.router, part_request(&url1, &bytes[..1024], Some(&wrong))).await;
    answer.problem(460, "checksum-mismatch");
    let resume = send(&ctx.router, get(&path_of(&url1))).await.json();
    assert_eq!(resume["received"], 0);
    assert_eq!(resume["next_part"], 1);

    // The right digest is accepted.
    let right = content_digest(&bytes[..1024]);
    let first = send(&ctx.router, part_request(&url1, &bytes[..1024], Some(&right))).await;
    assert_eq!(first.status, 202, "{}", first.text());
    let first = first.json();
    let url2 = first["next_url"].as_str().unwrap().to_owned();

    // A replay of a stored part with equal bytes gets the first answer.
    let second = ctx.put(&url2, &bytes[1024..2048]).await.json();
    let replay = ctx.put(&url2, &bytes[1024..2048]).await;
    assert_eq!(replay.status, 202);
    assert_eq!(replay.json(), second, "a replay with equal bytes gets the first answer");
    let url3 = second["next_url"].as_str().unwrap().to_owned();

    // Fresh session d: part 4 lies past the window while part 1 is missing.
    let bytes_d = pattern(5 * PART as usize, 2);
    let session_d = ctx.open_ok("fourth.bin", bytes_d.len()).await;
    let d1 = session_d["upload_url"].as_str().unwrap().to_owned();
    let ahead = ctx.put(&url_for_part(&ctx, &d1, WINDOW + 1).await, &bytes_d[3072..4096]).await;
    let body = ahead.problem(409, "part-out-of-order");
    assert_eq!(body["next_part"], 1);
    assert_eq!(body["received"], 0);
    assert_eq!(path_of(body["next_url"].as_str().unwrap()), path_of(&d1));

    // A replay of a stored part with other bytes: 409 part-conflict.
    ctx.put(&url2, &pattern(1024, 99)).await.problem(409, "part-conflict");

    // The last part completes; replaying it returns the same file.
    let done = ctx.put(&url3, &bytes[2048..]).await;
    assert_eq!(done.status, 200);
    let again = ctx.put(&url3, &bytes[2048..]).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["uuid"], done.json()["uuid"]);
    assert_eq!(again.json()["sha256"], sha256_hex(&bytes));

    // A forged or mangled token: 404.
    send(&ctx.router, part_request("/upload/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", b"", None))
        .await
        .problem(404, "not-found");
    send(&ctx.router, get("/upload/not-a-token")).await.problem(404, "not-found");
    ctx.cleanup().await;
}

/// The URL of part `n` of the session behind `upload_url`, minted with the
/// app's key as a client that guessed ahead would hold it.
async fn url_for_part(ctx: &Ctx, upload_url: &str, n: u32) -> String {
    let resume = send(&ctx.router, get(&path_of(upload_url))).await.json();
    let session_id = resume["session_id"].as_i64().unwrap();
    ctx.app.state.part_url(session_id, n, u64::from(n - 1) * PART)
}

#[tokio::test]
async fn sqlite_part_rules_hold() {
    part_rules_hold(Ctx::new(Backend::Sqlite).await).await;
}

#[tokio::test]
async fn postgres_part_rules_hold() {
    part_rules_hold(Ctx::new(Backend::Postgres).await).await;
}

async fn racing_requests_store_a_part_once(ctx: Ctx) {
    let bytes = pattern(2 * PART as usize, 3);
    let session = ctx.open_ok("race.bin", bytes.len()).await;
    let url = session["upload_url"].as_str().unwrap();
    let (a, b, c) = tokio::join!(
        ctx.put(url, &bytes[..1024]),
        ctx.put(url, &bytes[..1024]),
        ctx.put(url, &bytes[..1024])
    );
    for answer in [&a, &b, &c] {
        assert_eq!(answer.status, 202, "{}", answer.text());
        assert_eq!(answer.json(), a.json(), "every racer gets the same answer");
    }
    let rows: i64 = sqlx::query_scalar("select count(*) from upload_pieces where session_id = $1")
        .bind(session["session_id"].as_i64().unwrap())
        .fetch_one(ctx.app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(rows, 1);

    // Racers with different bytes: one wins, the others get 409.
    let next = a.json()["next_url"].as_str().unwrap().to_owned();
    let other = pattern(1024, 77);
    let (x, y) = tokio::join!(ctx.put(&next, &bytes[1024..]), ctx.put(&next, &other));
    let statuses = [x.status.as_u16(), y.status.as_u16()];
    assert!(statuses.contains(&200) && statuses.contains(&409), "{statuses:?}");
    let file = if x.status == 200 { x.json() } else { y.json() };
    let link = file["_links"]["signed_download"]["href"].as_str().unwrap();
    let downloaded = ctx.download(link, None).await.body;
    assert_eq!(sha256_hex(&downloaded), file["sha256"].as_str().unwrap(), "bytes match the digest");
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_racing_requests_store_a_part_once() {
    racing_requests_store_a_part_once(Ctx::new(Backend::Sqlite).await).await;
}

#[tokio::test]
async fn postgres_racing_requests_store_a_part_once() {
    racing_requests_store_a_part_once(Ctx::new(Backend::Postgres).await).await;
}

/// The same database and blobs seen by a new process: no session slots.
fn restarted(ctx: &Ctx) -> Router {
    let mut state = ctx.app.state.clone();
    state.ingest = Default::default();
    satchel::http::app(state)
}

async fn pieces_recorded_before_a_crash_moved_the_digest_are_taken_in_on_resume(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let bytes = pattern(4 * PART as usize, 11);
    let session = ctx.open_ok("torn.bin", bytes.len()).await;
    let first = session["upload_url"].as_str().unwrap().to_owned();
    let mut url = first.clone();
    for chunk in bytes.chunks(PART as usize).take(3) {
        url = ctx.put(&url, chunk).await.json()["next_url"].as_str().unwrap().to_owned();
    }
    // A crash after the pieces were recorded, before the digest moved
    // over them: the database holds the digest where it started.
    let id = session["session_id"].as_i64().unwrap();
    sqlx::query("update upload_sessions set digest_upto = 0, digest_state = null where id = $1")
        .bind(id)
        .execute(ctx.app.state.db.pool())
        .await
        .unwrap();
    let mut state = ctx.app.state.clone();
    state.ingest = Default::default();
    let router = satchel::http::app(state.clone());
    let resume = send(&router, get(&path_of(&first))).await.json();
    assert_eq!(resume["status"], "uploading");
    assert_eq!(
        (resume["next_part"].as_u64(), resume["received"].as_u64()),
        (Some(4), Some(3 * PART))
    );
    let record = state.db.session(id).await.unwrap().unwrap();
    let point = satchel::ingest::digest::point(&state, &record);
    assert_eq!(point.upto, 3 * PART as i64, "the resume point read the stored pieces back");
    let mut hashed = satchel::domain::digest::RunningDigest::new();
    hashed.update(&bytes[..3 * PART as usize]);
    let resumed = satchel::domain::digest::RunningDigest::resume(&point.state.unwrap()).unwrap();
    assert_eq!(resumed.finish(), hashed.finish(), "over the stored bytes");
    let last = send(&router, part_request(&url, &bytes[3 * PART as usize..], None)).await;
    assert_eq!(last.status, 200, "{}", last.text());
    let file = last.json();
    assert_eq!(file["sha256"], sha256_hex(&bytes));
    let link = file["_links"]["signed_download"]["href"].as_str().unwrap();
    assert_eq!(ctx.download(link, None).await.body, bytes, "downloads byte for byte");
    ctx.cleanup().await;
}

/// With room for one part body at a time, the first request after a
/// restart (which re-checks the last part) must not wait for memory it
/// already holds.
async fn the_first_part_after_a_restart_never_waits_on_itself(backend: Backend) {
    let one_body = Settings { upload_buffer: PART, ..settings() };
    let ctx = Ctx::with(backend, one_body, None).await;
    let bytes = pattern(3 * PART as usize, 12);
    let session = ctx.open_ok("one-slot.bin", bytes.len()).await;
    let first = session["upload_url"].as_str().unwrap();
    let second = ctx.put(first, &bytes[..PART as usize]).await.json()["next_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let router = restarted(&ctx);
    let request = part_request(&second, &bytes[PART as usize..2 * PART as usize], None);
    let answer = tokio::time::timeout(Duration::from_secs(10), send(&router, request))
        .await
        .expect("the part is taken, not stuck");
    assert_eq!(answer.status, 202, "{}", answer.text());
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_the_first_part_after_a_restart_never_waits_on_itself() {
    the_first_part_after_a_restart_never_waits_on_itself(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_the_first_part_after_a_restart_never_waits_on_itself() {
    the_first_part_after_a_restart_never_waits_on_itself(Backend::Postgres).await;
}

#[tokio::test]
async fn sqlite_pieces_recorded_before_a_crash_moved_the_digest_are_taken_in_on_resume() {
    pieces_recorded_before_a_crash_moved_the_digest_are_taken_in_on_resume(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_pieces_recorded_before_a_crash_moved_the_digest_are_taken_in_on_resume() {
    pieces_recorded_before_a_crash_moved_the_digest_are_taken_in_on_resume(Backend::Postgres).await;
}

async fn the_quota_holds_when_a_session_opens_and_when_it_completes(backend: Backend) {
    let quota = Settings { quota_bytes: Some(3 * PART), ..settings() };
    let ctx = Ctx::with(backend, quota, None).await;
    ctx.upload("a.bin", &pattern(2 * PART as usize, 1)).await;
    // 2 KiB kept: another 2 KiB does not fit, and nothing is opened.
    let refused = ctx.open(json!({"file_name": "b.bin", "file_size": 2 * PART})).await;
    let problem = refused.problem(400, "quota-exceeded");
    assert!(problem["detail"].as_str().unwrap().contains("2048 of its 3072 bytes"), "{problem}");
    assert_eq!(ctx.get_json("/v1.0/sessions").await.json()["_count"], 0);

    // An unfinished session holds the size it declared: with 1 KiB left,
    // one 1 KiB session opens and a second does not, though no byte of
    // the first has arrived.
    let first = ctx.open_ok("c.bin", PART as usize).await;
    let refused = ctx.open(json!({"file_name": "d.bin", "file_size": PART})).await;
    let problem = refused.problem(400, "quota-exceeded");
    assert!(problem["detail"].as_str().unwrap().contains("3072 of its 3072 bytes"), "{problem}");
    // Cancelling the first gives its share back.
    let cancel = Request::delete(path_of(first["upload_url"].as_str().unwrap()));
    assert_eq!(send(&ctx.router, cancel.body(Body::empty()).unwrap()).await.status, 204);
    let second = ctx.open_ok("d.bin", PART as usize).await;
    ctx.send_all(&second, &pattern(PART as usize, 3)).await;
    ctx.open(json!({"file_name": "f.bin", "file_size": 1})).await.problem(400, "quota-exceeded");

    // Another account has a quota of its own.
    let other = ctx.app.token("globex", "files").await;
    let theirs = json!({"file_name": "e.bin", "file_size": 3 * PART});
    let opened =
        send(&ctx.router, with_token("POST", "/v1.0/sessions", &other, Some(theirs))).await;
    assert_eq!(opened.status, 200, "{}", opened.text());
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_the_quota_holds_when_a_session_opens_and_when_it_completes() {
    the_quota_holds_when_a_session_opens_and_when_it_completes(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_the_quota_holds_when_a_session_opens_and_when_it_completes() {
    the_quota_holds_when_a_session_opens_and_when_it_completes(Backend::Postgres).await;
}

/// Ages a completed session's grace for replays away, as if
/// `ingest::lifetime::REPLAY_GRACE_SECS` had passed.
async fn age_completion(ctx: &Ctx, session_id: i64, seconds: i64) {
    sqlx::query("update upload_sessions set completed_at = completed_at - $1 where id = $2")
        .bind(seconds)
        .bind(session_id)
        .execute(ctx.app.state.db.pool())
        .await
        .unwrap();
}

async fn a_completed_uploads_urls_grant_replays_then_only_its_uuid(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let bytes = pattern(2 * PART as usize + 10, 4);
    let session = ctx.open_ok("done.bin", bytes.len()).await;
    let id = session["session_id"].as_i64().unwrap();
    let url = session["upload_url"].as_str().unwrap().to_owned();
    let second =
        ctx.put(&url, &bytes[..1024]).await.json()["next_url"].as_str().unwrap().to_owned();
    let third =
        ctx.put(&second, &bytes[1024..2048]).await.json()["next_url"].as_str().unwrap().to_owned();
    let file = ctx.put(&third, &bytes[2048..]).await.json();
    let uuid = file["uuid"].as_str().unwrap();

    // The resume point names the file and nothing else: no links.
    let resume = send(&ctx.router, get(&path_of(&url))).await;
    assert_eq!(resume.status, 200);
    assert_eq!(resume.json(), json!({"session_id": id, "status": "completed", "file_uuid": uuid}));
    // Within the grace a lost answer is asked again and given again.
    let replay = ctx.put(&third, &bytes[2048..]).await;
    assert_eq!((replay.status.as_u16(), replay.json()["uuid"].as_str()), (200, Some(uuid)));
    ctx.put(&third, &pattern(10, 9)).await.problem(409, "part-conflict");

    // Past the grace the URL takes nothing, and still says only that the
    // upload completed.
    age_completion(&ctx, id, satchel::ingest::lifetime::REPLAY_GRACE_SECS).await;
    let late = ctx.put(&third, &bytes[2048..]).await;
    assert!(late.problem(410, "session-completed")["detail"].as_str().unwrap().contains("token"));
    ctx.put(&url, &bytes[..1024]).await.problem(410, "session-completed");
    let resume = send(&ctx.router, get(&path_of(&second))).await.json();
    assert_eq!(resume, json!({"session_id": id, "status": "completed", "file_uuid": uuid}));
    let cancel = Request::delete(path_of(&url)).body(Body::empty()).unwrap();
    send(&ctx.router, cancel).await.problem(400, "validation");

    // When the session's time is up, the URL names nothing at all.
    sqlx::query("update upload_sessions set expires_at = 0 where id = $1")
        .bind(id)
        .execute(ctx.app.state.db.pool())
        .await
        .unwrap();
    let resume = send(&ctx.router, get(&path_of(&url))).await.json();
    assert_eq!((resume["status"].as_str(), resume.get("file_uuid")), (Some("expired"), None));
    ctx.put(&third, &bytes[2048..]).await.problem(410, "session-expired");
    // The file itself is the token holder's, as ever.
    assert_eq!(ctx.get_json(&format!("/v1.0/files/{uuid}")).await.status, 200);
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_a_completed_uploads_urls_grant_replays_then_only_its_uuid() {
    a_completed_uploads_urls_grant_replays_then_only_its_uuid(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_a_completed_uploads_urls_grant_replays_then_only_its_uuid() {
    a_completed_uploads_urls_grant_replays_then_only_its_uuid(Backend::Postgres).await;
}

async fn listed_sessions_show_their_urls_only_to_their_opener(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let opener = ctx.app.token("acme", "files,crm").await;
    let open = json!({"file_name": "mine.bin", "file_size": 3 * PART});
    let opened = send(&ctx.router, with_token("POST", "/v1.0/sessions", &opener, Some(open))).await;
    let upload_url = opened.json()["upload_url"].as_str().unwrap().to_owned();
    let list = |token: String| {
        let router = ctx.router.clone();
        async move {
            let answer = send(&router, with_token("GET", "/v1.0/sessions", &token, None)).await;
            assert_eq!(answer.status, 200, "{}", answer.text());
            answer.json()["_embedded"]["sessions"][0].clone()
        }
    };
    let own = list(opener.clone()).await;
    assert_eq!(own["upload_url"].as_str(), Some(upload_url.as_str()));
    assert!(own["next_url"].is_string());
    // A widget token the opener issued acts for the same user.
    let issued = send(&ctx.router, with_token("POST", "/api/v4/files/issue_token", &opener, None));
    let widget = issued.await.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(list(widget).await["upload_url"].as_str(), Some(upload_url.as_str()));
    // Another token of the account sees the session, not its credential.
    let other = list(ctx.token.clone()).await;
    assert_eq!(other["file_name"], "mine.bin");
    assert!(other["upload_url"].is_null() && other["next_url"].is_null(), "{other}");
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_listed_sessions_show_their_urls_only_to_their_opener() {
    listed_sessions_show_their_urls_only_to_their_opener(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_listed_sessions_show_their_urls_only_to_their_opener() {
    listed_sessions_show_their_urls_only_to_their_opener(Backend::Postgres).await;
}

async fn an_account_opens_only_so_many_sessions_at_once(backend: Backend) {
    let capped = Settings { open_sessions_per_account: 2, ..settings() };
    let ctx = Ctx::with(backend, capped, None).await;
    let first = ctx.open_ok("1.bin", 10).await;
    ctx.open_ok("2.bin", 10).await;
    let refused = ctx.open(json!({"file_name": "3.bin", "file_size": 10})).await;
    let problem = refused.problem(429, "too-many-requests");
    assert!(problem["detail"].as_str().unwrap().contains("2 unfinished uploads"), "{problem}");
    assert_eq!(ctx.get_json("/v1.0/sessions").await.json()["_count"], 2, "nothing opened");
    // Another account counts its own.
    let other = ctx.app.token("globex", "files").await;
    let theirs = json!({"file_name": "x.bin", "file_size": 10});
    let answer = send(&ctx.router, with_token("POST", "/v1.0/sessions", &other, Some(theirs)));
    assert_eq!(answer.await.status, 200);
    // A completed session is no longer unfinished.
    ctx.send_all(&first, &pattern(10, 1)).await;
    ctx.open_ok("3.bin", 10).await;
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_an_account_opens_only_so_many_sessions_at_once() {
    an_account_opens_only_so_many_sessions_at_once(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_an_account_opens_only_so_many_sessions_at_once() {
    an_account_opens_only_so_many_sessions_at_once(Backend::Postgres).await;
}

/// The key id a part URL's token was signed with.
fn key_of(url: &str) -> u16 {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let token = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    let bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
    u16::from_be_bytes([bytes[0], bytes[1]])
}

async fn rotated_keys_sign_new_urls_while_old_ones_live_out_their_time(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let state = &ctx.app.state;
    let file = ctx.upload("old.bin", &pattern(100, 1)).await;
    let old_link = file["_links"]["signed_download"]["href"].as_str().unwrap().to_owned();
    let bytes = pattern(2 * PART as usize, 2);
    let session = ctx.open_ok("across.bin", bytes.len()).await;
    let old_url = session["upload_url"].as_str().unwrap().to_owned();
    assert_eq!(key_of(&old_url), 0);
    // A second node on the same database, started before the rotation.
    let keys = state.db.signing_keys(satchel::store::now_unix()).await.unwrap();
    let retention = satchel::state::key_retention(&state.settings);
    let other = satchel::state::AppState::new(
        state.db.clone(),
        state.blobs.clone(),
        (*state.settings).clone(),
        satchel::domain::signing::Keyring::new(keys, retention),
        state.leptos.clone(),
    );
    let other = satchel::http::app(other);

    assert_eq!(state.db.rotate_signing_key(satchel::store::now_unix()).await.unwrap(), 1);
    state.reload_keys().await.unwrap(); // this node's sweep
    let first = ctx.put(&old_url, &bytes[..PART as usize]).await;
    assert_eq!(first.status, 202, "a URL of the old key still takes its part");
    let next = first.json()["next_url"].as_str().unwrap().to_owned();
    assert_eq!(key_of(&next), 1, "the new key signs");
    // The other node has not loaded key 1: it learns it from the token.
    let last = send(&other, part_request(&next, &bytes[PART as usize..], None)).await;
    assert_eq!(last.status, 200, "{}", last.text());
    assert!(last.json()["_links"]["signed_download"]["href"].as_str().unwrap().contains(".1."));
    assert_eq!(ctx.download(&old_link, None).await.status, 200, "the old link lives on");

    // Once key 0 was superseded longer ago than anything it signed can
    // live, what it signed is refused.
    sqlx::query("update signing_keys set created_at = created_at - $1 where id = 1")
        .bind(retention)
        .execute(state.db.pool())
        .await
        .unwrap();
    state.reload_keys().await.unwrap();
    assert_eq!(ctx.download(&old_link, None).await.status, 403);
    send(&ctx.router, get(&path_of(&old_url))).await.problem(404, "not-found");
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_rotated_keys_sign_new_urls_while_old_ones_live_out_their_time() {
    rotated_keys_sign_new_urls_while_old_ones_live_out_their_time(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_rotated_keys_sign_new_urls_while_old_ones_live_out_their_time() {
    rotated_keys_sign_new_urls_while_old_ones_live_out_their_time(Backend::Postgres).await;
}

async fn whole_file_digest_is_enforced_on_the_last_part(ctx: Ctx) {
    let bytes = pattern(PART as usize + 10, 4);
    let answer = ctx
        .open(json!({"file_name": "a.bin", "file_size": bytes.len(), "sha256": sha256_hex(&bytes)}))
        .await;
    let session = answer.json();
    let url = session["upload_url"].as_str().unwrap();
    let next = ctx.put(url, &bytes[..1024]).await.json()["next_url"].as_str().unwrap().to_owned();
    let mut wrong = bytes[1024..].to_vec();
    wrong[0] ^= 1;
    ctx.put(&next, &wrong).await.problem(460, "checksum-mismatch");
    let resume = send(&ctx.router, get(&path_of(url))).await.json();
    assert_eq!(resume["status"], "uploading", "the session stays open");
    assert_eq!(resume["next_part"], 2);
    let done = ctx.put(&next, &bytes[1024..]).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(done.json()["sha256"], sha256_hex(&bytes));

    ctx.open(json!({"file_name": "a.bin", "file_size": 1, "sha256": "xyz"}))
        .await
        .problem(400, "validation");

    // A client that hashes as it sends announces the file's digest with
    // the last part instead (Repr-Digest).
    let session = ctx.open_ok("b.bin", bytes.len()).await;
    let url = session["upload_url"].as_str().unwrap();
    // On a part that is not the last, Repr-Digest means nothing yet.
    let first = Request::post(path_of(url))
        .header("repr-digest", "not a digest")
        .body(Body::from(bytes[..1024].to_vec()))
        .unwrap();
    let first = send(&ctx.router, first).await;
    assert_eq!(first.status, 202, "{}", first.text());
    let next = first.json()["next_url"].as_str().unwrap().to_owned();
    let last = |repr: &str| {
        Request::post(path_of(&next))
            .header("repr-digest", repr)
            .body(Body::from(bytes[1024..].to_vec()))
            .unwrap()
    };
    let other_file = content_digest(&wrong);
    send(&ctx.router, last(&other_file)).await.problem(460, "checksum-mismatch");
    send(&ctx.router, last("sha-256=:nope:")).await.problem(400, "validation");
    assert_eq!(send(&ctx.router, get(&path_of(url))).await.json()["next_part"], 2);
    // RFC 9530 parameters after the value are allowed.
    let done = send(&ctx.router, last(&format!("{};p=1", content_digest(&bytes)))).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(done.json()["sha256"], sha256_hex(&bytes));
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_whole_file_digest_is_enforced_on_the_last_part() {
    whole_file_digest_is_enforced_on_the_last_part(Ctx::new(Backend::Sqlite).await).await;
}

#[tokio::test]
async fn postgres_whole_file_digest_is_enforced_on_the_last_part() {
    whole_file_digest_is_enforced_on_the_last_part(Ctx::new(Backend::Postgres).await).await;
}

async fn session_requests_are_validated(ctx: Ctx) {
    let too_big = ctx.open(json!({"file_name": "big.iso", "file_size": 64 * PART + 1})).await;
    let body = too_big.problem(400, "file-too-large");
    assert!(body["detail"].as_str().unwrap().contains("65537"));
    ctx.open(json!({"file_name": "  ", "file_size": 1})).await.problem(400, "validation");
    ctx.open(json!({"file_name": "a\u{7}b", "file_size": 1})).await.problem(400, "validation");
    ctx.open(json!({"file_name": "x".repeat(256), "file_size": 1}))
        .await
        .problem(400, "validation");
    ctx.open(json!({"file_name": "a", "file_size": -1})).await.problem(400, "validation");
    ctx.open(json!({"file_size": 1})).await.problem(400, "validation");
    let garbage = Request::post("/v1.0/sessions")
        .header(header::AUTHORIZATION, format!("Bearer {}", ctx.token))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    send(&ctx.router, garbage).await.problem(400, "validation");
    let unknown = ctx.open(json!({"file_name": "a", "file_size": 1, "file_uuid": "nope"})).await;
    unknown.problem(404, "not-found");

    // Scopes and tokens.
    let crm = ctx.app.token("acme", "crm").await;
    let request =
        with_token("POST", "/v1.0/sessions", &crm, Some(json!({"file_name": "a", "file_size": 1})));
    send(&ctx.router, request).await.problem(403, "forbidden");
    let anonymous = Request::post("/v1.0/sessions")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"file_name": "a", "file_size": 1}).to_string()))
        .unwrap();
    send(&ctx.router, anonymous).await.problem(401, "unauthorized");

    // The content type is the client's, or guessed from the extension.
    let png = ctx.upload("shot.PNG", &pattern(10, 1)).await;
    assert_eq!(png["type"], "image");
    assert_eq!(png["metadata"]["mime_type"], "image/png");
    let s = ctx
        .open(json!({"file_name": "x.dat", "file_size": 0, "content_type": "text/csv"}))
        .await
        .json();
    let file = ctx.send_all(&s, &[]).await;
    assert_eq!(file["metadata"]["mime_type"], "text/csv");
    assert_eq!(file["size"], 0);
    assert_eq!(file["sha256"], sha256_hex(b""), "zero-byte files have one empty part");
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_session_requests_are_validated() {
    session_requests_are_validated(Ctx::new(Backend::Sqlite).await).await;
}

#[tokio::test]
async fn postgres_session_requests_are_validated() {
    session_requests_are_validated(Ctx::new(Backend::Postgres).await).await;
}

async fn sessions_resume_list_cancel_and_expire(backend: Backend) {
    let ctx =
        Ctx::with(backend, Settings { session_ttl: Duration::from_secs(2), ..settings() }, None)
            .await;
    let bytes = pattern(3 * PART as usize, 5);
    let session = ctx.open_ok("resume.bin", bytes.len()).await;
    let url = session["upload_url"].as_str().unwrap().to_owned();
    let next = ctx.put(&url, &bytes[..1024]).await.json()["next_url"].as_str().unwrap().to_owned();

    // Any part URL answers the resume point.
    for u in [&url, &next] {
        let resume = send(&ctx.router, get(&path_of(u))).await;
        assert_eq!(resume.status, 200);
        let resume = resume.json();
        assert_eq!(resume["status"], "uploading");
        assert_eq!(resume["received"], 1024);
        assert_eq!(resume["next_part"], 2);
        assert_eq!(resume["file_size"], bytes.len());
        assert_eq!(resume["file_name"], "resume.bin");
        assert_eq!(path_of(resume["next_url"].as_str().unwrap()), path_of(&next));
        assert!(resume["file"].is_null());
    }

    // The account's unfinished sessions; another account sees none.
    let listed = ctx.get_json("/v1.0/sessions").await.json();
    assert_eq!(listed["_count"], 1);
    assert_eq!(listed["_embedded"]["sessions"][0]["received"], 1024);
    let other = ctx.app.token("globex", "files").await;
    let theirs = send(&ctx.router, with_token("GET", "/v1.0/sessions", &other, None)).await.json();
    assert_eq!(theirs["_count"], 0);

    // Cancel: 204, the parts' bytes are gone, the URL is dead.
    let to_cancel = ctx.open_ok("cancel.bin", bytes.len()).await;
    let c1 = to_cancel["upload_url"].as_str().unwrap().to_owned();
    assert_eq!(send(&ctx.router, get(&path_of(&c1))).await.json()["received"], 0);
    ctx.put(&c1, &bytes[..1024]).await;
    let blob_files_before = count_files(ctx.app.db.dir());
    let cancel = Request::delete(path_of(&c1)).body(Body::empty()).unwrap();
    assert_eq!(send(&ctx.router, cancel).await.status, 204);
    assert_eq!(count_files(ctx.app.db.dir()), blob_files_before - 1, "parts' blob deleted");
    ctx.put(&c1, &bytes[..1024]).await.problem(404, "not-found");

    // Past the TTL: 410, then the sweeper frees the parts.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    ctx.put(&next, &bytes[1024..2048]).await.problem(410, "session-expired");
    let resume = send(&ctx.router, get(&path_of(&url))).await.json();
    assert_eq!(resume["status"], "expired");
    let before = count_files(ctx.app.db.dir());
    let swept = satchel::jobs::sweep(&ctx.app.state).await.unwrap();
    assert_eq!(swept.sessions_expired, 1);
    assert_eq!(swept.parts_freed, 1);
    assert_eq!(count_files(ctx.app.db.dir()), before - 1);
    ctx.put(&next, &bytes[1024..2048]).await.problem(410, "session-expired");
    assert_eq!(ctx.get_json("/v1.0/sessions").await.json()["_count"], 0);
    ctx.cleanup().await;
}

fn count_files(dir: &std::path::Path) -> usize {
    fn walk(p: &std::path::Path) -> usize {
        std::fs::read_dir(p)
            .map(|entries| {
                entries.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum()
            })
            .unwrap_or(0)
    }
    walk(&dir.join("blobs").join("uploads"))
}

#[tokio::test]
async fn sqlite_sessions_resume_list_cancel_and_expire() {
    sessions_resume_list_cancel_and_expire(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_sessions_resume_list_cancel_and_expire() {
    sessions_resume_list_cancel_and_expire(Backend::Postgres).await;
}

async fn new_versions_become_active_and_old_ones_stay(ctx: Ctx) {
    let v1 = pattern(1500, 6);
    let file = ctx.upload("contract.docx", &v1).await;
    let uuid = file["uuid"].as_str().unwrap().to_owned();
    let v2 = pattern(700, 7);
    let session = ctx
        .open(json!({"file_name": "contract v2.docx", "file_size": v2.len(), "file_uuid": uuid}))
        .await
        .json();
    let updated = ctx.send_all(&session, &v2).await;
    assert_eq!(updated["uuid"], uuid.as_str(), "same file");
    assert_ne!(updated["version_uuid"], file["version_uuid"]);
    assert_eq!(updated["has_multiple_versions"], true);
    assert_eq!(updated["sha256"], sha256_hex(&v2));
    assert_eq!(updated["size"], v2.len());

    let versions = ctx.get_json(&format!("/v1.0/files/{uuid}/versions")).await.json();
    assert_eq!(versions["_count"], 2);
    let list = versions["_embedded"]["versions"].as_array().unwrap();
    assert_eq!(list[0]["uuid"], updated["version_uuid"], "newest first");
    assert_eq!(list[0]["is_main"], true);
    assert_eq!(list[1]["uuid"], file["version_uuid"]);
    assert_eq!(list[1]["is_main"], false);
    assert_eq!(list[1]["file_uuid"], uuid.as_str());

    // The old version downloads, by its own link and by bearer token.
    let old =
        ctx.download(list[1]["_links"]["signed_download"]["href"].as_str().unwrap(), None).await;
    assert_eq!(old.body, v1);
    let path = format!("/download/{uuid}/{}/x", file["version_uuid"].as_str().unwrap());
    let by_token = send(&ctx.router, with_token("GET", &path, &ctx.token, None)).await;
    assert_eq!(by_token.body, v1);
    let one = ctx
        .get_json(&format!(
            "/v1.0/files/{uuid}/versions/{}",
            file["version_uuid"].as_str().unwrap()
        ))
        .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["sha256"], sha256_hex(&v1));

    // Without a token or with a tampered link: refused.
    send(&ctx.router, get(&path)).await.problem(401, "unauthorized");
    let link = list[1]["_links"]["signed_download"]["href"].as_str().unwrap();
    let tampered = link
        .replace(file["version_uuid"].as_str().unwrap(), updated["version_uuid"].as_str().unwrap());
    ctx.download(&tampered, None).await.problem(403, "forbidden");

    // Another account: the file does not exist for it.
    let other = ctx.app.token("globex", "files").await;
    let theirs =
        send(&ctx.router, with_token("GET", &format!("/v1.0/files/{uuid}"), &other, None)).await;
    theirs.problem(404, "not-found");
    send(&ctx.router, with_token("GET", &path, &other, None)).await.problem(404, "not-found");
    let foreign = with_token(
        "POST",
        "/v1.0/sessions",
        &other,
        Some(json!({"file_name": "x", "file_size": 1, "file_uuid": uuid})),
    );
    send(&ctx.router, foreign).await.problem(404, "not-found");

    // A trashed file takes no new version, hides, and does not download.
    sqlx::query("update files set deleted_at = 1 where uuid = $1")
        .bind(&uuid)
        .execute(ctx.app.state.db.pool())
        .await
        .unwrap();
    ctx.open(json!({"file_name": "v3", "file_size": 1, "file_uuid": uuid}))
        .await
        .problem(400, "file-trashed");
    ctx.get_json(&format!("/v1.0/files/{uuid}")).await.problem(404, "not-found");
    let shown = ctx.get_json(&format!("/v1.0/files/{uuid}?with=deleted")).await;
    assert_eq!(shown.json()["is_trashed"], true);
    ctx.download(link, None).await.problem(404, "not-found");
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_new_versions_become_active_and_old_ones_stay() {
    new_versions_become_active_and_old_ones_stay(Ctx::new(Backend::Sqlite).await).await;
}

#[tokio::test]
async fn postgres_new_versions_become_active_and_old_ones_stay() {
    new_versions_become_active_and_old_ones_stay(Ctx::new(Backend::Postgres).await).await;
}

fn png_bytes(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 77]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

async fn images_uploaded_with_preview_get_previews(ctx: Ctx) {
    let photo = png_bytes(1000, 500);
    let session = ctx
        .open(json!({"file_name": "photo.png", "file_size": photo.len(), "with_preview": true}))
        .await
        .json();
    let file = ctx.send_all(&session, &photo).await;
    let previews = file["previews"].as_array().unwrap_or_else(|| panic!("previews: {file}"));
    let sizes: Vec<_> =
        previews.iter().map(|p| (p["width"].clone(), p["height"].clone())).collect();
    assert_eq!(sizes, vec![(json!(200), json!(100)), (json!(800), json!(400))]);
    let small = ctx.download(previews[0]["download_link"].as_str().unwrap(), None).await;
    assert_eq!(small.status, 200, "{}", small.text());
    assert_eq!(small.header("content-type"), Some("image/jpeg"));
    let decoded = image::load_from_memory(&small.body).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (200, 100));

    // The same previews on the file and its version; a forged link is refused.
    let uuid = file["uuid"].as_str().unwrap();
    let fetched = ctx.get_json(&format!("/v1.0/files/{uuid}")).await.json();
    assert_eq!(fetched["previews"].as_array().unwrap().len(), 2);
    let versions = ctx.get_json(&format!("/v1.0/files/{uuid}/versions")).await.json();
    assert_eq!(versions["_embedded"]["versions"][0]["previews"].as_array().unwrap().len(), 2);
    let forged =
        previews[0]["download_link"].as_str().unwrap().replace("/preview/200", "/preview/800");
    ctx.download(&forged, None).await.problem(403, "forbidden");

    // Without with_preview, or for bytes that are not an image: none, and
    // the upload still succeeds.
    assert!(ctx.upload("plain.png", &photo).await["previews"].is_null());
    let broken = ctx
        .open(json!({"file_name": "broken.png", "file_size": 900, "with_preview": true}))
        .await
        .json();
    let file = ctx.send_all(&broken, &pattern(900, 3)).await;
    assert!(file["previews"].is_null());
    ctx.cleanup().await;
}

#[tokio::test]
async fn sqlite_images_uploaded_with_preview_get_previews() {
    let settings = Settings { max_file_size: 64 * 1024 * 1024, ..settings() };
    images_uploaded_with_preview_get_previews(Ctx::with(Backend::Sqlite, settings, None).await)
        .await;
}

#[tokio::test]
async fn postgres_images_uploaded_with_preview_get_previews() {
    let settings = Settings { max_file_size: 64 * 1024 * 1024, ..settings() };
    images_uploaded_with_preview_get_previews(Ctx::with(Backend::Postgres, settings, None).await)
        .await;
}
