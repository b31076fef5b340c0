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

mod client;
mod responder;
mod wrk;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context, Result};
use bindcar_testbed::backend::Backend;
use bindcar_testbed::envoy::{envoy_bin, wasm_path, workspace_root, Envoy, EnvoyOptions};
use bindcar_testbed::named::{Named, NamedOptions};
use bindcar_testbed::tokenreview::{MintRequest, ServerOptions, TokenReviewServer};
use serde::Serialize;
use serde_json::{json, Value};

use client::Client;
use wrk::{Load, Run};

/// The route every load run asks for (through Envoy to the fast upstream in part 1, to the
/// real backend in part 3).
const ZONES: &str = "/api/v1/zones";
/// Namespace of every ServiceAccount token the load sends (the one namespace allowed).
const NAMESPACE: &str = "dns-system";
const AUDIENCE: &str = "bindcar";
/// Verdict life in the filter and in the cached backend: the default, stated explicitly.
const CACHE_TTL_SECS: u64 = 60;

/// What the run does; `bench --help` lists the flags.
#[derive(Clone, Debug, Serialize)]
pub struct Options {
    pub rounds: usize,
    pub duration_secs: f64,
    pub warmup_secs: f64,
    pub connections: u32,
    pub wrk_threads: u32,
    pub envoy_workers: u32,
    pub tokenreview_latency_ms: u64,
    pub token_pool: usize,
    pub ops: usize,
    /// Give up (and stop everything) past this many seconds.
    pub budget_secs: u64,
    pub out: PathBuf,
}

pub const USAGE: &str = "bench [--rounds N] [--duration SECS] [--warmup SECS] [--connections N]
      [--threads N] [--workers N] [--latency-ms MS] [--pool N] [--ops N] [--budget SECS]
      [--out PATH] [--quick]
Defaults: 5 rounds of 5 s runs, 2 s warm-ups, 32 connections on 2 wrk threads, Envoy with
2 workers, 5 ms TokenReview latency, a pool of 64 tokens, 200 backend operations each, a
budget of 540 s, out = bench/results/latest.json. --quick: 2 rounds of 2 s, 40 operations
(a smoke run, not a measurement).";

impl Options {
    pub fn from_args(args: &[String]) -> Result<Options> {
        let mut o = Options {
            rounds: 5,
            duration_secs: 5.0,
            warmup_secs: 2.0,
            connections: 32,
            wrk_threads: 2,
            envoy_workers: 2,
            tokenreview_latency_ms: 5,
            token_pool: 64,
            ops: 200,
            budget_secs: 540,
            out: workspace_root().join("bench/results/latest.json"),
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--quick" {
                o.rounds = 2;
                o.duration_secs = 2.0;
                o.warmup_secs = 1.0;
                o.ops = 40;
                continue;
            }
            if flag == "--help" || flag == "-h" {
                bail!("usage: {USAGE}");
            }
            let value = it
                .next()
                .with_context(|| format!("{flag} needs a value\nusage: {USAGE}"))?;
            let bad = || format!("{flag} {value}: not a valid value");
            match flag.as_str() {
                "--rounds" => o.rounds = value.parse().with_context(bad)?,
                "--duration" => o.duration_secs = value.parse().with_context(bad)?,
                "--warmup" => o.warmup_secs = value.parse().with_context(bad)?,
                "--connections" => o.connections = value.parse().with_context(bad)?,
                "--threads" => o.wrk_threads = value.parse().with_context(bad)?,
                "--workers" => o.envoy_workers = value.parse().with_context(bad)?,
                "--latency-ms" => o.tokenreview_latency_ms = value.parse().with_context(bad)?,
                "--pool" => o.token_pool = value.parse().with_context(bad)?,
                "--ops" => o.ops = value.parse().with_context(bad)?,
                "--budget" => o.budget_secs = value.parse().with_context(bad)?,
                "--out" => o.out = PathBuf::from(value),
                _ => bail!("unknown flag {flag}\nusage: {USAGE}"),
            }
        }
        ensure!(o.rounds >= 1, "--rounds must be at least 1");
        ensure!(
            o.duration_secs >= 1.0 && o.warmup_secs >= 1.0,
            "--duration and --warmup must be at least 1 (whole seconds: wrk's unit)"
        );
        o.duration_secs = o.duration_secs.round();
        o.warmup_secs = o.warmup_secs.round();
        ensure!(
            o.wrk_threads >= 1 && o.connections >= o.wrk_threads,
            "need 1 ≤ --threads ≤ --connections"
        );
        ensure!(
            o.token_pool >= 1 && o.ops >= 1,
            "--pool and --ops must be ≥ 1"
        );
        Ok(o)
    }

    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration_secs)
    }

    fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup_secs)
    }
}

/// Progress on stderr (stdout stays for the caller).
macro_rules! say {
    ($($arg:tt)*) => { eprintln!("bench: {}", format!($($arg)*)) };
}

struct Clock {
    started: Instant,
    budget: Duration,
}

impl Clock {
    fn check(&self, step: &str) -> Result<()> {
        if self.started.elapsed() > self.budget {
            bail!(
                "over the time budget ({:?}) before {step}: stopping",
                self.budget
            );
        }
        Ok(())
    }

    fn secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }
}

/// One thing wrk is pointed at.
struct Target {
    id: &'static str,
    label: &'static str,
    port: u16,
    /// Token files prefix per round (the same pool every round, or fresh tokens).
    tokens: Vec<PathBuf>,
}

#[derive(Serialize)]
struct Measured {
    round: usize,
    /// Position in the round (0 = first).
    slot: usize,
    #[serde(flatten)]
    run: Run,
    /// TokenReview calls the server received during the run.
    reviews: u64,
    /// Machine-wide TCP counters during the run (diagnostics: a dropped SYN costs 1 s).
    listen_drops: u64,
    retransmits: u64,
    /// Sockets in TIME_WAIT on the machine at the end of the run.
    time_wait: u64,
}

/// TCP sockets in TIME_WAIT on the whole machine (`tw` in /proc/net/sockstat).
fn time_wait() -> u64 {
    std::fs::read_to_string("/proc/net/sockstat")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("TCP:"))?;
            let words: Vec<&str> = line.split_whitespace().collect();
            let i = words.iter().position(|w| *w == "tw")?;
            words.get(i + 1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// `(ListenDrops, RetransSegs)` of the whole machine, from /proc.
fn tcp_counters() -> (u64, u64) {
    fn field(path: &str, prefix: &str, name: &str) -> Option<u64> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut lines = text.lines().filter(|l| l.starts_with(prefix));
        let (names, values) = (lines.next()?, lines.next()?);
        let i = names.split_whitespace().position(|n| n == name)?;
        values.split_whitespace().nth(i)?.parse().ok()
    }
    (
        field("/proc/net/netstat", "TcpExt:", "ListenDrops").unwrap_or(0),
        field("/proc/net/snmp", "Tcp:", "RetransSegs").unwrap_or(0),
    )
}

#[derive(Serialize)]
struct Medians {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

#[derive(Serialize)]
struct Ratio {
    /// Median over the rounds of the per-round ratio.
    median: f64,
    min: f64,
    max: f64,
    per_round: Vec<f64>,
}

#[derive(Serialize)]
struct VariantReport {
    id: &'static str,
    label: &'static str,
    median: Medians,
    /// Ratios to the baseline of the comparison (throughput, p50, p99), median of rounds.
    vs_baseline: BTreeMap<&'static str, Ratio>,
    reviews_per_request: f64,
    errors: u64,
    listen_drops: u64,
    max_time_wait: u64,
    runs: Vec<Measured>,
}

fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Nearest-rank percentile (`q` in 0..=100) of unsorted values.
fn percentile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((q / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

fn ratio(per_round: Vec<f64>) -> Ratio {
    let finite: Vec<f64> = per_round
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    Ratio {
        median: median(&finite),
        min: finite.iter().copied().fold(f64::INFINITY, f64::min),
        max: finite.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        per_round,
    }
}

/// The order of the targets in each round.
type Orders = Vec<Vec<&'static str>>;

/// Runs every target once per round, the order rotating by one each round. `prepare` is
/// called before each run with the target's index and may hand back another port (a target
/// that needs a fresh process per run). Returns the runs per target and each round's order.
fn interleave(
    clock: &Clock,
    load: &Load,
    api: &TokenReviewServer,
    rounds: usize,
    targets: &[Target],
    prepare: &mut dyn FnMut(usize) -> Result<Option<u16>>,
) -> Result<(Vec<Vec<Measured>>, Orders)> {
    let mut runs: Vec<Vec<Measured>> = targets.iter().map(|_| Vec::new()).collect();
    let mut orders = Vec::new();
    for round in 0..rounds {
        let order: Vec<usize> = (0..targets.len())
            .map(|i| (i + round) % targets.len())
            .collect();
        orders.push(order.iter().map(|&i| targets[i].id).collect());
        for (slot, &i) in order.iter().enumerate() {
            let t = &targets[i];
            clock.check(&format!("round {} of {}", round + 1, t.id))?;
            let port = prepare(i)?.unwrap_or(t.port);
            let before = api.review_count();
            let tcp_before = tcp_counters();
            let run = load
                .run(port, ZONES, &t.tokens[round % t.tokens.len()], None)
                .with_context(|| format!("{} in round {}", t.id, round + 1))?;
            let reviews = api.review_count().saturating_sub(before);
            let tcp_after = tcp_counters();
            let listen_drops = tcp_after.0.saturating_sub(tcp_before.0);
            let retransmits = tcp_after.1.saturating_sub(tcp_before.1);
            let time_wait = time_wait();
            say!(
                "round {}/{} {:<10} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>7.2} ms  errors {}  reviews {}  listen drops {}  TIME_WAIT {}",
                round + 1,
                rounds,
                t.id,
                run.rps,
                run.p50_ms,
                run.p99_ms,
                run.errors.total(),
                reviews,
                listen_drops,
                time_wait
            );
            runs[i].push(Measured {
                round,
                slot,
                run,
                reviews,
                listen_drops,
                retransmits,
                time_wait,
            });
        }
    }
    Ok((runs, orders))
}

/// The baseline's throughput, p50 and p99 in one round.
type Base = (f64, f64, f64);

/// Reports of `targets`, with ratios to `targets[baseline]` taken round by round.
fn reports(
    targets: &[Target],
    runs: Vec<Vec<Measured>>,
    baseline: usize,
) -> Result<Vec<VariantReport>> {
    let base: Vec<Base> = runs
        .get(baseline)
        .context("no baseline")?
        .iter()
        .map(|m| (m.run.rps, m.run.p50_ms, m.run.p99_ms))
        .collect();
    let mut out = Vec::new();
    for (t, runs) in targets.iter().zip(runs) {
        let per = |f: &dyn Fn(&Measured, &Base) -> f64| -> Vec<f64> {
            runs.iter().zip(&base).map(|(m, b)| f(m, b)).collect()
        };
        let mut vs = BTreeMap::new();
        vs.insert("rps", ratio(per(&|m, b| m.run.rps / b.0)));
        vs.insert("p50", ratio(per(&|m, b| m.run.p50_ms / b.1)));
        vs.insert("p99", ratio(per(&|m, b| m.run.p99_ms / b.2)));
        let requests: u64 = runs.iter().map(|m| m.run.requests).sum();
        let reviews: u64 = runs.iter().map(|m| m.reviews).sum();
        out.push(VariantReport {
            id: t.id,
            label: t.label,
            median: Medians {
                rps: median(&runs.iter().map(|m| m.run.rps).collect::<Vec<_>>()),
                p50_ms: median(&runs.iter().map(|m| m.run.p50_ms).collect::<Vec<_>>()),
                p99_ms: median(&runs.iter().map(|m| m.run.p99_ms).collect::<Vec<_>>()),
            },
            vs_baseline: vs,
            reviews_per_request: if requests > 0 {
                reviews as f64 / requests as f64
            } else {
                0.0
            },
            errors: runs.iter().map(|m| m.run.errors.total()).sum(),
            listen_drops: runs.iter().map(|m| m.listen_drops).sum(),
            max_time_wait: runs.iter().map(|m| m.time_wait).max().unwrap_or(0),
            runs,
        });
    }
    Ok(out)
}

/// `n` ServiceAccount tokens of `NAMESPACE` (spread over 8 ServiceAccounts), minted on
/// every core (RS256 signing is most of the cost).
fn mint(api: &TokenReviewServer, tag: &str, n: usize) -> Vec<String> {
    let workers = std::thread::available_parallelism()
        .map(|p| p.get())
        .unwrap_or(1);
    let mut parts: Vec<Vec<String>> = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                s.spawn(move || {
                    (w..n)
                        .step_by(workers)
                        .map(|i| {
                            api.mint(&MintRequest::new(
                                NAMESPACE,
                                &format!("{tag}-{}", i % 8),
                                &[AUDIENCE],
                            ))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            parts.push(h.join().unwrap_or_default());
        }
    });
    parts.into_iter().flatten().collect()
}

fn identity_headers() -> Value {
    json!({"user": "x-remote-user", "groups": "x-remote-group"})
}

fn basic_config() -> String {
    json!({"mode": "basic", "identityHeaders": identity_headers()}).to_string()
}

fn tokenreview_config(api: &TokenReviewServer) -> String {
    json!({
        "mode": "tokenReview",
        "identityHeaders": identity_headers(),
        "tokenReview": {
            "audiences": [AUDIENCE],
            "allowedNamespaces": [NAMESPACE],
            "reviewerToken": api.reviewer_token(),
            "cacheTtlSeconds": CACHE_TTL_SECS,
        }
    })
    .to_string()
}

fn start_envoy(opts: EnvoyOptions, workers: u32) -> Result<Envoy> {
    let mut o = opts;
    o.concurrency = workers;
    Envoy::start(&o)
}

/// One authenticated GET through `port` must answer 200 before any load is measured.
fn expect_ok(port: u16, token: &str, what: &str) -> Result<()> {
    let r = bindcar_testbed::http::get(
        port,
        ZONES,
        &[("authorization", format!("Bearer {token}").as_bytes())],
    )?;
    ensure!(
        r.status == 200,
        "{what}: GET {ZONES} answered {} {}",
        r.status,
        r.text()
    );
    Ok(())
}

fn counters(envoy: &Envoy) -> BTreeMap<&'static str, u64> {
    [
        "bindcar_auth_allowed",
        "bindcar_auth_cache_hits",
        "bindcar_auth_cache_misses",
        "bindcar_auth_reviews_sent",
    ]
    .into_iter()
    .map(|name| (name, envoy.counter(name).unwrap_or(0)))
    .collect()
}

/// Part 1, 2 and 5: the filter's cost in front of a fast upstream, reviews per token, and
/// Envoy's memory.
///
/// (d) must see a token it has never seen on every request. Its cache lives in the Envoy
/// process (shared data), so each round starts a new Envoy for (d), warms it up with tokens
/// set apart for that, then measures with tokens it has not seen: the same two sets every
/// round, minted once (minting a fresh set per round costs more time than the runs).
#[allow(clippy::too_many_arguments)]
fn filter_cost(
    clock: &Clock,
    opts: &Options,
    load: &Load,
    dir: &Path,
    api: &TokenReviewServer,
    ca: &Path,
    upstream: u16,
) -> Result<Value> {
    let workers = opts.envoy_workers;
    let pool = mint(api, "client", opts.token_pool);
    let pool_files = load.write_pool(dir, "pool", &pool)?;
    let tokenreview_envoy = || {
        start_envoy(
            EnvoyOptions::filter(&tokenreview_config(api), upstream)
                .with_api_server(api.https_port(), ca),
            workers,
        )
    };

    say!("starting 4 Envoys ({workers} workers each)");
    let mut bare = EnvoyOptions::filter("{}", upstream);
    bare.plugin_config = None;
    let envoys = [
        start_envoy(bare, workers)?,
        start_envoy(EnvoyOptions::filter(&basic_config(), upstream), workers)?,
        tokenreview_envoy()?,
    ];
    let mut cold = tokenreview_envoy()?;
    std::thread::sleep(Duration::from_secs(1));
    let mut rss_idle: Vec<Option<u64>> = envoys.iter().map(Envoy::rss_kib).collect();
    rss_idle.push(cold.rss_kib());

    for (e, id) in envoys.iter().zip(["a", "b", "c"]) {
        expect_ok(e.port, &pool[0], &format!("Envoy {id}"))?;
    }
    // Warm-up: connections opened, code paths hot, and (c)'s cache filled by the pool.
    let pool_first_use = clock.secs();
    for (e, id) in envoys.iter().zip(["a", "b", "c"]) {
        clock.check("warm-up")?;
        let r = load.run(e.port, ZONES, &pool_files, Some(opts.warmup()))?;
        say!("warm-up {id} {:.0} req/s (discarded)", r.rps);
    }
    // A pilot of (d) sizes the set of fresh tokens; its tokens then warm up each new (d).
    let warm_tokens = mint(api, "warm", 6000);
    let warm_files = load.write_fresh(dir, "warm", &warm_tokens)?;
    let pilot = load.run(cold.port, ZONES, &warm_files, Some(opts.warmup()))?;
    let per_run =
        ((pilot.rps * opts.duration_secs * 1.5).ceil() as usize + 2000).clamp(4000, 80_000);
    say!(
        "pilot d {:.0} req/s: minting {per_run} tokens never sent to a (d)",
        pilot.rps
    );
    clock.check("minting")?;
    let mint_started = Instant::now();
    let fresh = mint(api, "cold", per_run);
    let cold_files = load.write_fresh(dir, "cold", &fresh)?;
    let mint_secs = mint_started.elapsed().as_secs_f64();
    say!("minted in {mint_secs:.1} s");

    let before = counters(&envoys[2]);
    let targets = [
        Target {
            id: "a",
            label: "Envoy, no filter",
            port: envoys[0].port,
            tokens: vec![pool_files.clone()],
        },
        Target {
            id: "b",
            label: "Envoy + filter, basic",
            port: envoys[1].port,
            tokens: vec![pool_files.clone()],
        },
        Target {
            id: "c",
            label: "Envoy + filter, TokenReview, warm cache",
            port: envoys[2].port,
            tokens: vec![pool_files.clone()],
        },
        Target {
            id: "d",
            label: "Envoy + filter, TokenReview, new token per request",
            port: 0,
            tokens: vec![cold_files],
        },
    ];
    let mut restarts = 0;
    let mut prepare = |i: usize| -> Result<Option<u16>> {
        if i != 3 {
            return Ok(None);
        }
        // A new (d): stop the old one first (its cache holds the measured tokens).
        drop(std::mem::replace(&mut cold, tokenreview_envoy()?));
        restarts += 1;
        load.run(cold.port, ZONES, &warm_files, Some(opts.warmup()))?;
        Ok(Some(cold.port))
    };
    let (runs, order) = interleave(clock, load, api, opts.rounds, &targets, &mut prepare)?;
    let pool_last_use = clock.secs();
    let after = counters(&envoys[2]);
    let mut rss_loaded: Vec<Option<u64>> = envoys.iter().map(Envoy::rss_kib).collect();
    rss_loaded.push(cold.rss_kib());
    let cold_wrapped: u64 = runs[3].iter().map(|m| m.run.wrapped).sum();

    // Part 2: reviews per distinct token of the pool, over its whole use in (c).
    let per_token: Vec<u64> = pool.iter().map(|t| api.reviews_for_token(t)).collect();
    let span = pool_last_use - pool_first_use;
    let windows = 1 + (span / CACHE_TTL_SECS as f64).floor() as u64;
    let bound = u64::from(workers) * windows;
    let max = per_token.iter().copied().max().unwrap_or(0);
    let mut top = per_token.clone();
    top.sort_unstable_by(|a, b| b.cmp(a));
    top.truncate(8);
    let over_bound = per_token.iter().filter(|&&n| n > bound).count();
    let delta = |k: &str| after[k].saturating_sub(before[k]);

    let variants = reports(&targets, runs, 0)?;
    let rss = |i: usize| json!({"idle_kib": rss_idle[i], "after_load_kib": rss_loaded[i]});
    Ok(json!({
        "path": ZONES,
        "upstream": "hyper HTTP/1.1 responder in the bench process (200, 17-byte JSON body)",
        "order": order,
        "variants": variants,
        "cold": {
            "tokens_per_run": per_run,
            "warmup_tokens": warm_tokens.len(),
            "pilot_rps": pilot.rps,
            "mint_secs": mint_secs,
            "envoy_restarts": restarts,
            "wrapped": cold_wrapped,
        },
        "reviews_per_token": {
            "tokens": pool.len(),
            "reviews_total": per_token.iter().sum::<u64>(),
            "mean": per_token.iter().sum::<u64>() as f64 / pool.len().max(1) as f64,
            "max": max,
            "min": per_token.iter().copied().min().unwrap_or(0),
            "top": top,
            "tokens_over_bound": over_bound,
            "span_secs": span,
            "ttl_secs": CACHE_TTL_SECS,
            "ttl_windows": windows,
            "workers": workers,
            "bound": bound,
            "within_bound": max <= bound,
            "filter_counters_during_rounds": {
                "cache_hits": delta("bindcar_auth_cache_hits"),
                "cache_misses": delta("bindcar_auth_cache_misses"),
                "reviews_sent": delta("bindcar_auth_reviews_sent"),
            },
        },
        "envoy_rss": {"a": rss(0), "b": rss(1), "c": rss(2), "d": rss(3)},
    }))
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn zone_body(name: &str) -> Vec<u8> {
    json!({
        "zoneName": name,
        "zoneType": "primary",
        "zoneConfig": {
            "ttl": 300,
            "soa": {"primaryNs": format!("ns1.{name}."), "adminEmail": format!("hostmaster.{name}.")},
            "nameServers": [format!("ns1.{name}.")],
            "nameServerIps": {format!("ns1.{name}."): "127.0.0.1"},
            "records": [
                {"name": "www", "type": "A", "value": "192.0.2.10", "ttl": 60},
                {"name": "@", "type": "TXT", "value": "\"v=spf1 -all\""}
            ]
        }
    })
    .to_string()
    .into_bytes()
}

/// Part 3: the cached stack (Envoy + filter in TokenReview mode in front of bindcar with
/// auth disabled) against the reference approach (bindcar alone, a TokenReview per request)
/// and, for context, bindcar alone with its own verdict cache. Twice: with no zone to list
/// (the answer costs bindcar next to nothing, so authentication dominates), then with one
/// zone (bindcar asks named, over rndc, about it on every request).
#[allow(clippy::too_many_arguments)]
fn reference(
    clock: &Clock,
    opts: &Options,
    load: &Load,
    dir: &Path,
    api: &TokenReviewServer,
    ca: &Path,
    named: &Named,
    mesh: &Backend,
) -> Result<Value> {
    let kubeconfig = api.write_kubeconfig(dir)?.display().to_string();
    let standalone = |cache_entries: &str| -> Result<Backend> {
        let mut e = named.backend_env();
        e.extend(env(&[
            ("BIND_AUTH_MODE", "tokenreview"),
            ("BIND_TOKEN_AUDIENCES", AUDIENCE),
            ("BIND_ALLOWED_NAMESPACES", NAMESPACE),
            ("BIND_TOKEN_CACHE_TTL_SECS", &CACHE_TTL_SECS.to_string()),
            ("BIND_TOKEN_CACHE_MAX_ENTRIES", cache_entries),
            ("KUBECONFIG", &kubeconfig),
            ("RUST_LOG", "warn"),
        ]));
        Backend::try_start(e, &[])
    };
    say!("starting the stack's Envoy and two standalone backends");
    let stack = start_envoy(
        EnvoyOptions::filter(&tokenreview_config(api), mesh.port())
            .with_api_server(api.https_port(), ca),
        opts.envoy_workers,
    )?;
    let uncached = standalone("0")?;
    let cached = standalone("10000")?;

    let pool = mint(api, "caller", opts.token_pool);
    let files = load.write_pool(dir, "callers", &pool)?;
    let mut client = Client::new(mesh.port());
    let count = |client: &mut Client| -> Result<u64> {
        let a = client.call("GET", ZONES, None)?;
        ensure!(a.status == 200, "GET {ZONES}: {}", a.status);
        let v: Value = serde_json::from_slice(&a.body)?;
        v["count"].as_u64().context("no count in GET /zones")
    };
    let listed = count(&mut client)?;
    ensure!(
        listed == 0,
        "{listed} zones left over before the empty-list runs"
    );
    for (port, what) in [
        (stack.port, "the stack"),
        (uncached.port(), "bindcar, no cache"),
        (cached.port(), "bindcar, cached"),
    ] {
        expect_ok(port, &pool[0], what)?;
    }
    for (port, what) in [
        (stack.port, "stack"),
        (uncached.port(), "reference"),
        (cached.port(), "cached"),
    ] {
        clock.check("warm-up")?;
        let r = load.run(port, ZONES, &files, Some(opts.warmup()))?;
        say!("warm-up {what} {:.0} req/s (discarded)", r.rps);
    }
    let targets = [
        Target {
            id: "reference",
            label: "bindcar alone, TokenReview per request (cache off)",
            port: uncached.port(),
            tokens: vec![files.clone()],
        },
        Target {
            id: "stack",
            label: "Envoy + filter (TokenReview, warm) → bindcar",
            port: stack.port,
            tokens: vec![files.clone()],
        },
        Target {
            id: "cached",
            label: "bindcar alone, TokenReview with its own cache",
            port: cached.port(),
            tokens: vec![files.clone()],
        },
    ];
    let mut comparisons = serde_json::Map::new();
    for zones in [0u64, 1] {
        if zones == 1 {
            let created = client.call("POST", ZONES, Some(&zone_body("listed.bench.test")))?;
            ensure!(
                created.status == 201,
                "creating the listed zone: {} {}",
                created.status,
                String::from_utf8_lossy(&created.body)
            );
            ensure!(count(&mut client)? == 1, "the listed zone is not listed");
        }
        say!("authenticated GET {ZONES}, {zones} zone(s) listed");
        let before = counters(&stack);
        let (runs, order) = interleave(clock, load, api, opts.rounds, &targets, &mut |_| Ok(None))?;
        let after = counters(&stack);
        let stack_counters: BTreeMap<&str, u64> = after
            .iter()
            .map(|(k, v)| (*k, v.saturating_sub(before[k])))
            .collect();
        comparisons.insert(
            format!("zones_{zones}"),
            json!({
                "zones_listed": zones,
                "order": order,
                "variants": reports(&targets, runs, 0)?,
                "stack_filter_counters": stack_counters,
            }),
        );
    }
    Ok(json!({
        "path": ZONES,
        "backend": "target/release/bindcar against a private named",
        "comparisons": comparisons,
    }))
}

/// One call of a zone-operations iteration: name, method, path, body, expected status.
type Step = (&'static str, &'static str, String, Option<Vec<u8>>, u16);

/// Part 4: zone operations as an API client sees them, one keep-alive connection to bindcar
/// (auth disabled, as behind the mesh), each iteration: create, status, server status, delete.
fn zone_ops(clock: &Clock, opts: &Options, mesh: &Backend) -> Result<Value> {
    clock.check("zone operations")?;
    let mut client = Client::new(mesh.port());
    let names = ["create", "status", "server_status", "delete"];
    let mut times: Vec<Vec<f64>> = names.iter().map(|_| Vec::new()).collect();
    let mut failures: BTreeMap<&str, u64> = BTreeMap::new();
    let mut first_failure: Option<String> = None;
    let warmup = 5;
    for i in 0..opts.ops + warmup {
        let zone = format!("op{i}.bench.test");
        let steps: [Step; 4] = [
            (
                "create",
                "POST",
                ZONES.to_string(),
                Some(zone_body(&zone)),
                201,
            ),
            ("status", "GET", format!("{ZONES}/{zone}/status"), None, 200),
            (
                "server_status",
                "GET",
                "/api/v1/server/status".to_string(),
                None,
                200,
            ),
            ("delete", "DELETE", format!("{ZONES}/{zone}"), None, 200),
        ];
        for (k, (name, method, path, body, expect)) in steps.into_iter().enumerate() {
            let a = client.call(method, &path, body.as_deref())?;
            if a.status != expect {
                *failures.entry(name).or_default() += 1;
                first_failure.get_or_insert_with(|| {
                    format!(
                        "{method} {path} → {} {}",
                        a.status,
                        String::from_utf8_lossy(&a.body)
                    )
                });
            } else if i >= warmup {
                times[k].push(a.elapsed.as_secs_f64() * 1e3);
            }
        }
    }
    let total_failures: u64 = failures.values().sum();
    ensure!(
        total_failures * 10 <= (opts.ops * names.len()) as u64,
        "too many failed zone operations ({total_failures}); first: {}",
        first_failure.unwrap_or_default()
    );
    let mut ops = serde_json::Map::new();
    for (name, t) in names.iter().zip(&times) {
        ops.insert(
            name.to_string(),
            json!({
                "n": t.len(),
                "p50_ms": median(t),
                "p99_ms": percentile(t, 99.0),
                "mean_ms": t.iter().sum::<f64>() / t.len().max(1) as f64,
                "max_ms": t.iter().copied().fold(0.0, f64::max),
                "failures": failures.get(name).copied().unwrap_or(0),
            }),
        );
    }
    Ok(json!({
        "client": "one keep-alive HTTP/1.1 connection, timed from request written to answer read",
        "auth": "DISABLE_AUTH=true (as behind the mesh)",
        "iterations": opts.ops,
        "warmup_iterations": warmup,
        "first_failure": first_failure,
        "ops": ops,
    }))
}

fn command_line(cmd: &Path, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .current_dir(workspace_root())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn machine(opts: &Options) -> Result<Value> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let envoy_version = command_line(&envoy_bin()?, &["--version"]);
    // `<path>  version: <sha>/1.40.0/Clean/RELEASE/BoringSSL`
    let envoy_version = envoy_version
        .split_once("version:")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or(envoy_version);
    let envoy_release = envoy_version
        .split('/')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let git = |args: &[&str]| command_line(Path::new("git"), args);
    Ok(json!({
        "cores": std::thread::available_parallelism().map(|p| p.get()).unwrap_or(0),
        "cpu": cpu,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "loadavg_at_start": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
        "envoy": envoy_release,
        "envoy_version": envoy_version,
        "wrk": wrk::version(),
        "git_commit": git(&["rev-parse", "--short", "HEAD"]),
        "git_dirty": !git(&["status", "--porcelain", "--untracked-files=no"]).is_empty(),
        "envoy_workers": opts.envoy_workers,
    }))
}

fn target_check(name: &str, value: f64, op: &str, goal: f64) -> Value {
    let met = match op {
        ">=" => value >= goal,
        "<=" => value <= goal,
        _ => value < goal,
    };
    json!({"target": name, "value": value, "op": op, "goal": goal, "met": met})
}

fn variant_ratio(section: &Value, id: &str) -> f64 {
    section["variants"]
        .as_array()
        .and_then(|v| v.iter().find(|x| x["id"] == id))
        .and_then(|x| x["vs_baseline"]["rps"]["median"].as_f64())
        .unwrap_or(f64::NAN)
}

fn targets(filter: &Value, reference: &Value, ops: &Value) -> Value {
    let rpt = &filter["reviews_per_token"];
    let cmp = &reference["comparisons"];
    json!([
        target_check(
            "basic mode throughput / bare Envoy",
            variant_ratio(filter, "b"),
            ">=",
            0.90
        ),
        target_check(
            "TokenReview (warm cache) throughput / bare Envoy",
            variant_ratio(filter, "c"),
            ">=",
            0.85
        ),
        target_check(
            "max reviews per token / (workers × TTL windows)",
            rpt["max"].as_f64().unwrap_or(f64::NAN) / rpt["bound"].as_f64().unwrap_or(f64::NAN),
            "<=",
            1.0
        ),
        target_check(
            "cached stack / reference, authenticated GET /zones per second (no zone listed)",
            variant_ratio(&cmp["zones_0"], "stack"),
            ">=",
            10.0
        ),
        target_check(
            "cached stack / reference, authenticated GET /zones per second (one zone listed)",
            variant_ratio(&cmp["zones_1"], "stack"),
            ">=",
            10.0
        ),
        target_check(
            "backend create p50 (ms)",
            ops["ops"]["create"]["p50_ms"].as_f64().unwrap_or(f64::NAN),
            "<",
            5.0
        ),
        target_check(
            "backend delete p50 (ms)",
            ops["ops"]["delete"]["p50_ms"].as_f64().unwrap_or(f64::NAN),
            "<",
            5.0
        ),
    ])
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
    let wasm = wasm_path()?;
    let wasm_bytes = std::fs::metadata(&wasm)?.len();
    bindcar_testbed::backend::binary()
        .context("the release backend (cargo build --release -p bindcar)")?;
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
    let upstream = responder::start(&rt)?;

    let filter = filter_cost(&clock, opts, &load, dir.path(), &api, &ca, upstream)?;

    say!("starting named and bindcar");
    let named = Named::try_start(NamedOptions::default())?;
    let mut mesh_env = named.backend_env();
    mesh_env.extend(env(&[("DISABLE_AUTH", "true"), ("RUST_LOG", "warn")]));
    let mesh = Backend::try_start(mesh_env, &[])?;
    // Zone operations first, on a quiet machine; they leave no zone behind.
    let ops = zone_ops(&clock, opts, &mesh)?;
    let reference = reference(&clock, opts, &load, dir.path(), &api, &ca, &named, &mesh)?;
    let targets = targets(&filter, &reference, &ops);

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
        "filter": filter,
        "reference": reference,
        "backend_ops": ops,
        "footprint": {
            "wasm_path": wasm.strip_prefix(workspace_root()).unwrap_or(&wasm).display().to_string(),
            "wasm_bytes": wasm_bytes,
        },
        "targets": targets,
        "loadavg_at_end": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
    });
    if let Some(parent) = opts.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = opts.out.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&report)? + "\n")?;
    std::fs::rename(&tmp, &opts.out)?;
    say!("wrote {} in {:.0} s", opts.out.display(), clock.secs());
    drop(rt);
    Ok(report)
}
