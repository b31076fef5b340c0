//! named killed (SIGKILL) at random moments of a create/delete storm and started again: every
//! acknowledged create is served afterwards, every acknowledged delete stays gone, and every
//! zone settles whole or absent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bindcar_testbed::backend::Backend;
use bindcar_testbed::named::{Named, NamedOptions};

use crate::common::{primary_zone, Client};
use crate::consistency::{restart_loads_everything, settle, whole_zones};
use crate::support::fault_env;

/// What the last definite answer about a zone said: `Some(true)` created, `Some(false)`
/// deleted (or never created), `None` unknown (a 5xx after which named may have acted).
type Expected = Arc<Mutex<BTreeMap<String, Option<bool>>>>;

/// A tiny deterministic generator (no crate): the kill moments vary per run of the seed only.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_killed_mid_storm_loses_no_acknowledged_change() {
    let named = Arc::new(Mutex::new(Named::start(NamedOptions::default())));
    let backend = Backend::start(fault_env(&named.lock().unwrap(), &[]));
    let api = Client::new(backend.base_url(), None);
    let expected: Expected = Arc::default();
    let storm_ends = Instant::now() + Duration::from_secs(8);
    // Given 4 clients creating and deleting zones of their own for 8 s
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..4 {
        let (api, expected) = (api.clone(), expected.clone());
        clients.spawn(async move {
            let mut i = 0;
            while Instant::now() < storm_ends {
                let zone = format!("c{client}-{i}.storm.test");
                i += 1;
                let created = api
                    .try_send("POST", "/api/v1/zones", Some(&primary_zone(&zone)))
                    .await;
                let state = match created.as_ref().map(|r| r.0) {
                    Some(201) => Some(true),
                    Some(s) if s < 500 => Some(false),
                    _ => None,
                };
                expected.lock().unwrap().insert(zone.clone(), state);
                if state != Some(true) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                // every other zone is deleted again
                if i % 2 == 0 {
                    let deleted = api
                        .try_send("DELETE", &format!("/api/v1/zones/{zone}"), None)
                        .await;
                    let state = match deleted.as_ref().map(|r| r.0) {
                        Some(200 | 404) => Some(false),
                        Some(s) if s < 500 => Some(true),
                        _ => None,
                    };
                    expected.lock().unwrap().insert(zone, state);
                }
            }
        });
    }
    // When named is killed three times at random moments and started again each time
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(std::process::id());
    let mut kills = 0;
    while Instant::now() + Duration::from_secs(2) < storm_ends && kills < 3 {
        tokio::time::sleep(Duration::from_millis(700 + next(&mut seed) % 1300)).await;
        let named = named.clone();
        tokio::task::spawn_blocking(move || {
            let mut named = named.lock().unwrap();
            named.crash();
            std::thread::sleep(Duration::from_millis(300));
            named.start_again();
        })
        .await
        .unwrap();
        kills += 1;
    }
    while let Some(done) = clients.join_next().await {
        done.unwrap();
    }
    // Then every zone settles whole or absent, on the side of its last definite answer
    let expected = expected.lock().unwrap().clone();
    let zones: Vec<String> = expected.keys().cloned().collect();
    let mut named = Arc::try_unwrap(named).ok().unwrap().into_inner().unwrap();
    let (seen, violations) = settle(&named, &api, &zones, Duration::from_secs(30)).await;
    assert!(
        violations.is_empty(),
        "{violations:?}\nlog:\n{}",
        backend.logs()
    );
    let mut lost = Vec::new();
    for (zone, sides) in &seen {
        if let Some(Some(want)) = expected.get(zone) {
            if sides.whole() != *want {
                lost.push(format!("{zone}: acknowledged {want}, now {sides:?}"));
            }
        }
    }
    assert!(lost.is_empty(), "acknowledged changes lost: {lost:?}");
    let acknowledged = expected.values().filter(|v| v.is_some()).count();
    assert!(
        acknowledged > 20,
        "too few acknowledged changes to mean anything: {acknowledged}"
    );
    drop(backend);
    restart_loads_everything(&mut named, &whole_zones(&seen)).await;
    eprintln!(
        "named killed {kills} times mid-storm: {} zones, {acknowledged} acknowledged, {} unknown, 0 violations",
        expected.len(),
        expected.len() - acknowledged
    );
}
