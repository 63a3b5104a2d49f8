//! Opening an upload session, whatever face asks: the name, size, quota,
//! digest and target-file rules every protocol shares.

pub use app::wire::{LOCAL_MAX_PART_SIZE, MIN_PART_SIZE};

use crate::{
    blob::PartLayout,
    domain::{
        digest::parse_sha256_hex,
        file_name::FileName,
        trash::{usable, Unusable},
    },
    error::{Error, Result},
    state::AppState,
    store::{
        accounts::AccountId,
        now_unix,
        sessions::{NewSession, OpenLimits, Opened, SessionRecord},
    },
};

/// A new upload as a face read it from its request.
pub struct Opening<'a> {
    pub account: AccountId,
    /// The user the upload is made by.
    pub user: i64,
    pub file_name: &'a str,
    /// Bytes; negative sizes are refused here, with the reason.
    pub file_size: i64,
    pub content_type: Option<&'a str>,
    /// Upload a new version of this file.
    pub file_uuid: Option<&'a str>,
    pub with_preview: bool,
    /// Hex SHA-256 the completed file must have.
    pub sha256: Option<&'a str>,
    /// tus concatenation: `concat::PARTIAL` or `concat::FINAL`.
    pub concat: Option<&'a str>,
    /// The length comes later (tus creation-defer-length); `file_size` is
    /// ignored and the largest file allowed is held instead.
    pub length_deferred: bool,
    /// The part size the client asked for (beyond Kommo); `None`: the
    /// server's `--max-part-size`.
    pub part_size: Option<u64>,
}

/// The largest part size a client may ask for on this server.
pub fn largest_part_size(state: &AppState) -> u64 {
    match state.blobs.part_layout() {
        PartLayout::SessionBlob => state.settings.max_part_size.max(LOCAL_MAX_PART_SIZE),
        PartLayout::BlobPerPart => state.settings.max_part_size,
    }
}

/// The part size a session gets: the server's, or the one asked for (a
/// multiple of 64 from `MIN_PART_SIZE`) capped at `largest_part_size`;
/// the answer tells the client which.
fn part_size(state: &AppState, asked: Option<u64>) -> Result<u64> {
    let Some(asked) = asked else { return Ok(state.settings.max_part_size) };
    let least = MIN_PART_SIZE.min(state.settings.max_part_size);
    if asked < least || !asked.is_multiple_of(64) || asked > i64::MAX as u64 {
        return Err(Error::validation(format!(
            "max_part_size must be a multiple of 64 from {least} to {} bytes, not {asked}",
            i64::MAX
        )));
    }
    Ok(asked.min(largest_part_size(state)))
}

/// Opens a session for `opening`: 400 for a bad name or size, a file over
/// `--max-file-size` or the quota, a malformed digest, a trashed target
/// file; 404 for an unknown one.
pub async fn open(state: &AppState, opening: Opening<'_>) -> Result<SessionRecord> {
    let name = FileName::parse(opening.file_name).map_err(Error::Validation)?;
    let part_size = part_size(state, opening.part_size)?;
    let max = state.settings.max_file_size;
    let size = match opening.length_deferred {
        true => max,
        false => u64::try_from(opening.file_size)
            .map_err(|_| Error::validation("file_size must not be negative"))?,
    };
    if size > max {
        return Err(Error::FileTooLarge { size, max });
    }
    let sha256 = opening.sha256.map(parse_sha256_hex).transpose().map_err(Error::Validation)?;
    let target_file_id = match opening.file_uuid {
        None => None,
        Some(uuid) => {
            let file = state.db.file_by_uuid(opening.account, uuid).await?;
            match usable(file.as_ref()) {
                Ok(file) => Some(file.id),
                Err(Unusable::Unknown) => return Err(Error::NotFound("file")),
                Err(Unusable::Trashed) => return Err(Error::FileTrashed),
            }
        }
    };
    let now = now_unix();
    let mime = name.mime_type(opening.content_type);
    // The quota counts what unfinished sessions declared, so that bytes
    // in flight cannot take an account past it; a deferred length is
    // checked once it is known, when the file completes.
    let limits = OpenLimits {
        sessions: u64::from(state.settings.open_sessions_per_account),
        quota: state.settings.quota_bytes,
        now,
    };
    let new = NewSession {
        account: opening.account,
        file_name: name.as_str(),
        file_size: size as i64,
        mime_type: &mime,
        part_size: part_size as i64,
        target_file_id,
        with_preview: opening.with_preview,
        expected_sha256: sha256.as_deref(),
        created_by: opening.user,
        created_at: now,
        expires_at: now + state.settings.session_ttl.as_secs() as i64,
        concat: opening.concat,
        length_deferred: opening.length_deferred,
    };
    match state.db.create_session(new, limits).await? {
        Opened::Session(session) => Ok(*session),
        Opened::TooManySessions { open } => Err(Error::TooManyRequests(format!(
            "this account has {open} unfinished uploads, as many as it may; finish, cancel or \
             let one expire first"
        ))),
        Opened::OverQuota { used, reserved } => Err(Error::QuotaExceeded {
            used: used + reserved,
            size,
            quota: state.settings.quota_bytes.unwrap_or(u64::MAX),
        }),
    }
}
