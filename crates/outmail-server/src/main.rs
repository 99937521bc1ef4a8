//! The `outmail` binary.

use std::process::ExitCode;

use clap::Parser;
use outmail_server::{
    Server,
    cli::{Cli, Command},
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
    println!("outmail is listening on http://{}", server.local_addr());
    server.run(shutdown).await?;
    Ok(())
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
