//! The verdict cache's and the throttle's slots in Envoy shared data: visible to every
//! worker of the plugin's VM, so one review serves all workers and all workers agree on who
//! is blocked. Keys are slot numbers, never tokens or addresses.

use crate::abi;
use bindcar_policy::cache::SlotStore;
use bindcar_policy::throttle::ThrottleStore;

pub struct SharedDataStore;

const PREFIX: &str = "bindcar-auth/cache/";

impl SlotStore for SharedDataStore {
    fn load(&self, slot: u32) -> Option<Vec<u8>> {
        abi::shared_data(&format!("{PREFIX}{slot}")).ok()?.0
    }

    fn save(&self, slot: u32, entry: &[u8]) {
        // Last writer wins; a lost race costs one review, never a wrong answer (entries carry
        // their full digest).
        abi::set_shared_data(&format!("{PREFIX}{slot}"), entry, None).ok();
    }
}

pub struct SharedThrottleStore;

const THROTTLE_PREFIX: &str = "bindcar-auth/throttle/";

impl SharedThrottleStore {
    /// Creates every slot that does not exist yet, empty: Envoy checks a compare-and-swap
    /// version only on a key that exists, so slots must exist before clients race for them.
    /// Fixed memory from the start (`maxClients` entries of at most 40 bytes).
    pub fn prepare(max_clients: u32) {
        for slot in 0..max_clients {
            let key = format!("{THROTTLE_PREFIX}{slot}");
            // No version: the key does not exist (an existing one always has a version).
            if let Ok((_, None)) = abi::shared_data(&key) {
                abi::set_shared_data(&key, &[], None).ok();
            }
        }
    }
}

impl ThrottleStore for SharedThrottleStore {
    fn load(&self, slot: u32) -> Option<(Vec<u8>, u32)> {
        match abi::shared_data(&format!("{THROTTLE_PREFIX}{slot}")) {
            Ok((value, Some(cas))) => Some((value.unwrap_or_default(), cas)),
            _ => None,
        }
    }

    fn save(&self, slot: u32, entry: &[u8], cas: u32) -> bool {
        abi::set_shared_data(&format!("{THROTTLE_PREFIX}{slot}"), entry, Some(cas)).is_ok()
    }
}

/// The host gave no randomness: the keys that hide tokens and clients would be guessable, so
/// the plugin refuses to load rather than fall back to anything predictable.
#[derive(Debug)]
pub struct NoRandomness(String);

impl std::fmt::Display for NoRandomness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the host gives no randomness ({}): the keys of the verdict cache, the memo and \
             the client hashes would be guessable",
            self.0
        )
    }
}

/// The cache's HMAC key: random, made by the first VM that needs it and shared through shared
/// data so all workers compute the same keys. Never leaves the process.
pub fn shared_secret() -> Result<Vec<u8>, NoRandomness> {
    const KEY: &str = "bindcar-auth/hmac-key";
    if let Ok((Some(k), _)) = abi::shared_data(KEY) {
        if k.len() == 32 {
            return Ok(k);
        }
    }
    let fresh = random_bytes()?;
    abi::set_shared_data(KEY, &fresh, None).ok();
    // Two workers racing here may each keep their own key: then they share fewer entries,
    // nothing worse. Re-reading makes that window tiny.
    Ok(match abi::shared_data(KEY) {
        Ok((Some(k), _)) if k.len() == 32 => k,
        _ => fresh.to_vec(),
    })
}

/// 32 bytes from the host's random source, or the reason there are none.
pub fn random_bytes() -> Result<[u8; 32], NoRandomness> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).map_err(|e| NoRandomness(e.to_string()))?;
    Ok(buf)
}
