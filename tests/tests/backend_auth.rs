//! Standalone authentication of the bindcar backend (the shared policy, adapted to axum):
//! basic, shared secret, TokenReview against our TokenReview server, and disabled. Open
//! routes stay open; everything else needs a credential. The startup guards are in
//! `backend_startup.rs`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bindcar_testbed::tokenreview::{Fault, MintRequest, ServerOptions, TokenReviewServer};
use common::{primary_zone, snapshot, Stack};
use serde_json::{json, Value};

fn unauthorized(message: &str) -> Value {
    json!({"error": "Unauthorized", "message": message})
}

/// A request exactly as written (no client-side path normalisation): status and body.
fn raw_request(port: u16, request_line: &str, headers: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        stream,
        "{request_line}\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n"
    )
    .expect("write");
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_mode_checks_the_bearer_format_and_open_routes_stay_open() {
    // Given bindcar in its default mode (basic), on loopback
    let stack = Stack::start_with(vec![], None);
    let anonymous = stack.client.clone();
    let before = snapshot(stack.named.zone_dir());

    // Then the API refuses requests without a well-formed Bearer token, with the seed's messages
    let (status, body) = anonymous.create(&primary_zone("anon.test")).await;
    assert_eq!(
        (status, body),
        (401, unauthorized("Missing Authorization header"))
    );
    let http = reqwest::Client::new();
    for (values, message) in [
        (
            vec!["Basic dXNlcjpwYXNz"],
            "Invalid Authorization header format. Expected: Bearer <token>",
        ),
        (
            vec!["Bearer a b"],
            "Invalid Authorization header format. Expected: Bearer <token>",
        ),
        (
            vec!["Bearer one", "Bearer two"],
            "Invalid Authorization header format. Expected: Bearer <token>",
        ),
        (vec!["Bearer"], "Empty token"),
    ] {
        let mut request = http.get(stack.backend.url("/api/v1/zones"));
        for value in &values {
            request = request.header("authorization", *value);
        }
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), 401, "{values:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body, unauthorized(message), "{values:?}");
    }
    assert_eq!(anonymous.get("/api/v1/openapi.json").await.0, 401);
    assert_eq!(
        snapshot(stack.named.zone_dir()),
        before,
        "a refused request wrote something"
    );

    // Any well-formed token passes (verification is left to the mesh in this mode)
    let user = anonymous.with_token(Some("any-token-at-all"));
    assert_eq!(user.create(&primary_zone("basic.test")).await.0, 201);
    assert_eq!(user.zones().await, ["basic.test"]);
    assert!(
        stack.backend.logs().contains("\"actor\":\"bearer:"),
        "actor is a token fingerprint"
    );
    assert!(
        !stack.backend.logs().contains("any-token-at-all"),
        "a token was logged"
    );

    // Open routes need nothing; odd paths never reach them
    assert_eq!(anonymous.get("/api/v1/health").await.0, 200);
    assert_eq!(anonymous.get("/api/v1/ready").await.0, 200);
    assert_eq!(anonymous.get_text("/metrics").await.0, 200);
    let port = stack.backend.port();
    for path in [
        "/api/v1/health/../zones",
        "/api/v1/health/",
        "//api/v1/zones",
        "/API/v1/zones",
        "/api/v1/zones/",
    ] {
        let (status, body) = raw_request(port, &format!("GET {path} HTTP/1.1"), "");
        assert!(status == 404 || status == 401, "{path}: {status} {body}");
        assert!(
            !body.contains("basic.test"),
            "{path} listed zones without a token"
        );
    }
    let (status, body) = raw_request(port, "GET /api/v1/zones?/api/v1/health HTTP/1.1", "");
    assert_eq!(status, 401, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_secret_is_compared_and_wrong_tokens_are_refused() {
    let stack = Stack::start_with(
        vec![("BIND_API_TOKEN".into(), "s3cret-Token_42".into())],
        None,
    );
    let wrong = stack.client.with_token(Some("s3cret-Token_43"));
    let (status, body) = wrong.create(&primary_zone("secret.test")).await;
    assert_eq!((status, body), (401, unauthorized("Invalid API token")));
    assert_eq!(stack.named.dig_status("secret.test", "SOA"), "REFUSED");
    let (status, body) = stack.client.get("/api/v1/zones").await;
    assert_eq!(
        (status, body),
        (401, unauthorized("Missing Authorization header"))
    );

    let right = stack.client.with_token(Some("s3cret-Token_42"));
    assert_eq!(right.create(&primary_zone("secret.test")).await.0, 201);
    assert_eq!(stack.named.dig("www.secret.test", "A"), ["192.0.2.10"]);
    assert!(stack.backend.logs().contains("\"actor\":\"api-token\""));
    assert!(
        !stack.backend.logs().contains("s3cret"),
        "the secret was logged"
    );
    let (_, metrics) = right.get_text("/metrics").await;
    assert!(
        metrics.contains(r#"bindcar_auth_decisions_total{mode="api-token",result="denied"} 2"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_auth_trusts_the_mesh() {
    let stack = Stack::start();
    // No credential needed, and a garbage Authorization header is not looked at
    let garbage = stack.client.with_token(Some("not valid at all?"));
    assert_eq!(stack.client.create(&primary_zone("mesh.test")).await.0, 201);
    assert_eq!(garbage.zones().await, ["mesh.test"]);
    assert!(stack
        .backend
        .logs()
        .contains("\"actor\":\"anonymous (auth disabled)\""));
}

struct ReviewStack {
    stack: Stack,
    reviewer: TokenReviewServer,
    _dir: tempfile::TempDir,
}

async fn tokenreview_stack(explicit: bool) -> ReviewStack {
    let reviewer = TokenReviewServer::start(ServerOptions::default())
        .await
        .expect("TokenReview server");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = vec![
        ("BIND_AUTH_MODE".to_string(), "tokenreview".to_string()),
        (
            "BIND_ALLOWED_NAMESPACES".to_string(),
            "dns-system".to_string(),
        ),
    ];
    if explicit {
        let ca = dir.path().join("ca.pem");
        reviewer.write_ca(&ca).expect("write CA");
        let token = dir.path().join("token");
        std::fs::write(&token, reviewer.reviewer_token()).expect("write token");
        env.push(("KUBE_API_SERVER".into(), reviewer.base_url()));
        env.push(("KUBE_TOKEN_PATH".into(), token.display().to_string()));
        env.push(("KUBE_CA_CERT_PATH".into(), ca.display().to_string()));
    } else {
        env.push((
            "KUBECONFIG".into(),
            reviewer
                .write_kubeconfig(dir.path())
                .expect("write kubeconfig")
                .display()
                .to_string(),
        ));
    }
    ReviewStack {
        stack: Stack::start_with(env, None),
        reviewer,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokenreview_admits_allowed_service_accounts_and_caches_verdicts() {
    let ReviewStack {
        stack,
        reviewer,
        _dir: _kubeconfig_dir,
    } = tokenreview_stack(false).await;
    let token = reviewer.mint(&MintRequest::new(
        "dns-system",
        "external-dns",
        &["bindcar"],
    ));
    let api = stack.client.with_token(Some(&token));

    // An allowed ServiceAccount token with the right audience gets in
    let (status, body) = api.create(&primary_zone("review.test")).await;
    assert_eq!(status, 201, "{body}\n{}", stack.backend.logs());
    assert_eq!(reviewer.reviews_for_token(&token), 1);
    assert!(stack
        .backend
        .logs()
        .contains("\"actor\":\"system:serviceaccount:dns-system:external-dns\""));
    // and the verdict is cached: more requests, no more reviews
    for _ in 0..5 {
        assert_eq!(api.zones().await, ["review.test"]);
    }
    assert_eq!(reviewer.reviews_for_token(&token), 1);

    // Refusals carry the seed's messages
    let other_ns = reviewer.mint(&MintRequest::new("default", "app", &["bindcar"]));
    let (status, body) = stack
        .client
        .with_token(Some(&other_ns))
        .get("/api/v1/zones")
        .await;
    assert_eq!(
        (status, body),
        (
            401,
            unauthorized(
                "Token validation failed: ServiceAccount from unauthorized namespace: default"
            )
        )
    );
    let admin = reviewer.mint_user(
        "kubernetes-admin",
        &["system:masters"],
        &["bindcar"],
        Duration::from_secs(600),
    );
    let (status, body) = stack
        .client
        .with_token(Some(&admin))
        .get("/api/v1/zones")
        .await;
    assert_eq!(
        status, 401,
        "a non-ServiceAccount user passed a namespace allowlist: {body}"
    );
    let wrong_audience = reviewer.mint(&MintRequest::new(
        "dns-system",
        "external-dns",
        &["other-api"],
    ));
    let (status, body) = stack
        .client
        .with_token(Some(&wrong_audience))
        .get("/api/v1/zones")
        .await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Token validation failed"),
        "{body}"
    );
    let mut expired = MintRequest::new("dns-system", "external-dns", &["bindcar"]);
    expired.expired = true;
    let expired = reviewer.mint(&expired);
    assert_eq!(
        stack
            .client
            .with_token(Some(&expired))
            .get("/api/v1/zones")
            .await
            .0,
        401
    );
    let forged = {
        let mut request = MintRequest::new("dns-system", "external-dns", &["bindcar"]);
        request.sign_with_other_key = true;
        reviewer.mint(&request)
    };
    assert_eq!(
        stack
            .client
            .with_token(Some(&forged))
            .create(&primary_zone("forged.test"))
            .await
            .0,
        401
    );
    assert_eq!(stack.named.dig_status("forged.test", "SOA"), "REFUSED");

    // When the API server fails, a new token gets 503 (an outage is not a bad credential)
    reviewer.set_fault(Fault::Status500);
    let fresh = reviewer.mint(&MintRequest::new(
        "dns-system",
        "cert-manager",
        &["bindcar"],
    ));
    let (status, body) = stack
        .client
        .with_token(Some(&fresh))
        .get("/api/v1/zones")
        .await;
    assert_eq!(
        (status, body),
        (
            503,
            unauthorized("Token validation failed: TokenReview API call failed")
        )
    );
    // while the cached verdict keeps serving
    assert_eq!(api.zones().await, ["review.test"]);
    reviewer.set_fault(Fault::None);
    assert_eq!(
        stack.client.with_token(Some(&fresh)).zones().await,
        ["review.test"]
    );
    assert!(!stack.backend.logs().contains(&token), "a token was logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokenreview_with_explicit_kube_settings() {
    let ReviewStack {
        stack,
        reviewer,
        _dir: _kube_files,
    } = tokenreview_stack(true).await;
    let token = reviewer.mint(&MintRequest::new("dns-system", "bindy", &["bindcar"]));
    let (status, body) = stack
        .client
        .with_token(Some(&token))
        .create(&primary_zone("explicit.test"))
        .await;
    assert_eq!(status, 201, "{body}\n{}", stack.backend.logs());
    assert_eq!(reviewer.review_count(), 1);
    assert_eq!(
        reviewer.unauthorized_count(),
        0,
        "bindcar did not present the reviewer token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reviewer_token_file_is_trimmed_and_reread_when_it_changes() {
    let ReviewStack {
        stack,
        reviewer,
        _dir: kube_files,
    } = tokenreview_stack(true).await;
    let token_file = kube_files.path().join("token");
    let caller = |n: usize| {
        reviewer.mint(&MintRequest::new(
            "dns-system",
            &format!("sa{n}"),
            &["bindcar"],
        ))
    };
    let logs_hold_no_reviewer_token = |token: &str| !stack.backend.logs().contains(token);

    // `echo token > file`: a trailing newline (and other surrounding whitespace) is not part
    // of the token
    let first = reviewer.reviewer_token();
    std::fs::write(&token_file, format!("{first}\n")).expect("write token");
    let (status, body) = stack
        .client
        .with_token(Some(&caller(1)))
        .get("/api/v1/zones")
        .await;
    assert_eq!(status, 200, "{body}\n{}", stack.backend.logs());
    assert_eq!(reviewer.unauthorized_count(), 0, "the newline was sent");

    // The API server rotates the reviewer's credential: reviews fail (503) until the file
    // holds the new token, then the next request uses it, with no restart
    reviewer.set_reviewer_token("rotated-reviewer-token");
    let (status, body) = stack
        .client
        .with_token(Some(&caller(2)))
        .get("/api/v1/zones")
        .await;
    assert_eq!(status, 503, "{body}");
    std::fs::write(&token_file, " rotated-reviewer-token \r\n\n").expect("write token");
    let (status, body) = stack
        .client
        .with_token(Some(&caller(3)))
        .get("/api/v1/zones")
        .await;
    assert_eq!(status, 200, "{body}\n{}", stack.backend.logs());

    // A broken file (empty, or gone) fails closed, and fixing it is picked up the same way
    std::fs::write(&token_file, "\n").expect("write token");
    let (status, _) = stack
        .client
        .with_token(Some(&caller(4)))
        .get("/api/v1/zones")
        .await;
    assert_eq!(status, 503);
    std::fs::remove_file(&token_file).expect("remove token");
    let (status, _) = stack
        .client
        .with_token(Some(&caller(6)))
        .get("/api/v1/zones")
        .await;
    assert_eq!(status, 503);
    std::fs::write(&token_file, "rotated-reviewer-token\n").expect("write token");
    let (status, body) = stack
        .client
        .with_token(Some(&caller(5)))
        .get("/api/v1/zones")
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(logs_hold_no_reviewer_token("rotated-reviewer-token"));
    assert!(logs_hold_no_reviewer_token(&first));
}
