//! A worker's memo of recent decisions, in front of the shared verdict cache.
//!
//! The shared cache makes one review serve every worker; this memo spares a worker the keyed
//! SHA-256, the shared-data read and the parse for tokens it saw moments ago. A token is
//! known by its 128-bit keyed digest (SipHash-1-3 with a random 128-bit key, one pass over
//! the token: this runs on every request), never the token itself. The table is indexed by
//! 64 bits of the digest and a hit needs **all 128** to match, so two tokens sharing an index
//! never share an answer: the newcomer misses and goes on to the shared cache (whose entries
//! carry their full HMAC-SHA256 digest) and, failing that, to a review. A false hit would need
//! a blind 128-bit collision under a key that never leaves the worker.
//!
//! Each value keeps the shared entry's own expiry, so nothing lives longer than it would have
//! there. Bounded: when full it starts over (one shared-cache lookup per token refills it).
//! It belongs to one configuration: a new configuration starts a new memo.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use siphasher::sip128::SipHasher13;

pub struct Recent<V> {
    key: SipHasher13,
    map: HashMap<u64, Slot<V>, BuildHasherDefault<Prehashed>>,
    capacity: usize,
    /// Which digest bits index the table: all 64 of its low half, except in the test that
    /// forces every token onto one index.
    index_mask: u64,
}

struct Slot<V> {
    digest: u128,
    expires_ms: u64,
    value: V,
}

impl<V> Recent<V> {
    /// `key`: 128 random bits, private to this memo.
    pub fn new(capacity: usize, key: [u8; 16]) -> Self {
        Recent {
            key: SipHasher13::new_with_key(&key),
            map: HashMap::default(),
            capacity,
            index_mask: u64::MAX,
        }
    }

    /// Every token on one index: what two tokens sharing an index look like, on demand.
    #[cfg(test)]
    pub(crate) fn with_one_index(capacity: usize, key: [u8; 16]) -> Self {
        Recent {
            index_mask: 0,
            ..Recent::new(capacity, key)
        }
    }

    fn digest(&self, token: &[u8]) -> (u64, u128) {
        let d = self.key.hash(token).as_u128();
        (d as u64 & self.index_mask, d)
    }

    pub fn get(&self, token: &[u8], now_ms: u64) -> Option<&V> {
        self.get_entry(token, now_ms).map(|(_, v)| v)
    }

    /// The value and the expiry it was stored with (Unix ms), if this very token's and still
    /// fresh.
    pub fn get_entry(&self, token: &[u8], now_ms: u64) -> Option<(u64, &V)> {
        let (index, digest) = self.digest(token);
        match self.map.get(&index) {
            Some(s) if s.digest == digest && now_ms < s.expires_ms => {
                Some((s.expires_ms, &s.value))
            }
            _ => None,
        }
    }

    pub fn put(&mut self, token: &[u8], expires_ms: u64, value: V) {
        if self.capacity == 0 {
            return;
        }
        if self.map.len() >= self.capacity {
            self.map.clear();
        }
        let (index, digest) = self.digest(token);
        self.map.insert(
            index,
            Slot {
                digest,
                expires_ms,
                value,
            },
        );
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The table's keys are already keyed-hash output (uniform, and unknown to clients): hashing
/// them again would only cost time.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    const KEY: [u8; 16] = *b"0123456789abcdef";

    #[wasm_bindgen_test(unsupported = test)]
    fn remembers_until_the_expiry_it_was_given() {
        let mut r = Recent::new(8, KEY);
        r.put(b"token-a", 1000, "a");
        assert_eq!(r.get(b"token-a", 999), Some(&"a"));
        assert_eq!(r.get_entry(b"token-a", 999), Some((1000, &"a")));
        assert_eq!(r.get(b"token-a", 1000), None);
        assert_eq!(r.get(b"token-b", 0), None);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn bounded() {
        let mut r = Recent::new(16, KEY);
        for i in 0..10_000u32 {
            r.put(&i.to_be_bytes(), u64::MAX, i);
            assert!(r.len() <= 16);
        }
        let mut off = Recent::new(0, KEY);
        off.put(b"t", u64::MAX, 1);
        assert!(off.is_empty());
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn keys_are_per_memo() {
        let (a, b) = (
            Recent::<()>::new(1, KEY),
            Recent::<()>::new(1, *b"another 16 bytes"),
        );
        assert_ne!(a.digest(b"t"), b.digest(b"t"));
        assert_eq!(a.digest(b"t"), a.digest(b"t"));
    }

    /// Two tokens on one index (forced here; by chance 1 in 2^64 otherwise): the second is
    /// never handed the first one's decision, it misses and is looked up (then reviewed).
    #[wasm_bindgen_test(unsupported = test)]
    fn a_shared_index_is_a_miss_never_another_tokens_answer() {
        let mut r = Recent::with_one_index(8, KEY);
        assert_eq!(r.digest(b"admin-token").0, r.digest(b"guess").0);
        r.put(b"admin-token", u64::MAX, "system:admin");
        assert_eq!(r.get(b"guess", 0), None);
        assert_eq!(r.get(b"admin-token", 0), Some(&"system:admin"));
        // The newcomer's own answer replaces the entry; neither ever reads the other's.
        r.put(b"guess", u64::MAX, "rejected");
        assert_eq!(r.get(b"admin-token", 0), None);
        assert_eq!(r.get(b"guess", 0), Some(&"rejected"));
    }
}
