//! The failed-authentication throttle on the host: who the client is (Envoy's source
//! address, or a header), whether it is blocked (asked before the bearer is parsed, so a
//! blocked client never reaches the cache or the reviewer), the 429, and counting a refusal
//! against the client. The bucket and the slots are `bindcar_policy::throttle`'s.

use crate::abi;
use crate::host::unix_ms;
use crate::plugin::Plugin;
use bindcar_policy::client::{ClientId, ClientKey};
use bindcar_policy::denial::DenialKind;
use bindcar_policy::throttle::{throttled_body, Gate, Recorded};

fn now_ms() -> u64 {
    unix_ms(abi::now_or_epoch())
}

/// The effective request's client, when the plugin names clients; `header`: the value of
/// the configured client-key header, read with the others. Host errors read as "no value"
/// (then the header falls back to the address; no address is one shared key).
pub fn client(plugin: &Plugin, header: Option<&[u8]>) -> Option<ClientId> {
    let hasher = plugin.clients.as_ref()?;
    let source = &plugin.config.client_key;
    let address = source
        .needs_address(header)
        .then(|| abi::property(&["source", "address"]).ok().flatten())
        .flatten();
    let key = source.key(address.as_deref(), header);
    if key == ClientKey::Forwarded && !plugin.warned_forwarded.replace(true) {
        log::warn!(
            "bindcar-auth: Envoy took source.address from x-forwarded-for (use_remote_address is off, or \
             xff_num_trusted_hops trusts proxies): such requests share one client key. Set \
             use_remote_address: true, or throttle.clientKey to the header behind trusted proxies"
        );
    }
    Some(hasher.id(&key))
}

/// Seconds until the client may retry, if it is blocked now.
pub fn blocked(plugin: &Plugin, client: Option<&ClientId>) -> Option<u64> {
    let (throttle, client) = (plugin.throttle.as_ref()?, client?);
    match throttle.check(client, now_ms()) {
        Gate::Open => None,
        Gate::Blocked { retry_after_s } => Some(retry_after_s),
    }
}

/// The 429 on the effective request.
pub fn refuse(plugin: &Plugin, retry_after_s: u64, client: Option<&ClientId>) {
    plugin.metrics.throttled();
    log::debug!(
        "bindcar-auth: throttled client={} retry-after={retry_after_s}",
        client.map(ClientId::fingerprint).unwrap_or_default()
    );
    let retry = retry_after_s.to_string();
    let body = throttled_body(retry_after_s);
    abi::reply(
        429,
        &[
            ("content-type", "application/json"),
            ("retry-after", retry.as_str()),
        ],
        body.as_bytes(),
    );
}

/// A refusal of this kind was sent to the client: count it if it is a failed
/// authentication. A lost compare-and-swap race leaves it uncounted (fail open for the
/// bookkeeping only: the request itself was refused).
pub fn count(plugin: &Plugin, client: Option<&ClientId>, kind: DenialKind) {
    let (Some(throttle), Some(client)) = (plugin.throttle.as_ref(), client) else {
        return;
    };
    if !kind.counts_as_failed_authentication() {
        return;
    }
    match throttle.failed(client, now_ms()) {
        Recorded::Counted {
            blocked,
            took_empty_slot,
        } => {
            if took_empty_slot {
                plugin.metrics.throttle_client_added();
            }
            if blocked {
                log::info!(
                    "bindcar-auth: client {} blocked for {} s after repeated failed authentication",
                    client.fingerprint(),
                    throttle.settings().block_seconds
                );
            }
        }
        Recorded::TableFull => {
            plugin.metrics.throttle_table_full();
            log::debug!(
                "bindcar-auth: every throttle slot of client {} holds a blocked client; failure not counted",
                client.fingerprint()
            );
        }
        Recorded::GaveUp => {
            log::debug!(
                "bindcar-auth: throttle bookkeeping lost its races; failure not counted (client {})",
                client.fingerprint()
            );
        }
    }
}
