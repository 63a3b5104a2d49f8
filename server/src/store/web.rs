//! Signing in to the pages: one-time sign-in links and browser sessions.
//! Only hashes of their secrets are stored, as for API tokens.

use super::{accounts::AccountId, Db};
use crate::{
    domain::{TokenHash, TokenSecret},
    error::Result,
};

/// A signed-in browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSession {
    pub account: AccountId,
    pub account_name: String,
    /// What the pages' state-changing requests must send back.
    pub csrf: String,
    pub expires_at: i64,
    /// Whether it may move files to the trash (`files_delete`).
    pub may_delete: bool,
}

impl Db {
    /// A fresh one-time sign-in secret for the account, valid until
    /// `expires_at`; its session may delete files when `may_delete`.
    pub async fn create_login_link(
        &self,
        account: AccountId,
        expires_at: i64,
        may_delete: bool,
    ) -> Result<TokenSecret> {
        let secret = TokenSecret::generate();
        sqlx::query(
            "insert into login_links (token_hash, account_id, expires_at, may_delete) \
             values ($1, $2, $3, $4)",
        )
        .bind(secret.hash().as_str())
        .bind(account.0)
        .bind(expires_at)
        .bind(i64::from(may_delete))
        .execute(self.pool())
        .await?;
        Ok(secret)
    }

    /// Uses a sign-in secret: the account and whether it may delete,
    /// once, while it is valid.
    pub async fn use_login_link(
        &self,
        presented: &str,
        now: i64,
    ) -> Result<Option<(AccountId, bool)>> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "update login_links set used_at = $2 where token_hash = $1 and used_at is null \
             and expires_at > $2 returning account_id, may_delete",
        )
        .bind(TokenHash::of(presented).as_str())
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(account, may_delete)| (AccountId(account), may_delete != 0)))
    }

    /// Opens a browser session; returns the cookie's secret.
    pub async fn create_web_session(
        &self,
        account: AccountId,
        may_delete: bool,
        now: i64,
        expires_at: i64,
    ) -> Result<TokenSecret> {
        let secret = TokenSecret::generate();
        let csrf = TokenSecret::generate();
        sqlx::query(
            "insert into web_sessions \
             (token_hash, account_id, csrf_token, created_at, expires_at, may_delete) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(secret.hash().as_str())
        .bind(account.0)
        .bind(csrf.expose())
        .bind(now)
        .bind(expires_at)
        .bind(i64::from(may_delete))
        .execute(self.pool())
        .await?;
        Ok(secret)
    }

    /// The session a cookie's secret names, while it is valid.
    pub async fn web_session(&self, presented: &str, now: i64) -> Result<Option<WebSession>> {
        let row: Option<(i64, String, String, i64, i64)> = sqlx::query_as(
            "select s.account_id, a.name, s.csrf_token, s.expires_at, s.may_delete \
             from web_sessions s \
             join accounts a on a.id = s.account_id where s.token_hash = $1 and s.expires_at > $2",
        )
        .bind(TokenHash::of(presented).as_str())
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|(account, account_name, csrf, expires_at, may_delete)| WebSession {
            account: AccountId(account),
            account_name,
            csrf,
            expires_at,
            may_delete: may_delete != 0,
        }))
    }

    pub async fn end_web_session(&self, presented: &str) -> Result<()> {
        sqlx::query("delete from web_sessions where token_hash = $1")
            .bind(TokenHash::of(presented).as_str())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Deletes expired sessions and sign-in links; returns how many.
    pub async fn remove_expired_sign_ins(&self, now: i64) -> Result<u64> {
        let sessions = sqlx::query("delete from web_sessions where expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?
            .rows_affected();
        let links = sqlx::query("delete from login_links where expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(sessions + links)
    }

    /// True exactly once per database, for the first start of any node:
    /// the one that prints the first sign-in link.
    pub async fn claim_first_start(&self) -> Result<bool> {
        let claimed = sqlx::query(
            "insert into server_secrets (name, value) values ('first-start', 'done') \
             on conflict (name) do nothing",
        )
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(claimed == 1)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{Backend, TestDb};

    async fn links_work_once_and_sessions_until_they_expire(backend: Backend) {
        let t = TestDb::new(backend).await;
        let acme = t.db.ensure_account("acme").await.unwrap();
        let link = t.db.create_login_link(acme, 1_000, true).await.unwrap();
        assert_eq!(t.db.use_login_link("sat_forged", 10).await.unwrap(), None);
        assert_eq!(t.db.use_login_link(link.expose(), 10).await.unwrap(), Some((acme, true)));
        assert_eq!(t.db.use_login_link(link.expose(), 11).await.unwrap(), None, "used once");
        let reader = t.db.create_login_link(acme, 1_000, false).await.unwrap();
        assert_eq!(t.db.use_login_link(reader.expose(), 10).await.unwrap(), Some((acme, false)));
        let late = t.db.create_login_link(acme, 1_000, true).await.unwrap();
        assert_eq!(t.db.use_login_link(late.expose(), 1_000).await.unwrap(), None, "expired");

        let cookie = t.db.create_web_session(acme, true, 10, 500).await.unwrap();
        let session = t.db.web_session(cookie.expose(), 20).await.unwrap().unwrap();
        assert_eq!((session.account, session.account_name.as_str()), (acme, "acme"));
        assert!(session.may_delete);
        let reading = t.db.create_web_session(acme, false, 10, 500).await.unwrap();
        let read_only = t.db.web_session(reading.expose(), 20).await.unwrap().unwrap();
        assert!(!read_only.may_delete, "a --no-delete session stays one");
        assert!(session.csrf.len() > 40);
        assert_eq!(t.db.web_session(cookie.expose(), 500).await.unwrap(), None, "expired");
        let stored: String = sqlx::query_scalar("select token_hash from web_sessions")
            .fetch_one(t.db.pool())
            .await
            .unwrap();
        assert_ne!(stored, cookie.expose(), "only the hash is kept");
        t.db.end_web_session(cookie.expose()).await.unwrap();
        assert_eq!(t.db.web_session(cookie.expose(), 20).await.unwrap(), None, "signed out");

        assert!(t.db.claim_first_start().await.unwrap());
        assert!(!t.db.claim_first_start().await.unwrap(), "once per database");
        let _ = t.db.create_web_session(acme, true, 10, 500).await.unwrap();
        // Three links (two used, one never) and two sessions, all expired by 2000.
        assert_eq!(t.db.remove_expired_sign_ins(2_000).await.unwrap(), 5);
        t.cleanup().await;
    }

    #[tokio::test]
    async fn sqlite_links_work_once_and_sessions_until_they_expire() {
        links_work_once_and_sessions_until_they_expire(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres_links_work_once_and_sessions_until_they_expire() {
        links_work_once_and_sessions_until_they_expire(Backend::Postgres).await;
    }
}
