//! Who gets blocked, who does not, and when it lifts.

use super::*;

const ZONES: &str = "/api/v1/zones";

#[test]
fn a_token_guesser_is_blocked_before_the_reviewer_while_others_are_served() {
    // Given a throttle of 5 failures, a 3 s block, clients named by the last XFF entry
    let s = tr_stack(
        by_xff(json!({"failuresPerMinute": 30, "burst": 5, "blockSeconds": 3})),
        json!({}),
        401,
        2,
    );
    let guesser = Some("198.51.100.7");
    let good = good_token(&s.api);

    // When the guesser tries 5 random tokens, each is reviewed and refused
    for i in 0..5 {
        let r = call_as(&s.envoy, ZONES, guesser, Some(&guess(i)));
        assert_eq!(r.status, 401, "guess {i}: {r:?}");
    }
    let reviews = s.api.review_count();
    assert_eq!(reviews, 5);

    // Then its next attempts get 429, on both workers, and the reviewer hears of none
    for i in 5..25 {
        assert_throttled(&call_as(&s.envoy, ZONES, guesser, Some(&guess(i))), 3);
    }
    // The same client behind one more (untrusted) proxy entry on the left.
    let r = call_as(&s.envoy, ZONES, Some("10.9.9.9, 198.51.100.7"), Some("x"));
    assert_throttled(&r, 3);
    // Blocked before the bearer is parsed: a good token, or none, is refused all the same.
    assert_throttled(&call_as(&s.envoy, ZONES, guesser, Some(&good)), 3);
    assert_throttled(&call_as(&s.envoy, ZONES, guesser, None), 3);
    assert_eq!(s.api.review_count(), reviews, "no review while blocked");
    assert_eq!(s.envoy.counter("bindcar_auth_throttled").unwrap(), 23);

    // And another client, with a good token, is unaffected (also when it is the last entry)
    let other = call_as(&s.envoy, ZONES, Some("203.0.113.9"), Some(&good));
    assert_eq!(other.status, 200, "{other:?}");
    let other = call_as(
        &s.envoy,
        ZONES,
        Some("198.51.100.7, 203.0.113.9"),
        Some(&good),
    );
    assert_eq!(other.status, 200, "{other:?}");
    // Exempt paths are never throttled.
    assert_eq!(
        call_as(&s.envoy, "/api/v1/health", guesser, None).status,
        200
    );
    assert!(s.envoy.counter("bindcar_auth_throttle_clients").unwrap() >= 1);

    // When blockSeconds have passed (with margin), the guesser may authenticate again
    wait(Duration::from_millis(3600));
    let r = call_as(&s.envoy, ZONES, guesser, Some(&good));
    assert_eq!(r.status, 200, "block lifted: {r:?}");
    assert_eq!(s.up.count(), 4);
}

#[test]
fn successes_never_consume_budget_and_every_kind_of_401_does() {
    // Given basic mode, clients named by their source address (all of ours: 127.0.0.1)
    let (up, envoy) = basic_stack(json!({"burst": 3, "blockSeconds": 60}));

    // When a client succeeds many times, it is never throttled
    for _ in 0..50 {
        assert_eq!(call_as(&envoy, ZONES, None, Some("ok")).status, 200);
    }
    // Then a missing, a malformed and an empty credential each count against it
    assert_eq!(call_as(&envoy, ZONES, None, None).status, 401);
    let malformed = get(envoy.port, ZONES, &[("authorization", b"Basic x")]).unwrap();
    assert_eq!(malformed.status, 401);
    let empty = get(envoy.port, ZONES, &[("authorization", b"Bearer")]).unwrap();
    assert_eq!(empty.status, 401);
    // and the third emptied its bucket: blocked, whatever it sends to a protected path
    assert_throttled(&call_as(&envoy, ZONES, None, Some("ok")), 60);
    assert_throttled(&call_as(&envoy, "/api/v1/zones/x", None, None), 60);
    // but exempt paths still pass
    for p in ["/api/v1/health", "/api/v1/ready", "/metrics"] {
        assert_eq!(call_as(&envoy, p, None, None).status, 200, "{p}");
    }
    assert_eq!(envoy.counter("bindcar_auth_throttled").unwrap(), 2);
    assert_eq!(envoy.counter("bindcar_auth_throttle_clients").unwrap(), 1);
    assert_eq!(up.count(), 53);
}

#[test]
fn reviewer_outages_do_not_count_against_clients() {
    // Given a reviewer that is down (unknown cluster: every dispatch refused)
    let s = tr_stack(
        by_xff(json!({"burst": 2})),
        json!({"cluster": "no-such-cluster"}),
        401,
        1,
    );
    let good = good_token(&s.api);
    // When a client is answered statusOnError many times (even as 401)
    for _ in 0..10 {
        assert_unavailable(
            &call_as(&s.envoy, ZONES, Some("192.0.2.1"), Some(&good)),
            401,
        );
    }
    // Then it is not throttled: the outage is not its failure
    assert_eq!(s.envoy.counter("bindcar_auth_throttled").unwrap(), 0);
}
