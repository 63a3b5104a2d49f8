//! The tus 1.0.0 face (`/tus`): creation, offsets, appends streamed as
//! parts, checksums (header and trailer), termination, expiry, and the
//! protocol's refusals; each finished upload checked through the Files
//! API. On SQLite and PostgreSQL, local disk.

use std::{sync::Arc, time::Duration};

use axum::{
    body::{Body, Bytes},
    http::{HeaderMap, Request},
};
use base64::{engine::general_purpose::STANDARD, Engine as _};
use futures::stream;
use http_body_util::StreamBody;
use hyper::body::Frame;
use satchel::{
    blob::{BlobStore, S3Store},
    state::Settings,
    testing::{Backend, S3Server, TestApp},
};
use serde_json::Value;
use support::{path_of, pattern, send, sha256_hex, with_token, Answer};

use crate::support;

const PART: usize = 512 * 1024;

struct Ctx {
    app: TestApp,
    router: axum::Router,
    token: String,
}

impl Ctx {
    async fn new(backend: Backend) -> Ctx {
        Ctx::with(backend, Settings::default()).await
    }

    async fn with(backend: Backend, settings: Settings) -> Ctx {
        Ctx::on(backend, settings, None).await
    }

    async fn on(backend: Backend, settings: Settings, blobs: Option<Arc<dyn BlobStore>>) -> Ctx {
        let app = TestApp::with(backend, settings, blobs).await;
        let token = app.token("acme", "files").await;
        Ctx { router: app.router(), app, token }
    }

    /// A tus request: `Tus-Resumable: 1.0.0` and these headers.
    async fn tus(&self, method: &str, uri: &str, headers: &[(&str, &str)], body: Body) -> Answer {
        let mut request =
            Request::builder().method(method).uri(uri).header("tus-resumable", "1.0.0");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        send(&self.router, request.body(body).unwrap()).await
    }

    /// Creates an upload of `length` bytes named `name`; its path.
    async fn create(&self, length: usize, name: &str) -> String {
        let auth = format!("Bearer {}", self.token);
        let metadata = format!(
            "filename {},filetype {}",
            STANDARD.encode(name),
            STANDARD.encode("application/pdf")
        );
        let length = length.to_string();
        let headers = [
            ("authorization", auth.as_str()),
            ("upload-length", &length),
            ("upload-metadata", &metadata),
        ];
        let created = self.tus("POST", "/tus", &headers, Body::empty()).await;
        assert_eq!(created.status, 201, "{}", created.text());
        path_of(created.header("location").unwrap())
    }

    async fn patch(
        &self,
        path: &str,
        offset: usize,
        bytes: &[u8],
        extra: &[(&str, &str)],
    ) -> Answer {
        let offset = offset.to_string();
        let length = bytes.len().to_string();
        let mut headers = vec![
            ("content-type", "application/offset+octet-stream"),
            ("upload-offset", &offset),
            ("content-length", &length),
        ];
        headers.extend_from_slice(extra);
        self.tus("PATCH", path, &headers, Body::from(bytes.to_vec())).await
    }

    /// A PATCH of all `bytes` from offset 0 whose connection breaks after
    /// `arrived` of them.
    async fn cut_patch(&self, path: &str, bytes: &[u8], arrived: usize) {
        let chunks: Vec<Result<Bytes, std::io::Error>> = bytes[..arrived]
            .chunks(64 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .chain([Err(std::io::Error::other("connection reset"))])
            .collect();
        let length = bytes.len().to_string();
        let headers = [
            ("content-type", "application/offset+octet-stream"),
            ("upload-offset", "0"),
            ("content-length", length.as_str()),
        ];
        let cut = self.tus("PATCH", path, &headers, Body::from_stream(stream::iter(chunks))).await;
        assert!(cut.status.is_client_error(), "{}", cut.status);
    }

    async fn offset(&self, path: &str) -> u64 {
        let head = self.tus("HEAD", path, &[], Body::empty()).await;
        assert_eq!(head.status, 200, "{}", head.text());
        head.header("upload-offset").unwrap().parse().unwrap()
    }

    /// The file the finished upload's answer names, through the Files API.
    async fn file_of(&self, answer: &Answer) -> Value {
        let uuid = answer.header("satchel-file-uuid").expect("the file's uuid");
        assert!(answer.header("satchel-file").unwrap().ends_with(&format!("/v1.0/files/{uuid}")));
        let file = send(
            &self.router,
            with_token("GET", &format!("/v1.0/files/{uuid}"), &self.token, None),
        )
        .await;
        assert_eq!(file.status, 200, "{}", file.text());
        file.json()
    }
}

fn checksum(algorithm: &str, bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = match algorithm {
        "sha1" => <sha1::Sha1 as sha1::Digest>::digest(bytes).to_vec(),
        "md5" => <md5::Md5 as md5::Digest>::digest(bytes).to_vec(),
        _ => sha2::Sha256::digest(bytes).to_vec(),
    };
    format!("{algorithm} {}", STANDARD.encode(digest))
}

async fn options_say_what_is_offered(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let answer = send(&ctx.router, Request::options("/tus").body(Body::empty()).unwrap()).await;
    assert_eq!(answer.status, 204);
    assert_eq!(answer.header("tus-version"), Some("1.0.0"));
    let extensions: Vec<&str> = answer.header("tus-extension").unwrap().split(',').collect();
    for extension in [
        "creation",
        "creation-with-upload",
        "creation-defer-length",
        "expiration",
        "checksum",
        "checksum-trailer",
        "termination",
        "concatenation",
        "concatenation-unfinished",
    ] {
        assert!(extensions.contains(&extension), "{extension}");
    }
    assert_eq!(
        answer.header("tus-max-size"),
        Some((2u64 * 1024 * 1024 * 1024).to_string().as_str())
    );
    assert_eq!(answer.header("tus-checksum-algorithm"), Some("sha1,sha256,md5"));
    ctx.app.cleanup().await;
}

async fn a_large_patch_is_stored_as_parts_and_makes_a_file(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let bytes = pattern(3 * PART + 12_345, 7);
    let path = ctx.create(bytes.len(), "report.pdf").await;
    let head = ctx.tus("HEAD", &path, &[("origin", "https://crm.example")], Body::empty()).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("upload-offset"), Some("0"));
    // A page on another origin may read what the faces answer.
    assert_eq!(head.header("access-control-allow-origin"), Some("*"));
    let exposed = head.header("access-control-expose-headers").unwrap().to_owned();
    for name in
        ["upload-offset", "upload-complete", "upload-limit", "satchel-file-uuid", "location"]
    {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
    assert_eq!(head.header("upload-length"), Some(bytes.len().to_string().as_str()));
    assert_eq!(head.header("cache-control"), Some("no-store"));
    assert_eq!(head.header("tus-resumable"), Some("1.0.0"));
    assert!(head.header("upload-expires").unwrap().ends_with(" GMT"));
    let metadata = head.header("upload-metadata").unwrap();
    assert!(
        metadata.contains(&format!("filename {}", STANDARD.encode("report.pdf"))),
        "{metadata}"
    );

    // Two and a half parts in one PATCH, then the rest.
    let first = 2 * PART + PART / 2;
    let stored = ctx.patch(&path, 0, &bytes[..first], &[]).await;
    assert_eq!(stored.status, 204, "{}", stored.text());
    assert_eq!(stored.header("upload-offset"), Some(first.to_string().as_str()));
    assert!(stored.header("satchel-file-uuid").is_none());
    assert_eq!(ctx.offset(&path).await, first as u64);

    let done = ctx.patch(&path, first, &bytes[first..], &[]).await;
    assert_eq!(done.status, 204, "{}", done.text());
    assert_eq!(done.header("upload-offset"), Some(bytes.len().to_string().as_str()));
    let file = ctx.file_of(&done).await;
    assert_eq!(file["sha256"], sha256_hex(&bytes));
    assert_eq!(file["size"], bytes.len());
    assert_eq!(file["name"], "report");
    assert_eq!(file["metadata"]["mime_type"], "application/pdf");

    // HEAD on the finished upload names the file too; a PATCH at the end
    // with nothing in it is a no-op.
    let head = ctx.tus("HEAD", &path, &[], Body::empty()).await;
    assert_eq!(head.header("upload-offset"), Some(bytes.len().to_string().as_str()));
    assert_eq!(head.header("satchel-file-uuid"), file["uuid"].as_str());
    let again = ctx.patch(&path, bytes.len(), b"", &[]).await;
    assert_eq!(again.status, 204, "{}", again.text());
    ctx.app.cleanup().await;
}

/// One PATCH far larger than a piece on local disk: each piece carries
/// the whole-file digest on as its bytes arrive, so none is read back.
async fn a_streamed_patch_hashes_each_byte_once(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let bytes = pattern(40 * 1024 * 1024 + 77, 3);
    let path = ctx.create(bytes.len(), "big.bin").await;
    let chunks: Vec<Result<Bytes, std::io::Error>> =
        bytes.chunks(256 * 1024).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let length = bytes.len().to_string();
    let headers = [
        ("content-type", "application/offset+octet-stream"),
        ("upload-offset", "0"),
        ("content-length", length.as_str()),
    ];
    let done = ctx.tus("PATCH", &path, &headers, Body::from_stream(stream::iter(chunks))).await;
    assert_eq!(done.status, 204, "{}", done.text());
    assert_eq!(ctx.file_of(&done).await["sha256"], sha256_hex(&bytes));
    let read_back = ctx.app.state.ingest.read_back.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(read_back, 0, "bytes the digest read back from the store");
    ctx.app.cleanup().await;
}

async fn the_protocol_refuses_what_it_must(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let auth = format!("Bearer {}", ctx.token);
    // No version, another version: 412 naming the one served.
    let request = Request::post("/tus").header("authorization", &auth).header("upload-length", "5");
    let none = send(&ctx.router, request.body(Body::empty()).unwrap()).await;
    none.problem(412, "unsupported-version");
    assert_eq!(none.header("tus-version"), Some("1.0.0"));
    let request =
        Request::post("/tus").header("tus-resumable", "0.2.2").header("authorization", &auth);
    send(&ctx.router, request.body(Body::empty()).unwrap())
        .await
        .problem(412, "unsupported-version");
    // Creation: a token, a length, within the maximum, good metadata.
    let refused = ctx.tus("POST", "/tus", &[("upload-length", "5")], Body::empty()).await;
    refused.problem(401, "unauthorized");
    assert_eq!(refused.header("tus-resumable"), Some("1.0.0"));
    let kommo_only = ctx.app.token("acme", "crm").await;
    let crm = format!("Bearer {kommo_only}");
    ctx.tus("POST", "/tus", &[("authorization", &crm), ("upload-length", "5")], Body::empty())
        .await
        .problem(403, "forbidden");
    let detail = ctx
        .tus("POST", "/tus", &[("authorization", &auth)], Body::empty())
        .await
        .problem(400, "validation");
    assert!(detail["detail"].as_str().unwrap().contains("Upload-Length"));
    ctx.tus("POST", "/tus", &[("authorization", &auth), ("upload-length", "-5")], Body::empty())
        .await
        .problem(400, "validation");
    let huge = (3u64 << 30).to_string();
    ctx.tus("POST", "/tus", &[("authorization", &auth), ("upload-length", &huge)], Body::empty())
        .await
        .problem(413, "body-too-large");
    let bad = ctx
        .tus(
            "POST",
            "/tus",
            &[
                ("authorization", &auth),
                ("upload-length", "5"),
                ("upload-metadata", "filename ???"),
            ],
            Body::empty(),
        )
        .await;
    assert!(bad.problem(400, "validation")["detail"].as_str().unwrap().contains("base64"));

    let bytes = pattern(1000, 3);
    let path = ctx.create(bytes.len(), "a.txt").await;
    // PATCH: its content type, an offset, the right offset, within length.
    let untyped =
        ctx.tus("PATCH", &path, &[("upload-offset", "0")], Body::from(bytes.clone())).await;
    untyped.problem(415, "unsupported-media-type");
    let no_offset = ctx
        .tus(
            "PATCH",
            &path,
            &[("content-type", "application/offset+octet-stream")],
            Body::from(bytes.clone()),
        )
        .await;
    no_offset.problem(400, "validation");
    let ahead = ctx.patch(&path, 10, &bytes[10..], &[]).await;
    let problem = ahead.problem(409, "mismatching-upload-offset");
    assert_eq!(
        (problem["expected-offset"].as_u64(), problem["provided-offset"].as_u64()),
        (Some(0), Some(10))
    );
    let mut longer = bytes.clone();
    longer.push(0);
    ctx.patch(&path, 0, &longer, &[]).await.problem(413, "body-too-large");
    // The same without Content-Length (chunked): found while streaming.
    let chunked = [("content-type", "application/offset+octet-stream"), ("upload-offset", "0")];
    ctx.tus("PATCH", &path, &chunked, Body::from(longer.clone()))
        .await
        .problem(413, "body-too-large");
    // An empty body moves nothing.
    let empty = ctx.tus("PATCH", &path, &chunked, Body::empty()).await;
    assert_eq!((empty.status.as_u16(), empty.header("upload-offset")), (204, Some("0")));
    assert_eq!(ctx.offset(&path).await, 0, "nothing of a refused PATCH is kept");
    // A forged or unknown upload URL.
    assert_eq!(ctx.tus("HEAD", "/tus/not-a-token", &[], Body::empty()).await.status, 404);
    let forged = ctx.patch("/tus/not-a-token", 0, &bytes, &[]).await;
    forged.problem(404, "not-found");
    // Then the right bytes complete it.
    let done = ctx.patch(&path, 0, &bytes, &[]).await;
    assert_eq!(done.status, 204, "{}", done.text());
    assert_eq!(ctx.file_of(&done).await["sha256"], sha256_hex(&bytes));
    // A finished upload takes no more bytes and is not terminated.
    ctx.patch(&path, 0, &bytes, &[]).await.problem(409, "mismatching-upload-offset");
    ctx.tus("DELETE", &path, &[], Body::empty()).await.problem(400, "validation");
    ctx.app.cleanup().await;
}

async fn checksums_are_checked_before_anything_is_kept(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let bytes = pattern(PART + 100, 9);
    let path = ctx.create(bytes.len(), "c.bin").await;
    let first = &bytes[..PART];
    // A wrong digest: 460, nothing kept.
    let wrong = checksum("sha1", &bytes[1..PART + 1]);
    let refused = ctx.patch(&path, 0, first, &[("upload-checksum", &wrong)]).await;
    refused.problem(460, "checksum-mismatch");
    assert_eq!(ctx.offset(&path).await, 0);
    // An unknown algorithm or a malformed header: 400.
    let crc = ctx.patch(&path, 0, first, &[("upload-checksum", "crc32 AAAAAA==")]).await;
    assert!(crc.problem(400, "validation")["detail"].as_str().unwrap().contains("sha1,sha256,md5"));
    ctx.patch(&path, 0, first, &[("upload-checksum", "sha256 short")])
        .await
        .problem(400, "validation");
    // A checked body is held whole, so at most a part.
    let whole = checksum("md5", &bytes);
    ctx.patch(&path, 0, &bytes, &[("upload-checksum", &whole)])
        .await
        .problem(413, "body-too-large");
    // Right digests, each algorithm.
    let md5 = checksum("md5", &first[..1000]);
    let stored = ctx.patch(&path, 0, &first[..1000], &[("upload-checksum", &md5)]).await;
    assert_eq!(stored.status, 204, "{}", stored.text());
    let sha256 = checksum("sha256", &first[1000..]);
    assert_eq!(
        ctx.patch(&path, 1000, &first[1000..], &[("upload-checksum", &sha256)]).await.status,
        204
    );

    // checksum-trailer: announced in Trailer, sent after the body.
    let rest = Bytes::copy_from_slice(&bytes[PART..]);
    let mut trailers = HeaderMap::new();
    trailers.insert("upload-checksum", checksum("sha1", &rest).parse().unwrap());
    let frames = vec![Ok::<_, std::io::Error>(Frame::data(rest)), Ok(Frame::trailers(trailers))];
    let body = Body::new(StreamBody::new(stream::iter(frames)));
    let offset = PART.to_string();
    let headers = [
        ("content-type", "application/offset+octet-stream"),
        ("upload-offset", offset.as_str()),
        ("trailer", "Upload-Checksum"),
    ];
    let done = ctx.tus("PATCH", &path, &headers, body).await;
    assert_eq!(done.status, 204, "{}", done.text());
    assert_eq!(ctx.file_of(&done).await["sha256"], sha256_hex(&bytes));
    ctx.app.cleanup().await;
}

async fn a_trailer_that_does_not_match_keeps_nothing(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let bytes = pattern(2000, 4);
    let path = ctx.create(bytes.len(), "t.bin").await;
    let mut trailers = HeaderMap::new();
    trailers.insert("upload-checksum", checksum("sha256", b"other bytes").parse().unwrap());
    let frames = vec![
        Ok::<_, std::io::Error>(Frame::data(Bytes::from(bytes.clone()))),
        Ok(Frame::trailers(trailers)),
    ];
    let headers = [
        ("content-type", "application/offset+octet-stream"),
        ("upload-offset", "0"),
        ("trailer", "upload-checksum"),
    ];
    let refused =
        ctx.tus("PATCH", &path, &headers, Body::new(StreamBody::new(stream::iter(frames)))).await;
    refused.problem(460, "checksum-mismatch");
    assert_eq!(ctx.offset(&path).await, 0);
    // Announced but never sent: 400, nothing kept.
    let missing = ctx.tus("PATCH", &path, &headers, Body::from(bytes.clone())).await;
    missing.problem(400, "validation");
    assert_eq!(ctx.offset(&path).await, 0);
    ctx.app.cleanup().await;
}

async fn creation_with_upload_and_empty_files(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let auth = format!("Bearer {}", ctx.token);
    let bytes = pattern(PART + 5000, 5);
    let name = format!("filename {}", STANDARD.encode("both.bin"));
    let length = bytes.len().to_string();
    let headers = [
        ("authorization", auth.as_str()),
        ("upload-length", &length),
        ("upload-metadata", &name),
        ("content-type", "application/offset+octet-stream"),
    ];
    let created = ctx.tus("POST", "/tus", &headers, Body::from(bytes[..PART + 100].to_vec())).await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("upload-offset"), Some((PART + 100).to_string().as_str()));
    let path = path_of(created.header("location").unwrap());
    let done = ctx.patch(&path, PART + 100, &bytes[PART + 100..], &[]).await;
    assert_eq!(ctx.file_of(&done).await["sha256"], sha256_hex(&bytes));

    // A zero-byte upload is a file as soon as it is created.
    let empty =
        [("authorization", auth.as_str()), ("upload-length", "0"), ("upload-metadata", &name)];
    let created = ctx.tus("POST", "/tus", &empty, Body::empty()).await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.header("upload-offset"), Some("0"));
    assert_eq!(ctx.file_of(&created).await["size"], 0);
    ctx.app.cleanup().await;
}

async fn a_cut_body_keeps_what_arrived_and_resumes(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let bytes = pattern(3 * PART, 8);
    let path = ctx.create(bytes.len(), "cut.bin").await;
    // 1.5 parts arrive, then the connection breaks.
    let arrived = PART + PART / 2;
    ctx.cut_patch(&path, &bytes, arrived).await;
    let kept = ctx.offset(&path).await as usize;
    assert!(kept > PART && kept <= arrived, "kept {kept}");
    let done = ctx.patch(&path, kept, &bytes[kept..], &[]).await;
    assert_eq!(done.status, 204, "{}", done.text());
    assert_eq!(ctx.file_of(&done).await["sha256"], sha256_hex(&bytes));
    ctx.app.cleanup().await;
}

async fn termination_frees_the_upload(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let bytes = pattern(PART + 10, 2);
    let path = ctx.create(bytes.len(), "gone.bin").await;
    assert_eq!(ctx.patch(&path, 0, &bytes[..PART], &[]).await.status, 204);
    let gone = ctx.tus("DELETE", &path, &[], Body::empty()).await;
    assert_eq!(gone.status, 204, "{}", gone.text());
    assert_eq!(gone.header("tus-resumable"), Some("1.0.0"));
    assert_eq!(ctx.tus("HEAD", &path, &[], Body::empty()).await.status, 404);
    ctx.patch(&path, PART, &bytes[PART..], &[]).await.problem(404, "not-found");
    let list = send(&ctx.router, with_token("GET", "/v1.0/sessions", &ctx.token, None)).await;
    assert_eq!(list.json()["_count"], 0);
    ctx.app.cleanup().await;
}

async fn an_expired_upload_is_gone(backend: Backend) {
    let settings = Settings { session_ttl: Duration::from_secs(1), ..Settings::default() };
    let ctx = Ctx::with(backend, settings).await;
    let path = ctx.create(10, "late.bin").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(ctx.tus("HEAD", &path, &[], Body::empty()).await.status, 410);
    ctx.patch(&path, 0, &pattern(10, 1), &[]).await.problem(410, "session-expired");
    ctx.app.cleanup().await;
}

/// On PostgreSQL and S3 (s3s-fs): a PATCH stored as several pieces, one
/// cut midway. S3 keeps no partial object, so the offset falls back to the
/// last whole piece, and the client sends the rest from there.
#[tokio::test]
async fn on_postgres_and_s3_patches_are_pieces_and_a_cut_falls_back_to_the_last_whole_one() {
    let server = S3Server::start();
    let url = format!("s3://{}/uploads", server.bucket);
    let blobs: Arc<dyn BlobStore> =
        Arc::new(S3Store::from_builder(&url, server.builder()).unwrap());
    let ctx = Ctx::on(Backend::Postgres, Settings::default(), Some(blobs)).await;
    let bytes = pattern(4 * PART + 4321, 3);
    let path = ctx.create(bytes.len(), "s3.bin").await;
    let arrived = PART + PART / 2;
    ctx.cut_patch(&path, &bytes, arrived).await;
    assert_eq!(ctx.offset(&path).await, PART as u64, "the whole first piece, not the cut one");
    let done = ctx.patch(&path, PART, &bytes[PART..], &[]).await;
    assert_eq!(done.status, 204, "{}", done.text());
    let file = ctx.file_of(&done).await;
    assert_eq!(file["sha256"], sha256_hex(&bytes));
    let href = file["_links"]["signed_download"]["href"].as_str().unwrap();
    let downloaded =
        send(&ctx.router, Request::get(path_of(href)).body(Body::empty()).unwrap()).await;
    assert_eq!(sha256_hex(&downloaded.body), sha256_hex(&bytes));
    ctx.app.cleanup().await;
}

/// A request of the IETF draft at interop version `interop`.
async fn draft(
    ctx: &Ctx,
    interop: &str,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Body,
) -> Answer {
    let mut request =
        Request::builder().method(method).uri(uri).header("upload-draft-interop-version", interop);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let answer = send(&ctx.router, request.body(body).unwrap()).await;
    assert_eq!(answer.header("upload-draft-interop-version"), Some(interop));
    assert!(answer.header("tus-resumable").is_none());
    answer
}

async fn the_ietf_draft_creates_appends_and_cancels(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let auth = format!("Bearer {}", ctx.token);
    for interop in ["6", "8"] {
        let bytes = pattern(2 * PART + 777, 6);
        let length = bytes.len().to_string();
        let name = format!("filename {}", STANDARD.encode("draft.bin"));
        // Creation without content: Upload-Complete ?0, Upload-Length.
        let create = [
            ("authorization", auth.as_str()),
            ("upload-complete", "?0"),
            ("upload-length", &length),
            ("upload-metadata", &name),
        ];
        let created = draft(&ctx, interop, "POST", "/tus", &create, Body::empty()).await;
        assert_eq!(created.status, 201, "{}", created.text());
        assert_eq!(created.header("upload-complete"), Some("?0"));
        let limit = created.header("upload-limit").unwrap();
        assert!(limit.starts_with("max-size=2147483648, "), "{limit}");
        assert!(limit.contains(if interop == "6" { "expires=" } else { "max-age=" }), "{limit}");
        let path = path_of(created.header("location").unwrap());

        // Offset retrieval: 204, no-store; it refuses the append's headers.
        let head = draft(&ctx, interop, "HEAD", &path, &[], Body::empty()).await;
        assert_eq!(head.status, 204);
        assert_eq!(
            (head.header("upload-offset"), head.header("upload-complete")),
            (Some("0"), Some("?0"))
        );
        assert_eq!(head.header("upload-length"), Some(length.as_str()));
        assert_eq!(head.header("cache-control"), Some("no-store"));
        let bad = draft(&ctx, interop, "HEAD", &path, &[("upload-offset", "0")], Body::empty());
        assert_eq!(bad.await.status, 400, "HEAD answers carry no body");

        // Appends: application/partial-upload, the right offset.
        let first = PART + 100;
        let offset_0 = [
            ("content-type", "application/partial-upload"),
            ("upload-offset", "0"),
            ("upload-complete", "?0"),
        ];
        let tus_type =
            [("content-type", "application/offset+octet-stream"), ("upload-offset", "0")];
        draft(&ctx, interop, "PATCH", &path, &tus_type, Body::from(bytes[..first].to_vec()))
            .await
            .problem(415, "unsupported-media-type");
        let stored =
            draft(&ctx, interop, "PATCH", &path, &offset_0, Body::from(bytes[..first].to_vec()))
                .await;
        assert_eq!(stored.status, 204, "{}", stored.text());
        assert_eq!(
            (stored.header("upload-offset"), stored.header("upload-complete")),
            (Some(first.to_string().as_str()), Some("?0"))
        );
        // A wrong offset: 409 with the registered problem type and the offset.
        let again =
            draft(&ctx, interop, "PATCH", &path, &offset_0, Body::from(bytes[..10].to_vec())).await;
        assert_eq!(again.status, 409);
        let problem = again.json();
        assert_eq!(
            problem["type"],
            "https://iana.org/assignments/http-problem-types#mismatching-upload-offset"
        );
        assert_eq!(
            (problem["expected-offset"].as_u64(), problem["provided-offset"].as_u64()),
            (Some(first as u64), Some(0))
        );
        assert_eq!(again.header("upload-offset"), Some(first.to_string().as_str()));
        // "Complete" with too few bytes: inconsistent, nothing stored.
        let at = first.to_string();
        let len = (bytes.len() - first - 1).to_string();
        let short = [
            ("content-type", "application/partial-upload"),
            ("upload-offset", at.as_str()),
            ("upload-complete", "?1"),
            ("content-length", len.as_str()),
        ];
        let inconsistent = draft(
            &ctx,
            interop,
            "PATCH",
            &path,
            &short,
            Body::from(bytes[first..bytes.len() - 1].to_vec()),
        )
        .await;
        assert_eq!(inconsistent.status, 400);
        assert_eq!(
            inconsistent.json()["type"],
            "https://iana.org/assignments/http-problem-types#inconsistent-upload-length"
        );
        // The rest, complete.
        let last = [
            ("content-type", "application/partial-upload"),
            ("upload-offset", at.as_str()),
            ("upload-complete", "?1"),
        ];
        let done =
            draft(&ctx, interop, "PATCH", &path, &last, Body::from(bytes[first..].to_vec())).await;
        assert_eq!(done.status, 204, "{}", done.text());
        assert_eq!(done.header("upload-complete"), Some("?1"));
        assert_eq!(ctx.file_of(&done).await["sha256"], sha256_hex(&bytes));
        // A complete upload takes no more bytes.
        let end = bytes.len().to_string();
        let more = [
            ("content-type", "application/partial-upload"),
            ("upload-offset", end.as_str()),
            ("upload-complete", "?1"),
        ];
        let refused = draft(&ctx, interop, "PATCH", &path, &more, Body::from(vec![1u8])).await;
        assert_eq!(
            refused.json()["type"],
            "https://iana.org/assignments/http-problem-types#completed-upload"
        );

        // Creation with the whole content: Upload-Complete ?1, no length.
        let whole = pattern(3000, 1);
        let complete = [
            ("authorization", auth.as_str()),
            ("upload-complete", "?1"),
            ("content-length", "3000"),
            ("content-type", "application/pdf"),
            ("upload-metadata", &name),
        ];
        let created =
            draft(&ctx, interop, "POST", "/tus", &complete, Body::from(whole.clone())).await;
        assert_eq!(created.status, 201, "{}", created.text());
        assert_eq!(
            (created.header("upload-offset"), created.header("upload-complete")),
            (Some("3000"), Some("?1"))
        );
        assert_eq!(ctx.file_of(&created).await["sha256"], sha256_hex(&whole));
        // Lengths that disagree; no Upload-Complete; a version not served.
        let disagree = [
            ("authorization", auth.as_str()),
            ("upload-complete", "?1"),
            ("upload-length", "10"),
            ("content-length", "3000"),
        ];
        let refused =
            draft(&ctx, interop, "POST", "/tus", &disagree, Body::from(whole.clone())).await;
        assert_eq!(
            refused.json()["type"],
            "https://iana.org/assignments/http-problem-types#inconsistent-upload-length"
        );
        let missing = [("authorization", auth.as_str()), ("upload-length", "10")];
        draft(&ctx, interop, "POST", "/tus", &missing, Body::empty())
            .await
            .problem(400, "validation");

        // Cancellation.
        let created = draft(&ctx, interop, "POST", "/tus", &create, Body::empty()).await;
        let path = path_of(created.header("location").unwrap());
        let gone = draft(&ctx, interop, "DELETE", &path, &[], Body::empty()).await;
        assert_eq!(gone.status, 204);
        assert_eq!(draft(&ctx, interop, "HEAD", &path, &[], Body::empty()).await.status, 404);
    }
    let request = Request::post("/tus")
        .header("upload-draft-interop-version", "7")
        .header("authorization", &auth);
    let seven = send(&ctx.router, request.body(Body::empty()).unwrap()).await;
    assert!(seven.problem(400, "validation")["detail"]
        .as_str()
        .unwrap()
        .contains("6 (draft-05) and 8"));
    ctx.app.cleanup().await;
}

impl Ctx {
    /// A partial upload of `bytes` (tus concatenation), sent whole when
    /// `send`; its path.
    async fn partial(&self, bytes: &[u8], send: bool) -> String {
        let auth = format!("Bearer {}", self.token);
        let length = bytes.len().to_string();
        let headers = [
            ("authorization", auth.as_str()),
            ("upload-length", &length),
            ("upload-concat", "partial"),
        ];
        let created = self.tus("POST", "/tus", &headers, Body::empty()).await;
        assert_eq!(created.status, 201, "{}", created.text());
        let path = path_of(created.header("location").unwrap());
        if send {
            let stored = self.patch(&path, 0, bytes, &[]).await;
            assert_eq!(stored.status, 204, "{}", stored.text());
            assert!(stored.header("satchel-file-uuid").is_none(), "a partial upload is no file");
        }
        path
    }

    async fn create_final(&self, partials: &[&str], token: &str) -> Answer {
        let auth = format!("Bearer {token}");
        let concat = format!(
            "final;{}",
            partials
                .iter()
                .map(|p| format!("http://127.0.0.1:3000{p}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let name = format!("filename {}", STANDARD.encode("joined.bin"));
        let headers = [
            ("authorization", auth.as_str()),
            ("upload-concat", concat.as_str()),
            ("upload-metadata", name.as_str()),
        ];
        self.tus("POST", "/tus", &headers, Body::empty()).await
    }
}

async fn partial_uploads_are_stitched_without_copying(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let bytes = pattern(3 * PART + 5555, 12);
    let cuts = [0, PART + 10, 2 * PART + 3000, bytes.len()];
    let mut paths = Vec::new();
    for w in cuts.windows(2) {
        paths.push(ctx.partial(&bytes[w[0]..w[1]], true).await);
    }
    let head = ctx.tus("HEAD", &paths[0], &[], Body::empty()).await;
    assert_eq!(head.header("upload-concat"), Some("partial"));
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    let done = ctx.create_final(&refs, &ctx.token).await;
    assert_eq!(done.status, 201, "{}", done.text());
    let file = ctx.file_of(&done).await;
    assert_eq!(file["sha256"], sha256_hex(&bytes));
    assert_eq!(file["size"], bytes.len());
    assert_eq!(file["name"], "joined");
    // No byte was copied: the final has no blob of its own.
    let final_path = path_of(done.header("location").unwrap());
    let head = ctx.tus("HEAD", &final_path, &[], Body::empty()).await;
    assert_eq!(head.header("upload-offset"), Some(bytes.len().to_string().as_str()));
    let concat = head.header("upload-concat").unwrap();
    assert!(
        concat.starts_with("final;http://127.0.0.1:3000/tus/") && concat.split(' ').count() == 3,
        "{concat}"
    );
    let blobs = ctx.app.db.dir().join("blobs");
    let stored: Vec<String> = std::fs::read_dir(blobs.join("uploads"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(stored.len(), 3, "one blob per partial, none for the final: {stored:?}");
    // The sweeper (leftovers, expiry) leaves the stitched bytes alone.
    satchel::jobs::sweep(&ctx.app.state).await.unwrap();
    let href = file["_links"]["signed_download"]["href"].as_str().unwrap();
    let downloaded =
        send(&ctx.router, Request::get(path_of(href)).body(Body::empty()).unwrap()).await;
    assert_eq!(sha256_hex(&downloaded.body), sha256_hex(&bytes));
    // A final takes no bytes; its partials are taken. Nor through the
    // Kommo chain, whose part URLs the same tokens are.
    ctx.patch(&final_path, 0, b"x", &[]).await.problem(403, "forbidden");
    let kommo = |path: &str| path.replace("/tus/", "/upload/");
    let post = |path: String| Request::post(path).body(Body::from(vec![7u8; 10])).unwrap();
    send(&ctx.router, post(kommo(&final_path))).await.problem(403, "forbidden");
    send(&ctx.router, post(kommo(&paths[0]))).await.problem(400, "completed-upload");
    let downloaded =
        send(&ctx.router, Request::get(path_of(href)).body(Body::empty()).unwrap()).await;
    assert_eq!(sha256_hex(&downloaded.body), sha256_hex(&bytes), "intact");
    let again = ctx.create_final(&refs[..1], &ctx.token).await;
    assert!(again.problem(400, "validation")["detail"]
        .as_str()
        .unwrap()
        .contains("already belongs"));
    ctx.app.cleanup().await;
}

async fn a_final_upload_may_come_before_its_partials_finish(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let bytes = pattern(2 * PART + 77, 13);
    let first = ctx.partial(&bytes[..PART], true).await;
    let second = ctx.partial(&bytes[PART..], false).await;
    let created = ctx.create_final(&[&first, &second], &ctx.token).await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert!(created.header("satchel-file-uuid").is_none());
    let final_path = path_of(created.header("location").unwrap());
    let head = ctx.tus("HEAD", &final_path, &[], Body::empty()).await;
    assert!(head.header("upload-offset").is_none(), "an unfinished final has no offset");
    assert_eq!(head.header("upload-length"), Some(bytes.len().to_string().as_str()));
    // The second partial's last bytes complete the final.
    assert_eq!(ctx.patch(&second, 0, &bytes[PART..PART + 1000], &[]).await.status, 204);
    let tail = ctx.patch(&second, 1000, &bytes[PART + 1000..], &[]).await;
    assert_eq!(tail.status, 204, "{}", tail.text());
    let head = ctx.tus("HEAD", &final_path, &[], Body::empty()).await;
    assert_eq!(head.header("upload-offset"), Some(bytes.len().to_string().as_str()));
    assert_eq!(ctx.file_of(&head).await["sha256"], sha256_hex(&bytes));
    ctx.app.cleanup().await;
}

async fn concatenation_refuses_what_is_not_a_free_partial_of_the_account(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let mine = ctx.partial(b"mine", true).await;
    let plain = ctx.create(4, "plain.bin").await;
    let theirs_token = ctx.app.token("globex", "files").await;
    let theirs = {
        let auth = format!("Bearer {theirs_token}");
        let headers = [
            ("authorization", auth.as_str()),
            ("upload-length", "4"),
            ("upload-concat", "partial"),
        ];
        path_of(ctx.tus("POST", "/tus", &headers, Body::empty()).await.header("location").unwrap())
    };
    for (partials, why) in [
        (vec![mine.as_str(), theirs.as_str()], "is not an upload here"),
        (vec![mine.as_str(), plain.as_str()], "is not a partial upload"),
        (vec![mine.as_str(), "/tus/forged"], "is not an upload here"),
        (vec![mine.as_str(), mine.as_str()], "named twice"),
    ] {
        let refused = ctx.create_final(&partials, &ctx.token).await;
        let detail = refused.problem(400, "validation")["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains(why), "{detail}");
    }
    let auth = format!("Bearer {}", ctx.token);
    let concat = format!("final;{mine}");
    let with_length = [
        ("authorization", auth.as_str()),
        ("upload-concat", concat.as_str()),
        ("upload-length", "4"),
    ];
    ctx.tus("POST", "/tus", &with_length, Body::empty()).await.problem(400, "validation");
    // Nothing was claimed by the refusals: the partial still makes a file.
    let done = ctx.create_final(&[&mine], &ctx.token).await;
    assert_eq!(ctx.file_of(&done).await["sha256"], sha256_hex(b"mine"));
    ctx.app.cleanup().await;
}

async fn unused_partials_expire_and_their_bytes_go(backend: Backend) {
    let settings = Settings { session_ttl: Duration::from_secs(1), ..Settings::default() };
    let ctx = Ctx::with(backend, settings).await;
    let path = ctx.partial(&pattern(1000, 1), true).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let swept = satchel::jobs::sweep(&ctx.app.state).await.unwrap();
    assert!(swept.sessions_expired >= 1 && swept.parts_freed >= 1, "{swept:?}");
    assert_eq!(ctx.create_final(&[&path], &ctx.token).await.status, 400);
    ctx.app.cleanup().await;
}

async fn an_upload_may_name_its_length_later(backend: Backend) {
    let ctx = Ctx::new(backend).await;
    let auth = format!("Bearer {}", ctx.token);
    let name = format!("filename {}", STANDARD.encode("stream.log"));
    let deferred = [
        ("authorization", auth.as_str()),
        ("upload-defer-length", "1"),
        ("upload-metadata", name.as_str()),
    ];
    let bytes = pattern(2 * PART + 999, 21);
    for length_with_last_bytes in [true, false] {
        let created = ctx.tus("POST", "/tus", &deferred, Body::empty()).await;
        assert_eq!(created.status, 201, "{}", created.text());
        let path = path_of(created.header("location").unwrap());
        let head = ctx.tus("HEAD", &path, &[], Body::empty()).await;
        assert_eq!(
            (head.header("upload-defer-length"), head.header("upload-length")),
            (Some("1"), None)
        );
        let first = PART + PART / 2;
        assert_eq!(ctx.patch(&path, 0, &bytes[..first], &[]).await.status, 204);
        let length = bytes.len().to_string();
        let done = if length_with_last_bytes {
            ctx.patch(&path, first, &bytes[first..], &[("upload-length", &length)]).await
        } else {
            assert_eq!(ctx.patch(&path, first, &bytes[first..], &[]).await.status, 204);
            // Below what is stored: refused; then the length, alone.
            let short = (bytes.len() - 1).to_string();
            ctx.patch(&path, bytes.len(), b"", &[("upload-length", &short)])
                .await
                .problem(400, "validation");
            ctx.patch(&path, bytes.len(), b"", &[("upload-length", &length)]).await
        };
        assert_eq!(done.status, 204, "{}", done.text());
        let file = ctx.file_of(&done).await;
        assert_eq!(file["sha256"], sha256_hex(&bytes));
        assert_eq!(file["size"], bytes.len());
        let head = ctx.tus("HEAD", &path, &[], Body::empty()).await;
        assert_eq!(head.header("upload-length"), Some(length.as_str()));
        // The length is named once.
        ctx.patch(&path, bytes.len(), b"", &[("upload-length", "5")])
            .await
            .problem(400, "validation");
    }
    let both =
        [("authorization", auth.as_str()), ("upload-defer-length", "1"), ("upload-length", "5")];
    ctx.tus("POST", "/tus", &both, Body::empty()).await.problem(400, "validation");
    let two = [("authorization", auth.as_str()), ("upload-defer-length", "2")];
    ctx.tus("POST", "/tus", &two, Body::empty()).await.problem(400, "validation");
    // A partial upload without a length cannot be concatenated yet.
    let partial = [
        ("authorization", auth.as_str()),
        ("upload-defer-length", "1"),
        ("upload-concat", "partial"),
    ];
    let created = ctx.tus("POST", "/tus", &partial, Body::empty()).await;
    let path = path_of(created.header("location").unwrap());
    let refused = ctx.create_final(&[&path], &ctx.token).await;
    assert!(refused.problem(400, "validation")["detail"]
        .as_str()
        .unwrap()
        .contains("no length yet"));
    ctx.app.cleanup().await;
}

on_both!(
    an_upload_may_name_its_length_later,
    partial_uploads_are_stitched_without_copying,
    a_final_upload_may_come_before_its_partials_finish,
    concatenation_refuses_what_is_not_a_free_partial_of_the_account,
    unused_partials_expire_and_their_bytes_go,
    the_ietf_draft_creates_appends_and_cancels,
    options_say_what_is_offered,
    a_large_patch_is_stored_as_parts_and_makes_a_file,
    a_streamed_patch_hashes_each_byte_once,
    the_protocol_refuses_what_it_must,
    checksums_are_checked_before_anything_is_kept,
    a_trailer_that_does_not_match_keeps_nothing,
    creation_with_upload_and_empty_files,
    a_cut_body_keeps_what_arrived_and_resumes,
    termination_frees_the_upload,
    an_expired_upload_is_gone,
);
