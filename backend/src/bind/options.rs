//! The options of a `zone { ... }` statement as typed values. Every value that reaches an rndc
//! command line is one of these types, built by validation, so no client text is ever pasted
//! into a command: addresses are re-rendered from parsed `IpAddr`s, names are checked against a
//! strict alphabet, the file path comes from configuration.

use std::fmt::{self, Write as _};
use std::net::IpAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `zoneType` of a create request. bindcar's names; `master`/`slave` are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ZoneType {
    Primary,
    Secondary,
}

impl ZoneType {
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneType::Primary => "primary",
            ZoneType::Secondary => "secondary",
        }
    }
}

/// A server to talk to: `ip` or `ip port N` (primaries, also-notify).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: Option<u16>,
}

impl Endpoint {
    /// Accepts `ip`, `ipv4:port`, `[ipv6]:port`.
    pub fn parse(raw: &str) -> Option<Endpoint> {
        if let Ok(ip) = raw.parse::<IpAddr>() {
            return Some(Endpoint { ip, port: None });
        }
        let addr = raw.parse::<std::net::SocketAddr>().ok()?;
        Some(Endpoint {
            ip: addr.ip(),
            port: Some(addr.port()),
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{} port {port}", self.ip),
            None => write!(f, "{}", self.ip),
        }
    }
}

/// An element of an address match list: an address or a CIDR prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressMatch {
    pub ip: IpAddr,
    pub prefix: Option<u8>,
}

impl AddressMatch {
    pub fn parse(raw: &str) -> Option<AddressMatch> {
        let (ip_text, prefix) = match raw.split_once('/') {
            Some((ip, len)) => (ip, Some(len.parse::<u8>().ok()?)),
            None => (raw, None),
        };
        let ip = ip_text.parse::<IpAddr>().ok()?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if prefix.is_some_and(|p| p > max) {
            return None;
        }
        Some(AddressMatch { ip, prefix })
    }
}

impl fmt::Display for AddressMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix {
            Some(prefix) => write!(f, "{}/{prefix}", self.ip),
            None => write!(f, "{}", self.ip),
        }
    }
}

/// The name of something defined in named.conf (a TSIG key, a dnssec-policy):
/// 1–253 characters of `[A-Za-z0-9._-]`, so it can be quoted without escaping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfName(String);

impl ConfName {
    pub fn parse(raw: &str) -> Option<ConfName> {
        let ok = !raw.is_empty()
            && raw.len() <= 253
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        ok.then(|| ConfName(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Everything this API puts in a zone statement it creates.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneOptions {
    pub zone_type: ZoneType,
    pub file: PathBuf,
    pub primaries: Vec<Endpoint>,
    pub update_key: Option<ConfName>,
    pub also_notify: Vec<Endpoint>,
    pub allow_transfer: Option<Vec<AddressMatch>>,
    /// A TSIG key admitted by `allow-transfer` besides its addresses (the catalog's members
    /// keep the records API's AXFR working when their list names only the secondaries).
    pub transfer_key: Option<ConfName>,
    /// `notify explicit;`: NOTIFY goes to `also-notify` only (the catalog, whose NS is
    /// `invalid.`).
    pub notify_explicit: bool,
    /// `notify-delay`: seconds between sets of NOTIFY messages (BIND's default is 5).
    pub notify_delay: Option<u32>,
    pub dnssec_policy: Option<ConfName>,
    pub inline_signing: Option<bool>,
}

impl ZoneOptions {
    /// The `{ ... };` block of `rndc addzone`, in bindcar's statement order.
    pub fn render(&self) -> String {
        let mut out = String::from("{ ");
        let _ = write!(out, "type {}; ", self.zone_type.as_str());
        let _ = write!(out, "file \"{}\"; ", self.file.display());
        if !self.primaries.is_empty() {
            out.push_str(&list_statement("primaries", &self.primaries));
        }
        if let Some(key) = &self.update_key {
            let _ = write!(out, "allow-update {{ key \"{}\"; }}; ", key.as_str());
        }
        if self.notify_explicit {
            out.push_str("notify explicit; ");
        }
        if let Some(delay) = self.notify_delay {
            let _ = write!(out, "notify-delay {delay}; ");
        }
        if !self.also_notify.is_empty() {
            out.push_str(&list_statement("also-notify", &self.also_notify));
        }
        if let Some(acl) = &self.allow_transfer {
            let mut list = list_statement("allow-transfer", acl);
            if let Some(key) = &self.transfer_key {
                list = list.replacen("{ ", &format!("{{ key \"{}\"; ", key.as_str()), 1);
            }
            out.push_str(&list);
        }
        if let Some(policy) = &self.dnssec_policy {
            let _ = write!(out, "dnssec-policy \"{}\"; ", policy.as_str());
        }
        if let Some(inline) = self.inline_signing {
            let _ = write!(
                out,
                "inline-signing {}; ",
                if inline { "yes" } else { "no" }
            );
        }
        out.push_str("};");
        out
    }
}

/// `keyword { a; b; }; ` (an empty list renders `keyword { }; `, which BIND reads as "none").
pub fn list_statement<T: fmt::Display>(keyword: &str, items: &[T]) -> String {
    let mut out = format!("{keyword} {{ ");
    for item in items {
        let _ = write!(out, "{item}; ");
    }
    out.push_str("}; ");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn endpoints_accept_bindcar_forms_only() {
        assert_eq!(
            Endpoint::parse("10.0.0.3:5353").map(|e| e.to_string()),
            Some("10.0.0.3 port 5353".into())
        );
        assert_eq!(
            Endpoint::parse("[2001:db8::1]:5353").map(|e| e.to_string()),
            Some("2001:db8::1 port 5353".into())
        );
        assert_eq!(
            Endpoint::parse("2001:db8::1").map(|e| e.to_string()),
            Some("2001:db8::1".into())
        );
        for bad in [
            "",
            "host:53",
            "10.0.0.1; };",
            "10.0.0.1 port 53",
            "10.0.0.1:99999",
            "1.2.3.4/8",
        ] {
            assert_eq!(Endpoint::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn address_matches_take_prefixes_in_range() {
        assert_eq!(
            AddressMatch::parse("10.0.0.0/8").map(|a| a.to_string()),
            Some("10.0.0.0/8".into())
        );
        assert_eq!(
            AddressMatch::parse("::1").map(|a| a.to_string()),
            Some("::1".into())
        );
        for bad in ["10.0.0.0/33", "any", "10.0.0.1; }", "", "10.0.0.0/"] {
            assert_eq!(AddressMatch::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn conf_names_cannot_carry_quotes_or_braces() {
        assert!(ConfName::parse("rndc-key").is_some());
        for bad in ["", "a\"b", "a b", "k; }; also-notify { 1.2.3.4", "a\n"] {
            assert!(ConfName::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn renders_in_bindcar_order() {
        let options = ZoneOptions {
            zone_type: ZoneType::Primary,
            file: PathBuf::from("/z/example.test.zone"),
            primaries: vec![],
            update_key: ConfName::parse("rndc-key"),
            also_notify: vec![Endpoint {
                ip: [10, 0, 0, 2].into(),
                port: Some(5353),
            }],
            allow_transfer: Some(vec![AddressMatch {
                ip: [10, 0, 0, 2].into(),
                prefix: None,
            }]),
            transfer_key: None,
            notify_explicit: false,
            notify_delay: None,
            dnssec_policy: None,
            inline_signing: Some(false),
        };
        assert_eq!(
            options.render(),
            "{ type primary; file \"/z/example.test.zone\"; allow-update { key \"rndc-key\"; }; \
             also-notify { 10.0.0.2 port 5353; }; allow-transfer { 10.0.0.2; }; inline-signing no; };"
        );
        let catalog = ZoneOptions {
            transfer_key: ConfName::parse("rndc-key"),
            notify_explicit: true,
            notify_delay: Some(0),
            inline_signing: None,
            update_key: None,
            ..options
        };
        assert_eq!(
            catalog.render(),
            "{ type primary; file \"/z/example.test.zone\"; notify explicit; notify-delay 0; \
             also-notify { 10.0.0.2 port 5353; }; allow-transfer { key \"rndc-key\"; 10.0.0.2; }; };"
        );
    }
}
