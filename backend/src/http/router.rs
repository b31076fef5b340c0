//! Router composition: the open routes on one router, the API on another that carries the
//! authentication layer, merged in one place. An odd path can never land on an open handler,
//! and an unknown path is a 404 without an auth check (as bindcar).

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post, put};
use axum::Router;

use super::state::SharedState;
use super::{
    auth, metrics, open as http_open, openapi, records as http_records, zones as http_zones,
};

/// The records API (RFC 2136); bodies over 64 KiB are refused before they are read.
fn records_routes() -> Router<SharedState> {
    Router::new()
        .route(
            "/api/v1/zones/{name}/records",
            get(http_records::list_records)
                .post(http_records::add_record)
                .put(http_records::update_record)
                .delete(http_records::remove_record),
        )
        .route(
            "/api/v1/zones/{name}/rrsets/{owner}/{type}",
            put(http_records::replace_rrset),
        )
        .layer(DefaultBodyLimit::max(64 * 1024))
}

pub fn router(state: SharedState) -> Router {
    let open = Router::new()
        .route("/api/v1/health", get(http_open::health))
        .route("/api/v1/ready", get(http_open::ready))
        .route("/metrics", get(http_open::metrics));

    let api = Router::new()
        .route(
            "/api/v1/zones",
            post(http_zones::create_zone).get(http_zones::list_zones),
        )
        .route(
            "/api/v1/zones/{name}",
            get(http_zones::get_zone)
                .delete(http_zones::delete_zone)
                .patch(http_zones::modify_zone),
        )
        .route("/api/v1/zones/{name}/status", get(http_zones::zone_status))
        .route("/api/v1/zones/{name}/reload", post(http_zones::reload_zone))
        .route("/api/v1/zones/{name}/freeze", post(http_zones::freeze_zone))
        .route("/api/v1/zones/{name}/thaw", post(http_zones::thaw_zone))
        .route("/api/v1/zones/{name}/notify", post(http_zones::notify_zone))
        .route(
            "/api/v1/zones/{name}/retransfer",
            post(http_zones::retransfer_zone),
        )
        .route("/api/v1/server/status", get(http_zones::server_status))
        .merge(records_routes())
        .route("/api/v1/openapi.json", get(openapi::openapi_json));
    let api = if state.auth.is_some() {
        api.route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_auth,
        ))
    } else {
        api.route_layer(middleware::from_fn(auth::from_mesh))
    };

    open.merge(api)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track_http,
        ))
        .with_state(state)
}
