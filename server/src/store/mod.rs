//! Metadata persistence: accounts and tokens now, sessions, files and CRM
//! entities as they land.
//!
//! One set of queries serves SQLite and PostgreSQL through sqlx's `Any`
//! driver: every query uses `$1` placeholders (both databases accept them),
//! ids are 64-bit integers, times are unix seconds in 64-bit integers and
//! uuids are text, which are the types `Any` carries unchanged. Only the
//! DDL differs (identity columns), so each database has its own migration
//! folder with the same tables, and `Db::connect` picks one by URL scheme.

use std::{str::FromStr, sync::Once, time::Duration};

use sqlx::{
    any::{AnyConnectOptions, AnyPoolOptions},
    AnyPool, Executor,
};

use crate::error::{Error, Result};

pub mod accounts;
pub mod crm;
pub mod files;
pub mod listing;
pub mod secrets;
pub mod sessions;
pub mod shared_commit;
pub mod tokens;
pub mod trash;
pub mod web;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database a URL selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

impl DbKind {
    pub fn of_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(DbKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DbKind::Postgres)
        } else {
            Err(Error::Config(format!(
                "database URL {} is neither sqlite:// nor postgres://",
                redact(url)
            )))
        }
    }
}

/// The metadata database: one pool, built once at start-up.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    kind: DbKind,
    /// SQLite takes one writer at a time, and a writer that finds the
    /// database locked sleeps in SQLite's busy handler for milliseconds
    /// at a time. The upload path's writes wait their turn here instead,
    /// where a turn passes on as soon as the last one ends.
    write_turn: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The upload path's writes waiting to share the next commit.
    commits: std::sync::Arc<shared_commit::SharedCommits>,
}

impl Db {
    /// Connects and applies pending migrations. SQLite files (and their
    /// directory) are created if missing and run in WAL mode.
    pub async fn connect(url: &str) -> Result<Db> {
        let db = Db::connect_unmigrated(url).await?;
        db.migrate().await?;
        db.refresh_statistics().await?;
        Ok(db)
    }

    /// Connects without touching the schema (administrative connections).
    pub async fn connect_unmigrated(url: &str) -> Result<Db> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);

        let kind = DbKind::of_url(url)?;
        let url = match kind {
            DbKind::Sqlite => prepare_sqlite_url(url)?,
            DbKind::Postgres => url.to_owned(),
        };
        let unusable =
            |e: sqlx::Error| Error::Config(format!("cannot open database {}: {e}", redact(&url)));
        let options = AnyConnectOptions::from_str(&url).map_err(unusable)?;
        let pool = AnyPoolOptions::new()
            .max_connections(match kind {
                // SQLite serialises writers anyway; a few readers suffice.
                DbKind::Sqlite => 8,
                DbKind::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            // A ping before every query is a round trip to SQLite's worker
            // thread for a file that cannot drop the connection.
            .test_before_acquire(kind == DbKind::Postgres)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if kind == DbKind::Sqlite {
                        // busy_timeout and foreign_keys are per connection;
                        // WAL lets readers proceed while one writer commits.
                        conn.execute(
                            "pragma journal_mode = wal; pragma busy_timeout = 10000; \
                             pragma foreign_keys = on; pragma synchronous = full;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(unusable)?;
        Ok(Db { pool, kind, write_turn: Default::default(), commits: Default::default() })
    }

    async fn migrate(&self) -> Result<()> {
        match self.kind {
            DbKind::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            DbKind::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Keeps the query planner's statistics of `files` fresh. SQLite
    /// has none until ANALYZE runs, and without them it picks the wrong
    /// index for some listings (a size range over a million files: 300 ms
    /// instead of 5). Sampled statistics (`analysis_limit`, which
    /// `pragma optimize` applies) are as bad: they count a thousand rows
    /// per account. So the table is analyzed in full, but only when it
    /// has doubled or halved since the last time, which costs about
    /// 0.4 s per million files, a handful of times over its life.
    /// PostgreSQL's autovacuum does this itself.
    pub async fn refresh_statistics(&self) -> Result<bool> {
        if self.kind != DbKind::Sqlite {
            return Ok(false);
        }
        let rows: i64 = sqlx::query_scalar("select coalesce(max(id), 0) from files")
            .fetch_one(&self.pool)
            .await?;
        let analyzed: Option<String> = sqlx::query_scalar(
            "select stat from sqlite_stat1 where tbl = 'files' and idx = 'files_account_created'",
        )
        .fetch_optional(&self.pool)
        .await
        // sqlite_stat1 exists only once something was analyzed.
        .unwrap_or(None);
        let analyzed_rows = analyzed
            .as_deref()
            .and_then(|stat| stat.split(' ').next())
            .and_then(|n| n.parse::<i64>().ok());
        if !statistics_stale(analyzed_rows, rows) {
            return Ok(false);
        }
        self.pool.execute("pragma analysis_limit = 0; analyze files;").await?;
        Ok(true)
    }

    /// Waits for this process's turn to write, on SQLite; PostgreSQL
    /// takes concurrent writers as they come.
    pub async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.kind {
            DbKind::Sqlite => Some(self.write_turn.lock().await),
            DbKind::Postgres => None,
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn kind(&self) -> DbKind {
        self.kind
    }

    /// Cheap round trip for health checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Makes sure the SQLite file can be created: its directory exists and the
/// URL asks for read-write-create mode unless it already names a mode.
fn prepare_sqlite_url(url: &str) -> Result<String> {
    let rest =
        url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or_default();
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        return Ok(url.to_owned());
    }
    if let Some(dir) = std::path::Path::new(path).parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::Config(format!("cannot create database directory {}: {e}", dir.display()))
            })?;
        }
    }
    if query.split('&').any(|kv| kv.starts_with("mode=")) {
        return Ok(url.to_owned());
    }
    let sep = if query.is_empty() { "?" } else { "&" };
    Ok(format!("{url}{sep}mode=rwc"))
}

/// A database URL fit for a log line or an error: the password is hidden.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Whether statistics taken over `analyzed` rows (none: never) misguide
/// the planner now that the table has about `rows`.
fn statistics_stale(analyzed: Option<i64>, rows: i64) -> bool {
    match analyzed {
        None => rows > 0,
        Some(then) => rows > then.saturating_mul(2).max(100) || rows < then / 2,
    }
}

/// Seconds since the unix epoch, the unit every stored time uses.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_go_stale_when_the_table_doubles_or_halves() {
        assert!(!statistics_stale(None, 0), "nothing to analyze");
        assert!(statistics_stale(None, 1));
        assert!(!statistics_stale(Some(1000), 2000));
        assert!(statistics_stale(Some(1000), 2001));
        assert!(!statistics_stale(Some(1000), 500));
        assert!(statistics_stale(Some(1000), 499));
        assert!(!statistics_stale(Some(3), 90), "small tables are not re-analyzed at every row");
    }

    async fn statistics_are_taken_once_until_the_table_doubles(backend: crate::testing::Backend) {
        let t = crate::testing::TestDb::new(backend).await;
        let db = &t.db;
        let sqlite = db.kind() == DbKind::Sqlite;
        let account = db.ensure_account("a").await.unwrap();
        let insert = |from: i64, to: i64| {
            format!(
                "insert into files (uuid, account_id, name, created_at, updated_at) \
                 select 'u' || i, {}, 'f' || i || '.txt', i, i from \
                 (with recursive n(i) as (select {from} union all select i + 1 from n where i < {to}) \
                  select i from n) as n",
                account.0
            )
        };
        sqlx::query(&insert(1, 150)).execute(db.pool()).await.unwrap();
        assert_eq!(db.refresh_statistics().await.unwrap(), sqlite, "never analyzed");
        assert!(!db.refresh_statistics().await.unwrap(), "fresh");
        sqlx::query(&insert(151, 301)).execute(db.pool()).await.unwrap();
        assert_eq!(db.refresh_statistics().await.unwrap(), sqlite, "doubled");
        t.cleanup().await;
    }

    #[tokio::test]
    async fn sqlite_statistics_are_taken_once_until_the_table_doubles() {
        statistics_are_taken_once_until_the_table_doubles(crate::testing::Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres_statistics_are_left_to_autovacuum() {
        statistics_are_taken_once_until_the_table_doubles(crate::testing::Backend::Postgres).await;
    }

    #[test]
    fn url_scheme_selects_the_database() {
        assert_eq!(DbKind::of_url("sqlite://data/x.db").unwrap(), DbKind::Sqlite);
        assert_eq!(DbKind::of_url("postgres://u@h/db").unwrap(), DbKind::Postgres);
        assert!(DbKind::of_url("mysql://u@h/db").is_err());
    }

    #[test]
    fn sqlite_urls_get_create_mode_unless_they_name_one() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sub/s.db", dir.path().display());
        assert_eq!(prepare_sqlite_url(&url).unwrap(), format!("{url}?mode=rwc"));
        assert!(dir.path().join("sub").is_dir());
        let ro = format!("sqlite://{}/s.db?mode=ro", dir.path().display());
        assert_eq!(prepare_sqlite_url(&ro).unwrap(), ro);
    }

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(redact("postgres://bob:secret@db:5432/x"), "postgres://bob:***@db:5432/x");
        assert_eq!(redact("postgres://bob@db/x"), "postgres://bob@db/x");
        assert_eq!(redact("sqlite://./data/satchel.db"), "sqlite://./data/satchel.db");
    }
}
