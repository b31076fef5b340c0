//! The filter's plugin configuration (JSON from Envoy / Istio's pluginConfig).
//! Properties: parsing is deterministic; an accepted configuration honours every documented
//! bound (statusOnError 4xx/5xx, header names lower-case tchar, distinct and not reserved,
//! exempt paths canonical, TokenReview timeout/limits in range, reviewer token token68).
#![no_main]

use bindcar_policy::bearer::is_token68;
use bindcar_policy::config::{FilterConfig, Mode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = FilterConfig::from_json(data);
    assert_eq!(parsed, FilterConfig::from_json(data), "not deterministic");
    let Ok(config) = parsed else { return };
    assert!((400..=599).contains(&config.status_on_error));
    let tchar =
        |b: u8| b.is_ascii_digit() || b.is_ascii_lowercase() || b"!#$&'*+-.^_`|~".contains(&b);
    for h in [&config.identity.user, &config.identity.groups] {
        assert!(!h.is_empty() && h.bytes().all(tchar), "header {h:?}");
        assert!(![
            "authorization",
            "host",
            "content-length",
            "transfer-encoding",
            "connection",
            "te"
        ]
        .contains(&h.as_str()));
    }
    assert_ne!(config.identity.user, config.identity.groups);
    for p in config.exempt.paths() {
        assert!(config.exempt.is_exempt(p), "configured path not canonical");
    }
    if let Mode::TokenReview(tr) = &config.mode {
        assert!((1..=60_000).contains(&tr.timeout.as_millis()));
        assert!((1..=100_000).contains(&tr.max_pending_reviews));
        assert!(tr.path.starts_with('/'));
        assert!(!tr.authority.is_empty() && tr.authority.bytes().all(|b| b.is_ascii_graphic()));
        assert!(!tr.cluster.trim().is_empty());
        assert!(tr.cache.ttl.as_secs() <= 3600 && tr.cache.negative_ttl.as_secs() <= 300);
        assert!(tr.cache.max_entries <= 1_000_000);
        if let Some(t) = &tr.reviewer_token {
            assert!(is_token68(t.as_bytes()));
        }
        assert!(tr.access.audiences().iter().all(|a| !a.trim().is_empty()));
        assert!(!tr.access.audiences().is_empty(), "no audience");
        let _ = tr.cache_scope();
    }
});
