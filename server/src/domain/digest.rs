//! SHA-256 over a whole upload, carried from part to part.
//!
//! Parts are a multiple of SHA-256's 64-byte block, so after each full
//! part the hasher's buffer is empty and its state is eight words and a
//! length. That state is saved with each part, so any node, after any
//! restart, continues the digest from the last stored part without
//! reading the bytes again. Comparing the state after a part also tells
//! whether a replayed part carries the same bytes, without a second hash.

use base64::{engine::general_purpose::STANDARD, Engine};
use sha2::{
    digest::common::hazmat::{SerializableState, SerializedState},
    Digest, Sha256,
};

/// The whole-file digest in progress.
#[derive(Clone)]
pub struct RunningDigest(Sha256);

/// Why a saved digest state could not be used.
#[derive(Debug, thiserror::Error)]
#[error("saved digest state is corrupt")]
pub struct CorruptState;

impl RunningDigest {
    pub fn new() -> Self {
        RunningDigest(Sha256::new())
    }

    /// Continues from a state saved by `state`.
    pub fn resume(saved: &[u8]) -> Result<Self, CorruptState> {
        let array = SerializedState::<Sha256>::try_from(saved).map_err(|_| CorruptState)?;
        Sha256::deserialize(&array).map(RunningDigest).map_err(|_| CorruptState)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The state to save with a part.
    pub fn state(&self) -> Vec<u8> {
        self.0.serialize().to_vec()
    }

    /// Lowercase hex of the digest of everything fed so far.
    pub fn finish_hex(self) -> String {
        hex::encode(self.finish())
    }

    /// The digest of everything fed so far.
    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

impl Default for RunningDigest {
    fn default() -> Self {
        Self::new()
    }
}

/// The SHA-256 a `Content-Digest` header (RFC 9530) announces, if it
/// names one: `sha-256=:<base64>:`, possibly among other algorithms.
pub fn content_digest_sha256(header: &str) -> Result<Option<[u8; 32]>, String> {
    for member in header.split(',') {
        let Some((algorithm, value)) = member.trim().split_once('=') else {
            continue;
        };
        if !algorithm.trim().eq_ignore_ascii_case("sha-256") {
            continue;
        }
        // Parameters after the value (`;...`) carry nothing we need.
        let value = value.split(';').next().unwrap_or(value);
        let inner = value
            .trim()
            .strip_prefix(':')
            .and_then(|v| v.strip_suffix(':'))
            .ok_or("the sha-256 value must be :base64:")?;
        let bytes = STANDARD.decode(inner).map_err(|_| "the sha-256 value is not base64")?;
        return <[u8; 32]>::try_from(bytes.as_slice())
            .map(Some)
            .map_err(|_| "the sha-256 value is not 32 bytes".into());
    }
    Ok(None)
}

/// SHA-256 of one buffer.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Checks a client-supplied whole-file digest: 64 hex characters.
pub fn parse_sha256_hex(text: &str) -> Result<String, String> {
    let lower = text.trim().to_ascii_lowercase();
    if lower.len() == 64 && lower.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(lower)
    } else {
        Err("sha256 must be 64 hexadecimal characters".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_resumed_from_saved_states_equals_one_pass() {
        let data: Vec<u8> = (0..5 * 1024 + 7).map(|i| (i * 7 % 251) as u8).collect();
        let mut state = RunningDigest::new().state();
        for chunk in data.chunks(1024) {
            let mut d = RunningDigest::resume(&state).unwrap();
            d.update(chunk);
            state = d.state();
        }
        let resumed = RunningDigest::resume(&state).unwrap().finish_hex();
        assert_eq!(resumed, hex::encode(sha256(&data)));
    }

    #[test]
    fn state_after_a_part_differs_when_its_bytes_differ() {
        let mut a = RunningDigest::new();
        a.update(&[1u8; 128]);
        let mut b = RunningDigest::new();
        b.update(&[2u8; 128]);
        assert_ne!(a.state(), b.state());
    }

    #[test]
    fn corrupt_states_are_refused() {
        assert!(RunningDigest::resume(&[0u8; 3]).is_err());
    }

    #[test]
    fn content_digest_header_is_read_per_rfc_9530() {
        let empty = sha256(b"");
        let header = format!("sha-512=:AAAA:, sha-256=:{}:", STANDARD.encode(empty));
        assert_eq!(content_digest_sha256(&header).unwrap(), Some(empty));
        assert_eq!(content_digest_sha256("sha-512=:AAAA:").unwrap(), None);
        assert!(content_digest_sha256("sha-256=:!!:").is_err());
        assert!(content_digest_sha256("sha-256=abc").is_err());
        assert!(content_digest_sha256("sha-256=:AAAA:").is_err(), "wrong length");
    }

    #[test]
    fn whole_file_digest_must_be_hex() {
        let ok = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
        assert_eq!(parse_sha256_hex(ok).unwrap(), ok.to_ascii_lowercase());
        assert!(parse_sha256_hex("xyz").is_err());
    }
}

#[cfg(test)]
mod props {
    use base64::{engine::general_purpose::STANDARD, Engine};
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_digest_header_is_read_or_refused(header in any::<String>()) {
            let _ = content_digest_sha256(&header);
        }

        /// A sha-256 member is found among others, with parameters.
        #[test]
        fn a_sha256_member_reads_back(
            digest in any::<[u8; 32]>(),
            other in any::<[u8; 16]>(),
            first in any::<bool>(),
        ) {
            let ours = format!("sha-256=:{}:;q=1", STANDARD.encode(digest));
            let theirs = format!("md5=:{}:", STANDARD.encode(other));
            let header = if first { format!("{ours}, {theirs}") } else { format!("{theirs}, {ours}") };
            prop_assert_eq!(content_digest_sha256(&header), Ok(Some(digest)));
        }

        #[test]
        fn a_hex_digest_is_64_hex_digits(text in any::<String>()) {
            match parse_sha256_hex(&text) {
                Ok(hex) => {
                    prop_assert_eq!(hex.len(), 64);
                    prop_assert!(hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
                    prop_assert_eq!(hex, text.trim().to_ascii_lowercase());
                }
                Err(_) => {
                    let t = text.trim();
                    prop_assert!(t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()));
                }
            }
        }

        #[test]
        fn any_sha256_reads_back_from_hex(digest in any::<[u8; 32]>()) {
            let hex = hex::encode_upper(digest);
            prop_assert_eq!(parse_sha256_hex(&hex), Ok(hex.to_lowercase()));
        }
    }
}
