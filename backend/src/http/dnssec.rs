//! Handlers of the DNSSEC routes: the DS records of a signed zone and `checkds`. The signing
//! state itself is part of `GET …/status` (`zones.rs`); signing and unsigning are PATCHes.

use axum::extract::State;
use axum::Json;

use super::api_types::{
    CheckdsRequest, CheckdsState, DsRecordView, DsSetResponse, ErrorResponse, ZoneResponse,
};
use super::error::ApiError;
use super::extract::{ApiJson, ZonePath};
use super::state::SharedState;
use crate::auth::Actor;
use crate::bind::DsState;

/// The DS records (SHA-256) of the zone's key-signing keys, computed from the DNSKEY RRset
/// named serves (RFC 4034 §5.1.4): what to publish at the parent. No key directory is read
/// (`BIND_KEY_DIR` is not needed).
#[utoipa::path(get, path = "/api/v1/zones/{name}/ds", tag = "dnssec",
    params(("name" = String, Path, description = "Zone name")),
    responses((status = 200, body = DsSetResponse, description = "DS records, one per key-signing key served (empty while none is published yet)"),
        (status = 400, body = ErrorResponse, description = "Invalid zone name"),
        (status = 404, body = ErrorResponse, description = "Zone not found, or it has no dnssec-policy")))]
pub async fn zone_ds(
    State(state): State<SharedState>,
    ZonePath(zone): ZonePath,
) -> Result<Json<DsSetResponse>, ApiError> {
    let ds = state.zones.ds(&zone, state.dns.as_ref()).await?;
    Ok(Json(DsSetResponse {
        success: true,
        zone: zone.to_string(),
        ds_records: ds
            .into_iter()
            .map(|d| DsRecordView {
                key_tag: d.key_tag,
                algorithm: d.algorithm,
                digest_type: d.digest_type,
                digest: d.digest,
                rr: d.rr,
            })
            .collect(),
    }))
}

/// Tell named the parent published or withdrew the DS of a key (`rndc dnssec -checkds`): what
/// completes a KSK rollover, or the move to `insecure`, when no parental agents are configured.
#[utoipa::path(post, path = "/api/v1/zones/{name}/dnssec/checkds", tag = "dnssec", request_body = CheckdsRequest,
    params(("name" = String, Path, description = "Zone name")),
    responses((status = 200, body = ZoneResponse, description = "Recorded; details carry named's text"),
        (status = 400, body = ErrorResponse, description = "Invalid zone name or body (keyTag 0-65535, ds `published` or `withdrawn`, nothing else); nothing sent"),
        (status = 404, body = ErrorResponse, description = "Zone not found, it has no dnssec-policy, or no key with this tag"),
        (status = 409, body = ErrorResponse, description = "named refused to record it (details carry its reason), or the zone is not loaded"),
        (status = 415, body = ErrorResponse, description = "Body not declared as application/json")))]
pub async fn checkds(
    State(state): State<SharedState>,
    actor: Actor,
    ZonePath(zone): ZonePath,
    ApiJson(request): ApiJson<CheckdsRequest>,
) -> Result<Json<ZoneResponse>, ApiError> {
    let ds = match request.ds {
        CheckdsState::Published => DsState::Published,
        CheckdsState::Withdrawn => DsState::Withdrawn,
    };
    let tag = request.key_tag;
    let name = zone.clone();
    let text = tokio::spawn(async move { state.zones.checkds(&zone, tag, ds, &actor.0).await })
        .await
        .map_err(|e| ApiError::Internal(format!("operation task failed: {e}")))??;
    Ok(Json(ZoneResponse {
        success: true,
        message: format!("DS {} recorded for zone {name} key tag {tag}", ds.as_str()),
        details: Some(text),
    }))
}
