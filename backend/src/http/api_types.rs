//! Response bodies of the HTTP API, field for field as bindcar has them (camelCase), so
//! existing clients (bindy) and their types work unchanged. The request bodies are the zone
//! operations' input and live in `zones::request`; they are re-exported here.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::zones::request::{
    CreateZoneRequest, DnsRecord, ModifyZoneRequest, SoaRecord, ZoneConfig, ZoneType,
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
}

/// An authentication refusal (401, or 503 when TokenReview cannot answer), as the shared policy
/// words it, byte for byte the filter's: `{"error": "Unauthorized", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuthErrorResponse {
    pub error: String,
    pub message: String,
}
