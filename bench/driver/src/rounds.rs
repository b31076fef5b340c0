//! Interleaved rounds: every variant once per round, the order rotating, and the per-round
//! ratios to a baseline.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use bindcar_testbed::tokenreview::TokenReviewServer;
use serde::Serialize;

use crate::clock::Clock;
use crate::machine::{tcp_counters, time_wait};
use crate::stats::{median, ratio, Medians, VariantReport};
use crate::wrk::{Load, Run};
use crate::ZONES;

/// One thing wrk is pointed at.
pub(crate) struct Target {
    pub(crate) id: &'static str,
    pub(crate) label: &'static str,
    pub(crate) port: u16,
    /// Token files prefix per round (the same pool every round, or fresh tokens).
    pub(crate) tokens: Vec<PathBuf>,
}

#[derive(Serialize)]
pub(crate) struct Measured {
    pub(crate) round: usize,
    /// Position in the round (0 = first).
    pub(crate) slot: usize,
    #[serde(flatten)]
    pub(crate) run: Run,
    /// TokenReview calls the server received during the run.
    pub(crate) reviews: u64,
    /// Machine-wide TCP counters during the run (diagnostics: a dropped SYN costs 1 s).
    pub(crate) listen_drops: u64,
    pub(crate) retransmits: u64,
    /// Sockets in TIME_WAIT on the machine at the end of the run.
    pub(crate) time_wait: u64,
}

/// The order of the targets in each round.
pub(crate) type Orders = Vec<Vec<&'static str>>;

/// Runs every target once per round, the order rotating by one each round. `prepare` is
/// called before each run with the target's index and may hand back another port (a target
/// that needs a fresh process per run). Returns the runs per target and each round's order.
pub(crate) fn interleave(
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
pub(crate) type Base = (f64, f64, f64);

/// Reports of `targets`, with ratios to `targets[baseline]` taken round by round.
pub(crate) fn reports(
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
