//! The upload widget: its arithmetic (`plan`, pure and host-tested), its
//! words (`i18n`), the state each upload shows, and, in the browser only,
//! the engine that moves the bytes (`engine`).

use leptos::prelude::*;

pub mod i18n;
pub mod plan;

#[cfg(feature = "hydrate")]
pub mod engine;

/// Where an upload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Queued,
    /// Re-reading the part of the file the server already has, to carry
    /// the whole-file digest on (after a reload).
    Hashing,
    Uploading,
    Paused,
    Offline,
    Retrying,
    Done,
    Failed,
    Cancelled,
}

impl Status {
    pub fn label(self, s: &i18n::Strings) -> &'static str {
        match self {
            Status::Queued => s.queued,
            Status::Hashing => s.hashing,
            Status::Uploading => s.uploading,
            Status::Paused => s.paused,
            Status::Offline => s.offline,
            Status::Retrying => s.retrying,
            Status::Done => s.done,
            Status::Failed => s.failed,
            Status::Cancelled => s.cancelled,
        }
    }

    /// No more bytes will move without the user asking.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Done | Status::Failed | Status::Cancelled)
    }

    /// A stable name for CSS and tests (`data-status`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Hashing => "hashing",
            Status::Uploading => "uploading",
            Status::Paused => "paused",
            Status::Offline => "offline",
            Status::Retrying => "retrying",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }
}

/// What the user asked of an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Run,
    Pause,
    Cancel,
}

/// One upload as the list shows it; every field is a signal the engine
/// writes.
#[derive(Clone, Copy)]
pub struct Item {
    pub id: u32,
    pub name: StoredValue<String>,
    pub size: u64,
    pub status: RwSignal<Status>,
    /// Bytes the server has acknowledged.
    pub done: RwSignal<u64>,
    /// Bytes per second, recent.
    pub speed: RwSignal<Option<f64>>,
    pub eta: RwSignal<Option<f64>>,
    pub error: RwSignal<Option<String>>,
    pub control: RwSignal<Control>,
}

impl Item {
    pub fn new(id: u32, name: String, size: u64) -> Item {
        Item {
            id,
            name: StoredValue::new(name),
            size,
            status: RwSignal::new(Status::Queued),
            done: RwSignal::new(0),
            speed: RwSignal::new(None),
            eta: RwSignal::new(None),
            error: RwSignal::new(None),
            control: RwSignal::new(Control::Run),
        }
    }

    /// Whole percent done, 0 to 100.
    pub fn percent(&self) -> u32 {
        percent(self.done.get(), self.size)
    }
}

/// `done` of `total` as whole percent; an empty file is 100 % once done.
pub fn percent(done: u64, total: u64) -> u32 {
    if total == 0 {
        return if done == 0 { 0 } else { 100 };
    }
    ((done.min(total) as u128 * 100) / total as u128) as u32
}

/// What the widget does with a finished file, besides uploading it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum FollowUp {
    #[default]
    None,
    /// `PUT /api/v4/{entity_type}/{id}/files`: into the Media tab.
    Attach { entity_type: String, id: i64 },
    /// An attachment note on the entity.
    Note { entity_type: String, id: i64 },
    /// The value of a file custom field of the entity.
    Field { entity_type: String, id: i64, field_id: i64 },
}

/// How an `<Uploader>` talks to Satchel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploaderOptions {
    /// Satchel's base URL; empty for the page's own origin.
    pub endpoint: String,
    /// A bearer token with the `files` scope (and `crm` for a follow-up).
    pub token: String,
    /// Upload new versions of this file instead of new files.
    pub file_uuid: Option<String>,
    pub follow_up: FollowUp,
    /// Uploads at once.
    pub concurrency: usize,
    /// A BCP 47 tag; `None` follows the browser.
    pub language: Option<String>,
    /// The part size asked of the server (it grants up to its largest).
    pub part_size: u64,
}

impl Default for UploaderOptions {
    fn default() -> Self {
        UploaderOptions {
            endpoint: String::new(),
            token: String::new(),
            file_uuid: None,
            follow_up: FollowUp::None,
            concurrency: 3,
            language: None,
            part_size: DEFAULT_PART_SIZE,
        }
    }
}

/// Most uploads at once an embedder may ask for.
pub const MAX_CONCURRENCY: usize = 8;

/// The part size the widget asks for unless told otherwise. Each part
/// costs a request, a flush and a commit, so larger parts carry more
/// bytes per cost; but a part shows as progress only once it is stored,
/// and on a 50 Mbit/s link several 4 MiB parts sharing it take a few
/// seconds each.
pub const DEFAULT_PART_SIZE: u64 = 4 * 1024 * 1024;

/// The part sizes an embedder may ask for: what servers take (a multiple
/// of 64 from `MIN_PART_SIZE`) up to the largest one grants on local disk.
pub const PART_SIZES: std::ops::RangeInclusive<u64> =
    crate::wire::MIN_PART_SIZE..=crate::wire::LOCAL_MAX_PART_SIZE;

impl UploaderOptions {
    /// The options `mount(element, options)` takes, as JSON:
    /// `{endpoint?, token, mode?, file_uuid?, entity?: {type, id},
    /// field_id?, language?, concurrency?, part_size?}`. `mode` is `new` (default),
    /// `version` (needs `file_uuid`), or after the upload `attach`, `note`
    /// or `field` (need `entity`; `field` also `field_id`).
    pub fn from_json(text: &str) -> Result<UploaderOptions, String> {
        use serde_json::Value;
        let value: Value = serde_json::from_str(text).map_err(|e| format!("options: {e}"))?;
        let string = |key: &str| -> Result<Option<String>, String> {
            match &value[key] {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s.clone())),
                _ => Err(format!("options.{key} must be a string")),
            }
        };
        let token =
            string("token")?.filter(|t| !t.is_empty()).ok_or("options.token is required")?;
        let entity = || -> Result<(String, i64), String> {
            let entity = &value["entity"];
            let kind = entity["type"].as_str().unwrap_or_default();
            if !["leads", "contacts", "companies"].contains(&kind) {
                return Err("options.entity.type must be leads, contacts or companies".into());
            }
            let id = entity["id"].as_i64().ok_or("options.entity.id must be a number")?;
            Ok((kind.to_owned(), id))
        };
        let mode = string("mode")?.unwrap_or_else(|| "new".into());
        let mut file_uuid = None;
        let follow_up = match mode.as_str() {
            "new" => FollowUp::None,
            "version" => {
                file_uuid =
                    Some(string("file_uuid")?.ok_or("mode version needs options.file_uuid")?);
                FollowUp::None
            }
            "attach" => {
                let (entity_type, id) = entity()?;
                FollowUp::Attach { entity_type, id }
            }
            "note" => {
                let (entity_type, id) = entity()?;
                FollowUp::Note { entity_type, id }
            }
            "field" => {
                let (entity_type, id) = entity()?;
                let field_id =
                    value["field_id"].as_i64().ok_or("mode field needs options.field_id")?;
                FollowUp::Field { entity_type, id, field_id }
            }
            other => {
                return Err(format!(
                    "options.mode `{other}` is not new, version, attach, note or field"
                ))
            }
        };
        let concurrency = match &value["concurrency"] {
            Value::Null => 3,
            v => v
                .as_u64()
                .filter(|n| (1..=MAX_CONCURRENCY as u64).contains(n))
                .ok_or(format!("options.concurrency must be 1 to {MAX_CONCURRENCY}"))?
                as usize,
        };
        let part_size = match &value["part_size"] {
            Value::Null => DEFAULT_PART_SIZE,
            v => v.as_u64().filter(|n| PART_SIZES.contains(n) && n.is_multiple_of(64)).ok_or(
                format!(
                    "options.part_size must be a multiple of 64 from {} to {} bytes",
                    PART_SIZES.start(),
                    PART_SIZES.end()
                ),
            )?,
        };
        Ok(UploaderOptions {
            endpoint: string("endpoint")?.unwrap_or_default(),
            token,
            file_uuid,
            follow_up,
            concurrency,
            language: string("language")?,
            part_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embed_options_parse_with_defaults_and_clear_errors() {
        let plain = UploaderOptions::from_json(r#"{"token": "t"}"#).unwrap();
        assert_eq!(plain, UploaderOptions { token: "t".into(), ..UploaderOptions::default() });
        let full = UploaderOptions::from_json(
            r#"{"endpoint": "https://files.example", "token": "t", "mode": "field",
                "entity": {"type": "leads", "id": 7}, "field_id": 3, "language": "pt-BR", "concurrency": 2}"#,
        )
        .unwrap();
        assert_eq!(
            full.follow_up,
            FollowUp::Field { entity_type: "leads".into(), id: 7, field_id: 3 }
        );
        assert_eq!((full.concurrency, full.language.as_deref()), (2, Some("pt-BR")));
        assert_eq!(full.part_size, DEFAULT_PART_SIZE);
        let small = UploaderOptions::from_json(r#"{"token": "t", "part_size": 524288}"#);
        assert_eq!(small.unwrap().part_size, 524_288);
        let version =
            UploaderOptions::from_json(r#"{"token": "t", "mode": "version", "file_uuid": "u"}"#);
        assert_eq!(version.unwrap().file_uuid.as_deref(), Some("u"));
        for (bad, says) in [
            (r#"{}"#, "token"),
            (r#"{"token": 5}"#, "token"),
            (r#"{"token": "t", "mode": "zip"}"#, "mode"),
            (r#"{"token": "t", "mode": "version"}"#, "file_uuid"),
            (
                r#"{"token": "t", "mode": "attach", "entity": {"type": "deals", "id": 1}}"#,
                "entity.type",
            ),
            (r#"{"token": "t", "mode": "note", "entity": {"type": "leads"}}"#, "entity.id"),
            (
                r#"{"token": "t", "mode": "field", "entity": {"type": "leads", "id": 1}}"#,
                "field_id",
            ),
            (r#"{"token": "t", "concurrency": 0}"#, "concurrency"),
            (r#"{"token": "t", "part_size": 1000}"#, "part_size"),
            (r#"{"token": "t", "part_size": 65601}"#, "part_size"),
            (r#"{"token": "t", "part_size": 33554432}"#, "part_size"),
            ("not json", "options"),
        ] {
            let error = UploaderOptions::from_json(bad).unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
    }

    #[test]
    fn percent_is_whole_and_capped() {
        assert_eq!(percent(0, 200), 0);
        assert_eq!(percent(199, 200), 99);
        assert_eq!(percent(200, 200), 100);
        assert_eq!(percent(500, 200), 100);
        assert_eq!(percent(0, 0), 0);
        assert_eq!(percent(1, 0), 100);
        assert_eq!(percent(u64::MAX, u64::MAX), 100);
    }

    #[test]
    fn only_finished_states_are_final() {
        assert!(
            Status::Done.is_final() && Status::Failed.is_final() && Status::Cancelled.is_final()
        );
        assert!(!Status::Paused.is_final() && !Status::Offline.is_final());
        assert_eq!(Status::Retrying.label(&i18n::PT_BR), i18n::PT_BR.retrying);
    }
}
