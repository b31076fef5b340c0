//! The authentication layer of the API routes. The decisions (bearer parsing, messages, the
//! shared-secret compare, TokenReview allowlists, the verdict cache) are the shared policy's,
//! the same code the Envoy filter runs; this file only picks the configured mode and calls it.
//! (The axum middleware that applies it is `http::auth`.)

use bindcar_policy::review::Identity;
use bindcar_policy::{bearer, secret, token_fingerprint, Denial};

use super::actor::Actor;
use super::tokenreview::TokenReviewer;
use crate::config::AuthSettings;
use crate::metrics::Metrics;

/// The configured way of checking a request's credential.
pub enum Authenticator {
    /// Authentication disabled: the mesh vouches for the caller, named by this header.
    Mesh {
        user_header: String,
    },
    Basic,
    SharedSecret(Vec<u8>),
    TokenReview(Box<TokenReviewer>),
}

impl Authenticator {
    /// Always one (the `Option` lets in-process tests run with no layer at all).
    pub fn from_settings(settings: &AuthSettings, metrics: Metrics) -> Option<Authenticator> {
        match settings {
            AuthSettings::Disabled { user_header } => Some(Authenticator::Mesh {
                user_header: user_header.clone(),
            }),
            AuthSettings::Basic => Some(Authenticator::Basic),
            AuthSettings::SharedSecret(secret) => Some(Authenticator::SharedSecret(secret.clone())),
            AuthSettings::TokenReview(settings) => Some(Authenticator::TokenReview(Box::new(
                TokenReviewer::new(settings, metrics),
            ))),
        }
    }

    pub fn mode(&self) -> &'static str {
        match self {
            Authenticator::Mesh { .. } => "disabled",
            Authenticator::Basic => "basic",
            Authenticator::SharedSecret(_) => "api-token",
            Authenticator::TokenReview(_) => "tokenreview",
        }
    }

    /// Who the request comes from, or why it is refused.
    pub async fn authenticate(&self, authorization: &[&[u8]]) -> Result<Caller, Denial> {
        let token = bearer::parse_authorization(authorization)?;
        let plain = |actor: String| Caller {
            actor: Actor(actor),
            identity: None,
            verdict_expires_ms: None,
        };
        match self {
            // Not reached: the mesh's requests are not authenticated here (`http::auth`).
            Authenticator::Mesh { .. } => Err(Denial::MissingHeader),
            Authenticator::Basic => Ok(plain(format!("bearer:{}", token_fingerprint(token)))),
            Authenticator::SharedSecret(expected) => {
                if secret::shared_secret_matches(expected, token) {
                    Ok(plain("api-token".into()))
                } else {
                    Err(Denial::InvalidApiToken)
                }
            }
            Authenticator::TokenReview(reviewer) => {
                reviewer
                    .review(token)
                    .await
                    .map(|(identity, expires)| Caller {
                        actor: Actor(identity.username.clone()),
                        identity: Some(identity),
                        verdict_expires_ms: expires,
                    })
            }
        }
    }

    /// Whether `caller` may do `method path` (always, when authorization is off).
    pub async fn authorize(
        &self,
        caller: &Caller,
        method: &[u8],
        path: &[u8],
    ) -> Result<(), Denial> {
        let Authenticator::TokenReview(reviewer) = self else {
            return Ok(());
        };
        let (Some(authz), Some(identity)) = (reviewer.authorizer(), &caller.identity) else {
            return Ok(());
        };
        authz
            .authorize(identity, method, path, caller.verdict_expires_ms)
            .await
    }
}

/// An authenticated caller: the actor for the logs, and the reviewed identity (TokenReview).
pub struct Caller {
    pub actor: Actor,
    pub identity: Option<Identity>,
    /// When the token's cached verdict expires (Unix ms); authorization decisions never outlive it.
    pub verdict_expires_ms: Option<u64>,
}

impl Authenticator {}
