//! The verdict cache's and the throttle's slots in Envoy shared data: visible to every
//! worker of the plugin's VM, so one review serves all workers and all workers agree on who
//! is blocked. Keys are slot numbers, never tokens or addresses.

use bindcar_policy::cache::SlotStore;
use bindcar_policy::throttle::ThrottleStore;
use proxy_wasm::hostcalls;

pub struct SharedDataStore;

const PREFIX: &str = "bindcar-auth/cache/";

impl SlotStore for SharedDataStore {
    fn load(&self, slot: u32) -> Option<Vec<u8>> {
        hostcalls::get_shared_data(&format!("{PREFIX}{slot}"))
            .ok()?
            .0
    }

    fn save(&self, slot: u32, entry: &[u8]) {
        // Last writer wins; a lost race costs one review, never a wrong answer (entries carry
        // their full digest).
        hostcalls::set_shared_data(&format!("{PREFIX}{slot}"), Some(entry), None).ok();
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
            if let Ok((_, None)) = hostcalls::get_shared_data(&key) {
                hostcalls::set_shared_data(&key, Some(&[]), None).ok();
            }
        }
    }
}

impl ThrottleStore for SharedThrottleStore {
    fn load(&self, slot: u32) -> Option<(Vec<u8>, u32)> {
        match hostcalls::get_shared_data(&format!("{THROTTLE_PREFIX}{slot}")) {
            Ok((value, Some(cas))) => Some((value.unwrap_or_default(), cas)),
            _ => None,
        }
    }

    fn save(&self, slot: u32, entry: &[u8], cas: u32) -> bool {
        hostcalls::set_shared_data(&format!("{THROTTLE_PREFIX}{slot}"), Some(entry), Some(cas))
            .is_ok()
    }
}

/// The cache's HMAC key: random, made by the first VM that needs it and shared through shared
/// data so all workers compute the same keys. Never leaves the process.
pub fn shared_secret() -> Vec<u8> {
    const KEY: &str = "bindcar-auth/hmac-key";
    if let Ok((Some(k), _)) = hostcalls::get_shared_data(KEY) {
        if k.len() == 32 {
            return k;
        }
    }
    let fresh = random_bytes();
    hostcalls::set_shared_data(KEY, Some(&fresh), None).ok();
    // Two workers racing here may each keep their own key: then they share fewer entries,
    // nothing worse. Re-reading makes that window tiny.
    match hostcalls::get_shared_data(KEY) {
        Ok((Some(k), _)) if k.len() == 32 => k,
        _ => fresh,
    }
}

pub fn random_bytes() -> Vec<u8> {
    let mut buf = [0u8; 32];
    if getrandom::fill(&mut buf).is_err() {
        // No randomness from the host: fall back to the clock, still private to this process.
        let t = hostcalls::get_current_time()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        buf[..16].copy_from_slice(&t.map(|d| d.as_nanos()).unwrap_or(0).to_le_bytes());
    }
    buf.to_vec()
}
