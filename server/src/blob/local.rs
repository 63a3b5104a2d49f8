//! Local-disk blobs under one directory, one file per key.
//!
//! A put writes a temporary file in `<root>/.tmp`, fsyncs it, renames it
//! over the key's path and fsyncs the parent directory: the rename makes
//! the write atomic, the two fsyncs make it durable. Keys never start a
//! segment with a dot, so `.tmp` and `.lock` cannot collide with a blob.
//!
//! Upload pieces use the session layout (`PartLayout::SessionBlob`): a
//! session's pieces go into one file, each written in place at its file
//! offset as its bytes arrive, and made durable with one `fdatasync`.
//! That is the cost of a plain durable append, a third of a put's
//! (temporary file, fsync, rename, directory fsync), and a download is one
//! sequential read. Writes go through the page cache, where the
//! whole-file digest finds pieces that arrived ahead of it. In-place
//! writes are only safe while one process owns the directory, so opening
//! the store takes an exclusive lock on `<root>/.lock`; a second server on
//! the same directory is refused at start-up.

use std::{
    collections::HashMap,
    io::SeekFrom,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, Weak,
    },
};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::{clamp_range, BlobKey, BlobStore, BlobStream, ByteRange, PartLayout, PieceWriter};
use crate::{
    domain::digest::RunningDigest,
    error::{Error, Result},
};

/// Blobs in a local directory.
#[derive(Debug)]
pub struct LocalDisk {
    root: PathBuf,
    /// Held open for the store's lifetime: the directory's owner lock
    /// (none when opened for reading beside its owner).
    _lock: Option<std::fs::File>,
    /// Session blobs being written, shared by their writers.
    open_blobs: Mutex<HashMap<PathBuf, Weak<OpenBlob>>>,
}

impl LocalDisk {
    /// Opens (creating if needed) the directory `root`.
    pub async fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        let tmp = root.join(".tmp");
        tokio::fs::create_dir_all(&tmp).await.map_err(|e| {
            Error::Config(format!("cannot create blob directory {}: {e}", root.display()))
        })?;
        let lock_path = root.join(".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::Config(format!("cannot open {}: {e}", lock_path.display())))?;
        lock.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => Error::Config(format!(
                "blob directory {} is in use by another satchel process",
                root.display()
            )),
            std::fs::TryLockError::Error(e) => {
                Error::Config(format!("cannot lock {}: {e}", lock_path.display()))
            }
        })?;
        Ok(LocalDisk { root, _lock: Some(lock), open_blobs: Mutex::default() })
    }

    /// The store in `root` for reading only, beside the process that
    /// owns it: no lock taken, nothing created. Callers never write.
    pub fn open_for_reading(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        if !root.is_dir() {
            return Err(Error::Config(format!("no blob directory at {}", root.display())));
        }
        Ok(LocalDisk { root, _lock: None, open_blobs: Mutex::default() })
    }

    fn path_of(&self, key: &BlobKey) -> PathBuf {
        self.root.join(key.as_str())
    }
}

/// Writes `tmp`, makes it durable, renames it over `target` and makes the
/// rename durable; removes `tmp` if anything fails.
fn write_durably(tmp: &Path, target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = target.parent().expect("blob paths have a parent");
    let written = (|| {
        std::fs::create_dir_all(dir)?;
        let mut file = std::fs::File::create(tmp)?;
        file.write_all(bytes)?;
        file.sync_data()?;
        std::fs::rename(tmp, target)?;
        // The rename is only durable once the directory entry is.
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    written
}

/// The keys of the files under `dir` (the folder of key `prefix` in
/// `root`), walked depth first; none when it is absent or not a folder.
fn keys_under(root: &Path, dir: &Path) -> std::io::Result<Vec<BlobKey>> {
    let mut keys = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound) || !folder.is_dir() => {
                continue
            }
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                folders.push(entry.path());
                continue;
            }
            let path = entry.path();
            let relative = path.strip_prefix(root).expect("walked from inside the root");
            // Names that are no key (a stray file) are not blobs.
            if let Some(key) = relative.to_str().and_then(|k| BlobKey::new(k).ok()) {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

/// Bytes a writer gathers before it hands them to the disk: large enough
/// that a trip to a blocking thread carries a good load, small enough that
/// hundreds of uploads at once hold little memory.
const WRITE_BATCH: usize = 128 * 1024;

/// Opens (creating when absent) the session blob `path` for writing in
/// place; a new directory's own entry is made durable at once.
fn open_in_place(path: &Path) -> std::io::Result<std::fs::File> {
    let dir = path.parent().expect("blob paths have a parent");
    if !dir.is_dir() {
        std::fs::create_dir_all(dir)?;
        if let Some(parent) = dir.parent() {
            std::fs::File::open(parent)?.sync_all()?;
        }
    }
    std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(path)
}

/// A session blob being written: one handle for all its writers, and
/// their fdatasyncs shared.
///
/// `fdatasync` makes every write to the file that returned before it
/// began durable, whoever made it. So a writer that needs its bytes
/// durable takes a ticket once its writes returned; if a sync that began
/// after the ticket was issued has ended meanwhile, the writer is done
/// without a sync of its own. With several parts of an upload in flight,
/// one device flush serves all those that finished writing meanwhile
/// (group commit), instead of one flush each.
///
/// A failed sync leaves the file's state unknown (Linux may drop the
/// dirty pages it could not write and report success to the next sync),
/// so every later sync of that file in this process fails too.
struct OpenBlob {
    file: Arc<std::fs::File>,
    path: PathBuf,
    /// Tickets issued, one per sync asked for.
    asked: AtomicU64,
    synced: tokio::sync::Mutex<Synced>,
}

#[derive(Default)]
struct Synced {
    /// Every ticket up to this one is durable.
    upto: u64,
    /// The blob's directory entry is durable.
    entry: bool,
    /// Why a sync of this file failed.
    broken: Option<String>,
}

impl OpenBlob {
    /// Makes every write that returned before this call durable, with the
    /// blob's directory entry the first time.
    async fn sync(&self) -> Result<()> {
        let ticket = self.asked.fetch_add(1, Ordering::SeqCst) + 1;
        let mut synced = self.synced.lock().await;
        if let Some(why) = &synced.broken {
            return Err(std::io::Error::other(format!("an earlier sync failed: {why}")).into());
        }
        if synced.upto >= ticket {
            return Ok(());
        }
        // Every ticket issued so far was issued after its writes returned,
        // so the sync below covers them all.
        let covers = self.asked.load(Ordering::SeqCst);
        let file = self.file.clone();
        let dir = (!synced.entry).then(|| self.path.parent().expect("blob paths have a parent"));
        let dir = dir.map(Path::to_path_buf);
        let outcome = tokio::task::spawn_blocking(move || {
            file.sync_data()?;
            if let Some(dir) = dir {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok::<_, std::io::Error>(())
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|synced| synced);
        match outcome {
            Ok(()) => {
                synced.upto = covers;
                synced.entry = true;
                Ok(())
            }
            Err(e) => {
                synced.broken = Some(e.to_string());
                Err(e.into())
            }
        }
    }
}

/// Bytes read at a time when hashing a blob's range.
const HASH_CHUNK: usize = 64 * 1024;

/// Starts writing `len` bytes from `offset` to the disk without waiting
/// for them, so the fdatasync that ends the piece finds them on their way
/// and the disk works while the rest of the piece arrives. Only a hint:
/// the fdatasync is what makes the bytes durable.
#[cfg(target_os = "linux")]
fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain syscall on a descriptor this file owns.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &std::fs::File, _offset: u64, _len: u64) {}

/// One piece written in place into its session's blob.
struct InPlaceWriter {
    blob: Arc<OpenBlob>,
    /// Where the next batch goes.
    at: u64,
    written: u64,
    batch: Vec<Bytes>,
    batch_len: usize,
}

impl InPlaceWriter {
    async fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let (file, mut at) = (self.blob.file.clone(), self.at);
        self.at += self.batch_len as u64;
        self.batch_len = 0;
        tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::FileExt;
            let from = at;
            for bytes in batch {
                file.write_all_at(&bytes, at)?;
                at += bytes.len() as u64;
            }
            start_writeback(&file, from, at - from);
            Ok::<_, std::io::Error>(())
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(())
    }

    /// Flushes and makes everything durable.
    async fn sync(mut self: Box<Self>) -> Result<u64> {
        self.flush().await?;
        self.blob.sync().await?;
        Ok(self.written)
    }
}

#[async_trait]
impl PieceWriter for InPlaceWriter {
    async fn write(&mut self, bytes: Bytes) -> Result<()> {
        self.written += bytes.len() as u64;
        self.batch_len += bytes.len();
        self.batch.push(bytes);
        if self.batch_len >= WRITE_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<u64> {
        self.sync().await
    }

    async fn keep_written(self: Box<Self>) -> Result<u64> {
        self.sync().await
    }
}

#[async_trait]
impl BlobStore for LocalDisk {
    async fn put(&self, key: &BlobKey, bytes: Bytes) -> Result<()> {
        let target = self.path_of(key);
        let tmp = self.root.join(".tmp").join(uuid::Uuid::new_v4().to_string());
        // One trip to a blocking thread for the whole write: each tokio::fs
        // call would be a trip of its own.
        tokio::task::spawn_blocking(move || write_durably(&tmp, &target, &bytes))
            .await
            .map_err(std::io::Error::other)??;
        Ok(())
    }

    async fn put_stream(&self, key: &BlobKey, mut stream: BlobStream) -> Result<u64> {
        use futures::TryStreamExt;
        use tokio::io::AsyncWriteExt;
        let target = self.path_of(key);
        let tmp = self.root.join(".tmp").join(uuid::Uuid::new_v4().to_string());
        let written = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            let mut len = 0u64;
            while let Some(chunk) = stream.try_next().await? {
                len += chunk.len() as u64;
                file.write_all(&chunk).await?;
            }
            file.sync_data().await?;
            drop(file);
            let (tmp, target) = (tmp.clone(), target.clone());
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                let dir = target.parent().expect("blob paths have a parent");
                std::fs::create_dir_all(dir)?;
                std::fs::rename(&tmp, &target)?;
                std::fs::File::open(dir)?.sync_all()
            })
            .await
            .map_err(std::io::Error::other)??;
            Ok::<u64, Error>(len)
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        written
    }

    async fn get(&self, key: &BlobKey, range: Option<ByteRange>) -> Result<BlobStream> {
        let mut file = match tokio::fs::File::open(self.path_of(key)).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound("blob"))
            }
            Err(e) => return Err(e.into()),
        };
        let size = file.metadata().await?.len();
        let range = clamp_range(range, size)?;
        file.seek(SeekFrom::Start(range.start)).await?;
        let reader = file.take(range.len());
        Ok(ReaderStream::with_capacity(reader, 64 * 1024)
            .map(|chunk| chunk.map_err(Error::from))
            .boxed())
    }

    async fn hash_range(
        &self,
        key: &BlobKey,
        range: ByteRange,
        mut digest: RunningDigest,
    ) -> Result<RunningDigest> {
        let path = self.path_of(key);
        tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::FileExt;
            let file = match std::fs::File::open(path) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::NotFound("blob"))
                }
                Err(e) => return Err(e.into()),
            };
            let mut chunk = vec![0u8; HASH_CHUNK];
            let mut at = range.start;
            while at < range.end {
                let want = ((range.end - at) as usize).min(HASH_CHUNK);
                let got = file.read_at(&mut chunk[..want], at)?;
                if got == 0 {
                    break;
                }
                digest.update(&chunk[..got]);
                at += got as u64;
            }
            super::short_blob(at - range.start, range)?;
            Ok(digest)
        })
        .await
        .map_err(std::io::Error::other)?
    }

    async fn size(&self, key: &BlobKey) -> Result<Option<u64>> {
        match tokio::fs::metadata(self.path_of(key)).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        // A blob made again later gets its directory entry synced again.
        self.open_blobs.lock().expect("never poisoned").remove(&self.path_of(key));
        match tokio::fs::remove_file(self.path_of(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn list(&self, prefix: &BlobKey) -> Result<Vec<BlobKey>> {
        let (root, dir) = (self.root.clone(), self.path_of(prefix));
        let keys = tokio::task::spawn_blocking(move || keys_under(&root, &dir))
            .await
            .map_err(std::io::Error::other)??;
        Ok(keys)
    }

    fn describe(&self) -> String {
        format!("file://{}", self.root.display())
    }

    fn part_layout(&self) -> PartLayout {
        PartLayout::SessionBlob
    }

    async fn piece_writer(&self, key: &BlobKey, offset: u64) -> Result<Box<dyn PieceWriter>> {
        let path = self.path_of(key);
        let open =
            self.open_blobs.lock().expect("never poisoned").get(&path).and_then(Weak::upgrade);
        let blob = match open {
            Some(blob) => blob,
            None => {
                let file = {
                    let path = path.clone();
                    tokio::task::spawn_blocking(move || open_in_place(&path))
                        .await
                        .map_err(std::io::Error::other)??
                };
                let blob = Arc::new(OpenBlob {
                    file: Arc::new(file),
                    path: path.clone(),
                    asked: AtomicU64::new(0),
                    synced: tokio::sync::Mutex::default(),
                });
                let mut open = self.open_blobs.lock().expect("never poisoned");
                if open.len() >= 1024 {
                    open.retain(|_, blob| blob.strong_count() > 0);
                }
                // Two first writers may race here; both handles are the
                // same file, and a sync on either covers writes on both.
                open.insert(path, Arc::downgrade(&blob));
                blob
            }
        };
        Ok(Box::new(InPlaceWriter {
            blob,
            at: offset,
            written: 0,
            batch: Vec::new(),
            batch_len: 0,
        }))
    }
}
