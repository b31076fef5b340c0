//! Helpers shared by the backend_* tests (`mod common;`): a named + bindcar pair and a small
//! JSON client. In `common/mod.rs`, so Cargo does not build it as a test target of its own.
// Each test target uses a different subset of the helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bindcar_testbed::backend::Backend;
use bindcar_testbed::named::{Named, NamedOptions};
use serde_json::{json, Value};

/// A private named and a bindcar managing it.
pub struct Stack {
    pub named: Named,
    pub backend: Backend,
    pub client: Client,
}

impl Stack {
    /// bindcar with authentication disabled (loopback), as behind the mesh.
    pub fn start() -> Stack {
        Stack::start_with(vec![("DISABLE_AUTH".into(), "true".into())], None)
    }

    /// bindcar with `env` on top of what the named needs; `token` is sent as Bearer.
    pub fn start_with(env: Vec<(String, String)>, token: Option<&str>) -> Stack {
        let named = Named::start(NamedOptions::default());
        let mut all = named.backend_env();
        all.extend(env);
        let backend = Backend::start(all);
        let client = Client::new(backend.base_url(), token);
        Stack {
            named,
            backend,
            client,
        }
    }
}

/// Every file under the zone directory (hidden ones included) with its content, to prove
/// that a refused request wrote nothing.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read zone dir") {
            let entry = entry.expect("dir entry");
            let path = entry.path();
            let name = path
                .strip_prefix(base)
                .expect("under base")
                .display()
                .to_string();
            if path.is_dir() {
                out.insert(format!("{name}/"), Vec::new());
                walk(base, &path, out);
            } else {
                out.insert(name, std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A JSON client for one bindcar.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// Status and parsed body (Null when the body is not JSON).
pub type Reply = (u16, Value);

impl Client {
    pub fn new(base: &str, token: Option<&str>) -> Client {
        Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("http client"),
            base: base.to_string(),
            token: token.map(str::to_owned),
        }
    }

    pub fn with_token(&self, token: Option<&str>) -> Client {
        Client {
            token: token.map(str::to_owned),
            ..self.clone()
        }
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        self.try_send(method, path, body)
            .await
            .expect("request reaches bindcar")
    }

    /// The same, `None` when no answer comes (the backend died or closed the connection).
    pub async fn try_send(&self, method: &str, path: &str, body: Option<&Value>) -> Option<Reply> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.ok()?;
        let status = response.status().as_u16();
        let text = response.text().await.ok()?;
        Some((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send("POST", path, Some(body)).await
    }

    pub async fn post_empty(&self, path: &str) -> Reply {
        self.send("POST", path, None).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Reply {
        self.send("PATCH", path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, None).await
    }

    /// The raw body of a GET (e.g. /metrics).
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    pub async fn create(&self, body: &Value) -> Reply {
        self.post("/api/v1/zones", body).await
    }

    /// A create whose status is `None` when the backend does not answer (killed).
    pub async fn try_create(&self, body: &Value) -> Option<u16> {
        let response = self
            .http
            .post(format!("{}/api/v1/zones", self.base))
            .json(body)
            .send()
            .await
            .ok()?;
        Some(response.status().as_u16())
    }

    pub async fn zones(&self) -> Vec<String> {
        let (status, body) = self.get("/api/v1/zones").await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_value(body["zones"].clone()).expect("zones list")
    }
}

/// A primary zone as bindy sends it: SOA, one NS with glue, a few records.
pub fn primary_zone(zone_name: &str) -> Value {
    let name = zone_name.trim_end_matches('.');
    json!({
        "zoneName": zone_name,
        "zoneType": "primary",
        "zoneConfig": {
            "ttl": 300,
            "soa": {
                "primaryNs": format!("ns1.{name}."),
                "adminEmail": format!("hostmaster.{name}."),
                "serial": 2026010101,
            },
            "nameServers": [format!("ns1.{name}.")],
            "nameServerIps": {format!("ns1.{name}."): "127.0.0.1"},
            "records": [
                {"name": "www", "type": "A", "value": "192.0.2.10", "ttl": 60},
                {"name": "api", "type": "A", "value": "192.0.2.11"},
                {"name": "@", "type": "MX", "value": format!("mail.{name}."), "priority": 10},
                {"name": "@", "type": "TXT", "value": "\"v=spf1 -all\""},
            ],
        },
    })
}

/// The same with dynamic updates allowed for the test named's key.
pub fn dynamic_zone(name: &str, key: &str) -> Value {
    let mut zone = primary_zone(name);
    zone["updateKeyName"] = json!(key);
    zone
}

/// Polls `check` every 50 ms until it holds or `timeout` passes.
pub async fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The median of some durations, in milliseconds.
pub fn median_ms(samples: &mut [Duration]) -> f64 {
    samples.sort();
    let n = samples.len();
    if n == 0 {
        return f64::NAN;
    }
    let mid = if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2
    };
    mid.as_secs_f64() * 1000.0
}

/// Client sockets to 127.0.0.1:`port` (named's side is the server) in one of `states`
/// (/proc/net/tcp's hex codes: 01 ESTABLISHED, 02 SYN_SENT), counted once each: the kernel
/// writes the table in several reads, and a socket can show in two of them while the table
/// changes (seen: 8 sockets listed as 16).
pub fn client_sockets_to(port: u16, states: &[&str]) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let remote = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // the local address names the socket
            (fields.len() > 3 && fields[2] == remote && states.contains(&fields[3]))
                .then(|| fields[1].to_string())
        })
        .collect::<std::collections::HashSet<_>>()
        .len()
}
