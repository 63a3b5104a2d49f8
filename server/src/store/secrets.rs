//! Secrets shared by every node, created by whichever starts first: the
//! URL-signing keys.

use super::Db;
use crate::{
    domain::signing::{KeyId, RingKey, SigningKey},
    error::{Error, Result},
};

impl Db {
    /// Every URL-signing key, oldest first, with when each was superseded;
    /// the first start makes key 0.
    pub async fn signing_keys(&self, now: i64) -> Result<Vec<RingKey>> {
        // Insert-if-absent then read: concurrent first starts agree on one key.
        sqlx::query(
            "insert into signing_keys (id, secret, created_at) values (0, $1, $2) \
             on conflict (id) do nothing",
        )
        .bind(SigningKey::generate_hex())
        .bind(now)
        .execute(self.pool())
        .await?;
        let rows: Vec<(i64, String, i64)> =
            sqlx::query_as("select id, secret, created_at from signing_keys order by id")
                .fetch_all(self.pool())
                .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for (i, (id, secret, _)) in rows.iter().enumerate() {
            let bytes = hex::decode(secret).ok().filter(|b| b.len() >= 32);
            let (Some(bytes), Ok(id)) = (bytes, KeyId::try_from(*id)) else {
                return Err(Error::Config(format!("stored URL-signing key {id} is corrupt")));
            };
            let superseded_at = rows.get(i + 1).map(|(_, _, created_at)| *created_at);
            keys.push(RingKey { id, key: SigningKey::new(&bytes), superseded_at });
        }
        Ok(keys)
    }

    /// Adds a new signing key, which signs from the next time each node
    /// loads the keys; returns its id.
    pub async fn rotate_signing_key(&self, now: i64) -> Result<KeyId> {
        let _turn = self.write_turn().await;
        let id: i64 = sqlx::query_scalar(
            "insert into signing_keys (id, secret, created_at) \
             select coalesce(max(id), -1) + 1, $1, $2 from signing_keys returning id",
        )
        .bind(SigningKey::generate_hex())
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        KeyId::try_from(id).map_err(|_| Error::Config("no more signing key ids".into()))
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{Backend, TestDb};

    async fn keys_are_made_once_and_rotated(backend: Backend) {
        let t = TestDb::new(backend).await;
        let first = t.db.signing_keys(100).await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!((first[0].id, first[0].superseded_at), (0, None));
        let again = t.db.signing_keys(200).await.unwrap();
        let token = first[0].key.part_token(1, 1, 0);
        assert!(again[0].key.verify_part_token(&token).is_some(), "the same key 0");
        assert_eq!(t.db.rotate_signing_key(300).await.unwrap(), 1);
        assert_eq!(t.db.rotate_signing_key(400).await.unwrap(), 2);
        let ring = t.db.signing_keys(500).await.unwrap();
        let seen: Vec<_> = ring.iter().map(|k| (k.id, k.superseded_at)).collect();
        assert_eq!(seen, vec![(0, Some(300)), (1, Some(400)), (2, None)]);
        t.cleanup().await;
    }

    #[tokio::test]
    async fn sqlite_keys_are_made_once_and_rotated() {
        keys_are_made_once_and_rotated(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres_keys_are_made_once_and_rotated() {
        keys_are_made_once_and_rotated(Backend::Postgres).await;
    }
}
