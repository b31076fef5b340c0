//! The configuration in use and its renewal: the files are read again every
//! `BIND_TLS_RELOAD_INTERVAL` and on SIGHUP; when their contents changed and still make a
//! working configuration, new connections get it (established ones keep theirs). A change that
//! does not load keeps the previous configuration and says so: files are rarely replaced
//! atomically, and a half-written pair must not take the API down.

use std::sync::{Arc, PoisonError, RwLock};

use rustls::ServerConfig;
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinHandle;

use super::material::Material;
use crate::config::TlsSettings;

pub struct Reloader {
    settings: TlsSettings,
    current: RwLock<(Arc<ServerConfig>, [u8; 32])>,
}

/// What one check found.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    Unchanged,
    Reloaded,
    /// The files changed but do not make a working configuration: the previous one stays.
    Kept(String),
}

impl Reloader {
    /// Reads the files once; at startup an unusable file is an error (naming its variable).
    pub fn load(settings: TlsSettings) -> Result<Reloader, String> {
        let material = Material::read(&settings)?;
        let config = material.server_config(&settings)?;
        Ok(Reloader {
            current: RwLock::new((config, material.fingerprint())),
            settings,
        })
    }

    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// The configuration a new connection gets.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .clone()
    }

    pub fn reload(&self) -> Reload {
        let material = match Material::read(&self.settings) {
            Ok(material) => material,
            Err(e) => return Reload::Kept(e),
        };
        let fingerprint = material.fingerprint();
        if self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            == fingerprint
        {
            return Reload::Unchanged;
        }
        match material.server_config(&self.settings) {
            Ok(config) => {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) =
                    (config, fingerprint);
                Reload::Reloaded
            }
            Err(e) => Reload::Kept(e),
        }
    }
}

/// Checks every interval (if any) and on each SIGHUP, logging what changed. The SIGHUP handler
/// is installed before this returns, so a signal sent once the API answers is never the
/// default one (which would end the process).
pub fn watch(reloader: Arc<Reloader>) -> Result<JoinHandle<()>, String> {
    let mut hangup =
        signal(SignalKind::hangup()).map_err(|e| format!("cannot listen for SIGHUP: {e}"))?;
    let every = reloader.settings().reload_every;
    match every {
        Some(every) => tracing::info!(
            interval_secs = every.as_secs(),
            "checking the TLS files for a renewal on an interval and on SIGHUP \
             (BIND_TLS_RELOAD_INTERVAL=0 leaves SIGHUP only)"
        ),
        None => tracing::info!("checking the TLS files for a renewal on SIGHUP only"),
    }
    Ok(tokio::spawn(async move {
        let mut ticks = every.map(|every| {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks
        });
        loop {
            let trigger = tokio::select! {
                _ = hangup.recv() => "SIGHUP",
                _ = async {
                    match ticks.as_mut() {
                        Some(ticks) => { ticks.tick().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => "interval",
            };
            match reloader.reload() {
                Reload::Reloaded => tracing::info!(
                    trigger,
                    "reloaded the TLS certificate, key and client CA; new connections use them"
                ),
                Reload::Unchanged if trigger == "SIGHUP" => {
                    tracing::info!(trigger, "the TLS files are unchanged")
                }
                Reload::Unchanged => {}
                Reload::Kept(reason) => tracing::warn!(
                    trigger,
                    reason = %reason,
                    "the TLS files changed but cannot be used; keeping the previous certificate"
                ),
            }
        }
    }))
}
