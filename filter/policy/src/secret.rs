//! Shared-secret comparison (`BIND_API_TOKEN`), in constant time.

use sha2::{Digest, Sha256};

/// Compares SHA-256 digests so neither the time taken nor an early exit reveals how much
/// of the secret a guess got right, whatever the lengths.
pub fn shared_secret_matches(expected: &[u8], presented: &[u8]) -> bool {
    let a = Sha256::digest(expected);
    let b = Sha256::digest(presented);
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test(unsupported = test)]
    fn compares() {
        assert!(shared_secret_matches(b"s3cret", b"s3cret"));
        assert!(!shared_secret_matches(b"s3cret", b"s3creT"));
        assert!(!shared_secret_matches(b"s3cret", b"s3cret2"));
        assert!(!shared_secret_matches(b"s3cret", b""));
    }
}
