//! The HTTP API: `router` (open and authenticated routers merged in one place), handlers
//! (`open`: health, ready, metrics; `zones`: the zone API), `extract` (body and path
//! extractors), `error` (every failure's status and body, and the words for each
//! `ZoneError`), `api_types` (JSON bodies), `openapi`, `docs` (Swagger UI, when enabled), `auth` (the middleware applying
//! `auth::Authenticator`), `metrics` (the request-counting middleware), `state` (what every
//! handler shares), `rate_limit` (the per-client limit of the API routes), `records` (the
//! records API: RFC 2136 answers → statuses), `conn` (the connection's two ends, as every
//! request carries them), `zone_list` (the zone list's body, rendered once per index snapshot),
//! `propagation` (what each secondary serves).

pub mod api_types;
pub mod auth;
pub mod conn;
pub mod dnssec;
pub mod docs;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod open;
pub mod openapi;
pub mod propagation;
pub mod rate_limit;
pub mod records;
pub mod router;
pub mod state;
pub mod zone_list;
pub mod zones;

#[cfg(test)]
mod contract_tests;
#[cfg(test)]
mod dnssec_tests;
#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod openapi_tests;
#[cfg(test)]
mod propagation_tests;
#[cfg(test)]
mod records_tests;
#[cfg(test)]
mod tests;

pub use error::ApiError;
pub use router::{router, router_with_docs};
pub use state::{AppState, SharedState};
