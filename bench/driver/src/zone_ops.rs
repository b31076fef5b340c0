//! Part 4: bindcar's zone operations on a real named, timed from one keep-alive client.

use std::collections::BTreeMap;

use anyhow::{ensure, Result};
use bindcar_testbed::backend::Backend;
use serde_json::{json, Value};

use crate::client::Client;
use crate::clock::Clock;
use crate::options::Options;
use crate::setup::zone_body;
use crate::stats::{median, percentile};
use crate::ZONES;

/// One call of a zone-operations iteration: name, method, path, body, expected status.
pub(crate) type Step = (&'static str, &'static str, String, Option<Vec<u8>>, u16);

/// Part 4: zone operations as an API client sees them, one keep-alive connection to bindcar
/// (auth disabled, as behind the mesh), each iteration: create, status, server status, delete.
pub(crate) fn zone_ops(clock: &Clock, opts: &Options, mesh: &Backend) -> Result<Value> {
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
