#![recursion_limit = "256"]
//! The browser entry points: `hydrate` takes over Satchel's own pages;
//! `mount` puts the upload widget into any page (a CRM's, say).

use app::{upload::UploaderOptions, Uploader};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;

/// Called by the generated loader script once the wasm module is ready.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}

/// Mounts the upload widget inside `element`. `options` is an object:
/// `{endpoint?, token, mode?, file_uuid?, entity?: {type, id}, field_id?,
/// language?, concurrency?, part_size?}` (see `UploaderOptions::from_json`). The
/// element receives `satchel:upload-progress`, `satchel:upload-complete`
/// and `satchel:upload-error` events. Throws on bad options.
#[wasm_bindgen]
pub fn mount(element: web_sys::HtmlElement, options: JsValue) -> Result<(), JsValue> {
    console_error_panic_hook::set_once();
    let text = js_sys::JSON::stringify(&options)
        .map_err(|_| JsValue::from_str("options must be a plain object"))?;
    let options =
        UploaderOptions::from_json(&String::from(text)).map_err(|e| JsValue::from_str(&e))?;
    leptos::mount::mount_to(element, move || view! { <Uploader options /> }).forget();
    Ok(())
}
