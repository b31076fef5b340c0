//! What the catalog holds and how it changes: its zone file when the API creates it (SOA, NS
//! `invalid.` and the version TXT "2", RFC 9432 §4.2), its zone statement (updates by the
//! API's TSIG key, NOTIFY to the secondaries at once), the UPDATE that adds a member (a PTR at
//! `<label>.zones.<catalog>` naming the zone, RFC 9432 §4.1) or removes one, and the members a
//! transfer of the catalog lists.

use std::path::PathBuf;

use super::label::{member_label, member_owner};
use super::Catalog;
use crate::bind::update::{Change, Update, ZoneRecord};
use crate::bind::{ConfName, ZoneName, ZoneOptions, ZoneType};

/// The catalog schema version this API writes and BIND 9.18 reads.
pub const VERSION: &str = "2";

/// Seconds a secondary waits between checks of the catalog, and after a failed one. BIND
/// clamps both to the secondary's `min-refresh-time` / `min-retry-time` (the documented
/// secondary configuration lowers the retry on the catalog); NOTIFY makes them rarely matter.
const REFRESH: u32 = 60;
const RETRY: u32 = 10;
/// Two weeks without the primary before a secondary stops serving the catalog.
const EXPIRE: u32 = 1_209_600;

/// One member of the catalog: the label its PTR record sits under, and the zone it names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Member {
    pub label: String,
    pub zone: ZoneName,
}

impl Catalog {
    /// The catalog's zone file. `serial`: the seconds since the epoch when it is created, so a
    /// catalog created again (BIND lost it) starts above the serial secondaries still hold
    /// unless it took more updates than seconds have passed since.
    pub fn zone_file(&self, serial: u32) -> String {
        let zone = &self.zone;
        format!(
            "; catalog zone {zone} (RFC 9432), written by bindcar: its members are the zones \
             this API manages\n\
             $TTL 0\n\
             @ IN SOA invalid. invalid. {serial} {REFRESH} {RETRY} {EXPIRE} 0\n\
             @ IN NS invalid.\n\
             version IN TXT \"{VERSION}\"\n"
        )
    }

    /// The catalog's zone statement: a primary that takes the API's updates (`key`), tells the
    /// secondaries of every change without BIND's default 5 s notify delay, and lets them
    /// (and the key, to read the members back) transfer it.
    pub fn options(&self, file: PathBuf, key: ConfName) -> ZoneOptions {
        ZoneOptions {
            zone_type: ZoneType::Primary,
            file,
            primaries: Vec::new(),
            update_key: Some(key.clone()),
            also_notify: self.secondaries.clone(),
            allow_transfer: Some(self.transfer_acl()),
            transfer_key: Some(key),
            notify_explicit: true,
            notify_delay: Some(0),
            dnssec_policy: None,
            inline_signing: None,
        }
    }

    /// The UPDATE that makes `zone` a member (adding a record the catalog already has changes
    /// nothing, so it may be sent again).
    pub fn add_member(&self, zone: &ZoneName) -> Update {
        Update {
            zone: self.zone.clone(),
            prerequisites: Vec::new(),
            changes: vec![Change::Add {
                name: member_owner(&self.zone, &member_label(zone)),
                rtype: "PTR".into(),
                ttl: 0,
                rdata: format!("{zone}."),
            }],
        }
    }

    /// The UPDATE that removes a member (its whole PTR RRset; nothing if it is not there).
    pub fn remove_member(&self, member: &Member) -> Update {
        Update {
            zone: self.zone.clone(),
            prerequisites: Vec::new(),
            changes: vec![Change::DeleteRrset {
                name: member_owner(&self.zone, &member.label),
                rtype: "PTR".into(),
            }],
        }
    }

    /// The member `zone` has when the API added it.
    pub fn member(&self, zone: &ZoneName) -> Member {
        Member {
            label: member_label(zone),
            zone: zone.clone(),
        }
    }

    /// The members among the records of a transfer of the catalog: PTR records one label
    /// below `zones.<catalog>`. Properties (`group.<label>.zones...`) and anything that does
    /// not name a valid zone are not members.
    pub fn members(&self, records: &[ZoneRecord]) -> Vec<Member> {
        let suffix = format!(".zones.{}.", self.zone);
        let mut members: Vec<Member> = records
            .iter()
            .filter(|r| r.rtype.eq_ignore_ascii_case("PTR"))
            .filter_map(|r| {
                let owner = r.name.to_ascii_lowercase();
                let label = owner.strip_suffix(&suffix)?;
                if label.is_empty() || label.contains('.') {
                    return None;
                }
                let zone = ZoneName::parse(r.value.trim()).ok()?;
                Some(Member {
                    label: label.to_string(),
                    zone,
                })
            })
            .collect();
        members.sort();
        members.dedup();
        members
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::bind::Endpoint;

    fn catalog() -> Catalog {
        Catalog::new(
            ZoneName::parse("catalog.invalid").unwrap(),
            vec![Endpoint::parse("127.0.0.1:5301").unwrap()],
            None,
        )
    }

    fn record(name: &str, rtype: &str, value: &str) -> ZoneRecord {
        ZoneRecord {
            name: name.into(),
            rtype: rtype.into(),
            ttl: 0,
            value: value.into(),
        }
    }

    #[test]
    fn the_zone_file_is_a_version_2_catalog() {
        let text = catalog().zone_file(1_796_000_000);
        assert!(text.contains("@ IN SOA invalid. invalid. 1796000000 60 10 1209600 0\n"));
        assert!(text.contains("@ IN NS invalid.\n"));
        assert!(text.contains("version IN TXT \"2\"\n"));
    }

    #[test]
    fn the_statement_notifies_the_secondaries_at_once_and_takes_the_key() {
        let options = catalog().options(
            PathBuf::from("/z/catalog.invalid.zone"),
            ConfName::parse("rndc-key").unwrap(),
        );
        assert_eq!(
            options.render(),
            "{ type primary; file \"/z/catalog.invalid.zone\"; allow-update { key \"rndc-key\"; }; \
             notify explicit; notify-delay 0; also-notify { 127.0.0.1 port 5301; }; \
             allow-transfer { key \"rndc-key\"; 127.0.0.1; }; };"
        );
    }

    #[test]
    fn a_member_is_a_ptr_under_its_label_and_reads_back() {
        let catalog = catalog();
        let zone = ZoneName::parse("Example.TEST").unwrap();
        let add = catalog.add_member(&zone);
        assert_eq!(add.zone, catalog.zone);
        let Change::Add {
            name,
            rtype,
            rdata,
            ttl,
        } = &add.changes[0]
        else {
            panic!("{add:?}")
        };
        let label = crate::catalog::label::member_label(&zone);
        assert_eq!(name, &format!("{label}.zones.catalog.invalid."));
        assert_eq!(
            (rtype.as_str(), rdata.as_str(), *ttl),
            ("PTR", "example.test.", 0)
        );
        // what an AXFR of the catalog gives back
        let records = [
            record(
                "catalog.invalid.",
                "SOA",
                "invalid. invalid. 3 60 10 1209600 0",
            ),
            record("version.catalog.invalid.", "TXT", "\"2\""),
            record(name, "PTR", "example.test."),
            record(
                &format!("group.{label}.zones.catalog.invalid."),
                "TXT",
                "\"g\"",
            ),
            record("x.y.zones.catalog.invalid.", "PTR", "deep.test."),
            record("bad.zones.catalog.invalid.", "PTR", "not a name."),
            record("other.zones.catalog.invalid.", "A", "192.0.2.1"),
        ];
        assert_eq!(catalog.members(&records), [catalog.member(&zone)]);
        let remove = catalog.remove_member(&catalog.member(&zone));
        assert_eq!(
            remove.changes,
            [Change::DeleteRrset {
                name: name.clone(),
                rtype: "PTR".into()
            }]
        );
    }
}
