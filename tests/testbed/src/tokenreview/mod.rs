//! A TokenReview server of our own that behaves like the kube-apiserver's
//! `POST /apis/authentication.k8s.io/v1/tokenreviews`, over HTTPS with its own CA.
//!
//! # Requests
//! Every request is read in full, then (after any configured latency):
//! 1. The caller's `Authorization: Bearer <t>` is checked against the accepted reviewer
//!    token(s), on every path. Missing or wrong → `401` `Status` (reason Unauthorized);
//!    counted by [`TokenReviewServer::unauthorized_count`]. Every distinct bearer value
//!    presented, accepted or not, is remembered in
//!    [`TokenReviewServer::caller_tokens_seen`].
//! 2. Any other path → `404` `Status`; another method on the path → `405` `Status`.
//! 3. The request now counts as a review: [`TokenReviewServer::review_count`] goes up by
//!    one, and if the body is JSON with a string `spec.token`,
//!    [`TokenReviewServer::reviews_for_token`] of that token too. This happens before the
//!    fault is applied and before the body is validated, so `Status500`, `Reset`, `Hang`,
//!    `MalformedBody`, 400 and 415 answers all count. Only 401/404/405 do not.
//! 4. The [`Fault`] in force, if any, takes over.
//! 5. `content-type` other than `application/json` (absent is fine) → `415` `Status`.
//! 6. Not a TokenReview (bad JSON, wrong `apiVersion`/`kind`, empty `spec.token`) →
//!    `400` `Status` (reason BadRequest). Missing `apiVersion`/`kind` default to the
//!    endpoint's, as in the apiserver.
//! 7. Otherwise `201 Created` with the review echoed back (`metadata.creationTimestamp:
//!    null`, `spec` as sent) and a `status`:
//!    - authenticated: `{"authenticated":true,"user":{username,uid,groups,extra},
//!      "audiences":[..]}`, `audiences` being the token's `aud` that are also in
//!      `spec.audiences` (or in the API audiences when `spec.audiences` is empty);
//!    - not: `{"user":{},"error":"[invalid bearer token, <reason>]"}`. Like the real
//!      apiserver (`authenticated` is `omitempty` there) there is no `"authenticated":false`.
//!
//! # SubjectAccessReviews
//! `POST` [`SAR_PATH`] is answered the same way (caller's bearer first, then 404/405), counted
//! by [`TokenReviewServer::sar_count`] (every spec received is kept, see
//! [`TokenReviewServer::sar_specs`]), with its own fault ([`TokenReviewServer::set_sar_fault`],
//! the same [`Fault`] modes), then `201` with `status.allowed` decided from the RBAC table
//! set by [`TokenReviewServer::set_rbac`] (see [`RbacRule`]; empty: nothing allowed).
//!
//! # Tokens
//! RS256 JWTs signed by a key generated per server, with the claims of projected
//! ServiceAccount tokens (`aud`, `exp`, `iat`, `nbf`, `iss`, `jti`,
//! `sub = system:serviceaccount:<ns>:<name>`, `kubernetes.io.{namespace,serviceaccount}`).
//! Verification: issuer, signature, audiences, `nbf`/`exp`/`iat` with a 60 s leeway (the
//! apiserver's; see [`TokenReviewServer::set_leeway`]).
//!
//! Plain users ([`TokenReviewServer::mint_user`]) are the same kind of JWT without the
//! `kubernetes.io` claim and with an [`USER_CLAIM`] claim
//! `{"username":..,"groups":[..]}`; they are reviewed as that username with those groups
//! plus `system:authenticated`, no uid and no extra.
//!
//! The server runs on a thread and runtime of its own, so it keeps answering even if the
//! test's runtime is busy or blocked; dropping the handle stops it and closes the port.

mod faults;
mod jwt;
mod keys;
mod pki;
mod review;
mod sar;
mod server;

use std::{
    collections::HashMap,
    path::Path,
    sync::{atomic::Ordering, Arc},
    thread::JoinHandle,
    time::Duration,
};

use anyhow::Context;
use tokio::sync::oneshot;

pub use faults::Fault;
pub use jwt::{MintRequest, USER_CLAIM};
pub use pki::SERVER_NAMES;
pub use sar::RbacRule;

use server::{lock, Shared};

/// The one path this server answers.
pub const TOKENREVIEW_PATH: &str = "/apis/authentication.k8s.io/v1/tokenreviews";

/// The SubjectAccessReview path this server also answers.
pub const SAR_PATH: &str = "/apis/authorization.k8s.io/v1/subjectaccessreviews";

/// The in-cluster issuer and API audience of a default kube-apiserver.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// The bearer a caller must present to be allowed to create TokenReviews.
    pub reviewer_token: String,
    /// `iss` of the tokens minted, and the only issuer accepted.
    pub issuer: String,
    /// Audiences reviewed when `spec.audiences` is empty (`--api-audiences`).
    pub api_audiences: Vec<String>,
}

impl ServerOptions {
    /// Default issuer and API audience, with the given reviewer token.
    pub fn new(reviewer_token: &str) -> Self {
        Self {
            reviewer_token: reviewer_token.to_string(),
            issuer: DEFAULT_ISSUER.to_string(),
            api_audiences: vec![DEFAULT_ISSUER.to_string()],
        }
    }
}

impl Default for ServerOptions {
    /// A random reviewer token (read it back with [`TokenReviewServer::reviewer_token`]).
    fn default() -> Self {
        Self::new(&format!("reviewer-{}", uuid::Uuid::new_v4().simple()))
    }
}

/// A running server; dropping it stops it.
pub struct TokenReviewServer {
    shared: Arc<Shared>,
    port: u16,
    ca_pem: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

type Ready = anyhow::Result<(u16, String, Arc<Shared>)>;

impl TokenReviewServer {
    /// Generates the CA, serving certificate and signing keys, and listens on
    /// `127.0.0.1:<random port>` over HTTPS.
    pub async fn start(opts: ServerOptions) -> anyhow::Result<Self> {
        Self::start_on(opts, 0).await
    }

    /// [`Self::start`] on a given port of 127.0.0.1 (0 = any free one).
    pub async fn start_on(opts: ServerOptions, port: u16) -> anyhow::Result<Self> {
        let (ready_tx, ready_rx) = oneshot::channel::<Ready>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tokenreview-server".into())
            .spawn(move || run(opts, port, ready_tx, stop_rx))
            .context("spawn TokenReview server thread")?;
        let (port, ca_pem, shared) = ready_rx
            .await
            .context("TokenReview server thread exited during start-up")??;
        Ok(Self {
            shared,
            port,
            ca_pem,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    pub fn https_port(&self) -> u16 {
        self.port
    }

    /// `https://127.0.0.1:<port>`
    pub fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// PEM of the CA that signed the serving certificate (SANs: [`SERVER_NAMES`]).
    pub fn ca_pem(&self) -> String {
        self.ca_pem.clone()
    }

    /// Writes `ca.pem` and a `kubeconfig` into `dir` that point a Kubernetes client (kube,
    /// kubectl) at this server, authenticating as its reviewer; returns the kubeconfig's path.
    pub fn write_kubeconfig(&self, dir: &Path) -> std::io::Result<std::path::PathBuf> {
        let ca = dir.join("ca.pem");
        self.write_ca(&ca)?;
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: {}\n    certificate-authority: {}\n\
             users:\n- name: reviewer\n  user:\n    token: {}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: reviewer\n\
             current-context: test\n",
            self.base_url(),
            ca.display(),
            self.reviewer_token()
        );
        std::fs::write(&path, text)?;
        Ok(path)
    }

    pub fn write_ca(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, &self.ca_pem)
    }

    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    /// The JWKS (`{"keys":[...]}`) holding the public key every token is signed with (not
    /// the untrusted "other" key): a verifier given it accepts exactly what this server
    /// signs, as a mesh's `RequestAuthentication` with the cluster's JWKS would.
    pub fn jwks(&self) -> anyhow::Result<String> {
        Ok(serde_json::json!({"keys": [self.shared.key.public_jwk()?]}).to_string())
    }

    pub fn api_audiences(&self) -> Vec<String> {
        self.shared.api_audiences.clone()
    }

    /// The reviewer token currently accepted (the first, if several are).
    pub fn reviewer_token(&self) -> String {
        lock(&self.shared.accepted)
            .first()
            .cloned()
            .unwrap_or_default()
    }

    /// From now on accept exactly `token` from callers (no grace period for the old one).
    pub fn set_reviewer_token(&self, token: &str) {
        *lock(&self.shared.accepted) = vec![token.to_string()];
    }

    /// From now on accept exactly these tokens (the first is reported by
    /// [`Self::reviewer_token`]). An empty list refuses every caller.
    pub fn accept_reviewer_tokens(&self, tokens: &[&str]) {
        *lock(&self.shared.accepted) = tokens.iter().map(|t| t.to_string()).collect();
    }

    /// A ServiceAccount token as `req` describes, signed by this server's key (or by an
    /// untrusted one with `sign_with_other_key`).
    pub fn mint(&self, req: &MintRequest) -> String {
        let uid = req.uid.clone().unwrap_or_else(|| {
            lock(&self.shared.sa_uids)
                .entry((req.namespace.clone(), req.service_account.clone()))
                .or_insert_with(|| uuid::Uuid::new_v4().to_string())
                .clone()
        });
        let key = if req.sign_with_other_key {
            &self.shared.other_key
        } else {
            &self.shared.key
        };
        // Signing serialisable claims with a key we generated cannot fail short of a bug;
        // a panic in a test fixture is the clearest report of that.
        #[allow(clippy::expect_used)]
        jwt::mint_service_account(key, &self.shared.issuer, req, uid).expect("mint SA token")
    }

    /// A token reviewed as the plain user `username` in `groups` (+ system:authenticated),
    /// e.g. `mint_user("kubernetes-admin", &["system:masters"], &["bindcar"], ttl)`.
    /// See [`USER_CLAIM`] for how the server recognises it.
    pub fn mint_user(
        &self,
        username: &str,
        groups: &[&str],
        audiences: &[&str],
        ttl: Duration,
    ) -> String {
        #[allow(clippy::expect_used)]
        jwt::mint_user(
            &self.shared.key,
            &self.shared.issuer,
            username,
            groups,
            audiences,
            ttl,
        )
        .expect("mint user token")
    }

    /// Applies to requests that arrive from now on. See [`Fault`]; `Fault::None` also clears
    /// the latency.
    pub fn set_fault(&self, fault: Fault) {
        lock(&self.shared.faults).set(fault);
    }

    /// Delay every answer (any status) by `latency`, on top of whatever fault is set.
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.shared.faults).latency = latency;
    }

    /// Clock-skew allowance for `exp`/`nbf`/`iat` (default 60 s, like the apiserver).
    pub fn set_leeway(&self, leeway: Duration) {
        *lock(&self.shared.leeway) = leeway;
    }

    /// Requests to the TokenReview path, by POST, that passed the caller-token check,
    /// whatever their outcome (see the module docs).
    pub fn review_count(&self) -> u64 {
        self.shared.reviews.load(Ordering::SeqCst)
    }

    /// How many of those carried `spec.token == token`.
    pub fn reviews_for_token(&self, token: &str) -> u64 {
        lock(&self.shared.per_token)
            .get(token)
            .copied()
            .unwrap_or(0)
    }

    /// Every distinct bearer value callers presented (accepted or not), in order first seen.
    pub fn caller_tokens_seen(&self) -> Vec<String> {
        lock(&self.shared.callers).clone()
    }

    /// Requests refused with 401 because the caller's bearer was missing or wrong.
    pub fn unauthorized_count(&self) -> u64 {
        self.shared.unauthorized.load(Ordering::SeqCst)
    }

    /// The RBAC table SubjectAccessReviews are decided from (replaces the previous one).
    pub fn set_rbac(&self, rules: Vec<RbacRule>) {
        *lock(&self.shared.rbac) = rules;
    }

    /// Like [`Self::set_fault`], for SubjectAccessReviews only (TokenReviews keep theirs).
    pub fn set_sar_fault(&self, fault: Fault) {
        lock(&self.shared.sar_faults).set(fault);
    }

    /// SubjectAccessReview requests by POST that passed the caller-token check, whatever
    /// their outcome (faults and 400s included).
    pub fn sar_count(&self) -> u64 {
        self.shared.sars.load(Ordering::SeqCst)
    }

    /// The `spec` of every SubjectAccessReview received that parsed as JSON, oldest first.
    pub fn sar_specs(&self) -> Vec<serde_json::Value> {
        lock(&self.shared.sar_specs).clone()
    }

    /// Reviews per token, for diagnostics.
    pub fn reviews_by_token(&self) -> HashMap<String, u64> {
        lock(&self.shared.per_token).clone()
    }
}

impl Drop for TokenReviewServer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The server thread: its own runtime, so hung connections and sleeping faults never
/// depend on the caller's runtime, and dropping the runtime cancels them all.
fn run(opts: ServerOptions, port: u16, ready: oneshot::Sender<Ready>, stop: oneshot::Receiver<()>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(e.into()));
            return;
        }
    };
    rt.block_on(async move {
        let setup = async {
            let pki = pki::Pki::generate()?;
            let shared = Arc::new(Shared::new(opts)?);
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .with_context(|| format!("bind 127.0.0.1:{port}"))?;
            let port = listener.local_addr()?.port();
            anyhow::Ok((pki, shared, listener, port))
        };
        match setup.await {
            Err(e) => {
                let _ = ready.send(Err(e));
            }
            Ok((pki, shared, listener, port)) => {
                if ready.send(Ok((port, pki.ca_pem, shared.clone()))).is_err() {
                    return;
                }
                tokio::select! {
                    _ = server::serve(listener, pki.tls, shared) => {}
                    // Sent, or dropped along with the handle.
                    _ = stop => {}
                }
            }
        }
    });
    // Cancels every connection task, including hung ones.
    rt.shutdown_timeout(Duration::from_secs(1));
}
