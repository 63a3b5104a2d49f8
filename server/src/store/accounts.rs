//! Accounts: the unit of isolation. Every file, session and entity belongs
//! to exactly one, and no query crosses them.

use super::{now_unix, Db};
use crate::error::Result;

/// An account's database id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AccountId(pub i64);

/// An account as stored. Accounts are created once and never changed, so
/// their creation time is also their last change.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRecord {
    pub id: i64,
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
}

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

    /// The account with this id, if it exists.
    pub async fn account(&self, id: AccountId) -> Result<Option<AccountRecord>> {
        Ok(sqlx::query_as("select id, name, created_at from accounts where id = $1")
            .bind(id.0)
            .fetch_optional(self.pool())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::AccountId;
    use crate::testing::{Backend, TestDb};

    async fn an_account_reads_back_as_created(backend: Backend) {
        let t = TestDb::new(backend).await;
        let before = crate::store::now_unix();
        let acme = t.db.ensure_account("acme").await.unwrap();
        let record = t.db.account(acme).await.unwrap().expect("stored");
        assert_eq!((record.id, record.name.as_str()), (acme.0, "acme"));
        assert!(record.created_at >= before && record.created_at <= crate::store::now_unix());
        assert_eq!(t.db.account(AccountId(acme.0 + 1000)).await.unwrap(), None);
        t.cleanup().await;
    }

    #[tokio::test]
    async fn sqlite_an_account_reads_back_as_created() {
        an_account_reads_back_as_created(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres_an_account_reads_back_as_created() {
        an_account_reads_back_as_created(Backend::Postgres).await;
    }
}
