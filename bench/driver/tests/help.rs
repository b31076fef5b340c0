//! `bench --help` prints its flags and succeeds (it used to exit 1 with the usage on stderr).

#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn help_prints_every_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_bench"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--rounds",
        "--duration",
        "--warmup",
        "--connections",
        "--threads",
        "--workers",
        "--latency-ms",
        "--pool",
        "--ops",
        "--budget",
        "--out",
        "--quick",
        "--records-only",
        "--peer-zones",
        "--only",
    ] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
}
