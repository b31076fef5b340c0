//! Zone operations of the bindcar backend against a real named, asserted by what a user relies
//! on: HTTP status and body, what `dig` answers, what is on disk.

mod common;

use common::{dynamic_zone, primary_zone, snapshot, Stack};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_zone_lifecycle_is_served_by_named() {
    let stack = Stack::start();
    let api = &stack.client;
    let named = &stack.named;

    // Given a create request with SOA, NS, glue and records
    let (status, body) = api.create(&primary_zone("life.test")).await;
    // Then it is created and named serves all of it at once
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["message"], "Zone life.test created successfully");
    assert_eq!(
        named.dig("life.test", "SOA"),
        ["ns1.life.test. hostmaster.life.test. 2026010101 3600 600 604800 86400"]
    );
    assert_eq!(named.dig("life.test", "NS"), ["ns1.life.test."]);
    assert_eq!(named.dig("www.life.test", "A"), ["192.0.2.10"]);
    assert_eq!(named.dig("api.life.test", "A"), ["192.0.2.11"]);
    assert_eq!(named.dig("ns1.life.test", "A"), ["127.0.0.1"]);
    assert_eq!(named.dig("life.test", "MX"), ["10 mail.life.test."]);
    assert_eq!(named.dig("life.test", "TXT"), ["\"v=spf1 -all\""]);
    let file = named.zone_dir().join("life.test.zone");
    assert!(file.is_file(), "zone file written at {}", file.display());

    // GET gives bindcar's ZoneInfo
    let (status, info) = api.get("/api/v1/zones/life.test").await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(
        info,
        json!({"name": "life.test", "zoneType": "primary", "serial": 2026010101,
               "filePath": file.display().to_string()})
    );

    // status carries rndc zonestatus
    let (status, body) = api.get("/api/v1/zones/life.test/status").await;
    assert_eq!(status, 200, "{body}");
    let details = body["details"].as_str().unwrap_or_default();
    assert!(
        details.contains("name: life.test") && details.contains("type: primary"),
        "{details}"
    );

    // reload of a static zone works; freeze of it says what to do instead
    let (status, body) = api.post_empty("/api/v1/zones/life.test/reload").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.post_empty("/api/v1/zones/life.test/freeze").await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("/reload"),
        "{body}"
    );
    let (status, body) = api.post_empty("/api/v1/zones/life.test/notify").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["details"], "zone notify queued");

    // PATCH replaces the transfer/notify lists (modzone), and named keeps serving
    let (status, body) = api
        .patch(
            "/api/v1/zones/life.test",
            &json!({"allowTransfer": ["127.0.0.1", "10.0.0.0/8"], "alsoNotify": ["127.0.0.2:5353"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let shown = String::from_utf8_lossy(&named.rndc(&["showzone", "life.test"]).stdout).to_string();
    assert!(
        shown.contains("10.0.0.0/8") && shown.contains("127.0.0.2 port 5353"),
        "{shown}"
    );
    let (status, _) = api
        .patch("/api/v1/zones/life.test", &json!({"alsoNotify": []}))
        .await;
    assert_eq!(status, 200);
    let shown = String::from_utf8_lossy(&named.rndc(&["showzone", "life.test"]).stdout).to_string();
    assert!(
        !shown.contains("also-notify") && shown.contains("10.0.0.0/8"),
        "{shown}"
    );
    assert_eq!(named.dig("www.life.test", "A"), ["192.0.2.10"]);

    assert_eq!(api.zones().await, ["life.test"]);

    // DELETE: named stops answering, the file goes, the zone is unknown
    let (status, body) = api.delete("/api/v1/zones/life.test").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Zone life.test deleted successfully");
    assert!(named.dig("life.test", "SOA").is_empty());
    assert_eq!(named.dig_status("www.life.test", "A"), "REFUSED");
    assert!(!file.exists(), "zone file removed");
    let (status, _) = api.get("/api/v1/zones/life.test").await;
    assert_eq!(status, 404);
    assert!(api.zones().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_zone_reload_says_to_freeze_and_thaw() {
    let stack = Stack::start();
    let (api, named) = (&stack.client, &stack.named);
    let (status, body) = api
        .create(&dynamic_zone("dyn.test", named.key_name()))
        .await;
    assert_eq!(status, 201, "{body}");

    // Given a record added by dynamic update
    let update = named.nsupdate("dyn.test", "update add new.dyn.test. 60 IN A 192.0.2.99");
    assert!(
        update.status.success(),
        "{}",
        String::from_utf8_lossy(&update.stderr)
    );
    assert_eq!(named.dig("new.dyn.test", "A"), ["192.0.2.99"]);

    // When reload is asked, Then 409 tells to freeze and thaw
    let (status, body) = api.post_empty("/api/v1/zones/dyn.test/reload").await;
    assert_eq!(status, 409, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("freeze") && error.contains("thaw"),
        "{error}"
    );
    assert_eq!(body["details"], "dynamic zone");

    // freeze: updates refused; freeze again: 409; thaw: updates accepted, data kept
    let (status, body) = api.post_empty("/api/v1/zones/dyn.test/freeze").await;
    assert_eq!(status, 200, "{body}");
    let refused = named.nsupdate("dyn.test", "update add frozen.dyn.test. 60 IN A 192.0.2.98");
    assert!(!refused.status.success(), "update accepted while frozen");
    let (status, body) = api.post_empty("/api/v1/zones/Dyn.Test./freeze").await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("already frozen"),
        "{body}"
    );
    let (status, body) = api.post_empty("/api/v1/zones/dyn.test/thaw").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(named.dig("new.dyn.test", "A"), ["192.0.2.99"]);
    let update = named.nsupdate("dyn.test", "update add later.dyn.test. 60 IN A 192.0.2.97");
    assert!(
        update.status.success(),
        "{}",
        String::from_utf8_lossy(&update.stderr)
    );
    assert_eq!(named.dig("later.dyn.test", "A"), ["192.0.2.97"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_create_is_409_and_touches_nothing() {
    let stack = Stack::start();
    let (api, named) = (&stack.client, &stack.named);
    let (status, _) = api
        .create(&dynamic_zone("dup.test", named.key_name()))
        .await;
    assert_eq!(status, 201);
    // Given a record added since, by dynamic update (it lives in the journal)
    let update = named.nsupdate("dup.test", "update add added.dup.test. 60 IN A 192.0.2.77");
    assert!(
        update.status.success(),
        "{}",
        String::from_utf8_lossy(&update.stderr)
    );
    assert_eq!(named.dig("added.dup.test", "A"), ["192.0.2.77"]);
    let before = snapshot(named.zone_dir());
    assert!(
        before.contains_key("dup.test.zone.jnl"),
        "journal exists: {:?}",
        before.keys()
    );

    // When the same zone is created again, in another spelling
    let mut again = primary_zone("DUP.test.");
    again["zoneConfig"]["records"] = json!([{"name": "www", "type": "A", "value": "203.0.113.1"}]);
    let (status, body) = api.create(&again).await;

    // Then 409, and nothing on disk changed: same file, same journal
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        body,
        json!({"error": "Zone already exists: dup.test", "details": null})
    );
    assert_eq!(snapshot(named.zone_dir()), before);
    // and the record is still served, also after the zone is reloaded from disk
    assert_eq!(named.dig("added.dup.test", "A"), ["192.0.2.77"]);
    assert_eq!(api.post_empty("/api/v1/zones/dup.test/freeze").await.0, 200);
    assert_eq!(api.post_empty("/api/v1/zones/dup.test/thaw").await.0, 200);
    assert_eq!(named.dig("added.dup.test", "A"), ["192.0.2.77"]);
    assert!(named.dig("www.dup.test", "A") != ["203.0.113.1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_are_normalised_to_one_zone() {
    let stack = Stack::start();
    let api = &stack.client;
    let (status, body) = api.create(&primary_zone("Example.TEST.")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["message"], "Zone example.test created successfully");
    assert_eq!(api.create(&primary_zone("example.test")).await.0, 409);
    let (status, info) = api.get("/api/v1/zones/EXAMPLE.test.").await;
    assert_eq!(status, 200);
    assert_eq!(info["name"], "example.test");
    assert_eq!(api.zones().await, ["example.test"]);
    let files: Vec<String> = snapshot(stack.named.zone_dir())
        .into_keys()
        .filter(|name| name.ends_with(".zone"))
        .collect();
    // the zone file, and its marker (a hard link to it)
    assert_eq!(
        files,
        [".bindcar/zones/example.test.zone", "example.test.zone"]
    );
    assert_eq!(stack.named.dig("www.example.test", "A"), ["192.0.2.10"]);
    assert_eq!(api.delete("/api/v1/zones/Example.Test").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_addzone_leaves_no_file_and_gives_binds_reason() {
    let stack = Stack::start();
    let (api, named) = (&stack.client, &stack.named);
    let before = snapshot(named.zone_dir());
    // Given content each record of which is valid but which BIND refuses as a whole
    let mut zone = primary_zone("cname.test");
    zone["zoneConfig"]["records"] = json!([
        {"name": "www", "type": "CNAME", "value": "elsewhere.example."},
        {"name": "www", "type": "A", "value": "192.0.2.1"},
    ]);
    let (status, body) = api.create(&zone).await;
    // Then BIND's reason comes back, and no file is left behind
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("CNAME and other data"),
        "{body}"
    );
    assert!(
        body["details"]
            .as_str()
            .unwrap_or_default()
            .contains("CNAME and other data"),
        "{body}"
    );
    assert_eq!(snapshot(named.zone_dir()), before);
    assert_eq!(api.get("/api/v1/zones/cname.test").await.0, 404);
    assert!(api.zones().await.is_empty());
    // and the name can be created properly afterwards
    assert_eq!(api.create(&primary_zone("cname.test")).await.0, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_zone_is_404_everywhere() {
    let stack = Stack::start();
    let api = &stack.client;
    let expected = json!({"error": "Zone not found: missing.test", "details": null});
    for (method, path) in [
        ("GET", "/api/v1/zones/missing.test"),
        ("DELETE", "/api/v1/zones/missing.test"),
        ("GET", "/api/v1/zones/missing.test/status"),
        ("POST", "/api/v1/zones/missing.test/reload"),
        ("POST", "/api/v1/zones/missing.test/freeze"),
        ("POST", "/api/v1/zones/missing.test/thaw"),
        ("POST", "/api/v1/zones/missing.test/notify"),
        ("POST", "/api/v1/zones/Missing.Test./retransfer"),
    ] {
        let (status, body) = api.send(method, path, None).await;
        assert_eq!((status, &body), (404, &expected), "{method} {path}");
    }
    let (status, body) = api
        .patch("/api/v1/zones/missing.test", &json!({"allowTransfer": []}))
        .await;
    assert_eq!((status, body), (404, expected));
}
