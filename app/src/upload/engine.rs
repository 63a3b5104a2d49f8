//! The engine that moves a browser `File` to Satchel, in the browser only.
//!
//! - It opens a session, cuts the file into exactly the part size the
//!   server returned (`Blob.slice`, so only the part being read is in
//!   memory) and follows `next_url` to the end.
//! - Each part carries its SHA-256 (`Content-Digest`). The whole file's
//!   SHA-256 is carried from part to part and announced with the last
//!   part (`Repr-Digest`); the server refuses a completion that differs,
//!   and the engine checks the digest the server reports too.
//! - While one part is on the wire the next is read and hashed, so
//!   hashing costs little time.
//! - Network errors, 408, 429 (with `Retry-After`) and 5xx are retried with
//!   backoff and jitter. Before going on it asks the server where the
//!   upload stands (`GET upload_url`), so at most the one part in flight
//!   is sent again. Offline, it waits for the network.
//! - Each unfinished upload is remembered in `localStorage` under the
//!   file's fingerprint. Picking the same file after a reload continues
//!   from what the server has; the earlier parts are only read again,
//!   to carry the digest on, never sent. Without `localStorage` (private
//!   modes) it starts again.

use std::{cell::RefCell, collections::HashMap, rc::Rc};

use base64::{engine::general_purpose::STANDARD, Engine as _};
use gloo_timers::future::TimeoutFuture;
use js_sys::{Date, Math};
use leptos::{prelude::*, task::spawn_local};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, CustomEvent, CustomEventInit, Headers, RequestInit, Response};

use super::{
    plan::{classify, retry_after_ms, Backoff, Failure, Fingerprint, Meter, Parts, Saved},
    Control, FollowUp, Item, Status, UploaderOptions,
};

/// How many times one part is sent again after a checksum mismatch.
const MAX_RESENDS: u32 = 5;
/// Failures in a row (not counting time offline) before an upload stops
/// and waits for the user's Retry.
const MAX_FAILURES: u32 = 12;
/// Least time between two progress updates of one upload.
const PROGRESS_EVERY_MS: f64 = 100.0;
/// How often a paused or offline upload looks again.
const POLL_MS: u32 = 200;

/// Why an upload stopped before the end.
enum Stop {
    Cancelled,
    Failed(String),
}

type Outcome<T> = Result<T, Stop>;

/// One widget's uploads: the queue, the files behind the items, and the
/// requests in flight (to abort on pause or cancel).
pub struct Engine {
    options: UploaderOptions,
    items: RwSignal<Vec<Item>>,
    /// Where the DOM events go (the widget's root element).
    root: RefCell<Option<web_sys::HtmlElement>>,
    files: RefCell<HashMap<u32, web_sys::File>>,
    running: RefCell<Vec<u32>>,
    aborts: RefCell<HashMap<u32, AbortController>>,
    /// localStorage keys of the uploads running now.
    claimed: RefCell<std::collections::HashSet<String>>,
    next_id: RefCell<u32>,
    backoff: Backoff,
    on_complete: Option<Callback<String>>,
}

impl Engine {
    pub fn new(
        options: UploaderOptions,
        items: RwSignal<Vec<Item>>,
        on_complete: Option<Callback<String>>,
    ) -> Rc<Engine> {
        Rc::new(Engine {
            options,
            items,
            root: RefCell::new(None),
            files: RefCell::new(HashMap::new()),
            running: RefCell::new(Vec::new()),
            aborts: RefCell::new(HashMap::new()),
            claimed: RefCell::new(std::collections::HashSet::new()),
            next_id: RefCell::new(1),
            backoff: Backoff::default(),
            on_complete,
        })
    }

    pub fn set_root(&self, root: web_sys::HtmlElement) {
        *self.root.borrow_mut() = Some(root);
    }

    /// Queues files and starts as many as the concurrency allows.
    pub fn add(self: &Rc<Self>, files: Vec<web_sys::File>) {
        for file in files {
            let id = {
                let mut next = self.next_id.borrow_mut();
                *next += 1;
                *next - 1
            };
            let item = Item::new(id, file.name(), file.size() as u64);
            self.files.borrow_mut().insert(id, file);
            self.items.update(|items| items.push(item));
        }
        self.pump();
    }

    /// Starts queued uploads while fewer than `concurrency` run.
    fn pump(self: &Rc<Self>) {
        let concurrency = self.options.concurrency.max(1);
        let queued: Vec<Item> = self
            .items
            .get_untracked()
            .into_iter()
            .filter(|i| i.status.get_untracked() == Status::Queued)
            .collect();
        for item in queued {
            if self.running.borrow().len() >= concurrency {
                break;
            }
            self.running.borrow_mut().push(item.id);
            let engine = Rc::clone(self);
            spawn_local(async move {
                engine.run(item).await;
                engine.running.borrow_mut().retain(|id| *id != item.id);
                engine.pump();
            });
        }
    }

    pub fn pause(&self, item: Item) {
        if !item.status.get_untracked().is_final() {
            item.control.set(Control::Pause);
            self.abort(item.id);
        }
    }

    pub fn resume(self: &Rc<Self>, item: Item) {
        item.control.set(Control::Run);
        if item.status.get_untracked() == Status::Failed {
            item.error.set(None);
            item.status.set(Status::Queued);
            self.pump();
        }
    }

    pub fn cancel(self: &Rc<Self>, item: Item) {
        let status = item.status.get_untracked();
        if status == Status::Done || status == Status::Cancelled {
            return;
        }
        item.control.set(Control::Cancel);
        self.abort(item.id);
        if status == Status::Queued || status == Status::Failed {
            // Nothing runs for it: cancel here.
            let engine = Rc::clone(self);
            spawn_local(async move {
                if let Some(file) = engine.file(item.id) {
                    let key = engine.key(&file);
                    if let Some(saved) = load(&key) {
                        let _ = request("DELETE", &saved.upload_url, None, None, None).await;
                    }
                    forget(&key);
                }
                item.status.set(Status::Cancelled);
            });
        }
    }

    fn abort(&self, id: u32) {
        if let Some(controller) = self.aborts.borrow_mut().remove(&id) {
            controller.abort();
        }
    }

    fn file(&self, id: u32) -> Option<web_sys::File> {
        self.files.borrow().get(&id).cloned()
    }

    fn key(&self, file: &web_sys::File) -> String {
        Fingerprint {
            name: file.name(),
            size: file.size() as u64,
            last_modified: file.last_modified(),
        }
        .key(&self.options.endpoint, self.options.file_uuid.as_deref())
    }

    async fn run(self: &Rc<Self>, item: Item) {
        let Some(file) = self.file(item.id) else { return };
        item.status.set(Status::Uploading);
        match self.upload(item, &file).await {
            Ok(uploaded) => {
                // The CRM step first, so a host hearing of the file finds
                // it where it was meant to go.
                let follow_up = self.follow_up(&uploaded).await;
                item.done.set(item.size);
                item.speed.set(None);
                item.eta.set(None);
                item.status.set(Status::Done);
                self.emit("satchel:upload-complete", &uploaded);
                if let (Some(callback), Some(uuid)) = (self.on_complete, uploaded["uuid"].as_str())
                {
                    callback.run(uuid.to_owned());
                }
                if let Err(message) = follow_up {
                    item.error.set(Some(message.clone()));
                    self.emit(
                        "satchel:upload-error",
                        &json!({"name": file.name(), "message": message, "stage": "follow-up"}),
                    );
                }
            }
            Err(Stop::Cancelled) => item.status.set(Status::Cancelled),
            Err(Stop::Failed(message)) => {
                item.error.set(Some(message.clone()));
                item.status.set(Status::Failed);
                self.emit(
                    "satchel:upload-error",
                    &json!({"name": file.name(), "message": message}),
                );
            }
        }
    }

    fn emit(&self, name: &str, detail: &Value) {
        let Some(root) = self.root.borrow().clone() else { return };
        let init = CustomEventInit::new();
        init.set_bubbles(true);
        init.set_composed(true);
        init.set_detail(&js_sys::JSON::parse(&detail.to_string()).unwrap_or(JsValue::NULL));
        if let Ok(event) = CustomEvent::new_with_event_init_dict(name, &init) {
            let _ = root.dispatch_event(&event);
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.options.endpoint.trim_end_matches('/'))
    }

    /// Waits while the user has paused; `Err` once they cancel.
    async fn checkpoint(&self, item: Item, session_url: Option<&str>, key: &str) -> Outcome<bool> {
        let mut waited = false;
        loop {
            match item.control.get_untracked() {
                Control::Run => return Ok(waited),
                Control::Cancel => {
                    if let Some(url) = session_url {
                        let _ = request("DELETE", url, None, None, None).await;
                    }
                    forget(key);
                    return Err(Stop::Cancelled);
                }
                Control::Pause => {
                    waited = true;
                    item.status.set(Status::Paused);
                    item.speed.set(None);
                    item.eta.set(None);
                    TimeoutFuture::new(POLL_MS).await;
                }
            }
        }
    }

    /// Waits for the network after a failure: offline until the browser is
    /// online again, else the backoff (or `Retry-After`).
    async fn wait_before_retry(&self, item: Item, attempt: u32, retry_after: Option<u32>) {
        if !online() {
            item.status.set(Status::Offline);
            while !online() && item.control.get_untracked() == Control::Run {
                TimeoutFuture::new(POLL_MS).await;
            }
            return;
        }
        item.status.set(Status::Retrying);
        let delay = retry_after.unwrap_or_else(|| self.backoff.delay_ms(attempt, Math::random()));
        let until = Date::now() + f64::from(delay);
        while Date::now() < until && item.control.get_untracked() == Control::Run {
            TimeoutFuture::new(POLL_MS.min(delay)).await;
        }
    }

    /// Opens a session (retrying network trouble); `Err` on a refusal.
    async fn open(&self, item: Item, file: &web_sys::File, key: &str) -> Outcome<(Saved, String)> {
        let mut body = json!({"file_name": file.name(), "file_size": file.size() as u64});
        if !file.type_().is_empty() {
            body["content_type"] = json!(file.type_());
        }
        if let Some(uuid) = &self.options.file_uuid {
            body["file_uuid"] = json!(uuid);
        }
        let mut attempt = 0;
        loop {
            self.checkpoint(item, None, key).await?;
            let answer = request(
                "POST",
                &self.url("/v1.0/sessions"),
                Some(&self.options.token),
                Some(Body::Json(&body)),
                None,
            )
            .await;
            match answer {
                Ok((200, json, _)) => {
                    let saved = Saved {
                        upload_url: text(&json, "upload_url")?,
                        expires_at: json["expires_at"].as_i64().unwrap_or(0),
                        part_size: json["max_part_size"]
                            .as_u64()
                            .filter(|p| *p > 0)
                            .ok_or_else(|| Stop::Failed("the server named no part size".into()))?,
                    };
                    store(key, &saved);
                    return Ok((saved.clone(), saved.upload_url));
                }
                Ok((status, _, retry_after)) if classify(status) == Failure::Retry => {
                    attempt = give_up_after(attempt)?;
                    self.wait_before_retry(item, attempt, retry_after).await;
                }
                Ok((_, json, _)) => return Err(Stop::Failed(problem(&json))),
                Err(_) => {
                    attempt = give_up_after(attempt)?;
                    self.wait_before_retry(item, attempt, None).await;
                }
            }
        }
    }

    /// Asks the server where the upload stands, waiting out network
    /// trouble. `Err` when the session is gone.
    async fn where_are_we(&self, item: Item, upload_url: &str, key: &str) -> Outcome<Value> {
        let mut attempt = 0;
        loop {
            self.checkpoint(item, Some(upload_url), key).await?;
            match request("GET", upload_url, None, None, None).await {
                Ok((200, json, _)) if json["status"] == "expired" => {
                    forget(key);
                    return Err(Stop::Failed("the upload session expired".into()));
                }
                Ok((200, json, _)) => return Ok(json),
                Ok((status, json, retry_after)) => match classify(status) {
                    Failure::Retry => {
                        attempt = give_up_after(attempt)?;
                        self.wait_before_retry(item, attempt, retry_after).await;
                    }
                    _ => {
                        forget(key);
                        return Err(Stop::Failed(problem(&json)));
                    }
                },
                Err(_) => {
                    attempt = give_up_after(attempt)?;
                    self.wait_before_retry(item, attempt, None).await;
                }
            }
        }
    }

    async fn upload(self: &Rc<Self>, item: Item, file: &web_sys::File) -> Outcome<Value> {
        // The same file twice in one widget: only the first remembers its
        // session, so the two never share one.
        let mut key = self.key(file);
        if !self.claimed.borrow_mut().insert(key.clone()) {
            key = String::new();
        }
        let outcome = self.upload_as(item, file, &key).await;
        self.claimed.borrow_mut().remove(&key);
        outcome
    }

    /// The session remembered for this file, if it still runs and belongs
    /// to this widget's account; `Ok(Err(file))` when it had completed.
    async fn remembered(
        &self,
        item: Item,
        size: u64,
        key: &str,
    ) -> Outcome<Option<(Saved, Value)>> {
        let Some(saved) = load(key) else { return Ok(None) };
        let position = match self.where_are_we(item, &saved.upload_url, key).await {
            Ok(position) => position,
            // Gone or expired: start afresh.
            Err(Stop::Failed(_)) => return Ok(None),
            Err(stop) => return Err(stop),
        };
        let ours = position["file_size"] == size && self.owns(item, &position, key).await?;
        if !ours {
            forget(key);
            return Ok(None);
        }
        Ok(Some((saved, position)))
    }

    /// Whether a session is one of this widget's account's: another user
    /// of the same browser must not continue it.
    async fn owns(&self, item: Item, position: &Value, key: &str) -> Outcome<bool> {
        if position["status"] == "completed" {
            // Only its own account's token could have opened it; the file
            // is checked against the bytes below.
            return Ok(true);
        }
        let mut attempt = 0;
        loop {
            self.checkpoint(item, None, key).await?;
            let url = self.url("/v1.0/sessions");
            match request("GET", &url, Some(&self.options.token), None, None).await {
                Ok((200, json, _)) => {
                    let sessions =
                        json["_embedded"]["sessions"].as_array().cloned().unwrap_or_default();
                    return Ok(sessions.iter().any(|s| s["session_id"] == position["session_id"]));
                }
                Ok((204, _, _)) => return Ok(false),
                Ok((status, _, retry_after))
                    if classify(status) == Failure::Retry && attempt < MAX_FAILURES =>
                {
                    attempt = give_up_after(attempt)?;
                    self.wait_before_retry(item, attempt, retry_after).await;
                }
                Err(_) if attempt < MAX_FAILURES => {
                    attempt = give_up_after(attempt)?;
                    self.wait_before_retry(item, attempt, None).await;
                }
                _ => return Ok(false),
            }
        }
    }

    /// The whole file's SHA-256, read from the file.
    async fn digest_of(
        &self,
        item: Item,
        file: &web_sys::File,
        part_size: u64,
        key: &str,
    ) -> Outcome<String> {
        let size = file.size() as u64;
        let mut whole = Sha256::new();
        let mut at = 0;
        item.status.set(Status::Hashing);
        while at < size {
            self.checkpoint(item, None, key).await?;
            let end = (at + part_size).min(size);
            whole.update(&read(file, at, end).await?);
            at = end;
            item.done.set(at);
        }
        Ok(hex(&whole.finalize()))
    }

    async fn upload_as(
        self: &Rc<Self>,
        item: Item,
        file: &web_sys::File,
        key: &str,
    ) -> Outcome<Value> {
        let size = file.size() as u64;
        let key = key.to_owned();
        let (saved, mut position) = match self.remembered(item, size, &key).await? {
            Some((saved, position)) if position["status"] == "completed" => {
                // It finished before the reload; make sure it is this file.
                forget(&key);
                let ours = self.digest_of(item, file, saved.part_size, &key).await?;
                if position["file"]["sha256"].as_str() == Some(ours.as_str()) {
                    return Ok(position["file"].clone());
                }
                let (saved, url) = self.open(item, file, &key).await?;
                (saved, json!({"received": 0, "next_part": 1, "next_url": url}))
            }
            Some(found) => found,
            None => {
                let (saved, url) = self.open(item, file, &key).await?;
                (saved, json!({"received": 0, "next_part": 1, "next_url": url}))
            }
        };
        let parts = Parts::new(size, saved.part_size)
            .ok_or_else(|| Stop::Failed("the server named no part size".into()))?;
        let upload_url = saved.upload_url.clone();
        let mut whole = Sha256::new();
        let mut hashed_to = 0u64;
        let mut meter = Meter::default();
        let mut resends = 0;
        // Failures in a row, for the backoff.
        let mut failures = 0;
        let mut shown_at = 0.0;
        let mut prepared: Option<Prepared> = None;
        loop {
            // Where the server is; catch the running digest up with it.
            let received = position["received"].as_u64().unwrap_or(0);
            let next_url = text(&position, "next_url")?;
            let n =
                parts.next_after(received).filter(|n| *n <= parts.count()).ok_or_else(|| {
                    Stop::Failed("the server's upload does not match this file".into())
                })?;
            if hashed_to != received {
                if hashed_to > received {
                    whole = Sha256::new();
                    hashed_to = 0;
                }
                item.status.set(Status::Hashing);
                while hashed_to < received {
                    self.checkpoint(item, Some(&upload_url), &key).await?;
                    let end = (hashed_to + parts.part_size).min(received);
                    let bytes = read(file, hashed_to, end).await?;
                    whole.update(&bytes);
                    hashed_to = end;
                    item.done.set(hashed_to);
                }
            }
            item.done.set(received);
            item.status.set(Status::Uploading);
            meter.reset();
            meter.record(Date::now(), received);

            // Send parts from n on until something goes wrong.
            let mut n = n;
            let mut next_url = next_url;
            let failure = loop {
                if self.checkpoint(item, Some(&upload_url), &key).await? {
                    break None; // paused: ask the server where things are
                }
                item.status.set(Status::Uploading);
                let (start, end) = parts.range(n).expect("n is a part of the file");
                // The server may hold the start of a part that was cut off.
                let start = start.max(received);
                let part = match prepared.take() {
                    Some(p) if p.start == start => p,
                    _ => Prepared::read(file, start, end).await?,
                };
                let last = n == parts.count();
                let mut whole_after = whole.clone();
                let repr = last.then(|| {
                    whole_after.update(&part.bytes);
                    whole_after.clone().finalize()
                });
                let controller = AbortController::new().ok();
                let signal = controller.as_ref().map(|c| c.signal());
                if let Some(c) = controller {
                    self.aborts.borrow_mut().insert(item.id, c);
                }
                let mut headers = vec![("content-digest", format!("sha-256=:{}:", part.digest))];
                if let Some(digest) = repr {
                    headers.push(("repr-digest", format!("sha-256=:{}:", STANDARD.encode(digest))));
                }
                let sending = start_request(
                    "POST",
                    &next_url,
                    None,
                    Some(Body::Blob(part.slice.as_ref())),
                    signal.as_ref(),
                    &headers,
                );
                // While the part travels: carry the digest on and read the
                // next part.
                if !last {
                    // The next part's read starts first, so the disk works
                    // while the digest is carried on.
                    let reading = parts.range(n + 1).map(|(s, e)| Prepared::start(file, s, e));
                    whole_after.update(&part.bytes);
                    if let Some(reading) = reading {
                        prepared = reading.finish().await.ok();
                    }
                }
                let answer = finish_request(sending).await;
                self.aborts.borrow_mut().remove(&item.id);
                match answer {
                    Ok((202, json, _)) => {
                        whole = whole_after;
                        hashed_to = end;
                        resends = 0;
                        failures = 0;
                        n += 1;
                        next_url = text(&json, "next_url")?;
                        // The list and the host page hear of progress at
                        // most ten times a second: redrawing for every
                        // part would take the time the upload needs.
                        let now = Date::now();
                        if now - shown_at < PROGRESS_EVERY_MS {
                            continue;
                        }
                        shown_at = now;
                        item.done.set(end);
                        meter.record(now, end);
                        item.speed.set(meter.speed());
                        item.eta.set(meter.eta_secs(size - end));
                        self.emit(
                            "satchel:upload-progress",
                            &json!({"name": file.name(), "done": end, "size": size,
                                    "percent": super::percent(end, size)}),
                        );
                    }
                    Ok((200, json, _)) => {
                        let ours = hex(&whole_after.finalize());
                        if json["sha256"].as_str() != Some(ours.as_str()) {
                            forget(&key);
                            return Err(Stop::Failed(format!(
                                "the server reports SHA-256 {} for a file whose SHA-256 is {ours}",
                                json["sha256"]
                            )));
                        }
                        forget(&key);
                        return Ok(json);
                    }
                    Ok((status, json, retry_after)) => match classify(status) {
                        // The same last part cannot fix a whole-file
                        // mismatch more than once (the file changed).
                        Failure::Resend if resends < if last { 1 } else { MAX_RESENDS } => {
                            resends += 1;
                        }
                        Failure::Retry | Failure::Resync => {
                            break Some(retry_after);
                        }
                        Failure::Gone => {
                            forget(&key);
                            return Err(Stop::Failed(problem(&json)));
                        }
                        _ => return Err(Stop::Failed(problem(&json))),
                    },
                    // The network failed, or a pause or cancel aborted it.
                    Err(_) => break Some(None),
                }
            };
            if let Some(retry_after) = failure {
                if online() {
                    failures += 1;
                }
                if failures > MAX_FAILURES {
                    return Err(Stop::Failed(
                        "the server keeps failing; the upload can go on with Retry".into(),
                    ));
                }
                if item.control.get_untracked() == Control::Run {
                    self.wait_before_retry(item, failures, retry_after).await;
                }
            }
            prepared = None;
            position = self.where_are_we(item, &upload_url, &key).await?;
            if position["status"] == "completed" {
                forget(&key);
                return Ok(position["file"].clone());
            }
        }
    }

    /// The CRM step the options ask for, with the widget's token.
    async fn follow_up(&self, file: &Value) -> Result<(), String> {
        let uuid = file["uuid"].as_str().unwrap_or_default();
        let (method, path, body) = match &self.options.follow_up {
            FollowUp::None => return Ok(()),
            FollowUp::Attach { entity_type, id } => {
                ("PUT", format!("/api/v4/{entity_type}/{id}/files"), json!([{"file_uuid": uuid}]))
            }
            FollowUp::Note { entity_type, id } => (
                "POST",
                format!("/api/v4/{entity_type}/{id}/notes"),
                json!([{"note_type": "attachment", "params": {
                    "file_uuid": uuid, "version_uuid": file["version_uuid"],
                    "file_name": file["sanitized_name"]}}]),
            ),
            FollowUp::Field { entity_type, id, field_id } => (
                "PATCH",
                format!("/api/v4/{entity_type}/{id}"),
                json!({"custom_fields_values": [{"field_id": field_id,
                        "values": [{"value": {"file_uuid": uuid}}]}]}),
            ),
        };
        match request(
            method,
            &self.url(&path),
            Some(&self.options.token),
            Some(Body::Json(&body)),
            None,
        )
        .await
        {
            Ok((200..=299, _, _)) => Ok(()),
            Ok((_, json, _)) => Err(problem(&json)),
            Err(e) => Err(e),
        }
    }
}

/// A part read from the file, with its SHA-256.
struct Prepared {
    start: u64,
    /// The part's slice of the file: the request body. The browser sends
    /// it straight from the file, with no copy through the page; if the
    /// file changed since it was hashed, the server's Content-Digest
    /// check refuses it (460) and the part is read again.
    slice: gloo_file::Blob,
    bytes: Vec<u8>,
    /// Base64, as `Content-Digest` wants it.
    digest: String,
}

impl Prepared {
    async fn read(file: &web_sys::File, start: u64, end: u64) -> Outcome<Prepared> {
        Prepared::start(file, start, end).finish().await
    }

    /// Starts reading the part; the browser reads while the page works.
    fn start(file: &web_sys::File, start: u64, end: u64) -> Reading {
        let slice = gloo_file::Blob::from(file.clone()).slice(start, end);
        let buffer = JsFuture::from(AsRef::<web_sys::Blob>::as_ref(&slice).array_buffer());
        Reading { start, len: end - start, slice, buffer }
    }
}

/// A part whose bytes are on their way from the file.
struct Reading {
    start: u64,
    len: u64,
    slice: gloo_file::Blob,
    buffer: JsFuture,
}

impl Reading {
    async fn finish(self) -> Outcome<Prepared> {
        let bytes = bytes_of(self.buffer.await, self.len)?;
        let digest = STANDARD.encode(Sha256::digest(&bytes));
        Ok(Prepared { start: self.start, slice: self.slice, bytes, digest })
    }
}

/// Bytes `[start, end)` of the file; only this slice is read.
async fn read(file: &web_sys::File, start: u64, end: u64) -> Outcome<Vec<u8>> {
    let reading = Prepared::start(file, start, end);
    bytes_of(reading.buffer.await, end - start)
}

/// The bytes of a finished read, which must be `len` long.
fn bytes_of(read: Result<JsValue, JsValue>, len: u64) -> Outcome<Vec<u8>> {
    let buffer = read
        .map_err(|_| Stop::Failed("the file could not be read; was it moved or changed?".into()))?;
    let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
    if bytes.len() as u64 != len {
        return Err(Stop::Failed("the file changed while it was being uploaded".into()));
    }
    Ok(bytes)
}

enum Body<'a> {
    Json(&'a Value),
    Blob(&'a web_sys::Blob),
}

/// Status, JSON body (null when there is none) and `Retry-After` in ms.
type Answer = (u16, Value, Option<u32>);

fn start_request(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<Body<'_>>,
    signal: Option<&web_sys::AbortSignal>,
    extra_headers: &[(&str, String)],
) -> Result<js_sys::Promise, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = RequestInit::new();
    init.set_method(method);
    let headers = Headers::new().map_err(|_| "no Headers")?;
    if let Some(token) = token {
        let _ = headers.set("authorization", &format!("Bearer {token}"));
    }
    for (name, value) in extra_headers {
        let _ = headers.set(name, value);
    }
    match body {
        Some(Body::Json(value)) => {
            let _ = headers.set("content-type", "application/json");
            init.set_body(&JsValue::from_str(&value.to_string()));
        }
        Some(Body::Blob(blob)) => {
            let _ = headers.set("content-type", "application/octet-stream");
            init.set_body(blob);
        }
        None => {}
    }
    init.set_headers(&headers);
    init.set_signal(signal);
    Ok(window.fetch_with_str_and_init(url, &init))
}

async fn finish_request(started: Result<js_sys::Promise, String>) -> Result<Answer, String> {
    let response: Response = JsFuture::from(started?)
        .await
        .map_err(|e| e.as_string().unwrap_or_else(|| "the network failed".into()))?
        .dyn_into()
        .map_err(|_| "not a response")?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .ok()
        .flatten()
        .and_then(|h| retry_after_ms(&h, Date::now()));
    let text = match response.text() {
        Ok(promise) => JsFuture::from(promise)
            .await
            .map_err(|_| "the answer was cut off")?
            .as_string()
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok((status, json, retry_after))
}

async fn request(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<Body<'_>>,
    signal: Option<&web_sys::AbortSignal>,
) -> Result<Answer, String> {
    finish_request(start_request(method, url, token, body, signal, &[])).await
}

/// A string field of an answer, or a failure naming it.
fn text(json: &Value, field: &str) -> Outcome<String> {
    json[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Stop::Failed(format!("the server's answer has no {field}")))
}

/// The message of a problem answer.
fn problem(json: &Value) -> String {
    json["detail"]
        .as_str()
        .or_else(|| json["title"].as_str())
        .unwrap_or("the server refused the upload")
        .to_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The next attempt's number, or a failure once too many attempts in a
/// row failed while the browser was online.
fn give_up_after(attempt: u32) -> Outcome<u32> {
    if attempt >= MAX_FAILURES && online() {
        return Err(Stop::Failed(
            "the server keeps failing; the upload can go on with Retry".into(),
        ));
    }
    Ok(attempt + 1)
}

fn online() -> bool {
    web_sys::window().map(|w| w.navigator().on_line()).unwrap_or(true)
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn load(key: &str) -> Option<Saved> {
    if key.is_empty() {
        return None;
    }
    let text = storage()?.get_item(key).ok().flatten()?;
    let saved = Saved::decode(&text, (Date::now() / 1000.0) as i64);
    if saved.is_none() {
        forget(key);
    }
    saved
}

fn store(key: &str, saved: &Saved) {
    if key.is_empty() {
        return;
    }
    if let Some(s) = storage() {
        let _ = s.set_item(key, &saved.encode());
    }
}

fn forget(key: &str) {
    if key.is_empty() {
        return;
    }
    if let Some(s) = storage() {
        let _ = s.remove_item(key);
    }
}
