//! `GET /zones` against a real named: the same answer over the statistics channel and over
//! rndc, changes made outside the API within the reconciliation interval, and no
//! control-channel connection storm (200 zones listed over rndc, concurrent requests).

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bindcar_testbed::backend::Backend;
use bindcar_testbed::named::{Named, NamedOptions};
use common::{client_sockets_to, eventually, primary_zone, Client};

/// The control channel's bound (`bind::rndc::MAX_IN_FLIGHT` in the backend).
const RNDC_MAX_IN_FLIGHT: usize = 8;

fn start_backend(named: &Named, stats: bool, extra: &[(&str, &str)]) -> (Backend, Client) {
    let mut env: Vec<(String, String)> = named
        .backend_env()
        .into_iter()
        .filter(|(k, _)| stats || k != "BIND_STATS_URL")
        .collect();
    env.push(("DISABLE_AUTH".into(), "true".into()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let backend = Backend::start(env);
    let client = Client::new(backend.base_url(), None);
    (backend, client)
}

const ZONE: &str =
    "$TTL 300\n@ IN SOA ns1 admin 1 3600 600 86400 300\n@ IN NS ns1\nns1 IN A 127.0.0.1\n";

/// Adds a zone with rndc, outside the API, its file at `path`.
fn addzone(named: &Named, zone: &str, path: &std::path::Path) {
    std::fs::write(path, ZONE).unwrap();
    let config = format!("{{ type primary; file \"{}\"; }};", path.display());
    let out = named.rndc(&["addzone", zone, &config]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_is_the_same_with_and_without_the_statistics_channel() {
    let named = Named::start(NamedOptions::default());
    assert!(named.stats_url().is_some());
    let (_with, stats_api) = start_backend(&named, true, &[]);
    for zone in ["a.test", "b.test", "c.test"] {
        assert_eq!(stats_api.create(&primary_zone(zone)).await.0, 201);
    }
    // a zone of the reference bindcar (our file naming, no marker), and a foreign one
    addzone(
        &named,
        "legacy.test",
        &named.zone_dir().join("legacy.test.zone"),
    );
    addzone(
        &named,
        "foreign.test",
        &named.run_dir().join("foreign.test.db"),
    );
    // Each backend started after the zones exist reconciles at startup
    let (_with2, stats_api) = start_backend(&named, true, &[]);
    let (_without, rndc_api) = start_backend(&named, false, &[]);
    let expected = ["a.test", "b.test", "c.test", "legacy.test"];
    assert_eq!(stats_api.zones().await, expected);
    assert_eq!(rndc_api.zones().await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_outside_the_api_show_within_the_reconciliation_interval() {
    let named = Named::start(NamedOptions::default());
    // RNDC_TIMEOUT_SECS=1: files of a zone BIND lacks are swept once 2 s old
    let settings = [("BIND_RECONCILE_SECS", "1"), ("RNDC_TIMEOUT_SECS", "1")];
    let (_backend, api) = start_backend(&named, true, &settings);
    // The API's own changes show at once
    assert_eq!(api.create(&primary_zone("mine.test")).await.0, 201);
    assert_eq!(api.create(&primary_zone("other.test")).await.0, 201);
    assert_eq!(api.zones().await, ["mine.test", "other.test"]);
    // Changes made with rndc: a zone of the reference bindcar added, one of ours deleted
    addzone(
        &named,
        "legacy.test",
        &named.zone_dir().join("legacy.test.zone"),
    );
    assert!(named.rndc(&["delzone", "other.test"]).status.success());
    // within the bound (1 s, plus a reconciliation; generous for a loaded machine)
    let expected = ["legacy.test", "mine.test"];
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut listed = api.zones().await;
    while listed != expected && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        listed = api.zones().await;
    }
    assert_eq!(listed, expected);
    // and the files of the zone deleted behind the API's back are swept
    let file = named.zone_dir().join("other.test.zone");
    assert!(eventually(Duration::from_secs(10), || !file.exists()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_zones_listed_over_rndc_never_storm_the_control_channel() {
    let named = Named::start(NamedOptions::default());
    let (creator, api) = start_backend(&named, true, &[]);
    let mut creates = tokio::task::JoinSet::new();
    for client in 0..4 {
        let api = api.clone();
        creates.spawn(async move {
            for i in 0..50 {
                let (status, body) = api
                    .create(&primary_zone(&format!("z{client}-{i}.test")))
                    .await;
                assert_eq!(status, 201, "{body}");
            }
        });
    }
    while let Some(done) = creates.join_next().await {
        done.unwrap();
    }
    drop(creator);
    // Sample the control channel's client connections while a backend without the
    // statistics channel starts (startup reconciliation over rndc), lists, and serves 64
    // concurrent status requests.
    let port = named.rndc_port();
    let stop = Arc::new(AtomicBool::new(false));
    let max = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (stop, max) = (stop.clone(), max.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                max.fetch_max(client_sockets_to(port, &["01", "02"]), Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let (backend, api) = start_backend(&named, false, &[]);
    let zones = api.zones().await;
    assert_eq!(zones.len(), 200);
    let mut statuses = tokio::task::JoinSet::new();
    for zone in zones.into_iter().take(64) {
        let api = api.clone();
        statuses.spawn(async move { api.get(&format!("/api/v1/zones/{zone}/status")).await.0 });
    }
    while let Some(status) = statuses.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    stop.store(true, Ordering::Relaxed);
    sampler.join().unwrap();
    let max = max.load(Ordering::Relaxed);
    assert!(max >= 1, "the sampler saw no control-channel connection");
    assert!(
        max <= RNDC_MAX_IN_FLIGHT,
        "{max} control-channel connections at once (bound {RNDC_MAX_IN_FLIGHT})"
    );
    assert!(
        !backend.logs().contains("\"level\":\"ERROR\""),
        "{}",
        backend.logs()
    );
}
