//! The middleware that counts every request by its route template.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use super::state::SharedState;

pub async fn track_http(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "<unmatched>".to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    state
        .metrics
        .http_request(&method, &path, &status, started.elapsed());
    response
}
