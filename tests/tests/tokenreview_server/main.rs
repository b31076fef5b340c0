//! The TokenReview test server itself, over real HTTPS: the shapes and status codes the
//! kube-apiserver uses, token verification, caller authentication, counters, faults, both
//! HTTP versions and the certificate. The standalone binary is tested next to it, in
//! `tests/devstack/tests/tokenreview_server_binary.rs`.
//!
//! Here: the client helpers. The tests, by concern: `tokens`, `callers`, `requests`,
//! `transport`, `faults`, `sar` (the SubjectAccessReview endpoint).

use std::{
    net::SocketAddr,
    time::{Duration, Instant, SystemTime},
};

use base64::Engine;
use bindcar_testbed::tokenreview::{
    Fault, MintRequest, ServerOptions, TokenReviewServer, DEFAULT_ISSUER, TOKENREVIEW_PATH,
};
use reqwest::{Certificate, Client, StatusCode, Version};
use serde_json::{json, Value};

mod callers;
mod faults;
mod requests;
mod sar;
mod tokens;
mod transport;

const REVIEWER: &str = "reviewer-secret";

async fn start() -> TokenReviewServer {
    TokenReviewServer::start(ServerOptions::new(REVIEWER))
        .await
        .unwrap()
}

/// A client that trusts only the server's CA.
fn builder(server: &TokenReviewServer) -> reqwest::ClientBuilder {
    let ca = Certificate::from_pem(server.ca_pem().as_bytes()).unwrap();
    Client::builder()
        .tls_certs_only([ca])
        .timeout(Duration::from_secs(10))
}

fn client(server: &TokenReviewServer) -> Client {
    builder(server).build().unwrap()
}

fn url(server: &TokenReviewServer) -> String {
    format!("{}{TOKENREVIEW_PATH}", server.base_url())
}

fn review_body(token: &str, audiences: &[&str]) -> Value {
    let mut spec = json!({ "token": token });
    if !audiences.is_empty() {
        spec["audiences"] = json!(audiences);
    }
    json!({ "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec })
}

/// POSTs a TokenReview with the right caller token; returns (status, body).
async fn review_with(
    client: &Client,
    server: &TokenReviewServer,
    token: &str,
    audiences: &[&str],
) -> (StatusCode, Value) {
    let resp = client
        .post(url(server))
        .bearer_auth(server.reviewer_token())
        .json(&review_body(token, audiences))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

async fn review(
    server: &TokenReviewServer,
    token: &str,
    audiences: &[&str],
) -> (StatusCode, Value) {
    review_with(&client(server), server, token, audiences).await
}

/// The review's `status.error`, asserting it is a failed review.
async fn review_error(server: &TokenReviewServer, token: &str, audiences: &[&str]) -> String {
    let (code, body) = review(server, token, audiences).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let status = &body["status"];
    // Like the apiserver: `authenticated` is omitempty, so a failure has no such key.
    assert!(status.get("authenticated").is_none(), "{body}");
    assert_eq!(status["user"], json!({}), "{body}");
    assert!(status.get("audiences").is_none(), "{body}");
    status["error"].as_str().unwrap().to_string()
}

fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn status_body(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
           "message":message,"reason":reason,"code":code})
}
