//! The reviewer failing: every fault fails closed with Envoy healthy, and pending reviews
//! are capped per worker.

use super::*;

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
