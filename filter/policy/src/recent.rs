//! A worker's memo of recent decisions, in front of the shared verdict cache.
//!
//! The shared cache makes one review serve every worker; this memo spares a worker the keyed
//! SHA-256, the shared-data read and the parse for tokens it saw moments ago. Keys are a keyed
//! hash (SipHash-1-3 with a random per-VM key, one pass over the token: this runs on every
//! request) and the token's length, never the token. The key is secret and never shown, so a
//! token taking another's entry needs a blind 64-bit collision: about 2^54 requests against a
//! full memo of 1,024 entries, each a review that fails. Each value keeps the shared entry's
//! own expiry, so nothing lives longer than it would have there. Bounded: when full it starts
//! over (one shared-cache lookup per token refills it). It belongs to one configuration: a new
//! configuration starts a new memo.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

pub struct Recent<V> {
    keys: RandomState,
    map: HashMap<(u64, usize), (u64, V)>,
    capacity: usize,
}

impl<V> Recent<V> {
    pub fn new(capacity: usize) -> Self {
        Recent {
            keys: RandomState::new(),
            map: HashMap::new(),
            capacity,
        }
    }

    fn key(&self, token: &[u8]) -> (u64, usize) {
        (self.keys.hash_one(token), token.len())
    }

    pub fn get(&self, token: &[u8], now_ms: u64) -> Option<&V> {
        match self.map.get(&self.key(token)) {
            Some((expires, v)) if now_ms < *expires => Some(v),
            _ => None,
        }
    }

    /// The value and the expiry it was stored with (Unix ms), if still fresh.
    pub fn get_entry(&self, token: &[u8], now_ms: u64) -> Option<(u64, &V)> {
        match self.map.get(&self.key(token)) {
            Some((expires, v)) if now_ms < *expires => Some((*expires, v)),
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
        let key = self.key(token);
        self.map.insert(key, (expires_ms, value));
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test(unsupported = test)]
    fn remembers_until_the_expiry_it_was_given() {
        let mut r = Recent::new(8);
        r.put(b"token-a", 1000, "a");
        assert_eq!(r.get(b"token-a", 999), Some(&"a"));
        assert_eq!(r.get(b"token-a", 1000), None);
        assert_eq!(r.get(b"token-b", 0), None);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn bounded() {
        let mut r = Recent::new(16);
        for i in 0..10_000u32 {
            r.put(&i.to_be_bytes(), u64::MAX, i);
            assert!(r.len() <= 16);
        }
        let mut off = Recent::new(0);
        off.put(b"t", u64::MAX, 1);
        assert!(off.is_empty());
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn keys_are_per_instance() {
        let (a, b) = (Recent::<()>::new(1), Recent::<()>::new(1));
        assert_ne!(a.key(b"t"), b.key(b"t"));
        assert_eq!(a.key(b"t"), a.key(b"t"));
    }
}
