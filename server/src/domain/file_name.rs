//! File names as Kommo presents them: validated on the way in, split into
//! the shown name and its extension, classified into a file type, and
//! sanitized for use in download paths and headers.

use super::transliterate::to_ascii;

/// A validated file name: 1..=255 characters after trimming, no control
/// characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileName(String);

/// Kommo's file types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    Image,
    Video,
    Audio,
    Document,
    File,
}

impl FileType {
    pub fn as_str(self) -> &'static str {
        match self {
            FileType::Image => "image",
            FileType::Video => "video",
            FileType::Audio => "audio",
            FileType::Document => "document",
            FileType::File => "file",
        }
    }
}

/// Extensions shown as documents besides any text type.
const DOCUMENT_EXTENSIONS: &[&str] = &[
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp", "rtf", "txt", "csv",
    "md", "pages", "numbers", "key",
];

impl FileName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        let chars = name.chars().count();
        if chars == 0 {
            return Err("file_name must not be empty".into());
        }
        if chars > 255 {
            return Err(format!("file_name has {chars} characters; at most 255 are allowed"));
        }
        if name.chars().any(char::is_control) {
            return Err("file_name must not contain control characters".into());
        }
        if let Some(c) = super::invisible::first_in(name) {
            return Err(super::invisible::refusal("file_name", c));
        }
        Ok(FileName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lowercase extension after the last dot, if the name has one
    /// (a leading dot, as in `.env`, does not start an extension).
    pub fn extension(&self) -> Option<String> {
        extension_of(&self.0)
    }

    /// The name a rename to `shown` gives: Kommo shows names without
    /// their extension, so the extension is kept unless `shown` already
    /// ends with it.
    pub fn renamed(&self, shown: &str) -> Result<FileName, String> {
        let shown = FileName::parse(shown)?;
        match self.written_extension() {
            Some(ext) if shown.extension() != self.extension() => {
                FileName::parse(&format!("{}.{ext}", shown.as_str()))
            }
            _ => Ok(shown),
        }
    }

    /// What a file is called when `version` becomes its active version
    /// again: the name it is shown by stays, the extension becomes the
    /// version's (as written; none when the version has none), so the
    /// extension always matches the bytes and their MIME type.
    pub fn with_extension_of(&self, version: &FileName) -> FileName {
        let joined = match version.written_extension() {
            Some(ext) => format!("{}.{ext}", self.stem()),
            None => self.stem().to_owned(),
        };
        // Only a name at the length limit can outgrow it; the version's
        // own name is a valid one.
        FileName::parse(&joined).unwrap_or_else(|_| version.clone())
    }

    /// The extension as written, case and all.
    fn written_extension(&self) -> Option<&str> {
        match self.0.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => Some(ext),
            _ => None,
        }
    }

    /// The name without its extension, as Kommo shows it.
    pub fn stem(&self) -> &str {
        match self.0.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => stem,
            _ => &self.0,
        }
    }

    /// Kommo's `sanitized_name`: the name as shown (without its
    /// extension) in ASCII, as `transliterate::to_ascii` writes it.
    pub fn sanitized_stem(&self) -> String {
        to_ascii(self.stem())
    }

    /// The whole name in ASCII, extension included: the last segment of a
    /// download link (Kommo's end in `picture.png`).
    pub fn ascii(&self) -> String {
        to_ascii(&self.0)
    }

    /// The whole name with path separators, quotes and other characters
    /// that break paths or headers replaced by `_`.
    pub fn sanitized(&self) -> String {
        self.0
            .chars()
            .map(|c| match c {
                '/' | '\\' | '"' | '\'' | '<' | '>' | ':' | '|' | '?' | '*' | '%' | '#' => '_',
                c => c,
            })
            .collect()
    }

    /// The MIME type: the client's when it gave a valid one, else a guess
    /// from the extension, else `application/octet-stream`.
    pub fn mime_type(&self, given: Option<&str>) -> String {
        if let Some(given) = given.map(str::trim).filter(|g| is_mime_type(g)) {
            return given.to_ascii_lowercase();
        }
        mime_guess::from_path(&self.0).first_or_octet_stream().essence_str().to_owned()
    }
}

/// `type/subtype` with token characters, optionally followed by parameters.
pub fn is_mime_type(text: &str) -> bool {
    let essence = text.split(';').next().unwrap_or_default().trim();
    let token = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    matches!(essence.split_once('/'), Some((t, s)) if token(t) && token(s))
}

/// Kommo's type of a file with this MIME type and extension.
pub fn classify(mime: &str, extension: Option<&str>) -> FileType {
    let top = mime.split('/').next().unwrap_or_default();
    match top {
        "image" => FileType::Image,
        "video" => FileType::Video,
        "audio" => FileType::Audio,
        "text" => FileType::Document,
        _ if extension.is_some_and(|e| DOCUMENT_EXTENSIONS.contains(&e)) => FileType::Document,
        _ => FileType::File,
    }
}

/// The lowercase extension of a stored name: what follows its last dot,
/// when both sides of that dot are non-empty. The listing's extension
/// filter reads the copy kept in `files.extension` (migration 0005).
pub fn extension_of(name: &str) -> Option<String> {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => Some(ext.to_lowercase()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_keep_the_extension_unless_they_repeat_it() {
        let name = FileName::parse("Report.PDF").unwrap();
        assert_eq!(name.renamed("Q3 summary").unwrap().as_str(), "Q3 summary.PDF");
        assert_eq!(name.renamed("Q3 summary.pdf").unwrap().as_str(), "Q3 summary.pdf");
        assert_eq!(name.renamed("v1.2 final").unwrap().as_str(), "v1.2 final.PDF");
        let bare = FileName::parse("Makefile").unwrap();
        assert_eq!(bare.renamed("Justfile").unwrap().as_str(), "Justfile");
        assert!(name.renamed("  ").is_err());
        assert!(name.renamed("a\nb").is_err());
        let spoof = name.renamed("invoice\u{202E}fdp.exe").unwrap_err();
        assert!(spoof.contains("U+202E"), "{spoof}");
        assert!(FileName::parse("\u{2067}report.pdf").is_err());
    }

    /// KELVIN SIGN lowercases to the one-byte `k`: the lowercase extension
    /// is shorter than the written one, which must never be used to cut
    /// the written name.
    #[test]
    fn extensions_that_change_length_when_lowercased_are_kept_as_written() {
        let name = FileName::parse("a.\u{212A}").unwrap();
        assert_eq!(name.extension().as_deref(), Some("k"));
        assert_eq!(name.renamed("b").unwrap().as_str(), "b.\u{212A}");
        assert_eq!(name.renamed("b.K").unwrap().as_str(), "b.K");
        assert_eq!(name.stem(), "a");
        let v2 = FileName::parse("photo.\u{130}MG").unwrap();
        assert_eq!(name.with_extension_of(&v2).as_str(), "a.\u{130}MG");
        assert_eq!(v2.sanitized_stem(), "photo");
    }

    #[test]
    fn a_version_made_active_again_brings_its_extension_not_its_name() {
        let file = FileName::parse("Q3 summary.docx").unwrap();
        let v1 = FileName::parse("Report.PDF").unwrap();
        assert_eq!(file.with_extension_of(&v1).as_str(), "Q3 summary.PDF");
        let bare = FileName::parse("notes").unwrap();
        assert_eq!(file.with_extension_of(&bare).as_str(), "Q3 summary");
        assert_eq!(bare.with_extension_of(&v1).as_str(), "notes.PDF");
        let longest = FileName::parse(&format!("{}.md", "a".repeat(252))).unwrap();
        let long_ext = FileName::parse("x.markdown").unwrap();
        assert_eq!(longest.with_extension_of(&long_ext), long_ext, "over 255 characters");
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(FileName::parse("  a.pdf ").unwrap().as_str(), "a.pdf");
        assert!(FileName::parse("   ").is_err());
        assert!(FileName::parse(&"é".repeat(255)).is_ok(), "characters, not bytes");
        assert!(FileName::parse(&"a".repeat(256)).is_err());
        assert!(FileName::parse("a\u{0}b").is_err());
        assert!(FileName::parse("line\nbreak").is_err());
    }

    #[test]
    fn extension_and_stem_split_at_the_last_dot() {
        let n = FileName::parse("Report.Final.PDF").unwrap();
        assert_eq!(n.extension().as_deref(), Some("pdf"));
        assert_eq!(n.stem(), "Report.Final");
        let dotfile = FileName::parse(".env").unwrap();
        assert_eq!(dotfile.extension(), None);
        assert_eq!(dotfile.stem(), ".env");
        assert_eq!(FileName::parse("README").unwrap().extension(), None);
    }

    #[test]
    fn mime_type_prefers_a_valid_client_value_then_the_extension() {
        let n = FileName::parse("photo.JPG").unwrap();
        assert_eq!(n.mime_type(None), "image/jpeg");
        assert_eq!(n.mime_type(Some("image/png")), "image/png");
        assert_eq!(n.mime_type(Some("not a mime")), "image/jpeg");
        assert_eq!(
            FileName::parse("blob.zzz9").unwrap().mime_type(None),
            "application/octet-stream"
        );
    }

    #[test]
    fn types_follow_kommo_categories() {
        assert_eq!(classify("image/png", Some("png")), FileType::Image);
        assert_eq!(classify("video/mp4", Some("mp4")), FileType::Video);
        assert_eq!(classify("audio/mpeg", Some("mp3")), FileType::Audio);
        assert_eq!(classify("application/pdf", Some("pdf")), FileType::Document);
        assert_eq!(classify("text/plain", None), FileType::Document);
        assert_eq!(classify("application/zip", Some("zip")), FileType::File);
    }

    #[test]
    fn the_sanitized_name_is_the_shown_name_in_ascii() {
        let n = FileName::parse("Отчёт за Q3.PDF").unwrap();
        assert_eq!(n.sanitized_stem(), "Otchyot za Q3");
        assert_eq!(n.ascii(), "Otchyot za Q3.PDF");
        let n = FileName::parse("Relatório final.docx").unwrap();
        assert_eq!((n.stem(), n.sanitized_stem().as_str()), ("Relatório final", "Relatorio final"));
        assert_eq!(FileName::parse("source.jpeg").unwrap().sanitized_stem(), "source");
        assert_eq!(FileName::parse(".env").unwrap().sanitized_stem(), ".env");
        assert_eq!(FileName::parse("a/b?.txt").unwrap().sanitized_stem(), "a_b_");
    }

    #[test]
    fn sanitized_names_cannot_break_paths_or_headers() {
        let n = FileName::parse(r#"a/b\c"d?.txt"#).unwrap();
        assert_eq!(n.sanitized(), "a_b_c_d_.txt");
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever a client sends as a name, parsing answers (never
        /// panics), and a name it takes keeps every promise.
        #[test]
        fn any_text_is_taken_or_refused_with_a_reason(raw in any::<String>()) {
            match FileName::parse(&raw) {
                Ok(name) => {
                    let text = name.as_str();
                    prop_assert_eq!(text, raw.trim());
                    prop_assert!((1..=255).contains(&text.chars().count()));
                    prop_assert!(!text.chars().any(char::is_control));
                    prop_assert!(crate::domain::invisible::first_in(text).is_none());
                    // Everything derived from a good name works.
                    let _ = (name.extension(), name.stem(), name.sanitized(), name.ascii());
                    let _ = (name.sanitized_stem(), name.mime_type(None));
                    let _ = name.with_extension_of(&name);
                }
                Err(reason) => prop_assert!(!reason.is_empty()),
            }
        }

        #[test]
        fn renaming_with_any_text_answers(raw in "[a-zA-Z0-9 ._-]{1,40}", shown in any::<String>()) {
            if let Ok(name) = FileName::parse(&raw) {
                if let Ok(renamed) = name.renamed(&shown) {
                    prop_assert!(FileName::parse(renamed.as_str()).is_ok());
                }
            }
        }

        #[test]
        fn an_extension_is_read_from_any_text(raw in any::<String>()) {
            if let Some(extension) = extension_of(&raw) {
                prop_assert!(!extension.is_empty());
                prop_assert_eq!(extension.to_lowercase(), extension.clone());
            }
        }
    }
}
