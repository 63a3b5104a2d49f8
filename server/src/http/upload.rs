//! Part uploads: `POST /upload/{token}` stores part *n*, `GET` answers the
//! resume point, `DELETE` cancels. The token in the URL is the credential.
//!
//! Blob layout, chosen by the store (`BlobStore::part_layout`):
//!
//! - **S3: one blob per part**, `parts/<session>/<n>-<tag>`, where the tag
//!   is derived from the digest state after the part, so the same bytes
//!   always land on the same key (a replay or a race with equal bytes
//!   rewrites identical content) and different bytes never overwrite a
//!   stored part. Any node may write any part. Parts are not concatenated
//!   on completion: S3 multipart needs 5 MiB pieces, larger than an upload
//!   part, and copying would read every byte a second time.
//! - **Local disk: one blob per session**, `uploads/<session>`, part *n*
//!   written in place at `(n - 1) * part_size` (see `in_place` for why it
//!   is safe). A durable in-place write costs one `fdatasync`, a third of
//!   a new file's fsync, rename and directory fsync, and the completed
//!   file is one contiguous blob.
//!
//! Either way a completed version is its session's parts in order, each
//! recorded with its blob key and offset; a download streams them.
//!
//! Order of a part's life: receive the body (exact length, at most
//! `max_part_size`) while the session is looked up, hashing it as it
//! arrives; check digests; write the bytes durably and record the part
//! with one insert (the last part in a transaction that also creates the
//! file or version). Only then is it acknowledged.

use axum::{
    body::Body,
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{files::FileView, sessions::plan_of};
use crate::{
    blob::{BlobKey, PageAlignedBuf, PartLayout},
    domain::{
        digest::{content_digest_sha256, sha256, RunningDigest},
        parts::{PartArrival, PartNumber},
    },
    error::{Error, Result},
    in_place,
    state::AppState,
    store::{
        now_unix,
        sessions::{status, Completion, NewPart, PartOutcome, SessionRecord},
    },
};

#[derive(Serialize, Deserialize, ToSchema)]
pub struct PartAccepted {
    pub session_id: i64,
    /// Where the next part goes.
    pub next_url: String,
    pub part: u32,
    /// Bytes stored so far.
    pub received: u64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct CompletedFile {
    #[serde(flatten)]
    pub file: FileView,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ResumePoint {
    pub session_id: i64,
    /// `uploading`, `completed` or `expired`.
    pub status: String,
    pub file_name: String,
    pub file_size: i64,
    pub received: u64,
    pub next_part: Option<u32>,
    pub next_url: Option<String>,
    pub expires_at: i64,
    pub file: Option<FileView>,
}

/// The session a token names, or why it cannot be used: 404 for a forged
/// token, an unknown or cancelled session; 410 once expired.
async fn session_of(state: &AppState, token: &str) -> Result<(SessionRecord, PartNumber)> {
    let (session_id, part) =
        state.signing.verify_part_token(token).ok_or(Error::NotFound("upload session"))?;
    let session = state.db.session(session_id).await?.ok_or(Error::NotFound("upload session"))?;
    if session.status == status::CANCELLED {
        return Err(Error::NotFound("upload session"));
    }
    Ok((session, part))
}

/// Store part *n*.
#[utoipa::path(post, path = "/upload/{token}", tag = "uploads",
    params(("token" = String, Path, description = "from upload_url or next_url")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 202, body = PartAccepted, description = "an intermediate part was stored"),
        (status = 200, body = CompletedFile, description = "the last part was stored: the file"),
        (status = 400, body = super::problem::Problem, description = "part-size"),
        (status = 404, body = super::problem::Problem),
        (status = 409, body = super::problem::Problem, description = "part-out-of-order, part-conflict"),
        (status = 410, body = super::problem::Problem, description = "session-expired"),
        (status = 413, body = super::problem::Problem),
        (status = 460, body = super::problem::Problem, description = "checksum-mismatch"),
    ))]
pub async fn put_part(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let (session_id, part) =
        state.signing.verify_part_token(&token).ok_or(Error::NotFound("upload session"))?;
    let announced = digest_header(&headers, "content-digest")?;
    // Read only for the last part, where it counts.
    let whole_file_header = headers.get("repr-digest").map(|v| v.to_str().unwrap_or("\u{fffd}"));
    // Bounded memory: at most `upload_buffer` bytes of bodies at once.
    let _memory = state.part_slots.acquire().await.expect("the semaphore is never closed");
    // The body is received while the session is looked up, and hashed as
    // it arrives once the lookup says which digest it continues.
    let max = state.settings.max_part_size;
    let received = receive_part(&state, session_id, part, body, &headers, max, announced.is_some());
    let Received { session, arrival, bytes, digests } = received.await?;
    let expected_len = plan_of(&session).expected_len(part).expect("a known part has a length");
    if bytes.len() as u64 != expected_len {
        return Err(Error::PartSize { part, expected: expected_len, got: bytes.len() as u64 });
    }
    let incoming = Incoming {
        state: &state,
        token: &token,
        session: &session,
        part,
        announced,
        whole_file_header,
    };
    let hashed = incoming.checked(digests)?;
    let placed = if state.blobs.part_layout() == PartLayout::SessionBlob {
        // Replays too: the slot waits for a write in flight and knows
        // whether the record stands.
        store_in_place(incoming, hashed, bytes).await?
    } else if arrival == PartArrival::Replay {
        Placed::AlreadyStored { digest_state: hashed.digest_state }
    } else {
        store_blob(incoming, hashed, bytes).await?
    };
    let version_id = match placed {
        Placed::Stored { version_id } => version_id,
        Placed::AlreadyStored { digest_state } => {
            return replay(&state, &session, part, &digest_state).await
        }
    };
    if let Some(version_id) = version_id.filter(|_| session.with_preview != 0) {
        crate::previews::make(&state, &session, version_id).await;
    }
    answer(&state, &session, part).await
}

/// The digests of a part: the running whole-file digest after it, and the
/// part's own SHA-256 when the client announced one.
struct Digests {
    digest: RunningDigest,
    part_sha: Option<[u8; 32]>,
}

/// Hashes a part as its bytes arrive.
struct PartHasher {
    digest: RunningDigest,
    part: Option<sha2::Sha256>,
}

impl PartHasher {
    /// Continues the whole-file digest from the state saved after the
    /// previous part (a new one for part 1).
    fn new(previous: Option<&[u8]>, part_digest: bool) -> Result<Self> {
        let digest = match previous {
            Some(saved) => RunningDigest::resume(saved)
                .map_err(|e| Error::Io(std::io::Error::other(format!("{e:?}"))))?,
            None => RunningDigest::new(),
        };
        Ok(PartHasher { digest, part: part_digest.then(<sha2::Sha256 as sha2::Digest>::new) })
    }

    fn update(&mut self, bytes: &[u8]) {
        self.digest.update(bytes);
        if let Some(part) = &mut self.part {
            sha2::Digest::update(part, bytes);
        }
    }

    fn finish(self) -> Digests {
        let part_sha = self.part.map(|p| sha2::Digest::finalize(p).into());
        Digests { digest: self.digest, part_sha }
    }
}

/// A part request's body, received and hashed.
struct Received {
    session: SessionRecord,
    arrival: PartArrival,
    bytes: Bytes,
    digests: Digests,
}

/// Receives a part body of at most `max` bytes while looking up the
/// session, and hashes the bytes as they arrive once the lookup is done
/// (64 KiB at a time, a few dozen microseconds each), so the digests are
/// ready when the last byte is. A declared or streamed length over `max`
/// is refused as soon as it is known; a part the lookup refuses (404,
/// 409, 410) is refused without reading on.
async fn receive_part(
    state: &AppState,
    session_id: i64,
    part: PartNumber,
    body: Body,
    headers: &HeaderMap,
    max: u64,
    part_digest: bool,
) -> Result<Received> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max) {
        return Err(Error::BodyTooLarge { max });
    }
    let mut buffer = PageAlignedBuf::with_capacity(declared.unwrap_or(0) as usize);
    let mut stream = body.into_data_stream();
    let lookup = part_target(state, session_id, part);
    tokio::pin!(lookup);
    let mut target: Option<(SessionRecord, PartArrival, PartHasher)> = None;
    let mut body_done = false;
    while target.is_none() || !body_done {
        tokio::select! {
            found = &mut lookup, if target.is_none() => {
                let (session, previous, arrival) = found?;
                // Part 1 starts a digest; any later part continues the
                // stored state (there: the part is next or replayed).
                if part > 1 && previous.is_none() {
                    return Err(Error::SessionExpired);
                }
                let mut hasher = PartHasher::new(previous.as_deref(), part_digest)?;
                hasher.update(buffer.as_slice());
                target = Some((session, arrival, hasher));
            }
            chunk = stream.next(), if !body_done => match chunk {
                None => body_done = true,
                Some(chunk) => {
                    let chunk = chunk.map_err(|e| {
                        Error::validation(format!("the part body was cut off: {e}"))
                    })?;
                    if (buffer.len() + chunk.len()) as u64 > max {
                        return Err(Error::BodyTooLarge { max });
                    }
                    if let Some((_, _, hasher)) = &mut target {
                        hasher.update(&chunk);
                    }
                    buffer.extend_from_slice(&chunk);
                }
            },
        }
    }
    let (session, arrival, hasher) = target.expect("the loop ends once the lookup is done");
    Ok(Received { session, arrival, bytes: buffer.freeze(), digests: hasher.finish() })
}

/// The SHA-256 a digest header (`Content-Digest` or `Repr-Digest`, RFC
/// 9530) announces; 400 when it is malformed.
fn digest_header(headers: &HeaderMap, name: &str) -> Result<Option<[u8; 32]>> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| Error::validation(format!("{name} is not text")))?;
    content_digest_sha256(text).map_err(|e| Error::validation(format!("{name}: {e}")))
}

/// A part's digests once they passed the Content-Digest check.
struct Hashed {
    digest_state: Vec<u8>,
    /// The whole file's SHA-256, for the last part.
    whole_file: Option<String>,
}

/// A part request whose body has been read.
#[derive(Clone, Copy)]
struct Incoming<'a> {
    state: &'a AppState,
    token: &'a str,
    session: &'a SessionRecord,
    part: PartNumber,
    announced: Option<[u8; 32]>,
    /// `Repr-Digest` (beyond Kommo): the whole file's SHA-256, which a
    /// client that hashes as it sends knows only at the last part.
    whole_file_header: Option<&'a str>,
}

impl Incoming<'_> {
    /// Checks the part against its Content-Digest (460, nothing stored).
    fn checked(&self, digests: Digests) -> Result<Hashed> {
        let Digests { digest, part_sha } = digests;
        if self.announced.is_some() && part_sha != self.announced {
            return Err(Error::ChecksumMismatch(format!(
                "part {} does not match its Content-Digest; nothing was stored",
                self.part
            )));
        }
        let digest_state = digest.state();
        let whole_file = plan_of(self.session).is_last(self.part).then(|| digest.finish_hex());
        Ok(Hashed { digest_state, whole_file })
    }

    /// For the last part, the file's SHA-256 must be the one announced
    /// when the session opened, and the one the last part's `Repr-Digest`
    /// announces (460; the session stays open).
    fn check_whole_file(&self, hashed: &Hashed) -> Result<()> {
        let Some(hex) = &hashed.whole_file else {
            return Ok(());
        };
        let announced = self
            .whole_file_header
            .map(content_digest_sha256)
            .transpose()
            .map_err(|e| Error::validation(format!("repr-digest: {e}")))?
            .flatten()
            .map(hex::encode);
        for expected in
            [self.session.expected_sha256.as_ref(), announced.as_ref()].into_iter().flatten()
        {
            if expected != hex {
                return Err(Error::ChecksumMismatch(format!(
                    "the file's SHA-256 is {hex}, not the announced {expected}; \
                     the last part was not stored and the session stays open"
                )));
            }
        }
        Ok(())
    }

    fn record<'k>(&self, hashed: &'k Hashed, blob_key: &'k str, blob_offset: u64) -> NewPart<'k> {
        let plan = plan_of(self.session);
        NewPart {
            session_id: self.session.id,
            part_number: i64::from(self.part),
            size: plan.expected_len(self.part).expect("a known part") as i64,
            digest_state: &hashed.digest_state,
            blob_key,
            blob_offset: blob_offset as i64,
            now: now_unix(),
        }
    }

    /// Records the part, and for the last part creates the file or
    /// version.
    async fn record_part(
        &self,
        hashed: &Hashed,
        key: &BlobKey,
        offset: u64,
    ) -> Result<PartOutcome> {
        let (file_uuid, version_uuid) =
            (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
        let completion = hashed.whole_file.as_deref().map(|sha256| Completion {
            file_uuid: &file_uuid,
            version_uuid: &version_uuid,
            sha256,
            quota_bytes: self.state.settings.quota_bytes,
        });
        let record = self.record(hashed, key.as_str(), offset);
        self.state.db.record_part(self.session, record, completion).await
    }

    /// The last part would take the account over its quota: not stored,
    /// and the session stays open until space is freed.
    fn over_quota(&self, used: u64) -> Error {
        let quota = self.state.settings.quota_bytes.unwrap_or(u64::MAX);
        Error::QuotaExceeded { used, size: self.session.file_size as u64, quota }
    }
}

/// What storing a part came to.
enum Placed {
    /// This request stored it; for the last part, the version created.
    Stored { version_id: Option<i64> },
    /// The part was already stored: answer as a replay of these bytes.
    AlreadyStored { digest_state: Vec<u8> },
}

/// One blob per part: write it under a key tied to its bytes, then record
/// it.
async fn store_blob(incoming: Incoming<'_>, hashed: Hashed, bytes: Bytes) -> Result<Placed> {
    let Incoming { state, token, session, part, .. } = incoming;
    incoming.check_whole_file(&hashed)?;
    let key = part_key(session.id, part, &hashed.digest_state)?;
    state.blobs.put(&key, bytes).await?;
    match incoming.record_part(&hashed, &key, 0).await? {
        PartOutcome::Stored { version_id } => Ok(Placed::Stored { version_id }),
        PartOutcome::TargetUnavailable => {
            state.blobs.delete(&key).await?;
            Err(Error::FileTrashed)
        }
        PartOutcome::OverQuota { used } => {
            state.blobs.delete(&key).await?;
            Err(incoming.over_quota(used))
        }
        PartOutcome::Lost => {
            // Another request stored this part first, or the session
            // expired or was cancelled meanwhile.
            let stored = state.db.part(session.id, i64::from(part)).await?;
            if stored.as_ref().is_none_or(|p| p.blob_key != key.as_str()) {
                state.blobs.delete(&key).await?;
            }
            match stored {
                Some(_) => Ok(Placed::AlreadyStored { digest_state: hashed.digest_state }),
                None => Err(lost_because(state, token, part).await),
            }
        }
    }
}

/// In place (one blob per session), holding the session's slot: unless
/// the part is already stored, write it at its offset and record it (its
/// digests are ready: it was hashed as it arrived). An intermediate part
/// is recorded while its bytes are
/// flushed and the answer waits for both; should a crash come between
/// the two, the check the next process makes forgets the record. The
/// last part makes the file visible, so its bytes are flushed first.
///
/// The slot travels with the write: if this request is dropped (the
/// client went away), the slot is released only when the write is over,
/// and marked unknown, so the next request checks the database again.
async fn store_in_place(incoming: Incoming<'_>, hashed: Hashed, bytes: Bytes) -> Result<Placed> {
    let Incoming { state, token, session, part, .. } = incoming;
    let key = in_place::session_key(session.id)?;
    let (mut slot, done) = in_place::lock_checked(state, session.id).await?;
    if part <= done {
        return Ok(Placed::AlreadyStored { digest_state: hashed.digest_state });
    }
    if part > done + 1 {
        // The check forgot the part before this one.
        let plan = plan_of(session);
        return Err(Error::PartOutOfOrder {
            part,
            next_part: done + 1,
            next_url: state.part_url(session.id, done + 1),
            received: plan.received_before(done + 1),
        });
    }
    incoming.check_whole_file(&hashed)?;
    let offset = plan_of(session).offset_of(part);
    slot.stored = None;
    state.session_locks.unknow(session.id);
    let write = {
        let (blobs, key) = (state.blobs.clone(), key.clone());
        tokio::spawn(async move {
            let written = blobs.write_at(&key, offset, bytes).await;
            (written, slot)
        })
    };
    let (written, outcome, mut slot) = if hashed.whole_file.is_none() {
        let (wrote, outcome) = tokio::join!(write, incoming.record_part(&hashed, &key, offset));
        let (written, slot) = wrote.map_err(|e| Error::Io(std::io::Error::other(e)))?;
        (written, outcome, slot)
    } else {
        let (written, slot) = write.await.map_err(|e| Error::Io(std::io::Error::other(e)))?;
        let outcome = match &written {
            Ok(()) => incoming.record_part(&hashed, &key, offset).await,
            Err(_) => Ok(PartOutcome::Lost),
        };
        (written, outcome, slot)
    };
    if let Err(e) = written {
        // Undo a record that may have been made (an insert whose answer
        // was lost may have committed too). The slot stays unknown either
        // way: the next request checks the database and the bytes again.
        if !matches!(outcome, Ok(PartOutcome::TargetUnavailable | PartOutcome::OverQuota { .. })) {
            let _ = state.db.forget_part(session.id, i64::from(part)).await;
        }
        return Err(e);
    }
    match outcome? {
        PartOutcome::Stored { version_id } => {
            slot.stored = Some(part);
            if version_id.is_some() {
                state.session_locks.forget(session.id);
            } else {
                let mut session = session.clone();
                session.next_part = i64::from(part) + 1;
                let digest_state = hashed.digest_state.clone();
                state.session_locks.remember(in_place::Known {
                    session,
                    stored: part,
                    digest_state,
                });
            }
            Ok(Placed::Stored { version_id })
        }
        // The bytes stay where no record points; a retry overwrites them.
        PartOutcome::TargetUnavailable => {
            slot.stored = Some(done);
            Err(Error::FileTrashed)
        }
        PartOutcome::OverQuota { used } => {
            slot.stored = Some(done);
            Err(incoming.over_quota(used))
        }
        PartOutcome::Lost => {
            // Holding the slot, a part loses when the session stopped
            // taking parts: its blob is garbage, and the write may have
            // recreated it after it was freed. Otherwise the record was
            // made by a request this process gave up on, and this write
            // may have changed its bytes: the slot stays unknown, so the
            // next request checks them against the record.
            let why = lost_because(state, token, part).await;
            if matches!(why, Error::NotFound(_) | Error::SessionExpired) {
                state.session_locks.forget(session.id);
                state.blobs.delete(&key).await?;
            }
            Err(why)
        }
    }
}

/// Why a part could not be recorded although no other request stored it:
/// the session was cancelled (404) or expired (410); otherwise the part
/// conflicts.
async fn lost_because(state: &AppState, token: &str, part: PartNumber) -> Error {
    match session_of(state, token).await {
        Err(e) => e,
        Ok((current, _)) if current.is_expired_at(now_unix()) => Error::SessionExpired,
        Ok(_) => Error::PartConflict(part),
    }
}
/// A part sent again: the first answer when the bytes are the same, 409
/// when they differ.
async fn replay(
    state: &AppState,
    session: &SessionRecord,
    part: PartNumber,
    digest_state: &[u8],
) -> Result<Response> {
    let stored =
        state.db.part(session.id, i64::from(part)).await?.ok_or(Error::PartConflict(part))?;
    if stored.digest_state != digest_state {
        return Err(Error::PartConflict(part));
    }
    answer(state, session, part).await
}

/// The answer to a stored part: 202 with the next URL, or 200 with the
/// file for the last part (read back, since completion set it).
async fn answer(state: &AppState, session: &SessionRecord, part: PartNumber) -> Result<Response> {
    let plan = plan_of(session);
    if !plan.is_last(part) {
        let body = PartAccepted {
            session_id: session.id,
            next_url: state.part_url(session.id, part + 1),
            part,
            received: plan.received_before(part + 1),
        };
        return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
    }
    let completed = state.db.session(session.id).await?.ok_or(Error::NotFound("upload session"))?;
    let file_id = completed.file_id.ok_or(Error::NotFound("file"))?;
    let file = state.db.file_by_id(file_id).await?.ok_or(Error::NotFound("file"))?;
    let mut view = state.file_view(&file).await?;
    view.session_id = session.id;
    Ok((StatusCode::OK, Json(CompletedFile { file: view })).into_response())
}

/// The session a part is for, the digest state it continues, and whether
/// it is the next part or a replay; an error for any part that cannot be
/// taken (404 unknown, 410 expired, 409 ahead of the next part).
async fn part_target(
    state: &AppState,
    session_id: i64,
    part: PartNumber,
) -> Result<(SessionRecord, Option<Vec<u8>>, PartArrival)> {
    // The part after the one this process stored last needs no lookup.
    if let Some(known) = state.session_locks.known(session_id) {
        if known.stored + 1 == part && !known.session.is_expired_at(now_unix()) {
            return Ok((known.session, Some(known.digest_state), PartArrival::Next));
        }
    }
    let (session, previous) = state
        .db
        .session_for_part(session_id, i64::from(part))
        .await?
        .filter(|(s, _)| s.status != status::CANCELLED)
        .ok_or(Error::NotFound("upload session"))?;
    if session.is_expired_at(now_unix()) {
        return Err(Error::SessionExpired);
    }
    let plan = plan_of(&session);
    let next_part = session.next_part as PartNumber;
    let arrival = PartArrival::classify(&plan, next_part, part);
    match arrival {
        PartArrival::Unknown => Err(Error::NotFound("part")),
        PartArrival::Ahead => Err(Error::PartOutOfOrder {
            part,
            next_part,
            next_url: state.part_url(session.id, next_part),
            received: plan.received_before(next_part),
        }),
        PartArrival::Next | PartArrival::Replay => Ok((session, previous, arrival)),
    }
}

/// Where a part's bytes live; the tag ties the key to the bytes.
fn part_key(session_id: i64, part: PartNumber, digest_state: &[u8]) -> Result<BlobKey> {
    let tag = hex::encode(&sha256(digest_state)[..8]);
    BlobKey::new(format!("parts/{session_id}/{part:06}-{tag}"))
}

/// The resume point (beyond Kommo).
#[utoipa::path(get, path = "/upload/{token}", tag = "uploads",
    params(("token" = String, Path)),
    responses((status = 200, body = ResumePoint), (status = 404, body = super::problem::Problem)))]
pub async fn resume_point(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<ResumePoint>> {
    let (session, _) = session_of(&state, &token).await?;
    let plan = plan_of(&session);
    let expired = session.is_expired_at(now_unix());
    let mut next_part = session.next_part as PartNumber;
    if session.status == status::UPLOADING
        && !expired
        && next_part > 1
        && state.blobs.part_layout() == PartLayout::SessionBlob
    {
        // After a crash the last recorded part may have lost its bytes.
        // (A session with no parts has nothing to check, and gets no slot
        // that nothing would ever free.)
        next_part = in_place::lock_checked(&state, session.id).await?.1 + 1;
    }
    let (status, next) = if session.status == status::COMPLETED {
        ("completed", None)
    } else if expired {
        ("expired", None)
    } else {
        ("uploading", Some(next_part))
    };
    let file = match session.file_id {
        Some(id) => match state.db.file_by_id(id).await? {
            Some(f) => Some(state.file_view(&f).await?),
            None => None,
        },
        None => None,
    };
    Ok(Json(ResumePoint {
        session_id: session.id,
        status: status.into(),
        file_name: session.file_name.clone(),
        file_size: session.file_size,
        received: if expired { 0 } else { plan.received_before(next_part) },
        next_part: next,
        next_url: next.map(|n| state.part_url(session.id, n)),
        expires_at: session.expires_at,
        file,
    }))
}

/// Cancel the session and free its parts (beyond Kommo).
#[utoipa::path(delete, path = "/upload/{token}", tag = "uploads",
    params(("token" = String, Path)),
    responses((status = 204), (status = 404, body = super::problem::Problem),
        (status = 409, body = super::problem::Problem), (status = 410, body = super::problem::Problem)))]
pub async fn cancel(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<StatusCode> {
    let (session, _) = session_of(&state, &token).await?;
    if session.status == status::COMPLETED {
        return Err(Error::validation("the upload is complete; trash the file instead"));
    }
    if session.is_expired_at(now_unix()) {
        return Err(Error::SessionExpired);
    }
    // A write in flight finishes before the blob goes.
    let _slot = state.session_locks.lock(session.id).await;
    if !state.db.cancel_session(session.id).await? {
        return Err(Error::NotFound("upload session"));
    }
    state.session_locks.forget(session.id);
    crate::jobs::free_parts_of(&state, session.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> Router<AppState> {
    Router::new().route("/upload/{token}", get(resume_point).post(put_part).delete(cancel))
}
