//! The backend's control-channel connections to a real named: kept open and reused across
//! commands (counted by `bindcar_rndc_connections_opened_total` and in /proc/net/tcp), replaced
//! without a failed request when named restarts or closes an idle one (named 9.18 closes them
//! after 30 s idle).

mod common;

use std::time::Duration;

use common::{client_sockets_to, primary_zone, Client, Stack};

/// A counter or a sum of a labelled counter's series, from the text exposition.
async fn metric(api: &Client, name: &str) -> u64 {
    let (status, text) = api.get_text("/metrics").await;
    assert_eq!(status, 200);
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_commands_reuse_a_few_connections() {
    let stack = Stack::start();
    let api = stack.client.clone();
    let opened_before = metric(&api, "bindcar_rndc_connections_opened_total").await;
    let commands_before = metric(&api, "bindcar_rndc_commands_total").await;
    // Given 20 zones created, read and deleted one after another
    for i in 0..20 {
        let zone = format!("seq{i}.test");
        let (status, body) = api.create(&primary_zone(&zone)).await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = api.get(&format!("/api/v1/zones/{zone}/status")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(stack.named.dig(&format!("www.{zone}"), "A"), ["192.0.2.10"]);
        let (status, body) = api.delete(&format!("/api/v1/zones/{zone}")).await;
        assert_eq!(status, 200, "{body}");
    }
    // Then at least 60 commands went over at most one connection per command slot (8), not
    // one connection each, and connections stay open for the next commands
    let commands = metric(&api, "bindcar_rndc_commands_total").await - commands_before;
    let opened = metric(&api, "bindcar_rndc_connections_opened_total").await - opened_before;
    assert!(commands >= 60, "{commands} commands");
    assert!(
        metric(&api, "bindcar_rndc_connections_opened_total").await >= 1,
        "the connection counter is exported"
    );
    assert!(
        opened <= 8,
        "{opened} connections opened for {commands} commands"
    );
    let open = client_sockets_to(stack.named.rndc_port(), &["01"]);
    assert!((1..=8).contains(&open), "{open} connections open");
    assert!(stack.named.dig_status("seq0.test", "SOA") == "REFUSED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_restart_mid_stream_costs_no_request() {
    let mut stack = Stack::start();
    let api = stack.client.clone();
    // Given pooled connections from earlier commands
    assert_eq!(api.create(&primary_zone("before.test")).await.0, 201);
    assert_eq!(api.get("/api/v1/zones/before.test/status").await.0, 200);
    let opened = metric(&api, "bindcar_rndc_connections_opened_total").await;

    // When named restarts (its end of every pooled connection closes)
    stack.named.stop();
    stack.named.start_again();

    // Then the very next read, change and delete succeed, on new connections
    let (status, body) = api.get("/api/v1/zones/before.test/status").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.create(&primary_zone("after.test")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(stack.named.dig("api.after.test", "A"), ["192.0.2.11"]);
    let (status, body) = api.delete("/api/v1/zones/before.test").await;
    assert_eq!(status, 200, "{body}");
    assert!(metric(&api, "bindcar_rndc_connections_opened_total").await > opened);
    assert_eq!(api.zones().await, ["after.test"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_named_closed_when_idle_are_replaced_without_a_failed_request() {
    let stack = Stack::start();
    let api = stack.client.clone();
    assert_eq!(api.create(&primary_zone("idle.test")).await.0, 201);
    // When every connection has been idle past named's 30 s (and our 20 s retirement)
    tokio::time::sleep(Duration::from_secs(31)).await;
    // Then a change and a read still succeed at once
    let (status, body) = api.delete("/api/v1/zones/idle.test").await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = api.get("/api/v1/zones/idle.test/status").await;
    assert_eq!(status, 404);
    assert_eq!(
        metric(
            &api,
            "bindcar_rndc_commands_total{command=\"delzone\",result=\"unavailable\"}"
        )
        .await,
        0
    );
}
