//! The axum side of authentication: the middleware on the API router (the decision is
//! `auth::Authenticator`'s), the `Actor` extractor, and the mesh's user header (the one it is
//! configured with, `MESH_USER_HEADER`) when authentication is disabled.

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bindcar_policy::Denial;

use super::conn::Connection;
use super::error::ApiError;
use super::state::SharedState;
use crate::auth::actor::{Actor, ClientCertificate, REMOTE_USER_HEADER};
use crate::auth::linkerd::CLIENT_ID_HEADER;
use crate::auth::{Authenticator, Credentials};

/// Status when the TokenReview API cannot answer: an outage is not a bad credential.
const STATUS_ON_REVIEW_ERROR: u16 = 503;

/// The middleware on the API router.
pub async fn require_auth(
    State(state): State<SharedState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(authenticator) = state.auth.as_ref() else {
        return next.run(request).await;
    };
    if let Authenticator::Mesh { user_header } = authenticator {
        return from_mesh_header(user_header, request, next).await;
    }
    // Borrowed from the headers alone (the body is not Sync: a borrow of the whole request
    // held across the await would make this future not Send).
    let headers = request.headers();
    let values =
        |name| -> Vec<&[u8]> { headers.get_all(name).iter().map(|v| v.as_bytes()).collect() };
    let (authorization, mesh_identity) = (values(AUTHORIZATION.as_str()), values(CLIENT_ID_HEADER));
    let connection = request
        .extensions()
        .get::<ConnectInfo<Connection>>()
        .map(|info| info.0);
    let authenticated = authenticator
        .authenticate(&Credentials {
            authorization: &authorization,
            mesh_identity: &mesh_identity,
            peer: connection.map(|c| c.peer),
            local: connection.and_then(|c| c.local),
        })
        .await;
    let authorized = match authenticated {
        Ok(caller) => {
            state.metrics.auth_decision(authenticator.mode(), true);
            // The raw target, as the filter sees `:path`: the table decodes the zone itself.
            let target = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            authenticator
                .authorize(
                    &caller,
                    request.method().as_str().as_bytes(),
                    target.as_bytes(),
                )
                .await
                .map(|()| caller)
        }
        Err(denial) => {
            state.metrics.auth_decision(authenticator.mode(), false);
            Err(denial)
        }
    };
    match authorized {
        Ok(caller) => {
            let actor = caller.actor.or_certificate(
                caller.identity.is_some(),
                request.extensions().get::<ClientCertificate>(),
            );
            request.extensions_mut().insert(actor);
            next.run(request).await
        }
        Err(denial) => {
            tracing::warn!(
                mode = authenticator.mode(),
                reason = denial.reason(),
                method = %request.method(),
                path = request.uri().path(),
                "request refused"
            );
            denial_response(&denial)
        }
    }
}

fn denial_response(denial: &Denial) -> Response {
    let error = match denial.status(STATUS_ON_REVIEW_ERROR) {
        401 => ApiError::Unauthorized {
            message: denial.message(),
            body: denial.body_json(),
        },
        403 => ApiError::Forbidden {
            message: denial.message(),
            body: denial.body_json(),
        },
        _ => ApiError::AuthUnavailable {
            message: denial.message(),
            body: denial.body_json(),
        },
    };
    let mut response = error.into_response();
    if response.status() == axum::http::StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

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

/// No layer configured (in-process tests): the mesh's default user header.
pub async fn from_mesh(request: Request, next: Next) -> Response {
    from_mesh_header(REMOTE_USER_HEADER, request, next).await
}

/// With authentication disabled, the mesh vouches for the caller: take the user header it is
/// configured with (the filter strips every client copy of it), or, under mutual TLS, the
/// client certificate's name.
async fn from_mesh_header(header: &str, mut request: Request, next: Next) -> Response {
    if let Some(certificate) = request.extensions().get::<ClientCertificate>().cloned() {
        let actor = Actor(String::new()).or_certificate(false, Some(&certificate));
        request.extensions_mut().insert(actor);
        return next.run(request).await;
    }
    let user = request
        .headers()
        .get(header)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 256)
        .map(str::to_owned)
        .unwrap_or_else(|| "anonymous (auth disabled)".into());
    request.extensions_mut().insert(Actor(user));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use axum::body::Body;
    use axum::routing::get;
    use axum::{middleware, Router};
    use tower::ServiceExt;

    use super::*;

    async fn actor_with(header: &'static str, sent: &[(&str, &str)]) -> String {
        let app = Router::new()
            .route("/", get(|a: Actor| async move { a.0 }))
            .layer(middleware::from_fn(move |req: Request, next: Next| {
                from_mesh_header(header, req, next)
            }));
        let mut req = axum::http::Request::builder().uri("/");
        for (k, v) in sent {
            req = req.header(*k, *v);
        }
        let reply = app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let body = axum::body::to_bytes(reply.into_body(), 4096).await.unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    /// Issue 24, item 5: the actor comes from the header the backend is configured with; a
    /// client's copy of the default name means nothing when the mesh uses another.
    #[tokio::test]
    async fn the_actor_comes_from_the_configured_mesh_header_only() {
        let spoof = ("x-remote-user", "system:serviceaccount:kube-system:admin");
        assert_eq!(
            actor_with("x-auth-user", &[("x-auth-user", "alice"), spoof]).await,
            "alice"
        );
        assert_eq!(
            actor_with("x-auth-user", &[spoof]).await,
            "anonymous (auth disabled)"
        );
        assert_eq!(
            actor_with("x-remote-user", &[("x-remote-user", "bob")]).await,
            "bob"
        );
    }
}
