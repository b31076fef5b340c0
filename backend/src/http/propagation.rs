//! `GET /api/v1/zones/{name}/propagation`: the serial the primary serves and, for each
//! secondary of the catalog (`BIND_CATALOG_SECONDARIES`), the serial it serves and whether it
//! is in step. What a client waiting for a change to be live everywhere polls (ACME DNS-01,
//! migrations).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::api_types::ErrorResponse;
use super::error::ApiError;
use super::extract::ZonePath;
use super::state::SharedState;
use crate::zones::SecondaryView;

/// Answer of `GET /api/v1/zones/{name}/propagation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PropagationResponse {
    pub zone: String,
    /// The serial the primary (this named) has loaded.
    pub serial: u32,
    /// Every secondary serves `serial` (true when none is configured).
    pub in_step: bool,
    /// One entry per secondary, in the order of `BIND_CATALOG_SECONDARIES`.
    pub secondaries: Vec<SecondaryPropagation>,
}

/// What one secondary serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecondaryPropagation {
    /// As configured: `ip` or `ip:port`.
    pub server: String,
    /// `inStep` (serves the primary's serial), `lagging` (serves another), `missing` (answers
    /// without serving the zone), `unreachable` (no answer within the time limit).
    pub state: String,
    /// The serial it serves, when it serves the zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u32>,
    /// Why it is not in step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

fn secondary(view: SecondaryView) -> SecondaryPropagation {
    let server = match (view.server.ip, view.server.port) {
        (ip, None) => ip.to_string(),
        (ip, Some(port)) => std::net::SocketAddr::new(ip, port).to_string(),
    };
    SecondaryPropagation {
        server,
        state: view.state.as_str().to_string(),
        serial: view.serial,
        detail: view.detail,
    }
}

/// The zone's serial on the primary and on every secondary of the catalog, asked over DNS at
/// once (SOA, 1 s per try, 2 tries: the answer never waits much more than 2 s).
#[utoipa::path(get, path = "/api/v1/zones/{name}/propagation", tag = "zones",
    params(("name" = String, Path, description = "Zone name")),
    responses((status = 200, body = PropagationResponse),
        (status = 400, body = ErrorResponse, description = "Invalid zone name"),
        (status = 404, body = ErrorResponse, description = "Zone not found"),
        (status = 409, body = ErrorResponse, description = "Zone configured but not loaded on the primary: `code` is `zoneNotLoaded`")))]
pub async fn zone_propagation(
    State(state): State<SharedState>,
    ZonePath(zone): ZonePath,
) -> Result<Json<PropagationResponse>, ApiError> {
    let seen = state
        .zones
        .propagation(&zone, state.serials.clone())
        .await?;
    Ok(Json(PropagationResponse {
        zone: seen.zone.to_string(),
        serial: seen.serial,
        in_step: seen.in_step(),
        secondaries: seen.secondaries.into_iter().map(secondary).collect(),
    }))
}
