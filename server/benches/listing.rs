//! `GET /v1.0/files` over a large catalogue: seeds `SATCHEL_BENCH_FILES`
//! file rows (default 1,000,000) into a fresh SQLite database, starts a
//! release `satchel` on it and prints p50/p95 latency of the listing for
//! each kind of filter, `SATCHEL_BENCH_REQUESTS` requests each (default
//! 200), over one keep-alive connection. Goal: p95 ≤ 20 ms each.
//! Run: `cargo bench -p satchel --bench listing`.

use std::time::{Duration, Instant};

use common::{bench_dir, start_satchel};

mod common;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Seeds `count` files of the token's account, one version each: five
/// common extensions and a rare one (`gif`, one file in 10,007), sizes
/// spread up to 10 MB, one file a minute back in time, every 50th in the
/// trash. Done in SQL, in one transaction.
async fn seed(db: &satchel::store::Db, count: usize, now: i64) {
    let sql = format!(
        "with recursive n(i) as (select 1 union all select i + 1 from n where i < {count}) \
         insert into files (id, uuid, account_id, name, extension, size, active_version_id, \
                            created_at, updated_at, created_by, updated_by, deleted_at, deleted_by) \
         select i, printf('%08x-0000-4000-8000-%012x', i, i), 1, 'file ' || i || '.' || ext, ext, \
                (i * 7919) % 10000000, i, {now} - i * 60, {now} - i * 60, 1, 1, \
                case when i % 50 = 0 then {now} - 100 else null end, \
                case when i % 50 = 0 then 1 else null end \
         from (select i, case when i % 10007 = 0 then 'gif' else (case i % 5 \
                  when 0 then 'pdf' when 1 then 'png' when 2 then 'txt' when 3 then 'docx' \
                  else 'jpg' end) end as ext from n)"
    );
    let versions = "insert into file_versions (id, uuid, file_id, account_id, name, size, \
                    mime_type, sha256, part_size, session_id, created_at, created_by) \
                    select id, printf('%08x-0000-4000-9000-%012x', id, id), id, 1, name, \
                    size, 'application/octet-stream', \
                    '0000000000000000000000000000000000000000000000000000000000000000', \
                    524288, 0, created_at, 1 from files";
    let mut tx = db.pool().begin().await.unwrap();
    sqlx::query(&sql).execute(&mut *tx).await.unwrap();
    sqlx::query(versions).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
    // No ANALYZE here: the server takes the planner's statistics itself
    // when it starts (`Db::refresh_statistics`), as it would in production.
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let files = env_or("SATCHEL_BENCH_FILES", 1_000_000);
    let requests = env_or("SATCHEL_BENCH_REQUESTS", 200);
    let dir = bench_dir();
    let data = dir.path().join("satchel");
    // `token create` makes the database, the account (id 1) and a token.
    let (first_run, _, token) = start_satchel(&data, &[]);
    drop(first_run);
    let now = satchel::store::now_unix();
    let url = format!("sqlite://{}/satchel.db", data.display());
    let db = satchel::store::Db::connect(&url).await.unwrap();
    let started = Instant::now();
    seed(&db, files, now).await;
    db.close().await;
    println!("listing benchmark: {files} files seeded in {:.1} s", started.elapsed().as_secs_f64());
    let (_server, port, _) = start_satchel(&data, &[]);

    let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
    let cases = [
        ("no filter", String::new()),
        ("extension", "filter[extensions][]=pdf".to_owned()),
        (
            "size range",
            "filter[size][from]=1000&filter[size][to]=2000&filter[size][unit]=1000".to_owned(),
        ),
        ("term", "filter[term]=file 4242".to_owned()),
        ("trashed", "filter[deleted]=true".to_owned()),
        ("date preset", "filter[date][date_preset]=last_3_days".to_owned()),
        // Filters that few files pass: the listing cannot stop early.
        ("rare ext", "filter[extensions][]=gif".to_owned()),
        ("narrow size", "filter[size][from]=1000&filter[size][to]=3000".to_owned()),
        ("rare term", "filter[term]=file 99999".to_owned()),
    ];
    println!("{:<12} {:>9} {:>9} {:>7}", "query", "p50 ms", "p95 ms", "files");
    for (label, query) in cases {
        let mut times = Vec::with_capacity(requests);
        let mut listed = 0;
        for _ in 0..requests {
            let t = Instant::now();
            let answer = client
                .get(format!("http://127.0.0.1:{port}/v1.0/files?{query}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let status = answer.status().as_u16();
            let body = answer.bytes().await.unwrap();
            times.push(t.elapsed());
            assert!(status == 200 || status == 204, "{label}: {status}");
            if status == 200 {
                let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
                listed = page["_count"].as_u64().unwrap();
            }
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{label:<12} {:>9.2} {:>9.2} {listed:>7}",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95))
        );
    }
}
