//! Handlers of the zone API. Each one validates (extractors, `plan`), then hands over to
//! `Zones`; errors are `ApiError`s.

use std::time::SystemTime;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use crate::actor::Actor;
use crate::api_types::{
    CreateZoneRequest, ErrorResponse, ModifyZoneRequest, ServerStatusResponse, ZoneInfo,
    ZoneListResponse, ZoneResponse,
};
use crate::error::ApiError;
use crate::extract::{ApiJson, ZonePath};
use crate::plan;
use crate::state::SharedState;
use crate::zone_ops::ZoneAction;

type ApiResult<T> = Result<T, ApiError>;

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
        (status = 401, description = "Missing or refused credential"),
        (status = 409, body = ErrorResponse, description = "Zone already exists; nothing touched"),
        (status = 422, body = ErrorResponse, description = "BIND rejected the zone; details carry its reason"),
        (status = 503, body = ErrorResponse, description = "named unreachable"),
    ))]
pub async fn create_zone(
    State(state): State<SharedState>,
    actor: Actor,
    ApiJson(request): ApiJson<CreateZoneRequest>,
) -> ApiResult<(StatusCode, Json<ZoneResponse>)> {
    let plan = plan::plan_create(&request, &state.zones.dir, SystemTime::now())?;
    let response = detached(
        &state,
        |s| async move { s.zones.create(plan, &actor).await },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(response)))
}

/// Zones this API manages that BIND has (secondaries included), sorted.
#[utoipa::path(get, path = "/api/v1/zones", tag = "zones",
    responses((status = 200, body = ZoneListResponse), (status = 503, body = ErrorResponse)))]
pub async fn list_zones(State(state): State<SharedState>) -> ApiResult<Json<ZoneListResponse>> {
    Ok(Json(state.zones.list().await?))
}

#[utoipa::path(get, path = "/api/v1/zones/{name}", tag = "zones",
    params(("name" = String, Path, description = "Zone name (case and trailing dot ignored)")),
    responses((status = 200, body = ZoneInfo), (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn get_zone(
    State(state): State<SharedState>,
    ZonePath(zone): ZonePath,
) -> ApiResult<Json<ZoneInfo>> {
    Ok(Json(state.zones.info(&zone).await?))
}

/// Delete a zone and its files.
#[utoipa::path(delete, path = "/api/v1/zones/{name}", tag = "zones",
    params(("name" = String, Path, description = "Zone name")),
    responses((status = 200, body = ZoneResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse, description = "Zone not created through this API")))]
pub async fn delete_zone(
    State(state): State<SharedState>,
    actor: Actor,
    ZonePath(zone): ZonePath,
) -> ApiResult<Json<ZoneResponse>> {
    Ok(Json(
        detached(
            &state,
            |s| async move { s.zones.delete(&zone, &actor).await },
        )
        .await?,
    ))
}

/// Replace also-notify, allow-transfer and/or allow-update (an empty list removes it).
#[utoipa::path(patch, path = "/api/v1/zones/{name}", tag = "zones", request_body = ModifyZoneRequest,
    params(("name" = String, Path, description = "Zone name")),
    responses((status = 200, body = ZoneResponse), (status = 400, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
pub async fn modify_zone(
    State(state): State<SharedState>,
    actor: Actor,
    ZonePath(zone): ZonePath,
    ApiJson(request): ApiJson<ModifyZoneRequest>,
) -> ApiResult<Json<ZoneResponse>> {
    let plan = plan::plan_modify(&request)?;
    Ok(Json(
        detached(&state, |s| async move {
            s.zones.modify(&zone, &plan, &actor).await
        })
        .await?,
    ))
}

/// `rndc zonestatus`, as BIND wrote it, in `details`.
#[utoipa::path(get, path = "/api/v1/zones/{name}/status", tag = "zones",
    params(("name" = String, Path, description = "Zone name")),
    responses((status = 200, body = ZoneResponse), (status = 404, body = ErrorResponse)))]
pub async fn zone_status(
    State(state): State<SharedState>,
    ZonePath(zone): ZonePath,
) -> ApiResult<Json<ZoneResponse>> {
    Ok(Json(state.zones.status(&zone).await?))
}

async fn act(
    state: SharedState,
    actor: Actor,
    zone: ZonePath,
    action: ZoneAction,
) -> ApiResult<Json<ZoneResponse>> {
    Ok(Json(
        detached(&state, |s| async move {
            s.zones.act(&zone.0, action, &actor).await
        })
        .await?,
    ))
}

/// Reload from the file. A dynamic zone answers 409 saying to freeze and thaw instead.
#[utoipa::path(post, path = "/api/v1/zones/{name}/reload", tag = "zones",
    params(("name" = String, Path, description = "Zone name")),
    responses((status = 200, body = ZoneResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse, description = "Dynamic zone: freeze, then thaw")))]
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
    responses((status = 200, body = ZoneResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)))]
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
    responses((status = 200, body = ZoneResponse), (status = 404, body = ErrorResponse)))]
pub async fn thaw_zone(
    State(state): State<SharedState>,
    actor: Actor,
    zone: ZonePath,
) -> ApiResult<Json<ZoneResponse>> {
    act(state, actor, zone, ZoneAction::Thaw).await
}

#[utoipa::path(post, path = "/api/v1/zones/{name}/notify", tag = "zones",
    params(("name" = String, Path, description = "Zone name")),
    responses((status = 200, body = ZoneResponse), (status = 404, body = ErrorResponse)))]
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
    responses((status = 200, body = ZoneResponse), (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse)))]
pub async fn retransfer_zone(
    State(state): State<SharedState>,
    actor: Actor,
    zone: ZonePath,
) -> ApiResult<Json<ZoneResponse>> {
    act(state, actor, zone, ZoneAction::Retransfer).await
}

/// `rndc status`, as BIND wrote it.
#[utoipa::path(get, path = "/api/v1/server/status", tag = "server",
    responses((status = 200, body = ServerStatusResponse), (status = 503, body = ErrorResponse)))]
pub async fn server_status(
    State(state): State<SharedState>,
) -> ApiResult<Json<ServerStatusResponse>> {
    Ok(Json(ServerStatusResponse {
        status: state.zones.server_status().await?,
    }))
}
