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

use std::{io::Write, path::Path, process::Command, process::Stdio, time::Instant};

use common::{
    bench_dir, free_port, mb_per_s, open_session, part_bytes, parts, send_parts, start_satchel,
    wait_for, Server, PART,
};

mod common;

fn total_bytes() -> usize {
    std::env::var("SATCHEL_BENCH_BYTES").ok().and_then(|v| v.parse().ok()).unwrap_or(1 << 30)
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

async fn satchel_upload(dir: &Path, total: usize) -> f64 {
    let max = total.to_string();
    let (_server, port, token) = start_satchel(&dir.join("satchel"), &["--max-file-size", &max]);
    // One connection, kept alive for every part.
    let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
    let url = open_session(&client, port, &token, "bench.bin", total).await;
    let started = Instant::now();
    send_parts(&client, url, total).await;
    mb_per_s(total, started.elapsed())
}

async fn rustus_upload(dir: &Path, total: usize) -> Option<f64> {
    let data = dir.join("rustus");
    std::fs::create_dir_all(&data).unwrap();
    let port = free_port();
    let child = Command::new("rustus")
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--data-dir"])
        .arg(&data)
        .arg("--info-dir")
        .arg(&data)
        // rustus refuses bodies over 256 KiB unless told otherwise.
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
