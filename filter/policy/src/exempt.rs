//! Exempt paths: requests that pass without a token (health, readiness, metrics).
//!
//! Matching is exact, case-sensitive, on the path part of `:path` (before the first `?`),
//! and never by prefix. A path that is not in canonical form is never exempt, whatever it
//! would normalise to: we do not trust the host or the backend to normalise the same way.

use std::fmt;

pub const DEFAULT_EXEMPT_PATHS: [&str; 3] = ["/api/v1/health", "/api/v1/ready", "/metrics"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExemptPaths(Vec<Vec<u8>>);

/// A configured exempt path that is not in canonical form (the configuration names it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotCanonical(pub String);

impl fmt::Display for NotCanonical {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exemptPaths: {:?} is not a canonical absolute path (it must start with '/' and \
             contain no '?', '%', '..', '//', '\\', ';', '#', spaces, control or non-ASCII bytes)",
            self.0
        )
    }
}

impl Default for ExemptPaths {
    fn default() -> Self {
        ExemptPaths(
            DEFAULT_EXEMPT_PATHS
                .iter()
                .map(|p| p.as_bytes().to_vec())
                .collect(),
        )
    }
}

impl ExemptPaths {
    pub fn new<S: AsRef<str>>(paths: &[S]) -> Result<Self, NotCanonical> {
        let mut out = Vec::with_capacity(paths.len());
        for p in paths {
            let p = p.as_ref();
            if !is_canonical(p.as_bytes()) {
                return Err(NotCanonical(p.to_string()));
            }
            out.push(p.as_bytes().to_vec());
        }
        Ok(ExemptPaths(out))
    }

    /// `raw_path` is the request's `:path` exactly as received (query string included).
    pub fn is_exempt(&self, raw_path: &[u8]) -> bool {
        let path = match raw_path.iter().position(|&b| b == b'?') {
            Some(i) => &raw_path[..i],
            None => raw_path,
        };
        // Every listed path is canonical (`new` refuses others), so equality to one of them
        // is the whole test: a path that is not canonical can never be equal.
        self.0.iter().any(|p| p == path)
    }

    pub fn paths(&self) -> impl Iterator<Item = &[u8]> {
        self.0.iter().map(|p| p.as_slice())
    }
}

/// Starts with `/`; visible ASCII only; no `%` (no escapes to decode), no `\`, `;`, `#`, `?`;
/// no empty segment (`//`) and no dot segments.
fn is_canonical(path: &[u8]) -> bool {
    path.first() == Some(&b'/')
        && path
            .iter()
            .all(|&b| b.is_ascii_graphic() && !matches!(b, b'%' | b'\\' | b';' | b'#' | b'?'))
        && !path.windows(2).any(|w| w == b"//")
        && !path.windows(2).any(|w| w == b"..")
        && !path[1..].split(|&b| b == b'/').any(|seg| seg == b".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test(unsupported = test)]
    fn defaults_are_exempt_exactly() {
        let e = ExemptPaths::default();
        for p in [
            "/api/v1/health",
            "/api/v1/ready",
            "/metrics",
            "/api/v1/health?probe=1",
            "/metrics?",
            "/api/v1/ready?a=b&c=%2e%2e",
        ] {
            assert!(e.is_exempt(p.as_bytes()), "{p} should be exempt");
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn lookalikes_are_not_exempt() {
        let e = ExemptPaths::default();
        for p in [
            "/api/v1/health/../zones",
            "/api/v1/health/..",
            "/api/v1/health%2f..%2fzones",
            "/api/v1/health%2F..%2Fzones",
            "/api/v1/%68ealth",
            "//api/v1/health",
            "/api//v1/health",
            "/API/v1/health",
            "/api/V1/health",
            "/api/v1/Health",
            "/api/v1/healthz",
            "/api/v1/health-admin",
            "/api/v1/health/",
            "/api/v1/health/x",
            "/api/v1/health;x=1",
            "/api/v1/health;",
            "/api/v1/health#x",
            "/api/v1/health\\",
            "\\api\\v1\\health",
            "/api/v1/./health",
            "/./api/v1/health",
            "/metrics/x",
            "/metrics/",
            "/metricsx",
            "metrics",
            "/api/v1/health ",
            " /api/v1/health",
            "/api/v1/health\t",
            "/api/v1/zones",
            "/",
            "",
            "*",
            "http://host/api/v1/health",
            "/api/v1/zones/../health",
            "/api/v1/zones/%2e%2e/health",
        ] {
            assert!(!e.is_exempt(p.as_bytes()), "{p:?} must not be exempt");
        }
        assert!(!e.is_exempt(b"/api/v1/health\x00"));
        assert!(!e.is_exempt(b"/api/v1/health\xff"));
        assert!(!e.is_exempt(b"/api/v1/h\xc3\xa9alth"));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn configured_paths_must_be_canonical() {
        assert!(ExemptPaths::new(&["/healthz", "/livez"]).is_ok());
        for bad in [
            "healthz", "/a/../b", "/a//b", "/a?b", "/a%20b", "/a b", "/a;b", "", "/é",
        ] {
            assert!(ExemptPaths::new(&[bad]).is_err(), "{bad:?} accepted");
        }
        let e = ExemptPaths::new::<&str>(&[]).unwrap();
        assert!(!e.is_exempt(b"/api/v1/health"));
    }
}
