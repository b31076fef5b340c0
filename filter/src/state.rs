//! The states of one request. Each request is in exactly one; each arrow is one function:
//! the ones leaving `Received` are `AuthRequest`'s (`request.rs`), taken in its own header
//! callback; the ones leaving `AwaitingReview` are `review::resume` (`review.rs`), taken by
//! the root context on the review's answer, and `AuthRequest::leave` when the client goes;
//! the ones leaving `AwaitingAuthorization` are `authorize::resume` (`authorize.rs`), on the
//! SubjectAccessReview's answer, and `AuthRequest::leave`. An allowed token goes through
//! `authorize::start` when authorization is on (static rules and cached decisions decide at
//! once; else the request waits for a SubjectAccessReview).
//!
//! ```text
//!            ┌─ exempt path ───────────────────────► Exempt
//!            ├─ client blocked by the throttle ────► Throttled
//!            ├─ missing / malformed bearer ────────► Denied
//!            ├─ basic mode ────────────────────────► Allowed
//! Received ──┼─ memo or shared-cache hit ──────────► Cached (allowed) | Denied  ─┐
//!            ├─ miss, worker or client share full ─► Failed                     │
//!            └─ miss ──► AwaitingReview ──┬─ answer ─────► Allowed | Denied ────┤
//!                                         ├─ no answer ──► Failed               │
//!                                         └─ client gone ► Abandoned            │
//!   authorization on, token allowed: authorize::start ◄────────────────────────┘
//!     ├─ static rules / unmapped / cached decision ────────► Cached|Allowed | Denied
//!     ├─ too many checks pending / no queue ───────────────► Failed
//!     └─ ask ──► AwaitingAuthorization ──┬─ answer ────────► Allowed | Denied
//!                                        ├─ no answer ─────► Failed
//!                                        └─ client gone ───► Abandoned
//! ```
//!
//! Exempt, Allowed and Cached let the request through (the latter two with identity
//! headers); Denied and Failed answer it locally (Failed as `review_unavailable`), Throttled
//! with a 429 decided before the bearer is even parsed. Every 401 (Denied, except the
//! reviewer being unavailable) counts against the client in the throttle.

use std::cell::{Cell, OnceCell};
use std::rc::Rc;

use bindcar_policy::authz::Operation;
use bindcar_policy::client::ClientId;
use bindcar_policy::denial::DenialKind;
use bindcar_policy::failure::FailureKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Headers not seen yet.
    Received,
    /// An exempt path: passed without a token.
    Exempt,
    /// The client is blocked for failing authentication too often: 429, nothing parsed.
    Throttled,
    /// Refused: a bad credential, or the policy's answer to a review (fresh or cached).
    Denied(DenialKind),
    /// Allowed from this worker's memo or the shared verdict cache, without a review.
    Cached,
    /// Paused until the root context has the review of the token with this cache digest.
    AwaitingReview([u8; 32]),
    /// Authenticated; paused until the SubjectAccessReview with this decision key answers.
    AwaitingAuthorization([u8; 32]),
    /// Allowed: basic mode, or a fresh review (and authorization, when on).
    Allowed,
    /// No review or authorization check could be had (the API failed, or this worker could
    /// not ask it).
    Failed(FailureKind),
    /// The client went away while its review was pending.
    Abandoned,
}

/// A request as the worker's pending reviews know it: its context id, and its state, which
/// the root context moves on when the review answers.
#[derive(Debug, Clone)]
pub struct Waiter {
    pub context_id: u32,
    /// One allocation per request for what the request and its pending callouts share.
    shared: Rc<Shared>,
    /// Who sent it, when the plugin names clients: a refusal counts against them.
    pub client: Option<ClientId>,
}

#[derive(Debug)]
struct Shared {
    state: Cell<State>,
    /// What the request asks (set from its headers when authorization is on).
    operation: OnceCell<Operation>,
}

impl Waiter {
    pub fn new(context_id: u32) -> Self {
        Waiter {
            context_id,
            shared: Rc::new(Shared {
                state: Cell::new(State::Received),
                operation: OnceCell::new(),
            }),
            client: None,
        }
    }

    pub fn state(&self) -> State {
        self.shared.state.get()
    }

    pub fn set(&self, next: State) {
        self.shared.state.set(next)
    }

    pub fn operation(&self) -> Option<&Operation> {
        self.shared.operation.get()
    }

    /// Set once, from the request's headers; a second call changes nothing.
    pub fn set_operation(&self, op: Operation) {
        self.shared.operation.set(op).ok();
    }
}

/// One request per context id: the state cell is the same one, so comparing ids is enough.
impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.context_id == other.context_id
    }
}
