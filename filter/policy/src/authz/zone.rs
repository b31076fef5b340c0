//! Zone names as the backend normalises them (`backend/src/bind/zone_name.rs`, whose tests
//! check that both agree): lower case, no trailing dot, labels of `[a-z0-9_-]` not starting
//! with `-`, at most 63 bytes each and 253 in all. Mirrored here because the policy crate
//! cannot depend on the backend; authorization must name exactly the zone the backend acts on.

const MAX_NAME_BYTES: usize = 253;
const MAX_LABEL_BYTES: usize = 63;

/// The normalised name, or `None` where the backend would refuse it.
pub fn normalize_zone(raw: &str) -> Option<String> {
    let trimmed = raw.strip_suffix('.').unwrap_or(raw);
    if trimmed.is_empty() || trimmed.len() > MAX_NAME_BYTES {
        return None;
    }
    if !trimmed
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return None;
    }
    let labels_ok = trimmed
        .split('.')
        .all(|l| !l.is_empty() && l.len() <= MAX_LABEL_BYTES && !l.starts_with('-'));
    labels_ok.then(|| trimmed.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test(unsupported = test)]
    fn normalises_and_refuses_as_the_backend() {
        assert_eq!(normalize_zone("Example.TEST."), Some("example.test".into()));
        assert_eq!(
            normalize_zone("_tcp.example.com"),
            Some("_tcp.example.com".into())
        );
        for bad in ["", ".", "..", "a..b", ".a", "-a.com", "a b", "a/b", "é.com"] {
            assert_eq!(normalize_zone(bad), None, "{bad:?}");
        }
        assert_eq!(normalize_zone(&"a".repeat(64)), None);
        assert!(normalize_zone(&"a".repeat(63)).is_some());
        let long = vec!["a".repeat(50); 5].join(".");
        assert_eq!(normalize_zone(&long), None);
    }
}
