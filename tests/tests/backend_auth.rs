//! Standalone authentication of the bindcar backend (the shared policy, adapted to axum):
//! basic, shared secret, TokenReview against our TokenReview server, disabled, and the two
//! startup guards. Open routes stay open; everything else needs a credential.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use bindcar_testbed::backend::Backend;
use bindcar_testbed::named::{Named, NamedOptions};
use bindcar_testbed::tokenreview::{Fault, MintRequest, ServerOptions, TokenReviewServer};
use common::{primary_zone, snapshot, Client, Stack};
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

/// Environment enough to get past configuration (no named is contacted at startup).
fn minimal_env(zone_dir: &Path) -> Vec<(String, String)> {
    vec![
        ("BIND_ZONE_DIR".into(), zone_dir.display().to_string()),
        ("RNDC_SERVER".into(), "127.0.0.1:1".into()),
        (
            "RNDC_SECRET".into(),
            "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0".into(),
        ),
    ]
}

fn refused(env: Vec<(String, String)>, args: &[&str]) -> String {
    let output = Backend::run_to_exit(env, args, Duration::from_secs(10)).expect("bindcar exits");
    assert!(
        matches!(output.status.code(), Some(1) | Some(2)),
        "expected a refusal (exit 1, or 2 for a malformed value), got {:?}",
        output.status
    );
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[test]
fn startup_guards_refuse_dangerous_postures_and_say_what_to_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = |extra: &[(&str, &str)]| {
        let mut env = minimal_env(dir.path());
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    };
    // 192.0.2.1 is not an address of this host: past the guard, binding fails, so nothing
    // ever listens beyond loopback in this test.
    let outside = ("BIND_API_ADDRESS", "192.0.2.1");

    // Guard A: non-loopback without real authentication
    for mode in [vec![outside], vec![outside, ("DISABLE_AUTH", "true")]] {
        let stderr = refused(env(&mode), &[]);
        assert!(stderr.contains("refusing to start"), "{stderr}");
        for hint in [
            "BIND_API_TOKEN",
            "BIND_AUTH_MODE=tokenreview",
            "BINDCAR_ALLOW_INSECURE_AUTH=true",
            "--i-know-this-is-insecure",
        ] {
            assert!(stderr.contains(hint), "missing hint {hint}: {stderr}");
        }
    }
    // ... lifted by either override, or by real authentication
    for (extra, args) in [
        (
            vec![outside, ("BINDCAR_ALLOW_INSECURE_AUTH", "true")],
            vec![],
        ),
        (vec![outside], vec!["--i-know-this-is-insecure"]),
        (vec![outside, ("BIND_API_TOKEN", "x")], vec![]),
    ] {
        let stderr = refused(env(&extra), &args);
        assert!(!stderr.contains("refusing to start"), "{extra:?}: {stderr}");
        assert!(
            stderr.contains("cannot listen on 192.0.2.1"),
            "{extra:?}: {stderr}"
        );
    }

    // Guard B: TokenReview with no allowlist
    let stderr = refused(env(&[("BIND_AUTH_MODE", "tokenreview")]), &[]);
    assert!(stderr.contains("refusing to start"), "{stderr}");
    for hint in [
        "BIND_ALLOWED_NAMESPACES",
        "BIND_ALLOWED_SERVICE_ACCOUNTS",
        "BIND_ALLOW_ANY_SERVICEACCOUNT=true",
    ] {
        assert!(stderr.contains(hint), "missing hint {hint}: {stderr}");
    }
    // ... lifted by the explicit allow-any (on loopback it then starts)
    let backend = Backend::start(env(&[
        ("BIND_AUTH_MODE", "tokenreview"),
        ("BIND_ALLOW_ANY_SERVICEACCOUNT", "true"),
    ]));
    drop(backend);
    // Ambiguous or malformed configuration is refused too
    let stderr = refused(
        env(&[("BIND_AUTH_MODE", "tokenreview"), ("BIND_API_TOKEN", "x")]),
        &[],
    );
    assert!(
        stderr.contains("both BIND_API_TOKEN and BIND_AUTH_MODE=tokenreview"),
        "{stderr}"
    );
    let stderr = refused(env(&[("DISABLE_AUTH", "maybe")]), &[]);
    assert!(
        stderr.contains("DISABLE_AUTH") || stderr.contains("disable-auth"),
        "{stderr}"
    );
    let stderr = refused(env(&[("RNDC_ALGORITHM", "hmac-md5")]), &[]);
    assert!(stderr.contains("MD5"), "{stderr}");
    let mut no_secret = env(&[]);
    no_secret.retain(|(k, _)| k != "RNDC_SECRET");
    no_secret.push((
        "RNDC_CONF".into(),
        dir.path().join("missing.conf").display().to_string(),
    ));
    let stderr = refused(no_secret, &[]);
    assert!(stderr.contains("missing.conf"), "{stderr}");
}

#[test]
fn help_documents_every_variable() {
    let output =
        Backend::run_to_exit(vec![], &["--help"], Duration::from_secs(10)).expect("--help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for var in [
        "BIND_ZONE_DIR",
        "BIND_API_ADDRESS",
        "API_PORT",
        "RNDC_SERVER",
        "RNDC_ALGORITHM",
        "RNDC_SECRET",
        "RNDC_CONF",
        "RNDC_TIMEOUT_SECS",
        "BIND_AUTH_MODE",
        "DISABLE_AUTH",
        "BIND_API_TOKEN",
        "BINDCAR_ALLOW_INSECURE_AUTH",
        "BIND_TOKEN_AUDIENCES",
        "BIND_ALLOWED_NAMESPACES",
        "BIND_ALLOWED_SERVICE_ACCOUNTS",
        "BIND_ALLOW_ANY_SERVICEACCOUNT",
        "BIND_TOKEN_CACHE_TTL_SECS",
        "BIND_TOKEN_CACHE_NEGATIVE_TTL_SECS",
        "BIND_TOKEN_CACHE_MAX_ENTRIES",
        "BIND_TOKEN_REVIEW_TIMEOUT_SECS",
        "KUBE_API_SERVER",
        "KUBE_TOKEN_PATH",
        "KUBE_CA_CERT_PATH",
        "KUBECONFIG",
        "RUST_LOG",
        "--i-know-this-is-insecure",
    ] {
        assert!(help.contains(var), "--help does not mention {var}:\n{help}");
    }
}

#[test]
fn rndc_settings_can_come_from_an_rndc_conf_file() {
    // Given only RNDC_CONF (the harness's rndc.conf: key, server and port)
    let named = Named::start(NamedOptions::default());
    let backend = Backend::start(vec![
        (
            "BIND_ZONE_DIR".into(),
            named.zone_dir().display().to_string(),
        ),
        (
            "RNDC_CONF".into(),
            named.rndc_conf_path().display().to_string(),
        ),
        ("DISABLE_AUTH".into(), "true".into()),
    ]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let api = Client::new(backend.base_url(), None);
    runtime.block_on(async {
        assert_eq!(api.get("/api/v1/ready").await.0, 200);
        assert_eq!(api.create(&primary_zone("conf.test")).await.0, 201);
    });
    assert_eq!(named.dig("www.conf.test", "A"), ["192.0.2.10"]);
}
