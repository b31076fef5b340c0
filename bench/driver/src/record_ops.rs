//! The record path: add, update and delete one record at a time through the records API, from
//! one keep-alive client, on this backend (native RFC 2136 with TSIG) and, when it is installed,
//! on bindcar 0.9.0 (which spawns `nsupdate` per call). Same named, same zone content.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use bindcar_testbed::named::Named;
use bindcar_testbed::ports::free_port;
use serde_json::{json, Value};

use crate::client::Client;
use crate::clock::Clock;
use crate::peer::{reference_binary, PEER_VERSION};
use crate::stats::{median, percentile};

const ZONES: &str = "/api/v1/zones";
/// Records per operation (the figure); not `--ops`, so the section stays short.
pub(crate) const RECORD_OPS: usize = 100;

fn dynamic_zone(name: &str) -> Vec<u8> {
    json!({
        "zoneName": name, "zoneType": "primary", "updateKeyName": "rndc-key",
        "zoneConfig": {
            "ttl": 300,
            "soa": {"primaryNs": format!("ns1.{name}."), "adminEmail": format!("hostmaster.{name}.")},
            "nameServers": [format!("ns1.{name}.")],
            "nameServerIps": {format!("ns1.{name}."): "127.0.0.1"},
        }
    })
    .to_string()
    .into_bytes()
}

/// Times `RECORD_OPS` adds, updates and deletes (each a different record) on `port`.
pub(crate) fn record_ops(clock: &Clock, port: u16, zone: &str) -> Result<Value> {
    clock.check("record operations")?;
    let mut client = Client::new(port);
    let created = client.call("POST", ZONES, Some(&dynamic_zone(zone)))?;
    ensure!(
        created.status == 201,
        "creating {zone}: {} {}",
        created.status,
        String::from_utf8_lossy(&created.body)
    );
    let path = format!("{ZONES}/{zone}/records");
    let names = ["add", "update", "delete"];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); 3];
    let warmup = 5;
    for i in 0..RECORD_OPS + warmup {
        let name = format!("r{i}");
        let steps = [
            (
                "POST",
                json!({"name": name, "type": "A", "value": "192.0.2.1", "ttl": 60}),
                201,
            ),
            (
                "PUT",
                json!({"name": name, "type": "A", "currentValue": "192.0.2.1", "newValue": "192.0.2.2", "ttl": 60}),
                200,
            ),
            (
                "DELETE",
                json!({"name": name, "type": "A", "value": "192.0.2.2"}),
                200,
            ),
        ];
        for (k, (method, body, expect)) in steps.into_iter().enumerate() {
            let a = client.call(method, &path, Some(body.to_string().as_bytes()))?;
            if a.status != expect {
                bail!(
                    "{method} {path} {body} → {} {}",
                    a.status,
                    String::from_utf8_lossy(&a.body)
                );
            }
            if i >= warmup {
                times[k].push(a.elapsed.as_secs_f64() * 1e3);
            }
        }
    }
    // The zone goes: part 3 then counts on an empty list (a leftover of the peer's, in the same
    // zone directory, would show in ours too).
    let deleted = client.call("DELETE", &format!("{ZONES}/{zone}"), None)?;
    ensure!(
        deleted.status == 200,
        "deleting {zone}: {} {}",
        deleted.status,
        String::from_utf8_lossy(&deleted.body)
    );
    let mut ops = serde_json::Map::new();
    for (name, t) in names.iter().zip(&times) {
        ops.insert(
            name.to_string(),
            json!({"n": t.len(), "p50_ms": median(t), "p99_ms": percentile(t, 99.0),
                   "max_ms": t.iter().copied().fold(0.0, f64::max)}),
        );
    }
    Ok(json!({"iterations": RECORD_OPS, "warmup_iterations": warmup, "ops": ops}))
}

/// bindcar 0.9.0, if installed (`.tools/bindcar/bin/bindcar`), against the same named.
pub(crate) struct Peer {
    child: Child,
    pub port: u16,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_peer(named: &Named) -> Result<Option<Peer>> {
    let binary: PathBuf = reference_binary();
    if !binary.is_file() {
        return Ok(None);
    }
    let port = free_port();
    let child = Command::new(&binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .env("TMPDIR", std::env::temp_dir())
        .env("RUST_LOG", "warn")
        .env("BIND_ZONE_DIR", named.zone_dir())
        .env("RNDC_SERVER", named.rndc_server())
        .env("RNDC_ALGORITHM", named.rndc_algorithm())
        .env("RNDC_SECRET", named.rndc_secret())
        .env("BIND_API_ADDRESS", "127.0.0.1")
        .env("API_PORT", port.to_string())
        .env("DISABLE_AUTH", "true")
        .env("RATE_LIMIT_ENABLED", "false")
        .env("NSUPDATE_SERVER", "127.0.0.1")
        .env("NSUPDATE_PORT", named.dns_port().to_string())
        .env("NSUPDATE_KEY_NAME", named.key_name())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let peer = Peer { child, port };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(a) = Client::new(port).call("GET", "/api/v1/health", None) {
            if a.status == 200 {
                return Ok(Some(peer));
            }
        }
        ensure!(
            Instant::now() < deadline,
            "bindcar {PEER_VERSION} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
