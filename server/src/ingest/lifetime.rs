//! How long a session's URLs stay a capability. An upload URL (and every
//! part URL) carries its credential, so it must stop granting anything
//! once the upload is over: while the session is open it takes bytes;
//! once it completed it answers only an identical replay (a client that
//! lost the answer to its last part sends it again) for `REPLAY_GRACE_SECS`,
//! and its resume point says `completed` with the file's uuid, nothing
//! more; when the session's time is up, nothing at all.

use crate::store::sessions::{status, SessionRecord};

/// How long after completion a part URL still answers a replay of a part
/// it stored (with the same answer as the first time).
pub const REPLAY_GRACE_SECS: i64 = 600;

/// What a session's URLs grant at some moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// Open: bytes, the resume point, cancelling.
    Open,
    /// Completed, within the grace: replays get their answer; the resume
    /// point says `completed` and the file's uuid.
    Replays,
    /// Completed, past the grace: the resume point says `completed` and
    /// the file's uuid; bytes are refused (410).
    Completed,
    /// The session's time ran out, or it expired unfinished: 410.
    Expired,
    /// Cancelled: as if it never was (404).
    Cancelled,
}

impl Grant {
    /// What `session`'s URLs grant at `now`.
    pub fn of(session: &SessionRecord, now: i64) -> Grant {
        grant(&session.status, session.expires_at, session.completed_at, now)
    }
}

fn grant(state: &str, expires_at: i64, completed_at: Option<i64>, now: i64) -> Grant {
    match state {
        status::CANCELLED => Grant::Cancelled,
        status::UPLOADING if now < expires_at => Grant::Open,
        status::COMPLETED => match completed_at {
            Some(at) if now < at.saturating_add(REPLAY_GRACE_SECS) => Grant::Replays,
            _ if now < expires_at => Grant::Completed,
            _ => Grant::Expired,
        },
        _ => Grant::Expired,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_session_grants_everything_until_it_expires() {
        assert_eq!(grant(status::UPLOADING, 100, None, 99), Grant::Open);
        assert_eq!(grant(status::UPLOADING, 100, None, 100), Grant::Expired);
        assert_eq!(grant(status::EXPIRED, 100, None, 50), Grant::Expired);
        assert_eq!(grant(status::CANCELLED, 100, None, 50), Grant::Cancelled);
    }

    #[test]
    fn a_completed_session_answers_replays_only_within_the_grace() {
        let done = 1_000;
        let expires = 100_000;
        assert_eq!(grant(status::COMPLETED, expires, Some(done), done), Grant::Replays);
        let last = done + REPLAY_GRACE_SECS - 1;
        assert_eq!(grant(status::COMPLETED, expires, Some(done), last), Grant::Replays);
        let after = done + REPLAY_GRACE_SECS;
        assert_eq!(grant(status::COMPLETED, expires, Some(done), after), Grant::Completed);
        assert_eq!(grant(status::COMPLETED, expires, Some(done), expires), Grant::Expired);
        // Completed before completion times were kept: long past its grace.
        assert_eq!(grant(status::COMPLETED, expires, None, done), Grant::Completed);
    }

    #[test]
    fn the_grace_outlives_the_session_it_ends() {
        // Completed a minute before the session's time was up: a replay
        // a minute later still gets its answer.
        assert_eq!(grant(status::COMPLETED, 1_060, Some(1_000), 1_120), Grant::Replays);
    }
}
