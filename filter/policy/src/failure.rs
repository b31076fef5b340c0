//! Why a review could not be had, as metrics count it: the reviewer's own failures (see
//! `ReviewFailure` in `review.rs`) and the worker's (callout refused, too many pending).
//! Every such request is answered `Denial::ReviewUnavailable`.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// No answer at all: reset, refused, timed out inside the proxy.
    Transport,
    Http5xx,
    /// Any other non-2xx status (a misconfigured reviewer token: 401/403).
    HttpOther,
    MalformedBody,
    /// The host refused the callout or the hand-over to the root context.
    Dispatch,
    /// Too many distinct reviews pending on this worker.
    Overloaded,
    /// The client already leads its share of this worker's pending reviews.
    ClientShare,
}

impl FailureKind {
    pub const ALL: [FailureKind; 7] = [
        FailureKind::Transport,
        FailureKind::Http5xx,
        FailureKind::HttpOther,
        FailureKind::MalformedBody,
        FailureKind::Dispatch,
        FailureKind::Overloaded,
        FailureKind::ClientShare,
    ];

    /// The label in metric names and logs (`bindcar_auth_review_failures_<label>`).
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::Transport => "transport",
            FailureKind::Http5xx => "http_5xx",
            FailureKind::HttpOther => "http_other",
            FailureKind::MalformedBody => "malformed_body",
            FailureKind::Dispatch => "dispatch",
            FailureKind::Overloaded => "overloaded",
            FailureKind::ClientShare => "client_share",
        }
    }
}
