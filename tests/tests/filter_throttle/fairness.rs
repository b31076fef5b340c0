//! Fair shares of a worker's pending reviews under a slow reviewer (1.5 s per answer).

use std::io::Write;
use std::net::TcpStream;

use super::*;

const ZONES: &str = "/api/v1/zones";
const GREEDY: &str = "198.51.100.66";
const LATENCY: Duration = Duration::from_millis(1500);

/// One worker (so the per-worker share is exact), a throttle that never blocks here (only
/// its client key is used), `per_client` reviews per client out of 8.
fn slow_stack(per_client: u32) -> Stack {
    let s = tr_stack(
        by_xff(json!({"failuresPerMinute": 60000, "burst": 10000})),
        json!({"maxPendingReviews": 8, "maxPendingPerClient": per_client}),
        503,
        1,
    );
    s.api.set_latency(LATENCY);
    s
}

fn spawn_call(port: u16, xff: &'static str, token: String) -> std::thread::JoinHandle<Response> {
    std::thread::spawn(move || {
        let bearer = format!("Bearer {token}");
        get(
            port,
            ZONES,
            &[(XFF, xff.as_bytes()), ("authorization", bearer.as_bytes())],
        )
        .unwrap()
    })
}

#[test]
fn a_greedy_client_gets_status_on_error_beyond_its_share_while_others_are_reviewed() {
    // Given a share of 2 pending reviews per client
    let s = slow_stack(2);
    let port = s.envoy.port;
    // When a greedy client sends 6 random tokens at once
    let greedy: Vec<_> = (0..6).map(|i| spawn_call(port, GREEDY, guess(i))).collect();
    wait(Duration::from_millis(400));
    // and meanwhile a legitimate client presents a fresh, good token
    let legit = call_as(
        &s.envoy,
        ZONES,
        Some("203.0.113.5"),
        Some(&good_token(&s.api)),
    );
    // Then the legitimate client is reviewed and allowed
    assert_eq!(legit.status, 200, "{legit:?}");
    // and the greedy client had 2 reviews (refused) and statusOnError for the other 4
    let statuses: Vec<Response> = greedy.into_iter().map(|t| t.join().unwrap()).collect();
    let refused = statuses.iter().filter(|r| r.status == 401).count();
    let overflow: Vec<&Response> = statuses.iter().filter(|r| r.status == 503).collect();
    assert_eq!((refused, overflow.len()), (2, 4), "{statuses:?}");
    overflow.iter().for_each(|r| assert_unavailable(r, 503));
    let share = s
        .envoy
        .counter("bindcar_auth_review_failures_client_share")
        .unwrap();
    assert_eq!(share, 4);
    assert_eq!(
        s.api.review_count(),
        3,
        "2 greedy reviews and the legitimate one"
    );
}

#[test]
fn abandoned_reviews_free_the_clients_share() {
    // Given a share of 1 pending review per client
    let s = slow_stack(1);
    let port = s.envoy.port;

    // While the client waits on a review, a second one is over its share
    let waiting = spawn_call(port, GREEDY, guess(0));
    wait(Duration::from_millis(400));
    assert_unavailable(
        &call_as(&s.envoy, ZONES, Some(GREEDY), Some(&guess(1))),
        503,
    );
    assert_eq!(waiting.join().unwrap().status, 401);

    // When the client starts a review and goes away before the answer
    let mut gone = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let request = format!(
        "GET {ZONES} HTTP/1.1\r\nhost: x\r\n{XFF}: {GREEDY}\r\nauthorization: Bearer {}\r\n\r\n",
        guess(2)
    );
    gone.write_all(request.as_bytes()).unwrap();
    wait(Duration::from_millis(300));
    drop(gone);
    wait(Duration::from_millis(300));
    // Then its next token is reviewed (refused by the reviewer, not over its share)
    let r = call_as(&s.envoy, ZONES, Some(GREEDY), Some(&guess(3)));
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(
        s.envoy
            .counter("bindcar_auth_review_failures_client_share")
            .unwrap(),
        1,
        "only the first overflow"
    );
    // and the abandoned review still completed (it was sent, and answered)
    assert_eq!(s.api.review_count(), 3);
    assert_eq!(s.up.count(), 0);
}
