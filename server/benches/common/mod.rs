//! Helpers shared by the benchmarks: a `satchel` process on a free
//! loopback port, tokens, and deterministic part bytes.
#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub const PART: usize = 512 * 1024;

pub fn bench_dir() -> tempfile::TempDir {
    let base =
        std::env::var_os("SATCHEL_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base).unwrap();
    tempfile::tempdir_in(base).unwrap()
}

/// Part `n` of a benchmark file: distinct bytes per part.
pub fn part_bytes(n: usize, len: usize) -> Vec<u8> {
    let mut part = vec![0u8; len];
    for (i, chunk) in part.chunks_mut(8).enumerate() {
        let word = ((n as u64) << 32 | i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    part
}

/// The bytes every client sends: four distinct parts, made before the
/// clock starts and sent in turn (cloning `Bytes` copies nothing), so the
/// figures measure the servers, not the making of test data.
pub struct PartSource(Vec<bytes::Bytes>);

impl PartSource {
    pub fn new() -> Self {
        Self::of(PART)
    }

    /// Parts of `part` bytes.
    pub fn of(part: usize) -> Self {
        PartSource((0..4).map(|n| bytes::Bytes::from(part_bytes(n, part))).collect())
    }

    /// Part `n`, `len` bytes long.
    pub fn part(&self, n: usize, len: usize) -> bytes::Bytes {
        self.0[n % self.0.len()].slice(..len)
    }
}

/// `(part index, length)` of every part of a `total`-byte file.
pub fn parts(total: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..total.div_ceil(PART)).map(move |n| (n, PART.min(total - n * PART)))
}

pub fn mb_per_s(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64()
}

/// A child process killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn wait_for(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server on {port} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A release `satchel` on SQLite + local disk in `data`, and a `files` token.
pub fn start_satchel(data: &Path, extra: &[&str]) -> (Server, u16, String) {
    let satchel = env!("CARGO_BIN_EXE_satchel");
    let out = Command::new(satchel)
        .env_remove("DATABASE_URL")
        .args(["token", "create", "--scopes", "files", "--data-dir"])
        .arg(data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let port = free_port();
    let server = Server(
        Command::new(satchel)
            .env_remove("DATABASE_URL")
            // SATCHEL_BENCH_LOG (e.g. `warn,satchel::ingest=debug`, each
            // piece's timings) goes to the bench's stderr.
            .env("RUST_LOG", std::env::var("SATCHEL_BENCH_LOG").unwrap_or_else(|_| "warn".into()))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(data)
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(port);
    (server, port, token)
}

/// Opens a session and returns its upload URL.
pub async fn open_session(
    client: &reqwest::Client,
    port: u16,
    token: &str,
    name: &str,
    size: usize,
) -> String {
    let opened: serde_json::Value = client
        .post(format!("http://127.0.0.1:{port}/v1.0/sessions"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(serde_json::json!({"file_name": name, "file_size": size}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    opened["upload_url"].as_str().unwrap_or_else(|| panic!("no session: {opened}")).to_owned()
}

/// Sends every part of a `total`-byte file, following `next_url`.
pub async fn send_parts(
    client: &reqwest::Client,
    mut url: String,
    total: usize,
    source: &PartSource,
) {
    for (n, len) in parts(total) {
        let response = client.post(&url).body(source.part(n, len)).send().await.unwrap();
        let status = response.status().as_u16();
        let answer: serde_json::Value = response.json().await.unwrap();
        match status {
            202 => url = answer["next_url"].as_str().unwrap().to_owned(),
            200 => assert_eq!(answer["size"], total),
            other => panic!("part {n}: {other} {answer}"),
        }
    }
}

/// Sends every part of a `total`-byte file, `part` bytes each, with up to
/// `window` parts in flight: part *k* goes to `upload_url?part=k`, and a
/// new part starts once the oldest one in flight is answered, so every
/// part stays inside the server's window. Answers how many parts the
/// server acknowledged with the file (one).
pub async fn send_parts_windowed(
    client: &reqwest::Client,
    upload_url: &str,
    total: usize,
    part: usize,
    window: usize,
    source: &PartSource,
) {
    use futures::StreamExt;
    let count = total.div_ceil(part).max(1);
    let sends = (0..count).map(|n| {
        let len = part.min(total - n * part);
        let request = client.post(format!("{upload_url}?part={}", n + 1)).body(source.part(n, len));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let answer: serde_json::Value = response.json().await.unwrap();
            assert!(status == 200 || status == 202, "part {}: {status} {answer}", n + 1);
            status
        }
    });
    let statuses: Vec<u16> = futures::stream::iter(sends).buffered(window).collect().await;
    assert!(statuses.contains(&200), "a part completed the file");
}

/// Peak resident memory of a process, from /proc.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}
