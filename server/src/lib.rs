//! Satchel's server: a self-hosted file service speaking Kommo's Files API.
//!
//! - `config`: the command line.
//! - `domain`: plain-Rust rules (scopes, tokens, …), no I/O.
//! - `store`: metadata in SQLite or PostgreSQL.
//! - `blob`: bytes on local disk or S3.
//! - `ingest`: the upload core: bytes appended at offsets of a session.
//! - `stored`: stored versions read back, and checked (`verify`).
//! - `http`: the routers, auth and error answers.
//! - `backup`: backup and restore of the embedded deployment.
//! - `run`: what each command does; `seed`: the demo data.

pub mod backup;
pub mod blob;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod ingest;
pub mod jobs;
pub mod previews;
pub mod run;
pub mod seed;
pub mod state;
pub mod store;
pub mod stored;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use error::{Error, Result};

/// Structured logs on stderr (stdout stays clean for `token create`).
/// `RUST_LOG` filters; `SATCHEL_LOG_FORMAT=json` switches to JSON lines.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("SATCHEL_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}
