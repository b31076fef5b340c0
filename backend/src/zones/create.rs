//! Creating a zone: under the zone's lock, check the name is free in BIND, clear leftovers,
//! write the file and the marker, `addzone`; on a refusal remove what was written.

use super::classify::{classify_addzone, keeps_files};
use super::error::ZoneError;
use super::plan::CreatePlan;
use super::service::{Presence, Zones};
use crate::bind::zone_dir::now_secs;
use crate::bind::{Marker, RndcCommand, ZoneName};

impl Zones {
    /// Creates the zone; `Ok` carries named's text.
    pub async fn create(&self, plan: CreatePlan, actor: &str) -> Result<String, ZoneError> {
        let outcome = self.create_locked(&plan, actor).await;
        self.metrics.zone_operation("create", outcome.is_ok());
        outcome
    }

    async fn create_locked(&self, plan: &CreatePlan, actor: &str) -> Result<String, ZoneError> {
        let zone = &plan.zone;
        let _guard = self.locks.lock(zone).await;
        if let Presence::Present(_) = self.presence(zone).await? {
            tracing::info!(zone = %zone, actor = %actor, "create refused: zone already exists");
            return Err(ZoneError::AlreadyExists(zone.clone()));
        }
        // The name is free in BIND: whatever lies on disk under it is a leftover of an earlier
        // zone (a journal would be replayed into the new zone), so clear it before writing.
        self.dir
            .remove_zone_files(zone)
            .await
            .map_err(|e| ZoneError::Internal(format!("removing leftover files of {zone}: {e}")))?;
        if let Some(content) = &plan.zone_file {
            self.dir
                .write_zone_file(zone, content.clone())
                .await
                .map_err(|e| {
                    ZoneError::Internal(format!("writing the zone file of {zone}: {e}"))
                })?;
        }
        let marker = Marker {
            zone_name: zone.to_string(),
            zone_type: plan.options.zone_type.as_str().to_string(),
            created_at: now_secs(),
        };
        if let Err(e) = self.dir.write_marker(zone, &marker).await {
            self.discard(zone).await;
            return Err(ZoneError::Internal(format!(
                "writing the marker of {zone}: {e}"
            )));
        }
        let command = RndcCommand::AddZone(zone.clone(), plan.options.render());
        match self.named.run(&command).await {
            Ok(text) => {
                tracing::info!(zone = %zone, zone_type = plan.options.zone_type.as_str(), actor = %actor, "zone created");
                Ok(text)
            }
            Err(failure) => {
                let error = classify_addzone(zone, failure.clone());
                // `already exists`: someone outside this API added it in between, the files
                // are theirs now. Timeout: unknown outcome, BIND may have the zone.
                if !keeps_files(&error) {
                    self.discard(zone).await;
                    tracing::warn!(zone = %zone, actor = %actor, failure = ?failure, "addzone failed; files removed");
                }
                Err(error)
            }
        }
    }

    /// Removes what a failed create wrote.
    async fn discard(&self, zone: &ZoneName) {
        if let Err(e) = self.dir.remove_zone_files(zone).await {
            tracing::error!(zone = %zone, error = %e, "could not remove the zone file of a failed create");
        }
        if let Err(e) = self.dir.remove_marker(zone).await {
            tracing::error!(zone = %zone, error = %e, "could not remove the marker of a failed create");
        }
    }
}
