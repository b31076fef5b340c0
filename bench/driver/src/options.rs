//! The command line: what a run does (`bench --help`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use bindcar_testbed::envoy::workspace_root;
use serde::Serialize;

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
    /// Only the record path section (`--records-only`), written to `bench/results/records.json`.
    pub records_only: bool,
    /// Give up (and stop everything) past this many seconds.
    pub budget_secs: u64,
    pub out: PathBuf,
    /// Zones the bindcar 0.7.3 comparison fills up to: 10,000 (default) or 1,000.
    pub peer_zones: usize,
    /// Run only the bindcar 0.7.3 comparison (`--only peer`).
    pub only_peer: bool,
    /// Run only the filter-CPU section (`--only filter-cpu`), written to
    /// `bench/results/filter-cpu.json` unless `--out` says otherwise.
    pub only_filter_cpu: bool,
    /// Run only the catalog part (`--only catalog`), written to `bench/results/catalog.json`.
    pub only_catalog: bool,
    /// Zones the catalog part creates (1,000; 100 with `--quick`).
    pub catalog_zones: usize,
}

pub const USAGE: &str = "bench [--rounds N] [--duration SECS] [--warmup SECS] [--connections N]
      [--threads N] [--workers N] [--latency-ms MS] [--pool N] [--ops N] [--budget SECS]
      [--out PATH] [--quick] [--records-only] [--peer-zones 1000|10000]
      [--only peer|filter-cpu|catalog]
Defaults: 5 rounds of 5 s runs, 2 s warm-ups, 32 connections on 2 wrk threads, Envoy with
2 workers, 5 ms TokenReview latency, a pool of 64 tokens, 200 backend operations each, a
budget of 780 s, out = bench/results/latest.json. --quick: 2 rounds of 2 s, 40 operations
(a smoke run, not a measurement). --records-only: only the record path (add, update, delete
x 100 on this backend and on bindcar 0.7.3), out = bench/results/records.json. --peer-zones: how far the comparison with bindcar 0.7.3
fills each server (default 10000, ~30 s in all here; 1000 for a shorter run); --only peer: that comparison alone.
--only filter-cpu: only Envoy's CPU per request by variant (1 worker, direct response), out =
bench/results/filter-cpu.json. --only catalog: only the catalog part (1,000 zones with two
secondaries, against bindcar 0.9.0 called per secondary), out = bench/results/catalog.json;
BENCH_SKIP_CATALOG=1 leaves it out of the full run.";

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
            records_only: false,
            budget_secs: 780,
            out: workspace_root().join("bench/results/latest.json"),
            peer_zones: 10_000,
            only_peer: false,
            only_filter_cpu: false,
            only_catalog: false,
            catalog_zones: 1000,
        };
        let mut out_given = false;
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--quick" {
                o.rounds = 2;
                o.duration_secs = 2.0;
                o.warmup_secs = 1.0;
                o.ops = 40;
                o.catalog_zones = 100;
                continue;
            }
            if flag == "--records-only" {
                o.records_only = true;
                o.out = workspace_root().join("bench/results/records.json");
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
                "--out" => {
                    o.out = PathBuf::from(value);
                    out_given = true;
                }
                "--peer-zones" => o.peer_zones = value.parse().with_context(bad)?,
                "--only" if value == "peer" => o.only_peer = true,
                "--only" if value == "filter-cpu" => o.only_filter_cpu = true,
                "--only" if value == "catalog" => o.only_catalog = true,
                _ => bail!("unknown flag {flag}\nusage: {USAGE}"),
            }
        }
        if o.only_filter_cpu && !out_given {
            o.out = workspace_root().join("bench/results/filter-cpu.json");
        }
        if o.only_catalog && !out_given {
            o.out = workspace_root().join("bench/results/catalog.json");
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
        ensure!(
            o.peer_zones == 1000 || o.peer_zones == 10_000,
            "--peer-zones is 1000 or 10000"
        );
        Ok(o)
    }

    pub(crate) fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration_secs)
    }

    pub(crate) fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup_secs)
    }
}
