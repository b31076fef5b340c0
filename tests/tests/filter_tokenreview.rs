//! TokenReview mode in the real Envoy, against our TokenReview server over TLS: allowlists
//! and messages, fail-closed faults, one review per token, TTLs, a bounded cache under a
//! flood, and reviewer-credential rotation without a restart.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bindcar_testbed::envoy::{Envoy, EnvoyOptions};
use bindcar_testbed::http::{get, Response};
use bindcar_testbed::tokenreview::{Fault, MintRequest, ServerOptions, TokenReviewServer};
use bindcar_testbed::upstream::Upstream;
use serde_json::json;

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

#[test]
fn an_allowed_service_account_reaches_the_upstream_with_its_identity() {
    let s = stack(json!({"allowedNamespaces": ["dns-system"]}), 401);
    let token = sa_token(&s.api, "dns-system", "external-dns");
    let r = call(&s.envoy, &token);
    assert_eq!(r.status, 200, "{r:?}");
    let seen = &s.up.seen()[0];
    assert_eq!(
        seen.header("x-remote-user"),
        Some(&b"system:serviceaccount:dns-system:external-dns"[..])
    );
    let groups = String::from_utf8_lossy(seen.header("x-remote-group").unwrap()).to_string();
    assert!(
        groups
            .split(',')
            .any(|g| g == "system:serviceaccounts:dns-system"),
        "{groups}"
    );
    assert!(
        groups.split(',').any(|g| g == "system:authenticated"),
        "{groups}"
    );
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Bearer {token}").as_bytes())
    );
    // A spoofed identity is replaced by the reviewed one, never appended to.
    let r = get(
        s.envoy.port,
        "/api/v1/zones",
        &[
            ("authorization", format!("Bearer {token}").as_bytes()),
            ("x-remote-user", b"system:admin"),
        ],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let seen = &s.up.seen()[1];
    assert_eq!(seen.header_count("x-remote-user"), 1);
    assert_eq!(
        seen.header("x-remote-user"),
        Some(&b"system:serviceaccount:dns-system:external-dns"[..])
    );
    assert_eq!(s.envoy.counter("bindcar_auth_reviews_sent").unwrap(), 1);
    assert_eq!(s.envoy.counter("bindcar_auth_cache_hits").unwrap(), 1);
    assert_eq!(s.envoy.counter("bindcar_auth_cache_misses").unwrap(), 1);
    assert_eq!(s.envoy.counter("bindcar_auth_allowed").unwrap(), 2);
    // Review latency is a histogram; Envoy flushes histograms to the admin output periodically.
    let deadline = Instant::now() + Duration::from_secs(12);
    while s
        .envoy
        .counter("bindcar_auth_review_latency_ms_count")
        .unwrap()
        == 0
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(
        s.envoy
            .counter("bindcar_auth_review_latency_ms_count")
            .unwrap(),
        1,
        "{}",
        s.envoy.prometheus().unwrap()
    );
}

#[test]
fn refusals_carry_the_seed_messages_and_never_reach_the_upstream() {
    let s = stack(json!({"allowedNamespaces": ["dns-system"]}), 401);
    let api = &s.api;
    let wrong_ns = sa_token(api, "default", "app");
    assert_denied(
        &call(&s.envoy, &wrong_ns),
        401,
        "Token validation failed: ServiceAccount from unauthorized namespace: default",
    );
    // A plain user with a namespace allowlist: the reference lets it in; we do not.
    let admin = api.mint_user(
        "kubernetes-admin",
        &["system:masters"],
        &["bindcar"],
        Duration::from_secs(600),
    );
    assert_denied(
        &call(&s.envoy, &admin),
        401,
        "Token validation failed: ServiceAccount not authorized: kubernetes-admin",
    );

    let mut expired = MintRequest::new("dns-system", "external-dns", &["bindcar"]);
    expired.expired = true;
    let r = call(&s.envoy, &api.mint(&expired));
    assert_eq!(r.status, 401);
    let m = r.json()["message"].as_str().unwrap().to_string();
    assert!(
        m.starts_with("Token validation failed: ") && m.contains("expired"),
        "{m}"
    );

    let wrong_aud = api.mint(&MintRequest::new(
        "dns-system",
        "external-dns",
        &["other-service"],
    ));
    let r = call(&s.envoy, &wrong_aud);
    let m = r.json()["message"].as_str().unwrap().to_string();
    assert_eq!(r.status, 401);
    assert!(
        m.starts_with("Token validation failed: ") && m.contains("audience"),
        "{m}"
    );

    let mut foreign = MintRequest::new("dns-system", "external-dns", &["bindcar"]);
    foreign.sign_with_other_key = true;
    for bad in [
        api.mint(&foreign),
        "garbage-token".to_string(),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".into(),
    ] {
        let r = call(&s.envoy, &bad);
        assert_eq!(r.status, 401, "{bad}: {r:?}");
        let m = r.json()["message"].as_str().unwrap().to_string();
        assert!(
            m.starts_with("Token validation failed: ") && m != "Token validation failed: ",
            "{m}"
        );
    }
    assert_eq!(s.up.count(), 0, "a refused request reached the upstream");
    drop(s);

    // A ServiceAccount allowlist (AND a namespace list).
    let s = stack(
        json!({"allowedNamespaces": ["dns-system"], "allowedServiceAccounts": ["system:serviceaccount:dns-system:external-dns"]}),
        401,
    );
    assert_eq!(
        call(&s.envoy, &sa_token(&s.api, "dns-system", "external-dns")).status,
        200
    );
    assert_denied(
        &call(&s.envoy, &sa_token(&s.api, "dns-system", "other")),
        401,
        "Token validation failed: ServiceAccount not authorized: system:serviceaccount:dns-system:other",
    );
    assert_eq!(s.up.count(), 1);
}

#[test]
fn every_reviewer_fault_fails_closed_and_envoy_stays_healthy() {
    let s = stack(
        json!({"allowedNamespaces": ["dns-system"], "timeoutMs": 1000}),
        503,
    );
    for fault in [
        Fault::Status500,
        Fault::Reset,
        Fault::Hang,
        Fault::MalformedBody,
    ] {
        s.api.set_fault(fault);
        let token = sa_token(&s.api, "dns-system", "external-dns");
        let started = Instant::now();
        let r = call(&s.envoy, &token);
        assert_denied(&r, 503, UNAVAILABLE);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{fault:?} took {:?}",
            started.elapsed()
        );
        // Errors are never cached: once the reviewer is back the same token passes.
        s.api.set_fault(Fault::None);
        assert_eq!(call(&s.envoy, &token).status, 200, "after {fault:?}");
    }
    assert_eq!(s.up.count(), 4);
    // Envoy reports a reset or a timeout of a callout as a synthesized 5xx answer.
    let failures: u64 = ["transport", "http_5xx", "malformed_body"]
        .iter()
        .map(|k| {
            s.envoy
                .counter(&format!("bindcar_auth_review_failures_{k}"))
                .unwrap()
        })
        .sum();
    assert_eq!(failures, 4);
    assert!(
        s.envoy
            .counter("bindcar_auth_review_failures_malformed_body")
            .unwrap()
            >= 1
    );
    drop(s);

    // The reviewer's own credential refused by the API server (401) → error status too.
    let s = stack(
        json!({"allowedNamespaces": ["dns-system"], "reviewerToken": "wrong-reviewer"}),
        503,
    );
    assert_denied(
        &call(&s.envoy, &sa_token(&s.api, "dns-system", "external-dns")),
        503,
        UNAVAILABLE,
    );
    assert_eq!(s.api.unauthorized_count(), 1);
    drop(s);

    // A cluster Envoy does not know: the dispatch itself is refused → error status (default 401).
    let s = stack(
        json!({"allowedNamespaces": ["dns-system"], "cluster": "no-such-cluster"}),
        401,
    );
    assert_denied(
        &call(&s.envoy, &sa_token(&s.api, "dns-system", "external-dns")),
        401,
        UNAVAILABLE,
    );
    assert!(
        s.envoy
            .counter("bindcar_auth_review_failures_dispatch")
            .unwrap()
            >= 1
    );
    assert_eq!(s.up.count(), 0);
}

#[test]
fn pending_reviews_are_capped_per_worker() {
    let mut s = stack(
        json!({"allowedNamespaces": ["dns-system"], "maxPendingReviews": 1, "timeoutMs": 3000}),
        503,
    );
    drop(s.envoy);
    // One worker, so the cap is easy to reach.
    let ca = s._dir.path().join("ca.pem");
    let cfg = json!({"mode": "tokenReview", "statusOnError": 503, "tokenReview": {"audiences": ["bindcar"],
        "allowedNamespaces": ["dns-system"], "reviewerToken": s.api.reviewer_token(), "maxPendingReviews": 1, "timeoutMs": 3000}});
    let mut o =
        EnvoyOptions::filter(&cfg.to_string(), s.up.port).with_api_server(s.api.https_port(), &ca);
    o.concurrency = 1;
    s.envoy = Envoy::start(&o).unwrap();
    s.api.set_fault(Fault::Hang);
    let port = s.envoy.port;
    let first = sa_token(&s.api, "dns-system", "a");
    let waiting = std::thread::spawn(move || {
        get(
            port,
            "/api/v1/zones",
            &[("authorization", format!("Bearer {first}").as_bytes())],
        )
        .unwrap()
    });
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let r = call(&s.envoy, &sa_token(&s.api, "dns-system", "b"));
    assert_denied(&r, 503, UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "the overflow request was queued"
    );
    assert_denied(&waiting.join().unwrap(), 503, UNAVAILABLE);
    assert_eq!(
        s.envoy
            .counter("bindcar_auth_review_failures_overloaded")
            .unwrap(),
        1
    );
}

#[test]
fn concurrent_requests_with_one_fresh_token_share_one_review_per_worker() {
    let s = stack(json!({"allowedNamespaces": ["dns-system"]}), 503);
    s.api.set_latency(Duration::from_millis(300));
    let token = Arc::new(sa_token(&s.api, "dns-system", "external-dns"));
    let port = s.envoy.port;
    let threads: Vec<_> = (0..100)
        .map(|_| {
            let token = Arc::clone(&token);
            std::thread::spawn(move || {
                get(
                    port,
                    "/api/v1/zones",
                    &[("authorization", format!("Bearer {token}").as_bytes())],
                )
                .unwrap()
                .status
            })
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(statuses.iter().all(|&s| s == 200), "{statuses:?}");
    let reviews = s.api.reviews_for_token(&token);
    println!("100 concurrent requests, 2 workers: {reviews} review(s)");
    assert!(
        (1..=2).contains(&reviews),
        "{reviews} reviews for one token"
    );
    assert_eq!(s.up.count(), 100);
}

#[test]
fn verdicts_are_cached_for_the_ttl_and_never_past_the_tokens_exp() {
    let s = stack(
        json!({"allowedNamespaces": ["dns-system"], "cacheTtlSeconds": 2, "negativeCacheTtlSeconds": 2}),
        401,
    );
    let token = sa_token(&s.api, "dns-system", "external-dns");
    for _ in 0..20 {
        assert_eq!(call(&s.envoy, &token).status, 200);
    }
    assert_eq!(
        s.api.reviews_for_token(&token),
        1,
        "repeated requests within the TTL"
    );
    std::thread::sleep(Duration::from_millis(2300));
    assert_eq!(call(&s.envoy, &token).status, 200);
    assert_eq!(s.api.reviews_for_token(&token), 2, "after the TTL");

    // Negative verdicts are cached for their own (short) TTL.
    for _ in 0..5 {
        assert_eq!(call(&s.envoy, "not-a-real-token").status, 401);
    }
    assert_eq!(s.api.reviews_for_token("not-a-real-token"), 1);
    drop(s);

    // A token living 3 s under a 60 s TTL: re-reviewed once it expires, then refused.
    let s = stack(
        json!({"allowedNamespaces": ["dns-system"], "cacheTtlSeconds": 60}),
        401,
    );
    s.api.set_leeway(Duration::ZERO);
    let mut short = MintRequest::new("dns-system", "external-dns", &["bindcar"]);
    short.ttl = Duration::from_secs(3);
    let token = s.api.mint(&short);
    assert_eq!(call(&s.envoy, &token).status, 200);
    assert_eq!(call(&s.envoy, &token).status, 200);
    assert_eq!(s.api.reviews_for_token(&token), 1);
    // exp has whole-second precision and the reviewer refuses only once `now > exp`.
    std::thread::sleep(Duration::from_millis(4200));
    let r = call(&s.envoy, &token);
    assert_eq!(
        r.status,
        401,
        "{r:?} reviews={}",
        s.api.reviews_for_token(&token)
    );
    let m = r.json()["message"].as_str().unwrap().to_string();
    assert!(m.contains("expired"), "{m}");
    assert_eq!(s.api.reviews_for_token(&token), 2, "after the token's exp");
}

#[test]
fn a_flood_of_random_tokens_keeps_memory_bounded_and_good_tokens_served() {
    let s = stack(
        json!({"allowedNamespaces": ["dns-system"], "cacheMaxEntries": 256}),
        401,
    );
    let good = sa_token(&s.api, "dns-system", "external-dns");
    assert_eq!(call(&s.envoy, &good).status, 200);
    let port = s.envoy.port;
    let flood = |round: usize| {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    for i in 0..750 {
                        let token = format!("random-{round}-{t}-{i}-{}", "x".repeat(40));
                        let r = get(
                            port,
                            "/api/v1/zones",
                            &[("authorization", format!("Bearer {token}").as_bytes())],
                        )
                        .unwrap();
                        assert_eq!(r.status, 401);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
    };
    flood(0);
    let after_first = s.envoy.rss_kib().unwrap();
    flood(1);
    flood(2);
    let after_third = s.envoy.rss_kib().unwrap();
    println!(
        "Envoy RSS after 3000 random tokens: {after_first} KiB, after 9000: {after_third} KiB"
    );
    // 6000 more distinct tokens may not grow the process by more than a few MiB.
    assert!(
        after_third < after_first + 8 * 1024,
        "{after_first} -> {after_third} KiB"
    );
    assert_eq!(
        call(&s.envoy, &good).status,
        200,
        "the good token is still served"
    );
    assert_eq!(s.up.count(), 2);
}

#[test]
fn the_reviewer_credential_rotates_without_restarting_envoy() {
    let api = api_server();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    api.write_ca(&ca).unwrap();
    let token_dir: PathBuf = dir.path().join("serviceaccount");
    std::fs::create_dir(&token_dir).unwrap();
    std::fs::write(token_dir.join("token"), "reviewer-one").unwrap();
    api.set_reviewer_token("reviewer-one");
    let config = json!({"mode": "tokenReview", "tokenReview": {"audiences": ["bindcar"], "allowedNamespaces": ["dns-system"], "cacheTtlSeconds": 0}});
    let up = Upstream::start().unwrap();
    let o = EnvoyOptions::filter(&config.to_string(), up.port)
        .with_injected_reviewer_credential(api.https_port(), &ca, &token_dir)
        .unwrap();
    let envoy = Envoy::start(&o).unwrap();
    let pid = envoy.pid();
    let token = sa_token(&api, "dns-system", "external-dns");
    assert_eq!(call(&envoy, &token).status, 200, "{}", envoy.log_text());
    assert_eq!(api.caller_tokens_seen(), vec!["reviewer-one".to_string()]);

    // Rotate as the kubelet does: write the new token aside, then move it over the old one.
    api.set_reviewer_token("reviewer-two");
    std::fs::write(token_dir.join("token.new"), "reviewer-two").unwrap();
    std::fs::rename(token_dir.join("token.new"), token_dir.join("token")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = 0;
    while Instant::now() < deadline {
        status = call(&envoy, &token).status;
        if status == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(status, 200, "the new credential was never used");
    assert!(api
        .caller_tokens_seen()
        .contains(&"reviewer-two".to_string()));
    assert_eq!(envoy.pid(), pid);
    assert!(
        envoy
            .log_text()
            .matches("starting main dispatch loop")
            .count()
            <= 1,
        "Envoy restarted"
    );
}

#[test]
fn the_shipped_tokenreview_config_picks_up_a_rotated_reviewer_token() {
    // envoy/envoy-tokenreview.yaml exactly as shipped but for its four port numbers, from a
    // directory laid out like the repository, with the files `make run` would create.
    let api = api_server();
    let up = Upstream::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    bindcar_testbed::envoy::lay_out_repository(dir.path()).unwrap();
    let tr = dir.path().join(".run/tokenreview");
    std::fs::create_dir_all(&tr).unwrap();
    api.write_ca(&tr.join("ca.pem")).unwrap();
    api.set_reviewer_token("reviewer-one");
    std::fs::write(tr.join("token"), "reviewer-one").unwrap();
    let (port, admin) = (
        bindcar_testbed::ports::free_port(),
        bindcar_testbed::ports::free_port(),
    );
    let config_path = dir.path().join("envoy/envoy-tokenreview.yaml");
    let mut config = std::fs::read_to_string(&config_path).unwrap();
    for (shipped, ours) in [
        (10000, port),
        (9901, admin),
        (18080, up.port),
        (16443, api.https_port()),
    ] {
        let from = format!("port_value: {shipped}}}");
        assert_eq!(
            config.matches(&from).count(),
            1,
            "{from} in the shipped config"
        );
        config = config.replace(&from, &format!("port_value: {ours}}}"));
    }
    std::fs::write(&config_path, config).unwrap();
    let envoy = Envoy::start_file(&config_path, dir.path(), port, admin).unwrap();
    let pid = envoy.pid();
    // A fresh token each time, so each request is reviewed (the shipped TTL is 60 s).
    let fresh = |i: usize| sa_token(&api, "dns-system", &format!("client-{i}"));
    let r = call(&envoy, &fresh(0));
    assert_eq!(r.status, 200, "{r:?}\n{}", envoy.log_text());
    assert_eq!(
        up.seen()[0].header("x-remote-user"),
        Some(&b"system:serviceaccount:dns-system:client-0"[..])
    );
    assert_eq!(api.caller_tokens_seen(), vec!["reviewer-one".to_string()]);
    assert_denied(
        &call(&envoy, &sa_token(&api, "default", "app")),
        401,
        "Token validation failed: ServiceAccount from unauthorized namespace: default",
    );

    // The kubelet's way: the new token is written aside, then moved over the old one.
    api.set_reviewer_token("reviewer-two");
    std::fs::write(tr.join("token.new"), "reviewer-two").unwrap();
    std::fs::rename(tr.join("token.new"), tr.join("token")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut i = 1;
    let mut status = 0;
    while Instant::now() < deadline && status != 200 {
        status = call(&envoy, &fresh(i)).status;
        assert!(status == 200 || status == 503, "{status}");
        i += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status, 200, "the rotated credential was never used");
    assert_eq!(
        api.caller_tokens_seen(),
        vec!["reviewer-one".to_string(), "reviewer-two".to_string()]
    );
    assert_eq!(envoy.pid(), pid, "Envoy was restarted");
}
