//! The middleware that counts every request by its route template. Both labels come from
//! small fixed sets, whatever a client sends: any method (even 4,000 bytes long) on any path
//! must not add a series.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use super::state::SharedState;

pub async fn track_http(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    // Only route templates (e.g. /api/v1/zones/{name}); anything unrouted is one label.
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| UNMATCHED.to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    state
        .metrics
        .http_request(method, &path, &status, started.elapsed());
    response
}

/// The `path` label of a request no route matched (bindcar's word).
pub const UNMATCHED: &str = "<unmatched>";

/// The methods the API knows by name; any other is `other`.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
