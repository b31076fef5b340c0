//! The backend's Linkerd mode (`BIND_AUTH_MODE=linkerd`) against a real named, with the test
//! standing in for Linkerd's inbound proxy: it sends `l5d-client-id` as the proxy would, from
//! where the proxy connects. Allowed and refused callers through the allowlists and
//! SubjectAccessReview (against the Kubernetes API stand-in); the header sent from outside the
//! pod (another network namespace joined by a veth pair, as another pod is) refused while the
//! same header from loopback and from the pod's own address is accepted; the startup guards.
//!
//! The second test makes two network namespaces (`ip netns`, needs root, as the test machines
//! run) with addresses of 198.18.0.0/15 (the benchmarking range) that exist only inside them,
//! and deletes them when it ends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use bindcar_testbed::backend::Backend;
use bindcar_testbed::named::{Named, NamedOptions};
use bindcar_testbed::tokenreview::{RbacRule, ServerOptions, TokenReviewServer};
use common::dynamic_zone;
use serde_json::{json, Value};

const DOMAIN: &str = "serviceaccount.identity.linkerd.cluster.local";
const WRITER: &str = "system:serviceaccount:dns-system:external-dns";
const VIEWER: &str = "system:serviceaccount:dns-system:viewer";

fn identity(sa: &str, ns: &str) -> String {
    format!("{sa}.{ns}.{DOMAIN}")
}

/// One HTTP/1.1 request to `ip:port`, `l5d-client-id` set when given: (status, JSON body).
fn call(
    ip: IpAddr,
    port: u16,
    method: &str,
    path: &str,
    id: Option<&str>,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut s = TcpStream::connect((ip, port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: bindcar\r\nconnection: close\r\n");
    if let Some(id) = id {
        req.push_str(&format!("l5d-client-id: {id}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw);
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (
        status,
        serde_json::from_str(body).unwrap_or(Value::String(body.into())),
    )
}

fn unauthorized(message: &str) -> Value {
    json!({"error": "Unauthorized", "message": message})
}

fn linkerd_env(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("BIND_AUTH_MODE", "linkerd"),
        ("BIND_ALLOWED_NAMESPACES", "dns-system"),
        (
            "BIND_ALLOWED_SERVICE_ACCOUNTS",
            "system:serviceaccount:dns-system:external-dns,system:serviceaccount:dns-system:viewer",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mesh_identities_pass_the_allowlists_and_rbac_from_the_local_proxy() {
    let api = TokenReviewServer::start(ServerOptions::default())
        .await
        .unwrap();
    api.set_rbac(vec![
        RbacRule::for_users(&[WRITER], &["*"], &["*"]),
        // By group, as RBAC binds a namespace's ServiceAccounts: the viewer is in it.
        RbacRule::for_groups(
            &["system:serviceaccounts:dns-system"],
            &["get", "list"],
            &["zones"],
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.write_kubeconfig(dir.path()).unwrap();
    let named = Named::start(NamedOptions::default());
    let mut env = named.backend_env();
    env.extend(linkerd_env(&[
        ("BIND_AUTHZ_MODE", "subjectaccessreview"),
        ("KUBECONFIG", &kubeconfig.display().to_string()),
    ]));
    let backend = Backend::start(env);
    let (lo, port) = ("127.0.0.1".parse().unwrap(), backend.port());
    let writer = identity("external-dns", "dns-system");
    let viewer = identity("viewer", "dns-system");

    let (backend, named) = tokio::task::spawn_blocking(move || {
        let call = |method, path, id: Option<&str>, body: Option<&Value>| call(lo, port, method, path, id, body);
        // The writer manages zones, and dig sees them.
        assert_eq!(call("GET", "/api/v1/zones", Some(&writer), None), (200, json!({"zones": [], "count": 0})));
        let zone = dynamic_zone("mesh.test", named.key_name());
        let (status, body) = call("POST", "/api/v1/zones", Some(&writer), Some(&zone));
        assert_eq!(status, 201, "{body}\n{}", backend.logs());
        assert_eq!(named.dig("www.mesh.test", "A"), ["192.0.2.10"]);
        let record = json!({"name": "mesh", "type": "A", "value": "192.0.2.77", "ttl": 60});
        let (status, body) = call("POST", "/api/v1/zones/mesh.test/records", Some(&writer), Some(&record));
        assert_eq!(status, 201, "{body}");
        assert_eq!(named.dig("mesh.mesh.test", "A"), ["192.0.2.77"]);
        // The viewer passes the allowlists; RBAC lets it read, not create.
        assert_eq!(call("GET", "/api/v1/zones", Some(&viewer), None).0, 200);
        let (status, body) = call("POST", "/api/v1/zones", Some(&viewer), Some(&dynamic_zone("no.test", "rndc-key")));
        assert_eq!(
            (status, body),
            (403, json!({"error": "Forbidden", "message": format!("{VIEWER} may not create zones")}))
        );
        assert!(named.dig("www.no.test", "A").is_empty());
        // Refused by the allowlists, before any SubjectAccessReview.
        assert_eq!(
            call("GET", "/api/v1/zones", Some(&identity("app", "dns-system")), None),
            (401, unauthorized("Token validation failed: ServiceAccount not authorized: system:serviceaccount:dns-system:app"))
        );
        assert_eq!(
            call("GET", "/api/v1/zones", Some(&identity("external-dns", "default")), None),
            (401, unauthorized("Token validation failed: ServiceAccount from unauthorized namespace: default"))
        );
        // No identity (an unmeshed client, or a bearer token: not read in this mode).
        let (status, body) = call("GET", "/api/v1/zones", None, None);
        assert_eq!(status, 401);
        assert!(body["message"].as_str().unwrap().contains("no Linkerd client identity"), "{body}");
        let foreign = "external-dns.dns-system.serviceaccount.identity.linkerd.other.domain";
        let (status, body) = call("GET", "/api/v1/zones", Some(foreign), None);
        assert_eq!(status, 401);
        assert!(body["message"].as_str().unwrap().contains("not a ServiceAccount identity"), "{body}");
        // Open routes stay open.
        assert_eq!(call("GET", "/api/v1/health", None, None).0, 200);
        (backend, named)
    })
    .await
    .unwrap();
    drop((backend, named));
    // RBAC saw the ServiceAccount's groups, as it would for the account's token.
    let specs = api.sar_specs();
    let viewer_spec = specs
        .iter()
        .find(|s| s["user"] == VIEWER)
        .expect("a review of the viewer");
    let groups: Vec<&str> = viewer_spec["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    assert!(
        groups.contains(&"system:serviceaccounts:dns-system"),
        "{viewer_spec}"
    );
    assert!(!specs
        .iter()
        .any(|s| s["user"].as_str().unwrap_or_default().ends_with(":app")));
}

/// A network namespace made for this test, deleted when dropped.
struct Netns(String);

impl Netns {
    fn new(name: String) -> Netns {
        ip(&["netns", "add", &name]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        Netns(name)
    }

    /// Runs `f` on a thread that lives in this namespace (and so do the processes it starts).
    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.0);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).unwrap();
            let rc =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.0])
            .status();
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("ip (iproute2)");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_identity_header_is_read_only_from_inside_the_pod() {
    // Two namespaces joined by a veth pair: the pod (bindcar and named, as in the Deployment)
    // and another pod, each with its own address.
    let tag = std::process::id() % 100_000;
    let pod = Netns::new(format!("bindcar-pod-{tag}"));
    let other = Netns::new(format!("bindcar-peer-{tag}"));
    let (a, b) = (format!("bcp{tag}"), format!("bco{tag}"));
    ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
    ip(&["link", "set", &a, "netns", &pod.0]);
    ip(&["link", "set", &b, "netns", &other.0]);
    ip(&["-n", &pod.0, "addr", "add", "198.18.0.1/30", "dev", &a]);
    ip(&["-n", &other.0, "addr", "add", "198.18.0.2/30", "dev", &b]);
    ip(&["-n", &pod.0, "link", "set", &a, "up"]);
    ip(&["-n", &other.0, "link", "set", &b, "up"]);
    let pod_ip: IpAddr = "198.18.0.1".parse().unwrap();
    let id = identity("external-dns", "dns-system");

    // In the pod: named and bindcar listening on every address of the pod, as in the
    // Deployment. Kept running on the pod's thread until the other pod has tried.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let inside = {
        let id = id.clone();
        let path = format!("/run/netns/{}", pod.0);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).unwrap();
            let rc =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            let named = Named::start(NamedOptions::default());
            let mut env = named.backend_env();
            env.extend(linkerd_env(&[("BIND_API_ADDRESS", "0.0.0.0")]));
            let backend = Backend::start(env);
            let port = backend.port();
            // Linkerd before 2.11: the proxy connects over loopback.
            let lo = call(
                "127.0.0.1".parse().unwrap(),
                port,
                "GET",
                "/api/v1/zones",
                Some(&id),
                None,
            );
            // Linkerd 2.11 and later: the proxy connects to the pod IP, from the pod IP.
            let own = call(pod_ip, port, "GET", "/api/v1/zones", Some(&id), None);
            ready_tx.send(port).unwrap();
            done_rx.recv().unwrap();
            drop(backend);
            drop(named);
            (lo, own)
        })
    };
    let port = ready_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the pod's stack started");
    // From the other pod: the same header, straight to the pod's address (no proxy).
    let (elsewhere, health) = {
        let id = id.clone();
        other.run(move || {
            (
                call(pod_ip, port, "GET", "/api/v1/zones", Some(&id), None),
                call(pod_ip, port, "GET", "/api/v1/health", None, None),
            )
        })
    };
    done_tx.send(()).unwrap();
    let (lo, own) = inside.join().unwrap();
    let ok = (200, json!({"zones": [], "count": 0}));
    assert_eq!(lo, ok, "from loopback");
    assert_eq!(own, ok, "from the pod's own address");
    assert_eq!(
        health.0, 200,
        "the other pod reaches the pod at all: {health:?}"
    );
    assert_eq!(
        elsewhere,
        (
            401,
            unauthorized(
                "Token validation failed: l5d-client-id is accepted only from the pod's own Linkerd \
                 proxy, and this connection comes from elsewhere"
            )
        ),
        "from another pod"
    );
    drop(other);
    drop(pod);
}

#[test]
fn linkerd_mode_refuses_to_start_without_an_allowlist_or_with_a_token() {
    let run = |env: &[(&str, &str)]| {
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let out = Backend::run_to_exit(env, &[], Duration::from_secs(10)).unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    let base = [
        ("RNDC_SECRET", "c2VjcmV0"),
        ("RNDC_SERVER", "127.0.0.1:1"),
        ("BIND_AUTH_MODE", "linkerd"),
    ];
    let e = run(&base);
    assert!(
        e.contains("BIND_AUTH_MODE=linkerd but neither BIND_ALLOWED_NAMESPACES nor BIND_ALLOWED_SERVICE_ACCOUNTS"),
        "{e}"
    );
    let mut with = base.to_vec();
    with.extend([
        ("BIND_ALLOWED_NAMESPACES", "dns-system"),
        ("BIND_API_TOKEN", "s3cret"),
    ]);
    let e = run(&with);
    assert!(
        e.contains("both BIND_API_TOKEN and BIND_AUTH_MODE=linkerd"),
        "{e}"
    );
    let mut with = base.to_vec();
    with.extend([
        ("BIND_ALLOWED_NAMESPACES", "dns-system"),
        ("BIND_LINKERD_TRUST_DOMAIN", "Cluster Local"),
    ]);
    let e = run(&with);
    assert!(e.contains("BIND_LINKERD_TRUST_DOMAIN"), "{e}");
}
