//! The authentication layer of the API routes. The decisions (bearer parsing, messages, the
//! shared-secret compare, TokenReview allowlists, the verdict cache) are the shared policy's,
//! the same code the Envoy filter runs; this file only picks the configured mode and calls it.
//! (The axum middleware that applies it is `http::auth`.)

use bindcar_policy::{bearer, secret, token_fingerprint, Denial};

use super::actor::Actor;
use super::tokenreview::TokenReviewer;
use crate::config::AuthSettings;
use crate::metrics::Metrics;

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
