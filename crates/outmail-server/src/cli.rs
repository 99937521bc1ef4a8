//! The `outmail` command line.

use clap::{Parser, Subcommand};

use crate::config::SettingsArgs;

/// outmail: outgoing-mail settings and delivery for your product.
#[derive(Parser, Debug)]
#[command(name = "outmail", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Run the web server: the admin UI and the REST API under /api/v1
    Serve,
    /// Seal every stored secret with a new key (added to the key file in the data folder)
    RotateKey,
}
