//! The one error type of the HTTP API. Each variant is one status and one JSON body
//! `{"error": "...", "details": ...}`; nothing else decides what a failure looks like.
//! `From<ZoneError>` is where a domain failure gets its words for the client, including the
//! API routes to use next.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::api_types::ErrorResponse;
use crate::zones::{ZoneError, ZoneName};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or a value is invalid. Nothing was written or sent.
    #[error("Invalid request: {0}")]
    InvalidRequest(String),
    /// The body is over the route's size limit; it was not read further.
    #[error("Payload too large: {0}")]
    PayloadTooLarge(String),
    /// The body did not arrive within `BIND_API_BODY_TIMEOUT_SECS`.
    #[error("Request timeout: {0}")]
    BodyTimeout(String),
    /// The body is not declared as JSON.
    #[error("Unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("Zone not found: {0}")]
    ZoneNotFound(ZoneName),
    /// The zone exists, but what the request asks about does not (a key, a policy).
    #[error("{0}")]
    NotFoundHere(String),
    #[error("Zone already exists: {0}")]
    ZoneAlreadyExists(ZoneName),
    /// `<dir>/<zone>.zone` is a file this API did not write; nothing was changed.
    #[error("Zone file {path} already exists and was not written by this API (it may belong to a zone defined in named.conf); refusing to create zone {zone} over it. Nothing was changed")]
    ZoneFileTaken { zone: ZoneName, path: String },
    /// The zone exists but was not created through this API (e.g. it is in named.conf).
    #[error("Zone {zone} is not managed by this API (it was not created through it); refusing to {operation} it")]
    NotManaged {
        zone: ZoneName,
        operation: &'static str,
    },
    /// The zone is in a state where the operation makes no sense; the message says what to do.
    #[error("{message}")]
    ZoneState { message: String, bind: String },
    /// named has the zone in its configuration but did not load it (a secondary before its
    /// first transfer, or a file BIND could not load): 409 with `"code": "zoneNotLoaded"`.
    #[error("Zone {zone} is configured but not loaded (a secondary waiting for its first transfer, or a file BIND could not load)")]
    ZoneNotLoaded { zone: ZoneName, bind: String },
    /// BIND refused the zone configuration or content (addzone/modzone); `bind` is its reason.
    #[error("{message}")]
    BindRejected { message: String, bind: String },
    /// BIND refused a command for a reason this API does not classify.
    #[error("BIND refused '{command}': {bind}")]
    BindRefused { command: &'static str, bind: String },
    /// named cannot be reached on its control channel.
    #[error("BIND is unavailable: {0}")]
    BindUnavailable(String),
    /// named did not answer in time.
    #[error("BIND did not answer within {0} seconds")]
    BindTimeout(u64),
    /// A change reached named and its answer did not come back: named may have made it.
    #[error("{message}")]
    OutcomeUnknown { message: String, timed_out: bool },
    /// The credential was refused (body from the shared policy).
    #[error("{message}")]
    Unauthorized { message: String, body: String },
    /// Authenticated, but authorization refused the request (body from the shared policy).
    #[error("{message}")]
    Forbidden { message: String, body: String },
    /// The credential could not be checked (TokenReview unavailable); body from the shared policy.
    #[error("{message}")]
    AuthUnavailable { message: String, body: String },
    /// The client's rate limit is spent; it may retry after this many seconds.
    #[error("Rate limit exceeded; retry after {0} s")]
    RateLimited(u64),
    /// An answer of the DNS server to a records call (or a zone that takes no updates); the
    /// status is chosen in `http::records`, `rcode` is BIND's.
    #[error("{message}")]
    Dns {
        status: u16,
        message: String,
        rcode: Option<String>,
    },
    /// Anything else; the cause is logged, the client sees a generic message.
    #[error("Internal server error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::ZoneNotFound(_) | ApiError::NotFoundHere(_) => StatusCode::NOT_FOUND,
            ApiError::ZoneAlreadyExists(_)
            | ApiError::ZoneFileTaken { .. }
            | ApiError::NotManaged { .. }
            | ApiError::ZoneState { .. }
            | ApiError::ZoneNotLoaded { .. } => StatusCode::CONFLICT,
            ApiError::BindRejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BindRefused { .. } => StatusCode::BAD_GATEWAY,
            ApiError::BindUnavailable(_) | ApiError::AuthUnavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::BindTimeout(_)
            | ApiError::OutcomeUnknown {
                timed_out: true, ..
            } => StatusCode::GATEWAY_TIMEOUT,
            ApiError::OutcomeUnknown { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Dns { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn details(&self) -> Value {
        match self {
            ApiError::ZoneState { bind, .. }
            | ApiError::ZoneNotLoaded { bind, .. }
            | ApiError::BindRejected { bind, .. }
            | ApiError::BindRefused { bind, .. } => Value::String(bind.clone()),
            ApiError::Dns {
                rcode: Some(rcode), ..
            } => Value::String(rcode.clone()),
            _ => Value::Null,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Internal(cause) => tracing::error!(cause = %cause, "returning 500"),
            ApiError::BindUnavailable(_)
            | ApiError::BindTimeout(_)
            | ApiError::OutcomeUnknown { .. }
            | ApiError::AuthUnavailable { .. } => {
                tracing::warn!(status = status.as_u16(), error = %self, "dependency unavailable")
            }
            _ => {}
        }
        if let ApiError::Unauthorized { body, .. }
        | ApiError::Forbidden { body, .. }
        | ApiError::AuthUnavailable { body, .. } = self
        {
            return (
                status,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
        }
        if let ApiError::RateLimited(secs) = self {
            // The same shape as the filter's throttling answer (and the auth refusals).
            let body =
                serde_json::json!({"error": "Too Many Requests", "message": self.to_string()});
            return (
                status,
                [(axum::http::header::RETRY_AFTER, secs.to_string())],
                Json(body),
            )
                .into_response();
        }
        let code = matches!(self, ApiError::ZoneNotLoaded { .. }).then(|| "zoneNotLoaded".into());
        let body = ErrorResponse {
            error: self.to_string(),
            details: Some(self.details()),
            code,
        };
        (status, Json(body)).into_response()
    }
}

impl From<ZoneError> for ApiError {
    fn from(error: ZoneError) -> ApiError {
        let state = |message: String, bind: String| ApiError::ZoneState { message, bind };
        match error {
            ZoneError::Invalid(message) => ApiError::InvalidRequest(message),
            ZoneError::NotFound(zone) => ApiError::ZoneNotFound(zone),
            ZoneError::AlreadyExists(zone) => ApiError::ZoneAlreadyExists(zone),
            ZoneError::FileTaken { zone, path } => ApiError::ZoneFileTaken { zone, path },
            ZoneError::NotManaged { zone, operation } => ApiError::NotManaged { zone, operation },
            ZoneError::Dynamic { zone, bind } => state(
                format!(
                    "Zone {zone} accepts dynamic updates, so BIND will not reload it while it is live: \
                     freeze it (POST /api/v1/zones/{zone}/freeze), then thaw it (POST /api/v1/zones/{zone}/thaw), \
                     which reloads it from its file"
                ),
                bind,
            ),
            ZoneError::NotDynamic { zone, bind } => state(
                format!(
                    "Zone {zone} does not accept dynamic updates, so there is nothing to freeze; \
                     use POST /api/v1/zones/{zone}/reload to re-read its file"
                ),
                bind,
            ),
            ZoneError::AlreadyFrozen { zone, bind } => state(
                format!(
                    "Zone {zone} is already frozen; thaw it (POST /api/v1/zones/{zone}/thaw) to accept updates again"
                ),
                bind,
            ),
            ZoneError::NotSecondary { zone, bind } => state(
                format!(
                    "Zone {zone} is not a secondary zone; only secondary zones can be retransferred"
                ),
                bind,
            ),
            ZoneError::NotPrimary { zone, bind } => state(
                format!(
                    "Zone {zone} is a secondary zone: freeze and thaw apply to primary zones (a \
                     secondary's data comes from its primaries; use POST /api/v1/zones/{zone}/retransfer)"
                ),
                bind,
            ),
            ZoneError::NotLoaded { zone, bind } => ApiError::ZoneNotLoaded { zone, bind },
            ZoneError::StillSigned(zone) => state(
                format!(
                    "Zone {zone} still serves DNSKEY records: removing its dnssec-policy now would take it \
                     dark for validating resolvers. Move it to the built-in \"insecure\" policy first \
                     (PATCH {{\"dnssecPolicy\": \"insecure\"}}), confirm the DS withdrawal at the parent \
                     (POST /api/v1/zones/{zone}/dnssec/checkds), and remove the policy once the zone \
                     serves no DNSKEY records"
                ),
                String::new(),
            ),
            ZoneError::NoPolicy(zone) => ApiError::NotFoundHere(format!(
                "Zone {zone} has no dnssec-policy: it is not signed, so there is no DS record or key \
                 to report (sign it with PATCH /api/v1/zones/{zone} {{\"dnssecPolicy\": \"default\"}})"
            )),
            ZoneError::NoSuchKey { zone, tag } => ApiError::NotFoundHere(format!(
                "Zone {zone} has no key with tag {tag} (GET /api/v1/zones/{zone}/status lists its keys)"
            )),
            ZoneError::CheckdsRefused { zone, bind } => state(
                format!("BIND refused to record the DS state of zone {zone}"),
                bind,
            ),
            ZoneError::PrimariesOfPrimary(zone) => state(
                format!(
                    "Zone {zone} is not a secondary zone: primaries apply to secondary zones only"
                ),
                String::new(),
            ),
            ZoneError::NotInEffect { zone, why } => ApiError::BindUnavailable(format!(
                "the DNSSEC change of zone {zone} is stored in BIND but may not be in effect yet \
                 (reconfig: {why}); BIND applies it at its next reconfig or restart, and the same \
                 PATCH again applies it now"
            )),
            ZoneError::CreateRejected { zone, err, bind } => ApiError::BindRejected {
                message: format!("BIND rejected zone {zone}: {err}{}", names_hint(&err, &bind)),
                bind,
            },
            ZoneError::ModifyRejected { zone, err, bind } => ApiError::BindRejected {
                message: format!(
                    "BIND rejected the new configuration of zone {zone}: {err}{}",
                    names_hint(&err, &bind)
                ),
                bind,
            },
            ZoneError::Refused { command, bind } => ApiError::BindRefused { command, bind },
            ZoneError::CatalogZone { zone, operation } => state(
                format!(
                    "Zone {zone} is this API's catalog zone (BIND_CATALOG_ZONE): its members are \
                     the zones the API manages, and only the API changes it; refusing to \
                     {operation} it"
                ),
                String::new(),
            ),
            ZoneError::CatalogRefused {
                zone,
                catalog,
                why,
                retryable: true,
            } => ApiError::BindUnavailable(format!(
                "cannot change the catalog zone {catalog} for zone {zone}: {why}. Nothing was \
                 changed; retry when named is back"
            )),
            ZoneError::CatalogRefused {
                zone,
                catalog,
                why,
                retryable: false,
            } => ApiError::BindRefused {
                command: "update of the catalog",
                bind: format!(
                    "BIND refused to change the catalog zone {catalog} for zone {zone}: {why}. \
                     Nothing was changed (is the catalog's allow-update the API's TSIG key?)"
                ),
            },
            ZoneError::Unavailable(why) if why.starts_with("statistics channel") => {
                ApiError::BindUnavailable(format!(
                    "cannot reach named's {why}. Nothing was changed; retry when named is back"
                ))
            }
            ZoneError::Unavailable(why) => ApiError::BindUnavailable(format!(
                "cannot reach named's control channel: {why}. Nothing was changed; retry when named is back"
            )),
            ZoneError::Timeout(t) => ApiError::BindTimeout(t.as_secs()),
            ZoneError::OutcomeUnknown {
                zone,
                command,
                why,
                timed_out,
            } => ApiError::OutcomeUnknown {
                message: format!(
                    "The outcome of '{command}' on zone {zone} is unknown: the command reached \
                     named, but {why}. named may have carried it out. Nothing this request wrote \
                     was removed, and the API settles the zone against what BIND has; retry the \
                     request (a create that took effect then answers 409 'already exists', a \
                     delete that took effect 404)"
                ),
                timed_out,
            },
            ZoneError::Internal(cause) => ApiError::Internal(cause),
        }
    }
}

/// named's `not found` from configuring a zone means a name the zone refers to is not in
/// named.conf (an unknown `dnssec-policy`, or TSIG key).
fn names_hint(err: &str, bind: &str) -> &'static str {
    if err == "not found" && bind.contains("configure_zone failed") {
        " (a name the zone refers to is not defined in named.conf: is the dnssecPolicy, or the \
         TSIG key, spelled as named.conf has it?)"
    } else {
        ""
    }
}
