//! bindcar: an HTTP API over BIND9 zones, compatible with bindcar's routes, bodies and
//! environment, carried out over named's native control channel (rndc).
//!
//! Where things are:
//! - HTTP: `routes` (composition), `http_open` (health/ready/metrics), `http_zones` (the API),
//!   `extract` (body/path extractors), `error` (every failure's status and body),
//!   `api_types` (JSON bodies), `openapi`.
//! - Authentication: `auth` (the axum adapter of the shared `bindcar_policy`), `tokenreview`
//!   (kube adapter), `guards` (startup refusals), `actor` (who did it, for logs).
//! - Zones: `zone_ops` (the operations and what named's answers mean), `plan` (validation
//!   before any I/O), `zone_name`, `records`, `zone_file`, `zone_options`, `zone_dir` (disk),
//!   `locks` (per-zone serialisation), `showzone`.
//! - named: `rndc` (client in spawn_blocking with a timeout), `rndc_command`, `rndc_conf`.
//! - Process: `cli`, `config`, `server`, `metrics`, `state`.

pub mod actor;
pub mod api_types;
pub mod auth;
pub mod cli;
pub mod conf_tokens;
pub mod config;
pub mod error;
pub mod extract;
pub mod guards;
pub mod http_open;
pub mod http_zones;
pub mod locks;
pub mod metrics;
pub mod openapi;
pub mod plan;
pub mod records;
pub mod rndc;
pub mod rndc_command;
pub mod rndc_conf;
pub mod routes;
pub mod server;
pub mod showzone;
pub mod state;
pub mod tokenreview;
pub mod zone_dir;
pub mod zone_file;
pub mod zone_name;
pub mod zone_ops;
pub mod zone_options;

pub use api_types::*;
