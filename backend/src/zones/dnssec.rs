//! The DNSSEC lifecycle of a zone: its signing state for `status`, the DS records of its
//! key-signing keys, `checkds`, and what a PATCH's `dnssecPolicy`/`inlineSigning` do to the
//! zone's configuration (`apply`, called by `change`).
//!
//! Merge semantics: a PATCH without `dnssecPolicy` leaves the zone's `dnssec-policy` statement
//! as BIND shows it (the statement is carried to `modzone` verbatim), so a PATCH of another
//! field never unsigns a zone.

use super::classify::classify;
use super::error::ZoneError;
use super::plan::{ModifyPlan, PolicyChange};
use super::service::Zones;
use crate::bind::dnssec::{self, CheckdsOutcome, DnssecStatus, Ds, SigningState};
use crate::bind::update::{DnsChannel, DnsFailure};
use crate::bind::{zonestatus, DsState, RndcCommand, ShownZone, ZoneName};

impl Zones {
    /// `rndc dnssec -status` of the zone.
    async fn signing_state(&self, zone: &ZoneName) -> Result<SigningState, ZoneError> {
        let text = self
            .named
            .run(&RndcCommand::DnssecStatus(zone.clone()))
            .await
            .map_err(|f| classify(zone, "dnssec-status", f))?;
        Ok(dnssec::parse_status(&text))
    }

    /// The zone's signing state for `GET …/status`, given its `rndc zonestatus` text: `None`
    /// for a zone without a policy, and when it cannot be read (logged): the status answer
    /// never fails for want of it. A zone whose status shows no policy costs no second command.
    pub async fn signing(&self, zone: &ZoneName, zonestatus: &str) -> Option<DnssecStatus> {
        if !zonestatus::may_have_policy(zonestatus) {
            return None;
        }
        match self.signing_state(zone).await {
            Ok(SigningState::Policy(status)) => Some(status),
            Ok(SigningState::NoPolicy) => None,
            Err(e) => {
                tracing::warn!(zone = %zone, error = %e, "DNSSEC status not read; status answered without it");
                None
            }
        }
    }

    /// The DS records (SHA-256) of the key-signing keys in the DNSKEY RRset named serves.
    /// `NoPolicy` for a zone without a `dnssec-policy`.
    pub async fn ds(&self, zone: &ZoneName, dns: &dyn DnsChannel) -> Result<Vec<Ds>, ZoneError> {
        if let SigningState::NoPolicy = self.signing_state(zone).await? {
            return Err(ZoneError::NoPolicy(zone.clone()));
        }
        let keys = dns.dnskeys(zone).await.map_err(|f| dns_failure(zone, f))?;
        dnssec::ds_records(zone, &keys).map_err(ZoneError::Internal)
    }

    /// Tells named the parent published or withdrew the DS of key `tag` (`rndc dnssec
    /// -checkds`), as a key rollover or the way to `insecure` needs when no parental agents
    /// are configured. named's text when it recorded it.
    pub async fn checkds(
        &self,
        zone: &ZoneName,
        tag: u16,
        state: DsState,
        actor: &str,
    ) -> Result<String, ZoneError> {
        let command = RndcCommand::DnssecCheckds(zone.clone(), tag, state);
        let text = self
            .named
            .run(&command)
            .await
            .map_err(|f| classify(zone, "dnssec-checkds", f))?;
        match dnssec::parse_checkds(&text) {
            CheckdsOutcome::Recorded(text) => {
                tracing::info!(zone = %zone, actor = %actor, key = tag, ds = state.as_str(), "DS state recorded");
                Ok(text)
            }
            CheckdsOutcome::NoPolicy => Err(ZoneError::NoPolicy(zone.clone())),
            CheckdsOutcome::NoSuchKey => Err(ZoneError::NoSuchKey {
                zone: zone.clone(),
                tag,
            }),
            CheckdsOutcome::Refused(bind) => Err(ZoneError::CheckdsRefused {
                zone: zone.clone(),
                bind,
            }),
        }
    }

    /// Applies the plan's DNSSEC fields to `shown`; `true` when the zone's DNSSEC
    /// configuration changed (the caller then has named re-read its configuration). Removing
    /// the policy is refused while named still publishes a DNSKEY of the zone.
    pub(super) async fn apply_dnssec(
        &self,
        zone: &ZoneName,
        shown: &mut ShownZone,
        plan: &ModifyPlan,
    ) -> Result<bool, ZoneError> {
        if plan.dnssec_policy == Some(PolicyChange::Remove) && self.publishes_dnskey(zone).await? {
            return Err(ZoneError::StillSigned(zone.clone()));
        }
        Ok(apply(shown, plan))
    }

    /// Whether named still publishes a DNSKEY of the zone (a key `published`, or one whose
    /// DNSKEY is being introduced or in place).
    async fn publishes_dnskey(&self, zone: &ZoneName) -> Result<bool, ZoneError> {
        Ok(match self.signing_state(zone).await? {
            SigningState::NoPolicy => false,
            SigningState::Policy(status) => {
                status.signed || status.keys.iter().any(|k| k.published && !k.removed)
            }
        })
    }
}

/// The configuration edit of a PATCH's `dnssecPolicy` and `inlineSigning` (pure). A policy on
/// a zone that takes no dynamic updates and says nothing of inline signing gets
/// `inline-signing yes`: BIND signs a copy and the zone file stays as written.
pub fn apply(shown: &mut ShownZone, plan: &ModifyPlan) -> bool {
    let mut changed = false;
    match &plan.dnssec_policy {
        Some(PolicyChange::Use(policy)) => {
            shown.set(
                "dnssec-policy",
                Some(format!("dnssec-policy \"{}\"", policy.as_str())),
            );
            // A secondary takes no updates whatever it says (bindy gives its secondaries an
            // allow-update): it is signed inline.
            let primary = matches!(shown.value("type").as_deref(), Some("primary" | "master"));
            let dynamic = primary
                && (shown.get("allow-update").is_some() || shown.get("update-policy").is_some());
            if plan.inline_signing.is_none() && shown.get("inline-signing").is_none() && !dynamic {
                shown.set("inline-signing", Some("inline-signing yes".into()));
            }
            changed = true;
        }
        Some(PolicyChange::Remove) => {
            shown.set("dnssec-policy", None);
            changed = true;
        }
        None => {}
    }
    if let Some(inline) = plan.inline_signing {
        let value = if inline { "yes" } else { "no" };
        shown.set("inline-signing", Some(format!("inline-signing {value}")));
        changed = true;
    }
    changed
}

/// A DNS failure while reading the DNSKEY RRset.
fn dns_failure(zone: &ZoneName, failure: DnsFailure) -> ZoneError {
    match failure {
        DnsFailure::Timeout(t) => ZoneError::Timeout(t),
        // A query changes nothing: a lost answer is the server being unavailable.
        DnsFailure::Unavailable(why) | DnsFailure::Lost(why) => {
            ZoneError::Unavailable(format!("DNS server (reading the DNSKEY RRset): {why}"))
        }
        DnsFailure::Rcode { rcode, .. } => ZoneError::Refused {
            command: "DNSKEY query",
            bind: format!("{rcode} for {zone} DNSKEY"),
        },
        DnsFailure::Protocol(why) | DnsFailure::Disabled(why) => {
            ZoneError::Internal(format!("reading the DNSKEY RRset of {zone}: {why}"))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::bind::ConfName;

    fn shown(text: &str) -> ShownZone {
        ShownZone::parse(text).unwrap()
    }

    fn policy(name: &str) -> ModifyPlan {
        ModifyPlan {
            dnssec_policy: Some(PolicyChange::Use(ConfName::parse(name).unwrap())),
            ..ModifyPlan::default()
        }
    }

    #[test]
    fn a_policy_on_a_static_zone_adds_inline_signing() {
        let mut zone = shown("zone \"a.test\" { type primary; file \"/z/a.test.zone\"; };");
        assert!(apply(&mut zone, &policy("default")));
        assert_eq!(
            zone.render_block(),
            "{ type primary; file \"/z/a.test.zone\"; dnssec-policy \"default\"; inline-signing yes; };"
        );
    }

    #[test]
    fn a_dynamic_zone_is_signed_in_place_and_a_stated_inline_signing_is_kept() {
        let mut dynamic =
            shown("zone \"a.test\" { type primary; file \"/z/a\"; allow-update { key \"k\"; }; };");
        apply(&mut dynamic, &policy("default"));
        assert!(dynamic.get("inline-signing").is_none());
        let mut secondary = shown(
            "zone \"a.test\" { type secondary; primaries { 192.0.2.1; }; allow-update { key \"k\"; }; };",
        );
        apply(&mut secondary, &policy("default"));
        assert_eq!(
            secondary.get("inline-signing").map(|s| s.text.as_str()),
            Some("inline-signing yes")
        );
        let mut stated =
            shown("zone \"a.test\" { type primary; file \"/z/a\"; inline-signing no; };");
        apply(&mut stated, &policy("insecure"));
        assert_eq!(
            stated.render_block(),
            "{ type primary; file \"/z/a\"; inline-signing no; dnssec-policy \"insecure\"; };"
        );
    }

    #[test]
    fn policy_changes_in_place_and_none_removes_it() {
        let signed = "zone \"a.test\" { type primary; file \"/z/a\"; inline-signing yes; dnssec-policy \"default\"; };";
        let mut zone = shown(signed);
        apply(&mut zone, &policy("insecure"));
        assert_eq!(
            zone.render_block(),
            "{ type primary; file \"/z/a\"; inline-signing yes; dnssec-policy \"insecure\"; };"
        );
        let mut zone = shown(signed);
        let remove = ModifyPlan {
            dnssec_policy: Some(PolicyChange::Remove),
            ..ModifyPlan::default()
        };
        assert!(apply(&mut zone, &remove));
        assert!(zone.get("dnssec-policy").is_none());
    }

    #[test]
    fn no_dnssec_field_changes_nothing() {
        let signed = "zone \"a.test\" { type primary; file \"/z/a\"; inline-signing yes; dnssec-policy \"default\"; };";
        let mut zone = shown(signed);
        assert!(!apply(&mut zone, &ModifyPlan::default()));
        assert_eq!(zone, shown(signed));
        let mut zone = shown(signed);
        let inline = ModifyPlan {
            inline_signing: Some(false),
            ..ModifyPlan::default()
        };
        assert!(apply(&mut zone, &inline));
        assert_eq!(
            zone.get("inline-signing").map(|s| s.text.as_str()),
            Some("inline-signing no")
        );
    }
}
