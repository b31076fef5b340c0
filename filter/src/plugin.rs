//! The plugin as configured: validated once in `on_configure`, then shared read-only by the
//! root context and every request context of the worker (`Rc`).

use std::cell::RefCell;

use bindcar_policy::cache::VerdictCache;
use bindcar_policy::client::ClientHasher;
use bindcar_policy::config::{FilterConfig, Mode, TokenReviewConfig};
use bindcar_policy::pending::PendingReviews;
use bindcar_policy::recent::Recent;
use bindcar_policy::throttle::Throttle;
use bindcar_policy::verdict::Decision;

use crate::metrics::Metrics;
use crate::state::Waiter;
use crate::store::{SharedDataStore, SharedThrottleStore};

pub struct Plugin {
    pub config: FilterConfig,
    pub metrics: Metrics,
    pub reviewer: Option<Reviewer>,
    /// Failed-authentication throttling, when configured.
    pub throttle: Option<Throttle<SharedThrottleStore>>,
    /// Names clients (throttle, fair review shares); `None` when nothing needs to know.
    pub clients: Option<ClientHasher>,
}

/// TokenReview mode's moving parts on this worker.
pub struct Reviewer {
    pub settings: TokenReviewConfig,
    pub cache: VerdictCache<SharedDataStore>,
    /// Requests hand new reviews to the root context through this queue, so callouts belong
    /// to the root and outlive any one request (a client that goes away cancels nothing).
    pub queue_id: u32,
    pub pending: RefCell<PendingReviews<Waiter>>,
    /// This worker's recent decisions, in front of the shared cache.
    pub recent: RefCell<Recent<Decision>>,
}

/// Entries in a worker's memo of recent decisions.
pub const RECENT_CAPACITY: usize = 1024;

impl Plugin {
    pub fn mode_name(&self) -> &'static str {
        match self.config.mode {
            Mode::Basic => "basic",
            Mode::TokenReview(_) => "tokenReview",
        }
    }
}
