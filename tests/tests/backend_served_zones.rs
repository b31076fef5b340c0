//! What named serves is the truth: a secondary transfers from its primary and is listed, the
//! list is what BIND serves (not the files in a directory), and a zone of named.conf is never
//! deleted or rewritten.

mod common;

use std::time::Duration;

use bindcar_testbed::backend::Backend;
use bindcar_testbed::named::{Named, NamedOptions};
use common::{eventually, primary_zone, snapshot, Stack};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secondary_zone_transfers_from_its_primary_and_is_listed() {
    // Given a primary zone on one named that allows transfers to loopback
    let primary = Stack::start();
    let mut zone = primary_zone("sec.test");
    zone["zoneConfig"]["allowTransfer"] = json!(["127.0.0.1"]);
    assert_eq!(primary.client.create(&zone).await.0, 201);

    // When another named gets it as a secondary through its bindcar
    let secondary = Stack::start();
    let body = json!({
        "zoneName": "sec.test",
        "zoneType": "secondary",
        "zoneConfig": {"primaries": [format!("127.0.0.1:{}", primary.named.dns_port())]},
    });
    let (status, reply) = secondary.client.create(&body).await;
    assert_eq!(status, 201, "{reply}");

    // Then it transfers and serves the data, and is listed with its type
    let served = eventually(Duration::from_secs(15), || {
        secondary.named.dig("www.sec.test", "A") == ["192.0.2.10"]
    })
    .await;
    assert!(
        served,
        "secondary never served the zone; named log:\n{}",
        secondary.named.log()
    );
    assert_eq!(secondary.client.zones().await, ["sec.test"]);
    let (status, info) = secondary.client.get("/api/v1/zones/sec.test").await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["zoneType"], "secondary");
    assert_eq!(info["serial"], 2026010101);
    // retransfer is for secondaries; a primary says so
    let (status, body) = secondary
        .client
        .post_empty("/api/v1/zones/sec.test/retransfer")
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = primary
        .client
        .post_empty("/api/v1/zones/sec.test/retransfer")
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("only secondary"),
        "{body}"
    );
    // and it deletes like any other zone
    assert_eq!(
        secondary.client.delete("/api/v1/zones/sec.test").await.0,
        200
    );
    assert!(secondary.named.dig("www.sec.test", "A").is_empty());
    assert!(secondary.client.zones().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_is_what_bind_serves_not_files_in_a_directory() {
    // Zones added outside the API show within the reconciliation interval: 1 s here.
    let stack = Stack::start_with(
        vec![
            ("DISABLE_AUTH".into(), "true".into()),
            ("BIND_RECONCILE_SECS".into(), "1".into()),
        ],
        None,
    );
    let (api, named) = (&stack.client, &stack.named);
    assert_eq!(api.create(&primary_zone("listed.test")).await.0, 201);
    // Given a stray zone file BIND does not serve
    std::fs::write(named.zone_dir().join("stray.test.zone"), "garbage").expect("write stray file");
    // and a zone BIND serves that this API did not create (file elsewhere)
    let other_file = named.run_dir().join("foreign.test.db");
    std::fs::write(
        &other_file,
        "$TTL 300\n@ IN SOA ns1 admin 1 3600 600 86400 300\n@ IN NS ns1\nns1 IN A 127.0.0.1\n",
    )
    .expect("write foreign zone");
    let config = format!("{{ type primary; file \"{}\"; }};", other_file.display());
    let added = named.rndc(&["addzone", "foreign.test", &config]);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    // Then the list is exactly the zone created through the API
    assert_eq!(api.zones().await, ["listed.test"]);
    // and the foreign zone is readable but not deletable through the API
    let (status, info) = api.get("/api/v1/zones/foreign.test").await;
    assert_eq!(status, 200, "{info}");
    let (status, body) = api.delete("/api/v1/zones/foreign.test").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(named.dig("foreign.test", "NS"), ["ns1.foreign.test."]);
    // A zone created by the reference bindcar (<zone_dir>/<zone>.zone, no marker) is adopted
    let legacy_file = named.zone_dir().join("legacy.test.zone");
    std::fs::write(
        &legacy_file,
        "$TTL 300\n@ IN SOA ns1 admin 1 3600 600 86400 300\n@ IN NS ns1\nns1 IN A 127.0.0.1\n",
    )
    .expect("write legacy zone");
    let config = format!("{{ type primary; file \"{}\"; }};", legacy_file.display());
    assert!(named
        .rndc(&["addzone", "legacy.test", &config])
        .status
        .success());
    let expected = ["legacy.test", "listed.test"];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut listed = api.zones().await;
    while listed != expected && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        listed = api.zones().await;
    }
    assert_eq!(listed, expected);
    assert_eq!(api.delete("/api/v1/zones/legacy.test").await.0, 200);
    assert!(!legacy_file.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_conf_zone_is_never_deleted_or_rewritten() {
    // Given a zone from named.conf whose file happens to follow this API's naming
    let named = Named::start(NamedOptions {
        extra_config:
            "zone \"static.test\" { type primary; file \"@ZONE_DIR@/static.test.zone\"; };".into(),
        zone_files: vec![(
            "static.test.zone".into(),
            "$TTL 300\n@ IN SOA ns1 admin 1 3600 600 86400 300\n@ IN NS ns1\nns1 IN A 127.0.0.1\n"
                .into(),
        )],
        ..NamedOptions::default()
    });
    let mut env = named.backend_env();
    env.push(("DISABLE_AUTH".into(), "true".into()));
    let backend = Backend::start(env);
    let api = common::Client::new(backend.base_url(), None);
    let before = snapshot(named.zone_dir());
    // Then it is readable, but not listed, deleted, modified or re-created
    assert_eq!(api.get("/api/v1/zones/static.test").await.0, 200);
    assert!(api.zones().await.is_empty());
    let (status, body) = api.delete("/api/v1/zones/static.test").await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not managed by this API"),
        "{body}"
    );
    assert_eq!(
        api.patch("/api/v1/zones/static.test", &json!({"allowTransfer": []}))
            .await
            .0,
        409
    );
    assert_eq!(api.create(&primary_zone("static.test")).await.0, 409);
    assert_eq!(snapshot(named.zone_dir()), before);
    assert_eq!(named.dig("ns1.static.test", "A"), ["127.0.0.1"]);
}
