//! Memory under load: 200 uploads at once against one release `satchel`
//! (SQLite + local disk) with `--max-part-size 8388608`, each 16 MiB in
//! 8 MiB parts, two in flight, over connections of their own. Prints the
//! server's peak RSS (goal: at most 64 MiB, whatever the part size: parts
//! stream to disk) and the aggregate throughput. `SATCHEL_BENCH_UPLOADS`,
//! `SATCHEL_BENCH_UPLOAD_BYTES` and `SATCHEL_BENCH_PART` change the load.
//! Run: `cargo bench -p satchel --bench concurrent`.

use std::time::Instant;

use common::{
    bench_dir, mb_per_s, open_session, peak_rss_kib, send_parts_windowed, start_satchel, PartSource,
};

mod common;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let uploads = env_or("SATCHEL_BENCH_UPLOADS", 200);
    let size = env_or("SATCHEL_BENCH_UPLOAD_BYTES", 16 << 20);
    let part = env_or("SATCHEL_BENCH_PART", 8 << 20);
    let dir = bench_dir();
    let part_flag = part.to_string();
    // All the uploads belong to one account here, standing for as many
    // users: its share of requests in flight is raised to match.
    let share = (2 * uploads).to_string();
    let (server, port, token) = start_satchel(
        &dir.path().join("satchel"),
        &["--max-part-size", &part_flag, "--parts-per-account", &share],
    );
    let idle_kib = peak_rss_kib(server.0.id());
    let client = reqwest::Client::builder().pool_max_idle_per_host(uploads).build().unwrap();

    // Every session is open before any part is sent, so all uploads are
    // in progress at once.
    let mut urls = Vec::with_capacity(uploads);
    for i in 0..uploads {
        urls.push(open_session(&client, port, &token, &format!("load-{i}.bin"), size).await);
    }
    let source = std::sync::Arc::new(PartSource::of(part));
    let started = Instant::now();
    let tasks: Vec<_> = urls
        .into_iter()
        .map(|url| {
            let (client, source) = (client.clone(), source.clone());
            tokio::spawn(
                async move { send_parts_windowed(&client, &url, size, part, 2, &source).await },
            )
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let peak_kib = peak_rss_kib(server.0.id());
    println!("concurrent uploads: {uploads} x {} KiB in {} KiB parts", size >> 10, part >> 10);
    println!("aggregate throughput:  {:8.1} MB/s", mb_per_s(uploads * size, elapsed));
    println!("server RSS at start:   {:8.1} MiB", idle_kib as f64 / 1024.0);
    println!("server peak RSS:       {:8.1} MiB (goal <= 64 MiB)", peak_kib as f64 / 1024.0);
}
