//! Medians, nearest-rank percentiles and per-round ratios, as the report gives them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::rounds::Measured;

#[derive(Serialize)]
pub(crate) struct Medians {
    pub(crate) rps: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
}

#[derive(Serialize)]
pub(crate) struct Ratio {
    /// Median over the rounds of the per-round ratio.
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) per_round: Vec<f64>,
}

#[derive(Serialize)]
pub(crate) struct VariantReport {
    pub(crate) id: &'static str,
    pub(crate) label: &'static str,
    pub(crate) median: Medians,
    /// Ratios to the baseline of the comparison (throughput, p50, p99), median of rounds.
    pub(crate) vs_baseline: BTreeMap<&'static str, Ratio>,
    pub(crate) reviews_per_request: f64,
    pub(crate) errors: u64,
    pub(crate) listen_drops: u64,
    pub(crate) max_time_wait: u64,
    pub(crate) runs: Vec<Measured>,
}

pub(crate) fn median(values: &[f64]) -> f64 {
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
pub(crate) fn percentile(values: &[f64], q: f64) -> f64 {
    let mut v = values.to_vec();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((q / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

pub(crate) fn ratio(per_round: Vec<f64>) -> Ratio {
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
