//! Authorization glue: after a token is allowed, may this identity do what the request asks?
//! `start` is called from both places a token is allowed (`request.rs` on a memo or cache
//! hit, `review.rs` on a fresh review); static rules and cached decisions answer at once,
//! else the request joins (or leads) a SubjectAccessReview that the root context sends
//! (`dispatch`) and answers (`answer`), moving every waiter out of `AwaitingAuthorization`.
//! The decisions are `bindcar_policy::authz`'s; the subject is the reviewed identity only.

use bindcar_policy::authz::sar::parse_sar_response;
use bindcar_policy::authz::{Begin, Operation};
use bindcar_policy::denial::{Denial, DenialKind};
use bindcar_policy::failure::FailureKind;
use bindcar_policy::pending::Join;
use bindcar_policy::review::{Identity, ReviewFailure};
use proxy_wasm::hostcalls;

use crate::abi;
use crate::host::{self, callout_response, unix_ms};
use crate::plugin::{Authz, Plugin};
use crate::state::{State, Waiter};

/// A SubjectAccessReview answer larger than this is treated as malformed.
const MAX_SAR_BODY: usize = 64 * 1024;

/// The first byte of a queue message that carries a decision key (a review's is 32 bytes).
pub const QUEUE_TAG: u8 = b'z';

/// Where an allowed token's request goes next.
pub enum Next {
    Allow,
    Deny(Denial),
    Fail(FailureKind),
    /// Paused on the check with this key.
    Wait([u8; 32]),
}

fn decided(plugin: &Plugin, result: Result<(), Denial>) -> Next {
    plugin.metrics.authz_decided(result.is_ok());
    match result {
        Ok(()) => Next::Allow,
        Err(d) => Next::Deny(d),
    }
}

/// `cap_ms`: when the token's cached verdict expires (None: not cached).
pub fn start(plugin: &Plugin, waiter: &Waiter, identity: &Identity, cap_ms: Option<u64>) -> Next {
    let Some(authz) = &plugin.authz else {
        return Next::Allow;
    };
    // Set from the request's headers before any review; missing would be a bug: deny.
    let unknown = Operation::Unknown(String::new());
    let op = waiter.operation().unwrap_or(&unknown);
    let now_ms = unix_ms(abi::now_or_epoch());
    let begun = authz.authorizer.borrow().begin(identity, op, now_ms);
    let key = match begun {
        Begin::Decided(result) => return decided(plugin, result),
        Begin::Cached(result) => {
            plugin.metrics.authz_cache(true);
            return decided(plugin, result);
        }
        Begin::Ask(key) => key,
    };
    plugin.metrics.authz_cache(false);
    let Operation::Known(attrs) = op else {
        return Next::Fail(FailureKind::Dispatch);
    };
    let joined =
        authz
            .pending
            .borrow_mut()
            .join(key, (identity, attrs), cap_ms, waiter.clone(), now_ms);
    match joined {
        Join::Lead => {
            let mut msg = vec![QUEUE_TAG];
            msg.extend_from_slice(key.digest());
            if abi::enqueue(authz.queue_id, &msg).is_err() {
                authz.pending.borrow_mut().remove(key.digest());
                plugin.metrics.authz_failed(FailureKind::Dispatch);
                return Next::Fail(FailureKind::Dispatch);
            }
        }
        Join::Follow => {}
        // Checks have no per-client share (PendingChecks never answers OverShare).
        Join::Overloaded | Join::OverShare => {
            log::warn!("bindcar-auth: too many authorization checks pending on this worker");
            plugin.metrics.authz_failed(FailureKind::Overloaded);
            return Next::Fail(FailureKind::Overloaded);
        }
    }
    Next::Wait(*key.digest())
}

/// Acts on `next` for the host's effective request; returns its new state (`allowed`: the
/// state an allow leaves it in). Does not resume a paused request: the caller knows whether
/// it is paused.
pub fn apply(
    plugin: &Plugin,
    identity: &Identity,
    next: Next,
    allowed: State,
    token_hash: Option<&str>,
) -> State {
    match next {
        Next::Allow => match host::allow(plugin, Some(identity)) {
            true => allowed,
            false => State::Denied(DenialKind::ProxyError),
        },
        Next::Deny(denial) => {
            host::deny(plugin, &denial, token_hash);
            State::Denied(denial.kind())
        }
        Next::Fail(kind) => {
            host::deny(plugin, &Denial::AuthorizationUnavailable, token_hash);
            State::Failed(kind)
        }
        Next::Wait(digest) => State::AwaitingAuthorization(digest),
    }
}

/// Sends the check queued under `digest`, unless it was sent already or nobody waits.
pub fn dispatch(plugin: &Plugin, authz: &Authz, digest: [u8; 32]) {
    let Some(sar) = &authz.sar else { return };
    let Some((identity, attrs)) = authz.pending.borrow_mut().to_dispatch(&digest) else {
        return;
    };
    let body = authz.authorizer.borrow().request_body(&identity, &attrs);
    let bearer = authz.reviewer_token.as_ref().map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        (":method", "POST"),
        (":path", sar.path.as_str()),
        (":authority", sar.authority.as_str()),
        ("content-type", "application/json"),
        ("accept", "application/json"),
    ];
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_str()));
    }
    match hostcalls::dispatch_http_call(&sar.cluster, headers, Some(&body), vec![], sar.timeout) {
        Ok(call) => {
            plugin.metrics.authz_sent();
            authz.pending.borrow_mut().dispatched(&digest, call);
        }
        Err(status) => {
            log::warn!(
                "bindcar-auth: SubjectAccessReview dispatch to cluster {:?} refused: {status:?}",
                sar.cluster
            );
            let failed = authz.pending.borrow_mut().remove(&digest);
            if let Some(p) = failed {
                let failure = Err(ReviewFailure::Transport);
                conclude(plugin, authz, p, &failure, FailureKind::Dispatch);
            }
        }
    }
}

/// Whether `call` is an authorization check's callout; if so, its answer is acted on.
pub fn answer(
    plugin: &Plugin,
    authz: &Authz,
    call: u32,
    num_headers: usize,
    body_size: usize,
) -> bool {
    if !authz.pending.borrow().owns_call(call) {
        return false;
    }
    let done = authz.pending.borrow_mut().complete(call);
    let Some(pending) = done else { return true };
    let now_ms = unix_ms(abi::now_or_epoch());
    plugin
        .metrics
        .authz_latency(now_ms.saturating_sub(pending.started_ms));
    let result = match callout_response(num_headers, body_size, MAX_SAR_BODY) {
        (status, Some(body)) => parse_sar_response(status, &body),
        (_, None) => Err(ReviewFailure::MalformedBody),
    };
    let kind = result.as_ref().err().map(ReviewFailure::failure_kind);
    conclude(
        plugin,
        authz,
        pending,
        &result,
        kind.unwrap_or(FailureKind::Transport),
    );
    true
}

/// Decide once (caching the decision) and move every waiter on.
fn conclude(
    plugin: &Plugin,
    authz: &Authz,
    pending: bindcar_policy::authz::pending::PendingCheck<Waiter>,
    result: &Result<bool, ReviewFailure>,
    failure: FailureKind,
) {
    let now_ms = unix_ms(abi::now_or_epoch());
    let decision = authz.authorizer.borrow_mut().finish(
        &pending.key,
        &pending.identity,
        &pending.attrs,
        result,
        now_ms,
        pending.cap_ms,
    );
    let next = || match &decision {
        Ok(()) => Next::Allow,
        Err(Denial::AuthorizationUnavailable) => Next::Fail(failure),
        Err(d) => Next::Deny(d.clone()),
    };
    match result {
        Ok(allowed) => plugin.metrics.authz_decided(*allowed),
        Err(e) => {
            plugin.metrics.authz_failed(failure);
            log::warn!(
                "bindcar-auth: SubjectAccessReview failed ({e:?}) for {}",
                pending.identity.username
            );
        }
    }
    for w in &pending.waiters {
        resume(plugin, w, &pending.identity, next());
    }
}

/// AwaitingAuthorization → Allowed | Denied | Failed (or Abandoned if the request is gone).
fn resume(plugin: &Plugin, waiter: &Waiter, identity: &Identity, next: Next) {
    if abi::set_effective_context(waiter.context_id).is_err() {
        waiter.set(State::Abandoned);
        return;
    }
    let state = apply(plugin, identity, next, State::Allowed, None);
    if state == State::Allowed && abi::resume_request().is_err() {
        abi::reset_request().ok();
    }
    waiter.set(state);
}
