//! Handlers of the records API: bindcar's three record routes, plus reading a zone's records
//! (AXFR) and replacing a whole RRset. Validation is `zones::records_request` (a 400 names the
//! field and nothing is sent); what a call sends is `zones::records_plan`, which refuses, or
//! makes named refuse, what named would otherwise skip silently. `From<RecordError>` below is
//! the one place DNS answers get a status: NOTZONE → 404, REFUSED/NOTAUTH → 403 naming the
//! key, YXRRSET/NXRRSET/YXDOMAIN → 409 (with why, when a plan's guard failed), SERVFAIL → 502
//! (409 when the RRset is at named's limit), unreachable → 503, timeout → 504; BIND's rcode
//! goes in `details`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::api_types::ErrorResponse;
use super::error::ApiError;
use super::extract::{ApiJson, ZonePath};
use super::state::SharedState;
use crate::auth::Actor;
use crate::bind::ZoneName;
use crate::zones::plan;
use crate::zones::records_plan::RecordCall;
use crate::zones::records_request::{
    AddRecordRequest, RemoveRecordRequest, RrsetRequest, UpdateRecordRequest,
};
use crate::zones::records_update::RecordError;

type ApiResult<T> = Result<T, ApiError>;

/// Answer of a record change (bindcar's RecordResponse: `details` echoes the input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordResponse {
    pub success: bool,
    pub message: String,
    pub details: Value,
}

/// One record as named serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordEntry {
    /// Absolute owner name.
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub ttl: u32,
    pub value: String,
}

/// Answer of `GET /api/v1/zones/{name}/records`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordListResponse {
    pub records: Vec<RecordEntry>,
    pub count: usize,
    pub serial: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RecordFilter {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub record_type: Option<String>,
}

impl From<RecordError> for ApiError {
    fn from(error: RecordError) -> ApiError {
        let dns = |status: StatusCode, message: String, rcode: Option<String>| ApiError::Dns {
            status: status.as_u16(),
            message,
            rcode,
        };
        match error {
            RecordError::Zone(e) => ApiError::from(e),
            RecordError::Invalid(message) => ApiError::InvalidRequest(message),
            RecordError::UpdatesNotEnabled(message) => dns(StatusCode::BAD_REQUEST, message, None),
            RecordError::NotZone { zone, rcode } => dns(
                StatusCode::NOT_FOUND,
                format!("Zone not found: {zone} (the DNS server does not serve it: {rcode})"),
                Some(rcode),
            ),
            RecordError::Refused {
                zone,
                key,
                rcode,
                tsig,
                transfer,
            } => {
                let why = match tsig.as_deref() {
                    Some("BADKEY") => format!("named does not know the key \"{key}\" (TSIG BADKEY)"),
                    Some("BADSIG") => format!("the secret of key \"{key}\" does not match named's (TSIG BADSIG)"),
                    Some("BADTIME") => "the clocks differ by more than the TSIG fudge (BADTIME)".to_string(),
                    _ if transfer => format!(
                        "zone {zone} does not allow transfers to key \"{key}\": add `key \"{key}\"` \
                         to its allow-transfer"
                    ),
                    _ => format!(
                        "either zone {zone} does not allow updates signed with key \"{key}\" (create it \
                         with updateKeyName \"{key}\", or set NSUPDATE_KEY_NAME to a key its allow-update \
                         names), or named's checks refused the data (e.g. an in-zone MX or SRV target \
                         without an address record; named's log says which)"
                    ),
                };
                let what = if transfer { "zone transfer" } else { "update" };
                dns(
                    StatusCode::FORBIDDEN,
                    format!("named refused the {what} signed with key \"{key}\" ({rcode}): {why}"),
                    Some(rcode),
                )
            }
            RecordError::Conflict { rcode } => dns(
                StatusCode::CONFLICT,
                format!(
                    "named refused the update: a prerequisite failed ({rcode}); nothing was changed"
                ),
                Some(rcode),
            ),
            RecordError::Clash { message, rcode } => dns(StatusCode::CONFLICT, message, rcode),
            RecordError::ServerFailure { rcode } => dns(
                StatusCode::BAD_GATEWAY,
                format!("named failed to apply the update ({rcode}); nothing was changed, retry"),
                Some(rcode),
            ),
            RecordError::Rejected { rcode } => dns(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("named rejected the update ({rcode})"),
                Some(rcode),
            ),
            RecordError::Protocol(why) => dns(
                StatusCode::BAD_GATEWAY,
                format!("unusable answer from the DNS server: {why}"),
                None,
            ),
            RecordError::Unavailable(why) => dns(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot reach the DNS server: {why}. Nothing was changed; retry"),
                None,
            ),
            RecordError::Timeout(t) => dns(
                StatusCode::GATEWAY_TIMEOUT,
                format!(
                    "the DNS server did not answer within {} seconds",
                    t.as_secs()
                ),
                None,
            ),
            RecordError::OutcomeUnknown { why, timed_out } => dns(
                if timed_out {
                    StatusCode::GATEWAY_TIMEOUT
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                },
                format!(
                    "the outcome of the update is unknown: it reached the DNS server, but {why}. \
                     named may have applied it; read the records before retrying"
                ),
                None,
            ),
            RecordError::Disabled(why) => dns(
                StatusCode::NOT_IMPLEMENTED,
                format!("records API unavailable: {why}"),
                None,
            ),
        }
    }
}

/// Carries out a records call: the records the RRset then holds (a replace), or the error.
async fn send(
    state: &SharedState,
    zone: &ZoneName,
    call: RecordCall,
    operation: &'static str,
    actor: Actor,
) -> ApiResult<usize> {
    let (state, zone) = (state.clone(), zone.clone());
    // Own task: a client that disconnects does not cancel an update half-way.
    tokio::spawn(async move {
        state
            .zones
            .change_records(state.dns.as_ref(), &zone, &call, operation, &actor.0)
            .await
            .map_err(ApiError::from)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("update task failed: {e}")))?
}

/// Add a record (RFC 2136 add: the value joins its RRset).
#[utoipa::path(post, path = "/api/v1/zones/{name}/records", tag = "records", request_body = AddRecordRequest,
    params(("name" = String, Path, description = "Zone name")),
    responses(
        (status = 201, body = RecordResponse, description = "Record added (RFC 2136 add: joins its RRset)"),
        (status = 400, body = ErrorResponse, description = "Bad field (a CNAME at the apex...), or the zone takes no updates; nothing sent"),
        (status = 409, body = ErrorResponse, description = "named would skip it: a CNAME beside other records (either way), or an RRset already at named's max-records-per-type; nothing changed"),
        (status = 403, body = ErrorResponse, description = "named refused the key (REFUSED/NOTAUTH)"),
        (status = 404, body = ErrorResponse, description = "Unknown zone"),
        (status = 502, body = ErrorResponse, description = "SERVFAIL"),
        (status = 503, body = ErrorResponse, description = "DNS server unreachable"),
        (status = 504, body = ErrorResponse, description = "No answer in time"),
        (status = 415, body = ErrorResponse, description = "The body is not declared as JSON"),
        (status = 422, body = ErrorResponse, description = "named refused the message (FORMERR, NOTIMP, other rcodes)"),
        (status = 501, body = ErrorResponse, description = "No usable TSIG key for the records API"),
    ))]
pub async fn add_record(
    State(state): State<SharedState>,
    actor: Actor,
    ZonePath(zone): ZonePath,
    ApiJson(request): ApiJson<AddRecordRequest>,
) -> ApiResult<(StatusCode, Json<RecordResponse>)> {
    send(
        &state,
        &zone,
        RecordCall::Add(request.clone()),
        "record_add",
        actor,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(RecordResponse {
            success: true,
            message: format!("Record added to zone {zone}"),
            details: json!({"zone": zone.as_str(), "record": request}),
        }),
    ))
}

/// Replace one value of a record with another, in one UPDATE.
#[utoipa::path(put, path = "/api/v1/zones/{name}/records", tag = "records", request_body = UpdateRecordRequest,
    params(("name" = String, Path, description = "Zone name")),
    responses(
        (status = 200, body = RecordResponse, description = "currentValue replaced by newValue in one UPDATE"),
        (status = 400, body = ErrorResponse), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse, description = "No RRset of that name and type (NXRRSET)"),
        (status = 502, body = ErrorResponse), (status = 503, body = ErrorResponse), (status = 504, body = ErrorResponse),
        (status = 415, body = ErrorResponse, description = "The body is not declared as JSON"),
        (status = 422, body = ErrorResponse, description = "named refused the message (FORMERR, NOTIMP, other rcodes)"),
        (status = 501, body = ErrorResponse, description = "No usable TSIG key for the records API"),
    ))]
pub async fn update_record(
    State(state): State<SharedState>,
    actor: Actor,
    ZonePath(zone): ZonePath,
    ApiJson(request): ApiJson<UpdateRecordRequest>,
) -> ApiResult<Json<RecordResponse>> {
    send(
        &state,
        &zone,
        RecordCall::Update(request.clone()),
        "record_update",
        actor,
    )
    .await?;
    Ok(Json(RecordResponse {
        success: true,
        message: format!("Record updated in zone {zone}"),
        details: json!({"zone": zone.as_str(), "record": request}),
    }))
}

/// Remove a record value, or the whole RRset of that type.
#[utoipa::path(delete, path = "/api/v1/zones/{name}/records", tag = "records", request_body = RemoveRecordRequest,
    params(("name" = String, Path, description = "Zone name")),
    responses(
        (status = 200, body = RecordResponse, description = "Removed (idempotent); no value: the whole RRset"),
        (status = 400, body = ErrorResponse, description = "Bad field, or the apex NS RRset (never deleted whole)"),
        (status = 409, body = ErrorResponse, description = "The zone's last NS record, or its NS records changed meanwhile; nothing changed"), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 502, body = ErrorResponse), (status = 503, body = ErrorResponse), (status = 504, body = ErrorResponse),
        (status = 415, body = ErrorResponse, description = "The body is not declared as JSON"),
        (status = 422, body = ErrorResponse, description = "named refused the message (FORMERR, NOTIMP, other rcodes)"),
        (status = 501, body = ErrorResponse, description = "No usable TSIG key for the records API"),
    ))]
pub async fn remove_record(
    State(state): State<SharedState>,
    actor: Actor,
    ZonePath(zone): ZonePath,
    ApiJson(request): ApiJson<RemoveRecordRequest>,
) -> ApiResult<Json<RecordResponse>> {
    send(
        &state,
        &zone,
        RecordCall::Remove(request.clone()),
        "record_remove",
        actor,
    )
    .await?;
    Ok(Json(RecordResponse {
        success: true,
        message: format!("Record removed from zone {zone}"),
        details: json!({"zone": zone.as_str(), "record": request}),
    }))
}

/// List the zone's records as named serves them.
#[utoipa::path(get, path = "/api/v1/zones/{name}/records", tag = "records",
    params(("name" = String, Path, description = "Zone name"),
        ("name" = Option<String>, Query, description = "Only this owner (@, relative or absolute)"),
        ("type" = Option<String>, Query, description = "Only this type")),
    responses(
        (status = 200, body = RecordListResponse, description = "What named serves (AXFR signed with the update key)"),
        (status = 400, body = ErrorResponse), (status = 403, body = ErrorResponse, description = "Transfer to the key not allowed"),
        (status = 404, body = ErrorResponse), (status = 503, body = ErrorResponse), (status = 504, body = ErrorResponse),
        (status = 422, body = ErrorResponse, description = "named refused the message (FORMERR, NOTIMP, other rcodes)"),
        (status = 501, body = ErrorResponse, description = "No usable TSIG key for the records API"),
    ))]
pub async fn list_records(
    State(state): State<SharedState>,
    ZonePath(zone): ZonePath,
    Query(filter): Query<RecordFilter>,
) -> ApiResult<Json<RecordListResponse>> {
    let found = state
        .zones
        .zone_records(
            state.dns.as_ref(),
            &zone,
            filter.name.as_deref(),
            filter.record_type.as_deref(),
        )
        .await?;
    let records: Vec<RecordEntry> = found
        .records
        .into_iter()
        .map(|r| RecordEntry {
            name: r.name,
            record_type: r.rtype,
            ttl: r.ttl,
            value: r.value,
        })
        .collect();
    Ok(Json(RecordListResponse {
        count: records.len(),
        records,
        serial: found.serial,
    }))
}

/// Replace a whole RRset atomically (an empty list deletes it).
#[utoipa::path(put, path = "/api/v1/zones/{name}/rrsets/{owner}/{type}", tag = "records", request_body = RrsetRequest,
    params(("name" = String, Path, description = "Zone name"),
        ("owner" = String, Path, description = "Owner: @, relative or absolute inside the zone"),
        ("type" = String, Path, description = "Record type")),
    responses(
        (status = 200, body = RecordResponse, description = "RRset replaced atomically (empty values: deleted); idempotent. The message counts the distinct values named holds"),
        (status = 400, body = ErrorResponse, description = "Bad field; two CNAME values; a CNAME at the apex; more values than max-records-per-type; the apex NS emptied"), (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 502, body = ErrorResponse), (status = 503, body = ErrorResponse), (status = 504, body = ErrorResponse),
        (status = 415, body = ErrorResponse, description = "The body is not declared as JSON"),
        (status = 422, body = ErrorResponse, description = "named refused the message (FORMERR, NOTIMP, other rcodes)"),
        (status = 501, body = ErrorResponse, description = "No usable TSIG key for the records API"),
        (status = 409, body = ErrorResponse, description = "named would skip it (a CNAME beside other records, either way), or the apex NS changed meanwhile; nothing changed"),
    ))]
pub async fn replace_rrset(
    State(state): State<SharedState>,
    actor: Actor,
    Path((raw_zone, owner, record_type)): Path<(String, String, String)>,
    ApiJson(request): ApiJson<RrsetRequest>,
) -> ApiResult<Json<RecordResponse>> {
    let zone = plan::zone_name(&raw_zone).map_err(ApiError::from)?;
    let call = RecordCall::Replace {
        owner: owner.clone(),
        record_type: record_type.clone(),
        request: request.clone(),
    };
    let holds = send(&state, &zone, call, "rrset_replace", actor).await?;
    Ok(Json(RecordResponse {
        success: true,
        message: format!(
            "RRset {owner} {} of zone {zone} replaced ({holds} values)",
            record_type.to_ascii_uppercase(),
        ),
        details: json!({"zone": zone.as_str(), "name": owner, "type": record_type.to_ascii_uppercase(), "rrset": request}),
    }))
}
