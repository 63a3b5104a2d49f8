//! Upload sessions and the pieces of their bytes.
//!
//! The database is what makes "bytes are stored once" hold across
//! processes: a piece is recorded by one insert that refuses any overlap
//! with a recorded piece, under the session's row lock (SQLite: the write
//! lock), and (session, start) is the primary key. The whole-file digest
//! moves forward by compare-and-set on `digest_upto`, so two nodes that
//! both try to advance it agree on one result.

use super::{
    accounts::AccountId,
    shared_commit::{Hold, Write},
    Db,
};
use crate::{
    domain::{file_name::extension_of, parts::PartNumber},
    error::Result,
    ingest::rules::Piece,
};

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
    pub file_id: Option<i64>,
    pub version_id: Option<i64>,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Bytes the whole-file digest has taken in, all stored.
    pub digest_upto: i64,
    /// The digest's state after `digest_upto` bytes.
    pub digest_state: Option<Vec<u8>>,
    /// tus concatenation: `partial`, `final`, or `stitched` (a final that
    /// took its partials' pieces); `None` for every other upload.
    pub concat: Option<String>,
    /// On a partial: the final upload that claimed it.
    pub concat_final: Option<i64>,
    /// 1 while the length is not known yet (tus creation-defer-length):
    /// `file_size` is then the largest file allowed.
    pub length_deferred: i64,
    /// When it completed (unix seconds); `None` before, and on sessions
    /// that completed before this was kept.
    pub completed_at: Option<i64>,
}

/// The `concat` values.
pub mod concat {
    pub const PARTIAL: &str = "partial";
    pub const FINAL: &str = "final";
    pub const STITCHED: &str = "stitched";
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
    s.version_id, s.created_by, s.created_at, s.expires_at, s.digest_upto, s.digest_state, \
    s.concat, s.concat_final, s.length_deferred, s.completed_at";

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
    /// `concat::PARTIAL` or `concat::FINAL` for tus concatenation.
    pub concat: Option<&'a str>,
    /// The length is not known yet; `file_size` is the largest allowed.
    pub length_deferred: bool,
}

/// A stored piece as the database keeps it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PieceRecord {
    pub start_offset: i64,
    pub end_offset: i64,
    pub part_number: i64,
    pub blob_key: String,
    /// Where the piece starts inside its blob.
    pub blob_offset: i64,
}

impl PieceRecord {
    pub fn piece(&self) -> Piece {
        Piece {
            start: self.start_offset as u64,
            end: self.end_offset as u64,
            part: self.part_number as PartNumber,
        }
    }
}

/// A piece whose bytes are durable, to be recorded.
pub struct NewPiece {
    pub session_id: i64,
    pub start: i64,
    pub end: i64,
    pub part_number: i64,
    pub blob_key: String,
    pub blob_offset: i64,
    pub now: i64,
}

/// Where the whole-file digest stands: `upto` bytes hashed, and the
/// hasher's state after them (`None` before the first byte).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestCursor {
    pub upto: i64,
    pub state: Option<Vec<u8>>,
}

/// The version a completed session creates.
pub struct Completion<'a> {
    pub file_uuid: &'a str,
    pub version_uuid: &'a str,
    pub sha256: &'a str,
    /// The account's quota, checked again inside the transaction.
    pub quota_bytes: Option<u64>,
}

/// Outcome of completing a session.
#[derive(Debug, PartialEq, Eq)]
pub enum Completed {
    /// The version this completion created.
    Created { version_id: i64 },
    /// The digest moved on meanwhile, or the session stopped taking bytes.
    Lost,
    /// The file a new version was for is gone or trashed.
    TargetUnavailable,
    /// The new version would take the account over its quota; the
    /// account keeps `used` bytes.
    OverQuota { used: u64 },
}

/// What an account may hold when it opens a session.
#[derive(Clone, Copy, Debug)]
pub struct OpenLimits {
    /// Unfinished sessions at once.
    pub sessions: u64,
    /// Bytes kept in files plus bytes declared by unfinished sessions.
    pub quota: Option<u64>,
    pub now: i64,
}

/// Whether a session was opened.
#[derive(Debug)]
pub enum Opened {
    Session(Box<SessionRecord>),
    /// The account has `open` unfinished sessions, its limit.
    TooManySessions {
        open: u64,
    },
    /// The account keeps `used` bytes in files and its unfinished
    /// sessions declared `reserved` more: the new one does not fit.
    OverQuota {
        used: u64,
        reserved: u64,
    },
}

impl Db {
    /// Opens a session unless the account is at its limits: its count of
    /// unfinished sessions, and its quota counting the sizes unfinished
    /// sessions declared (tus partial uploads count; a final upload and a
    /// length not yet known reserve nothing). Checked and inserted under
    /// the account's row lock, so racing opens see each other.
    pub async fn create_session(&self, new: NewSession<'_>, limits: OpenLimits) -> Result<Opened> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await?;
        sqlx::query("update accounts set id = id where id = $1")
            .bind(new.account.0)
            .execute(&mut *tx)
            .await?;
        let (open, reserved): (i64, i64) = sqlx::query_as(
            "select cast(count(*) as bigint), cast(coalesce(sum(case \
               when length_deferred = 0 and (concat is null or concat = 'partial') \
               then file_size else 0 end), 0) as bigint) \
             from upload_sessions where account_id = $1 and status = 'uploading' \
             and expires_at > $2",
        )
        .bind(new.account.0)
        .bind(limits.now)
        .fetch_one(&mut *tx)
        .await?;
        if open as u64 >= limits.sessions {
            tx.rollback().await?;
            return Ok(Opened::TooManySessions { open: open as u64 });
        }
        if let Some(quota) = limits.quota.filter(|_| !new.length_deferred) {
            let used = super::trash::used_bytes(&mut *tx, new.account.0).await?;
            let reserved = reserved as u64;
            let wanted = match new.concat {
                Some(concat::FINAL) => 0,
                _ => new.file_size as u64,
            };
            if used.saturating_add(reserved).saturating_add(wanted) > quota {
                tx.rollback().await?;
                return Ok(Opened::OverQuota { used, reserved });
            }
        }
        let id: i64 = sqlx::query_scalar(
            "insert into upload_sessions (account_id, file_name, file_size, mime_type, part_size, \
             target_file_id, with_preview, expected_sha256, status, \
             created_by, created_at, expires_at, concat, length_deferred) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, 'uploading', $9, $10, $11, $12, $13) \
             returning id",
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
        .bind(new.concat)
        .bind(i64::from(new.length_deferred))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Opened::Session(Box::new(self.session(id).await?.expect("just inserted"))))
    }

    pub async fn session(&self, id: i64) -> Result<Option<SessionRecord>> {
        let sql = format!("select {SESSION_COLUMNS} from upload_sessions s where s.id = $1");
        Ok(sqlx::query_as(&sql).bind(id).fetch_optional(self.pool()).await?)
    }

    /// The account's sessions that can still receive parts.
    pub async fn open_sessions(&self, account: AccountId, now: i64) -> Result<Vec<SessionRecord>> {
        let sql = format!(
            "select {SESSION_COLUMNS} from upload_sessions s \
             where s.account_id = $1 and s.status = 'uploading' and s.expires_at > $2 order by s.id"
        );
        Ok(sqlx::query_as(&sql).bind(account.0).bind(now).fetch_all(self.pool()).await?)
    }

    /// The pieces a request from `start` needs to see: those that end at
    /// or after `from` (the lesser of `start` and the digest's point) and
    /// start before `until`, in order.
    ///
    /// Pieces never overlap, so of those starting before `from` only the
    /// last can reach it: the index is read from there, not from the
    /// session's first piece (a 1 GiB upload has thousands of pieces, and
    /// every part looks them up).
    pub async fn pieces_between(
        &self,
        session_id: i64,
        from: i64,
        until: i64,
    ) -> Result<Vec<PieceRecord>> {
        Ok(sqlx::query_as(&format!(
            "select {PIECE_COLUMNS} from upload_pieces where session_id = $1 \
             and start_offset >= coalesce((select max(start_offset) from upload_pieces \
                 where session_id = $1 and start_offset < $2), 0) \
             and end_offset >= $2 and start_offset <= $3 order by start_offset"
        ))
        .bind(session_id)
        .bind(from)
        .bind(until)
        .fetch_all(self.pool())
        .await?)
    }

    /// Every piece of a session, in order.
    pub async fn pieces(&self, session_id: i64) -> Result<Vec<PieceRecord>> {
        Ok(sqlx::query_as(&format!(
            "select {PIECE_COLUMNS} from upload_pieces where session_id = $1 order by start_offset"
        ))
        .bind(session_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Records a piece whose bytes are durable, keeping `hold` (the
    /// claim on its range) until the record is settled. False when the
    /// session no longer takes bytes or a recorded piece overlaps this one
    /// (another request stored those bytes first).
    pub async fn record_piece(&self, piece: NewPiece, hold: Option<Hold>) -> Result<bool> {
        self.shared_write(Write::Record(piece), hold).await
    }

    /// Moves the whole-file digest from `from` to `to`, unless another
    /// request moved it first (false).
    pub async fn advance_digest(
        &self,
        session_id: i64,
        from: &DigestCursor,
        to: &DigestCursor,
    ) -> Result<bool> {
        let write = Write::MoveDigest { session_id, from: from.clone(), to: to.clone() };
        self.shared_write(write, None).await
    }

    /// Completes a session whose every byte is stored: moves the digest
    /// from `from` to the end (`to`), and creates the file or version, in
    /// one transaction.
    pub async fn complete_session(
        &self,
        session: &SessionRecord,
        from: &DigestCursor,
        to: &DigestCursor,
        done: Completion<'_>,
        now: i64,
    ) -> Result<Completed> {
        let _turn = self.write_turn().await;
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
                return Ok(Completed::OverQuota { used });
            }
        }
        let moved = sqlx::query(
            "update upload_sessions set digest_upto = $3, digest_state = $4, status = 'completed', \
             completed_at = $5 where id = $1 and digest_upto = $2 and status = 'uploading'",
        )
        .bind(session.id)
        .bind(from.upto)
        .bind(to.upto)
        .bind(to.state.as_deref())
        .bind(super::now_unix())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved != 1 {
            tx.rollback().await?;
            return Ok(Completed::Lost);
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
                    return Ok(Completed::TargetUnavailable);
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
            .bind(now)
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
        .bind(now)
        .bind(session.created_by)
        .fetch_one(&mut *tx)
        .await?;
        // A new version becomes the active one and the file takes its
        // name, extension included, as Kommo shows a file by its active
        // version. A new file already has it: naming it again would only
        // rewrite its name index (SQLite's trigram trigger fires on any
        // update of `name`).
        let new_version = session.target_file_id.is_some();
        let set_name = if new_version { ", name = $6, extension = $7" } else { "" };
        let sql = format!(
            "update files set active_version_id = $1, size = $5, updated_at = $2, updated_by = $3\
             {set_name} where id = $4"
        );
        let mut activate = sqlx::query(&sql)
            .bind(version_id)
            .bind(now)
            .bind(session.created_by)
            .bind(file_id)
            .bind(session.file_size);
        if new_version {
            activate = activate.bind(&session.file_name).bind(extension_of(&session.file_name));
        }
        activate.execute(&mut *tx).await?;
        sqlx::query("update upload_sessions set file_id = $1, version_id = $2 where id = $3")
            .bind(file_id)
            .bind(version_id)
            .bind(session.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Completed::Created { version_id })
    }

    /// Completes a partial upload (tus concatenation): moves the digest
    /// from `from` to the end (`to`) and closes it, with no file. False
    /// when another request did first.
    pub async fn complete_partial(
        &self,
        session: &SessionRecord,
        from: &DigestCursor,
        to: &DigestCursor,
    ) -> Result<bool> {
        let _turn = self.write_turn().await;
        let moved = sqlx::query(
            "update upload_sessions set digest_upto = $3, digest_state = $4, status = 'completed', \
             completed_at = $5 \
             where id = $1 and digest_upto = $2 and status = 'uploading' and concat = 'partial'",
        )
        .bind(session.id)
        .bind(from.upto)
        .bind(to.upto)
        .bind(to.state.as_deref())
        .bind(super::now_unix())
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(moved == 1)
    }

    /// Claims `partials`, in this order, for the final upload `final_id`:
    /// all or none, and only partials of the account that no final has
    /// claimed and that may still be used (uploading before their expiry,
    /// or completed).
    pub async fn claim_partials(
        &self,
        account: AccountId,
        final_id: i64,
        partials: &[i64],
        now: i64,
    ) -> Result<bool> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await?;
        for (position, partial) in partials.iter().enumerate() {
            let claimed = sqlx::query(
                "update upload_sessions set concat_final = $1, concat_position = $2 \
                 where id = $3 and account_id = $4 and concat = 'partial' and concat_final is null \
                 and (status = 'completed' or (status = 'uploading' and expires_at > $5))",
            )
            .bind(final_id)
            .bind(position as i64)
            .bind(partial)
            .bind(account.0)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The partial uploads a final one claimed, in order.
    pub async fn partials_of(&self, final_id: i64) -> Result<Vec<SessionRecord>> {
        let sql = format!(
            "select {SESSION_COLUMNS} from upload_sessions s where s.concat_final = $1 \
             order by s.concat_position"
        );
        Ok(sqlx::query_as(&sql).bind(final_id).fetch_all(self.pool()).await?)
    }

    /// Gives the final upload `final_id` its partials' pieces, each
    /// shifted to where its partial starts in the final, once every
    /// partial is completed: one transaction, done once (the final turns
    /// `stitched`). False when a partial is not complete yet or another
    /// request stitched first.
    pub async fn stitch(&self, final_id: i64) -> Result<bool> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await?;
        let taken = sqlx::query(
            "update upload_sessions set concat = 'stitched' \
             where id = $1 and concat = 'final' and status = 'uploading'",
        )
        .bind(final_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let partials: Vec<(i64, i64, String)> = sqlx::query_as(
            "select id, file_size, status from upload_sessions where concat_final = $1 \
             order by concat_position",
        )
        .bind(final_id)
        .fetch_all(&mut *tx)
        .await?;
        if taken != 1 || partials.iter().any(|(_, _, state)| state != status::COMPLETED) {
            tx.rollback().await?;
            return Ok(false);
        }
        let mut shift = 0i64;
        for (partial, size, _) in partials {
            sqlx::query(
                "update upload_pieces set session_id = $1, start_offset = start_offset + $2, \
                 end_offset = end_offset + $2 where session_id = $3",
            )
            .bind(final_id)
            .bind(shift)
            .bind(partial)
            .execute(&mut *tx)
            .await?;
            shift += size;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Expires partial uploads nothing will use, so the sweeper frees
    /// their bytes: completed ones no final claimed before their expiry,
    /// and any whose final was cancelled or expired.
    pub async fn expire_partials(&self, now: i64) -> Result<u64> {
        Ok(sqlx::query(
            "update upload_sessions set status = 'expired' where concat = 'partial' \
             and status in ('uploading', 'completed') \
             and ((concat_final is null and status = 'completed' and expires_at <= $1) \
                  or concat_final in (select f.id from upload_sessions f \
                                      where f.status in ('cancelled', 'expired')))",
        )
        .bind(now)
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    /// Whether any piece row, of any session, names `blob_key`.
    pub async fn blob_named(&self, blob_key: &str) -> Result<bool> {
        let named: Option<i64> =
            sqlx::query_scalar("select 1 from upload_pieces where blob_key = $1 limit 1")
                .bind(blob_key)
                .fetch_optional(self.pool())
                .await?;
        Ok(named.is_some())
    }

    /// Names the length of an upload created without one: once, and not
    /// below `stored`, the bytes it holds. The whole-file digest starts
    /// over (it completes the file only when it reaches the end, and it may
    /// have passed what is now the end unknowingly). False when it was
    /// named before or the session is not open.
    pub async fn set_length(&self, session_id: i64, length: i64, stored: i64) -> Result<bool> {
        let _turn = self.write_turn().await;
        let set = sqlx::query(
            "update upload_sessions set file_size = $2, length_deferred = 0, digest_upto = 0, \
             digest_state = null \
             where id = $1 and length_deferred = 1 and status = 'uploading' and $2 >= $3",
        )
        .bind(session_id)
        .bind(length)
        .bind(stored)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(set == 1)
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

    /// Pieces of cancelled or expired sessions, whose bytes are to go.
    /// The sweeper deletes each blob, then its row, so a crash in between
    /// only repeats an idempotent delete.
    pub async fn dead_pieces(&self, limit: i64) -> Result<Vec<(i64, i64, String)>> {
        Ok(sqlx::query_as(
            "select p.session_id, p.start_offset, p.blob_key from upload_pieces p \
             join upload_sessions s on s.id = p.session_id \
             where s.status in ('cancelled', 'expired') limit $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Sessions that take no more bytes and were not yet looked over for
    /// leftover blobs, with whether they completed: completed ones at
    /// once, cancelled and expired ones once their pieces are freed.
    pub async fn sessions_with_leftovers(&self, limit: i64) -> Result<Vec<(i64, bool)>> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "select s.id, s.status from upload_sessions s where s.leftovers_swept = 0 \
             and (s.status = 'completed' or (s.status in ('cancelled', 'expired') \
                 and not exists (select 1 from upload_pieces p where p.session_id = s.id))) \
             order by s.id limit $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(id, state)| (id, state == status::COMPLETED)).collect())
    }

    /// Notes that the session was looked over for leftover blobs.
    pub async fn leftovers_swept(&self, session_id: i64) -> Result<()> {
        sqlx::query("update upload_sessions set leftovers_swept = 1 where id = $1")
            .bind(session_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Takes back the piece that ended the file after its completion was
    /// refused: moves the digest from `from` back to `to` (where the piece
    /// starts) and forgets the piece, in one transaction, only while the
    /// session is still open with its digest at `from` and the piece is the
    /// one read (`blob_key`). False when anything moved meanwhile (another
    /// node completed the session, or the piece was sent again).
    pub async fn take_back_piece(
        &self,
        session_id: i64,
        from: &DigestCursor,
        to: &DigestCursor,
        start: i64,
        blob_key: &str,
    ) -> Result<bool> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await?;
        let moved = move_digest(session_id, from, to).execute(&mut *tx).await?.rows_affected();
        let forgotten = if moved == 1 {
            sqlx::query(
                "delete from upload_pieces \
                 where session_id = $1 and start_offset = $2 and blob_key = $3",
            )
            .bind(session_id)
            .bind(start)
            .bind(blob_key)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        } else {
            0
        };
        if forgotten == 1 {
            tx.commit().await?;
            Ok(true)
        } else {
            tx.rollback().await?;
            Ok(false)
        }
    }

    pub async fn forget_piece(&self, session_id: i64, start: i64) -> Result<()> {
        sqlx::query("delete from upload_pieces where session_id = $1 and start_offset = $2")
            .bind(session_id)
            .bind(start)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

/// Moves an open session's digest from `from` to `to`, if it is still at
/// `from` (compare-and-set: one row changed, or none).
pub(super) fn move_digest<'q>(
    session_id: i64,
    from: &DigestCursor,
    to: &'q DigestCursor,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    sqlx::query(
        "update upload_sessions set digest_upto = $3, digest_state = $4 \
         where id = $1 and digest_upto = $2 and status = 'uploading'",
    )
    .bind(session_id)
    .bind(from.upto)
    .bind(to.upto)
    .bind(to.state.as_deref())
}

const PIECE_COLUMNS: &str = "start_offset, end_offset, part_number, blob_key, blob_offset";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Backend, TestDb};

    fn opening(account: AccountId, file_size: i64, now: i64) -> NewSession<'static> {
        NewSession {
            account,
            file_name: "race.bin",
            file_size,
            mime_type: "application/octet-stream",
            part_size: 65_536,
            target_file_id: None,
            with_preview: false,
            expected_sha256: None,
            created_by: 0,
            created_at: now,
            expires_at: now + 3600,
            concat: None,
            length_deferred: false,
        }
    }

    /// Opens `count` sessions of `size` bytes for `account` all at once;
    /// how many opened, and every refusal.
    async fn race(
        db: &Db,
        account: AccountId,
        count: usize,
        size: i64,
        limits: OpenLimits,
    ) -> (usize, Vec<Opened>) {
        let tasks: Vec<_> = (0..count)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.create_session(opening(account, size, limits.now), limits).await
                })
            })
            .collect();
        let mut opened = 0;
        let mut refused = Vec::new();
        for task in tasks {
            match task.await.unwrap().unwrap() {
                Opened::Session(_) => opened += 1,
                other => refused.push(other),
            }
        }
        (opened, refused)
    }

    /// Opens racing for the last bytes of a quota, or for the last of an
    /// account's sessions, see each other: exactly as many open as fit.
    async fn racing_opens_never_overrun_the_quota_or_the_session_limit(backend: Backend) {
        let t = TestDb::new(backend).await;
        let now = crate::store::now_unix();
        let tight = t.db.ensure_account("tight").await.unwrap();
        let limits = OpenLimits { sessions: 100, quota: Some(1000), now };
        let (opened, refused) = race(&t.db, tight, 12, 300, limits).await;
        assert_eq!(opened, 3, "{refused:?}");
        assert!(
            refused.iter().all(|r| matches!(r, Opened::OverQuota { used: 0, reserved: 900 })),
            "{refused:?}"
        );

        let busy = t.db.ensure_account("busy").await.unwrap();
        let limits = OpenLimits { sessions: 5, quota: None, now };
        let (opened, refused) = race(&t.db, busy, 12, 10, limits).await;
        assert_eq!(opened, 5, "{refused:?}");
        assert!(
            refused.iter().all(|r| matches!(r, Opened::TooManySessions { open: 5 })),
            "{refused:?}"
        );
        t.cleanup().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_racing_opens_never_overrun_the_quota_or_the_session_limit() {
        racing_opens_never_overrun_the_quota_or_the_session_limit(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn postgres_racing_opens_never_overrun_the_quota_or_the_session_limit() {
        racing_opens_never_overrun_the_quota_or_the_session_limit(Backend::Postgres).await;
    }
}
