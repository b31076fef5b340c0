//! Load from `wrk` (closed loop: a fixed number of connections, each sending its next
//! request as soon as the previous answer arrives), every request with a Bearer token: taken
//! in turn from per-thread token files (`bench/wrk/bearer.lua`, a Lua call per request), or
//! one token in a header (a static request, built once: [`Load::run_fixed`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

const SUMMARY: &str = include_str!("../../../bench/wrk/summary.lua");
const ROTATION: &str = include_str!("../../../bench/wrk/bearer.lua");

/// How `wrk` is run: the same for every variant.
#[derive(Clone, Debug, Serialize)]
pub struct Load {
    pub threads: u32,
    pub connections: u32,
    pub duration: Duration,
    /// wrk's per-request timeout (a request slower than this counts as an error).
    pub timeout: Duration,
    #[serde(skip)]
    script: PathBuf,
    #[serde(skip)]
    summary: PathBuf,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Errors {
    pub connect: u64,
    pub read: u64,
    pub write: u64,
    /// Answers with a status ≥ 400.
    pub status: u64,
    pub timeout: u64,
}

impl Errors {
    pub fn total(&self) -> u64 {
        self.connect + self.read + self.write + self.status + self.timeout
    }
}

#[derive(Clone, Debug, Deserialize)]
struct LatencyUs {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
}

#[derive(Clone, Debug, Deserialize)]
struct Summary {
    requests: u64,
    duration_us: u64,
    errors: Errors,
    latency_us: LatencyUs,
    wrapped: u64,
}

/// One wrk run, as measured.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub requests: u64,
    pub seconds: f64,
    /// Answered requests per second (errors included: see `errors`).
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    pub errors: Errors,
    /// How many times a wrk thread went back to the start of its token file.
    pub wrapped: u64,
}

impl Load {
    /// Writes the Lua scripts into `dir`.
    pub fn new(
        dir: &Path,
        threads: u32,
        connections: u32,
        duration: Duration,
        timeout: Duration,
    ) -> Result<Load> {
        let script = dir.join("rotation.lua");
        std::fs::write(&script, format!("{SUMMARY}\n{ROTATION}"))?;
        let summary = dir.join("summary.lua");
        std::fs::write(&summary, SUMMARY)?;
        Ok(Load {
            threads,
            connections,
            duration,
            timeout,
            script,
            summary,
        })
    }

    /// Runs wrk against `http://127.0.0.1:<port><path>` for `duration` (or `self.duration`).
    /// `tokens` is the prefix of the per-thread token files (see [`write_pool`], [`write_fresh`]).
    pub fn run(
        &self,
        port: u16,
        path: &str,
        tokens: &Path,
        duration: Option<Duration>,
    ) -> Result<Run> {
        let mut cmd = self.command(duration);
        cmd.arg("-s")
            .arg(&self.script)
            .arg(format!("http://127.0.0.1:{port}{path}"))
            .arg("--")
            .arg(tokens);
        self.finish(cmd, duration)
    }

    /// Like [`Load::run`], every request carrying the same `Bearer <token>`: wrk builds the
    /// request once and calls no Lua per request, so it leaves more of the machine to Envoy.
    pub fn run_fixed(
        &self,
        port: u16,
        path: &str,
        token: &str,
        duration: Option<Duration>,
    ) -> Result<Run> {
        let mut cmd = self.command(duration);
        cmd.arg("-H")
            .arg(format!("Authorization: Bearer {token}"))
            .arg("-s")
            .arg(&self.summary)
            .arg(format!("http://127.0.0.1:{port}{path}"));
        self.finish(cmd, duration)
    }

    fn command(&self, duration: Option<Duration>) -> Command {
        let duration = duration.unwrap_or(self.duration);
        let mut cmd = Command::new("wrk");
        cmd.arg(format!("-t{}", self.threads))
            .arg(format!("-c{}", self.connections))
            // wrk takes whole seconds (no `ms` unit).
            .arg(format!("-d{}s", duration.as_secs().max(1)))
            .arg(format!("--timeout={}s", self.timeout.as_secs().max(1)));
        cmd
    }

    fn finish(&self, mut cmd: Command, duration: Option<Duration>) -> Result<Run> {
        let duration = duration.unwrap_or(self.duration);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("spawning wrk (install it: apt-get install wrk, or `make setup`)")?;
        // wrk stops by itself after `duration`; never wait on it much longer than that.
        let deadline = Instant::now() + duration + self.timeout + Duration::from_secs(15);
        loop {
            if child.try_wait()?.is_some() {
                break;
            }
            if Instant::now() > deadline {
                child.kill().ok();
                child.wait().ok();
                bail!(
                    "wrk did not finish within {:?}",
                    deadline.elapsed() + duration
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "wrk failed ({}): {}{}",
                out.status,
                stdout,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("BENCH_JSON "))
            .with_context(|| format!("no BENCH_JSON line in wrk's output:\n{stdout}"))?;
        let s: Summary = serde_json::from_str(line).context("parsing wrk's summary")?;
        let seconds = s.duration_us as f64 / 1e6;
        Ok(Run {
            requests: s.requests,
            seconds,
            rps: if seconds > 0.0 {
                s.requests as f64 / seconds
            } else {
                0.0
            },
            p50_ms: s.latency_us.p50 / 1e3,
            p90_ms: s.latency_us.p90 / 1e3,
            p99_ms: s.latency_us.p99 / 1e3,
            max_ms: s.latency_us.max / 1e3,
            mean_ms: s.latency_us.mean / 1e3,
            errors: s.errors,
            wrapped: s.wrapped,
        })
    }

    /// Writes a pool of tokens that every wrk thread sends round and round (each thread
    /// starting at a different offset). Returns the prefix to give [`Load::run`].
    pub fn write_pool(&self, dir: &Path, name: &str, tokens: &[String]) -> Result<PathBuf> {
        let prefix = dir.join(name);
        let n = tokens.len();
        for t in 0..self.threads as usize {
            let offset = t * n / self.threads as usize;
            let lines = tokens[offset..].iter().chain(&tokens[..offset]);
            write_lines(&prefix, t, lines)?;
        }
        Ok(prefix)
    }

    /// Splits fresh tokens between the wrk threads, none shared (each used at most once
    /// unless a thread wraps, which the run reports). Returns the prefix.
    pub fn write_fresh(&self, dir: &Path, name: &str, tokens: &[String]) -> Result<PathBuf> {
        let prefix = dir.join(name);
        let threads = self.threads as usize;
        let per = tokens.len().div_ceil(threads);
        for t in 0..threads {
            let chunk = tokens.iter().skip(t * per).take(per);
            write_lines(&prefix, t, chunk)?;
        }
        Ok(prefix)
    }
}

fn write_lines<'a>(
    prefix: &Path,
    thread: usize,
    lines: impl Iterator<Item = &'a String>,
) -> Result<()> {
    let path = PathBuf::from(format!("{}.{thread}", prefix.display()));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
    for l in lines {
        f.write_all(l.as_bytes())?;
        f.write_all(b"\n")?;
    }
    f.flush()?;
    Ok(())
}

/// `wrk --version`'s first line.
pub fn version() -> String {
    Command::new("wrk")
        .arg("--version")
        .output()
        .map(|o| {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            text.lines()
                .next()
                .unwrap_or_default()
                .split(" Copyright")
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}
