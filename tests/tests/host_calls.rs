//! The host calls of every path through the real `dist/bindcar_auth_filter.wasm`, run in the
//! in-process host of `bindcar-wasmhost` (issue 13). Each path's decision is asserted, its
//! list printed (`cargo test -p bindcar-e2e --test host_calls -- --nocapture`), and its count
//! held at or under today's: whoever cuts host calls lowers the bound here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use bindcar_testbed::envoy::wasm_path;
use bindcar_wasmhost::{run_paths, Action, PathCount, PathRun};
use serde_json::json;

/// Today's counts, the most each path may make. Lower them as the filter gets cheaper.
const MAX_CALLS: [(&str, usize); 11] = [
    ("basic allow", 4),
    ("basic allow (no identity headers sent)", 2),
    ("exempt path", 4),
    ("deny: no Authorization", 5),
    ("deny: malformed Authorization", 5),
    ("throttle on: basic allow", 10),
    ("throttle on: deny counted (no Authorization)", 18),
    ("tokenReview miss (first request, review answered)", 27),
    ("tokenReview cache hit (worker memo)", 8),
    (
        "tokenReview cache hit (worker memo, no identity headers sent)",
        6,
    ),
    ("tokenReview cache hit (shared cache, other worker)", 9),
];

const TOKEN: &str = bindcar_wasmhost::paths::TOKEN;
const USER: &str = bindcar_wasmhost::paths::USER;
const GROUPS: &str = bindcar_wasmhost::paths::GROUPS;

/// Every path, run once for all the tests here (the interpreter is slow-ish, the runs are
/// deterministic).
fn runs() -> &'static [PathRun] {
    static RUNS: OnceLock<Vec<PathRun>> = OnceLock::new();
    RUNS.get_or_init(|| {
        // A missing module fails here with "run `make wasm`"; nothing skips.
        let wasm = std::fs::read(wasm_path().unwrap()).unwrap();
        let runs = run_paths(&wasm).unwrap();
        for run in &runs {
            println!("{}", PathCount::from(run));
        }
        runs
    })
}

fn path<'a>(runs: &'a [PathRun], name: &str) -> &'a PathRun {
    runs.iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no path {name:?}"))
}

/// Continued (at once or resumed), no local reply, the client's identity headers gone and
/// ours set when `identity` says who.
fn assert_allowed(run: &PathRun, identity: Option<(&str, &str)>) {
    let r = &run.record;
    assert!(r.local_response.is_none(), "{}: {r:?}", run.name);
    assert!(
        r.action == Action::Continue || r.resumed,
        "{}: neither continued nor resumed",
        run.name
    );
    assert_eq!(
        r.header("x-remote-user"),
        identity.map(|i| i.0),
        "{}",
        run.name
    );
    assert_eq!(
        r.header("x-remote-group"),
        identity.map(|i| i.1),
        "{}",
        run.name
    );
}

fn assert_denied(run: &PathRun, message: &str) {
    let r = &run.record;
    assert_eq!(r.action, Action::Pause, "{}", run.name);
    assert!(!r.resumed, "{}", run.name);
    let reply = r.local_response.as_ref().expect("a local reply");
    assert_eq!(reply.status, 401, "{}", run.name);
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body, json!({"error": "Unauthorized", "message": message}));
    let header = |n: &str| {
        reply
            .headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("content-type"), Some("application/json"));
    assert_eq!(header("www-authenticate"), Some("Bearer"));
}

#[test]
fn basic_mode_paths_decide_as_the_seed() {
    let runs = runs();
    assert_allowed(path(runs, "basic allow"), None);
    assert_allowed(path(runs, "exempt path"), None);
    assert_denied(
        path(runs, "deny: no Authorization"),
        "Missing Authorization header",
    );
    assert_denied(
        path(runs, "deny: malformed Authorization"),
        "Invalid Authorization header format. Expected: Bearer <token>",
    );
    for name in [
        "basic allow",
        "exempt path",
        "deny: no Authorization",
        "deny: malformed Authorization",
    ] {
        assert!(path(runs, name).callouts.is_empty(), "{name} called out");
    }
}

#[test]
fn throttle_paths_gate_then_count_the_failure() {
    let runs = runs();
    assert_allowed(path(runs, "throttle on: basic allow"), None);
    let deny = path(runs, "throttle on: deny counted (no Authorization)");
    assert_denied(deny, "Missing Authorization header");
    // The failure is written to the client's slot (a compare-and-swap on shared data).
    let wrote_slot = deny.record.calls.iter().any(|c| {
        c.name == "proxy_set_shared_data"
            && c.detail
                .as_deref()
                .is_some_and(|k| k.starts_with("bindcar-auth/throttle/"))
    });
    assert!(
        wrote_slot,
        "no throttle slot written: {:?}",
        deny.record.calls
    );
}

#[test]
fn tokenreview_miss_reviews_once_then_hits_allow_without_a_callout() {
    let runs = runs();
    let miss = path(runs, "tokenReview miss (first request, review answered)");
    assert_eq!(
        miss.record.action,
        Action::Pause,
        "a miss waits for the review"
    );
    assert!(miss.record.resumed, "the answer resumes it");
    assert_allowed(miss, Some((USER, GROUPS)));
    let [call] = miss.callouts.as_slice() else {
        panic!("one callout expected: {:?}", miss.callouts)
    };
    assert_eq!(call.cluster, "kubernetes");
    let header = |n: &str| {
        call.headers
            .iter()
            .find(|(k, _)| k == n.as_bytes())
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    assert_eq!(header(":method").as_deref(), Some("POST"));
    assert_eq!(
        header(":path").as_deref(),
        Some("/apis/authentication.k8s.io/v1/tokenreviews")
    );
    let credential = format!("Bearer {}", bindcar_wasmhost::paths::REVIEWER_TOKEN);
    assert_eq!(header("authorization"), Some(credential));
    let body: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(
        body["spec"],
        json!({"token": TOKEN, "audiences": ["bindcar"]})
    );

    for name in [
        "tokenReview cache hit (worker memo)",
        "tokenReview cache hit (shared cache, other worker)",
    ] {
        let hit = path(runs, name);
        assert_eq!(hit.record.action, Action::Continue, "{name}");
        assert!(hit.callouts.is_empty(), "{name} called out");
        assert_allowed(hit, Some((USER, GROUPS)));
    }
}

#[test]
fn host_calls_per_path_stay_within_todays_counts() {
    let runs = runs();
    assert_eq!(runs.len(), MAX_CALLS.len(), "a path without a bound");
    let mut over = Vec::new();
    for (name, max) in MAX_CALLS {
        let n = path(runs, name).record.calls.len();
        if n > max {
            over.push(format!("{name}: {n} host calls, at most {max}"));
        }
    }
    assert!(
        over.is_empty(),
        "more host calls than allowed:\n{}",
        over.join("\n")
    );
}

#[test]
fn no_log_line_carries_the_token() {
    let wasm = std::fs::read(wasm_path().unwrap()).unwrap();
    let config = bindcar_wasmhost::paths::tokenreview_config();
    // Trace: every line the filter can write (the level is read once, at configure).
    let mut vm =
        bindcar_wasmhost::FilterVm::load_with(&wasm, &config, |h| h.log_level = 0).unwrap();
    let bearer = format!("Bearer {TOKEN}");
    let started = vm
        .start(&[(":path", "/api/v1/zones"), ("authorization", &bearer)])
        .unwrap();
    let token = vm.http_calls()[0].token;
    vm.answer(token, 500, b"").unwrap();
    let record = vm.finish(started).unwrap();
    assert_eq!(record.local_response.map(|r| r.status), Some(401));
    let logs = &vm.host().logs;
    assert!(
        logs.iter()
            .any(|(_, l)| l.contains("denied (review_unavailable)")),
        "the debug lines are on: {logs:?}"
    );
    for (_, line) in logs {
        assert!(!line.contains(TOKEN), "token in a log line: {line}");
    }
}

/// The callbacks the filter leaves at the SDK's defaults are not exported (Makefile,
/// `UNUSED_CALLBACKS`): Envoy enters the VM only for what the filter does. A `cargo build`
/// without `make wasm`'s step would still work, one VM entry per callback dearer.
#[test]
fn the_module_exports_only_the_callbacks_it_uses() {
    let wasm = std::fs::read(wasm_path().unwrap()).unwrap();
    let exports = bindcar_wasmhost::FilterVm::exports(&wasm).unwrap();
    for unused in [
        "proxy_on_request_body",
        "proxy_on_request_trailers",
        "proxy_on_response_headers",
        "proxy_on_response_body",
        "proxy_on_response_trailers",
        "proxy_on_log",
        "proxy_on_done",
    ] {
        assert!(!exports.iter().any(|e| e == unused), "{unused} is exported");
    }
    for used in [
        "proxy_on_context_create",
        "proxy_on_request_headers",
        "proxy_on_delete",
        "proxy_on_queue_ready",
        "proxy_on_http_call_response",
        "proxy_on_configure",
        "proxy_on_vm_start",
        "proxy_on_memory_allocate",
    ] {
        assert!(exports.iter().any(|e| e == used), "{used} is not exported");
    }
}
