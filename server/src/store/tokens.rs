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

/// How finely a token's last use is kept.
const LAST_USE_STEP_SECS: i64 = 60;

/// A token as `satchel token list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub account: String,
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
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
        Ok(self.create_token_with_id(account, scopes, expires_at, acting_as).await?.1)
    }

    /// As `create_token`, with the new token's id (for `token revoke`).
    pub async fn create_token_with_id(
        &self,
        account: AccountId,
        scopes: Scopes,
        expires_at: Option<i64>,
        acting_as: Option<i64>,
    ) -> Result<(i64, TokenSecret)> {
        let secret = TokenSecret::generate();
        let id = sqlx::query_scalar(
            "insert into api_tokens (account_id, token_hash, scopes, expires_at, created_at, user_id) \
             values ($1, $2, $3, $4, $5, $6) returning id",
        )
        .bind(account.0)
        .bind(secret.hash().as_str())
        .bind(scopes.to_string())
        .bind(expires_at)
        .bind(now_unix())
        .bind(acting_as)
        .fetch_one(self.pool())
        .await?;
        Ok((id, secret))
    }

    /// The tokens that work (neither revoked nor expired), of one account
    /// or all, oldest first.
    pub async fn list_tokens(&self, account: Option<&str>, now: i64) -> Result<Vec<TokenRow>> {
        Ok(sqlx::query_as(
            "select t.id, a.name as account, t.scopes, t.created_at, t.expires_at, t.last_used_at \
             from api_tokens t join accounts a on a.id = t.account_id \
             where t.revoked_at is null and (t.expires_at is null or t.expires_at > $1) \
             and ($2 is null or a.name = $2) order by t.id",
        )
        .bind(now)
        .bind(account)
        .fetch_all(self.pool())
        .await?)
    }

    /// Revokes token `id`, and the widget tokens it issued (they act as
    /// it); they are refused from the next request on. Returns how many
    /// tokens stopped working: 0 when `id` names no working token.
    pub async fn revoke_token(&self, id: i64, now: i64) -> Result<u64> {
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await?;
        let revoked = sqlx::query(
            "update api_tokens set revoked_at = $2 where id = $1 and revoked_at is null",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if revoked == 0 {
            tx.rollback().await?;
            return Ok(0);
        }
        // A widget token acts as its issuer (`user_id`); an issuer that
        // is itself a widget token issues none.
        let issued = sqlx::query(
            "update api_tokens set revoked_at = $2 where user_id = $1 and id <> $1 \
             and revoked_at is null",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(revoked + issued)
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
        let now = now_unix();
        let row: Option<(i64, i64, String, i64, Option<i64>)> = sqlx::query_as(
            "select id, account_id, scopes, coalesce(user_id, id), last_used_at from api_tokens \
             where token_hash = $1 and revoked_at is null and (expires_at is null or expires_at > $2)",
        )
        .bind(TokenHash::of(presented).as_str())
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        // The last use is kept to the minute: one write a minute per token.
        if let Some((id, .., last_used)) = &row {
            if last_used.is_none_or(|at| at <= now - LAST_USE_STEP_SECS) {
                sqlx::query(
                    "update api_tokens set last_used_at = $2 where id = $1 \
                     and (last_used_at is null or last_used_at <= $3)",
                )
                .bind(id)
                .bind(now)
                .bind(now - LAST_USE_STEP_SECS)
                .execute(self.pool())
                .await?;
            }
        }
        row.map(|(_, account, scopes, user, _)| {
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

    async fn tokens_are_listed_revoked_and_their_use_kept(backend: Backend) {
        let t = TestDb::new(backend).await;
        let acme = t.db.ensure_account("acme").await.unwrap();
        let other = t.db.ensure_account("other").await.unwrap();
        let scopes: Scopes = "files,crm".parse().unwrap();
        let (issuer, secret) = t.db.create_token_with_id(acme, scopes, None, None).await.unwrap();
        let grant = t.db.find_grant(secret.expose()).await.unwrap().unwrap();
        let until = now_unix() + 3600;
        let widget =
            t.db.create_token(acme, Scope::Files.into(), Some(until), Some(grant.user))
                .await
                .unwrap();
        let (theirs, their_secret) =
            t.db.create_token_with_id(other, Scope::Files.into(), None, None).await.unwrap();
        t.db.create_token(acme, Scope::Files.into(), Some(now_unix() - 1), None).await.unwrap();

        let all = t.db.list_tokens(None, now_unix()).await.unwrap();
        assert_eq!(all.len(), 3, "the expired one is not listed: {all:?}");
        assert_eq!(
            (all[0].id, all[0].account.as_str(), all[0].scopes.as_str()),
            (issuer, "acme", "files,crm")
        );
        assert!(all[0].last_used_at.is_some(), "it was used just now");
        assert_eq!(all[1].expires_at, Some(until));
        assert_eq!(all[1].last_used_at, None);
        let of_other = t.db.list_tokens(Some("other"), now_unix()).await.unwrap();
        assert_eq!(of_other.iter().map(|r| r.id).collect::<Vec<_>>(), vec![theirs]);

        // Revoking the issuer stops it and the widget token it issued.
        assert_eq!(t.db.revoke_token(issuer, now_unix()).await.unwrap(), 2);
        assert_eq!(t.db.find_grant(secret.expose()).await.unwrap(), None);
        assert_eq!(t.db.find_grant(widget.expose()).await.unwrap(), None);
        assert!(t.db.find_grant(their_secret.expose()).await.unwrap().is_some());
        assert_eq!(t.db.revoke_token(issuer, now_unix()).await.unwrap(), 0, "already revoked");
        assert_eq!(t.db.revoke_token(9999, now_unix()).await.unwrap(), 0, "unknown");
        assert_eq!(t.db.list_tokens(Some("acme"), now_unix()).await.unwrap(), vec![]);
        t.cleanup().await;
    }

    #[tokio::test]
    async fn sqlite_tokens_are_listed_revoked_and_their_use_kept() {
        tokens_are_listed_revoked_and_their_use_kept(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres_tokens_are_listed_revoked_and_their_use_kept() {
        tokens_are_listed_revoked_and_their_use_kept(Backend::Postgres).await;
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
