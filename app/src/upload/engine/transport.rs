//! Requests to Satchel with `fetch`: a body (JSON or a file slice),
//! optional bearer token and headers, an abort signal; answers as status,
//! JSON (null when there is none) and `Retry-After`.

use js_sys::Date;
use serde::de::DeserializeOwned;
use serde_json::Value;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestInit, Response};

use super::{Outcome, Stop};
use crate::upload::plan::retry_after_ms;

pub enum Body<'a> {
    Json(&'a Value),
    Blob(&'a web_sys::Blob),
}

/// Status, JSON body (null when there is none) and `Retry-After` in ms.
pub type Answer = (u16, Value, Option<u32>);

/// Starts a request; the browser sends it while the page goes on.
pub fn start_request(
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

pub async fn finish_request(started: Result<js_sys::Promise, String>) -> Result<Answer, String> {
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

pub async fn request(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<Body<'_>>,
    signal: Option<&web_sys::AbortSignal>,
) -> Result<Answer, String> {
    finish_request(start_request(method, url, token, body, signal, &[])).await
}

/// An answer read as one of the `wire` types, or a failure saying so.
pub fn typed<T: DeserializeOwned>(json: &Value) -> Outcome<T> {
    serde_json::from_value(json.clone())
        .map_err(|e| Stop::Failed(format!("the server's answer is not understood: {e}")))
}

/// The message of a problem answer.
pub fn problem(json: &Value) -> String {
    json["detail"]
        .as_str()
        .or_else(|| json["title"].as_str())
        .unwrap_or("the server refused the upload")
        .to_owned()
}

pub fn online() -> bool {
    web_sys::window().map(|w| w.navigator().on_line()).unwrap_or(true)
}
