//! Memory under load: 200 uploads at once against one release `satchel`
//! (SQLite + local disk), each 4 MiB in 512 KiB parts over its own
//! connection. Prints the server's peak RSS (goal: at most 64 MiB) and the
//! aggregate throughput. `SATCHEL_BENCH_UPLOADS` and
//! `SATCHEL_BENCH_UPLOAD_BYTES` change the load.
//! Run: `cargo bench -p satchel --bench concurrent`.

use std::time::Instant;

use common::{
    bench_dir, mb_per_s, open_session, peak_rss_kib, send_parts, start_satchel, PartSource,
};

mod common;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let uploads = env_or("SATCHEL_BENCH_UPLOADS", 200);
    let size = env_or("SATCHEL_BENCH_UPLOAD_BYTES", 4 << 20);
    let dir = bench_dir();
    let (server, port, token) = start_satchel(&dir.path().join("satchel"), &[]);
    let idle_kib = peak_rss_kib(server.0.id());
    let client = reqwest::Client::builder().pool_max_idle_per_host(uploads).build().unwrap();

    // Every session is open before any part is sent, so all uploads are
    // in progress at once.
    let mut urls = Vec::with_capacity(uploads);
    for i in 0..uploads {
        urls.push(open_session(&client, port, &token, &format!("load-{i}.bin"), size).await);
    }
    let source = std::sync::Arc::new(PartSource::new());
    let started = Instant::now();
    let tasks: Vec<_> = urls
        .into_iter()
        .map(|url| {
            let (client, source) = (client.clone(), source.clone());
            tokio::spawn(async move { send_parts(&client, url, size, &source).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let peak_kib = peak_rss_kib(server.0.id());
    println!("concurrent uploads: {uploads} x {} KiB", size >> 10);
    println!("aggregate throughput:  {:8.1} MB/s", mb_per_s(uploads * size, elapsed));
    println!("server RSS at start:   {:8.1} MiB", idle_kib as f64 / 1024.0);
    println!("server peak RSS:       {:8.1} MiB (goal <= 64 MiB)", peak_kib as f64 / 1024.0);
}
