//! Authorization after authentication: may the reviewed identity do what the request asks?
//! The decision is the shared policy's (`bindcar_policy::authz`: the request → attributes
//! table, static rules, the SubjectAccessReview body and answer, the decision cache); here
//! we only send SubjectAccessReviews through kube with a timeout, cap the calls in flight, and
//! let concurrent identical checks share one call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bindcar_policy::authz::sar::parse_sar_response;
use bindcar_policy::authz::settings::AuthzConfig;
use bindcar_policy::authz::{Authorizer, Begin, Operation};
use bindcar_policy::review::{Identity, ReviewFailure};
use bindcar_policy::Denial;
use k8s_openapi::api::authorization::v1::SubjectAccessReview;
use kube::api::PostParams;
use kube::Api;
use tokio::sync::{OnceCell, Semaphore};

use super::kube_client::KubeClient;
use crate::metrics::Metrics;

/// SubjectAccessReviews in flight at once; beyond that, requests wait (bounded by the timeout).
const MAX_IN_FLIGHT: usize = 16;

pub struct RequestAuthorizer {
    authorizer: Mutex<Authorizer>,
    kube: Arc<KubeClient>,
    timeout: Duration,
    permits: Semaphore,
    metrics: Metrics,
    /// Checks in flight by decision key: concurrent identical checks await the same answer.
    /// An entry lives only while its call does, so the map is bounded by requests in flight.
    inflight: Mutex<HashMap<[u8; 32], Shared>>,
}

type Shared = Arc<OnceCell<Result<bool, ReviewFailure>>>;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl RequestAuthorizer {
    /// `secret`/`scope`: the verdict cache's, so decisions are keyed under the same terms.
    pub fn new(
        config: AuthzConfig,
        kube: Arc<KubeClient>,
        timeout: Duration,
        secret: &[u8],
        metrics: Metrics,
    ) -> RequestAuthorizer {
        let scope = format!("{:?}", kube.source());
        RequestAuthorizer {
            authorizer: Mutex::new(Authorizer::new(config, secret, scope.as_bytes())),
            kube,
            timeout,
            permits: Semaphore::new(MAX_IN_FLIGHT),
            metrics,
            inflight: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Authorizer> {
        // A panic while holding it cannot leave a decision half-made: entries are whole.
        self.authorizer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `cap_ms`: when the token's cached verdict expires (None: not cached).
    pub async fn authorize(
        &self,
        identity: &Identity,
        method: &[u8],
        path: &[u8],
        cap_ms: Option<u64>,
    ) -> Result<(), Denial> {
        let op = Operation::of(method, path);
        let begun = self.lock().begin(identity, &op, now_ms());
        let (key, attrs) = match (begun, &op) {
            (Begin::Decided(result), _) => {
                self.metrics.authz("rules", &result);
                return result;
            }
            (Begin::Cached(result), _) => {
                self.metrics.authz("cache_hit", &result);
                return result;
            }
            (Begin::Ask(key), Operation::Known(attrs)) => (key, attrs),
            (Begin::Ask(_), Operation::Unknown(_)) => return Err(Denial::AuthorizationUnavailable),
        };
        let body = self.lock().request_body(identity, attrs);
        let shared: Shared = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(inflight.entry(*key.digest()).or_default())
        };
        let answer = shared.get_or_init(|| self.ask(&body)).await.clone();
        {
            let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            if inflight
                .get(key.digest())
                .is_some_and(|s| Arc::ptr_eq(s, &shared))
            {
                inflight.remove(key.digest());
            }
        }
        if let Err(failure) = &answer {
            tracing::warn!(user = %identity.username, failure = failure.kind(), "SubjectAccessReview unavailable");
        }
        let result = self
            .lock()
            .finish(&key, identity, attrs, &answer, now_ms(), cap_ms);
        self.metrics.authz("review", &result);
        result
    }

    async fn ask(&self, body: &[u8]) -> Result<bool, ReviewFailure> {
        let review: SubjectAccessReview =
            serde_json::from_slice(body).map_err(|_| ReviewFailure::MalformedBody)?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ReviewFailure::Transport)?;
        let call = async {
            let client = self.kube.get().await.map_err(|e| {
                tracing::error!(error = %e, "cannot build the Kubernetes client for SubjectAccessReview");
                ReviewFailure::Transport
            })?;
            let answer = Api::<SubjectAccessReview>::all(client)
                .create(&PostParams::default(), &review)
                .await
                .map_err(|e| match e {
                    kube::Error::Api(status) => ReviewFailure::HttpStatus(status.code),
                    other => {
                        tracing::warn!(error = %other, "SubjectAccessReview call failed");
                        ReviewFailure::Transport
                    }
                })?;
            let body = serde_json::to_vec(&answer).map_err(|_| ReviewFailure::MalformedBody)?;
            parse_sar_response(Some(201), &body)
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| ReviewFailure::Transport)?
    }
}
