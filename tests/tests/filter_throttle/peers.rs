//! Who a client is (issue 24, item 1). By default the throttle and the fair review shares key a
//! client by the connection's peer; a client that writes `x-forwarded-for` must neither get a
//! fresh key per request nor take another client's key, whether Envoy trusts that header
//! (`use_remote_address: false`, Envoy's default and an Istio inbound sidecar's) or not (the
//! shipped configs). Behind a real proxy, the header key with `trustedHops` names the client
//! the proxy saw. Clients are told apart by their loopback source address (127.0.0.2, …).

use std::net::IpAddr;

use bindcar_testbed::http::get_from;

use super::*;

const ZONES: &str = "/api/v1/zones";

fn from(ip: [u8; 4], port: u16, xff: Option<&str>, token: Option<&str>) -> Response {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &[u8])> = Vec::new();
    if let Some(x) = xff {
        headers.push((XFF, x.as_bytes()));
    }
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_bytes()));
    }
    get_from(IpAddr::from(ip), port, ZONES, &headers).unwrap()
}

const ATTACKER: [u8; 4] = [127, 0, 0, 2];
const VICTIM: [u8; 4] = [127, 0, 0, 3];

#[test]
fn forged_forwarding_headers_neither_unblock_a_client_nor_block_another() {
    for use_remote_address in [true, false] {
        let s = tr_stack_with(
            json!({"burst": 5, "blockSeconds": 30}),
            json!({}),
            401,
            2,
            use_remote_address,
        );
        let port = s.envoy.port;
        let good = good_token(&s.api);
        let case = format!("use_remote_address: {use_remote_address}");

        // The attacker's bad tokens, each naming the victim in x-forwarded-for …
        for i in 0..6 {
            let r = from(ATTACKER, port, Some("127.0.0.3"), Some(&guess(i)));
            assert!(matches!(r.status, 401 | 429), "{case}: {r:?}");
        }
        // … do not block the victim, who sends no header and a good token.
        let r = from(VICTIM, port, None, Some(&good));
        assert_eq!(r.status, 200, "{case}: the victim was blocked: {r:?}");

        // The attacker, blocked on its own address …
        for i in 0..5 {
            from(ATTACKER, port, None, Some(&guess(100 + i)));
        }
        assert_throttled(&from(ATTACKER, port, None, Some(&guess(200))), 30);
        // … gets no fresh start from 30 invented forwarding addresses.
        let reviews = s.api.review_count();
        let mut throttled = 0;
        for i in 0..30 {
            let xff = format!("198.51.100.{i}");
            let r = from(ATTACKER, port, Some(&xff), Some(&guess(300 + i)));
            throttled += usize::from(r.status == 429);
        }
        let reviewed = s.api.review_count() - reviews;
        println!("{case}: {throttled} of 30 throttled, {reviewed} reviewed");
        if use_remote_address {
            // The peer is the key: every one of them is the blocked attacker.
            assert_eq!((throttled, reviewed), (30, 0), "{case}");
        } else {
            // Envoy took each address from the header: all share one key, already blocked by
            // the six forged requests above.
            assert_eq!((throttled, reviewed), (30, 0), "{case}");
            // Envoy writes its log file in the background: give it a moment.
            let line = "took source.address from x-forwarded-for";
            let told = (0..50).any(|_| {
                let seen = s.envoy.log_text().contains(line);
                if !seen {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                seen
            });
            assert!(
                told,
                "{case}: the operator is told:\n{}",
                s.envoy.log_text()
            );
        }
        // The victim is still served.
        assert_eq!(from(VICTIM, port, None, Some(&good)).status, 200, "{case}");
    }
}

/// A real proxy hop (another Envoy, `use_remote_address: true`: it appends the peer it saw)
/// in front of ours, which appends that proxy in turn: the client is the second entry from the
/// right, `trustedHops: 2`. Clients behind the proxy are told apart, and what a client writes
/// on the left of the header changes nothing.
#[test]
fn a_real_proxy_hop_with_trusted_hops_names_the_client_behind_it() {
    let (_up, envoy) = basic_stack(json!({"burst": 3, "blockSeconds": 30,
        "clientKey": {"header": XFF, "trustedHops": 2}}));
    let mut hop = EnvoyOptions::filter("", envoy.port);
    hop.plugin_config = None;
    hop.concurrency = 1;
    let proxy = Envoy::start(&hop).unwrap();
    let port = proxy.port;

    for _ in 0..3 {
        assert_eq!(from(ATTACKER, port, None, None).status, 401);
    }
    assert_throttled(&from(ATTACKER, port, None, Some("ok")), 30);
    // Forged entries on the left are not the attacker's key …
    for xff in ["127.0.0.3", "198.51.100.1", "127.0.0.3, 198.51.100.2"] {
        assert_throttled(&from(ATTACKER, port, Some(xff), Some("ok")), 30);
    }
    // … and another client behind the same proxy is served.
    let r = from(VICTIM, port, None, Some("ok"));
    assert_eq!(r.status, 200, "{r:?}");
    let r = from(VICTIM, port, Some("127.0.0.2"), Some("ok"));
    assert_eq!(r.status, 200, "{r:?}");
}
