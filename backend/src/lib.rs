//! bindcar: an HTTP API over BIND9 zones, compatible with bindcar's routes, bodies and
//! environment, carried out over named's native control channel (rndc).
//!
//! Imports point one way: `server` → `http` → `auth`, `zones` → `catalog` → `bind`; `http` →
//! `rate_limit` → `config` → `bind`; `server` → `tls` → `serve` → `rate_limit`; `tls` →
//! `config`; `http` → `serve`; `metrics` is a leaf.
//! `tests/layering.rs` checks it.
//! - `http`: router, handlers, extractors, errors → responses, JSON types, OpenAPI, middleware.
//! - `auth`: who is calling (the shared `bindcar_policy`, TokenReview), the actor.
//! - `zones`: the operations, their order, validation, what named's answers mean (`ZoneError`).
//! - `catalog`: the catalog zone (RFC 9432) secondaries follow: member labels, its content,
//!   its repair, propagation states. Pure; `zones` sends what it computes.
//! - `bind`: everything that speaks to named (`ControlChannel`, rndc, zone files, markers).
//! - `rate_limit`: the per-client limiter of the API routes (governor), its key set bounded.
//! - `config`: CLI, environment, startup guards, rndc.conf, the TLS settings.
//! - `tls`: HTTPS as the listener's transport, its certificate reloads, mutual TLS and the
//!   client's name.
//! - `serve`: the listener: connections admitted, capped, timed out and shed (slowloris).
//! - `metrics`: the Prometheus registry. `server`: wiring, listening, shutdown.

pub mod auth;
pub mod bind;
pub mod catalog;
pub mod config;
#[cfg(feature = "failpoints")]
pub mod failpoints;
pub mod http;
pub mod metrics;
pub mod rate_limit;
pub mod serve;
pub mod server;
pub mod tls;
pub mod zones;
