//! What every request handler can reach: the database, the blob store and
//! the resolved settings. Built once in `run::serve`.

use std::{sync::Arc, time::Duration};

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio::sync::Semaphore;

use crate::{
    blob::BlobStore,
    domain::signing::{Checked, Keyring, LinkError, PartToken},
    store::{now_unix, Db},
};

/// Settings resolved from the command line, shared by every handler.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Origin for absolute links, without a trailing slash.
    pub public_url: String,
    pub max_part_size: u64,
    pub max_file_size: u64,
    /// Bytes an account may keep outside the trash; `None`: unlimited.
    pub quota_bytes: Option<u64>,
    /// Unfinished upload sessions an account may have at once.
    pub open_sessions_per_account: u32,
    pub session_ttl: Duration,
    pub trash_ttl: Duration,
    /// Bytes an account's trash may hold before the longest-trashed files
    /// are purged early; `None`: unlimited.
    pub trash_quota_bytes: Option<u64>,
    pub link_ttl: Duration,
    pub request_timeout: Duration,
    /// Memory for part bodies being received, all uploads together;
    /// parts beyond it wait their turn before their bodies are read.
    pub upload_buffer: u64,
    /// How many parts of one upload may be in flight at once.
    pub upload_window: u32,
    /// How many part requests one account may have in flight at once.
    pub parts_per_account: u32,
    /// Slowest a part's body may arrive, in bytes a second, once
    /// `min_rate_grace` has passed; 0: no minimum.
    pub min_upload_rate: u64,
    pub min_rate_grace: Duration,
    /// Browser origins allowed to call the API; empty means none.
    pub cors_origins: Vec<String>,
    /// Whether `/embed-demo` is served.
    pub embed_demo: EmbedDemo,
}

/// When `/embed-demo`, which hands a `files` token to whoever opens it,
/// is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbedDemo {
    Off,
    /// Only to requests addressed to a loopback host (`127.0.0.1`,
    /// `localhost`, `[::1]`): Satchel listens on loopback and its public
    /// URL is a loopback one, so it is not behind a proxy. The Host check
    /// also keeps DNS rebinding out.
    Loopback,
    /// `--demo`: to anyone.
    Always,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            public_url: "http://127.0.0.1:3000".into(),
            max_part_size: 524_288,
            max_file_size: 2 * 1024 * 1024 * 1024,
            quota_bytes: None,
            open_sessions_per_account: 1000,
            session_ttl: Duration::from_secs(24 * 3600),
            trash_ttl: Duration::from_secs(30 * 86400),
            trash_quota_bytes: None,
            link_ttl: Duration::from_secs(3600),
            request_timeout: Duration::from_secs(60),
            upload_buffer: 8 * 1024 * 1024,
            upload_window: 8,
            parts_per_account: 32,
            min_upload_rate: 4096,
            min_rate_grace: Duration::from_secs(10),
            cors_origins: Vec::new(),
            embed_demo: EmbedDemo::Loopback,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub blobs: Arc<dyn BlobStore>,
    pub settings: Arc<Settings>,
    /// Signs part URLs and download links; the same keys on every node.
    pub signing: Arc<Signing>,
    /// One permit per part body being received at once.
    pub part_slots: Arc<Semaphore>,
    /// The ingest core's claims and digest locks in this process.
    pub ingest: Arc<crate::ingest::Ingest>,
    pub leptos: LeptosOptions,
    /// Where the pages' static files come from.
    pub site: Arc<crate::http::site::Site>,
}

impl AppState {
    pub fn new(
        db: Db,
        blobs: Arc<dyn BlobStore>,
        settings: Settings,
        keys: Keyring,
        leptos: LeptosOptions,
    ) -> Self {
        // What one part request holds in memory: a batch of its bytes on
        // local disk, the whole part where the store needs it for one PUT.
        let per_request = match blobs.part_layout() {
            crate::blob::PartLayout::SessionBlob => 128 * 1024,
            crate::blob::PartLayout::BlobPerPart => settings.max_part_size,
        };
        let slots = (settings.upload_buffer / per_request.max(1)).max(1) as usize;
        AppState {
            db,
            blobs,
            settings: Arc::new(settings),
            signing: Arc::new(Signing::new(keys)),
            part_slots: Arc::new(Semaphore::new(slots)),
            ingest: Arc::default(),
            site: Arc::new(crate::http::site::Site::Dir(leptos.site_root.as_ref().into())),
            leptos,
        }
    }

    /// The same state serving its static files from `site`.
    pub fn with_site(mut self, site: crate::http::site::Site) -> Self {
        if let crate::http::site::Site::Dir(dir) = &site {
            self.leptos.site_root = dir.to_string_lossy().into_owned().into();
        }
        self.site = Arc::new(site);
        self
    }
}

/// The URL-signing keys this process holds: loaded at start, on every
/// sweep, and when a token names a key it has not seen (another node, or
/// `satchel keys rotate`, made it).
pub struct Signing {
    ring: std::sync::RwLock<Arc<Keyring>>,
    /// When the keys were last loaded because of an unknown key: forged
    /// ids cannot make every request a database read.
    loaded: tokio::sync::Mutex<Option<std::time::Instant>>,
}

impl Signing {
    fn new(ring: Keyring) -> Signing {
        Signing { ring: std::sync::RwLock::new(Arc::new(ring)), loaded: Default::default() }
    }

    /// The keys as last loaded; the newest signs.
    pub fn keys(&self) -> Arc<Keyring> {
        self.ring.read().expect("never poisoned").clone()
    }

    fn replace(&self, ring: Keyring) {
        *self.ring.write().expect("never poisoned") = Arc::new(ring);
    }
}

/// How long a superseded key still verifies: as long as anything it
/// signed can live (a session and its replay grace, or a link).
pub fn key_retention(settings: &Settings) -> i64 {
    let session =
        settings.session_ttl.as_secs() as i64 + crate::ingest::lifetime::REPLAY_GRACE_SECS;
    session.max(settings.link_ttl.as_secs() as i64)
}

impl AppState {
    /// Loads the signing keys again.
    pub async fn reload_keys(&self) -> crate::Result<()> {
        let keys = self.db.signing_keys(now_unix()).await?;
        self.signing.replace(Keyring::new(keys, key_retention(&self.settings)));
        Ok(())
    }

    /// Loads the keys again for a token that names one this process has
    /// not seen, at most once a second; whether it did.
    async fn learn_key(&self) -> bool {
        let mut loaded = self.signing.loaded.lock().await;
        if loaded.is_some_and(|at| at.elapsed() < std::time::Duration::from_secs(1)) {
            return false;
        }
        *loaded = Some(std::time::Instant::now());
        match self.reload_keys().await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "loading the signing keys failed");
                false
            }
        }
    }

    /// What a part token grants, if a key that still verifies signed it.
    pub async fn verify_part_token(&self, token: &str) -> Option<PartToken> {
        let check = || self.signing.keys().verify_part_token(token, now_unix());
        match check() {
            Checked::Valid(granted) => Some(granted),
            Checked::UnknownKey(_) if self.learn_key().await => match check() {
                Checked::Valid(granted) => Some(granted),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether a download link's `sign` is good for this file version now.
    pub async fn verify_download(
        &self,
        file_uuid: &str,
        version_uuid: &str,
        sign: &str,
    ) -> Result<(), LinkError> {
        let check =
            || self.signing.keys().verify_download(file_uuid, version_uuid, sign, now_unix());
        match check() {
            Checked::Valid(verdict) => verdict,
            Checked::UnknownKey(_) if self.learn_key().await => match check() {
                Checked::Valid(verdict) => verdict,
                _ => Err(LinkError::Invalid),
            },
            _ => Err(LinkError::Invalid),
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// Leptos settings with Satchel's defaults baked in, so the binary serves
/// its pages from the repository root with no environment variables.
pub fn leptos_options(site_root: &std::path::Path, addr: std::net::SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("satchel")
        .site_root(site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .env(leptos::config::Env::PROD)
        .site_addr(addr)
        .reload_port(3001u32)
        .build()
}
