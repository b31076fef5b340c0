//! named's answer to a change lost after it was sent (the proxy drops it and closes the
//! connection), held back past the backend's time limit, or the request itself lost: each is
//! an unknown outcome for the client (a retryable 503 or 504 that says so), never "nothing was
//! changed", and the zone settles to what BIND did.

use std::net::SocketAddr;
use std::time::Duration;

use bindcar_testbed::backend::Backend;
use bindcar_testbed::fault_proxy::{command, dns_update, Action, FaultProxy, Framing};
use bindcar_testbed::named::{Named, NamedOptions};
use serde_json::json;

use crate::common::{dynamic_zone, primary_zone, Client};
use crate::consistency::{
    restart_loads_everything, settle, settle_with_catalog, sides_of, whole_zones,
};
use crate::support::fault_env;

/// Past the backend's 1 s time limit (`RNDC_TIMEOUT_SECS`, `NSUPDATE_TIMEOUT_SECS`).
const HELD: Duration = Duration::from_millis(2500);
const SETTLE: Duration = Duration::from_secs(20);

struct Faulty {
    named: Named,
    control: FaultProxy,
    dns: FaultProxy,
    _backend: Backend,
    api: Client,
}

/// A named, a proxy on its control channel and one on its DNS port, and a backend that talks
/// to named only through them (1 s time limits, reconciled every second), keeping the catalog
/// zone `catalog` if one is given (its members' UPDATEs go through `dns`).
fn start(catalog: Option<&str>) -> Faulty {
    let named = Named::start(NamedOptions::default());
    let upstream = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let control = FaultProxy::start(upstream(named.rndc_port()), Framing::Control);
    let dns = FaultProxy::start(upstream(named.dns_port()), Framing::Dns);
    let (rndc_server, dns_port) = (control.address(), dns.port().to_string());
    let mut extra = vec![
        ("RNDC_SERVER", rndc_server.as_str()),
        ("NSUPDATE_SERVER", "127.0.0.1"),
        ("NSUPDATE_PORT", dns_port.as_str()),
        ("NSUPDATE_TIMEOUT_SECS", "1"),
    ];
    extra.extend(catalog.map(|c| ("BIND_CATALOG_ZONE", c)));
    let backend = Backend::start(fault_env(&named, &extra));
    let api = Client::new(backend.base_url(), None);
    Faulty {
        named,
        control,
        dns,
        _backend: backend,
        api,
    }
}

/// The answer says the outcome is unknown, with the status of its kind.
fn assert_unknown(action: Action, reply: &(u16, serde_json::Value)) {
    let expected = match action {
        Action::DelayAnswer(_) => 504,
        _ => 503,
    };
    assert_eq!(reply.0, expected, "{action:?}: {}", reply.1);
    let text = reply.1.to_string();
    assert!(text.contains("unknown"), "{action:?}: {text}");
    assert!(!text.contains("Nothing was changed"), "{action:?}: {text}");
}

const ACTIONS: [Action; 3] = [
    Action::DropAnswer,
    Action::DelayAnswer(HELD),
    Action::DropRequest,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_addzone_answer_settles_the_zone_to_what_bind_did() {
    let mut f = start(None);
    let mut zones = Vec::new();
    for (i, action) in ACTIONS.into_iter().enumerate() {
        let zone = format!("add{i}.lost.test");
        f.control.arm(command("addzone"), action);
        let reply = f.api.create(&primary_zone(&zone)).await;
        assert_unknown(action, &reply);
        zones.push(zone);
    }
    assert_eq!(f.control.applied(), 3);
    let (seen, violations) = settle(&f.named, &f.api, &zones, SETTLE).await;
    assert!(violations.is_empty(), "{violations:?}");
    // named carried out the two whose answer was lost or late, never saw the third
    assert_eq!(whole_zones(&seen), ["add0.lost.test", "add1.lost.test"]);
    assert_eq!(f.named.dig("www.add0.lost.test", "A"), ["192.0.2.10"]);
    // a retry of the create that took effect is 409 (bindy: success); the other is created
    assert_eq!(f.api.create(&primary_zone("add0.lost.test")).await.0, 409);
    assert_eq!(f.api.create(&primary_zone("add2.lost.test")).await.0, 201);
    restart_loads_everything(&mut f.named, &zones).await;
    eprintln!("lost addzone answers: 3 faults, 0 violations");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_delzone_answer_settles_the_zone_to_what_bind_did() {
    let mut f = start(None);
    let zones: Vec<String> = (0..3).map(|i| format!("del{i}.lost.test")).collect();
    for zone in &zones {
        assert_eq!(f.api.create(&primary_zone(zone)).await.0, 201);
    }
    for (zone, action) in zones.iter().zip(ACTIONS) {
        f.control.arm(command("delzone"), action);
        let reply = f.api.delete(&format!("/api/v1/zones/{zone}")).await;
        assert_unknown(action, &reply);
    }
    let (seen, violations) = settle(&f.named, &f.api, &zones, SETTLE).await;
    assert!(violations.is_empty(), "{violations:?}");
    assert_eq!(whole_zones(&seen), ["del2.lost.test"], "{seen:?}");
    // retried: the deletes that took effect find nothing (bindy: success), the other deletes
    assert_eq!(f.api.delete("/api/v1/zones/del0.lost.test").await.0, 404);
    assert_eq!(f.api.delete("/api/v1/zones/del2.lost.test").await.0, 200);
    restart_loads_everything(&mut f.named, &[]).await;
    eprintln!("lost delzone answers: 3 faults, 0 violations");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_modzone_answer_leaves_the_zone_whole_with_either_configuration() {
    let mut f = start(None);
    let zones: Vec<String> = (0..3).map(|i| format!("mod{i}.lost.test")).collect();
    for zone in &zones {
        assert_eq!(f.api.create(&primary_zone(zone)).await.0, 201);
    }
    let patch = json!({"allowTransfer": ["10.1.2.3"]});
    for (zone, action) in zones.iter().zip(ACTIONS) {
        f.control.arm(command("modzone"), action);
        let reply = f.api.patch(&format!("/api/v1/zones/{zone}"), &patch).await;
        assert_unknown(action, &reply);
    }
    let (_, violations) = settle(&f.named, &f.api, &zones, SETTLE).await;
    assert!(violations.is_empty(), "{violations:?}");
    let has_new = |zone: &str| {
        String::from_utf8_lossy(&f.named.rndc(&["showzone", zone]).stdout).contains("10.1.2.3")
    };
    assert!(has_new("mod0.lost.test") && has_new("mod1.lost.test"));
    assert!(!has_new("mod2.lost.test"));
    // the same PATCH again is harmless
    let reply = f.api.patch("/api/v1/zones/mod2.lost.test", &patch).await;
    assert_eq!(reply.0, 200, "{}", reply.1);
    assert!(has_new("mod2.lost.test"));
    restart_loads_everything(&mut f.named, &zones).await;
    eprintln!("lost modzone answers: 3 faults, 0 violations");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_update_answer_is_an_unknown_outcome_never_a_claim() {
    let f = start(None);
    let zone = "rec.lost.test";
    let reply = f.api.create(&dynamic_zone(zone, f.named.key_name())).await;
    assert_eq!(reply.0, 201, "{}", reply.1);
    let records = format!("/api/v1/zones/{zone}/records");
    for (i, action) in ACTIONS.into_iter().enumerate() {
        f.dns.arm(dns_update(), action);
        let record = json!({"name": format!("h{i}"), "type": "A", "value": "192.0.2.77"});
        let reply = f.api.post(&records, &record).await;
        assert_unknown(action, &reply);
    }
    assert_eq!(f.dns.applied(), 3);
    // named applied the two it received; the third never reached it
    assert_eq!(f.named.dig(&format!("h0.{zone}"), "A"), ["192.0.2.77"]);
    assert_eq!(f.named.dig(&format!("h1.{zone}"), "A"), ["192.0.2.77"]);
    assert!(f.named.dig(&format!("h2.{zone}"), "A").is_empty());
    // the retry of each is answered truthfully
    let record = json!({"name": "h2", "type": "A", "value": "192.0.2.77"});
    assert_eq!(f.api.post(&records, &record).await.0, 201);
    assert_eq!(f.named.dig(&format!("h2.{zone}"), "A"), ["192.0.2.77"]);
    eprintln!("lost UPDATE answers: 3 faults, 0 violations");
}

const CATALOG: &str = "catalog.lost.invalid";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_catalog_update_answer_settles_every_zone_whole_and_a_member_or_absent() {
    let mut f = start(Some(CATALOG));
    // the catalog exists before any create (the backend made it at startup)
    let ready = crate::common::eventually(Duration::from_secs(10), || {
        f.named.dig(CATALOG, "SOA").len() == 1
    })
    .await;
    assert!(ready);
    // A create whose member UPDATE's answer is lost (or late, or whose UPDATE never arrives)
    let mut zones = Vec::new();
    for (i, action) in ACTIONS.into_iter().enumerate() {
        let zone = format!("join{i}.lost.test");
        f.dns.arm(dns_update(), action);
        let reply = f.api.create(&primary_zone(&zone)).await;
        assert_unknown(action, &reply);
        zones.push(zone);
        // settled before the next fault is armed: the repair's own UPDATEs go through the proxy
        let (_, violations) =
            settle_with_catalog(&f.named, &f.api, &zones, SETTLE, Some(CATALOG)).await;
        assert!(violations.is_empty(), "{action:?}: {violations:?}");
    }
    // BIND had each zone: each is whole and a member, whatever became of its UPDATE
    let (seen, _) = settle_with_catalog(&f.named, &f.api, &zones, SETTLE, Some(CATALOG)).await;
    assert!(
        seen.iter()
            .filter(|(z, _)| zones.contains(z))
            .all(|(_, s)| s.whole() && s.member == Some(true)),
        "{seen:?}"
    );
    assert_eq!(f.api.create(&primary_zone(&zones[0])).await.0, 409);
    // A delete whose member-removal UPDATE's answer is lost: the zone stays, a member again
    for action in ACTIONS {
        f.dns.arm(dns_update(), action);
        let reply = f.api.delete(&format!("/api/v1/zones/{}", zones[0])).await;
        assert_unknown(action, &reply);
        let (seen, violations) =
            settle_with_catalog(&f.named, &f.api, &zones, SETTLE, Some(CATALOG)).await;
        assert!(violations.is_empty(), "{action:?}: {violations:?}");
        let sides = sides_of(&seen, &zones[0]);
        assert!(
            sides.is_some_and(|s| s.whole() && s.member == Some(true)),
            "{action:?}: {sides:?}"
        );
    }
    // retried, it is deleted: absent, not a member
    assert_eq!(
        f.api.delete(&format!("/api/v1/zones/{}", zones[0])).await.0,
        200
    );
    let (seen, violations) =
        settle_with_catalog(&f.named, &f.api, &zones, SETTLE, Some(CATALOG)).await;
    assert!(violations.is_empty(), "{violations:?}");
    let sides = sides_of(&seen, &zones[0]);
    assert!(sides.is_none_or(|s| s.absent()), "{sides:?}");
    restart_loads_everything(&mut f.named, &zones[1..]).await;
    eprintln!("lost catalog UPDATE answers: 6 faults (3 creates, 3 deletes), 0 violations");
}
