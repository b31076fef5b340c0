//! The `bindcar` backend binary as a child process, with the environment a test gives it.
//!
//! ```no_run
//! use bindcar_testbed::{backend::Backend, named::{Named, NamedOptions}};
//! let named = Named::start(NamedOptions::default());
//! let mut env = named.backend_env();
//! env.push(("DISABLE_AUTH".into(), "true".into()));
//! let backend = Backend::start(env);
//! let url = backend.url("/api/v1/zones");
//! ```
//!
//! The binary is `$BINDCAR_BIN`, else `<workspace>/target/debug/bindcar` (or under
//! `$CARGO_TARGET_DIR`); build it with `cargo build --bin bindcar`. The child gets a clean
//! environment (PATH, HOME, RUST_LOG=info, BIND_API_ADDRESS=127.0.0.1, a free API_PORT,
//! RATE_LIMIT_ENABLED=false) plus the given variables, which win (a value of [`UNSET`] removes
//! the variable). It is killed when the `Backend` is dropped. [`Backend::start_https`] starts
//! one serving HTTPS and waits for it through [`crate::https::Https`].

// `Backend::start` is for tests: it panics with the reason so the test fails saying it.
#![allow(clippy::panic)]

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tempfile::TempDir;

use crate::https::Https;
use crate::ports::free_port;

pub struct Backend {
    child: Option<Child>,
    port: u16,
    base_url: String,
    log_path: PathBuf,
    _dir: TempDir,
}

/// The bindcar binary to run.
pub fn binary() -> Result<PathBuf> {
    if let Ok(path) = std::env::var("BINDCAR_BIN") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("BINDCAR_BIN={} does not exist", path.display());
        }
        return Ok(path);
    }
    debug_binary("bindcar", "cargo build -p bindcar")
}

/// bindcar with its crash points compiled in (`bindcar::failpoints`), for the
/// fault-injection tests.
pub fn failpoints_binary() -> Result<PathBuf> {
    debug_binary(
        "bindcar-failpoints",
        "cargo build -p bindcar@0.1 --features failpoints --bin bindcar-failpoints",
    )
}

fn debug_binary(name: &str, build: &str) -> Result<PathBuf> {
    let workspace = crate::envoy::workspace_root();
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace.join("target"));
    let path = target.join("debug").join(name);
    if !path.is_file() {
        bail!(
            "the {name} binary is missing at {}: run `{build}` first (make test does)",
            path.display()
        );
    }
    crate::fresh::ensure_fresh(&path, &path.with_extension("d"), "cargo build -p bindcar")?;
    Ok(path)
}

fn binary_or_panic() -> PathBuf {
    match binary() {
        Ok(path) => path,
        Err(e) => panic!("{e:#}"),
    }
}

/// A value that removes the variable from the child's environment (to test a default).
/// No real value can hold a NUL byte.
pub const UNSET: &str = "\0unset";

/// The clean environment every child starts from; `env` entries override it. Rate limiting
/// is off by default here: every test client is 127.0.0.1, and many tests send more than the
/// default burst of 50 in a row (`backend_limits.rs` tests it on, and with its default).
fn environment(env: &[(String, String)], port: u16) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = vec![
        (
            "PATH".into(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()),
        ),
        (
            "HOME".into(),
            std::env::var("HOME").unwrap_or_else(|_| "/root".into()),
        ),
        ("RUST_LOG".into(), "info".into()),
        ("BIND_API_ADDRESS".into(), "127.0.0.1".into()),
        ("API_PORT".into(), port.to_string()),
        ("RATE_LIMIT_ENABLED".into(), "false".into()),
    ];
    for (key, value) in env {
        all.retain(|(k, _)| k != key);
        if value != UNSET {
            all.push((key.clone(), value.clone()));
        }
    }
    all
}

impl Backend {
    /// Starts bindcar and waits until /api/v1/health answers 200. Panics with its log otherwise.
    pub fn start(env: Vec<(String, String)>) -> Backend {
        Backend::start_with_args(env, &[])
    }

    pub fn start_with_args(env: Vec<(String, String)>, args: &[&str]) -> Backend {
        match Backend::try_start(env, args) {
            Ok(backend) => backend,
            Err(e) => panic!("could not start bindcar: {e:#}"),
        }
    }

    pub fn try_start(env: Vec<(String, String)>, args: &[&str]) -> Result<Backend> {
        Backend::try_start_binary(&binary()?, env, args)
    }

    /// bindcar serving HTTPS (`BIND_TLS_*` in `env`), probed with `https`'s CA and client
    /// certificate; `base_url` is then `https://...`. Panics with its log if it does not start.
    pub fn start_https(env: Vec<(String, String)>, https: &Https) -> Backend {
        match Backend::launch(&binary_or_panic(), env, &[], Some(https)) {
            Ok(backend) => backend,
            Err(e) => panic!("could not start bindcar over HTTPS: {e:#}"),
        }
    }

    /// The same with another binary (the benchmark runs the reference bindcar this way).
    pub fn try_start_binary(
        binary: &std::path::Path,
        env: Vec<(String, String)>,
        args: &[&str],
    ) -> Result<Backend> {
        Backend::launch(binary, env, args, None)
    }

    /// The same with a whole command line (`command[0]` the program): a launcher that ends
    /// by exec'ing bindcar in place (`chroot`, `unshare`), so the child is bindcar itself.
    pub fn try_start_command(command: &[String], env: Vec<(String, String)>) -> Result<Backend> {
        let (binary, args) = command.split_first().context("an empty command line")?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Backend::launch(std::path::Path::new(binary), env, &args, None)
    }

    fn launch(
        binary: &std::path::Path,
        env: Vec<(String, String)>,
        args: &[&str],
        https: Option<&Https>,
    ) -> Result<Backend> {
        let binary = binary.to_path_buf();
        let dir = tempfile::Builder::new()
            .prefix("bindcar-backend-")
            .tempdir()?;
        let log_path = dir.path().join("bindcar.log");
        let explicit_port = env
            .iter()
            .find(|(k, _)| k == "API_PORT")
            .and_then(|(_, v)| v.parse().ok());
        let port = explicit_port.unwrap_or_else(free_port);
        let log = fs::File::create(&log_path)?;
        let child = Command::new(&binary)
            .args(args)
            .env_clear()
            .envs(environment(&env, port))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("spawning {}", binary.display()))?;
        let host = env
            .iter()
            .find(|(k, _)| k == "BIND_API_ADDRESS")
            .map(|(_, v)| v.as_str())
            .filter(|h| *h != "0.0.0.0")
            .unwrap_or("127.0.0.1")
            .to_string();
        let scheme = if https.is_some() { "https" } else { "http" };
        let mut backend = Backend {
            child: Some(child),
            port,
            base_url: format!("{scheme}://{host}:{port}"),
            log_path,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = backend
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                backend.child = None;
                bail!(
                    "bindcar exited with {status} during startup; log:\n{}",
                    backend.logs()
                );
            }
            let health = match https {
                Some(https) => https.status(&host, port, "/api/v1/health").ok(),
                None => http_status(&host, port, "/api/v1/health"),
            };
            if health == Some(200) {
                return Ok(backend);
            }
            if Instant::now() > deadline {
                bail!(
                    "bindcar did not answer /api/v1/health within 15 s; log:\n{}",
                    backend.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Runs bindcar expecting it to exit by itself (startup refusals, --help): its output.
    pub fn run_to_exit(
        env: Vec<(String, String)>,
        args: &[&str],
        timeout: Duration,
    ) -> Result<Output> {
        let binary = binary()?;
        let mut child = Command::new(&binary)
            .args(args)
            .env_clear()
            .envs(environment(&env, free_port()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("spawning {}", binary.display()))?;
        let deadline = Instant::now() + timeout;
        loop {
            if child.try_wait()?.is_some() {
                return Ok(child.wait_with_output()?);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let output = child.wait_with_output()?;
                return Err(anyhow!(
                    "bindcar was still running after {timeout:?}; stdout:\n{}\nstderr:\n{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `base_url` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything bindcar logged so far (JSON lines).
    pub fn logs(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = fs::File::open(&self.log_path) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    /// Waits for bindcar to exit by itself (a crash point killed it): its status, or `None`
    /// if it still runs after `timeout` (then it is left running).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.child.as_mut()?;
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM and waits for the exit (graceful shutdown).
    pub fn terminate(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let mut child = self
            .child
            .take()
            .ok_or_else(|| anyhow!("bindcar is not running"))?;
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("bindcar did not exit within {timeout:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Status of a plain HTTP/1.1 GET, or None when nothing answers.
fn http_status(host: &str, port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect((host, port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
