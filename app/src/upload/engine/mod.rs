//! The engine that moves a browser `File` to Satchel, in the browser only.
//!
//! - `mod.rs` (here): the queue of uploads, pause, resume and cancel,
//!   waiting out failures, and what happens once a file is up.
//! - `send`: the part loop: several parts of one file in flight at once.
//! - `resume`: opening a session, asking where it stands, remembering
//!   unfinished uploads across reloads.
//! - `reading`: slices of the file, read and hashed one at a time.
//! - `transport`: `fetch` requests and their answers, read as `wire` types.

use std::{cell::RefCell, collections::HashMap, rc::Rc};

use gloo_timers::future::TimeoutFuture;
use js_sys::{Date, Math};
use leptos::{prelude::*, task::spawn_local};
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use web_sys::{AbortController, CustomEvent, CustomEventInit};

use super::{
    plan::{Backoff, Fingerprint},
    Control, FollowUp, Item, Status, UploaderOptions,
};
use crate::wire::FileSummary;
use resume::{forget, load};
use transport::{online, problem, request, typed, Body};

mod reading;
mod resume;
mod send;
mod transport;

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

    /// The CRM step the options ask for, with the widget's token.
    async fn follow_up(&self, file: &Value) -> Result<(), String> {
        let file: FileSummary = typed(file).map_err(|_| "the file object is incomplete")?;
        let uuid = file.uuid.as_str();
        let (method, path, body) = match &self.options.follow_up {
            FollowUp::None => return Ok(()),
            FollowUp::Attach { entity_type, id } => {
                ("PUT", format!("/api/v4/{entity_type}/{id}/files"), json!([{"file_uuid": uuid}]))
            }
            FollowUp::Note { entity_type, id } => (
                "POST",
                format!("/api/v4/{entity_type}/{id}/notes"),
                json!([{"note_type": "attachment", "params": {
                    "file_uuid": uuid, "version_uuid": file.version_uuid,
                    "file_name": file.name_with_extension()}}]),
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
