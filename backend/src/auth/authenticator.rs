//! The authentication layer of the API routes. The decisions (bearer parsing, messages, the
//! shared-secret compare, TokenReview allowlists, the verdict cache) are the shared policy's,
//! the same code the Envoy filter runs; this file only picks the configured mode and calls it.
//! (The axum middleware that applies it is `http::auth`.)

use std::net::SocketAddr;
use std::sync::Arc;

use bindcar_policy::review::Identity;
use bindcar_policy::{bearer, secret, token_fingerprint, Denial};

use super::actor::Actor;
use super::authorization::RequestAuthorizer;
use super::kube_client::KubeClient;
use super::linkerd::LinkerdIdentity;
use super::tokenreview::TokenReviewer;
use crate::config::{AuthSettings, LinkerdSettings};
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
    Linkerd(Box<Linkerd>),
}

/// Linkerd mode: the identity from the mesh, and authorization when configured.
pub struct Linkerd {
    identity: LinkerdIdentity,
    authz: Option<RequestAuthorizer>,
}

impl Linkerd {
    fn new(settings: &LinkerdSettings, metrics: Metrics) -> Linkerd {
        let authz = settings.authz.is_on().then(|| {
            RequestAuthorizer::new(
                settings.authz.clone(),
                Arc::new(KubeClient::new(settings.kube.clone())),
                settings.timeout,
                settings.secret.bytes(),
                metrics,
            )
        });
        Linkerd {
            identity: LinkerdIdentity::new(&settings.identity_domain, settings.policy.clone()),
            authz,
        }
    }
}

/// What a request presents: its `Authorization` values, its mesh identity header values, and
/// the two ends of its connection (the Linkerd mode reads the header only from inside the pod).
pub struct Credentials<'a> {
    pub authorization: &'a [&'a [u8]],
    pub mesh_identity: &'a [&'a [u8]],
    pub peer: Option<SocketAddr>,
    pub local: Option<SocketAddr>,
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
            AuthSettings::Linkerd(settings) => Some(Authenticator::Linkerd(Box::new(
                Linkerd::new(settings, metrics),
            ))),
        }
    }

    pub fn mode(&self) -> &'static str {
        match self {
            Authenticator::Mesh { .. } => "disabled",
            Authenticator::Basic => "basic",
            Authenticator::SharedSecret(_) => "api-token",
            Authenticator::TokenReview(_) => "tokenreview",
            Authenticator::Linkerd(_) => "linkerd",
        }
    }

    /// Who the request comes from, or why it is refused.
    pub async fn authenticate(&self, presented: &Credentials<'_>) -> Result<Caller, Denial> {
        let reviewed = |(identity, expires): (Identity, Option<u64>)| Caller {
            actor: Actor(identity.username.clone()),
            identity: Some(identity),
            verdict_expires_ms: expires,
        };
        let plain = |actor: String| Caller {
            actor: Actor(actor),
            identity: None,
            verdict_expires_ms: None,
        };
        // Every mode but Linkerd's reads a bearer; Linkerd's mesh authenticated the connection.
        let bearer = || bearer::parse_authorization(presented.authorization);
        match self {
            // Not reached: the mesh's requests are not authenticated here (`http::auth`).
            Authenticator::Mesh { .. } => Err(Denial::MissingHeader),
            Authenticator::Linkerd(linkerd) => linkerd
                .identity
                .authenticate(presented.mesh_identity, presented.peer, presented.local)
                .map(|identity| reviewed((identity, None))),
            Authenticator::Basic => Ok(plain(format!("bearer:{}", token_fingerprint(bearer()?)))),
            Authenticator::SharedSecret(expected) => {
                if secret::shared_secret_matches(expected, bearer()?) {
                    Ok(plain("api-token".into()))
                } else {
                    Err(Denial::InvalidApiToken)
                }
            }
            Authenticator::TokenReview(reviewer) => reviewer.review(bearer()?).await.map(reviewed),
        }
    }

    /// Whether `caller` may do `method path` (always, when authorization is off).
    pub async fn authorize(
        &self,
        caller: &Caller,
        method: &[u8],
        path: &[u8],
    ) -> Result<(), Denial> {
        let authorizer = match self {
            Authenticator::TokenReview(reviewer) => reviewer.authorizer(),
            Authenticator::Linkerd(linkerd) => linkerd.authz.as_ref(),
            _ => None,
        };
        let (Some(authz), Some(identity)) = (authorizer, &caller.identity) else {
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
