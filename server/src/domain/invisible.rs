//! Characters that change how a name is shown without being seen:
//! bidirectional controls (U+202E turns `invoice\u{202E}fdp.exe` into
//! what reads as "invoiceexe.pdf") and invisible formatting characters.
//! Names refuse them wherever they enter: file names, entity and field
//! names, the file names of notes.
//!
//! The joiners U+200C and U+200D stay allowed: Persian, Indic scripts and
//! emoji sequences need them, and they reorder nothing. So do variation
//! selectors and tag characters (emoji flags), which are not format
//! controls that hide text.

/// The first character of `text` that may not appear in a name.
pub fn first_in(text: &str) -> Option<char> {
    text.chars().find(|c| is_deceptive(*c))
}

/// Whether `c` is a bidirectional control or an invisible formatting
/// character (see the module doc).
fn is_deceptive(c: char) -> bool {
    matches!(c,
        // Bidirectional marks, embeddings, overrides and isolates.
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        // Soft hyphen, zero-width space, word joiner, invisible operators,
        // deprecated format characters, the byte-order mark.
        | '\u{00AD}' | '\u{180E}' | '\u{200B}' | '\u{2060}'..='\u{2064}' | '\u{206A}'..='\u{206F}'
        | '\u{FEFF}'
        // Interlinear annotation marks.
        | '\u{FFF9}'..='\u{FFFB}')
}

/// The message a name with `c` in it is refused with, for the field `what`.
pub fn refusal(what: &str, c: char) -> String {
    format!(
        "{what} must not contain U+{:04X}, a bidirectional control or invisible formatting \
         character that changes how the name is shown",
        c as u32
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_controls_and_invisible_characters_are_found() {
        assert_eq!(first_in("invoice\u{202E}fdp.exe"), Some('\u{202E}'));
        for c in ['\u{200B}', '\u{2066}', '\u{2069}', '\u{200F}', '\u{FEFF}', '\u{00AD}'] {
            assert_eq!(first_in(&format!("a{c}b")), Some(c), "U+{:04X}", c as u32);
        }
        assert!(refusal("file_name", '\u{202E}').contains("U+202E"));
    }

    #[test]
    fn scripts_and_emoji_that_need_joiners_pass() {
        for name in [
            "report.pdf",
            "می\u{200C}خواهم.txt",
            "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}.png",
            "\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}.jpg",
            "\u{2764}\u{FE0F} notes",
            "שלום.doc",
        ] {
            assert_eq!(first_in(name), None, "{name}");
        }
    }
}
