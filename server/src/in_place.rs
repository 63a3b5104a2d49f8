//! Parts written in place (`PartLayout::SessionBlob`, the local disk).
//!
//! A session's parts share one blob, part *n* at its offset, so a write
//! must never touch a part that is already recorded. Within the one
//! process that owns the store, each session has a slot behind an async
//! mutex: a part's bytes are written and recorded while its slot is held,
//! and the slot remembers how many parts are stored, so a late or racing
//! request for a stored part is answered as a replay without writing.
//!
//! The first time a process takes a session's slot it checks the last
//! recorded part against its bytes (the digest state before it, fed the
//! bytes, must give the digest state recorded after it). A crash between
//! recording a part and its bytes reaching the disk leaves a record whose
//! bytes differ; the check forgets that record, and the upload resumes at
//! that part. Only the last part can be affected: the next one is written
//! only after the slot is released, when both have finished.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use bytes::Bytes;
use futures::TryStreamExt;
use tokio::sync::OwnedMutexGuard;

use crate::{
    blob::{BlobKey, ByteRange},
    domain::{digest::RunningDigest, parts::PartNumber},
    error::Result,
    state::AppState,
    store::sessions::{PartRecord, SessionRecord},
};

/// What this process knows about one session's parts.
#[derive(Debug, Default)]
pub struct Slot {
    /// Parts 1..=stored are recorded; `None` until checked.
    pub stored: Option<PartNumber>,
}

/// What this process last stored for a session: enough to take its next
/// part without asking the database where the session stands. A hint
/// only: the slot decides, so a stale hint costs a replay or a 409.
#[derive(Clone, Debug)]
pub struct Known {
    pub session: SessionRecord,
    pub stored: PartNumber,
    /// The digest state after part `stored`.
    pub digest_state: Vec<u8>,
}

/// The slots of the sessions this process has written to.
#[derive(Default)]
pub struct SessionLocks {
    slots: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<Slot>>>>,
    known: Mutex<HashMap<i64, Known>>,
}

impl SessionLocks {
    /// Waits for the session's slot.
    pub async fn lock(&self, session_id: i64) -> OwnedMutexGuard<Slot> {
        let slot = {
            let mut slots = self.slots.lock().expect("the slot map is never poisoned");
            slots.entry(session_id).or_default().clone()
        };
        slot.lock_owned().await
    }

    /// Drops a finished, cancelled or expired session's slot.
    pub fn forget(&self, session_id: i64) {
        self.slots.lock().expect("the slot map is never poisoned").remove(&session_id);
        self.unknow(session_id);
    }

    /// Where the session stood after the last part this process stored.
    pub fn known(&self, session_id: i64) -> Option<Known> {
        self.known.lock().expect("the hint map is never poisoned").get(&session_id).cloned()
    }

    pub fn remember(&self, known: Known) {
        let mut hints = self.known.lock().expect("the hint map is never poisoned");
        hints.insert(known.session.id, known);
    }

    pub fn unknow(&self, session_id: i64) {
        self.known.lock().expect("the hint map is never poisoned").remove(&session_id);
    }

    /// How many sessions have a slot (for tests).
    pub fn len(&self) -> usize {
        self.slots.lock().expect("the slot map is never poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Takes the session's slot and answers how many parts are stored,
/// checking the last one the first time this process takes the slot.
pub async fn lock_checked(
    state: &AppState,
    session_id: i64,
) -> Result<(OwnedMutexGuard<Slot>, PartNumber)> {
    let mut slot = state.session_locks.lock(session_id).await;
    let stored = match slot.stored {
        Some(stored) => stored,
        None => {
            let stored = checked_stored(state, session_id).await?;
            slot.stored = Some(stored);
            stored
        }
    };
    Ok((slot, stored))
}

/// The blob that holds a session's parts.
pub fn session_key(session_id: i64) -> Result<BlobKey> {
    BlobKey::new(format!("uploads/{session_id}"))
}

/// How many parts of the session are recorded with bytes to match, after
/// forgetting a last part whose bytes did not reach the disk.
async fn checked_stored(state: &AppState, session_id: i64) -> Result<PartNumber> {
    let mut last_two = state.db.last_parts(session_id, 2).await?.into_iter();
    let Some(last) = last_two.next() else { return Ok(0) };
    let number = last.part_number as PartNumber;
    let before = last_two.next().filter(|p| p.part_number == last.part_number - 1);
    if number > 1 && before.is_none() {
        // Cannot happen: parts are recorded in order.
        return Ok(number);
    }
    if bytes_match(state, &last, before.as_ref()).await? {
        return Ok(number);
    }
    tracing::warn!(
        session = session_id,
        part = number,
        "a recorded part's bytes did not reach the disk; the upload resumes at that part"
    );
    state.db.forget_part(session_id, last.part_number).await?;
    Ok(number - 1)
}

async fn bytes_match(
    state: &AppState,
    part: &PartRecord,
    before: Option<&PartRecord>,
) -> Result<bool> {
    let key = BlobKey::new(part.blob_key.clone())?;
    let start = part.blob_offset as u64;
    let range = ByteRange::new(start, start + part.size as u64)?;
    // No memory permit here: the part request that gets here holds one
    // already, and waiting for a second could wait forever.
    let bytes: Vec<Bytes> = match state.blobs.get(&key, Some(range)).await {
        Ok(stream) => stream.try_collect().await?,
        Err(crate::Error::NotFound(_) | crate::Error::Validation(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    let previous = before.map(|p| p.digest_state.clone());
    let expected = part.digest_state.clone();
    let size = part.size as usize;
    tokio::task::spawn_blocking(move || {
        let mut digest = match previous {
            Some(saved) => match RunningDigest::resume(&saved) {
                Ok(d) => d,
                Err(_) => return false,
            },
            None => RunningDigest::new(),
        };
        let mut len = 0;
        for chunk in &bytes {
            digest.update(chunk);
            len += chunk.len();
        }
        len == size && digest.state() == expected
    })
    .await
    .map_err(|e| crate::Error::Io(std::io::Error::other(e)))
}
