//! Acting on a request: allow it with its identity, or answer it with a denial. These act on
//! the host's *effective* context, which is the current request inside its own callbacks, and
//! a waiting request once the root context has switched to it.

use std::time::{SystemTime, UNIX_EPOCH};

use bindcar_policy::denial::Denial;
use bindcar_policy::review::Identity;
use proxy_wasm::hostcalls;
use proxy_wasm::types::MapType;

use crate::plugin::Plugin;

pub fn allow(plugin: &Plugin, identity: Option<&Identity>) {
    if let Some(id) = identity {
        let names = &plugin.config.identity;
        hostcalls::set_map_value_bytes(
            MapType::HttpRequestHeaders,
            &names.user,
            Some(id.username.as_bytes()),
        )
        .ok();
        if !id.groups.is_empty() {
            let groups = id.groups.join(",");
            hostcalls::set_map_value_bytes(
                MapType::HttpRequestHeaders,
                &names.groups,
                Some(groups.as_bytes()),
            )
            .ok();
        }
        log::debug!("bindcar-auth: allowed {}", id.username);
    }
    plugin.metrics.allowed();
}

pub fn deny(plugin: &Plugin, denial: &Denial, token_hash: Option<&str>) {
    plugin.metrics.denied(denial);
    log::debug!(
        "bindcar-auth: denied ({}) token={}",
        denial.reason(),
        token_hash.unwrap_or("-")
    );
    let body = denial.body_json();
    let sent = hostcalls::send_http_response(
        u32::from(denial.status(plugin.config.status_on_error)),
        vec![
            ("content-type", "application/json"),
            ("www-authenticate", "Bearer"),
        ],
        Some(body.as_bytes()),
    );
    if sent.is_err() {
        // Could not answer: at least never let it through.
        hostcalls::reset_http_request().ok();
    }
}

pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
