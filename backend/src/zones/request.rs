//! What a client asks for, field for field as bindcar's JSON spells it (camelCase), so existing
//! clients (bindy) work unchanged. These are the operations' input: `plan` validates them
//! before any I/O. They derive serde and the schema so `http/` reads and documents them as is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::bind::ZoneType;

/// Body of `POST /api/v1/zones`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateZoneRequest {
    /// Zone name; case and a trailing dot do not matter (`Example.TEST.` is `example.test`).
    pub zone_name: String,
    pub zone_type: ZoneType,
    pub zone_config: ZoneConfig,
    /// Name of a TSIG key defined in named.conf; adds `allow-update { key "<name>"; }` (primary only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_key_name: Option<String>,
}

/// The zone's content and transfer settings. `ttl`, `soa` and `nameServers` are required for a
/// primary zone; a secondary needs only `primaries`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZoneConfig {
    /// `$TTL` of the zone file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soa: Option<SoaRecord>,
    /// NS records at the apex.
    #[serde(default)]
    pub name_servers: Vec<String>,
    /// Glue: name server name → IPv4 or IPv6 address (an A or AAAA record).
    #[serde(default)]
    pub name_server_ips: BTreeMap<String, String>,
    #[serde(default)]
    pub records: Vec<DnsRecord>,
    /// NOTIFY targets: `ip`, `ipv4:port` or `[ipv6]:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub also_notify: Option<Vec<String>>,
    /// Who may transfer the zone: IP addresses or CIDR prefixes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_transfer: Option<Vec<String>>,
    /// Primary servers of a secondary zone: `ip`, `ipv4:port` or `[ipv6]:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primaries: Option<Vec<String>>,
    /// Name of a `dnssec-policy` defined in named.conf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnssec_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_signing: Option<bool>,
}

/// The SOA record. Omitted numbers take bindcar's defaults (serial: today as YYYYMMDD01).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SoaRecord {
    pub primary_ns: String,
    /// In RNAME form: `hostmaster.example.test.`.
    pub admin_email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_ttl: Option<u32>,
}

/// One resource record of the initial zone content.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnsRecord {
    /// Owner: `@`, a relative name (`www`), or an absolute one (`www.example.test.`).
    pub name: String,
    /// A, AAAA, CNAME, MX, TXT, NS, PTR, SRV or CAA (any case).
    #[serde(rename = "type")]
    pub record_type: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    /// MX preference or SRV priority; refused on other types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
}

/// Body of `PATCH /api/v1/zones/{name}`, merged into the zone's configuration: a field that is
/// absent leaves its setting as it is; a present list replaces the zone's statement, an empty
/// one removes it. At least one field is required.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModifyZoneRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub also_notify: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_transfer: Option<Vec<String>>,
    /// Addresses allowed to send dynamic updates (replaces a key-based `allow-update`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_update: Option<Vec<String>>,
    /// A `dnssec-policy` (built-in `default` or `insecure`, or one defined in named.conf) signs
    /// the zone or changes its policy; `insecure` unsigns it gracefully; `none` removes the
    /// policy, refused (409) while the zone still serves DNSKEY records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnssec_policy: Option<String>,
    /// Sign a copy of the zone, leaving its file as written. Set to `true` when a policy is set
    /// on a zone that takes no dynamic updates (BIND needs one or the other).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_signing: Option<bool>,
    /// Primary servers of a secondary zone (`ip`, `ipv4:port` or `[ipv6]:port`); the zone is
    /// transferred again from them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primaries: Option<Vec<String>>,
}

/// Body of `POST /api/v1/zones/{name}/dnssec/checkds`: what the parent zone did with the DS
/// record of the key `keyTag`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckdsRequest {
    pub key_tag: u16,
    pub ds: CheckdsState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckdsState {
    Published,
    Withdrawn,
}
