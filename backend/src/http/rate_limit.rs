//! The middleware applying `crate::rate_limit` on the API router: the peer address from the
//! connection (never a header), 429 with `retry-after` beyond the limit, the metric.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::SharedState;

/// The middleware on the API router, outside authentication (a flood of bad tokens is
/// limited before any of them is checked).
pub async fn limit(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let Some(limit) = state.rate_limit.as_ref() else {
        return next.run(request).await;
    };
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    match limit.check(peer) {
        Ok(()) => {
            state.metrics.rate_limit(true, limit.tracked_clients());
            next.run(request).await
        }
        Err(wait) => {
            state.metrics.rate_limit(false, limit.tracked_clients());
            // Whole seconds, rounded up, at least 1: retrying earlier would be refused again.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::RateLimited(secs.max(1)).into_response()
        }
    }
}
