//! The validated configuration: plain values, built once by `env` and read by the rest.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use bindcar_policy::access::AccessPolicy;
use bindcar_policy::authz::settings::AuthzConfig;
use bindcar_policy::cache::CacheSettings;

use super::rndc_conf::RndcSettings;

#[derive(Debug, Clone)]
pub struct Config {
    pub address: String,
    pub port: u16,
    pub zone_dir: PathBuf,
    pub rndc: RndcSettings,
    pub rndc_timeout: Duration,
    /// named's statistics channel (`http://host:port`), if any.
    pub stats_url: Option<String>,
    /// Interval of the background reconciliation with BIND.
    pub reconcile_every: Duration,
    pub auth: AuthSettings,
    /// `BIND_ENABLE_DOCS`: Swagger UI at /api/v1/docs.
    pub enable_docs: bool,
    /// `None` when `RATE_LIMIT_ENABLED=false`.
    pub rate_limit: Option<RateLimitSettings>,
    /// Why this authentication mode (logged at startup).
    pub auth_reason: &'static str,
    /// Where and how RFC 2136 updates are sent (the records API).
    pub update: super::update::UpdateSettings,
    /// Limits of the API's client connections.
    pub connections: ConnectionSettings,
    /// `None`: plain HTTP.
    pub tls: Option<super::tls::TlsSettings>,
    /// `None`: no catalog zone.
    pub catalog: Option<super::catalog::CatalogSettings>,
}

/// Limits of the client connections (`BIND_API_MAX_CONNECTIONS*`, `BIND_API_*_TIMEOUT_SECS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionSettings {
    pub max_connections: u32,
    /// Whether `max_connections` was set, rather than the default (which is lowered to fit
    /// the file-descriptor limit where an explicit value is refused).
    pub max_connections_explicit: bool,
    pub max_per_client: u32,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
}

impl ConnectionSettings {
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 1024;
    pub const DEFAULT_MAX_PER_CLIENT: u32 = 256;
}

/// Per-client rate limit of the API routes: `requests` per `period`, replenished evenly (one
/// every `period / requests`), with at most `burst` back to back (GCRA, as governor does it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    pub requests: NonZeroU32,
    pub period: Duration,
    pub burst: NonZeroU32,
}

/// How API requests are authenticated.
#[derive(Clone)]
pub enum AuthSettings {
    /// The mesh authenticates; `x-remote-user` is trusted for logs.
    Disabled,
    /// Any well-formed Bearer token (bindcar's basic mode).
    Basic,
    /// `BIND_API_TOKEN`.
    SharedSecret(Vec<u8>),
    TokenReview(Box<TokenReviewSettings>),
    /// `BIND_AUTH_MODE=linkerd`: the mesh's mTLS identity, from the local proxy.
    Linkerd(Box<LinkerdSettings>),
}

impl AuthSettings {
    pub fn mode(&self) -> &'static str {
        match self {
            AuthSettings::Disabled => "disabled",
            AuthSettings::Basic => "basic",
            AuthSettings::SharedSecret(_) => "api-token",
            AuthSettings::TokenReview(_) => "tokenreview",
            AuthSettings::Linkerd(_) => "linkerd",
        }
    }

    /// Whether a credential is actually verified here.
    pub fn is_real(&self) -> bool {
        matches!(
            self,
            AuthSettings::SharedSecret(_) | AuthSettings::TokenReview(_) | AuthSettings::Linkerd(_)
        )
    }
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthSettings::SharedSecret(_) => f.write_str("SharedSecret([REDACTED])"),
            AuthSettings::TokenReview(settings) => write!(f, "TokenReview({settings:?})"),
            AuthSettings::Linkerd(settings) => write!(f, "Linkerd({settings:?})"),
            other => f.write_str(other.mode()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TokenReviewSettings {
    pub policy: AccessPolicy,
    pub cache: CacheSettings,
    pub timeout: Duration,
    pub kube: KubeSource,
    /// Authorization of the reviewed identity (off by default).
    pub authz: AuthzConfig,
}

/// Linkerd mode: who may call, and how the identity header reads.
#[derive(Debug, Clone)]
pub struct LinkerdSettings {
    pub policy: AccessPolicy,
    /// What follows `<sa>.<ns>.` in an identity:
    /// `serviceaccount.identity.<control plane namespace>.<trust domain>`.
    pub identity_domain: String,
    /// The Kubernetes API, for SubjectAccessReviews (unused otherwise).
    pub kube: KubeSource,
    /// Time limit of one SubjectAccessReview.
    pub timeout: Duration,
    pub authz: AuthzConfig,
}

/// Where the Kubernetes client configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KubeSource {
    /// KUBE_API_SERVER + KUBE_TOKEN_PATH + KUBE_CA_CERT_PATH.
    Explicit {
        server: String,
        token_path: PathBuf,
        ca_path: PathBuf,
    },
    /// KUBECONFIG, ~/.kube/config, or in-cluster.
    Inferred,
}
