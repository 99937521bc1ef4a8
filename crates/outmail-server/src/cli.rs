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

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the web server: the admin UI and the REST API under /api/v1
    Serve,
    /// Seal every stored secret with a new key (added to the key file in the data folder)
    RotateKey,
    /// Manage the accounts that may sign in to the UI and the API
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// Create an account. The password is read from standard input (first line); on a terminal
    /// it is asked for twice, without echo.
    Create {
        /// The email to sign in with
        #[arg(long)]
        email: String,
        /// admin (everything) or viewer (read only, no test sends)
        #[arg(long, default_value = "admin", value_parser = ["admin", "viewer"])]
        role: String,
    },
    /// List the accounts and their roles
    List,
    /// Set a new password (read like `create`'s); the account's sessions end
    SetPassword {
        #[arg(long)]
        email: String,
    },
    /// Delete an account; its sessions end. The last admin cannot be deleted.
    Delete {
        #[arg(long)]
        email: String,
    },
}
