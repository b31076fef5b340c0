//! bindcar-wasmhost: an in-process proxy-wasm host (ABI 0.2.1, on the `wasmi` interpreter)
//! that runs the real `dist/bindcar_auth_filter.wasm` and records every host call it makes,
//! so the cost of each path through the filter is a number a test can hold down.
//!
//! - `abi.rs`:      statuses, map and buffer numbers, the map wire format, [`HostCall`]
//! - `host.rs`:     the host's state and the header, log, buffer and property imports
//! - `services.rs`: shared data, queues, metrics, callouts, local replies, WASI
//! - `vm.rs`:       [`FilterVm`]: load, configure, and drive requests as Envoy does
//! - `paths.rs`:    the filter's paths, run and counted ([`run_paths`], [`count_paths`],
//!   [`count_startup`])

mod abi;
mod host;
pub mod paths;
mod services;
mod vm;

pub use abi::{Action, HostCall};
pub use host::{FailWhen, Host, HttpCall, LocalResponse};
pub use paths::{count_paths, count_startup, run_paths, PathCount, PathRun};
pub use vm::{FilterVm, RequestRecord, Started};
