//! What each command does once its flags are parsed.

use crate::{
    blob,
    config::{
        BackupArgs, DemoSeedArgs, KeysRotateArgs, LoginLinkArgs, MigrateStorageArgs, RestoreArgs,
        ServeArgs, StateArgs, TokenCreateArgs, TokenListArgs, TokenRevokeArgs, VerifyArgs,
    },
    error::{Error, Result},
    http,
    state::{leptos_options, AppState, Settings},
    store::{accounts::AccountId, redact, Db},
};

/// Opens the data directory, database and blob store, then serves until
/// SIGINT or SIGTERM.
pub async fn serve(args: ServeArgs) -> Result<()> {
    let state = open_state(&args).await?;
    let db = state.db.clone();
    if db.claim_first_start().await? {
        // The first start: like a notebook server's token link, the way
        // into the pages.
        let account = db.ensure_account("default").await?;
        let link = state.login_link(account, true).await?;
        println!(
            "Sign in to Satchel's pages: {link}\n(valid 15 minutes, once; `satchel login-link` makes another)"
        );
    }
    let sweeper = crate::jobs::spawn_sweeper(state.clone());
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", args.listen)))?;
    tracing::info!(
        listen = %args.listen,
        public_url = %state.settings.public_url,
        database = %redact(&args.state.database_url()),
        storage = %state.blobs.describe(),
        site = %state.site.describe(),
        "satchel is serving"
    );
    if !state.site.is_complete() {
        tracing::warn!(
            "the pages' bundle (pkg/satchel.js) is missing: build with scripts/build.sh, or point --site-root at a built site"
        );
    }
    let limits = http::serve::Limits {
        header_read_timeout: args.header_read_timeout,
        http2_keep_alive: args.http2_keep_alive,
        max_connections: args.max_connections as usize,
        shutdown_grace: args.shutdown_grace,
    };
    http::serve::serve(listener, http::app(state), limits, shutdown_signal()).await;
    sweeper.abort();
    db.close().await;
    Ok(())
}

/// The data directory, database and blob store `serve` (and
/// `demo-seed`) work on.
async fn open_state(args: &ServeArgs) -> Result<AppState> {
    ensure_data_dir(&args.state.data_dir)?;
    let db = Db::connect(&args.state.database_url()).await?;
    let blobs = blob::open(&args.storage_url()).await?;
    let settings = Settings {
        public_url: args.public_url(),
        max_part_size: args.max_part_size,
        max_file_size: args.max_file_size,
        quota_bytes: args.quota_bytes,
        session_ttl: args.session_ttl,
        trash_ttl: args.trash_ttl,
        trash_quota_bytes: args.trash_quota_bytes,
        link_ttl: args.link_ttl,
        request_timeout: args.request_timeout,
        upload_buffer: args.upload_buffer,
        upload_window: args.upload_window,
        parts_per_account: args.parts_per_account,
        open_sessions_per_account: args.open_sessions_per_account,
        min_upload_rate: args.min_upload_rate,
        min_rate_grace: Settings::default().min_rate_grace,
        cors_origins: args.cors_origins.clone(),
        embed_demo: args.embed_demo(),
    };
    let keys = db.signing_keys(crate::store::now_unix()).await?;
    let signing =
        crate::domain::signing::Keyring::new(keys, crate::state::key_retention(&settings));
    let site = crate::http::site::Site::choose(args.site_root.clone());
    let leptos = leptos_options(std::path::Path::new("target/site"), args.listen);
    Ok(AppState::new(db, blobs, settings, signing, leptos).with_site(site))
}

/// Fills an empty account with demo data; says what it did.
pub async fn demo_seed(args: DemoSeedArgs) -> Result<String> {
    let name = args.account.trim();
    let state = open_state(&args.serve).await?;
    let account = state.db.ensure_account(name).await?;
    let outcome = crate::seed::demo_seed(&state, account).await;
    state.db.close().await;
    Ok(match outcome? {
        Some(s) => format!(
            "Seeded account {name}: {} entities, {} files, {} notes",
            s.entities, s.files, s.notes
        ),
        None => format!("Account {name} already holds data; nothing was seeded"),
    })
}

/// Creates a token (and its account if new) and returns its secret.
pub async fn token_create(args: TokenCreateArgs) -> Result<(i64, String)> {
    let (db, account) = open_account(&args.state, &args.account).await?;
    let expires_at = args.expires.map(|d| crate::store::now_unix() + d.as_secs() as i64);
    let (id, secret) = db.create_token_with_id(account, args.scopes, expires_at, None).await?;
    db.close().await;
    Ok((id, secret.expose().to_owned()))
}

/// The tokens that work, one line each: id, account, scopes, created,
/// expires, last used (UTC).
pub async fn token_list(args: TokenListArgs) -> Result<String> {
    let db = open_db(&args.state).await?;
    let rows = db.list_tokens(args.account.as_deref(), crate::store::now_unix()).await?;
    db.close().await;
    let when = |at: Option<i64>, none: &str| match at {
        Some(at) => humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(at.max(0) as u64),
        )
        .to_string(),
        None => none.to_owned(),
    };
    Ok(rows
        .iter()
        .map(|r| {
            format!(
                "{}\t{}\t{}\tcreated {}\texpires {}\tlast used {}",
                r.id,
                r.account,
                r.scopes,
                when(Some(r.created_at), ""),
                when(r.expires_at, "never"),
                when(r.last_used_at, "never"),
            )
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Starts a new URL-signing key; says its id.
pub async fn keys_rotate(args: KeysRotateArgs) -> Result<String> {
    let db = open_db(&args.state).await?;
    let now = crate::store::now_unix();
    db.signing_keys(now).await?; // key 0 first, on a new database
    let id = db.rotate_signing_key(now).await?;
    db.close().await;
    Ok(format!("signing key {id} signs from each server's next sweep"))
}

/// `satchel verify`: prints each fault as it is found and progress on a
/// terminal; the summary when all is well, an error naming the count
/// otherwise.
pub async fn verify(args: VerifyArgs) -> Result<String> {
    use std::io::{IsTerminal, Write};
    let db = open_db(&args.store.state).await?;
    let blobs = blob::open_for_reading(&args.store.storage_url()).await?;
    let terminal = std::io::stderr().is_terminal();
    let mut last = std::time::Instant::now();
    let tally = crate::stored::verify(
        &db,
        &blobs,
        args.account.as_deref(),
        args.sample.unwrap_or(1.0),
        args.repair_index,
        |finding| {
            if terminal {
                eprint!("\r\x1b[K");
            }
            println!("{finding}");
        },
        |tally, total| {
            if terminal && last.elapsed() > std::time::Duration::from_millis(200) {
                last = std::time::Instant::now();
                let done = tally.checked + tally.skipped;
                eprint!("\r\x1b[Kverified {done} of {total} versions, {} MB", tally.bytes >> 20);
                let _ = std::io::stderr().flush();
            }
        },
    )
    .await;
    db.close().await;
    let tally = tally?;
    if terminal {
        eprint!("\r\x1b[K");
    }
    let sampled = match tally.skipped {
        0 => String::new(),
        n => format!(" ({n} left out by sampling)"),
    };
    let summary = format!(
        "{} versions ({} bytes) read back{sampled}: {} faults",
        tally.checked, tally.bytes, tally.faults
    );
    match tally.faults {
        0 => Ok(summary),
        _ => Err(Error::Verify(summary)),
    }
}

/// `satchel migrate-storage --to URL`: says what it copied, and what to
/// do next.
pub async fn migrate_storage(args: MigrateStorageArgs) -> Result<String> {
    use std::io::{IsTerminal, Write};
    let from_url = args.store.storage_url();
    if from_url.trim_end_matches('/') == args.to.trim_end_matches('/') {
        return Err(Error::Config("--to names the store blobs are in already".into()));
    }
    let db = open_db(&args.store.state).await?;
    let from = blob::open_for_reading(&from_url).await?;
    let to = blob::open(&args.to).await?;
    let terminal = std::io::stderr().is_terminal();
    let done = crate::stored::migrate(&db, &from, &to, args.max_blobs, |done, total| {
        if terminal {
            eprint!("\r\x1b[K{} of {total} blobs", done.copied + done.kept);
            let _ = std::io::stderr().flush();
        }
    })
    .await;
    db.close().await;
    if terminal {
        eprint!("\r\x1b[K");
    }
    let done = done?;
    for key in &done.missing {
        tracing::warn!(blob = %key, "a row names a blob the source does not hold");
    }
    let mut summary = format!(
        "copied {} blobs ({} bytes) to {}, {} were there already",
        done.copied, done.bytes, args.to, done.kept
    );
    if !done.missing.is_empty() {
        let missing = done.missing.len();
        summary.push_str(&format!(", {missing} named but not in the source (see the warnings)"));
    }
    Ok(match done.left {
        0 => format!(
            "{summary}; stop the servers, run this again for blobs that came meanwhile, \
             then start them with --storage-url {}",
            args.to
        ),
        left => format!("{summary}; {left} left: run this again to go on"),
    })
}

/// `satchel backup DIR`: says what the backup holds.
pub async fn backup(args: BackupArgs) -> Result<String> {
    let storage = args.store.storage_url();
    let Some(blob_root) = storage.strip_prefix("file://") else {
        return Err(Error::Config(
            "backup copies local-disk blobs; for S3 copy the bucket with its own tools \
             (see the README)"
                .into(),
        ));
    };
    let db = open_db(&args.store.state).await?;
    let done = crate::backup::backup(&db, std::path::Path::new(blob_root), &args.dir).await;
    db.close().await;
    let done = done?;
    for key in &done.missing {
        tracing::warn!(blob = %key, "a blob the snapshot names was removed during the backup");
    }
    Ok(format!(
        "backed up the database and {} blobs ({} bytes) to {}",
        done.blobs,
        done.bytes,
        args.dir.display()
    ))
}

/// `satchel restore DIR`: says what it restored.
pub async fn restore(args: RestoreArgs) -> Result<String> {
    let blobs = crate::backup::restore(&args.dir, &args.data_dir).await?;
    Ok(format!(
        "restored the database and {blobs} blobs into {}; `satchel verify --data-dir {0}` checks them",
        args.data_dir.display()
    ))
}

/// Revokes a token (and the widget tokens it issued); says how many.
pub async fn token_revoke(args: TokenRevokeArgs) -> Result<String> {
    let db = open_db(&args.state).await?;
    let revoked = db.revoke_token(args.id, crate::store::now_unix()).await?;
    db.close().await;
    match revoked {
        0 => Err(Error::Config(format!("no working token has id {}", args.id))),
        1 => Ok(format!("revoked token {}", args.id)),
        n => Ok(format!("revoked token {} and {} widget tokens it issued", args.id, n - 1)),
    }
}

/// A one-time sign-in link for the account (created if new).
pub async fn login_link(args: LoginLinkArgs) -> Result<String> {
    let (db, account) = open_account(&args.state, &args.account).await?;
    let expires_at = crate::store::now_unix() + http::login::LINK_TTL_SECS;
    let secret = db.create_login_link(account, expires_at, !args.no_delete).await?;
    db.close().await;
    Ok(format!("{}/login/{}", args.public_url(), secret.expose()))
}

/// The database, and the named account in it (created if new), for the
/// administrative commands.
async fn open_account(state: &StateArgs, name: &str) -> Result<(Db, AccountId)> {
    let name = name.trim();
    if name.is_empty() || name.len() > 255 {
        return Err(Error::Config("an account name is 1 to 255 characters".into()));
    }
    let db = open_db(state).await?;
    let account = db.ensure_account(name).await?;
    Ok((db, account))
}

/// The database, for the administrative commands.
async fn open_db(state: &StateArgs) -> Result<Db> {
    let database_url = state.database_url();
    if database_url.starts_with("sqlite:") {
        ensure_data_dir(&state.data_dir)?;
    }
    Db::connect(&database_url).await
}

fn ensure_data_dir(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .and_then(|()| {
            // Creating a file proves the directory is writable, not just there.
            let probe = dir.join(".satchel-write-probe");
            std::fs::write(&probe, b"")?;
            std::fs::remove_file(probe)
        })
        .map_err(|e| Error::Config(format!("cannot use data dir {}: {e}", dir.display())))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}
