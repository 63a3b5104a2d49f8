//! Bytes: a store of immutable blobs addressed by key, behind one trait
//! with two backends, local disk (`file://DIR`) and any S3-compatible
//! service through `object_store` (`s3://bucket/prefix`).
//!
//! The metadata database decides what exists; the blob store only keeps
//! bytes. Every backend passes the same contract suite
//! (`tests/blob_contract.rs`).

use std::{fmt, sync::Arc};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::{
    domain::digest::RunningDigest,
    error::{Error, Result},
};

mod local;
mod s3;

pub use local::LocalDisk;
pub use s3::S3Store;

/// A stream of a blob's bytes, in order, in chunks of any size.
pub type BlobStream = BoxStream<'static, Result<Bytes>>;

/// Where a blob lives: `/`-separated segments of `[A-Za-z0-9_.-]`, none
/// empty and none starting with a dot, so a key can never climb out of
/// its store or collide with a backend's own temporary files.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlobKey(String);

impl BlobKey {
    pub fn new(key: impl Into<String>) -> Result<Self> {
        let key = key.into();
        let valid = !key.is_empty()
            && key.len() <= 512
            && key.split('/').all(|seg| {
                !seg.is_empty()
                    && !seg.starts_with('.')
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            });
        if valid {
            Ok(BlobKey(key))
        } else {
            Err(Error::validation(format!("`{key}` is not a valid blob key")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A half-open byte range `start..end` within a blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    pub fn new(start: u64, end: u64) -> Result<Self> {
        if start > end {
            return Err(Error::validation(format!("empty byte range {start}..{end}")));
        }
        Ok(ByteRange { start, end })
    }

    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// How a store keeps the pieces of an upload session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartLayout {
    /// One immutable blob per piece, under a key of its own. Any number of
    /// nodes may write at once; a download reads the pieces one after
    /// another.
    BlobPerPart,
    /// One blob per session, each piece written in place at its file
    /// offset. The store belongs to one process (it holds a lock on it),
    /// which never lets two writes touch one range (`ingest::in_place`).
    /// A download is one ranged read.
    SessionBlob,
}

/// The contract every byte store keeps.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `bytes` under `key`, replacing any blob already there.
    ///
    /// - MUST be durable when it returns `Ok`: a crash or power loss
    ///   afterwards loses nothing (fsync on disk, a completed PUT on S3).
    /// - MUST be atomic: a reader sees the old blob or the new one whole,
    ///   never part of a write, even if the writer crashes midway.
    /// - MUST be idempotent: putting the same bytes again succeeds and
    ///   leaves the same blob.
    async fn put(&self, key: &BlobKey, bytes: Bytes) -> Result<()>;

    /// Stores the bytes of `stream` under `key` as `put` does (durable,
    /// atomic, idempotent) and answers how many there were.
    ///
    /// - MUST hold no more than a few chunks in memory whatever the
    ///   length (local disk writes a temporary file; S3 a multipart
    ///   upload), so a blob of any size can be copied between stores.
    /// - MUST leave any blob already at `key` untouched if the stream
    ///   fails.
    async fn put_stream(&self, key: &BlobKey, stream: BlobStream) -> Result<u64>;

    /// Streams the blob, or the `range` of it, without loading it whole.
    ///
    /// - MUST fail with `Error::NotFound("blob")` when the key is absent.
    /// - MUST yield exactly the bytes of `range` (clamped to the blob's
    ///   end; a range starting past the end fails with `Validation`).
    async fn get(&self, key: &BlobKey, range: Option<ByteRange>) -> Result<BlobStream>;

    /// Feeds exactly the bytes of `range` of the blob to `digest`, in
    /// order, and answers it.
    ///
    /// - MUST fail with `Error::NotFound("blob")` when the key is absent,
    ///   and with an I/O error when the blob ends before the range does.
    /// - Holds no more than one chunk of the blob in memory. The default
    ///   streams it through `get`; a store that can hash where it reads
    ///   does (local disk: one trip to a blocking thread, not one a chunk).
    async fn hash_range(
        &self,
        key: &BlobKey,
        range: ByteRange,
        mut digest: RunningDigest,
    ) -> Result<RunningDigest> {
        use futures::TryStreamExt;
        let mut stream = self.get(key, Some(range)).await?;
        let mut fed = 0u64;
        while let Some(chunk) = stream.try_next().await? {
            fed += chunk.len() as u64;
            digest.update(&chunk);
        }
        short_blob(fed, range)?;
        Ok(digest)
    }

    /// The blob's size in bytes, or `None` when it is absent.
    async fn size(&self, key: &BlobKey) -> Result<Option<u64>>;

    /// Removes the blob. MUST succeed when it is already absent, so
    /// sweepers can retry after a crash.
    async fn delete(&self, key: &BlobKey) -> Result<()>;

    /// The keys of the blobs in the folder `prefix`: those whose key
    /// starts with `prefix/`, in no particular order.
    ///
    /// - MUST list every blob whose put (or piece write) returned, and
    ///   nothing outside the folder; a folder that does not exist lists
    ///   empty. Sweepers use it to find blobs no row names.
    async fn list(&self, prefix: &BlobKey) -> Result<Vec<BlobKey>>;

    /// A human description for logs (`file:///…`, `s3://…`).
    fn describe(&self) -> String;

    /// How upload parts are laid out in this store.
    fn part_layout(&self) -> PartLayout {
        PartLayout::BlobPerPart
    }

    /// Starts writing one upload piece: bytes that go, as they arrive,
    /// to `key` from `offset` on. The session layout writes into the
    /// session's one blob in place; the per-part layout writes a blob of
    /// its own (`offset` is then 0).
    async fn piece_writer(&self, key: &BlobKey, offset: u64) -> Result<Box<dyn PieceWriter>>;
}

/// The bytes of one upload piece on their way into a store.
///
/// - `write` takes the bytes in order; a store keeps at most a small
///   fixed buffer per writer where it can write as it goes (local disk),
///   and the whole piece where it cannot (S3 takes an object in one PUT).
/// - `finish` MUST make every byte written durable before it returns
///   `Ok`, and answers how many there were.
/// - `keep_written` is for a body cut off midway: where the store can
///   keep what arrived (local disk), it makes it durable and answers its
///   length; elsewhere it discards it and answers 0.
/// - A writer dropped unfinished leaves bytes no record points to; the
///   caller never records them.
/// - In the session layout, bytes are written in place and NOT atomically:
///   callers write a range only while they hold its claim and trust it
///   only once recorded (`ingest::in_place`).
#[async_trait]
pub trait PieceWriter: Send {
    async fn write(&mut self, bytes: Bytes) -> Result<()>;
    async fn finish(self: Box<Self>) -> Result<u64>;
    async fn keep_written(self: Box<Self>) -> Result<u64>;
}

/// Opens the store a URL names and proves it usable by writing, reading
/// and deleting a probe blob, so a bad URL stops start-up, not an upload.
pub async fn open(url: &str) -> Result<Arc<dyn BlobStore>> {
    let store = at(url, false).await?;
    probe(store.as_ref())
        .await
        .map_err(|e| Error::Config(format!("cannot use storage {url}: {e}")))?;
    Ok(store)
}

/// The store a URL names; local disk locked by this process unless
/// only `reading` beside its owner.
async fn at(url: &str, reading: bool) -> Result<Arc<dyn BlobStore>> {
    Ok(if let Some(path) = url.strip_prefix("file://") {
        match reading {
            true => Arc::new(LocalDisk::open_for_reading(path)?),
            false => Arc::new(LocalDisk::open(path).await?),
        }
    } else if url.starts_with("s3://") {
        Arc::new(S3Store::from_env(url)?)
    } else {
        return Err(Error::Config(format!(
            "storage URL `{url}` is neither file://DIR nor s3://bucket/prefix"
        )));
    })
}

/// Opens the store a URL names for reading beside a running server
/// (`verify`, `backup`): local disk without taking the directory's lock,
/// which the server holds, and no probe blob written. Nothing that opens
/// a store this way writes to it.
pub async fn open_for_reading(url: &str) -> Result<Arc<dyn BlobStore>> {
    let store = at(url, true).await?;
    reachable(store.as_ref())
        .await
        .map_err(|e| Error::Config(format!("cannot read storage {url}: {e}")))?;
    Ok(store)
}

/// Whether the store answers, without writing: the size of a key no
/// blob has (a HEAD request on S3, a stat on local disk).
pub async fn reachable(store: &dyn BlobStore) -> Result<()> {
    store.size(&BlobKey::new("probe/readiness")?).await.map(|_| ())
}

async fn probe(store: &dyn BlobStore) -> Result<()> {
    let key = BlobKey::new(format!("probe/{}", uuid::Uuid::new_v4()))?;
    store.put(&key, Bytes::from_static(b"satchel")).await?;
    let size = store.size(&key).await?;
    store.delete(&key).await?;
    if size != Some(7) {
        return Err(Error::Config(format!("probe blob read back as {size:?} bytes")));
    }
    Ok(())
}

/// Clamps a requested range to a blob of `size` bytes, per the contract.
/// The error for a blob that ended `fed` bytes into `range`.
pub(crate) fn short_blob(fed: u64, range: ByteRange) -> Result<()> {
    if fed < range.len() {
        return Err(Error::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("the blob ends {fed} bytes into range {}..{}", range.start, range.end),
        )));
    }
    Ok(())
}

pub(crate) fn clamp_range(range: Option<ByteRange>, size: u64) -> Result<ByteRange> {
    match range {
        None => Ok(ByteRange { start: 0, end: size }),
        Some(r) if r.start > size || (r.start == size && !r.is_empty()) => Err(Error::validation(
            format!("range {}..{} starts past the blob's {size} bytes", r.start, r.end),
        )),
        Some(r) => Ok(ByteRange { start: r.start, end: r.end.min(size) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_or_hide() {
        for good in ["a", "parts/7/000001", "files/ab-cd_1.bin"] {
            assert!(BlobKey::new(good).is_ok(), "{good}");
        }
        for bad in ["", "../etc/passwd", "a//b", "/abs", "a/.tmp", "sp ace", "a/b/"] {
            assert!(BlobKey::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_clamp_to_the_blob_and_refuse_starts_past_its_end() {
        assert_eq!(clamp_range(None, 10).unwrap(), ByteRange { start: 0, end: 10 });
        let r = ByteRange::new(4, 100).unwrap();
        assert_eq!(clamp_range(Some(r), 10).unwrap(), ByteRange { start: 4, end: 10 });
        assert!(clamp_range(Some(ByteRange::new(11, 12).unwrap()), 10).is_err());
        assert!(ByteRange::new(5, 4).is_err());
        // An empty range at the very end is a valid empty read.
        assert!(clamp_range(Some(ByteRange::new(10, 10).unwrap()), 10).is_ok());
    }
}
