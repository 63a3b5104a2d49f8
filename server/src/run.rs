//! What each command does once its flags are parsed.

use crate::{
    blob,
    config::{DemoSeedArgs, LoginLinkArgs, ServeArgs, StateArgs, TokenCreateArgs},
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
        "satchel is serving"
    );
    http::serve::serve(listener, http::app(state), shutdown_signal()).await;
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
        link_ttl: args.link_ttl,
        request_timeout: args.request_timeout,
        upload_buffer: args.upload_buffer,
        upload_window: args.upload_window,
        parts_per_account: args.parts_per_account,
        min_upload_rate: args.min_upload_rate,
        min_rate_grace: Settings::default().min_rate_grace,
        cors_origins: args.cors_origins.clone(),
        embed_demo: args.embed_demo(),
    };
    let signing = db.signing_key().await?;
    let leptos = leptos_options(&args.site_root, args.listen);
    Ok(AppState::new(db, blobs, settings, signing, leptos))
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
pub async fn token_create(args: TokenCreateArgs) -> Result<String> {
    let (db, account) = open_account(&args.state, &args.account).await?;
    let secret = db.create_token(account, args.scopes, None, None).await?;
    db.close().await;
    Ok(secret.expose().to_owned())
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
    let database_url = state.database_url();
    if database_url.starts_with("sqlite:") {
        ensure_data_dir(&state.data_dir)?;
    }
    let db = Db::connect(&database_url).await?;
    let account = db.ensure_account(name).await?;
    Ok((db, account))
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
