//! The tus 1.0.0 protocol's own rules, in plain Rust: its headers
//! (`Upload-Metadata`, `Upload-Checksum`, `Upload-Length`), the
//! extensions Satchel announces, and how metadata names a Satchel upload.
//! What may be appended where is the ingest core's.

use base64::{engine::general_purpose::STANDARD, Engine as _};

/// The one protocol version served.
pub const VERSION: &str = "1.0.0";

/// The extensions `OPTIONS` announces, in `Tus-Extension`'s form.
pub const EXTENSIONS: &str = "creation,creation-with-upload,creation-defer-length,expiration,\
                              checksum,checksum-trailer,termination,concatenation,\
                              concatenation-unfinished";

/// The checksum algorithms `Upload-Checksum` takes.
pub const CHECKSUM_ALGORITHMS: &str = "sha1,sha256,md5";

/// The content type of every PATCH body.
pub const PATCH_CONTENT_TYPE: &str = "application/offset+octet-stream";

/// What `Upload-Metadata` says about a new upload, in Satchel's terms.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// `filename` (tus-js-client, Uppy) or `name`.
    pub file_name: Option<String>,
    /// `filetype` (tus-js-client, Uppy), `type` or `content_type`.
    pub content_type: Option<String>,
    /// `file_uuid`: the upload is a new version of this file.
    pub file_uuid: Option<String>,
    /// `with_preview`: `true`/`1` asks for previews.
    pub with_preview: bool,
    /// `sha256`: hex SHA-256 the whole file must have.
    pub sha256: Option<String>,
}

/// Reads `Upload-Metadata`: comma-separated pairs of a key and its
/// base64 value (the value may be left out); keys unique, ASCII, without
/// spaces or commas; values UTF-8. Keys Satchel does not use are ignored.
pub fn parse_metadata(header: &str) -> Result<Metadata, String> {
    let mut seen = Vec::new();
    let mut metadata = Metadata::default();
    for pair in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut words = pair.split(' ').filter(|w| !w.is_empty());
        let key = words.next().unwrap_or_default();
        let value = words.next();
        if words.next().is_some() {
            return Err(format!("Upload-Metadata: `{pair}` is not a key and one base64 value"));
        }
        if !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(format!("Upload-Metadata: the key `{key}` is not plain ASCII"));
        }
        if seen.contains(&key) {
            return Err(format!("Upload-Metadata: the key `{key}` comes twice"));
        }
        seen.push(key);
        let value = match value {
            None => None,
            Some(encoded) => {
                let bytes = STANDARD
                    .decode(encoded)
                    .map_err(|_| format!("Upload-Metadata: the value of `{key}` is not base64"))?;
                Some(String::from_utf8(bytes).map_err(|_| {
                    format!("Upload-Metadata: the value of `{key}` is not UTF-8 text")
                })?)
            }
        };
        match key {
            "filename" | "name" => metadata.file_name = metadata.file_name.or(value),
            "filetype" | "type" | "content_type" => {
                metadata.content_type = metadata.content_type.or(value.filter(|v| !v.is_empty()))
            }
            "file_uuid" => metadata.file_uuid = value.filter(|v| !v.is_empty()),
            "with_preview" => {
                metadata.with_preview = matches!(value.as_deref(), Some("true" | "1"))
            }
            "sha256" => metadata.sha256 = value.filter(|v| !v.is_empty()),
            _ => {}
        }
    }
    Ok(metadata)
}

/// `Upload-Metadata` as a HEAD answers it: the name and type the upload
/// was created with.
pub fn encode_metadata(file_name: &str, content_type: &str) -> String {
    format!("filename {},filetype {}", STANDARD.encode(file_name), STANDARD.encode(content_type))
}

/// What `Upload-Concat` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Concat {
    /// A partial upload: bytes for a final one.
    Partial,
    /// A final upload: these partial uploads' URLs, in order.
    Final(Vec<String>),
}

/// Reads `Upload-Concat`: `partial`, or `final;` and the partial uploads'
/// URLs separated by spaces.
pub fn parse_concat(value: &str) -> Result<Concat, String> {
    let value = value.trim();
    if value == "partial" {
        return Ok(Concat::Partial);
    }
    let Some(urls) = value.strip_prefix("final;") else {
        return Err(format!("Upload-Concat is `partial` or `final;<urls>`, not `{value}`"));
    };
    let urls: Vec<String> = urls.split(' ').filter(|u| !u.is_empty()).map(str::to_owned).collect();
    if urls.is_empty() {
        return Err("Upload-Concat: a final upload names its partial uploads' URLs".into());
    }
    if urls.iter().enumerate().any(|(i, u)| urls[..i].contains(u)) {
        return Err("Upload-Concat: a partial upload is named twice".into());
    }
    Ok(Concat::Final(urls))
}

/// The upload token at the end of an upload URL (absolute, or a path).
pub fn token_of(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next()?;
    let (before, token) = path.trim_end_matches('/').rsplit_once('/')?;
    (before.ends_with("/tus") && !token.is_empty()).then_some(token)
}

/// A checksum algorithm of `Upload-Checksum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Md5,
}

/// Why an `Upload-Checksum` cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub enum ChecksumError {
    /// 400: an algorithm not in `Tus-Checksum-Algorithm`.
    Unsupported(String),
    /// 400: not `<algorithm> <base64>`, or a digest of the wrong length.
    Malformed(String),
}

/// Reads `Upload-Checksum: <algorithm> <base64 digest>`.
pub fn parse_checksum(header: &str) -> Result<(Algorithm, Vec<u8>), ChecksumError> {
    let (name, encoded) = header.trim().split_once(' ').ok_or_else(|| {
        ChecksumError::Malformed("Upload-Checksum is `<algorithm> <base64 digest>`".into())
    })?;
    let (algorithm, len) = match name.to_ascii_lowercase().as_str() {
        "sha1" => (Algorithm::Sha1, 20),
        "sha256" => (Algorithm::Sha256, 32),
        "md5" => (Algorithm::Md5, 16),
        _ => {
            return Err(ChecksumError::Unsupported(format!(
                "Upload-Checksum: `{name}` is not one of {CHECKSUM_ALGORITHMS}"
            )))
        }
    };
    let digest = STANDARD.decode(encoded.trim()).map_err(|_| {
        ChecksumError::Malformed("Upload-Checksum: the digest is not base64".into())
    })?;
    if digest.len() != len {
        return Err(ChecksumError::Malformed(format!(
            "Upload-Checksum: a {name} digest has {len} bytes, this one {}",
            digest.len()
        )));
    }
    Ok((algorithm, digest))
}

/// The digest of `bytes` by `algorithm`.
pub fn digest(algorithm: Algorithm, bytes: &[u8]) -> Vec<u8> {
    match algorithm {
        Algorithm::Sha1 => <sha1::Sha1 as sha1::Digest>::digest(bytes).to_vec(),
        Algorithm::Sha256 => <sha2::Sha256 as sha2::Digest>::digest(bytes).to_vec(),
        Algorithm::Md5 => <md5::Md5 as md5::Digest>::digest(bytes).to_vec(),
    }
}

/// Reads an unsigned length header (`Upload-Length`, `Upload-Offset`).
pub fn parse_length(name: &str, value: &str) -> Result<u64, String> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{name} must be a non-negative whole number of bytes, not `{value}`"));
    }
    value.parse().map_err(|_| format!("{name} `{value}` is too large"))
}

// ---------------------------------------------------------------------
// The IETF draft "Resumable Uploads for HTTP" on the same uploads.

/// `Upload-Draft-Interop-Version`s served: 6 (draft-04 and -05, what
/// tus-js-client 4.3.1 sends with `protocol: 'ietf-draft-05'`) and 8
/// (draft-09 to -11, the latest).
pub const INTEROP_VERSIONS: [u8; 2] = [6, 8];

/// The content type of a draft append (since draft-04).
pub const PARTIAL_UPLOAD: &str = "application/partial-upload";

/// Problem types the draft registers, by Satchel's slug for them.
pub const DRAFT_PROBLEM_TYPES: [(&str, &str); 3] = [
    (
        "mismatching-upload-offset",
        "https://iana.org/assignments/http-problem-types#mismatching-upload-offset",
    ),
    ("completed-upload", "https://iana.org/assignments/http-problem-types#completed-upload"),
    (
        "inconsistent-upload-length",
        "https://iana.org/assignments/http-problem-types#inconsistent-upload-length",
    ),
];

/// Reads `Upload-Draft-Interop-Version`; only the versions served.
pub fn parse_interop(value: &str) -> Result<u8, String> {
    match value.trim().parse::<u8>() {
        Ok(v) if INTEROP_VERSIONS.contains(&v) => Ok(v),
        _ => Err(format!(
            "Upload-Draft-Interop-Version {value} is not served here: 6 (draft-05) and 8 \
             (draft-09 to -11) are"
        )),
    }
}

/// Reads `Upload-Complete`, a structured-field boolean: `?1` or `?0`.
pub fn parse_complete(value: &str) -> Result<bool, String> {
    match value.trim() {
        "?1" => Ok(true),
        "?0" => Ok(false),
        other => Err(format!("Upload-Complete is ?1 or ?0, not `{other}`")),
    }
}

/// `Upload-Complete`'s value for `complete`.
pub fn complete_value(complete: bool) -> &'static str {
    if complete {
        "?1"
    } else {
        "?0"
    }
}

/// `Upload-Limit`: the largest upload, and how long it lives (`expires`
/// up to interop version 6, `max-age` since draft-06).
pub fn upload_limit(interop: u8, max_size: u64, seconds_left: i64) -> String {
    let age = if interop <= 6 { "expires" } else { "max-age" };
    format!("max-size={max_size}, {age}={}", seconds_left.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concatenation_names_partial_uploads_in_order() {
        assert_eq!(parse_concat("partial"), Ok(Concat::Partial));
        assert_eq!(
            parse_concat("final;http://h/tus/a /tus/b"),
            Ok(Concat::Final(vec!["http://h/tus/a".into(), "/tus/b".into()]))
        );
        assert!(parse_concat("final;").is_err());
        assert!(parse_concat("final;/tus/a /tus/a").unwrap_err().contains("twice"));
        assert!(parse_concat("whole").is_err());
        assert_eq!(token_of("http://h:1/tus/AbC"), Some("AbC"));
        assert_eq!(token_of("/tus/AbC/"), Some("AbC"));
        assert_eq!(token_of("/upload/AbC"), None);
        assert_eq!(token_of("/tus/"), None);
    }

    #[test]
    fn the_draft_headers_read_and_write() {
        assert_eq!(parse_interop("6"), Ok(6));
        assert_eq!(parse_interop(" 8 "), Ok(8));
        for other in ["5", "7", "9", "x", ""] {
            assert!(parse_interop(other).unwrap_err().contains("6 (draft-05)"), "{other}");
        }
        assert_eq!(parse_complete("?1"), Ok(true));
        assert_eq!(parse_complete("?0"), Ok(false));
        assert!(parse_complete("true").is_err());
        assert!(parse_complete("1").is_err());
        assert_eq!(complete_value(true), "?1");
        assert_eq!(upload_limit(6, 100, 60), "max-size=100, expires=60");
        assert_eq!(upload_limit(8, 100, -5), "max-size=100, max-age=0");
    }

    #[test]
    fn metadata_maps_the_keys_clients_send() {
        // tus-js-client and Uppy: filename, filetype; others: name, type.
        let header = format!(
            "filename {},filetype {},relativePath,file_uuid {},with_preview {},sha256 {}",
            STANDARD.encode("Отчёт.pdf"),
            STANDARD.encode("application/pdf"),
            STANDARD.encode("6c85f53d-711c-4073-84a4-3e58b458df26"),
            STANDARD.encode("true"),
            STANDARD.encode("ab".repeat(32)),
        );
        let metadata = parse_metadata(&header).unwrap();
        assert_eq!(metadata.file_name.as_deref(), Some("Отчёт.pdf"));
        assert_eq!(metadata.content_type.as_deref(), Some("application/pdf"));
        assert_eq!(metadata.file_uuid.as_deref(), Some("6c85f53d-711c-4073-84a4-3e58b458df26"));
        assert!(metadata.with_preview);
        assert_eq!(metadata.sha256, Some("ab".repeat(32)));

        let other = parse_metadata(&format!(
            "name {},type {}",
            STANDARD.encode("a.txt"),
            STANDARD.encode("text/plain")
        ))
        .unwrap();
        assert_eq!(other.file_name.as_deref(), Some("a.txt"));
        assert_eq!(other.content_type.as_deref(), Some("text/plain"));
        assert_eq!(parse_metadata("").unwrap(), Metadata::default());
        assert!(
            !parse_metadata(&format!("with_preview {}", STANDARD.encode("no")))
                .unwrap()
                .with_preview
        );
    }

    #[test]
    fn bad_metadata_is_refused_with_the_reason() {
        assert!(parse_metadata("filename !!!").unwrap_err().contains("not base64"));
        assert!(parse_metadata("filename YQ==,filename Yg==").unwrap_err().contains("twice"));
        assert!(parse_metadata("filename YQ== Yg==").unwrap_err().contains("one base64 value"));
        assert!(parse_metadata("filename /w==").unwrap_err().contains("UTF-8"));
        assert!(parse_metadata("fílename YQ==").unwrap_err().contains("ASCII"));
    }

    #[test]
    fn metadata_written_back_reads_the_same() {
        let header = encode_metadata("a, b.txt", "text/plain");
        let metadata = parse_metadata(&header).unwrap();
        assert_eq!(metadata.file_name.as_deref(), Some("a, b.txt"));
        assert_eq!(metadata.content_type.as_deref(), Some("text/plain"));
    }

    #[test]
    fn checksums_name_one_of_three_algorithms() {
        let sha1 = STANDARD.encode(digest(Algorithm::Sha1, b"hello"));
        assert_eq!(sha1, "qvTGHdzF6KLavt4PO0gs2a6pQ00=");
        assert_eq!(
            parse_checksum(&format!("sha1 {sha1}")).unwrap(),
            (Algorithm::Sha1, digest(Algorithm::Sha1, b"hello"))
        );
        let md5 = STANDARD.encode(digest(Algorithm::Md5, b"hello"));
        assert_eq!(md5, "XUFAKrxLKna5cZ2REBfFkg==");
        assert_eq!(parse_checksum(&format!("MD5 {md5}")).unwrap().0, Algorithm::Md5);
        let sha256 = STANDARD.encode(digest(Algorithm::Sha256, b"hello"));
        assert_eq!(parse_checksum(&format!("sha256 {sha256}")).unwrap().0, Algorithm::Sha256);

        assert!(matches!(parse_checksum("crc32 AAAAAA=="), Err(ChecksumError::Unsupported(_))));
        assert!(matches!(parse_checksum("sha1"), Err(ChecksumError::Malformed(_))));
        assert!(matches!(parse_checksum("sha1 !!"), Err(ChecksumError::Malformed(_))));
        assert!(matches!(
            parse_checksum(&format!("sha256 {sha1}")),
            Err(ChecksumError::Malformed(_))
        ));
    }

    #[test]
    fn lengths_are_plain_numbers() {
        assert_eq!(parse_length("Upload-Length", "0"), Ok(0));
        assert_eq!(parse_length("Upload-Length", " 1048576 "), Ok(1_048_576));
        for bad in ["", "-1", "+5", "1e6", "12 34", "99999999999999999999999"] {
            assert!(parse_length("Upload-Length", bad).is_err(), "{bad:?}");
        }
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_tus_header_is_read_or_refused(text in any::<String>()) {
            let _ = parse_metadata(&text);
            let _ = parse_concat(&text);
            let _ = parse_checksum(&text);
            let _ = parse_interop(&text);
            let _ = parse_complete(&text);
            let _ = token_of(&text);
            if let Ok(length) = parse_length("Upload-Length", &text) {
                let written = length.to_string();
                prop_assert_eq!(written.trim_start_matches('0'), text.trim().trim_start_matches('0'));
            }
        }

        /// What HEAD answers as metadata reads back as what was created.
        #[test]
        fn metadata_reads_back(name in any::<String>(), kind in any::<String>()) {
            let read = parse_metadata(&encode_metadata(&name, &kind)).unwrap();
            // An empty value is written as a key alone, which reads as none.
            prop_assert_eq!(read.file_name.as_deref(), Some(name.as_str()).filter(|n| !n.is_empty()));
            prop_assert_eq!(read.content_type.as_deref(), Some(kind.as_str()).filter(|k| !k.is_empty()));
        }

        #[test]
        fn lengths_read_back(length in any::<u64>()) {
            prop_assert_eq!(parse_length("Upload-Offset", &length.to_string()), Ok(length));
        }
    }
}
