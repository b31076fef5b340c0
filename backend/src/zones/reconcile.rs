//! Keeping the index of managed zones true to BIND, and sweeping orphans. A reconciliation
//! reads the candidates on disk (markers, and `<zone>.zone` files of zones the reference
//! bindcar created), asks BIND which zones it has (one statistics-channel request, or, without
//! one, rndc lookups with at most `LOOKUPS_IN_FLIGHT` at once), installs the result in the
//! index, and removes the files of our zones BIND lacks (a create interrupted between writing
//! and `addzone`, or a zone deleted behind the API's back), logging each.
//!
//! It runs at startup, every `BIND_RECONCILE_SECS` in the background, and before a listing
//! when named restarted since the last one: changes made outside the API show in `GET /zones`
//! within that interval (plus one reconciliation's duration).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use tokio::task::JoinSet;

use super::classify::{classify, classify_status, is_not_found, is_not_loaded};
use super::error::ZoneError;
use super::service::{runtime_added, Presence, Zones};
use crate::bind::{zonestatus, Found, RndcCommand, RndcFailure, ShownZone, ZoneName};

/// rndc lookups in flight at once when there is no statistics channel (the control channel
/// takes at most `bind::rndc::MAX_IN_FLIGHT` anyway; this keeps API requests room next to it).
pub const LOOKUPS_IN_FLIGHT: usize = 4;

/// Reconciliations between two repairs of the catalog when nothing asked for one (20 × the
/// default 15 s: five minutes for a change made to the catalog behind the API's back).
const REPAIR_EVERY: u32 = 20;

/// What the sweep of one orphan candidate did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sweep {
    Removed,
    /// BIND has the zone after all.
    InBind,
    /// Too young, or BIND could not be asked: left for the next round.
    Skipped,
}

/// What BIND says about one candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Managed,
    NotManaged,
    Absent,
}

impl Zones {
    /// When named booted, as its statistics channel (or `rndc status`) says: a new value
    /// means named restarted and the index must be reconciled before it is trusted. Callers
    /// that come while named is asked wait for its answer and share it, failures included, and
    /// an answer serves every caller for `boot_check_ttl` (1 s): at most one such request to
    /// named at a time and one per interval while named is up, whatever the load on
    /// `GET /zones` (each request to the statistics channel is a new TCP connection). A
    /// failure is not kept past the callers that waited for it: named back up is seen at once.
    pub(super) async fn named_boot(&self) -> Result<String, ZoneError> {
        let arrived = tokio::time::Instant::now();
        let mut last = self.boot_check.lock().await;
        if let Some((answer, at)) = last.as_ref() {
            let fresh = answer.is_ok() && at.elapsed() < self.boot_check_ttl;
            if fresh || *at >= arrived {
                return answer.clone();
            }
        }
        let answer = self.ask_named_boot().await;
        *last = Some((answer.clone(), tokio::time::Instant::now()));
        answer
    }

    async fn ask_named_boot(&self) -> Result<String, ZoneError> {
        match &self.stats {
            Some(stats) => Ok(stats
                .status()
                .await
                .map_err(ZoneError::Unavailable)?
                .boot_time),
            None => {
                let text = self
                    .named
                    .run(&RndcCommand::Status)
                    .await
                    .map_err(classify_status)?;
                Ok(zonestatus::status_field(&text, "boot time").unwrap_or_default())
            }
        }
    }

    /// Reconciles unless the index is already current for named's boot `boot` (another
    /// listing did it while this one waited).
    pub(super) async fn reconcile_if_stale(&self, boot: &str) -> Result<(), ZoneError> {
        let _one = self.reconciling.lock().await;
        if self.index.snapshot().is_some_and(|(_, b)| b == boot) {
            return Ok(());
        }
        self.reconcile_locked().await
    }

    /// One reconciliation (see the module's comment).
    pub async fn reconcile(&self) -> Result<(), ZoneError> {
        let _one = self.reconciling.lock().await;
        self.reconcile_locked().await
    }

    async fn reconcile_locked(&self) -> Result<(), ZoneError> {
        self.index.begin();
        match self.compute().await {
            Ok((zones, boot)) => {
                self.index.install(zones, boot);
                self.metrics.set_zones_managed(self.index.len());
                Ok(())
            }
            Err(e) => {
                self.index.abort();
                Err(e)
            }
        }
    }

    /// Reconciles now, then every `every`, and one grace after a change whose outcome is
    /// unknown (its files may be swept only then), for ever; failures are logged and retried.
    /// With a catalog: it is created first if BIND lacks it, and repaired after (members of
    /// the zones just found, none of the others) when that may be needed: at startup, after
    /// an unknown outcome, when the reconciliation found other zones than the index had, after
    /// a repair that failed, and every `REPAIR_EVERY` rounds (the catalog changed behind the
    /// API's back); a repair reads the whole catalog back.
    pub async fn reconcile_forever(&self, every: Duration) {
        let mut due = true;
        let mut round: u32 = 0;
        loop {
            if let Err(e) = self.ensure_catalog().await {
                tracing::warn!(error = %e, "cannot create the catalog zone; will retry");
            }
            let before = self.catalog.is_some().then(|| self.index.current());
            match self.reconcile().await {
                Ok(()) => {
                    tracing::debug!(zones = self.index.len(), "reconciled with BIND");
                    let changed = before.is_some_and(|b| b != self.index.current());
                    if due || changed || round.is_multiple_of(REPAIR_EVERY) {
                        due = match self.repair_catalog().await {
                            Ok(()) => false,
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot repair the catalog zone; will retry");
                                true
                            }
                        };
                    }
                }
                Err(e) => tracing::warn!(error = %e, "reconciliation with BIND failed; will retry"),
            }
            round = round.wrapping_add(1);
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = self.settle.notified() => {
                    tokio::time::sleep(self.orphan_grace).await;
                    due = true;
                }
            }
        }
    }

    async fn compute(&self) -> Result<(BTreeSet<ZoneName>, String), ZoneError> {
        let previous = self.index.current();
        let (boot, in_bind) = match &self.stats {
            Some(stats) => {
                let snap = stats.zones().await.map_err(ZoneError::Unavailable)?;
                (snap.boot_time, snap.zones)
            }
            None => (self.named_boot().await?, None),
        };
        let candidates = self
            .dir
            .candidates()
            .await
            .map_err(|e| ZoneError::Internal(format!("reading the zone directory: {e}")))?;
        let mut managed = BTreeSet::new();
        let mut orphans = Vec::new();
        let mut to_check = Vec::new();
        let mut unlinked = Vec::new();
        for (zone, found) in candidates {
            if self.is_catalog(&zone) {
                continue; // ours, never listed (`ensure_catalog` keeps it)
            }
            if found == Found::Unlinked {
                unlinked.push(zone.clone());
            }
            if found == Found::Empty {
                self.remove_incomplete(&zone).await;
                continue;
            }
            let marked = found.marked();
            match &in_bind {
                Some(bind) if !bind.contains(&zone) => {
                    if marked {
                        orphans.push(zone);
                    }
                }
                // A zone of the reference bindcar is checked once, then remembered.
                Some(_) if marked || previous.contains(&zone) => {
                    managed.insert(zone);
                }
                _ => to_check.push((zone, marked)),
            }
        }
        for (zone, marked, verdict) in self.lookups(to_check).await? {
            match verdict {
                Verdict::Managed => {
                    managed.insert(zone);
                }
                Verdict::Absent if marked => orphans.push(zone),
                _ => {}
            }
        }
        for zone in orphans {
            // BIND may have added it since its list was taken (a create that just finished).
            if self.sweep(&zone).await == Sweep::InBind {
                managed.insert(zone);
            }
        }
        for zone in unlinked.iter().filter(|z| managed.contains(*z)) {
            self.relink(zone).await;
        }
        self.visit_tombstones(in_bind.as_ref()).await;
        Ok((managed, boot))
    }

    /// A zone deleted through the API that BIND has again (named killed before its new-zone
    /// database forgot it) is deleted again; a tombstone is buried once BIND has been seen
    /// without the zone for the grace, or when the zone was created again.
    async fn visit_tombstones(&self, in_bind: Option<&BTreeSet<ZoneName>>) {
        let tombstones = match self.dir.tombstones().await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the tombstones of deleted zones");
                return;
            }
        };
        for (zone, age) in tombstones {
            let _guard = self.locks.lock(&zone).await;
            let present = match in_bind {
                Some(bind) if !bind.contains(&zone) => false,
                _ => match self.presence(&zone).await {
                    Ok(Presence::Present(_)) => true,
                    Ok(Presence::Absent) => false,
                    Err(_) => continue, // named not answering: next round
                },
            };
            if self.dir.has_marker(&zone) || (!present && age >= self.orphan_grace) {
                let _ = self.dir.bury(&zone).await;
            } else if present {
                let again = self.named.run(&RndcCommand::DelZone(zone.clone())).await;
                tracing::warn!(zone = %zone, result = ?again,
                    "deleted again a zone that was deleted through this API and that named \
                     brought back (named stopped before it had forgotten the zone)");
            }
        }
    }

    /// A zone whose marker and zone file (one inode) have no content: its create's content
    /// never reached the disk (a power loss before the create was synced), so the create was
    /// never acknowledged. BIND drops it if it has it, and its files go.
    async fn remove_incomplete(&self, zone: &ZoneName) {
        let _guard = self.locks.lock(zone).await;
        let present = match self.presence(zone).await {
            Ok(presence) => matches!(presence, Presence::Present(_)),
            Err(_) => return, // named not answering: next round
        };
        if present {
            let deleted = self.named.run(&RndcCommand::DelZone(zone.clone())).await;
            if let Err(failure) = deleted {
                tracing::warn!(zone = %zone, failure = ?failure, "cannot delete a zone whose create never completed; will retry");
                return;
            }
        }
        if self.dir.remove(zone, true).await.is_ok() {
            self.index.removed(zone);
            tracing::warn!(zone = %zone,
                "removed a zone whose create never completed: its content never reached the \
                 disk (a power loss before the create was acknowledged)");
        }
    }

    /// rndc lookups, at most `LOOKUPS_IN_FLIGHT` at once: a marked zone counts if BIND shows
    /// it; an unmarked one if its file is ours and it was added at runtime (not named.conf).
    async fn lookups(
        &self,
        zones: Vec<(ZoneName, bool)>,
    ) -> Result<Vec<(ZoneName, bool, Verdict)>, ZoneError> {
        let mut pending = zones.into_iter();
        let mut running = JoinSet::new();
        let mut out = Vec::new();
        loop {
            while running.len() < LOOKUPS_IN_FLIGHT {
                let Some((zone, marked)) = pending.next() else {
                    break;
                };
                let named = self.named.clone();
                let our_file = self.dir.zone_file(&zone);
                running.spawn(async move {
                    let verdict = lookup(named.as_ref(), &zone, marked, &our_file).await;
                    (zone, marked, verdict)
                });
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            let (zone, marked, verdict) =
                joined.map_err(|e| ZoneError::Internal(format!("zone lookup task: {e}")))?;
            match verdict {
                Ok(v) => out.push((zone, marked, v)),
                Err(failure) => return Err(classify(&zone, "showzone", failure)),
            }
        }
        Ok(out)
    }

    /// Removes the files of a zone of ours that BIND lacks, under its lock, after BIND
    /// confirmed it has no such zone.
    async fn sweep(&self, zone: &ZoneName) -> Sweep {
        let _guard = self.locks.lock(zone).await;
        match self.dir.marker_age(zone).await {
            None => return Sweep::Removed, // deleted meanwhile
            Some(age) if age < self.orphan_grace => return Sweep::Skipped,
            Some(_) => {}
        }
        match self.presence(zone).await {
            Ok(Presence::Absent) => {}
            Ok(Presence::Present(_)) => return Sweep::InBind,
            Err(_) => return Sweep::Skipped,
        }
        let file = self.dir.zone_file(zone);
        let removed = self.dir.remove(zone, true).await.is_ok();
        if removed {
            self.index.removed(zone);
            tracing::warn!(zone = %zone, file = %file.display(),
                "removed the files of a zone created through this API that BIND does not have \
                 (an interrupted create, or a zone deleted outside the API)");
            Sweep::Removed
        } else {
            tracing::error!(zone = %zone, "could not remove the files of an orphaned zone");
            Sweep::Skipped
        }
    }

    /// A zone of ours that BIND has but whose zone file is gone (its name lost to a power loss
    /// before it was synced, or removed by hand): the file is restored from the marker, which
    /// holds the content the create wrote, and named loads it again.
    async fn relink(&self, zone: &ZoneName) {
        let _guard = self.locks.lock(zone).await;
        let file = self.dir.zone_file(zone);
        match self.dir.relink(zone).await {
            Ok(true) => {}
            Ok(false) => return, // written meanwhile
            Err(e) => {
                tracing::error!(zone = %zone, file = %file.display(), error = %e, "could not restore a missing zone file from its marker");
                return;
            }
        }
        let reloaded = self.named.run(&RndcCommand::Reload(zone.clone())).await;
        tracing::warn!(zone = %zone, file = %file.display(), reloaded = ?reloaded,
            "restored the missing zone file of a zone created through this API from its marker");
    }
}

async fn lookup(
    named: &dyn crate::bind::ControlChannel,
    zone: &ZoneName,
    marked: bool,
    our_file: &Path,
) -> Result<Verdict, RndcFailure> {
    let text = match named.run(&RndcCommand::ShowZone(zone.clone())).await {
        Ok(text) => text,
        Err(failure) if is_not_found(&failure) => return Ok(Verdict::Absent),
        Err(failure) => return Err(failure),
    };
    if marked {
        return Ok(Verdict::Managed);
    }
    let ours = ShownZone::parse(&text)
        .ok()
        .and_then(|s| s.value("file"))
        .is_some_and(|f| Path::new(&f) == our_file);
    if !ours {
        return Ok(Verdict::NotManaged);
    }
    match runtime_added(named, zone).await {
        Ok(true) => Ok(Verdict::Managed),
        Ok(false) => Ok(Verdict::NotManaged),
        Err(failure) if is_not_loaded(&failure) => Ok(Verdict::NotManaged),
        Err(failure) => Err(failure),
    }
}
