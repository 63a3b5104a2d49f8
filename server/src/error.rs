//! Satchel's one error type. Each variant's doc says which HTTP status and
//! problem `type` slug it becomes; `http::problem` turns it into an
//! `application/problem+json` answer and logs internal details, which
//! never reach the client.

use crate::domain::Scope;

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

    /// 404 `not-found`: the thing does not exist, or belongs to another
    /// account (which must look exactly the same).
    #[error("{0} not found")]
    NotFound(&'static str),

    /// 400 `validation`: the request is malformed; the text says what.
    #[error("{0}")]
    Validation(String),

    /// Start-up only: a flag, directory, database or storage URL that
    /// cannot be used. Printed as one line; 500 if it ever reaches HTTP.
    #[error("{0}")]
    Config(String),

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

impl Error {
    pub fn validation(detail: impl Into<String>) -> Self {
        Error::Validation(detail.into())
    }

    /// True for errors whose details must stay in the log.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            Error::Config(_)
                | Error::Database(_)
                | Error::Migrate(_)
                | Error::Io(_)
                | Error::ObjectStore(_)
        )
    }
}
