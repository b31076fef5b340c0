//! What a reconciliation changes in the catalog so that it lists exactly the zones this API
//! manages that BIND has: a zone without a member gets one (a create interrupted between
//! `addzone` and its member, or a delete between removing the member and `delzone`); a member
//! whose zone is gone, or is not ours (a named.conf zone), is removed; a zone listed twice (a
//! member added by hand under another label) keeps the API's label only. Pure: the caller
//! checks each change again under the zone's lock before sending it.

use std::collections::{BTreeMap, BTreeSet};

use super::content::Member;
use super::label::member_label;
use crate::bind::ZoneName;

/// Why a member goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Its zone is not one of the API's zones in BIND.
    NotManaged,
    /// The zone is listed under the API's label too.
    Duplicate,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repair {
    pub add: Vec<ZoneName>,
    pub remove: Vec<(Member, Removal)>,
}

impl Repair {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// The changes that make `members` list exactly `zones` (never `catalog` itself).
pub fn plan(catalog: &ZoneName, members: &[Member], zones: &BTreeSet<ZoneName>) -> Repair {
    let mut by_zone: BTreeMap<&ZoneName, Vec<&Member>> = BTreeMap::new();
    for member in members {
        by_zone.entry(&member.zone).or_default().push(member);
    }
    let mut repair = Repair::default();
    for (zone, listed) in &by_zone {
        if !zones.contains(*zone) || *zone == catalog {
            repair
                .remove
                .extend(listed.iter().map(|m| ((*m).clone(), Removal::NotManaged)));
            continue;
        }
        let ours = member_label(zone);
        let keep = if listed.iter().any(|m| m.label == ours) {
            ours
        } else {
            // No member under our label: keep the first (a label change is a reset for the
            // secondaries, which drop the zone's data).
            listed[0].label.clone()
        };
        repair.remove.extend(
            listed
                .iter()
                .filter(|m| m.label != keep)
                .map(|m| ((*m).clone(), Removal::Duplicate)),
        );
    }
    repair.add = zones
        .iter()
        .filter(|z| *z != catalog && !by_zone.contains_key(z))
        .cloned()
        .collect();
    repair
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn z(name: &str) -> ZoneName {
        ZoneName::parse(name).unwrap()
    }

    fn ours(name: &str) -> Member {
        Member {
            label: member_label(&z(name)),
            zone: z(name),
        }
    }

    fn other(label: &str, name: &str) -> Member {
        Member {
            label: label.into(),
            zone: z(name),
        }
    }

    #[test]
    fn a_catalog_that_lists_exactly_the_zones_needs_nothing() {
        let zones: BTreeSet<_> = [z("a.test"), z("b.test")].into();
        let repair = plan(&z("cat.invalid"), &[ours("a.test"), ours("b.test")], &zones);
        assert!(repair.is_empty(), "{repair:?}");
    }

    #[test]
    fn missing_members_are_added_and_strays_removed() {
        let zones: BTreeSet<_> = [z("a.test"), z("b.test"), z("cat.invalid")].into();
        let members = [
            ours("a.test"),
            ours("gone.test"),
            other("hand", "conf.test"),
            ours("cat.invalid"),
        ];
        let repair = plan(&z("cat.invalid"), &members, &zones);
        assert_eq!(repair.add, [z("b.test")]);
        assert_eq!(
            repair.remove,
            [
                (ours("cat.invalid"), Removal::NotManaged),
                (other("hand", "conf.test"), Removal::NotManaged),
                (ours("gone.test"), Removal::NotManaged),
            ]
        );
    }

    #[test]
    fn a_zone_listed_twice_keeps_the_api_label_or_else_its_first() {
        let zones: BTreeSet<_> = [z("a.test"), z("b.test")].into();
        let members = [
            other("0hand", "a.test"),
            ours("a.test"),
            other("1first", "b.test"),
            other("2second", "b.test"),
        ];
        let repair = plan(&z("cat.invalid"), &members, &zones);
        assert!(repair.add.is_empty());
        assert_eq!(
            repair.remove,
            [
                (other("0hand", "a.test"), Removal::Duplicate),
                (other("2second", "b.test"), Removal::Duplicate),
            ]
        );
    }
}
