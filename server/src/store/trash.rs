//! The trash: batch delete and restore, all or nothing, the purge, and
//! the account's usage. Trashing only stamps `deleted_at`; the bytes stay
//! until the purge removes the file for good. A file trashed before the
//! purge cutoff is already gone as far as restore is concerned, so the
//! purge can delete its bytes first and its rows after without a restore
//! slipping in between.

use super::{accounts::AccountId, Db};
use crate::error::Result;

/// An account's usage, in bytes of every stored version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Files outside the trash.
    pub used_bytes: u64,
    pub trashed_bytes: u64,
    /// Files outside the trash.
    pub file_count: u64,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restore {
    /// The files' ids, all of them out of the trash.
    Restored(Vec<i64>),
    /// Nothing moved: the account has no such file (never uploaded, or
    /// purged).
    Unknown(String),
    /// Nothing moved: the files' `size` bytes would take the account,
    /// which keeps `used`, over its quota.
    OverQuota { used: u64, size: u64, quota: u64 },
}

/// Bytes of every version of the account's files outside the trash: what
/// the quota counts, here and inside the completion transaction.
pub(super) async fn used_bytes<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    account: i64,
) -> Result<u64> {
    let used: i64 = sqlx::query_scalar(
        "select cast(coalesce(sum(v.size), 0) as bigint) from file_versions v \
         join files f on f.id = v.file_id where f.account_id = $1 and f.deleted_at is null",
    )
    .bind(account)
    .fetch_one(executor)
    .await?;
    Ok(used as u64)
}

/// Store-wide figures for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gauges {
    pub open_sessions: u64,
    pub open_session_bytes: u64,
    pub trashed_files: u64,
    pub trashed_bytes: u64,
}

impl Db {
    /// Moves the account's files with these uuids to the trash, or none of
    /// them: `Err(uuid)` names the first uuid the account has no file for.
    /// Files already in the trash keep their first `deleted_at`.
    pub async fn trash_files(
        &self,
        account: AccountId,
        uuids: &[String],
        by: i64,
        now: i64,
    ) -> Result<std::result::Result<(), String>> {
        // Each statement writes, so on SQLite the transaction holds the
        // write lock from the start (see `crm::still_usable`).
        let mut tx = self.pool().begin().await?;
        for uuid in uuids {
            let id: Option<i64> = sqlx::query_scalar(
                "update files set deleted_by = case when deleted_at is null then $3 else deleted_by end, \
                 deleted_at = coalesce(deleted_at, $4) \
                 where account_id = $1 and uuid = $2 returning id",
            )
            .bind(account.0)
            .bind(uuid)
            .bind(by)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if id.is_none() {
                tx.rollback().await?;
                return Ok(Err(uuid.clone()));
            }
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Takes the account's files with these uuids out of the trash, or
    /// none of them. Files trashed at or before `cutoff` are due for the
    /// purge and count as gone. With a quota, the restored files must fit
    /// in it beside the account's other files; the check runs under the
    /// account's row lock, like an upload's completion.
    pub async fn restore_files(
        &self,
        account: AccountId,
        uuids: &[String],
        cutoff: i64,
        quota: Option<u64>,
    ) -> Result<Restore> {
        let mut tx = self.pool().begin().await?;
        let used_before = match quota {
            Some(_) => {
                sqlx::query("update accounts set id = id where id = $1")
                    .bind(account.0)
                    .execute(&mut *tx)
                    .await?;
                used_bytes(&mut *tx, account.0).await?
            }
            None => 0,
        };
        let mut ids = Vec::with_capacity(uuids.len());
        for uuid in uuids {
            let id: Option<i64> = sqlx::query_scalar(
                "update files set deleted_at = null, deleted_by = null \
                 where account_id = $1 and uuid = $2 and (deleted_at is null or deleted_at > $3) \
                 returning id",
            )
            .bind(account.0)
            .bind(uuid)
            .bind(cutoff)
            .fetch_optional(&mut *tx)
            .await?;
            match id {
                Some(id) => ids.push(id),
                None => {
                    tx.rollback().await?;
                    return Ok(Restore::Unknown(uuid.clone()));
                }
            }
        }
        if let Some(quota) = quota {
            let used_after = used_bytes(&mut *tx, account.0).await?;
            if used_after > quota && used_after > used_before {
                tx.rollback().await?;
                return Ok(Restore::OverQuota {
                    used: used_before,
                    size: used_after - used_before,
                    quota,
                });
            }
        }
        tx.commit().await?;
        Ok(Restore::Restored(ids))
    }

    /// Files trashed at or before `cutoff`, due for the purge.
    pub async fn files_to_purge(&self, cutoff: i64, limit: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar(
            "select id from files where deleted_at is not null and deleted_at <= $1 \
             order by id limit $2",
        )
        .bind(cutoff)
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// What `/metrics` reports of the whole store at scrape time: upload
    /// sessions still open (and the bytes they declared), files in the
    /// trash (and the bytes of their versions).
    pub async fn gauges(&self, now: i64) -> Result<Gauges> {
        let (open, declared): (i64, i64) = sqlx::query_as(
            "select cast(count(*) as bigint), cast(coalesce(sum(file_size), 0) as bigint) \
             from upload_sessions where status = 'uploading' and expires_at > $1",
        )
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        let (trashed, trashed_bytes): (i64, i64) = sqlx::query_as(
            "select cast(count(distinct f.id) as bigint), cast(coalesce(sum(v.size), 0) as bigint) \
             from files f left join file_versions v on v.file_id = f.id \
             where f.deleted_at is not null",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(Gauges {
            open_sessions: open as u64,
            open_session_bytes: declared.max(0) as u64,
            trashed_files: trashed as u64,
            trashed_bytes: trashed_bytes.max(0) as u64,
        })
    }

    /// Accounts whose trash holds more than `quota` bytes, with how much
    /// it holds.
    pub async fn trash_over(&self, quota: u64) -> Result<Vec<(i64, u64)>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "select f.account_id, cast(sum(v.size) as bigint) from files f \
             join file_versions v on v.file_id = f.id where f.deleted_at is not null \
             group by f.account_id having sum(v.size) > $1",
        )
        .bind(i64::try_from(quota).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(account, bytes)| (account, bytes as u64)).collect())
    }

    /// An account's trashed files, the longest trashed first, with the
    /// bytes of all their versions.
    pub async fn oldest_trashed(&self, account: i64, limit: i64) -> Result<Vec<(i64, u64)>> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "select f.id, cast(coalesce(sum(v.size), 0) as bigint) from files f \
             left join file_versions v on v.file_id = f.id \
             where f.account_id = $1 and f.deleted_at is not null \
             group by f.id, f.deleted_at order by f.deleted_at, f.id limit $2",
        )
        .bind(account)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(id, bytes)| (id, bytes as u64)).collect())
    }

    /// Claims a file for the purge: only while it is still trashed and
    /// due. Its `deleted_at` becomes 0, which is due at any cutoff, so a
    /// restore can no longer take it back, even from a node whose clock
    /// lags. False when a restore got there first.
    pub async fn claim_for_purge(&self, file_id: i64, cutoff: i64) -> Result<bool> {
        let claimed = sqlx::query(
            "update files set deleted_at = 0 \
             where id = $1 and deleted_at is not null and deleted_at <= $2",
        )
        .bind(file_id)
        .bind(cutoff)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(claimed == 1)
    }

    /// Every blob key a file uses: the parts of its versions and of
    /// unfinished new-version sessions, and its previews.
    pub async fn blobs_of_file(&self, file_id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "select distinct p.blob_key from upload_pieces p \
               join file_versions v on v.session_id = p.session_id where v.file_id = $1 \
             union \
             select distinct p.blob_key from upload_pieces p \
               join upload_sessions s on s.id = p.session_id where s.target_file_id = $1 \
             union \
             select distinct r.blob_key from file_previews r \
               join file_versions v on v.id = r.version_id where v.file_id = $1",
        )
        .bind(file_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Every blob a row names: upload pieces (of files and of sessions
    /// still open) and previews.
    pub async fn referenced_blobs(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "select blob_key from upload_pieces union select blob_key from file_previews",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// Deletes a purged file's rows: the sessions that uploaded its
    /// versions (with their parts), then the file (its versions, previews
    /// and pending new-version sessions follow by cascade).
    pub async fn forget_file(&self, file_id: i64) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "delete from upload_sessions where id in \
             (select session_id from file_versions where file_id = $1)",
        )
        .bind(file_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("delete from files where id = $1").bind(file_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// What the account keeps, in and out of the trash.
    pub async fn usage(&self, account: AccountId) -> Result<Usage> {
        let (trashed, count): (i64, i64) = sqlx::query_as(
            "select \
               cast(coalesce(sum(case when f.deleted_at is null then 0 else v.size end), 0) as bigint), \
               cast((select count(*) from files g \
                     where g.account_id = $1 and g.deleted_at is null) as bigint) \
             from files f join file_versions v on v.file_id = f.id where f.account_id = $1",
        )
        .bind(account.0)
        .fetch_one(self.pool())
        .await?;
        Ok(Usage {
            used_bytes: used_bytes(self.pool(), account.0).await?,
            trashed_bytes: trashed as u64,
            file_count: count as u64,
        })
    }
}
