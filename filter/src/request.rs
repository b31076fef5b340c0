//! One request: the transitions out of `Received` (see `state.rs`), taken in the request's
//! own header callback. strip identity headers → exempt? → parse the bearer → (basic) allow
//!   → (tokenReview) this worker's memo → the shared verdict cache → decide
//!                   → miss → wait for the review the root context dispatches (`review.rs`)
//!   → (authorization on, token allowed) `authorize::start`: decided, or wait for a check

use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use bindcar_policy::authz::Operation;
use bindcar_policy::bearer::parse_authorization;
use bindcar_policy::cache::CacheKey;
use bindcar_policy::denial::Denial;
use bindcar_policy::failure::FailureKind;
use bindcar_policy::pending::Join;
use bindcar_policy::token_fingerprint;
use bindcar_policy::verdict::{self, Decision};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

use crate::authorize;
use crate::host::{self, unix_ms};
use crate::plugin::{Plugin, Reviewer};
use crate::state::{State, Waiter};

pub struct AuthRequest {
    plugin: Rc<Plugin>,
    /// This request's id and state, shared with the pending review it may wait on.
    me: Waiter,
}

impl AuthRequest {
    pub fn new(id: u32, plugin: Rc<Plugin>) -> Self {
        AuthRequest {
            plugin,
            me: Waiter::new(id),
        }
    }

    /// Received → Exempt.
    fn exempt(&self) -> Action {
        self.plugin.metrics.exempt();
        self.me.set(State::Exempt);
        Action::Continue
    }

    /// Received → Allowed (basic mode: a well-formed bearer is enough).
    fn allow(&self) -> Action {
        host::allow(&self.plugin, None);
        self.me.set(State::Allowed);
        Action::Continue
    }

    /// Received → Denied.
    fn deny(&self, denial: &Denial, token: Option<&[u8]>) -> Action {
        self.answer(denial, token);
        self.me.set(State::Denied(denial.kind()));
        Action::Pause
    }

    /// Received → Failed: this worker could not ask for a review.
    fn fail(&self, kind: FailureKind, token: &[u8]) -> Action {
        self.plugin.metrics.review_failed(kind);
        self.answer(&Denial::ReviewUnavailable, Some(token));
        self.me.set(State::Failed(kind));
        Action::Pause
    }

    /// The local reply; `token` only feeds a short hash into the debug log line.
    fn answer(&self, denial: &Denial, token: Option<&[u8]>) {
        let hash = token
            .filter(|_| log::log_enabled!(log::Level::Debug))
            .map(token_fingerprint);
        host::deny(&self.plugin, denial, hash.as_deref());
    }

    /// Received → Cached | Denied (| AwaitingAuthorization | Failed when authorization is
    /// on): a decision from the memo or the shared cache, which expires at `expires_ms`.
    fn cached(&self, decision: &Decision, token: &[u8], expires_ms: u64) -> Action {
        self.plugin.metrics.cache_hit();
        match decision.as_ref() {
            Ok(identity) => {
                let next = authorize::start(&self.plugin, &self.me, identity, Some(expires_ms));
                let hash = log::log_enabled!(log::Level::Debug).then(|| token_fingerprint(token));
                let state =
                    authorize::apply(&self.plugin, identity, next, State::Cached, hash.as_deref());
                self.me.set(state);
                match state {
                    State::Cached => Action::Continue,
                    _ => Action::Pause,
                }
            }
            Err(denial) => self.deny(denial, Some(token)),
        }
    }

    /// Received → AwaitingReview | Failed: a cache miss joins (or leads) the token's review.
    fn await_review(
        &self,
        reviewer: &Reviewer,
        key: CacheKey,
        token: &[u8],
        token_str: &str,
        now: SystemTime,
    ) -> Action {
        self.plugin.metrics.cache_miss();
        let joined =
            reviewer
                .pending
                .borrow_mut()
                .join(key, token_str, self.me.clone(), unix_ms(now));
        match joined {
            Join::Lead => {
                if hostcalls::enqueue_shared_queue(reviewer.queue_id, Some(key.digest())).is_err() {
                    reviewer.pending.borrow_mut().remove(key.digest());
                    return self.fail(FailureKind::Dispatch, token);
                }
            }
            Join::Follow => {}
            Join::Overloaded => {
                log::warn!(
                    "bindcar-auth: {} reviews pending on this worker; refusing more",
                    reviewer.settings.max_pending_reviews
                );
                return self.fail(FailureKind::Overloaded, token);
            }
        }
        self.me.set(State::AwaitingReview(*key.digest()));
        Action::Pause
    }

    /// AwaitingReview | AwaitingAuthorization → Abandoned: the callout goes on for the others.
    fn leave(&self) {
        if let (State::AwaitingReview(digest), Some(reviewer)) =
            (self.me.state(), &self.plugin.reviewer)
        {
            if let Ok(mut pending) = reviewer.pending.try_borrow_mut() {
                pending.leave(&digest, &self.me);
            }
            self.me.set(State::Abandoned);
        }
        if let (State::AwaitingAuthorization(digest), Some(authz)) =
            (self.me.state(), &self.plugin.authz)
        {
            if let Ok(mut pending) = authz.pending.try_borrow_mut() {
                pending.leave(&digest, &self.me);
            }
            self.me.set(State::Abandoned);
        }
    }

    /// TokenReview mode, a well-formed bearer: the memo, then the shared cache, then a review.
    fn review(&self, reviewer: &Reviewer, token: &[u8]) -> Action {
        // token68 is ASCII, so this only fails if the parser let something else through.
        let Ok(token_str) = std::str::from_utf8(token) else {
            return self.deny(&Denial::InvalidFormat, Some(token));
        };
        let now = hostcalls::get_current_time().unwrap_or(UNIX_EPOCH);
        let remembered = reviewer
            .recent
            .borrow()
            .get_entry(token, unix_ms(now))
            .map(|(expires, d)| (expires, d.clone()));
        if let Some((expires, decision)) = remembered {
            return self.cached(&decision, token, expires);
        }
        let key = reviewer.cache.key(token);
        if let Some((outcome, expires)) = reviewer.cache.lookup_with_expiry(&key, now) {
            let decision = verdict::decide(
                &reviewer.settings.access,
                &mut reviewer.recent.borrow_mut(),
                token,
                &outcome,
                Some(expires),
            );
            return self.cached(&decision, token, expires);
        }
        self.await_review(reviewer, key, token, token_str, now)
    }

    /// Every `Authorization` value. The host's single-value getter joins repeated headers
    /// with ',', which the bearer parser refuses, so duplicates never pass as one credential.
    fn authorization(&self) -> Option<Vec<u8>> {
        self.get_http_request_header_bytes("authorization")
    }
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
            return self.exempt();
        }
        if plugin.authz.is_some() {
            let method = self
                .get_http_request_header_bytes(":method")
                .unwrap_or_default();
            self.me.operation.set(Operation::of(&method, &path)).ok();
        }
        let value = self.authorization();
        let values: Vec<&[u8]> = value.iter().map(|v| v.as_slice()).collect();
        let token = match parse_authorization(&values) {
            Ok(t) => t,
            Err(denial) => return self.deny(&denial, None),
        };
        match &plugin.reviewer {
            None => self.allow(),
            Some(reviewer) => self.review(reviewer, token),
        }
    }

    fn on_log(&mut self) {
        self.leave();
    }
}

impl Drop for AuthRequest {
    fn drop(&mut self) {
        self.leave();
    }
}
