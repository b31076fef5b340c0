//! Acting on a request: allow it with its identity, or answer it with a denial. These act on
//! the host's *effective* context, which is the current request inside its own callbacks, and
//! a waiting request once the root context has switched to it.

use std::ptr::null_mut;
use std::time::{SystemTime, UNIX_EPOCH};

use bindcar_policy::denial::Denial;
use bindcar_policy::review::Identity;
use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, MapType, Status};

use crate::plugin::Plugin;

#[link(wasm_import_module = "env")]
extern "C" {
    // The ABI function behind the SDK's `get_map_bytes`, declared as the SDK declares it.
    fn proxy_get_header_map_pairs(
        map_type: MapType,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> Status;
}

/// Every header of the effective request, serialized (read with
/// `bindcar_policy::header_map::HeaderMap`), in one host call. The SDK's own getter turns
/// each name into a `String` with an unwrap; the raw bytes are never trusted that way here.
/// Empty when the host has none to give.
pub fn request_header_map() -> Vec<u8> {
    let mut data: *mut u8 = null_mut();
    let mut size: usize = 0;
    // SAFETY: on Ok the host has put `size` bytes at `data`, allocated through this module's
    // `proxy_on_memory_allocate` (the SDK's: a `Vec<u8>` of capacity `size`, forgotten), so
    // the Vec takes ownership of exactly that allocation, as the SDK's getter does.
    unsafe {
        match proxy_get_header_map_pairs(MapType::HttpRequestHeaders, &mut data, &mut size) {
            Status::Ok if !data.is_null() => Vec::from_raw_parts(data, size, size),
            _ => Vec::new(),
        }
    }
}

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
    let mut headers = vec![("content-type", "application/json")];
    if denial.challenges() {
        headers.push(("www-authenticate", "Bearer"));
    }
    let sent = hostcalls::send_http_response(
        u32::from(denial.status(plugin.config.status_on_error)),
        headers,
        Some(body.as_bytes()),
    );
    if sent.is_err() {
        // Could not answer: at least never let it through.
        hostcalls::reset_http_request().ok();
    }
}

/// A callout's answer: its `:status` (None when there was no answer) and its body, `None`
/// when larger than `max_body`.
pub fn callout_response(
    num_headers: usize,
    body_size: usize,
    max_body: usize,
) -> (Option<u16>, Option<Vec<u8>>) {
    let status = if num_headers == 0 {
        None
    } else {
        hostcalls::get_map_value_bytes(MapType::HttpCallResponseHeaders, ":status")
            .ok()
            .flatten()
            .and_then(|s| {
                std::str::from_utf8(&s)
                    .ok()
                    .and_then(|s| s.parse::<u16>().ok())
            })
    };
    if body_size > max_body {
        return (status, None);
    }
    let body = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
        .ok()
        .flatten()
        .unwrap_or_default();
    (status, Some(body))
}

pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
