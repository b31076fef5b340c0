//! Part 0, the filter's cost measured the sharp way: Envoy with one worker, a
//! `direct_response` route (no upstream: what is added is the filters' cost), wrk at 8
//! connections, and the CPU time of Envoy's worker thread per request
//! (`/proc/<pid>/task/<tid>/schedstat` over the run divided by the requests answered). The
//! Envoys ([`crate::cpu_envoys`]) are measured in many short interleaved rotating rounds;
//! ratios are taken within a round, reported as median and range.
//!
//! The method, and why (bench/README.md has the measurements behind it):
//! - every request carries the same token in a header, so wrk builds its request once and
//!   runs no Lua per request: a Lua call per request in the load generator took CPU from the
//!   two shared cores and moved the ratios (rotation is kept only where the variant needs a
//!   token per request: `tr_cold`);
//! - basic mode at two token lengths, a short one and a real ServiceAccount JWT, each compared
//!   with the no-op and Lua filters under the same token;
//! - the worker thread's CPU, not the whole process's (the main thread's periodic work is not
//!   per request; the process figure is kept beside it), from the scheduler's nanosecond
//!   count, so that runs can be short: many 1 s rounds, each pair of variants close in time,
//!   give a steadier median on a busy machine than a few long ones;
//! - each Envoy warmed up before the rounds (V8 compiles lazily: the first second after start
//!   costs up to twice the steady state);
//! - the share of a core the worker got and the machine's busy share in each run, so that a
//!   rerun can tell whether it ran under the same conditions (a contended machine raises the
//!   filter's share of the cost).
//!
//! Then Envoy's memory by variant at 1 and at 4 workers (per worker = the growth per added
//! worker), each after a short load.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use bindcar_testbed::envoy::{wasm_path, Envoy};
use bindcar_testbed::tokenreview::TokenReviewServer;
use serde::Serialize;
use serde_json::{json, Value};

use crate::clock::Clock;
use crate::cpu_envoys::{noop_wasm, variants, BODY, COLD};
use crate::options::Options;
use crate::proc_cpu::{
    clock_ticks, cpu_ticks, machine_ticks, perf_probe, thread_cpu_ns, PerfCount,
};
use crate::setup::{expect_ok, mint};
use crate::stats::{median, ratio, Ratio};
use crate::targets::target_check;
use crate::wrk::{Load, Run};
use crate::ZONES;

/// Connections wrk keeps open (fewer than the proxied section: one worker, no queueing).
pub(crate) const CONNECTIONS: u32 = 8;
/// The short token (12 bytes); the long one is a minted ServiceAccount JWT.
const SHORT: &str = "bench-token1";
/// What Envoy names its worker threads.
const WORKER: &str = "wrk:worker";
/// Worker counts of the memory section.
const MEMORY_WORKERS: [u32; 2] = [1, 4];
/// `tr_cold` (a new Envoy and a warm-up each time, no goal) runs in one round of this many.
const COLD_EVERY: usize = 6;

#[derive(Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Token {
    /// The minted ServiceAccount JWT, the same on every request.
    Jwt,
    /// [`SHORT`], the same on every request.
    Short,
    /// A token never seen before on every request (rotation through fresh tokens).
    Fresh,
}

/// One measured variant: an Envoy of [`variants`] and the token it is sent.
struct Measured {
    id: &'static str,
    envoy: usize,
    token: Token,
}

/// In round order: every pair compared with a goal ([`PAIRS`]) sits side by side, so that its
/// two runs are a second apart whatever the rotation (but at the wrap).
const MEASURED: [(&str, &str, Token); 10] = [
    ("bare", "bare", Token::Jwt),
    ("lua", "lua", Token::Jwt),
    ("basic", "basic", Token::Jwt),
    ("noop", "noop", Token::Jwt),
    ("tr_warm", "tr_warm", Token::Jwt),
    ("jwt_authn", "jwt_authn", Token::Jwt),
    ("tr_cold", "tr_cold", Token::Fresh),
    ("lua_short", "lua", Token::Short),
    ("basic_short", "basic", Token::Short),
    ("noop_short", "noop", Token::Short),
];

/// The pairs with goals (issue 23): (numerator, denominator, goal on the CPU ratio).
const PAIRS: [(&str, &str, f64); 6] = [
    ("basic", "noop", 1.10),
    ("basic_short", "noop_short", 1.10),
    ("basic", "lua", 1.0),
    ("basic_short", "lua_short", 1.0),
    ("tr_warm", "noop", 1.05),
    ("tr_warm", "jwt_authn", 1.10),
];

#[derive(Serialize)]
struct CpuRun {
    round: usize,
    slot: usize,
    #[serde(flatten)]
    run: Run,
    /// The worker thread's CPU time over the run (ns, schedstat), and the whole process's
    /// (clock ticks, stat).
    worker_ns: u64,
    process_ticks: u64,
    cpu_us_per_request: f64,
    process_cpu_us_per_request: f64,
    /// The share of one core the worker got (1.0: it never waited).
    worker_core_share: f64,
    /// The machine's busy share over the run (every core, every process).
    machine_busy: f64,
    instructions: Option<u64>,
    instructions_per_request: Option<f64>,
    reviews: u64,
}

pub(crate) fn filter_cpu(
    clock: &Clock,
    opts: &Options,
    dir: &Path,
    api: &TokenReviewServer,
    ca: &Path,
) -> Result<Value> {
    let load = Load::new(
        dir,
        opts.wrk_threads.min(CONNECTIONS),
        CONNECTIONS,
        Duration::from_secs_f64(opts.cpu_duration_secs),
        Duration::from_secs(5),
    )?;
    let envoy_variants = variants(api, ca)?;
    let index = |id: &str| envoy_variants.iter().position(|v| v.id == id);
    let measured: Vec<Measured> = MEASURED
        .iter()
        .map(|&(id, envoy, token)| {
            Ok(Measured {
                id,
                envoy: index(envoy).with_context(|| format!("no Envoy {envoy}"))?,
                token,
            })
        })
        .collect::<Result<_>>()?;
    let jwt = mint(api, "cpu", 1).pop().context("minting a token")?;
    say!(
        "filter CPU: starting {} Envoys (1 worker each); tokens of {} and {} bytes",
        envoy_variants.len(),
        jwt.len(),
        SHORT.len()
    );
    let mut envoys = envoy_variants
        .iter()
        .map(|v| Envoy::start(&v.options).with_context(|| format!("Envoy {}", v.id)))
        .collect::<Result<Vec<_>>>()?;
    std::thread::sleep(Duration::from_secs(1));
    let rss_idle: Vec<Option<u64>> = envoys.iter().map(Envoy::rss_kib).collect();
    for (v, e) in envoy_variants.iter().zip(&envoys) {
        expect_ok(e.port, &jwt, v.id)?;
        if v.checks {
            let r = bindcar_testbed::http::get(e.port, ZONES, &[])?;
            ensure!(
                r.status == 401,
                "{}: a request without a token answered {} {}",
                v.id,
                r.status,
                r.text()
            );
        }
    }
    for (i, (v, e)) in envoy_variants.iter().zip(&envoys).enumerate() {
        if i == COLD {
            continue;
        }
        clock.check("filter CPU warm-up")?;
        let r = load.run_fixed(e.port, ZONES, &jwt, Some(opts.warmup()))?;
        say!("filter CPU warm-up {} {:.0} req/s (discarded)", v.id, r.rps);
    }
    // The cold variant: sized by a pilot, as in part 1 (d); its warm-up tokens are set apart.
    let warm_tokens = mint(api, "cpu-warm", 3000);
    let warm_files = load.write_fresh(dir, "cpu-warm", &warm_tokens)?;
    let pilot = load.run(envoys[COLD].port, ZONES, &warm_files, Some(opts.warmup()))?;
    let per_run =
        ((pilot.rps * opts.cpu_duration_secs * 1.5).ceil() as usize + 1000).clamp(2000, 40_000);
    say!(
        "filter CPU pilot tr_cold {:.0} req/s: minting {per_run} fresh tokens",
        pilot.rps
    );
    let fresh = mint(api, "cpu-cold", per_run);
    let cold_files = load.write_fresh(dir, "cpu-cold", &fresh)?;

    let ticks_per_sec = clock_ticks();
    let perf = perf_probe();
    match &perf {
        Ok(()) => say!("filter CPU: perf stat counts instructions:u"),
        Err(why) => say!("filter CPU: instructions not available: {why}"),
    }
    let mut runs: Vec<Vec<CpuRun>> = measured.iter().map(|_| Vec::new()).collect();
    let mut orders = Vec::new();
    for round in 0..opts.cpu_rounds {
        let order: Vec<usize> = (0..measured.len())
            .map(|i| (i + round) % measured.len())
            .filter(|&i| measured[i].token != Token::Fresh || round % COLD_EVERY == 0)
            .collect();
        orders.push(order.iter().map(|&i| measured[i].id).collect::<Vec<_>>());
        for (slot, &i) in order.iter().enumerate() {
            let m = &measured[i];
            clock.check(&format!("filter CPU round {} of {}", round + 1, m.id))?;
            if m.token == Token::Fresh {
                // A new Envoy (the old one's cache holds the measured tokens), warmed up.
                envoys[m.envoy] = Envoy::start(&envoy_variants[m.envoy].options)?;
                load.run(
                    envoys[m.envoy].port,
                    ZONES,
                    &warm_files,
                    Some(opts.warmup()),
                )?;
            }
            let e = &envoys[m.envoy];
            let counter = match perf {
                Ok(()) => Some(PerfCount::attach(e.pid(), &dir.join("perf.txt"))?),
                Err(_) => None,
            };
            let reviews_before = api.review_count();
            let (worker_before, process_before) =
                (thread_cpu_ns(e.pid(), WORKER)?, cpu_ticks(e.pid())?);
            let machine_before = machine_ticks();
            let run = match m.token {
                Token::Jwt => load.run_fixed(e.port, ZONES, &jwt, None)?,
                Token::Short => load.run_fixed(e.port, ZONES, SHORT, None)?,
                Token::Fresh => load.run(e.port, ZONES, &cold_files, None)?,
            };
            let worker = thread_cpu_ns(e.pid(), WORKER)?.saturating_sub(worker_before);
            let process = cpu_ticks(e.pid())?.saturating_sub(process_before);
            let machine_after = machine_ticks();
            let instructions = counter.map(PerfCount::finish).transpose()?;
            let n = run.requests.max(1) as f64;
            let worker_secs = worker as f64 / 1e9;
            let busy = machine_after.0.saturating_sub(machine_before.0) as f64;
            let total = machine_after.1.saturating_sub(machine_before.1).max(1) as f64;
            let cpu_run = CpuRun {
                round,
                slot,
                worker_ns: worker,
                process_ticks: process,
                cpu_us_per_request: worker_secs * 1e6 / n,
                process_cpu_us_per_request: process as f64 / ticks_per_sec * 1e6 / n,
                worker_core_share: worker_secs / run.seconds.max(1e-9),
                machine_busy: busy / total,
                instructions,
                instructions_per_request: instructions.map(|x| x as f64 / n),
                reviews: api.review_count().saturating_sub(reviews_before),
                run,
            };
            say!(
                "filter CPU round {}/{} {:<12} {:>7.0} req/s  {:>6.1} µs CPU/request (process {:.1})  worker {:.0}% of a core, machine {:.0}% busy  errors {}",
                round + 1,
                opts.cpu_rounds,
                m.id,
                cpu_run.run.rps,
                cpu_run.cpu_us_per_request,
                cpu_run.process_cpu_us_per_request,
                cpu_run.worker_core_share * 100.0,
                cpu_run.machine_busy * 100.0,
                cpu_run.run.errors.total()
            );
            runs[i].push(cpu_run);
        }
    }
    let rss_loaded: Vec<Option<u64>> = envoys.iter().map(Envoy::rss_kib).collect();
    drop(envoys);

    // Per-round ratio of metric `m` between measured variants a and b, over the rounds both
    // ran in.
    let at = |id: &str| measured.iter().position(|m| m.id == id).unwrap_or(0);
    let per_round = |a: usize, b: usize, m: &dyn Fn(&CpuRun) -> Option<f64>| -> Option<Ratio> {
        let r: Vec<f64> = runs[a]
            .iter()
            .filter_map(|x| Some((x, runs[b].iter().find(|y| y.round == x.round)?)))
            .map(|(x, y)| Some(m(x)? / m(y)?))
            .collect::<Option<Vec<f64>>>()?;
        Some(ratio(r))
    };
    let cpu = |r: &CpuRun| Some(r.cpu_us_per_request);
    let process = |r: &CpuRun| Some(r.process_cpu_us_per_request);
    let ins = |r: &CpuRun| r.instructions_per_request;
    let rps = |r: &CpuRun| Some(r.run.rps);
    let bare_rss = rss_loaded[0];
    let mut out = Vec::new();
    for (i, m) in measured.iter().enumerate() {
        let rs = &runs[i];
        let v = &envoy_variants[m.envoy];
        let requests: u64 = rs.iter().map(|r| r.run.requests).sum();
        let reviews: u64 = rs.iter().map(|r| r.reviews).sum();
        let mut vs_bare = BTreeMap::new();
        let bare = at("bare");
        vs_bare.insert("cpu_per_request", per_round(i, bare, &cpu));
        vs_bare.insert("process_cpu_per_request", per_round(i, bare, &process));
        vs_bare.insert("rps", per_round(i, bare, &rps));
        vs_bare.insert("instructions_per_request", per_round(i, bare, &ins));
        let rss_after = rss_loaded[m.envoy];
        out.push(json!({
            "id": m.id,
            "envoy": v.id,
            "label": v.label,
            "token": m.token,
            "cpu_us_per_request": range(rs.iter().map(|r| r.cpu_us_per_request).collect()),
            "process_cpu_us_per_request": range(rs.iter().map(|r| r.process_cpu_us_per_request).collect()),
            "worker_core_share": range(rs.iter().map(|r| r.worker_core_share).collect()),
            "machine_busy": range(rs.iter().map(|r| r.machine_busy).collect()),
            "rps": range(rs.iter().map(|r| r.run.rps).collect()),
            "p50_ms": median(&rs.iter().map(|r| r.run.p50_ms).collect::<Vec<_>>()),
            "p99_ms": median(&rs.iter().map(|r| r.run.p99_ms).collect::<Vec<_>>()),
            "instructions_per_request": rs
                .iter()
                .map(|r| r.instructions_per_request)
                .collect::<Option<Vec<f64>>>()
                .map(range),
            "vs_bare": vs_bare,
            "errors": rs.iter().map(|r| r.run.errors.total()).sum::<u64>(),
            "reviews_per_request": reviews as f64 / requests.max(1) as f64,
            "wrapped": rs.iter().map(|r| r.run.wrapped).sum::<u64>(),
            "rss": {
                "idle_kib": rss_idle[m.envoy],
                "after_load_kib": rss_after,
                "after_load_vs_bare": match (rss_after, bare_rss) {
                    (Some(a), Some(b)) if b > 0 => Some(a as f64 / b as f64),
                    _ => None,
                },
            },
            "runs": rs,
        }));
    }
    let mut goals = Vec::new();
    let mut comparisons = Vec::new();
    for (a, b, goal) in PAIRS {
        let (ia, ib) = (at(a), at(b));
        let cpu_ratio = per_round(ia, ib, &cpu);
        let value = cpu_ratio.as_ref().map_or(f64::NAN, |r| r.median);
        goals.push(target_check(
            &format!("Envoy worker CPU per request, {a} / {b} (1 worker, direct response)"),
            value,
            "<=",
            goal,
            "×",
        ));
        comparisons.push(json!({
            "a": a,
            "b": b,
            "cpu_per_request": cpu_ratio,
            "process_cpu_per_request": per_round(ia, ib, &process),
            "rps": per_round(ia, ib, &rps),
            "instructions_per_request": per_round(ia, ib, &ins),
            "goal": {"op": "<=", "value": goal},
        }));
    }
    clock.check("filter CPU: memory")?;
    let memory = memory(&load, &envoy_variants, &jwt)?;
    for id in ["basic", "tr_warm"] {
        let r = rss_loaded[index(id).unwrap_or(0)]
            .zip(bare_rss)
            .map_or(f64::NAN, |(a, b)| a as f64 / b.max(1) as f64);
        goals.push(target_check(
            &format!("Envoy RSS after load, {id} / bare (1 worker)"),
            r,
            "<=",
            1.3,
            "×",
        ));
    }
    for id in ["basic", "tr_warm"] {
        let over = memory["variants"]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["id"] == id))
            .and_then(|v| v["vs_noop_kib"].as_f64())
            .map_or(f64::NAN, |kib| kib / 1024.0);
        goals.push(target_check(
            &format!("Envoy RSS, {id} − noop (1 worker)"),
            over,
            "<=",
            4.0,
            "MiB",
        ));
    }
    let wasm = std::fs::metadata(wasm_path()?)?.len();
    let noop = std::fs::metadata(noop_wasm()?)?.len();
    goals.push(target_check(
        "bindcar_auth_filter.wasm",
        wasm as f64 / 1024.0,
        "<=",
        400.0,
        "KiB",
    ));
    Ok(json!({
        "path": ZONES,
        "route": format!("direct_response 200, body {BODY} (no upstream)"),
        "envoy_workers": 1,
        "connections": CONNECTIONS,
        "wrk_threads": load.threads,
        "rounds": opts.cpu_rounds,
        "duration_secs": opts.cpu_duration_secs,
        "warmup_secs": opts.warmup_secs,
        "load": "wrk, closed loop; the same token in a header on every request (a static request: \
                 no Lua per request), except tr_cold (a fresh token per request, bench/wrk/bearer.lua)",
        "token_bytes": {"jwt": jwt.len(), "short": SHORT.len()},
        "cpu_figure": "the worker thread's CPU time",
        "cpu_source": "/proc/<envoy pid>/task/<worker tid>/schedstat (run time, ns) over the run / requests answered; \
                       the whole process's utime + stime (/proc/<pid>/stat, clock ticks) beside it",
        "clock_ticks_per_sec": ticks_per_sec,
        "instructions": match &perf {
            Ok(()) => json!({"available": true, "how": "perf stat -e instructions:u -p <envoy pid>"}),
            Err(why) => json!({"available": false, "why": why}),
        },
        "order": orders,
        "variants": out,
        "comparisons": comparisons,
        "memory": memory,
        "cold": {"tokens_per_run": per_run, "pilot_rps": pilot.rps, "every_rounds": COLD_EVERY},
        "wasm_bytes": {"filter": wasm, "noop": noop},
        "host_calls": host_calls()?,
        "goals": goals,
    }))
}

fn range(xs: Vec<f64>) -> Value {
    json!({
        "median": median(&xs),
        "min": xs.iter().copied().fold(f64::INFINITY, f64::min),
        "max": xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

/// Envoy's resident memory by variant at each of [`MEMORY_WORKERS`], one Envoy at a time,
/// after a 1 s load (8 connections: the kernel spreads them over the workers). Per worker is
/// the growth per added worker.
fn memory(load: &Load, envoy_variants: &[crate::cpu_envoys::Variant], jwt: &str) -> Result<Value> {
    let mut out = Vec::new();
    let mut noop: Option<(u64, f64)> = None;
    for (i, v) in envoy_variants.iter().enumerate() {
        if i == COLD {
            continue; // the same Envoy as tr_warm's
        }
        let mut rss = BTreeMap::new();
        for workers in MEMORY_WORKERS {
            let mut o = v.options.clone();
            o.concurrency = workers;
            let e = Envoy::start(&o).with_context(|| format!("Envoy {} × {workers}", v.id))?;
            load.run_fixed(e.port, ZONES, jwt, Some(Duration::from_secs(1)))?;
            std::thread::sleep(Duration::from_millis(200));
            rss.insert(workers.to_string(), e.rss_kib());
        }
        let at = |n: u32| rss.get(&n.to_string()).copied().flatten();
        let (lo, hi) = (MEMORY_WORKERS[0], MEMORY_WORKERS[1]);
        let one = at(lo);
        let per_worker = at(hi)
            .zip(one)
            .map(|(h, l)| (h as f64 - l as f64) / f64::from(hi - lo));
        if v.id == "noop" {
            noop = one.zip(per_worker);
        }
        say!(
            "filter CPU memory {:<10} {:?} KiB, per worker {:.0} KiB",
            v.id,
            rss,
            per_worker.unwrap_or(f64::NAN)
        );
        out.push((v.id, rss, one, per_worker));
    }
    let variants: Vec<Value> = out
        .into_iter()
        .map(|(id, rss, one, per_worker)| {
            json!({
                "id": id,
                "rss_kib": rss,
                "per_worker_kib": per_worker,
                "vs_noop_kib": noop.zip(one).map(|((n, _), o)| o as f64 - n as f64),
                "per_worker_vs_noop_kib": noop.zip(per_worker).map(|((_, n), p)| p - n),
            })
        })
        .collect();
    Ok(json!({
        "workers": MEMORY_WORKERS,
        "how": "VmRSS 200 ms after a 1 s load at 8 connections, one Envoy at a time",
        "variants": variants,
    }))
}

/// The host calls the real module makes on each path, counted in the in-process host of
/// `bindcar-wasmhost` (not timed: the same list on every machine).
fn host_calls() -> Result<serde_json::Value> {
    let paths = bindcar_wasmhost::count_paths(&wasm_path()?)?;
    Ok(serde_json::to_value(paths)?)
}
