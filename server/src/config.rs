//! The command line: every flag also reads an environment variable, as
//! the contract's "Command line" section lists them.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};

use crate::{domain::Scopes, state::EmbedDemo};

#[derive(Debug, Parser)]
#[command(
    name = "satchel",
    version,
    about = "A self-hosted file service that speaks Kommo's Files API",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// `satchel` alone serves, with these flags.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve(Box<ServeArgs>),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the keys that sign upload and download URLs.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print a one-time link that signs a browser in to Satchel's pages
    /// (valid 15 minutes), alone on one line.
    LoginLink(LoginLinkArgs),
    /// Fill an empty account with a lead, a contact and a company with
    /// files, fields and notes; an account with data is left alone.
    DemoSeed(Box<DemoSeedArgs>),
    /// Read stored versions back and compare each with its recorded size
    /// and SHA-256: one line per fault on stdout, naming the account,
    /// file and version; exits non-zero on any.
    Verify(VerifyArgs),
    /// Copy the SQLite database and the local-disk blobs into a new
    /// directory, consistently, while a server may be running.
    Backup(BackupArgs),
    /// Put a backup into a data directory that holds no database yet.
    Restore(RestoreArgs),
    /// Copy every stored blob to another store (local disk to S3 or
    /// back), checking each copy; run it again to go on after an
    /// interruption.
    MigrateStorage(MigrateStorageArgs),
}

#[derive(Debug, Args)]
pub struct MigrateStorageArgs {
    /// The store to copy to: `file://DIR` or `s3://bucket/prefix`.
    #[arg(long)]
    pub to: String,

    /// Copy at most this many blobs in this run (the next run goes on).
    #[arg(long)]
    pub max_blobs: Option<u64>,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where the backup goes: a new or empty directory.
    pub dir: PathBuf,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A directory `satchel backup` made.
    pub dir: PathBuf,

    /// The data directory to restore into; it must hold no database.
    #[arg(long, env = "SATCHEL_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Only this account's files.
    #[arg(long)]
    pub account: Option<String>,

    /// Check a random share of the versions, for big stores: `10%`.
    #[arg(long, value_parser = parse_percent)]
    pub sample: Option<f64>,

    /// Remove from the index the previews whose blob is missing, so
    /// their versions list no broken preview links (they are still
    /// reported, and the run still fails). Versions' bytes and records
    /// are never changed.
    #[arg(long)]
    pub repair_index: bool,

    #[command(flatten)]
    pub store: StoreArgs,
}

/// Where the metadata and the bytes are, for commands that read both.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    #[command(flatten)]
    pub state: StateArgs,

    /// `file://DIR` or `s3://bucket/prefix` (with the `AWS_*` variables);
    /// default `file://<data dir>/blobs`.
    #[arg(long, env = "SATCHEL_STORAGE_URL")]
    pub storage_url: Option<String>,
}

impl StoreArgs {
    pub fn storage_url(&self) -> String {
        storage_url(&self.state, &self.storage_url)
    }
}

/// `10%` (or `10`) as a share from 0 to 1; more than 0, at most 100 %.
fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok(p / 100.0),
        _ => Err(format!("`{text}` is not a share above 0 and at most 100%, such as 10%")),
    }
}

#[derive(Debug, Args)]
pub struct DemoSeedArgs {
    /// Account to fill; created if new.
    #[arg(long, default_value = "default")]
    pub account: String,

    /// Where the data goes: the same flags as `serve`.
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it, alone on one line (its id goes to
    /// stderr).
    Create(TokenCreateArgs),
    /// List the tokens that work, one line each: id, account, scopes,
    /// created, expires, last used.
    List(TokenListArgs),
    /// Revoke a token by id, and the widget tokens it issued: they are
    /// refused from the next request on.
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Start a new signing key. Running servers sign with it from their
    /// next sweep (at most a minute); URLs signed with older keys keep
    /// working for as long as they can live (the session TTL, or the
    /// link TTL if longer), then stop.
    Rotate(KeysRotateArgs),
}

#[derive(Debug, Args)]
pub struct KeysRotateArgs {
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct TokenListArgs {
    /// Only this account's tokens.
    #[arg(long)]
    pub account: Option<String>,

    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// The token's id, as `token list` shows it.
    pub id: i64,

    #[command(flatten)]
    pub state: StateArgs,
}

/// Where Satchel keeps its state.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// Directory for the embedded database and blobs.
    #[arg(long, env = "SATCHEL_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// `sqlite://PATH` or `postgres://...`; default `sqlite://<data dir>/satchel.db`.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

/// The storage URL; an empty value counts as unset.
fn storage_url(state: &StateArgs, url: &Option<String>) -> String {
    non_empty(url).unwrap_or_else(|| format!("file://{}/blobs", state.data_dir.display()))
}

impl StateArgs {
    /// The database URL; an empty value counts as unset.
    pub fn database_url(&self) -> String {
        non_empty(&self.database_url)
            .unwrap_or_else(|| format!("sqlite://{}/satchel.db", self.data_dir.display()))
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SATCHEL_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub state: StateArgs,

    /// `file://DIR` or `s3://bucket/prefix` (with the `AWS_*` variables);
    /// default `file://<data dir>/blobs`.
    #[arg(long, env = "SATCHEL_STORAGE_URL")]
    pub storage_url: Option<String>,

    /// Origin that links and part URLs are built on; default `http://<listen>`.
    #[arg(long, env = "SATCHEL_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Size of every upload part but the last, in bytes (a multiple of 64).
    #[arg(long, env = "SATCHEL_MAX_PART_SIZE", default_value_t = 524_288, value_parser = parse_part_size)]
    pub max_part_size: u64,

    /// Largest file an upload session accepts, in bytes.
    #[arg(long, env = "SATCHEL_MAX_FILE_SIZE", default_value_t = 2 * 1024 * 1024 * 1024)]
    pub max_file_size: u64,

    /// Bytes each account may keep in files that are not in the trash
    /// (every version counts); unlimited when unset.
    #[arg(long, env = "SATCHEL_QUOTA_BYTES")]
    pub quota_bytes: Option<u64>,

    /// How many unfinished upload sessions an account may have at once;
    /// one more is refused (429) until one completes, is cancelled or
    /// expires.
    #[arg(long, env = "SATCHEL_OPEN_SESSIONS_PER_ACCOUNT", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub open_sessions_per_account: u32,

    /// How long an unfinished upload session lives (`24h`, `90m`, `2s`).
    #[arg(long, env = "SATCHEL_SESSION_TTL", default_value = "24h", value_parser = parse_duration)]
    pub session_ttl: Duration,

    /// Bytes an account's trash may hold; past it, the sweeper purges the
    /// longest-trashed files early. Unlimited when unset (the trash is
    /// then bounded by `--trash-ttl` alone).
    #[arg(long, env = "SATCHEL_TRASH_QUOTA_BYTES")]
    pub trash_quota_bytes: Option<u64>,

    /// How long a trashed file is kept before it is purged.
    #[arg(long, env = "SATCHEL_TRASH_TTL", default_value = "30d", value_parser = parse_duration)]
    pub trash_ttl: Duration,

    /// How long a signed download link works.
    #[arg(long, env = "SATCHEL_LINK_TTL", default_value = "1h", value_parser = parse_duration)]
    pub link_ttl: Duration,

    /// Browser origins allowed to call the API (comma separated); part
    /// uploads under `/upload/` accept any origin.
    #[arg(long, env = "SATCHEL_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Longest time a request may take before its answer starts.
    #[arg(long, env = "SATCHEL_REQUEST_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// On SIGTERM or Ctrl-C: stop accepting, close idle connections, and
    /// give requests in flight (parts still arriving) this long to finish
    /// before exiting anyway.
    #[arg(long, env = "SATCHEL_SHUTDOWN_GRACE", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Longest wait for a request's headers (HTTP/1), which is also how
    /// long a kept-alive connection may sit idle between requests.
    #[arg(long, env = "SATCHEL_HEADER_READ_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,

    /// How often an idle HTTP/2 connection is pinged; one that does not
    /// answer within the same time is closed.
    #[arg(long, env = "SATCHEL_HTTP2_KEEP_ALIVE", default_value = "20s", value_parser = parse_duration)]
    pub http2_keep_alive: Duration,

    /// Connections open at once; further ones wait in the listen backlog
    /// until one closes.
    #[arg(long, env = "SATCHEL_MAX_CONNECTIONS", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Memory for part bodies in flight, all uploads together, in bytes;
    /// further parts wait before their bodies are read.
    #[arg(long, env = "SATCHEL_UPLOAD_BUFFER", default_value_t = 8 * 1024 * 1024)]
    pub upload_buffer: u64,

    /// How many parts of one upload may be in flight at once: a part may
    /// land anywhere within this many part sizes past the bytes stored
    /// without a gap.
    #[arg(long, env = "SATCHEL_UPLOAD_WINDOW", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub upload_window: u32,

    /// How many part requests one account may have in flight at once;
    /// more are answered 429 with `Retry-After`.
    #[arg(long, env = "SATCHEL_PARTS_PER_ACCOUNT", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub parts_per_account: u32,

    /// Slowest a part's body may arrive, in bytes a second (after 10 s):
    /// a slower body is dropped (408), keeping what arrived where the
    /// store allows it. 0: no minimum.
    #[arg(long, env = "SATCHEL_MIN_UPLOAD_RATE", default_value_t = 4096)]
    pub min_upload_rate: u64,

    /// Serve `/embed-demo`, which hands a short-lived `files` token to
    /// whoever opens it, even when not listening on a loopback address
    /// (on loopback it is always served). Never on a public deployment.
    #[arg(long, env = "SATCHEL_DEMO")]
    pub demo: bool,

    /// Serve the pages' static files (`pkg/`, `public/`) from this
    /// directory, laid out like `target/site`, instead of the ones the
    /// release binary carries (for development).
    #[arg(long, env = "LEPTOS_SITE_ROOT")]
    pub site_root: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// Comma-separated scopes: files, files_delete, crm.
    #[arg(long)]
    pub scopes: Scopes,

    /// Account the token belongs to; created if new.
    #[arg(long, default_value = "default")]
    pub account: String,

    /// The token stops working this long from now (`30d`, `12h`); it
    /// never expires when absent.
    #[arg(long, value_parser = parse_duration)]
    pub expires: Option<Duration>,

    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct LoginLinkArgs {
    /// Account to sign in to; created if new.
    #[arg(long, default_value = "default")]
    pub account: String,

    /// Origin the link points at; default `http://<listen>`.
    #[arg(long, env = "SATCHEL_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// The address `satchel serve` listens on.
    #[arg(long, env = "SATCHEL_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// The session may read, upload and edit, but not move files to the
    /// trash.
    #[arg(long)]
    pub no_delete: bool,

    #[command(flatten)]
    pub state: StateArgs,
}

impl LoginLinkArgs {
    pub fn public_url(&self) -> String {
        let url = non_empty(&self.public_url).unwrap_or_else(|| format!("http://{}", self.listen));
        url.trim_end_matches('/').to_owned()
    }
}

impl ServeArgs {
    pub fn storage_url(&self) -> String {
        storage_url(&self.state, &self.storage_url)
    }

    /// `/embed-demo` is served with `--demo`, or to loopback requests
    /// when both the listen address and the public URL are loopback ones
    /// (a proxy in front would make the public URL another).
    pub fn embed_demo(&self) -> EmbedDemo {
        if self.demo {
            EmbedDemo::Always
        } else if self.listen.ip().is_loopback() && is_loopback_url(&self.public_url()) {
            EmbedDemo::Loopback
        } else {
            EmbedDemo::Off
        }
    }

    pub fn public_url(&self) -> String {
        let url = non_empty(&self.public_url).unwrap_or_else(|| format!("http://{}", self.listen));
        url.trim_end_matches('/').to_owned()
    }
}

/// Whether a URL's host is a loopback name or address.
fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    crate::http::embed::is_loopback_host(authority)
}

/// An environment variable set to "" means "use the default".
fn non_empty(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration like 30s, 90m, 24h or 30d ({e})"))?;
    if d.is_zero() {
        return Err("a duration must be longer than zero".into());
    }
    Ok(d)
}

/// Parts are a multiple of SHA-256's 64-byte block so the running digest
/// can be saved between parts with an empty buffer.
fn parse_part_size(text: &str) -> Result<u64, String> {
    let n: u64 = text.parse().map_err(|_| format!("`{text}` is not a number of bytes"))?;
    if n == 0 || !n.is_multiple_of(64) || n > 64 * 1024 * 1024 {
        return Err(format!("{n} must be a positive multiple of 64, at most 64 MiB"));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("satchel").chain(args.iter().copied()))
    }

    #[test]
    fn bare_satchel_serves_with_contract_defaults() {
        let cli = parse(&[]).unwrap();
        assert!(cli.command.is_none());
        let serve = cli.serve;
        assert_eq!(serve.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(serve.max_part_size, 524_288);
        assert_eq!(serve.max_file_size, 2_147_483_648);
        assert_eq!(serve.session_ttl, Duration::from_secs(24 * 3600));
        assert_eq!(serve.trash_ttl, Duration::from_secs(30 * 86400));
        assert_eq!(serve.link_ttl, Duration::from_secs(3600));
        assert_eq!(serve.public_url(), "http://127.0.0.1:3000");
        assert_eq!(serve.embed_demo(), EmbedDemo::Loopback, "loopback serves the embed demo");
        // The test command exports DATABASE_URL for the PostgreSQL tests.
        if std::env::var_os("DATABASE_URL").is_none() {
            assert_eq!(serve.state.database_url(), "sqlite://./data/satchel.db");
        }
        assert_eq!(serve.storage_url(), "file://./data/blobs");
    }

    #[test]
    fn serve_subcommand_takes_the_same_flags() {
        let cli = parse(&["serve", "--listen", "0.0.0.0:8080", "--trash-ttl", "2s"]).unwrap();
        let Command::Serve(public) = &cli.command.as_ref().unwrap() else { panic!("serve") };
        assert_eq!(public.embed_demo(), EmbedDemo::Off, "no demo token page on a public address");
        let proxied = parse(&["--public-url", "https://files.example.com"]).unwrap();
        assert_eq!(proxied.serve.embed_demo(), EmbedDemo::Off, "not behind a proxy either");
        let demo = parse(&["serve", "--listen", "0.0.0.0:8080", "--demo"]).unwrap();
        let Command::Serve(demo) = &demo.command.as_ref().unwrap() else { panic!("serve") };
        assert_eq!(demo.embed_demo(), EmbedDemo::Always);
        let Some(Command::Serve(serve)) = cli.command else { panic!("expected serve") };
        assert_eq!(serve.listen.port(), 8080);
        assert_eq!(serve.trash_ttl, Duration::from_secs(2));
    }

    #[test]
    fn login_link_points_at_the_public_url() {
        let cli = parse(&["login-link", "--account", "acme"]).unwrap();
        let Some(Command::LoginLink(args)) = cli.command else { panic!("login-link") };
        assert_eq!(args.account, "acme");
        if std::env::var_os("SATCHEL_PUBLIC_URL").is_none() {
            assert_eq!(args.public_url(), "http://127.0.0.1:3000");
        }
        let cli = parse(&["login-link", "--public-url", "https://files.example.com/"]).unwrap();
        let Some(Command::LoginLink(args)) = cli.command else { panic!("login-link") };
        assert_eq!(args.public_url(), "https://files.example.com");
    }

    #[test]
    fn bad_values_are_refused_by_the_parser() {
        assert!(parse(&["--listen", "nowhere"]).is_err());
        assert!(parse(&["--session-ttl", "soon"]).is_err());
        assert!(parse(&["--max-part-size", "1000"]).is_err());
        assert!(parse(&["token", "create", "--scopes", "root"]).is_err());
    }

    #[test]
    fn empty_urls_count_as_unset() {
        let cli = parse(&["--storage-url", "", "--public-url", " ", "--database-url", ""]).unwrap();
        assert_eq!(cli.serve.storage_url(), "file://./data/blobs");
        assert_eq!(cli.serve.public_url(), "http://127.0.0.1:3000");
        assert_eq!(cli.serve.state.database_url(), "sqlite://./data/satchel.db");
    }

    #[test]
    fn token_create_reads_scopes_and_account() {
        let cli =
            parse(&["token", "create", "--scopes", "files,crm", "--account", "acme"]).unwrap();
        let Some(Command::Token(TokenCommand::Create(args))) = cli.command else {
            panic!("expected token create")
        };
        assert_eq!(args.scopes.to_string(), "files,crm");
        assert_eq!(args.account, "acme");
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_duration_text_is_read_or_refused(text in any::<String>()) {
            if let Ok(d) = parse_duration(&text) {
                prop_assert!(!d.is_zero());
            }
        }

        #[test]
        fn durations_read_back(n in 1u64..1_000_000, unit in prop_oneof![Just(("s", 1u64)), Just(("m", 60)), Just(("h", 3600)), Just(("d", 86400))]) {
            let text = format!("{n}{}", unit.0);
            prop_assert_eq!(parse_duration(&text), Ok(Duration::from_secs(n * unit.1)));
        }
    }
}
