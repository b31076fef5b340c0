//! SubjectAccessReviews in flight on one worker: one callout per decision key, however many
//! requests wait on it (the same discipline as `crate::pending` for TokenReviews), capped so
//! a flood of distinct checks is answered at once with an error instead of queueing.

use std::collections::HashMap;

use super::cache::DecisionKey;
use super::mapping::Attributes;
use crate::pending::Join;
use crate::review::Identity;

pub struct PendingCheck<W> {
    pub key: DecisionKey,
    pub identity: Identity,
    pub attrs: Attributes,
    /// The earliest expiry of the waiters' cached token verdicts (the decision's cap).
    pub cap_ms: Option<u64>,
    pub waiters: Vec<W>,
    pub call: Option<u32>,
    pub started_ms: u64,
}

pub struct PendingChecks<W> {
    by_key: HashMap<[u8; 32], PendingCheck<W>>,
    by_call: HashMap<u32, [u8; 32]>,
    max: usize,
}

fn earliest(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        _ => None,
    }
}

impl<W: PartialEq> PendingChecks<W> {
    pub fn new(max: usize) -> Self {
        PendingChecks {
            by_key: HashMap::new(),
            by_call: HashMap::new(),
            max,
        }
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    pub fn join(
        &mut self,
        key: DecisionKey,
        subject: (&Identity, &Attributes),
        cap_ms: Option<u64>,
        waiter: W,
        now_ms: u64,
    ) -> Join {
        if let Some(p) = self.by_key.get_mut(key.digest()) {
            p.waiters.push(waiter);
            p.cap_ms = earliest(p.cap_ms, cap_ms);
            return Join::Follow;
        }
        if self.by_key.len() >= self.max {
            return Join::Overloaded;
        }
        self.by_key.insert(
            *key.digest(),
            PendingCheck {
                key,
                identity: subject.0.clone(),
                attrs: subject.1.clone(),
                cap_ms,
                waiters: vec![waiter],
                call: None,
                started_ms: now_ms,
            },
        );
        Join::Lead
    }

    /// The check to send for `digest`, unless sent already or nobody waits any more.
    pub fn to_dispatch(&mut self, digest: &[u8; 32]) -> Option<(Identity, Attributes)> {
        let p = self.by_key.get(digest)?;
        if p.call.is_some() {
            return None;
        }
        if p.waiters.is_empty() {
            self.by_key.remove(digest);
            return None;
        }
        Some((p.identity.clone(), p.attrs.clone()))
    }

    /// Checks not sent yet (their queue message may have been lost).
    pub fn undispatched(&self) -> Vec<[u8; 32]> {
        let waiting = self.by_key.iter().filter(|(_, p)| p.call.is_none());
        waiting.map(|(d, _)| *d).collect()
    }

    pub fn dispatched(&mut self, digest: &[u8; 32], call: u32) {
        if let Some(p) = self.by_key.get_mut(digest) {
            p.call = Some(call);
            self.by_call.insert(call, *digest);
        }
    }

    pub fn remove(&mut self, digest: &[u8; 32]) -> Option<PendingCheck<W>> {
        let p = self.by_key.remove(digest)?;
        if let Some(call) = p.call {
            self.by_call.remove(&call);
        }
        Some(p)
    }

    /// Whether `call` is one of ours (the root context also answers TokenReview callouts).
    pub fn owns_call(&self, call: u32) -> bool {
        self.by_call.contains_key(&call)
    }

    pub fn complete(&mut self, call: u32) -> Option<PendingCheck<W>> {
        let digest = self.by_call.remove(&call)?;
        self.by_key.remove(&digest)
    }

    pub fn leave(&mut self, digest: &[u8; 32], waiter: &W) {
        if let Some(p) = self.by_key.get_mut(digest) {
            p.waiters.retain(|w| w != waiter);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::cache::DecisionCache;
    use crate::authz::mapping::attributes;
    use std::time::Duration;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn id(name: &str) -> Identity {
        Identity {
            username: name.into(),
            uid: None,
            extra: Default::default(),
            groups: vec![],
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn one_callout_per_key_capped_abandonable() {
        let c = DecisionCache::new(b"k", b"", Duration::ZERO, Duration::ZERO, 1);
        let a = attributes(b"GET", b"/api/v1/zones").unwrap();
        let (u, v, w) = (id("u"), id("v"), id("w"));
        let (ku, kv, kw) = (c.key(&u, &a), c.key(&v, &a), c.key(&w, &a));
        let mut p = PendingChecks::new(2);
        assert_eq!(p.join(ku, (&u, &a), Some(50), 1, 0), Join::Lead);
        assert_eq!(p.join(ku, (&u, &a), Some(40), 2, 0), Join::Follow);
        assert_eq!(p.join(kv, (&v, &a), None, 3, 0), Join::Lead);
        assert_eq!(p.join(kw, (&w, &a), None, 4, 0), Join::Overloaded);
        assert_eq!(
            p.to_dispatch(ku.digest()).map(|(i, _)| i.username),
            Some("u".into())
        );
        p.dispatched(ku.digest(), 7);
        assert!(p.owns_call(7) && !p.owns_call(8));
        assert!(p.to_dispatch(ku.digest()).is_none(), "never sent twice");
        let done = p.complete(7).unwrap();
        assert_eq!(done.waiters, vec![1, 2]);
        assert_eq!(done.cap_ms, Some(40), "the earliest cap");
        p.leave(kv.digest(), &3);
        assert!(p.to_dispatch(kv.digest()).is_none());
        assert!(p.is_empty());
    }
}
