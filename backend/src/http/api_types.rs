//! Response bodies of the HTTP API, field for field as bindcar has them (camelCase), so
//! existing clients (bindy) and their types work unchanged. The request bodies are the zone
//! operations' input and live in `zones::request`; they are re-exported here.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::bind::dnssec::{DnssecKey, DnssecStatus};
pub use crate::zones::request::{
    CheckdsRequest, CheckdsState, CreateZoneRequest, DnsRecord, ModifyZoneRequest, SoaRecord,
    ZoneConfig, ZoneType,
};

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
    /// A stable name for a state a client may act on; only `zoneNotLoaded` (409: named has
    /// the zone configured but not loaded) so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// Answer of `GET /api/v1/zones/{name}/status`: bindcar 0.9.0's `ZoneStatusResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZoneStatusResponse {
    pub success: bool,
    pub message: String,
    /// `rndc zonestatus`, as BIND wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// The signing state (`rndc dnssec -status`); absent for a zone without a dnssec-policy,
    /// or when it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnssec: Option<DnssecStatus>,
}

/// One DS record of `GET /api/v1/zones/{name}/ds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DsRecordView {
    pub key_tag: u16,
    pub algorithm: u8,
    /// Always 2 (SHA-256).
    pub digest_type: u8,
    /// Upper-case hex.
    pub digest: String,
    /// `<zone>. IN DS <keyTag> <algorithm> 2 <digest>`
    pub rr: String,
}

/// Answer of `GET /api/v1/zones/{name}/ds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DsSetResponse {
    pub success: bool,
    pub zone: String,
    pub ds_records: Vec<DsRecordView>,
}

/// An authentication refusal (401, or 503 when TokenReview cannot answer), as the shared policy
/// words it, byte for byte the filter's: `{"error": "Unauthorized", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuthErrorResponse {
    pub error: String,
    pub message: String,
}
