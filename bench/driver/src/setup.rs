//! The pieces every part starts from: tokens, plugin configurations, Envoys, the checks
//! before any load, the environment and bodies for bindcar.

use std::collections::BTreeMap;

use anyhow::{ensure, Result};
use bindcar_testbed::envoy::{Envoy, EnvoyOptions};
use bindcar_testbed::tokenreview::{MintRequest, TokenReviewServer};
use serde_json::{json, Value};

use crate::{AUDIENCE, CACHE_TTL_SECS, NAMESPACE, ZONES};

/// `n` ServiceAccount tokens of `NAMESPACE` (spread over 8 ServiceAccounts), minted on
/// every core (RS256 signing is most of the cost).
pub(crate) fn mint(api: &TokenReviewServer, tag: &str, n: usize) -> Vec<String> {
    let workers = std::thread::available_parallelism()
        .map(|p| p.get())
        .unwrap_or(1);
    let mut parts: Vec<Vec<String>> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                s.spawn(move || {
                    (w..n)
                        .step_by(workers)
                        .map(|i| {
                            api.mint(&MintRequest::new(
                                NAMESPACE,
                                &format!("{tag}-{}", i % 8),
                                &[AUDIENCE],
                            ))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            parts.push(h.join().unwrap_or_default());
        }
    });
    parts.into_iter().flatten().collect()
}

pub(crate) fn identity_headers() -> Value {
    json!({"user": "x-remote-user", "groups": "x-remote-group"})
}

pub(crate) fn basic_config() -> String {
    json!({"mode": "basic", "identityHeaders": identity_headers()}).to_string()
}

pub(crate) fn tokenreview_config(api: &TokenReviewServer) -> String {
    json!({
        "mode": "tokenReview",
        "identityHeaders": identity_headers(),
        "tokenReview": {
            "audiences": [AUDIENCE],
            "allowedNamespaces": [NAMESPACE],
            "reviewerToken": api.reviewer_token(),
            "cacheTtlSeconds": CACHE_TTL_SECS,
        }
    })
    .to_string()
}

/// TokenReview as (c), plus authorization by SubjectAccessReview (defaults: decisions cached
/// 300 s allowed): with warm caches, no callout at all.
pub(crate) fn authz_config(api: &TokenReviewServer) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&tokenreview_config(api)).unwrap_or_default();
    v["authorization"] = json!({"mode": "subjectAccessReview"});
    v.to_string()
}

pub(crate) fn start_envoy(opts: EnvoyOptions, workers: u32) -> Result<Envoy> {
    let mut o = opts;
    o.concurrency = workers;
    Envoy::start(&o)
}

/// One authenticated GET through `port` must answer 200 before any load is measured.
pub(crate) fn expect_ok(port: u16, token: &str, what: &str) -> Result<()> {
    let r = bindcar_testbed::http::get(
        port,
        ZONES,
        &[("authorization", format!("Bearer {token}").as_bytes())],
    )?;
    ensure!(
        r.status == 200,
        "{what}: GET {ZONES} answered {} {}",
        r.status,
        r.text()
    );
    Ok(())
}

pub(crate) fn counters(envoy: &Envoy) -> BTreeMap<&'static str, u64> {
    [
        "bindcar_auth_allowed",
        "bindcar_auth_cache_hits",
        "bindcar_auth_cache_misses",
        "bindcar_auth_reviews_sent",
        "bindcar_auth_authz_checks_sent",
        "bindcar_auth_authz_cache_hits",
    ]
    .into_iter()
    .map(|name| (name, envoy.counter(name).unwrap_or(0)))
    .collect()
}

pub(crate) fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(crate) fn zone_body(name: &str) -> Vec<u8> {
    json!({
        "zoneName": name,
        "zoneType": "primary",
        "zoneConfig": {
            "ttl": 300,
            "soa": {"primaryNs": format!("ns1.{name}."), "adminEmail": format!("hostmaster.{name}.")},
            "nameServers": [format!("ns1.{name}.")],
            "nameServerIps": {format!("ns1.{name}."): "127.0.0.1"},
            "records": [
                {"name": "www", "type": "A", "value": "192.0.2.10", "ttl": 60},
                {"name": "@", "type": "TXT", "value": "\"v=spf1 -all\""}
            ]
        }
    })
    .to_string()
    .into_bytes()
}
