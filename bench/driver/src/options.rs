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
    /// Rounds and run length of part 0 (filter CPU): more, shorter runs than the proxied parts.
    pub cpu_rounds: usize,
    pub cpu_duration_secs: f64,
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
    /// Zones the bindcar 0.9.0 comparison fills up to: 10,000 (default) or 1,000.
    pub peer_zones: usize,
    /// Run only the bindcar 0.9.0 comparison (`--only peer`).
    pub only_peer: bool,
    /// Run only the filter-CPU section (`--only filter-cpu`), written to
    /// `bench/results/filter-cpu.json` unless `--out` says otherwise.
    pub only_filter_cpu: bool,
    /// Run only the 100,000-zone part (`--only zones-100k`).
    pub only_zones_100k: bool,
    /// Whether the full run includes the 100,000-zone part (`BENCH_100K=0` leaves it out).
    pub zones_100k: bool,
    /// The 100,000-zone part stops creating past this many seconds.
    pub zones_100k_budget_secs: u64,
    /// Zones of that part: 100,000 (`--quick`: 10,000, a smoke run).
    pub zones_100k_goal: usize,
    /// Run only the catalog part (`--only catalog`), written to `bench/results/catalog.json`.
    pub only_catalog: bool,
    /// Zones the catalog part creates (1,000; 100 with `--quick`).
    pub catalog_zones: usize,
}

pub const USAGE: &str = "bench [--rounds N] [--duration SECS] [--warmup SECS] [--connections N]
      [--threads N] [--workers N] [--latency-ms MS] [--pool N] [--ops N] [--budget SECS]
      [--cpu-rounds N] [--cpu-duration SECS]
      [--out PATH] [--quick] [--peer-zones 1000|10000] [--budget-100k SECS]
      [--only filter-cpu|records|peer|zones-100k|catalog]
Defaults: 5 rounds of 5 s runs (part 0: 18 rounds of 1 s), 2 s warm-ups, 32 connections on 2 wrk threads, Envoy with
2 workers, 5 ms TokenReview latency, a pool of 64 tokens, 200 backend operations each, a
budget of 1800 s (900 s with BENCH_100K=0), out = bench/results/latest.json.
--quick: 2 rounds of 2 s (part 0: 3 of 1 s), 40 operations, 10,000 zones instead of
100,000 (a smoke run, not a measurement: out = bench/results/quick.json).
--peer-zones: how far the comparison with bindcar 0.9.0 fills each server (default 10000;
1000 for a shorter run). --budget-100k: the 100,000-zone part stops creating past this
(default 720 s; the peer stops at a third of it). Environment: BENCH_100K=0 leaves the 100,000-zone part out of a full run.
--only runs one part and writes bench/results/<part>.json (unless --out): filter-cpu (Envoy's
CPU per request by variant, 1 worker, direct response), records (the record path here and on
bindcar 0.9.0; --records-only is the same), peer (this backend against bindcar 0.9.0),
zones-100k (100,000 zones on both), catalog (1,000 zones with two secondaries following the
catalog zone, against bindcar 0.9.0 called per secondary; 100 with --quick). Environment:
BENCH_SKIP_CATALOG=1 leaves the catalog part out of a full run.";

impl Options {
    pub fn from_args(args: &[String]) -> Result<Options> {
        let mut o = Options {
            rounds: 5,
            duration_secs: 5.0,
            cpu_rounds: 18,
            cpu_duration_secs: 1.0,
            warmup_secs: 2.0,
            connections: 32,
            wrk_threads: 2,
            envoy_workers: 2,
            tokenreview_latency_ms: 5,
            token_pool: 64,
            ops: 200,
            records_only: false,
            budget_secs: 1800,
            out: workspace_root().join("bench/results/latest.json"),
            peer_zones: 10_000,
            only_peer: false,
            only_filter_cpu: false,
            only_zones_100k: false,
            zones_100k: std::env::var("BENCH_100K").as_deref().map(str::trim) != Ok("0"),
            zones_100k_budget_secs: 720,
            zones_100k_goal: 100_000,
            only_catalog: false,
            catalog_zones: 1000,
        };
        let mut budget_given = false;
        let mut quick = false;
        let mut out_given = false;
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--quick" {
                quick = true;
                o.rounds = 2;
                o.duration_secs = 2.0;
                o.cpu_rounds = 3;
                o.cpu_duration_secs = 1.0;
                o.zones_100k_goal = 10_000;
                o.warmup_secs = 1.0;
                o.ops = 40;
                o.catalog_zones = 100;
                continue;
            }
            if flag == "--records-only" {
                o.records_only = true;
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
                "--cpu-rounds" => o.cpu_rounds = value.parse().with_context(bad)?,
                "--cpu-duration" => o.cpu_duration_secs = value.parse().with_context(bad)?,
                "--duration" => o.duration_secs = value.parse().with_context(bad)?,
                "--warmup" => o.warmup_secs = value.parse().with_context(bad)?,
                "--connections" => o.connections = value.parse().with_context(bad)?,
                "--threads" => o.wrk_threads = value.parse().with_context(bad)?,
                "--workers" => o.envoy_workers = value.parse().with_context(bad)?,
                "--latency-ms" => o.tokenreview_latency_ms = value.parse().with_context(bad)?,
                "--pool" => o.token_pool = value.parse().with_context(bad)?,
                "--ops" => o.ops = value.parse().with_context(bad)?,
                "--budget" => {
                    o.budget_secs = value.parse().with_context(bad)?;
                    budget_given = true;
                }
                "--budget-100k" => o.zones_100k_budget_secs = value.parse().with_context(bad)?,
                "--out" => {
                    o.out = PathBuf::from(value);
                    out_given = true;
                }
                "--peer-zones" => o.peer_zones = value.parse().with_context(bad)?,
                "--only" if value == "peer" => o.only_peer = true,
                "--only" if value == "filter-cpu" => o.only_filter_cpu = true,
                "--only" if value == "records" => o.records_only = true,
                "--only" if value == "zones-100k" => o.only_zones_100k = true,
                "--only" if value == "catalog" => o.only_catalog = true,
                _ => bail!("unknown flag {flag}\nusage: {USAGE}"),
            }
        }
        // A part run alone, or a smoke run, never replaces the full run's latest.json.
        let parts = [
            (o.only_filter_cpu, "filter-cpu"),
            (o.records_only, "records"),
            (o.only_peer, "peer"),
            (o.only_zones_100k, "zones-100k"),
            (o.only_catalog, "catalog"),
        ];
        let chosen: Vec<&str> = parts.iter().filter(|p| p.0).map(|p| p.1).collect();
        ensure!(chosen.len() <= 1, "one --only at a time");
        let name = chosen.first().copied().or(quick.then_some("quick"));
        if let (Some(name), false) = (name, out_given) {
            o.out = workspace_root().join(format!("bench/results/{name}.json"));
        }
        if !budget_given && !o.zones_100k {
            o.budget_secs = 900;
        }
        ensure!(
            o.rounds >= 1 && o.cpu_rounds >= 1,
            "--rounds and --cpu-rounds must be at least 1"
        );
        o.cpu_duration_secs = o.cpu_duration_secs.round().max(1.0);
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn out(args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let o = Options::from_args(&args).unwrap();
        o.out.file_name().unwrap().to_string_lossy().into_owned()
    }

    #[test]
    fn only_a_full_measured_run_writes_latest_json() {
        assert_eq!(out(&[]), "latest.json");
        assert_eq!(out(&["--quick"]), "quick.json");
        assert_eq!(out(&["--only", "filter-cpu"]), "filter-cpu.json");
        assert_eq!(out(&["--only", "peer", "--quick"]), "peer.json");
        assert_eq!(out(&["--records-only"]), "records.json");
        assert_eq!(out(&["--only", "zones-100k"]), "zones-100k.json");
        assert_eq!(out(&["--quick", "--out", "/tmp/x.json"]), "x.json");
    }

    #[test]
    fn one_part_at_a_time() {
        let args: Vec<String> = ["--only", "peer", "--only", "records"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert!(Options::from_args(&args).is_err());
    }
}
