//! The read-only operations: a zone's status and summary, the list of zones this API
//! manages, and named's own status. No lock: nothing is changed.

use super::classify::{classify, classify_status, is_not_loaded, join};
use super::error::ZoneError;
use super::service::Zones;
use crate::bind::{zonestatus, RndcCommand, RndcFailure, ZoneName};

/// `rndc zonestatus` of a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneStatus {
    /// named's text.
    Loaded(String),
    /// Configured but not loaded (a secondary waiting for its first transfer, or a file BIND
    /// could not load); named's refusal text.
    NotLoaded(String),
}

/// What `GET /zones/{name}` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSummary {
    pub name: ZoneName,
    pub zone_type: String,
    /// Absent while a secondary waits for its first transfer.
    pub serial: Option<u32>,
    pub file_path: Option<String>,
}

impl Zones {
    pub async fn status(&self, zone: &ZoneName) -> Result<ZoneStatus, ZoneError> {
        match self.named.run(&RndcCommand::ZoneStatus(zone.clone())).await {
            Ok(text) => Ok(ZoneStatus::Loaded(text)),
            Err(RndcFailure::Refused { err, text }) if err == "zone not loaded" => {
                Ok(ZoneStatus::NotLoaded(join(&err, &text)))
            }
            Err(failure) => Err(classify(zone, "zonestatus", failure)),
        }
    }

    pub async fn info(&self, zone: &ZoneName) -> Result<ZoneSummary, ZoneError> {
        let shown = self.shown(zone).await?;
        let serial = match self.named.run(&RndcCommand::ZoneStatus(zone.clone())).await {
            Ok(text) => zonestatus::serial(&text),
            Err(failure) if is_not_loaded(&failure) => None,
            Err(failure) => return Err(classify(zone, "zonestatus", failure)),
        };
        Ok(ZoneSummary {
            name: zone.clone(),
            zone_type: shown.value("type").unwrap_or_else(|| "unknown".into()),
            serial,
            file_path: shown.value("file"),
        })
    }

    /// The zones this API manages that BIND has, secondaries included, sorted: the index,
    /// after one cheap check that named is up and has not restarted since it was reconciled
    /// (else it is reconciled first). Changes made outside the API show within the
    /// reconciliation interval.
    pub async fn list(&self) -> Result<std::sync::Arc<Vec<ZoneName>>, ZoneError> {
        let boot = self.named_boot().await?;
        if let Some((zones, synced)) = self.index.snapshot() {
            if synced == boot {
                return Ok(zones);
            }
        }
        self.reconcile_if_stale(&boot).await?;
        match self.index.snapshot() {
            Some((zones, _)) => Ok(zones),
            // Too many API changes during the reconciliation to replay: the live set.
            None => Ok(std::sync::Arc::new(
                self.index.current().into_iter().collect(),
            )),
        }
    }

    /// `rndc status`, as named wrote it.
    pub async fn server_status(&self) -> Result<String, ZoneError> {
        self.named
            .run(&RndcCommand::Status)
            .await
            .map_err(classify_status)
    }
}
