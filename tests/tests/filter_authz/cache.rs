//! The decision cache: one SubjectAccessReview per distinct attribute set per TTL on the
//! worker, the deny TTL shorter than the allow TTL, and concurrent identical checks sharing
//! one callout. TTLs are seconds long so a loaded machine cannot expire an entry mid-loop.

use std::sync::Arc;

use super::*;

#[test]
fn one_check_per_attribute_set_per_ttl_and_denials_expire_sooner() {
    let s = stack(
        json!({"mode": "subjectAccessReview", "allowCacheTtlSeconds": 8, "denyCacheTtlSeconds": 3}),
        503,
    );
    s.api.set_rbac(vec![
        RbacRule::for_users(&[TEAM_A], &["get"], &["zones"]).named(&["example.com"])
    ]);
    let a = token(&s.api, "team-a");
    // Given repeated requests with the same attributes, one check is sent for each set.
    for _ in 0..3 {
        assert_eq!(
            send(&s.envoy, "GET", "/api/v1/zones/example.com", &a).status,
            200
        );
        assert_eq!(
            send(&s.envoy, "GET", "/api/v1/zones/EXAMPLE.com.", &a).status,
            200
        );
        assert_eq!(
            send(&s.envoy, "GET", "/api/v1/zones/example.org", &a).status,
            403
        );
    }
    assert_eq!(
        s.api.sar_count(),
        2,
        "example.com (allowed) and example.org (denied)"
    );
    assert_eq!(
        s.envoy.counter("bindcar_auth_authz_cache_misses").unwrap(),
        2
    );
    assert_eq!(s.envoy.counter("bindcar_auth_authz_cache_hits").unwrap(), 7);
    // When the deny TTL has passed but not the allow TTL, only the denial is asked again.
    std::thread::sleep(Duration::from_millis(3200));
    assert_eq!(
        send(&s.envoy, "GET", "/api/v1/zones/example.com", &a).status,
        200
    );
    assert_eq!(
        send(&s.envoy, "GET", "/api/v1/zones/example.org", &a).status,
        403
    );
    assert_eq!(s.api.sar_count(), 3);
    // A changed RBAC table is seen once the entry expires.
    s.api.set_rbac(vec![]);
    assert_eq!(
        send(&s.envoy, "GET", "/api/v1/zones/example.com", &a).status,
        200,
        "still cached"
    );
    std::thread::sleep(Duration::from_millis(5000));
    assert_eq!(
        send(&s.envoy, "GET", "/api/v1/zones/example.com", &a).status,
        403,
        "re-asked after the allow TTL"
    );
    assert_eq!(s.api.sar_count(), 4);
    assert_eq!(s.up.count(), 8);
}

#[test]
fn decisions_never_outlive_the_tokens_cached_verdict() {
    // TokenReview verdicts cached 1 s, decisions 60 s: the decision goes with the verdict.
    let api = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(TokenReviewServer::start(ServerOptions::default()))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    api.write_ca(&ca).unwrap();
    let config = json!({"mode": "tokenReview", "tokenReview": {"audiences": ["bindcar"],
        "reviewerToken": api.reviewer_token(), "allowAnyServiceAccount": true, "cacheTtlSeconds": 1},
        "authorization": {"mode": "subjectAccessReview", "allowCacheTtlSeconds": 60}})
    .to_string();
    let up = Upstream::start().unwrap();
    let mut options = EnvoyOptions::filter(&config, up.port).with_api_server(api.https_port(), &ca);
    options.concurrency = 1;
    let envoy = Envoy::start(&options).unwrap();
    api.set_rbac(vec![RbacRule::for_users(&[TEAM_A], &["list"], &["zones"])]);
    let a = token(&api, "team-a");
    assert_eq!(send(&envoy, "GET", "/api/v1/zones", &a).status, 200);
    assert_eq!(send(&envoy, "GET", "/api/v1/zones", &a).status, 200);
    assert_eq!((api.review_count(), api.sar_count()), (1, 1));
    std::thread::sleep(Duration::from_millis(3200));
    assert_eq!(send(&envoy, "GET", "/api/v1/zones", &a).status, 200);
    assert_eq!(
        (api.review_count(), api.sar_count()),
        (2, 2),
        "both asked again"
    );
}

#[test]
fn concurrent_identical_checks_share_one_callout() {
    let s = sar_stack();
    s.api
        .set_rbac(vec![RbacRule::for_users(&[TEAM_A], &["list"], &["zones"])]);
    let a = Arc::new(token(&s.api, "team-a"));
    // The token's verdict first, so only the check is pending.
    assert_eq!(
        send(&s.envoy, "GET", "/api/v1/openapi.json", &a).status,
        403
    );
    let before = s.api.sar_count();
    s.api
        .set_sar_fault(Fault::Latency(Duration::from_millis(400)));
    let port = s.envoy.port;
    let threads: Vec<_> = (0..30)
        .map(|_| {
            let a = Arc::clone(&a);
            std::thread::spawn(move || {
                request(
                    port,
                    "GET",
                    b"/api/v1/zones",
                    &[("authorization", format!("Bearer {a}").as_bytes())],
                    b"",
                )
                .unwrap()
                .status
            })
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(statuses.iter().all(|&c| c == 200), "{statuses:?}");
    assert_eq!(
        s.api.sar_count() - before,
        1,
        "30 concurrent requests, one check"
    );
    assert_eq!(s.up.count(), 30);
}
