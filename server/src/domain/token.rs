//! API tokens: a random secret shown once, and the hash that is stored.
//!
//! Tokens carry 256 bits from the OS random generator, so a plain SHA-256
//! is enough to store them: there is nothing to brute-force that a slow
//! password hash would protect, and lookups stay one indexed equality.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use sha2::{Digest, Sha256};

/// Prefix that makes Satchel tokens recognisable in logs and secret scanners.
const PREFIX: &str = "sat_";

/// A token as its holder sees it. Never stored, never logged.
pub struct TokenSecret(String);

impl TokenSecret {
    /// A fresh token: `sat_` and 43 URL-safe characters (32 random bytes).
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        TokenSecret(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

/// The stored form of a token: lowercase hex SHA-256 of its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn of(presented: &str) -> Self {
        TokenHash(hex::encode(Sha256::digest(presented.as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_distinct_and_prefixed() {
        let a = TokenSecret::generate();
        let b = TokenSecret::generate();
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with("sat_"));
        assert_eq!(a.expose().len(), 4 + 43);
    }

    #[test]
    fn hash_is_sha256_hex_of_the_presented_text() {
        // sha256("abc"), a published test vector.
        assert_eq!(
            TokenHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let t = TokenSecret::generate();
        assert_eq!(t.hash(), TokenHash::of(t.expose()));
    }
}
