//! Minting and verifying tokens the way the kube-apiserver does for projected
//! ServiceAccount tokens (RS256 JWTs), plus plain-user tokens of our own.
//!
//! Verification follows the apiserver's order: issuer, signature, audiences, then the
//! time claims (with go-jose's 60 s leeway by default), then the identity claims.

use std::{
    collections::BTreeMap,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use super::keys::JwtKey;

/// The claim that marks a plain-user token (see [`super::TokenReviewServer::mint_user`]).
/// The real apiserver authenticates such users by client certificates, OIDC or webhooks;
/// here one JWT claim stands in for all of those.
pub const USER_CLAIM: &str = "e2e.bindcar.io/user";

/// What to put in a ServiceAccount token. `MintRequest::new` fills in sensible defaults
/// (one hour, signed by the server's key, not expired).
#[derive(Clone, Debug)]
pub struct MintRequest {
    pub namespace: String,
    pub service_account: String,
    /// The `aud` claim (`kubectl create token --audience`). Empty means none, which the
    /// server treats like the apiserver: the token is then valid for the API audiences.
    pub audiences: Vec<String>,
    /// `exp = now + ttl` (ignored when `expired`).
    pub ttl: Duration,
    /// Mint an already expired token: `iat = nbf = now - 2h`, `exp = now - 1h`, well past
    /// the verifier's leeway.
    pub expired: bool,
    /// Explicit `nbf` (default: now). A value in the future makes the token "not valid yet".
    pub not_before: Option<SystemTime>,
    /// The ServiceAccount's uid. Default: a uuid the server assigns to `<ns>/<name>` on
    /// first use and keeps for its lifetime, as a real ServiceAccount object would.
    pub uid: Option<String>,
    /// Sign with a key the server does not trust (as if from another cluster).
    pub sign_with_other_key: bool,
    /// Override `iss` (default: the server's issuer), to produce a foreign-issuer token.
    pub issuer: Option<String>,
}

impl MintRequest {
    pub fn new(namespace: &str, service_account: &str, audiences: &[&str]) -> Self {
        Self {
            namespace: namespace.to_string(),
            service_account: service_account.to_string(),
            audiences: audiences.iter().map(|a| a.to_string()).collect(),
            ttl: Duration::from_secs(3600),
            expired: false,
            not_before: None,
            uid: None,
            sign_with_other_key: false,
            issuer: None,
        }
    }
}

/// `aud` may be a single string or an array (RFC 7519 §4.1.3).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<Audience>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    #[serde(rename = "kubernetes.io", skip_serializing_if = "Option::is_none")]
    kubernetes: Option<KubernetesClaims>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(
        rename = "e2e.bindcar.io/user",
        skip_serializing_if = "Option::is_none"
    )]
    user: Option<UserClaims>,
}

#[derive(Debug, Serialize, Deserialize)]
struct KubernetesClaims {
    namespace: String,
    serviceaccount: ObjectRef,
}

#[derive(Debug, Serialize, Deserialize)]
struct ObjectRef {
    name: String,
    uid: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct UserClaims {
    username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
}

/// `status.user` of a successful review.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct UserInfo {
    pub(crate) username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) uid: Option<String>,
    pub(crate) groups: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) extra: BTreeMap<String, Vec<String>>,
}

/// A token that passed verification.
#[derive(Clone, Debug)]
pub(crate) struct Verified {
    pub(crate) user: UserInfo,
    /// `status.audiences`: the token's audiences that are also requested.
    pub(crate) audiences: Vec<String>,
}

/// What verification needs from the server.
pub(crate) struct Verifier<'a> {
    pub(crate) key: &'a JwtKey,
    pub(crate) issuer: &'a str,
    pub(crate) api_audiences: &'a [String],
    pub(crate) leeway: Duration,
}

fn unix_now() -> i64 {
    unix(SystemTime::now())
}

fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    }
}

fn sign(key: &JwtKey, claims: &Claims) -> anyhow::Result<String> {
    // Like the apiserver's tokens: `{"alg":"RS256","kid":"..."}`, no `typ`.
    let mut header = Header::new(Algorithm::RS256);
    header.typ = None;
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).context("sign JWT")
}

/// Time claims for a new token: `(iat, nbf, exp)`.
fn times(ttl: Duration, expired: bool, not_before: Option<SystemTime>) -> (i64, i64, i64) {
    let now = unix_now();
    if expired {
        (now - 7200, now - 7200, now - 3600)
    } else {
        let nbf = not_before.map(unix).unwrap_or(now);
        (now, nbf, now + ttl.as_secs() as i64)
    }
}

pub(crate) fn mint_service_account(
    key: &JwtKey,
    issuer: &str,
    req: &MintRequest,
    uid: String,
) -> anyhow::Result<String> {
    let (iat, nbf, exp) = times(req.ttl, req.expired, req.not_before);
    let claims = Claims {
        aud: Some(Audience::Many(req.audiences.clone())),
        exp: Some(exp),
        iat: Some(iat),
        iss: Some(req.issuer.clone().unwrap_or_else(|| issuer.to_string())),
        jti: Some(uuid::Uuid::new_v4().to_string()),
        kubernetes: Some(KubernetesClaims {
            namespace: req.namespace.clone(),
            serviceaccount: ObjectRef {
                name: req.service_account.clone(),
                uid,
            },
        }),
        nbf: Some(nbf),
        sub: Some(format!(
            "system:serviceaccount:{}:{}",
            req.namespace, req.service_account
        )),
        user: None,
    };
    sign(key, &claims)
}

pub(crate) fn mint_user(
    key: &JwtKey,
    issuer: &str,
    username: &str,
    groups: &[&str],
    audiences: &[&str],
    ttl: Duration,
) -> anyhow::Result<String> {
    let (iat, nbf, exp) = times(ttl, false, None);
    let claims = Claims {
        aud: Some(Audience::Many(
            audiences.iter().map(|a| a.to_string()).collect(),
        )),
        exp: Some(exp),
        iat: Some(iat),
        iss: Some(issuer.to_string()),
        jti: Some(uuid::Uuid::new_v4().to_string()),
        kubernetes: None,
        nbf: Some(nbf),
        sub: Some(username.to_string()),
        user: Some(UserClaims {
            username: username.to_string(),
            uid: None,
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }),
    };
    sign(key, &claims)
}

/// The apiserver's wording for a signature it cannot verify (also used for anything that
/// is not a JWT at all).
const BAD_CRYPTO: &str = "square/go-jose: error in cryptographic primitive";

/// Go's `%q` of a `[]string`: `["a" "b"]`.
fn go_quoted(list: &[String]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|s| serde_json::Value::String(s.clone()).to_string())
        .collect();
    format!("[{}]", items.join(" "))
}

impl Verifier<'_> {
    /// Verifies `token` for the requested audiences (`spec.audiences`; empty = the API
    /// audiences). `Err` carries the `status.error` text, e.g.
    /// `[invalid bearer token, service account token has expired]`.
    pub(crate) fn verify(&self, token: &str, requested: &[String]) -> Result<Verified, String> {
        self.check(token, requested)
            .map_err(|reason| format!("[invalid bearer token, {reason}]"))
    }

    fn check(&self, token: &str, requested: &[String]) -> Result<Verified, String> {
        // 1. Issuer, read before the signature like the apiserver does to pick a verifier.
        let unverified: Claims = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|_| BAD_CRYPTO.to_string())?;
        let iss = unverified.iss.unwrap_or_default();
        if iss != self.issuer {
            return Err(format!("token issuer {iss:?} is not trusted"));
        }

        // 2. Signature (RS256 only; `alg: none` or HS256 fail here too).
        let mut validation = Validation::new(Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key.decoding, &validation)
            .map_err(|_| BAD_CRYPTO.to_string())?
            .claims;

        // 3. Audiences: a token without `aud` is valid for the API audiences; so is a
        //    review without `spec.audiences`.
        let token_auds = match &claims.aud {
            Some(Audience::One(a)) => vec![a.clone()],
            Some(Audience::Many(v)) => v.clone(),
            None => Vec::new(),
        };
        let token_auds = if token_auds.is_empty() {
            self.api_audiences.to_vec()
        } else {
            token_auds
        };
        let wanted = if requested.is_empty() {
            self.api_audiences
        } else {
            requested
        };
        let audiences: Vec<String> = token_auds
            .iter()
            .filter(|a| wanted.contains(a))
            .cloned()
            .collect();
        if audiences.is_empty() {
            return Err(format!(
                "token audiences {} is invalid for the target audiences {}",
                go_quoted(&token_auds),
                go_quoted(wanted)
            ));
        }

        // 4. Time claims, go-jose order (nbf, exp, iat) and leeway.
        let now = unix_now();
        let leeway = self.leeway.as_secs() as i64;
        if claims.nbf.is_some_and(|nbf| now + leeway < nbf) {
            return Err("service account token is not valid yet".into());
        }
        if claims.exp.is_some_and(|exp| now - leeway > exp) {
            return Err("service account token has expired".into());
        }
        if claims.iat.is_some_and(|iat| now + leeway < iat) {
            return Err("service account token is issued in the future".into());
        }

        // 5. Who it is.
        let user = if let Some(k) = claims.kubernetes {
            let ns = k.namespace;
            let mut extra = BTreeMap::new();
            if let Some(jti) = claims.jti {
                extra.insert(
                    "authentication.kubernetes.io/credential-id".to_string(),
                    vec![format!("JTI={jti}")],
                );
            }
            UserInfo {
                username: format!("system:serviceaccount:{ns}:{}", k.serviceaccount.name),
                uid: Some(k.serviceaccount.uid),
                groups: vec![
                    "system:serviceaccounts".to_string(),
                    format!("system:serviceaccounts:{ns}"),
                    "system:authenticated".to_string(),
                ],
                extra,
            }
        } else if let Some(u) = claims.user {
            // Every authenticated user is in system:authenticated (the apiserver's group adder).
            let mut groups = u.groups;
            if !groups.iter().any(|g| g == "system:authenticated") {
                groups.push("system:authenticated".to_string());
            }
            UserInfo {
                username: u.username,
                uid: u.uid,
                groups,
                extra: BTreeMap::new(),
            }
        } else {
            return Err("service account token claims could not be verified".into());
        };
        Ok(Verified { user, audiences })
    }
}
