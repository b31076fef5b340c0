//! The authentication policy of bindcar, shared by the Envoy filter and the backend.
//!
//! Everything here is plain Rust with no host calls, so the same decisions can be tested
//! natively, as wasm, and reused by both enforcement points. The host-specific code on each
//! side (proxy-wasm glue in `filter/`, axum middleware in `backend/`) only adapts it.

pub mod access;
pub mod authz;
pub mod bearer;
pub mod cache;
pub mod client;
pub mod config;
pub mod denial;
pub mod exempt;
pub mod failure;
pub mod header_map;
pub mod jwt;
pub mod pending;
pub mod recent;
pub mod review;
pub mod secret;
pub mod stats;
pub mod strict_json;
pub mod throttle;
pub mod verdict;

pub use denial::Denial;

use sha2::{Digest, Sha256};

/// A short, non-reversible name for a token, for log lines. Never log the token itself.
pub fn token_fingerprint(token: &[u8]) -> String {
    let digest = Sha256::digest(token);
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}
