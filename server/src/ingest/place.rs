//! Placing one request's bytes: plan against the stored pieces, claim the
//! range (in place), stream the body to the store, make it durable, record
//! it, then carry the whole-file digest on.
//!
//! Where bytes go, by the store's layout:
//!
//! - **Local disk: one blob per session**, `uploads/<session>`, each piece
//!   written in place at its file offset under a claim on its range
//!   (`in_place`). A download is one ranged read.
//! - **S3: one blob per piece**, `parts/<session>/<start>-<random>`: a key
//!   no other request uses, so racing requests never overwrite each other
//!   and any node may write any piece; the database keeps the one that
//!   was recorded first and the loser deletes its own. Pieces are not
//!   concatenated on completion: S3 multipart needs 5 MiB pieces, and
//!   copying would read every byte a second time.
//!
//! A piece is recorded only once its bytes are durable, and a recorded
//! range is never written again, so a crash at any point leaves recorded
//! pieces whole; unrecorded bytes are garbage a later write overwrites (in
//! place) or the sweeper deletes with the session.

use bytes::Bytes;
use futures::Stream;

use super::{
    digest::{self, Seed},
    in_place::ClaimGuard,
    receive::{receive, MinRate, Receiving},
    rules::{self, Piece, Plan, Refusal},
    Append, Appended,
};
use crate::{
    blob::{BlobKey, PartLayout, PieceWriter},
    domain::digest::RunningDigest,
    error::{Error, Result},
    state::AppState,
    store::{
        now_unix,
        sessions::{concat, status, NewPiece, PieceRecord, SessionRecord},
        shared_commit::Hold,
    },
};

/// The session blob of the in-place layout.
pub fn session_key(session_id: i64) -> Result<BlobKey> {
    BlobKey::new(format!("uploads/{session_id}"))
}

/// Appends one request's bytes; see the module doc.
pub async fn append<S, E>(
    state: &AppState,
    session: &SessionRecord,
    request: Append,
    body: S,
) -> Result<Appended>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let arrived = std::time::Instant::now();
    let shape = super::shape_for(state, session, &request);
    let layout = state.blobs.part_layout();
    let (plan, records, session, claim) = plan_and_claim(state, session, &request).await?;
    if let Some(digest) = &request.whole_digest {
        // Before anything is recorded: whoever completes the file checks it.
        digest::announce(state, session.id, digest);
    }
    let point = digest::point(state, &session);
    let in_order = plan.store.is_some_and(|(from, _)| from == point.upto as u64);
    let digest = match (&point.state, in_order) {
        (_, false) => None,
        (Some(saved), true) => Some(RunningDigest::resume(saved).map_err(digest::corrupt)?),
        (None, true) => Some(RunningDigest::new()),
    };
    let store_from = plan.store.map(|(from, _)| from);
    let (key, blob_offset) = match (layout, store_from) {
        (_, None) => (None, 0),
        (PartLayout::SessionBlob, Some(from)) => (Some(session_key(session.id)?), from),
        (PartLayout::BlobPerPart, Some(from)) => {
            let tag = &uuid::Uuid::new_v4().simple().to_string()[..12];
            (Some(BlobKey::new(format!("parts/{}/{from:012}-{tag}", session.id))?), 0)
        }
    };
    let mut writer: Option<Box<dyn PieceWriter>> = match &key {
        Some(key) => Some(state.blobs.piece_writer(key, blob_offset).await?),
        None => None,
    };
    let receiving = Receiving {
        start: request.start,
        max: shape.max_part_size,
        declared: request.declared,
        digest,
        hash_body: request.body_sha256.is_some(),
        min_rate: (state.settings.min_upload_rate > 0).then_some(MinRate {
            bytes_per_sec: state.settings.min_upload_rate,
            grace: state.settings.min_rate_grace,
        }),
    };
    let began = std::time::Instant::now();
    let planning_took = began - arrived;
    let received = receive(body, &plan, receiving, writer.as_mut()).await?;
    let receiving_took = began.elapsed();
    for (piece, sha) in &received.verified {
        let record = records
            .iter()
            .find(|r| r.start_offset as u64 == piece.start)
            .expect("verified pieces come from the records");
        if digest::sha256_of_stored(state, record).await? != *sha {
            return Err(Error::PartConflict(format!(
                "bytes {}..{} were already stored with different content; nothing was stored",
                piece.start, piece.end
            )));
        }
    }
    if let Some(why) = received.cut {
        let kept = match (writer, store_from, &key) {
            (Some(w), Some(from), Some(key)) if request.keep_cut && received.stored > 0 => {
                let kept = w.keep_written().await?;
                metrics::counter!("satchel_upload_bytes_stored_total").increment(kept);
                if kept > 0 {
                    let piece = Piece { start: from, end: from + kept, part: request.part };
                    record(state, &session, piece, key, blob_offset, claim).await?;
                    digest::advance(state, session.id, None, false).await?;
                }
                kept
            }
            _ => 0,
        };
        let why = format!("{why}; {kept} new bytes were kept");
        return Err(if received.slow { Error::BodyTooSlow(why) } else { Error::validation(why) });
    }
    if request.body_sha256.is_some() && received.body_sha != request.body_sha256 {
        return Err(Error::ChecksumMismatch(
            "the part does not match its Content-Digest; nothing was stored".into(),
        ));
    }
    let verified_to = plan.verified_to(request.start);
    let Some((writer, from, key)) = writer.zip(store_from).zip(key).map(|((w, f), k)| (w, f, k))
    else {
        // Every byte was already stored, identically: a replay.
        return finish(state, &session, verified_to, None, request.whole_digest.as_deref(), false)
            .await;
    };
    if received.stored == 0 && shape.file_size > 0 {
        if !received.verified.is_empty() {
            return finish(
                state,
                &session,
                verified_to,
                None,
                request.whole_digest.as_deref(),
                false,
            )
            .await;
        }
        return Err(Error::PartSize("an empty part is only taken for an empty file".into()));
    }
    let written = writer.finish().await?;
    metrics::counter!("satchel_upload_bytes_stored_total").increment(written);
    let durable_at = began.elapsed();
    let piece = Piece { start: from, end: from + written, part: request.part };
    if !record(state, &session, piece, &key, blob_offset, claim).await? {
        lost(state, &session, piece, &key).await?;
        return finish(state, &session, piece.end, None, request.whole_digest.as_deref(), false)
            .await;
    }
    let recorded_at = began.elapsed();
    let seed = received.digest.map(|after| Seed { piece, after });
    let whole = request.whole_digest.as_deref();
    let appended = finish(state, &session, piece.end, seed, whole, true).await;
    tracing::debug!(
        session = session.id,
        start = piece.start,
        len = written,
        plan_ms = planning_took.as_secs_f64() * 1e3,
        receive_ms = receiving_took.as_secs_f64() * 1e3,
        sync_ms = (durable_at - receiving_took).as_secs_f64() * 1e3,
        record_ms = (recorded_at - durable_at).as_secs_f64() * 1e3,
        digest_ms = (began.elapsed() - recorded_at).as_secs_f64() * 1e3,
        "piece stored"
    );
    appended
}

/// Deletes the blobs of a session that takes no more bytes that no piece
/// row names, and answers how many: bytes written but never recorded (a
/// crash between the two, or a request that lost a race and could not
/// remove its own). A completed session keeps its recorded pieces (they
/// are its file); a cancelled or expired one has none left by now. A
/// request still writing for the session cannot record its bytes any
/// more and removes them itself; deleting them first is harmless.
pub async fn sweep_leftovers(state: &AppState, session_id: i64, completed: bool) -> Result<u64> {
    let candidates = match state.blobs.part_layout() {
        // The session blob is the file once the session completed.
        PartLayout::SessionBlob if completed => vec![],
        PartLayout::SessionBlob => {
            let key = session_key(session_id)?;
            state.blobs.size(&key).await?.map(|_| key).into_iter().collect()
        }
        PartLayout::BlobPerPart => {
            state.blobs.list(&BlobKey::new(format!("parts/{session_id}"))?).await?
        }
    };
    // A blob stays while any piece row names it: a final upload of tus
    // concatenation names its partials' blobs.
    let mut deleted = 0;
    for key in &candidates {
        if !state.db.blob_named(key.as_str()).await? {
            state.blobs.delete(key).await?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Plans the request against the stored pieces and, in place, claims the
/// range it stores; plans again after waiting for another claim, and once
/// more under its own claim (what it saw before may have been recorded).
async fn plan_and_claim(
    state: &AppState,
    session: &SessionRecord,
    request: &Append,
) -> Result<(Plan, Vec<PieceRecord>, SessionRecord, Option<ClaimGuard>)> {
    let claims = &state.ingest.claims;
    let mut held: Option<(ClaimGuard, u64, u64)> = None;
    // The face looked the session up just now; later rounds look again.
    let mut known = Some(session.clone());
    loop {
        let mark = claims.mark();
        let session = match known.take() {
            Some(session) => session,
            None => state.db.session(session.id).await?.ok_or(Error::NotFound("upload session"))?,
        };
        check_open(&session)?;
        let shape = super::shape_for(state, &session, request);
        let hashed = session.digest_upto as u64;
        let from = request.start.min(hashed) as i64;
        let until = (request.start + shape.max_part_size)
            .max(hashed + 2 * shape.window_bytes() + shape.max_part_size);
        let records = state.db.pieces_between(session.id, from, until as i64).await?;
        let pieces: Vec<Piece> = records.iter().map(PieceRecord::piece).collect();
        let plan = rules::plan(&shape, &pieces, hashed, request.start, request.declared)
            .map_err(|refusal| refused(&shape, &pieces, hashed, request, refusal))?;
        let Some((store_from, limit)) = plan.store else {
            return Ok((plan, records, session, None));
        };
        if state.blobs.part_layout() != PartLayout::SessionBlob {
            return Ok((plan, records, session, None));
        }
        match held.take() {
            Some((guard, f, l)) if f == store_from && limit <= l => {
                return Ok((plan, records, session, Some(guard)));
            }
            // The plan moved: let the claim go and take the new range.
            Some(_) | None => {}
        }
        if let Ok(guard) = claims.claim(session.id, store_from, limit).await {
            if !claims.ended_since(mark) {
                // No claim ended since the pieces were read, so no bytes
                // were recorded in this range meanwhile: the plan holds.
                return Ok((plan, records, session, Some(guard)));
            }
            held = Some((guard, store_from, limit));
        }
    }
}

/// 404 for a cancelled session, 410 for an expired one; for tus
/// concatenation, 403 for a final upload (it takes no bytes of its own)
/// and 400 for a complete partial one (a final may have taken its pieces).
fn check_open(session: &SessionRecord) -> Result<()> {
    if session.status == status::CANCELLED {
        return Err(Error::NotFound("upload session"));
    }
    match session.concat.as_deref() {
        Some(concat::FINAL | concat::STITCHED) => {
            return Err(Error::Forbidden(
                "a final upload takes no bytes: send them to its partial uploads",
            ))
        }
        Some(concat::PARTIAL) if session.status == status::COMPLETED => {
            return Err(Error::UploadCompleted)
        }
        _ => {}
    }
    if session.is_expired_at(now_unix()) {
        return Err(Error::SessionExpired);
    }
    Ok(())
}

/// The error a refusal becomes.
fn refused(
    shape: &rules::Shape,
    pieces: &[Piece],
    hashed: u64,
    request: &Append,
    refusal: Refusal,
) -> Error {
    let part = request.part;
    match refusal {
        Refusal::TooLarge { max } => Error::BodyTooLarge { max },
        Refusal::PastEnd { file_size } => Error::PartSize(format!(
            "part {part} runs past the end of the file ({file_size} bytes); nothing was stored"
        )),
        Refusal::Empty => Error::PartSize(format!(
            "part {part} is empty, but the file is not complete; nothing was stored"
        )),
        Refusal::OutOfWindow { frontier } => Error::PartOutOfOrder {
            part,
            next_part: rules::next_part(pieces, frontier),
            next_url: None,
            received: frontier,
            window: shape.window,
        },
        Refusal::Overlap => Error::PartConflict(format!(
            "part {part} overlaps bytes already stored without matching their boundaries \
             (stored without a gap up to byte {}); nothing was stored",
            rules::frontier(pieces, hashed)
        )),
        Refusal::Completed => Error::PartConflict(format!(
            "the upload is complete and part {part} is not one of its parts"
        )),
    }
}

/// Records a durable piece; false when another request recorded those
/// bytes first or the session stopped taking bytes. The claim on the
/// range is let go once the record is settled, even if this request is
/// dropped meanwhile.
async fn record(
    state: &AppState,
    session: &SessionRecord,
    piece: Piece,
    key: &BlobKey,
    blob_offset: u64,
    claim: Option<ClaimGuard>,
) -> Result<bool> {
    let piece = NewPiece {
        session_id: session.id,
        start: piece.start as i64,
        end: piece.end as i64,
        part_number: i64::from(piece.part),
        blob_key: key.as_str().to_owned(),
        blob_offset: blob_offset as i64,
        now: now_unix(),
    };
    state.db.record_piece(piece, claim.map(|c| Box::new(c) as Hold)).await
}

/// The piece could not be recorded: another request stored the same
/// bytes first (then this one is a replay of them, if they are equal), or
/// the session stopped taking bytes. Removes this request's own blob.
async fn lost(
    state: &AppState,
    session: &SessionRecord,
    piece: Piece,
    key: &BlobKey,
) -> Result<()> {
    let current = state.db.session(session.id).await?.ok_or(Error::NotFound("upload session"))?;
    let records = state.db.pieces_between(session.id, piece.start as i64, piece.end as i64).await?;
    let winner =
        records.iter().find(|r| r.piece().start == piece.start && r.piece().end == piece.end);
    let outcome = match winner {
        Some(winner) if state.blobs.part_layout() == PartLayout::BlobPerPart => {
            let ours = PieceRecord {
                start_offset: piece.start as i64,
                end_offset: piece.end as i64,
                part_number: i64::from(piece.part),
                blob_key: key.as_str().to_owned(),
                blob_offset: 0,
            };
            let same = digest::sha256_of_stored(state, &ours).await?
                == digest::sha256_of_stored(state, winner).await?;
            if same {
                Ok(())
            } else {
                Err(Error::PartConflict(format!(
                    "bytes {}..{} were stored by another request with different content",
                    piece.start, piece.end
                )))
            }
        }
        _ => check_open(&current).and(Err(Error::PartConflict(format!(
            "bytes {}..{} overlap bytes another request stored",
            piece.start, piece.end
        )))),
    };
    // A piece of its own goes; so does a session blob once the session
    // takes no more bytes (this write may have made it again after the
    // sweeper freed it).
    if state.blobs.part_layout() == PartLayout::BlobPerPart || check_open(&current).is_err() {
        state.blobs.delete(key).await?;
    }
    outcome
}

/// Carries the digest on and answers where the bytes ended; `stored`:
/// this request stored new bytes (not a replay of stored ones).
async fn finish(
    state: &AppState,
    session: &SessionRecord,
    end: u64,
    seed: Option<Seed>,
    whole_sha256: Option<&str>,
    stored: bool,
) -> Result<Appended> {
    // The part that ends the file, or announces its digest, waits to hear
    // whether the file was made; the others leave their piece to whoever
    // is moving the digest.
    let wait = end == session.file_size as u64 || whole_sha256.is_some();
    let turn = digest::advance_part(state, session.id, seed, wait).await?;
    // A replay answers as it did the first time, not with the file.
    let (created_version, completes) = (turn.created, turn.completes && stored);
    if !(wait || completes || created_version.is_some()) {
        return Ok(Appended { end, session: session.clone(), created_version, completes });
    }
    let session = state.db.session(session.id).await?.ok_or(Error::NotFound("upload session"))?;
    if wait && session.status == status::UPLOADING {
        // The part waited to hear whether the file was made; if its bytes
        // are gone, another request tried and was refused: say why.
        let (at, end_at) = (end.saturating_sub(1) as i64, end as i64);
        let records = state.db.pieces_between(session.id, at, end_at).await?;
        if end > 0 && !records.iter().any(|r| r.end_offset == end_at) {
            return Err(digest::take_refusal(state, session.id).unwrap_or_else(|| {
                Error::PartConflict(format!(
                    "the part ending at byte {end} was not kept; send it again"
                ))
            }));
        }
    }
    Ok(Appended { end, session, created_version, completes })
}
