//! Acting on a request: allow it with its identity, or answer it with a denial. These act on
//! the host's *effective* context, which is the current request inside its own callbacks, and
//! a waiting request once the root context has switched to it.

use std::time::{SystemTime, UNIX_EPOCH};

use bindcar_policy::denial::Denial;
use bindcar_policy::review::Identity;

use crate::abi::{self, CALLOUT_RESPONSE_BODY, CALLOUT_RESPONSE_HEADERS, REQUEST_HEADERS};
use crate::plugin::Plugin;

/// Every header of the effective request, serialized (read with
/// `bindcar_policy::header_map::HeaderMap`), in one host call. Empty when the host has none
/// to give (the request then reads as one without headers: refused unless exempt... and an
/// exempt path needs a `:path`, so refused).
pub fn request_header_map() -> Vec<u8> {
    abi::header_map(REQUEST_HEADERS)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Lets the effective request through, with the reviewed identity when there is one; false
/// when the host would not set it, and then the request has been refused instead (a request
/// must never reach the upstream without the identity the filter vouches for).
pub fn allow(plugin: &Plugin, identity: Option<&Identity>) -> bool {
    if let Some(id) = identity {
        let names = &plugin.config.identity;
        let groups = id.groups.join(",");
        let set =
            |name: &str, value: &str| abi::replace_header(REQUEST_HEADERS, name, value.as_bytes());
        let done = set(&names.user, &id.username).and_then(|()| match groups.is_empty() {
            true => Ok(()),
            false => set(&names.groups, &groups),
        });
        if let Err(status) = done {
            log::warn!("bindcar-auth: the host refused the identity headers ({status:?}); refusing the request");
            deny(plugin, &Denial::ProxyError, None);
            return false;
        }
        log::debug!("bindcar-auth: allowed {}", id.username);
    }
    plugin.metrics.allowed();
    true
}

/// Removes a client's copy of an identity header; false (and the request refused) when the
/// host would not.
pub fn strip(plugin: &Plugin, name: &str) -> bool {
    match abi::remove_header(REQUEST_HEADERS, name) {
        Ok(()) => true,
        Err(status) => {
            log::warn!("bindcar-auth: the host refused to remove {name} ({status:?}); refusing the request");
            deny(plugin, &Denial::ProxyError, None);
            false
        }
    }
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
    // Could it not answer, `reply` resets the request: never let through.
    abi::reply(
        u32::from(denial.status(plugin.config.status_on_error)),
        &headers,
        body.as_bytes(),
    );
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
        abi::header(CALLOUT_RESPONSE_HEADERS, ":status")
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
    let body = abi::buffer(CALLOUT_RESPONSE_BODY, 0, body_size)
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
