//! Failed-authentication throttling per client: a token bucket per client (`burst` failures,
//! refilled at `failuresPerMinute`), and a block of `blockSeconds` once it is empty.
//!
//! State lives in a fixed table of `maxClients` slots (Envoy shared data in the filter, so
//! every worker agrees), shaped like the verdict cache: a client may take any of [`WAYS`]
//! candidate slots chosen from its [`ClientId`]; a new client takes an empty or idle slot
//! (idle: not blocked and its bucket full again, so it carries no information), else evicts
//! the candidate whose last failure is oldest among those **not blocked**. A client under an
//! active block is never evicted: blocked stays blocked until its time is up, however many
//! new clients fail. When every candidate of a new client holds a blocked client, its failure
//! is not recorded ([`Recorded::TableFull`], counted by the filter). A flood of distinct
//! clients can only overwrite slots, never add any.
//!
//! Every update is a compare-and-swap retried [`MAX_ATTEMPTS`] times; when that keeps
//! failing the failure is simply not counted (the bookkeeping fails open; authentication
//! itself never does). Slot layout (40 bytes, big-endian): client id (16), last update
//! (Unix ms, 8), tokens in thousandths (8), blocked until (Unix ms, 8). An empty value is a
//! free slot.

use serde_json::json;

use crate::client::ClientId;

pub const WAYS: usize = 4;
pub const MAX_ATTEMPTS: usize = 4;
const ENTRY: usize = 40;
const MILLI: u64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    pub failures_per_minute: u32,
    pub burst: u32,
    pub block_seconds: u32,
    pub max_clients: u32,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            failures_per_minute: 30,
            burst: 10,
            block_seconds: 60,
            max_clients: 10_000,
        }
    }
}

/// Where the slots live. Slots exist from the start (empty); a slot that cannot be read is
/// skipped.
pub trait ThrottleStore {
    /// The slot's bytes and its compare-and-swap version.
    fn load(&self, slot: u32) -> Option<(Vec<u8>, u32)>;
    /// Writes only if the slot is still at version `cas`; false on a conflict or error.
    fn save(&self, slot: u32, entry: &[u8], cas: u32) -> bool;
}

/// Whether a request may go on to authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Blocked; retry after this many seconds (at least 1).
    Blocked {
        retry_after_s: u64,
    },
}

/// What counting one failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Counted {
        /// This failure emptied the bucket: the client is blocked from now on.
        blocked: bool,
        /// The client took a slot that was empty (the tracked-clients gauge goes up by one).
        took_empty_slot: bool,
    },
    /// Every attempt lost a race (or no slot was readable): not counted.
    GaveUp,
    /// Every candidate slot holds a client under an active block, and those are never
    /// evicted: not counted.
    TableFull,
}

/// Where a failure can go.
enum Choose {
    Slot(Choice),
    TableFull,
    Unreadable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    client: [u8; 16],
    last_ms: u64,
    tokens: u64,
    blocked_until: u64,
}

impl Entry {
    fn decode(b: &[u8]) -> Option<Entry> {
        if b.len() != ENTRY {
            return None;
        }
        let u = |i: usize| b.get(i..i + 8).and_then(|s| <[u8; 8]>::try_from(s).ok());
        Some(Entry {
            client: <[u8; 16]>::try_from(b.get(..16)?).ok()?,
            last_ms: u64::from_be_bytes(u(16)?),
            tokens: u64::from_be_bytes(u(24)?),
            blocked_until: u64::from_be_bytes(u(32)?),
        })
    }

    fn encode(&self) -> [u8; ENTRY] {
        let mut b = [0u8; ENTRY];
        b[..16].copy_from_slice(&self.client);
        b[16..24].copy_from_slice(&self.last_ms.to_be_bytes());
        b[24..32].copy_from_slice(&self.tokens.to_be_bytes());
        b[32..].copy_from_slice(&self.blocked_until.to_be_bytes());
        b
    }
}

/// Where one failure goes: the slot, its version, the client's entry if it has one, and
/// whether the slot was empty.
struct Choice {
    slot: u32,
    cas: u32,
    previous: Option<Entry>,
    took_empty_slot: bool,
}

pub struct Throttle<S> {
    store: S,
    settings: ThrottleSettings,
}

impl<S: ThrottleStore> Throttle<S> {
    pub fn new(store: S, settings: ThrottleSettings) -> Self {
        Throttle { store, settings }
    }

    pub fn settings(&self) -> &ThrottleSettings {
        &self.settings
    }

    pub fn store_ref(&self) -> &S {
        &self.store
    }

    /// Read-only: is this client blocked now?
    pub fn check(&self, client: &ClientId, now_ms: u64) -> Gate {
        for slot in self.candidates(client) {
            let Some(e) = self.store.load(slot).and_then(|(b, _)| Entry::decode(&b)) else {
                continue;
            };
            if e.client == client.0 {
                if e.blocked_until > now_ms {
                    return Gate::Blocked {
                        retry_after_s: (e.blocked_until - now_ms).div_ceil(1000).max(1),
                    };
                }
                return Gate::Open;
            }
        }
        Gate::Open
    }

    /// Counts one failed authentication against the client.
    pub fn failed(&self, client: &ClientId, now_ms: u64) -> Recorded {
        for _ in 0..MAX_ATTEMPTS {
            let Choice {
                slot,
                cas,
                previous,
                took_empty_slot,
            } = match self.choose(client, now_ms) {
                Choose::Slot(c) => c,
                Choose::TableFull => return Recorded::TableFull,
                Choose::Unreadable => return Recorded::GaveUp,
            };
            let mut e = match previous {
                Some(mine) => Entry {
                    tokens: self.refill(&mine, now_ms),
                    ..mine
                },
                None => Entry {
                    client: client.0,
                    last_ms: now_ms,
                    tokens: self.capacity(),
                    blocked_until: 0,
                },
            };
            e.last_ms = e.last_ms.max(now_ms);
            e.tokens = e.tokens.saturating_sub(MILLI);
            let was_blocked = e.blocked_until > now_ms;
            let blocked = !was_blocked && e.tokens < MILLI;
            if blocked {
                e.blocked_until = now_ms + u64::from(self.settings.block_seconds) * 1000;
            }
            if self.store.save(slot, &e.encode(), cas) {
                return Recorded::Counted {
                    blocked,
                    took_empty_slot,
                };
            }
        }
        Recorded::GaveUp
    }

    /// The slot to write: the client's own, else an empty one, else an idle one, else the
    /// unblocked candidate whose last failure is oldest.
    fn choose(&self, client: &ClientId, now_ms: u64) -> Choose {
        let mut free: Option<(u32, u32, bool)> = None;
        let mut victim: Option<(u32, u32, u64)> = None;
        let mut readable = false;
        for slot in self.candidates(client) {
            let Some((bytes, cas)) = self.store.load(slot) else {
                continue;
            };
            readable = true;
            let Some(e) = Entry::decode(&bytes) else {
                // Empty (or unreadable, so worthless): as good as free.
                if free.is_none_or(|(_, _, empty)| !empty) {
                    free = Some((slot, cas, true));
                }
                continue;
            };
            if e.client == client.0 {
                return Choose::Slot(Choice {
                    slot,
                    cas,
                    previous: Some(e),
                    took_empty_slot: false,
                });
            }
            if e.blocked_until > now_ms {
                continue;
            }
            if self.refill(&e, now_ms) >= self.capacity() {
                free = free.or(Some((slot, cas, false)));
                continue;
            }
            if victim.is_none_or(|(_, _, last)| e.last_ms < last) {
                victim = Some((slot, cas, e.last_ms));
            }
        }
        match free.or(victim.map(|(s, c, _)| (s, c, false))) {
            Some((slot, cas, took_empty_slot)) => Choose::Slot(Choice {
                slot,
                cas,
                previous: None,
                took_empty_slot,
            }),
            None if readable => Choose::TableFull,
            None => Choose::Unreadable,
        }
    }

    fn capacity(&self) -> u64 {
        u64::from(self.settings.burst) * MILLI
    }

    /// The entry's tokens (thousandths) at `now_ms`: `failuresPerMinute / 60` per second.
    fn refill(&self, e: &Entry, now_ms: u64) -> u64 {
        let elapsed = now_ms.saturating_sub(e.last_ms);
        let gained = elapsed.saturating_mul(u64::from(self.settings.failures_per_minute)) / 60;
        e.tokens.saturating_add(gained).min(self.capacity())
    }

    fn candidates(&self, client: &ClientId) -> impl Iterator<Item = u32> + '_ {
        let n = self.settings.max_clients.max(1);
        let d = client.0;
        (0..WAYS).map(move |i| {
            u32::from_be_bytes([d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3]]) % n
        })
    }
}

/// The 429's body.
pub fn throttled_body(retry_after_s: u64) -> String {
    json!({
        "error": "Too Many Requests",
        "message": format!("Too many failed authentication attempts; retry after {retry_after_s} s"),
    })
    .to_string()
}

/// Slots in memory, every one present and empty at first, with versions like Envoy's.
pub struct MemoryThrottleStore(std::sync::Mutex<(Vec<Versioned>, u32)>);

/// A slot's bytes and version.
type Versioned = (Vec<u8>, u32);

impl MemoryThrottleStore {
    pub fn new(slots: u32) -> Self {
        let all = (0..slots).map(|_| (Vec::new(), 1)).collect();
        MemoryThrottleStore(std::sync::Mutex::new((all, 2)))
    }

    /// Slots holding a client.
    pub fn occupied(&self) -> usize {
        self.0
            .lock()
            .map(|m| m.0.iter().filter(|(b, _)| !b.is_empty()).count())
            .unwrap_or(0)
    }
}

impl ThrottleStore for MemoryThrottleStore {
    fn load(&self, slot: u32) -> Option<(Vec<u8>, u32)> {
        self.0.lock().ok()?.0.get(slot as usize).cloned()
    }

    fn save(&self, slot: u32, entry: &[u8], cas: u32) -> bool {
        let Ok(mut m) = self.0.lock() else {
            return false;
        };
        let next = m.1;
        match m.0.get_mut(slot as usize) {
            Some(s) if s.1 == cas => {
                *s = (entry.to_vec(), next);
                m.1 += 1;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
#[path = "throttle_tests.rs"]
mod tests;
