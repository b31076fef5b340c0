//! The process: wires configuration, named, zones, auth and HTTP together (the one module
//! that sees them all). Startup and shutdown: build the state from the configuration, listen, and stop gracefully
//! on SIGTERM or Ctrl-C (in-flight requests finish, new connections are refused).

use std::sync::Arc;

use tokio::net::TcpListener;

use crate::auth::Authenticator;
use crate::bind::update::TsigDns;
use crate::bind::{Rndc, Statistics, StatsChannel, ZoneDir};
use crate::config::Config;
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::rate_limit::RateLimit;
use crate::zones::Zones;

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
    // A create whose addzone timed out may still be in named's queue: its files are not
    // swept as orphans before two time limits have passed.
    let grace = config.rndc_timeout * 2;
    Ok(Arc::new(AppState {
        zones: Zones::new(dir, Arc::new(rndc), metrics.clone())
            .with_stats(stats)
            .with_orphan_grace(grace),
        metrics,
        auth,
        rate_limit: config.rate_limit.as_ref().map(RateLimit::new),
        dns: Arc::new(dns),
    }))
}

pub async fn run(config: Config) -> Result<(), String> {
    let state = build_state(&config)?;
    let listener = TcpListener::bind((config.address.as_str(), config.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", config.address, config.port))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // Reconcile the zone list with BIND now (sweeping files orphaned by a crash) and every
    // interval after; stops with the runtime.
    let reconciler = {
        let state = state.clone();
        let every = config.reconcile_every;
        tokio::spawn(async move { state.zones.reconcile_forever(every).await })
    };
    tracing::info!(
        address = %local,
        zone_dir = %state.zones.dir().root().display(),
        rndc_server = config.rndc.server.as_str(),
        rndc_source = %config.rndc.source,
        stats_url = config.stats_url.as_deref().unwrap_or("none (listing over rndc)"),
        reconcile_secs = config.reconcile_every.as_secs(),
        auth_mode = config.auth.mode(),
        docs = config.enable_docs,
        rate_limit = ?config.rate_limit,
        auth_mode_reason = config.auth_reason,
        nsupdate_server = %config.update.server,
        nsupdate_key = config.update.key_name.as_str(),
        version = env!("CARGO_PKG_VERSION"),
        "bindcar listening"
    );
    // The peer address is the rate limiter's key; Linkerd mode also needs the local one.
    let app = http::router_with_docs(state, config.enable_docs)
        .into_make_service_with_connect_info::<http::conn::Connection>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
    reconciler.abort();
    tracing::info!("bindcar stopped");
    Ok(())
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
