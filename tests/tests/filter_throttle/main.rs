//! Failed-authentication throttling and fair review shares in the real Envoy: a token
//! guesser is blocked (429) before the reviewer hears of it while other clients are served;
//! the block lifts; successes and exempt paths are never throttled; a flood of distinct
//! clients keeps memory and the tracked-clients gauge bounded; a greedy client gets
//! `statusOnError` beyond its share of pending reviews, and abandoned reviews free it.
//!
//! Here: the stacks and helpers. The tests, by concern: `blocking`, `flood`, `fairness`,
//! `peers` (who a client is: forged forwarding headers, a real proxy hop).

use std::time::Duration;

use bindcar_testbed::envoy::{Envoy, EnvoyOptions};
use bindcar_testbed::http::{get, Response};
use bindcar_testbed::tokenreview::{MintRequest, ServerOptions, TokenReviewServer};
use bindcar_testbed::upstream::Upstream;
use serde_json::{json, Value};

mod blocking;
mod fairness;
mod flood;
mod peers;

const UNAVAILABLE: &str = "Token validation failed: TokenReview API call failed";
const XFF: &str = "x-forwarded-for";

/// Client keys from the `x-forwarded-for` entry the test sends: the second from the right,
/// since Envoy (`use_remote_address: true`, as shipped) appends the peer it saw.
fn by_xff(mut throttle: Value) -> Value {
    throttle["clientKey"] = json!({"header": XFF, "trustedHops": 2});
    throttle
}

struct Stack {
    api: TokenReviewServer,
    up: Upstream,
    envoy: Envoy,
    _dir: tempfile::TempDir,
}

/// TokenReview mode (namespace `dns-system` allowed) with `throttle`, extra `tr` settings.
fn tr_stack(throttle: Value, tr: Value, status_on_error: u16, concurrency: u32) -> Stack {
    tr_stack_with(throttle, tr, status_on_error, concurrency, true)
}

/// As `tr_stack`, with the connection manager's `use_remote_address` as given.
fn tr_stack_with(
    throttle: Value,
    tr: Value,
    status_on_error: u16,
    concurrency: u32,
    use_remote_address: bool,
) -> Stack {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt
        .block_on(TokenReviewServer::start(ServerOptions::default()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    api.write_ca(&ca).unwrap();
    let mut settings = json!({"audiences": ["bindcar"], "allowedNamespaces": ["dns-system"],
        "reviewerToken": api.reviewer_token(), "timeoutMs": 5000});
    for (k, v) in tr.as_object().unwrap() {
        settings[k] = v.clone();
    }
    let config = json!({"mode": "tokenReview", "statusOnError": status_on_error,
        "tokenReview": settings, "throttle": throttle})
    .to_string();
    let up = Upstream::start().unwrap();
    let mut o = EnvoyOptions::filter(&config, up.port).with_api_server(api.https_port(), &ca);
    o.concurrency = concurrency;
    o.use_remote_address = use_remote_address;
    let envoy = Envoy::start(&o).unwrap();
    Stack {
        api,
        up,
        envoy,
        _dir: dir,
    }
}

/// Basic mode with `throttle`.
fn basic_stack(throttle: Value) -> (Upstream, Envoy) {
    let up = Upstream::start().unwrap();
    let config = json!({"mode": "basic", "throttle": throttle}).to_string();
    let envoy = Envoy::start(&EnvoyOptions::filter(&config, up.port)).unwrap();
    (up, envoy)
}

fn good_token(api: &TokenReviewServer) -> String {
    api.mint(&MintRequest::new(
        "dns-system",
        "external-dns",
        &["bindcar"],
    ))
}

/// `GET path` as the client named by `xff` (none: the source address), with `token`.
fn call_as(envoy: &Envoy, path: &str, xff: Option<&str>, token: Option<&str>) -> Response {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &[u8])> = Vec::new();
    if let Some(x) = xff {
        headers.push((XFF, x.as_bytes()));
    }
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_bytes()));
    }
    get(envoy.port, path, &headers).unwrap()
}

/// A 429 from the throttle; returns its `retry-after`.
fn assert_throttled(r: &Response, max_retry_after: u64) -> u64 {
    assert_eq!(r.status, 429, "{r:?}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let n: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=max_retry_after).contains(&n), "retry-after {n}");
    assert_eq!(
        r.json(),
        json!({"error": "Too Many Requests",
            "message": format!("Too many failed authentication attempts; retry after {n} s")})
    );
    n
}

fn assert_unavailable(r: &Response, status: u16) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(
        r.json(),
        json!({"error": "Unauthorized", "message": UNAVAILABLE})
    );
}

/// A token the reviewer has never seen (it answers `authenticated: false`).
fn guess(i: usize) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("guess-{i}-{nanos}")
}

fn wait(d: Duration) {
    std::thread::sleep(d)
}
