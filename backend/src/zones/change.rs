//! Deleting a zone and changing its configuration (transfer/notify/update lists, primaries,
//! DNSSEC: `dnssec::apply`): only zones this API created, under the zone's lock.

use super::classify::{classify, classify_modzone, keeps_files};
use super::error::ZoneError;
use super::membership::MemberFailure;
use super::plan::ModifyPlan;
use super::service::Zones;
use crate::bind::{RndcCommand, ZoneName};

impl Zones {
    /// Deletes the zone and, if they are ours, its files; `Ok` carries named's text.
    pub async fn delete(&self, zone: &ZoneName, actor: &str) -> Result<String, ZoneError> {
        let outcome = self.delete_locked(zone, actor).await;
        self.metrics.zone_operation("delete", outcome.is_ok());
        outcome
    }

    async fn delete_locked(&self, zone: &ZoneName, actor: &str) -> Result<String, ZoneError> {
        self.refuse_catalog(zone, "delete")?;
        let _guard = self.locks.lock(zone).await;
        let owns_files = if self.dir.has_marker(zone) {
            // Created here: ours, files included (the create never replaced a file). The
            // delzone is the only round trip.
            true
        } else {
            // No marker: a zone of the reference bindcar is ours if BIND says so.
            let shown = self.shown(zone).await?;
            if !self.is_managed(zone, &shown).await? {
                return Err(ZoneError::NotManaged {
                    zone: zone.clone(),
                    operation: "delete",
                });
            }
            let owns_file = self.owns_file(zone, &shown);
            // Marked before the delzone, so that if its answer is lost the reconciliation
            // knows the files are ours to remove once BIND no longer has the zone.
            self.dir.adopt(zone, owns_file).await.map_err(|e| {
                ZoneError::Internal(format!("marking zone {zone} before deleting it: {e}"))
            })?;
            owns_file
        };
        // The member goes first: secondaries stop serving the zone before the primary does
        // (never a secondary left refreshing a zone its primary no longer has).
        fail::fail_point!("delete.before_member_removal");
        if let Err(failure) = self.leave_catalog(zone).await {
            if let MemberFailure::Unknown { .. } = failure {
                // The zone is still in BIND: the reconciliation makes it a member again.
                tracing::warn!(zone = %zone, actor = %actor, failure = ?failure, "catalog update sent, answer lost; the zone stays until the request is retried");
                self.settle_soon();
            }
            let catalog = self
                .catalog()
                .map(|c| c.zone.clone())
                .unwrap_or_else(|| zone.clone());
            return Err(failure.into_error(zone, &catalog));
        }
        fail::fail_point!("delete.after_member_removal");
        fail::fail_point!("delete.before_delzone");
        let text = match self.named.run(&RndcCommand::DelZone(zone.clone())).await {
            Ok(text) => text,
            Err(failure) => {
                let error = classify(zone, "delzone", failure);
                if keeps_files(&error) {
                    tracing::warn!(zone = %zone, actor = %actor, error = %error, "delzone sent, answer lost; files kept until BIND's state is known");
                    self.settle_soon();
                } else if !matches!(error, ZoneError::NotFound(_)) {
                    // Not deleted: a member again.
                    if let Err(again) = self.join_catalog(zone).await {
                        tracing::warn!(zone = %zone, failure = ?again, "delete failed and its zone could not rejoin the catalog; the reconciliation will");
                        self.settle_soon();
                    }
                }
                return Err(error);
            }
        };
        fail::fail_point!("delete.after_delzone");
        self.index.removed(zone);
        self.forget(zone, owns_files).await;
        tracing::info!(zone = %zone, actor = %actor, "zone deleted");
        Ok(text)
    }

    /// After a delzone: the zone's files (if ours) go, and its marker becomes a tombstone.
    pub(super) async fn forget(&self, zone: &ZoneName, owns_files: bool) {
        if let Err(e) = self.dir.retire(zone, owns_files).await {
            tracing::error!(zone = %zone, error = %e, "zone deleted but its files could not be removed");
        }
    }

    /// Replaces the lists the plan names, keeping every other statement as BIND shows it.
    pub async fn modify(
        &self,
        zone: &ZoneName,
        plan: &ModifyPlan,
        actor: &str,
    ) -> Result<String, ZoneError> {
        let outcome = self.modify_locked(zone, plan, actor).await;
        self.metrics.zone_operation("modify", outcome.is_ok());
        outcome
    }

    async fn modify_locked(
        &self,
        zone: &ZoneName,
        plan: &ModifyPlan,
        actor: &str,
    ) -> Result<String, ZoneError> {
        self.refuse_catalog(zone, "modify")?;
        let _guard = self.locks.lock(zone).await;
        let mut shown = self.shown(zone).await?;
        if !self.is_managed(zone, &shown).await? {
            return Err(ZoneError::NotManaged {
                zone: zone.clone(),
                operation: "modify",
            });
        }
        if let Some(list) = &plan.also_notify {
            shown.set_list("also-notify", list);
        }
        if let Some(list) = &plan.allow_transfer {
            shown.set_list("allow-transfer", list);
        }
        if let Some(list) = &plan.allow_update {
            shown.set_list("allow-update", list);
        }
        if let Some(list) = &plan.primaries {
            if !matches!(shown.value("type").as_deref(), Some("secondary" | "slave")) {
                return Err(ZoneError::PrimariesOfPrimary(zone.clone()));
            }
            // `masters` is the old spelling of the same statement (bindcar 0.7 zones).
            shown.set("masters", None);
            shown.set_list("primaries", list);
        }
        let dnssec_changed = self.apply_dnssec(zone, &mut shown, plan).await?;
        let command = RndcCommand::ModZone(zone.clone(), shown.render_block());
        fail::fail_point!("modify.before_modzone");
        // An unknown outcome leaves nothing of ours to settle: BIND has the old or the new
        // configuration, and the same PATCH again is harmless.
        let text = self
            .named
            .run(&command)
            .await
            .map_err(|f| classify_modzone(zone, f))?;
        fail::fail_point!("modify.after_modzone");
        if dnssec_changed {
            // named 9.18 stores a changed dnssec-policy on modzone but applies it only when it
            // reads its configuration again.
            self.named
                .run(&RndcCommand::Reconfig)
                .await
                .map_err(|f| ZoneError::NotInEffect {
                    zone: zone.clone(),
                    why: classify(zone, "reconfig", f).to_string(),
                })?;
        }
        if plan.primaries.is_some() {
            self.named
                .run(&RndcCommand::Retransfer(zone.clone()))
                .await
                .map_err(|f| classify(zone, "retransfer", f))?;
        }
        tracing::info!(zone = %zone, actor = %actor, change = ?plan, "zone modified");
        Ok(text)
    }
}
