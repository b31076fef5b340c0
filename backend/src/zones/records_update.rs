//! The records API's operations: check that the zone takes updates (`showzone`), then send one
//! TSIG-signed UPDATE through `bind::update::DnsChannel`; read a zone's records by AXFR.
//! `RecordError` says what went wrong in domain terms; `http::records` gives it a status.

use std::time::Duration;

use super::error::ZoneError;
use super::records_request::owner_and_type;
use super::service::Zones;
use crate::bind::update::{DnsChannel, DnsFailure, Update, ZoneRecord};
use crate::bind::ZoneName;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordError {
    /// A zone-level failure (unknown zone, named's control channel down...).
    #[error(transparent)]
    Zone(#[from] ZoneError),
    /// A bad field; nothing was sent.
    #[error("{0}")]
    Invalid(String),
    /// The zone cannot take updates (bindcar's messages).
    #[error("{0}")]
    UpdatesNotEnabled(String),
    /// NOTZONE / NXDOMAIN: named does not serve the zone (or the name is outside it).
    #[error("named answered {rcode} for zone {zone}")]
    NotZone { zone: ZoneName, rcode: String },
    /// REFUSED / NOTAUTH: the key is not allowed, unknown, or its signature failed.
    #[error("named answered {rcode} to key {key} for zone {zone}")]
    Refused {
        zone: ZoneName,
        key: String,
        rcode: String,
        tsig: Option<String>,
        transfer: bool,
    },
    /// YXRRSET / NXRRSET / YXDOMAIN / NXDOMAIN as a prerequisite: the data is not as expected.
    #[error("named answered {rcode}: a prerequisite failed")]
    Conflict { rcode: String },
    /// named refused, on a prerequisite of ours, a change it would otherwise have skipped
    /// silently (a CNAME beside other data...), or the change can never apply (the last apex
    /// NS); `message` says why, `rcode` is named's answer if it gave one. Nothing changed.
    #[error("{message}")]
    Clash {
        message: String,
        rcode: Option<String>,
    },
    /// SERVFAIL or another failure that may pass on retry.
    #[error("named answered {rcode}")]
    ServerFailure { rcode: String },
    /// FORMERR, NOTIMP and the like: named cannot take what we sent.
    #[error("named answered {rcode}")]
    Rejected { rcode: String },
    #[error("cannot reach the DNS server: {0}")]
    Unavailable(String),
    #[error("the DNS server did not answer within {} seconds", .0.as_secs())]
    Timeout(Duration),
    /// The UPDATE reached named and no usable answer came back (`why`): named may have
    /// applied it.
    #[error("the outcome of the update is unknown: {why}")]
    OutcomeUnknown { why: String, timed_out: bool },
    /// An answer that cannot be trusted (TSIG does not verify) or read.
    #[error("unusable answer from the DNS server: {0}")]
    Protocol(String),
    /// No usable TSIG key configured.
    #[error("records API unavailable: {0}")]
    Disabled(String),
}

/// What named's answer to an UPDATE (or AXFR) means.
pub fn classify_dns(
    zone: &ZoneName,
    key: &str,
    failure: DnsFailure,
    transfer: bool,
) -> RecordError {
    match failure {
        DnsFailure::Rcode { rcode, tsig } => match rcode.as_str() {
            "NOTZONE" => RecordError::NotZone {
                zone: zone.clone(),
                rcode,
            },
            "NXDOMAIN" if transfer => RecordError::NotZone {
                zone: zone.clone(),
                rcode,
            },
            "REFUSED" | "NOTAUTH" => RecordError::Refused {
                zone: zone.clone(),
                key: key.to_string(),
                rcode,
                tsig,
                transfer,
            },
            "YXRRSET" | "NXRRSET" | "YXDOMAIN" | "NXDOMAIN" => RecordError::Conflict { rcode },
            "SERVFAIL" => RecordError::ServerFailure { rcode },
            _ => RecordError::Rejected { rcode },
        },
        // An UPDATE that reached named without a usable answer may have been applied.
        DnsFailure::Lost(why) | DnsFailure::Protocol(why) if !transfer => {
            RecordError::OutcomeUnknown {
                why,
                timed_out: false,
            }
        }
        DnsFailure::Timeout(t) if !transfer => RecordError::OutcomeUnknown {
            why: format!("no answer within {} s", t.as_secs()),
            timed_out: true,
        },
        DnsFailure::Unavailable(why) | DnsFailure::Lost(why) => RecordError::Unavailable(why),
        DnsFailure::Timeout(t) => RecordError::Timeout(t),
        DnsFailure::Protocol(why) => RecordError::Protocol(why),
        DnsFailure::Disabled(why) => RecordError::Disabled(why),
    }
}

/// A zone's records as named serves them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRecords {
    pub records: Vec<ZoneRecord>,
    pub serial: Option<u32>,
}

impl Zones {
    /// The zone must be a primary with `allow-update` (or `update-policy`), as bindcar checks.
    async fn check_updatable(&self, zone: &ZoneName) -> Result<(), RecordError> {
        self.refuse_catalog(zone, "change the records of")?;
        let shown = self.shown(zone).await?;
        let zone_type = shown.value("type").unwrap_or_default();
        if !matches!(zone_type.as_str(), "primary" | "master") {
            return Err(RecordError::UpdatesNotEnabled(format!(
                "Dynamic updates not enabled: Zone {zone} is {zone_type} type. Dynamic updates only supported on primary zones"
            )));
        }
        if shown.get("allow-update").is_none() && shown.get("update-policy").is_none() {
            return Err(RecordError::UpdatesNotEnabled(format!(
                "Dynamic updates not enabled: Zone {zone} does not have allow-update configured. \
                 Create zone with updateKeyName or modify zone to enable dynamic updates"
            )));
        }
        Ok(())
    }

    /// Sends one planned UPDATE to a zone that takes updates.
    pub async fn apply_update(
        &self,
        dns: &dyn DnsChannel,
        update: &Update,
        operation: &'static str,
        actor: &str,
    ) -> Result<(), RecordError> {
        let zone = &update.zone;
        let outcome = async {
            self.check_updatable(zone).await?;
            dns.update(update)
                .await
                .map_err(|f| classify_dns(zone, dns.key_name(), f, false))
        }
        .await;
        self.metrics.zone_operation(operation, outcome.is_ok());
        match &outcome {
            Ok(()) => {
                tracing::info!(zone = %zone, actor = %actor, operation, changes = update.changes.len(), "records updated")
            }
            Err(e) => {
                tracing::info!(zone = %zone, actor = %actor, operation, error = %e, "records update failed")
            }
        }
        outcome
    }

    /// The zone's records (AXFR with the update key), filtered by owner and type.
    pub async fn zone_records(
        &self,
        dns: &dyn DnsChannel,
        zone: &ZoneName,
        name: Option<&str>,
        record_type: Option<&str>,
    ) -> Result<ZoneRecords, RecordError> {
        let owner = match (name, record_type) {
            (Some(n), Some(t)) => Some(owner_and_type(zone, n, t).map_err(RecordError::Invalid)?),
            (Some(n), None) => Some((
                super::records_request::owner_name(zone, n).map_err(RecordError::Invalid)?,
                String::new(),
            )),
            (None, Some(t)) => Some((
                String::new(),
                owner_and_type(zone, "@", t)
                    .map_err(RecordError::Invalid)?
                    .1,
            )),
            (None, None) => None,
        };
        self.shown(zone).await?;
        let all = dns
            .transfer(zone)
            .await
            .map_err(|f| classify_dns(zone, dns.key_name(), f, true))?;
        let serial = all
            .iter()
            .find(|r| r.rtype == "SOA")
            .and_then(|r| r.value.split_whitespace().nth(2))
            .and_then(|s| s.parse().ok());
        let records = all
            .into_iter()
            .filter(|r| match &owner {
                None => true,
                Some((n, t)) => {
                    (n.is_empty() || r.name.eq_ignore_ascii_case(n))
                        && (t.is_empty() || r.rtype.eq_ignore_ascii_case(t))
                }
            })
            .collect();
        Ok(ZoneRecords { records, serial })
    }
}
