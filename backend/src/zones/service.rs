//! `Zones`: what every operation shares (the zone directory, the control channel, the per-zone
//! locks, the metrics) and the lookups they start with (is the zone in BIND, is it ours).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::classify::{classify, is_not_found, is_not_loaded};
use super::error::ZoneError;
use super::index::Index;
use super::locks::ZoneLocks;
use crate::bind::update::DnsChannel;
use crate::bind::{
    zonestatus, ControlChannel, RndcCommand, RndcFailure, ShownZone, Statistics, ZoneDir, ZoneName,
};
use crate::catalog::Catalog;
use crate::metrics::Metrics;

pub struct Zones {
    pub(super) dir: ZoneDir,
    pub(super) named: Arc<dyn ControlChannel>,
    pub(super) locks: ZoneLocks,
    pub(super) metrics: Metrics,
    /// The zones `GET /zones` answers, kept current (see `index.rs`).
    pub(super) index: Index,
    /// named's statistics channel, when configured; else listings ask over rndc.
    pub(super) stats: Option<Arc<dyn Statistics>>,
    /// One reconciliation at a time.
    pub(super) reconciling: tokio::sync::Mutex<()>,
    /// The last check of named's boot time and when it was made, kept `boot_check_ttl` (see
    /// `named_boot`).
    pub(super) boot_check: tokio::sync::Mutex<Option<(Result<String, ZoneError>, Instant)>>,
    pub(super) boot_check_ttl: Duration,
    /// A marker younger than this is never swept as an orphan (its create may still be
    /// in named's queue).
    pub(super) orphan_grace: Duration,
    /// Woken by a change whose outcome is unknown: the background reconciliation then runs
    /// once the grace has passed, instead of at its next interval.
    pub(super) settle: tokio::sync::Notify,
    /// named's `max-records-per-type` (0: no limit), which record plans respect.
    pub(super) max_records_per_type: usize,
    /// The catalog zone secondaries follow (`BIND_CATALOG_ZONE`), if any.
    pub(super) catalog: Option<CatalogLink>,
}

/// The catalog and what changes it (`membership`).
pub struct CatalogLink {
    pub catalog: Catalog,
    pub dns: Arc<dyn DnsChannel>,
    /// The key the catalog takes updates from and lets transfer it (the records API's).
    pub key: crate::bind::ConfName,
}

/// named's default `max-records-per-type`.
pub const MAX_RECORDS_PER_TYPE: usize = 100;

/// How long one check that named is up and has not restarted serves `GET /zones` (default):
/// a named restart, or named going down, shows in listings within this.
const BOOT_CHECK_TTL: Duration = Duration::from_secs(1);

/// What BIND says about a zone's configuration.
pub(super) enum Presence {
    Absent,
    Present(ShownZone),
}

impl Zones {
    pub fn new(dir: ZoneDir, named: Arc<dyn ControlChannel>, metrics: Metrics) -> Zones {
        Zones {
            dir,
            named,
            locks: ZoneLocks::default(),
            metrics,
            index: Index::default(),
            stats: None,
            reconciling: tokio::sync::Mutex::new(()),
            boot_check: tokio::sync::Mutex::new(None),
            boot_check_ttl: BOOT_CHECK_TTL,
            orphan_grace: Duration::from_secs(30),
            settle: tokio::sync::Notify::new(),
            max_records_per_type: MAX_RECORDS_PER_TYPE,
            catalog: None,
        }
    }

    /// Asks the background reconciliation to settle a zone whose change has an unknown
    /// outcome (see `reconcile_forever`).
    pub(super) fn settle_soon(&self) {
        self.settle.notify_one();
    }

    /// Lists over named's statistics channel instead of one rndc command per zone.
    pub fn with_stats(mut self, stats: Option<Arc<dyn Statistics>>) -> Zones {
        self.stats = stats;
        self
    }

    pub fn with_orphan_grace(mut self, grace: Duration) -> Zones {
        self.orphan_grace = grace;
        self
    }

    /// named's `max-records-per-type` (`BIND_MAX_RECORDS_PER_TYPE`; 0: no limit).
    pub fn with_max_records_per_type(mut self, limit: usize) -> Zones {
        self.max_records_per_type = limit;
        self
    }

    pub fn with_boot_check_ttl(mut self, ttl: Duration) -> Zones {
        self.boot_check_ttl = ttl;
        self
    }

    pub fn dir(&self) -> &ZoneDir {
        &self.dir
    }

    pub(super) async fn presence(&self, zone: &ZoneName) -> Result<Presence, ZoneError> {
        match self.named.run(&RndcCommand::ShowZone(zone.clone())).await {
            Ok(text) => ShownZone::parse(&text).map(Presence::Present).map_err(|e| {
                ZoneError::Internal(format!(
                    "unexpected showzone output for {zone}: {e}: {text}"
                ))
            }),
            Err(failure) if is_not_found(&failure) => Ok(Presence::Absent),
            Err(failure) => Err(classify(zone, "showzone", failure)),
        }
    }

    /// The zone as BIND shows it, or `NotFound`.
    pub(super) async fn shown(&self, zone: &ZoneName) -> Result<ShownZone, ZoneError> {
        match self.presence(zone).await? {
            Presence::Absent => Err(ZoneError::NotFound(zone.clone())),
            Presence::Present(shown) => Ok(shown),
        }
    }

    /// Created through this API: it has a marker, or it is a zone of the reference bindcar
    /// (0.7.3 keeps no marker): added at runtime (`addzone`, never a named.conf zone) and either
    /// its file is `<dir>/<zone>.zone` or it is a secondary with no file (bindcar's secondaries).
    pub(super) async fn is_managed(
        &self,
        zone: &ZoneName,
        shown: &ShownZone,
    ) -> Result<bool, ZoneError> {
        if self.is_catalog(zone) {
            // ours, but never one of the zones the API manages for clients
            return Ok(false);
        }
        if self.dir.has_marker(zone) {
            return Ok(true);
        }
        let bindcar_secondary = shown.value("file").is_none()
            && matches!(shown.value("type").as_deref(), Some("secondary" | "slave"));
        if !self.owns_file(zone, shown) && !bindcar_secondary {
            return Ok(false);
        }
        match runtime_added(self.named.as_ref(), zone).await {
            Ok(added) => Ok(added),
            Err(failure) if is_not_loaded(&failure) => Ok(false),
            Err(failure) => Err(classify(zone, "zonestatus", failure)),
        }
    }

    /// The zone's file is the one this API would have written (`<dir>/<zone>.zone`).
    pub(super) fn owns_file(&self, zone: &ZoneName, shown: &ShownZone) -> bool {
        shown
            .value("file")
            .is_some_and(|f| Path::new(&f) == self.dir.zone_file(zone))
    }
}

/// `rndc zonestatus` says the zone can be changed with modzone: it was added at runtime
/// (`addzone`), not read from named.conf.
pub(super) async fn runtime_added(
    named: &dyn ControlChannel,
    zone: &ZoneName,
) -> Result<bool, RndcFailure> {
    let text = named.run(&RndcCommand::ZoneStatus(zone.clone())).await?;
    Ok(zonestatus::reconfigurable(&text))
}
