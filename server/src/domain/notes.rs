//! Notes of every type Kommo documents, in plain Rust: the types, the
//! `params` each one requires, what an item of an add or an edit may
//! carry, and the list's filters (`filter[id]`, `filter[entity_id]`,
//! `filter[note_type]`, `filter[updated_at]`, `order[...]`, `page`,
//! `limit`). A bad value becomes a `FieldError` with Kommo's path, so one
//! answer lists every problem of a batch and nothing is written.
//!
//! Kommo's reference gives an example of each type's `params` but marks
//! nothing required. The rules here: what the note cannot show without
//! (a common note's text, an SMS's phone and text, a call's phone,
//! duration and source as Kommo's calls method requires them, a service
//! message's service and text, a place's coordinates) is required; the
//! rest is optional. `null` counts as absent, since Kommo's PHP library
//! sends every key of a type and `null` for those not set. Keys a type
//! does not know are ignored, so a note read back can be sent again.

use serde_json::{Map, Value};

use super::{
    crm::{invalid_type, parse_file_ref, parse_time, FieldError, FileRef, MAX_TEXT_CHARS},
    paging::{Paging, MAX_LIMIT},
    query::QueryParams,
};

/// Longest phone, service, source, address or other short param.
pub const MAX_SHORT_CHARS: usize = 255;
/// Longest link to a call's recording.
pub const MAX_LINK_CHARS: usize = 2048;

/// The note types Kommo documents as writable through its API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoteType {
    Common,
    CallIn,
    CallOut,
    ServiceMessage,
    ExtendedServiceMessage,
    Geolocation,
    SmsIn,
    SmsOut,
    Attachment,
}

impl NoteType {
    pub const ALL: [NoteType; 9] = [
        NoteType::Common,
        NoteType::CallIn,
        NoteType::CallOut,
        NoteType::ServiceMessage,
        NoteType::ExtendedServiceMessage,
        NoteType::Geolocation,
        NoteType::SmsIn,
        NoteType::SmsOut,
        NoteType::Attachment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoteType::Common => "common",
            NoteType::CallIn => "call_in",
            NoteType::CallOut => "call_out",
            NoteType::ServiceMessage => "service_message",
            NoteType::ExtendedServiceMessage => "extended_service_message",
            NoteType::Geolocation => "geolocation",
            NoteType::SmsIn => "sms_in",
            NoteType::SmsOut => "sms_out",
            NoteType::Attachment => "attachment",
        }
    }

    pub fn parse(text: &str) -> Option<NoteType> {
        NoteType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// Every type, for messages: `common, call_in, ...`.
    pub fn names() -> String {
        NoteType::ALL.map(NoteType::as_str).join(", ")
    }
}

/// What a note holds, checked.
#[derive(Clone, Debug, PartialEq)]
pub enum NoteContent {
    /// Every type but `attachment`: its params, reduced to the keys the
    /// type knows, as they are stored and read back.
    Params(Map<String, Value>),
    /// An attachment: a file (and maybe a version) still to resolve.
    Attachment(FileRef),
}

impl NoteContent {
    /// The note's text, where its type has one.
    pub fn text(&self) -> Option<&str> {
        match self {
            NoteContent::Params(params) => params.get("text").and_then(Value::as_str),
            NoteContent::Attachment(_) => None,
        }
    }
}

/// How a param is read.
#[derive(Clone, Copy)]
enum Kind {
    /// A string of 1 to `max` characters once trimmed.
    Text(usize),
    /// A whole number from 0 (or a string of digits, as PHP may send it).
    Count,
    /// A decimal number within ±`bound`, kept as the string Kommo shows.
    Coordinate(f64),
    /// A string or a whole number, kept as sent.
    Scalar,
}

/// One param of a type: its key, how it is read, whether it is required.
struct Param(&'static str, Kind, bool);

const REQUIRED: bool = true;
const OPTIONAL: bool = false;

fn params_of(note_type: NoteType) -> &'static [Param] {
    use Kind::*;
    match note_type {
        NoteType::Common => &[Param("text", Text(MAX_TEXT_CHARS), REQUIRED)],
        NoteType::CallIn | NoteType::CallOut => &[
            Param("uniq", Text(MAX_SHORT_CHARS), OPTIONAL),
            Param("duration", Count, REQUIRED),
            Param("source", Text(MAX_SHORT_CHARS), REQUIRED),
            Param("link", Text(MAX_LINK_CHARS), OPTIONAL),
            Param("phone", Text(MAX_SHORT_CHARS), REQUIRED),
            Param("call_result", Text(MAX_SHORT_CHARS), OPTIONAL),
            Param("call_status", Count, OPTIONAL),
            Param("call_responsible", Scalar, OPTIONAL),
        ],
        NoteType::ServiceMessage | NoteType::ExtendedServiceMessage => &[
            Param("service", Text(MAX_SHORT_CHARS), REQUIRED),
            Param("text", Text(MAX_TEXT_CHARS), REQUIRED),
        ],
        NoteType::Geolocation => &[
            Param("text", Text(MAX_TEXT_CHARS), OPTIONAL),
            Param("address", Text(MAX_SHORT_CHARS), OPTIONAL),
            Param("longitude", Coordinate(180.0), REQUIRED),
            Param("latitude", Coordinate(90.0), REQUIRED),
        ],
        NoteType::SmsIn | NoteType::SmsOut => &[
            Param("text", Text(MAX_TEXT_CHARS), REQUIRED),
            Param("phone", Text(MAX_SHORT_CHARS), REQUIRED),
        ],
        NoteType::Attachment => &[],
    }
}

/// One param's value, or the problem with it.
fn read(kind: Kind, value: &Value, path: &str) -> Result<Value, FieldError> {
    match (kind, value) {
        (Kind::Text(max), Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                Err(FieldError::new("NotBlank", path, "must not be empty"))
            } else if s.chars().count() > max {
                Err(FieldError::new("TooLong", path, format!("must be at most {max} characters")))
            } else {
                Ok(Value::String(s.to_owned()))
            }
        }
        (Kind::Text(_), other) => Err(invalid_type(path, "a string", other)),
        (Kind::Count, Value::Number(n)) if n.as_i64().is_some_and(|n| n >= 0) => {
            Ok(Value::Number(n.clone()))
        }
        (Kind::Count, Value::String(s))
            if !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(Value::from(s.parse::<i64>().expect("checked digits")))
        }
        (Kind::Count, other) => Err(invalid_type(path, "a whole number from 0", other)),
        (Kind::Coordinate(bound), Value::String(_) | Value::Number(_)) => {
            let text = match value {
                Value::String(s) => s.trim().to_owned(),
                other => other.to_string(),
            };
            match text.parse::<f64>() {
                Ok(n) if n.is_finite() && n.abs() <= bound => Ok(Value::String(text)),
                _ => Err(FieldError::new(
                    "InvalidValue",
                    path,
                    format!("must be a decimal number from -{bound} to {bound}, not `{text}`"),
                )),
            }
        }
        (Kind::Coordinate(_), other) => Err(invalid_type(path, "a decimal number", other)),
        (Kind::Scalar, Value::String(_)) => Ok(value.clone()),
        (Kind::Scalar, Value::Number(n)) if n.is_i64() => Ok(value.clone()),
        (Kind::Scalar, other) => Err(invalid_type(path, "a string or a whole number", other)),
    }
}

/// The `params` of a note of this type, checked. Problems go to
/// `errors` (paths `params.<key>`); `None` when there was any.
pub fn parse_params(
    note_type: NoteType,
    params: &Value,
    errors: &mut Vec<FieldError>,
) -> Option<NoteContent> {
    if note_type == NoteType::Attachment {
        return parse_file_ref(params, "params", errors).map(NoteContent::Attachment);
    }
    let empty = Map::new();
    let object = match params {
        Value::Object(object) => object,
        Value::Null => &empty,
        other => {
            errors.push(invalid_type("params", "an object", other));
            return None;
        }
    };
    let before = errors.len();
    let mut kept = Map::new();
    for Param(key, kind, required) in params_of(note_type) {
        let path = format!("params.{key}");
        match object.get(*key) {
            None | Some(Value::Null) if *required => errors.push(FieldError::new(
                "NotBlank",
                path,
                format!("a {} note needs params.{key}", note_type.as_str()),
            )),
            None | Some(Value::Null) => {}
            Some(value) => match read(*kind, value, &path) {
                Ok(value) => {
                    kept.insert((*key).to_owned(), value);
                }
                // An optional text sent empty is as good as absent.
                Err(e) if !*required && e.code == "NotBlank" => {}
                Err(e) => errors.push(e),
            },
        }
    }
    (errors.len() == before).then_some(NoteContent::Params(kept))
}

/// Whether an item adds a note or edits one (of the type it has now).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Add,
    Edit { stored: NoteType },
}

/// One item of an add or an edit, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct NoteItem {
    /// The note edited (an edit's `id`).
    pub id: Option<i64>,
    /// The entity the note is (or must be) on.
    pub entity_id: Option<i64>,
    /// The type: as sent, or the stored one for an edit.
    pub note_type: NoteType,
    /// The new content; an edit without `params` keeps the old one.
    pub content: Option<NoteContent>,
    pub created_at: Option<i64>,
    pub updated_at: Option<i64>,
    /// Echoed exactly as sent (a string or a whole number).
    pub request_id: Option<Value>,
}

/// A positive whole number at `key`, if sent.
fn optional_id(
    object: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Option<i64> {
    match object.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.as_i64().is_some_and(|n| n > 0) => n.as_i64(),
        Some(other) => {
            errors.push(invalid_type(key, "a whole number from 1", other));
            None
        }
    }
}

/// An item of an add or an edit: `{note_type, params, entity_id?, id?,
/// created_at?, updated_at?, request_id?}`. Other keys a note read back
/// carries (`created_by`, `responsible_user_id`, `group_id`,
/// `is_need_to_trigger_digital_pipeline`, `_links`, ...) are ignored.
/// `None` when any problem was found (they are in `errors`).
pub fn parse_note_item(
    value: &Value,
    mode: Mode,
    errors: &mut Vec<FieldError>,
) -> Option<NoteItem> {
    let Value::Object(object) = value else {
        errors.push(invalid_type("", "an object", value));
        return None;
    };
    let before = errors.len();
    let id = optional_id(object, "id", errors);
    let entity_id = optional_id(object, "entity_id", errors);
    let mut time = |key: &str| match object.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => parse_time(v, key).map_err(|e| errors.push(e)).ok(),
    };
    let (created_at, updated_at) = (time("created_at"), time("updated_at"));
    let request_id = match object.get("request_id") {
        None | Some(Value::Null) => None,
        Some(v @ Value::String(_)) => Some(v.clone()),
        Some(v @ Value::Number(n)) if n.is_i64() || n.is_u64() => Some(v.clone()),
        Some(other) => {
            errors.push(invalid_type("request_id", "a string", other));
            None
        }
    };
    let sent_type = match object.get("note_type") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match NoteType::parse(s.trim()) {
            Some(t) => Some(t),
            None => {
                errors.push(FieldError::new(
                    "NotSupportedChoice",
                    "note_type",
                    format!("note_type must be one of {}, not `{s}`", NoteType::names()),
                ));
                return None;
            }
        },
        Some(other) => {
            errors.push(invalid_type("note_type", "a string", other));
            return None;
        }
    };
    let note_type = match (mode, sent_type) {
        (_, Some(t)) => t,
        (Mode::Edit { stored }, None) => stored,
        (Mode::Add, None) => {
            errors.push(FieldError::new(
                "NotBlank",
                "note_type",
                format!("a note_type is required: one of {}", NoteType::names()),
            ));
            return None;
        }
    };
    let content = match (mode, object.get("params")) {
        (Mode::Edit { stored }, None) if stored == note_type => None,
        (Mode::Edit { .. }, None) => {
            errors.push(FieldError::new(
                "NotBlank",
                "params",
                format!("a note that becomes {} needs its params", note_type.as_str()),
            ));
            None
        }
        (_, params) => parse_params(note_type, params.unwrap_or(&Value::Null), errors),
    };
    (errors.len() == before).then_some(NoteItem {
        id,
        entity_id,
        note_type,
        content,
        created_at,
        updated_at,
        request_id,
    })
}

/// `order[updated_at]` or `order[id]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderField {
    UpdatedAt,
    Id,
}

impl OrderField {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderField::UpdatedAt => "updated_at",
            OrderField::Id => "id",
        }
    }
}

/// `filter[updated_at]`, in the form it was sent (page links repeat it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdatedAt {
    /// `filter[updated_at]=ts`: edited at or after `ts`.
    Since(i64),
    /// `filter[updated_at][from]` and/or `[to]`, both ends included.
    Range { from: Option<i64>, to: Option<i64> },
}

impl UpdatedAt {
    /// The bounds, both included.
    pub fn bounds(self) -> (Option<i64>, Option<i64>) {
        match self {
            UpdatedAt::Since(ts) => (Some(ts), None),
            UpdatedAt::Range { from, to } => (from, to),
        }
    }
}

/// The notes list's query, read from Kommo's parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoteFilter {
    pub ids: Vec<i64>,
    pub entity_ids: Vec<i64>,
    pub note_types: Vec<NoteType>,
    pub updated_at: Option<UpdatedAt>,
    /// In the order given; empty: oldest first (`created_at`, then `id`),
    /// the order of an entity's feed.
    pub order: Vec<(OrderField, bool)>,
    /// Whether `with=is_pinned` asked for the pin flag.
    pub with_is_pinned: bool,
    pub paging: Paging,
}

/// A whole number from `min`, or a problem naming `key`.
fn number(key: &str, value: &str, min: i64) -> Result<i64, String> {
    value
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= min)
        .ok_or_else(|| format!("{key} must be a whole number from {min}, not `{value}`"))
}

fn ids(query: &QueryParams, key: &str) -> Result<Vec<i64>, String> {
    let named = format!("{key}[]");
    let ids = query
        .list(key)
        .into_iter()
        .map(|v| number(&named, v, 1))
        .collect::<Result<Vec<i64>, String>>()?;
    if ids.len() > MAX_LIMIT as usize {
        return Err(format!("{named} names at most {MAX_LIMIT} ids, not {}", ids.len()));
    }
    Ok(ids)
}

fn timestamp(query: &QueryParams, key: &str) -> Result<Option<i64>, String> {
    match query.one(key)? {
        None | Some("") => Ok(None),
        Some(v) => number(key, v, 0).map(Some),
    }
}

impl NoteFilter {
    /// Reads the list's parameters; a bad one is an error naming it.
    /// `filter[...]` and `order[...]` keys the list does not know are
    /// ignored, as Kommo ignores them. `page` and `limit` are read as
    /// every list reads them (`Paging`).
    pub fn from_query(query: &QueryParams) -> Result<NoteFilter, String> {
        let note_types = query
            .comma_list("filter[note_type]")
            .into_iter()
            .map(|v| {
                NoteType::parse(v).ok_or_else(|| {
                    format!("filter[note_type][] must name {}, not `{v}`", NoteType::names())
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let since = timestamp(query, "filter[updated_at]")?;
        let (from, to) = (
            timestamp(query, "filter[updated_at][from]")?,
            timestamp(query, "filter[updated_at][to]")?,
        );
        let updated_at = match (since, from, to) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err("filter[updated_at] takes one timestamp or [from]/[to], not both".into())
            }
            (Some(ts), None, None) => Some(UpdatedAt::Since(ts)),
            (None, None, None) => None,
            (None, from, to) => Some(UpdatedAt::Range { from, to }),
        };
        if let Some(UpdatedAt::Range { from: Some(from), to: Some(to) }) = updated_at {
            if from > to {
                return Err(format!(
                    "filter[updated_at][from] ({from}) is after filter[updated_at][to] ({to})"
                ));
            }
        }
        let mut order = Vec::new();
        for key in query.keys() {
            let field = match key {
                "order[updated_at]" => OrderField::UpdatedAt,
                "order[id]" => OrderField::Id,
                _ => continue,
            };
            let ascending = match query.one(key)?.map(str::to_ascii_lowercase).as_deref() {
                Some("asc") => true,
                Some("desc") => false,
                other => {
                    return Err(format!("{key} is asc or desc, not `{}`", other.unwrap_or("")))
                }
            };
            order.push((field, ascending));
        }
        Ok(NoteFilter {
            ids: ids(query, "filter[id]")?,
            entity_ids: ids(query, "filter[entity_id]")?,
            note_types,
            updated_at,
            order,
            with_is_pinned: query.comma_list("with").contains(&"is_pinned"),
            paging: Paging::from_query(query)?,
        })
    }

    /// The query string of another page of the same list, in Kommo's
    /// forms (`filter[id][]=1`, `filter[updated_at][from]=...`).
    pub fn page_query(&self, page: i64) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for id in &self.ids {
            query.append_pair("filter[id][]", &id.to_string());
        }
        for id in &self.entity_ids {
            query.append_pair("filter[entity_id][]", &id.to_string());
        }
        for t in &self.note_types {
            query.append_pair("filter[note_type][]", t.as_str());
        }
        match self.updated_at {
            Some(UpdatedAt::Since(ts)) => {
                query.append_pair("filter[updated_at]", &ts.to_string());
            }
            Some(UpdatedAt::Range { from, to }) => {
                if let Some(from) = from {
                    query.append_pair("filter[updated_at][from]", &from.to_string());
                }
                if let Some(to) = to {
                    query.append_pair("filter[updated_at][to]", &to.to_string());
                }
            }
            None => {}
        }
        for (field, ascending) in &self.order {
            query.append_pair(
                &format!("order[{}]", field.as_str()),
                if *ascending { "asc" } else { "desc" },
            );
        }
        if self.with_is_pinned {
            query.append_pair("with", "is_pinned");
        }
        self.paging.append_to(page, &mut query);
        query.finish()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn add(value: Value) -> (Option<NoteItem>, Vec<(&'static str, String)>) {
        let mut errors = vec![];
        let item = parse_note_item(&value, Mode::Add, &mut errors);
        (item, errors.into_iter().map(|e| (e.code, e.path)).collect())
    }

    fn params_of_item(item: &NoteItem) -> Value {
        match &item.content {
            Some(NoteContent::Params(p)) => Value::Object(p.clone()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn types_round_trip_and_others_are_refused() {
        for t in NoteType::ALL {
            assert_eq!(NoteType::parse(t.as_str()), Some(t));
        }
        assert_eq!(NoteType::parse("invoice_paid"), None);
        let (item, errors) = add(json!({"note_type": "sms", "params": {}}));
        assert!(item.is_none());
        assert_eq!(errors, [("NotSupportedChoice", "note_type".into())]);
        assert_eq!(add(json!({"params": {}})).1, [("NotBlank", "note_type".into())]);
    }

    #[test]
    fn kommos_examples_of_every_type_are_accepted_as_sent() {
        for (note_type, params) in [
            ("common", json!({"text": "Common note"})),
            (
                "call_in",
                json!({"uniq": "8f52d38a-5fb3-406d-93a3-a4832dc28f8b", "duration": 60,
                       "source": "Twilio", "link": "https://example.com", "phone": "+14155551234"}),
            ),
            ("service_message", json!({"service": "Example service", "text": "Note text"})),
            (
                "extended_service_message",
                json!({"service": "Example service", "text": "Note text"}),
            ),
            (
                "geolocation",
                json!({"text": "Geolocation", "address": "222 Columbus Ave Ste 407",
                       "longitude": "-13", "latitude": "32"}),
            ),
            ("sms_out", json!({"text": "New outgoing SMS", "phone": "+14155551234"})),
        ] {
            let (item, errors) = add(json!({"note_type": note_type, "params": params}));
            assert!(errors.is_empty(), "{note_type}: {errors:?}");
            let item = item.unwrap();
            assert_eq!(item.note_type.as_str(), note_type);
            assert_eq!(params_of_item(&item), params, "{note_type}");
        }
    }

    #[test]
    fn the_php_librarys_nulls_are_absent_and_unknown_keys_are_dropped() {
        let (item, errors) = add(json!({
            "note_type": "call_out", "request_id": "0", "entity_id": 7,
            "is_need_to_trigger_digital_pipeline": false, "created_by": 3,
            "params": {"uniq": null, "duration": "15", "source": "SIP", "link": null,
                       "phone": " +1 415 555 ", "call_status": 4, "other": "x"}
        }));
        assert!(errors.is_empty(), "{errors:?}");
        let item = item.unwrap();
        assert_eq!(item.request_id, Some(json!("0")));
        assert_eq!(item.entity_id, Some(7));
        assert_eq!(
            params_of_item(&item),
            json!({"duration": 15, "source": "SIP", "phone": "+1 415 555", "call_status": 4})
        );
        let (item, _) = add(json!({"note_type": "geolocation", "request_id": 12,
                                   "params": {"latitude": 32.5, "longitude": -13, "address": ""}}));
        let item = item.unwrap();
        assert_eq!(item.request_id, Some(json!(12)), "kept as sent");
        assert_eq!(params_of_item(&item), json!({"latitude": "32.5", "longitude": "-13"}));
    }

    #[test]
    fn every_missing_or_bad_param_is_named() {
        let (_, errors) =
            add(json!({"note_type": "call_in", "params": {"duration": -1, "phone": 5}}));
        assert_eq!(
            errors,
            [
                ("InvalidType", "params.duration".into()),
                ("NotBlank", "params.source".into()),
                ("InvalidType", "params.phone".into()),
            ]
        );
        let (_, errors) = add(json!({"note_type": "geolocation",
                                     "params": {"latitude": "91", "longitude": "east"}}));
        assert_eq!(
            errors,
            [
                ("InvalidValue", "params.longitude".into()),
                ("InvalidValue", "params.latitude".into())
            ]
        );
        let (_, errors) = add(json!({"note_type": "sms_in", "params": {"text": " "}}));
        assert_eq!(
            errors,
            [("NotBlank", "params.text".into()), ("NotBlank", "params.phone".into())]
        );
        let (_, errors) = add(json!({"note_type": "service_message"}));
        assert_eq!(
            errors,
            [("NotBlank", "params.service".into()), ("NotBlank", "params.text".into())]
        );
        let (_, errors) = add(json!({"note_type": "common", "params": "text"}));
        assert_eq!(errors, [("InvalidType", "params".into())]);
        let (_, errors) = add(json!({"note_type": "attachment", "params": {},
                                     "created_at": -1, "entity_id": "7", "request_id": []}));
        assert_eq!(
            errors,
            [
                ("InvalidType", "entity_id".into()),
                ("InvalidType", "created_at".into()),
                ("InvalidType", "request_id".into()),
                ("NotBlank", "params.file_uuid".into()),
            ]
        );
        let (_, errors) =
            add(json!({"note_type": "common", "params": {"text": "x".repeat(MAX_TEXT_CHARS + 1)}}));
        assert_eq!(errors, [("TooLong", "params.text".into())]);
    }

    #[test]
    fn attachments_keep_their_file_reference() {
        let (item, errors) = add(json!({"note_type": "attachment", "created_at": 1700000000,
            "params": {"file_uuid": "f", "version_uuid": "v", "file_name": "a.pdf",
                       "original_name": "a.pdf", "is_drive_attachment": true}}));
        assert!(errors.is_empty(), "{errors:?}");
        let item = item.unwrap();
        assert_eq!(item.created_at, Some(1700000000));
        assert!(matches!(&item.content, Some(NoteContent::Attachment(f))
            if f.file_uuid == "f" && f.version_uuid.as_deref() == Some("v")));
    }

    #[test]
    fn an_edit_keeps_its_type_and_content_unless_it_sends_new_ones() {
        let mut errors = vec![];
        let stored = Mode::Edit { stored: NoteType::SmsIn };
        let item =
            parse_note_item(&json!({"id": 4, "updated_at": 9}), stored, &mut errors).unwrap();
        assert_eq!(
            (item.id, item.note_type, item.content, item.updated_at),
            (Some(4), NoteType::SmsIn, None, Some(9))
        );
        let item = parse_note_item(
            &json!({"id": 4, "params": {"text": "new", "phone": "+1"}}),
            stored,
            &mut errors,
        )
        .unwrap();
        assert_eq!(item.content.unwrap().text(), Some("new"));
        assert!(errors.is_empty());
        assert!(parse_note_item(&json!({"id": 4, "note_type": "common"}), stored, &mut errors)
            .is_none());
        assert_eq!(errors[0].path, "params");
        assert!(parse_note_item(&json!({"id": 0}), stored, &mut errors).is_none());
        assert_eq!(errors[1].path, "id");
    }

    fn filter(raw: &str) -> Result<NoteFilter, String> {
        NoteFilter::from_query(&QueryParams::parse(raw))
    }

    #[test]
    fn filters_read_every_list_form_the_php_library_and_kommo_write() {
        let f = filter(
            "filter%5Bid%5D%5B0%5D=3&filter%5Bid%5D%5B2%5D=5&filter%5Bentity_id%5D%5B0%5D=7\
             &filter%5Bnote_type%5D%5B0%5D=common&filter[note_type]=call_in,sms_out\
             &filter%5Bupdated_at%5D%5Bfrom%5D=10&filter%5Bupdated_at%5D%5Bto%5D=20\
             &order%5Bupdated_at%5D=desc&order[id]=ASC&limit=50&page=2&with=is_pinned\
             &filter[responsible_user_id]=1&order[created_at]=asc",
        )
        .unwrap();
        assert_eq!(f.ids, [3, 5]);
        assert_eq!(f.entity_ids, [7]);
        assert_eq!(f.note_types, [NoteType::Common, NoteType::CallIn, NoteType::SmsOut]);
        assert_eq!(f.updated_at, Some(UpdatedAt::Range { from: Some(10), to: Some(20) }));
        assert_eq!(f.order, [(OrderField::UpdatedAt, false), (OrderField::Id, true)]);
        assert_eq!(
            (f.paging, f.paging.offset(), f.with_is_pinned),
            (Paging { page: 2, limit: 50 }, 50, true)
        );
        assert_eq!(filter("filter[updated_at]=15").unwrap().updated_at, Some(UpdatedAt::Since(15)));
        assert_eq!(
            filter("filter[updated_at][to]=15").unwrap().updated_at.unwrap().bounds(),
            (None, Some(15))
        );
        let default = filter("").unwrap();
        assert_eq!((default.paging, default.order.len()), (Paging::default(), 0));
    }

    #[test]
    fn a_limit_over_kommos_maximum_is_read_as_the_maximum() {
        assert_eq!(filter("limit=251").unwrap().paging.limit, MAX_LIMIT);
        assert_eq!(filter("limit=250").unwrap().paging.limit, 250);
    }

    #[test]
    fn a_bad_filter_is_named() {
        for (raw, named) in [
            ("filter[id][0]=x", "filter[id][]"),
            ("filter[entity_id][]=0", "filter[entity_id][]"),
            ("filter[note_type][]=fax", "filter[note_type][]"),
            ("filter[updated_at]=yesterday", "filter[updated_at]"),
            ("filter[updated_at]=5&filter[updated_at][from]=1", "filter[updated_at]"),
            ("filter[updated_at][from]=9&filter[updated_at][to]=1", "filter[updated_at][from]"),
            ("order[id]=up", "order[id]"),
            ("order[updated_at][]=asc", "order[updated_at]"),
            ("limit=0", "limit"),
            ("page=-1", "page"),
        ] {
            let error = filter(raw).unwrap_err();
            assert!(error.contains(named), "{raw}: {error}");
        }
    }

    #[test]
    fn page_links_repeat_the_filter_in_kommos_form() {
        let f = filter(
            "filter%5Bid%5D%5B0%5D=3&filter[note_type]=sms_in,sms_out&filter[updated_at]=9\
             &order[id]=desc&limit=2&filter[other]=1",
        )
        .unwrap();
        let query = f.page_query(3);
        assert_eq!(
            query,
            "filter%5Bid%5D%5B%5D=3&filter%5Bnote_type%5D%5B%5D=sms_in\
             &filter%5Bnote_type%5D%5B%5D=sms_out&filter%5Bupdated_at%5D=9\
             &order%5Bid%5D=desc&page=3&limit=2"
        );
        let again = filter(&query).unwrap();
        assert_eq!(again.paging, Paging { page: 3, limit: 2 });
        assert_eq!(NoteFilter { paging: f.paging, ..again }, f);
    }
}
