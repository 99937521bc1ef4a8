//! The REST API from the browser: JSON over `fetch` (gloo-net), errors as the server's
//! [`ApiError`]. Pages load their data with `LocalResource`, which runs only in the browser:
//! the server renders the loading state, of the same size, and hydration fills it in.

use outmail_types::settings::{ListQuery, Page};
use outmail_types::{ApiError, ProfileSummary};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The API's base path.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub const BASE: &str = "/api/v1";

/// A request that did not succeed: the server's error body, or a network failure put in the
/// same shape so a page has one thing to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The HTTP status; 0 when the server was not reached.
    pub status: u16,
    pub error: ApiError,
}

impl Problem {
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn unreachable(detail: impl std::fmt::Display) -> Self {
        Self {
            status: 0,
            error: ApiError::new(
                "unreachable",
                format!("outmail could not be reached: {detail}"),
            ),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error.message)
    }
}

/// The body of a `POST` that needs none: `{}`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Empty {}

/// A successful answer and its ETag (the resource's version), when it has one.
#[derive(Debug, Clone)]
pub struct Tagged<T> {
    pub body: T,
    pub etag: Option<String>,
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, Problem> {
    send::<(), T>("GET", path, None, None).await.map(|t| t.body)
}

pub async fn get_tagged<T: DeserializeOwned>(path: &str) -> Result<Tagged<T>, Problem> {
    send::<(), T>("GET", path, None, None).await
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, Problem> {
    send("POST", path, Some(body), None).await.map(|t| t.body)
}

pub async fn post_tagged<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<Tagged<T>, Problem> {
    send("POST", path, Some(body), None).await
}

/// `PUT` with `If-Match`: refused with 412 when someone saved a newer version meanwhile.
pub async fn put<B: Serialize, T: DeserializeOwned>(
    path: &str,
    etag: &str,
    body: &B,
) -> Result<Tagged<T>, Problem> {
    send("PUT", path, Some(body), Some(etag)).await
}

/// `DELETE` with `If-Match`.
pub async fn delete(path: &str, etag: &str) -> Result<(), Problem> {
    send::<(), serde::de::IgnoredAny>("DELETE", path, None, Some(etag))
        .await
        .map(|_| ())
}

/// `DELETE` of something that has no version to name: the session, an API token.
pub async fn delete_plain(path: &str) -> Result<(), Problem> {
    send::<(), serde::de::IgnoredAny>("DELETE", path, None, None)
        .await
        .map(|_| ())
}

#[cfg(feature = "hydrate")]
async fn send<B: Serialize, T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<&B>,
    etag: Option<&str>,
) -> Result<Tagged<T>, Problem> {
    use gloo_net::http::{Method, RequestBuilder};

    let url = format!("{BASE}{path}");
    let method = match method {
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        "DELETE" => Method::DELETE,
        _ => Method::GET,
    };
    let mut request = RequestBuilder::new(&url)
        .method(method)
        .header("Accept", "application/json");
    if let Some(etag) = etag {
        request = request.header("If-Match", etag);
    }
    let request = match body {
        Some(body) => request.json(body).map_err(Problem::unreachable)?,
        None => request.build().map_err(Problem::unreachable)?,
    };
    let response = request.send().await.map_err(Problem::unreachable)?;
    let status = response.status();
    let etag = response.headers().get("etag");
    if (200..300).contains(&status) {
        let text = response.text().await.map_err(Problem::unreachable)?;
        // 204 and empty bodies read as JSON null.
        let text = if text.is_empty() { "null" } else { &text };
        let body = serde_json::from_str(text).map_err(|e| Problem {
            status,
            error: ApiError::new("unreadable", format!("the answer could not be read: {e}")),
        })?;
        return Ok(Tagged { body, etag });
    }
    let error = response
        .json::<ApiError>()
        .await
        .unwrap_or_else(|_| ApiError::new("http_error", format!("the server answered {status}")));
    Err(session_checked(Problem { status, error }))
}

/// A request refused because the session has ended (idle, too old, or signed out in another
/// tab) sends the browser to sign in, and back to this page afterwards. Other problems, a wrong
/// password at sign-in among them, are the page's to show.
#[cfg(feature = "hydrate")]
fn session_checked(problem: Problem) -> Problem {
    if problem.status == 401 && problem.error.code == "unauthenticated" {
        let location = leptos::prelude::window().location();
        let here = format!(
            "{}{}",
            location.pathname().unwrap_or_default(),
            location.search().unwrap_or_default()
        );
        let next = String::from(js_sys::encode_uri_component(&here));
        let _ = location.assign(&format!("/login?next={next}"));
    }
    problem
}

/// On the server nothing is fetched (resources load in the browser); this only keeps the
/// pages compiling for server rendering.
#[cfg(not(feature = "hydrate"))]
async fn send<B: Serialize, T: DeserializeOwned>(
    _method: &str,
    _path: &str,
    _body: Option<&B>,
    _etag: Option<&str>,
) -> Result<Tagged<T>, Problem> {
    std::future::pending().await
}

/// `POST` asking for `text/event-stream`: calls `on_event(name, data)` for each server-sent
/// event as it arrives (the test send's stages), and answers when the stream ends.
#[cfg(feature = "hydrate")]
pub async fn post_events<B: Serialize>(
    path: &str,
    body: &B,
    mut on_event: impl FnMut(&str, &str),
) -> Result<(), Problem> {
    use gloo_net::http::RequestBuilder;
    use leptos::wasm_bindgen::JsCast;

    let response = RequestBuilder::new(&format!("{BASE}{path}"))
        .method(gloo_net::http::Method::POST)
        .header("Accept", "text/event-stream")
        .json(body)
        .map_err(Problem::unreachable)?
        .send()
        .await
        .map_err(Problem::unreachable)?;
    let status = response.status();
    if !(200..300).contains(&status) {
        let error = response.json::<ApiError>().await.unwrap_or_else(|_| {
            ApiError::new("http_error", format!("the server answered {status}"))
        });
        return Err(session_checked(Problem { status, error }));
    }
    let reader = response
        .body()
        .ok_or_else(|| Problem::unreachable("the answer has no body"))?
        .get_reader()
        .unchecked_into::<web_sys::ReadableStreamDefaultReader>();
    let mut pending = String::new();
    loop {
        let chunk = wasm_bindgen_futures::JsFuture::from(reader.read())
            .await
            .map_err(|e| Problem::unreachable(format!("{e:?}")))?;
        let done = js_sys::Reflect::get(&chunk, &"done".into())
            .map(|d| d.is_truthy())
            .unwrap_or(true);
        if done {
            return Ok(());
        }
        if let Ok(value) = js_sys::Reflect::get(&chunk, &"value".into()) {
            let bytes = js_sys::Uint8Array::new(&value).to_vec();
            pending.push_str(&String::from_utf8_lossy(&bytes));
        }
        // Events end with a blank line (the server writes `\n` line ends).
        while let Some(end) = pending.find("\n\n") {
            let block: String = pending.drain(..end + 2).collect();
            let mut name = "message";
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    name = value.trim();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value));
                }
            }
            on_event(name, &data.join("\n"));
        }
    }
}

/// On the server nothing is fetched; see the browser version above.
#[cfg(not(feature = "hydrate"))]
pub async fn post_events<B: Serialize>(
    _path: &str,
    _body: &B,
    _on_event: impl FnMut(&str, &str),
) -> Result<(), Problem> {
    std::future::pending().await
}

/// Every profile, for a picker that must offer them all: `/profiles` page by page at the API's
/// largest page size ([`ListQuery::MAX_PER_PAGE`]) until it has read as many pages as the
/// answers' `total` needs.
///
/// The pages are separate requests: a profile created or deleted meanwhile moves the others by
/// one place, so one may be missed or listed twice until the page is loaded again.
pub async fn all_profiles() -> Result<Vec<ProfileSummary>, Problem> {
    let mut query = ListQuery {
        per_page: ListQuery::MAX_PER_PAGE,
        ..ListQuery::default()
    };
    let mut profiles = Vec::new();
    loop {
        let page =
            get::<Page<ProfileSummary>>(&format!("/profiles?{}", query.to_query_string())).await?;
        let next = next_page(&page);
        profiles.extend(page.items);
        match next {
            Some(next) => query.page = next,
            None => return Ok(profiles),
        }
    }
}

/// The page to ask for after `page`, or `None` when it was the last: the page count its total
/// gives was reached, or it came back empty (the list shrank meanwhile), so paging always ends.
fn next_page<T>(page: &Page<T>) -> Option<u32> {
    (!page.items.is_empty() && u64::from(page.page) < page.page_count())
        .then(|| page.page.checked_add(1))
        .flatten()
}

/// `base` with a query of the `pairs` whose value is not empty, each value percent-encoded: a
/// filter that is not set stays out of the address.
pub fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{key}={}", encode(value)))
        .collect();
    if query.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", query.join("&"))
    }
}

/// Percent-encodes one query value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(number: u32, items: usize, total: u64) -> Page<u8> {
        Page {
            items: vec![0; items],
            total,
            page: number,
            per_page: ListQuery::MAX_PER_PAGE,
        }
    }

    #[test]
    fn all_profiles_reads_as_many_full_pages_as_the_total_needs() {
        let max = ListQuery::MAX_PER_PAGE as usize;
        // 450 profiles: two full pages, then 50.
        assert_eq!(next_page(&page(1, max, 450)), Some(2));
        assert_eq!(next_page(&page(2, max, 450)), Some(3));
        assert_eq!(next_page(&page(3, 50, 450)), None);
        // Exactly one page, and fewer than a page.
        assert_eq!(next_page(&page(1, max, max as u64)), None);
        assert_eq!(next_page(&page(1, 3, 3)), None);
        assert_eq!(next_page(&page(1, 0, 0)), None);
    }

    #[test]
    fn all_profiles_stops_at_an_empty_page_even_if_the_total_says_more() {
        // Profiles deleted between two requests: the total went stale.
        assert_eq!(next_page(&page(2, 0, 450)), None);
    }

    #[test]
    fn all_profiles_asks_for_the_largest_page_the_api_allows() {
        let query = ListQuery {
            page: 2,
            per_page: ListQuery::MAX_PER_PAGE,
            ..ListQuery::default()
        };
        assert_eq!(
            query.to_query_string(),
            format!("page=2&per_page={}", ListQuery::MAX_PER_PAGE)
        );
    }
}
