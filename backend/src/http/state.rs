//! The state every handler shares, built once at startup and held behind an `Arc`.

use std::sync::Arc;

use crate::auth::Authenticator;
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
}

pub type SharedState = Arc<AppState>;
