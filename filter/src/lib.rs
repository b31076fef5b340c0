//! bindcar-auth-filter: the proxy-wasm glue. Decisions live in `bindcar-policy`; this crate
//! only reads headers, dispatches callouts, sends local replies and bumps counters.
//!
//! - `state.rs`:   the states of one request and the diagram of its transitions
//! - `request.rs`: per-request context: the transitions out of `Received`
//! - `review.rs`:  the reviewer callouts: dispatch, answer, resume the waiting requests
//! - `authorize.rs`: authorization of an allowed token: rules, cached decisions,
//!   SubjectAccessReview callouts
//! - `root.rs`:    per-worker plugin context: configuration, the review queue
//! - `plugin.rs`:  the immutable, validated configuration shared by both
//! - `abi.rs`:     the host functions, every status handled (the SDK's wrappers panic)
//! - `host.rs`:    allow (identity headers) or deny (local reply) the effective request
//! - `metrics.rs`: the stats named by `bindcar_policy::stats`
//! - `throttle.rs`: failed-authentication throttling: the client, the gate, the 429
//! - `store.rs`:   the verdict cache's and the throttle's slots in Envoy shared data

mod abi;
mod authorize;
mod host;
mod metrics;
mod plugin;
mod request;
mod review;
mod root;
mod state;
mod store;
mod throttle;

proxy_wasm::main! {{
    // Our logger, not the SDK's (which aborts the VM when the host refuses a line).
    log::set_logger(&abi::LOGGER).ok();
    log::set_max_level(log::LevelFilter::Info);
    // panic = "abort": the hook is the only trace a panic would leave before the VM traps.
    std::panic::set_hook(Box::new(|info| {
        abi::log(5, &format!("bindcar-auth: panic: {info}")).ok();
    }));
    proxy_wasm::set_root_context(|context_id| Box::new(root::AuthRoot::new(context_id)));
}}
