//! The TokenReview verdict cache, bounded by construction.
//!
//! Keys are `HMAC-SHA256(secret, scope || token)`: never the raw token, and `scope` carries
//! everything else a review depends on (reviewer endpoint, audiences), so a configuration
//! change never finds an answer given under other terms. We cache the reviewer's *outcome*
//! (who the token is), not the access verdict: allowlists are applied afresh on every
//! request, so a changed allowlist takes effect at once.
//!
//! Storage is a direct-mapped table of `max_entries` slots (slot = digest mod N), each holding
//! one entry that carries its full digest and expiry. A flood of random tokens can only
//! overwrite slots, never add any, so memory is bounded whatever the store (Envoy shared data
//! has no expiry of its own). A collision costs one extra review, never a wrong answer.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::jwt;
use crate::review::ReviewOutcome;

/// An entry larger than this (huge group lists) is not cached.
const MAX_ENTRY_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Life of an "authenticated" outcome, never past the token's own `exp`. Zero: not cached.
    pub ttl: Duration,
    /// Life of a definitive "not authenticated" outcome. Zero: not cached.
    pub negative_ttl: Duration,
    /// Number of slots. Zero disables the cache.
    pub max_entries: u32,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(5),
            max_entries: 10_000,
        }
    }
}

/// Where slots live: Envoy shared data in the filter, a map in the backend.
pub trait SlotStore {
    fn load(&self, slot: u32) -> Option<Vec<u8>>;
    fn save(&self, slot: u32, entry: &[u8]);
}

/// A token as the cache knows it: its keyed digest and its own expiry, computed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey {
    digest: [u8; 32],
    token_exp: Option<u64>,
}

impl CacheKey {
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }
}

#[derive(Serialize, Deserialize)]
struct Entry {
    /// Hex digest, to tell our entry from a colliding one.
    d: String,
    /// Expiry, Unix milliseconds.
    x: u64,
    o: ReviewOutcome,
}

pub struct VerdictCache<S> {
    store: S,
    settings: CacheSettings,
    mac: Hmac<Sha256>,
}

impl<S: SlotStore> VerdictCache<S> {
    /// `secret`: a random per-process key. `scope`: what else the outcome depends on.
    pub fn new(store: S, settings: CacheSettings, secret: &[u8], scope: &[u8]) -> Self {
        // A fixed-size key (the secret's digest) so construction cannot fail.
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(&Sha256::digest(secret));
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&key.into());
        mac.update(&(scope.len() as u64).to_be_bytes());
        mac.update(scope);
        VerdictCache {
            store,
            settings,
            mac,
        }
    }

    pub fn settings(&self) -> &CacheSettings {
        &self.settings
    }

    pub fn store_ref(&self) -> &S {
        &self.store
    }

    pub fn key(&self, token: &[u8]) -> CacheKey {
        let mut mac = self.mac.clone();
        mac.update(token);
        let digest: [u8; 32] = mac.finalize().into_bytes().into();
        CacheKey {
            digest,
            token_exp: jwt::expiry_unix_seconds(token),
        }
    }

    pub fn lookup(&self, key: &CacheKey, now: SystemTime) -> Option<ReviewOutcome> {
        let slot = self.slot(key)?;
        let bytes = self.store.load(slot)?;
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        (entry.d == hex(&key.digest) && unix_ms(now) < entry.x).then_some(entry.o)
    }

    /// Returns whether the outcome was cached.
    pub fn store(&self, key: &CacheKey, outcome: &ReviewOutcome, now: SystemTime) -> bool {
        let Some(slot) = self.slot(key) else {
            return false;
        };
        let now_ms = unix_ms(now);
        let life_ms = match outcome {
            ReviewOutcome::Authenticated { .. } => {
                let ttl = self.settings.ttl.as_millis() as u64;
                match key.token_exp {
                    Some(exp) => ttl.min((exp * 1000).saturating_sub(now_ms)),
                    None => ttl,
                }
            }
            ReviewOutcome::Rejected { .. } => self.settings.negative_ttl.as_millis() as u64,
        };
        if life_ms == 0 {
            return false;
        }
        let entry = Entry {
            d: hex(&key.digest),
            x: now_ms + life_ms,
            o: outcome.clone(),
        };
        match serde_json::to_vec(&entry) {
            Ok(bytes) if bytes.len() <= MAX_ENTRY_BYTES => {
                self.store.save(slot, &bytes);
                true
            }
            _ => false,
        }
    }

    fn slot(&self, key: &CacheKey) -> Option<u32> {
        let n = self.settings.max_entries;
        let d = &key.digest;
        (n > 0).then(|| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % n)
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An in-process slot store (the backend's), bounded by the slot count like any other.
#[derive(Default)]
pub struct MemoryStore(std::sync::Mutex<std::collections::HashMap<u32, Vec<u8>>>);

impl MemoryStore {
    pub fn len(&self) -> usize {
        self.0.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SlotStore for MemoryStore {
    fn load(&self, slot: u32) -> Option<Vec<u8>> {
        self.0.lock().ok()?.get(&slot).cloned()
    }

    fn save(&self, slot: u32, entry: &[u8]) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(slot, entry.to_vec());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::Identity;
    use base64::Engine;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn ok() -> ReviewOutcome {
        ReviewOutcome::Authenticated {
            user: Some(Identity {
                username: "system:serviceaccount:dns:a".into(),
                uid: None,
                groups: vec![],
            }),
            audiences: vec!["bindcar".into()],
        }
    }

    fn no() -> ReviewOutcome {
        ReviewOutcome::Rejected {
            reason: Some("expired".into()),
        }
    }

    fn cache(max: u32) -> VerdictCache<MemoryStore> {
        let s = CacheSettings {
            ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(5),
            max_entries: max,
        };
        VerdictCache::new(MemoryStore::default(), s, b"k", b"scope")
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn jwt_exp(exp: u64) -> Vec<u8> {
        let p =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{{\"exp\":{exp}}}"));
        format!("eyJhbGciOiJSUzI1NiJ9.{p}.c2ln").into_bytes()
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn positive_entries_live_ttl() {
        let c = cache(100);
        let k = c.key(b"opaque");
        assert_eq!(c.lookup(&k, at(1000)), None);
        assert!(c.store(&k, &ok(), at(1000)));
        assert_eq!(c.lookup(&k, at(1059)), Some(ok()));
        assert_eq!(c.lookup(&k, at(1060)), None);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn negative_entries_live_negative_ttl() {
        let c = cache(100);
        let k = c.key(b"bad");
        assert!(c.store(&k, &no(), at(1000)));
        assert_eq!(c.lookup(&k, at(1004)), Some(no()));
        assert_eq!(c.lookup(&k, at(1005)), None);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn never_past_the_tokens_exp() {
        let c = cache(100);
        let k = c.key(&jwt_exp(1010));
        assert!(c.store(&k, &ok(), at(1000)));
        assert_eq!(c.lookup(&k, at(1009)), Some(ok()));
        assert_eq!(c.lookup(&k, at(1010)), None);
        let expired = c.key(&jwt_exp(900));
        assert!(!c.store(&expired, &ok(), at(1000)));
        assert_eq!(c.lookup(&expired, at(1000)), None);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn keys_are_keyed_and_scoped() {
        let a = cache(100);
        let b = VerdictCache::new(MemoryStore::default(), *a.settings(), b"k", b"other scope");
        let c = VerdictCache::new(
            MemoryStore::default(),
            *a.settings(),
            b"other key",
            b"scope",
        );
        assert_ne!(a.key(b"t").digest(), b.key(b"t").digest());
        assert_ne!(a.key(b"t").digest(), c.key(b"t").digest());
        assert_ne!(a.key(b"t").digest(), a.key(b"u").digest());
        assert_eq!(a.key(b"t"), a.key(b"t"));
        // The stored entry never contains the token.
        a.store(&a.key(b"secret-token-value"), &ok(), at(0));
        let raw = a
            .store_ref()
            .load(a.slot(&a.key(b"secret-token-value")).unwrap())
            .unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains("secret-token-value"));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn bounded_by_slot_count_and_collisions_only_evict() {
        let c = cache(16);
        for i in 0..10_000 {
            let k = c.key(format!("random-{i}").as_bytes());
            c.store(&k, &no(), at(0));
        }
        assert!(c.store_ref().len() <= 16);
        // A token whose slot was overwritten by another is a miss, never the other's outcome.
        let good = c.key(b"good");
        c.store(&good, &ok(), at(0));
        let mut evicted = false;
        for i in 0..1000 {
            let k = c.key(format!("flood-{i}").as_bytes());
            c.store(&k, &no(), at(0));
            match c.lookup(&good, at(1)) {
                Some(o) => assert_eq!(o, ok()),
                None => evicted = true,
            }
        }
        assert!(evicted);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn disabled_cache_stores_nothing() {
        let c = cache(0);
        let k = c.key(b"t");
        assert!(!c.store(&k, &ok(), at(0)));
        assert_eq!(c.lookup(&k, at(0)), None);
        let zero_ttl = VerdictCache::new(
            MemoryStore::default(),
            CacheSettings {
                ttl: Duration::ZERO,
                negative_ttl: Duration::ZERO,
                max_entries: 10,
            },
            b"k",
            b"",
        );
        assert!(!zero_ttl.store(&zero_ttl.key(b"t"), &ok(), at(0)));
        assert!(!zero_ttl.store(&zero_ttl.key(b"t"), &no(), at(0)));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn corrupt_slots_are_misses() {
        let c = cache(1);
        let k = c.key(b"t");
        c.store_ref().save(0, b"\xff not json");
        assert_eq!(c.lookup(&k, at(0)), None);
    }
}
