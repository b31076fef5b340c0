//! The catalog zone (RFC 9432) with real BIND secondaries: one primary with the backend
//! (`BIND_CATALOG_ZONE`, `BIND_CATALOG_SECONDARIES`) and two secondaries configured as
//! backend/README.md documents (`bindcar_testbed::catalog`). Every zone the API creates is
//! served by both with the primary's serial, soon after its 201; deletes and record changes
//! follow; a secondary stopped mid-run catches up after it restarts; after a backend restart
//! the catalog lists exactly the API's zones BIND has (never a named.conf zone); and
//! `/propagation` tells a lagging secondary from one in step. One set of nameds for the file:
//! the scenarios run in order in one test.

#[path = "common/mod.rs"]
mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bindcar_testbed::backend::Backend;
use bindcar_testbed::catalog::{secondary_options, CATALOG, PRIMARY_OPTIONS};
use bindcar_testbed::named::{Named, NamedOptions};
use bindcar_testbed::soa::{soa_serial, Arrival, Watcher};
use serde_json::{json, Value};

use common::{dynamic_zone, eventually, primary_zone, Client};

/// The serial `primary_zone` writes.
const SERIAL: u32 = 2026010101;
/// A zone of named.conf on the primary: never a member.
const CONF_ZONE: &str = "conf.catalog.test";

struct Cluster {
    primary: Named,
    secondaries: [Named; 2],
}

impl Cluster {
    fn start() -> Cluster {
        let conf_file = format!(
            "$TTL 300\n@ IN SOA ns1.{CONF_ZONE}. hostmaster.{CONF_ZONE}. 1 3600 600 604800 300\n\
             @ IN NS ns1.{CONF_ZONE}.\nns1 IN A 127.0.0.1\n"
        );
        let primary = Named::start(NamedOptions {
            extra_options: PRIMARY_OPTIONS.to_string(),
            zone_files: vec![(format!("{CONF_ZONE}.zone"), conf_file)],
            extra_config: format!(
                "zone \"{CONF_ZONE}\" {{ type primary; file \"@ZONE_DIR@/{CONF_ZONE}.zone\"; }};\n"
            ),
            ..NamedOptions::default()
        });
        let secondary = || Named::start(secondary_options(CATALOG, primary.dns_port()));
        let secondaries = [secondary(), secondary()];
        Cluster {
            primary,
            secondaries,
        }
    }

    fn addresses(&self) -> Vec<SocketAddr> {
        self.secondaries
            .iter()
            .map(|s| SocketAddr::from(([127, 0, 0, 1], s.dns_port())))
            .collect()
    }

    fn backend(&self) -> Backend {
        let mut env = self.primary.backend_env();
        let secondaries: Vec<String> = self.addresses().iter().map(|a| a.to_string()).collect();
        for (k, v) in [
            ("DISABLE_AUTH", "true".to_string()),
            ("BIND_CATALOG_ZONE", CATALOG.to_string()),
            ("BIND_CATALOG_SECONDARIES", secondaries.join(",")),
            ("NSUPDATE_SERVER", "127.0.0.1".to_string()),
            ("NSUPDATE_PORT", self.primary.dns_port().to_string()),
            ("BIND_RECONCILE_SECS", "1".to_string()),
            ("RNDC_TIMEOUT_SECS", "1".to_string()),
        ] {
            env.push((k.to_string(), v));
        }
        Backend::start(env)
    }

    /// The zones the catalog lists, read from the primary (AXFR with its key).
    fn members(&self) -> Vec<String> {
        let mut zones: Vec<String> = self
            .primary
            .axfr(CATALOG)
            .iter()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let owner = fields.first()?;
                let member =
                    owner.ends_with(&format!(".zones.{CATALOG}.")) && fields.get(3) == Some(&"PTR");
                member.then_some(fields.get(4)?.trim_end_matches('.').to_string())
            })
            .collect();
        zones.sort();
        zones
    }
}

/// p50 and max of the arrivals, in seconds; panics naming the zones that never arrived.
fn figures(what: &str, arrivals: &[Arrival]) -> (f64, f64) {
    let missing: Vec<String> = arrivals
        .iter()
        .filter(|a| a.after.is_none())
        .map(|a| format!("{} on {}", a.zone, a.server))
        .collect();
    assert!(missing.is_empty(), "{what}: never served: {missing:?}");
    let mut secs: Vec<f64> = arrivals
        .iter()
        .filter_map(|a| a.after.map(|d| d.as_secs_f64()))
        .collect();
    secs.sort_by(f64::total_cmp);
    let p50 = secs[(secs.len() - 1) / 2];
    let max = secs[secs.len() - 1];
    eprintln!(
        "{what}: {} (zone, secondary) pairs served, p50 {p50:.2} s, max {max:.2} s",
        secs.len()
    );
    (p50, max)
}

/// Creates `zones`, `parallel` at a time, each watched (if asked) from its 201.
async fn create_all(api: &Client, watcher: Option<&Watcher>, zones: &[String], parallel: usize) {
    for batch in zones.chunks(parallel) {
        let mut running = tokio::task::JoinSet::new();
        for zone in batch {
            let (api, zone) = (api.clone(), zone.clone());
            running.spawn(async move {
                let reply = api.create(&primary_zone(&zone)).await;
                (zone, reply, Instant::now())
            });
        }
        while let Some(done) = running.join_next().await {
            let (zone, reply, at) = done.expect("create task");
            assert_eq!(reply.0, 201, "{zone}: {}", reply.1);
            if let Some(watcher) = watcher {
                watcher.watch(&zone, at);
            }
        }
    }
}

fn served(server: SocketAddr, zone: &str) -> Option<u32> {
    soa_serial(server, zone, Duration::from_millis(500))
        .ok()
        .flatten()
}

async fn propagation(api: &Client, zone: &str) -> Value {
    let (status, body) = api.get(&format!("/api/v1/zones/{zone}/propagation")).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn states(body: &Value) -> Vec<String> {
    body["secondaries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["state"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secondaries_follow_the_catalog_and_propagation_shows_it() {
    let mut cluster = Cluster::start();
    let mut backend = cluster.backend();
    let api = Client::new(backend.base_url(), None);
    let secondaries = cluster.addresses();

    // Given the catalog the backend created, transferred by both secondaries (they started
    // before it existed: their retries are seconds apart, as documented)
    let ready = eventually(Duration::from_secs(10), || {
        cluster.primary.dig(CATALOG, "SOA").len() == 1
    })
    .await;
    assert!(ready, "no catalog; log:\n{}", backend.logs());
    let (status, body) = api.get("/api/v1/ready").await;
    assert_eq!(
        (status, body["checks"][2].clone()),
        (200, json!("catalog: ok"))
    );
    let followed = eventually(Duration::from_secs(20), || {
        secondaries.iter().all(|s| served(*s, CATALOG).is_some())
    })
    .await;
    assert!(followed, "the secondaries never transferred the catalog");

    // When 50 zones are created, 5 at a time
    let zones: Vec<String> = (0..50).map(|i| format!("z{i}.catalog.test")).collect();
    let watcher = Watcher::start(secondaries.clone(), Some(SERIAL));
    create_all(&api, Some(&watcher), &zones, 5).await;
    // Then both secondaries serve each with the primary's serial, soon after its 201
    let arrivals = watcher.finish(Duration::from_secs(20));
    let (p50, max) = figures("50 creates, from each 201", &arrivals);
    assert!(p50 <= 2.0 && max <= 5.0, "p50 {p50:.2} s, max {max:.2} s");
    assert_eq!(
        served(
            SocketAddr::from(([127, 0, 0, 1], cluster.primary.dns_port())),
            &zones[0]
        ),
        Some(SERIAL)
    );
    assert_eq!(cluster.members(), {
        let mut z = zones.clone();
        z.sort();
        z
    });
    // named.conf's zone is served by the primary but never a member
    assert_eq!(cluster.primary.dig(CONF_ZONE, "SOA").len(), 1);

    // A record change through the API reaches both
    let dynamic = "dyn.catalog.test";
    let reply = api
        .create(&dynamic_zone(dynamic, cluster.primary.key_name()))
        .await;
    assert_eq!(reply.0, 201, "{}", reply.1);
    let reply = api
        .post(
            &format!("/api/v1/zones/{dynamic}/records"),
            &json!({"name": "fresh", "type": "A", "value": "192.0.2.99", "ttl": 60}),
        )
        .await;
    assert_eq!(reply.0, 201, "{}", reply.1);
    let name = format!("fresh.{dynamic}");
    let reached = eventually(Duration::from_secs(10), || {
        cluster
            .secondaries
            .iter()
            .all(|s| s.dig(&name, "A") == ["192.0.2.99"])
    })
    .await;
    assert!(reached, "the record never reached both secondaries");
    let body = propagation(&api, dynamic).await;
    assert_eq!(body["inStep"], true, "{body}");
    assert_eq!(states(&body), ["inStep", "inStep"]);

    // A secondary that is not told of a change lags, and /propagation says so
    let quiet = "quiet.catalog.test";
    let mut zone = dynamic_zone(quiet, cluster.primary.key_name());
    zone["zoneConfig"]["alsoNotify"] = json!([secondaries[0].to_string()]);
    assert_eq!(api.create(&zone).await.0, 201);
    let both = eventually(Duration::from_secs(10), || {
        secondaries
            .iter()
            .all(|s| served(*s, quiet) == Some(SERIAL))
    })
    .await;
    assert!(both);
    let reply = api
        .post(
            &format!("/api/v1/zones/{quiet}/records"),
            &json!({"name": "later", "type": "A", "value": "192.0.2.98"}),
        )
        .await;
    assert_eq!(reply.0, 201, "{}", reply.1);
    let first_in_step = eventually(Duration::from_secs(10), || {
        served(secondaries[0], quiet) == Some(SERIAL + 1)
    })
    .await;
    assert!(first_in_step);
    let body = propagation(&api, quiet).await;
    assert_eq!(body["serial"], SERIAL + 1, "{body}");
    assert_eq!(body["inStep"], false, "{body}");
    assert_eq!(states(&body), ["inStep", "lagging"], "{body}");
    assert_eq!(body["secondaries"][1]["serial"], SERIAL, "{body}");
    // told at last (the PATCH adds it, NOTIFY goes out), it is in step
    let reply = api
        .patch(
            &format!("/api/v1/zones/{quiet}"),
            &json!({"alsoNotify": secondaries.iter().map(|s| s.to_string()).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!(reply.0, 200, "{}", reply.1);
    assert_eq!(
        api.post_empty(&format!("/api/v1/zones/{quiet}/notify"))
            .await
            .0,
        200
    );
    let caught_up = eventually(Duration::from_secs(10), || {
        served(secondaries[1], quiet) == Some(SERIAL + 1)
    })
    .await;
    assert!(caught_up);
    assert_eq!(propagation(&api, quiet).await["inStep"], true);

    // A secondary stopped during 20 creates, then started again, serves all of them
    let more: Vec<String> = (0..20).map(|i| format!("r{i}.catalog.test")).collect();
    create_all(&api, None, &more[..10], 5).await;
    cluster.secondaries[1].stop();
    let first = eventually(Duration::from_secs(10), || {
        served(secondaries[0], &more[0]) == Some(SERIAL)
    })
    .await;
    assert!(first);
    let body = propagation(&api, &more[0]).await;
    assert_eq!(states(&body), ["inStep", "unreachable"], "{body}");
    create_all(&api, None, &more[10..], 5).await;
    cluster.secondaries[1].start_again();
    let restarted = Instant::now();
    let watcher = Watcher::start(vec![secondaries[1]], Some(SERIAL));
    for zone in &more {
        watcher.watch(zone, restarted);
    }
    let (_, max) = figures(
        "20 zones on a secondary stopped mid-run, from its restart",
        &watcher.finish(Duration::from_secs(15)),
    );
    assert!(max <= 15.0, "{max:.2} s");

    // Deletes: gone from both
    for zone in &zones[..10] {
        assert_eq!(api.delete(&format!("/api/v1/zones/{zone}")).await.0, 200);
    }
    let gone = eventually(Duration::from_secs(15), || {
        zones[..10]
            .iter()
            .all(|z| secondaries.iter().all(|s| served(*s, z).is_none()))
    })
    .await;
    assert!(gone, "deleted zones still served by a secondary");

    // After a backend restart the catalog lists exactly the zones BIND has, whatever happened
    // behind the API's back meanwhile
    drop(backend);
    let p = &cluster.primary;
    let label = |zone: &str| {
        // any label: the repair keeps the API's own and removes strays
        format!("x{}.zones.{CATALOG}.", zone.len())
    };
    assert!(p
        .nsupdate(
            CATALOG,
            &format!(
                "update add {} 0 IN PTR {CONF_ZONE}.\nupdate add {} 0 IN PTR ghost.catalog.test.",
                label(CONF_ZONE),
                label("ghost.catalog.test")
            )
        )
        .status
        .success());
    // a zone deleted outside the API (its member stays), one whose member went
    assert!(p.rndc(&["delzone", &zones[10]]).status.success());
    let target = format!("{}.", zones[11]);
    let own = p
        .axfr(CATALOG)
        .into_iter()
        .find_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            (fields.get(3) == Some(&"PTR") && fields.get(4) == Some(&target.as_str()))
                .then(|| fields[0].to_string())
        })
        .expect("member of zones[11]");
    assert!(p
        .nsupdate(CATALOG, &format!("update delete {own} PTR"))
        .status
        .success());
    backend = cluster.backend();
    let api = Client::new(backend.base_url(), None);
    let exact = eventually(Duration::from_secs(15), || {
        let members = cluster.members();
        !members.contains(&zones[10].to_string())
            && members.contains(&zones[11].to_string())
            && !members
                .iter()
                .any(|m| m == CONF_ZONE || m.starts_with("ghost"))
    })
    .await;
    assert!(
        exact,
        "members: {:?}\nlog:\n{}",
        cluster.members(),
        backend.logs()
    );
    let mut listed = api.zones().await;
    listed.sort();
    assert_eq!(cluster.members(), listed);
    assert!(!listed.contains(&CONF_ZONE.to_string()));
    eprintln!(
        "catalog: {} members after the restart, equal to GET /zones",
        listed.len()
    );
}
