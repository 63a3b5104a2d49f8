//! Test support shared by unit and integration tests: fresh databases on
//! SQLite and PostgreSQL, and a whole app over them. Not used in serving.

use std::{path::PathBuf, sync::Arc};

use crate::{
    blob::{BlobStore, LocalDisk},
    state::{leptos_options, AppState, Settings},
    store::Db,
};

/// Which database a test runs against.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty, migrated database that `cleanup` removes.
pub struct TestDb {
    pub db: Db,
    dir: PathBuf,
    postgres: Option<(String, String)>,
}

/// The PostgreSQL server tests use: `DATABASE_URL` when it is a postgres
/// URL, else the local server.
pub fn postgres_admin_url() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => url,
        _ => "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..].find('/').map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("satchel-test-{id}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}/satchel.db", dir.display());
                let db = Db::connect(&url).await.expect("sqlite test database");
                TestDb { db, dir, postgres: None }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("satchel_test_{id}");
                let admin_db = Db::connect_unmigrated(&admin).await.unwrap_or_else(|e| {
                    panic!("PostgreSQL for tests at {admin}: {e} (set DATABASE_URL)")
                });
                sqlx::query(&format!("create database {name}"))
                    .execute(admin_db.pool())
                    .await
                    .expect("create test database");
                admin_db.close().await;
                let db =
                    Db::connect(&with_database(&admin, &name)).await.expect("postgres test db");
                TestDb { db, dir, postgres: Some((admin, name)) }
            }
        }
    }

    /// A directory private to this test.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Drops the database and the test's directory.
    pub async fn cleanup(self) {
        self.db.close().await;
        if let Some((admin, name)) = self.postgres {
            if let Ok(admin_db) = Db::connect_unmigrated(&admin).await {
                let _ = sqlx::query(&format!("drop database if exists {name} with (force)"))
                    .execute(admin_db.pool())
                    .await;
                admin_db.close().await;
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A test app: fresh database, local-disk blobs, default settings.
pub struct TestApp {
    pub state: AppState,
    pub db: TestDb,
}

impl TestApp {
    pub async fn new(backend: Backend) -> TestApp {
        Self::with(backend, Settings::default(), None).await
    }

    /// A test app with these settings and these blobs (a local directory
    /// when `None`).
    pub async fn with(
        backend: Backend,
        settings: Settings,
        blobs: Option<Arc<dyn BlobStore>>,
    ) -> TestApp {
        let db = TestDb::new(backend).await;
        let blobs: Arc<dyn BlobStore> = match blobs {
            Some(blobs) => blobs,
            None => Arc::new(LocalDisk::open(db.dir().join("blobs")).await.expect("blob dir")),
        };
        let keys = db.db.signing_keys(crate::store::now_unix()).await.expect("signing keys");
        let signing =
            crate::domain::signing::Keyring::new(keys, crate::state::key_retention(&settings));
        let leptos = leptos_options(&db.dir().join("site"), ([127, 0, 0, 1], 3000).into());
        let state = AppState::new(db.db.clone(), blobs, settings, signing, leptos);
        TestApp { state, db }
    }

    /// A token of `scopes` for `account` (created if new).
    pub async fn token(&self, account: &str, scopes: &str) -> String {
        let id = self.state.db.ensure_account(account).await.expect("account");
        let scopes = scopes.parse().expect("scopes");
        self.state.db.create_token(id, scopes, None, None).await.expect("token").expose().to_owned()
    }

    pub fn router(&self) -> axum::Router {
        crate::http::app(self.state.clone())
    }

    pub async fn cleanup(self) {
        self.db.cleanup().await;
    }
}

/// A real S3-compatible server (`s3s-fs`, installed by the test command)
/// on a free loopback port, serving one bucket from a temporary directory.
pub struct S3Server {
    child: std::process::Child,
    dir: PathBuf,
    pub endpoint: String,
    pub bucket: String,
}

impl S3Server {
    pub const ACCESS_KEY: &'static str = "satchel-test";
    pub const SECRET_KEY: &'static str = "satchel-test-secret";

    pub fn start() -> S3Server {
        let dir =
            std::env::temp_dir().join(format!("satchel-s3-{}", uuid::Uuid::new_v4().simple()));
        let bucket = "satchel-test".to_owned();
        std::fs::create_dir_all(dir.join(&bucket)).expect("s3 root");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = std::process::Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", Self::ACCESS_KEY, "--secret-key", Self::SECRET_KEY])
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start s3s-fs ({e}); the test command installs it: \
                     cargo install s3s-fs --version 0.14.1 --features binary --locked"
                )
            });
        let server = S3Server { child, dir, endpoint: format!("http://127.0.0.1:{port}"), bucket };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "s3s-fs did not start on port {port}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        server
    }

    /// The `AWS_*` variables that point a `satchel` process at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", Self::ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", Self::SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// A client configured like the environment from `env` would.
    pub fn builder(&self) -> object_store::aws::AmazonS3Builder {
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_access_key_id(Self::ACCESS_KEY)
            .with_secret_access_key(Self::SECRET_KEY)
            .with_region("us-east-1")
    }

    /// The directory that holds the bucket's objects as files.
    pub fn root(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The URL of a PostgreSQL test database, for child processes.
pub fn postgres_url_of(t: &TestDb) -> String {
    let (admin, name) = t.postgres.as_ref().expect("a PostgreSQL test database");
    with_database(admin, name)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_replaced_keeping_host_and_query() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://h/db?sslmode=disable", "t2"),
            "postgres://h/t2?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t3"), "postgres://h/t3");
    }
}
