//! The reference server for `scripts/bench-api.sh`: one axum route that hands out a fixed JSON
//! page of 50 profile summaries from memory.
//!
//! It answers "how fast can axum hand out a JSON body of this size on this machine", so the
//! benchmark can report outmail's list endpoint as a ratio of it rather than as a bare number
//! that means little on another machine. It is bare on purpose: no database, no middleware, no
//! state beyond the body, and the same runtime setup as the real server (`#[tokio::main]`,
//! multi-threaded, `axum::serve`).
//!
//! ```text
//! cargo run --release -p outmail-server --example bare_json -- [PORT]
//! ```
//!
//! Binds 127.0.0.1 (port 0, the default, picks a free one) and prints `listening on http://ADDR`.

use std::net::{Ipv4Addr, SocketAddr};

use axum::{Router, body::Bytes, http::header, response::IntoResponse, routing::get};
use serde_json::{Value, json};

/// As many summaries as the profiles list returns per page by default.
const PER_PAGE: usize = 50;
/// As many profiles as the benchmark stores in outmail, so `total` has the same width.
const TOTAL: usize = 1000;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = match std::env::args().nth(1) {
        Some(arg) => arg.parse::<u16>().map_err(|error| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("usage: bare_json [PORT] ({arg:?}: {error})"),
            )
        })?,
        None => 0,
    };

    // Serialised once: the reference measures axum and the network stack handing out bytes, the
    // floor under any handler that has to fetch and serialise the same page itself.
    let body = Bytes::from(serde_json::to_vec(&profiles_page()).map_err(std::io::Error::other)?);
    let app = Router::new().route(
        "/profiles",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }
        }),
    );

    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    // The benchmark script reads this line to learn the port; stdout is line-buffered, so it is
    // out as soon as it is printed.
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}

/// A page shaped like `GET /api/v1/profiles`: `{items, total, page, per_page}` with the fields of
/// `outmail_types::profile::ProfileSummary`, filled like the profiles the benchmark stores (SMTP
/// with STARTTLS), so the body is the size the real endpoint sends. Written out rather than built
/// from that type: the reference must not share the code it is measured against.
fn profiles_page() -> Value {
    let items: Vec<Value> = (1..=PER_PAGE)
        .map(|n| {
            json!({
                "id": format!("0190f5c2-7a1e-7c3b-9d4e-{n:012x}"),
                "name": format!("bench-{n:04}"),
                "transport": "smtp",
                "target": "smtp.example.com:587 (starttls)",
                "version": 1,
            })
        })
        .collect();
    json!({
        "items": items,
        "total": TOTAL,
        "page": 1,
        "per_page": PER_PAGE,
    })
}
