//! The OpenAPI document of this API, served at /api/v1/openapi.json (behind authentication,
//! like every route that is not health, readiness or metrics; Swagger UI serves an open copy,
//! see `docs`).
//!
//! Each handler's annotation lists its own answers (400, 404, 409, 415, 422); `CrossCutting`
//! adds, on every operation, the answers that come from layers around the handlers, as
//! `ApiError` maps them: the Bearer requirement and 401 (auth middleware), 429 (rate limiter),
//! 408 and 413 on routes with a body (body deadline and size limit),
//! 500, 503 (named unreachable, or TokenReview unavailable) and 502/504 (named refused or
//! silent) on routes that talk to named. Open routes get an empty security requirement.

use axum::Json;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{OneOfBuilder, Ref};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr};
use utoipa::{Modify, OpenApi};

use super::api_types::{
    AuthErrorResponse, CheckdsRequest, CheckdsState, CreateZoneRequest, DnsRecord, DnssecKey,
    DnssecStatus, DsRecordView, DsSetResponse, ErrorResponse, HealthResponse, ModifyZoneRequest,
    ReadyResponse, ServerStatusResponse, SoaRecord, ZoneConfig, ZoneInfo, ZoneListResponse,
    ZoneResponse, ZoneStatusResponse, ZoneType,
};
use super::propagation::{PropagationResponse, SecondaryPropagation};
use super::records::{RecordEntry, RecordListResponse, RecordResponse};
use super::{
    dnssec as http_dnssec, open as http_open, propagation as http_propagation,
    records as http_records, zones as http_zones,
};
use crate::zones::records_request::{
    AddRecordRequest, RemoveRecordRequest, RrsetRequest, UpdateRecordRequest,
};

/// The routes without authentication (the router's `Access::Open` rows; a test checks both agree).
pub const OPEN_PATHS: &[&str] = &["/api/v1/health", "/api/v1/ready", "/metrics"];
/// API routes that never talk to named, so cannot answer 502/504 or named's 503.
const NO_NAMED_PATHS: &[&str] = &["/api/v1/openapi.json"];
const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(title = "Bindcar API", description = "BIND9 zone management over rndc, compatible with bindcar. \
        Every route but health, readiness and metrics needs `Authorization: Bearer <token>`."),
    paths(
        http_open::health, http_open::ready, http_open::metrics, openapi_json,
        http_zones::create_zone, http_zones::list_zones, http_zones::get_zone, http_zones::delete_zone,
        http_zones::modify_zone, http_zones::zone_status, http_zones::reload_zone, http_zones::freeze_zone,
        http_zones::thaw_zone, http_zones::notify_zone, http_zones::retransfer_zone, http_zones::server_status,
        http_dnssec::zone_ds, http_dnssec::checkds, http_propagation::zone_propagation,
        http_records::add_record, http_records::update_record, http_records::remove_record,
        http_records::list_records, http_records::replace_rrset,
    ),
    components(schemas(
        CreateZoneRequest, ZoneType, ZoneConfig, SoaRecord, DnsRecord, ModifyZoneRequest, ZoneResponse,
        ZoneInfo, ZoneListResponse, ServerStatusResponse, HealthResponse, ReadyResponse, ErrorResponse,
        AuthErrorResponse, ZoneStatusResponse, DnssecStatus, DnssecKey, DsSetResponse, DsRecordView,
        CheckdsRequest, CheckdsState,
        AddRecordRequest, UpdateRecordRequest, RemoveRecordRequest, RrsetRequest, RecordResponse,
        RecordEntry, RecordListResponse, PropagationResponse, SecondaryPropagation,
    )),
    modifiers(&BearerAuth, &CrossCutting),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

struct CrossCutting;

impl Modify for CrossCutting {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let open = OPEN_PATHS.contains(&path.as_str());
            let named = !NO_NAMED_PATHS.contains(&path.as_str());
            for operation in operations_mut(item) {
                if open {
                    operation.security = Some(Vec::new());
                    continue;
                }
                operation.security =
                    Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
                add(
                    operation,
                    "401",
                    "Missing, malformed or refused Bearer token",
                    &["AuthErrorResponse"],
                );
                add(
                    operation,
                    "429",
                    "Too many requests: retry later",
                    &["ErrorResponse"],
                );
                add(
                    operation,
                    "500",
                    "Internal error (the cause is logged, not shown)",
                    &["ErrorResponse"],
                );
                if operation.request_body.is_some() {
                    add(
                        operation,
                        "408",
                        "The body did not arrive within BIND_API_BODY_TIMEOUT_SECS",
                        &["ErrorResponse"],
                    );
                    add(
                        operation,
                        "413",
                        "The body is over the route's size limit",
                        &["ErrorResponse"],
                    );
                }
                if named {
                    add(operation, "502", "BIND refused the command for a reason this API does not classify; `details` carries BIND's text", &["ErrorResponse"]);
                    add(operation, "503", "named unreachable on its control channel (nothing changed), or the TokenReview API unavailable", &["ErrorResponse", "AuthErrorResponse"]);
                    add(
                        operation,
                        "504",
                        "named did not answer within RNDC_TIMEOUT_SECS",
                        &["ErrorResponse"],
                    );
                } else {
                    add(
                        operation,
                        "503",
                        "The TokenReview API is unavailable",
                        &["AuthErrorResponse"],
                    );
                }
            }
        }
    }
}

/// The operations of one path, whatever their method.
pub fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
        &mut item.head,
        &mut item.options,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

/// Adds a JSON response unless the handler's annotation already words this status.
fn add(operation: &mut Operation, status: &str, description: &str, schemas: &[&str]) {
    let schema: RefOr<utoipa::openapi::schema::Schema> = match schemas {
        [one] => Ref::from_schema_name(*one).into(),
        many => many
            .iter()
            .fold(OneOfBuilder::new(), |one_of, s| {
                one_of.item(Ref::from_schema_name(*s))
            })
            .into(),
    };
    let response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build();
    operation
        .responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| response.into());
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
