//! The part loop: the file cut into the part size the server offers,
//! several parts in flight at once so that one upload fills the link.
//!
//! - Parts are read and hashed in order, the next one while the others
//!   travel: each from its own slice (`Blob.slice`: only the part being
//!   hashed is in memory), or from a view of the whole file's bytes once
//!   the browser has read them for its own digest. They go out as soon
//!   as the window has room: at most `window` parts (the server's, at
//!   most six, the connections a browser opens to one host), each within
//!   `window` parts past the bytes the server holds without a gap.
//! - Each part carries its SHA-256 (`Content-Digest`). The whole file's
//!   SHA-256 is the browser's own for files up to `NATIVE_WHOLE_MAX`
//!   (read once, hashed natively while the parts go out), else carried
//!   over the parts in order in wasm; the part that ends the
//!   file goes last, alone, announcing it (`Repr-Digest`), so it is the
//!   one that completes the file and the server checks the digest; the
//!   engine checks the digest the server reports too.
//! - Network errors, 408, 429 (with `Retry-After`) and 5xx stop new parts;
//!   once the parts in flight have answered, the engine waits (backoff
//!   with jitter, or until online) and asks the server where the upload
//!   stands (`GET upload_url`): it sends again only what the server lacks,
//!   at most the parts that were in flight. A part refused for its digest
//!   (460) is read and sent again.
//! - After a reload the same happens from the remembered session: bytes the
//!   server has are read again only to carry the digest on, never sent.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    rc::Rc,
};

use base64::{engine::general_purpose::STANDARD, Engine as _};
use futures::{channel::oneshot, stream::FuturesUnordered, StreamExt};
use js_sys::Date;
use leptos::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use web_sys::AbortController;

use super::{
    hex,
    reading::{native_whole, read, NativeWhole, Prepared},
    resume::forget,
    transport::{finish_request, online, problem, start_request, Body},
    Engine, Outcome, Stop, MAX_FAILURES, MAX_RESENDS, PROGRESS_EVERY_MS,
};
use crate::{
    upload::{
        plan::{classify, Failure, Meter, Parts},
        Control, Item, Status,
    },
    wire::{part_url, PartAccepted, ResumeView},
};

/// Most parts of one upload in flight: a browser opens six connections to
/// one host over HTTP/1.1, and more would only queue inside it.
const MAX_WINDOW: u32 = 6;

/// One part to send: its number among full-size parts and its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Part {
    n: u32,
    start: u64,
    end: u64,
}

/// The whole-file digest: the browser's own for a file it can read at
/// once (`native_whole`), else carried over the file in order in wasm.
struct Whole {
    native: Option<NativeWhole>,
    hasher: Sha256,
    /// Bytes fed so far: `[0, to)`.
    to: u64,
}

impl Whole {
    fn of(file: &web_sys::File) -> Whole {
        Whole { native: native_whole(file), hasher: Sha256::new(), to: 0 }
    }

    /// Whether the parts' bytes must be fed to the wasm hasher.
    fn stepwise(&self) -> bool {
        self.native.is_none()
    }
}

impl Engine {
    pub(super) async fn upload(
        self: &Rc<Self>,
        item: Item,
        file: &web_sys::File,
    ) -> Outcome<Value> {
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

    async fn upload_as(
        self: &Rc<Self>,
        item: Item,
        file: &web_sys::File,
        key: &str,
    ) -> Outcome<Value> {
        let size = file.size() as u64;
        let (saved, mut view) = match self.remembered(item, size, key).await? {
            Some((saved, view)) if view.position.is_completed() => {
                // It finished before the reload; make sure it is this file.
                forget(key);
                let ours = self.digest_of(item, file, saved.part_size, key).await?;
                if view.file_sha256() == Some(ours.as_str()) {
                    return Ok(view.file.unwrap_or_default());
                }
                let (saved, opened) = self.open(item, file, key).await?;
                (saved, ResumeView::fresh(&opened, &file.name(), size))
            }
            Some(found) => found,
            None => {
                let (saved, opened) = self.open(item, file, key).await?;
                (saved, ResumeView::fresh(&opened, &file.name(), size))
            }
        };
        let parts = Parts::new(size, saved.part_size)
            .ok_or_else(|| Stop::Failed("the server named no part size".into()))?;
        let mut whole = Whole::of(file);
        let mut failures = 0;
        loop {
            let burst = Burst::new(&view, parts)?;
            match self.burst(item, file, key, &saved.upload_url, burst, &mut whole).await? {
                Ended::Completed(file) => {
                    forget(key);
                    return Ok(file);
                }
                Ended::Failed(retry_after) => {
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
                Ended::Progressed => failures = 0,
                // The user paused: nothing failed, nothing to wait out.
                Ended::Paused => {}
            }
            view = self.where_are_we(item, &saved.upload_url, key).await?;
            if view.position.is_completed() {
                forget(key);
                return Ok(view.file.unwrap_or_default());
            }
        }
    }

    /// Sends the parts the server lacks until they are all acknowledged,
    /// one completes the file, or something goes wrong.
    async fn burst(
        &self,
        item: Item,
        file: &web_sys::File,
        key: &str,
        upload_url: &str,
        mut burst: Burst,
        whole: &mut Whole,
    ) -> Outcome<Ended> {
        let size = burst.parts.size;
        let controller = AbortController::new().ok();
        let signal = controller.as_ref().map(|c| c.signal());
        if let Some(c) = controller {
            self.aborts.borrow_mut().insert(item.id, c);
        }
        item.status.set(Status::Uploading);
        let mut meter = Meter::default();
        meter.record(Date::now(), burst.done);
        let mut shown_at = 0.0;
        let mut in_flight = FuturesUnordered::new();
        let mut failure: Option<Option<u32>> = None;
        let mut resends: HashMap<u64, u32> = HashMap::new();
        let mut progressed = false;
        let mut paused = false;
        let mut ahead: Option<ReadAhead> = None;
        let ended = loop {
            while failure.is_none() && in_flight.len() < burst.window as usize {
                let Some((part, url)) = burst.sendable(in_flight.is_empty(), upload_url) else {
                    break;
                };
                if self.checkpoint(item, Some(upload_url), key).await? {
                    paused = true;
                    failure = Some(None); // paused: ask where things stand first
                    break;
                }
                burst.todo.pop_front();
                let part_size = burst.parts.part_size;
                if whole.stepwise() {
                    self.catch_up(item, file, key, whole, part.start, part_size).await?;
                }
                item.status.set(Status::Uploading);
                let read = match ahead.take() {
                    Some(read) if read.matches(part, whole) => read,
                    _ => ReadAhead::start(file, part, whole),
                };
                let prepared = read.prepared().await?;
                if whole.stepwise() && whole.to == part.start {
                    whole.hasher.update(&prepared.bytes);
                    whole.to = part.end;
                }
                let mut headers =
                    vec![("content-digest", format!("sha-256=:{}:", prepared.digest))];
                if part.end == size {
                    let digest = self.whole_digest(item, file, key, whole, part_size).await?;
                    headers.push(("repr-digest", format!("sha-256=:{}:", STANDARD.encode(digest))));
                }
                let body = Body::Blob(prepared.slice.as_ref());
                let started =
                    start_request("POST", &url, None, Some(body), signal.as_ref(), &headers);
                in_flight.push(async move { (part, finish_request(started).await) });
                // The next part is read and hashed while this one travels.
                ahead = burst.todo.front().map(|part| ReadAhead::start(file, *part, whole));
            }
            let Some((part, answer)) = in_flight.next().await else {
                break failure.map_or(Ended::Progressed, Ended::Failed);
            };
            match answer {
                Ok((202, json, _)) => {
                    progressed = true;
                    burst.named(&json);
                    resends.remove(&part.start);
                    burst.acknowledged(part);
                    let now = Date::now();
                    if now - shown_at >= PROGRESS_EVERY_MS {
                        shown_at = now;
                        self.show_progress(item, file, &mut meter, burst.done, now);
                    }
                }
                Ok((200, json, _)) => {
                    let part_size = burst.parts.part_size;
                    let ours = hex(&self.whole_digest(item, file, key, whole, part_size).await?);
                    if json["sha256"].as_str() != Some(ours.as_str()) {
                        forget(key);
                        return Err(Stop::Failed(format!(
                            "the server reports SHA-256 {} for a file whose SHA-256 is {ours}",
                            json["sha256"]
                        )));
                    }
                    break Ended::Completed(json);
                }
                Ok((status, json, retry_after)) => match classify(status) {
                    // The same last part cannot fix a whole-file mismatch
                    // more than once (the file changed).
                    Failure::Resend => {
                        let sent = resends.entry(part.start).or_default();
                        *sent += 1;
                        if *sent > if part.end == size { 1 } else { MAX_RESENDS } {
                            return Err(Stop::Failed(problem(&json)));
                        }
                        burst.todo.push_front(part);
                    }
                    Failure::Retry | Failure::Resync => {
                        failure.get_or_insert(retry_after);
                    }
                    Failure::Gone => {
                        forget(key);
                        return Err(Stop::Failed(problem(&json)));
                    }
                    _ => return Err(Stop::Failed(problem(&json))),
                },
                // The network failed, or a pause or cancel aborted it.
                Err(_) => {
                    failure.get_or_insert(None);
                }
            }
        };
        self.aborts.borrow_mut().remove(&item.id);
        // A pause aborts the parts in flight: their errors are not the
        // network's.
        let aborted = signal.as_ref().is_some_and(|s| s.aborted());
        Ok(match ended {
            Ended::Failed(_) if progressed => Ended::Progressed,
            Ended::Failed(_) if paused || aborted => Ended::Paused,
            other => other,
        })
    }

    /// The whole file's SHA-256: the browser's, or, when it has none (or
    /// its read failed), the wasm hasher's, fed the rest of the file first.
    async fn whole_digest(
        &self,
        item: Item,
        file: &web_sys::File,
        key: &str,
        whole: &mut Whole,
        part_size: u64,
    ) -> Outcome<[u8; 32]> {
        if let Some(native) = whole.native.clone() {
            if let Some(digest) = native.digest.await {
                return Ok(digest);
            }
            whole.native = None;
        }
        let size = file.size() as u64;
        self.catch_up(item, file, key, whole, size, part_size).await?;
        item.status.set(Status::Uploading);
        Ok(whole.hasher.clone().finalize().into())
    }

    /// Feeds the whole-file digest the bytes before `start` that the
    /// server has and this page has not hashed yet (after a reload).
    async fn catch_up(
        &self,
        item: Item,
        file: &web_sys::File,
        key: &str,
        whole: &mut Whole,
        start: u64,
        part_size: u64,
    ) -> Outcome<()> {
        if whole.to >= start {
            return Ok(());
        }
        item.status.set(Status::Hashing);
        while whole.to < start {
            self.checkpoint(item, None, key).await?;
            let end = (whole.to + part_size).min(start);
            whole.hasher.update(&read(file, whole.to, end).await?);
            whole.to = end;
        }
        Ok(())
    }

    /// The list and the host page hear of progress at most ten times a
    /// second: redrawing for every part would take the time the upload
    /// needs.
    fn show_progress(
        &self,
        item: Item,
        file: &web_sys::File,
        meter: &mut Meter,
        done: u64,
        now: f64,
    ) {
        let size = item.size;
        item.done.set(done);
        meter.record(now, done);
        item.speed.set(meter.speed());
        item.eta.set(meter.eta_secs(size.saturating_sub(done)));
        self.emit(
            "satchel:upload-progress",
            &json!({"name": file.name(), "done": done, "size": size,
                    "percent": crate::upload::percent(done, size)}),
        );
    }
}

/// A part being read and hashed on its own, so that reading one part
/// overlaps sending the others.
struct ReadAhead {
    part: Part,
    keep: bool,
    ready: oneshot::Receiver<Outcome<Prepared>>,
}

impl ReadAhead {
    fn start(file: &web_sys::File, part: Part, whole: &Whole) -> ReadAhead {
        let (sender, ready) = oneshot::channel();
        let keep = whole.stepwise();
        // Until the whole file is read (for its digest), a part reads its
        // own slice; then it views the whole file's bytes.
        let bytes = whole.native.as_ref().and_then(NativeWhole::bytes_now);
        let file = file.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let read = Prepared::read(&file, part.start, part.end, keep, bytes.as_ref()).await;
            let _ = sender.send(read);
        });
        ReadAhead { part, keep, ready }
    }

    /// Whether this read is the one `part` needs now: the whole-file
    /// digest may have gone over to wasm since (it then needs the bytes).
    fn matches(&self, part: Part, whole: &Whole) -> bool {
        self.part == part && self.keep == whole.stepwise()
    }

    async fn prepared(self) -> Outcome<Prepared> {
        self.ready.await.unwrap_or_else(|_| {
            Err(Stop::Failed("the file could not be read; was it moved or changed?".into()))
        })
    }
}

/// How a burst of parts ended.
enum Ended {
    /// The file is complete: the server's file object.
    Completed(Value),
    /// Every part sent was acknowledged, or some were before a failure.
    Progressed,
    /// Nothing moved: wait (`Retry-After` in ms, if the server said).
    Failed(Option<u32>),
    /// The user paused it: not a failure.
    Paused,
}

/// The parts of one burst: what is left to send, and where the server's
/// gap-free bytes end as acknowledgements come in.
struct Burst {
    parts: Parts,
    window: u32,
    todo: VecDeque<Part>,
    /// Where the server's gap-free bytes end.
    frontier: u64,
    /// Acknowledged ranges past the frontier, by start.
    ahead: BTreeMap<u64, u64>,
    /// Bytes the server holds.
    done: u64,
    /// URLs the server named for bytes from an offset on (the resume
    /// point's, each acknowledgement's `next_url`): where a part that
    /// starts inside a full-size part goes.
    urls_at: HashMap<u64, String>,
}

impl Burst {
    fn new(view: &ResumeView, parts: Parts) -> Outcome<Burst> {
        let position = &view.position;
        let received = position.received;
        let first = parts
            .next_after(received)
            .filter(|n| *n <= parts.count())
            .ok_or_else(|| Stop::Failed("the server's upload does not match this file".into()))?;
        // The part that ends the file may go as two (`Parts::tail_split`).
        let split = parts.tail_split();
        let todo: VecDeque<Part> = (first..=parts.count())
            .filter_map(|n| parts.range(n).map(|(start, end)| (n, start, end)))
            .flat_map(|(n, start, end)| match split {
                Some(at) if n == parts.count() => vec![(n, start, at), (n, at, end)],
                _ => vec![(n, start, end)],
            })
            .map(|(n, start, end)| Part { n, start: start.max(received), end })
            // What the server holds goes no more; an empty file's one part does.
            .filter(|p| (p.start < p.end || p.end == 0) && !position.holds(p.start, p.end))
            .collect();
        let ahead: BTreeMap<u64, u64> =
            position.ranges.iter().filter(|[s, _]| *s > received).map(|[s, e]| (*s, *e)).collect();
        let done = received + ahead.iter().map(|(s, e)| e - s).sum::<u64>();
        Ok(Burst {
            parts,
            window: position.window.clamp(1, MAX_WINDOW),
            todo,
            frontier: received,
            ahead,
            done,
            urls_at: position.next_url.iter().map(|url| (received, url.clone())).collect(),
        })
    }

    /// The next part to send and its URL, if the window has room for it.
    /// The part that ends the file waits until it is the only one left. A
    /// part whose URL is unknown yet waits too (when nothing else is in
    /// flight the burst ends and the resume point names its URL).
    fn sendable(&self, nothing_in_flight: bool, upload_url: &str) -> Option<(Part, String)> {
        let part = *self.todo.front()?;
        if part.end == self.parts.size && (self.todo.len() > 1 || !nothing_in_flight) {
            return None;
        }
        let reach = self.frontier + u64::from(self.window) * self.parts.part_size;
        if part.end > reach && !nothing_in_flight {
            return None;
        }
        Some((part, self.url_of(part, upload_url)?))
    }

    fn acknowledged(&mut self, part: Part) {
        self.done += part.end - part.start;
        self.ahead.insert(part.start, part.end);
        while let Some(end) = self.ahead.remove(&self.frontier) {
            self.frontier = end;
        }
    }

    /// Where a part goes: one that starts where a full-size part does,
    /// by number; one that starts inside a part (the rest of a part the
    /// server kept the start of, the file's tail), to the URL the
    /// server named for its offset.
    fn url_of(&self, part: Part, upload_url: &str) -> Option<String> {
        if part.start.is_multiple_of(self.parts.part_size) {
            return Some(part_url(upload_url, part.n));
        }
        self.urls_at.get(&part.start).cloned()
    }

    /// Notes where the server said the bytes after an acknowledged part go.
    fn named(&mut self, answer: &Value) {
        if let Ok(accepted) = PartAccepted::deserialize(answer) {
            self.urls_at.insert(accepted.received, accepted.next_url);
        }
    }
}
