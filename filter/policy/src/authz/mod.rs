//! Authorization: may the reviewed identity do what this request asks, to this zone? The
//! answer comes from Kubernetes RBAC through a SubjectAccessReview, or from static rules.
//!
//! - `mapping.rs`:  request → attributes (verb, resource, subresource, zone), the one table
//! - `zone.rs`:     zone names normalised as the backend does
//! - `settings.rs`: the `authorization` configuration
//! - `rules.rs`:    static rules, decided in place
//! - `sar.rs`:      the SubjectAccessReview body and answer
//! - `cache.rs`:    decisions cached per identity and attributes, bounded
//! - `pending.rs`:  checks in flight, one callout per key
//!
//! [`Authorizer`] ties them together for both enforcement points: `begin` decides what it
//! can at once (static rules, an unmapped request, a cached decision) or says which check to
//! send; `finish` turns the check's answer into the decision and caches it.

pub mod cache;
pub mod mapping;
pub mod pending;
pub mod rules;
pub mod sar;
pub mod settings;
pub mod zone;

use crate::denial::Denial;
use crate::review::{Identity, ReviewFailure};
use cache::{DecisionCache, DecisionKey};
use mapping::Attributes;
use settings::{AuthzConfig, AuthzMode};

/// Entries in a decision cache (per worker in the filter, per process in the backend).
pub const DECISION_CACHE_CAPACITY: usize = 10_000;

/// What a request asks, as authorization sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    Known(Attributes),
    /// No row of the table: `METHOD path`, for the refusal's message. Always denied.
    Unknown(String),
}

impl Operation {
    pub fn of(method: &[u8], path: &[u8]) -> Operation {
        match mapping::attributes(method, path) {
            Some(a) => Operation::Known(a),
            None => {
                let path = path.split(|b| *b == b'?').next().unwrap_or_default();
                Operation::Unknown(format!(
                    "{} {}",
                    String::from_utf8_lossy(method),
                    String::from_utf8_lossy(path)
                ))
            }
        }
    }
}

/// What `begin` came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// Decided without asking anyone: static rules, or an unmapped request.
    Decided(Result<(), Denial>),
    /// A cached SubjectAccessReview decision.
    Cached(Result<(), Denial>),
    /// Not cached: ask the API server about these attributes under this key.
    Ask(DecisionKey),
}

pub struct Authorizer {
    pub config: AuthzConfig,
    cache: DecisionCache,
}

fn forbidden(identity: &Identity, action: String) -> Denial {
    Denial::Forbidden {
        user: identity.username.clone(),
        action,
    }
}

fn verdict(allowed: bool, identity: &Identity, attrs: &Attributes) -> Result<(), Denial> {
    if allowed {
        Ok(())
    } else {
        Err(forbidden(identity, attrs.action()))
    }
}

impl Authorizer {
    /// `secret`: a random per-process key; `scope`: what else decisions depend on (the
    /// authentication side's scope); the authorization configuration is added here.
    pub fn new(config: AuthzConfig, secret: &[u8], scope: &[u8]) -> Authorizer {
        let (allow, deny) = match &config.mode {
            AuthzMode::SubjectAccessReview(s) => (s.allow_ttl, s.deny_ttl),
            _ => Default::default(),
        };
        let mut full_scope = scope.to_vec();
        full_scope.extend_from_slice(&config.cache_scope());
        let cache = DecisionCache::new(secret, &full_scope, allow, deny, DECISION_CACHE_CAPACITY);
        Authorizer { config, cache }
    }

    pub fn begin(&self, identity: &Identity, op: &Operation, now_ms: u64) -> Begin {
        let attrs = match op {
            Operation::Known(a) => a,
            Operation::Unknown(what) => {
                return Begin::Decided(Err(forbidden(identity, what.clone())))
            }
        };
        match &self.config.mode {
            AuthzMode::None => Begin::Decided(Ok(())),
            AuthzMode::Static(rules) => {
                Begin::Decided(verdict(rules.allows(identity, attrs), identity, attrs))
            }
            AuthzMode::SubjectAccessReview(_) => {
                let key = self.cache.key(identity, attrs);
                match self.cache.get(&key, now_ms) {
                    Some(allowed) => Begin::Cached(verdict(allowed, identity, attrs)),
                    None => Begin::Ask(key),
                }
            }
        }
    }

    /// The SubjectAccessReview to send.
    pub fn request_body(&self, identity: &Identity, attrs: &Attributes) -> Vec<u8> {
        sar::sar_request_body(identity, &self.config.group, attrs)
    }

    /// The answer to a check (see [`sar::parse_sar_response`]) made into the decision; a
    /// decision is cached until its TTL or `cap_ms` (the token verdict's expiry), a failure
    /// never is.
    pub fn finish(
        &mut self,
        key: &DecisionKey,
        identity: &Identity,
        attrs: &Attributes,
        answer: &Result<bool, ReviewFailure>,
        now_ms: u64,
        cap_ms: Option<u64>,
    ) -> Result<(), Denial> {
        match answer {
            Ok(allowed) => {
                self.cache.put(key, *allowed, now_ms, cap_ms);
                verdict(*allowed, identity, attrs)
            }
            Err(_) => Err(Denial::AuthorizationUnavailable),
        }
    }
}
