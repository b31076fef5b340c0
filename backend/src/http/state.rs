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
    /// `None` when authentication is disabled (the mesh does it).
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
