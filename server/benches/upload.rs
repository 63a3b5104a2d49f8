//! Upload throughput on loopback, in one run:
//!
//! 1. a durable raw write of the same bytes (512 KiB writes, each followed
//!    by `fdatasync`, the equivalent of `dd bs=512K oflag=dsync`);
//! 2. Satchel receiving the file through its HTTP API in 512 KiB parts
//!    over one keep-alive connection (release build, SQLite + local disk);
//! 3. rustus, a Rust tus server, receiving the same bytes in 512 KiB
//!    PATCHes from the same client, when `rustus` is on PATH.
//!
//! Prints MB/s of each and the ratios. `SATCHEL_BENCH_BYTES` changes the
//! size (default 1 GiB), `SATCHEL_BENCH_DIR` the directory (default the
//! system temp dir). Run: `cargo bench -p satchel --bench upload`.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const PART: usize = 512 * 1024;

fn total_bytes() -> usize {
    std::env::var("SATCHEL_BENCH_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(1 << 30)
}

fn bench_dir() -> tempfile::TempDir {
    let base =
        std::env::var_os("SATCHEL_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base).unwrap();
    tempfile::tempdir_in(base).unwrap()
}

/// Part `n` of the benchmark file: distinct bytes per part.
fn part_bytes(n: usize, len: usize) -> Vec<u8> {
    let mut part = vec![0u8; len];
    for (i, chunk) in part.chunks_mut(8).enumerate() {
        let word = ((n as u64) << 32 | i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes();
        chunk.copy_from_slice(&word[..chunk.len()]);
    }
    part
}

fn parts(total: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..total.div_ceil(PART)).map(move |n| (n, PART.min(total - n * PART)))
}

fn mb_per_s(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64()
}

fn durable_write(dir: &Path, total: usize) -> f64 {
    let path = dir.join("raw.bin");
    let mut file = std::fs::File::create(&path).unwrap();
    let buffers: Vec<Vec<u8>> = (0..4).map(|n| part_bytes(n, PART)).collect();
    let started = Instant::now();
    for (n, len) in parts(total) {
        file.write_all(&buffers[n % 4][..len]).unwrap();
        file.sync_data().unwrap();
    }
    let elapsed = started.elapsed();
    std::fs::remove_file(path).unwrap();
    mb_per_s(total, elapsed)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server on {port} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn satchel_upload(dir: &Path, total: usize) -> f64 {
    let satchel = env!("CARGO_BIN_EXE_satchel");
    let data = dir.join("satchel");
    let out = Command::new(satchel)
        .env_remove("DATABASE_URL")
        .args(["token", "create", "--scopes", "files", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let port = free_port();
    let _server = Server(
        Command::new(satchel)
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(&data)
            .args(["--max-file-size", &total.to_string()])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(port);
    let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
    let opened: serde_json::Value = client
        .post(format!("http://127.0.0.1:{port}/v1.0/sessions"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(serde_json::json!({"file_name": "bench.bin", "file_size": total}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut url = opened["upload_url"].as_str().expect("session opened").to_owned();
    let started = Instant::now();
    for (n, len) in parts(total) {
        let response = client.post(&url).body(part_bytes(n, len)).send().await.unwrap();
        let status = response.status().as_u16();
        let answer: serde_json::Value = response.json().await.unwrap();
        match status {
            202 => url = answer["next_url"].as_str().unwrap().to_owned(),
            200 => assert_eq!(answer["size"], total),
            other => panic!("part {n}: {other} {answer}"),
        }
    }
    mb_per_s(total, started.elapsed())
}

async fn rustus_upload(dir: &Path, total: usize) -> Option<f64> {
    let data = dir.join("rustus");
    std::fs::create_dir_all(&data).unwrap();
    let port = free_port();
    let child = Command::new("rustus")
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--data-dir"])
        .arg(&data)
        .args(["--max-body-size", &(2 * PART).to_string(), "--log-level", "ERROR"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let _server = Server(child);
    wait_for(port);
    let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
    let created = client
        .post(format!("http://127.0.0.1:{port}/files"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", total.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201, "rustus created the upload");
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let url = if location.starts_with("http") {
        location
    } else {
        format!("http://127.0.0.1:{port}{location}")
    };
    let started = Instant::now();
    let mut offset = 0;
    for (n, len) in parts(total) {
        let response = client
            .patch(&url)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/offset+octet-stream")
            .body(part_bytes(n, len))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 204, "rustus PATCH {n}");
        offset += len;
    }
    Some(mb_per_s(total, started.elapsed()))
}

#[tokio::main]
async fn main() {
    let total = total_bytes();
    let dir = bench_dir();
    println!(
        "upload benchmark: {} MiB in {} KiB parts, in {}",
        total >> 20,
        PART >> 10,
        dir.path().display()
    );
    let raw = durable_write(dir.path(), total);
    println!("durable raw write (fdatasync per 512 KiB): {raw:8.1} MB/s");
    let satchel = satchel_upload(dir.path(), total).await;
    println!("satchel HTTP upload (durable):              {satchel:8.1} MB/s  ({:.0} % of durable write)", 100.0 * satchel / raw);
    match rustus_upload(dir.path(), total).await {
        Some(rustus) => {
            println!("rustus tus PATCHes (no fsync):              {rustus:8.1} MB/s");
            println!("satchel / rustus:                           {:8.2}x", satchel / rustus);
        }
        None => println!("rustus: not on PATH (cargo install rustus --locked); skipped"),
    }
}
