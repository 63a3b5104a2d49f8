//! Signed credentials in URLs: part-upload tokens and download links.
//!
//! Both are HMAC-SHA-256 over what they grant, keyed by a secret every
//! node reads from the database, so any node verifies what another issued
//! and nothing needs storing per link. A different label goes into each
//! kind of MAC so a download signature can never pass as a part token.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::parts::PartNumber;

/// What a part URL's token grants: sending part `part` of a session,
/// starting at `offset` (absent in tokens from before offsets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartToken {
    pub session_id: i64,
    pub part: PartNumber,
    pub offset: Option<u64>,
}

/// What a link to a file's current version is signed as, in place of a
/// version uuid (which never reads so).
pub const CURRENT_VERSION: &str = "current";

/// Bytes of MAC kept in a token: 128 bits cannot be guessed.
const TAG_LEN: usize = 16;

/// The server's URL-signing secret.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

/// Why a download signature was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkError {
    Invalid,
    Expired,
}

impl SigningKey {
    pub fn new(secret: &[u8]) -> Self {
        assert!(secret.len() >= 32, "signing secrets are at least 256 bits");
        SigningKey(secret.to_vec())
    }

    /// A fresh random secret, hex encoded for storage.
    pub fn generate_hex() -> String {
        hex::encode(rand::random::<[u8; 32]>())
    }

    fn mac(&self, label: &[u8], message: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("any key length");
        mac.update(label);
        mac.update(&[0]);
        mac.update(message);
        mac
    }

    /// The token in a part URL: session id, part number, the file offset
    /// the part starts at, and a MAC.
    pub fn part_token(&self, session_id: i64, part: PartNumber, offset: u64) -> String {
        let mut bytes = Vec::with_capacity(20 + TAG_LEN);
        bytes.extend_from_slice(&session_id.to_be_bytes());
        bytes.extend_from_slice(&part.to_be_bytes());
        bytes.extend_from_slice(&offset.to_be_bytes());
        let tag = self.mac(b"part", &bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// What a part token grants, or `None` for anything forged. Tokens
    /// handed out before parts carried offsets name no offset: part *n*
    /// then starts at `(n - 1) * part_size`, as parts were then cut.
    pub fn verify_part_token(&self, token: &str) -> Option<PartToken> {
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        let message_len = bytes.len().checked_sub(TAG_LEN)?;
        if message_len != 12 && message_len != 20 {
            return None;
        }
        let (message, tag) = bytes.split_at(message_len);
        self.mac(b"part", message).verify_truncated_left(tag).ok()?;
        let session_id = i64::from_be_bytes(message[..8].try_into().ok()?);
        let part = PartNumber::from_be_bytes(message[8..12].try_into().ok()?);
        let offset = match message.len() {
            20 => Some(u64::from_be_bytes(message[12..].try_into().ok()?)),
            _ => None,
        };
        Some(PartToken { session_id, part, offset })
    }

    /// The `sign` value of a download link valid until `expires_at`.
    pub fn download_signature(
        &self,
        file_uuid: &str,
        version_uuid: &str,
        expires_at: i64,
    ) -> String {
        let tag = self.download_mac(file_uuid, version_uuid, expires_at).finalize().into_bytes();
        format!("{expires_at}.{}", URL_SAFE_NO_PAD.encode(&tag[..TAG_LEN]))
    }

    pub fn verify_download(
        &self,
        file_uuid: &str,
        version_uuid: &str,
        sign: &str,
        now: i64,
    ) -> Result<(), LinkError> {
        let (expires, tag) = sign.split_once('.').ok_or(LinkError::Invalid)?;
        let expires_at: i64 = expires.parse().map_err(|_| LinkError::Invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| LinkError::Invalid)?;
        if tag.len() != TAG_LEN {
            return Err(LinkError::Invalid);
        }
        self.download_mac(file_uuid, version_uuid, expires_at)
            .verify_truncated_left(&tag)
            .map_err(|_| LinkError::Invalid)?;
        if now >= expires_at {
            return Err(LinkError::Expired);
        }
        Ok(())
    }

    fn download_mac(&self, file_uuid: &str, version_uuid: &str, expires_at: i64) -> Hmac<Sha256> {
        let message = format!("{file_uuid}/{version_uuid}/{expires_at}");
        self.mac(b"download", message.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::new(&[7u8; 32])
    }

    #[test]
    fn part_tokens_round_trip_and_resist_forgery() {
        let token = key().part_token(42, 3, 1000);
        let granted = PartToken { session_id: 42, part: 3, offset: Some(1000) };
        assert_eq!(key().verify_part_token(&token), Some(granted));
        let other = SigningKey::new(&[8u8; 32]);
        assert_eq!(other.verify_part_token(&token), None, "another key");
        // Flip the part number inside the token: the MAC no longer matches.
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[11] ^= 1;
        assert_eq!(key().verify_part_token(&URL_SAFE_NO_PAD.encode(&bytes)), None);
        assert_eq!(key().verify_part_token("short"), None);
        assert_eq!(key().verify_part_token("!!!"), None);
        // Flip the offset: refused too.
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[19] ^= 1;
        assert_eq!(key().verify_part_token(&URL_SAFE_NO_PAD.encode(&bytes)), None);
    }

    #[test]
    fn tokens_from_before_offsets_still_verify() {
        // The old layout: session id, part number, MAC.
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&42i64.to_be_bytes());
        bytes.extend_from_slice(&3u32.to_be_bytes());
        let tag = key().mac(b"part", &bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..TAG_LEN]);
        let old = URL_SAFE_NO_PAD.encode(&bytes);
        let granted = PartToken { session_id: 42, part: 3, offset: None };
        assert_eq!(key().verify_part_token(&old), Some(granted));
    }

    #[test]
    fn download_signatures_bind_file_version_and_expiry() {
        let sign = key().download_signature("f", "v", 1000);
        assert_eq!(key().verify_download("f", "v", &sign, 999), Ok(()));
        assert_eq!(key().verify_download("f", "v", &sign, 1000), Err(LinkError::Expired));
        assert_eq!(key().verify_download("f", "w", &sign, 999), Err(LinkError::Invalid));
        let later = sign.replacen("1000", "9999", 1);
        assert_eq!(key().verify_download("f", "v", &later, 999), Err(LinkError::Invalid));
        assert_eq!(key().verify_download("f", "v", "junk", 999), Err(LinkError::Invalid));
    }

    #[test]
    fn a_download_signature_is_not_a_part_token() {
        let sign = key().download_signature("f", "v", 1000);
        assert_eq!(key().verify_part_token(sign.split_once('.').unwrap().1), None);
    }
}
