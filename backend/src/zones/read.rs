//! The read-only operations: a zone's status and summary, the list of zones this API
//! manages, and named's own status. No lock: nothing is changed.

use std::path::Path;

use tokio::task::JoinSet;

use super::classify::{classify, classify_status, is_not_found, is_not_loaded, join};
use super::error::ZoneError;
use super::service::{runtime_added, Zones};
use crate::bind::{zonestatus, RndcCommand, RndcFailure, ShownZone, ZoneName};

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

    /// The zones this API manages that BIND has, secondaries included, sorted.
    pub async fn list(&self) -> Result<Vec<ZoneName>, ZoneError> {
        let candidates = self
            .dir
            .candidates()
            .await
            .map_err(|e| ZoneError::Internal(format!("reading the zone directory: {e}")))?;
        let mut lookups = JoinSet::new();
        for (zone, marked) in candidates {
            let named = self.named.clone();
            let our_file = self.dir.zone_file(&zone);
            lookups.spawn(async move {
                let outcome = match named.run(&RndcCommand::ShowZone(zone.clone())).await {
                    Ok(_) if marked => Ok(true),
                    // No marker: a zone bindcar created before us counts if its file is ours
                    // and it was added at runtime (not a named.conf zone).
                    Ok(text) => {
                        let ours = ShownZone::parse(&text)
                            .ok()
                            .and_then(|s| s.value("file"))
                            .is_some_and(|f| Path::new(&f) == our_file);
                        if !ours {
                            Ok(false)
                        } else {
                            match runtime_added(named.as_ref(), &zone).await {
                                Err(failure) if is_not_loaded(&failure) => Ok(false),
                                other => other,
                            }
                        }
                    }
                    Err(failure) => Err(failure),
                };
                (zone, marked, outcome)
            });
        }
        let mut zones = Vec::new();
        while let Some(joined) = lookups.join_next().await {
            let (zone, marked, outcome) =
                joined.map_err(|e| ZoneError::Internal(format!("zone lookup task: {e}")))?;
            match outcome {
                Ok(true) => zones.push(zone),
                Ok(false) => {}
                Err(failure) if is_not_found(&failure) => {
                    if marked {
                        // Created here, gone from BIND (its new-zone database was lost or
                        // the zone was deleted with rndc): not listed, but worth a trace.
                        tracing::warn!(zone = %zone, "zone created through this API is no longer in BIND");
                    }
                }
                Err(failure) => return Err(classify(&zone, "showzone", failure)),
            }
        }
        zones.sort();
        self.metrics.set_zones_managed(zones.len());
        Ok(zones)
    }

    /// `rndc status`, as named wrote it.
    pub async fn server_status(&self) -> Result<String, ZoneError> {
        self.named
            .run(&RndcCommand::Status)
            .await
            .map_err(classify_status)
    }
}
