//! TokenReview mode in the real Envoy, against our TokenReview server over TLS: allowlists
//! and messages, fail-closed faults, one review per token, TTLs, a bounded cache under a
//! flood, and reviewer-credential rotation without a restart.
//!
//! Here: the stack and its helpers. The tests, by concern: `decisions`, `faults`, `cache`,
//! `rotation`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bindcar_testbed::envoy::{Envoy, EnvoyOptions};
use bindcar_testbed::http::{get, Response};
use bindcar_testbed::tokenreview::{Fault, MintRequest, ServerOptions, TokenReviewServer};
use bindcar_testbed::upstream::Upstream;
use serde_json::json;

mod cache;
mod decisions;
mod faults;
mod rotation;

const UNAVAILABLE: &str = "Token validation failed: TokenReview API call failed";

struct Stack {
    api: TokenReviewServer,
    up: Upstream,
    envoy: Envoy,
    _dir: tempfile::TempDir,
}

fn api_server() -> TokenReviewServer {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(TokenReviewServer::start(ServerOptions::default()))
        .unwrap()
}

/// `tr` is merged into the `tokenReview` settings (the reviewer token is filled in).
fn stack(tr: serde_json::Value, status_on_error: u16) -> Stack {
    let api = api_server();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    api.write_ca(&ca).unwrap();
    let mut settings =
        json!({"audiences": ["bindcar"], "reviewerToken": api.reviewer_token(), "timeoutMs": 1500});
    for (k, v) in tr.as_object().unwrap() {
        settings[k] = v.clone();
    }
    let config =
        json!({"mode": "tokenReview", "statusOnError": status_on_error, "tokenReview": settings})
            .to_string();
    let up = Upstream::start().unwrap();
    let envoy = Envoy::start(
        &EnvoyOptions::filter(&config, up.port).with_api_server(api.https_port(), &ca),
    )
    .unwrap();
    Stack {
        api,
        up,
        envoy,
        _dir: dir,
    }
}

fn sa_token(api: &TokenReviewServer, ns: &str, name: &str) -> String {
    api.mint(&MintRequest::new(ns, name, &["bindcar"]))
}

fn call(envoy: &Envoy, token: &str) -> Response {
    get(
        envoy.port,
        "/api/v1/zones",
        &[("authorization", format!("Bearer {token}").as_bytes())],
    )
    .unwrap()
}

fn assert_denied(r: &Response, status: u16, message: &str) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(
        r.json(),
        json!({"error": "Unauthorized", "message": message})
    );
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert_eq!(r.header("content-type"), Some("application/json"));
}
