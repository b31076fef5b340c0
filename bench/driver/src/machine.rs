//! Machine facts for the report (cores, CPU, kernel, versions, commit) and the machine-wide
//! TCP counters read around each run.

use std::path::Path;
use std::process::Command;

use anyhow::Result;
use bindcar_testbed::envoy::{envoy_bin, workspace_root};
use serde_json::{json, Value};

use crate::options::Options;
use crate::wrk::{self};

/// TCP sockets in TIME_WAIT on the whole machine (`tw` in /proc/net/sockstat).
pub(crate) fn time_wait() -> u64 {
    std::fs::read_to_string("/proc/net/sockstat")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("TCP:"))?;
            let words: Vec<&str> = line.split_whitespace().collect();
            let i = words.iter().position(|w| *w == "tw")?;
            words.get(i + 1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// `(ListenDrops, RetransSegs)` of the whole machine, from /proc.
pub(crate) fn tcp_counters() -> (u64, u64) {
    pub(crate) fn field(path: &str, prefix: &str, name: &str) -> Option<u64> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut lines = text.lines().filter(|l| l.starts_with(prefix));
        let (names, values) = (lines.next()?, lines.next()?);
        let i = names.split_whitespace().position(|n| n == name)?;
        values.split_whitespace().nth(i)?.parse().ok()
    }
    (
        field("/proc/net/netstat", "TcpExt:", "ListenDrops").unwrap_or(0),
        field("/proc/net/snmp", "Tcp:", "RetransSegs").unwrap_or(0),
    )
}

pub(crate) fn command_line(cmd: &Path, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .current_dir(workspace_root())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

pub(crate) fn machine(opts: &Options) -> Result<Value> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let envoy_version = command_line(&envoy_bin()?, &["--version"]);
    // `<path>  version: <sha>/1.40.0/Clean/RELEASE/BoringSSL`
    let envoy_version = envoy_version
        .split_once("version:")
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or(envoy_version);
    let envoy_release = envoy_version
        .split('/')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let git = |args: &[&str]| command_line(Path::new("git"), args);
    Ok(json!({
        "cores": std::thread::available_parallelism().map(|p| p.get()).unwrap_or(0),
        "cpu": cpu,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "loadavg_at_start": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
        "envoy": envoy_release,
        "envoy_version": envoy_version,
        "wrk": wrk::version(),
        "git_commit": git(&["rev-parse", "--short", "HEAD"]),
        "git_dirty": !git(&["status", "--porcelain", "--untracked-files=no"]).is_empty(),
        "envoy_workers": opts.envoy_workers,
    }))
}
