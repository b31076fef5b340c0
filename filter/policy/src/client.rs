//! Who the client is, for throttling and for fair shares of a worker's pending reviews.
//!
//! The key is either the peer's address as the proxy saw it (`sourceAddress`, without the
//! port) or the Nth entry from the right of a header's comma list (`x-forwarded-for` behind
//! N trusted proxies); a missing or short header falls back to the source address. Keys are
//! never stored or logged raw: a [`ClientId`] is a keyed hash with a per-process random key.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Where the client key comes from (`throttle.clientKey`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKeySource {
    /// Envoy's `source.address`, without the port.
    SourceAddress,
    /// The `trusted_hops`-th entry from the right of this (lowercase) header's comma list.
    Header { name: String, trusted_hops: u32 },
}

impl ClientKeySource {
    /// The header to read, if any.
    pub fn header(&self) -> Option<&str> {
        match self {
            ClientKeySource::SourceAddress => None,
            ClientKeySource::Header { name, .. } => Some(name),
        }
    }

    /// The client key from the source address (as the proxy gives it: `1.2.3.4:5678`,
    /// `[::1]:5678`) and the header's value, when the source says a header.
    pub fn key<'a>(&self, source_address: Option<&'a [u8]>, header: Option<&'a [u8]>) -> &'a [u8] {
        let fallback = || source_address.map(strip_port).unwrap_or(b"");
        match self {
            ClientKeySource::SourceAddress => fallback(),
            ClientKeySource::Header { trusted_hops, .. } => header
                .and_then(|h| nth_from_right(h, *trusted_hops))
                .unwrap_or_else(fallback),
        }
    }
}

/// `1.2.3.4:80` → `1.2.3.4`, `[::1]:80` → `[::1]`; anything else as it is.
fn strip_port(addr: &[u8]) -> &[u8] {
    if addr.first() == Some(&b'[') {
        return match addr.iter().position(|&b| b == b']') {
            Some(end) => &addr[..=end],
            None => addr,
        };
    }
    match addr.iter().filter(|&&b| b == b':').count() {
        1 => addr.split(|&b| b == b':').next().unwrap_or(addr),
        _ => addr,
    }
}

/// The `n`-th non-empty entry from the right (1 = the last), trimmed; `None` when short.
fn nth_from_right(list: &[u8], n: u32) -> Option<&[u8]> {
    let n = usize::try_from(n).ok()?.checked_sub(1)?;
    let entry = list.rsplit(|&b| b == b',').nth(n)?.trim_ascii();
    (!entry.is_empty()).then_some(entry)
}

/// A client as the filter stores and logs it: 128 bits of a keyed hash of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientId(pub [u8; 16]);

impl ClientId {
    /// A short name for log lines (8 hex digits); never the address itself.
    pub fn fingerprint(&self) -> String {
        self.0[..4].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Hashes client keys with a key made from the per-process secret (domain-separated from
/// the verdict cache's use of the same secret).
#[derive(Clone)]
pub struct ClientHasher {
    mac: Hmac<Sha256>,
}

impl ClientHasher {
    pub fn new(secret: &[u8]) -> Self {
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(&Sha256::digest(secret));
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&key.into());
        mac.update(b"bindcar-auth client key\0");
        ClientHasher { mac }
    }

    pub fn id(&self, key: &[u8]) -> ClientId {
        let mut mac = self.mac.clone();
        mac.update(key);
        let digest = mac.finalize().into_bytes();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        ClientId(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn header(hops: u32) -> ClientKeySource {
        ClientKeySource::Header {
            name: "x-forwarded-for".into(),
            trusted_hops: hops,
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn source_address_without_the_port() {
        let s = ClientKeySource::SourceAddress;
        for (addr, key) in [
            (&b"10.1.2.3:5678"[..], &b"10.1.2.3"[..]),
            (b"10.1.2.3", b"10.1.2.3"),
            (b"[::1]:443", b"[::1]"),
            (b"[2001:db8::7]:1", b"[2001:db8::7]"),
            (b"2001:db8::7", b"2001:db8::7"),
            (b"[broken", b"[broken"),
            (b"", b""),
        ] {
            assert_eq!(s.key(Some(addr), Some(b"9.9.9.9")), key, "{addr:?}");
        }
        assert_eq!(s.key(None, None), b"");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn header_entries_from_the_right_with_fallback() {
        let src = Some(&b"127.0.0.1:999"[..]);
        let xff = Some(&b"198.51.100.1, 203.0.113.9 ,10.0.0.1"[..]);
        assert_eq!(header(1).key(src, xff), b"10.0.0.1");
        assert_eq!(header(2).key(src, xff), b"203.0.113.9");
        assert_eq!(header(3).key(src, xff), b"198.51.100.1");
        assert_eq!(header(4).key(src, xff), b"127.0.0.1", "short: fallback");
        assert_eq!(header(1).key(src, None), b"127.0.0.1", "absent: fallback");
        assert_eq!(
            header(1).key(src, Some(b"a, ")),
            b"127.0.0.1",
            "empty entry"
        );
        assert_eq!(header(1).key(src, Some(b"\xff\xfe")), b"\xff\xfe");
        assert_eq!(header(1).key(None, None), b"");
        assert_eq!(header(0).key(src, xff), b"127.0.0.1");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn ids_are_keyed_and_stable() {
        let a = ClientHasher::new(b"secret");
        let b = ClientHasher::new(b"other");
        assert_eq!(a.id(b"10.0.0.1"), a.id(b"10.0.0.1"));
        assert_ne!(a.id(b"10.0.0.1"), a.id(b"10.0.0.2"));
        assert_ne!(a.id(b"10.0.0.1"), b.id(b"10.0.0.1"));
        let fp = a.id(b"10.0.0.1").fingerprint();
        assert_eq!(fp.len(), 8);
        assert!(!fp.contains("10.0.0.1"));
    }
}
