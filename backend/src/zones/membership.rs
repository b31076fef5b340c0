//! The catalog's side of the zone operations (`catalog` computes, this sends): a create makes
//! its zone a member once BIND has it, a delete removes the member first, the background
//! reconciliation creates the catalog when BIND lacks it and repairs its members against the
//! zones BIND has. Member changes are RFC 2136 UPDATEs through `bind::update::DnsChannel`,
//! TSIG-signed like the records API's; a change whose answer is lost is an unknown outcome that
//! the reconciliation settles (whole or absent), as for `addzone`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::ZoneError;
use super::plan::CreatePlan;
use super::service::{CatalogLink, Presence, Zones};
use crate::bind::update::{DnsChannel, DnsFailure, Update};
use crate::bind::{ConfName, ZoneName};
use crate::catalog::repair::{self, Removal};
use crate::catalog::{Catalog, Member, MemberDefaults};

/// How a member change failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberFailure {
    /// For sure: named refused it, or it was never sent. `retryable`: named unreachable, or
    /// the catalog not there yet.
    Refused { why: String, retryable: bool },
    /// The UPDATE reached named and no usable answer came back: it may have been applied.
    Unknown { why: String, timed_out: bool },
}

/// What a failed UPDATE of the catalog means.
pub fn member_failure(catalog: &ZoneName, failure: DnsFailure) -> MemberFailure {
    match failure {
        DnsFailure::Rcode { rcode, tsig } => {
            let why = match (rcode.as_str(), tsig) {
                ("NOTZONE", _) => format!(
                    "named answered NOTZONE: BIND has no catalog zone {catalog} yet (the API \
                     creates it at startup and in each reconciliation)"
                ),
                (_, Some(tsig)) => format!("named answered {rcode} ({tsig})"),
                (_, None) => format!("named answered {rcode}"),
            };
            MemberFailure::Refused {
                retryable: matches!(rcode.as_str(), "NOTZONE" | "SERVFAIL"),
                why,
            }
        }
        DnsFailure::Unavailable(why) => MemberFailure::Refused {
            why,
            retryable: true,
        },
        DnsFailure::Disabled(why) => MemberFailure::Refused {
            why,
            retryable: false,
        },
        DnsFailure::Lost(why) | DnsFailure::Protocol(why) => MemberFailure::Unknown {
            why,
            timed_out: false,
        },
        DnsFailure::Timeout(t) => MemberFailure::Unknown {
            why: format!("no answer within {} s", t.as_secs()),
            timed_out: true,
        },
    }
}

/// The words of `command` in an unknown outcome.
pub const MEMBER_COMMAND: &str = "update of the catalog";

impl MemberFailure {
    pub fn into_error(self, zone: &ZoneName, catalog: &ZoneName) -> ZoneError {
        match self {
            MemberFailure::Refused { why, retryable } => ZoneError::CatalogRefused {
                zone: zone.clone(),
                catalog: catalog.clone(),
                why,
                retryable,
            },
            MemberFailure::Unknown { why, timed_out } => ZoneError::OutcomeUnknown {
                zone: zone.clone(),
                command: MEMBER_COMMAND,
                why,
                timed_out,
            },
        }
    }
}

impl Zones {
    /// Keeps a catalog: creates make members, deletes remove them, reconciliations repair it.
    pub fn with_catalog(
        mut self,
        catalog: Catalog,
        dns: Arc<dyn DnsChannel>,
    ) -> Result<Zones, String> {
        let key = ConfName::parse(dns.key_name()).ok_or_else(|| {
            format!(
                "the TSIG key name {:?} cannot be written in named.conf",
                dns.key_name()
            )
        })?;
        self.catalog = Some(CatalogLink { catalog, dns, key });
        Ok(self)
    }

    pub fn catalog(&self) -> Option<&Catalog> {
        self.catalog.as_ref().map(|link| &link.catalog)
    }

    pub(super) fn is_catalog(&self, zone: &ZoneName) -> bool {
        self.catalog().is_some_and(|c| c.zone == *zone)
    }

    /// The catalog zone is changed by the API alone.
    pub(super) fn refuse_catalog(
        &self,
        zone: &ZoneName,
        operation: &'static str,
    ) -> Result<(), ZoneError> {
        if self.is_catalog(zone) {
            return Err(ZoneError::CatalogZone {
                zone: zone.clone(),
                operation,
            });
        }
        Ok(())
    }

    /// What a new zone gets when its request leaves `alsoNotify`/`allowTransfer` out.
    pub fn member_defaults(&self) -> MemberDefaults {
        match &self.catalog {
            Some(link) => link.catalog.member_defaults(Some(link.key.clone())),
            None => MemberDefaults::default(),
        }
    }

    /// A create request as this API would carry it out (member defaults included).
    pub fn plan_create(
        &self,
        request: &super::request::CreateZoneRequest,
        now: SystemTime,
    ) -> Result<CreatePlan, ZoneError> {
        super::plan::plan_create_with(request, &self.dir, now, &self.member_defaults())
    }

    async fn send(&self, link: &CatalogLink, update: &Update) -> Result<(), MemberFailure> {
        link.dns
            .update(update)
            .await
            .map_err(|f| member_failure(&link.catalog.zone, f))
    }

    /// Makes `zone` a member (nothing without a catalog). Under the zone's lock.
    pub(super) async fn join_catalog(&self, zone: &ZoneName) -> Result<(), MemberFailure> {
        match &self.catalog {
            Some(link) => self.send(link, &link.catalog.add_member(zone)).await,
            None => Ok(()),
        }
    }

    /// Removes `zone`'s member (nothing without a catalog). Under the zone's lock.
    pub(super) async fn leave_catalog(&self, zone: &ZoneName) -> Result<(), MemberFailure> {
        match &self.catalog {
            Some(link) => {
                let member = link.catalog.member(zone);
                self.send(link, &link.catalog.remove_member(&member)).await
            }
            None => Ok(()),
        }
    }

    /// Whether BIND has the catalog (`None` without one): part of readiness.
    pub async fn catalog_ready(&self) -> Option<Result<(), ZoneError>> {
        let link = self.catalog.as_ref()?;
        Some(match self.presence(&link.catalog.zone).await {
            Ok(Presence::Present(_)) => Ok(()),
            Ok(Presence::Absent) => Err(ZoneError::NotFound(link.catalog.zone.clone())),
            Err(e) => Err(e),
        })
    }

    /// Creates the catalog in BIND if BIND lacks it (a zone file this API owns, like any
    /// other): at startup and before each reconciliation. `Ok(true)` when it was created.
    pub async fn ensure_catalog(&self) -> Result<bool, ZoneError> {
        let Some(link) = &self.catalog else {
            return Ok(false);
        };
        let zone = &link.catalog.zone;
        let _guard = self.locks.lock(zone).await;
        if let Presence::Present(_) = self.presence(zone).await? {
            return Ok(false);
        }
        if self.dir.has_marker(zone) {
            // Ours, but BIND lost it (or a creation of it was interrupted): written anew.
            self.dir.remove(zone, true).await.map_err(|e| {
                ZoneError::Internal(format!("removing the old files of the catalog {zone}: {e}"))
            })?;
        }
        let serial = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
            .unwrap_or(1);
        let plan = CreatePlan {
            zone: zone.clone(),
            options: link
                .catalog
                .options(self.dir.zone_file(zone), link.key.clone()),
            zone_file: Some(link.catalog.zone_file(serial)),
        };
        self.put(&plan, "bindcar", false).await?;
        tracing::info!(zone = %zone, secondaries = link.catalog.secondaries.len(), "created the catalog zone");
        Ok(true)
    }

    /// Makes the catalog list exactly the zones of the index (just reconciled with BIND): a
    /// zone without a member gets one, a member whose zone is not ours in BIND goes, each
    /// checked again under the zone's lock (a create or delete may have run since).
    pub async fn repair_catalog(&self) -> Result<(), ZoneError> {
        let Some(link) = &self.catalog else {
            return Ok(());
        };
        let catalog = &link.catalog;
        let records = link.dns.transfer(&catalog.zone).await.map_err(|f| {
            ZoneError::Unavailable(format!(
                "cannot read the catalog {} (AXFR): {f:?}",
                catalog.zone
            ))
        })?;
        let members = catalog.members(&records);
        if self.index.snapshot().is_none() {
            return Ok(()); // the index is not current: next round
        }
        let plan = repair::plan(&catalog.zone, &members, &self.index.current());
        for zone in plan.add {
            let _guard = self.locks.lock(&zone).await;
            if !self.index.contains(&zone) {
                continue;
            }
            let added = self.send(link, &catalog.add_member(&zone)).await;
            tracing::warn!(zone = %zone, catalog = %catalog.zone, result = ?added,
                "added a zone BIND has to the catalog (an interrupted create or delete)");
        }
        for (member, why) in plan.remove {
            let _guard = self.locks.lock(&member.zone).await;
            if why == Removal::NotManaged && self.index.contains(&member.zone) {
                continue;
            }
            let removed = self.send(link, &catalog.remove_member(&member)).await;
            tracing::warn!(zone = %member.zone, label = %member.label, reason = ?why,
                catalog = %catalog.zone, result = ?removed,
                "removed a member of the catalog whose zone is not one of the API's zones in BIND");
        }
        Ok(())
    }

    /// The member of `zone` the API writes (for tests and logs).
    pub fn member_of(&self, zone: &ZoneName) -> Option<Member> {
        self.catalog().map(|c| c.member(zone))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_failed_update_is_refused_or_unknown() {
        let cat = ZoneName::parse("cat.invalid").unwrap();
        let rcode = |r: &str| DnsFailure::Rcode {
            rcode: r.into(),
            tsig: None,
        };
        assert!(matches!(
            member_failure(&cat, rcode("REFUSED")),
            MemberFailure::Refused {
                retryable: false,
                ..
            }
        ));
        let MemberFailure::Refused { why, retryable } = member_failure(&cat, rcode("NOTZONE"))
        else {
            panic!()
        };
        assert!(
            retryable && why.contains("no catalog zone cat.invalid"),
            "{why}"
        );
        assert!(matches!(
            member_failure(&cat, DnsFailure::Unavailable("refused".into())),
            MemberFailure::Refused {
                retryable: true,
                ..
            }
        ));
        assert!(matches!(
            member_failure(&cat, DnsFailure::Lost("reset".into())),
            MemberFailure::Unknown {
                timed_out: false,
                ..
            }
        ));
        assert!(matches!(
            member_failure(&cat, DnsFailure::Timeout(Duration::from_secs(1))),
            MemberFailure::Unknown {
                timed_out: true,
                ..
            }
        ));
    }
}
