//! Who asked for a change, for the logs of every mutation. Set by the authentication layer:
//! the reviewed identity, "api-token" for the shared secret, a token fingerprint in basic mode,
//! or the mesh's `x-remote-user` when authentication is disabled because the mesh does it.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

/// The caller as far as this service knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

/// Header the filter sets with the authenticated user (only trusted with DISABLE_AUTH=true).
pub const REMOTE_USER_HEADER: &str = "x-remote-user";

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Actor>()
            .cloned()
            .unwrap_or_else(|| Actor("unknown".into())))
    }
}

/// With authentication disabled, the mesh vouches for the caller: take its `x-remote-user`.
pub async fn from_mesh(mut request: Request, next: Next) -> Response {
    let user = request
        .headers()
        .get(REMOTE_USER_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 256)
        .map(str::to_owned)
        .unwrap_or_else(|| "anonymous (auth disabled)".into());
    request.extensions_mut().insert(Actor(user));
    next.run(request).await
}
