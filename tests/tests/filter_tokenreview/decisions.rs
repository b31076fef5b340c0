//! Who gets through: an allowed ServiceAccount reaches the upstream with its identity;
//! every refusal carries the seed's message and never reaches the upstream.

use super::*;

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
