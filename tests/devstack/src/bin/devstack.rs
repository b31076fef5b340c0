//! `make run`: a private named, the bindcar backend and Envoy with the auth filter, all on
//! loopback, in the foreground. Ctrl-C, SIGTERM, or SIGINT to the `make` that started it
//! stops everything it started.
//!
//!   devstack [--mode basic|tokenreview|authz] [--secondary]
//!
//! `--secondary` (`make run SECONDARY=1`): the backend keeps a catalog zone, and a second named
//! follows it as a secondary (configured as backend/README.md documents): every zone created
//! is served by both.
//!
//! State lives in `.run/` (reset at every start, so the printed commands always work).

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bindcar_testbed::catalog::{secondary_options, CATALOG, PRIMARY_OPTIONS};
use bindcar_testbed::envoy::{envoy_bin, wasm_path, workspace_root};
use bindcar_testbed::named::{Named, NamedOptions};
use bindcar_testbed::tokenreview::{MintRequest, RbacRule, ServerOptions, TokenReviewServer};

/// The ports, as the shipped Envoy configurations and the docs name them.
const PORTS: Ports = Ports {
    envoy: 10000,
    admin: 9901,
    backend: 18080,
    dns: 15353,
    rndc: 19953,
    tokenreview: 16443,
    secondary_dns: 15354,
    secondary_rndc: 19954,
};

#[derive(Clone, Copy)]
struct Ports {
    envoy: u16,
    admin: u16,
    backend: u16,
    dns: u16,
    rndc: u16,
    tokenreview: u16,
    secondary_dns: u16,
    secondary_rndc: u16,
}

/// `PORTS`, each moved by `DEVSTACK_PORT_OFFSET` (default 0): a second stack, or a test, beside
/// a running `make run`. The Envoy configuration is rewritten to match (`envoy_config`).
fn ports() -> Result<Ports> {
    let offset: u16 = match std::env::var("DEVSTACK_PORT_OFFSET") {
        Ok(v) => v
            .parse()
            .with_context(|| format!("DEVSTACK_PORT_OFFSET={v:?} is not a number"))?,
        Err(_) => 0,
    };
    let shift = |p: u16| {
        p.checked_add(offset)
            .with_context(|| format!("DEVSTACK_PORT_OFFSET={offset} moves port {p} past 65535"))
    };
    Ok(Ports {
        envoy: shift(PORTS.envoy)?,
        admin: shift(PORTS.admin)?,
        backend: shift(PORTS.backend)?,
        dns: shift(PORTS.dns)?,
        rndc: shift(PORTS.rndc)?,
        tokenreview: shift(PORTS.tokenreview)?,
        secondary_dns: shift(PORTS.secondary_dns)?,
        secondary_rndc: shift(PORTS.secondary_rndc)?,
    })
}

const USAGE: &str = "\
usage: devstack [--mode basic|tokenreview|authz] [--secondary]

A private named, the bindcar backend and Envoy with the auth filter on 127.0.0.1, in the
foreground (what `make run` runs; `make run MODE=...` picks the mode).

  --mode basic        the filter checks the bearer's format only (default)
  --mode tokenreview  the filter asks a TokenReview server standing in for the Kubernetes API
                      (127.0.0.1:16443); prints a token it accepts and one it refuses
  --mode authz        tokenreview, then SubjectAccessReview against the same stand-in with
                      example RBAC rules; prints one allowed and one denied call
  --secondary         the backend keeps a catalog zone and a second named (DNS 15354,
                      control channel 19954) follows it as a secondary; prints a dig at it
  -h, --help          this text

Ports: Envoy 10000 (the API), Envoy admin 9901, backend 18080 (Swagger UI at /api/v1/docs/),
named DNS 15353 and control channel 19953, TokenReview server 16443; the statistics channel's
port is printed. DEVSTACK_PORT_OFFSET=N moves each of them by N.
State in .run/ (reset at each start). Ctrl-C, SIGTERM, or SIGINT to the make that started
it, stops everything.";

#[derive(PartialEq, Clone, Copy)]
enum Mode {
    Basic,
    TokenReview,
    /// TokenReview, then SubjectAccessReview.
    Authz,
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

/// The mode and whether to start a secondary, or `None` when help was asked for.
fn mode_from_args() -> Result<Option<(Mode, bool)>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let secondary = args.iter().any(|a| a == "--secondary");
    let mode = match args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--secondary")
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["--mode", "basic"] => Mode::Basic,
        ["--mode", "tokenreview"] | ["--mode", "tokenReview"] => Mode::TokenReview,
        ["--mode", "authz"] => Mode::Authz,
        ["-h"] | ["--help"] => return Ok(None),
        _ => bail!("{USAGE}"),
    };
    Ok(Some((mode, secondary)))
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

/// The identities `--mode tokenreview|authz` mints tokens for, and what authz lets them do.
const WRITER: (&str, &str) = ("dns-system", "external-dns");
const VIEWER: (&str, &str) = ("dns-system", "dns-viewer");
const OUTSIDER: (&str, &str) = ("default", "app");

fn run() -> Result<()> {
    let Some((mode, with_secondary)) = mode_from_args()? else {
        println!("{USAGE}");
        return Ok(());
    };
    let p = ports()?;
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    wasm_path()?;
    ensure_free(&[
        (p.envoy, "Envoy"),
        (p.admin, "Envoy admin"),
        (p.backend, "bindcar backend"),
        (p.dns, "named DNS"),
        (p.rndc, "named control channel"),
        (p.tokenreview, "TokenReview server"),
    ])?;
    if with_secondary {
        ensure_free(&[
            (p.secondary_dns, "the secondary's DNS"),
            (p.secondary_rndc, "the secondary's control channel"),
        ])?;
    }
    let run_dir = root.join(".run");
    if run_dir.exists() {
        fs::remove_dir_all(&run_dir).context("resetting .run/")?;
    }
    fs::create_dir_all(&run_dir)?;
    // Noticed before anything starts, so a make interrupted while we start up stops us too.
    let make = MakeParent::find();

    let mut named = Named::try_start(NamedOptions {
        root: Some(run_dir.join("named")),
        ports: Some((p.dns, p.rndc)),
        // room for the secondary's transfers (backend/README.md, "Catalog zone")
        extra_options: if with_secondary {
            PRIMARY_OPTIONS.to_string()
        } else {
            String::new()
        },
        ..NamedOptions::default()
    })?;
    // A secondary of the backend's catalog zone (it retries within seconds until the backend
    // has created the catalog).
    let mut secondary = if with_secondary {
        Some(Named::try_start(NamedOptions {
            root: Some(run_dir.join("secondary")),
            ports: Some((p.secondary_dns, p.secondary_rndc)),
            statistics: false,
            ..secondary_options(CATALOG, p.dns)
        })?)
    } else {
        None
    };
    let catalog_env: Vec<(String, String)> = if with_secondary {
        vec![
            ("BIND_CATALOG_ZONE".into(), CATALOG.into()),
            (
                "BIND_CATALOG_SECONDARIES".into(),
                format!("127.0.0.1:{}", p.secondary_dns),
            ),
        ]
    } else {
        Vec::new()
    };

    let mut backend_cmd = Command::new(bindcar_bin()?);
    backend_cmd
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // named's control channel, statistics channel, and its DNS port for the records API.
        .envs(named.backend_env())
        .env("BIND_API_ADDRESS", "127.0.0.1")
        .env("API_PORT", p.backend.to_string())
        // The filter in front of the backend authenticates; the backend trusts the mesh.
        .env("DISABLE_AUTH", "true")
        // Every request comes from Envoy on loopback, one shared bucket: the demo and its
        // tests would hit the default 100/min; the filter guards the edge here.
        .env("RATE_LIMIT_ENABLED", "false")
        // Swagger UI on the backend's own port (through Envoy it would need a token).
        .env("BIND_ENABLE_DOCS", "true")
        .env("RUST_LOG", "info")
        .envs(catalog_env)
        .stdout(log_file(&run_dir, "bindcar.log")?)
        .stderr(log_file(&run_dir, "bindcar.log")?);
    let mut backend = Proc::spawn("bindcar backend", &mut backend_cmd)?;
    wait_for("the backend", Duration::from_secs(15), || {
        http_ok(p.backend, "/api/v1/health")
    })
    .with_context(|| fs::read_to_string(run_dir.join("bindcar.log")).unwrap_or_default())?;

    let mut tokens = None;
    let mut _reviewer = None;
    let config = match mode {
        Mode::Basic => envoy_config(&run_dir, "envoy/envoy.yaml", false, p)?,
        Mode::TokenReview | Mode::Authz => {
            let tr_dir = run_dir.join("tokenreview");
            fs::create_dir_all(&tr_dir)?;
            let reviewer_token = format!("reviewer-{}", std::process::id());
            let rt = tokio::runtime::Runtime::new()?;
            let server = rt.block_on(TokenReviewServer::start_on(
                ServerOptions::new(&reviewer_token),
                p.tokenreview,
            ))?;
            server.write_ca(&tr_dir.join("ca.pem"))?;
            fs::write(tr_dir.join("token"), &reviewer_token)?;
            let mint = |(ns, sa): (&str, &str)| {
                let mut request = MintRequest::new(ns, sa, &["bindcar"]);
                request.ttl = Duration::from_secs(24 * 3600);
                server.mint(&request)
            };
            tokens = Some(Tokens {
                writer: mint(WRITER),
                viewer: mint(VIEWER),
                outsider: mint(OUTSIDER),
            });
            if mode == Mode::Authz {
                server.set_rbac(example_rbac());
            }
            _reviewer = Some(server);
            envoy_config(
                &run_dir,
                "envoy/envoy-tokenreview.yaml",
                mode == Mode::Authz,
                p,
            )?
        }
    };

    let mut envoy_cmd = Command::new(envoy_bin()?);
    envoy_cmd
        .args([
            "-c",
            &config,
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
        http_ok(p.admin, "/ready") && http_ok(p.envoy, "/api/v1/health")
    })
    .with_context(|| fs::read_to_string(run_dir.join("envoy.stderr")).unwrap_or_default())?;

    print_banner(mode, tokens.as_ref(), &named, &config, p);
    if with_secondary {
        print_secondary(p);
    }
    if let (Mode::Authz, Some(tokens)) = (mode, &tokens) {
        show_authorization(tokens, p)?;
    }
    println!(
        "\nLogs in .run/ (envoy.log, bindcar.log, named/named.log{}). Ctrl-C stops everything.",
        if with_secondary {
            ", secondary/named.log"
        } else {
            ""
        }
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let why = rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut tick = tokio::time::interval(Duration::from_millis(200));
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
                    if secondary.as_mut().is_some_and(|s| !s.is_running()) {
                        return Ok("the secondary named exited".into());
                    }
                    if make.as_ref().is_some_and(MakeParent::interrupted) {
                        return Ok("make was interrupted (SIGINT)".into());
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
    if let Some(mut secondary) = secondary {
        secondary.stop();
        eprintln!("stopped the secondary named");
    }
    Ok(())
}

/// The `make` that runs us, watched for a SIGINT sent to it alone (`kill -INT <make>`, as a
/// supervisor or a script does; a terminal's Ctrl-C reaches us directly). GNU make forwards
/// SIGTERM to its children but not SIGINT: it waits for them to exit, which we would never
/// do. What it does do, first thing in its handler, is reset SIGINT to the default action,
/// so its caught-signal mask (`SigCgt` in /proc) loses SIGINT: that is what we watch.
struct MakeParent {
    pid: i32,
}

impl MakeParent {
    const SIGINT_BIT: u64 = 1 << (libc::SIGINT - 1);

    fn find() -> Option<MakeParent> {
        let pid = unsafe { libc::getppid() };
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        let make = matches!(comm.trim(), "make" | "gmake");
        // A make that ignores SIGINT (started in the background by a shell without job
        // control) never notices one: there is nothing to watch.
        (make && Self::catches_sigint(pid) == Some(true)).then_some(MakeParent { pid })
    }

    fn catches_sigint(pid: i32) -> Option<bool> {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let mask = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())?;
        Some(mask & Self::SIGINT_BIT != 0)
    }

    /// make took a SIGINT (or is gone: then PDEATHSIG has told us already).
    fn interrupted(&self) -> bool {
        let parent = unsafe { libc::getppid() };
        parent != self.pid || Self::catches_sigint(self.pid) != Some(true)
    }
}

struct Tokens {
    writer: String,
    viewer: String,
    outsider: String,
}

fn user((ns, sa): (&str, &str)) -> String {
    format!("system:serviceaccount:{ns}:{sa}")
}

/// The RBAC the stand-in applies in `--mode authz`, as ClusterRoles bound to the two
/// ServiceAccounts would (envoy/kubernetes/rbac-dns-roles.yaml has the real ones): the writer
/// manages every zone and its records, the viewer may only read.
fn example_rbac() -> Vec<RbacRule> {
    vec![
        RbacRule::for_users(
            &[&user(WRITER)],
            &["get", "list", "create", "update", "patch", "delete"],
            &["*"],
        ),
        RbacRule::for_users(
            &[&user(VIEWER)],
            &["get", "list"],
            &["zones", "zones/status", "zones/records"],
        ),
    ]
}

/// The Envoy configuration to run: `base` with its ports moved to `p` (when
/// DEVSTACK_PORT_OFFSET moves them) and, with `authz`, `authorization: {mode:
/// subjectAccessReview}` added to the filter's configuration; written to .run/envoy.yaml.
fn envoy_config(run_dir: &Path, base: &str, authz: bool, p: Ports) -> Result<String> {
    let mut doc: serde_json::Value = serde_norway::from_str(&fs::read_to_string(base)?)
        .with_context(|| format!("reading {base}"))?;
    move_ports(&mut doc, p);
    if authz {
        let filters = doc
            .pointer_mut(
                "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/http_filters",
            )
            .and_then(|f| f.as_array_mut())
            .with_context(|| format!("{base}: no http_filters on the first listener"))?;
        let wasm = filters
            .iter_mut()
            .find(|f| f["name"] == "envoy.filters.http.wasm")
            .with_context(|| format!("{base}: no wasm filter"))?;
        let value = wasm
            .pointer_mut("/typed_config/config/configuration/value")
            .with_context(|| format!("{base}: the wasm filter has no configuration value"))?;
        let mut plugin: serde_json::Value =
            serde_json::from_str(value.as_str().unwrap_or_default())
                .with_context(|| format!("{base}: the plugin configuration is not JSON"))?;
        plugin["authorization"] = serde_json::json!({"mode": "subjectAccessReview"});
        *value = serde_json::Value::String(plugin.to_string());
    }
    let path = run_dir.join("envoy.yaml");
    fs::write(&path, serde_norway::to_string(&doc)?)?;
    Ok(path
        .strip_prefix(workspace_root())
        .unwrap_or(&path)
        .display()
        .to_string())
}

/// Every `port_value` that is one of `PORTS` becomes the same port of `p`.
fn move_ports(v: &mut serde_json::Value, p: Ports) {
    let map = [
        (PORTS.envoy, p.envoy),
        (PORTS.admin, p.admin),
        (PORTS.backend, p.backend),
        (PORTS.tokenreview, p.tokenreview),
    ];
    match v {
        serde_json::Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                match (k.as_str(), x.as_u64()) {
                    ("port_value", Some(port)) => {
                        if let Some((_, to)) = map.iter().find(|(from, _)| u64::from(*from) == port)
                        {
                            *x = serde_json::json!(to);
                        }
                    }
                    _ => move_ports(x, p),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| move_ports(x, p)),
        _ => {}
    }
}

/// One call the writer may make and one the viewer may not, made now and shown as sent.
fn show_authorization(tokens: &Tokens, p: Ports) -> Result<()> {
    let envoy = p.envoy;
    println!("\nAuthorization (SubjectAccessReview against the stand-in; rules in devstack.rs example_rbac):");
    println!("  {} may manage every zone and its records;", user(WRITER));
    println!("  {} may only read (get, list).", user(VIEWER));
    let bearer = |t: &str| format!("Bearer {t}");
    let allowed = bindcar_testbed::http::get(
        p.envoy,
        "/api/v1/zones",
        &[("authorization", bearer(&tokens.writer).as_bytes())],
    )?;
    println!(
        "\n  $ curl -s -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:{envoy}/api/v1/zones"
    );
    println!("  {} {}", allowed.status, allowed.text());
    let body = br#"{"zoneName":"viewer.test","zoneType":"primary","zoneConfig":{"ttl":300,"soa":{"primaryNs":"ns1.viewer.test.","adminEmail":"admin.viewer.test."},"nameServers":["ns1.viewer.test."],"nameServerIps":{"ns1.viewer.test.":"127.0.0.1"}}}"#;
    let denied = bindcar_testbed::http::request(
        p.envoy,
        "POST",
        b"/api/v1/zones",
        &[
            ("authorization", bearer(&tokens.viewer).as_bytes()),
            ("content-type", b"application/json"),
        ],
        body,
    )?;
    println!("\n  $ curl -s -X POST -H \"Authorization: Bearer $VIEWER_TOKEN\" -H 'content-type: application/json' \\\n      -d '{}' \\\n      http://127.0.0.1:{envoy}/api/v1/zones", String::from_utf8_lossy(body));
    println!("  {} {}", denied.status, denied.text());
    if allowed.status != 200 || denied.status != 403 {
        bail!(
            "authorization demo: expected 200 then 403, got {} then {} (see .run/envoy.log)",
            allowed.status,
            denied.status
        );
    }
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

/// With `--secondary`: where it listens, and the zone the banner creates, served there too.
fn print_secondary(p: Ports) {
    let (dns, envoy) = (p.secondary_dns, p.envoy);
    println!(
        "\nA secondary follows the catalog zone {CATALOG} on 127.0.0.1:{dns} (DNS); it serves"
    );
    println!("every zone created, a second or two after the 201, with no call to it:");
    println!("  dig @127.0.0.1 -p {dns} www.demo.test A +short");
    println!("  curl -s -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:{envoy}/api/v1/zones/demo.test/propagation");
}

fn print_banner(mode: Mode, tokens: Option<&Tokens>, named: &Named, config: &str, p: Ports) {
    let Ports {
        envoy,
        admin,
        backend,
        dns,
        rndc,
        tokenreview,
        ..
    } = p;
    let key = named.key_name();
    // updateKeyName: named accepts RFC 2136 updates to the zone signed with this key (the
    // backend signs with it by default), so the records API works on it.
    let create = format!(
        r#"{{"zoneName":"demo.test","zoneType":"primary","updateKeyName":"{key}","zoneConfig":{{"ttl":300,"soa":{{"primaryNs":"ns1.demo.test.","adminEmail":"admin.demo.test."}},"nameServers":["ns1.demo.test."],"nameServerIps":{{"ns1.demo.test.":"127.0.0.1"}},"records":[{{"name":"www","type":"A","value":"192.0.2.10","ttl":300}}]}}}}"#
    );
    let mode_name = match mode {
        Mode::Basic => "basic",
        Mode::TokenReview => "TokenReview",
        Mode::Authz => "TokenReview + SubjectAccessReview",
    };
    println!(
        "\nbindcar stack is up ({mode_name} mode; Envoy config {config}). Listening on 127.0.0.1:"
    );
    println!("  {envoy}   Envoy + bindcar auth filter  (the API: use this)");
    println!("  {admin}    Envoy admin                  (stats: /stats/prometheus)");
    println!("  {backend}   bindcar backend              (behind Envoy, auth disabled: the filter does it)");
    println!(
        "  {dns}   named, DNS (udp+tcp)         (also where the records API sends its updates)"
    );
    println!("  {rndc}   named, rndc control channel");
    match named.stats_url() {
        Some(url) => {
            let port = url.rsplit(':').next().unwrap_or_default();
            println!("  {port:<5}   named, statistics channel    ({url}/json/v1/zones)");
        }
        None => println!("  (named has no statistics channel: the backend lists zones over rndc)"),
    }
    if mode != Mode::Basic {
        println!(
            "  {tokenreview}   TokenReview server           (stands in for the Kubernetes API)"
        );
    }
    println!("\nSwagger UI (the API reference): http://127.0.0.1:{backend}/api/v1/docs/");
    let e = format!("http://127.0.0.1:{envoy}");
    match tokens {
        Some(t) => {
            println!("\nA token it accepts ({}, audience bindcar):", user(WRITER));
            println!("  export TOKEN={}", t.writer);
            if mode == Mode::Authz {
                println!(
                    "A token of a ServiceAccount that may only read ({}):",
                    user(VIEWER)
                );
                println!("  export VIEWER_TOKEN={}", t.viewer);
            }
            println!("A token it refuses (namespace default is not allowed):");
            println!("  export BAD_TOKEN={}", t.outsider);
            println!("  curl -s -H \"Authorization: Bearer $BAD_TOKEN\" {e}/api/v1/zones");
        }
        None => {
            println!("\nBasic mode checks the token's format only; any bearer token will do:");
            println!("  export TOKEN=demo-token");
        }
    }
    let auth = "-H \"Authorization: Bearer $TOKEN\"";
    let json = "-H 'content-type: application/json'";
    let z = format!("{e}/api/v1/zones/demo.test");
    println!("\nTry:");
    println!("  curl -i {e}/api/v1/health");
    println!("  curl -s {auth} {e}/api/v1/zones");
    println!(
        "  curl -s -X POST {auth} {json} \\\n       -d '{create}' \\\n       {e}/api/v1/zones"
    );
    println!("  dig @127.0.0.1 -p {dns} www.demo.test A +short");
    println!("\nRecords (RFC 2136 updates signed with key {key}; dig shows each change at once):");
    println!("  curl -s -X POST {auth} {json} -d '{{\"name\":\"api\",\"type\":\"A\",\"value\":\"192.0.2.20\",\"ttl\":300}}' {z}/records");
    println!("  curl -s {auth} '{z}/records?name=api'");
    println!("  curl -s -X PUT {auth} {json} -d '{{\"ttl\":300,\"values\":[\"192.0.2.21\",\"192.0.2.22\"]}}' {z}/rrsets/api/A");
    println!("  dig @127.0.0.1 -p {dns} api.demo.test A +short");
    println!(
        "  curl -s -X DELETE {auth} {json} -d '{{\"name\":\"api\",\"type\":\"A\"}}' {z}/records"
    );
}
