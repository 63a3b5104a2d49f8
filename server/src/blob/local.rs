//! Local-disk blobs under one directory, one file per key.
//!
//! A put writes a temporary file in `<root>/.tmp`, fsyncs it, renames it
//! over the key's path and fsyncs the parent directory: the rename makes
//! the write atomic, the two fsyncs make it durable. Keys never start a
//! segment with a dot, so `.tmp` cannot collide with a blob.

use std::{
    io::SeekFrom,
    path::{Path, PathBuf},
};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::{clamp_range, BlobKey, BlobStore, BlobStream, ByteRange};
use crate::error::{Error, Result};

/// Blobs in a local directory.
#[derive(Debug)]
pub struct LocalDisk {
    root: PathBuf,
}

impl LocalDisk {
    /// Opens (creating if needed) the directory `root`.
    pub async fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        let tmp = root.join(".tmp");
        tokio::fs::create_dir_all(&tmp).await.map_err(|e| {
            Error::Config(format!("cannot create blob directory {}: {e}", root.display()))
        })?;
        Ok(LocalDisk { root })
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

    async fn size(&self, key: &BlobKey) -> Result<Option<u64>> {
        match tokio::fs::metadata(self.path_of(key)).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        match tokio::fs::remove_file(self.path_of(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn describe(&self) -> String {
        format!("file://{}", self.root.display())
    }
}
