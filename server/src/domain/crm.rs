//! The CRM side's rules in plain Rust: entity and field types, and the
//! parsing of what integrators send (entities, custom-field values,
//! file references; notes are `domain::notes`) into typed values. A bad value becomes a
//! `FieldError` with Kommo's `path`, so one answer lists every problem of
//! a batch and nothing is written.

use std::collections::HashMap;

use serde_json::Value;

/// Most items one batch may hold (Kommo's own limit).
pub const MAX_BATCH: usize = 250;
/// Longest entity, field or note-file name, in characters.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest text value or common note, in characters.
pub const MAX_TEXT_CHARS: usize = 65_535;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntityType {
    Leads,
    Contacts,
    Companies,
}

impl EntityType {
    pub const ALL: [EntityType; 3] =
        [EntityType::Leads, EntityType::Contacts, EntityType::Companies];

    /// The plural the API and the database use.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Leads => "leads",
            EntityType::Contacts => "contacts",
            EntityType::Companies => "companies",
        }
    }

    pub fn parse(text: &str) -> Option<EntityType> {
        EntityType::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// One entity of this type, for messages ("lead 7 not found").
    pub fn singular(self) -> &'static str {
        match self {
            EntityType::Leads => "lead",
            EntityType::Contacts => "contact",
            EntityType::Companies => "company",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    File,
    Text,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::File => "file",
            FieldType::Text => "text",
        }
    }

    pub fn parse(text: &str) -> Option<FieldType> {
        match text {
            "file" => Some(FieldType::File),
            "text" => Some(FieldType::Text),
            _ => None,
        }
    }
}

/// One problem with one value of a request, in Kommo's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// `NotSupportedChoice`, `InvalidType`, `NotFound`, `FileTrashed`, ...
    pub code: &'static str,
    /// Where in the item it sits, e.g. `custom_fields_values.0.values.0.value.file_uuid`.
    pub path: String,
    pub detail: String,
}

impl FieldError {
    pub fn new(code: &'static str, path: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { code, path: path.into(), detail: detail.into() }
    }
}

/// A reference to a file (and maybe one of its versions) as sent in a
/// file field value or an attachment note; resolved by the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRef {
    pub file_uuid: String,
    pub version_uuid: Option<String>,
    pub file_name: Option<String>,
    /// Where `file_uuid` sits in the request, for errors.
    pub path: String,
}

/// One value of a custom field, before its file (if any) is resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueInput {
    Text(String),
    File(FileRef),
}

/// The new values of one field: they replace the old ones; empty clears.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldInput {
    pub field_id: i64,
    pub values: Vec<ValueInput>,
}

/// An entity to create, or the changes to one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityInput {
    pub name: Option<String>,
    pub fields: Vec<FieldInput>,
}

/// The custom fields a request may name: id to type.
pub type FieldTypes = HashMap<i64, FieldType>;

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub fn invalid_type(path: &str, want: &str, got: &Value) -> FieldError {
    FieldError::new("InvalidType", path, format!("must be {want}, not {}", type_name(got)))
}

/// A name: a string of 1 to `MAX_NAME_CHARS` characters, trimmed.
pub fn parse_name(value: &Value, path: &str) -> Result<String, FieldError> {
    let Value::String(text) = value else {
        return Err(invalid_type(path, "a string", value));
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(FieldError::new("NotBlank", path, "must not be empty"));
    }
    if text.chars().count() > MAX_NAME_CHARS {
        return Err(FieldError::new(
            "TooLong",
            path,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    visible(text, path, "name")?;
    Ok(text.to_owned())
}

/// A name without bidirectional controls or invisible formatting
/// characters (`invisible`).
fn visible(name: &str, path: &str, what: &str) -> Result<(), FieldError> {
    match super::invisible::first_in(name) {
        Some(c) => {
            Err(FieldError::new("InvalidCharacter", path, super::invisible::refusal(what, c)))
        }
        None => Ok(()),
    }
}

fn parse_text(value: &Value, path: &str) -> Result<String, FieldError> {
    let Value::String(text) = value else {
        return Err(invalid_type(path, "a string", value));
    };
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(FieldError::new(
            "TooLong",
            path,
            format!("must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(text.clone())
}

/// Unix seconds: a non-negative integer.
pub fn parse_time(value: &Value, path: &str) -> Result<i64, FieldError> {
    value
        .as_i64()
        .filter(|t| *t >= 0)
        .ok_or_else(|| invalid_type(path, "unix seconds (a non-negative integer)", value))
}

/// `key` under `path` (`path.key`, or `key` at the top).
fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn optional_string(
    object: &serde_json::Map<String, Value>,
    key: &str,
    path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match object.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_owned()),
        Some(other) => {
            errors.push(invalid_type(&join(path, key), "a string", other));
            None
        }
    }
}

/// `{file_uuid, version_uuid?, file_name?, ...}` at `path`. Other keys a
/// read-back carries (`file_size`, `is_deleted`) are accepted and ignored.
pub fn parse_file_ref(value: &Value, path: &str, errors: &mut Vec<FieldError>) -> Option<FileRef> {
    let Value::Object(object) = value else {
        errors.push(invalid_type(path, "an object with file_uuid", value));
        return None;
    };
    let uuid_path = join(path, "file_uuid");
    let file_uuid = match object.get("file_uuid") {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            errors.push(FieldError::new("NotBlank", &uuid_path, "a file_uuid is required"));
            None
        }
        Some(other) => {
            errors.push(invalid_type(&uuid_path, "a string", other));
            None
        }
    };
    let version_uuid = optional_string(object, "version_uuid", path, errors);
    let file_name = optional_string(object, "file_name", path, errors);
    if let Some(name) = &file_name {
        if name.chars().count() > MAX_NAME_CHARS {
            errors.push(FieldError::new(
                "TooLong",
                join(path, "file_name"),
                format!("must be at most {MAX_NAME_CHARS} characters"),
            ));
        }
        if let Err(e) = visible(name, &join(path, "file_name"), "file_name") {
            errors.push(e);
        }
    }
    Some(FileRef { file_uuid: file_uuid?, version_uuid, file_name, path: uuid_path })
}

/// `custom_fields_values` of one entity: `[{field_id, values: [{value}]}]`.
/// `values` null or empty clears the field.
pub fn parse_field_values(
    value: &Value,
    fields: &FieldTypes,
    errors: &mut Vec<FieldError>,
) -> Vec<FieldInput> {
    const ROOT: &str = "custom_fields_values";
    let items = match value {
        Value::Null => return Vec::new(),
        Value::Array(items) => items,
        other => {
            errors.push(invalid_type(ROOT, "an array", other));
            return Vec::new();
        }
    };
    let mut parsed: Vec<FieldInput> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("{ROOT}.{i}");
        let Value::Object(object) = item else {
            errors.push(invalid_type(&path, "an object with field_id and values", item));
            continue;
        };
        let id_path = format!("{path}.field_id");
        let Some(field_id) = object.get("field_id").and_then(Value::as_i64) else {
            errors.push(FieldError::new("NotBlank", id_path, "an integer field_id is required"));
            continue;
        };
        let Some(&field_type) = fields.get(&field_id) else {
            errors.push(FieldError::new(
                "NotFound",
                id_path,
                format!("there is no custom field {field_id} for this entity type"),
            ));
            continue;
        };
        if parsed.iter().any(|f| f.field_id == field_id) {
            errors.push(FieldError::new(
                "Duplicate",
                id_path,
                format!("field {field_id} is named twice"),
            ));
            continue;
        }
        let values_path = format!("{path}.values");
        let raw_values: &[Value] = match object.get("values") {
            None | Some(Value::Null) => &[],
            Some(Value::Array(values)) => values,
            Some(other) => {
                errors.push(invalid_type(&values_path, "an array", other));
                continue;
            }
        };
        if raw_values.len() > MAX_BATCH {
            errors.push(FieldError::new(
                "TooMany",
                values_path,
                format!("a field holds at most {MAX_BATCH} values"),
            ));
            continue;
        }
        let mut values = Vec::with_capacity(raw_values.len());
        for (j, raw) in raw_values.iter().enumerate() {
            let value_path = format!("{values_path}.{j}.value");
            let Some(inner) = raw.as_object().and_then(|o| o.get("value")) else {
                errors.push(FieldError::new(
                    "NotBlank",
                    value_path,
                    "each value is {\"value\": ...}",
                ));
                continue;
            };
            match field_type {
                FieldType::Text => match parse_text(inner, &value_path) {
                    Ok(text) => values.push(ValueInput::Text(text)),
                    Err(e) => errors.push(e),
                },
                FieldType::File => {
                    if let Some(file) = parse_file_ref(inner, &value_path, errors) {
                        values.push(ValueInput::File(file));
                    }
                }
            }
        }
        parsed.push(FieldInput { field_id, values });
    }
    parsed
}

/// One entity of a create batch or a patch: `{name?, custom_fields_values?}`.
pub fn parse_entity(
    value: &Value,
    fields: &FieldTypes,
    errors: &mut Vec<FieldError>,
) -> EntityInput {
    let Value::Object(object) = value else {
        errors.push(invalid_type("", "an object", value));
        return EntityInput { name: None, fields: Vec::new() };
    };
    let name = match object.get("name") {
        None | Some(Value::Null) => None,
        Some(v) => parse_name(v, "name").map_err(|e| errors.push(e)).ok(),
    };
    let fields = object
        .get("custom_fields_values")
        .map(|v| parse_field_values(v, fields, errors))
        .unwrap_or_default();
    EntityInput { name, fields }
}

/// A batch body: an array of 1 to `MAX_BATCH` items.
pub fn batch(value: &Value) -> Result<&[Value], String> {
    match value {
        Value::Array(items) if items.is_empty() => Err("the body is an empty array".into()),
        Value::Array(items) if items.len() > MAX_BATCH => {
            Err(format!("a batch holds at most {MAX_BATCH} items; this one holds {}", items.len()))
        }
        Value::Array(items) => Ok(items),
        _ => Err("the body must be a JSON array".into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_refuse_bidi_controls() {
        let refused = parse_name(&json!("ACME\u{202E}gpj.exe"), "name").unwrap_err();
        assert!(format!("{refused:?}").contains("U+202E"), "{refused:?}");
        assert_eq!(parse_name(&json!(" ACME \u{200D} Ltd "), "name").unwrap(), "ACME \u{200D} Ltd");
    }

    fn fields() -> FieldTypes {
        HashMap::from([(1, FieldType::File), (2, FieldType::Text)])
    }

    #[test]
    fn entity_types_round_trip_and_unknown_ones_are_refused() {
        for t in EntityType::ALL {
            assert_eq!(EntityType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EntityType::parse("deals"), None);
        assert_eq!(EntityType::Companies.singular(), "company");
    }

    #[test]
    fn file_and_text_values_parse_and_read_back_keys_are_ignored() {
        let mut errors = vec![];
        let parsed = parse_field_values(
            &json!([
                {"field_id": 1, "values": [{"value": {"file_uuid": "u1", "file_size": 3, "is_deleted": false}},
                                           {"value": {"file_uuid": "u2", "version_uuid": "v2", "file_name": "a.pdf"}}]},
                {"field_id": 2, "values": [{"value": "hello"}]}
            ]),
            &fields(),
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(parsed.len(), 2);
        assert_eq!(
            parsed[0].values[1],
            ValueInput::File(FileRef {
                file_uuid: "u2".into(),
                version_uuid: Some("v2".into()),
                file_name: Some("a.pdf".into()),
                path: "custom_fields_values.0.values.1.value.file_uuid".into(),
            })
        );
        assert_eq!(parsed[1].values, vec![ValueInput::Text("hello".into())]);
    }

    #[test]
    fn null_or_empty_values_clear_a_field() {
        let mut errors = vec![];
        let parsed = parse_field_values(
            &json!([{"field_id": 1, "values": null}, {"field_id": 2, "values": []}]),
            &fields(),
            &mut errors,
        );
        assert!(errors.is_empty());
        assert!(parsed.iter().all(|f| f.values.is_empty()));
    }

    #[test]
    fn every_bad_value_is_reported_with_its_path() {
        let mut errors = vec![];
        parse_field_values(
            &json!([
                {"field_id": 99, "values": []},
                {"field_id": 1, "values": [{"value": "not an object"}, {"value": {"file_uuid": ""}}]},
                {"field_id": 2, "values": [{"value": 5}]},
                {"values": []},
                {"field_id": 1, "values": []}
            ]),
            &fields(),
            &mut errors,
        );
        let found: Vec<(&str, &str)> = errors.iter().map(|e| (e.code, e.path.as_str())).collect();
        assert_eq!(
            found,
            vec![
                ("NotFound", "custom_fields_values.0.field_id"),
                ("InvalidType", "custom_fields_values.1.values.0.value"),
                ("NotBlank", "custom_fields_values.1.values.1.value.file_uuid"),
                ("InvalidType", "custom_fields_values.2.values.0.value"),
                ("NotBlank", "custom_fields_values.3.field_id"),
                ("Duplicate", "custom_fields_values.4.field_id"),
            ]
        );
    }

    #[test]
    fn entities_need_a_real_name_when_they_send_one() {
        let mut errors = vec![];
        let e = parse_entity(&json!({"name": "  Deal  "}), &fields(), &mut errors);
        assert_eq!(e.name.as_deref(), Some("Deal"));
        parse_entity(&json!({"name": ""}), &fields(), &mut errors);
        parse_entity(&json!({"name": 5}), &fields(), &mut errors);
        parse_entity(&json!({"name": "x".repeat(256)}), &fields(), &mut errors);
        let codes: Vec<&str> = errors.iter().map(|e| e.code).collect();
        assert_eq!(codes, vec!["NotBlank", "InvalidType", "TooLong"]);
    }

    #[test]
    fn batches_hold_one_to_max_items() {
        assert!(batch(&json!([])).is_err());
        assert!(batch(&json!({})).is_err());
        assert_eq!(batch(&json!([1, 2])).unwrap().len(), 2);
        let big = Value::Array(vec![json!({}); MAX_BATCH + 1]);
        assert!(batch(&big).is_err());
    }
}
