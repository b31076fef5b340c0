//! `make run` as a newcomer uses it: the real `make`, the printed commands run as printed
//! (zones and records through Envoy, `dig` seeing each change), Swagger UI and the statistics
//! channel where the banner says, `MODE=authz` showing an allowed and a denied call, and the
//! stack stopped by a SIGINT sent to make alone (not to its process group, as a supervisor or
//! `kill -INT` does).
//!
//! Each stack runs on make run's ports moved by one `DEVSTACK_PORT_OFFSET` where all of them
//! are free, so a `make run` (or another test's stack) elsewhere on the machine is no
//! obstacle; the stacks of this file run one at a time. Needs
//! `dist/bindcar_auth_filter.wasm` (`make wasm`) and `target/debug/bindcar`
//! (`cargo build -p bindcar@0.1`), as `make test` builds them first; named, dig and Envoy as for
//! every end-to-end test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bindcar_testbed::envoy::workspace_root;

/// make run's ports: Envoy, its admin, the backend, named's DNS and control channel, the
/// TokenReview server.
const PORTS: [u16; 6] = [10000, 9901, 18080, 15353, 19953, 16443];
static ONE_STACK: Mutex<()> = Mutex::new(());

fn free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// An offset (below the ephemeral range) at which every port of the stack is free.
fn free_offset() -> u16 {
    (1..=12u16)
        .map(|k| k * 1000)
        .find(|off| PORTS.iter().all(|p| free(p + off)))
        .expect("no offset with all six ports free")
}

fn require_prerequisites() {
    let root = workspace_root();
    for (file, how) in [
        ("dist/bindcar_auth_filter.wasm", "make wasm"),
        ("target/debug/bindcar", "cargo build -p bindcar@0.1"),
    ] {
        assert!(root.join(file).exists(), "{file} missing: run `{how}`");
    }
}

/// A stack started by `make` or by devstack itself, its stdout read line by line.
struct Stack {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    offset: u16,
}

impl Stack {
    fn start(mut cmd: Command) -> Stack {
        let offset = free_offset();
        cmd.env("DEVSTACK_PORT_OFFSET", offset.to_string());
        // Its own process group: no signal of ours reaches it by accident, and a SIGINT we
        // send goes to exactly one process.
        use std::os::unix::process::CommandExt;
        let mut child = cmd
            .current_dir(workspace_root())
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        for out in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Stack {
            child,
            lines,
            seen: Vec::new(),
            offset,
        }
    }

    /// Lines until one contains `marker` (which is included).
    fn until(&mut self, marker: &str, limit: Duration) -> Vec<String> {
        let end = Instant::now() + limit;
        let from = self.seen.len();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = line.contains(marker);
                    self.seen.push(line);
                    if done {
                        return self.seen[from..].to_vec();
                    }
                }
                Err(_) => panic!(
                    "no {marker:?} within {limit:?}; output so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// make run's `port` in this stack.
    fn port(&self, port: u16) -> u16 {
        port + self.offset
    }

    fn busy(&self) -> Vec<u16> {
        PORTS
            .iter()
            .map(|p| self.port(*p))
            .filter(|p| !free(*p))
            .collect()
    }

    fn signal(&self, sig: i32) {
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }

    /// Waits for the process to end; every port of the stack must be free again.
    fn wait_stopped(&mut self, limit: Duration) -> std::process::ExitStatus {
        let end = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < end,
                "still running {limit:?} after the signal:\n{}",
                self.seen.join("\n")
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        // What it said on the way out (the readers end when its pipes close).
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        // The children are stopped before devstack exits; give the kernel a moment to let
        // go of the listening sockets of processes that just exited.
        let end = Instant::now() + Duration::from_secs(10);
        while !self.busy().is_empty() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            self.busy().is_empty(),
            "ports {:?} still in use after the stack stopped",
            self.busy()
        );
        status
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.signal(libc::SIGTERM);
            let _ = self.wait_stopped(Duration::from_secs(20));
        }
    }
}

/// The commands a banner prints (`curl ...`, `dig ...`, continuation lines joined), and its
/// `export NAME=value` lines.
fn commands(banner: &[String]) -> (Vec<String>, Vec<String>) {
    let mut joined: Vec<String> = Vec::new();
    let mut open = false;
    for line in banner {
        let t = line.trim();
        if open {
            let last = joined.last_mut().unwrap();
            last.push(' ');
            last.push_str(t.trim_end_matches('\\').trim());
        } else {
            joined.push(t.trim_end_matches('\\').trim().to_string());
        }
        open = t.ends_with('\\');
    }
    let exports = joined
        .iter()
        .filter(|l| l.starts_with("export "))
        .cloned()
        .collect();
    let cmds = joined
        .into_iter()
        .filter(|l| l.starts_with("curl ") || l.starts_with("dig "))
        .collect();
    (cmds, exports)
}

fn sh(exports: &[String], cmd: &str) -> String {
    let script = format!("{}\n{cmd}", exports.join("\n"));
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(out.status.success(), "{cmd}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn make() -> Command {
    let mut cmd = Command::new("make");
    // The stack's binaries and the module are built already (make test builds them): -o
    // keeps make from building them again inside a test.
    cmd.args([
        "--no-print-directory",
        "-o",
        "wasm",
        "-o",
        "run-bins",
        "run",
    ]);
    cmd
}

#[test]
fn make_run_serves_zones_and_records_as_printed_and_stops_on_sigint_to_make() {
    let _one = ONE_STACK.lock().unwrap_or_else(|e| e.into_inner());
    require_prerequisites();
    let mut stack = Stack::start(make());
    let banner = stack.until("Ctrl-C stops everything", Duration::from_secs(120));
    let text = banner.join("\n");

    // Swagger UI and the statistics channel, where the banner says.
    let backend = stack.port(18080);
    assert!(
        text.contains(&format!(
            "Swagger UI (the API reference): http://127.0.0.1:{backend}/api/v1/docs/"
        )),
        "{text}"
    );
    let docs = bindcar_testbed::http::get(backend, "/api/v1/docs/", &[]).unwrap();
    assert_eq!(docs.status, 200, "Swagger UI: {docs:?}");
    assert!(docs.text().contains("swagger"), "{}", docs.text());
    let stats_line = banner
        .iter()
        .find(|l| l.contains("named, statistics channel"))
        .unwrap_or_else(|| panic!("no statistics channel in the banner:\n{text}"));
    let stats_port: u16 = stats_line
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let zones = bindcar_testbed::http::get(stats_port, "/json/v1/zones", &[]).unwrap();
    assert_eq!(zones.status, 200, "{zones:?}");

    // Every printed command, in order, as printed.
    let (cmds, exports) = commands(&banner);
    assert_eq!(exports, ["export TOKEN=demo-token"], "{text}");
    let expect: [(&str, &str); 9] = [
        ("curl -i", "/api/v1/health"),
        ("curl -s", "/api/v1/zones"),
        ("curl -s -X POST", "/api/v1/zones"),
        ("dig", "www.demo.test"),
        ("curl -s -X POST", "/records"),
        ("curl -s", "/records?name=api"),
        ("curl -s -X PUT", "/rrsets/api/A"),
        ("dig", "api.demo.test"),
        ("curl -s -X DELETE", "/records"),
    ];
    assert_eq!(cmds.len(), expect.len(), "{cmds:#?}");
    for (cmd, (start, part)) in cmds.iter().zip(expect) {
        assert!(cmd.starts_with(start) && cmd.contains(part), "{cmd}");
    }
    let out: Vec<String> = cmds.iter().map(|c| sh(&exports, c)).collect();
    assert!(out[0].starts_with("HTTP/1.1 200"), "{}", out[0]);
    assert_eq!(json(&out[1]), serde_json::json!({"zones": [], "count": 0}));
    assert_eq!(json(&out[2])["success"], true, "{}", out[2]);
    assert_eq!(out[3], "192.0.2.10");
    assert_eq!(json(&out[4])["success"], true, "records add: {}", out[4]);
    let listed = json(&out[5]);
    let values: Vec<&str> = listed["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["192.0.2.20"], "{}", out[5]);
    assert_eq!(json(&out[6])["success"], true, "rrset replace: {}", out[6]);
    let mut served: Vec<&str> = out[7].lines().collect();
    served.sort();
    assert_eq!(served, ["192.0.2.21", "192.0.2.22"]);
    assert_eq!(json(&out[8])["success"], true, "records delete: {}", out[8]);
    assert_eq!(sh(&exports, &cmds[7]), "", "dig still sees api.demo.test");

    // SIGINT to make alone: make forwards nothing and waits; the stack notices and stops.
    stack.signal(libc::SIGINT);
    stack.wait_stopped(Duration::from_secs(30));
    let rest = stack.seen.join("\n");
    assert!(
        rest.contains("make was interrupted (SIGINT): stopping everything"),
        "{rest}"
    );
}

fn devstack_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_devstack"))
}

#[test]
fn authz_mode_shows_an_allowed_and_a_denied_call() {
    let _one = ONE_STACK.lock().unwrap_or_else(|e| e.into_inner());
    require_prerequisites();
    let mut cmd = Command::new(devstack_bin());
    cmd.args(["--mode", "authz"]);
    let mut stack = Stack::start(cmd);
    let banner = stack.until("Ctrl-C stops everything", Duration::from_secs(120));
    let text = banner.join("\n");
    assert!(
        text.contains("200 {\"zones\":[],\"count\":0}"),
        "no allowed call shown:\n{text}"
    );
    assert!(
        text.contains(
            "403 {\"error\":\"Forbidden\",\"message\":\"system:serviceaccount:dns-system:dns-viewer may not create zones\"}"
        ),
        "no denied call shown:\n{text}"
    );
    // The printed tokens work as printed.
    let (_, exports) = commands(&banner);
    let envoy = stack.port(10000);
    let viewer = sh(
        &exports,
        &format!("curl -s -o /dev/null -w '%{{http_code}}' -H \"Authorization: Bearer $VIEWER_TOKEN\" http://127.0.0.1:{envoy}/api/v1/zones"),
    );
    assert_eq!(viewer, "200", "the viewer may list");
    let bad = sh(
        &exports,
        &format!(
            "curl -s -H \"Authorization: Bearer $BAD_TOKEN\" http://127.0.0.1:{envoy}/api/v1/zones"
        ),
    );
    assert!(bad.contains("unauthorized namespace: default"), "{bad}");
    stack.signal(libc::SIGTERM);
    let status = stack.wait_stopped(Duration::from_secs(30));
    assert!(status.success(), "{status:?}");
}

#[test]
fn help_lists_every_mode() {
    let out = Command::new(devstack_bin()).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--mode basic",
        "--mode tokenreview",
        "--mode authz",
        "--help",
    ] {
        assert!(text.contains(flag), "{flag}: {text}");
    }
    let out = Command::new(devstack_bin())
        .arg("--bogus")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: devstack"));
}

#[test]
fn tokenreview_server_help_lists_its_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_tokenreview-server"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen-port",
        "--admin-port",
        "--ca-out",
        "--reviewer-token ",
        "--reviewer-token-file",
        "--print-tokens",
        "--audience ",
        "--issuer",
        "--api-audience",
        "POST /mint",
        "POST /fault",
        "GET  /stats",
    ] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
}
