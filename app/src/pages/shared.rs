//! What more than one page family uses: the entity types, a server
//! function's failure as a person reads it, and how a file, a size and a
//! moment are shown (chips, sizes, dates). Plain helpers and small views;
//! nothing here calls the server.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::upload::plan::human_bytes;

/// The entity types: path, page title and the word for one.
pub const KINDS: [(&str, &str, &str); 3] = [
    ("leads", "Leads", "lead"),
    ("contacts", "Contacts", "contact"),
    ("companies", "Companies", "company"),
];

/// The entity type whose path is `kind`, if there is one.
pub fn entity_kind(kind: &str) -> Option<(&'static str, &'static str, &'static str)> {
    KINDS.iter().copied().find(|k| k.0 == kind)
}

/// A server function's failure as a person reads it: the API's detail,
/// without the transport's prefix.
pub fn problem(error: &ServerFnError) -> String {
    match error {
        ServerFnError::ServerError(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The error of an action's last run, as an alert.
pub fn action_error<A>(action: ServerAction<A>) -> impl IntoView
where
    A: leptos::server_fn::ServerFn<Output = (), Error = ServerFnError>
        + Clone
        + Send
        + Sync
        + 'static,
{
    move || {
        action
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| view! { <p role="alert" class="error">{problem(&e)}</p> })
    }
}

/// A file as a chip shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChip {
    pub file_uuid: String,
    pub version_uuid: String,
    /// The name the note or value gives it.
    pub name: String,
    pub size: i64,
    /// `image`, `video`, `audio`, `document` or `file`.
    pub kind: String,
    pub download: String,
    pub is_deleted: bool,
}

/// A file as a chip: icon by type, name, size, download; a trashed file
/// shows as deleted, without a link.
#[component]
pub fn Chip(chip: FileChip) -> impl IntoView {
    let size = byte_size(chip.size);
    view! {
        <span class="chip" data-deleted=chip.is_deleted.to_string()>
            {kind_badge(&chip.kind)}
            {if chip.is_deleted {
                view! {
                    <span class="chip-name">{chip.name.clone()}</span>
                    <span class="chip-deleted">"deleted"</span>
                }
                .into_any()
            } else {
                view! {
                    <a class="chip-name" href=chip.download.clone() download=chip.name.clone()>
                        {chip.name.clone()}
                    </a>
                }
                .into_any()
            }}
            <span class="chip-size">{size}</span>
        </span>
    }
}

/// The badge of a file type (`icon`), as chips and the files table
/// show it.
pub fn kind_badge(kind: &str) -> impl IntoView {
    let icon = icon(kind);
    view! { <span class="chip-icon" data-kind=kind.to_owned() aria-hidden="true">{icon}</span> }
}

/// A short badge for a file type, so chips read at a glance (text, not
/// an emoji: it renders with any font).
pub fn icon(kind: &str) -> &'static str {
    match kind {
        "image" => "IMG",
        "video" => "VID",
        "audio" => "AUD",
        "document" => "DOC",
        _ => "FILE",
    }
}

/// A size in bytes as `1.5 KB` (a negative one as 0).
pub fn byte_size(bytes: i64) -> String {
    human_bytes(bytes.max(0) as u64)
}

/// Unix seconds as `2026-11-27 09:40 UTC`.
pub fn when(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", secs / 3600, secs % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_dates() {
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(1_582_977_600), "2020-02-29 12:00 UTC");
        assert_eq!(when(1_795_772_400), "2026-11-27 09:40 UTC");
        assert_eq!(when(-60), "1969-12-31 23:59 UTC");
    }

    #[test]
    fn every_type_has_an_icon() {
        assert_ne!(icon("image"), icon("file"));
        assert_eq!(icon("unknown"), icon("file"));
    }

    #[test]
    fn entity_types_are_found_by_path_only() {
        assert_eq!(entity_kind("contacts").map(|k| k.2), Some("contact"));
        assert_eq!(entity_kind("Contacts"), None);
    }

    #[test]
    fn negative_sizes_read_as_nothing() {
        assert_eq!(byte_size(-5), byte_size(0));
        assert_eq!(byte_size(1_500), "1.5 KB");
    }
}
