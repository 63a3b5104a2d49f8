//! Background work: expiring upload sessions and freeing their parts,
//! deleting blobs closed sessions left that no row names, and purging
//! files that have been in the trash longer than `--trash-ttl`.
//!
//! Safe on several nodes at once and after a crash: expiry is one
//! conditional update, and blobs are deleted before the rows that name
//! them, so whatever a crash interrupts is found and finished by the next
//! sweep (deleting a blob twice is allowed by the blob contract). A file
//! past the purge cutoff can no longer be restored, so no restore races
//! the purge.

use std::time::Duration;

use crate::{blob::BlobKey, error::Result, state::AppState, store::now_unix};

/// What one sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    pub sessions_expired: u64,
    pub parts_freed: u64,
    pub files_purged: u64,
    /// Blobs of closed sessions that no piece row named, deleted.
    pub leftovers_removed: u64,
    /// Expired tokens (widget and demo tokens), sign-in links and browser
    /// sessions deleted.
    pub tokens_removed: u64,
}

/// Expires overdue sessions and frees the parts of expired and cancelled
/// ones, purges the trash; counted in `/metrics`.
pub async fn sweep(state: &AppState) -> Result<Sweep> {
    let swept = sweep_once(state).await;
    count_sweep(&swept);
    swept
}

async fn sweep_once(state: &AppState) -> Result<Sweep> {
    let sessions_expired =
        state.db.expire_sessions(now_unix()).await? + state.db.expire_partials(now_unix()).await?;
    let mut parts_freed = 0;
    loop {
        let batch = state.db.dead_pieces(500).await?;
        if batch.is_empty() {
            break;
        }
        for (session_id, start, key) in batch {
            // A write still in flight cannot record its piece any more
            // (the session is closed) and removes the blob itself.
            state.ingest.forget(session_id);
            delete_blob(state, &key).await?;
            state.db.forget_piece(session_id, start).await?;
            parts_freed += 1;
        }
    }
    let mut leftovers_removed = 0;
    loop {
        let batch = state.db.sessions_with_leftovers(100).await?;
        if batch.is_empty() {
            break;
        }
        for (session_id, completed) in batch {
            leftovers_removed +=
                crate::ingest::place::sweep_leftovers(state, session_id, completed).await?;
            state.db.leftovers_swept(session_id).await?;
        }
    }
    let mut files_purged = 0;
    loop {
        let batch = state.db.files_to_purge(purge_cutoff(state, now_unix()), 100).await?;
        if batch.is_empty() {
            break;
        }
        for file_id in batch {
            if purge(state, file_id, purge_cutoff(state, now_unix())).await? {
                files_purged += 1;
            }
        }
    }
    if let Some(quota) = state.settings.trash_quota_bytes {
        files_purged += purge_over_trash_quota(state, quota).await?;
    }
    let tokens_removed = state.db.remove_expired_tokens(now_unix()).await?
        + state.db.remove_expired_sign_ins(now_unix()).await?;
    Ok(Sweep { sessions_expired, parts_freed, files_purged, leftovers_removed, tokens_removed })
}

/// Purges a trashed file if it is still trashed at or before `cutoff`:
/// its blobs, then its rows. False when a restore got there first.
async fn purge(state: &AppState, file_id: i64, cutoff: i64) -> Result<bool> {
    if !state.db.claim_for_purge(file_id, cutoff).await? {
        return Ok(false);
    }
    for key in state.db.blobs_of_file(file_id).await? {
        delete_blob(state, &key).await?;
    }
    state.db.forget_file(file_id).await?;
    Ok(true)
}

/// Purges early the longest-trashed files of each account whose trash
/// holds more than `--trash-quota-bytes`, until it holds no more.
async fn purge_over_trash_quota(state: &AppState, quota: u64) -> Result<u64> {
    let mut purged = 0;
    for (account, mut trashed) in state.db.trash_over(quota).await? {
        while trashed > quota {
            let batch = state.db.oldest_trashed(account, 100).await?;
            if batch.is_empty() {
                break;
            }
            for (file_id, bytes) in batch {
                if trashed <= quota {
                    break;
                }
                if purge(state, file_id, i64::MAX).await? {
                    purged += 1;
                }
                trashed = trashed.saturating_sub(bytes);
            }
        }
    }
    Ok(purged)
}

/// Files trashed at or before this moment are due for the purge.
pub fn purge_cutoff(state: &AppState, now: i64) -> i64 {
    crate::domain::trash::purge_cutoff(now, state.settings.trash_ttl.as_secs() as i64)
}

/// Frees a cancelled session's parts now rather than at the next sweep.
pub async fn free_parts_of(state: &AppState, session_id: i64) -> Result<()> {
    for piece in state.db.pieces(session_id).await? {
        delete_blob(state, &piece.blob_key).await?;
        state.db.forget_piece(session_id, piece.start_offset).await?;
    }
    Ok(())
}

async fn delete_blob(state: &AppState, key: &str) -> Result<()> {
    match BlobKey::new(key) {
        Ok(key) => state.blobs.delete(&key).await,
        // A key that is not valid was never written; forget the row.
        Err(_) => Ok(()),
    }
}

/// How often the sweeper runs: often enough that an expired session's
/// parts go soon after its TTL, at most once a second, at least a minute.
pub fn sweep_period(session_ttl: Duration) -> Duration {
    (session_ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Runs `sweep` forever in the background.
/// How often the sweeper refreshes the query planner's statistics.
const STATISTICS_PERIOD: Duration = Duration::from_secs(600);

/// `/metrics`: sweeps run and failed, sessions expired, files purged.
fn count_sweep(swept: &Result<Sweep>) {
    match swept {
        Ok(s) => {
            metrics::counter!("satchel_sweeps_total", "outcome" => "ok").increment(1);
            metrics::counter!("satchel_sessions_expired_total").increment(s.sessions_expired);
            metrics::counter!("satchel_files_purged_total").increment(s.files_purged);
        }
        Err(e) => {
            metrics::counter!("satchel_sweeps_total", "outcome" => "failed").increment(1);
            crate::http::metrics::internal_error(e);
        }
    }
}

pub fn spawn_sweeper(state: AppState) -> tokio::task::JoinHandle<()> {
    crate::http::metrics::install();
    let period = sweep_period(state.settings.session_ttl.min(state.settings.trash_ttl));
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut statistics_refreshed = tokio::time::Instant::now();
        loop {
            ticker.tick().await;
            if statistics_refreshed.elapsed() >= STATISTICS_PERIOD {
                statistics_refreshed = tokio::time::Instant::now();
                if let Err(e) = state.db.refresh_statistics().await {
                    tracing::warn!(error = %e, "refreshing the planner's statistics failed");
                }
            }
            // Keys another node or `satchel keys rotate` added sign here
            // from now on.
            if let Err(e) = state.reload_keys().await {
                tracing::warn!(error = %e, "loading the signing keys failed");
            }
            match sweep(&state).await {
                Ok(s) if s != Sweep::default() => tracing::info!(
                    sessions_expired = s.sessions_expired,
                    parts_freed = s.parts_freed,
                    files_purged = s.files_purged,
                    leftovers_removed = s.leftovers_removed,
                    tokens_removed = s.tokens_removed,
                    "swept upload sessions and the trash"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sweep failed; retrying next period"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_period_follows_the_ttl_within_bounds() {
        assert_eq!(sweep_period(Duration::from_secs(2)), Duration::from_secs(1));
        assert_eq!(sweep_period(Duration::from_secs(40)), Duration::from_secs(10));
        assert_eq!(sweep_period(Duration::from_secs(86400)), Duration::from_secs(60));
    }
}
