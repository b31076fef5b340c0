//! The verdict cache: one review per token per worker, the TTL and the token's `exp`, and
//! bounded memory under a flood of random tokens.

use super::*;

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
