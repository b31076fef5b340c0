//! Parts 1, 2 and 5: the filter's cost in front of a fast upstream (four Envoys), reviews
//! per token of the warm pool, and Envoy's memory.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use bindcar_testbed::envoy::{Envoy, EnvoyOptions};
use bindcar_testbed::tokenreview::{RbacRule, TokenReviewServer};
use serde_json::{json, Value};

use crate::clock::Clock;
use crate::options::Options;
use crate::rounds::{interleave, reports, Target};
use crate::setup::{
    authz_config, basic_config, counters, expect_ok, mint, start_envoy, tokenreview_config,
};
use crate::wrk::Load;
use crate::{CACHE_TTL_SECS, NAMESPACE, ZONES};

/// Part 1, 2 and 5: the filter's cost in front of a fast upstream, reviews per token, and
/// Envoy's memory.
///
/// (d) must see a token it has never seen on every request. Its cache lives in the Envoy
/// process (shared data), so each round starts a new Envoy for (d), warms it up with tokens
/// set apart for that, then measures with tokens it has not seen: the same two sets every
/// round, minted once (minting a fresh set per round costs more time than the runs).
#[allow(clippy::too_many_arguments)]
pub(crate) fn filter_cost(
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
    // (e) reviews its tokens too: its own pool, so part 2 counts (c)'s reviews alone.
    let authz_pool = mint(api, "authz", opts.token_pool);
    let authz_files = load.write_pool(dir, "authz-pool", &authz_pool)?;
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
    // (e): (c) plus authorization by SubjectAccessReview; the pool's ServiceAccounts may list.
    api.set_rbac(vec![RbacRule::for_groups(
        &[&format!("system:serviceaccounts:{NAMESPACE}")],
        &["list"],
        &["zones"],
    )]);
    let authz = start_envoy(
        EnvoyOptions::filter(&authz_config(api), upstream).with_api_server(api.https_port(), ca),
        workers,
    )?;
    std::thread::sleep(Duration::from_secs(1));
    let mut rss_idle: Vec<Option<u64>> = envoys.iter().map(Envoy::rss_kib).collect();
    rss_idle.push(cold.rss_kib());
    rss_idle.push(authz.rss_kib());

    for (e, id) in envoys.iter().zip(["a", "b", "c"]) {
        expect_ok(e.port, &pool[0], &format!("Envoy {id}"))?;
    }
    expect_ok(authz.port, &authz_pool[0], "Envoy e")?;
    // Warm-up: connections opened, code paths hot, and (c)'s cache filled by the pool.
    let pool_first_use = clock.secs();
    let warm_ups = [&pool_files, &pool_files, &pool_files, &authz_files];
    for ((e, id), files) in envoys
        .iter()
        .chain([&authz])
        .zip(["a", "b", "c", "e"])
        .zip(warm_ups)
    {
        clock.check("warm-up")?;
        let r = load.run(e.port, ZONES, files, Some(opts.warmup()))?;
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
    let authz_before = counters(&authz);
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
        Target {
            id: "e",
            label: "Envoy + filter, TokenReview + SubjectAccessReview authorization, warm caches",
            port: authz.port,
            tokens: vec![authz_files],
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
    rss_loaded.push(authz.rss_kib());
    let authz_after = counters(&authz);
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
        "authz_counters_during_rounds": {
            "checks_sent": authz_after["bindcar_auth_authz_checks_sent"]
                .saturating_sub(authz_before["bindcar_auth_authz_checks_sent"]),
            "cache_hits": authz_after["bindcar_auth_authz_cache_hits"]
                .saturating_sub(authz_before["bindcar_auth_authz_cache_hits"]),
        },
        "envoy_rss": {"a": rss(0), "b": rss(1), "c": rss(2), "d": rss(3), "e": rss(4)},
    }))
}
