//! bindcar-auth-filter: the proxy-wasm glue. Decisions live in `bindcar-policy`; this crate
//! only reads headers, dispatches callouts, sends local replies and bumps counters.
//!
//! - `root.rs`:    per-worker plugin context: configuration, the review queue, callout answers
//! - `request.rs`: per-request context: the state machine of one request
//! - `plugin.rs`:  the immutable, validated configuration shared by both
//! - `host.rs`:    the few host calls that act on *another* request (resume, deny)
//! - `metrics.rs`: counters and the review latency histogram
//! - `store.rs`:   the verdict cache's slots in Envoy shared data

mod host;
mod metrics;
mod plugin;
mod request;
mod root;
mod store;

use proxy_wasm::types::LogLevel;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    // panic = "abort": the hook is the only trace a panic would leave before the VM traps.
    std::panic::set_hook(Box::new(|info| {
        proxy_wasm::hostcalls::log(LogLevel::Critical, &format!("bindcar-auth: panic: {info}")).ok();
    }));
    proxy_wasm::set_root_context(|context_id| Box::new(root::AuthRoot::new(context_id)));
}}
