//! Part 3: the mesh-native stack against the reference approach (bindcar 0.9.0 itself, which
//! calls TokenReview on every request), with no zone listed and with one.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{ensure, Context, Result};
use bindcar_testbed::backend::Backend;
use bindcar_testbed::envoy::EnvoyOptions;
use bindcar_testbed::named::Named;
use bindcar_testbed::tokenreview::TokenReviewServer;
use serde_json::{json, Value};

use crate::client::Client;
use crate::clock::Clock;
use crate::options::Options;
use crate::peer::{peer_binary, reference_binary, PEER_VERSION};
use crate::rounds::{interleave, reports, Target};
use crate::setup::{counters, env, expect_ok, mint, start_envoy, tokenreview_config, zone_body};
use crate::wrk::Load;
use crate::{AUDIENCE, CACHE_TTL_SECS, NAMESPACE, ZONES};

/// Part 3: the cached stack (Envoy + filter in TokenReview mode in front of this backend with
/// auth disabled) against the reference approach (bindcar 0.9.0 alone, a TokenReview per
/// request) and, for context, this backend alone with its own verdict cache. Twice: with no zone to list
/// (the answer costs bindcar next to nothing, so authentication dominates), then with one
/// zone (bindcar asks named, over rndc, about it on every request).
#[allow(clippy::too_many_arguments)]
pub(crate) fn reference(
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
    let tokenreview_env = |e: &mut Vec<(String, String)>| {
        e.extend(env(&[
            ("BIND_TOKEN_AUDIENCES", AUDIENCE),
            ("BIND_ALLOWED_NAMESPACES", NAMESPACE),
            ("KUBECONFIG", &kubeconfig),
            ("RATE_LIMIT_ENABLED", "false"),
            ("RUST_LOG", "warn"),
        ]))
    };
    // The reference: bindcar 0.9.0 itself, which reviews every request (it has no cache). It
    // reads the zone directory our backend writes, so it lists the same zones.
    let reference = || -> Result<Backend> {
        let mut e = named.backend_env();
        tokenreview_env(&mut e);
        Backend::try_start_binary(&peer_binary()?, e, &[])
    };
    // Context: this backend alone, with its own verdict cache.
    let cached_backend = || -> Result<Backend> {
        let mut e = named.backend_env();
        tokenreview_env(&mut e);
        let ttl = CACHE_TTL_SECS.to_string();
        e.extend(env(&[
            ("BIND_AUTH_MODE", "tokenreview"),
            ("BIND_TOKEN_CACHE_TTL_SECS", &ttl),
            ("BIND_TOKEN_CACHE_MAX_ENTRIES", "10000"),
        ]));
        Backend::try_start(e, &[])
    };
    say!("starting the stack's Envoy, bindcar {PEER_VERSION} and this backend with its cache");
    let stack = start_envoy(
        EnvoyOptions::filter(&tokenreview_config(api), mesh.port())
            .with_api_server(api.https_port(), ca),
        opts.envoy_workers,
    )?;
    let uncached = reference()?;
    let cached = cached_backend()?;

    let pool = mint(api, "caller", opts.token_pool);
    let files = load.write_pool(dir, "callers", &pool)?;
    let mut client = Client::new(mesh.port());
    let count = |client: &mut Client| -> Result<u64> {
        let a = client.call("GET", ZONES, None)?;
        ensure!(a.status == 200, "GET {ZONES}: {}", a.status);
        let v: Value = serde_json::from_slice(&a.body)?;
        v["count"].as_u64().context("no count in GET /zones")
    };
    // A zone the peer deleted (the record path) leaves our index at the next reconciliation
    // (an outside change: BIND_RECONCILE_SECS, 15 s by default).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let listed = count(&mut client)?;
        if listed == 0 {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "{listed} zones left over before the empty-list runs"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    for (port, what) in [
        (stack.port, "the stack"),
        (uncached.port(), "the reference bindcar"),
        (cached.port(), "this backend, cached"),
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
            label: "bindcar 0.9.0 alone, TokenReview on every request (it has no cache)",
            port: uncached.port(),
            tokens: vec![files.clone()],
        },
        Target {
            id: "stack",
            label: "Envoy + filter (TokenReview, warm) → this backend",
            port: stack.port,
            tokens: vec![files.clone()],
        },
        Target {
            id: "cached",
            label: "this backend alone, TokenReview with its own cache",
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
        "reference": reference_binary().display().to_string(),
        "reference_version": PEER_VERSION,
        "comparisons": comparisons,
    }))
}
