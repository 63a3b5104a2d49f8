//! Secrets shared by every node, created by whichever starts first.

use super::Db;
use crate::{
    domain::signing::SigningKey,
    error::{Error, Result},
};

impl Db {
    /// The key that signs part and download URLs.
    pub async fn signing_key(&self) -> Result<SigningKey> {
        // Insert-if-absent then read: concurrent first starts agree on one key.
        sqlx::query("insert into server_secrets (name, value) values ('url_signing', $1) on conflict (name) do nothing")
            .bind(SigningKey::generate_hex())
            .execute(self.pool())
            .await?;
        let value: String =
            sqlx::query_scalar("select value from server_secrets where name = 'url_signing'")
                .fetch_one(self.pool())
                .await?;
        let bytes = hex::decode(&value)
            .ok()
            .filter(|b| b.len() >= 32)
            .ok_or_else(|| Error::Config("the stored URL-signing secret is corrupt".into()))?;
        Ok(SigningKey::new(&bytes))
    }
}
