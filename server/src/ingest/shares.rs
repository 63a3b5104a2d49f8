//! Fair shares of the part requests one process takes at once: no session
//! may have more requests in flight than its window, and no account more
//! than its share, so one client cannot hold every body slot while the
//! others wait. Counted in this process; each node keeps its own.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

/// Requests in flight, by session and by account.
#[derive(Default)]
pub struct Shares {
    sessions: Mutex<HashMap<i64, u32>>,
    accounts: Mutex<HashMap<i64, u32>>,
}

/// One request's share; given back when dropped.
pub struct Share {
    shares: Arc<Shares>,
    session_id: i64,
    account_id: i64,
}

/// Why a request got no share: the session's or the account's is taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Busy {
    Session { limit: u32 },
    Account { limit: u32 },
}

impl Shares {
    /// A share for one more request of `session_id` (of `account_id`), if
    /// the session has fewer than `per_session` and the account fewer than
    /// `per_account` in flight.
    pub fn take(
        self: &Arc<Self>,
        session_id: i64,
        account_id: i64,
        per_session: u32,
        per_account: u32,
    ) -> Result<Share, Busy> {
        let mut sessions = self.sessions.lock().expect("never poisoned");
        let mut accounts = self.accounts.lock().expect("never poisoned");
        if sessions.get(&session_id).is_some_and(|n| *n >= per_session) {
            return Err(Busy::Session { limit: per_session });
        }
        if accounts.get(&account_id).is_some_and(|n| *n >= per_account) {
            return Err(Busy::Account { limit: per_account });
        }
        *sessions.entry(session_id).or_default() += 1;
        *accounts.entry(account_id).or_default() += 1;
        Ok(Share { shares: self.clone(), session_id, account_id })
    }

    /// Requests in flight of one account (for tests).
    pub fn of_account(&self, account_id: i64) -> u32 {
        self.accounts.lock().expect("never poisoned").get(&account_id).copied().unwrap_or(0)
    }
}

fn give_back(map: &Mutex<HashMap<i64, u32>>, key: i64) {
    let mut map = map.lock().expect("never poisoned");
    if let Some(count) = map.get_mut(&key) {
        *count -= 1;
        if *count == 0 {
            map.remove(&key);
        }
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        give_back(&self.shares.sessions, self.session_id);
        give_back(&self.shares.accounts, self.account_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_and_accounts_get_their_share_and_no_more() {
        let shares = Arc::new(Shares::default());
        let a = shares.take(1, 10, 2, 3).unwrap();
        let _b = shares.take(1, 10, 2, 3).unwrap();
        assert_eq!(shares.take(1, 10, 2, 3).err(), Some(Busy::Session { limit: 2 }));
        let _c = shares.take(2, 10, 2, 3).unwrap();
        assert_eq!(shares.take(3, 10, 2, 3).err(), Some(Busy::Account { limit: 3 }));
        // Another account is not held up.
        let _d = shares.take(4, 20, 2, 3).unwrap();
        drop(a);
        assert!(shares.take(1, 10, 2, 3).is_ok(), "a share given back is free again");
        assert_eq!(shares.of_account(10), 2, "the share taken just now was given back");
        drop((_b, _c, _d));
        let empty = shares.sessions.lock().unwrap().is_empty()
            && shares.accounts.lock().unwrap().is_empty();
        assert!(empty, "once all is given back, refused requests left no count behind");
    }
}
