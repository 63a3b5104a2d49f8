//! Whole `satchel` processes: a part acknowledged before a SIGKILL is
//! never lost, and two processes sharing PostgreSQL and an S3-compatible
//! store serve one upload together, with the race rule held by the
//! database rather than by any one process.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use satchel::testing::{postgres_url_of, Backend, S3Server, TestDb};
use serde_json::{json, Value};
use support::{pattern, sha256_hex};

use crate::support;

const PART: usize = 64 * 1024;

struct Node {
    child: Child,
    base: String,
}

impl Node {
    fn start(data_dir: &Path, extra: &[&str], env: &[(&str, String)]) -> Node {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_satchel"));
        cmd.env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(data_dir)
            .args(["--max-part-size", &PART.to_string()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let node = Node { child, base: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "satchel did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        node
    }

    fn kill(mut self) {
        // SIGKILL: no shutdown hooks, no flushing.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// `url` as if it had been handed out by this node.
    fn rebase(&self, url: &str) -> String {
        let path = url.split_once("://").map(|(_, r)| &r[r.find('/').unwrap()..]).unwrap();
        format!("{}{path}", self.base)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token(data_dir: &Path, database_url: Option<&str>) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_satchel"));
    cmd.env_remove("DATABASE_URL")
        .args(["token", "create", "--scopes", "files", "--data-dir"])
        .arg(data_dir);
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn open(
    client: &reqwest::Client,
    node: &Node,
    token: &str,
    name: &str,
    size: usize,
) -> Value {
    let response = client
        .post(format!("{}/v1.0/sessions", node.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(json!({"file_name": name, "file_size": size}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

async fn put(client: &reqwest::Client, url: &str, bytes: &[u8]) -> (u16, Value) {
    let response = client.post(url).body(bytes.to_vec()).send().await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_slice(&response.bytes().await.unwrap()).unwrap())
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    serde_json::from_slice(&client.get(url).send().await.unwrap().bytes().await.unwrap()).unwrap()
}

async fn download(client: &reqwest::Client, url: &str) -> Vec<u8> {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn a_sigkill_mid_upload_loses_no_acknowledged_part() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let token = token(&data, None);
    let client = reqwest::Client::new();
    let bytes = pattern(20 * PART + 123, 1);

    let node = Node::start(&data, &[], &[]);
    let session = open(&client, &node, &token, "survivor.bin", bytes.len()).await;
    let mut url = session["upload_url"].as_str().unwrap().to_owned();
    for part in 0..7 {
        let (status, answer) = put(&client, &url, &bytes[part * PART..(part + 1) * PART]).await;
        assert_eq!(status, 202);
        url = answer["next_url"].as_str().unwrap().to_owned();
    }
    // Part 8 is in flight, half sent, when the process dies.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    tx.send(Ok(bytes[7 * PART..7 * PART + PART / 2].to_vec())).await.unwrap();
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let in_flight = tokio::spawn({
        let client = client.clone();
        let url = url.clone();
        async move { client.post(url).header("content-length", PART).body(body).send().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    node.kill();
    assert!(in_flight.await.unwrap().is_err(), "the request died with the server");
    drop(tx);

    let node = Node::start(&data, &[], &[]);
    let resume = get_json(&client, &node.rebase(&url)).await;
    assert_eq!(resume["status"], "uploading");
    assert_eq!(resume["next_part"], 8, "all acknowledged parts survived, the cut one did not");
    assert_eq!(resume["received"], 7 * PART);
    let mut url = node.rebase(resume["next_url"].as_str().unwrap());
    let mut part = 7;
    let file = loop {
        let end = ((part + 1) * PART).min(bytes.len());
        let (status, answer) = put(&client, &url, &bytes[part * PART..end]).await;
        if status == 200 {
            break answer;
        }
        assert_eq!(status, 202, "{answer}");
        url = answer["next_url"].as_str().unwrap().to_owned();
        part += 1;
    };
    assert_eq!(file["sha256"], sha256_hex(&bytes));
    let downloaded =
        download(&client, file["_links"]["signed_download"]["href"].as_str().unwrap()).await;
    assert_eq!(downloaded.len(), bytes.len());
    assert_eq!(sha256_hex(&downloaded), sha256_hex(&bytes));
}

/// Sends every part of `bytes` the resume point at `url` lacks, `window`
/// at a time by part number, until the file is complete: the file object.
async fn send_missing(
    client: &reqwest::Client,
    url: &str,
    upload_url: &str,
    bytes: &[u8],
) -> Value {
    let resume = get_json(client, url).await;
    assert_ne!(resume["status"], "completed", "nothing was left to send: {resume}");
    let held: Vec<(usize, usize)> = resume["ranges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_u64().unwrap() as usize, r[1].as_u64().unwrap() as usize))
        .collect();
    let received = resume["received"].as_u64().unwrap() as usize;
    let mut file = Value::Null;
    // The rest of a part the server kept the start of goes to next_url.
    if !received.is_multiple_of(PART) {
        let end = (received / PART + 1) * PART;
        let (status, answer) = put(
            client,
            resume["next_url"].as_str().unwrap(),
            &bytes[received..end.min(bytes.len())],
        )
        .await;
        assert!(status == 202 || status == 200, "{status} {answer}");
        if status == 200 {
            return answer;
        }
    }
    for (k, chunk) in bytes.chunks(PART).enumerate() {
        let (start, end) = (k * PART, k * PART + chunk.len());
        if end <= received.next_multiple_of(PART)
            || held.iter().any(|&(s, e)| s <= start && end <= e)
        {
            continue;
        }
        let (status, answer) = put(client, &format!("{upload_url}?part={}", k + 1), chunk).await;
        assert!(status == 202 || status == 200, "part {}: {status} {answer}", k + 1);
        if status == 200 {
            file = answer;
        }
    }
    file
}

#[tokio::test]
async fn a_sigkill_with_several_parts_in_flight_loses_no_acknowledged_part() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let token = token(&data, None);
    let client = reqwest::Client::new();
    let bytes = pattern(12 * PART + 77, 3);

    let node = Node::start(&data, &["--upload-window", "6"], &[]);
    let session = open(&client, &node, &token, "window.bin", bytes.len()).await;
    let upload_url = session["upload_url"].as_str().unwrap().to_owned();
    // Parts 2 and 4 are acknowledged out of order; parts 1, 3, 5 and 6 are
    // on the wire, half sent, when the process dies.
    for k in [2, 4] {
        let (status, _) =
            put(&client, &format!("{upload_url}?part={k}"), &bytes[(k - 1) * PART..k * PART]).await;
        assert_eq!(status, 202);
    }
    let mut senders = Vec::new();
    let mut in_flight = Vec::new();
    for k in [1usize, 3, 5, 6] {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
        tx.send(Ok(bytes[(k - 1) * PART..(k - 1) * PART + PART / 2].to_vec())).await.unwrap();
        let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
        let (client, url) = (client.clone(), format!("{upload_url}?part={k}"));
        in_flight.push(tokio::spawn(async move {
            client.post(url).header("content-length", PART).body(body).send().await
        }));
        senders.push(tx);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    node.kill();
    for request in in_flight {
        assert!(request.await.unwrap().is_err(), "the request died with the server");
    }
    drop(senders);

    let node = Node::start(&data, &["--upload-window", "6"], &[]);
    let upload_url = node.rebase(&upload_url);
    let resume = get_json(&client, &upload_url).await;
    assert_eq!(resume["status"], "uploading");
    assert_eq!(resume["received"], 0, "part 1 never finished");
    let ranges = resume["ranges"].as_array().unwrap();
    for k in [2, 4] {
        let (start, end) = ((k - 1) * PART, k * PART);
        assert!(
            ranges.iter().any(|r| r[0].as_u64().unwrap() as usize <= start
                && end <= r[1].as_u64().unwrap() as usize),
            "acknowledged part {k} survived: {resume}"
        );
    }
    let file = send_missing(&client, &upload_url, &upload_url, &bytes).await;
    assert_eq!(file["sha256"], sha256_hex(&bytes));
    let downloaded =
        download(&client, file["_links"]["signed_download"]["href"].as_str().unwrap()).await;
    assert_eq!(sha256_hex(&downloaded), sha256_hex(&bytes));
}

/// A tus request to `url` with these headers.
fn tus(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    headers: &[(&str, String)],
) -> reqwest::RequestBuilder {
    let mut request = client
        .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url)
        .header("tus-resumable", "1.0.0");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request
}

#[tokio::test]
async fn a_sigkill_mid_patch_loses_no_acknowledged_byte_of_a_tus_upload() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let token = token(&data, None);
    let client = reqwest::Client::new();
    let bytes = pattern(30 * PART + 999, 4);

    let node = Node::start(&data, &[], &[]);
    let auth = format!("Bearer {token}");
    let created = tus(
        &client,
        "POST",
        &format!("{}/tus", node.base),
        &[("authorization", auth), ("upload-length", bytes.len().to_string())],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let url = created.headers()["location"].to_str().unwrap().to_owned();
    // Ten and a half parts in one PATCH: acknowledged.
    let acknowledged = 10 * PART + PART / 2;
    let patch = |offset: usize| {
        vec![
            ("content-type", "application/offset+octet-stream".to_owned()),
            ("upload-offset", offset.to_string()),
        ]
    };
    let first = tus(&client, "PATCH", &url, &patch(0))
        .body(bytes[..acknowledged].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 204);
    assert_eq!(first.headers()["upload-offset"], acknowledged.to_string().as_str());
    // The next PATCH is in flight, five parts and a bit sent, the rest
    // never coming, when the process dies.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(8);
    tx.send(Ok(bytes[acknowledged..acknowledged + 5 * PART + 77].to_vec())).await.unwrap();
    let in_flight = tokio::spawn({
        let request = tus(&client, "PATCH", &url, &patch(acknowledged))
            .header("content-length", bytes.len() - acknowledged)
            .body(reqwest::Body::wrap_stream(tokio_stream_from(rx)));
        async move { request.send().await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    node.kill();
    assert!(in_flight.await.unwrap().is_err(), "the request died with the server");
    drop(tx);

    // After the restart the upload stands at or past every acknowledged
    // byte, and what it holds is right: the rest completes the file.
    let node = Node::start(&data, &[], &[]);
    let url = node.rebase(&url);
    let head = tus(&client, "HEAD", &url, &[]).send().await.unwrap();
    assert_eq!(head.status(), 200);
    let offset: usize = head.headers()["upload-offset"].to_str().unwrap().parse().unwrap();
    assert!(offset >= acknowledged, "offset {offset} lost acknowledged bytes");
    assert!(offset <= acknowledged + 5 * PART + 77, "offset {offset} past what was sent");
    let done = tus(&client, "PATCH", &url, &patch(offset))
        .body(bytes[offset..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 204);
    let uuid = done.headers()["satchel-file-uuid"].to_str().unwrap().to_owned();
    let file = client
        .get(format!("{}/v1.0/files/{uuid}", node.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(file["sha256"], sha256_hex(&bytes));
    let downloaded =
        download(&client, file["_links"]["signed_download"]["href"].as_str().unwrap()).await;
    assert_eq!(sha256_hex(&downloaded), sha256_hex(&bytes));
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn two_processes_on_postgres_and_s3_serve_one_upload_together() {
    let db = TestDb::new(Backend::Postgres).await;
    let database_url = postgres_url_of(&db);
    let s3 = S3Server::start();
    let storage = format!("s3://{}/shared", s3.bucket);
    let dir = tempfile::tempdir().unwrap();
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let token = token(&data_a, Some(&database_url));
    let mut env = s3.env();
    env.push(("DATABASE_URL", database_url.clone()));
    let flags = ["--storage-url", storage.as_str()];
    let a = Node::start(&data_a, &flags, &env);
    let b = Node::start(&data_b, &flags, &env);
    let client = reqwest::Client::new();

    let bytes = pattern(9 * PART + 1000, 2);
    let session = open(&client, &a, &token, "shared.bin", bytes.len()).await;
    let mut url = session["upload_url"].as_str().unwrap().to_owned();
    let parts: Vec<&[u8]> = bytes.chunks(PART).collect();
    let mut file = Value::Null;
    for (i, chunk) in parts.iter().enumerate() {
        // Alternate nodes; the first part is sent to both at once.
        let node = if i % 2 == 0 { &b } else { &a };
        let (status, answer) = if i == 0 {
            let (to_a, to_b) = (a.rebase(&url), b.rebase(&url));
            let (x, y) = tokio::join!(put(&client, &to_a, chunk), put(&client, &to_b, chunk));
            assert_eq!(x.0, 202);
            assert_eq!(y.0, 202);
            assert_eq!(
                x.1["next_url"].as_str().map(|u| a.rebase(u)),
                y.1["next_url"].as_str().map(|u| a.rebase(u))
            );
            x
        } else {
            put(&client, &node.rebase(&url), chunk).await
        };
        if i + 1 == parts.len() {
            assert_eq!(status, 200, "{answer}");
            file = answer;
        } else {
            assert_eq!(status, 202, "{answer}");
            url = answer["next_url"].as_str().unwrap().to_owned();
        }
    }
    assert_eq!(file["sha256"], sha256_hex(&bytes), "digest carried across processes");
    let rows: i64 = sqlx::query_scalar("select count(*) from upload_pieces")
        .fetch_one(db.db.pool())
        .await
        .unwrap();
    assert_eq!(rows, parts.len() as i64, "each part stored once");

    // A second upload through both nodes at once: parts of a window sent
    // to either node, out of order, every part to both at the same time.
    let raced_bytes = pattern(6 * PART + 500, 9);
    let raced = open(&client, &b, &token, "raced.bin", raced_bytes.len()).await;
    let upload_url = raced["upload_url"].as_str().unwrap().to_owned();
    let mut sends = Vec::new();
    for k in [3usize, 1, 2, 5, 4, 6] {
        for node in [&a, &b] {
            let url = node.rebase(&format!("{upload_url}?part={k}"));
            let body = raced_bytes[(k - 1) * PART..(k * PART).min(raced_bytes.len())].to_vec();
            let client = client.clone();
            sends.push(tokio::spawn(async move { put(&client, &url, &body).await }));
        }
    }
    for send in sends {
        let (status, answer) = send.await.unwrap();
        assert!(status == 202 || status == 200, "{status} {answer}");
    }
    let last =
        put(&client, &a.rebase(&format!("{upload_url}?part=7")), &raced_bytes[6 * PART..]).await;
    assert_eq!(last.0, 200, "{}", last.1);
    assert_eq!(last.1["sha256"], sha256_hex(&raced_bytes), "digest over pieces from both nodes");
    let pieces: i64 =
        sqlx::query_scalar("select count(*) from upload_pieces where session_id = $1")
            .bind(raced["session_id"].as_i64().unwrap())
            .fetch_one(db.db.pool())
            .await
            .unwrap();
    assert_eq!(pieces, 7, "each part stored once");
    let raced_link = last.1["_links"]["signed_download"]["href"].as_str().unwrap().to_owned();
    assert_eq!(
        sha256_hex(&download(&client, &b.rebase(&raced_link)).await),
        sha256_hex(&raced_bytes)
    );

    // Either node serves the bytes from the shared store.
    let link = file["_links"]["signed_download"]["href"].as_str().unwrap();
    for node in [&a, &b] {
        let got = download(&client, &node.rebase(link)).await;
        assert_eq!(sha256_hex(&got), sha256_hex(&bytes));
    }
    drop((a, b));
    db.cleanup().await;
}
