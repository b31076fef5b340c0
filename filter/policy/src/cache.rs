//! The TokenReview verdict cache, bounded by construction.
//!
//! Keys are `HMAC-SHA256(secret, scope || token)`: never the raw token, and `scope` carries
//! everything else a review depends on (reviewer endpoint, audiences), so a configuration
//! change never finds an answer given under other terms. We cache the reviewer's *outcome*
//! (who the token is), not the access verdict: allowlists are applied afresh on every
//! request, so a changed allowlist takes effect at once.
//!
//! Storage is a table of `max_entries` slots, each holding one entry that carries its full
//! digest and expiry. A token may live in any of [`WAYS`] candidate slots (taken from
//! different bytes of its digest); a new entry takes a free or expired candidate, else evicts
//! the one that expires soonest. A flood of random tokens can only overwrite slots, never add
//! any, so memory is bounded whatever the store (Envoy shared data has no expiry of its own).
//! Two busy tokens rarely share all their candidates, so they do not evict each other in
//! turn; an eviction costs one extra review, never a wrong answer.
//!
//! Entry layout: 32-byte digest, 8-byte expiry (Unix ms, big-endian), then the outcome as
//! JSON. A lookup compares the first 40 bytes before parsing anything.
//!
//! Why one file of ~460 lines: the code is ~250 lines of one concern (the slot table, its
//! layout and its eviction rule are one invariant), and the rest is its tests, which stay here
//! because they check the private candidate-slot choice.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::jwt;
use crate::review::ReviewOutcome;

/// An entry larger than this (huge group lists) is not cached.
const MAX_ENTRY_BYTES: usize = 8 * 1024;

/// Candidate slots per token.
pub const WAYS: usize = 4;

const HEADER: usize = 40;

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

/// A token as the cache knows it: its keyed digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey {
    digest: [u8; 32],
}

impl CacheKey {
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }
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
        CacheKey {
            digest: mac.finalize().into_bytes().into(),
        }
    }

    pub fn lookup(&self, key: &CacheKey, now: SystemTime) -> Option<ReviewOutcome> {
        self.lookup_with_expiry(key, now)
            .map(|(outcome, _)| outcome)
    }

    /// The cached outcome and when it expires (Unix ms).
    pub fn lookup_with_expiry(
        &self,
        key: &CacheKey,
        now: SystemTime,
    ) -> Option<(ReviewOutcome, u64)> {
        let now_ms = unix_ms(now);
        for slot in self.candidates(key) {
            let Some(bytes) = self.store.load(slot) else {
                continue;
            };
            if let Some(expires) = header(&bytes, key) {
                if now_ms >= expires {
                    return None;
                }
                return serde_json::from_slice(&bytes[HEADER..])
                    .ok()
                    .map(|o| (o, expires));
            }
        }
        None
    }

    /// Caches the outcome; returns its expiry (Unix ms) if it was cached. `token` is read only
    /// for its own `exp`.
    pub fn store(
        &self,
        key: &CacheKey,
        token: &[u8],
        outcome: &ReviewOutcome,
        now: SystemTime,
    ) -> Option<u64> {
        let now_ms = unix_ms(now);
        let life_ms = match outcome {
            ReviewOutcome::Authenticated { .. } => {
                let ttl = self.settings.ttl.as_millis() as u64;
                match jwt::expiry_unix_seconds(token) {
                    Some(exp) => ttl.min(exp.saturating_mul(1000).saturating_sub(now_ms)),
                    None => ttl,
                }
            }
            ReviewOutcome::Rejected { .. } => self.settings.negative_ttl.as_millis() as u64,
        };
        if life_ms == 0 {
            return None;
        }
        let slot = self.slot_for_store(key, now_ms)?;
        let expires = now_ms + life_ms;
        let mut entry = Vec::with_capacity(256);
        entry.extend_from_slice(&key.digest);
        entry.extend_from_slice(&expires.to_be_bytes());
        if serde_json::to_writer(&mut entry, outcome).is_err() || entry.len() > MAX_ENTRY_BYTES {
            return None;
        }
        self.store.save(slot, &entry);
        Some(expires)
    }

    /// The key's own slot if present, else a free or expired candidate, else the candidate
    /// that expires soonest.
    fn slot_for_store(&self, key: &CacheKey, now_ms: u64) -> Option<u32> {
        let mut best: Option<(u32, u64)> = None;
        for slot in self.candidates(key) {
            let expires = match self.store.load(slot) {
                None => return Some(slot),
                Some(bytes) if header(&bytes, key).is_some() => return Some(slot),
                Some(bytes) => match bytes
                    .get(32..HEADER)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                {
                    Some(x) => u64::from_be_bytes(x),
                    None => 0,
                },
            };
            if expires <= now_ms {
                return Some(slot);
            }
            if best.is_none_or(|(_, e)| expires < e) {
                best = Some((slot, expires));
            }
        }
        best.map(|(slot, _)| slot)
    }

    fn candidates(&self, key: &CacheKey) -> impl Iterator<Item = u32> + '_ {
        let n = self.settings.max_entries;
        let d = key.digest;
        (0..if n == 0 { 0 } else { WAYS }).map(move |i| {
            u32::from_be_bytes([d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3]]) % n
        })
    }
}

/// The entry's expiry if it belongs to `key`.
fn header(entry: &[u8], key: &CacheKey) -> Option<u64> {
    if entry.len() < HEADER || entry[..32] != key.digest {
        return None;
    }
    Some(u64::from_be_bytes(
        <[u8; 8]>::try_from(&entry[32..HEADER]).ok()?,
    ))
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
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
                extra: Default::default(),
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

    fn put(c: &VerdictCache<MemoryStore>, token: &[u8], o: &ReviewOutcome, t: SystemTime) -> bool {
        c.store(&c.key(token), token, o, t).is_some()
    }

    fn get(c: &VerdictCache<MemoryStore>, token: &[u8], t: SystemTime) -> Option<ReviewOutcome> {
        c.lookup(&c.key(token), t)
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn positive_entries_live_ttl() {
        let c = cache(100);
        assert_eq!(get(&c, b"opaque", at(1000)), None);
        assert!(put(&c, b"opaque", &ok(), at(1000)));
        assert_eq!(get(&c, b"opaque", at(1059)), Some(ok()));
        assert_eq!(
            c.lookup_with_expiry(&c.key(b"opaque"), at(1059))
                .map(|(_, x)| x),
            Some(1_060_000)
        );
        assert_eq!(get(&c, b"opaque", at(1060)), None);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn negative_entries_live_negative_ttl() {
        let c = cache(100);
        assert!(put(&c, b"bad", &no(), at(1000)));
        assert_eq!(get(&c, b"bad", at(1004)), Some(no()));
        assert_eq!(get(&c, b"bad", at(1005)), None);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn never_past_the_tokens_exp() {
        let c = cache(100);
        let t = jwt_exp(1010);
        assert!(put(&c, &t, &ok(), at(1000)));
        assert_eq!(get(&c, &t, at(1009)), Some(ok()));
        assert_eq!(get(&c, &t, at(1010)), None);
        let expired = jwt_exp(900);
        assert!(!put(&c, &expired, &ok(), at(1000)));
        assert_eq!(get(&c, &expired, at(1000)), None);
        // A negative verdict's life does not depend on exp.
        assert!(put(&c, &expired, &no(), at(1000)));
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
        // No stored entry contains the token.
        put(&a, b"secret-token-value", &ok(), at(0));
        let stored: Vec<Vec<u8>> = (0..100).filter_map(|s| a.store_ref().load(s)).collect();
        assert_eq!(stored.len(), 1);
        assert!(!String::from_utf8_lossy(&stored[0]).contains("secret-token-value"));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn bounded_by_slot_count_and_evictions_only_cost_a_review() {
        let c = cache(16);
        for i in 0..10_000 {
            put(&c, format!("random-{i}").as_bytes(), &no(), at(0));
        }
        assert!(c.store_ref().len() <= 16);
        // A token whose entry was evicted is a miss, never another token's outcome. (The
        // flood outlives "good", so "good" is what expires soonest and goes.)
        put(&c, b"good", &ok(), at(0));
        let mut evicted = false;
        for i in 0..1000 {
            put(&c, format!("flood-{i}").as_bytes(), &ok(), at(10));
            match get(&c, b"good", at(11)) {
                Some(o) => assert_eq!(o, ok()),
                None => evicted = true,
            }
        }
        assert!(evicted);
        assert!(c.store_ref().len() <= 16);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn busy_tokens_sharing_a_slot_do_not_evict_each_other() {
        // Find pairs of tokens whose first candidate slot is the same.
        let c = cache(10_000);
        let first = |t: &[u8]| c.candidates(&c.key(t)).next().unwrap();
        let mut pairs = Vec::new();
        let mut seen = std::collections::HashMap::new();
        for i in 0..20_000 {
            let t = format!("token-{i}");
            if let Some(other) = seen.insert(first(t.as_bytes()), t.clone()) {
                pairs.push((other, t));
            }
        }
        assert!(pairs.len() > 100);
        for (a, b) in pairs.into_iter().take(200) {
            let c = cache(10_000);
            put(&c, a.as_bytes(), &ok(), at(0));
            put(&c, b.as_bytes(), &ok(), at(0));
            assert_eq!(
                get(&c, a.as_bytes(), at(1)),
                Some(ok()),
                "{a} evicted by {b}"
            );
            assert_eq!(get(&c, b.as_bytes(), at(1)), Some(ok()));
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn eviction_takes_the_entry_expiring_soonest() {
        let c = cache(1); // every candidate is slot 0
        put(&c, b"a", &ok(), at(0));
        put(&c, b"b", &no(), at(0));
        assert_eq!(get(&c, b"a", at(1)), None);
        assert_eq!(get(&c, b"b", at(1)), Some(no()));
        let c = cache(4);
        for t in [&b"x"[..], b"y", b"z", b"w", b"v"] {
            put(&c, t, &ok(), at(0));
        }
        assert!(c.store_ref().len() <= 4);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn disabled_cache_stores_nothing() {
        let c = cache(0);
        assert!(!put(&c, b"t", &ok(), at(0)));
        assert_eq!(get(&c, b"t", at(0)), None);
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
        assert_eq!(
            zero_ttl.store(&zero_ttl.key(b"t"), b"t", &ok(), at(0)),
            None
        );
        assert_eq!(
            zero_ttl.store(&zero_ttl.key(b"t"), b"t", &no(), at(0)),
            None
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn corrupt_slots_are_misses_and_reusable() {
        let c = cache(1);
        c.store_ref().save(0, b"\xff not an entry");
        assert_eq!(get(&c, b"t", at(0)), None);
        assert!(put(&c, b"t", &ok(), at(0)));
        assert_eq!(get(&c, b"t", at(1)), Some(ok()));
        let k = c.key(b"u");
        let mut forged = k.digest().to_vec();
        forged.extend_from_slice(&u64::MAX.to_be_bytes());
        forged.extend_from_slice(b"{not json");
        c.store_ref().save(0, &forged);
        assert_eq!(c.lookup(&k, at(0)), None);
    }
}
