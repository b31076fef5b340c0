//! A review outcome made into this request's decision: the one place both TokenReview paths go
//! through, a hit in the shared verdict cache and a fresh review's answer. The worker's memo
//! then remembers the decision until the shared entry's own expiry, never longer; an outcome
//! the shared cache did not keep (caching off, zero TTL, token past its `exp`, entry too big)
//! is not remembered either, so the memo never outlives what the shared cache would answer.

use std::rc::Rc;

use crate::access::AccessPolicy;
use crate::denial::Denial;
use crate::recent::Recent;
use crate::review::{Identity, ReviewOutcome};

/// What the policy made of a review: shared by reference between the memo and requests.
pub type Decision = Rc<Result<Identity, Denial>>;

/// `shared_expiry_ms`: when the shared cache's entry for this outcome expires (Unix ms), or
/// `None` if it holds none.
pub fn decide(
    access: &AccessPolicy,
    memo: &mut Recent<Decision>,
    token: &[u8],
    outcome: &ReviewOutcome,
    shared_expiry_ms: Option<u64>,
) -> Decision {
    let decision = Rc::new(access.decide(outcome));
    if let Some(expires) = shared_expiry_ms {
        memo.put(token, expires, Rc::clone(&decision));
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::{CacheSettings, MemoryStore, VerdictCache};
    use std::time::{Duration, UNIX_EPOCH};
    use wasm_bindgen_test::wasm_bindgen_test;

    const KEY: [u8; 16] = [7; 16];

    fn policy() -> AccessPolicy {
        AccessPolicy::new(vec!["bindcar".into()], vec!["dns".into()], vec![], false).unwrap()
    }

    fn sa(ns: &str) -> ReviewOutcome {
        ReviewOutcome::Authenticated {
            user: Some(Identity {
                username: format!("system:serviceaccount:{ns}:app"),
                uid: None,
                extra: Default::default(),
                groups: vec![],
            }),
            audiences: vec!["bindcar".into()],
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn decides_as_the_access_policy_does() {
        let mut memo = Recent::new(8, KEY);
        let p = policy();
        for outcome in [
            sa("dns"),
            sa("default"),
            ReviewOutcome::Rejected { reason: None },
        ] {
            let d = decide(&p, &mut memo, b"t", &outcome, None);
            assert_eq!(*d, p.decide(&outcome));
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn remembered_until_the_shared_entry_expires_and_no_longer() {
        let mut memo = Recent::new(8, KEY);
        let d = decide(&policy(), &mut memo, b"t", &sa("dns"), Some(5_000));
        assert!(d.is_ok());
        assert!(memo.get(b"t", 4_999).is_some_and(|m| Rc::ptr_eq(m, &d)));
        assert!(memo.get(b"t", 5_000).is_none());
        // Denials are remembered the same way.
        let d = decide(&policy(), &mut memo, b"u", &sa("default"), Some(100));
        assert_eq!(*d, Err(Denial::UnauthorizedNamespace("default".into())));
        assert!(memo.get(b"u", 99).is_some());
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn not_remembered_when_the_shared_cache_kept_nothing() {
        let mut memo = Recent::new(8, KEY);
        decide(&policy(), &mut memo, b"t", &sa("dns"), None);
        assert!(memo.is_empty());
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_cache_hit_and_a_fresh_review_remember_alike() {
        // Fresh review: the expiry is what `store` returned; hit: what `lookup` returns.
        let cache = VerdictCache::new(MemoryStore::default(), CacheSettings::default(), b"k", b"");
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        let key = cache.key(b"t");
        let stored = cache.store(&key, b"t", &sa("dns"), now);
        let (outcome, found) = cache.lookup_with_expiry(&key, now).unwrap();
        assert_eq!(stored, Some(found));
        let (mut fresh, mut hit) = (Recent::new(8, KEY), Recent::new(8, KEY));
        let a = decide(&policy(), &mut fresh, b"t", &sa("dns"), stored);
        let b = decide(&policy(), &mut hit, b"t", &outcome, Some(found));
        assert_eq!(a, b);
        assert!(fresh.get(b"t", found - 1).is_some() && hit.get(b"t", found - 1).is_some());
        assert!(fresh.get(b"t", found).is_none() && hit.get(b"t", found).is_none());
    }

    /// A token that shares the memo's index with an allowed one (forced) gets no decision
    /// from the memo: the request goes on to the shared cache and a review of its own.
    #[wasm_bindgen_test(unsupported = test)]
    fn a_token_sharing_the_memos_index_is_not_served_the_other_identity() {
        let mut memo = Recent::with_one_index(8, KEY);
        let allowed = decide(
            &policy(),
            &mut memo,
            b"good-token",
            &sa("dns"),
            Some(u64::MAX),
        );
        assert!(allowed.is_ok());
        assert!(memo.get(b"good-token", 0).is_some());
        assert!(
            memo.get(b"forged-token", 0).is_none(),
            "served another token's identity"
        );
        let refused = ReviewOutcome::Rejected { reason: None };
        let d = decide(
            &policy(),
            &mut memo,
            b"forged-token",
            &refused,
            Some(u64::MAX),
        );
        assert!(d.is_err());
        assert!(memo.get(b"forged-token", 0).is_some_and(|m| m.is_err()));
        assert!(memo.get(b"good-token", 0).is_none());
    }
}
