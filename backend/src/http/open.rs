//! The open routes: liveness, readiness and metrics. No credential, no request data echoed.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::api_types::{HealthResponse, ReadyResponse};
use super::error::ApiError;
use super::state::SharedState;

/// The process is up.
#[utoipa::path(get, path = "/api/v1/health", tag = "open", responses((status = 200, body = HealthResponse)))]
pub async fn health() -> Json<HealthResponse> {
    Json(HealthResponse {
        status: "healthy".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// 200 when named answers on its control channel, the zone directory is writable and (with a
/// catalog) BIND has the catalog zone, else 503.
#[utoipa::path(get, path = "/api/v1/ready", tag = "open",
    responses((status = 200, body = ReadyResponse), (status = 503, body = ReadyResponse)))]
pub async fn ready(State(state): State<SharedState>) -> (StatusCode, Json<ReadyResponse>) {
    let (dir, rndc) = tokio::join!(state.zones.dir().probe(), state.zones.server_status());
    let mut checks = Vec::new();
    match dir {
        Ok(()) => checks.push("zone_dir: ok".to_string()),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: zone directory not usable");
            checks.push("zone_dir: error".to_string());
        }
    }
    match rndc {
        Ok(_) => checks.push("rndc: ok".to_string()),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: named not usable");
            checks.push("rndc: error".to_string());
        }
    }
    match state.zones.catalog_ready().await {
        None => {}
        Some(Ok(())) => checks.push("catalog: ok".to_string()),
        Some(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the catalog zone is not in BIND yet");
            checks.push("catalog: error".to_string());
        }
    }
    let ready = checks.iter().all(|c| c.ends_with(": ok"));
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(ReadyResponse { ready, checks }))
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "open", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(State(state): State<SharedState>) -> Response {
    match state.metrics.render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => ApiError::Internal(format!("gathering metrics: {e}")).into_response(),
    }
}
