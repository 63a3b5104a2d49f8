//! An entity's feed as Kommo shows it: notes oldest to newest, where a
//! common note and an attachment note with the same `created_at` are one
//! item (the comment with its file). Calls, service messages, SMS and
//! places carry a line saying what they are (`describe`). Plain Rust,
//! tested on the host.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::pages::shared::FileChip;

/// A note as the API reads it back, reduced to what the feed needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub id: i64,
    pub created_at: i64,
    /// What the note is, for types other than a comment or a file
    /// (`describe`).
    pub detail: Option<String>,
    pub text: Option<String>,
    pub file: Option<FileChip>,
}

/// One item of the feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedItem {
    pub created_at: i64,
    pub detail: Option<String>,
    pub text: Option<String>,
    pub files: Vec<FileChip>,
}

/// A call's length as `1 min 5 s`.
fn duration(seconds: i64) -> String {
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// The line that says what a note of this type is, from its params:
/// `Incoming call · +1 415 · 1 min · Twilio`, `Service message · Bot`,
/// `SMS received · +1 415`, `Location · 222 Columbus Ave`. `None` for a
/// comment, a file or a type the feed does not know.
pub fn describe(note_type: &str, params: &Value) -> Option<String> {
    let text = |key: &str| params[key].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let mut parts: Vec<String> = Vec::new();
    let label = match note_type {
        "call_in" | "call_out" => {
            parts.extend(text("phone"));
            parts.extend(params["duration"].as_i64().map(duration));
            parts.extend(text("source"));
            if note_type == "call_in" {
                "Incoming call"
            } else {
                "Outgoing call"
            }
        }
        "service_message" | "extended_service_message" => {
            parts.extend(text("service"));
            "Service message"
        }
        "sms_in" | "sms_out" => {
            parts.extend(text("phone"));
            if note_type == "sms_in" {
                "SMS received"
            } else {
                "SMS sent"
            }
        }
        "geolocation" => {
            let coordinates =
                text("latitude").zip(text("longitude")).map(|(a, o)| format!("{a}, {o}"));
            parts.extend(text("address").or(coordinates));
            "Location"
        }
        _ => return None,
    };
    parts.insert(0, label.to_owned());
    Some(parts.join(" · "))
}

/// Groups notes (oldest first, as the API lists them) into feed items:
/// a text and the files of the same moment go together; two texts of the
/// same moment stay apart.
pub fn group(notes: Vec<Note>) -> Vec<FeedItem> {
    let mut items: Vec<FeedItem> = Vec::new();
    for note in notes {
        let joins = items.last().is_some_and(|last| {
            last.created_at == note.created_at
                && last.detail.is_none()
                && note.detail.is_none()
                && (last.text.is_none() || note.text.is_none())
        });
        if joins {
            let last = items.last_mut().expect("checked");
            if note.text.is_some() {
                last.text = note.text;
            }
            last.files.extend(note.file);
        } else {
            items.push(FeedItem {
                created_at: note.created_at,
                detail: note.detail,
                text: note.text,
                files: note.file.into_iter().collect(),
            });
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chip(name: &str) -> FileChip {
        FileChip {
            file_uuid: name.into(),
            version_uuid: format!("{name}-v"),
            name: name.into(),
            size: 1,
            kind: "document".into(),
            download: format!("/download/{name}"),
            is_deleted: false,
        }
    }

    fn text(id: i64, at: i64, t: &str) -> Note {
        Note { id, created_at: at, detail: None, text: Some(t.into()), file: None }
    }

    fn file(id: i64, at: i64, name: &str) -> Note {
        Note { id, created_at: at, detail: None, text: None, file: Some(chip(name)) }
    }

    #[test]
    fn a_comment_and_a_file_of_the_same_moment_are_one_item() {
        let feed =
            group(vec![text(1, 10, "hello"), file(2, 20, "a.pdf"), text(3, 20, "see the file")]);
        assert_eq!(feed.len(), 2);
        assert_eq!(feed[1].text.as_deref(), Some("see the file"));
        assert_eq!(feed[1].files, vec![chip("a.pdf")]);
    }

    #[test]
    fn lone_files_and_separate_moments_stay_apart() {
        let feed = group(vec![file(1, 10, "a.pdf"), file(2, 11, "b.pdf"), text(3, 12, "later")]);
        assert_eq!(feed.len(), 3);
        assert!(feed[0].text.is_none() && feed[0].files.len() == 1);
    }

    #[test]
    fn two_comments_of_one_moment_are_two_items_and_files_join_the_comment() {
        let feed = group(vec![
            text(1, 5, "one"),
            text(2, 5, "two"),
            file(3, 5, "c.png"),
            file(4, 5, "d.png"),
        ]);
        assert_eq!(feed.len(), 2);
        assert_eq!(feed[1].text.as_deref(), Some("two"));
        assert_eq!(feed[1].files.len(), 2);
        assert!(group(vec![]).is_empty());
    }

    #[test]
    fn calls_messages_sms_and_places_say_what_they_are() {
        let call = serde_json::json!({"uniq": "u", "duration": 65, "source": "Twilio",
                                      "link": null, "phone": "+14155551234"});
        assert_eq!(
            describe("call_in", &call).as_deref(),
            Some("Incoming call · +14155551234 · 1 min 5 s · Twilio")
        );
        let short = serde_json::json!({"duration": 60, "phone": "+1", "source": ""});
        assert_eq!(describe("call_out", &short).as_deref(), Some("Outgoing call · +1 · 1 min"));
        let service = serde_json::json!({"service": "Bot", "text": "Done"});
        assert_eq!(
            describe("extended_service_message", &service).as_deref(),
            Some("Service message · Bot")
        );
        let sms = serde_json::json!({"text": "Hi", "phone": "+1"});
        assert_eq!(describe("sms_out", &sms).as_deref(), Some("SMS sent · +1"));
        let place = serde_json::json!({"latitude": "32", "longitude": "-13"});
        assert_eq!(describe("geolocation", &place).as_deref(), Some("Location · 32, -13"));
        let place = serde_json::json!({"address": "222 Columbus Ave", "latitude": "32", "longitude": "-13"});
        assert_eq!(describe("geolocation", &place).as_deref(), Some("Location · 222 Columbus Ave"));
        assert_eq!(describe("common", &serde_json::json!({"text": "x"})), None);
        assert_eq!(describe("attachment", &serde_json::json!({})), None);
    }

    #[test]
    fn a_described_note_stays_its_own_item() {
        let mut sms = text(2, 10, "Hi");
        sms.detail = Some("SMS received · +1".into());
        let feed = group(vec![file(1, 10, "a.pdf"), sms, file(3, 10, "b.pdf")]);
        assert_eq!(feed.len(), 3);
        assert_eq!(feed[1].detail.as_deref(), Some("SMS received · +1"));
        assert_eq!(feed[1].text.as_deref(), Some("Hi"));
    }
}
