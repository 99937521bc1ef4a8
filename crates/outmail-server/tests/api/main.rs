//! The REST API under `/api/v1`, end to end through the router, on SQLite and on PostgreSQL.

#[path = "../../../outmail-mail/tests/support/mod.rs"]
mod mail_peers;
mod support;

mod access;
mod consent;
mod inputs;
mod messages;
mod openapi;
mod profiles;
mod settings;
mod system;
mod test_send;
