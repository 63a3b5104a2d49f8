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
        self.sign_download(file_uuid, version_uuid, &expires_at.to_string())
    }

    /// `SIGNED.TAG`: what the link says before its tag, and the tag.
    fn sign_download(&self, file_uuid: &str, version_uuid: &str, signed: &str) -> String {
        let tag = self.download_mac(file_uuid, version_uuid, signed).finalize().into_bytes();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(&tag[..TAG_LEN]))
    }

    /// Checks a `sign` of `EXPIRES.TAG`, or `EXPIRES.KEY.TAG` (the MAC
    /// covers everything before the tag).
    pub fn verify_download(
        &self,
        file_uuid: &str,
        version_uuid: &str,
        sign: &str,
        now: i64,
    ) -> Result<(), LinkError> {
        let (signed, tag) = sign.rsplit_once('.').ok_or(LinkError::Invalid)?;
        let expires = signed.split('.').next().unwrap_or(signed);
        let expires_at: i64 = expires.parse().map_err(|_| LinkError::Invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| LinkError::Invalid)?;
        if tag.len() != TAG_LEN {
            return Err(LinkError::Invalid);
        }
        self.download_mac(file_uuid, version_uuid, signed)
            .verify_truncated_left(&tag)
            .map_err(|_| LinkError::Invalid)?;
        if now >= expires_at {
            return Err(LinkError::Expired);
        }
        Ok(())
    }

    /// `signed` is what the link says before its tag: the expiry, and
    /// the key id in links that carry one.
    fn download_mac(&self, file_uuid: &str, version_uuid: &str, signed: &str) -> Hmac<Sha256> {
        let message = format!("{file_uuid}/{version_uuid}/{signed}");
        self.mac(b"download", message.as_bytes())
    }
}

/// A key's place in the ring; key 0 signed every token made before keys
/// had ids (those tokens carry none).
pub type KeyId = u16;

/// A signing key as the ring holds it.
#[derive(Clone)]
pub struct RingKey {
    pub id: KeyId,
    pub key: SigningKey,
    /// Unix seconds: when the next key was made and took over signing;
    /// `None` for the newest key.
    pub superseded_at: Option<i64>,
}

/// What checking a token found.
#[derive(Debug, PartialEq, Eq)]
pub enum Checked<T> {
    Valid(T),
    /// Forged, damaged, or signed by a key that no longer verifies.
    Invalid,
    /// Signed by a key this process has not loaded yet (another node
    /// rotated): load the ring again and check once more.
    UnknownKey(KeyId),
}

/// Every key that still verifies, the newest signing. A superseded key
/// verifies for `retain` seconds after it was superseded, as long as
/// anything it signed can live (the longer of the session and link
/// lifetimes), then nothing it signed passes.
#[derive(Clone)]
pub struct Keyring {
    /// Ascending by id; the last signs.
    keys: Vec<RingKey>,
    retain: i64,
}

/// Bytes of a part token's message with a key id: id, session, part,
/// offset.
const KEYED_PART_LEN: usize = 2 + 8 + 4 + 8;

impl Keyring {
    /// A ring of `keys` (at least one); superseded keys verify for
    /// `retain` seconds.
    pub fn new(mut keys: Vec<RingKey>, retain: i64) -> Keyring {
        assert!(!keys.is_empty(), "a keyring has a key");
        keys.sort_by_key(|k| k.id);
        Keyring { keys, retain }
    }

    /// A ring of one key, id 0 (tests and first starts).
    pub fn single(key: SigningKey) -> Keyring {
        Keyring::new(vec![RingKey { id: 0, key, superseded_at: None }], 0)
    }

    /// The id of the key that signs.
    pub fn signing_id(&self) -> KeyId {
        self.signer().id
    }

    fn signer(&self) -> &RingKey {
        self.keys.last().expect("a keyring has a key")
    }

    /// The key with this id, if it still verifies at `now`.
    fn verifier(&self, id: KeyId, now: i64) -> Checked<&SigningKey> {
        match self.keys.iter().find(|k| k.id == id) {
            None if id > self.signing_id() => Checked::UnknownKey(id),
            None => Checked::Invalid,
            Some(k) => match k.superseded_at {
                Some(at) if now >= at.saturating_add(self.retain) => Checked::Invalid,
                _ => Checked::Valid(&k.key),
            },
        }
    }

    /// The token in a part URL: key id, session id, part number, the file
    /// offset the part starts at, and a MAC.
    pub fn part_token(&self, session_id: i64, part: PartNumber, offset: u64) -> String {
        let signer = self.signer();
        let mut bytes = Vec::with_capacity(KEYED_PART_LEN + TAG_LEN);
        bytes.extend_from_slice(&signer.id.to_be_bytes());
        bytes.extend_from_slice(&session_id.to_be_bytes());
        bytes.extend_from_slice(&part.to_be_bytes());
        bytes.extend_from_slice(&offset.to_be_bytes());
        let tag = signer.key.mac(b"part", &bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..TAG_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// What a part token grants, if a key that still verifies made it.
    pub fn verify_part_token(&self, token: &str, now: i64) -> Checked<PartToken> {
        let Some(bytes) = URL_SAFE_NO_PAD.decode(token).ok() else { return Checked::Invalid };
        if bytes.len() != KEYED_PART_LEN + TAG_LEN {
            // Made before keys had ids: key 0's, in the old layout.
            return match self.verifier(0, now) {
                Checked::Valid(key) => {
                    key.verify_part_token(token).map_or(Checked::Invalid, Checked::Valid)
                }
                _ => Checked::Invalid,
            };
        }
        let id = KeyId::from_be_bytes([bytes[0], bytes[1]]);
        let key = match self.verifier(id, now) {
            Checked::Valid(key) => key,
            Checked::UnknownKey(id) => return Checked::UnknownKey(id),
            Checked::Invalid => return Checked::Invalid,
        };
        let (message, tag) = bytes.split_at(KEYED_PART_LEN);
        if key.mac(b"part", message).verify_truncated_left(tag).is_err() {
            return Checked::Invalid;
        }
        let number = |range: std::ops::Range<usize>| message[range].to_vec();
        let session_id = i64::from_be_bytes(number(2..10).try_into().expect("8 bytes"));
        let part = PartNumber::from_be_bytes(number(10..14).try_into().expect("4 bytes"));
        let offset = u64::from_be_bytes(number(14..22).try_into().expect("8 bytes"));
        Checked::Valid(PartToken { session_id, part, offset: Some(offset) })
    }

    /// A download link's `sign`: `EXPIRES.KEY.TAG`.
    pub fn download_signature(
        &self,
        file_uuid: &str,
        version_uuid: &str,
        expires_at: i64,
    ) -> String {
        let signer = self.signer();
        signer.key.sign_download(file_uuid, version_uuid, &format!("{expires_at}.{}", signer.id))
    }

    /// Checks a download link's `sign`; links made before keys had ids
    /// (`EXPIRES.TAG`) are key 0's.
    pub fn verify_download(
        &self,
        file_uuid: &str,
        version_uuid: &str,
        sign: &str,
        now: i64,
    ) -> Checked<Result<(), LinkError>> {
        let id = match sign.split('.').collect::<Vec<_>>().as_slice() {
            [_, _] => 0,
            [_, id, _] => match id.parse::<KeyId>() {
                Ok(id) => id,
                Err(_) => return Checked::Valid(Err(LinkError::Invalid)),
            },
            _ => return Checked::Valid(Err(LinkError::Invalid)),
        };
        match self.verifier(id, now) {
            Checked::Valid(key) => {
                Checked::Valid(key.verify_download(file_uuid, version_uuid, sign, now))
            }
            Checked::UnknownKey(id) => Checked::UnknownKey(id),
            Checked::Invalid => Checked::Valid(Err(LinkError::Invalid)),
        }
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

    fn ring(retain: i64) -> Keyring {
        let old = RingKey { id: 0, key: key(), superseded_at: Some(1_000) };
        let new = RingKey { id: 1, key: SigningKey::new(&[9u8; 32]), superseded_at: None };
        Keyring::new(vec![new, old], retain)
    }

    #[test]
    fn the_newest_key_signs_and_superseded_ones_verify_for_a_while() {
        let ring = ring(500);
        assert_eq!(ring.signing_id(), 1);
        let token = ring.part_token(42, 3, 1000);
        let granted = PartToken { session_id: 42, part: 3, offset: Some(1000) };
        assert_eq!(ring.verify_part_token(&token, 2_000), Checked::Valid(granted));
        // Key 0 signed before the rotation, in the layout without ids.
        let before = key().part_token(42, 3, 1000);
        assert_eq!(ring.verify_part_token(&before, 1_499), Checked::Valid(granted));
        assert_eq!(ring.verify_part_token(&before, 1_500), Checked::Invalid, "retired");
        // A ring of key 0 alone does not know key 1: load again.
        assert_eq!(Keyring::single(key()).verify_part_token(&token, 0), Checked::UnknownKey(1));
        // A forged id does not pass.
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[1] = 0;
        assert_eq!(ring.verify_part_token(&URL_SAFE_NO_PAD.encode(&bytes), 0), Checked::Invalid);
    }

    #[test]
    fn download_links_name_their_key() {
        let ring = ring(500);
        let sign = ring.download_signature("f", "v", 5_000);
        assert_eq!(sign.split('.').nth(1), Some("1"));
        assert_eq!(ring.verify_download("f", "v", &sign, 4_999), Checked::Valid(Ok(())));
        assert_eq!(
            ring.verify_download("f", "v", &sign, 5_000),
            Checked::Valid(Err(LinkError::Expired))
        );
        assert_eq!(
            ring.verify_download("g", "v", &sign, 0),
            Checked::Valid(Err(LinkError::Invalid))
        );
        let moved = sign.replacen(".1.", ".0.", 1);
        assert_eq!(
            ring.verify_download("f", "v", &moved, 0),
            Checked::Valid(Err(LinkError::Invalid))
        );
        let later = sign.replacen("5000", "9000", 1);
        assert_eq!(
            ring.verify_download("f", "v", &later, 0),
            Checked::Valid(Err(LinkError::Invalid))
        );
        // A link of key 0 from before ids works until key 0 retires.
        let old = key().download_signature("f", "v", 5_000);
        assert_eq!(ring.verify_download("f", "v", &old, 1_499), Checked::Valid(Ok(())));
        assert_eq!(
            ring.verify_download("f", "v", &old, 1_500),
            Checked::Valid(Err(LinkError::Invalid))
        );
        let unknown = Keyring::single(key()).verify_download("f", "v", &sign, 0);
        assert_eq!(unknown, Checked::UnknownKey(1));
    }

    #[test]
    fn a_download_signature_is_not_a_part_token() {
        let sign = key().download_signature("f", "v", 1000);
        assert_eq!(key().verify_part_token(sign.split_once('.').unwrap().1), None);
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    fn ring() -> Keyring {
        let old = RingKey { id: 0, key: SigningKey::new(&[1u8; 32]), superseded_at: Some(10) };
        let new = RingKey { id: 3, key: SigningKey::new(&[2u8; 32]), superseded_at: None };
        Keyring::new(vec![old, new], 100)
    }

    proptest! {
        /// Nothing but what a key signed passes as a part token.
        #[test]
        fn no_made_up_token_passes(token in any::<String>(), now in any::<i64>()) {
            prop_assert!(!matches!(ring().verify_part_token(&token, now), Checked::Valid(_)));
        }

        #[test]
        fn no_made_up_link_passes(sign in any::<String>(), now in any::<i64>()) {
            let checked = ring().verify_download("f", "v", &sign, now);
            prop_assert!(!matches!(checked, Checked::Valid(Ok(()))));
        }

        #[test]
        fn part_tokens_read_back(session in any::<i64>(), part in any::<u32>(), offset in any::<u64>()) {
            let ring = ring();
            let token = ring.part_token(session, part, offset);
            let granted = PartToken { session_id: session, part, offset: Some(offset) };
            prop_assert_eq!(ring.verify_part_token(&token, 0), Checked::Valid(granted));
        }

        /// Changing any one byte of a token makes it worthless.
        #[test]
        fn a_changed_byte_spoils_a_token(at in 0usize..38, flip in 1u8..=255) {
            let ring = ring();
            let mut bytes = URL_SAFE_NO_PAD.decode(ring.part_token(7, 2, 4096)).unwrap();
            let at = at % bytes.len();
            bytes[at] ^= flip;
            let token = URL_SAFE_NO_PAD.encode(&bytes);
            prop_assert!(!matches!(ring.verify_part_token(&token, 0), Checked::Valid(_)));
        }
    }
}
