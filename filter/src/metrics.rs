//! Stats, visible at Envoy's admin `/stats/prometheus` (custom Wasm metrics are listed
//! under their own names there). Which stats exist and their names come from
//! `bindcar_policy::stats`, itself derived from the policy's denial and failure kinds: one
//! counter per thing the filter can emit, no hand-kept list here.

use crate::abi::{define_metric, increment_metric, record_metric};
use bindcar_policy::denial::Denial;
use bindcar_policy::failure::FailureKind;
use bindcar_policy::stats::{Stat, StatType};

pub struct Metrics {
    /// Host metric ids by `Stat::index`; `None` for stats the filter does not define.
    ids: [Option<u32>; Stat::COUNT],
}

impl Metrics {
    pub fn define() -> Metrics {
        let mut ids = [None; Stat::COUNT];
        for stat in Stat::in_filter() {
            let kind = match stat.stat_type() {
                StatType::Counter => 0,
                StatType::Gauge => 1,
                StatType::Histogram => 2,
            };
            if let Some(slot) = ids.get_mut(stat.index()) {
                // A metric that cannot be defined must not stop authentication: id 0 is then
                // ignored by the host when incremented.
                *slot = Some(define_metric(kind, &stat.name()).unwrap_or(0));
            }
        }
        Metrics { ids }
    }

    fn id(&self, stat: Stat) -> Option<u32> {
        self.ids.get(stat.index()).copied().flatten()
    }

    fn bump(&self, stat: Stat) {
        if let Some(id) = self.id(stat) {
            increment_metric(id, 1).ok();
        }
    }

    pub fn allowed(&self) {
        self.bump(Stat::Allowed)
    }

    pub fn exempt(&self) {
        self.bump(Stat::Exempt)
    }

    pub fn denied(&self, d: &Denial) {
        self.bump(Stat::Denied(d.kind()))
    }

    pub fn review_sent(&self) {
        self.bump(Stat::ReviewsSent)
    }

    pub fn review_failed(&self, kind: FailureKind) {
        self.bump(Stat::ReviewFailed(kind))
    }

    pub fn cache_hit(&self) {
        self.bump(Stat::CacheHits)
    }

    pub fn cache_miss(&self) {
        self.bump(Stat::CacheMisses)
    }

    pub fn throttled(&self) {
        self.bump(Stat::Throttled)
    }

    /// A client took an empty throttle slot (slots are never emptied again, so the gauge
    /// only rises, to at most `maxClients`; Envoy adds up every worker's increments).
    pub fn throttle_client_added(&self) {
        self.bump(Stat::ThrottleClients)
    }

    /// A failure the throttle could not record (its slots all held blocked clients).
    pub fn throttle_table_full(&self) {
        self.bump(Stat::ThrottleTableFull)
    }

    pub fn authz_sent(&self) {
        self.bump(Stat::AuthzChecksSent)
    }

    /// One authorization decision, however it was made (rules, cache, a fresh check).
    pub fn authz_decided(&self, allowed: bool) {
        self.bump(if allowed {
            Stat::AuthzAllowed
        } else {
            Stat::AuthzDenied
        })
    }

    pub fn authz_failed(&self, kind: FailureKind) {
        self.bump(Stat::AuthzFailed(kind))
    }

    pub fn authz_cache(&self, hit: bool) {
        self.bump(if hit {
            Stat::AuthzCacheHits
        } else {
            Stat::AuthzCacheMisses
        })
    }

    pub fn authz_latency(&self, ms: u64) {
        if let Some(id) = self.id(Stat::AuthzLatencyMs) {
            record_metric(id, ms).ok();
        }
    }

    pub fn review_latency(&self, ms: u64) {
        if let Some(id) = self.id(Stat::ReviewLatencyMs) {
            record_metric(id, ms).ok();
        }
    }
}
