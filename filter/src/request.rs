//! One request: the transitions out of `Received` (see `state.rs`), taken in the request's
//! own header callback. strip identity headers → exempt? → client blocked by the throttle?
//!   → parse the bearer → (basic) allow
//!   → (tokenReview) this worker's memo → the shared verdict cache → decide
//!                   → miss → wait for the review the root context dispatches (`review.rs`)
//!   → (authorization on, token allowed) `authorize::start`: decided, or wait for a check

use std::rc::Rc;
use std::time::SystemTime;

use bindcar_policy::authz::Operation;
use bindcar_policy::bearer::{bearer_part, check_token};
use bindcar_policy::cache::CacheKey;
use bindcar_policy::client::ClientId;
use bindcar_policy::denial::{Denial, DenialKind};
use bindcar_policy::failure::FailureKind;
use bindcar_policy::header_map::{HeaderMap, RequestView};
use bindcar_policy::pending::Join;
use bindcar_policy::token_fingerprint;
use bindcar_policy::verdict::{self, Decision};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

use crate::abi;
use crate::authorize;
use crate::host::{self, unix_ms};
use crate::plugin::{Plugin, Reviewer};
use crate::state::{State, Waiter};
use crate::throttle;

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

    /// Received → Throttled: the client failed authentication too often; nothing is parsed.
    fn throttled(&self, retry_after_s: u64) -> Action {
        throttle::refuse(&self.plugin, retry_after_s, self.me.client.as_ref());
        self.me.set(State::Throttled);
        Action::Pause
    }

    /// Received → Allowed (basic mode: a well-formed bearer is enough).
    fn allow(&self) -> Action {
        host::allow(&self.plugin, None);
        self.me.set(State::Allowed);
        Action::Continue
    }

    /// Received → Denied: the host refused a change the filter needed (already answered).
    fn proxy_error(&self) -> Action {
        self.me.set(State::Denied(DenialKind::ProxyError));
        Action::Pause
    }

    /// Received → Denied.
    #[inline(never)]
    fn deny(&self, denial: &Denial, token: Option<&[u8]>) -> Action {
        self.answer(denial, token);
        throttle::count(&self.plugin, self.me.client.as_ref(), denial.kind());
        self.me.set(State::Denied(denial.kind()));
        Action::Pause
    }

    /// Received → Failed: this worker could not ask for a review.
    #[inline(never)]
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
    #[inline(never)]
    fn await_review(
        &self,
        reviewer: &Reviewer,
        key: CacheKey,
        token: &[u8],
        now: SystemTime,
        client_header: Option<&[u8]>,
    ) -> Action {
        self.plugin.metrics.cache_miss();
        // token68 is ASCII, so this only fails if the parser let something else through; read
        // here, on a miss, because only the review's body needs the token as text.
        let Ok(token_str) = std::str::from_utf8(token) else {
            return self.deny(&Denial::InvalidFormat, Some(token));
        };
        // Named already if the throttle is on; the plugin names clients whenever there is a
        // reviewer (`root.rs`), so all-zero is unreachable (it would only share one quota).
        let mut me = self.me.clone();
        me.client = me
            .client
            .or_else(|| throttle::client(&self.plugin, client_header));
        let client = me.client.unwrap_or(ClientId([0; 16]));
        let joined =
            reviewer
                .pending
                .borrow_mut()
                .join(key, token_str, me.clone(), client, unix_ms(now));
        match joined {
            Join::Lead => {
                if abi::enqueue(reviewer.queue_id, key.digest()).is_err() {
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
            Join::OverShare => {
                log::debug!(
                    "bindcar-auth: client {} holds its {} pending reviews; refusing more",
                    client.fingerprint(),
                    reviewer.settings.max_pending_per_client
                );
                return self.fail(FailureKind::ClientShare, token);
            }
        }
        me.set(State::AwaitingReview(*key.digest()));
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

    /// TokenReview mode, the bearer's token not checked yet: the memo (which holds only
    /// tokens that passed the check, byte for byte, so a hit vouches for its form), then the
    /// check, the shared cache, and a review.
    fn review(&self, reviewer: &Reviewer, token: &[u8], client_header: Option<&[u8]>) -> Action {
        let now = abi::now_or_epoch();
        let remembered = reviewer
            .recent
            .borrow()
            .get_entry(token, unix_ms(now))
            .map(|(expires, d)| (expires, d.clone()));
        if let Some((expires, decision)) = remembered {
            return self.cached(&decision, token, expires);
        }
        if let Err(denial) = check_token(token) {
            return self.deny(&denial, None);
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
        self.await_review(reviewer, key, token, now, client_header)
    }
}

impl Context for AuthRequest {}

impl HttpContext for AuthRequest {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let plugin = Rc::clone(&self.plugin);
        let config = &plugin.config;
        // All headers in one host call, read in one pass; a map the host garbled reads as
        // none (fail closed: every identity header name is removed, and no path, no token).
        let raw = host::request_header_map();
        let headers = HeaderMap::new(&raw).ok();
        let view = headers.map_or_else(
            || RequestView {
                present: u32::MAX,
                ..RequestView::default()
            },
            |h| h.request_view(&config.strip_headers, config.client_key.header()),
        );
        // Identity headers are ours: a client's copy never reaches the upstream, exempt or not
        // (the configured names and the defaults a backend may trust). Removed only when
        // present: a host call saved on nearly every request.
        for (i, name) in config.strip_headers.iter().enumerate() {
            if view.present & (1 << i) != 0 && !host::strip(&plugin, name) {
                return self.proxy_error();
            }
        }
        if config.exempt.is_exempt(view.path) {
            return self.exempt();
        }
        if plugin.authz.is_some() {
            let method = headers.and_then(|h| h.get(b":method")).unwrap_or_default();
            self.me.set_operation(Operation::of(method, view.path));
        }
        // Named only when the throttle needs it here (hashing costs; a review names it later).
        if plugin.throttle.is_some() {
            self.me.client = throttle::client(&plugin, view.extra);
        }
        if let Some(retry_after_s) = throttle::blocked(&plugin, self.me.client.as_ref()) {
            return self.throttled(retry_after_s);
        }
        // Envoy merges repeated `Authorization` headers into one entry joined with ',' before
        // any filter runs (the parser refuses that), and an empty repeat adds nothing to the
        // merge (README, "Behaviour"); were two entries ever listed, the parser refuses both.
        let values = &view.authorization[..view.authorization_count];
        let token = match bearer_part(values) {
            Ok(t) => t,
            Err(denial) => return self.deny(&denial, None),
        };
        match &plugin.reviewer {
            None => match check_token(token) {
                Ok(()) => self.allow(),
                Err(denial) => self.deny(&denial, None),
            },
            Some(reviewer) => self.review(reviewer, token, view.extra),
        }
    }
}

/// The end of a request, whatever became of it: the SDK drops the context on
/// `proxy_on_delete`, the one teardown callback the module exports (`proxy_on_log` and
/// `proxy_on_done` are not: Makefile, `UNUSED_CALLBACKS`).
impl Drop for AuthRequest {
    fn drop(&mut self) {
        self.leave();
    }
}
