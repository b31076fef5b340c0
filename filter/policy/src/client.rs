//! Who the client is, for throttling and for fair shares of a worker's pending reviews.
//!
//! `sourceAddress` is the connection's peer. Envoy's `source.address` is that peer, unless
//! Envoy took the address from `x-forwarded-for`: it does so when `use_remote_address` is
//! off (then the **client** chose it: the last entry of a header it sent) and when
//! `xff_num_trusted_hops` trusts proxies. Such an address carries port 0, and the filter cannot
//! tell the two cases apart, so it never keys a client by it: every request whose address came
//! from a header shares one key ([`ClientKey::Forwarded`]). A client can therefore neither take
//! a fresh key per request nor take another client's key. The shipped Envoy configurations set
//! `use_remote_address: true` with no trusted hops, where `source.address` is always the peer;
//! behind proxies, name the header instead: `{"header": …, "trustedHops": N}`, the Nth entry
//! from the right of the header as Envoy passes it on (a missing or short header falls back
//! to the source address).
//!
//! IPv6 clients are keyed by their /64 (one host usually holds a whole /64, so rotating
//! addresses inside it buys nothing), IPv4-mapped IPv6 as IPv4, as the backend's limiter does.
//! Keys are never stored or logged raw: a [`ClientId`] is a keyed hash with a per-process
//! random key.

use std::net::{IpAddr, Ipv6Addr};

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Where the client key comes from (`throttle.clientKey`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKeySource {
    /// The connection's peer: Envoy's `source.address` when it came from the connection.
    SourceAddress,
    /// The `trusted_hops`-th entry from the right of this (lowercase) header's comma list.
    Header { name: String, trusted_hops: u32 },
}

/// Who a request's client is, before hashing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKey<'a> {
    /// An IPv4 address, or an IPv6 address's /64.
    Ip(IpAddr),
    /// A header entry that is not an IP address, as it is.
    Raw(&'a [u8]),
    /// Envoy took `source.address` from a forwarding header: who sent it is unknown.
    Forwarded,
    /// No address at all.
    Unknown,
}

impl ClientKeySource {
    /// The header to read, if any.
    pub fn header(&self) -> Option<&str> {
        match self {
            ClientKeySource::SourceAddress => None,
            ClientKeySource::Header { name, .. } => Some(name),
        }
    }

    /// Whether [`ClientKeySource::key`] would read the source address for this header value
    /// (a host call spared when the header names the client).
    pub fn needs_address(&self, header: Option<&[u8]>) -> bool {
        match self {
            ClientKeySource::SourceAddress => true,
            ClientKeySource::Header { trusted_hops, .. } => header
                .and_then(|h| nth_from_right(h, *trusted_hops))
                .is_none(),
        }
    }

    /// The client from the source address (as the proxy gives it: `1.2.3.4:5678`,
    /// `[::1]:5678`) and the header's value, when the source says a header.
    pub fn key<'a>(
        &self,
        source_address: Option<&'a [u8]>,
        header: Option<&'a [u8]>,
    ) -> ClientKey<'a> {
        let peer = || source_address.map_or(ClientKey::Unknown, peer_key);
        match self {
            ClientKeySource::SourceAddress => peer(),
            ClientKeySource::Header { trusted_hops, .. } => header
                .and_then(|h| nth_from_right(h, *trusted_hops))
                .map_or_else(peer, entry_key),
        }
    }
}

/// `source.address`: `ip:port` or `[ip6]:port`. Port 0 means Envoy read it from a header.
fn peer_key(address: &[u8]) -> ClientKey<'_> {
    let Ok(text) = std::str::from_utf8(address) else {
        return ClientKey::Raw(address);
    };
    match text.parse::<std::net::SocketAddr>() {
        Ok(sa) if sa.port() == 0 => ClientKey::Forwarded,
        Ok(sa) => ClientKey::Ip(prefix(sa.ip())),
        Err(_) => match text.parse::<IpAddr>() {
            Ok(ip) => ClientKey::Ip(prefix(ip)),
            Err(_) => ClientKey::Raw(address),
        },
    }
}

/// A header entry: an address (bare, `[ip6]`, or with a port), else the bytes as they are.
fn entry_key(entry: &[u8]) -> ClientKey<'_> {
    let Ok(text) = std::str::from_utf8(entry) else {
        return ClientKey::Raw(entry);
    };
    let bare = text.strip_prefix('[').and_then(|t| t.strip_suffix(']'));
    let ip = text
        .parse::<IpAddr>()
        .ok()
        .or_else(|| bare.and_then(|b| b.parse().ok()))
        .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|sa| sa.ip()));
    ip.map_or(ClientKey::Raw(entry), |ip| ClientKey::Ip(prefix(ip)))
}

/// IPv4 as it is, IPv4-mapped IPv6 as IPv4, other IPv6 to its /64.
fn prefix(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
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

    pub fn id(&self, key: &ClientKey<'_>) -> ClientId {
        let mut mac = self.mac.clone();
        // A tag per kind, so no raw header entry can spell an address's key.
        match key {
            ClientKey::Ip(IpAddr::V4(v4)) => mac.update(&[&b"4"[..], &v4.octets()].concat()),
            ClientKey::Ip(IpAddr::V6(v6)) => mac.update(&[&b"6"[..], &v6.octets()].concat()),
            ClientKey::Raw(bytes) => mac.update(&[&b"r"[..], bytes].concat()),
            ClientKey::Forwarded => mac.update(b"f"),
            ClientKey::Unknown => mac.update(b"u"),
        }
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

    fn ip(s: &str) -> ClientKey<'static> {
        ClientKey::Ip(s.parse().unwrap())
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn the_peer_without_its_port_and_ipv6_by_its_64() {
        let s = ClientKeySource::SourceAddress;
        for (addr, key) in [
            (&b"10.1.2.3:5678"[..], ip("10.1.2.3")),
            (b"10.1.2.3", ip("10.1.2.3")),
            (b"[::1]:443", ip("::")),
            (b"[2001:db8:1:2:3:4:5:6]:1", ip("2001:db8:1:2::")),
            (b"[2001:db8:1:2:ffff::9]:2", ip("2001:db8:1:2::")),
            (b"[::ffff:192.0.2.9]:80", ip("192.0.2.9")),
            (b"2001:db8::7", ip("2001:db8::")),
            (b"[broken", ClientKey::Raw(b"[broken")),
            (b"", ClientKey::Raw(b"")),
        ] {
            assert_eq!(s.key(Some(addr), Some(b"9.9.9.9")), key, "{addr:?}");
        }
        assert_eq!(s.key(None, None), ClientKey::Unknown);
    }

    /// Port 0: Envoy read the address from `x-forwarded-for` (use_remote_address off, or
    /// trusted hops). Whatever it says, it is one shared key, never the address it names.
    #[wasm_bindgen_test(unsupported = test)]
    fn an_address_envoy_took_from_a_header_is_never_a_clients_key() {
        let s = ClientKeySource::SourceAddress;
        for addr in [&b"198.51.100.7:0"[..], b"127.0.0.1:0", b"[2001:db8::1]:0"] {
            assert_eq!(s.key(Some(addr), None), ClientKey::Forwarded, "{addr:?}");
        }
        let h = ClientHasher::new(b"k");
        assert_ne!(
            h.id(&s.key(Some(b"127.0.0.1:0"), None)),
            h.id(&s.key(Some(b"127.0.0.1:4242"), None)),
            "a forged address takes the real client's key"
        );
        assert_eq!(
            h.id(&s.key(Some(b"198.51.100.1:0"), None)),
            h.id(&s.key(Some(b"198.51.100.2:0"), None)),
            "a rotating forged address takes fresh keys"
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn header_entries_from_the_right_with_fallback() {
        let src = Some(&b"127.0.0.1:999"[..]);
        let xff = Some(&b"198.51.100.1, 203.0.113.9 ,10.0.0.1"[..]);
        assert_eq!(header(1).key(src, xff), ip("10.0.0.1"));
        assert_eq!(header(2).key(src, xff), ip("203.0.113.9"));
        assert_eq!(header(3).key(src, xff), ip("198.51.100.1"));
        assert_eq!(header(4).key(src, xff), ip("127.0.0.1"), "short: fallback");
        assert_eq!(
            header(1).key(src, None),
            ip("127.0.0.1"),
            "absent: fallback"
        );
        assert_eq!(
            header(1).key(src, Some(b"a, ")),
            ip("127.0.0.1"),
            "empty entry"
        );
        assert_eq!(
            header(1).key(src, Some(b"\xff\xfe")),
            ClientKey::Raw(b"\xff\xfe")
        );
        assert_eq!(
            header(1).key(src, Some(b"unknown")),
            ClientKey::Raw(b"unknown")
        );
        assert_eq!(header(1).key(None, None), ClientKey::Unknown);
        assert_eq!(header(0).key(src, xff), ip("127.0.0.1"));
        // Addresses in any spelling, IPv6 by /64.
        for entry in [
            &b"2001:db8:0:1::5"[..],
            b"[2001:db8:0:1::6]",
            b"[2001:db8:0:1::7]:8443",
        ] {
            assert_eq!(
                header(1).key(src, Some(entry)),
                ip("2001:db8:0:1::"),
                "{entry:?}"
            );
        }
        assert_eq!(header(1).key(src, Some(b"192.0.2.1:80")), ip("192.0.2.1"));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn ids_are_keyed_and_stable() {
        let a = ClientHasher::new(b"secret");
        let b = ClientHasher::new(b"other");
        let k = ip("10.0.0.1");
        assert_eq!(a.id(&k), a.id(&k));
        assert_ne!(a.id(&k), a.id(&ip("10.0.0.2")));
        assert_ne!(a.id(&k), b.id(&k));
        // A raw entry never spells an address's key.
        assert_ne!(a.id(&k), a.id(&ClientKey::Raw(&[10, 0, 0, 1])));
        let fp = a.id(&k).fingerprint();
        assert_eq!(fp.len(), 8);
        assert!(!fp.contains("10.0.0.1"));
    }
}
