//! Authorization in the real Envoy: after TokenReview, the filter asks our API server's
//! SubjectAccessReview endpoint (decided from an RBAC table each test sets) whether the
//! reviewed identity may do what the request asks, or decides from static rules. Envoy runs
//! one worker so callout counts are exact.
//!
//! Here: the stack and its helpers. The tests, by concern: `table` (every row of the mapping
//! table, unmapped requests, create, identity), `cache`, `faults`, `static_rules`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bindcar_testbed::envoy::{Envoy, EnvoyOptions};
use bindcar_testbed::http::{request, Response};
use bindcar_testbed::tokenreview::{
    Fault, MintRequest, RbacRule, ServerOptions, TokenReviewServer,
};
use bindcar_testbed::upstream::Upstream;
use serde_json::json;

mod cache;
mod faults;
mod static_rules;
mod table;

const TEAM_A: &str = "system:serviceaccount:team-a:external-dns";
const TEAM_B: &str = "system:serviceaccount:team-b:external-dns";
const FAILED: &str = "Authorization check failed: SubjectAccessReview API call failed";

struct Stack {
    api: TokenReviewServer,
    up: Upstream,
    envoy: Envoy,
    _dir: tempfile::TempDir,
}

/// TokenReview mode (any ServiceAccount) with `authorization` as given, one Envoy worker.
fn stack(authorization: serde_json::Value, status_on_error: u16) -> Stack {
    let api = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(TokenReviewServer::start(ServerOptions::default()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    api.write_ca(&ca).unwrap();
    let config = json!({
        "mode": "tokenReview",
        "statusOnError": status_on_error,
        "tokenReview": {"audiences": ["bindcar"], "reviewerToken": api.reviewer_token(),
            "timeoutMs": 1500, "allowAnyServiceAccount": true},
        "authorization": authorization,
    })
    .to_string();
    let up = Upstream::start().unwrap();
    let mut options = EnvoyOptions::filter(&config, up.port).with_api_server(api.https_port(), &ca);
    options.concurrency = 1;
    let envoy = Envoy::start(&options).unwrap();
    Stack {
        api,
        up,
        envoy,
        _dir: dir,
    }
}

fn sar_stack() -> Stack {
    stack(
        json!({"mode": "subjectAccessReview", "timeoutMs": 1000}),
        503,
    )
}

fn token(api: &TokenReviewServer, ns: &str) -> String {
    api.mint(&MintRequest::new(ns, "external-dns", &["bindcar"]))
}

fn send(envoy: &Envoy, method: &str, path: &str, token: &str) -> Response {
    request(
        envoy.port,
        method,
        path.as_bytes(),
        &[("authorization", format!("Bearer {token}").as_bytes())],
        b"",
    )
    .unwrap()
}

fn assert_forbidden(r: &Response, message: &str) {
    assert_eq!(r.status, 403, "{r:?}");
    assert_eq!(r.json(), json!({"error": "Forbidden", "message": message}));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("www-authenticate"),
        None,
        "a 403 is not a challenge"
    );
}

fn assert_failed(r: &Response, status: u16) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(
        r.json(),
        json!({"error": "Unauthorized", "message": FAILED})
    );
}
