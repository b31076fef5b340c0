//! Real processes on loopback, for the end-to-end tests (`bindcar-e2e`), `make run`
//! (`bindcar-devstack`) and `make bench` (`bindcar-bench`): a private named, Envoy loading the
//! real filter `.wasm`, the bindcar binary, a recording upstream, a raw HTTP/1.1 client, an HTTPS
//! client (rustls), a TokenReview API server, and a proxy that loses named's answers on purpose
//! (`fault_proxy`), a secondary of the catalog zone (`catalog`) and the SOA serial a server
//! serves (`soa`). Each module is named for the process it drives.
//!
//! Constructors meant for tests (`Named::start`, `Backend::start`, `free_port`, the token
//! minting helpers) panic with the reason, so a test fails saying what is missing; the
//! modules that do so allow it at their top. Everything else returns `Result`.

pub mod backend;
pub mod catalog;
pub mod envoy;
pub mod fault_proxy;
pub mod http;
pub mod https;
pub mod named;
pub mod ports;
pub mod registry;
pub mod soa;
pub mod tokenreview;
pub mod upstream;
