//! named going away and coming back, and a zone directory that stops being usable: readiness
//! says so with 503, operations answer 503 with a clear message and touch nothing, and
//! everything is served again without restarting bindcar.

mod common;

use common::{primary_zone, snapshot, Stack};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_down_is_503_and_recovery_is_automatic() {
    let mut stack = Stack::start();
    let api = stack.client.clone();
    // Given a zone created while named runs
    assert_eq!(api.create(&primary_zone("before.test")).await.0, 201);
    let (status, ready) = api.get("/api/v1/ready").await;
    assert_eq!(
        (status, ready),
        (
            200,
            json!({"ready": true, "checks": ["zone_dir: ok", "rndc: ok"]})
        )
    );

    // When named stops
    stack.named.stop();
    let before = snapshot(stack.named.zone_dir());

    // Then readiness fails, and every operation answers 503 saying BIND is unavailable
    let (status, ready) = api.get("/api/v1/ready").await;
    assert_eq!(
        (status, ready),
        (
            503,
            json!({"ready": false, "checks": ["zone_dir: ok", "rndc: error"]})
        )
    );
    for (method, path, body) in [
        ("POST", "/api/v1/zones", Some(primary_zone("during.test"))),
        ("GET", "/api/v1/zones", None),
        ("GET", "/api/v1/zones/before.test", None),
        ("GET", "/api/v1/zones/before.test/status", None),
        ("DELETE", "/api/v1/zones/before.test", None),
        ("POST", "/api/v1/zones/before.test/reload", None),
        (
            "PATCH",
            "/api/v1/zones/before.test",
            Some(json!({"allowTransfer": []})),
        ),
        ("GET", "/api/v1/server/status", None),
    ] {
        let (status, reply) = api.send(method, path, body.as_ref()).await;
        assert_eq!(status, 503, "{method} {path}: {reply}");
        let error = reply["error"].as_str().unwrap_or_default();
        assert!(
            error.starts_with("BIND is unavailable: ") && error.contains("connection refused"),
            "{method} {path}: {error}"
        );
    }
    // and the refused create left nothing behind
    assert_eq!(snapshot(stack.named.zone_dir()), before);
    assert!(stack.backend.logs().contains("dependency unavailable"));

    // When named comes back (same bindcar process)
    stack.named.start_again();

    // Then readiness recovers, the earlier zone is still served, and new work succeeds
    let (status, _) = api.get("/api/v1/ready").await;
    assert_eq!(status, 200);
    assert_eq!(stack.named.dig("www.before.test", "A"), ["192.0.2.10"]);
    assert_eq!(api.zones().await, ["before.test"]);
    let (status, info) = api.get("/api/v1/zones/before.test").await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["serial"], 2026010101);
    assert_eq!(api.create(&primary_zone("after.test")).await.0, 201);
    assert_eq!(stack.named.dig("api.after.test", "A"), ["192.0.2.11"]);
    assert_eq!(api.zones().await, ["after.test", "before.test"]);
    assert_eq!(api.delete("/api/v1/zones/before.test").await.0, 200);
    assert!(stack.named.dig("www.before.test", "A").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_zone_directory_makes_ready_503() {
    let stack = Stack::start();
    let api = &stack.client;
    assert_eq!(api.get("/api/v1/ready").await.0, 200);
    // When the zone directory disappears
    let dir = stack.named.zone_dir().to_path_buf();
    let moved = dir.with_file_name("zones-moved-away");
    std::fs::rename(&dir, &moved).expect("move zone dir");
    let (status, ready) = api.get("/api/v1/ready").await;
    // Then readiness says so (and did not recreate it)
    assert_eq!(
        (status, ready),
        (
            503,
            json!({"ready": false, "checks": ["zone_dir: error", "rndc: ok"]})
        )
    );
    assert!(
        !dir.exists(),
        "readiness must not recreate the zone directory"
    );
    // and a create fails without leaving anything in BIND
    let (status, reply) = api.create(&primary_zone("nodir.test")).await;
    assert_eq!(status, 500, "{reply}");
    assert_eq!(stack.named.dig_status("nodir.test", "SOA"), "REFUSED");
    // When it is back, so is readiness
    std::fs::rename(&moved, &dir).expect("move zone dir back");
    assert_eq!(api.get("/api/v1/ready").await.0, 200);
    assert_eq!(api.create(&primary_zone("nodir.test")).await.0, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_rndc_key_is_503_not_a_crash() {
    let named =
        bindcar_testbed::named::Named::start(bindcar_testbed::named::NamedOptions::default());
    let mut env = named.backend_env();
    env.retain(|(k, _)| k != "RNDC_SECRET");
    env.push((
        "RNDC_SECRET".into(),
        "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE=".into(),
    ));
    env.push(("DISABLE_AUTH".into(), "true".into()));
    let backend = bindcar_testbed::backend::Backend::start(env);
    let api = common::Client::new(backend.base_url(), None);
    let (status, _) = api.get("/api/v1/ready").await;
    assert_eq!(status, 503);
    let (status, reply) = api.create(&primary_zone("key.test")).await;
    assert_eq!(status, 503, "{reply}");
    assert!(
        reply["error"]
            .as_str()
            .unwrap_or_default()
            .contains("rndc key"),
        "{reply}"
    );
    assert_eq!(named.dig_status("key.test", "SOA"), "REFUSED");
}
