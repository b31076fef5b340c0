//! Tests of `throttle.rs` (a file of their own to keep both short; they see its private
//! candidate-slot choice through `super`).

use super::*;
use crate::client::{ClientHasher, ClientKey};
use wasm_bindgen_test::wasm_bindgen_test;

fn settings(burst: u32, per_minute: u32, block_seconds: u32, max: u32) -> ThrottleSettings {
    ThrottleSettings {
        failures_per_minute: per_minute,
        burst,
        block_seconds,
        max_clients: max,
    }
}

fn throttle(s: ThrottleSettings) -> Throttle<MemoryThrottleStore> {
    Throttle::new(MemoryThrottleStore::new(s.max_clients), s)
}

fn id(key: &str) -> ClientId {
    ClientHasher::new(b"k").id(&ClientKey::Raw(key.as_bytes()))
}

fn fail(t: &Throttle<MemoryThrottleStore>, c: &ClientId, now: u64) -> bool {
    match t.failed(c, now) {
        Recorded::Counted { blocked, .. } => blocked,
        other => panic!("not counted: {other:?}"),
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn burst_failures_then_blocked_for_block_seconds() {
    let t = throttle(settings(3, 30, 60, 100));
    let c = id("10.0.0.1");
    assert_eq!(t.check(&c, 0), Gate::Open);
    assert!(!fail(&t, &c, 0));
    assert!(!fail(&t, &c, 0));
    assert!(fail(&t, &c, 0), "the burst-th failure empties the bucket");
    assert_eq!(t.check(&c, 0), Gate::Blocked { retry_after_s: 60 });
    assert_eq!(t.check(&c, 59_001), Gate::Blocked { retry_after_s: 1 });
    assert_eq!(t.check(&c, 60_000), Gate::Open);
    // 60 s at 30/min refilled the bucket: a full burst again.
    assert!(!fail(&t, &c, 60_000));
    assert!(!fail(&t, &c, 60_000));
    assert!(fail(&t, &c, 60_000));
}

#[wasm_bindgen_test(unsupported = test)]
fn the_bucket_refills_at_failures_per_minute() {
    let t = throttle(settings(2, 60, 10, 100)); // one token a second
    let c = id("a");
    assert!(!fail(&t, &c, 0));
    // One failure a second never empties it.
    for s in 1..100 {
        assert!(!fail(&t, &c, s * 1000), "at {s} s");
    }
    assert!(fail(&t, &c, 99_500), "two within a second do");
}

#[wasm_bindgen_test(unsupported = test)]
fn clients_are_independent() {
    let t = throttle(settings(1, 1, 60, 100));
    let (a, b) = (id("a"), id("b"));
    assert!(fail(&t, &a, 0));
    assert!(matches!(t.check(&a, 1), Gate::Blocked { .. }));
    assert_eq!(t.check(&b, 1), Gate::Open);
}

#[wasm_bindgen_test(unsupported = test)]
fn a_flood_of_clients_is_bounded_by_the_slots() {
    let t = throttle(settings(10, 30, 60, 50));
    let mut took_empty = 0;
    for i in 0..20_000 {
        if let Recorded::Counted {
            took_empty_slot: true,
            ..
        } = t.failed(&id(&format!("c{i}")), i)
        {
            took_empty += 1;
        }
    }
    assert!(t.store_ref().occupied() <= 50);
    assert_eq!(took_empty, t.store_ref().occupied(), "the gauge is exact");
}

#[wasm_bindgen_test(unsupported = test)]
fn a_blocked_client_is_never_evicted_until_its_block_ends() {
    // One slot: a newcomer's failure finds it held by a blocked client and is not recorded.
    let t = throttle(settings(2, 60, 60, 1));
    let (a, b) = (id("a"), id("b"));
    assert!(!fail(&t, &a, 0));
    assert!(fail(&t, &a, 0), "a blocked");
    assert_eq!(t.failed(&b, 1), Recorded::TableFull);
    assert!(
        matches!(t.check(&a, 2), Gate::Blocked { .. }),
        "a still blocked"
    );
    // Once a's block is over, its slot is anyone's.
    assert!(!fail(&t, &b, 60_000));
    assert_eq!(t.check(&a, 60_001), Gate::Open);
    // With two candidates or more, a blocked client outlives a stream of unblocked ones.
    let t = throttle(settings(2, 60, 60, 64));
    assert!(!fail(&t, &a, 0));
    assert!(fail(&t, &a, 0));
    assert!(
        t.candidates(&a)
            .collect::<std::collections::HashSet<_>>()
            .len()
            > 1
    );
    for i in 0..2000 {
        assert!(!fail(&t, &id(&format!("x{i}")), 10 + i));
    }
    assert!(matches!(t.check(&a, 3000), Gate::Blocked { .. }));
}

/// Issue 24, item 2: 1,000 new clients failing 6 times each (more than enough to block each)
/// against 100 slots, inside a blocked client's block: it stays blocked throughout, and what
/// could not be recorded is counted.
#[wasm_bindgen_test(unsupported = test)]
fn a_flood_of_new_clients_never_unblocks_a_blocked_one() {
    let t = throttle(settings(5, 30, 30, 100));
    let victim = id("blocked-guesser");
    for _ in 0..5 {
        fail(&t, &victim, 0);
    }
    assert!(matches!(t.check(&victim, 0), Gate::Blocked { .. }));
    let mut table_full = 0;
    for i in 0..1000u64 {
        let c = id(&format!("flood-{i}"));
        for k in 0..6 {
            if t.failed(&c, 1 + i * 10 + k) == Recorded::TableFull {
                table_full += 1;
            }
        }
        assert!(
            matches!(t.check(&victim, 1 + i * 10 + 6), Gate::Blocked { .. }),
            "unblocked after {i} new clients"
        );
    }
    assert!(table_full > 0, "the table filled with blocked clients");
    assert!(t.store_ref().occupied() <= 100);
    assert_eq!(t.check(&victim, 30_000), Gate::Open, "until its time is up");
}

#[wasm_bindgen_test(unsupported = test)]
fn idle_entries_are_reused_without_eviction() {
    let t = throttle(settings(2, 60, 1, 1));
    assert!(!fail(&t, &id("a"), 0));
    // Two seconds later a's bucket is full again: its slot is idle, not "evicted".
    assert_eq!(
        t.failed(&id("b"), 2000),
        Recorded::Counted {
            blocked: false,
            took_empty_slot: false
        }
    );
}

/// A store whose writes lose the race a set number of times.
struct Contended {
    inner: MemoryThrottleStore,
    losses: std::cell::Cell<u32>,
}

impl ThrottleStore for Contended {
    fn load(&self, slot: u32) -> Option<(Vec<u8>, u32)> {
        self.inner.load(slot)
    }
    fn save(&self, slot: u32, entry: &[u8], cas: u32) -> bool {
        if self.losses.get() > 0 {
            self.losses.set(self.losses.get() - 1);
            // Someone else wrote the slot meanwhile.
            let (b, v) = self.inner.load(slot).unwrap();
            assert!(self.inner.save(slot, &b, v));
            return self.inner.save(slot, entry, cas);
        }
        self.inner.save(slot, entry, cas)
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn lost_races_are_retried_a_bounded_number_of_times() {
    let s = settings(5, 30, 60, 10);
    let t = Throttle::new(
        Contended {
            inner: MemoryThrottleStore::new(10),
            losses: std::cell::Cell::new(MAX_ATTEMPTS as u32 - 1),
        },
        s,
    );
    assert!(matches!(t.failed(&id("a"), 0), Recorded::Counted { .. }));
    let t = Throttle::new(
        Contended {
            inner: MemoryThrottleStore::new(10),
            losses: std::cell::Cell::new(MAX_ATTEMPTS as u32),
        },
        s,
    );
    assert_eq!(t.failed(&id("a"), 0), Recorded::GaveUp);
    assert_eq!(t.check(&id("a"), 0), Gate::Open, "fails open");
}

#[wasm_bindgen_test(unsupported = test)]
fn garbage_in_a_slot_is_overwritten_never_trusted() {
    let t = throttle(settings(1, 1, 60, 1));
    let (_, v) = t.store_ref().load(0).unwrap();
    assert!(t.store_ref().save(0, b"junk", v));
    assert_eq!(t.check(&id("a"), 0), Gate::Open);
    assert!(fail(&t, &id("a"), 0));
}

#[wasm_bindgen_test(unsupported = test)]
fn the_429_body() {
    assert_eq!(
        throttled_body(7),
        r#"{"error":"Too Many Requests","message":"Too many failed authentication attempts; retry after 7 s"}"#
    );
}
