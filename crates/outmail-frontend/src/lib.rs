//! The browser entry point: wasm-bindgen exports `hydrate`, which the server-rendered page calls.

use wasm_bindgen::prelude::wasm_bindgen;

/// Attaches the reactive UI to the HTML the server already rendered.
#[wasm_bindgen]
pub fn hydrate() {
    // A Rust panic otherwise surfaces in the browser console as an opaque "unreachable".
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(outmail_app::App);
}
