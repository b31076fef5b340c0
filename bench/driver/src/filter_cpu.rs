//! The filter's cost measured the sharp way: Envoy with one worker, a `direct_response`
//! route (no upstream: what is added is the filters' cost), wrk at 8 connections, and
//! Envoy's own CPU time per request (`/proc/<pid>/stat`, utime + stime over the run divided
//! by the requests answered). Seven variants ([`crate::cpu_envoys`]), interleaved in
//! rotating rounds; ratios are taken within a round, reported as median and range.

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
use crate::proc_cpu::{clock_ticks, cpu_ticks, perf_probe, PerfCount};
use crate::setup::{expect_ok, mint};
use crate::stats::{median, ratio, Ratio};
use crate::targets::target_check;
use crate::wrk::{Load, Run};
use crate::ZONES;

/// Connections wrk keeps open (fewer than the proxied section: one worker, no queueing).
pub(crate) const CONNECTIONS: u32 = 8;

#[derive(Serialize)]
struct CpuRun {
    round: usize,
    slot: usize,
    #[serde(flatten)]
    run: Run,
    cpu_ticks: u64,
    cpu_us_per_request: f64,
    instructions: Option<u64>,
    instructions_per_request: Option<f64>,
    reviews: u64,
}

/// The pairs the issue sets goals on: (numerator, denominator, goal on the CPU ratio).
const PAIRS: [(&str, &str, &str, f64); 4] = [
    ("basic", "noop", "<=", 1.10),
    ("tr_warm", "noop", "<=", 1.10),
    ("basic", "lua", "<=", 1.0),
    ("tr_warm", "jwt_authn", "<=", 1.10),
];

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
        opts.duration(),
        Duration::from_secs(5),
    )?;
    let variants = variants(api, ca)?;
    let pool = mint(api, "cpu", opts.token_pool);
    let pool_files = load.write_pool(dir, "cpu-pool", &pool)?;
    say!(
        "filter CPU: starting {} Envoys (1 worker each)",
        variants.len()
    );
    let mut envoys = variants
        .iter()
        .map(|v| Envoy::start(&v.options).with_context(|| format!("Envoy {}", v.id)))
        .collect::<Result<Vec<_>>>()?;
    std::thread::sleep(Duration::from_secs(1));
    let rss_idle: Vec<Option<u64>> = envoys.iter().map(Envoy::rss_kib).collect();
    for (v, e) in variants.iter().zip(&envoys) {
        expect_ok(e.port, &pool[0], v.id)?;
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
    for (v, e) in variants.iter().zip(&envoys) {
        clock.check("filter CPU warm-up")?;
        let r = load.run(e.port, ZONES, &pool_files, Some(opts.warmup()))?;
        say!("filter CPU warm-up {} {:.0} req/s (discarded)", v.id, r.rps);
    }
    // The cold variant: sized by a pilot, as in part 1 (d); its warm-up tokens are set apart.
    let warm_tokens = mint(api, "cpu-warm", 3000);
    let warm_files = load.write_fresh(dir, "cpu-warm", &warm_tokens)?;
    let pilot = load.run(envoys[COLD].port, ZONES, &warm_files, Some(opts.warmup()))?;
    let per_run =
        ((pilot.rps * opts.duration_secs * 1.5).ceil() as usize + 1000).clamp(2000, 40_000);
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
    let mut runs: Vec<Vec<CpuRun>> = variants.iter().map(|_| Vec::new()).collect();
    let mut orders = Vec::new();
    for round in 0..opts.rounds {
        let order: Vec<usize> = (0..variants.len())
            .map(|i| (i + round) % variants.len())
            .collect();
        orders.push(order.iter().map(|&i| variants[i].id).collect::<Vec<_>>());
        for (slot, &i) in order.iter().enumerate() {
            let v = &variants[i];
            clock.check(&format!("filter CPU round {} of {}", round + 1, v.id))?;
            let tokens = if i == COLD {
                // A new Envoy (the old one's cache holds the measured tokens), warmed up.
                envoys[COLD] = Envoy::start(&v.options)?;
                load.run(envoys[COLD].port, ZONES, &warm_files, Some(opts.warmup()))?;
                &cold_files
            } else {
                &pool_files
            };
            let e = &envoys[i];
            let counter = match perf {
                Ok(()) => Some(PerfCount::attach(e.pid(), &dir.join("perf.txt"))?),
                Err(_) => None,
            };
            let reviews_before = api.review_count();
            let before = cpu_ticks(e.pid())?;
            let run = load.run(e.port, ZONES, tokens, None)?;
            let cpu = cpu_ticks(e.pid())?.saturating_sub(before);
            let instructions = counter.map(PerfCount::finish).transpose()?;
            let n = run.requests.max(1) as f64;
            let us = cpu as f64 / ticks_per_sec * 1e6 / n;
            say!(
                "filter CPU round {}/{} {:<10} {:>7.0} req/s  {:>6.1} µs CPU/request  errors {}",
                round + 1,
                opts.rounds,
                v.id,
                run.rps,
                us,
                run.errors.total()
            );
            runs[i].push(CpuRun {
                round,
                slot,
                cpu_ticks: cpu,
                cpu_us_per_request: us,
                instructions,
                instructions_per_request: instructions.map(|x| x as f64 / n),
                reviews: api.review_count().saturating_sub(reviews_before),
                run,
            });
        }
    }
    let rss_loaded: Vec<Option<u64>> = envoys.iter().map(Envoy::rss_kib).collect();
    drop(envoys);

    // Per-round ratio of metric `m` between variants a and b.
    let index = |id: &str| variants.iter().position(|v| v.id == id).unwrap_or(0);
    let per_round = |a: usize, b: usize, m: &dyn Fn(&CpuRun) -> Option<f64>| -> Option<Ratio> {
        let r: Vec<f64> = runs[a]
            .iter()
            .zip(&runs[b])
            .map(|(x, y)| Some(m(x)? / m(y)?))
            .collect::<Option<Vec<f64>>>()?;
        Some(ratio(r))
    };
    let cpu = |r: &CpuRun| Some(r.cpu_us_per_request);
    let ins = |r: &CpuRun| r.instructions_per_request;
    let rps = |r: &CpuRun| Some(r.run.rps);
    let range = |xs: Vec<f64>| {
        json!({
            "median": median(&xs),
            "min": xs.iter().copied().fold(f64::INFINITY, f64::min),
            "max": xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    };
    let bare_rss = rss_loaded[0];
    let mut out = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let rs = &runs[i];
        let requests: u64 = rs.iter().map(|r| r.run.requests).sum();
        let reviews: u64 = rs.iter().map(|r| r.reviews).sum();
        let mut vs_bare = BTreeMap::new();
        vs_bare.insert("cpu_per_request", per_round(i, 0, &cpu));
        vs_bare.insert("rps", per_round(i, 0, &rps));
        vs_bare.insert("instructions_per_request", per_round(i, 0, &ins));
        out.push(json!({
            "id": v.id,
            "label": v.label,
            "cpu_us_per_request": range(rs.iter().map(|r| r.cpu_us_per_request).collect()),
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
                "idle_kib": rss_idle[i],
                "after_load_kib": rss_loaded[i],
                "after_load_vs_bare": match (rss_loaded[i], bare_rss) {
                    (Some(a), Some(b)) if b > 0 => Some(a as f64 / b as f64),
                    _ => None,
                },
            },
            "runs": rs,
        }));
    }
    let mut goals = Vec::new();
    let mut comparisons = Vec::new();
    for (a, b, op, goal) in PAIRS {
        let (ia, ib) = (index(a), index(b));
        let cpu_ratio = per_round(ia, ib, &cpu);
        let value = cpu_ratio.as_ref().map_or(f64::NAN, |r| r.median);
        if !op.is_empty() {
            goals.push(target_check(
                &format!("Envoy CPU per request, {a} / {b} (1 worker, direct response)"),
                value,
                op,
                goal,
            ));
        }
        comparisons.push(json!({
            "a": a,
            "b": b,
            "cpu_per_request": cpu_ratio,
            "rps": per_round(ia, ib, &rps),
            "instructions_per_request": per_round(ia, ib, &ins),
            "goal": if op.is_empty() { json!(null) } else { json!({"op": op, "value": goal}) },
        }));
    }
    let wasm = std::fs::metadata(wasm_path()?)?.len();
    let noop = std::fs::metadata(noop_wasm()?)?.len();
    for id in ["basic", "tr_warm"] {
        let r = rss_loaded[index(id)]
            .zip(bare_rss)
            .map_or(f64::NAN, |(a, b)| a as f64 / b.max(1) as f64);
        goals.push(target_check(
            &format!("Envoy RSS after load, {id} / bare (1 worker)"),
            r,
            "<=",
            1.3,
        ));
    }
    goals.push(target_check(
        "bindcar_auth_filter.wasm, KiB",
        wasm as f64 / 1024.0,
        "<=",
        400.0,
    ));
    Ok(json!({
        "path": ZONES,
        "route": format!("direct_response 200, body {BODY} (no upstream)"),
        "envoy_workers": 1,
        "connections": CONNECTIONS,
        "wrk_threads": load.threads,
        "rounds": opts.rounds,
        "duration_secs": opts.duration_secs,
        "warmup_secs": opts.warmup_secs,
        "cpu_source": "/proc/<envoy pid>/stat utime + stime over the run / requests answered",
        "clock_ticks_per_sec": ticks_per_sec,
        "instructions": match &perf {
            Ok(()) => json!({"available": true, "how": "perf stat -e instructions:u -p <envoy pid>"}),
            Err(why) => json!({"available": false, "why": why}),
        },
        "order": orders,
        "variants": out,
        "comparisons": comparisons,
        "cold": {"tokens_per_run": per_run, "pilot_rps": pilot.rps},
        "wasm_bytes": {"filter": wasm, "noop": noop},
        "host_calls": host_calls()?,
        "goals": goals,
    }))
}

/// The host calls the real module makes on each path, counted in the in-process host of
/// `bindcar-wasmhost` (not timed: the same list on every machine).
fn host_calls() -> Result<serde_json::Value> {
    let paths = bindcar_wasmhost::count_paths(&wasm_path()?)?;
    Ok(serde_json::to_value(paths)?)
}
