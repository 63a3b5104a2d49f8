//! Upload sessions and their parts.
//!
//! The database is what makes "a part is stored once" and "parts arrive in
//! order" hold across processes: `upload_parts` has the primary key
//! (session, part), and part *n* is inserted by one statement that also
//! requires part *n - 1* to be there and the session to be open. A racing
//! writer finds the row already there and loses. The next expected part is
//! derived (one past the highest stored), so nothing else needs updating:
//! an intermediate part costs one insert.

use sqlx::{FromRow, Row};

use super::{accounts::AccountId, Db};
use crate::{domain::file_name::extension_of, error::Result};

/// Session states as stored. Expiry is not stored until the sweeper runs:
/// an `uploading` session past `expires_at` is expired.
pub mod status {
    pub const UPLOADING: &str = "uploading";
    pub const COMPLETED: &str = "completed";
    pub const CANCELLED: &str = "cancelled";
    pub const EXPIRED: &str = "expired";
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRecord {
    pub id: i64,
    pub account_id: i64,
    pub file_name: String,
    pub file_size: i64,
    pub mime_type: String,
    pub part_size: i64,
    pub target_file_id: Option<i64>,
    pub with_preview: i64,
    pub expected_sha256: Option<String>,
    pub status: String,
    pub next_part: i64,
    pub file_id: Option<i64>,
    pub version_id: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl SessionRecord {
    /// Uploading, but past its expiry.
    pub fn is_expired_at(&self, now: i64) -> bool {
        self.status == status::EXPIRED
            || (self.status == status::UPLOADING && now >= self.expires_at)
    }
}

const SESSION_COLUMNS: &str = "s.id, s.account_id, s.file_name, s.file_size, s.mime_type, \
    s.part_size, s.target_file_id, s.with_preview, s.expected_sha256, s.status, s.file_id, \
    s.version_id, s.created_by, s.created_at, s.expires_at, \
    (select coalesce(max(p.part_number), 0) + 1 from upload_parts p where p.session_id = s.id) \
    as next_part";

/// What a new session records.
pub struct NewSession<'a> {
    pub account: AccountId,
    pub file_name: &'a str,
    pub file_size: i64,
    pub mime_type: &'a str,
    pub part_size: i64,
    pub target_file_id: Option<i64>,
    pub with_preview: bool,
    pub expected_sha256: Option<&'a str>,
    pub created_by: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PartRecord {
    pub part_number: i64,
    pub size: i64,
    pub digest_state: Vec<u8>,
    pub blob_key: String,
    /// Where the part starts inside its blob.
    pub blob_offset: i64,
}

/// A stored part, as the insert that records it sees it.
pub struct NewPart<'a> {
    pub session_id: i64,
    pub part_number: i64,
    pub size: i64,
    pub digest_state: &'a [u8],
    pub blob_key: &'a str,
    pub blob_offset: i64,
    pub now: i64,
}

/// The version a completed session creates.
pub struct Completion<'a> {
    pub file_uuid: &'a str,
    pub version_uuid: &'a str,
    pub sha256: &'a str,
    /// The account's quota, checked again inside the transaction.
    pub quota_bytes: Option<u64>,
}

/// Outcome of recording a part.
#[derive(Debug, PartialEq, Eq)]
pub enum PartOutcome {
    /// This request stored the part; for the last part, the version it
    /// created.
    Stored { version_id: Option<i64> },
    /// Another request stored this part first, or the session moved on.
    Lost,
    /// The file a new version was for is gone or trashed.
    TargetUnavailable,
    /// The new version would take the account over its quota; the
    /// account keeps `used` bytes.
    OverQuota { used: u64 },
}

impl Db {
    pub async fn create_session(&self, new: NewSession<'_>) -> Result<SessionRecord> {
        let id: i64 = sqlx::query_scalar(
            "insert into upload_sessions (account_id, file_name, file_size, mime_type, part_size, \
             target_file_id, with_preview, expected_sha256, status, \
             created_by, created_at, expires_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, 'uploading', $9, $10, $11) returning id",
        )
        .bind(new.account.0)
        .bind(new.file_name)
        .bind(new.file_size)
        .bind(new.mime_type)
        .bind(new.part_size)
        .bind(new.target_file_id)
        .bind(i64::from(new.with_preview))
        .bind(new.expected_sha256)
        .bind(new.created_by)
        .bind(new.created_at)
        .bind(new.expires_at)
        .fetch_one(self.pool())
        .await?;
        Ok(self.session(id).await?.expect("just inserted"))
    }

    pub async fn session(&self, id: i64) -> Result<Option<SessionRecord>> {
        let sql = format!("select {SESSION_COLUMNS} from upload_sessions s where s.id = $1");
        Ok(sqlx::query_as(&sql).bind(id).fetch_optional(self.pool()).await?)
    }

    /// A session with the digest state saved after part `part - 1` (the
    /// state part `part` continues from), in one round trip.
    pub async fn session_for_part(
        &self,
        id: i64,
        part: i64,
    ) -> Result<Option<(SessionRecord, Option<Vec<u8>>)>> {
        let sql = format!(
            "select {SESSION_COLUMNS}, (select q.digest_state from upload_parts q \
             where q.session_id = s.id and q.part_number = $2 - 1) as previous_state \
             from upload_sessions s where s.id = $1"
        );
        let row = sqlx::query(&sql).bind(id).bind(part).fetch_optional(self.pool()).await?;
        row.map(|row| {
            let session = SessionRecord::from_row(&row)?;
            let previous: Option<Vec<u8>> = row.try_get("previous_state")?;
            Ok((session, previous))
        })
        .transpose()
    }

    /// The account's sessions that can still receive parts.
    pub async fn open_sessions(&self, account: AccountId, now: i64) -> Result<Vec<SessionRecord>> {
        let sql = format!(
            "select {SESSION_COLUMNS} from upload_sessions s \
             where s.account_id = $1 and s.status = 'uploading' and s.expires_at > $2 order by s.id"
        );
        Ok(sqlx::query_as(&sql).bind(account.0).bind(now).fetch_all(self.pool()).await?)
    }

    pub async fn part(&self, session_id: i64, part: i64) -> Result<Option<PartRecord>> {
        Ok(sqlx::query_as(
            "select part_number, size, digest_state, blob_key, blob_offset from upload_parts \
             where session_id = $1 and part_number = $2",
        )
        .bind(session_id)
        .bind(part)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The session's highest `count` parts, highest first.
    pub async fn last_parts(&self, session_id: i64, count: i64) -> Result<Vec<PartRecord>> {
        Ok(sqlx::query_as(
            "select part_number, size, digest_state, blob_key, blob_offset from upload_parts \
             where session_id = $1 order by part_number desc limit $2",
        )
        .bind(session_id)
        .bind(count)
        .fetch_all(self.pool())
        .await?)
    }

    /// Every part of a session, in order.
    pub async fn parts(&self, session_id: i64) -> Result<Vec<PartRecord>> {
        Ok(sqlx::query_as(
            "select part_number, size, digest_state, blob_key, blob_offset from upload_parts \
             where session_id = $1 order by part_number",
        )
        .bind(session_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Records a part whose bytes are already durable in the blob store,
    /// and for the last part creates the file or version in the same
    /// transaction.
    pub async fn record_part(
        &self,
        session: &SessionRecord,
        part: NewPart<'_>,
        completion: Option<Completion<'_>>,
    ) -> Result<PartOutcome> {
        // One statement decides: the session is open, the previous part is
        // stored, and this part is not (the primary key).
        let insert = sqlx::query(
            "insert into upload_parts \
             (session_id, part_number, size, digest_state, blob_key, blob_offset, created_at) \
             select $1, $2, $3, $4, $5, $6, $7 \
             where exists (select 1 from upload_sessions \
                           where id = $1 and status = 'uploading' and expires_at > $7) \
               and ($2 = 1 or exists (select 1 from upload_parts \
                                      where session_id = $1 and part_number = $2 - 1)) \
             on conflict (session_id, part_number) do nothing",
        )
        .bind(part.session_id)
        .bind(part.part_number)
        .bind(part.size)
        .bind(part.digest_state)
        .bind(part.blob_key)
        .bind(part.blob_offset)
        .bind(part.now);
        let Some(done) = completion else {
            let inserted = insert.execute(self.pool()).await?.rows_affected();
            return Ok(if inserted == 1 {
                PartOutcome::Stored { version_id: None }
            } else {
                PartOutcome::Lost
            });
        };
        let mut tx = self.pool().begin().await?;
        if let Some(quota) = done.quota_bytes {
            // Takes the account's row lock first, so completions of one
            // account are checked one after another on every database.
            sqlx::query("update accounts set id = id where id = $1")
                .bind(session.account_id)
                .execute(&mut *tx)
                .await?;
            let used = super::trash::used_bytes(&mut *tx, session.account_id).await?;
            if used.saturating_add(session.file_size as u64) > quota {
                tx.rollback().await?;
                return Ok(PartOutcome::OverQuota { used });
            }
        }
        if insert.execute(&mut *tx).await?.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(PartOutcome::Lost);
        }
        let file_id = match session.target_file_id {
            Some(file_id) => {
                let live: Option<i64> = sqlx::query_scalar(
                    "select id from files where id = $1 and account_id = $2 and deleted_at is null",
                )
                .bind(file_id)
                .bind(session.account_id)
                .fetch_optional(&mut *tx)
                .await?;
                if live.is_none() {
                    tx.rollback().await?;
                    return Ok(PartOutcome::TargetUnavailable);
                }
                file_id
            }
            None => sqlx::query_scalar(
                "insert into files (uuid, account_id, name, extension, created_at, updated_at, \
                     created_by, updated_by) values ($1, $2, $3, $6, $4, $4, $5, $5) returning id",
            )
            .bind(done.file_uuid)
            .bind(session.account_id)
            .bind(&session.file_name)
            .bind(part.now)
            .bind(session.created_by)
            .bind(extension_of(&session.file_name))
            .fetch_one(&mut *tx)
            .await?,
        };
        let version_id: i64 = sqlx::query_scalar(
            "insert into file_versions (uuid, file_id, account_id, name, size, mime_type, sha256, \
             part_size, session_id, created_at, created_by) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id",
        )
        .bind(done.version_uuid)
        .bind(file_id)
        .bind(session.account_id)
        .bind(&session.file_name)
        .bind(session.file_size)
        .bind(&session.mime_type)
        .bind(done.sha256)
        .bind(session.part_size)
        .bind(session.id)
        .bind(part.now)
        .bind(session.created_by)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "update files set active_version_id = $1, size = $5, updated_at = $2, updated_by = $3 \
             where id = $4",
        )
        .bind(version_id)
        .bind(part.now)
        .bind(session.created_by)
        .bind(file_id)
        .bind(session.file_size)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "update upload_sessions set status = 'completed', file_id = $1, version_id = $2 where id = $3",
        )
        .bind(file_id)
        .bind(version_id)
        .bind(session.id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(PartOutcome::Stored { version_id: Some(version_id) })
    }

    /// Marks an open session cancelled. False when it was not open.
    pub async fn cancel_session(&self, session_id: i64) -> Result<bool> {
        let changed = sqlx::query(
            "update upload_sessions set status = 'cancelled' where id = $1 and status = 'uploading'",
        )
        .bind(session_id)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    /// Marks every open session whose time ran out as expired.
    pub async fn expire_sessions(&self, now: i64) -> Result<u64> {
        Ok(sqlx::query(
            "update upload_sessions set status = 'expired' \
             where status = 'uploading' and expires_at <= $1",
        )
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    /// Parts of cancelled or expired sessions, whose bytes are to go.
    /// The sweeper deletes each blob, then its row, so a crash in between
    /// only repeats an idempotent delete.
    pub async fn dead_parts(&self, limit: i64) -> Result<Vec<(i64, i64, String)>> {
        Ok(sqlx::query_as(
            "select p.session_id, p.part_number, p.blob_key from upload_parts p \
             join upload_sessions s on s.id = p.session_id \
             where s.status in ('cancelled', 'expired') limit $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn forget_part(&self, session_id: i64, part: i64) -> Result<()> {
        sqlx::query("delete from upload_parts where session_id = $1 and part_number = $2")
            .bind(session_id)
            .bind(part)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
