//! Reviews in flight on one worker: one callout per token, however many requests wait on it.
//!
//! Pure bookkeeping; the host glue enqueues, dispatches and resumes. A request that misses
//! the cache either leads a new review or follows the one already pending for the same key.
//! The number of distinct reviews pending is capped, so a flood of new tokens is answered
//! at once with an error instead of queueing without bound; and no one client may lead more
//! than its share of them, so one greedy client cannot take every slot. A review counts
//! against the client that led it until it completes, or until every waiter has gone (it
//! still completes and fills the cache, but no longer holds that client's share).

use std::collections::HashMap;

use crate::cache::CacheKey;
use crate::client::ClientId;

pub struct Pending<W> {
    pub key: CacheKey,
    pub token: String,
    pub waiters: Vec<W>,
    /// The callout's id once dispatched.
    pub call: Option<u32>,
    pub started_ms: u64,
    /// The client whose share this review holds (its leader), until it is released.
    client: Option<ClientId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// First request for this key: a callout must be dispatched.
    Lead,
    /// A callout for this key is already pending: wait for it.
    Follow,
    /// Too many reviews pending on this worker.
    Overloaded,
    /// This client already leads its share of the worker's pending reviews.
    OverShare,
}

pub struct PendingReviews<W> {
    by_digest: HashMap<[u8; 32], Pending<W>>,
    by_call: HashMap<u32, [u8; 32]>,
    per_client: HashMap<ClientId, usize>,
    max: usize,
    max_per_client: usize,
}

impl<W: PartialEq> PendingReviews<W> {
    pub fn new(max: usize, max_per_client: usize) -> Self {
        PendingReviews {
            by_digest: HashMap::new(),
            by_call: HashMap::new(),
            per_client: HashMap::new(),
            max,
            max_per_client,
        }
    }

    /// Reviews `client` holds a share of.
    pub fn held_by(&self, client: &ClientId) -> usize {
        self.per_client.get(client).copied().unwrap_or(0)
    }

    fn release(&mut self, client: Option<ClientId>) {
        if let Some(c) = client {
            if let Some(n) = self.per_client.get_mut(&c) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.per_client.remove(&c);
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.by_digest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }

    pub fn join(
        &mut self,
        key: CacheKey,
        token: &str,
        waiter: W,
        client: ClientId,
        now_ms: u64,
    ) -> Join {
        if let Some(p) = self.by_digest.get_mut(key.digest()) {
            p.waiters.push(waiter);
            return Join::Follow;
        }
        if self.by_digest.len() >= self.max {
            return Join::Overloaded;
        }
        if self.held_by(&client) >= self.max_per_client {
            return Join::OverShare;
        }
        *self.per_client.entry(client).or_insert(0) += 1;
        let pending = Pending {
            key,
            token: token.to_string(),
            waiters: vec![waiter],
            call: None,
            started_ms: now_ms,
            client: Some(client),
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
            let gone = self.by_digest.remove(digest);
            self.release(gone.and_then(|p| p.client));
            return None;
        }
        Some(p.token.clone())
    }

    /// Reviews not sent yet (their queue message may have been lost).
    pub fn undispatched(&self) -> Vec<[u8; 32]> {
        let waiting = self.by_digest.iter().filter(|(_, p)| p.call.is_none());
        waiting.map(|(d, _)| *d).collect()
    }

    pub fn dispatched(&mut self, digest: &[u8; 32], call: u32) {
        if let Some(p) = self.by_digest.get_mut(digest) {
            p.call = Some(call);
            self.by_call.insert(call, *digest);
        }
    }

    /// Removes and returns the review (e.g. when its dispatch failed).
    pub fn remove(&mut self, digest: &[u8; 32]) -> Option<Pending<W>> {
        let mut p = self.by_digest.remove(digest)?;
        if let Some(call) = p.call {
            self.by_call.remove(&call);
        }
        self.release(p.client.take());
        Some(p)
    }

    /// The callout answered: removes and returns its review.
    pub fn complete(&mut self, call: u32) -> Option<Pending<W>> {
        let digest = self.by_call.remove(&call)?;
        let mut p = self.by_digest.remove(&digest)?;
        self.release(p.client.take());
        Some(p)
    }

    /// A waiting request went away (client reset); its review goes on for the others. Once
    /// every waiter has gone the review no longer holds its leader's share.
    pub fn leave(&mut self, digest: &[u8; 32], waiter: &W) {
        let released = match self.by_digest.get_mut(digest) {
            Some(p) => {
                p.waiters.retain(|w| w != waiter);
                if p.waiters.is_empty() {
                    p.client.take()
                } else {
                    None
                }
            }
            None => None,
        };
        self.release(released);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{CacheSettings, MemoryStore, VerdictCache};
    use crate::client::ClientHasher;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn client(name: &str) -> ClientId {
        ClientHasher::new(b"k").id(&crate::client::ClientKey::Raw(name.as_bytes()))
    }

    fn keys() -> VerdictCache<MemoryStore> {
        VerdictCache::new(MemoryStore::default(), CacheSettings::default(), b"k", b"")
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn one_callout_per_key() {
        let c = keys();
        let mut p = PendingReviews::new(10, 10);
        let (a, b) = (c.key(b"a"), c.key(b"b"));
        assert_eq!(p.join(a, "a", 1, client("c"), 0), Join::Lead);
        assert_eq!(p.join(a, "a", 2, client("c"), 0), Join::Follow);
        assert_eq!(p.join(a, "a", 3, client("c"), 0), Join::Follow);
        assert_eq!(p.join(b, "b", 4, client("c"), 0), Join::Lead);
        assert_eq!(p.to_dispatch(a.digest()), Some("a".to_string()));
        p.dispatched(a.digest(), 77);
        assert_eq!(p.to_dispatch(a.digest()), None, "never dispatched twice");
        assert_eq!(p.join(a, "a", 5, client("c"), 0), Join::Follow);
        let done = p.complete(77).unwrap();
        assert_eq!(done.waiters, vec![1, 2, 3, 5]);
        assert!(p.complete(77).is_none());
        assert_eq!(p.len(), 1);
        assert_eq!(
            p.join(a, "a", 6, client("c"), 0),
            Join::Lead,
            "a finished review is not joined"
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn capped() {
        let c = keys();
        let mut p = PendingReviews::new(2, 2);
        assert_eq!(p.join(c.key(b"1"), "1", 1, client("c"), 0), Join::Lead);
        assert_eq!(p.join(c.key(b"2"), "2", 2, client("c"), 0), Join::Lead);
        assert_eq!(
            p.join(c.key(b"3"), "3", 3, client("c"), 0),
            Join::Overloaded
        );
        assert_eq!(
            p.join(c.key(b"1"), "1", 4, client("c"), 0),
            Join::Follow,
            "followers are not capped"
        );
        p.remove(c.key(b"1").digest());
        assert_eq!(p.join(c.key(b"3"), "3", 5, client("c"), 0), Join::Lead);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn abandoned_reviews_are_not_sent() {
        let c = keys();
        let mut p = PendingReviews::new(2, 2);
        let k = c.key(b"t");
        p.join(k, "t", 1, client("c"), 0);
        p.join(k, "t", 2, client("c"), 0);
        p.leave(k.digest(), &1);
        p.leave(k.digest(), &2);
        assert_eq!(p.to_dispatch(k.digest()), None);
        assert!(p.is_empty());
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_leaver_does_not_stop_the_others() {
        let c = keys();
        let mut p = PendingReviews::new(2, 2);
        let k = c.key(b"t");
        p.join(k, "t", 1, client("c"), 0);
        p.join(k, "t", 2, client("c"), 0);
        p.dispatched(k.digest(), 9);
        p.leave(k.digest(), &1);
        assert_eq!(p.complete(9).unwrap().waiters, vec![2]);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn one_client_holds_at_most_its_share() {
        let c = keys();
        let mut p = PendingReviews::new(8, 2);
        let (greedy, other) = (client("greedy"), client("other"));
        assert_eq!(p.join(c.key(b"1"), "1", 1, greedy, 0), Join::Lead);
        assert_eq!(p.join(c.key(b"2"), "2", 2, greedy, 0), Join::Lead);
        assert_eq!(p.join(c.key(b"3"), "3", 3, greedy, 0), Join::OverShare);
        assert_eq!(p.join(c.key(b"4"), "4", 4, other, 0), Join::Lead);
        // Following a review someone else leads takes no share.
        assert_eq!(p.join(c.key(b"4"), "4", 5, greedy, 0), Join::Follow);
        assert_eq!(p.held_by(&greedy), 2);
        p.dispatched(c.key(b"1").digest(), 11);
        p.complete(11);
        assert_eq!(p.held_by(&greedy), 1);
        assert_eq!(p.join(c.key(b"3"), "3", 6, greedy, 0), Join::Lead);
        p.remove(c.key(b"3").digest());
        p.remove(c.key(b"2").digest());
        p.remove(c.key(b"4").digest());
        assert_eq!(p.held_by(&greedy), 0);
        assert_eq!(p.held_by(&other), 0);
        assert!(p.is_empty());
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn abandoned_reviews_still_complete_but_free_the_share() {
        let c = keys();
        let mut p = PendingReviews::new(8, 1);
        let g = client("greedy");
        let k = c.key(b"1");
        assert_eq!(p.join(k, "1", 1, g, 0), Join::Lead);
        p.dispatched(k.digest(), 5);
        assert_eq!(p.join(c.key(b"2"), "2", 2, g, 0), Join::OverShare);
        p.leave(k.digest(), &1);
        assert_eq!(p.held_by(&g), 0, "every waiter gone: the share is free");
        assert_eq!(p.len(), 1, "the callout is still in flight");
        assert_eq!(p.join(c.key(b"2"), "2", 3, g, 0), Join::Lead);
        let done = p.complete(5).unwrap();
        assert!(done.waiters.is_empty(), "completes, to fill the cache");
        assert_eq!(p.held_by(&g), 1, "completing it released nothing twice");
    }
}
