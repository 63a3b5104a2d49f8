//! Accounts: the unit of isolation. Every file, session and entity belongs
//! to exactly one, and no query crosses them.

use super::{now_unix, Db};
use crate::error::Result;

/// An account's database id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AccountId(pub i64);

impl Db {
    /// The id of the account with this name, creating it if new.
    pub async fn ensure_account(&self, name: &str) -> Result<AccountId> {
        // "on conflict do nothing" then select keeps this correct when two
        // processes create the same account at once.
        sqlx::query(
            "insert into accounts (name, created_at) values ($1, $2) on conflict (name) do nothing",
        )
        .bind(name)
        .bind(now_unix())
        .execute(self.pool())
        .await?;
        let id: i64 = sqlx::query_scalar("select id from accounts where name = $1")
            .bind(name)
            .fetch_one(self.pool())
            .await?;
        Ok(AccountId(id))
    }
}
