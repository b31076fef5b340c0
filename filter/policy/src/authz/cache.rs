//! The authorization decision cache: one entry per (identity, verb, resource, subresource,
//! name), in memory (per worker in the filter, per process in the backend), keyed like the
//! worker's verdict memo (`recent.rs`) by a 128-bit keyed SipHash-1-3 over `scope ||
//! attributes`, never the raw attributes. Its 128-bit key is derived from the instance's
//! random secret (domain-separated SHA-256), and the whole 128-bit digest is the table's key,
//! so a hit is a match of all of it. The scope carries the authorization configuration, so a
//! configuration change never finds a decision made under other terms. (SipHash, not the shared cache's HMAC-SHA256: this key is computed on every
//! authorized request, and HMAC there cost about a quarter of the filter's throughput in
//! `make bench`; entries never leave the instance, as the memo's do not.) Allowed and denied
//! decisions live for their own TTLs, and never past the cached verdict of the token that led
//! to them (`cap_ms`); with no cached verdict, nothing is kept. Errors are never stored.
//! Bounded: when full, expired entries go, and if none has, it starts over (one more
//! SubjectAccessReview per key, never a wrong answer).

use std::collections::HashMap;
use std::hash::Hasher;
use std::time::Duration;

use sha2::{Digest, Sha256};
use siphasher::sip128::{Hasher128, SipHasher13};

use super::mapping::Attributes;
use crate::review::Identity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecisionKey([u8; 32]);

impl DecisionKey {
    pub fn digest(&self) -> &[u8; 32] {
        &self.0
    }
}

pub struct DecisionCache {
    /// Keyed from the secret, already fed the scope.
    hasher: SipHasher13,
    map: HashMap<[u8; 32], (u64, bool)>,
    capacity: usize,
    allow_ttl_ms: u64,
    deny_ttl_ms: u64,
}

/// Length-prefixed, so moving bytes from one field to the next changes the key.
fn field(h: &mut impl Hasher, bytes: &[u8]) {
    h.write_u64(bytes.len() as u64);
    h.write(bytes);
}

const NONE: &str = "\0none";

impl DecisionCache {
    pub fn new(
        secret: &[u8],
        scope: &[u8],
        allow_ttl: Duration,
        deny_ttl: Duration,
        capacity: usize,
    ) -> Self {
        let mut key = [0u8; 16];
        let derived = Sha256::new()
            .chain_update(b"bindcar decision cache key\0")
            .chain_update(secret)
            .finalize();
        key.copy_from_slice(&derived[..16]);
        let mut hasher = SipHasher13::new_with_key(&key);
        field(&mut hasher, scope);
        DecisionCache {
            hasher,
            map: HashMap::new(),
            capacity,
            allow_ttl_ms: allow_ttl.as_millis() as u64,
            deny_ttl_ms: deny_ttl.as_millis() as u64,
        }
    }

    pub fn key(&self, identity: &Identity, attrs: &Attributes) -> DecisionKey {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&digest(&self.hasher, identity, attrs).to_be_bytes());
        DecisionKey(key)
    }

    /// The cached decision (true = allowed), if still fresh.
    pub fn get(&self, key: &DecisionKey, now_ms: u64) -> Option<bool> {
        match self.map.get(&key.0) {
            Some((expires, allowed)) if now_ms < *expires => Some(*allowed),
            _ => None,
        }
    }

    /// Stores a decision until its TTL or `cap_ms`, whichever is first; returns that expiry,
    /// or `None` when nothing was stored (zero TTL, no cap, capacity zero).
    pub fn put(
        &mut self,
        key: &DecisionKey,
        allowed: bool,
        now_ms: u64,
        cap_ms: Option<u64>,
    ) -> Option<u64> {
        let ttl = if allowed {
            self.allow_ttl_ms
        } else {
            self.deny_ttl_ms
        };
        let expires = now_ms.saturating_add(ttl).min(cap_ms?);
        if expires <= now_ms || self.capacity == 0 {
            return None;
        }
        if self.map.len() >= self.capacity && !self.map.contains_key(&key.0) {
            self.map.retain(|_, (e, _)| now_ms < *e);
            if self.map.len() >= self.capacity {
                self.map.clear();
            }
        }
        self.map.insert(key.0, (expires, allowed));
        Some(expires)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

fn digest(start: &SipHasher13, identity: &Identity, attrs: &Attributes) -> u128 {
    let mut h = *start;
    field(&mut h, identity.username.as_bytes());
    field(&mut h, identity.uid.as_deref().unwrap_or(NONE).as_bytes());
    h.write_u64(identity.groups.len() as u64);
    for g in &identity.groups {
        field(&mut h, g.as_bytes());
    }
    h.write_u64(identity.extra.len() as u64);
    for (k, values) in &identity.extra {
        field(&mut h, k.as_bytes());
        h.write_u64(values.len() as u64);
        for v in values {
            field(&mut h, v.as_bytes());
        }
    }
    field(&mut h, attrs.verb.as_bytes());
    field(&mut h, attrs.resource.as_bytes());
    field(&mut h, attrs.subresource.unwrap_or(NONE).as_bytes());
    field(&mut h, attrs.name.as_deref().unwrap_or(NONE).as_bytes());
    h.finish128().as_u128()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::mapping::attributes;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn id(name: &str, groups: &[&str]) -> Identity {
        Identity {
            username: name.into(),
            uid: None,
            extra: Default::default(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    fn cache(scope: &[u8]) -> DecisionCache {
        DecisionCache::new(
            b"secret",
            scope,
            Duration::from_secs(300),
            Duration::from_secs(30),
            4,
        )
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn keys_separate_every_attribute_and_the_scope() {
        let c = cache(b"s");
        let a = attributes(b"GET", b"/api/v1/zones/a.com").unwrap();
        let base = c.key(&id("u", &["g"]), &a);
        assert_eq!(base, c.key(&id("u", &["g"]), &a));
        let others = [
            c.key(&id("v", &["g"]), &a),
            c.key(&id("u", &[]), &a),
            c.key(&id("u", &["g", "h"]), &a),
            c.key(
                &id("u", &["g"]),
                &attributes(b"DELETE", b"/api/v1/zones/a.com").unwrap(),
            ),
            c.key(
                &id("u", &["g"]),
                &attributes(b"GET", b"/api/v1/zones/b.com").unwrap(),
            ),
            c.key(
                &id("u", &["g"]),
                &attributes(b"GET", b"/api/v1/zones/a.com/status").unwrap(),
            ),
            cache(b"t").key(&id("u", &["g"]), &a),
            DecisionCache::new(
                b"other secret",
                b"s",
                Duration::from_secs(300),
                Duration::from_secs(30),
                4,
            )
            .key(&id("u", &["g"]), &a),
        ];
        for o in others {
            assert_ne!(o, base);
        }
        let mut uid = id("u", &["g"]);
        uid.uid = Some("1".into());
        assert_ne!(c.key(&uid, &a), base);
        // Length-prefixed fields: moving bytes between fields changes the key.
        assert_ne!(c.key(&id("ab", &["c"]), &a), c.key(&id("a", &["bc"]), &a));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn ttls_by_outcome_and_never_past_the_cap() {
        let mut c = cache(b"s");
        let a = attributes(b"GET", b"/api/v1/zones").unwrap();
        let (yes, no) = (c.key(&id("yes", &[]), &a), c.key(&id("no", &[]), &a));
        assert_eq!(c.put(&yes, true, 1_000, Some(u64::MAX)), Some(301_000));
        assert_eq!(c.put(&no, false, 1_000, Some(u64::MAX)), Some(31_000));
        assert_eq!(c.get(&yes, 300_999), Some(true));
        assert_eq!(c.get(&yes, 301_000), None);
        assert_eq!(c.get(&no, 30_999), Some(false));
        assert_eq!(c.get(&no, 31_000), None);
        // The token's verdict expires first: so does the decision.
        assert_eq!(c.put(&yes, true, 1_000, Some(5_000)), Some(5_000));
        assert_eq!(c.get(&yes, 5_000), None);
        // No cached verdict, or already past it: not stored.
        let k = c.key(&id("z", &[]), &a);
        assert_eq!(c.put(&k, true, 1_000, None), None);
        assert_eq!(c.put(&k, true, 1_000, Some(1_000)), None);
        assert_eq!(c.get(&k, 1_000), None);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn bounded() {
        let mut c = cache(b"s");
        let a = attributes(b"GET", b"/api/v1/zones").unwrap();
        for i in 0..1000 {
            let k = c.key(&id(&format!("u{i}"), &[]), &a);
            c.put(&k, true, 0, Some(u64::MAX));
            assert!(c.len() <= 4);
        }
        let mut off =
            DecisionCache::new(b"k", b"", Duration::from_secs(1), Duration::from_secs(1), 0);
        let k = off.key(&id("u", &[]), &a);
        assert_eq!(off.put(&k, true, 0, Some(u64::MAX)), None);
        assert!(off.is_empty());
    }
}
