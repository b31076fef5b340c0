//! Part 7: secondaries that follow a catalog zone (RFC 9432), against one API call per
//! secondary (bindcar 0.9.0 driven the way bindy drives it). For each: one primary and two
//! BIND secondaries on loopback; `CATALOG_ZONES` zones created through the API, 4 at a time;
//! the time from each 201 to the zone served on each secondary (polled over UDP,
//! `bindcar_testbed::soa::Watcher`), p50/p99/max; one secondary killed (SIGKILL) halfway and
//! started again at 70 %, and the time from its start until it serves every zone created so
//! far. bindy's way: the zone is created on the primary's bindcar (`alsoNotify` the
//! secondaries), then on each secondary's bindcar as a secondary zone; calls to the dead
//! secondary fail and are retried once it is back (bindy's reconcile loop), and the catch-up
//! counts until those retries are served. Both sets of secondaries have the same transfer
//! limits (`TRANSFER_LIMITS`). Skipped when `BENCH_SKIP_CATALOG` is set; alone with
//! `bench --only catalog`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use bindcar_testbed::backend::Backend;
use bindcar_testbed::catalog::{
    secondary_options, CATALOG, MIN_UPDATE_INTERVAL, PRIMARY_OPTIONS, TRANSFER_LIMITS,
};
use bindcar_testbed::named::{Named, NamedOptions};
use bindcar_testbed::soa::{soa_serial, Arrival, Watcher};
use serde_json::{json, Value};

use crate::client::Client;
use crate::clock::Clock;
use crate::peer::reference_binary;
use crate::setup::{env, zone_body};
use crate::stats::{median, percentile};

const TOKEN: &str = "bench-catalog-token";
const IN_FLIGHT: usize = 4;
/// How long a secondary may take to serve the last zone before it counts as never.
const WAIT: Duration = Duration::from_secs(60);

fn address(named: &Named) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], named.dns_port()))
}

/// One way of keeping secondaries in step: what a create of `zone` is, as HTTP calls.
trait Way {
    /// Creates the zone on the primary (the 201 the timing starts from); `Err` is fatal.
    fn create(&self, client: &mut Clients, zone: &str) -> Result<()>;
    /// What else the zone needs on secondary `i` (nothing with the catalog); `false` when that
    /// secondary's API call failed and must be retried.
    fn on_secondary(&self, client: &mut Clients, zone: &str, i: usize) -> bool;
}

/// POSTs `body` to the primary's API: anything but a 201 is fatal.
fn create_on_primary(c: &mut Clients, zone: &str, body: &[u8]) -> Result<()> {
    let a = c.primary.call("POST", "/api/v1/zones", Some(body))?;
    ensure!(
        a.status == 201,
        "create {zone}: {} {}",
        a.status,
        String::from_utf8_lossy(&a.body)
    );
    Ok(())
}

/// One keep-alive client per server a worker talks to.
struct Clients {
    primary: Client,
    secondaries: Vec<Client>,
}

struct Catalog;

impl Way for Catalog {
    fn create(&self, c: &mut Clients, zone: &str) -> Result<()> {
        create_on_primary(c, zone, &zone_body(zone))
    }

    fn on_secondary(&self, _: &mut Clients, _: &str, _: usize) -> bool {
        true
    }
}

/// bindy's calls against bindcar 0.9.0: the primary zone notifies and lets transfer the
/// secondaries; each secondary's bindcar then adds it as a secondary zone of the primary.
struct PerSecondary {
    primary_dns: u16,
    secondary_dns: Vec<u16>,
}

impl Way for PerSecondary {
    fn create(&self, c: &mut Clients, zone: &str) -> Result<()> {
        let mut body: Value = serde_json::from_slice(&zone_body(zone))?;
        body["updateKeyName"] = json!("rndc-key");
        body["zoneConfig"]["alsoNotify"] = json!(self
            .secondary_dns
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>());
        body["zoneConfig"]["allowTransfer"] = json!(["127.0.0.1"]);
        create_on_primary(c, zone, body.to_string().as_bytes())
    }

    fn on_secondary(&self, c: &mut Clients, zone: &str, i: usize) -> bool {
        let body = json!({
            "zoneName": zone,
            "zoneType": "secondary",
            "updateKeyName": "rndc-key",
            "zoneConfig": {
                "ttl": 300,
                "soa": {"primaryNs": format!("ns1.{zone}."), "adminEmail": format!("hostmaster.{zone}.")},
                "nameServers": [], "nameServerIps": {}, "records": [],
                "primaries": [format!("127.0.0.1:{}", self.primary_dns)],
            },
        })
        .to_string();
        matches!(
            c.secondaries[i].call("POST", "/api/v1/zones", Some(body.as_bytes())),
            Ok(a) if a.status == 201 || a.status == 409
        )
    }
}

/// Creates `n` zones through `way`, IN_FLIGHT at a time, secondary 1 killed at half and
/// started again at 70 %; the figures.
fn measure(
    way: Arc<dyn Way + Send + Sync>,
    clients: impl Fn() -> Clients + Send + Sync + 'static,
    secondaries: &mut [Named; 2],
    n: usize,
    tag: &str,
) -> Result<Value> {
    let addresses: Vec<SocketAddr> = secondaries.iter().map(address).collect();
    let up = Watcher::start(vec![addresses[0]], None);
    let second = Watcher::start(vec![addresses[1]], None);
    let next = Arc::new(AtomicUsize::new(0));
    let (done_tx, done) = channel::<(String, Instant, bool)>();
    let clients = Arc::new(clients);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (way, next, done_tx, clients) =
            (way.clone(), next.clone(), done_tx.clone(), clients.clone());
        let tag = tag.to_string();
        workers.push(std::thread::spawn(move || -> Result<Vec<f64>> {
            let mut c = clients();
            let mut create_ms = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    return Ok(create_ms);
                }
                let zone = format!("z{i}.{tag}.bench.test");
                let t = Instant::now();
                way.create(&mut c, &zone)?;
                let created = Instant::now();
                create_ms.push((created - t).as_secs_f64() * 1e3);
                // the first secondary is never killed: its calls always succeed
                way.on_secondary(&mut c, &zone, 0);
                let reached = way.on_secondary(&mut c, &zone, 1);
                let _ = done_tx.send((zone, created, reached));
            }
        }));
    }
    drop(done_tx);
    let (kill_at, restart_at) = (n / 2, n * 7 / 10);
    let mut created = Vec::new();
    let mut retries = Vec::new();
    let mut down = false;
    let mut restarted: Option<Instant> = None;
    let mut retried = 0;
    let mut c = clients();
    for (zone, at, reached) in done.iter() {
        up.watch(&zone, at);
        if !down && restarted.is_none() && created.len() + 1 == kill_at {
            secondaries[1].crash();
            down = true;
        }
        match (down, restarted, reached) {
            (false, None, true) => second.watch(&zone, at),
            _ if !reached => retries.push(zone.clone()),
            _ => {}
        }
        created.push((zone, at));
        if down && created.len() >= restart_at {
            secondaries[1].start_again();
            restarted = Some(Instant::now());
            down = false;
            // bindy's reconcile retrying, at once, the calls the dead secondary failed
            retried += retries.len();
            retries.retain(|zone| !way.on_secondary(&mut c, zone, 1));
        }
    }
    let mut create_ms = Vec::new();
    for w in workers {
        create_ms.extend(w.join().map_err(|_| anyhow::anyhow!("worker panicked"))??);
    }
    let wall = started.elapsed().as_secs_f64();
    let restarted = restarted.context("the secondary was never restarted")?;
    // calls that failed after the restart (the secondary still starting), once more
    retried += retries.len();
    retries.retain(|zone| !way.on_secondary(&mut c, zone, 1));
    let catch_up = Watcher::start(vec![addresses[1]], None);
    for (zone, _) in &created {
        catch_up.watch(zone, restarted);
    }
    let first = up.finish(WAIT);
    let before = second.finish(WAIT);
    let caught = catch_up.finish(WAIT);
    let mut after: Vec<f64> = Vec::new();
    let mut never = 0;
    for a in first.iter().chain(before.iter()) {
        match a.after {
            Some(d) => after.push(d.as_secs_f64()),
            None => never += 1,
        }
    }
    let spread = |arrivals: &[Arrival]| {
        let secs: Vec<f64> = arrivals
            .iter()
            .filter_map(|a| a.after.map(|d| d.as_secs_f64()))
            .collect();
        json!({
            "pairs": secs.len(),
            "never": arrivals.len() - secs.len(),
            "p50_secs": median(&secs),
            "p99_secs": percentile(&secs, 99.0),
            "max_secs": secs.iter().copied().fold(0.0, f64::max),
        })
    };
    let catch_up_secs = caught
        .iter()
        .map(|a: &Arrival| a.after.map_or(f64::INFINITY, |d| d.as_secs_f64()))
        .fold(0.0, f64::max);
    Ok(json!({
        "zones": n,
        "in_flight": IN_FLIGHT,
        "wall_secs": wall,
        "creates_per_sec": n as f64 / wall,
        "create_p50_ms": median(&create_ms),
        "create_p99_ms": percentile(&create_ms, 99.0),
        "served_after_201": {
            "pairs": after.len(),
            "never": never,
            "p50_secs": median(&after),
            "p99_secs": percentile(&after, 99.0),
            "max_secs": after.iter().copied().fold(0.0, f64::max),
            "secondary_0": spread(&first),
            "secondary_1_before_its_kill": spread(&before),
        },
        "restart": {
            "killed_after_creates": kill_at,
            "started_again_after_creates": restart_at,
            "zones_to_catch_up": created.len(),
            "api_calls_retried": retried,
            "api_calls_never_accepted": retries.len(),
            "served_all_after_secs": catch_up_secs,
            "never": caught.iter().filter(|a| a.after.is_none()).count(),
        },
    }))
}

fn wait_served(server: SocketAddr, zone: &str, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if matches!(
            soa_serial(server, zone, Duration::from_millis(300)),
            Ok(Some(_))
        ) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    anyhow::bail!("{server} did not serve {zone} within {within:?}")
}

/// This backend keeping a catalog zone, two secondaries following it.
fn primary_options() -> NamedOptions {
    NamedOptions {
        extra_options: PRIMARY_OPTIONS.to_string(),
        ..NamedOptions::default()
    }
}

fn ours(n: usize) -> Result<Value> {
    let primary = Named::try_start(primary_options())?;
    let mut secondaries = [
        Named::try_start(secondary_options(CATALOG, primary.dns_port()))?,
        Named::try_start(secondary_options(CATALOG, primary.dns_port()))?,
    ];
    let list: Vec<String> = secondaries.iter().map(|s| address(s).to_string()).collect();
    let mut backend_env = primary.backend_env();
    backend_env.extend(env(&[
        ("DISABLE_AUTH", "true"),
        ("RATE_LIMIT_ENABLED", "false"),
        ("RUST_LOG", "warn"),
        ("BIND_CATALOG_ZONE", CATALOG),
        ("NSUPDATE_SERVER", "127.0.0.1"),
    ]));
    backend_env.push(("NSUPDATE_PORT".into(), primary.dns_port().to_string()));
    backend_env.push(("BIND_CATALOG_SECONDARIES".into(), list.join(",")));
    let backend = Backend::try_start(backend_env, &[])?;
    for s in &secondaries {
        wait_served(address(s), CATALOG, Duration::from_secs(30))?;
    }
    let port = backend.port();
    let figures = measure(
        Arc::new(Catalog),
        move || Clients {
            primary: Client::new(port),
            secondaries: Vec::new(),
        },
        &mut secondaries,
        n,
        "catalog",
    )?;
    drop(backend);
    Ok(figures)
}

/// bindcar 0.9.0 on each of three nameds, driven as bindy drives it.
fn per_secondary(n: usize) -> Result<Value> {
    let binary = reference_binary();
    ensure!(
        binary.is_file(),
        "{} is missing: run `WITH_BENCH=1 scripts/setup.sh`",
        binary.display()
    );
    let start = |named: &Named| -> Result<Backend> {
        let mut e = named.backend_env();
        e.retain(|(k, _)| k != "BIND_ZONE_DIR" && k != "BIND_STATS_URL");
        e.push((
            "BIND_ZONE_DIR".into(),
            named.run_dir().display().to_string(),
        ));
        e.extend(env(&[
            ("BIND_API_TOKEN", TOKEN),
            ("RATE_LIMIT_ENABLED", "false"),
            ("RUST_LOG", "warn"),
        ]));
        e.push(("NSUPDATE_PORT".into(), named.dns_port().to_string()));
        Backend::try_start_binary(&binary, e, &[])
    };
    let primary = Named::try_start(primary_options())?;
    // the same transfer limits as the catalog's secondaries
    let tuned = || NamedOptions {
        extra_options: TRANSFER_LIMITS.to_string(),
        ..NamedOptions::default()
    };
    let mut secondaries = [Named::try_start(tuned())?, Named::try_start(tuned())?];
    let apis = [
        start(&primary)?,
        start(&secondaries[0])?,
        start(&secondaries[1])?,
    ];
    let ports: Vec<u16> = apis.iter().map(Backend::port).collect();
    let way = PerSecondary {
        primary_dns: primary.dns_port(),
        secondary_dns: secondaries.iter().map(Named::dns_port).collect(),
    };
    let figures = measure(
        Arc::new(way),
        move || Clients {
            primary: Client::with_token(ports[0], TOKEN),
            secondaries: vec![
                Client::with_token(ports[1], TOKEN),
                Client::with_token(ports[2], TOKEN),
            ],
        },
        &mut secondaries,
        n,
        "bindy",
    )?;
    drop(apis);
    Ok(figures)
}

pub(crate) fn catalog(clock: &Clock, n: usize) -> Result<Value> {
    clock.check("the catalog part")?;
    say!("catalog: {n} zones, this backend with a catalog zone and two secondaries");
    let catalog = ours(n)?;
    say!(
        "  201 to served on a secondary: p50 {:.2} s, p99 {:.2} s, max {:.2} s; a restarted secondary served all {} zones {:.1} s after its start",
        catalog["served_after_201"]["p50_secs"].as_f64().unwrap_or(f64::NAN),
        catalog["served_after_201"]["p99_secs"].as_f64().unwrap_or(f64::NAN),
        catalog["served_after_201"]["max_secs"].as_f64().unwrap_or(f64::NAN),
        catalog["restart"]["zones_to_catch_up"],
        catalog["restart"]["served_all_after_secs"].as_f64().unwrap_or(f64::NAN),
    );
    clock.check("the per-secondary comparison")?;
    say!("catalog: the same with bindcar 0.9.0, one call per secondary (bindy's way)");
    let bindy = per_secondary(n)?;
    say!(
        "  201 to served on a secondary: p50 {:.2} s, p99 {:.2} s, max {:.2} s; a restarted secondary served all {} zones {:.1} s after its start",
        bindy["served_after_201"]["p50_secs"].as_f64().unwrap_or(f64::NAN),
        bindy["served_after_201"]["p99_secs"].as_f64().unwrap_or(f64::NAN),
        bindy["served_after_201"]["max_secs"].as_f64().unwrap_or(f64::NAN),
        bindy["restart"]["zones_to_catch_up"],
        bindy["restart"]["served_all_after_secs"].as_f64().unwrap_or(f64::NAN),
    );
    Ok(json!({
        "secondary_settings": {
            "min_update_interval_secs": MIN_UPDATE_INTERVAL,
            "catalog_zone": "min-retry-time 1; max-retry-time 10",
            "primary_catalog_notify_delay_secs": 0,
        },
        "catalog": catalog,
        "bindcar_0_9_0_per_secondary": bindy,
        "method": "201 (on the primary's API) to the zone's SOA answered by the secondary; \
                   bindy's way times from the primary's 201 too, its secondary calls following it",
    }))
}
