//! Upload throughput on loopback, in one run:
//!
//! 1. a durable raw write of the same bytes (512 KiB writes, each followed
//!    by `fdatasync`, the equivalent of `dd bs=512K oflag=dsync`);
//! 2. Satchel receiving the file through its HTTP API in 512 KiB parts
//!    (the default part size), with the session's window of parts in
//!    flight (`SATCHEL_BENCH_WINDOW`, default 8) as a client that uses it
//!    sends them (release build, SQLite + local disk, every part durable
//!    before it is acknowledged);
//! 3. a hashing sink: an HTTP server in this process (its own runtime,
//!    two workers) that only reads each part's body and feeds it to a
//!    SHA-256, taking the same parts from the same client with the same
//!    window. It stores nothing: it is the most any server that reads the
//!    bytes over HTTP and hashes them once (as Satchel must, for the
//!    whole-file digest) could take on this machine, with the client on
//!    the same cores;
//! 4. rustus, a Rust tus server, receiving the same bytes in 512 KiB
//!    PATCHes from the same client (tus takes one PATCH at a time), with
//!    `--force-fsync` so that it too is durable, when `rustus` is on PATH
//!    (`scripts/bench-upload.sh` installs the pinned version).
//!
//! The disk's speed drifts from minute to minute on shared machines, so
//! the three run in turn, round after round, and each round's ratios
//! compare figures taken seconds apart. Prints MB/s of each, the ratios per
//! round and their medians. `SATCHEL_BENCH_BYTES` changes the size
//! (default 1 GiB), `SATCHEL_BENCH_ROUNDS` the rounds (default 3),
//! `SATCHEL_BENCH_DIR` the directory (default the system temp dir).
//! Run: `cargo bench -p satchel --bench upload`.

use std::{io::Write, path::Path, process::Command, process::Stdio, time::Instant};

use common::{
    bench_dir, free_port, mb_per_s, open_session, parts, send_parts_windowed, start_satchel,
    wait_for, PartSource, Server, PART,
};

mod common;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn durable_write(dir: &Path, total: usize) -> f64 {
    let path = dir.join("raw.bin");
    let mut file = std::fs::File::create(&path).unwrap();
    let source = PartSource::new();
    let started = Instant::now();
    for (n, len) in parts(total) {
        file.write_all(&source.part(n, len)).unwrap();
        file.sync_data().unwrap();
    }
    let elapsed = started.elapsed();
    std::fs::remove_file(path).unwrap();
    mb_per_s(total, elapsed)
}

async fn satchel_upload(dir: &Path, total: usize, window: usize) -> f64 {
    let max = total.to_string();
    let window_flag = window.to_string();
    let (_server, port, token) =
        start_satchel(dir, &["--max-file-size", &max, "--upload-window", &window_flag]);
    // One keep-alive connection per part in flight.
    let client = reqwest::Client::builder().pool_max_idle_per_host(window).build().unwrap();
    let url = open_session(&client, port, &token, "bench.bin", total).await;
    let source = PartSource::new();
    let started = Instant::now();
    send_parts_windowed(&client, &url, total, PART, window, &source).await;
    mb_per_s(total, started.elapsed())
}

/// The hashing sink (item 3 of the module doc): MB/s of the same parts.
async fn sink_upload(total: usize, window: usize) -> f64 {
    use sha2::Digest;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
        runtime.unwrap().block_on(async move {
            let sink = axum::routing::post(|body: axum::body::Body| async move {
                use futures::StreamExt;
                let mut stream = body.into_data_stream();
                let mut hasher = sha2::Sha256::new();
                let mut len = 0usize;
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.unwrap();
                    len += chunk.len();
                    hasher.update(&chunk);
                }
                let sha = hasher.finalize();
                axum::Json(serde_json::json!({ "len": len, "first": sha[0] }))
            });
            let app = axum::Router::new().route("/sink", sink);
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
    });
    let client = reqwest::Client::builder().pool_max_idle_per_host(window).build().unwrap();
    let source = PartSource::new();
    let url = format!("http://127.0.0.1:{port}/sink");
    let started = Instant::now();
    send_parts_windowed(&client, &url, total, PART, window, &source).await;
    let speed = mb_per_s(total, started.elapsed());
    drop(client);
    let _ = stop.send(());
    server.join().unwrap();
    speed
}

async fn rustus_upload(data: &Path, total: usize) -> Option<f64> {
    std::fs::create_dir_all(data).unwrap();
    let port = free_port();
    let child = Command::new("rustus")
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--data-dir"])
        .arg(data)
        .arg("--info-dir")
        .arg(data)
        // rustus refuses bodies over 256 KiB unless told otherwise, and
        // fsyncs what it writes only when told: durable, like Satchel.
        .args(["--max-body-size", &(2 * PART).to_string(), "--log-level", "ERROR"])
        .args(["--force-fsync", "true"])
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
    let source = PartSource::new();
    let started = Instant::now();
    let mut offset = 0;
    for (n, len) in parts(total) {
        let response = client
            .patch(&url)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/offset+octet-stream")
            .body(source.part(n, len))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 204, "rustus PATCH {n}");
        offset += len;
    }
    Some(mb_per_s(total, started.elapsed()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let total = env_or("SATCHEL_BENCH_BYTES", 1 << 30);
    let rounds = env_or("SATCHEL_BENCH_ROUNDS", 3).max(1);
    let window = env_or("SATCHEL_BENCH_WINDOW", 8).max(1);
    let dir = bench_dir();
    println!(
        "upload benchmark: {} MiB in {} KiB parts, {window} in flight, {rounds} rounds, in {}",
        total >> 20,
        PART >> 10,
        dir.path().display()
    );
    let (mut of_raw, mut over_rustus, mut of_sink) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let raw = durable_write(dir.path(), total);
        let here = dir.path().join(format!("satchel-{round}"));
        let satchel = satchel_upload(&here, total, window).await;
        std::fs::remove_dir_all(here).unwrap();
        let sink = sink_upload(total, window).await;
        of_sink.push(satchel / sink);
        let here = dir.path().join(format!("rustus-{round}"));
        let rustus = rustus_upload(&here, total).await;
        let _ = std::fs::remove_dir_all(here);
        of_raw.push(satchel / raw);
        print!(
            "round {round}: durable raw write {raw:6.1} MB/s | satchel {satchel:6.1} MB/s \
             ({:3.0} % of raw) | hashing sink {sink:6.1} MB/s ({:3.0} % of raw)",
            100.0 * satchel / raw,
            100.0 * sink / raw
        );
        match rustus {
            Some(rustus) => {
                over_rustus.push(satchel / rustus);
                println!(" | rustus {rustus:6.1} MB/s (satchel/rustus {:.2}x)", satchel / rustus);
            }
            None => println!(" | rustus not on PATH (scripts/bench-upload.sh installs it)"),
        }
    }
    println!("median satchel / durable raw write: {:5.0} %", 100.0 * median(of_raw));
    println!("median satchel / hashing sink:      {:5.0} %", 100.0 * median(of_sink));
    if !over_rustus.is_empty() {
        println!("median satchel / rustus:            {:5.2}x", median(over_rustus));
    }
}
