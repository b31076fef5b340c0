//! Creating a zone in one control-channel round trip: under the zone's lock, claim the name in
//! the zone directory (marker, then the zone file, never replacing a file: a foreign
//! `<zone>.zone` is a 409 naming it), then `addzone` while the zone directory is synced; on a
//! refusal (`already exists` included) remove what this request wrote.

use super::classify::{classify_addzone, keeps_files};
use super::error::ZoneError;
use super::plan::CreatePlan;
use super::service::{Presence, Zones};
use crate::bind::{Claim, RndcCommand, ZoneName};

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
        if self.dir.has_marker(zone) {
            // Ours already: in BIND (409), or left by a create that did not finish.
            let exists = self.index.contains(zone)
                || matches!(self.presence(zone).await?, Presence::Present(_));
            if exists {
                tracing::info!(zone = %zone, actor = %actor, "create refused: zone already exists");
                return Err(ZoneError::AlreadyExists(zone.clone()));
            }
            tracing::warn!(zone = %zone, "removing the files of an earlier create of this zone that BIND does not have");
            self.discard(zone, true).await;
        }
        let claim = self
            .dir
            .claim(zone, plan.zone_file.clone())
            .await
            .map_err(|e| ZoneError::Internal(format!("writing the files of {zone}: {e}")))?;
        if let Claim::FileTaken(path) = claim {
            tracing::info!(zone = %zone, file = %path.display(), actor = %actor, "create refused: the zone file exists and is not ours");
            return Err(ZoneError::FileTaken {
                zone: zone.clone(),
                path: path.display().to_string(),
            });
        }
        let command = RndcCommand::AddZone(zone.clone(), plan.options.render());
        // The zone's content is durable already (under the marker's name); the zone file's
        // name is synced while named adds the zone, and the answer waits for both.
        let sync = async {
            if plan.zone_file.is_some() {
                self.dir.sync_names().await
            } else {
                Ok(()) // a secondary: no zone file, its marker is synced
            }
        };
        let (added, synced) = tokio::join!(self.named.run(&command), sync);
        if let (Ok(_), Err(e)) = (&added, synced) {
            self.index.added(zone);
            tracing::error!(zone = %zone, error = %e, "zone added, but the zone directory could not be synced");
            return Err(ZoneError::Internal(format!(
                "zone {zone} was added, but syncing the zone directory failed: {e}"
            )));
        }
        match added {
            Ok(text) => {
                self.index.added(zone);
                tracing::info!(zone = %zone, zone_type = plan.options.zone_type.as_str(), actor = %actor, "zone created");
                Ok(text)
            }
            Err(failure) => {
                let error = classify_addzone(zone, failure.clone());
                // Timeout: unknown outcome, BIND may have the zone; the reconciliation
                // removes the files later if it does not. Otherwise what this request wrote
                // goes (on `already exists`, the zone is someone else's).
                if !keeps_files(&error) {
                    self.discard(zone, plan.zone_file.is_some()).await;
                    tracing::warn!(zone = %zone, actor = %actor, failure = ?failure, "addzone failed; files removed");
                }
                Err(error)
            }
        }
    }

    /// Removes what a create wrote: the marker, and the zone file if it wrote one.
    async fn discard(&self, zone: &ZoneName, wrote_file: bool) {
        if let Err(e) = self.dir.remove(zone, wrote_file).await {
            tracing::error!(zone = %zone, error = %e, "could not remove the files of a failed create");
        }
    }
}
