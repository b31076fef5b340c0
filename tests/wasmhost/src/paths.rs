//! The filter's paths, each run on the real module and counted: basic allow, an exempt path,
//! the two denials of a bad `Authorization`, both with the throttle on, and TokenReview's miss
//! (the review on the wire), its hit in the worker's memo, and its hit in the shared cache
//! from another worker. Also what loading costs, per configuration (once per worker).

use std::fmt;
use std::path::Path;

use anyhow::{ensure, Context as _, Result};
use serde::Serialize;
use serde_json::json;

use crate::host::HttpCall;
use crate::vm::{FilterVm, RequestRecord};

/// A ServiceAccount-shaped bearer (token68); the host never checks its signature.
pub const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJkbnM6ZXh0ZXJuYWwtZG5zIn0.c2lnbmF0dXJl";
pub const USER: &str = "system:serviceaccount:dns:external-dns";
pub const GROUPS: &str = "system:serviceaccounts,system:serviceaccounts:dns,system:authenticated";
pub const REVIEWER_TOKEN: &str = "reviewer-credential";

pub fn basic_config() -> String {
    json!({"mode": "basic", "identityHeaders": {"user": "x-remote-user", "groups": "x-remote-group"}})
        .to_string()
}

/// Basic mode with failed-authentication throttling (a small table: the per-request cost does
/// not depend on its size, while creating its slots at configure costs two calls each).
pub fn throttle_config() -> String {
    json!({
        "mode": "basic",
        "identityHeaders": {"user": "x-remote-user", "groups": "x-remote-group"},
        "throttle": {"maxClients": 64},
    })
    .to_string()
}

/// As the bench's and the e2e tests' TokenReview configurations.
pub fn tokenreview_config() -> String {
    json!({
        "mode": "tokenReview",
        "identityHeaders": {"user": "x-remote-user", "groups": "x-remote-group"},
        "tokenReview": {
            "audiences": ["bindcar"],
            "allowedNamespaces": ["dns"],
            "reviewerToken": REVIEWER_TOKEN,
            "cacheTtlSeconds": 60,
        }
    })
    .to_string()
}

/// What the Kubernetes API answers for [`TOKEN`].
pub fn review_answer() -> Vec<u8> {
    json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "status": {
            "authenticated": true,
            "user": {"username": USER, "uid": "0d9e2c4e", "groups": GROUPS.split(',').collect::<Vec<_>>()},
            "audiences": ["bindcar"],
        }
    })
    .to_string()
    .into_bytes()
}

/// One path: its name, what the filter did, and the callouts it dispatched.
#[derive(Debug, Clone)]
pub struct PathRun {
    pub name: &'static str,
    pub record: RequestRecord,
    pub callouts: Vec<HttpCall>,
}

/// A path's host calls, for the bench's JSON and for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathCount {
    pub path: String,
    pub count: usize,
    pub calls: Vec<String>,
}

impl From<&PathRun> for PathCount {
    fn from(run: &PathRun) -> PathCount {
        PathCount {
            path: run.name.to_string(),
            count: run.record.calls.len(),
            calls: run.record.calls.iter().map(ToString::to_string).collect(),
        }
    }
}

impl fmt::Display for PathCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {} host calls", self.path, self.count)?;
        for (i, call) in self.calls.iter().enumerate() {
            writeln!(f, "  {:>2}. {call}", i + 1)?;
        }
        Ok(())
    }
}

fn request<'a>(path: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut h = vec![
        (":method", "GET"),
        (":path", path),
        (":authority", "bindcar.dns.svc:8080"),
        (":scheme", "http"),
        ("user-agent", "external-dns/0.15"),
        ("accept", "application/json"),
        // The client's own identity headers, which must never reach the upstream.
        ("x-remote-user", "system:admin"),
        ("x-remote-group", "system:masters"),
    ];
    h.extend_from_slice(extra);
    h
}

/// `headers` without the client's identity headers.
fn plain<'a>(headers: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    headers
        .iter()
        .filter(|(n, _)| !n.starts_with("x-remote-"))
        .copied()
        .collect()
}

/// One request that needs no callout, start to end.
fn simple(vm: &mut FilterVm, name: &'static str, headers: &[(&str, &str)]) -> Result<PathRun> {
    let before = vm.http_calls().len();
    let started = vm.start(headers)?;
    let record = vm.finish(started)?;
    let callouts = vm.http_calls().get(before..).unwrap_or_default().to_vec();
    Ok(PathRun {
        name,
        record,
        callouts,
    })
}

/// Every path, in this order: the four basic ones on one VM, two with the throttle on on
/// another, then TokenReview's miss and memo hit on one VM, then the shared-cache hit on a
/// second VM that shares the first's data.
pub fn run_paths(wasm: &[u8]) -> Result<Vec<PathRun>> {
    let bearer = format!("Bearer {TOKEN}");
    let authorized = [("authorization", bearer.as_str())];
    let mut runs = Vec::new();

    let mut vm = FilterVm::load(wasm, &basic_config()).context("basic mode")?;
    let zones = request("/api/v1/zones", &authorized);
    runs.push(simple(&mut vm, "basic allow", &zones)?);
    // What nearly every request looks like: no client-supplied identity headers to remove.
    let plain = plain(&zones);
    runs.push(simple(
        &mut vm,
        "basic allow (no identity headers sent)",
        &plain,
    )?);
    let health = request("/api/v1/health", &[]);
    runs.push(simple(&mut vm, "exempt path", &health)?);
    let missing = request("/api/v1/zones", &[]);
    runs.push(simple(&mut vm, "deny: no Authorization", &missing)?);
    let malformed = request("/api/v1/zones", &[("authorization", "Basic Zm9vOmJhcg==")]);
    runs.push(simple(
        &mut vm,
        "deny: malformed Authorization",
        &malformed,
    )?);

    let mut vm = FilterVm::load(wasm, &throttle_config()).context("throttle")?;
    runs.push(simple(&mut vm, "throttle on: basic allow", &zones)?);
    runs.push(simple(
        &mut vm,
        "throttle on: deny counted (no Authorization)",
        &missing,
    )?);

    let mut vm = FilterVm::load(wasm, &tokenreview_config()).context("tokenReview mode")?;
    let started = vm.start(&zones)?;
    let callouts = vm.http_calls().to_vec();
    ensure!(
        callouts.len() == 1,
        "a TokenReview miss dispatched {} callouts, not one",
        callouts.len()
    );
    vm.answer(callouts[0].token, 201, &review_answer())?;
    let record = vm.finish(started)?;
    runs.push(PathRun {
        name: "tokenReview miss (first request, review answered)",
        record,
        callouts,
    });
    runs.push(simple(
        &mut vm,
        "tokenReview cache hit (worker memo)",
        &zones,
    )?);

    runs.push(simple(
        &mut vm,
        "tokenReview cache hit (worker memo, no identity headers sent)",
        &plain,
    )?);

    let shared = vm.host().shared.clone();
    let mut other = FilterVm::load_with(wasm, &tokenreview_config(), |h| h.shared = shared)
        .context("tokenReview mode, second worker")?;
    runs.push(simple(
        &mut other,
        "tokenReview cache hit (shared cache, other worker)",
        &zones,
    )?);
    Ok(runs)
}

/// The host calls of every path of the module at `wasm`.
pub fn count_paths(wasm: &Path) -> Result<Vec<PathCount>> {
    let bytes = std::fs::read(wasm)
        .with_context(|| format!("cannot read {} (build it with `make wasm`)", wasm.display()))?;
    Ok(run_paths(&bytes)?.iter().map(PathCount::from).collect())
}

/// The host calls of `_initialize` through `proxy_on_configure`, per configuration.
pub fn count_startup(wasm: &Path) -> Result<Vec<PathCount>> {
    let bytes = std::fs::read(wasm)
        .with_context(|| format!("cannot read {} (build it with `make wasm`)", wasm.display()))?;
    let configs = [
        ("startup: basic", basic_config()),
        ("startup: throttle (maxClients 64)", throttle_config()),
        ("startup: tokenReview", tokenreview_config()),
    ];
    configs
        .iter()
        .map(|(name, config)| {
            let vm = FilterVm::load(&bytes, config)?;
            let calls = &vm.host().calls;
            Ok(PathCount {
                path: name.to_string(),
                count: calls.len(),
                calls: calls.iter().map(ToString::to_string).collect(),
            })
        })
        .collect()
}
