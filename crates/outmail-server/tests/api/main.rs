//! The REST API under `/api/v1`, end to end through the router, on SQLite and on PostgreSQL.

mod support;

mod inputs;
mod openapi;
mod profiles;
mod settings;
mod system;
