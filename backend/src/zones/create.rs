//! Creating a zone in one control-channel round trip: under the zone's lock, claim the name in
//! the zone directory (marker, then the zone file, never replacing a file: a foreign
//! `<zone>.zone` is a 409 naming it), then `addzone` while the claim is made durable; the 201
//! waits for both. On a refusal (`already exists` included) what this request wrote goes; on an
//! unknown outcome (the answer lost) it stays, and the reconciliation settles the zone. With a
//! catalog, the zone then becomes a member (one UPDATE) before the 201; if named refuses that,
//! the zone is deleted again and nothing was changed.

use super::classify::{classify, classify_addzone, keeps_files};
use super::error::ZoneError;
use super::membership::{MemberFailure, MEMBER_COMMAND};
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
        self.refuse_catalog(zone, "create")?;
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
        let text = self.put(plan, actor, true).await?;
        fail::fail_point!("create.before_member");
        if let Err(failure) = self.join_catalog(zone).await {
            return Err(self.unjoined(plan, failure, actor).await);
        }
        fail::fail_point!("create.after_member");
        self.index.added(zone);
        tracing::info!(zone = %zone, zone_type = plan.options.zone_type.as_str(), actor = %actor, "zone created");
        Ok(text)
    }

    /// Claims the zone's files and adds it to BIND (the catalog zone too, `listed: false`).
    /// Under the zone's lock.
    pub(super) async fn put(
        &self,
        plan: &CreatePlan,
        actor: &str,
        listed: bool,
    ) -> Result<String, ZoneError> {
        let zone = &plan.zone;
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
            if listed {
                self.index.added(zone);
            }
            tracing::error!(zone = %zone, error = %e, "zone added, but its files could not be synced");
            return Err(ZoneError::Internal(format!(
                "zone {zone} was added, but syncing its files failed: {e}"
            )));
        }
        match added {
            Ok(text) => Ok(text),
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

    /// BIND has the zone but it could not be made a member. Refused for sure: the zone is
    /// deleted again, so the answer can say nothing changed. Unknown (the UPDATE's answer
    /// lost), or the delete failing: the zone stays and the reconciliation completes it (a
    /// zone of the API's without a member gets one).
    async fn unjoined(&self, plan: &CreatePlan, failure: MemberFailure, actor: &str) -> ZoneError {
        let zone = &plan.zone;
        let catalog = self
            .catalog()
            .map(|c| c.zone.clone())
            .unwrap_or_else(|| zone.clone());
        let why = match failure {
            MemberFailure::Unknown { .. } => {
                tracing::warn!(zone = %zone, actor = %actor, failure = ?failure, "zone added; its catalog update was sent and its answer lost: the reconciliation settles it");
                self.index.added(zone);
                self.settle_soon();
                return failure.into_error(zone, &catalog);
            }
            MemberFailure::Refused { ref why, .. } => why.clone(),
        };
        match self.named.run(&RndcCommand::DelZone(zone.clone())).await {
            Ok(_) => {
                self.forget(zone, plan.zone_file.is_some()).await;
                tracing::warn!(zone = %zone, actor = %actor, failure = ?failure, "create undone: the zone could not be added to the catalog");
                failure.into_error(zone, &catalog)
            }
            Err(undo) => {
                let undo = classify(zone, "delzone", undo);
                tracing::error!(zone = %zone, actor = %actor, failure = ?failure, undo = %undo, "the zone could not be added to the catalog nor deleted again: the reconciliation completes it");
                self.index.added(zone);
                self.settle_soon();
                ZoneError::OutcomeUnknown {
                    zone: zone.clone(),
                    command: MEMBER_COMMAND,
                    why: format!("{why}; deleting the zone again failed too ({undo})"),
                    timed_out: false,
                }
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
