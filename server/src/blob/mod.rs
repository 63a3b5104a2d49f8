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

use crate::error::{Error, Result};

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

/// The alignment direct I/O needs of buffers, offsets and lengths.
pub const PAGE: usize = 4096;

/// A buffer that collects bytes starting on a page boundary, so a store
/// that writes them with `O_DIRECT` takes them as they are, without a
/// copy. Growing past the capacity it was made with loses the alignment
/// (the store then copies), never the bytes.
pub struct PageAlignedBuf {
    vec: Vec<u8>,
    start: usize,
}

impl PageAlignedBuf {
    pub fn with_capacity(capacity: usize) -> Self {
        let mut vec: Vec<u8> = Vec::with_capacity(capacity + PAGE);
        let start = vec.as_ptr().align_offset(PAGE).min(PAGE);
        vec.resize(start, 0);
        PageAlignedBuf { vec, start }
    }

    pub fn len(&self) -> usize {
        self.vec.len() - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.vec.extend_from_slice(bytes);
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.vec[self.start..]
    }

    /// The bytes, still where they were written.
    pub fn freeze(self) -> Bytes {
        Bytes::from(self.vec).slice(self.start..)
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

/// How a store keeps the parts of an upload session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartLayout {
    /// One immutable blob per part, written with `put` under a key tied
    /// to the part's bytes. Any number of nodes may write at once; a
    /// download reads the parts one after another.
    BlobPerPart,
    /// One blob per session, each part written in place at its offset
    /// with `write_at`. The store belongs to one process (it holds a lock
    /// on it), and that process writes a session's parts one at a time.
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

    /// Streams the blob, or the `range` of it, without loading it whole.
    ///
    /// - MUST fail with `Error::NotFound("blob")` when the key is absent.
    /// - MUST yield exactly the bytes of `range` (clamped to the blob's
    ///   end; a range starting past the end fails with `Validation`).
    async fn get(&self, key: &BlobKey, range: Option<ByteRange>) -> Result<BlobStream>;

    /// The blob's size in bytes, or `None` when it is absent.
    async fn size(&self, key: &BlobKey) -> Result<Option<u64>>;

    /// Removes the blob. MUST succeed when it is already absent, so
    /// sweepers can retry after a crash.
    async fn delete(&self, key: &BlobKey) -> Result<()>;

    /// A human description for logs (`file:///…`, `s3://…`).
    fn describe(&self) -> String;

    /// How upload parts are laid out in this store.
    fn part_layout(&self) -> PartLayout {
        PartLayout::BlobPerPart
    }

    /// Writes `bytes` at `offset` of the blob `key`, creating the blob
    /// when absent (bytes before `offset` that were never written read as
    /// zeros). Only for stores whose layout is `PartLayout::SessionBlob`;
    /// the others refuse.
    ///
    /// - MUST be durable when it returns `Ok`, including the blob's
    ///   existence when this write created it.
    /// - MUST leave every byte outside `offset..offset + len` as it was.
    /// - Is NOT atomic: after a crash the range may hold part of the
    ///   write. Callers trust a range only once they have recorded it,
    ///   after this returned, and never write a recorded range again.
    async fn write_at(&self, key: &BlobKey, offset: u64, bytes: Bytes) -> Result<()> {
        let _ = (key, offset, bytes);
        Err(Error::Io(std::io::Error::other(format!(
            "{} keeps one blob per part and cannot write in place",
            self.describe()
        ))))
    }
}

/// Opens the store a URL names and proves it usable by writing, reading
/// and deleting a probe blob, so a bad URL stops start-up, not an upload.
pub async fn open(url: &str) -> Result<Arc<dyn BlobStore>> {
    let store: Arc<dyn BlobStore> = if let Some(path) = url.strip_prefix("file://") {
        Arc::new(LocalDisk::open(path).await?)
    } else if url.starts_with("s3://") {
        Arc::new(S3Store::from_env(url)?)
    } else {
        return Err(Error::Config(format!(
            "storage URL `{url}` is neither file://DIR nor s3://bucket/prefix"
        )));
    };
    probe(store.as_ref())
        .await
        .map_err(|e| Error::Config(format!("cannot use storage {url}: {e}")))?;
    Ok(store)
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
    fn page_aligned_buffers_keep_their_bytes_on_a_page_boundary() {
        let mut buffer = PageAlignedBuf::with_capacity(3 * PAGE);
        assert!(buffer.is_empty());
        let bytes: Vec<u8> = (0..3 * PAGE).map(|i| (i % 251) as u8).collect();
        for chunk in bytes.chunks(1000) {
            buffer.extend_from_slice(chunk);
        }
        assert_eq!(buffer.as_slice(), &bytes[..]);
        let frozen = buffer.freeze();
        assert_eq!(&frozen[..], &bytes[..]);
        assert_eq!(frozen.as_ptr().align_offset(PAGE), 0, "no copy moved them off the boundary");
        // Growing past the capacity keeps every byte.
        let mut small = PageAlignedBuf::with_capacity(10);
        small.extend_from_slice(&bytes);
        assert_eq!(&small.freeze()[..], &bytes[..]);
    }

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
