//! Faults injected at runtime into the TokenReview endpoint, to exercise how callers cope
//! with a slow, failing or misbehaving kube-apiserver.

use std::time::Duration;

/// What the server does with the next TokenReview requests (those that passed the
/// caller-token check). A fault stays in force until replaced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fault {
    /// Answer normally, with no added latency.
    #[default]
    None,
    /// Answer normally, but only after this delay. `set_fault(Fault::Latency(d))` is
    /// shorthand for "no fault, latency d"; use `set_latency` to combine a delay with
    /// another fault.
    Latency(Duration),
    /// `500 Internal Server Error` with a Kubernetes `Status` body (reason InternalError).
    Status500,
    /// Read the request, then drop the TCP connection without any HTTP response. The
    /// socket is closed with SO_LINGER 0, so the peer sees a TCP RST. Under HTTP/2 this
    /// takes down every stream on that connection, as a real connection reset would.
    Reset,
    /// Read the request and never answer. The connection stays open until the client
    /// gives up or the server is dropped; other connections are unaffected.
    Hang,
    /// `201 Created`, `content-type: application/json`, but the body is truncated JSON
    /// that is not a TokenReview.
    MalformedBody,
}

/// The fault and the latency currently in force.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FaultState {
    /// Never `Fault::Latency`: that variant is folded into `latency`.
    pub(crate) fault: Fault,
    pub(crate) latency: Duration,
}

impl FaultState {
    /// `Fault::None` restores normal service (no fault, no latency); `Latency(d)` means
    /// "no fault, latency d"; any other fault keeps the current latency.
    pub(crate) fn set(&mut self, fault: Fault) {
        match fault {
            Fault::None => *self = Self::default(),
            Fault::Latency(d) => {
                self.fault = Fault::None;
                self.latency = d;
            }
            other => self.fault = other,
        }
    }
}

/// The body `Fault::MalformedBody` sends: starts like a TokenReview, then stops.
pub(crate) const MALFORMED_BODY: &str =
    r#"{"kind":"TokenReview","apiVersion":"authentication.k8s.io/v1","status":{"authenticated":tr"#;
