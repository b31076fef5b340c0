//! `make bench`: the filter's cost and the backend's speed, measured side by side on
//! loopback and reported as ratios (see `bench/README.md` for what each figure means).
//!
//! Every throughput figure comes from `wrk` at one fixed concurrency. The variants compared
//! with each other run one after the other inside a round, in an order that rotates from
//! round to round, so machine noise hits every variant alike; each ratio is taken within a
//! round and the median over the rounds is reported.
//!
//! Everything this starts (Envoys, the TokenReview server, named, bindcar, wrk) is owned by
//! a value that kills it when dropped, so it stops on success, on error and on panic.
//!
//! Parts, one module each: `filter_cpu` (0: Envoy's CPU per request, one worker),
//! `filter_cost` (1, 2 and 5), `reference` (3), `zone_ops` (4), `record_ops`, `peer` (6),
//! `catalog` (7: secondaries following a catalog zone, against bindcar 0.9.0 per secondary);
//! the processes come from `bindcar-testbed`, the load from `wrk`.

/// Progress on stderr (stdout stays for the caller).
macro_rules! say {
    ($($arg:tt)*) => { eprintln!("bench: {}", format!($($arg)*)) };
}

mod catalog;
mod client;
mod clock;
mod cpu_envoys;
mod filter_cost;
mod filter_cpu;
mod machine;
mod options;
mod peer;
mod proc_cpu;
mod record_ops;
mod reference;
mod responder;
mod rounds;
mod setup;
mod stats;
mod targets;
mod wrk;
mod zone_ops;
mod zones_100k;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use bindcar_testbed::backend::Backend;
use bindcar_testbed::envoy::{wasm_path, workspace_root};
use bindcar_testbed::named::{Named, NamedOptions};
use bindcar_testbed::tokenreview::{ServerOptions, TokenReviewServer};
use serde_json::{json, Value};

use crate::clock::Clock;
use crate::filter_cost::filter_cost;
use crate::machine::machine;
use crate::options::Options;
use crate::peer::PEER_VERSION;
use crate::reference::reference;
use crate::setup::env;
use crate::targets::targets;
use crate::wrk::Load;
use crate::zone_ops::zone_ops;

/// The route every load run asks for (through Envoy to the fast upstream in part 1, to the
/// real backend in part 3).
const ZONES: &str = "/api/v1/zones";
/// Namespace of every ServiceAccount token the load sends (the one namespace allowed).
const NAMESPACE: &str = "dns-system";
const AUDIENCE: &str = "bindcar";
/// Verdict life in the filter and in the cached backend: the default, stated explicitly.
const CACHE_TTL_SECS: u64 = 60;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: {}", options::USAGE);
        return std::process::ExitCode::SUCCESS;
    }
    let result = Options::from_args(&args).and_then(|opts| run(&opts));
    match result {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The record path on this backend and (when installed) on bindcar 0.9.0, same named.
fn record_section(clock: &Clock, named: &Named, mesh: &Backend) -> Result<Value> {
    say!("record path: this backend");
    let ours = record_ops::record_ops(clock, mesh.port(), "records.bench.test")?;
    let peer = match record_ops::start_peer(named)? {
        Some(peer) => {
            say!("record path: bindcar {PEER_VERSION} (nsupdate)");
            record_ops::record_ops(clock, peer.port, "peer.bench.test")?
        }
        None => json!(null),
    };
    let peer_name = format!("bindcar {PEER_VERSION}");
    for (who, figures) in [("bindcar (this)", &ours), (peer_name.as_str(), &peer)] {
        for op in ["add", "update", "delete"] {
            let f = &figures["ops"][op];
            if f.is_object() {
                say!(
                    "  {who:15} {op:6} p50 {:.2} ms  p99 {:.2} ms  (n={})",
                    f["p50_ms"].as_f64().unwrap_or(f64::NAN),
                    f["p99_ms"].as_f64().unwrap_or(f64::NAN),
                    f["n"]
                );
            }
        }
    }
    Ok(json!({
        "client": "one keep-alive HTTP/1.1 connection, timed from request written to answer read",
        "auth": format!("DISABLE_AUTH=true on both; bindcar {PEER_VERSION} with RATE_LIMIT_ENABLED=false"),
        "peer_version": PEER_VERSION,
        "this": ours,
        "peer": peer,
    }))
}

/// `--records-only`: named, this backend, the record path; nothing else.
fn records_only(clock: &Clock, opts: &Options) -> Result<Value> {
    let named = Named::try_start(NamedOptions::default())?;
    let mut mesh_env = named.backend_env();
    mesh_env.extend(env(&[("DISABLE_AUTH", "true"), ("RUST_LOG", "warn")]));
    mesh_env.push(("NSUPDATE_PORT".into(), named.dns_port().to_string()));
    let mesh = Backend::try_start(mesh_env, &[])?;
    let report = json!({"schema": 1, "record_ops": record_section(clock, &named, &mesh)?});
    if let Some(parent) = opts.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&opts.out, serde_json::to_string_pretty(&report)? + "\n")?;
    say!("wrote {}", opts.out.display());
    Ok(report)
}

/// The whole benchmark; writes `opts.out` and returns its JSON.
pub fn run(opts: &Options) -> Result<Value> {
    let clock = Clock {
        started: Instant::now(),
        budget: Duration::from_secs(opts.budget_secs),
    };
    let started_at = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    if std::env::var_os("BINDCAR_BIN").is_none() {
        // The release build is what the benchmark measures (edition 2021: set_var is safe,
        // and no other thread runs yet).
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target"));
        std::env::set_var("BINDCAR_BIN", target.join("release/bindcar"));
    }
    if opts.only_peer || opts.only_zones_100k {
        let (key, value) = if opts.only_peer {
            ("peer", peer::peer(&clock, opts.peer_zones)?)
        } else {
            ("zones_100k", zones_100k::zones_100k(&clock, opts)?)
        };
        let report = json!({
            "schema": 1,
            "started_at_unix": started_at,
            key: value,
            "wall_secs": clock.secs(),
            "loadavg_at_end": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
        });
        return write(opts, report);
    }
    if opts.records_only {
        return records_only(&clock, opts);
    }
    if opts.only_catalog {
        let report = json!({
            "schema": 1,
            "started_at_unix": started_at,
            "catalog": catalog::catalog(&clock, opts.catalog_zones)?,
            "wall_secs": clock.secs(),
            "loadavg_at_end": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
        });
        return write(opts, report);
    }
    let wasm = wasm_path()?;
    let wasm_bytes = std::fs::metadata(&wasm)?.len();
    if !opts.only_filter_cpu {
        bindcar_testbed::backend::binary()
            .context("the release backend (cargo build --release --bin bindcar)")?;
    }
    let machine = machine(opts)?;
    say!(
        "{} cores, Envoy {}, {}; {} rounds x {} s, {} connections",
        machine["cores"],
        machine["envoy"],
        machine["wrk"],
        opts.rounds,
        opts.duration_secs,
        opts.connections
    );

    let dir = tempfile::Builder::new()
        .prefix("bindcar-bench-")
        .tempdir()?;
    let load = Load::new(
        dir.path(),
        opts.wrk_threads,
        opts.connections,
        opts.duration(),
        Duration::from_secs(5),
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let api = rt.block_on(TokenReviewServer::start(ServerOptions::default()))?;
    api.set_latency(Duration::from_millis(opts.tokenreview_latency_ms));
    let ca = dir.path().join("ca.pem");
    api.write_ca(&ca)?;
    if opts.only_filter_cpu {
        let cpu = filter_cpu::filter_cpu(&clock, opts, dir.path(), &api, &ca)?;
        let report = json!({
            "schema": 1,
            "started_at_unix": started_at,
            "machine": machine,
            "filter_cpu": cpu,
            "wall_secs": clock.secs(),
            "loadavg_at_end": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
        });
        drop(rt);
        return write(opts, report);
    }
    // How long each part took, in order.
    let mut parts = serde_json::Map::new();
    let mut mark = clock.secs();
    let mut lap = |parts: &mut serde_json::Map<String, Value>, name: &str| {
        let now = clock.secs();
        parts.insert(name.to_string(), json!(now - mark));
        say!("part {name}: {:.0} s", now - mark);
        mark = now;
    };
    // First, on a machine still quiet: Envoy's own CPU per request, variant by variant.
    let cpu = filter_cpu::filter_cpu(&clock, opts, dir.path(), &api, &ca)?;
    lap(&mut parts, "filter_cpu");
    let upstream = responder::start(&rt)?;

    let filter = filter_cost(&clock, opts, &load, dir.path(), &api, &ca, upstream)?;
    lap(&mut parts, "filter_cost");

    say!("starting named and bindcar");
    let named = Named::try_start(NamedOptions::default())?;
    let mut mesh_env = named.backend_env();
    // The bench measures throughput: no rate limit (the testbed's default too, said here
    // so the bench does not depend on it).
    mesh_env.extend(env(&[
        ("DISABLE_AUTH", "true"),
        ("RATE_LIMIT_ENABLED", "false"),
        ("RUST_LOG", "warn"),
    ]));
    mesh_env.push(("NSUPDATE_PORT".into(), named.dns_port().to_string()));
    let mesh = Backend::try_start(mesh_env, &[])?;
    // Zone operations first, on a quiet machine; they leave no zone behind.
    let ops = zone_ops(&clock, opts, &mesh)?;
    lap(&mut parts, "zone_ops");
    let records = record_section(&clock, &named, &mesh)?;
    lap(&mut parts, "record_ops");
    let reference = reference(&clock, opts, &load, dir.path(), &api, &ca, &named, &mesh)?;
    lap(&mut parts, "reference");
    drop(mesh);
    drop(named);
    let peer = peer::peer(&clock, opts.peer_zones)?;
    lap(&mut parts, "peer");
    let scale = if opts.zones_100k {
        zones_100k::zones_100k(&clock, opts)?
    } else {
        say!("100,000 zones: skipped (BENCH_100K=0)");
        json!({"skipped": "BENCH_100K=0"})
    };
    lap(&mut parts, "zones_100k");
    let catalog = if std::env::var_os("BENCH_SKIP_CATALOG").is_some() {
        say!("catalog: skipped (BENCH_SKIP_CATALOG)");
        json!({"skipped": "BENCH_SKIP_CATALOG"})
    } else {
        catalog::catalog(&clock, opts.catalog_zones)?
    };
    lap(&mut parts, "catalog");
    let targets = targets(&cpu, &filter, &reference, &ops, &peer, &scale);

    let report = json!({
        "schema": 1,
        "started_at_unix": started_at,
        "wall_secs": clock.secs(),
        "machine": machine,
        "settings": {
            "rounds": opts.rounds,
            "duration_secs": opts.duration_secs,
            "warmup_secs": opts.warmup_secs,
            "connections": opts.connections,
            "wrk_threads": opts.wrk_threads,
            "envoy_workers": opts.envoy_workers,
            "tokenreview_latency_ms": opts.tokenreview_latency_ms,
            "token_pool": opts.token_pool,
            "cache_ttl_secs": CACHE_TTL_SECS,
            "ops": opts.ops,
            "load_generator": "wrk (closed loop), bench/wrk/bearer.lua",
        },
        "filter_cpu": cpu,
        "filter": filter,
        "reference": reference,
        "backend_ops": ops,
        "record_ops": records,
        "peer": peer,
        "zones_100k": scale,
        "parts_secs": parts,
        "catalog": catalog,
        "footprint": {
            "wasm_path": wasm.strip_prefix(workspace_root()).unwrap_or(&wasm).display().to_string(),
            "wasm_bytes": wasm_bytes,
        },
        "targets": targets,
        "loadavg_at_end": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
    });
    drop(rt);
    say!("finished in {:.0} s", clock.secs());
    write(opts, report)
}

fn write(opts: &Options, report: Value) -> Result<Value> {
    if let Some(parent) = opts.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = opts.out.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&report)? + "\n")?;
    std::fs::rename(&tmp, &opts.out)?;
    say!("wrote {}", opts.out.display());
    Ok(report)
}
