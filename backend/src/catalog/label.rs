//! A member's label (RFC 9432 §4.1): `<label>.zones.<catalog>` must be unique in the catalog
//! and should not change while the zone is a member, since consumers read a new label as a
//! new zone (a reset). Derived from the zone's name alone, so every create, delete and repair
//! of the same zone computes the same label, with no state to keep: the first 16 bytes of the
//! SHA-256 of the name in wire form, in hex (32 characters; 128 bits keep two of even 10^9
//! zones apart with certainty for any practical purpose).

use sha2::{Digest, Sha256};

use crate::bind::ZoneName;

/// Hex characters of a label.
pub const LABEL_LEN: usize = 32;

/// The stable label of `zone`'s member entry.
pub fn member_label(zone: &ZoneName) -> String {
    let mut hasher = Sha256::new();
    // wire form: each label prefixed by its length, then the root; names are already in lower
    // case (ZoneName), so `Example.TEST.` and `example.test` get one label
    for label in zone.as_str().split('.') {
        hasher.update([label.len() as u8]);
        hasher.update(label.as_bytes());
    }
    hasher.update([0u8]);
    hasher
        .finalize()
        .iter()
        .take(LABEL_LEN / 2)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `<label>.zones.<catalog>.`: the owner of a member's PTR record.
pub fn member_owner(catalog: &ZoneName, label: &str) -> String {
    format!("{label}.zones.{catalog}.")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn z(name: &str) -> ZoneName {
        ZoneName::parse(name).unwrap()
    }

    #[test]
    fn labels_are_stable_per_name_and_differ_between_names() {
        let label = member_label(&z("example.test"));
        assert_eq!(label.len(), LABEL_LEN);
        assert!(label.chars().all(|c| c.is_ascii_hexdigit()));
        // the same zone however a client spells it
        assert_eq!(member_label(&z("Example.TEST.")), label);
        // fixed forever (a change would make every secondary drop and re-add every zone);
        // (independently: sha256 of b"\x07example\x04test\x00" in Python, first 32 hex digits)
        assert_eq!(label, "1b4132c087a4d979c884bad48da2b84e");
        // names that concatenate alike are still apart (wire form, not text)
        assert_ne!(member_label(&z("ab.c")), member_label(&z("a.bc")));
        let many: std::collections::BTreeSet<String> = (0..10_000)
            .map(|i| member_label(&z(&format!("z{i}.test"))))
            .collect();
        assert_eq!(many.len(), 10_000);
    }

    #[test]
    fn owner_is_under_the_zones_label() {
        assert_eq!(
            member_owner(&z("catalog.invalid"), "abc"),
            "abc.zones.catalog.invalid."
        );
    }
}
