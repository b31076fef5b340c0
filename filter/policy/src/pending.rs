//! Reviews in flight on one worker: one callout per token, however many requests wait on it.
//!
//! Pure bookkeeping; the host glue enqueues, dispatches and resumes. A request that misses
//! the cache either leads a new review or follows the one already pending for the same key.
//! The number of distinct reviews pending is capped, so a flood of new tokens is answered
//! at once with an error instead of queueing without bound.

use std::collections::HashMap;

use crate::cache::CacheKey;

pub struct Pending<W> {
    pub key: CacheKey,
    pub token: String,
    pub waiters: Vec<W>,
    /// The callout's id once dispatched.
    pub call: Option<u32>,
    pub started_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// First request for this key: a callout must be dispatched.
    Lead,
    /// A callout for this key is already pending: wait for it.
    Follow,
    /// Too many reviews pending on this worker.
    Overloaded,
}

pub struct PendingReviews<W> {
    by_digest: HashMap<[u8; 32], Pending<W>>,
    by_call: HashMap<u32, [u8; 32]>,
    max: usize,
}

impl<W: PartialEq> PendingReviews<W> {
    pub fn new(max: usize) -> Self {
        PendingReviews {
            by_digest: HashMap::new(),
            by_call: HashMap::new(),
            max,
        }
    }

    pub fn len(&self) -> usize {
        self.by_digest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }

    pub fn join(&mut self, key: CacheKey, token: &str, waiter: W, now_ms: u64) -> Join {
        if let Some(p) = self.by_digest.get_mut(key.digest()) {
            p.waiters.push(waiter);
            return Join::Follow;
        }
        if self.by_digest.len() >= self.max {
            return Join::Overloaded;
        }
        let pending = Pending {
            key,
            token: token.to_string(),
            waiters: vec![waiter],
            call: None,
            started_ms: now_ms,
        };
        self.by_digest.insert(*key.digest(), pending);
        Join::Lead
    }

    /// The token to review for `digest`, if it still needs a callout. A review whose waiters
    /// have all gone is dropped here rather than sent.
    pub fn to_dispatch(&mut self, digest: &[u8; 32]) -> Option<String> {
        let p = self.by_digest.get(digest)?;
        if p.call.is_some() {
            return None;
        }
        if p.waiters.is_empty() {
            self.by_digest.remove(digest);
            return None;
        }
        Some(p.token.clone())
    }

    pub fn dispatched(&mut self, digest: &[u8; 32], call: u32) {
        if let Some(p) = self.by_digest.get_mut(digest) {
            p.call = Some(call);
            self.by_call.insert(call, *digest);
        }
    }

    /// Removes and returns the review (e.g. when its dispatch failed).
    pub fn remove(&mut self, digest: &[u8; 32]) -> Option<Pending<W>> {
        let p = self.by_digest.remove(digest)?;
        if let Some(call) = p.call {
            self.by_call.remove(&call);
        }
        Some(p)
    }

    /// The callout answered: removes and returns its review.
    pub fn complete(&mut self, call: u32) -> Option<Pending<W>> {
        let digest = self.by_call.remove(&call)?;
        self.by_digest.remove(&digest)
    }

    /// A waiting request went away (client reset); its review goes on for the others.
    pub fn leave(&mut self, digest: &[u8; 32], waiter: &W) {
        if let Some(p) = self.by_digest.get_mut(digest) {
            p.waiters.retain(|w| w != waiter);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{CacheSettings, MemoryStore, VerdictCache};
    use wasm_bindgen_test::wasm_bindgen_test;

    fn keys() -> VerdictCache<MemoryStore> {
        VerdictCache::new(MemoryStore::default(), CacheSettings::default(), b"k", b"")
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn one_callout_per_key() {
        let c = keys();
        let mut p = PendingReviews::new(10);
        let (a, b) = (c.key(b"a"), c.key(b"b"));
        assert_eq!(p.join(a, "a", 1, 0), Join::Lead);
        assert_eq!(p.join(a, "a", 2, 0), Join::Follow);
        assert_eq!(p.join(a, "a", 3, 0), Join::Follow);
        assert_eq!(p.join(b, "b", 4, 0), Join::Lead);
        assert_eq!(p.to_dispatch(a.digest()), Some("a".to_string()));
        p.dispatched(a.digest(), 77);
        assert_eq!(p.to_dispatch(a.digest()), None, "never dispatched twice");
        assert_eq!(p.join(a, "a", 5, 0), Join::Follow);
        let done = p.complete(77).unwrap();
        assert_eq!(done.waiters, vec![1, 2, 3, 5]);
        assert!(p.complete(77).is_none());
        assert_eq!(p.len(), 1);
        assert_eq!(
            p.join(a, "a", 6, 0),
            Join::Lead,
            "a finished review is not joined"
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn capped() {
        let c = keys();
        let mut p = PendingReviews::new(2);
        assert_eq!(p.join(c.key(b"1"), "1", 1, 0), Join::Lead);
        assert_eq!(p.join(c.key(b"2"), "2", 2, 0), Join::Lead);
        assert_eq!(p.join(c.key(b"3"), "3", 3, 0), Join::Overloaded);
        assert_eq!(
            p.join(c.key(b"1"), "1", 4, 0),
            Join::Follow,
            "followers are not capped"
        );
        p.remove(c.key(b"1").digest());
        assert_eq!(p.join(c.key(b"3"), "3", 5, 0), Join::Lead);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn abandoned_reviews_are_not_sent() {
        let c = keys();
        let mut p = PendingReviews::new(2);
        let k = c.key(b"t");
        p.join(k, "t", 1, 0);
        p.join(k, "t", 2, 0);
        p.leave(k.digest(), &1);
        p.leave(k.digest(), &2);
        assert_eq!(p.to_dispatch(k.digest()), None);
        assert!(p.is_empty());
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_leaver_does_not_stop_the_others() {
        let c = keys();
        let mut p = PendingReviews::new(2);
        let k = c.key(b"t");
        p.join(k, "t", 1, 0);
        p.join(k, "t", 2, 0);
        p.dispatched(k.digest(), 9);
        p.leave(k.digest(), &1);
        assert_eq!(p.complete(9).unwrap().waiters, vec![2]);
    }
}
