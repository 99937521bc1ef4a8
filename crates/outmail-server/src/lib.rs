//! The outmail server: settings, the HTTP router (REST API and the server-rendered UI), and the
//! lifecycle of a running instance.

pub mod accounts;
pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod mail;
pub mod relay;
pub mod sending;
pub mod serve;
pub mod site;
pub mod state;
pub mod worker;

pub use serve::{Server, router};
pub use state::AppState;
