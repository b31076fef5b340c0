//! `bindcar`: parse the configuration once, set up JSON logs, serve until SIGTERM.

use std::process::ExitCode;

use bindcar::config::Cli;
use bindcar::config::Config;
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = if cli.debug {
        EnvFilter::new("debug")
    } else {
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
    };
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .init();

    // One TLS crypto provider for the process (kube's client). Explicit, because when a
    // build unifies both of rustls's providers (ring and aws-lc-rs) it will not pick one.
    if rustls::crypto::ring::default_provider()
        .install_default()
        .is_err()
    {
        tracing::debug!("a rustls crypto provider was already installed");
    }

    let config = match Config::from_cli(&cli) {
        Ok(config) => config,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("Error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bindcar::server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("Error: {message}");
            ExitCode::FAILURE
        }
    }
}
