//! The setup the fault tests share: the backend's environment.

use bindcar_testbed::named::Named;

/// The backend's environment for a fault test: `named`'s, with 1 s time limits, reconciled
/// every second, without authentication, then `extra` (each replaces what named's names).
pub fn fault_env(named: &Named, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let ours: Vec<(String, String)> = [
        ("RNDC_TIMEOUT_SECS", "1"),
        ("BIND_RECONCILE_SECS", "1"),
        ("DISABLE_AUTH", "true"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut env = named.backend_env();
    env.retain(|(k, _)| !ours.iter().any(|(o, _)| o == k));
    env.extend(ours);
    env
}
