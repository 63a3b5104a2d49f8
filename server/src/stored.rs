//! What is stored, read back: a version's bytes from the pieces its
//! upload left (downloads), and stored versions checked against their
//! recorded size and SHA-256 (`satchel verify`).

use std::sync::Arc;

use futures::{stream::BoxStream, StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::{
    blob::{BlobKey, BlobStore, ByteRange},
    domain::parts::{read_plan, StoredPiece},
    error::{Error, Result},
    store::{
        files::{StoredVersion, VersionRecord},
        Db,
    },
};

/// The blob ranges that hold bytes `start..end` of `version`.
pub async fn version_segments(
    db: &Db,
    version: &VersionRecord,
    start: u64,
    end: u64,
) -> Result<Vec<(BlobKey, ByteRange)>> {
    let pieces: Vec<StoredPiece<String>> = db
        .pieces(version.session_id)
        .await?
        .into_iter()
        .map(|p| StoredPiece {
            key: p.blob_key,
            start: p.start_offset as u64,
            end: p.end_offset as u64,
            blob_offset: p.blob_offset as u64,
        })
        .collect();
    read_plan(&pieces, version.size as u64, start, end)
        .map_err(|why| {
            Error::Io(std::io::Error::other(format!("version {}: {why}", version.uuid)))
        })?
        .into_iter()
        .map(|(key, from, to)| Ok((BlobKey::new(key)?, ByteRange::new(from, to)?)))
        .collect()
}

/// The bytes of `segments`, in order; each blob is opened only when the
/// one before it has been read.
pub fn read_segments(
    blobs: Arc<dyn BlobStore>,
    segments: Vec<(BlobKey, ByteRange)>,
) -> BoxStream<'static, Result<bytes::Bytes>> {
    futures::stream::iter(segments)
        .then(move |(key, range)| {
            let blobs = blobs.clone();
            async move { blobs.get(&key, Some(range)).await }
        })
        .try_flatten()
        .boxed()
}

/// What a check of one stored version found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A blob the version's pieces name is not in the store.
    Missing { blob: String },
    /// A blob is shorter than the version's pieces need.
    Short { blob: String, holds: u64, needs: u64 },
    /// The bytes read back are not as many as recorded.
    Size { recorded: u64, found: u64 },
    /// The bytes read back hash to another SHA-256 than recorded.
    Digest { recorded: String, found: String },
    /// The pieces do not describe the version, or the store failed.
    Unreadable { why: String },
    /// A preview's blob is missing or empty; `forgotten` once
    /// `--repair-index` removed it from the index (the version then
    /// shows no such preview, rather than a broken link).
    Preview { width: i64, blob: String, forgotten: bool },
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Missing { blob } => write!(f, "blob {blob} is missing"),
            Fault::Short { blob, holds, needs } => {
                write!(f, "blob {blob} holds {holds} bytes, its pieces need {needs}")
            }
            Fault::Size { recorded, found } => {
                write!(f, "{found} bytes stored, {recorded} recorded")
            }
            Fault::Digest { recorded, found } => {
                write!(f, "SHA-256 {found} stored, {recorded} recorded")
            }
            Fault::Unreadable { why } => write!(f, "cannot be read: {why}"),
            Fault::Preview { width, blob, forgotten } => {
                write!(f, "preview {width} (blob {blob}) is missing or empty")?;
                match forgotten {
                    true => f.write_str("; removed from the index"),
                    false => Ok(()),
                }
            }
        }
    }
}

/// Reads one version back and compares it with its record: `None` when
/// its bytes are whole and match.
pub async fn check_version(
    db: &Db,
    blobs: &Arc<dyn BlobStore>,
    version: &VersionRecord,
) -> Result<Option<Fault>> {
    let segments = match version_segments(db, version, 0, version.size as u64).await {
        Ok(segments) => segments,
        Err(Error::Io(why)) => return Ok(Some(Fault::Unreadable { why: why.to_string() })),
        Err(other) => return Err(other),
    };
    for (key, range) in &segments {
        match blobs.size(key).await? {
            None => return Ok(Some(Fault::Missing { blob: key.as_str().to_owned() })),
            Some(holds) if holds < range.end => {
                let blob = key.as_str().to_owned();
                return Ok(Some(Fault::Short { blob, holds, needs: range.end }));
            }
            Some(_) => {}
        }
    }
    let mut hasher = Sha256::new();
    let mut found = 0u64;
    let mut stream = read_segments(blobs.clone(), segments);
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                found += bytes.len() as u64;
                hasher.update(&bytes);
            }
            Err(e) => return Ok(Some(Fault::Unreadable { why: e.to_string() })),
        }
    }
    if found != version.size as u64 {
        return Ok(Some(Fault::Size { recorded: version.size as u64, found }));
    }
    let digest = hex::encode(hasher.finalize());
    Ok((!digest.eq_ignore_ascii_case(&version.sha256))
        .then(|| Fault::Digest { recorded: version.sha256.clone(), found: digest }))
}

/// A version `verify` found at fault, named as an operator knows it.
#[derive(Clone, Debug)]
pub struct Finding {
    pub version: StoredVersion,
    pub fault: Fault,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = &self.version;
        write!(
            f,
            "account {} file {} {:?} version {}: {}",
            v.account, v.file_uuid, v.file_name, v.version_uuid, self.fault
        )
    }
}

/// What a `verify` run covered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Versions read back (or found missing).
    pub checked: u64,
    /// Bytes those versions record.
    pub bytes: u64,
    /// Versions left out by sampling.
    pub skipped: u64,
    pub faults: u64,
}

/// Checks every stored version (of `account`, or all), or a random
/// `sample` share of them (0..=1), and their previews, calling `found`
/// for each fault and `progress` after each version with the tally so
/// far and the total. With `repair_index`, previews whose blob is gone
/// are removed from the index (a version's bytes are never touched).
pub async fn verify(
    db: &Db,
    blobs: &Arc<dyn BlobStore>,
    account: Option<&str>,
    sample: f64,
    repair_index: bool,
    mut found: impl FnMut(&Finding),
    mut progress: impl FnMut(&Tally, u64),
) -> Result<Tally> {
    use rand::Rng;
    let versions = db.stored_versions(account).await?;
    let total = versions.len() as u64;
    let mut tally = Tally::default();
    for stored in versions {
        if sample < 1.0 && !rand::rng().random_bool(sample.clamp(0.0, 1.0)) {
            tally.skipped += 1;
            continue;
        }
        // A version deleted since the list was read (purged from the
        // trash meanwhile) is no fault.
        let Some(version) = db.version_by_id(stored.version_id).await? else { continue };
        tally.checked += 1;
        tally.bytes += version.size.max(0) as u64;
        if let Some(fault) = check_version(db, blobs, &version).await? {
            tally.faults += 1;
            found(&Finding { version: stored.clone(), fault });
        }
        for preview in db.previews(version.id).await? {
            let key = BlobKey::new(preview.blob_key.clone())?;
            if blobs.size(&key).await?.unwrap_or(0) > 0 {
                continue;
            }
            if repair_index {
                db.forget_preview(version.id, preview.width).await?;
            }
            tally.faults += 1;
            let fault = Fault::Preview {
                width: preview.width,
                blob: preview.blob_key,
                forgotten: repair_index,
            };
            found(&Finding { version: stored.clone(), fault });
        }
        progress(&tally, total);
    }
    Ok(tally)
}

/// What `migrate-storage` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Migrated {
    /// Blobs copied (and checked) in this run.
    pub copied: u64,
    /// Blobs the target held already, byte for byte.
    pub kept: u64,
    /// Bytes of the blobs copied.
    pub bytes: u64,
    /// Blobs a row names that the source does not hold.
    pub missing: Vec<String>,
    /// Blobs left for another run (`limit` reached).
    pub left: u64,
}

/// The SHA-256 of a whole blob, or `None` when it is absent.
async fn blob_sha256(blobs: &dyn BlobStore, key: &BlobKey) -> Result<Option<(u64, String)>> {
    let Some(size) = blobs.size(key).await? else { return Ok(None) };
    let digest = crate::domain::digest::RunningDigest::new();
    let digest = blobs.hash_range(key, ByteRange::new(0, size)?, digest).await?;
    Ok(Some((size, digest.finish_hex())))
}

/// Copies every blob a row names from `from` to `to`, streaming each and
/// checking the copy's SHA-256 against the source's. A blob the target
/// already holds with the same bytes is kept, so an interrupted run goes
/// on where it stopped; at most `limit` blobs are copied in one run.
pub async fn migrate(
    db: &Db,
    from: &Arc<dyn BlobStore>,
    to: &Arc<dyn BlobStore>,
    limit: Option<u64>,
    mut progress: impl FnMut(&Migrated, u64),
) -> Result<Migrated> {
    let mut keys = db.referenced_blobs().await?;
    keys.sort();
    let total = keys.len() as u64;
    let mut done = Migrated::default();
    for key in keys {
        let key = BlobKey::new(key)?;
        let Some(source) = blob_sha256(from.as_ref(), &key).await? else {
            done.missing.push(key.as_str().to_owned());
            continue;
        };
        if blob_sha256(to.as_ref(), &key).await? == Some(source.clone()) {
            done.kept += 1;
            progress(&done, total);
            continue;
        }
        if limit.is_some_and(|limit| done.copied >= limit) {
            done.left += 1;
            continue;
        }
        let stream = from.get(&key, None).await?;
        to.put_stream(&key, stream).await?;
        match blob_sha256(to.as_ref(), &key).await? {
            Some(copy) if copy == source => {}
            copy => {
                return Err(Error::Io(std::io::Error::other(format!(
                "the copy of blob {key} does not match its source ({source:?} copied as {copy:?})"
            ))))
            }
        }
        done.copied += 1;
        done.bytes += source.0;
        progress(&done, total);
    }
    Ok(done)
}
