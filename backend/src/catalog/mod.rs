//! Catalog zones (RFC 9432): the zone that lists every zone this API manages, so that every
//! secondary configured with BIND's `catalog-zones` follows the primary without a call per
//! secondary. Pure domain, no I/O: each member's stable label (`label`), the catalog's own
//! content and zone statement and the UPDATEs that add or remove a member (`content`), what a
//! reconciliation changes so the catalog lists exactly the zones BIND has (`repair`), and
//! whether a secondary serves a zone's current serial (`propagation`). The operations that
//! send these to named live in `zones::membership`.

pub mod content;
pub mod label;
pub mod propagation;
pub mod repair;

use crate::bind::{AddressMatch, ConfName, Endpoint, ZoneName};

pub use content::Member;
pub use propagation::{Seen, State};
pub use repair::Repair;

/// The catalog this API keeps (`BIND_CATALOG_ZONE`), the secondaries that follow it
/// (`BIND_CATALOG_SECONDARIES`) and who may transfer it and its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    pub zone: ZoneName,
    pub secondaries: Vec<Endpoint>,
    /// `allow-transfer` of the catalog and of members: `BIND_CATALOG_ALLOW_TRANSFER`, else
    /// the secondaries' addresses.
    pub allow_transfer: Vec<AddressMatch>,
}

/// What a member zone gets when its create request says nothing of `alsoNotify` or
/// `allowTransfer`: the secondaries are told of changes and may transfer it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberDefaults {
    pub also_notify: Vec<Endpoint>,
    /// `None`: BIND's default (no statement).
    pub allow_transfer: Option<Vec<AddressMatch>>,
    /// Admitted besides the secondaries' addresses: the key the records API reads zones with.
    pub transfer_key: Option<ConfName>,
}

impl Catalog {
    /// `allow_transfer`: the given list, else the secondaries' addresses, once each (a
    /// secondary on another port shares its address). A secondary's transfers come from its
    /// own address, which in Kubernetes is a pod's, not the Service address it is notified at:
    /// there the list names the pod network.
    pub fn new(
        zone: ZoneName,
        secondaries: Vec<Endpoint>,
        allow_transfer: Option<Vec<AddressMatch>>,
    ) -> Catalog {
        let allow_transfer = allow_transfer.unwrap_or_else(|| {
            let mut acl: Vec<AddressMatch> = Vec::new();
            for endpoint in &secondaries {
                let entry = AddressMatch {
                    ip: endpoint.ip,
                    prefix: None,
                };
                if !acl.contains(&entry) {
                    acl.push(entry);
                }
            }
            acl
        });
        Catalog {
            zone,
            secondaries,
            allow_transfer,
        }
    }

    pub fn transfer_acl(&self) -> Vec<AddressMatch> {
        self.allow_transfer.clone()
    }

    /// The defaults of a member zone; `key` is the TSIG key the backend transfers zones with.
    pub fn member_defaults(&self, key: Option<ConfName>) -> MemberDefaults {
        if self.secondaries.is_empty() && self.allow_transfer.is_empty() {
            return MemberDefaults::default();
        }
        MemberDefaults {
            also_notify: self.secondaries.clone(),
            allow_transfer: Some(self.transfer_acl()),
            transfer_key: key,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn secondaries_sharing_an_address_are_one_acl_entry() {
        let catalog = Catalog::new(
            ZoneName::parse("catalog.invalid").unwrap(),
            ["127.0.0.1:5301", "127.0.0.1:5302", "10.0.0.3"]
                .iter()
                .map(|s| Endpoint::parse(s).unwrap())
                .collect(),
            None,
        );
        let acl: Vec<String> = catalog
            .transfer_acl()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(acl, ["127.0.0.1", "10.0.0.3"]);
        let defaults = catalog.member_defaults(ConfName::parse("k"));
        assert_eq!(defaults.also_notify.len(), 3);
        assert_eq!(defaults.transfer_key, ConfName::parse("k"));
        let alone = Catalog::new(catalog.zone.clone(), vec![], None);
        assert_eq!(alone.member_defaults(None), MemberDefaults::default());
        // the pod network instead of the addresses NOTIFY goes to
        let pods = Catalog::new(
            catalog.zone.clone(),
            catalog.secondaries.clone(),
            Some(vec![AddressMatch::parse("10.244.0.0/16").unwrap()]),
        );
        let defaults = pods.member_defaults(None);
        assert_eq!(
            defaults.allow_transfer.unwrap()[0].to_string(),
            "10.244.0.0/16"
        );
    }
}
