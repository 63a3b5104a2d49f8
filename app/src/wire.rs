//! Upload answers as they travel between the server and the widget: the
//! server writes these types and the widget reads them, so the two cannot
//! drift apart. Plain serde; the server derives their OpenAPI schemas.

use serde::{Deserialize, Serialize};

/// The smallest part size a client may ask for when it opens a session
/// (`max_part_size` in the request, beyond Kommo); it must be a multiple
/// of 64 too.
pub const MIN_PART_SIZE: u64 = 64 * 1024;

/// The largest part size a server with local-disk storage grants, where a
/// part streams to its place through a small batch whatever its length
/// (on S3, where a part is held whole, the server's `--max-part-size`).
pub const LOCAL_MAX_PART_SIZE: u64 = 16 * 1024 * 1024;

/// `POST /v1.0/sessions`: an upload session opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionOpened {
    pub session_id: i64,
    /// Where part 1 goes.
    pub upload_url: String,
    pub max_file_size: u64,
    pub max_part_size: u64,
    pub expires_at: i64,
    pub part_count: u32,
    /// How many parts may be in flight at once, anywhere within
    /// `window * max_part_size` bytes past those stored without a gap
    /// (beyond Kommo).
    #[serde(default = "one")]
    pub window: u32,
    /// Part *k* of a client that cuts full `max_part_size` parts, sent at
    /// once: `{part}` replaced by *k* (beyond Kommo).
    #[serde(default)]
    pub part_url_template: String,
}

/// `202` to a part that did not complete the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PartAccepted {
    pub session_id: i64,
    /// Where the next part goes.
    pub next_url: String,
    pub part: u32,
    /// The file offset where this part ends: for a client that sends its
    /// parts one after another, the bytes stored so far.
    pub received: u64,
}

/// `GET {upload_url}` of an unfinished upload: where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Position {
    pub session_id: i64,
    /// `uploading`, `completed` or `expired`.
    pub status: String,
    pub file_name: String,
    pub file_size: i64,
    /// Bytes stored without a gap from the start: where to resume.
    pub received: u64,
    pub next_part: Option<u32>,
    pub next_url: Option<String>,
    /// Every stored byte range `[start, end)`, merged; ranges past
    /// `received` need not be sent again.
    #[serde(default)]
    pub ranges: Vec<[u64; 2]>,
    #[serde(default)]
    pub max_part_size: u64,
    #[serde(default = "one")]
    pub window: u32,
    pub expires_at: i64,
}

impl Position {
    pub fn is_completed(&self) -> bool {
        self.status == "completed"
    }

    /// Whether bytes `start..end` are all stored already.
    pub fn holds(&self, start: u64, end: u64) -> bool {
        start < end && self.ranges.iter().any(|[s, e]| *s <= start && end <= *e)
    }
}

/// `GET {upload_url}` of a completed upload: the file's uuid and nothing
/// more (the URL is no key to the file; a token reads it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CompletedPoint {
    pub session_id: i64,
    /// Always `completed`.
    pub status: String,
    pub file_uuid: String,
}

/// What `GET {upload_url}` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum ResumeAnswer {
    /// The upload completed.
    Completed(CompletedPoint),
    /// Where an unfinished (or expired) upload stands.
    Open(Position),
}

/// What the widget reads of a file object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSummary {
    pub uuid: String,
    pub version_uuid: String,
    pub sha256: String,
    /// The name as Kommo shows it: without its extension.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub metadata: FileMetadata,
}

/// A file object's `metadata`, as far as the widget reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMetadata {
    /// Lowercase, without the dot; empty when the name has none.
    #[serde(default)]
    pub extension: String,
}

impl FileSummary {
    /// The name with its extension, as Kommo's PHP library writes it for
    /// an attachment note (`getNameWithExtension()`).
    pub fn name_with_extension(&self) -> String {
        match self.metadata.extension.as_str() {
            "" => self.name.clone(),
            extension => format!("{}.{extension}", self.name),
        }
    }
}

/// The resume point as the widget reads it; the file object stays as the
/// server wrote it, for the widget hands it on to its host page.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ResumeView {
    #[serde(flatten)]
    pub position: Position,
    #[serde(default)]
    pub file: Option<serde_json::Value>,
}

impl ResumeView {
    /// A fresh session's resume point: nothing stored yet.
    pub fn fresh(opened: &SessionOpened, file_name: &str, file_size: u64) -> ResumeView {
        let position = Position {
            session_id: opened.session_id,
            status: "uploading".into(),
            file_name: file_name.into(),
            file_size: file_size as i64,
            received: 0,
            next_part: Some(1),
            next_url: Some(opened.upload_url.clone()),
            ranges: Vec::new(),
            max_part_size: opened.max_part_size,
            window: opened.window,
            expires_at: opened.expires_at,
        };
        ResumeView { position, file: None }
    }

    /// A completed upload's resume point, with its file object as a token
    /// read it.
    pub fn completed(session_id: i64, file: serde_json::Value) -> ResumeView {
        let size = file.get("size").and_then(|v| v.as_i64()).unwrap_or(0);
        let position = Position {
            session_id,
            status: "completed".into(),
            file_name: file.get("name").and_then(|v| v.as_str()).unwrap_or_default().into(),
            file_size: size,
            received: size.max(0) as u64,
            next_part: None,
            next_url: None,
            ranges: Vec::new(),
            max_part_size: 0,
            window: 1,
            expires_at: 0,
        };
        ResumeView { position, file: Some(file) }
    }

    /// The completed file's digest, when there is one.
    pub fn file_sha256(&self) -> Option<&str> {
        self.file.as_ref()?.get("sha256")?.as_str()
    }
}

/// The URL of part `k` of full-size parts, as `part_url_template` says.
pub fn part_url(upload_url: &str, k: u32) -> String {
    format!("{upload_url}?part={k}")
}

fn one() -> u32 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_named_with_its_extension_as_kommos_library_names_it() {
        let file: FileSummary = serde_json::from_str(
            r#"{"uuid": "u", "version_uuid": "v", "sha256": "s", "name": "Отчёт",
                "sanitized_name": "Otchyot", "metadata": {"extension": "pdf", "mime_type": "application/pdf"}}"#,
        )
        .unwrap();
        assert_eq!(file.name_with_extension(), "Отчёт.pdf");
        let bare: FileSummary = serde_json::from_str(
            r#"{"uuid": "u", "version_uuid": "v", "sha256": "s", "name": "README",
                "metadata": {"extension": ""}}"#,
        )
        .unwrap();
        assert_eq!(bare.name_with_extension(), "README");
    }

    #[test]
    fn a_resume_answer_is_completed_only_with_a_file_uuid() {
        let done = r#"{"session_id": 3, "status": "completed", "file_uuid": "f-1"}"#;
        let ResumeAnswer::Completed(point) = serde_json::from_str(done).unwrap() else {
            panic!("a completed upload's answer")
        };
        assert_eq!((point.session_id, point.file_uuid.as_str()), (3, "f-1"));
        let open = r#"{"session_id": 3, "status": "uploading", "file_name": "a", "file_size": 10,
            "received": 4, "next_part": 2, "next_url": "u2", "expires_at": 9}"#;
        let ResumeAnswer::Open(position) = serde_json::from_str(open).unwrap() else {
            panic!("an open upload's answer")
        };
        assert_eq!((position.received, position.next_part), (4, Some(2)));
        let file = serde_json::json!({"uuid": "f-1", "name": "a", "size": 10, "sha256": "ab"});
        let view = ResumeView::completed(3, file);
        assert!(view.position.is_completed());
        assert_eq!((view.position.file_size, view.file_sha256()), (10, Some("ab")));
    }

    #[test]
    fn answers_from_before_windows_still_read() {
        let old = r#"{"session_id": 1, "status": "uploading", "file_name": "a", "file_size": 10,
            "received": 4, "next_part": 2, "next_url": "u2", "expires_at": 9, "file": null}"#;
        let view: ResumeView = serde_json::from_str(old).unwrap();
        assert_eq!((view.position.window, view.position.ranges.len()), (1, 0));
        assert!(!view.position.is_completed() && view.file.is_none());
    }

    #[test]
    fn stored_ranges_tell_which_parts_need_no_sending() {
        let position = Position {
            session_id: 1,
            status: "uploading".into(),
            file_name: "a".into(),
            file_size: 100,
            received: 10,
            next_part: Some(2),
            next_url: None,
            ranges: vec![[0, 10], [30, 50]],
            max_part_size: 10,
            window: 4,
            expires_at: 0,
        };
        assert!(position.holds(30, 40) && position.holds(40, 50));
        assert!(!position.holds(20, 30) && !position.holds(45, 55) && !position.holds(30, 30));
        assert_eq!(part_url("https://x/upload/t", 3), "https://x/upload/t?part=3");
    }
}
