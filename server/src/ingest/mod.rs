//! The ingest core: *append these bytes at this offset of this session*.
//! Every upload protocol Satchel speaks (Kommo's part chain today) is a
//! face over it that turns requests into appends and appends into
//! answers; nothing here knows HTTP.
//!
//! - `concat`: partial uploads stitched into a final one (tus).
//! - `open`: opening a session (names, sizes, quota, target file).
//! - `rules`: plain Rust: pieces, the frontier, the window, what may be
//!   appended where.
//! - `receive`: a body streamed through, hashed on the way.
//! - `place`: plan, claim, write durably, record (the two blob layouts).
//! - `in_place`: claims on ranges of a session blob written in place.
//! - `lifetime`: how long a session's URLs grant anything.
//! - `digest`: the whole-file SHA-256 over the stored pieces, and
//!   completion.
//! - `shares`: how many requests one session and one account may have
//!   in flight.
//!
//! Memory: a request holds the chunk in hand plus what its piece writer
//! batches (128 KiB on local disk; the whole piece, at most
//! `max_part_size`, on S3, whose PUT needs it), whatever the part size.

use std::sync::Arc;

use crate::{
    domain::parts::PartNumber,
    error::Result,
    state::AppState,
    store::sessions::{PieceRecord, SessionRecord},
};

pub mod concat;
pub mod digest;
pub mod in_place;
pub mod lifetime;
pub mod open;
pub mod place;
pub mod receive;
pub mod rules;
pub mod shares;

pub use place::append;

/// What the ingest core keeps per process: claims on ranges being written
/// in place, and the locks of digests being moved.
#[derive(Default)]
pub struct Ingest {
    pub claims: Arc<in_place::Claims>,
    pub digest_locks: digest::DigestLocks,
    pub shares: Arc<shares::Shares>,
    /// Bytes the whole-file digest read back from the store because
    /// their request could not carry it on as they arrived (they came
    /// ahead of it, or after a restart).
    pub read_back: std::sync::atomic::AtomicU64,
}

impl Ingest {
    /// Forgets a session that takes no more bytes.
    pub fn forget(&self, session_id: i64) {
        self.digest_locks.forget(session_id);
    }
}

/// One request's bytes, as a face hands them over.
pub struct Append {
    /// File offset of the first byte.
    pub start: u64,
    /// The part number the bytes came as (a chain counts parts).
    pub part: PartNumber,
    /// The body's length, when declared.
    pub declared: Option<u64>,
    /// The SHA-256 the client announced for this body.
    pub body_sha256: Option<[u8; 32]>,
    /// What the client announced for the whole file, as an RFC 9530
    /// digest value (`sha-256=:base64:`); read and checked only if this
    /// append completes the file.
    pub whole_digest: Option<String>,
    /// Keep the bytes of a body cut off midway, where the store can.
    pub keep_cut: bool,
    /// The most bytes this append may carry when that is more than the
    /// session's part size (a tus PATCH streamed to local disk, whose
    /// piece writer holds a small batch whatever the piece's length);
    /// `None`: the part size.
    pub max_len: Option<u64>,
}

/// Where an append left the session.
pub struct Appended {
    /// The file offset where this request's bytes end.
    pub end: u64,
    /// The session afterwards.
    pub session: SessionRecord,
    /// The version this append completed, if it was the one.
    pub created_version: Option<i64>,
    /// The append stored new bytes and then found the stored pieces
    /// reaching the file's end: it took its turn to see the file
    /// completed, and answers with it, whoever completed it. (A part
    /// that ends the file answers with it anyway.)
    pub completes: bool,
}

/// The window and limits an append works with: the session's, with the
/// append's own length limit when it has one.
pub fn shape_for(state: &AppState, session: &SessionRecord, request: &Append) -> rules::Shape {
    let mut shape = shape_of(state, session);
    if let Some(max) = request.max_len {
        shape.max_part_size = shape.max_part_size.max(max);
    }
    shape
}

/// The window and limits a session works with.
pub fn shape_of(state: &AppState, session: &SessionRecord) -> rules::Shape {
    rules::Shape {
        file_size: session.file_size as u64,
        max_part_size: session.part_size as u64,
        window: state.settings.upload_window,
    }
}

/// Where an upload stands: the gap-free bytes from the start, the part a
/// chain client sends next, and every stored range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub received: u64,
    pub next_part: PartNumber,
    /// Every stored range, merged.
    pub ranges: Vec<(u64, u64)>,
}

/// The session's resume point. Moves the digest first if pieces wait for
/// it (after a crash between recording a piece and moving the digest),
/// which may complete the session.
pub async fn position(
    state: &AppState,
    session: &SessionRecord,
) -> Result<(Position, SessionRecord)> {
    let mut session = session.clone();
    let records = state.db.pieces_between(session.id, session.digest_upto, i64::MAX).await?;
    let pieces: Vec<rules::Piece> = records.iter().map(PieceRecord::piece).collect();
    let received = rules::frontier(&pieces, session.digest_upto as u64);
    let waiting =
        received > session.digest_upto as u64 || (session.file_size == 0 && !pieces.is_empty());
    if waiting && session.status == crate::store::sessions::status::UPLOADING {
        digest::advance(state, session.id, None, true).await?;
        if let Some(fresh) = state.db.session(session.id).await? {
            session = fresh;
        }
    }
    // Every byte before the digest's point is stored: the first run
    // starts at 0 whenever anything is stored from the start.
    let mut ranges = rules::merged(&pieces);
    if let Some(first) = ranges.first_mut().filter(|r| received > 0 && r.0 <= received) {
        first.0 = 0;
    }
    let position = Position { received, next_part: rules::next_part(&pieces, received), ranges };
    Ok((position, session))
}
