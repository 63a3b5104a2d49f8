//! Blobs in any S3-compatible service, through `object_store`.
//!
//! `s3://bucket/prefix` picks the bucket and a key prefix; the endpoint,
//! region and keys come from the usual `AWS_*` variables (`AWS_ENDPOINT`,
//! `AWS_ALLOW_HTTP=true` for a plain-http endpoint, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`). Each blob is one object written
//! with a single PUT: S3 makes a completed PUT durable and atomic, which
//! is the whole put contract. (Multipart uploads would need parts of at
//! least 5 MiB, larger than an upload part, so they are not used.) An
//! upload piece is one object too; a PUT needs its whole body, so a piece
//! writer holds the piece's bytes (at most the part size) until `finish`.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::{
    aws::AmazonS3Builder, path::Path, prefix::PrefixStore, GetOptions, GetRange, ObjectStore,
    PutPayload,
};

use super::{clamp_range, BlobKey, BlobStore, BlobStream, ByteRange, PieceWriter};
use crate::error::{Error, Result};

/// Blobs in an S3 bucket under a prefix.
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    url: String,
}

impl S3Store {
    /// Builds the client from `s3://bucket/prefix` and the environment.
    pub fn from_env(url: &str) -> Result<Self> {
        Self::from_builder(url, AmazonS3Builder::from_env())
    }

    /// Builds the client from `s3://bucket/prefix` and explicit settings
    /// (endpoint, keys), which tests use instead of the environment.
    pub fn from_builder(url: &str, builder: AmazonS3Builder) -> Result<Self> {
        let rest = url.strip_prefix("s3://").unwrap_or_default();
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::Config(format!("storage URL `{url}` names no bucket")));
        }
        let s3 = builder
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| Error::Config(format!("cannot configure S3 for {url}: {e}")))?;
        // object_store drops the path of an s3:// URL; the prefix is ours.
        let prefix = prefix.trim_matches('/');
        let store: Arc<dyn ObjectStore> =
            if prefix.is_empty() { Arc::new(s3) } else { Arc::new(PrefixStore::new(s3, prefix)) };
        Ok(S3Store { store, url: url.to_owned() })
    }
}

fn path_of(key: &BlobKey) -> Path {
    Path::from(key.as_str())
}

fn not_found_as_none<T>(result: object_store::Result<T>) -> Result<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[async_trait]
impl BlobStore for S3Store {
    async fn put(&self, key: &BlobKey, bytes: Bytes) -> Result<()> {
        self.store.put(&path_of(key), PutPayload::from(bytes)).await?;
        Ok(())
    }

    async fn put_stream(&self, key: &BlobKey, mut stream: BlobStream) -> Result<u64> {
        use futures::TryStreamExt;
        let upload = self.store.put_multipart(&path_of(key)).await?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, STREAM_CHUNK);
        let mut len = 0u64;
        let copied = async {
            while let Some(chunk) = stream.try_next().await? {
                // At most two chunks on their way at once.
                writer.wait_for_capacity(1).await?;
                len += chunk.len() as u64;
                writer.write(&chunk);
            }
            Ok::<(), Error>(())
        }
        .await;
        match copied {
            // A multipart upload needs a part: an empty blob is one PUT.
            Ok(()) if len == 0 => {
                let _ = writer.abort().await;
                self.put(key, Bytes::new()).await?;
                Ok(0)
            }
            Ok(()) => {
                writer.finish().await?;
                Ok(len)
            }
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    async fn get(&self, key: &BlobKey, range: Option<ByteRange>) -> Result<BlobStream> {
        let path = path_of(key);
        // A HEAD first gives the size to clamp against and turns a missing
        // key into NotFound before any body is promised.
        let size =
            not_found_as_none(self.store.head(&path).await)?.ok_or(Error::NotFound("blob"))?.size;
        let range = clamp_range(range, size)?;
        if range.is_empty() {
            return Ok(futures::stream::empty().boxed());
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(range.start..range.end)),
            ..GetOptions::default()
        };
        let result = not_found_as_none(self.store.get_opts(&path, options).await)?
            .ok_or(Error::NotFound("blob"))?;
        Ok(result.into_stream().map_err(Error::from).boxed())
    }

    async fn size(&self, key: &BlobKey) -> Result<Option<u64>> {
        Ok(not_found_as_none(self.store.head(&path_of(key)).await)?.map(|m| m.size))
    }

    async fn delete(&self, key: &BlobKey) -> Result<()> {
        not_found_as_none(self.store.delete(&path_of(key)).await)?;
        Ok(())
    }

    async fn list(&self, prefix: &BlobKey) -> Result<Vec<BlobKey>> {
        use futures::TryStreamExt;
        let found: Vec<_> = self.store.list(Some(&path_of(prefix))).try_collect().await?;
        found.into_iter().map(|meta| BlobKey::new(meta.location.to_string())).collect()
    }

    fn describe(&self) -> String {
        self.url.clone()
    }

    async fn piece_writer(&self, key: &BlobKey, _offset: u64) -> Result<Box<dyn PieceWriter>> {
        Ok(Box::new(ObjectWriter {
            store: self.store.clone(),
            path: path_of(key),
            chunks: Vec::new(),
            len: 0,
        }))
    }
}

/// One piece gathered for its PUT.
struct ObjectWriter {
    store: Arc<dyn ObjectStore>,
    path: Path,
    chunks: Vec<Bytes>,
    len: u64,
}

/// The part size of a streamed put's multipart upload (S3 wants at
/// least 5 MiB for every part but the last).
const STREAM_CHUNK: usize = 8 << 20;

#[async_trait]
impl PieceWriter for ObjectWriter {
    async fn write(&mut self, bytes: Bytes) -> Result<()> {
        self.len += bytes.len() as u64;
        self.chunks.push(bytes);
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<u64> {
        let payload: PutPayload = self.chunks.into_iter().collect();
        self.store.put(&self.path, payload).await?;
        Ok(self.len)
    }

    /// An object cannot be kept half-written: the bytes go.
    async fn keep_written(self: Box<Self>) -> Result<u64> {
        Ok(0)
    }
}
