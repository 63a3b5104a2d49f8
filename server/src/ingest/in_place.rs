//! Claims on byte ranges of sessions written in place
//! (`PartLayout::SessionBlob`, the local disk).
//!
//! A session's pieces share one blob, each at its file offset, so two
//! writes must never touch one range at once: a piece that lost a race
//! would overwrite bytes another request is about to record. Before it
//! writes, a request claims its range; a request whose range overlaps a
//! claim waits for it to end and then plans again (the bytes are usually
//! recorded by then, and it is answered as a replay). A recorded range is
//! never claimed again: the plan only stores where nothing is recorded.
//!
//! Claims live in this process only, which is enough: the local store
//! belongs to one process (it locks its directory).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::sync::Semaphore;

/// One claimed range; the semaphore is closed when the claim ends, which
/// wakes every waiter for good (no wake-up can be missed).
struct Claim {
    start: u64,
    end: u64,
    ended: Arc<Semaphore>,
}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    (a.0 < b.1 && b.0 < a.1) || a.0 == b.0
}

/// The ranges being written, by session.
#[derive(Default)]
pub struct Claims {
    by_session: Mutex<HashMap<i64, Vec<Claim>>>,
    /// How many claims have ended, ever: a plan made before a claim stays
    /// good if no claim ended meanwhile (none could have recorded bytes).
    ended: std::sync::atomic::AtomicU64,
}

/// A range held for writing; released when dropped.
pub struct ClaimGuard {
    claims: Arc<Claims>,
    session_id: i64,
    start: u64,
}

impl Claims {
    /// Claims `start..end` of the session, waiting while an overlapping
    /// claim is held. `Err` carries nothing: the caller waited and must
    /// plan again, since the other claim may have recorded those bytes.
    pub async fn claim(
        self: &Arc<Self>,
        session_id: i64,
        start: u64,
        end: u64,
    ) -> Result<ClaimGuard, Waited> {
        let busy = {
            let mut map = self.by_session.lock().expect("never poisoned");
            let claims = map.entry(session_id).or_default();
            match claims.iter().find(|c| overlaps((c.start, c.end), (start, end))) {
                Some(other) => other.ended.clone(),
                None => {
                    claims.push(Claim { start, end, ended: Arc::new(Semaphore::new(0)) });
                    return Ok(ClaimGuard { claims: self.clone(), session_id, start });
                }
            }
        };
        // Fails (closed) once the other claim ends.
        let _ = busy.acquire().await;
        Err(Waited)
    }

    /// A mark to tell later whether any claim ended since (`ended_since`).
    pub fn mark(&self) -> u64 {
        self.ended.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether a claim ended since `mark`.
    pub fn ended_since(&self, mark: u64) -> bool {
        self.mark() != mark
    }

    /// Sessions with claims held (for tests: none once uploads are done).
    pub fn sessions_claimed(&self) -> usize {
        self.by_session.lock().expect("never poisoned").len()
    }
}

/// The caller waited for another claim on its range to end.
#[derive(Debug)]
pub struct Waited;

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        let mut map = self.claims.by_session.lock().expect("never poisoned");
        if let Some(claims) = map.get_mut(&self.session_id) {
            if let Some(i) = claims.iter().position(|c| c.start == self.start) {
                claims.swap_remove(i).ended.close();
            }
            self.claims.ended.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if claims.is_empty() {
                map.remove(&self.session_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn an_overlapping_claim_waits_until_the_first_ends() {
        let claims = Arc::new(Claims::default());
        let first = claims.claim(1, 0, 100).await.unwrap();
        // Another session and a disjoint range are free at once.
        let _other = claims.claim(2, 0, 100).await.unwrap();
        let _disjoint = claims.claim(1, 100, 200).await.unwrap();
        let waiter = tokio::spawn({
            let claims = claims.clone();
            async move { claims.claim(1, 50, 60).await.is_err() }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "waits while the claim is held");
        drop(first);
        assert!(waiter.await.unwrap(), "woken once the claim ended, to plan again");
        let again = claims.claim(1, 50, 60).await;
        assert!(again.is_ok(), "the range is free now");
    }

    #[tokio::test]
    async fn empty_ranges_at_one_offset_conflict_and_claims_clean_up() {
        let claims = Arc::new(Claims::default());
        let a = claims.claim(7, 0, 0).await.unwrap();
        let b = tokio::spawn({
            let claims = claims.clone();
            async move { claims.claim(7, 0, 0).await.is_err() }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(a);
        assert!(b.await.unwrap());
        assert_eq!(claims.sessions_claimed(), 0);
    }
}
