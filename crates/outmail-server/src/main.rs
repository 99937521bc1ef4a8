//! The `outmail` binary.

use std::process::ExitCode;

use clap::Parser;
use outmail_server::{
    Server,
    cli::{AdminCommand, Cli, Command},
    config::Config,
    serve::shutdown_signal,
};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::resolve(&cli.settings) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("outmail: {error}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(config.log.as_str()))
        .with_writer(std::io::stderr)
        .init();

    let result = match cli.command {
        Command::Serve => serve(config).await,
        Command::RotateKey => rotate_key(config).await,
        Command::Admin(AdminCommand::Create { email, role }) => {
            create_admin(config, &email, &role).await
        }
        Command::Admin(AdminCommand::List) => list_admins(config).await,
        Command::Admin(AdminCommand::SetPassword { email }) => set_password(config, &email).await,
        Command::Admin(AdminCommand::Delete { email }) => delete_admin(config, &email).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("outmail: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    tracing::info!(
        data_dir = %config.data_dir.display(),
        database = %config.database_url,
        site_root = %config.site_root.display(),
        "starting"
    );
    let server = Server::build(&config).await?;
    let shutdown = shutdown_signal();
    // The one line meant for people: where to open the UI.
    say(&format!(
        "outmail is listening on http://{}",
        server.local_addr()
    ));
    for address in server.relay_addrs() {
        say(&format!("The SMTP relay is listening on {address}"));
    }
    if let Some(url) = server.setup_url() {
        say(&format!(
            "No admin yet: open {url} to create the first one (or run `outmail admin create`)"
        ));
    }
    server.run(shutdown).await?;
    Ok(())
}

/// A line for the person who started the server. Whoever reads standard output may have gone
/// (a closed pipe): that is no reason to stop serving, unlike `println!`'s panic.
fn say(line: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

async fn rotate_key(config: Config) -> anyhow::Result<()> {
    let store = outmail_server::serve::open_store(&config).await?;
    let rotation = store.rotate_key().await?;
    println!(
        "sealed {} secret(s) with key version {}; restart running servers so they seal new secrets with it too",
        rotation.resealed, rotation.new_version
    );
    store.close().await;
    Ok(())
}

async fn create_admin(config: Config, email: &str, role: &str) -> anyhow::Result<()> {
    let password = read_new_password()?;
    let (email, hash) = outmail_server::accounts::new_account(email, password)
        .await
        .map_err(|refusal| anyhow::anyhow!(refusal.describe()))?;
    let store = outmail_server::serve::open_store(&config).await?;
    let created = store.create_admin(&email, role, &hash).await;
    store.close().await;
    match created {
        Ok(admin) => {
            println!("created {} ({})", admin.email, admin.role);
            Ok(())
        }
        Err(outmail_store::StoreError::Conflict { .. }) => {
            anyhow::bail!("an account with the email {email} exists already")
        }
        Err(error) => Err(error.into()),
    }
}

/// The new password: asked twice without echo on a terminal, else the first line of stdin
/// (for scripts: `printf '%s\n' "$PASSWORD" | outmail admin create ...`).
fn read_new_password() -> anyhow::Result<outmail_types::SecretString> {
    use std::io::IsTerminal as _;
    if std::io::stdin().is_terminal() {
        let first = outmail_types::SecretString::new(rpassword::prompt_password("Password: ")?);
        let mut second = rpassword::prompt_password("Repeat the password: ")?;
        let same = first.expose() == second;
        zeroize::Zeroize::zeroize(&mut second);
        anyhow::ensure!(same, "the two passwords are not the same");
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = outmail_types::SecretString::new(line.trim_end_matches(['\r', '\n']));
    zeroize::Zeroize::zeroize(&mut line);
    anyhow::ensure!(!password.is_empty(), "no password on standard input");
    Ok(password)
}

async fn set_password(config: Config, email: &str) -> anyhow::Result<()> {
    let password = read_new_password()?;
    let (email, hash) = outmail_server::accounts::new_account(email, password)
        .await
        .map_err(|refusal| anyhow::anyhow!(refusal.describe()))?;
    let store = outmail_server::serve::open_store(&config).await?;
    let result = async {
        let admin = store
            .admin_by_email(&email)
            .await?
            .ok_or_else(|| anyhow::anyhow!("there is no account with the email {email}"))?;
        store.set_admin_password(&admin.id, &hash).await?;
        anyhow::Ok(())
    }
    .await;
    store.close().await;
    result?;
    println!("set a new password for {email}; its sessions have ended");
    Ok(())
}

async fn delete_admin(config: Config, email: &str) -> anyhow::Result<()> {
    let email = outmail_server::auth::normalize_email(email);
    let store = outmail_server::serve::open_store(&config).await?;
    let result = async {
        let accounts = store.list_admins().await?;
        let admin = accounts
            .iter()
            .find(|admin| admin.email == email)
            .ok_or_else(|| anyhow::anyhow!("there is no account with the email {email}"))?;
        let admins_left = accounts
            .iter()
            .filter(|other| other.role == "admin" && other.id != admin.id)
            .count();
        anyhow::ensure!(
            admin.role != "admin" || admins_left > 0,
            "{email} is the last admin: create another admin first, or nobody could change \
             the settings"
        );
        store.delete_admin(&admin.id).await?;
        anyhow::Ok(())
    }
    .await;
    store.close().await;
    result?;
    println!("deleted {email}; its sessions have ended");
    Ok(())
}

async fn list_admins(config: Config) -> anyhow::Result<()> {
    let store = outmail_server::serve::open_store(&config).await?;
    let admins = store.list_admins().await;
    store.close().await;
    for admin in admins? {
        println!("{}\t{}", admin.email, admin.role);
    }
    Ok(())
}
