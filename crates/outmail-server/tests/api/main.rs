//! The REST API under `/api/v1`, end to end through the router, on SQLite and on PostgreSQL.

mod support;

// The mail peers and scripted faults, as `crate::mail_peers::…` in the test modules.
use outmail_testkit as mail_peers;

mod access;
mod consent;
mod inputs;
mod messages;
mod openapi;
mod profiles;
mod relay;
mod settings;
mod system;
mod test_send;
