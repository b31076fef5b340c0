//! One request's path through the filter:
//! strip identity headers → exempt? → parse the bearer → (basic) allow
//!   → (tokenReview) this worker's memo → the shared verdict cache → decide
//!                   → miss → wait for the review the root context dispatches

use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use bindcar_policy::bearer::parse_authorization;
use bindcar_policy::pending::Join;
use bindcar_policy::{token_fingerprint, Denial};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

use crate::host;
use crate::plugin::{Decision, Plugin, Reviewer};

pub struct AuthRequest {
    id: u32,
    plugin: Rc<Plugin>,
    /// The review this request waits for, if any.
    waiting_on: Option<[u8; 32]>,
}

impl AuthRequest {
    pub fn new(id: u32, plugin: Rc<Plugin>) -> Self {
        AuthRequest {
            id,
            plugin,
            waiting_on: None,
        }
    }

    /// Denies the request; `token` only feeds a short hash into the debug log line.
    fn deny(&self, denial: &Denial, token: Option<&[u8]>) -> Action {
        let hash = token
            .filter(|_| log::log_enabled!(log::Level::Debug))
            .map(token_fingerprint);
        host::deny(&self.plugin, denial, hash.as_deref());
        Action::Pause
    }

    fn review(&mut self, reviewer: &Reviewer, token: &[u8]) -> Action {
        let plugin = Rc::clone(&self.plugin);
        // token68 is ASCII, so this only fails if the parser let something else through.
        let Ok(token_str) = std::str::from_utf8(token) else {
            return self.deny(&Denial::InvalidFormat, Some(token));
        };
        let now = hostcalls::get_current_time().unwrap_or(UNIX_EPOCH);
        let recent = reviewer.recent.borrow().get(token, unix_ms(now)).cloned();
        if let Some(decision) = recent {
            plugin.metrics.cache_hit();
            return self.apply(&decision, token);
        }
        let key = reviewer.cache.key(token);
        if let Some((outcome, expires)) = reviewer.cache.lookup_with_expiry(&key, now) {
            plugin.metrics.cache_hit();
            let decision = Rc::new(reviewer.settings.access.decide(&outcome));
            reviewer
                .recent
                .borrow_mut()
                .put(token, expires, Rc::clone(&decision));
            return self.apply(&decision, token);
        }
        plugin.metrics.cache_miss();
        let joined = reviewer
            .pending
            .borrow_mut()
            .join(key, token_str, self.id, unix_ms(now));
        match joined {
            Join::Lead => {
                if hostcalls::enqueue_shared_queue(reviewer.queue_id, Some(key.digest())).is_err() {
                    reviewer.pending.borrow_mut().remove(key.digest());
                    plugin.metrics.review_failed("dispatch");
                    return self.deny(&Denial::ReviewUnavailable, Some(token));
                }
                self.waiting_on = Some(*key.digest());
                Action::Pause
            }
            Join::Follow => {
                self.waiting_on = Some(*key.digest());
                Action::Pause
            }
            Join::Overloaded => {
                plugin.metrics.review_failed("overloaded");
                log::warn!(
                    "bindcar-auth: {} reviews pending on this worker; refusing more",
                    reviewer.settings.max_pending_reviews
                );
                self.deny(&Denial::ReviewUnavailable, Some(token))
            }
        }
    }

    fn apply(&self, decision: &Decision, token: &[u8]) -> Action {
        match decision.as_ref() {
            Ok(identity) => {
                host::allow(&self.plugin, Some(identity));
                Action::Continue
            }
            Err(denial) => self.deny(denial, Some(token)),
        }
    }

    /// Every `Authorization` value. The host's single-value getter joins repeated headers
    /// with ',', which the bearer parser refuses, so duplicates never pass as one credential.
    fn authorization(&self) -> Option<Vec<u8>> {
        self.get_http_request_header_bytes("authorization")
    }
}

pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Context for AuthRequest {}

impl HttpContext for AuthRequest {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let plugin = Rc::clone(&self.plugin);
        let config = &plugin.config;
        // Identity headers are ours: a client's copy never reaches the upstream, exempt or not.
        self.set_http_request_header_bytes(&config.identity.user, None);
        self.set_http_request_header_bytes(&config.identity.groups, None);

        let path = self
            .get_http_request_header_bytes(":path")
            .unwrap_or_default();
        if config.exempt.is_exempt(&path) {
            plugin.metrics.exempt();
            return Action::Continue;
        }
        let value = self.authorization();
        let values: Vec<&[u8]> = value.iter().map(|v| v.as_slice()).collect();
        let token = match parse_authorization(&values) {
            Ok(t) => t,
            Err(denial) => return self.deny(&denial, None),
        };
        match &plugin.reviewer {
            None => {
                host::allow(&plugin, None);
                Action::Continue
            }
            Some(reviewer) => self.review(reviewer, token),
        }
    }

    fn on_log(&mut self) {
        self.leave();
    }
}

impl AuthRequest {
    /// A request that ends while waiting stops waiting; the review goes on for the others.
    fn leave(&mut self) {
        if let (Some(digest), Some(reviewer)) = (self.waiting_on.take(), &self.plugin.reviewer) {
            if let Ok(mut pending) = reviewer.pending.try_borrow_mut() {
                pending.leave(&digest, &self.id);
            }
        }
    }
}

impl Drop for AuthRequest {
    fn drop(&mut self) {
        self.leave();
    }
}
