//! The `authorization` block of the plugin configuration (the backend builds the same
//! [`AuthzConfig`] from its environment): which mode, and its settings, checked once.

use std::time::Duration;

use serde::Deserialize;

use super::rules::StaticRules;
use super::sar::{DEFAULT_GROUP, DEFAULT_PATH};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthzConfig {
    /// The API group of the resources (`bindcar.dns`), as RBAC rules name it.
    pub group: String,
    pub mode: AuthzMode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthzMode {
    /// Every authenticated caller may do everything (the behaviour before authorization).
    None,
    SubjectAccessReview(SarSettings),
    Static(StaticRules),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SarSettings {
    pub cluster: String,
    pub authority: String,
    pub path: String,
    pub timeout: Duration,
    pub allow_ttl: Duration,
    pub deny_ttl: Duration,
}

impl AuthzConfig {
    pub fn none() -> AuthzConfig {
        AuthzConfig {
            group: DEFAULT_GROUP.into(),
            mode: AuthzMode::None,
        }
    }

    pub fn is_on(&self) -> bool {
        !matches!(self.mode, AuthzMode::None)
    }

    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            AuthzMode::None => "none",
            AuthzMode::SubjectAccessReview(_) => "subjectAccessReview",
            AuthzMode::Static(_) => "static",
        }
    }

    /// Everything a decision depends on besides the identity and the attributes (the decision
    /// cache's scope).
    pub fn cache_scope(&self) -> Vec<u8> {
        format!("{}\n{:?}", self.group, self.mode).into_bytes()
    }
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) enum RawAuthzMode {
    #[default]
    None,
    SubjectAccessReview,
    Static,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RawAuthorization {
    pub(crate) mode: Option<RawAuthzMode>,
    group: Option<String>,
    cluster: Option<String>,
    authority: Option<String>,
    path: Option<String>,
    timeout_ms: Option<u64>,
    allow_cache_ttl_seconds: Option<u64>,
    deny_cache_ttl_seconds: Option<u64>,
    rules: Option<serde_json::Value>,
}

/// `cluster`/`authority`: tokenReview's, the defaults of the same keys here.
pub(crate) fn parse(
    raw: RawAuthorization,
    cluster: &str,
    authority: &str,
) -> Result<AuthzConfig, String> {
    let mode = raw.mode.unwrap_or_default();
    let group = raw.group.unwrap_or_else(|| DEFAULT_GROUP.into());
    if group.is_empty() || !group.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "authorization.group: {group:?} is not an API group name"
        ));
    }
    let sar_keys = raw.cluster.is_some()
        || raw.authority.is_some()
        || raw.path.is_some()
        || raw.timeout_ms.is_some()
        || raw.allow_cache_ttl_seconds.is_some()
        || raw.deny_cache_ttl_seconds.is_some();
    if mode != RawAuthzMode::SubjectAccessReview && sar_keys {
        return Err("authorization: cluster, authority, path, timeoutMs and the cache TTLs apply only with \"mode\": \"subjectAccessReview\"".into());
    }
    if mode != RawAuthzMode::Static && raw.rules.is_some() {
        return Err("authorization.rules apply only with \"mode\": \"static\"".into());
    }
    let mode = match mode {
        RawAuthzMode::None => AuthzMode::None,
        RawAuthzMode::Static => {
            let rules = raw
                .rules
                .ok_or("authorization: \"mode\": \"static\" needs \"rules\"")?;
            AuthzMode::Static(StaticRules::from_value(rules, "authorization.rules")?)
        }
        RawAuthzMode::SubjectAccessReview => {
            let cluster = raw.cluster.unwrap_or_else(|| cluster.into());
            if cluster.trim().is_empty() {
                return Err("authorization.cluster must name an Envoy cluster".into());
            }
            let authority = raw.authority.unwrap_or_else(|| authority.into());
            if authority.is_empty() || !authority.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "authorization.authority: {authority:?} is not a host name"
                ));
            }
            let path = raw.path.unwrap_or_else(|| DEFAULT_PATH.into());
            if !path.starts_with('/') || !path.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "authorization.path: {path:?} must be an absolute path"
                ));
            }
            let timeout_ms = raw.timeout_ms.unwrap_or(2000);
            if !(1..=60_000).contains(&timeout_ms) {
                return Err(format!(
                    "authorization.timeoutMs: {timeout_ms} is outside 1..=60000"
                ));
            }
            let allow = raw.allow_cache_ttl_seconds.unwrap_or(300);
            if allow > 3600 {
                return Err(format!(
                    "authorization.allowCacheTtlSeconds: {allow} is over 3600"
                ));
            }
            let deny = raw.deny_cache_ttl_seconds.unwrap_or(30);
            if deny > 300 {
                return Err(format!(
                    "authorization.denyCacheTtlSeconds: {deny} is over 300"
                ));
            }
            AuthzMode::SubjectAccessReview(SarSettings {
                cluster,
                authority,
                path,
                timeout: Duration::from_millis(timeout_ms),
                allow_ttl: Duration::from_secs(allow),
                deny_ttl: Duration::from_secs(deny),
            })
        }
    };
    Ok(AuthzConfig { group, mode })
}
