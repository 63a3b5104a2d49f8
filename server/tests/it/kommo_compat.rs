//! Kommo compatibility suite: replays `compat/kommo/cases/*.http`, the
//! requests Kommo's reference documents and its official PHP library
//! sends, byte for byte over a real TCP connection to a running Satchel
//! (on SQLite and on PostgreSQL), and checks every answer's status,
//! content type and shape against `compat/kommo/shapes.json`, the types
//! Kommo's reference gives for each field. `compat/kommo/README.md`
//! describes the format and lists the methods covered.

use std::{
    collections::HashMap,
    fmt::Write as _,
    path::{Path, PathBuf},
};

use satchel::{
    state::Settings,
    testing::{Backend, TestApp},
};
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use crate::support;

/// The client id the PHP library sends as `X-Client-UUID`.
const CLIENT_UUID: &str = "3f0e7a1c-54d6-4b6f-9c1e-2b2d3c4e5f60";

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../compat/kommo")
}

// ---------------------------------------------------------------------
// The corpus: cases, templates and expectations.

#[derive(Debug)]
struct Case {
    /// `file.http: title`.
    name: String,
    /// Request line and headers, templates unexpanded.
    head: Vec<String>,
    /// Body lines, joined with CRLF when sent.
    body: Option<String>,
    expects: Vec<Expect>,
}

#[derive(Debug)]
enum Expect {
    /// `> 200 application/json @file`: status, content type (its media
    /// type, parameters ignored), shape; `-` for no body at all.
    Answer { status: u16, content_type: Option<String>, shape: Option<String> },
    /// `> $.path = <JSON>`: that value exactly.
    Equals(String, String),
    /// `> $.path -> name`: remember the value as `{{name}}`.
    Capture(String, String),
    /// `> $.path absent`.
    Absent(String),
    /// `> header Name: value`.
    Header(String, String),
    /// `> body <template>`: the body is exactly these bytes.
    Body(String),
}

fn parse_file(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).unwrap();
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut cases = Vec::new();
    for block in text.split("\n### ").skip(1) {
        let mut lines = block.lines();
        let title = lines.next().unwrap().trim().to_owned();
        let name = format!("{file}: {title}");
        let lines: Vec<&str> = lines.skip_while(|l| l.starts_with('#') || l.is_empty()).collect();
        let blank = lines
            .iter()
            .position(|l| l.is_empty())
            .unwrap_or_else(|| panic!("{name}: no blank line after the headers"));
        let head = lines[..blank].iter().map(|l| l.to_string()).collect();
        let rest = &lines[blank + 1..];
        let first_expect = rest
            .iter()
            .position(|l| l.starts_with("> "))
            .unwrap_or_else(|| panic!("{name}: no expectation"));
        let body_lines = &rest[..first_expect];
        let body = (!body_lines.is_empty()).then(|| body_lines.join("\r\n"));
        let expects = rest[first_expect..]
            .iter()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                parse_expect(
                    &name,
                    l.strip_prefix("> ").unwrap_or_else(|| panic!("{name}: stray line {l:?}")),
                )
            })
            .collect();
        cases.push(Case { name, head, body, expects });
    }
    cases
}

fn parse_expect(name: &str, line: &str) -> Expect {
    if let Some(rest) = line.strip_prefix("body ") {
        return Expect::Body(rest.to_owned());
    }
    if let Some(rest) = line.strip_prefix("header ") {
        let (header, value) = rest.split_once(": ").unwrap_or_else(|| panic!("{name}: {line}"));
        return Expect::Header(header.to_owned(), value.to_owned());
    }
    if line.starts_with("$.") || line == "$" {
        if let Some((path, value)) = line.split_once(" = ") {
            return Expect::Equals(path.to_owned(), value.to_owned());
        }
        if let Some((path, var)) = line.split_once(" -> ") {
            return Expect::Capture(path.to_owned(), var.to_owned());
        }
        if let Some(path) = line.strip_suffix(" absent") {
            return Expect::Absent(path.to_owned());
        }
        panic!("{name}: cannot read {line:?}");
    }
    let mut words = line.split_whitespace();
    let status =
        words.next().and_then(|w| w.parse().ok()).unwrap_or_else(|| panic!("{name}: {line}"));
    let mut content_type = None;
    let mut shape = None;
    for word in words {
        match word.strip_prefix('@') {
            Some(s) => shape = Some(s.to_owned()),
            None => content_type = Some(word.to_owned()),
        }
    }
    Expect::Answer { status, content_type, shape }
}

/// Expands `{{name}}`, `{{name|path}}` (the path and query of a URL),
/// `{{bytes:LEN:SEED}}` (deterministic bytes) and leaves `{{length}}`.
fn expand(name: &str, template: &str, vars: &HashMap<String, String>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.extend_from_slice(&rest.as_bytes()[..start]);
        let end =
            rest[start..].find("}}").unwrap_or_else(|| panic!("{name}: unclosed {{{{")) + start;
        let token = &rest[start + 2..end];
        if token == "length" {
            out.extend_from_slice(b"{{length}}");
        } else if let Some(spec) = token.strip_prefix("bytes:") {
            let (len, seed) = spec.split_once(':').unwrap();
            out.extend(support::pattern(len.parse().unwrap(), seed.parse().unwrap()));
        } else {
            let (var, filter) = token.split_once('|').map_or((token, None), |(v, f)| (v, Some(f)));
            let value =
                vars.get(var).unwrap_or_else(|| panic!("{name}: no value for {{{{{var}}}}} yet"));
            match filter {
                None => out.extend_from_slice(value.as_bytes()),
                Some("path") => out.extend_from_slice(support::path_of(value).as_bytes()),
                Some(f) => panic!("{name}: unknown filter {f}"),
            }
        }
        rest = &rest[end + 2..];
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

/// The request's bytes: head lines joined with CRLF, `{{length}}` the
/// body's length, then the body.
fn request_bytes(case: &Case, vars: &HashMap<String, String>) -> Vec<u8> {
    let body = case.body.as_deref().map(|b| expand(&case.name, b, vars)).unwrap_or_default();
    let mut head = String::new();
    for line in &case.head {
        let line = String::from_utf8(expand(&case.name, line, vars)).unwrap();
        let _ = write!(head, "{}\r\n", line.replace("{{length}}", &body.len().to_string()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend(body);
    bytes
}

// ---------------------------------------------------------------------
// The wire: one connection per request, the answer read as HTTP/1.1.

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

async fn exchange(addr: &str, request: &[u8], method: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut buf = Vec::new();
    let (status, headers, head_len) = loop {
        let mut chunk = [0u8; 16 * 1024];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before an answer");
        buf.extend_from_slice(&chunk[..n]);
        let mut parsed = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut parsed);
        if let httparse::Status::Complete(len) = response.parse(&buf).unwrap() {
            let headers = response
                .headers
                .iter()
                .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
                .collect::<Vec<_>>();
            break (response.code.unwrap(), headers, len);
        }
    };
    let mut reply = Reply { status, headers, body: Vec::new() };
    let mut rest = buf.split_off(head_len);
    if method == "HEAD" || status == 204 || status == 304 {
        return reply;
    }
    if let Some(len) = reply.header("content-length") {
        let len: usize = len.parse().unwrap();
        while rest.len() < len {
            let mut chunk = vec![0u8; 64 * 1024];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed mid-body");
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(len);
        reply.body = rest;
    } else if reply.header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        reply.body = read_chunked(&mut stream, rest).await;
    } else {
        stream.read_to_end(&mut rest).await.unwrap();
        reply.body = rest;
    }
    reply
}

async fn read_chunked(stream: &mut TcpStream, mut buf: Vec<u8>) -> Vec<u8> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let line_end = loop {
            if let Some(i) = buf[pos..].windows(2).position(|w| w == b"\r\n") {
                break pos + i;
            }
            fill(stream, &mut buf).await;
        };
        let size_text = std::str::from_utf8(&buf[pos..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        let data = line_end + 2;
        while buf.len() < data + size + 2 {
            fill(stream, &mut buf).await;
        }
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&buf[data..data + size]);
        pos = data + size + 2;
    }
}

async fn fill(stream: &mut TcpStream, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await.unwrap();
    assert!(n > 0, "connection closed mid-chunk");
    buf.extend_from_slice(&chunk[..n]);
}

// ---------------------------------------------------------------------
// Shapes: the reference's field types.

/// Checks `value` against `shape`; failures are pushed as `path: why`.
///
/// A shape is a type name (`int`, `number`, `string`, `bool`, `null`,
/// `object`, `array`, `any`), several joined by `|`, or `@name` for a
/// named shape; an object of shapes (every key required unless its shape
/// ends in `?`; other keys allowed: Satchel may say more than Kommo); or
/// a one-element array whose element every item must match.
fn check_shape(
    value: Option<&Value>,
    shape: &Value,
    shapes: &Value,
    path: &str,
    errors: &mut Vec<String>,
) {
    match shape {
        Value::String(spec) => {
            let (spec, optional) =
                spec.strip_suffix('?').map_or((spec.as_str(), false), |s| (s, true));
            let Some(value) = value else {
                if !optional {
                    errors.push(format!("{path}: missing"));
                }
                return;
            };
            let fits = spec.split('|').any(|alt| match alt {
                "int" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                "string" => value.is_string(),
                "bool" => value.is_boolean(),
                "null" => value.is_null(),
                "object" => value.is_object(),
                "array" => value.is_array(),
                "any" => true,
                named if named.starts_with('@') => {
                    let mut inner = Vec::new();
                    check_shape(Some(value), named_shape(shapes, named), shapes, path, &mut inner);
                    let fits = inner.is_empty();
                    if !fits && !spec.contains('|') {
                        errors.extend(inner);
                        return true; // reported in detail
                    }
                    fits
                }
                other => panic!("unknown type {other} in shapes"),
            });
            if !fits {
                errors.push(format!("{path}: expected {spec}, got {value}"));
            }
        }
        Value::Object(fields) => {
            let Some(value) = value else {
                errors.push(format!("{path}: missing"));
                return;
            };
            let Some(object) = value.as_object() else {
                errors.push(format!("{path}: expected an object, got {value}"));
                return;
            };
            for (key, field) in fields {
                check_shape(object.get(key), field, shapes, &format!("{path}.{key}"), errors);
            }
        }
        Value::Array(items) => {
            let Some(value) = value else {
                errors.push(format!("{path}: missing"));
                return;
            };
            let Some(array) = value.as_array() else {
                errors.push(format!("{path}: expected an array, got {value}"));
                return;
            };
            if array.is_empty() {
                errors.push(format!("{path}: empty array (the case should make it hold an item)"));
            }
            for (i, item) in array.iter().enumerate() {
                check_shape(Some(item), &items[0], shapes, &format!("{path}[{i}]"), errors);
            }
        }
        other => panic!("bad shape {other}"),
    }
}

fn named_shape<'a>(shapes: &'a Value, name: &str) -> &'a Value {
    let key = name.trim_start_matches('@');
    shapes.get(key).unwrap_or_else(|| panic!("no shape named {key} in shapes.json"))
}

/// `$.a.b[0].c` in `value`.
fn pick<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = value;
    let rest = path.strip_prefix('$').unwrap();
    for segment in rest.split('.').filter(|s| !s.is_empty()) {
        let (key, indexes) = segment.split_once('[').map_or((segment, ""), |(k, i)| (k, i));
        if !key.is_empty() {
            current = current.get(key)?;
        }
        for index in indexes.split('[').filter(|s| !s.is_empty()) {
            current = current.get(index.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(current)
}

// ---------------------------------------------------------------------
// The run.

async fn replay_corpus(backend: Backend) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let settings = Settings { public_url: format!("http://{addr}"), ..Settings::default() };
    let app = TestApp::with(backend, settings, None).await;
    let mut vars = HashMap::from([
        ("host".to_owned(), addr.clone()),
        ("token".to_owned(), app.token("acme", "files,files_delete,crm").await),
        ("files_only".to_owned(), app.token("acme", "files").await),
        ("client_uuid".to_owned(), CLIENT_UUID.to_owned()),
    ]);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = satchel::http::serve::Limits::default();
    let server = tokio::spawn(satchel::http::serve::serve(listener, app.router(), limits, async {
        let _ = stopped.await;
    }));

    let shapes: Value =
        serde_json::from_str(&std::fs::read_to_string(corpus().join("shapes.json")).unwrap())
            .unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus().join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "http"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no cases under compat/kommo/cases");

    let mut failures = Vec::new();
    let mut count = 0;
    for file in &files {
        for case in parse_file(file) {
            count += 1;
            let request = request_bytes(&case, &vars);
            let method = case.head[0].split(' ').next().unwrap().to_owned();
            let reply = exchange(&addr, &request, &method).await;
            let errors = check(&case, &reply, &shapes, &mut vars);
            if !errors.is_empty() {
                failures.push(format!(
                    "{} (status {}, body {}):\n    {}",
                    case.name,
                    reply.status,
                    String::from_utf8_lossy(&reply.body).chars().take(600).collect::<String>(),
                    errors.join("\n    ")
                ));
            }
        }
    }
    let _ = stop.send(());
    server.await.unwrap();
    app.cleanup().await;
    assert!(
        failures.is_empty(),
        "{} of {count} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(count >= 40, "only {count} cases read");
}

fn check(
    case: &Case,
    reply: &Reply,
    shapes: &Value,
    vars: &mut HashMap<String, String>,
) -> Vec<String> {
    let mut errors = Vec::new();
    let json: Option<Value> = serde_json::from_slice(&reply.body).ok();
    for expect in &case.expects {
        match expect {
            Expect::Answer { status, content_type, shape } => {
                if reply.status != *status {
                    errors.push(format!("status {} instead of {status}", reply.status));
                    return errors;
                }
                match content_type.as_deref() {
                    Some("-") => errors.extend(
                        (!reply.body.is_empty()).then(|| "a body where none belongs".to_owned()),
                    ),
                    Some(expected) => {
                        let media = reply
                            .header("content-type")
                            .unwrap_or("")
                            .split(';')
                            .next()
                            .unwrap()
                            .trim();
                        if media != expected {
                            errors.push(format!("Content-Type {media:?} instead of {expected}"));
                        }
                    }
                    None => {}
                }
                if let Some(shape) = shape {
                    match &json {
                        Some(json) => check_shape(
                            Some(json),
                            named_shape(shapes, shape),
                            shapes,
                            "$",
                            &mut errors,
                        ),
                        None => errors.push("not JSON".into()),
                    }
                }
            }
            Expect::Equals(path, literal) => {
                let expanded = String::from_utf8(expand(&case.name, literal, vars)).unwrap();
                let wanted: Value = serde_json::from_str(&expanded)
                    .unwrap_or_else(|e| panic!("{}: {literal} is not JSON: {e}", case.name));
                let got = json.as_ref().and_then(|j| pick(j, path));
                if got != Some(&wanted) {
                    errors.push(format!("{path} is {got:?}, expected {wanted}"));
                }
            }
            Expect::Capture(path, var) => match json.as_ref().and_then(|j| pick(j, path)) {
                Some(Value::String(s)) => {
                    vars.insert(var.clone(), s.clone());
                }
                Some(other) => {
                    vars.insert(var.clone(), other.to_string());
                }
                None => errors.push(format!("{path} missing (to be {{{{{var}}}}})")),
            },
            Expect::Absent(path) => {
                if let Some(v) = json.as_ref().and_then(|j| pick(j, path)) {
                    errors.push(format!("{path} is {v}, expected absent"));
                }
            }
            Expect::Body(template) => {
                let wanted = expand(&case.name, template, vars);
                if reply.body != wanted {
                    errors.push(format!(
                        "body of {} bytes differs from the {} expected",
                        reply.body.len(),
                        wanted.len()
                    ));
                }
            }
            Expect::Header(name, value) => {
                let expanded = String::from_utf8(expand(&case.name, value, vars)).unwrap();
                if reply.header(name) != Some(expanded.as_str()) {
                    errors.push(format!(
                        "header {name} is {:?}, expected {expanded:?}",
                        reply.header(name)
                    ));
                }
            }
        }
    }
    errors
}

on_both!(replay_corpus);

/// The checker itself: a shape that does not hold is reported.
#[test]
fn shapes_report_what_does_not_hold() {
    let shapes = serde_json::json!({
        "author": {"id": "int", "type": "string"},
        "file": {"id": "int", "source_id": "int|null", "created_by": "@author",
                 "deleted_by": "@author|null", "next": "string?", "items": ["@author"]}
    });
    let errors_of = |value: Value| {
        let mut errors = Vec::new();
        check_shape(Some(&value), &shapes["file"], &shapes, "$", &mut errors);
        errors
    };
    let good = serde_json::json!({"id": 1, "source_id": null, "created_by": {"id": 2, "type": "internal"},
        "deleted_by": null, "items": [{"id": 3, "type": "x"}], "extra": true});
    assert_eq!(errors_of(good.clone()), Vec::<String>::new());

    let mut bad = good.clone();
    bad["id"] = "1".into();
    bad["created_by"]["id"] = 2.5.into();
    bad["deleted_by"] = 7.into();
    bad["next"] = 1.into();
    bad["items"] = serde_json::json!([{"id": 3}]);
    bad.as_object_mut().unwrap().remove("source_id");
    assert_eq!(
        errors_of(bad),
        [
            "$.created_by.id: expected int, got 2.5",
            "$.deleted_by: expected @author|null, got 7",
            "$.id: expected int, got \"1\"",
            "$.items[0].type: missing",
            "$.next: expected string, got 1",
            "$.source_id: missing",
        ]
    );
    let mut empty = good;
    empty["items"] = serde_json::json!([]);
    assert_eq!(errors_of(empty).len(), 1, "an empty list shows no item's shape");
}

#[test]
fn paths_pick_keys_and_items() {
    let value = serde_json::json!({"a": {"b": [{"c": 1}, {"c": 2}]}, "validation-errors": [3]});
    assert_eq!(pick(&value, "$.a.b[1].c"), Some(&serde_json::json!(2)));
    assert_eq!(pick(&value, "$.validation-errors[0]"), Some(&serde_json::json!(3)));
    assert_eq!(pick(&value, "$.a.b[2]"), None);
    assert_eq!(pick(&value, "$.x"), None);
}
