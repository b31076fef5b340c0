//! The filter's plugin configuration (Envoy `configuration` / Istio `pluginConfig`), parsed
//! and validated once into an immutable [`FilterConfig`]. camelCase keys; `mode` is required
//! (a configuration that went missing must not load as a weaker mode), every other key is
//! optional; unknown keys, wrong types and keys given twice are refused with a message that
//! names them.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::access::{AccessPolicy, PostureError};
use crate::authz::settings::{self as authz_settings, AuthzConfig, RawAuthorization, RawAuthzMode};
use crate::bearer::is_token68;
use crate::cache::CacheSettings;
use crate::client::ClientKeySource;
use crate::exempt::{ExemptPaths, DEFAULT_EXEMPT_PATHS};
use crate::review::DEFAULT_PATH;
use crate::strict_json;
use crate::throttle::ThrottleSettings;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid plugin configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterConfig {
    pub exempt: ExemptPaths,
    pub identity: IdentityHeaders,
    /// Removed from every client request: the configured identity headers and the default
    /// ones, so a backend left trusting a default name never sees a client's copy of it.
    pub strip_headers: Vec<String>,
    pub status_on_error: u16,
    pub mode: Mode,
    /// Failed-authentication throttling per client; off when absent.
    pub throttle: Option<ThrottleSettings>,
    /// Who a client is, for the throttle and for fair shares of pending reviews.
    pub client_key: ClientKeySource,
    /// Off (`AuthzMode::None`) unless configured; only with TokenReview.
    pub authorization: AuthzConfig,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Presence and format only.
    Basic,
    TokenReview(Box<TokenReviewConfig>),
}

/// Headers the filter owns: removed from every client request, set only from a review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityHeaders {
    pub user: String,
    pub groups: String,
}

/// The identity headers when none are configured (what the backend trusts by default).
pub const DEFAULT_USER_HEADER: &str = "x-remote-user";
pub const DEFAULT_GROUPS_HEADER: &str = "x-remote-group";

impl IdentityHeaders {
    /// These two, then each default name that is not one of them.
    fn to_strip(&self) -> Vec<String> {
        let mut names = vec![self.user.clone(), self.groups.clone()];
        for d in [DEFAULT_USER_HEADER, DEFAULT_GROUPS_HEADER] {
            if !names.iter().any(|n| n == d) {
                names.push(d.to_string());
            }
        }
        names
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenReviewConfig {
    pub cluster: String,
    pub authority: String,
    pub path: String,
    pub timeout: Duration,
    pub access: AccessPolicy,
    pub reviewer_token: Option<String>,
    pub cache: CacheSettings,
    pub max_pending_reviews: usize,
    pub max_pending_per_client: usize,
}

impl TokenReviewConfig {
    /// Everything besides the token that a review's answer depends on (the cache's scope).
    pub fn cache_scope(&self) -> Vec<u8> {
        let mut s = format!("{}\n{}\n{}\n", self.cluster, self.authority, self.path);
        for a in self.access.audiences() {
            s.push_str(a);
            s.push('\n');
        }
        s.into_bytes()
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawConfig {
    mode: Option<RawMode>,
    exempt_paths: Option<Vec<String>>,
    /// The loud override for an exempt path that is an API route.
    allow_unauthenticated_api_routes: Option<bool>,
    identity_headers: Option<RawIdentityHeaders>,
    status_on_error: Option<u16>,
    token_review: Option<RawTokenReview>,
    throttle: Option<RawThrottle>,
    authorization: Option<RawAuthorization>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawThrottle {
    failures_per_minute: Option<u32>,
    burst: Option<u32>,
    block_seconds: Option<u32>,
    client_key: Option<serde_json::Value>,
    max_clients: Option<u32>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
enum RawMode {
    Basic,
    TokenReview,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawIdentityHeaders {
    user: Option<String>,
    groups: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawTokenReview {
    cluster: Option<String>,
    authority: Option<String>,
    path: Option<String>,
    timeout_ms: Option<u64>,
    audiences: Option<Vec<String>>,
    allowed_namespaces: Option<Vec<String>>,
    allowed_service_accounts: Option<Vec<String>>,
    allow_any_service_account: Option<bool>,
    reviewer_token: Option<String>,
    cache_ttl_seconds: Option<u64>,
    negative_cache_ttl_seconds: Option<u64>,
    cache_max_entries: Option<u32>,
    max_pending_reviews: Option<usize>,
    max_pending_per_client: Option<usize>,
}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

impl FilterConfig {
    /// Parses the plugin configuration. There is no default mode: empty, `{}` or a
    /// configuration without `mode` is refused (the plugin then does not load).
    pub fn from_json(bytes: &[u8]) -> Result<FilterConfig, ConfigError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return err(format!("the configuration is empty; {MODE_REQUIRED}"));
        }
        let value = strict_json::parse(bytes).map_err(|e| ConfigError(e.to_string()))?;
        if !value.is_object() {
            return err("the configuration must be a JSON object");
        }
        let raw: RawConfig =
            serde_json::from_value(value).map_err(|e| ConfigError(e.to_string()))?;
        let Some(raw_mode) = raw.mode else {
            return err(format!("\"mode\" is missing; {MODE_REQUIRED}"));
        };
        let exempt = match &raw.exempt_paths {
            Some(paths) => ExemptPaths::new(paths),
            None => ExemptPaths::new(&DEFAULT_EXEMPT_PATHS),
        }
        .map_err(|e| ConfigError(e.to_string()))?;
        if !raw.allow_unauthenticated_api_routes.unwrap_or(false) {
            if let Some(route) = exempt.paths().find(|p| is_api_route(p)) {
                return err(format!(
                    "exemptPaths: {:?} is an API route: exempting it lets anyone call it without a token. \
                     Remove it, or set \"allowUnauthenticatedApiRoutes\": true to accept that",
                    String::from_utf8_lossy(route)
                ));
            }
        }
        let identity = identity_headers(raw.identity_headers.unwrap_or_default())?;
        let status_on_error = raw.status_on_error.unwrap_or(401);
        if !(400..=599).contains(&status_on_error) {
            return err(format!(
                "statusOnError: {status_on_error} is not a 4xx or 5xx status"
            ));
        }
        let raw_authz = raw.authorization.unwrap_or_default();
        let mode = match (raw_mode, raw.token_review) {
            (RawMode::Basic, None) => Mode::Basic,
            (RawMode::Basic, Some(_)) => {
                return err("tokenReview settings are given but mode is \"basic\"; set \"mode\": \"tokenReview\" or remove them")
            }
            (RawMode::TokenReview, tr) => Mode::TokenReview(Box::new(token_review(tr.unwrap_or_default())?)),
        };
        let (throttle, client_key) = match raw.throttle {
            None => (None, ClientKeySource::SourceAddress),
            Some(t) => {
                let (settings, key) = throttle(t)?;
                (Some(settings), key)
            }
        };
        let authorization = match &mode {
            Mode::Basic if raw_authz.mode.unwrap_or_default() != RawAuthzMode::None => {
                return err("authorization needs an identity: set \"mode\": \"tokenReview\" (basic mode checks the bearer's form, not who it belongs to)")
            }
            Mode::Basic => authz_settings::parse(raw_authz, "", "").map_err(ConfigError)?,
            Mode::TokenReview(tr) => {
                authz_settings::parse(raw_authz, &tr.cluster, &tr.authority).map_err(ConfigError)?
            }
        };
        Ok(FilterConfig {
            exempt,
            strip_headers: identity.to_strip(),
            identity,
            status_on_error,
            mode,
            throttle,
            client_key,
            authorization,
        })
    }
}

const MODE_REQUIRED: &str = "set \"mode\": \"basic\" (bearer format only) or \"tokenReview\" (ask the Kubernetes TokenReview API); the filter never guesses its mode";

/// Whether some method of `path` is a route of the API (the authorization table's rows):
/// exempting one would let anyone call it without a token.
fn is_api_route(path: &[u8]) -> bool {
    const METHODS: [&[u8]; 5] = [b"GET", b"POST", b"PUT", b"PATCH", b"DELETE"];
    METHODS
        .iter()
        .any(|m| crate::authz::mapping::attributes(m, path).is_some())
}

fn identity_headers(raw: RawIdentityHeaders) -> Result<IdentityHeaders, ConfigError> {
    let user = header_name(
        "identityHeaders.user",
        raw.user.as_deref().unwrap_or(DEFAULT_USER_HEADER),
    )?;
    let groups = header_name(
        "identityHeaders.groups",
        raw.groups.as_deref().unwrap_or(DEFAULT_GROUPS_HEADER),
    )?;
    if user == groups {
        return err("identityHeaders: user and groups must be different headers");
    }
    Ok(IdentityHeaders { user, groups })
}

fn header_name(key: &str, name: &str) -> Result<String, ConfigError> {
    let lower = name.to_ascii_lowercase();
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$&'*+-.^_`|~".contains(&b);
    if lower.is_empty() || !lower.bytes().all(tchar) {
        return err(format!("{key}: {name:?} is not a valid HTTP header name"));
    }
    const RESERVED: [&str; 6] = [
        "authorization",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "te",
    ];
    if RESERVED.contains(&lower.as_str()) {
        return err(format!(
            "{key}: {name:?} is a header the filter must not overwrite"
        ));
    }
    Ok(lower)
}

fn token_review(raw: RawTokenReview) -> Result<TokenReviewConfig, ConfigError> {
    let cluster = raw.cluster.unwrap_or_else(|| "kubernetes".into());
    if cluster.trim().is_empty() {
        return err("tokenReview.cluster must name an Envoy cluster");
    }
    let authority = raw
        .authority
        .unwrap_or_else(|| "kubernetes.default.svc".into());
    if authority.is_empty() || !authority.bytes().all(|b| b.is_ascii_graphic()) {
        return err(format!(
            "tokenReview.authority: {authority:?} is not a host name"
        ));
    }
    let path = raw.path.unwrap_or_else(|| DEFAULT_PATH.into());
    if !path.starts_with('/') || !path.bytes().all(|b| b.is_ascii_graphic()) {
        return err(format!(
            "tokenReview.path: {path:?} must be an absolute path"
        ));
    }
    let timeout_ms = raw.timeout_ms.unwrap_or(2000);
    if !(1..=60_000).contains(&timeout_ms) {
        return err(format!(
            "tokenReview.timeoutMs: {timeout_ms} is outside 1..=60000"
        ));
    }
    let access = AccessPolicy::new(
        raw.audiences.unwrap_or_else(|| vec!["bindcar".into()]),
        raw.allowed_namespaces.unwrap_or_default(),
        raw.allowed_service_accounts.unwrap_or_default(),
        raw.allow_any_service_account.unwrap_or(false),
    )
    .map_err(|e| ConfigError(posture_message(&e)))?;
    if let Some(t) = &raw.reviewer_token {
        if !is_token68(t.as_bytes()) {
            return err(
                "tokenReview.reviewerToken must be a non-empty bearer token (token68 characters)",
            );
        }
    }
    let ttl = raw.cache_ttl_seconds.unwrap_or(60);
    if ttl > 3600 {
        return err(format!("tokenReview.cacheTtlSeconds: {ttl} is over 3600"));
    }
    let negative_ttl = raw.negative_cache_ttl_seconds.unwrap_or(5);
    if negative_ttl > 300 {
        return err(format!(
            "tokenReview.negativeCacheTtlSeconds: {negative_ttl} is over 300"
        ));
    }
    let max_entries = raw.cache_max_entries.unwrap_or(10_000);
    if max_entries > 1_000_000 {
        return err(format!(
            "tokenReview.cacheMaxEntries: {max_entries} is over 1000000"
        ));
    }
    let max_pending_reviews = raw.max_pending_reviews.unwrap_or(256);
    if !(1..=100_000).contains(&max_pending_reviews) {
        return err(format!(
            "tokenReview.maxPendingReviews: {max_pending_reviews} is outside 1..=100000"
        ));
    }
    let max_pending_per_client = raw
        .max_pending_per_client
        .unwrap_or((max_pending_reviews / 4).max(1));
    if !(1..=max_pending_reviews).contains(&max_pending_per_client) {
        return err(format!(
            "tokenReview.maxPendingPerClient: {max_pending_per_client} is outside 1..=maxPendingReviews ({max_pending_reviews})"
        ));
    }
    Ok(TokenReviewConfig {
        cluster,
        authority,
        path,
        timeout: Duration::from_millis(timeout_ms),
        access,
        reviewer_token: raw.reviewer_token,
        cache: CacheSettings {
            ttl: Duration::from_secs(ttl),
            negative_ttl: Duration::from_secs(negative_ttl),
            max_entries,
        },
        max_pending_reviews,
        max_pending_per_client,
    })
}

fn in_range(key: &str, value: u32, lo: u32, hi: u32) -> Result<u32, ConfigError> {
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        err(format!("throttle.{key}: {value} is outside {lo}..={hi}"))
    }
}

fn throttle(raw: RawThrottle) -> Result<(ThrottleSettings, ClientKeySource), ConfigError> {
    let d = ThrottleSettings::default();
    let settings = ThrottleSettings {
        failures_per_minute: in_range(
            "failuresPerMinute",
            raw.failures_per_minute.unwrap_or(d.failures_per_minute),
            1,
            60_000,
        )?,
        burst: in_range("burst", raw.burst.unwrap_or(d.burst), 1, 10_000)?,
        block_seconds: in_range(
            "blockSeconds",
            raw.block_seconds.unwrap_or(d.block_seconds),
            1,
            86_400,
        )?,
        // Every slot exists from the start (in Envoy shared data), hence the lower ceiling.
        max_clients: in_range(
            "maxClients",
            raw.max_clients.unwrap_or(d.max_clients),
            1,
            100_000,
        )?,
    };
    let key = match raw.client_key {
        None => ClientKeySource::SourceAddress,
        Some(v) => client_key(&v)?,
    };
    Ok((settings, key))
}

/// `"sourceAddress"` or `{"header": "x-forwarded-for", "trustedHops": 1}`.
fn client_key(v: &serde_json::Value) -> Result<ClientKeySource, ConfigError> {
    const EXPECTED: &str = r#"throttle.clientKey must be "sourceAddress" or {"header": "<name>", "trustedHops": <1..=16>}"#;
    if v.as_str() == Some("sourceAddress") {
        return Ok(ClientKeySource::SourceAddress);
    }
    let Some(obj) = v.as_object() else {
        return err(format!("{EXPECTED}, not {v}"));
    };
    if let Some(k) = obj.keys().find(|k| *k != "header" && *k != "trustedHops") {
        return err(format!(
            "throttle.clientKey: unknown field `{k}`, expected `header` or `trustedHops`"
        ));
    }
    let Some(name) = obj.get("header").and_then(|h| h.as_str()) else {
        return err(format!("{EXPECTED}: `header` is missing or not a string"));
    };
    let lower = name.to_ascii_lowercase();
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$&'*+-.^_`|~".contains(&b);
    if lower.is_empty() || !lower.bytes().all(tchar) || lower == "authorization" {
        return err(format!(
            "throttle.clientKey.header: {name:?} is not a usable HTTP header name"
        ));
    }
    let hops = match obj.get("trustedHops") {
        None => 1,
        Some(h) => match h.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if (1..=16).contains(&n) => n,
            _ => {
                return err(format!(
                    "throttle.clientKey.trustedHops: {h} is outside 1..=16"
                ))
            }
        },
    };
    Ok(ClientKeySource::Header {
        name: lower,
        trusted_hops: hops,
    })
}

fn posture_message(e: &PostureError) -> String {
    match e {
        PostureError::NoAudiences => {
            "tokenReview.audiences must list at least one non-empty audience (without one, any token issued for the API server would be accepted)".into()
        }
        PostureError::NoAllowlist => {
            "refusing TokenReview mode with neither tokenReview.allowedNamespaces nor tokenReview.allowedServiceAccounts: ANY authenticated ServiceAccount in the cluster would control DNS. Set an allowlist, or set tokenReview.allowAnyServiceAccount: true to accept that explicitly".into()
        }
        PostureError::BadServiceAccount(s) => format!(
            "tokenReview.allowedServiceAccounts: {s:?} is not of the form system:serviceaccount:<namespace>:<name>"
        ),
        PostureError::BadNamespace(s) => format!("tokenReview.allowedNamespaces: {s:?} is not a namespace name"),
    }
}
