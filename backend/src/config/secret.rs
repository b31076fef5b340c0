//! The process's random key (TokenReview's verdict cache and the authorization decision cache
//! derive theirs from it), taken once at startup. Randomness or nothing: without it the keys
//! would be guessable, so the service refuses to start rather than fall back to the clock, an
//! address or the PID.

use std::fmt;
use std::io::Read;

/// 32 random bytes; never shown (its `Debug` says so).
#[derive(Clone, PartialEq, Eq)]
pub struct ProcessSecret([u8; 32]);

impl ProcessSecret {
    /// From the OS (`/dev/urandom`), or why the service must not start.
    pub fn from_os() -> Result<ProcessSecret, String> {
        ProcessSecret::from_source(|buf| std::fs::File::open("/dev/urandom")?.read_exact(buf))
    }

    /// From `fill`, the seam the tests use to take randomness away.
    pub fn from_source(
        fill: impl FnOnce(&mut [u8]) -> std::io::Result<()>,
    ) -> Result<ProcessSecret, String> {
        let mut key = [0u8; 32];
        fill(&mut key).map_err(|e| {
            format!(
                "refusing to start: the OS gives no randomness ({e}); the keys of the TokenReview \
                 and authorization caches would be guessable"
            )
        })?;
        Ok(ProcessSecret(key))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for ProcessSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProcessSecret(..)")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn no_randomness_no_start() {
        let e =
            ProcessSecret::from_source(|_| Err(std::io::ErrorKind::NotFound.into())).unwrap_err();
        assert!(
            e.starts_with("refusing to start: the OS gives no randomness"),
            "{e}"
        );
        let short = ProcessSecret::from_source(|buf| (&[1u8; 8][..]).read_exact(buf));
        assert!(short.is_err(), "a short read is no key");
    }

    #[test]
    fn two_processes_two_keys_and_never_shown() {
        let (a, b) = (
            ProcessSecret::from_os().unwrap(),
            ProcessSecret::from_os().unwrap(),
        );
        assert_ne!(a, b);
        assert_ne!(a.bytes(), [0u8; 32]);
        assert_eq!(format!("{a:?}"), "ProcessSecret(..)");
    }
}
