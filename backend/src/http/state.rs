//! The state every handler shares, built once at startup and held behind an `Arc`.

use std::sync::Arc;

use super::zone_list::ListCache;
use crate::auth::Authenticator;
use crate::bind::serial_query::SerialQuery;
use crate::bind::update::DnsChannel;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimit;
use crate::zones::Zones;

pub struct AppState {
    pub zones: Zones,
    pub metrics: Metrics,
    /// `Authenticator::Mesh` when authentication is disabled (the mesh does it); `None` only
    /// in in-process tests: no layer, the actor from the default mesh header.
    pub auth: Option<Authenticator>,
    /// `None` when rate limiting is off (`RATE_LIMIT_ENABLED=false`).
    pub rate_limit: Option<RateLimit>,
    /// Where the records API sends its UPDATEs and AXFRs.
    pub dns: Arc<dyn DnsChannel>,
    /// `GET /api/v1/zones`'s body for the index's current snapshot.
    pub zone_list: ListCache,
    /// How `/propagation` asks a secondary for the serial it serves.
    pub serials: Arc<dyn SerialQuery>,
}

pub type SharedState = Arc<AppState>;

#[cfg(test)]
impl AppState {
    /// The state the in-process router tests start from: zones over the fake named of `h`
    /// (sharing the state's metrics), no authentication, no rate limit, the fake DNS server and
    /// secondaries. A test changes the fields it is about (`AppState { dns, ..fake(&h) }`).
    pub(crate) fn fake(h: &crate::zones::fake::Harness) -> AppState {
        let metrics = Metrics::new().unwrap();
        AppState {
            zones: Zones::new(h.zones.dir().clone(), h.named.clone(), metrics.clone()),
            metrics,
            auth: None,
            rate_limit: None,
            dns: Arc::new(crate::zones::fake_dns::FakeDns::default()),
            zone_list: ListCache::default(),
            serials: Arc::new(crate::zones::fake_dns::FakeSerials::default()),
        }
    }

    /// Authentication as `settings` configure it, counted in this state's metrics.
    pub(crate) fn with_auth(mut self, settings: &crate::config::AuthSettings) -> AppState {
        self.auth = Authenticator::from_settings(settings, self.metrics.clone());
        self
    }
}
