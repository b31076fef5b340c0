//! Handlers of the zone API. Each one validates (extractors, `zones::plan`), hands over to
//! `Zones`, and words the outcome for the client (messages, `ApiError`s).

use std::time::SystemTime;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::api_types::{
    CreateZoneRequest, ErrorResponse, ModifyZoneRequest, ServerStatusResponse, ZoneInfo,
    ZoneListResponse, ZoneResponse, ZoneStatusResponse,
};
use super::error::ApiError;
use super::extract::{ApiJson, ZonePath};
use super::state::SharedState;
use crate::auth::Actor;
use crate::zones::{plan, ZoneAction, ZoneStatus};

type ApiResult<T> = Result<T, ApiError>;

/// The body of a successful zone operation.
fn done(message: String, details: String) -> Json<ZoneResponse> {
    Json(ZoneResponse {
        success: true,
        message,
        details: Some(details),
    })
}

/// Runs a mutation on its own task: a client that disconnects mid-way cancels the HTTP
/// exchange, never the operation (no half-created zone behind a dropped future).
async fn detached<T, F>(state: &SharedState, work: impl FnOnce(SharedState) -> F) -> ApiResult<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = ApiResult<T>> + Send + 'static,
{
    tokio::spawn(work(state.clone()))
        .await
        .map_err(|e| ApiError::Internal(format!("operation task failed: {e}")))?
}

/// Create a zone: 201 once BIND serves it; 409 if it exists (nothing touched).
#[utoipa::path(post, path = "/api/v1/zones", tag = "zones", request_body = CreateZoneRequest,
    responses(
        (status = 201, body = ZoneResponse, description = "Zone created and served"),
        (status = 400, body = ErrorResponse, description = "Invalid name or body; nothing written"),
        (status = 409, body = ErrorResponse, description = "Zone already exists; nothing touched"),
        (status = 415, body = ErrorResponse, description = "Body not declared as application/json"),
        (status = 422, body = ErrorResponse, description = "BIND rejected the zone; details carry its reason"),
    ))]
pub async fn create_zone(
    State(state): State<SharedState>,
    actor: Actor,
    ApiJson(request): ApiJson<CreateZoneRequest>,
) -> ApiResult<(StatusCode, Json<ZoneResponse>)> {
    let plan = state.zones.plan_create(&request, SystemTime::now())?;
    let zone = plan.zone.clone();
    let text = detached(&state, |s| async move {
        Ok(s.zones.create(plan, &actor.0).await?)
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        done(format!("Zone {zone} created successfully"), text),
    ))
}

/// Zones this API manages that BIND has (secondaries included), sorted.
#[utoipa::path(get, path = "/api/v1/zones", tag = "zones",
    responses((status = 200, body = ZoneListResponse)))]
pub async fn list_zones(State(state): State<SharedState>) -> ApiResult<Response> {
    let zones = state.zones.list().await?;
    let body = state
        .zone_list
        .body(zones)
        .map_err(|e| ApiError::Internal(format!("rendering the zone list: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// A zone's type, serial and file.
#[utoipa::path(get, path = "/api/v1/zones/{name}", tag = "zones",
    params(("name" = String, Path, description = "Zone name (case and trailing dot ignored)")),
    responses((status = 200, body = ZoneInfo), (status = 400, body = ErrorResponse, description = "Invalid zone name"), (status = 404, body = ErrorResponse, description = "Zone not found")))]
pub async fn get_zone(
    State(state): State<SharedState>,
    ZonePath(zone): ZonePath,
) -> ApiResult<Json<ZoneInfo>> {
    let summary = state.zones.info(&zone).await?;
    Ok(Json(ZoneInfo {
        name: summary.name.to_string(),
        zone_type: summary.zone_type,
        serial: summary.serial,
        file_path: summary.file_path,
    }))
}

/// Delete a zone and its files.
#[utoipa::path(delete, path = "/api/v1/zones/{name}", tag = "zones",
    params(("name" = String, Path, description = "Zone name")),
    responses((status = 200, body = ZoneResponse), (status = 400, body = ErrorResponse, description = "Invalid zone name"), (status = 404, body = ErrorResponse, description = "Zone not found"),
        (status = 409, body = ErrorResponse, description = "Zone not created through this API")))]
pub async fn delete_zone(
    State(state): State<SharedState>,
    actor: Actor,
    ZonePath(zone): ZonePath,
) -> ApiResult<Json<ZoneResponse>> {
    let name = zone.clone();
    let text = detached(&state, |s| async move {
        Ok(s.zones.delete(&zone, &actor.0).await?)
    })
    .await?;
    Ok(done(format!("Zone {name} deleted successfully"), text))
}

/// Merge settings into the zone's configuration: also-notify, allow-transfer, allow-update (an
/// empty list removes it), dnssec-policy and inline-signing, a secondary's primaries (then
/// transferred again). Absent fields are left as they are.
#[utoipa::path(patch, path = "/api/v1/zones/{name}", tag = "zones", request_body = ModifyZoneRequest,
    params(("name" = String, Path, description = "Zone name")),
    responses((status = 200, body = ZoneResponse), (status = 400, body = ErrorResponse, description = "Invalid zone name or body (an invalid dnssecPolicy name included); nothing sent"), (status = 404, body = ErrorResponse, description = "Zone not found"),
        (status = 409, body = ErrorResponse, description = "Zone not created through this API; dnssecPolicy `none` while the zone still serves DNSKEY records; primaries of a zone that is not a secondary"),
        (status = 415, body = ErrorResponse, description = "Body not declared as application/json"),
        (status = 422, body = ErrorResponse, description = "BIND rejected the new configuration (an unknown dnssec-policy included); details carry its reason")))]
pub async fn modify_zone(
    State(state): State<SharedState>,
    actor: Actor,
    ZonePath(zone): ZonePath,
    ApiJson(request): ApiJson<ModifyZoneRequest>,
) -> ApiResult<Json<ZoneResponse>> {
    let plan = plan::plan_modify(&request)?;
    let name = zone.clone();
    let text = detached(&state, |s| async move {
        Ok(s.zones.modify(&zone, &plan, &actor.0).await?)
    })
    .await?;
    Ok(done(format!("Zone {name} modified successfully"), text))
}

/// `rndc zonestatus`, as BIND wrote it, in `details`, and the signing state in `dnssec`.
/// 200 only for a zone named has loaded; configured but not loaded is a 409 with
/// `"code": "zoneNotLoaded"` (bindy reads 200 as loaded).
#[utoipa::path(get, path = "/api/v1/zones/{name}/status", tag = "zones",
    params(("name" = String, Path, description = "Zone name")),
    responses((status = 200, body = ZoneStatusResponse), (status = 400, body = ErrorResponse, description = "Invalid zone name"), (status = 404, body = ErrorResponse, description = "Zone not found"),
        (status = 409, body = ErrorResponse, description = "Zone configured but not loaded (a secondary before its first transfer, or a file BIND could not load): `code` is `zoneNotLoaded`, `details` carries BIND's text")))]
pub async fn zone_status(
    State(state): State<SharedState>,
    ZonePath(zone): ZonePath,
) -> ApiResult<Json<ZoneStatusResponse>> {
    match state.zones.status(&zone).await? {
        ZoneStatus::Loaded(text) => Ok(Json(ZoneStatusResponse {
            success: true,
            message: format!("Zone {zone} status retrieved"),
            dnssec: state.zones.signing(&zone, &text).await,
            details: Some(text),
        })),
        ZoneStatus::NotLoaded(bind) => Err(ApiError::ZoneNotLoaded { zone, bind }),
    }
}

async fn act(
    state: SharedState,
    actor: Actor,
    zone: ZonePath,
    action: ZoneAction,
) -> ApiResult<Json<ZoneResponse>> {
    let name = zone.0.clone();
    let text = detached(&state, |s| async move {
        Ok(s.zones.act(&zone.0, action, &actor.0).await?)
    })
    .await?;
    Ok(done(format!("Zone {name} {}", action.done()), text))
}

/// Reload from the file. A dynamic zone answers 409 saying to freeze and thaw instead.
#[utoipa::path(post, path = "/api/v1/zones/{name}/reload", tag = "zones",
    params(("name" = String, Path, description = "Zone name")),
    responses((status = 200, body = ZoneResponse), (status = 400, body = ErrorResponse, description = "Invalid zone name"), (status = 404, body = ErrorResponse, description = "Zone not found"),
        (status = 409, body = ErrorResponse, description = "Dynamic zone (freeze, then thaw), or zone not loaded")))]
pub async fn reload_zone(
    State(state): State<SharedState>,
    actor: Actor,
    zone: ZonePath,
) -> ApiResult<Json<ZoneResponse>> {
    act(state, actor, zone, ZoneAction::Reload).await
}

/// Suspend dynamic updates so the file can be edited.
#[utoipa::path(post, path = "/api/v1/zones/{name}/freeze", tag = "zones",
    params(("name" = String, Path, description = "Zone name")),
    responses((status = 200, body = ZoneResponse), (status = 400, body = ErrorResponse, description = "Invalid zone name"), (status = 404, body = ErrorResponse, description = "Zone not found"),
        (status = 409, body = ErrorResponse, description = "Zone not dynamic, already frozen, or not loaded")))]
pub async fn freeze_zone(
    State(state): State<SharedState>,
    actor: Actor,
    zone: ZonePath,
) -> ApiResult<Json<ZoneResponse>> {
    act(state, actor, zone, ZoneAction::Freeze).await
}

/// Reload the file and resume dynamic updates.
#[utoipa::path(post, path = "/api/v1/zones/{name}/thaw", tag = "zones",
    params(("name" = String, Path, description = "Zone name")),
    responses((status = 200, body = ZoneResponse), (status = 400, body = ErrorResponse, description = "Invalid zone name"), (status = 404, body = ErrorResponse, description = "Zone not found"), (status = 409, body = ErrorResponse, description = "Zone configured but not loaded (a secondary before its first transfer, or a file BIND could not load)")))]
pub async fn thaw_zone(
    State(state): State<SharedState>,
    actor: Actor,
    zone: ZonePath,
) -> ApiResult<Json<ZoneResponse>> {
    act(state, actor, zone, ZoneAction::Thaw).await
}

/// Send NOTIFY for the zone to its secondaries.
#[utoipa::path(post, path = "/api/v1/zones/{name}/notify", tag = "zones",
    params(("name" = String, Path, description = "Zone name")),
    responses((status = 200, body = ZoneResponse), (status = 400, body = ErrorResponse, description = "Invalid zone name"), (status = 404, body = ErrorResponse, description = "Zone not found"), (status = 409, body = ErrorResponse, description = "Zone configured but not loaded (a secondary before its first transfer, or a file BIND could not load)")))]
pub async fn notify_zone(
    State(state): State<SharedState>,
    actor: Actor,
    zone: ZonePath,
) -> ApiResult<Json<ZoneResponse>> {
    act(state, actor, zone, ZoneAction::Notify).await
}

/// Transfer a secondary zone again from its primaries (409 on a primary zone).
#[utoipa::path(post, path = "/api/v1/zones/{name}/retransfer", tag = "zones",
    params(("name" = String, Path, description = "Zone name")),
    responses((status = 200, body = ZoneResponse), (status = 400, body = ErrorResponse, description = "Invalid zone name"), (status = 404, body = ErrorResponse, description = "Zone not found"),
        (status = 409, body = ErrorResponse, description = "Zone not a secondary, or not loaded")))]
pub async fn retransfer_zone(
    State(state): State<SharedState>,
    actor: Actor,
    zone: ZonePath,
) -> ApiResult<Json<ZoneResponse>> {
    act(state, actor, zone, ZoneAction::Retransfer).await
}

/// `rndc status`, as BIND wrote it.
#[utoipa::path(get, path = "/api/v1/server/status", tag = "server",
    responses((status = 200, body = ServerStatusResponse)))]
pub async fn server_status(
    State(state): State<SharedState>,
) -> ApiResult<Json<ServerStatusResponse>> {
    Ok(Json(ServerStatusResponse {
        status: state.zones.server_status().await?,
    }))
}
