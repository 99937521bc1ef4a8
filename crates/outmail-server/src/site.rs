//! The server-rendered UI and its static files.

use axum::{
    Router,
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::Response,
};
use leptos::config::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};
use outmail_app::{App, shell};

use crate::state::AppState;

/// The folder, under the site root, of the files cargo-leptos names by their content hash.
pub const HASHED_DIR: &str = "pkg";

/// Pages rendered by Leptos, plus static files from the site root for every other path.
pub fn router(state: &AppState) -> Router<AppState> {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    Router::new()
        .leptos_routes(state, routes, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn(cache_hashed_files))
}

/// Hashed files never change under the same name, so browsers may keep them for a year; every
/// other response is left to the default (revalidate).
async fn cache_hashed_files(request: Request, next: Next) -> Response {
    let hashed = request.uri().path().starts_with(&format!("/{HASHED_DIR}/"));
    let mut response = next.run(request).await;
    if hashed && response.status() == StatusCode::OK {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    }
    response
}

/// The file cargo-leptos writes beside the server binary, naming the hashed files.
const HASH_FILE_NAME: &str = "hash.txt";

/// Leptos settings for serving the site built by cargo-leptos from `site_root`.
pub fn leptos_options(site_root: &std::path::Path, bind: std::net::SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("outmail")
        .site_root(site_root.to_string_lossy().into_owned())
        .site_pkg_dir(HASHED_DIR)
        .site_addr(bind)
        .env(leptos::config::Env::PROD)
        .hash_files(hash_file_present())
        .hash_file(std::sync::Arc::from(HASH_FILE_NAME))
        .build()
}

/// The address of the built stylesheet, for the few HTML pages rendered outside Leptos (the
/// OAuth callback): hashed like Leptos' own link when cargo-leptos wrote the hash file.
pub fn stylesheet_href() -> &'static str {
    static HREF: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HREF.get_or_init(|| {
        let hash = std::env::current_exe()
            .ok()
            .and_then(|exe| std::fs::read_to_string(exe.parent()?.join(HASH_FILE_NAME)).ok())
            .and_then(|hashes| {
                hashes.lines().find_map(|line| {
                    let (file, hash) = line.split_once(':')?;
                    (file.trim() == "css").then(|| hash.trim().to_owned())
                })
            });
        match hash {
            Some(hash) => format!("/{HASHED_DIR}/outmail.{hash}.css"),
            None => format!("/{HASHED_DIR}/outmail.css"),
        }
    })
}

/// Leptos panics on render when hashing is on and the hash file is missing, which is the case
/// for a binary built by plain `cargo` (tests): hashed names are used only when cargo-leptos
/// built this binary and wrote the file.
fn hash_file_present() -> bool {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(HASH_FILE_NAME)))
        .is_some_and(|path| path.is_file())
}
