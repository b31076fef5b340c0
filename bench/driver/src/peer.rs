//! Part 6: this backend against bindcar 0.9.0 (the current release), each on its own fresh
//! named, shared-secret auth on both, the same operations, alternated round by round or phase
//! by phase so machine noise hits both alike: sequential create/status/delete over one
//! keep-alive connection, creates per second at 8 clients with the CPU each create cost the
//! server and its named, `GET /zones` at 100, 1,000 (and optionally 10,000) zones, the
//! creates per second of the first and last 1,000 zones, and ListenDrops.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use bindcar_testbed::backend::Backend;
use bindcar_testbed::envoy::workspace_root;
use bindcar_testbed::named::{Named, NamedOptions};
use serde_json::{json, Value};

use crate::client::Client;
use crate::clock::Clock;
use crate::proc_cpu::{clock_ticks, cpu_ticks};
use crate::setup::zone_body;
use crate::stats::{median, percentile, ratio};
use crate::ZONES;

/// The peer's version: `make bench` installs it (scripts/setup.sh, WITH_BENCH=1).
pub(crate) const PEER_VERSION: &str = "0.9.0";
pub(crate) const TOKEN: &str = "bench-shared-secret-0123456789";
pub(crate) const CLIENTS: usize = 8;
/// Sequential operations per server and round, over `ROUNDS` rounds in alternating order.
const SEQUENTIAL: usize = 40;
const ROUNDS: usize = 5;
/// Creates at 8 clients per server and round, over `BURST_ROUNDS` rounds (enough for the
/// round's CPU time to span some 20 clock ticks per server; 100 + 4 × 200 stays under the
/// 1,000 zones of the next phase).
const BURST: usize = 200;
const BURST_ROUNDS: usize = 4;
const LIST_SAMPLES: usize = 20;

/// One server under test with its own named.
pub(crate) struct Peer {
    pub(crate) id: &'static str,
    pub(crate) named: Named,
    pub(crate) backend: Backend,
    /// Zones created so far (names `f<n>.peer.test`).
    pub(crate) zones: usize,
    /// Time spent creating the fill zones, and when each 1,000th create completed on it.
    pub(crate) fill_secs: f64,
    pub(crate) thousands: Vec<f64>,
    /// CPU ticks the server and its named spent in the timed creates (burst and fills).
    pub(crate) fill_cpu: [u64; 2],
    /// Last, so that it goes after named and the server are stopped.
    _root: Trash,
}

/// A directory removed in the background once dropped: its zones' files (tens of thousands)
/// take minutes to unlink on this disk (ext4 mounted with `discard`: about 1,000 files a
/// second), which the bench need not wait for. `rm` runs in a process group of its own, at
/// the lowest priority, so that stopping the bench's group does not stop the clean-up.
struct Trash(PathBuf);

impl Drop for Trash {
    fn drop(&mut self) {
        use std::os::unix::process::CommandExt as _;
        let removed = Command::new("nice")
            .args(["-n", "19", "rm", "-rf", "--"])
            .arg(&self.0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        if removed.is_err() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// What one [`fill`] measured.
pub(crate) struct Filled {
    /// Zones created.
    pub(crate) created: usize,
    pub(crate) per_sec: f64,
    /// CPU ticks of the server and of its named during the fill.
    pub(crate) cpu: [u64; 2],
}

/// bindcar 0.9.0, installed by `make bench` (scripts/setup.sh, WITH_BENCH=1).
pub(crate) fn reference_binary() -> std::path::PathBuf {
    std::env::var_os("BINDCAR_REFERENCE_BIN")
        .map(Into::into)
        .unwrap_or_else(|| workspace_root().join(".tools/bindcar/bin/bindcar"))
}

/// The peer binary, or why it is missing.
pub(crate) fn peer_binary() -> Result<std::path::PathBuf> {
    let binary = reference_binary();
    ensure!(
        binary.is_file(),
        "{} is missing: run `WITH_BENCH=1 scripts/setup.sh` (installs bindcar {PEER_VERSION})",
        binary.display()
    );
    Ok(binary)
}

/// The server `id` ("bindcar" or "ours") on `named`, once it answers `/api/v1/health`.
/// bindcar 0.9.0 writes `file "<BIND_ZONE_DIR>/<zone>.zone"` into `addzone` (an absolute path)
/// and rate limits by default (bindcar.md §10): the limit is turned off on both, the API bound
/// to loopback (the testbed's default), shared-secret auth on both.
fn spawn(id: &str, named: &Named) -> Result<Backend> {
    let mut env = named.backend_env();
    env.push(("BIND_API_TOKEN".into(), TOKEN.into()));
    env.push(("RUST_LOG".into(), "warn".into()));
    env.push(("RATE_LIMIT_ENABLED".into(), "false".into()));
    if id == "bindcar" {
        env.retain(|(k, _)| k != "BIND_STATS_URL");
        Backend::try_start_binary(&peer_binary()?, env, &[])
    } else {
        Backend::try_start(env, &[])
    }
}

/// Stops the server (SIGTERM, as a rollout does) and starts it again on the same named;
/// returns when the new process was started (it answers `/api/v1/health` on return).
pub(crate) fn restart(peer: &mut Peer) -> Result<Instant> {
    peer.backend
        .terminate(std::time::Duration::from_secs(30))
        .with_context(|| format!("stopping {}", peer.id))?;
    let started = Instant::now();
    peer.backend = spawn(peer.id, &peer.named)?;
    Ok(started)
}

/// `id` is "bindcar" (the peer) or "ours", each with a fresh named.
pub(crate) fn start(id: &'static str) -> Result<Peer> {
    let root = Trash(
        tempfile::Builder::new()
            .prefix("bindcar-bench-named-")
            .tempdir()?
            .keep(),
    );
    let named = Named::try_start(NamedOptions {
        root: Some(root.0.clone()),
        ..NamedOptions::default()
    })?;
    let backend = spawn(id, &named)?;
    Ok(Peer {
        id,
        named,
        backend,
        zones: 0,
        fill_secs: 0.0,
        thousands: Vec::new(),
        fill_cpu: [0; 2],
        _root: root,
    })
}

/// TcpExt ListenDrops of the whole machine.
pub(crate) fn listen_drops() -> u64 {
    let text = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("TcpExt:")).collect();
    if lines.len() < 2 {
        return 0;
    }
    let names = lines[0].split_whitespace();
    let values = lines[1].split_whitespace();
    names
        .zip(values)
        .find(|(n, _)| *n == "ListenDrops")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

fn summary(t: &[f64]) -> Value {
    json!({"n": t.len(), "p50_ms": median(t), "p99_ms": percentile(t, 99.0)})
}

/// `SEQUENTIAL` × (create, status, delete) over one keep-alive connection, after 5 not
/// timed; the times of each operation, ms.
fn sequential(peer: &Peer, round: usize) -> Result<[Vec<f64>; 3]> {
    let mut client = Client::with_token(peer.backend.port(), TOKEN);
    let mut times: [Vec<f64>; 3] = Default::default();
    for i in 0..SEQUENTIAL + 5 {
        let zone = format!("seq{round}-{i}.peer.test");
        let steps = [
            ("POST", ZONES.to_string(), Some(zone_body(&zone)), 201),
            ("GET", format!("{ZONES}/{zone}/status"), None, 200),
            ("DELETE", format!("{ZONES}/{zone}"), None, 200),
        ];
        for (k, (method, path, body, expect)) in steps.into_iter().enumerate() {
            let a = client.call(method, &path, body.as_deref())?;
            ensure!(
                a.status == expect,
                "{}: {method} {path} → {} {}",
                peer.id,
                a.status,
                String::from_utf8_lossy(&a.body)
            );
            if i >= 5 {
                times[k].push(a.elapsed.as_secs_f64() * 1e3);
            }
        }
    }
    Ok(times)
}

/// The servers in the order of round `round`: bindcar first in even rounds, ours in odd ones.
fn order(round: usize) -> [usize; 2] {
    if round.is_multiple_of(2) {
        [0, 1]
    } else {
        [1, 0]
    }
}

/// Creates zones until the peer has `to`, at 8 clients: creates per second and CPU spent.
pub(crate) fn fill(peer: &mut Peer, to: usize) -> Result<Filled> {
    fill_until(peer, to, None)
}

/// [`fill`], the clients taking no new zone past `deadline` (the zones made stay numbered
/// without a gap: every create taken is finished).
pub(crate) fn fill_until(peer: &mut Peer, to: usize, deadline: Option<Instant>) -> Result<Filled> {
    let from = peer.zones;
    if to <= from {
        return Ok(Filled {
            created: 0,
            per_sec: 0.0,
            cpu: [0; 2],
        });
    }
    let next = Arc::new(AtomicUsize::new(from));
    let done = Arc::new(AtomicUsize::new(from));
    let port = peer.backend.port();
    let started = Instant::now();
    let base = peer.fill_secs;
    let marks = std::sync::Mutex::new(Vec::new());
    let cpu_before = cpu_pair(peer);
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (next, done, marks) = (next.clone(), done.clone(), &marks);
                s.spawn(move || -> Result<()> {
                    let mut client = Client::with_token(port, TOKEN);
                    loop {
                        if deadline.is_some_and(|d| Instant::now() > d) {
                            return Ok(());
                        }
                        let n = next.fetch_add(1, Ordering::SeqCst);
                        if n >= to {
                            return Ok(());
                        }
                        let zone = format!("f{n}.peer.test");
                        let a = client.call("POST", ZONES, Some(&zone_body(&zone)))?;
                        ensure!(
                            a.status == 201,
                            "create {zone}: {} {}",
                            a.status,
                            String::from_utf8_lossy(&a.body)
                        );
                        let count = done.fetch_add(1, Ordering::SeqCst) + 1;
                        if count % 1000 == 0 {
                            if let Ok(mut m) = marks.lock() {
                                m.push((count, base + started.elapsed().as_secs_f64()));
                            }
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("client thread"))??;
        }
        Ok(())
    })?;
    let secs = started.elapsed().as_secs_f64();
    let cpu_after = cpu_pair(peer);
    let cpu = [0, 1].map(|k| cpu_after[k].saturating_sub(cpu_before[k]));
    for (total, spent) in peer.fill_cpu.iter_mut().zip(cpu) {
        *total += spent;
    }
    peer.fill_secs += secs;
    let reached = done.load(Ordering::SeqCst);
    peer.zones = reached;
    let mut m = marks.into_inner().unwrap_or_default();
    m.sort_by_key(|(count, _)| *count);
    peer.thousands.extend(m.into_iter().map(|(_, t)| t));
    Ok(Filled {
        created: reached - from,
        per_sec: (reached - from) as f64 / secs,
        cpu,
    })
}

/// What one round of durability costs on this disk, next to the servers: a 300-byte file just
/// written in `dir` and its directory fsynced side by side (the durability a create of ours
/// waits for and bindcar does not). Median ms of 100.
fn fsync_round_ms(dir: &std::path::Path) -> Result<f64> {
    use std::io::Write as _;
    let scratch = dir.join("fsync-probe");
    std::fs::create_dir_all(&scratch)?;
    let mut times = Vec::new();
    for i in 0..100 {
        let mut file = std::fs::File::create(scratch.join(format!("f{i}")))?;
        file.write_all(&[b'x'; 300])?;
        let started = Instant::now();
        let dir_synced = std::thread::scope(|s| {
            let dir = s.spawn(|| std::fs::File::open(&scratch)?.sync_all());
            file.sync_all()?;
            dir.join()
                .map_err(|_| std::io::Error::other("fsync thread"))?
        });
        dir_synced?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    std::fs::remove_dir_all(&scratch)?;
    Ok(median(&times))
}

/// CPU ticks so far of the server and of its named (0 where unreadable).
pub(crate) fn cpu_pair(peer: &Peer) -> [u64; 2] {
    let ticks = |pid: Option<u32>| pid.and_then(|p| cpu_ticks(p).ok()).unwrap_or(0);
    [ticks(peer.backend.pid()), ticks(peer.named.pid())]
}

/// `GET /zones` p50 over `LIST_SAMPLES` calls; checks the count.
pub(crate) fn list(peer: &Peer) -> Result<Value> {
    let mut client = Client::with_token(peer.backend.port(), TOKEN);
    let mut times = Vec::new();
    for i in 0..LIST_SAMPLES + 2 {
        let a = client.call("GET", ZONES, None)?;
        ensure!(a.status == 200, "{}: GET {ZONES} → {}", peer.id, a.status);
        let v: Value = serde_json::from_slice(&a.body)?;
        let count = v["count"].as_u64().context("no count")? as usize;
        ensure!(
            count == peer.zones,
            "{}: GET {ZONES} listed {count} of {} zones",
            peer.id,
            peer.zones
        );
        if i >= 2 {
            times.push(a.elapsed.as_secs_f64() * 1e3);
        }
    }
    Ok(json!({"zones": peer.zones, "p50_ms": median(&times), "p99_ms": percentile(&times, 99.0)}))
}

/// What the part reports per server (bindcar, ours), and the ListenDrops during its phases.
#[derive(Default)]
struct Record {
    out: [serde_json::Map<String, Value>; 2],
    drops: [u64; 2],
}

impl Record {
    fn drops_during<T>(&mut self, k: usize, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let before = listen_drops();
        let v = f()?;
        self.drops[k] += listen_drops().saturating_sub(before);
        Ok(v)
    }
}

/// The whole part; `max_zones` is 1,000 or 10,000.
pub(crate) fn peer(clock: &Clock, max_zones: usize) -> Result<Value> {
    clock.check("bindcar comparison")?;
    say!("peer: starting bindcar {PEER_VERSION} and this backend, each on its own named");
    let mut peers = [start("bindcar")?, start("ours")?];
    let mut rec = Record::default();
    let drops_before = listen_drops();
    // Each phase runs on bindcar, then on ours.
    let phase = |rec: &mut Record,
                 name: &str,
                 peers: &mut [Peer; 2],
                 f: &mut dyn FnMut(&mut Peer) -> Result<Value>|
     -> Result<()> {
        for (k, p) in peers.iter_mut().enumerate() {
            clock.check(name)?;
            let v = rec.drops_during(k, || f(p))?;
            say!("peer: {name} {}: {v}", p.id);
            rec.out[k].insert(name.to_string(), v);
        }
        Ok(())
    };
    // Sequential operations, then creates at 8 clients: rounds in alternating order, each
    // ratio taken within its round (bindcar's p50 / ours; our rate / bindcar's).
    let mut pooled: [[Vec<f64>; 3]; 2] = Default::default();
    let mut per_round: [Vec<f64>; 3] = Default::default();
    for round in 0..ROUNDS {
        clock.check("sequential")?;
        let mut p50 = [[f64::NAN; 3]; 2];
        for k in order(round) {
            let times = rec.drops_during(k, || sequential(&peers[k], round))?;
            for op in 0..3 {
                p50[k][op] = median(&times[op]);
                pooled[k][op].extend(&times[op]);
            }
        }
        for op in 0..3 {
            per_round[op].push(p50[0][op] / p50[1][op]);
        }
    }
    let mut ratios = serde_json::Map::new();
    for (op, name) in ["create", "status", "delete"].into_iter().enumerate() {
        ratios.insert(format!("{name}_p50"), json!(ratio(per_round[op].clone())));
    }
    for (k, p) in peers.iter().enumerate() {
        let v = json!({
            "create": summary(&pooled[k][0]),
            "status": summary(&pooled[k][1]),
            "delete": summary(&pooled[k][2]),
        });
        say!("peer: sequential {}: {v}", p.id);
        rec.out[k].insert("sequential".into(), v);
    }
    let fsync_ms = fsync_round_ms(peers[1].named.zone_dir())?;
    say!("peer: one fsync round (file and directory side by side) on this disk: {fsync_ms:.3} ms");
    phase(&mut rec, "list_0", &mut peers, &mut |p| list(p))?;
    phase(&mut rec, "fill_100", &mut peers, &mut |p| {
        Ok(json!(fill(p, 100)?.per_sec))
    })?;
    phase(&mut rec, "list_100", &mut peers, &mut |p| list(p))?;
    // Creates at 8 clients, and what each cost the server and its named in CPU (µs per
    // create; ratios bindcar's / ours, > 1: ours cheaper).
    let mut rates: [Vec<f64>; 2] = Default::default();
    let mut cpus: [[Vec<f64>; 3]; 2] = Default::default();
    let mut rate_ratios = Vec::new();
    let mut cpu_ratios: [Vec<f64>; 3] = Default::default();
    let us_per_create = |ticks: u64| ticks as f64 / clock_ticks() * 1e6 / BURST as f64;
    for round in 0..BURST_ROUNDS {
        clock.check("creates at 8 clients")?;
        let mut rate = [f64::NAN; 2];
        let mut cpu = [[f64::NAN; 3]; 2];
        for k in order(round) {
            let to = peers[k].zones + BURST;
            let filled = rec.drops_during(k, || fill(&mut peers[k], to))?;
            rate[k] = filled.per_sec;
            let [server, named] = filled.cpu;
            cpu[k] = [server, named, server + named].map(us_per_create);
            rates[k].push(rate[k]);
            for (what, x) in cpu[k].iter().enumerate() {
                cpus[k][what].push(*x);
            }
        }
        rate_ratios.push(rate[1] / rate[0]);
        for what in 0..3 {
            cpu_ratios[what].push(cpu[0][what] / cpu[1][what]);
        }
    }
    for (k, p) in peers.iter().enumerate() {
        say!("peer: creates_per_sec_8_clients {}: {:?}", p.id, rates[k]);
        let out = &mut rec.out[k];
        out.insert("creates_per_sec_8_clients".into(), json!(median(&rates[k])));
        out.insert("creates_per_sec_8_clients_rounds".into(), json!(rates[k]));
        out.insert(
            "burst_cpu_us_per_create".into(),
            json!({
                "server": median(&cpus[k][0]),
                "named": median(&cpus[k][1]),
                "total": median(&cpus[k][2]),
                "rounds_total": cpus[k][2],
            }),
        );
    }
    ratios.insert(
        "creates_per_sec_8_clients".into(),
        json!(ratio(rate_ratios)),
    );
    for (what, name) in ["server", "named", "total"].into_iter().enumerate() {
        ratios.insert(
            format!("cpu_per_create_{name}"),
            json!(ratio(cpu_ratios[what].clone())),
        );
    }
    phase(&mut rec, "fill_1000", &mut peers, &mut |p| {
        Ok(json!(fill(p, 1000)?.per_sec))
    })?;
    phase(&mut rec, "list_1000", &mut peers, &mut |p| list(p))?;
    if max_zones >= 10_000 {
        phase(&mut rec, "fill_10000", &mut peers, &mut |p| {
            Ok(json!(fill(p, 10_000)?.per_sec))
        })?;
        phase(&mut rec, "list_10000", &mut peers, &mut |p| list(p))?;
    }
    let mut report = serde_json::Map::new();
    for (k, p) in peers.iter().enumerate() {
        let t = &p.thousands;
        let rate = |a: usize, b: usize| -> Value {
            match (t.get(a), t.get(b)) {
                (Some(x), Some(y)) if y > x => json!(1000.0 / (y - x)),
                _ => Value::Null,
            }
        };
        let first = t.first().map(|x| json!(1000.0 / x)).unwrap_or(Value::Null);
        let last = if t.len() >= 10 {
            rate(t.len() - 2, t.len() - 1)
        } else {
            Value::Null
        };
        let out = &mut rec.out[k];
        out.insert("first_1000_creates_per_sec".into(), first);
        out.insert("last_1000_creates_per_sec".into(), last);
        out.insert("listen_drops".into(), json!(rec.drops[k]));
        // CPU per create over every concurrent create (the burst and the fills): the figure
        // the neighbours on a shared machine disturb least.
        let us = |ticks: u64| json!(ticks as f64 / clock_ticks() * 1e6 / p.zones.max(1) as f64);
        out.insert("server_cpu_us_per_create".into(), us(p.fill_cpu[0]));
        out.insert("named_cpu_us_per_create".into(), us(p.fill_cpu[1]));
        out.insert(
            "total_cpu_us_per_create".into(),
            us(p.fill_cpu[0] + p.fill_cpu[1]),
        );
        report.insert(p.id.to_string(), Value::Object(out.clone()));
    }
    Ok(json!({
        "reference": reference_binary().display().to_string(),
        "reference_version": PEER_VERSION,
        "auth": "shared secret (BIND_API_TOKEN) on both",
        "clients": CLIENTS,
        "sequential_iterations": SEQUENTIAL * ROUNDS,
        "sequential_rounds": ROUNDS,
        "burst_creates": BURST,
        "burst_rounds": BURST_ROUNDS,
        "ratios": ratios,
        "max_zones": max_zones,
        "listen_drops_total": listen_drops().saturating_sub(drops_before),
        "fsync_round_ms": fsync_ms,
        "servers": report,
    }))
}
