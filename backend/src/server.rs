//! The process: wires configuration, named, zones, auth, TLS and HTTP together (the one module
//! that sees them all). Startup and shutdown: build the state from the configuration, listen
//! (plain HTTP, or HTTPS through `tls`), and stop gracefully on SIGTERM or Ctrl-C (in-flight
//! requests finish, new connections are refused).

use std::process::ExitCode;
use std::sync::Arc;

use axum::extract::Request;
use axum::middleware;
use clap::Parser;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::auth::actor::ClientCertificate;
use crate::auth::Authenticator;
use crate::bind::serial_query::UdpSerialQuery;
use crate::bind::update::{DnsChannel, TsigDns};
use crate::bind::{Rndc, Statistics, StatsChannel, ZoneDir};
use crate::catalog::Catalog;
use crate::config::{Cli, Config, TlsSettings};
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::rate_limit::RateLimit;
use crate::serve;
use crate::tls;
use crate::zones::Zones;

/// The process: parse the configuration once, set up JSON logs, serve until SIGTERM.
pub fn main() -> ExitCode {
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
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("Error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the application state (no network call: named may come up later).
pub fn build_state(config: &Config) -> Result<Arc<AppState>, String> {
    let metrics = Metrics::new().map_err(|e| format!("metrics registry: {e}"))?;
    let dir = ZoneDir::open(&config.zone_dir)?;
    let rndc = Rndc::new(
        &config.rndc.server,
        &config.rndc.algorithm,
        &config.rndc.secret,
        config.rndc_timeout,
        metrics.clone(),
    )?;
    let stats = match &config.stats_url {
        Some(url) => {
            let channel: Arc<dyn Statistics> =
                Arc::new(StatsChannel::new(url, config.rndc_timeout)?);
            Some(channel)
        }
        None => None,
    };
    let auth = Authenticator::from_settings(&config.auth, metrics.clone());
    let update = &config.update;
    let dns = TsigDns::new(
        &update.server,
        &update.key_name,
        update
            .key
            .as_ref()
            .map(|k| (k.algorithm, k.secret.clone()))
            .map_err(Clone::clone),
        update.timeout,
    )?;
    let dns: Arc<dyn DnsChannel> = Arc::new(dns);
    // A create whose addzone timed out may still be in named's queue: its files are not
    // swept as orphans before two time limits have passed.
    let grace = config.rndc_timeout * 2;
    let mut zones = Zones::new(dir, Arc::new(rndc), metrics.clone())
        .with_stats(stats)
        .with_orphan_grace(grace);
    if let Some(catalog) = &config.catalog {
        let catalog = Catalog::new(
            catalog.zone.clone(),
            catalog.secondaries.clone(),
            catalog.allow_transfer.clone(),
        );
        zones = zones.with_catalog(catalog, dns.clone())?;
    }
    Ok(Arc::new(AppState {
        zone_list: Default::default(),
        zones: zones.with_max_records_per_type(update.max_records_per_type),
        metrics,
        auth,
        rate_limit: config.rate_limit.as_ref().map(RateLimit::new),
        dns,
        serials: Arc::new(UdpSerialQuery::default()),
    }))
}

pub async fn run(config: Config) -> Result<(), String> {
    // The TLS files first: one that cannot be used stops startup before anything listens
    // (serving plain HTTP instead would be a silent downgrade).
    let tls = match &config.tls {
        Some(settings) => Some(Arc::new(tls::Reloader::load(settings.clone())?)),
        None => None,
    };
    let state = build_state(&config)?;
    let fd_limit = serve::fd_budget::raise_limit();
    let connections = serve::fd_budget::fit(config.connections, fd_limit)?;
    if connections.max_connections < config.connections.max_connections {
        tracing::warn!(
            fd_limit,
            max_connections = connections.max_connections,
            "BIND_API_MAX_CONNECTIONS lowered to fit the file-descriptor limit"
        );
    }
    let listener = TcpListener::bind((config.address.as_str(), config.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", config.address, config.port))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // Before the first request can arrive: a SIGHUP must never meet the default handler.
    let tls_watch = match &tls {
        Some(reloader) => Some(tls::watch(reloader.clone())?),
        None => None,
    };
    // Reconcile the zone list with BIND now (sweeping files orphaned by a crash) and every
    // interval after; stops with the runtime.
    let reconciler = {
        let state = state.clone();
        let every = config.reconcile_every;
        tokio::spawn(async move { state.zones.reconcile_forever(every).await })
    };
    tracing::info!(
        address = %local,
        tls = tls_mode(config.tls.as_ref()),
        zone_dir = %state.zones.dir().root().display(),
        rndc_server = config.rndc.server.as_str(),
        rndc_source = %config.rndc.source,
        stats_url = config.stats_url.as_deref().unwrap_or("none (listing over rndc)"),
        reconcile_secs = config.reconcile_every.as_secs(),
        auth_mode = config.auth.mode(),
        docs = config.enable_docs,
        rate_limit = ?config.rate_limit,
        connections = ?connections,
        fd_limit,
        auth_mode_reason = config.auth_reason,
        nsupdate_server = %config.update.server,
        nsupdate_key = config.update.key_name.as_str(),
        catalog = config
            .catalog
            .as_ref()
            .map_or_else(|| "none".to_string(), |c| c.zone.to_string()),
        catalog_secondaries = config.catalog.as_ref().map_or(0, |c| c.secondaries.len()),
        version = env!("CARGO_PKG_VERSION"),
        "bindcar listening"
    );
    let metrics = state.metrics.clone();
    let router = http::router_with_docs(state, config.enable_docs);
    match tls {
        None => {
            serve::serve(
                listener,
                serve::PlainTcp,
                router,
                connections,
                metrics,
                shutdown_signal(),
            )
            .await
        }
        Some(reloader) => {
            let router = router.layer(middleware::map_request(from_tls_peer));
            let transport = tls::TlsTransport::new(reloader);
            serve::serve(
                listener,
                transport,
                router,
                connections,
                metrics,
                shutdown_signal(),
            )
            .await
        }
    }
    if let Some(watch) = tls_watch {
        watch.abort();
    }
    reconciler.abort();
    tracing::info!("bindcar stopped");
    Ok(())
}

/// What the startup log says of the transport.
fn tls_mode(settings: Option<&TlsSettings>) -> &'static str {
    match settings {
        None => "off (plain HTTP)",
        Some(s) if s.restricts_clients() => "mutual, named clients only",
        Some(s) if s.client_ca.is_some() => "mutual, any client certificate of the CA",
        Some(_) => "on",
    }
}

/// Under TLS the handshake's facts arrive as `tls::Peer`; the API reads the client
/// certificate's name as `ClientCertificate` (the peer address is `ConnectInfo`, as over
/// plain HTTP).
async fn from_tls_peer(mut request: Request) -> Request {
    let client = request
        .extensions()
        .get::<tls::Peer>()
        .and_then(|peer| peer.client.clone());
    if let Some(name) = client {
        request.extensions_mut().insert(ClientCertificate(name));
    }
    request
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = terminate => tracing::info!("SIGTERM received, shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received, shutting down"),
    }
}
