//! `satchel backup DIR` and `satchel restore DIR`: a consistent copy of
//! the embedded deployment (the SQLite database and the local-disk
//! blobs), taken while a server runs, and put back into an empty data
//! directory. PostgreSQL with S3 is backed up with their own tools
//! (README).
//!
//! Consistency: the blobs are copied first, then the database is
//! snapshotted (`VACUUM INTO`, one read transaction), then every blob the
//! snapshot names is copied again if it is new or was written since the
//! first pass began (an upload still arriving: a recorded piece is
//! durable before its record, and never written again, so this copy
//! holds every range the snapshot names). A blob removed
//! between the two passes belonged to something the snapshot no longer
//! needs whole (a cancelled session), so it is reported, not fatal.
//! Blobs the snapshot does not name are left out.

use std::{collections::HashSet, path::Path, time::SystemTime};

use crate::{
    error::{Error, Result},
    store::{Db, DbKind},
};

/// The database's file name inside a backup (and a data directory).
pub const DATABASE: &str = "satchel.db";
/// The blobs' folder inside a backup (and a data directory).
pub const BLOBS: &str = "blobs";

/// What a backup holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackedUp {
    pub blobs: u64,
    pub bytes: u64,
    /// Blobs the snapshot names that were gone by the second pass.
    pub missing: Vec<String>,
}

/// Backs up the SQLite database behind `db` and the local blobs under
/// `blob_root` into `dir`, which must be empty or absent.
pub async fn backup(db: &Db, blob_root: &Path, dir: &Path) -> Result<BackedUp> {
    if db.kind() != DbKind::Sqlite {
        return Err(Error::Config(
            "backup copies SQLite and local-disk deployments; for PostgreSQL and S3 use \
             pg_dump and a bucket copy (see the README)"
                .into(),
        ));
    }
    let fresh = match std::fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(io_error(dir, e)),
    };
    if !fresh {
        return Err(Error::Config(format!(
            "{} is not empty; back up into a new directory",
            dir.display()
        )));
    }
    let blobs_dir = dir.join(BLOBS);
    std::fs::create_dir_all(&blobs_dir).map_err(|e| io_error(&blobs_dir, e))?;

    // Pass 1: every blob there is now. File times are coarse: anything
    // written from a little before the pass on counts as written since.
    let began = SystemTime::now() - std::time::Duration::from_secs(2);
    let (root, copy_to) = (blob_root.to_owned(), blobs_dir.clone());
    blocking(move || {
        for key in blob_files(&root)? {
            copy(&root.join(&key), &copy_to.join(&key))?;
        }
        Ok(())
    })
    .await?;

    // The snapshot: one consistent state of the database.
    let snapshot = dir.join(DATABASE);
    let target = snapshot.to_string_lossy().replace('\'', "''");
    sqlx::query(&format!("vacuum into '{target}'")).execute(db.pool()).await?;
    let named = Db::connect(&format!("sqlite://{}", snapshot.display())).await?;
    let keys = named.referenced_blobs().await;
    named.close().await;
    let keys: HashSet<String> = keys?.into_iter().collect();

    // Pass 2: what the snapshot names, as it is now; then only that.
    let root = blob_root.to_owned();
    blocking(move || {
        let mut done = BackedUp::default();
        for key in &keys {
            let (source, copied) = (root.join(key), blobs_dir.join(key));
            let written_since = |m: &std::fs::Metadata| m.modified().map_or(true, |t| t >= began);
            match (std::fs::metadata(&source).ok(), copied.exists()) {
                (Some(now), copied_before) if !copied_before || written_since(&now) => {
                    copy(&source, &copied)?
                }
                (None, false) => done.missing.push(key.clone()),
                _ => {}
            }
        }
        for key in blob_files(&blobs_dir)? {
            if !keys.contains(&key) {
                std::fs::remove_file(blobs_dir.join(&key)).map_err(|e| io_error(&blobs_dir, e))?;
            } else {
                done.blobs += 1;
                done.bytes += std::fs::metadata(blobs_dir.join(&key)).map_or(0, |m| m.len());
            }
        }
        done.missing.sort();
        Ok(done)
    })
    .await
}

/// Puts a backup made by `backup` into `data_dir`, which must hold no
/// database yet: its database and blobs, as `serve` finds them by default.
pub async fn restore(dir: &Path, data_dir: &Path) -> Result<u64> {
    let (dir, data_dir) = (dir.to_owned(), data_dir.to_owned());
    blocking(move || {
        let database = dir.join(DATABASE);
        if !database.is_file() {
            return Err(Error::Config(format!("{} holds no backup ({DATABASE})", dir.display())));
        }
        let target = data_dir.join(DATABASE);
        if target.exists() {
            return Err(Error::Config(format!(
                "{} already holds a database; restore into an empty data directory",
                data_dir.display()
            )));
        }
        std::fs::create_dir_all(data_dir.join(BLOBS)).map_err(|e| io_error(&data_dir, e))?;
        let mut restored = 0;
        for key in blob_files(&dir.join(BLOBS))? {
            copy(&dir.join(BLOBS).join(&key), &data_dir.join(BLOBS).join(&key))?;
            restored += 1;
        }
        // The database last: a data directory with a database is whole.
        copy(&database, &target)?;
        Ok(restored)
    })
    .await
}

/// The keys of the blob files under `root` (not `.tmp`, `.lock`).
fn blob_files(root: &Path) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(at) = pending.pop() {
        let entries = match std::fs::read_dir(&at) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error(&at, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| io_error(&at, e))?;
            let path = entry.path();
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let kind = entry.file_type().map_err(|e| io_error(&path, e))?;
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                let key = path.strip_prefix(root).expect("under the root");
                keys.push(key.to_string_lossy().into_owned());
            }
        }
    }
    Ok(keys)
}

/// Copies one file, creating its folder, and makes the copy durable.
fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    }
    std::fs::copy(from, to).map_err(|e| io_error(from, e))?;
    std::fs::File::open(to).and_then(|f| f.sync_all()).map_err(|e| io_error(to, e))
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::Io(std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| Error::Io(std::io::Error::other(e)))?
}
