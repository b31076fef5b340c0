//! Zone operations of the bindcar backend against a real named, asserted by what a user relies
//! on: HTTP status and body, what `dig` answers, what is on disk.

mod common;

use std::time::{Duration, Instant};

use bindcar_testbed::backend::Backend;
use bindcar_testbed::named::{Named, NamedOptions};
use common::{dynamic_zone, eventually, median_ms, primary_zone, snapshot, Stack};
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
    assert_eq!(files, ["example.test.zone"]);
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
    let stack = Stack::start();
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
    assert_eq!(api.zones().await, ["legacy.test", "listed.test"]);
    assert_eq!(api.delete("/api/v1/zones/legacy.test").await.0, 200);
    assert!(!legacy_file.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_name_give_one_201() {
    let stack = Stack::start();
    let spellings = ["race.test", "RACE.test", "race.test.", "Race.Test."];
    let mut tasks = Vec::new();
    for i in 0..16 {
        let api = stack.client.clone();
        let body = primary_zone(spellings[i % spellings.len()]);
        tasks.push(tokio::spawn(async move { api.create(&body).await.0 }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("task"));
    }
    statuses.sort();
    let mut expected = vec![409; 15];
    expected.insert(0, 201);
    assert_eq!(statuses, expected);
    assert_eq!(stack.client.zones().await, ["race.test"]);
    assert_eq!(stack.named.dig("www.race.test", "A"), ["192.0.2.10"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_status_openapi_and_metrics() {
    let stack = Stack::start();
    let api = &stack.client;
    let (status, body) = api.get("/api/v1/server/status").await;
    assert_eq!(status, 200);
    assert!(
        body["status"]
            .as_str()
            .unwrap_or_default()
            .contains("server is up and running"),
        "{body}"
    );

    let (status, doc) = api.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    for path in [
        "/api/v1/zones",
        "/api/v1/zones/{name}",
        "/api/v1/zones/{name}/status",
        "/api/v1/zones/{name}/reload",
        "/api/v1/zones/{name}/freeze",
        "/api/v1/zones/{name}/thaw",
        "/api/v1/zones/{name}/notify",
        "/api/v1/zones/{name}/retransfer",
        "/api/v1/server/status",
        "/api/v1/health",
        "/api/v1/ready",
        "/metrics",
    ] {
        assert!(doc["paths"].get(path).is_some(), "openapi lacks {path}");
    }
    assert!(
        doc["components"]["schemas"]["CreateZoneRequest"]["properties"]["zoneConfig"].is_object()
    );

    assert_eq!(api.create(&primary_zone("metrics.test")).await.0, 201);
    assert_eq!(api.create(&primary_zone("metrics.test")).await.0, 409);
    let (status, text) = api.get_text("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        r#"bindcar_http_requests_total{method="POST",path="/api/v1/zones",status="201"} 1"#,
        r#"bindcar_http_requests_total{method="POST",path="/api/v1/zones",status="409"} 1"#,
        r#"bindcar_zone_operations_total{operation="create",result="success"} 1"#,
        r#"bindcar_zone_operations_total{operation="create",result="error"} 1"#,
        r#"bindcar_rndc_commands_total{command="addzone",result="success"} 1"#,
        r#"bindcar_rndc_command_duration_seconds_count{command="addzone"} 1"#,
    ] {
        assert!(text.contains(line), "metrics lack {line}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_log_the_mesh_user_and_sigterm_stops_cleanly() {
    let mut stack = Stack::start();
    let response = reqwest::Client::new()
        .post(stack.backend.url("/api/v1/zones"))
        .header("x-remote-user", "system:serviceaccount:dns:external-dns")
        .json(&primary_zone("who.test"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 201);
    let logs = stack.backend.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("zone created"))
        .unwrap_or_else(|| panic!("no creation log:\n{logs}"));
    let entry: serde_json::Value = serde_json::from_str(line).expect("JSON log line");
    assert_eq!(
        entry["fields"]["actor"],
        "system:serviceaccount:dns:external-dns"
    );
    assert_eq!(entry["fields"]["zone"], "who.test");

    let status = stack
        .backend
        .terminate(Duration::from_secs(10))
        .expect("terminate");
    assert!(status.success(), "exit status {status}");
    assert!(stack.backend.logs().contains("bindcar stopped"));
}

/// Not a benchmark: it records what the tests observe, and fails if an operation fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_of_create_status_delete() {
    let stack = Stack::start();
    let api = &stack.client;
    let (mut create, mut status, mut delete) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..30 {
        let name = format!("lat{i}.test");
        let t = Instant::now();
        assert_eq!(api.create(&primary_zone(&name)).await.0, 201);
        create.push(t.elapsed());
        let t = Instant::now();
        assert_eq!(
            api.get(&format!("/api/v1/zones/{name}/status")).await.0,
            200
        );
        status.push(t.elapsed());
        let t = Instant::now();
        assert_eq!(api.delete(&format!("/api/v1/zones/{name}")).await.0, 200);
        delete.push(t.elapsed());
    }
    let report = format!(
        "bindcar latency over HTTP (n=30, loopback, debug build): create median {:.2} ms, status median {:.2} ms, delete median {:.2} ms",
        median_ms(&mut create),
        median_ms(&mut status),
        median_ms(&mut delete)
    );
    println!("{report}");
    let target =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bindcar-latency.txt");
    let _ = std::fs::write(target, format!("{report}\n"));
    assert!(stack.client.zones().await.is_empty());
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
