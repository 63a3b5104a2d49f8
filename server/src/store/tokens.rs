//! API tokens, stored by hash with their scopes and optional expiry.

use super::{accounts::AccountId, now_unix, Db};
use crate::{
    domain::{Scopes, TokenHash, TokenSecret},
    error::{Error, Result},
};

/// What a presented token grants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grant {
    pub account: AccountId,
    pub scopes: Scopes,
    /// Who acts, shown as `created_by`: the token's own id, or for a
    /// widget token the id its issuer acts as.
    pub user: i64,
}

impl Db {
    /// Creates a token for `account` and returns its secret, which is
    /// shown once and never stored.
    pub async fn create_token(
        &self,
        account: AccountId,
        scopes: Scopes,
        expires_at: Option<i64>,
        acting_as: Option<i64>,
    ) -> Result<TokenSecret> {
        let secret = TokenSecret::generate();
        sqlx::query(
            "insert into api_tokens (account_id, token_hash, scopes, expires_at, created_at, user_id) \
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(account.0)
        .bind(secret.hash().as_str())
        .bind(scopes.to_string())
        .bind(expires_at)
        .bind(now_unix())
        .bind(acting_as)
        .execute(self.pool())
        .await?;
        Ok(secret)
    }

    /// Deletes tokens that expired before `now` (they are refused
    /// already); returns how many.
    pub async fn remove_expired_tokens(&self, now: i64) -> Result<u64> {
        Ok(sqlx::query("delete from api_tokens where expires_at is not null and expires_at <= $1")
            .bind(now)
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    /// The grant of a presented token, or `None` when it is unknown or
    /// expired.
    pub async fn find_grant(&self, presented: &str) -> Result<Option<Grant>> {
        let row: Option<(i64, String, i64)> = sqlx::query_as(
            "select account_id, scopes, coalesce(user_id, id) from api_tokens \
             where token_hash = $1 and (expires_at is null or expires_at > $2)",
        )
        .bind(TokenHash::of(presented).as_str())
        .bind(now_unix())
        .fetch_optional(self.pool())
        .await?;
        row.map(|(account, scopes, user)| {
            let scopes = scopes
                .parse()
                .map_err(|e| Error::Config(format!("stored token scopes `{scopes}`: {e}")))?;
            Ok(Grant { account: AccountId(account), scopes, user })
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        domain::{Scope, Scopes},
        store::now_unix,
        testing::{Backend, TestDb},
    };

    async fn tokens_resolve_to_their_account_and_scopes(backend: Backend) {
        let t = TestDb::new(backend).await;
        let acme = t.db.ensure_account("acme").await.unwrap();
        assert_eq!(t.db.ensure_account("acme").await.unwrap(), acme, "account reused");
        let other = t.db.ensure_account("other").await.unwrap();
        assert_ne!(acme, other);

        let scopes: Scopes = "files,crm".parse().unwrap();
        let secret = t.db.create_token(acme, scopes, None, None).await.unwrap();
        let grant = t.db.find_grant(secret.expose()).await.unwrap().expect("known token");
        assert_eq!(grant.account, acme);
        assert_eq!(grant.scopes, scopes);

        assert_eq!(t.db.find_grant("sat_not-a-token").await.unwrap(), None);

        let expired =
            t.db.create_token(acme, Scope::Files.into(), Some(now_unix() - 1), None).await.unwrap();
        assert_eq!(t.db.find_grant(expired.expose()).await.unwrap(), None, "expired");
        let live =
            t.db.create_token(other, Scope::Files.into(), Some(now_unix() + 60), None)
                .await
                .unwrap();
        assert_eq!(t.db.find_grant(live.expose()).await.unwrap().unwrap().account, other);
        // The sweep deletes the expired one only; tokens without expiry stay.
        let forever = t.db.create_token(acme, Scope::Files.into(), None, None).await.unwrap();
        assert_eq!(t.db.remove_expired_tokens(now_unix()).await.unwrap(), 1);
        assert!(t.db.find_grant(live.expose()).await.unwrap().is_some());
        assert!(t.db.find_grant(forever.expose()).await.unwrap().is_some());
        assert_eq!(t.db.remove_expired_tokens(now_unix()).await.unwrap(), 0);
        t.cleanup().await;
    }

    async fn only_the_hash_of_a_token_is_stored(backend: Backend) {
        let t = TestDb::new(backend).await;
        let acme = t.db.ensure_account("acme").await.unwrap();
        let secret = t.db.create_token(acme, Scope::Files.into(), None, None).await.unwrap();
        let stored: Vec<String> = sqlx::query_scalar("select token_hash from api_tokens")
            .fetch_all(t.db.pool())
            .await
            .unwrap();
        assert_eq!(stored, vec![secret.hash().as_str().to_owned()]);
        assert!(!stored[0].contains(secret.expose()));
        t.cleanup().await;
    }

    #[tokio::test]
    async fn sqlite_tokens_resolve_to_their_account_and_scopes() {
        tokens_resolve_to_their_account_and_scopes(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres_tokens_resolve_to_their_account_and_scopes() {
        tokens_resolve_to_their_account_and_scopes(Backend::Postgres).await;
    }

    #[tokio::test]
    async fn sqlite_only_the_hash_of_a_token_is_stored() {
        only_the_hash_of_a_token_is_stored(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres_only_the_hash_of_a_token_is_stored() {
        only_the_hash_of_a_token_is_stored(Backend::Postgres).await;
    }
}
