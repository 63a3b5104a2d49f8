//! Satchel's one error type. Each variant's doc says which HTTP status and
//! problem `type` slug it becomes; `http::problem` turns it into an
//! `application/problem+json` answer and logs internal details, which
//! never reach the client.

use crate::domain::{crm::FieldError, Scope};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 401 `unauthorized`: no bearer token, or one Satchel does not know
    /// or that has expired.
    #[error("a valid bearer token is required")]
    Unauthorized,

    /// 403 `forbidden`: the token is valid but lacks this scope.
    #[error("this token lacks the `{0}` scope")]
    MissingScope(Scope),

    /// 403 `forbidden`: a signed link that is forged or has expired.
    #[error("{0}")]
    Forbidden(&'static str),

    /// 404 `not-found`: the thing does not exist, or belongs to another
    /// account (which must look exactly the same).
    #[error("{0} not found")]
    NotFound(&'static str),

    /// 400 `validation`: the request is malformed; the text says what.
    #[error("{0}")]
    Validation(String),

    /// 400 with Kommo's `validation-errors` (the CRM side): each item of
    /// the batch that failed, by `request_id`, with every problem's code
    /// and path. The slug is `file-trashed` when a problem is a file in
    /// the trash, `validation` otherwise. Nothing was written.
    #[error("{}", crm_summary(.0))]
    CrmValidation(Vec<(String, Vec<FieldError>)>),

    /// 400 `file-too-large`: a session for more than `max_file_size`.
    #[error("the file has {size} bytes; at most {max} are accepted")]
    FileTooLarge { size: u64, max: u64 },

    /// 400 `quota-exceeded`: the file would take the account over its quota.
    #[error("the account keeps {used} of its {quota} bytes; a file of {size} bytes does not fit")]
    QuotaExceeded { used: u64, size: u64, quota: u64 },

    /// 400 `file-trashed`: the file is in the trash and cannot be used.
    #[error("the file is in the trash")]
    FileTrashed,

    /// 400 `part-size`: a part that runs past the end of the file, an
    /// empty part before the end, or a body longer than it said; nothing
    /// was stored. The text says which.
    #[error("{0}")]
    PartSize(String),

    /// 415 `unsupported-media-type`: a body in an encoding the endpoint
    /// does not read, or without a Content-Type; the text names the ones
    /// it reads.
    #[error("{0}")]
    UnsupportedMediaType(String),

    /// 413 `body-too-large`: a body over the limit, refused unread.
    #[error("the body exceeds {max} bytes")]
    BodyTooLarge { max: u64 },

    /// 409 `part-out-of-order`: a part past the window, `window` parts
    /// beyond the bytes stored without a gap (`received`); the answer
    /// carries the resume point (`next_url` is filled in by the face).
    #[error(
        "part {part} lies beyond the {window} parts that may be in flight past byte {received}; \
         send part {next_part} first"
    )]
    PartOutOfOrder {
        part: u32,
        next_part: u32,
        next_url: Option<String>,
        received: u64,
        window: u32,
    },

    /// 409 `part-conflict`: stored bytes sent again with other content, or
    /// a range that cuts through stored pieces. The text says which.
    #[error("{0}")]
    PartConflict(String),

    /// 429 `too-many-requests` (with `Retry-After: 1`): the session or
    /// the account has as many part requests in flight as it may; the
    /// text says which.
    #[error("{0}")]
    TooManyRequests(String),

    /// 408 `body-too-slow`: a part's bytes arrived slower than the
    /// minimum rate; what arrived was kept where the store allows it.
    #[error("{0}")]
    BodyTooSlow(String),

    /// 460 `checksum-mismatch`: the bytes do not match the digest the
    /// client announced; nothing was stored.
    #[error("{0}")]
    ChecksumMismatch(String),

    /// 409 `mismatching-upload-offset` (tus, the IETF draft): bytes sent
    /// for another offset than where the upload stands.
    #[error("the upload stands at byte {expected}, not {sent}: send from byte {expected}")]
    OffsetMismatch { expected: u64, sent: u64 },

    /// 400 `completed-upload` (the IETF draft): bytes for an upload that
    /// is complete.
    #[error("the upload is complete and takes no more bytes")]
    UploadCompleted,

    /// 400 `inconsistent-upload-length` (the IETF draft): lengths that
    /// disagree; the text says which.
    #[error("{0}")]
    InconsistentLength(String),

    /// 412 `unsupported-version`: a protocol version not served; the text
    /// names the one that is.
    #[error("{0}")]
    PreconditionFailed(String),

    /// 410 `session-completed`: the upload completed and its grace for
    /// replays is over; its URL takes no more bytes. The file is read
    /// with a token.
    #[error("this upload completed; its URL takes no more parts (read the file with a token)")]
    SessionCompleted,

    /// 410 `session-expired`: the upload session's time ran out.
    #[error("the upload session has expired")]
    SessionExpired,

    /// 416 `range-not-satisfiable`: a Range past the end of the file.
    #[error("the range is outside the file's {size} bytes")]
    RangeNotSatisfiable { size: u64 },

    /// Start-up only: a flag, directory, database or storage URL that
    /// cannot be used. Printed as one line; 500 if it ever reaches HTTP.
    #[error("{0}")]
    Config(String),

    /// `satchel verify` found stored bytes that do not match their
    /// record: its summary line. Never an HTTP answer.
    #[error("{0}")]
    Verify(String),

    /// 500 `internal`: the database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),

    /// 500 `internal`: applying migrations failed.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// 500 `internal`: the local blob directory failed.
    #[error("blob store: {0}")]
    Io(#[from] std::io::Error),

    /// 500 `internal`: the object store failed.
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
}

/// The `detail` of a CRM validation answer: its first problem, and how
/// many more there are.
fn crm_summary(items: &[(String, Vec<FieldError>)]) -> String {
    let mut all = items.iter().flat_map(|(_, errors)| errors);
    let count = all.clone().count();
    match all.next() {
        None => "the request is invalid".to_owned(),
        Some(first) => {
            let place =
                if first.path.is_empty() { String::new() } else { format!("{}: ", first.path) };
            match count {
                1 => format!("{place}{}", first.detail),
                n => format!("{place}{} (and {} more problems)", first.detail, n - 1),
            }
        }
    }
}

impl Error {
    /// A CRM validation answer for one item (request_id "0").
    pub fn crm(errors: Vec<FieldError>) -> Self {
        Error::CrmValidation(vec![("0".to_owned(), errors)])
    }

    pub fn validation(detail: impl Into<String>) -> Self {
        Error::Validation(detail.into())
    }

    /// True for errors whose details must stay in the log.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            Error::Config(_)
                | Error::Verify(_)
                | Error::Database(_)
                | Error::Migrate(_)
                | Error::Io(_)
                | Error::ObjectStore(_)
        )
    }
}
