//! The whole-file SHA-256, carried over the gap-free run of stored pieces,
//! and the completion it leads to.
//!
//! The database keeps how far the digest has come (`digest_upto`) and
//! the hasher's state there. After a piece is recorded, the digest moves
//! over every piece that now continues it: the request's own from the
//! state it hashed as the bytes arrived (when they started where the
//! digest stood), others by reading them back from the store.
//!
//! Reading back is off the request path: a part in the middle of the file
//! takes in only its own piece, hashed on the way in, and answers; pieces
//! that must be read back are left to a task of the session's own, so
//! the part that continues the digest (the one a client's window waits
//! on) never waits for the hashing of the parts that overtook it. The
//! task never completes the file: that is a request's, so that a request
//! answers with the file or with why it was refused. Three requests take
//! in whatever is left themselves, waiting for their turn if the task
//! holds it: the part that ends the file, the part that announces the
//! file's digest, and a part whose bytes let the stored run reach the
//! file's end (whichever request records the last missing piece finds
//! the run complete when it looks).
//!
//! Bytes are read back once at most, in chunks of the store's stream
//! (64 KiB on disk), so a session's digest needs no more memory than one
//! chunk, whatever the window; server-wide, one chunk per session whose
//! digest is moving.
//!
//! Moves are compare-and-set on `digest_upto`, so two nodes that race
//! agree; within one process a lock per session keeps them from doing the
//! same work twice. The move that reaches the file's end completes the
//! session in the same transaction, once the SHA-256 matches every digest
//! the client announced.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
};

use super::rules::{contiguous_from, Piece};
use crate::{
    blob::{BlobKey, ByteRange},
    domain::digest::{content_digest_sha256, RunningDigest},
    error::{Error, Result},
    state::AppState,
    store::{
        now_unix,
        sessions::{Completed, Completion, DigestCursor, PieceRecord, SessionRecord},
    },
};

/// What this process keeps per session whose digest it moves: a lock,
/// so one request at a time moves it, and what the others leave for it.
#[derive(Default)]
struct Mover {
    lock: tokio::sync::Mutex<()>,
    /// A piece was recorded since the mover last looked for pieces.
    pending: AtomicBool,
    /// The whole-file digest a request announced (RFC 9530 value), for
    /// whichever request completes the file.
    announced: Mutex<Option<String>>,
    /// Why the last completion was refused, for the request whose part
    /// ended the file and waited for it.
    refused: Mutex<Option<Refused>>,
    /// How far this process moved the digest past what it last wrote.
    ahead: Mutex<Option<Ahead>>,
}

/// The digest moved in memory past the database's cursor: `cursor`, worked
/// out from the database's cursor at `stored`. Valid while the database
/// still says `stored` (no other node moved it).
#[derive(Clone)]
struct Ahead {
    stored: i64,
    cursor: DigestCursor,
}

/// The digest's cursor is written to the database once it moved this far
/// past the last written one (and at the file's end, with the file), not
/// after every piece: a write per piece would be a commit, and a disk
/// flush, per part. What is not written is worked out again, from the
/// stored pieces, by whichever request moves the digest next after a
/// restart, or by another node.
pub const WRITE_EVERY: i64 = 8 << 20;

/// Where the digest stands for this process: its cursor in memory when
/// that is ahead of `session`'s, else the session's own.
pub fn point(state: &AppState, session: &SessionRecord) -> DigestCursor {
    let mover = state.ingest.digest_locks.of(session.id);
    let ahead = mover.ahead.lock().expect("never poisoned").clone();
    match ahead {
        // The database's cursor only moves forward, and a cursor is the
        // same wherever it was worked out (the hasher's state over bytes
        // that never change once recorded): this process's is good unless
        // the database moved past what it saw (another node did), even
        // when `session` was read before this process's last write.
        Some(ahead) if ahead.stored >= session.digest_upto => ahead.cursor,
        _ => DigestCursor { upto: session.digest_upto, state: session.digest_state.clone() },
    }
}

/// The movers of the sessions whose digests this process moves.
#[derive(Default)]
pub struct DigestLocks {
    by_session: Mutex<HashMap<i64, Arc<Mover>>>,
}

impl DigestLocks {
    fn of(&self, session_id: i64) -> Arc<Mover> {
        let mut map = self.by_session.lock().expect("never poisoned");
        map.entry(session_id).or_default().clone()
    }

    /// Forgets a session that takes no more bytes.
    pub fn forget(&self, session_id: i64) {
        self.by_session.lock().expect("never poisoned").remove(&session_id);
    }

    pub fn len(&self) -> usize {
        self.by_session.lock().expect("never poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A piece this request hashed as it arrived: the digest after it.
pub struct Seed {
    pub piece: Piece,
    pub after: RunningDigest,
}

/// Notes the whole-file digest a request announced (an RFC 9530 value),
/// before its bytes are recorded, for whichever request of this process
/// completes the file.
pub fn announce(state: &AppState, session_id: i64, whole_digest: &str) {
    let mover = state.ingest.digest_locks.of(session_id);
    *mover.announced.lock().expect("never poisoned") = Some(whole_digest.to_owned());
}

/// Why the completion was refused, when the request whose part ended the
/// file was not the one that tried it: what that request answers.
pub fn take_refusal(state: &AppState, session_id: i64) -> Option<Error> {
    let mover = state.ingest.digest_locks.of(session_id);
    let refused = mover.refused.lock().expect("never poisoned").take();
    refused.map(Refused::error)
}

/// A refused completion, kept for the request that waits to hear of it.
#[derive(Clone, Debug)]
enum Refused {
    Checksum(String),
    Quota { used: u64, size: u64, quota: u64 },
    Trashed,
}

impl Refused {
    fn of(e: &Error) -> Option<Refused> {
        match e {
            Error::ChecksumMismatch(why) => Some(Refused::Checksum(why.clone())),
            Error::QuotaExceeded { used, size, quota } => {
                Some(Refused::Quota { used: *used, size: *size, quota: *quota })
            }
            Error::FileTrashed => Some(Refused::Trashed),
            _ => None,
        }
    }

    fn error(self) -> Error {
        match self {
            Refused::Checksum(why) => Error::ChecksumMismatch(why),
            Refused::Quota { used, size, quota } => Error::QuotaExceeded { used, size, quota },
            Refused::Trashed => Error::FileTrashed,
        }
    }
}

/// Moves the session's digest as far as the stored pieces allow, and
/// completes the session when it reaches the end. Answers the version
/// this call created, if any.
///
/// A request that only stored bytes in the middle does not wait: if
/// another request is moving the digest, it leaves word (`pending`) and
/// that one takes its piece in too. A request that `waits` (its part ends
/// the file, or it announced the file's digest) takes its turn, so it can
/// answer with the file or with why the file was refused.
pub async fn advance(
    state: &AppState,
    session_id: i64,
    seed: Option<Seed>,
    wait: bool,
) -> Result<Option<i64>> {
    Ok(advance_part(state, session_id, seed, wait).await?.created)
}

/// What a request's turn at the digest came to.
pub struct Turn {
    /// The version this turn created, if any.
    pub created: Option<i64>,
    /// The stored pieces reached the file's end when this request looked,
    /// after recording its own (not counting a request that waits because
    /// its part ends the file or announces the digest): it took its turn
    /// to see the file completed, and answers with it, whoever completed
    /// it.
    pub completes: bool,
}

/// [`advance`], saying whether the request took its turn to complete the
/// file.
pub async fn advance_part(
    state: &AppState,
    session_id: i64,
    seed: Option<Seed>,
    wait: bool,
) -> Result<Turn> {
    let reading = if wait { Reading::ReadBack } else { Reading::OwnOnly };
    let (created, left, completes) = advance_with(state, session_id, seed, wait, reading).await?;
    if left {
        // Pieces that overtook this one must be read back: a task of its
        // own does it, so this request answers now.
        let state = state.clone();
        tokio::spawn(async move {
            let moved = advance_with(&state, session_id, None, false, Reading::Behind).await;
            if let Err(e) = moved {
                // Pieces it could not read stay for the next request or
                // restart to take in; the upload is not harmed.
                tracing::warn!(session = session_id, "reading back for the digest: {e}");
            }
        });
    }
    Ok(Turn { created, completes })
}

/// How far one turn at the digest may go.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Only the caller's own piece, hashed as it arrived: nothing is read
    /// back from the store, unless the stored pieces reach the file's end
    /// (then as `ReadBack`: this request completes the file).
    OwnOnly,
    /// Every piece that continues the digest, read back when needed, and
    /// the file completed when they reach its end.
    ReadBack,
    /// The task that reads back behind the requests: every piece but the
    /// one that ends the file. Completing is left to a request, so that
    /// a request answers with the file (or with why it was refused).
    Behind,
}

/// [`advance`]'s work; also answers whether pieces were left for reading
/// back (only with `Reading::OwnOnly`) and whether a non-waiting call
/// found the stored pieces reaching the file's end ([`Turn::completes`]).
async fn advance_with(
    state: &AppState,
    session_id: i64,
    seed: Option<Seed>,
    wait: bool,
    mut reading: Reading,
) -> Result<(Option<i64>, bool, bool)> {
    let mover = state.ingest.digest_locks.of(session_id);
    mover.pending.store(true, Ordering::SeqCst);
    let mut turn = if wait { Some(mover.lock.lock().await) } else { mover.lock.try_lock().ok() };
    let mut reached_end = false;
    let busy_at_the_end = turn.is_none()
        && reading == Reading::OwnOnly
        && stored_run(state, session_id)
            .await?
            .is_some_and(|stored| reaches_the_end(&stored.session, &stored.run));
    if busy_at_the_end {
        reached_end = true;
        // Whoever moves the digest now (the task reading back behind the
        // requests, or a request that took in only its own piece) leaves
        // completing the file to a request: this one, whose bytes may be
        // the last the file lacked.
        turn = Some(mover.lock.lock().await);
        reading = Reading::ReadBack;
    }
    let mut seed = seed;
    let mut created = None;
    let mut closed = false;
    let mut left = false;
    while let Some(guard) = turn {
        loop {
            mover.pending.store(false, Ordering::SeqCst);
            match step(state, session_id, seed.take(), &mover, reading, &mut reached_end).await {
                Ok(Step::Left) => {
                    left = true;
                    break;
                }
                Ok(Step::Created(version_id)) => {
                    created = Some(version_id);
                    break;
                }
                Ok(Step::Closed) => {
                    closed = true;
                    break;
                }
                // Everything recorded up to the last look is taken in: only
                // a piece recorded since (by a request of this process,
                // which left word) needs another look. Pieces other nodes
                // record are taken in by the requests that recorded them.
                Ok(Step::Done | Step::Taken) if !mover.pending.load(Ordering::SeqCst) => break,
                Ok(_) => {}
                Err(e) => {
                    // The request whose part ended the file may be
                    // waiting for its turn: it hears why too.
                    if let (Some(refused), false) = (Refused::of(&e), wait) {
                        *mover.refused.lock().expect("never poisoned") = Some(refused);
                    }
                    return Err(e);
                }
            }
        }
        drop(guard);
        // A piece recorded after the last look, by a request that found
        // the lock taken, is this request's to take in.
        turn = if created.is_none() && !closed && !left && mover.pending.load(Ordering::SeqCst) {
            mover.lock.try_lock().ok()
        } else {
            None
        };
    }
    if created.is_some() || closed {
        // The session takes no more bytes: nothing to keep for it.
        state.ingest.digest_locks.forget(session_id);
    }
    Ok((created, left, reached_end && !wait))
}

/// What one look at the stored pieces did.
enum Step {
    /// Took in the whole run of pieces that continued the digest.
    Taken,
    /// Another node moved the digest, or a completion lost a race: look
    /// again.
    Moved,
    /// Nothing more to take in.
    Done,
    /// The session takes no more bytes (completed, cancelled, expired).
    Closed,
    /// Took in what it could without reading back; pieces that continue
    /// the digest are left for reading back.
    Left,
    Created(i64),
}

/// Takes in the pieces that continue the digest, one compare-and-set.
async fn step(
    state: &AppState,
    session_id: i64,
    seed: Option<Seed>,
    mover: &Mover,
    reading: Reading,
    reached_end: &mut bool,
) -> Result<Step> {
    let Some(Stored { session, from, records, mut run }) = stored_run(state, session_id).await?
    else {
        return Ok(Step::Closed);
    };
    // Written is what the database holds; from, where this process has
    // the digest (ahead of written, when it did not write its last moves).
    let written = DigestCursor { upto: session.digest_upto, state: session.digest_state.clone() };
    let mut left = false;
    match (reading, reaches_the_end(&session, &run)) {
        // The piece that ends the file is a request's to take in.
        (Reading::Behind, true) => {
            run.pop();
        }
        // This request completes the file and answers with it.
        (Reading::OwnOnly, true) => *reached_end = true,
        // Only the seed's piece, and only where it continues the digest.
        (Reading::OwnOnly, false) => {
            let own =
                run.iter().take_while(|p| seed.as_ref().is_some_and(|s| s.piece == **p)).count();
            left = own < run.len();
            run.truncate(own);
        }
        _ => {}
    }
    let Some(last) = run.last().copied() else {
        return Ok(if left { Step::Left } else { Step::Done });
    };
    let mut digest = match &from.state {
        Some(saved) => RunningDigest::resume(saved).map_err(corrupt)?,
        None => RunningDigest::new(),
    };
    let mut before_last = from.clone();
    for piece in &run {
        before_last = DigestCursor { upto: piece.start as i64, state: Some(digest.state()) };
        match &seed {
            Some(seed) if seed.piece == *piece => digest = seed.after.clone(),
            _ => {
                let record = records
                    .iter()
                    .find(|r| r.start_offset as u64 == piece.start)
                    .expect("run pieces come from the records");
                hash_stored(state, record, &mut digest).await?;
            }
        }
    }
    let to = DigestCursor { upto: last.end as i64, state: Some(digest.state()) };
    if last.end < session.file_size as u64 {
        let write = to.upto - written.upto >= WRITE_EVERY;
        let taken = if left { Step::Left } else { Step::Taken };
        if !write {
            *mover.ahead.lock().expect("never poisoned") =
                Some(Ahead { stored: written.upto, cursor: to });
            return Ok(taken);
        }
        // Another node may have moved it first: then look again.
        let moved = state.db.advance_digest(session_id, &written, &to).await?;
        // Kept where the database now is, so that a request holding the
        // session as it was before this write still carries the digest
        // on over its bytes instead of leaving them to be read back.
        *mover.ahead.lock().expect("never poisoned") =
            moved.then_some(Ahead { stored: to.upto, cursor: to });
        return Ok(if moved { taken } else { Step::Moved });
    }
    *mover.ahead.lock().expect("never poisoned") = None;
    // The database's cursor is what completion and taking back compare.
    let from = written;
    let sha256 = digest.finish_hex();
    let announced = mover.announced.lock().expect("never poisoned").clone();
    if session.concat.as_deref() == Some(crate::store::sessions::concat::PARTIAL) {
        // A partial upload is bytes for a final one, never a file; the
        // final takes them once every partial is stored.
        if !state.db.complete_partial(&session, &from, &to).await? {
            return Ok(Step::Moved);
        }
        if let Some(final_id) = session.concat_final {
            super::concat::stitch(state, final_id).await?;
        }
        return Ok(Step::Closed);
    }
    let outcome = match mismatch(&session, &sha256, announced.as_deref()) {
        Err(e) => Err(e),
        Ok(()) => complete(state, &session, &from, &to, &sha256).await?,
    };
    match outcome {
        Ok(Some(version_id)) => {
            if session.with_preview != 0 {
                crate::previews::make(state, &session, version_id).await;
            }
            Ok(Step::Created(version_id))
        }
        Ok(None) => Ok(Step::Moved), // lost a race: look again
        Err(e) => {
            // The piece that ends the file is not kept: the session stays
            // open, and takes it again. Unless something moved meanwhile
            // (another node completed the session, or the piece was sent
            // again): then look again.
            let record = records
                .iter()
                .find(|r| r.start_offset as u64 == last.start)
                .expect("run pieces come from the records");
            let start = last.start as i64;
            let taken =
                state.db.take_back_piece(session_id, &from, &before_last, start, &record.blob_key);
            if !taken.await? {
                return Ok(Step::Moved);
            }
            if state.blobs.part_layout() == crate::blob::PartLayout::BlobPerPart {
                state.blobs.delete(&BlobKey::new(record.blob_key.clone())?).await?;
            }
            *mover.announced.lock().expect("never poisoned") = None;
            Err(e)
        }
    }
}

/// A session taking bytes, where this process has its digest, and the
/// pieces stored from there: all of them, and the run without a gap.
struct Stored {
    session: SessionRecord,
    from: DigestCursor,
    records: Vec<PieceRecord>,
    run: Vec<Piece>,
}

/// The stored pieces from where the digest stands; `None` once the
/// session takes no more bytes (completed, cancelled, expired).
async fn stored_run(state: &AppState, session_id: i64) -> Result<Option<Stored>> {
    let session = state.db.session(session_id).await?.ok_or(Error::NotFound("upload session"))?;
    if session.status != crate::store::sessions::status::UPLOADING {
        return Ok(None);
    }
    let from = point(state, &session);
    let records = state.db.pieces_between(session_id, from.upto, i64::MAX).await?;
    let pieces: Vec<Piece> = records.iter().map(PieceRecord::piece).collect();
    let run = contiguous_from(&pieces, from.upto as u64);
    Ok(Some(Stored { session, from, records, run }))
}

/// Whether `run` reaches the session's last byte.
fn reaches_the_end(session: &SessionRecord, run: &[Piece]) -> bool {
    run.last().is_some_and(|p| p.end == session.file_size as u64)
}

/// The last piece's SHA-256 must be every one the client announced: when
/// the session opened, and on the request that completes it.
fn mismatch(session: &SessionRecord, sha256: &str, announced: Option<&str>) -> Result<()> {
    let announced = announced
        .map(content_digest_sha256)
        .transpose()
        .map_err(|e| Error::validation(format!("repr-digest: {e}")))?
        .flatten()
        .map(hex::encode);
    for expected in [session.expected_sha256.as_deref(), announced.as_deref()].into_iter().flatten()
    {
        if expected != sha256 {
            return Err(Error::ChecksumMismatch(format!(
                "the file's SHA-256 is {sha256}, not the announced {expected}; \
                 the part that ends the file was not kept and the session stays open"
            )));
        }
    }
    Ok(())
}

/// Creates the file or version. `Ok(Ok(None))`: another request moved the
/// digest first; `Ok(Err(_))`: refused (quota, target trashed).
async fn complete(
    state: &AppState,
    session: &SessionRecord,
    from: &DigestCursor,
    to: &DigestCursor,
    sha256: &str,
) -> Result<Result<Option<i64>>> {
    let (file_uuid, version_uuid) =
        (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
    let done = Completion {
        file_uuid: &file_uuid,
        version_uuid: &version_uuid,
        sha256,
        quota_bytes: state.settings.quota_bytes,
    };
    Ok(match state.db.complete_session(session, from, to, done, now_unix()).await? {
        Completed::Created { version_id } => Ok(Some(version_id)),
        Completed::Lost => Ok(None),
        Completed::TargetUnavailable => Err(Error::FileTrashed),
        Completed::OverQuota { used } => {
            let quota = state.settings.quota_bytes.unwrap_or(u64::MAX);
            Err(Error::QuotaExceeded { used, size: session.file_size as u64, quota })
        }
    })
}

/// Feeds a stored piece's bytes to `digest`, read back from the store.
async fn hash_stored(
    state: &AppState,
    record: &PieceRecord,
    digest: &mut RunningDigest,
) -> Result<()> {
    let len = (record.end_offset - record.start_offset) as u64;
    if len == 0 {
        return Ok(());
    }
    let key = BlobKey::new(record.blob_key.clone())?;
    let start = record.blob_offset as u64;
    let range = ByteRange::new(start, start + len)?;
    let fed = state.blobs.hash_range(&key, range, std::mem::take(digest)).await?;
    *digest = fed;
    state.ingest.read_back.fetch_add(len, Ordering::Relaxed);
    Ok(())
}

/// A stored piece's bytes.
pub async fn read_piece(state: &AppState, record: &PieceRecord) -> Result<crate::blob::BlobStream> {
    let key = BlobKey::new(record.blob_key.clone())?;
    let start = record.blob_offset as u64;
    let len = (record.end_offset - record.start_offset) as u64;
    if len == 0 {
        return Ok(Box::pin(futures::stream::empty()));
    }
    state.blobs.get(&key, Some(ByteRange::new(start, start + len)?)).await
}

/// SHA-256 of a stored piece, read back.
pub async fn sha256_of_stored(state: &AppState, record: &PieceRecord) -> Result<[u8; 32]> {
    let mut digest = RunningDigest::new();
    hash_stored(state, record, &mut digest).await?;
    Ok(digest.finish())
}

/// A saved digest state that does not load: an internal error.
pub(super) fn corrupt(e: crate::domain::digest::CorruptState) -> Error {
    Error::Io(std::io::Error::other(format!("{e}")))
}
