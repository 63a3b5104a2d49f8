//! Sessions and where they stand: opening one, asking the server for the
//! resume point, and remembering unfinished uploads in `localStorage`
//! under the file's fingerprint, so that picking the same file after a
//! reload goes on from what the server has. Without `localStorage`
//! (private modes) an upload starts again.

use js_sys::Date;
use leptos::prelude::*;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    give_up_after, hex,
    reading::read,
    transport::{problem, request, typed, Body},
    Engine, Outcome, Stop,
};
use crate::{
    upload::{
        plan::{classify, Failure, Saved},
        Item, Status,
    },
    wire::{ResumeAnswer, ResumeView, SessionOpened},
};

impl Engine {
    /// Opens a session (retrying network trouble); `Err` on a refusal.
    pub(super) async fn open(
        &self,
        item: Item,
        file: &web_sys::File,
        key: &str,
    ) -> Outcome<(Saved, SessionOpened)> {
        let mut body = json!({
            "file_name": file.name(),
            "file_size": file.size() as u64,
            "max_part_size": self.options.part_size,
        });
        if !file.type_().is_empty() {
            body["content_type"] = json!(file.type_());
        }
        if let Some(uuid) = &self.options.file_uuid {
            body["file_uuid"] = json!(uuid);
        }
        let mut attempt = 0;
        loop {
            self.checkpoint(item, None, key).await?;
            let url = self.url("/v1.0/sessions");
            let token = Some(self.options.token.as_str());
            match request("POST", &url, token, Some(Body::Json(&body)), None).await {
                Ok((200, json, _)) => {
                    let opened: SessionOpened = typed(&json)?;
                    if opened.max_part_size == 0 {
                        return Err(Stop::Failed("the server named no part size".into()));
                    }
                    let saved = Saved {
                        upload_url: opened.upload_url.clone(),
                        expires_at: opened.expires_at,
                        part_size: opened.max_part_size,
                    };
                    store(key, &saved);
                    return Ok((saved, opened));
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
    pub(super) async fn where_are_we(
        &self,
        item: Item,
        upload_url: &str,
        key: &str,
    ) -> Outcome<ResumeView> {
        let mut attempt = 0;
        loop {
            self.checkpoint(item, Some(upload_url), key).await?;
            match request("GET", upload_url, None, None, None).await {
                Ok((200, json, _)) if json["status"] == "expired" => {
                    forget(key);
                    return Err(Stop::Failed("the upload session expired".into()));
                }
                Ok((200, json, _)) => {
                    return match typed(&json)? {
                        ResumeAnswer::Completed(done) => {
                            let file = self.completed_file(item, &done.file_uuid, key).await?;
                            Ok(ResumeView::completed(done.session_id, file))
                        }
                        ResumeAnswer::Open(position) => Ok(ResumeView { position, file: None }),
                    };
                }
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

    /// A completed upload's file, read with the widget's token (the
    /// upload URL only names it); `Err` when it is gone.
    async fn completed_file(
        &self,
        item: Item,
        uuid: &str,
        key: &str,
    ) -> Outcome<serde_json::Value> {
        let mut attempt = 0;
        loop {
            self.checkpoint(item, None, key).await?;
            let url = self.url(&format!("/v1.0/files/{uuid}"));
            match request("GET", &url, Some(&self.options.token), None, None).await {
                Ok((200, json, _)) => return Ok(json),
                Ok((status, _, retry_after)) if classify(status) == Failure::Retry => {
                    attempt = give_up_after(attempt)?;
                    self.wait_before_retry(item, attempt, retry_after).await;
                }
                Ok((_, json, _)) => {
                    forget(key);
                    return Err(Stop::Failed(problem(&json)));
                }
                Err(_) => {
                    attempt = give_up_after(attempt)?;
                    self.wait_before_retry(item, attempt, None).await;
                }
            }
        }
    }

    /// The session remembered for this file, if it still runs (or has
    /// completed) and belongs to this widget's account.
    pub(super) async fn remembered(
        &self,
        item: Item,
        size: u64,
        key: &str,
    ) -> Outcome<Option<(Saved, ResumeView)>> {
        let Some(saved) = load(key) else { return Ok(None) };
        let view = match self.where_are_we(item, &saved.upload_url, key).await {
            Ok(view) => view,
            // Gone or expired: start afresh.
            Err(Stop::Failed(_)) => return Ok(None),
            Err(stop) => return Err(stop),
        };
        let ours = view.position.file_size as u64 == size && self.owns(item, &view, key).await?;
        if !ours {
            forget(key);
            return Ok(None);
        }
        Ok(Some((saved, view)))
    }

    /// Whether a session is one of this widget's account's: another user
    /// of the same browser must not continue it.
    async fn owns(&self, item: Item, view: &ResumeView, key: &str) -> Outcome<bool> {
        if view.position.is_completed() {
            // Only its own account's token could have opened it; the file
            // is checked against the bytes afterwards.
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
                    return Ok(sessions
                        .iter()
                        .any(|s| s["session_id"] == view.position.session_id));
                }
                Ok((204, _, _)) => return Ok(false),
                Ok((status, _, retry_after))
                    if classify(status) == Failure::Retry && attempt < super::MAX_FAILURES =>
                {
                    attempt = give_up_after(attempt)?;
                    self.wait_before_retry(item, attempt, retry_after).await;
                }
                Err(_) if attempt < super::MAX_FAILURES => {
                    attempt = give_up_after(attempt)?;
                    self.wait_before_retry(item, attempt, None).await;
                }
                _ => return Ok(false),
            }
        }
    }

    /// The whole file's SHA-256, read from the file.
    pub(super) async fn digest_of(
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
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

pub fn load(key: &str) -> Option<Saved> {
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

pub fn store(key: &str, saved: &Saved) {
    if key.is_empty() {
        return;
    }
    if let Some(s) = storage() {
        let _ = s.set_item(key, &saved.encode());
    }
}

pub fn forget(key: &str) {
    if key.is_empty() {
        return;
    }
    if let Some(s) = storage() {
        let _ = s.remove_item(key);
    }
}
