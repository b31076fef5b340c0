//! The plugin as configured: validated once in `on_configure`, then shared read-only by the
//! root context and every request context of the worker (`Rc`).

use std::cell::{Cell, RefCell};

use bindcar_policy::authz::pending::PendingChecks;
use bindcar_policy::authz::settings::SarSettings;
use bindcar_policy::authz::Authorizer;
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
    /// Present when authorization is on (always with a reviewer).
    pub authz: Option<Authz>,
    /// The forwarded-address warning was logged on this worker.
    pub warned_forwarded: Cell<bool>,
}

/// Authorization's moving parts on this worker (`authorize.rs` drives them).
pub struct Authz {
    pub authorizer: RefCell<Authorizer>,
    /// SubjectAccessReview mode's settings; `None` with static rules.
    pub sar: Option<SarSettings>,
    /// The reviewer's credential, which also creates SubjectAccessReviews.
    pub reviewer_token: Option<String>,
    /// The reviewer's queue: checks are handed to the root context the same way.
    pub queue_id: u32,
    pub pending: RefCell<PendingChecks<Waiter>>,
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
