//! Reading `rndc zonestatus` output: `key: value` lines.

/// The value of a `key: value` line of `rndc zonestatus`.
pub fn status_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        line.strip_prefix(key)?
            .strip_prefix(':')
            .map(|v| v.trim().to_string())
    })
}

/// The zone can be changed with modzone: it was added at runtime (`addzone`), not read from
/// named.conf.
pub fn reconfigurable(text: &str) -> bool {
    status_field(text, "reconfigurable via modzone").as_deref() == Some("yes")
}

/// The zone's serial, when named shows one.
pub fn serial(text: &str) -> Option<u32> {
    status_field(text, "serial").and_then(|s| s.parse().ok())
}

/// Whether the zone may have a `dnssec-policy`, so its signing state is worth a `dnssec
/// -status`. named 9.18 shows `key maintenance` for every zone with a policy (signed or on its
/// way to `insecure`) and `secure: yes` for every signed one; only a zone with neither is known
/// to have none. Anything unexpected counts as maybe.
pub fn may_have_policy(text: &str) -> bool {
    status_field(text, "secure").as_deref() != Some("no")
        || status_field(text, "key maintenance").is_some()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const STATUS: &str = "name: ok.test\ntype: primary\nfiles: ok.test.zone\nserial: 2026112201\n\
        nodes: 4\nlast loaded: Sun, 22 Nov 2026 15:00:00 GMT\nsecure: no\ndynamic: yes\n\
        reconfigurable via modzone: yes\n";

    #[test]
    fn reads_fields_serial_and_reconfigurable() {
        assert_eq!(status_field(STATUS, "type").as_deref(), Some("primary"));
        assert_eq!(serial(STATUS), Some(2026112201));
        assert!(reconfigurable(STATUS));
        assert!(!reconfigurable("reconfigurable via modzone: no\n"));
        assert_eq!(serial("name: x\n"), None);
        assert_eq!(status_field(STATUS, "missing"), None);
    }

    #[test]
    fn only_a_zone_neither_secure_nor_key_maintained_has_no_policy() {
        // named 9.18: no policy; signed (default); policy `insecure`, keys withdrawn
        assert!(!may_have_policy(STATUS));
        assert!(may_have_policy(
            "secure: yes\ninline signing: yes\nkey maintenance: automatic\n"
        ));
        assert!(may_have_policy("secure: no\nkey maintenance: automatic\n"));
        assert!(may_have_policy("name: x\n"));
    }
}
