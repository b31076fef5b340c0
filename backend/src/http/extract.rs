//! Request extractors whose failures are `ApiError`s, so a bad body or path gets the same JSON
//! error shape as everything else (axum's own rejections are plain text).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::serve::is_body_timeout;
use crate::zones::plan;
use crate::zones::ZoneName;

/// A JSON body; any problem with it is a 400 (415 when it is not declared as JSON, 413 when it
/// is over the route's size limit, 408 when it did not arrive in time).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::UnsupportedMediaType(
                "Expected request with `Content-Type: application/json`".into(),
            )),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge(rejection.body_text()))
            }
            Err(rejection) if is_body_timeout(&rejection) => {
                Err(ApiError::BodyTimeout(rejection.body_text()))
            }
            Err(rejection) => Err(ApiError::InvalidRequest(rejection.body_text())),
        }
    }
}

/// The `{name}` path segment, normalised and validated.
pub struct ZonePath(pub ZoneName);

impl<S: Send + Sync> FromRequestParts<S> for ZonePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::InvalidRequest(e.body_text()))?;
        plan::zone_name(&raw).map(ZonePath).map_err(ApiError::from)
    }
}
