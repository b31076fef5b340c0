//! Stats, visible at Envoy's admin `/stats/prometheus` (custom Wasm metrics are listed
//! under their own names there).

use bindcar_policy::Denial;
use proxy_wasm::hostcalls::{define_metric, increment_metric, record_metric};
use proxy_wasm::types::MetricType;

const DENIAL_REASONS: [&str; 10] = [
    "missing_header",
    "invalid_format",
    "empty_token",
    "invalid_api_token",
    "not_authenticated",
    "unauthorized_namespace",
    "unauthorized_service_account",
    "no_user_info",
    "audience_not_accepted",
    "review_unavailable",
];

pub const FAILURE_KINDS: [&str; 6] = [
    "transport",
    "http_5xx",
    "http_other",
    "malformed_body",
    "dispatch",
    "overloaded",
];

pub struct Metrics {
    allowed: u32,
    exempt: u32,
    denied: [u32; DENIAL_REASONS.len()],
    reviews_sent: u32,
    review_failures: [u32; FAILURE_KINDS.len()],
    cache_hits: u32,
    cache_misses: u32,
    review_latency_ms: u32,
}

fn counter(name: &str) -> u32 {
    // A metric that cannot be defined must not stop authentication: id 0 is then ignored by
    // the host when incremented.
    define_metric(MetricType::Counter, name).unwrap_or(0)
}

impl Metrics {
    pub fn define() -> Metrics {
        Metrics {
            allowed: counter("bindcar_auth_allowed"),
            exempt: counter("bindcar_auth_exempt"),
            denied: DENIAL_REASONS.map(|r| counter(&format!("bindcar_auth_denied_{r}"))),
            reviews_sent: counter("bindcar_auth_reviews_sent"),
            review_failures: FAILURE_KINDS
                .map(|k| counter(&format!("bindcar_auth_review_failures_{k}"))),
            cache_hits: counter("bindcar_auth_cache_hits"),
            cache_misses: counter("bindcar_auth_cache_misses"),
            review_latency_ms: define_metric(
                MetricType::Histogram,
                "bindcar_auth_review_latency_ms",
            )
            .unwrap_or(0),
        }
    }

    fn bump(id: u32) {
        increment_metric(id, 1).ok();
    }

    pub fn allowed(&self) {
        Self::bump(self.allowed)
    }

    pub fn exempt(&self) {
        Self::bump(self.exempt)
    }

    pub fn denied(&self, d: &Denial) {
        if let Some(i) = DENIAL_REASONS.iter().position(|r| *r == d.reason()) {
            Self::bump(self.denied[i])
        }
    }

    pub fn review_sent(&self) {
        Self::bump(self.reviews_sent)
    }

    pub fn review_failed(&self, kind: &str) {
        if let Some(i) = FAILURE_KINDS.iter().position(|k| *k == kind) {
            Self::bump(self.review_failures[i])
        }
    }

    pub fn cache_hit(&self) {
        Self::bump(self.cache_hits)
    }

    pub fn cache_miss(&self) {
        Self::bump(self.cache_misses)
    }

    pub fn review_latency(&self, ms: u64) {
        record_metric(self.review_latency_ms, ms).ok();
    }
}
