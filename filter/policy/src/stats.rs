//! The names of the filter's stats, derived from the policy's enums so that the filter
//! defines exactly one counter per thing that can happen and the names cannot drift.
//! Envoy shows them at its admin `/stats/prometheus`; the Envoy tests and the bench read them.

use crate::denial::DenialKind;
use crate::failure::FailureKind;

pub const PREFIX: &str = "bindcar_auth_";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stat {
    Allowed,
    Exempt,
    Denied(DenialKind),
    ReviewsSent,
    ReviewFailed(FailureKind),
    CacheHits,
    CacheMisses,
    ReviewLatencyMs,
    /// Requests refused 429 by the failed-authentication throttle.
    Throttled,
    /// Clients the throttle tracks (slots holding one), across workers.
    ThrottleClients,
    /// Failures not recorded: every candidate slot held a client under an active block.
    ThrottleTableFull,
    /// Authorization (see `authz`): SubjectAccessReviews sent, decisions by outcome, the
    /// SAR API's failures, the decision cache, and the SAR round trip.
    AuthzChecksSent,
    AuthzAllowed,
    AuthzDenied,
    AuthzFailed(FailureKind),
    AuthzCacheHits,
    AuthzCacheMisses,
    AuthzLatencyMs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatType {
    Counter,
    Gauge,
    Histogram,
}

const DENIALS: usize = DenialKind::ALL.len();
const FAILURES: usize = FailureKind::ALL.len();

impl Stat {
    /// Size of a table indexed by [`Stat::index`].
    pub const COUNT: usize = 15 + DENIALS + 2 * FAILURES;

    /// Every stat the filter defines, in definition order: one denial counter per reason
    /// the filter can produce, one failure counter per failure kind.
    pub fn in_filter() -> impl Iterator<Item = Stat> {
        let denied = DenialKind::ALL
            .into_iter()
            .filter(|k| k.arises_in_filter())
            .map(Stat::Denied);
        let failed = FailureKind::ALL.into_iter().map(Stat::ReviewFailed);
        let authz_failed = FailureKind::ALL.into_iter().map(Stat::AuthzFailed);
        [Stat::Allowed, Stat::Exempt]
            .into_iter()
            .chain(denied)
            .chain([Stat::ReviewsSent])
            .chain(failed)
            .chain([Stat::CacheHits, Stat::CacheMisses, Stat::ReviewLatencyMs])
            .chain([
                Stat::Throttled,
                Stat::ThrottleClients,
                Stat::ThrottleTableFull,
            ])
            .chain([
                Stat::AuthzChecksSent,
                Stat::AuthzAllowed,
                Stat::AuthzDenied,
                Stat::AuthzCacheHits,
                Stat::AuthzCacheMisses,
                Stat::AuthzLatencyMs,
            ])
            .chain(authz_failed)
    }

    pub fn name(self) -> String {
        let tail = match self {
            Stat::Allowed => "allowed",
            Stat::Exempt => "exempt",
            Stat::Denied(k) => return format!("{PREFIX}denied_{}", k.label()),
            Stat::ReviewsSent => "reviews_sent",
            Stat::ReviewFailed(k) => return format!("{PREFIX}review_failures_{}", k.label()),
            Stat::CacheHits => "cache_hits",
            Stat::CacheMisses => "cache_misses",
            Stat::ReviewLatencyMs => "review_latency_ms",
            Stat::Throttled => "throttled",
            Stat::ThrottleClients => "throttle_clients",
            Stat::ThrottleTableFull => "throttle_table_full",
            Stat::AuthzChecksSent => "authz_checks_sent",
            Stat::AuthzAllowed => "authz_allowed",
            Stat::AuthzDenied => "authz_denied",
            Stat::AuthzFailed(k) => return format!("{PREFIX}authz_failures_{}", k.label()),
            Stat::AuthzCacheHits => "authz_cache_hits",
            Stat::AuthzCacheMisses => "authz_cache_misses",
            Stat::AuthzLatencyMs => "authz_latency_ms",
        };
        format!("{PREFIX}{tail}")
    }

    pub fn stat_type(self) -> StatType {
        match self {
            Stat::ReviewLatencyMs | Stat::AuthzLatencyMs => StatType::Histogram,
            Stat::ThrottleClients => StatType::Gauge,
            _ => StatType::Counter,
        }
    }

    /// A dense index below [`Stat::COUNT`], for the filter's table of metric ids.
    pub fn index(self) -> usize {
        match self {
            Stat::Allowed => 0,
            Stat::Exempt => 1,
            Stat::Denied(k) => 2 + k as usize,
            Stat::ReviewsSent => 2 + DENIALS,
            Stat::ReviewFailed(k) => 3 + DENIALS + k as usize,
            Stat::CacheHits => 3 + DENIALS + FAILURES,
            Stat::CacheMisses => 4 + DENIALS + FAILURES,
            Stat::ReviewLatencyMs => 5 + DENIALS + FAILURES,
            Stat::Throttled => 6 + DENIALS + FAILURES,
            Stat::ThrottleClients => 7 + DENIALS + FAILURES,
            Stat::AuthzChecksSent => 8 + DENIALS + FAILURES,
            Stat::AuthzAllowed => 9 + DENIALS + FAILURES,
            Stat::AuthzDenied => 10 + DENIALS + FAILURES,
            Stat::AuthzCacheHits => 11 + DENIALS + FAILURES,
            Stat::AuthzCacheMisses => 12 + DENIALS + FAILURES,
            Stat::AuthzLatencyMs => 13 + DENIALS + FAILURES,
            Stat::AuthzFailed(k) => 14 + DENIALS + FAILURES + k as usize,
            Stat::ThrottleTableFull => 14 + DENIALS + 2 * FAILURES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn every_stat() -> Vec<Stat> {
        let mut all = vec![Stat::Allowed, Stat::Exempt, Stat::ReviewsSent];
        all.extend(DenialKind::ALL.map(Stat::Denied));
        all.extend(FailureKind::ALL.map(Stat::ReviewFailed));
        all.extend([Stat::CacheHits, Stat::CacheMisses, Stat::ReviewLatencyMs]);
        all.extend([
            Stat::Throttled,
            Stat::ThrottleClients,
            Stat::ThrottleTableFull,
        ]);
        all.extend([
            Stat::AuthzChecksSent,
            Stat::AuthzAllowed,
            Stat::AuthzDenied,
            Stat::AuthzCacheHits,
            Stat::AuthzCacheMisses,
            Stat::AuthzLatencyMs,
        ]);
        all.extend(FailureKind::ALL.map(Stat::AuthzFailed));
        all
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn names_are_unique_and_well_formed() {
        let names: Vec<String> = every_stat().into_iter().map(Stat::name).collect();
        let unique: HashSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        for n in &names {
            let tail = n.strip_prefix(PREFIX).unwrap_or_else(|| panic!("{n}"));
            assert!(
                !tail.is_empty() && !tail.starts_with('_') && !tail.ends_with('_'),
                "{n}"
            );
            assert!(
                tail.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{n}"
            );
            assert!(!tail.contains("__"), "{n}");
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn indices_are_dense_and_distinct() {
        let all = every_stat();
        assert_eq!(all.len(), Stat::COUNT);
        let idx: HashSet<usize> = all.iter().map(|s| s.index()).collect();
        assert_eq!(idx.len(), Stat::COUNT);
        assert!(idx.iter().all(|i| *i < Stat::COUNT));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn the_filter_defines_what_it_can_emit_and_nothing_else() {
        let names: Vec<String> = Stat::in_filter().map(Stat::name).collect();
        assert!(!names.contains(&"bindcar_auth_denied_invalid_api_token".to_string()));
        // The names the Envoy tests and the bench read.
        for n in [
            "bindcar_auth_allowed",
            "bindcar_auth_exempt",
            "bindcar_auth_denied_missing_header",
            "bindcar_auth_denied_invalid_format",
            "bindcar_auth_denied_empty_token",
            "bindcar_auth_denied_unauthorized_namespace",
            "bindcar_auth_denied_review_unavailable",
            "bindcar_auth_reviews_sent",
            "bindcar_auth_review_failures_transport",
            "bindcar_auth_review_failures_http_5xx",
            "bindcar_auth_review_failures_http_other",
            "bindcar_auth_review_failures_malformed_body",
            "bindcar_auth_review_failures_dispatch",
            "bindcar_auth_review_failures_overloaded",
            "bindcar_auth_cache_hits",
            "bindcar_auth_cache_misses",
            "bindcar_auth_review_latency_ms",
            "bindcar_auth_review_failures_client_share",
            "bindcar_auth_throttled",
            "bindcar_auth_throttle_clients",
            "bindcar_auth_denied_forbidden",
            "bindcar_auth_denied_authorization_unavailable",
            "bindcar_auth_authz_checks_sent",
            "bindcar_auth_authz_allowed",
            "bindcar_auth_authz_denied",
            "bindcar_auth_authz_failures_transport",
            "bindcar_auth_authz_failures_overloaded",
            "bindcar_auth_authz_cache_hits",
            "bindcar_auth_authz_cache_misses",
            "bindcar_auth_authz_latency_ms",
        ] {
            assert!(names.iter().any(|m| m == n), "{n} missing");
        }
        assert_eq!(names.len(), Stat::COUNT - 1);
        let histograms: Vec<Stat> = Stat::in_filter()
            .filter(|s| s.stat_type() == StatType::Histogram)
            .collect();
        assert_eq!(histograms, [Stat::ReviewLatencyMs, Stat::AuthzLatencyMs]);
        let gauges: Vec<Stat> = Stat::in_filter()
            .filter(|s| s.stat_type() == StatType::Gauge)
            .collect();
        assert_eq!(gauges, [Stat::ThrottleClients]);
    }
}
