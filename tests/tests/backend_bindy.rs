//! bindy, bindcar's main client, unchanged: its PATCH with `dnssecPolicy` signs the primary
//! and its status read shows the signing state; its secondary zones (always with
//! `updateKeyName`) transfer from a primary on another named and are served; a secondary that
//! has not loaded answers 409 `zoneNotLoaded` (never the 200 bindy reads as loaded) until a
//! PATCH of its `primaries` points it at a primary; its sidecar environment starts TokenReview
//! mode; zones bindcar 0.7.3 created (no marker; a secondary with no file) delete.

mod common;

use std::time::Duration;

use bindcar_testbed::backend::Backend;
use bindcar_testbed::named::{Named, NamedOptions};
use bindcar_testbed::tokenreview::{MintRequest, ServerOptions, TokenReviewServer};
use common::{eventually, primary_zone, Client};
use serde_json::json;

fn backend_for(named: &Named) -> (Backend, Client) {
    let mut env = named.backend_env();
    env.push(("DISABLE_AUTH".into(), "true".into()));
    let backend = Backend::start(env);
    let client = Client::new(backend.base_url(), None);
    (backend, client)
}

/// bindy's secondary create: placeholder SOA, empty lists, primaries as "ip:port", updateKeyName.
fn bindy_secondary(zone: &str, primary_port: u16) -> serde_json::Value {
    json!({
        "zoneName": zone,
        "zoneType": "secondary",
        "updateKeyName": "rndc-key",
        "zoneConfig": {
            "ttl": 300,
            "soa": {"primaryNs": "ns1.placeholder.", "adminEmail": "admin.placeholder.", "serial": 1,
                    "refresh": 3600, "retry": 600, "expire": 604800, "negativeTtl": 86400},
            "nameServers": [], "nameServerIps": {}, "records": [],
            "primaries": [format!("127.0.0.1:{primary_port}")],
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bindy_secondary_with_update_key_transfers_and_is_served() {
    let a = Named::start(NamedOptions::default());
    let b = Named::start(NamedOptions::default());
    let (_backend_a, api_a) = backend_for(&a);
    let (backend_b, api_b) = backend_for(&b);
    let mut zone = primary_zone("sec.test");
    zone["zoneConfig"]["allowTransfer"] = json!(["127.0.0.1"]);
    // bindy's notify targets are port-qualified ("ip:5353")
    zone["zoneConfig"]["alsoNotify"] = json!([format!("127.0.0.1:{}", b.dns_port())]);
    assert_eq!(api_a.create(&zone).await.0, 201);
    // bindy's update_primary_zone: lists (sent even when empty) and the policy, on a zone whose
    // configuration already holds a port-qualified also-notify
    let (status, body) = api_a
        .patch(
            "/api/v1/zones/sec.test",
            &json!({"allowTransfer": ["127.0.0.1"], "alsoNotify": [format!("127.0.0.1:{}", b.dns_port())],
                    "dnssecPolicy": "default"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Zone sec.test modified successfully");
    assert!(
        eventually(Duration::from_secs(20), || !a
            .dig("sec.test", "DNSKEY")
            .is_empty())
        .await,
        "not signed; A log:\n{}",
        a.log()
    );
    // bindy's status read: 200 (loaded), with the dnssec block it takes keys[].nextRollover from
    let (status, body) = api_a.get("/api/v1/zones/sec.test/status").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dnssec"]["policy"], "default", "{body}");
    assert!(body["dnssec"]["keys"][0]["tag"].is_u64(), "{body}");

    // bindy's request, updateKeyName included: 201, and BIND holds allow-update on the secondary
    let (status, body) = api_b
        .create(&bindy_secondary("sec.test", a.dns_port()))
        .await;
    assert_eq!(status, 201, "{body}\n{}", backend_b.logs());
    let shown = String::from_utf8_lossy(&b.rndc(&["showzone", "sec.test"]).stdout).to_string();
    assert!(
        shown.contains("type secondary") && shown.contains("allow-update { key \"rndc-key\"; }"),
        "{shown}"
    );
    // It transfers from A and B serves it
    assert!(
        eventually(Duration::from_secs(10), || b.dig("www.sec.test", "A")
            == ["192.0.2.10"])
        .await,
        "secondary not served; B log:\n{}",
        b.log()
    );
    // ... signed, as A serves it
    assert!(
        eventually(Duration::from_secs(10), || !b
            .dig("sec.test", "DNSKEY")
            .is_empty())
        .await,
        "secondary not signed; B log:\n{}",
        b.log()
    );
    // bindy's calls on it: status, retransfer, notify, freeze (result ignored, never 5xx), DELETE
    assert_eq!(api_b.get("/api/v1/zones/sec.test/status").await.0, 200);
    let (status, body) = api_b.post_empty("/api/v1/zones/sec.test/retransfer").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api_b.post_empty("/api/v1/zones/sec.test/notify").await;
    assert_eq!(status, 200, "{body}");
    // freeze of a secondary: 409 (final), never a 5xx that bindy would retry for 120 s
    let (status, body) = api_b.post_empty("/api/v1/zones/sec.test/freeze").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["details"], "not primary");
    let (status, body) = api_b.delete("/api/v1/zones/sec.test").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(b.dig_status("www.sec.test", "A"), "REFUSED");
    // a second DELETE is a 404, which bindy takes as success
    assert_eq!(api_b.delete("/api/v1/zones/sec.test").await.0, 404);
    // The records API refuses a secondary with bindcar's message
    assert_eq!(
        api_b
            .create(&bindy_secondary("sec.test", a.dns_port()))
            .await
            .0,
        201
    );
    let (status, body) = api_b
        .post(
            "/api/v1/zones/sec.test/records",
            &json!({"name": "w", "type": "A", "value": "192.0.2.1"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"],
        "Dynamic updates not enabled: Zone sec.test is secondary type. Dynamic updates only supported on primary zones"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secondary_not_loaded_is_typed_and_a_patch_of_its_primaries_loads_it() {
    let a = Named::start(NamedOptions::default());
    let b = Named::start(NamedOptions::default());
    let (_backend_a, api_a) = backend_for(&a);
    let (backend_b, api_b) = backend_for(&b);
    let mut zone = primary_zone("moved.test");
    zone["zoneConfig"]["allowTransfer"] = json!(["127.0.0.1"]);
    assert_eq!(api_a.create(&zone).await.0, 201);
    // Its primaries are B itself, which has no such zone: configured, never loaded
    let (status, body) = api_b
        .create(&bindy_secondary("moved.test", b.dns_port()))
        .await;
    assert_eq!(status, 201, "{body}\n{}", backend_b.logs());
    let (status, body) = api_b.get("/api/v1/zones/moved.test/status").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "zoneNotLoaded", "{body}");
    assert_eq!(body["details"], "zone not loaded", "{body}");
    // PATCH of the primaries (port-qualified, as bindy writes them): modzone, then a transfer
    let (status, body) = api_b
        .patch(
            "/api/v1/zones/moved.test",
            &json!({"primaries": [format!("127.0.0.1:{}", a.dns_port())]}),
        )
        .await;
    assert_eq!(status, 200, "{body}\n{}", backend_b.logs());
    assert!(
        eventually(Duration::from_secs(10), || b.dig("www.moved.test", "A")
            == ["192.0.2.10"])
        .await,
        "not transferred after the PATCH; B log:\n{}",
        b.log()
    );
    assert_eq!(api_b.get("/api/v1/zones/moved.test/status").await.0, 200);
    let shown = String::from_utf8_lossy(&b.rndc(&["showzone", "moved.test"]).stdout).to_string();
    assert!(
        shown.contains(&format!("primaries {{ 127.0.0.1 port {}; }}", a.dns_port())),
        "{shown}"
    );
    // primaries of a primary zone: 409, nothing sent
    let (status, body) = api_a
        .patch(
            "/api/v1/zones/moved.test",
            &json!({"primaries": ["127.0.0.1"]}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zones_created_by_bindcar_073_can_be_deleted() {
    let a = Named::start(NamedOptions::default());
    let b = Named::start(NamedOptions {
        extra_config: "zone \"conf.test\" { type primary; file \"@ZONE_DIR@/conf.test.zone\"; };\n".into(),
        zone_files: vec![(
            "conf.test.zone".into(),
            "$TTL 300\n@ IN SOA ns1.conf.test. h.conf.test. 1 3600 600 604800 300\n@ IN NS ns1.conf.test.\nns1 IN A 127.0.0.1\n".into(),
        )],
        ..NamedOptions::default()
    });
    let (_backend_a, api_a) = backend_for(&a);
    let mut zone = primary_zone("old2.test");
    zone["zoneConfig"]["allowTransfer"] = json!(["127.0.0.1"]);
    assert_eq!(api_a.create(&zone).await.0, 201);

    // As bindcar 0.7.3 does it: a primary with file <dir>/<zone>.zone, a secondary with no file,
    // no marker of ours
    let file = b.zone_dir().join("old1.test.zone");
    std::fs::write(
        &file,
        "$TTL 300\n@ IN SOA ns1.old1.test. h.old1.test. 1 3600 600 604800 300\n@ IN NS ns1.old1.test.\nns1 IN A 127.0.0.1\nwww IN A 192.0.2.7\n",
    )
    .expect("zone file");
    let add = b.rndc(&[
        "addzone",
        "old1.test",
        &format!(
            "{{ type primary; file \"{}\"; allow-update {{ key \"rndc-key\"; }}; }};",
            file.display()
        ),
    ]);
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    let add = b.rndc(&[
        "addzone",
        "old2.test",
        &format!(
            "{{ type secondary; primaries {{ 127.0.0.1 port {}; }}; }};",
            a.dns_port()
        ),
    ]);
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    assert_eq!(b.dig("www.old1.test", "A"), ["192.0.2.7"]);
    assert!(
        eventually(Duration::from_secs(10), || b.dig("www.old2.test", "A")
            == ["192.0.2.10"])
        .await
    );

    let (_backend_b, api_b) = backend_for(&b);
    let (status, body) = api_b.delete("/api/v1/zones/old1.test").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(b.dig_status("www.old1.test", "A"), "REFUSED");
    assert!(
        !file.exists(),
        "the zone file bindcar wrote is removed with the zone"
    );
    let (status, body) = api_b.delete("/api/v1/zones/old2.test").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(b.dig_status("www.old2.test", "A"), "REFUSED");
    // A zone of named.conf is still not the API's to delete
    let (status, body) = api_b.delete("/api/v1/zones/conf.test").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(b.dig_status("conf.test", "SOA"), "NOERROR");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bindy_sidecar_environment_runs_tokenreview() {
    let named = Named::start(NamedOptions::default());
    let reviewer = TokenReviewServer::start(ServerOptions::default())
        .await
        .expect("TokenReview server");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = reviewer.write_kubeconfig(dir.path()).expect("kubeconfig");
    // Exactly the variables bindy's Deployment sets (bind9_resources.rs), plus KUBECONFIG to
    // reach our TokenReview server instead of a cluster. BIND_API_ADDRESS stays on loopback
    // (the testbed's rule); the guard at 0.0.0.0 is covered by config's unit tests.
    let env = vec![
        (
            "BIND_ZONE_DIR".to_string(),
            named.zone_dir().display().to_string(),
        ),
        ("RUST_LOG".into(), "info".into()),
        (
            "BIND_ALLOWED_SERVICE_ACCOUNTS".into(),
            "system:serviceaccount:dns-system:bindy".into(),
        ),
        ("BIND_TOKEN_AUDIENCES".into(), "bindcar".into()),
        ("TMPDIR".into(), dir.path().display().to_string()),
        ("RNDC_SECRET".into(), named.rndc_secret().to_string()),
        ("RNDC_ALGORITHM".into(), named.rndc_algorithm().to_string()),
        ("NSUPDATE_PORT".into(), named.dns_port().to_string()),
        ("RNDC_SERVER".into(), named.rndc_server()),
        ("KUBECONFIG".into(), kubeconfig.display().to_string()),
    ];
    let backend = Backend::start(env);
    let logs = backend.logs();
    assert!(
        logs.contains("\"auth_mode\":\"tokenreview\"") && logs.contains("an allowlist"),
        "{logs}"
    );
    let bindy = reviewer.mint(&MintRequest::new("dns-system", "bindy", &["bindcar"]));
    let api = Client::new(backend.base_url(), Some(&bindy));
    let (status, body) = api.get("/api/v1/zones").await;
    assert_eq!(status, 200, "{body}\n{}", backend.logs());
    let other = reviewer.mint(&MintRequest::new("dns-system", "intruder", &["bindcar"]));
    let (status, body) = api.with_token(Some(&other)).get("/api/v1/zones").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "Unauthorized");
}
