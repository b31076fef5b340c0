//! `make run`: a private named, the bindcar backend and Envoy with the auth filter, all on
//! loopback, in the foreground. Ctrl-C or SIGTERM stops everything it started.
//!
//!   devstack [--mode basic|tokenreview]
//!
//! State lives in `.run/` (reset at every start, so the printed commands always work).

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bindcar_testbed::envoy::{envoy_bin, wasm_path, workspace_root};
use bindcar_testbed::named::{Named, NamedOptions};
use bindcar_testbed::tokenreview::{MintRequest, ServerOptions, TokenReviewServer};

const ENVOY_PORT: u16 = 10000;
const ENVOY_ADMIN: u16 = 9901;
const BACKEND_PORT: u16 = 18080;
const DNS_PORT: u16 = 15353;
const RNDC_PORT: u16 = 19953;
const TOKENREVIEW_PORT: u16 = 16443;

#[derive(PartialEq)]
enum Mode {
    Basic,
    TokenReview,
}

/// A child process that is stopped (SIGTERM, then SIGKILL) when dropped.
struct Proc {
    name: &'static str,
    child: Child,
}

impl Proc {
    fn spawn(name: &'static str, cmd: &mut Command) -> Result<Proc> {
        // Own process group: Ctrl-C reaches us, and we stop the children in order.
        // PDEATHSIG: if we are killed outright, the children do not outlive us.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Proc { name, child })
    }

    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited ({status})", self.name)),
            _ => None,
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
            self.child.kill().ok();
        }
        self.child.wait().ok();
        eprintln!("stopped {}", self.name);
    }
}

fn main() {
    // If `make` (our parent) is terminated, we are told too, and clean up.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
    if let Err(e) = run() {
        eprintln!("make run: {e:#}");
        std::process::exit(1);
    }
}

fn mode_from_args() -> Result<Mode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["--mode", "basic"] => Ok(Mode::Basic),
        ["--mode", "tokenreview"] | ["--mode", "tokenReview"] => Ok(Mode::TokenReview),
        _ => bail!("usage: devstack [--mode basic|tokenreview]"),
    }
}

fn ensure_free(ports: &[(u16, &str)]) -> Result<()> {
    for (port, what) in ports {
        if std::net::TcpListener::bind(("127.0.0.1", *port)).is_err() {
            bail!(
                "127.0.0.1:{port} ({what}) is already in use; is another `make run` still running?"
            );
        }
    }
    Ok(())
}

fn wait_for(what: &str, deadline: Duration, mut ok: impl FnMut() -> bool) -> Result<()> {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{what} did not come up within {deadline:?}")
}

fn http_ok(port: u16, path: &str) -> bool {
    bindcar_testbed::http::get(port, path, &[])
        .map(|r| r.status == 200)
        .unwrap_or(false)
}

fn run() -> Result<()> {
    let mode = mode_from_args()?;
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    wasm_path()?;
    ensure_free(&[
        (ENVOY_PORT, "Envoy"),
        (ENVOY_ADMIN, "Envoy admin"),
        (BACKEND_PORT, "bindcar backend"),
        (DNS_PORT, "named DNS"),
        (RNDC_PORT, "named control channel"),
        (TOKENREVIEW_PORT, "TokenReview server"),
    ])?;
    let run_dir = root.join(".run");
    if run_dir.exists() {
        fs::remove_dir_all(&run_dir).context("resetting .run/")?;
    }
    fs::create_dir_all(&run_dir)?;

    let mut named = Named::try_start(NamedOptions {
        root: Some(run_dir.join("named")),
        ports: Some((DNS_PORT, RNDC_PORT)),
        ..NamedOptions::default()
    })?;

    let mut backend_cmd = Command::new(bindcar_bin()?);
    backend_cmd
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(named.backend_env())
        .env("BIND_API_ADDRESS", "127.0.0.1")
        .env("API_PORT", BACKEND_PORT.to_string())
        // The filter in front of the backend authenticates; the backend trusts the mesh.
        .env("DISABLE_AUTH", "true")
        // Every request comes from Envoy on loopback, one shared bucket: the demo and its
        // tests would hit the default 100/min; the filter guards the edge here.
        .env("RATE_LIMIT_ENABLED", "false")
        .env("RUST_LOG", "info")
        .stdout(log_file(&run_dir, "bindcar.log")?)
        .stderr(log_file(&run_dir, "bindcar.log")?);
    let mut backend = Proc::spawn("bindcar backend", &mut backend_cmd)?;
    wait_for("the backend", Duration::from_secs(15), || {
        http_ok(BACKEND_PORT, "/api/v1/health")
    })
    .with_context(|| fs::read_to_string(run_dir.join("bindcar.log")).unwrap_or_default())?;

    let mut tokens = None;
    let mut _reviewer = None;
    let config = match mode {
        Mode::Basic => "envoy/envoy.yaml",
        Mode::TokenReview => {
            let tr_dir = run_dir.join("tokenreview");
            fs::create_dir_all(&tr_dir)?;
            let reviewer_token = format!("reviewer-{}", std::process::id());
            let rt = tokio::runtime::Runtime::new()?;
            let server = rt.block_on(TokenReviewServer::start_on(
                ServerOptions::new(&reviewer_token),
                TOKENREVIEW_PORT,
            ))?;
            server.write_ca(&tr_dir.join("ca.pem"))?;
            fs::write(tr_dir.join("token"), &reviewer_token)?;
            let mut day = MintRequest::new("dns-system", "external-dns", &["bindcar"]);
            day.ttl = Duration::from_secs(24 * 3600);
            let mut other = MintRequest::new("default", "app", &["bindcar"]);
            other.ttl = day.ttl;
            tokens = Some((server.mint(&day), server.mint(&other)));
            _reviewer = Some(server);
            "envoy/envoy-tokenreview.yaml"
        }
    };

    let mut envoy_cmd = Command::new(envoy_bin()?);
    envoy_cmd
        .args([
            "-c",
            config,
            "--use-dynamic-base-id",
            "-l",
            "info",
            "--log-path",
            ".run/envoy.log",
        ])
        .stdout(Stdio::null())
        .stderr(log_file(&run_dir, "envoy.stderr")?);
    let mut envoy = Proc::spawn("envoy", &mut envoy_cmd)?;
    wait_for("Envoy", Duration::from_secs(30), || {
        http_ok(ENVOY_ADMIN, "/ready") && http_ok(ENVOY_PORT, "/api/v1/health")
    })
    .with_context(|| fs::read_to_string(run_dir.join("envoy.stderr")).unwrap_or_default())?;

    print_banner(&mode, tokens.as_ref());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let why = rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = term.recv() => return Ok::<String, anyhow::Error>("SIGTERM".into()),
                _ = int.recv() => return Ok("Ctrl-C".into()),
                _ = tick.tick() => {
                    if let Some(e) = envoy.exited().or_else(|| backend.exited()) {
                        return Ok(e);
                    }
                    if !named.is_running() {
                        return Ok("named exited".into());
                    }
                }
            }
        }
    })?;
    eprintln!("\n{why}: stopping everything");
    drop(envoy);
    drop(backend);
    named.stop();
    eprintln!("stopped named");
    Ok(())
}

fn bindcar_bin() -> Result<PathBuf> {
    let p = workspace_root().join("target/debug/bindcar");
    if !p.exists() {
        bail!(
            "{} not found (run `cargo build --bin bindcar`)",
            p.display()
        );
    }
    Ok(p)
}

fn log_file(dir: &Path, name: &str) -> Result<fs::File> {
    Ok(fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))?)
}

fn print_banner(mode: &Mode, tokens: Option<&(String, String)>) {
    let create = r#"{"zoneName":"demo.test","zoneType":"primary","zoneConfig":{"ttl":300,"soa":{"primaryNs":"ns1.demo.test.","adminEmail":"admin.demo.test."},"nameServers":["ns1.demo.test."],"nameServerIps":{"ns1.demo.test.":"127.0.0.1"},"records":[{"name":"www","type":"A","value":"192.0.2.10","ttl":300}]}}"#;
    println!(
        "\nbindcar stack is up ({} mode). Listening on 127.0.0.1:",
        if *mode == Mode::Basic {
            "basic"
        } else {
            "TokenReview"
        }
    );
    println!("  {ENVOY_PORT}   Envoy + bindcar auth filter  (the API: use this)");
    println!("  {ENVOY_ADMIN}    Envoy admin                  (stats: /stats/prometheus)");
    println!("  {BACKEND_PORT}   bindcar backend              (behind Envoy, auth disabled: the filter does it)");
    println!("  {DNS_PORT}   named, DNS (udp+tcp)");
    println!("  {RNDC_PORT}   named, rndc control channel");
    let token = match (mode, tokens) {
        (Mode::TokenReview, Some((good, bad))) => {
            println!("  {TOKENREVIEW_PORT}   TokenReview server           (stands in for the Kubernetes API)");
            println!("\nA token it accepts (system:serviceaccount:dns-system:external-dns, audience bindcar):");
            println!("  export TOKEN={good}");
            println!("A token it refuses (namespace default is not allowed):");
            println!("  export BAD_TOKEN={bad}");
            println!("  curl -s -H \"Authorization: Bearer $BAD_TOKEN\" http://127.0.0.1:{ENVOY_PORT}/api/v1/zones");
            "$TOKEN"
        }
        _ => {
            println!("\nBasic mode checks the token's format only; any bearer token will do:");
            println!("  export TOKEN=demo-token");
            "$TOKEN"
        }
    };
    println!("\nTry:");
    println!("  curl -i http://127.0.0.1:{ENVOY_PORT}/api/v1/health");
    println!(
        "  curl -s -H \"Authorization: Bearer {token}\" http://127.0.0.1:{ENVOY_PORT}/api/v1/zones"
    );
    println!("  curl -s -X POST -H \"Authorization: Bearer {token}\" -H 'content-type: application/json' \\\n       -d '{create}' \\\n       http://127.0.0.1:{ENVOY_PORT}/api/v1/zones");
    println!("  dig @127.0.0.1 -p {DNS_PORT} www.demo.test A +short");
    println!("\nLogs in .run/ (envoy.log, bindcar.log, named/named.log). Ctrl-C stops everything.");
}
