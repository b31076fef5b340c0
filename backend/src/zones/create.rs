//! Creating a zone in one control-channel round trip: under the zone's lock, claim the name in
//! the zone directory (marker, then the zone file, never replacing a file: a foreign
//! `<zone>.zone` is a 409 naming it), then `addzone` while the claim is made durable; the 201
//! waits for both. On a refusal (`already exists` included) what this request wrote goes; on an
//! unknown outcome (the answer lost) it stays, and the reconciliation settles the zone.

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
                // A create whose answer was lost and that took effect is completed here.
                self.index.added(zone);
                tracing::info!(zone = %zone, actor = %actor, "create refused: zone already exists");
                return Err(ZoneError::AlreadyExists(zone.clone()));
            }
            tracing::warn!(zone = %zone, "removing the files of an earlier create of this zone that BIND does not have");
            self.discard(zone, true).await;
        }
        fail::fail_point!("create.before_claim");
        let claim = self
            .dir
            .claim(zone, plan.zone_file.clone())
            .await
            .map_err(|e| ZoneError::Internal(format!("writing the files of {zone}: {e}")))?;
        let pending = match claim {
            Claim::Claimed(pending) => pending,
            Claim::FileTaken(path) => {
                tracing::info!(zone = %zone, file = %path.display(), actor = %actor, "create refused: the zone file exists and is not ours");
                return Err(ZoneError::FileTaken {
                    zone: zone.clone(),
                    path: path.display().to_string(),
                });
            }
        };
        fail::fail_point!("create.before_addzone");
        let command = RndcCommand::AddZone(zone.clone(), plan.options.render());
        // The zone's content and names are made durable while named adds the zone, and the
        // answer waits for both: a 201 means durable.
        let (added, synced) = tokio::join!(self.named.run(&command), pending.sync());
        fail::fail_point!("create.after_addzone");
        if let (Ok(_), Err(e)) = (&added, synced) {
            self.index.added(zone);
            tracing::error!(zone = %zone, error = %e, "zone added, but its files could not be synced");
            return Err(ZoneError::Internal(format!(
                "zone {zone} was added, but syncing its files failed: {e}"
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
                // Outcome unknown: BIND may have the zone, so its files stay, and the
                // reconciliation completes the zone (index) if BIND has it or removes the files
                // if not. Otherwise what this request wrote goes (on `already exists`, the zone
                // is someone else's).
                if keeps_files(&error) {
                    tracing::warn!(zone = %zone, actor = %actor, failure = ?failure, "addzone sent, answer lost; files kept until BIND's state is known");
                    self.settle_soon();
                } else {
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
