//! TokenReview through kube: the backend's adapter to the shared policy. The policy parses the
//! answer, decides (audiences, allowlists) and keys the bounded verdict cache; here we only
//! build the kube client (lazily, retried until it works), call the API server with a timeout,
//! and cap the reviews in flight.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bindcar_policy::access::AccessPolicy;
use bindcar_policy::cache::{MemoryStore, VerdictCache};
use bindcar_policy::review::{parse_review_response, Identity, ReviewFailure, ReviewOutcome};
use bindcar_policy::{token_fingerprint, Denial};
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::sync::Semaphore;

use super::authorization::RequestAuthorizer;
use super::kube_client::KubeClient;
use crate::config::TokenReviewSettings;
use crate::metrics::Metrics;

/// Reviews in flight at once; beyond that, requests wait, and the wait counts against the
/// review timeout (`ask`).
const MAX_IN_FLIGHT: usize = 16;

pub struct TokenReviewer {
    policy: AccessPolicy,
    cache: VerdictCache<MemoryStore>,
    timeout: Duration,
    kube: Arc<KubeClient>,
    permits: Semaphore,
    metrics: Metrics,
    /// Authorization of the reviewed identity, when configured.
    authz: Option<RequestAuthorizer>,
}

impl TokenReviewer {
    pub fn new(settings: &TokenReviewSettings, metrics: Metrics) -> TokenReviewer {
        let scope = format!(
            "{:?}|{}",
            settings.kube,
            settings.policy.audiences().join(",")
        );
        let secret = settings.secret.bytes();
        let cache = VerdictCache::new(
            MemoryStore::default(),
            settings.cache,
            secret,
            scope.as_bytes(),
        );
        let kube = Arc::new(KubeClient::new(settings.kube.clone()));
        let authz = settings.authz.is_on().then(|| {
            RequestAuthorizer::new(
                settings.authz.clone(),
                Arc::clone(&kube),
                settings.timeout,
                secret,
                metrics.clone(),
            )
        });
        TokenReviewer {
            policy: settings.policy.clone(),
            cache,
            timeout: settings.timeout,
            kube,
            authz,
            permits: Semaphore::new(MAX_IN_FLIGHT),
            metrics,
        }
    }

    /// The identity behind `token`, if the reviewer vouches for it and the policy admits it,
    /// with when its cached verdict expires (Unix ms; `None`: not cached).
    pub async fn review(&self, token: &[u8]) -> Result<(Identity, Option<u64>), Denial> {
        let key = self.cache.key(token);
        let (outcome, expires) = match self.cache.lookup_with_expiry(&key, SystemTime::now()) {
            Some((outcome, expires)) => {
                self.metrics
                    .token_review("cache_hit", outcome_label(&outcome));
                (outcome, Some(expires))
            }
            None => {
                let outcome = self.ask(token).await.map_err(|failure| {
                    self.metrics.token_review("review", failure.kind());
                    tracing::warn!(
                        token = %token_fingerprint(token),
                        failure = failure.kind(),
                        "TokenReview unavailable"
                    );
                    Denial::ReviewUnavailable
                })?;
                self.metrics.token_review("review", outcome_label(&outcome));
                let expires = self.cache.store(&key, token, &outcome, SystemTime::now());
                (outcome, expires)
            }
        };
        self.policy
            .decide(&outcome)
            .map(|identity| (identity, expires))
            .inspect_err(|denial| {
                tracing::info!(token = %token_fingerprint(token), reason = denial.reason(), "token refused");
            })
    }

    async fn ask(&self, token: &[u8]) -> Result<ReviewOutcome, ReviewFailure> {
        let token = std::str::from_utf8(token).map_err(|_| ReviewFailure::MalformedBody)?;
        // The wait for a slot is inside the timeout: a flood of slow reviews must not make a
        // request wait longer than one review may take (it gets the same 503 as a slow review).
        let call = async {
            let _permit = self
                .permits
                .acquire()
                .await
                .map_err(|_| ReviewFailure::Transport)?;
            let client = self.client().await?;
            let review = TokenReview {
                spec: TokenReviewSpec {
                    token: token.to_string(),
                    audiences: Some(self.policy.audiences().to_vec()),
                },
                ..TokenReview::default()
            };
            let answer = Api::<TokenReview>::all(client)
                .create(&PostParams::default(), &review)
                .await
                .map_err(|e| match e {
                    kube::Error::Api(status) => {
                        tracing::warn!(code = status.code, reason = %status.reason, "TokenReview refused by the API server");
                        ReviewFailure::HttpStatus(status.code)
                    }
                    other => {
                        tracing::warn!(error = %other, "TokenReview call failed");
                        ReviewFailure::Transport
                    }
                })?;
            let body = serde_json::to_vec(&answer).map_err(|_| ReviewFailure::MalformedBody)?;
            parse_review_response(Some(201), &body)
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| ReviewFailure::Transport)?
    }

    /// The kube client (shared with SubjectAccessReviews); a failure is retried next time.
    async fn client(&self) -> Result<Client, ReviewFailure> {
        self.kube.get().await.map_err(|e| {
            tracing::error!(error = %e, "cannot build the Kubernetes client for TokenReview");
            ReviewFailure::Transport
        })
    }

    pub fn authorizer(&self) -> Option<&RequestAuthorizer> {
        self.authz.as_ref()
    }
}

fn outcome_label(outcome: &ReviewOutcome) -> &'static str {
    match outcome {
        ReviewOutcome::Authenticated { .. } => "authenticated",
        ReviewOutcome::Rejected { .. } => "rejected",
    }
}
