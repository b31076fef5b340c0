//! Talking to the reviewer, on the root context: dispatch a queued review, and on its answer
//! decide once and move every waiting request out of `AwaitingReview` (see `state.rs`).
//! Callouts belong to the root so they outlive any one request.

use bindcar_policy::denial::Denial;
use bindcar_policy::failure::FailureKind;
use bindcar_policy::review::{parse_review_response, review_request_body, ReviewFailure};
use bindcar_policy::token_fingerprint;
use bindcar_policy::verdict::{self, Decision};
use proxy_wasm::hostcalls;

use crate::abi;
use crate::authorize;
use crate::host::{self, unix_ms};
use crate::plugin::{Plugin, Reviewer};
use crate::state::{State, Waiter};
use crate::throttle;

/// A TokenReview answer larger than this is treated as malformed.
const MAX_REVIEW_BODY: usize = 1 << 20;

/// What a review came to, for everyone waiting on it.
enum Resolution {
    /// With when the shared cache's entry expires (None: not cached).
    Decided(Decision, Option<u64>),
    Failed(FailureKind),
}

/// Sends the review queued under `digest`, unless it was sent already or nobody waits.
pub fn dispatch(plugin: &Plugin, reviewer: &Reviewer, digest: [u8; 32]) {
    let Some(token) = reviewer.pending.borrow_mut().to_dispatch(&digest) else {
        return;
    };
    let s = &reviewer.settings;
    let body = review_request_body(&token, s.access.audiences());
    let bearer = s.reviewer_token.as_ref().map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        (":method", "POST"),
        (":path", s.path.as_str()),
        (":authority", s.authority.as_str()),
        ("content-type", "application/json"),
        ("accept", "application/json"),
    ];
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_str()));
    }
    match hostcalls::dispatch_http_call(&s.cluster, headers, Some(&body), vec![], s.timeout) {
        Ok(call) => {
            plugin.metrics.review_sent();
            reviewer.pending.borrow_mut().dispatched(&digest, call);
        }
        Err(status) => {
            log::warn!(
                "bindcar-auth: TokenReview dispatch to cluster {:?} refused: {status:?}",
                s.cluster
            );
            plugin.metrics.review_failed(FailureKind::Dispatch);
            let failed = reviewer.pending.borrow_mut().remove(&digest);
            if let Some(p) = failed {
                let hash = token_fingerprint(p.token.as_bytes());
                let failure = Resolution::Failed(FailureKind::Dispatch);
                for w in &p.waiters {
                    resume(plugin, w, &failure, &hash);
                }
            }
        }
    }
}

/// The callout `call` answered: parse, cache, decide once, resume every waiter.
pub fn answer(
    plugin: &Plugin,
    reviewer: &Reviewer,
    call: u32,
    num_headers: usize,
    body_size: usize,
) {
    let done = reviewer.pending.borrow_mut().complete(call);
    let Some(pending) = done else { return };
    let now = abi::now_or_epoch();
    plugin
        .metrics
        .review_latency(unix_ms(now).saturating_sub(pending.started_ms));

    let result = match host::callout_response(num_headers, body_size, MAX_REVIEW_BODY) {
        (_, None) => Err(ReviewFailure::MalformedBody),
        (status, Some(body)) => parse_review_response(status, &body),
    };
    let token = pending.token.as_bytes();
    let hash = token_fingerprint(token);
    let resolution = match result {
        Ok(outcome) => {
            let expires = reviewer.cache.store(&pending.key, token, &outcome, now);
            Resolution::Decided(
                verdict::decide(
                    &reviewer.settings.access,
                    &mut reviewer.recent.borrow_mut(),
                    token,
                    &outcome,
                    expires,
                ),
                expires,
            )
        }
        Err(failure) => {
            let kind = failure.failure_kind();
            plugin.metrics.review_failed(kind);
            log::warn!("bindcar-auth: TokenReview failed ({failure:?}) token={hash}");
            Resolution::Failed(kind)
        }
    };
    for w in &pending.waiters {
        resume(plugin, w, &resolution, &hash);
    }
}

/// AwaitingReview → Allowed | Denied | Failed (or Abandoned if the request is gone), on the
/// host's effective context switched to the waiting request; with authorization on, an
/// allowed token goes through `authorize::start` (→ AwaitingAuthorization when it must ask).
fn resume(plugin: &Plugin, waiter: &Waiter, resolution: &Resolution, token_hash: &str) {
    if abi::set_effective_context(waiter.context_id).is_err() {
        waiter.set(State::Abandoned);
        return;
    }
    let next = match resolution {
        Resolution::Decided(decision, expires) => match decision.as_ref() {
            Ok(identity) => {
                let next = authorize::start(plugin, waiter, identity, *expires);
                let state =
                    authorize::apply(plugin, identity, next, State::Allowed, Some(token_hash));
                if state == State::Allowed && abi::resume_request().is_err() {
                    abi::reset_request().ok();
                }
                state
            }
            Err(denial) => {
                host::deny(plugin, denial, Some(token_hash));
                throttle::count(plugin, waiter.client.as_ref(), denial.kind());
                State::Denied(denial.kind())
            }
        },
        Resolution::Failed(kind) => {
            host::deny(plugin, &Denial::ReviewUnavailable, Some(token_hash));
            State::Failed(*kind)
        }
    };
    waiter.set(next);
}
