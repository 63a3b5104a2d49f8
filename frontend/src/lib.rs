//! The browser entry point: hydrates the server-rendered pages.

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the generated loader script once the wasm module is ready.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
