//! The floor of `make bench`'s filter-cost section: a Rust proxy-wasm HTTP filter that
//! returns `Continue` on everything (the SDK's defaults), built like the real one (same SDK,
//! `wasm-release` profile). Envoy still creates a context per request and calls into the VM
//! for each callback, so the difference from this to the real filter is the filter's own work.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Noop) });
}}

struct Noop;

impl Context for Noop {}

impl HttpContext for Noop {}

impl RootContext for Noop {
    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Noop))
    }
}
