//! The bindcar backend as a service: concurrent creates of one name, server status, OpenAPI
//! and metrics, mutations logged with the mesh user, a clean SIGTERM, and the latency of
//! create / status / delete.

mod common;

use std::time::{Duration, Instant};

use common::{median_ms, primary_zone, Stack};

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

/// More concurrent creates than tokio's blocking pool has threads (512): each create makes
/// two trips to that pool, never one inside another, so none can wait on a thread the others
/// hold (a create used to block its blocking thread on a second blocking task).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_thousand_concurrent_creates_are_all_answered() {
    let stack = Stack::start();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..2000 {
        let api = stack.client.clone();
        tasks.spawn(async move {
            let zone = format!("z{i}.many.test");
            let reply = tokio::time::timeout(
                Duration::from_secs(120),
                api.try_send("POST", "/api/v1/zones", Some(&primary_zone(&zone))),
            )
            .await;
            (zone, reply)
        });
    }
    let mut created = 0;
    while let Some(done) = tasks.join_next().await {
        let (zone, reply) = done.expect("task");
        match reply {
            Ok(Some((201, _))) => created += 1,
            other => panic!("{zone}: {other:?}"),
        }
    }
    assert_eq!(created, 2000);
    eprintln!(
        "2000 concurrent creates answered in {:?}",
        started.elapsed()
    );
    assert_eq!(stack.client.zones().await.len(), 2000);
    assert_eq!(stack.named.dig("www.z1999.many.test", "A"), ["192.0.2.10"]);
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
        "/api/v1/zones/{name}/ds",
        "/api/v1/zones/{name}/dnssec/checkds",
        "/api/v1/zones/{name}/propagation",
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
