//! Request and response bodies of the HTTP API, field for field as bindcar has them (camelCase),
//! so existing clients (bindy) and their types work unchanged.

use std::collections::BTreeMap;

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

/// Body of `PATCH /api/v1/zones/{name}`. Each present list replaces the zone's statement; an
/// empty list removes it. At least one field is required.
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
}

/// Answer of every zone operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZoneResponse {
    pub success: bool,
    pub message: String,
    /// BIND's own text for the operation, when it said something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// Answer of `GET /api/v1/zones/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZoneInfo {
    pub name: String,
    pub zone_type: String,
    /// Absent while a secondary waits for its first transfer.
    pub serial: Option<u32>,
    pub file_path: Option<String>,
}

/// Answer of `GET /api/v1/zones`: the zones this API manages that BIND has, sorted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ZoneListResponse {
    pub zones: Vec<String>,
    pub count: usize,
}

/// Answer of `GET /api/v1/server/status`: `rndc status` as BIND wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServerStatusResponse {
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HealthResponse {
    pub status: String,
    pub version: String,
}

/// Answer of `GET /api/v1/ready`: 200 when ready, 503 otherwise, with one line per check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReadyResponse {
    pub ready: bool,
    pub checks: Vec<String>,
}

/// Every error of the zone API: `{"error": "...", "details": ...}` (`details` may be null).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorResponse {
    pub error: String,
    pub details: Option<serde_json::Value>,
}
