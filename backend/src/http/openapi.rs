//! The OpenAPI document of this API, served at /api/v1/openapi.json (behind authentication,
//! like every route that is not health, readiness or metrics).

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::api_types::{
    CreateZoneRequest, DnsRecord, ErrorResponse, HealthResponse, ModifyZoneRequest, ReadyResponse,
    ServerStatusResponse, SoaRecord, ZoneConfig, ZoneInfo, ZoneListResponse, ZoneResponse,
    ZoneType,
};
use super::records::{RecordEntry, RecordListResponse, RecordResponse};
use super::{open as http_open, records as http_records, zones as http_zones};
use crate::zones::records_request::{
    AddRecordRequest, RemoveRecordRequest, RrsetRequest, UpdateRecordRequest,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "Bindcar API", description = "BIND9 zone management over rndc, compatible with bindcar."),
    paths(
        http_open::health, http_open::ready, http_open::metrics,
        http_zones::create_zone, http_zones::list_zones, http_zones::get_zone, http_zones::delete_zone,
        http_zones::modify_zone, http_zones::zone_status, http_zones::reload_zone, http_zones::freeze_zone,
        http_zones::thaw_zone, http_zones::notify_zone, http_zones::retransfer_zone, http_zones::server_status,
        http_records::add_record, http_records::update_record, http_records::remove_record,
        http_records::list_records, http_records::replace_rrset,
    ),
    components(schemas(
        CreateZoneRequest, ZoneType, ZoneConfig, SoaRecord, DnsRecord, ModifyZoneRequest, ZoneResponse,
        ZoneInfo, ZoneListResponse, ServerStatusResponse, HealthResponse, ReadyResponse, ErrorResponse,
        AddRecordRequest, UpdateRecordRequest, RemoveRecordRequest, RrsetRequest, RecordResponse,
        RecordEntry, RecordListResponse,
    )),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
