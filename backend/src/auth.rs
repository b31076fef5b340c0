//! The authentication layer of the API routes. The decisions (bearer parsing, messages, the
//! shared-secret compare, TokenReview allowlists, the verdict cache) are the shared policy's,
//! the same code the Envoy filter runs; this file only adapts them to axum.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bindcar_policy::{bearer, secret, token_fingerprint, Denial};

use crate::actor::Actor;
use crate::config::AuthSettings;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::SharedState;
use crate::tokenreview::TokenReviewer;

/// Status when the TokenReview API cannot answer: an outage is not a bad credential.
const STATUS_ON_REVIEW_ERROR: u16 = 503;

/// The configured way of checking a request's credential (never `Disabled`: then the layer
/// is not installed at all).
pub enum Authenticator {
    Basic,
    SharedSecret(Vec<u8>),
    TokenReview(Box<TokenReviewer>),
}

impl Authenticator {
    /// `None` when authentication is disabled.
    pub fn from_settings(settings: &AuthSettings, metrics: Metrics) -> Option<Authenticator> {
        match settings {
            AuthSettings::Disabled => None,
            AuthSettings::Basic => Some(Authenticator::Basic),
            AuthSettings::SharedSecret(secret) => Some(Authenticator::SharedSecret(secret.clone())),
            AuthSettings::TokenReview(settings) => Some(Authenticator::TokenReview(Box::new(
                TokenReviewer::new(settings, metrics),
            ))),
        }
    }

    pub fn mode(&self) -> &'static str {
        match self {
            Authenticator::Basic => "basic",
            Authenticator::SharedSecret(_) => "api-token",
            Authenticator::TokenReview(_) => "tokenreview",
        }
    }

    /// Who the request comes from, or why it is refused.
    pub async fn authenticate(&self, authorization: &[&[u8]]) -> Result<Actor, Denial> {
        let token = bearer::parse_authorization(authorization)?;
        match self {
            Authenticator::Basic => Ok(Actor(format!("bearer:{}", token_fingerprint(token)))),
            Authenticator::SharedSecret(expected) => {
                if secret::shared_secret_matches(expected, token) {
                    Ok(Actor("api-token".into()))
                } else {
                    Err(Denial::InvalidApiToken)
                }
            }
            Authenticator::TokenReview(reviewer) => reviewer
                .review(token)
                .await
                .map(|identity| Actor(identity.username)),
        }
    }
}

/// The middleware on the API router.
pub async fn require_auth(
    State(state): State<SharedState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(authenticator) = state.auth.as_ref() else {
        return next.run(request).await;
    };
    let values: Vec<&[u8]> = request
        .headers()
        .get_all(AUTHORIZATION)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    match authenticator.authenticate(&values).await {
        Ok(actor) => {
            state.metrics.auth_decision(authenticator.mode(), true);
            request.extensions_mut().insert(actor);
            next.run(request).await
        }
        Err(denial) => {
            state.metrics.auth_decision(authenticator.mode(), false);
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
