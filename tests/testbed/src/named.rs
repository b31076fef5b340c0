//! A private `named` for tests: its own named.conf, key, ports and directories in a temp dir,
//! listening on 127.0.0.1 only. Nothing of the system's BIND configuration is used.
//!
//! ```no_run
//! use bindcar_testbed::named::{Named, NamedOptions};
//! let named = Named::start(NamedOptions::default());
//! // named.dns_port(), named.rndc_server(), named.zone_dir(), named.rndc_secret() ...
//! assert!(named.dig("missing.test", "SOA").is_empty());
//! ```
//!
//! `named` (and `rndc`, `dig`, `tsig-keygen`) must be installed: when they are not, `start`
//! fails with a message saying so. Tests never skip for lack of them.
//!
//! One file (~480 lines) on purpose: the configuration it writes, the process and the tools
//! that talk to it (rndc, dig, nsupdate) share the key, the ports and the directories.

// `Named::start` and the dig/rndc/nsupdate helpers are for tests: they panic with the reason.
#![allow(clippy::panic)]

use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tempfile::TempDir;

use crate::ports::free_port;

/// How the test wants its named.
#[derive(Debug, Clone)]
pub struct NamedOptions {
    /// `allow-new-zones` (rndc addzone/delzone); bindcar needs it.
    pub allow_new_zones: bool,
    /// HMAC algorithm of the control key (and of the key also usable for TSIG updates).
    pub key_algorithm: String,
    /// Name of that key in named.conf.
    pub key_name: String,
    /// Extra lines inside `options { }`.
    pub extra_options: String,
    /// Extra top-level configuration (zones, keys, dnssec-policy...). In both extras,
    /// `@ZONE_DIR@` stands for the zone directory.
    pub extra_config: String,
    /// Files written into the zone directory before named starts: (file name, content).
    pub zone_files: Vec<(String, String)>,
    /// Keep everything under this directory (kept after drop) instead of a temporary one:
    /// `make run` uses `.run/named`, so zones survive a restart of the stack.
    pub root: Option<PathBuf>,
    /// Fixed (DNS, control channel) ports instead of free ones.
    pub ports: Option<(u16, u16)>,
    /// named's statistics channel on a free loopback port (`statistics-channels`), which
    /// bindcar lists zones over (`BIND_STATS_URL` in `backend_env`). On by default.
    pub statistics: bool,
}

impl Default for NamedOptions {
    fn default() -> Self {
        NamedOptions {
            allow_new_zones: true,
            key_algorithm: "hmac-sha256".into(),
            key_name: "rndc-key".into(),
            extra_options: String::new(),
            extra_config: String::new(),
            zone_files: Vec::new(),
            root: None,
            ports: None,
            statistics: true,
        }
    }
}

/// A running (or stopped, between `stop` and `start_again`) private named.
pub struct Named {
    _root: Option<TempDir>,
    conf_dir: PathBuf,
    run_dir: PathBuf,
    zone_dir: PathBuf,
    log_path: PathBuf,
    dns_port: u16,
    rndc_port: u16,
    stats_port: Option<u16>,
    key_name: String,
    algorithm: String,
    secret: String,
    child: Option<Child>,
}

/// Path of an installed tool: `$<ENV>` if set, else the first match on PATH and the sbin dirs.
pub fn find_tool(name: &str, env: &str) -> Result<PathBuf> {
    if let Ok(path) = std::env::var(env) {
        return Ok(PathBuf::from(path));
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin"])
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| candidate.is_file());
    found.ok_or_else(|| {
        anyhow!(
            "`{name}` was not found on PATH or in /usr/sbin: these tests need a real BIND 9 \
                 (Debian/Ubuntu: apt-get install bind9 bind9-utils bind9-dnsutils), or set {env}"
        )
    })
}

/// A port free for both TCP and UDP on 127.0.0.1 (named's DNS listener takes both).
fn free_dns_port() -> u16 {
    loop {
        let port = free_port();
        let tcp = TcpListener::bind(("127.0.0.1", port));
        let udp = UdpSocket::bind(("127.0.0.1", port));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
}

impl Named {
    /// Starts named and waits until it answers `rndc status`. Panics with named's log on failure.
    pub fn start(options: NamedOptions) -> Named {
        match Named::try_start(options) {
            Ok(named) => named,
            Err(e) => panic!("could not start named: {e:#}"),
        }
    }

    pub fn try_start(options: NamedOptions) -> Result<Named> {
        let named_bin = find_tool("named", "NAMED_BIN")?;
        find_tool("rndc", "RNDC_BIN")?;
        let mut last_error = None;
        // Ports are picked free but could be taken in between by a parallel test: retry.
        for _ in 0..3 {
            let mut named = Named::configure(&options)?;
            match named.spawn(&named_bin) {
                Ok(()) => return Ok(named),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow!("named did not start")))
    }

    fn configure(options: &NamedOptions) -> Result<Named> {
        let (temp, root) = match &options.root {
            Some(dir) => {
                fs::create_dir_all(dir)?;
                (None, fs::canonicalize(dir)?)
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("bindcar-named-")
                    .tempdir()?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let conf_dir = root.join("conf");
        let run_dir = root.join("run");
        let zone_dir = root.join("zones");
        for dir in [&conf_dir, &run_dir, &zone_dir] {
            fs::create_dir_all(dir)?;
        }
        let keygen = find_tool("tsig-keygen", "TSIG_KEYGEN_BIN")?;
        let output = Command::new(&keygen)
            .args(["-a", &options.key_algorithm, &options.key_name])
            .output()
            .with_context(|| format!("running {}", keygen.display()))?;
        if !output.status.success() {
            bail!(
                "tsig-keygen failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let key_text = String::from_utf8(output.stdout)?;
        let secret = key_text
            .lines()
            .find_map(|l| l.trim().strip_prefix("secret \"")?.strip_suffix("\";"))
            .ok_or_else(|| anyhow!("no secret in tsig-keygen output: {key_text}"))?
            .to_string();
        let key_path = conf_dir.join("rndc.key");
        fs::write(&key_path, &key_text)?;

        let (dns_port, rndc_port) = match options.ports {
            Some(ports) => ports,
            None => {
                let dns_port = free_dns_port();
                let mut rndc_port = free_port();
                while rndc_port == dns_port {
                    rndc_port = free_port();
                }
                (dns_port, rndc_port)
            }
        };
        let stats_port = options.statistics.then(|| loop {
            let port = free_port();
            if port != dns_port && port != rndc_port {
                break port;
            }
        });
        let statistics = match stats_port {
            Some(port) => format!(
                "statistics-channels {{\n    inet 127.0.0.1 port {port} allow {{ 127.0.0.1; }};\n}};\n"
            ),
            None => String::new(),
        };
        for (name, content) in &options.zone_files {
            fs::write(zone_dir.join(name), content)?;
        }
        let zone_dir_text = zone_dir.display().to_string();
        let run = run_dir.display();
        let named_conf = format!(
            r#"include "{key}";

options {{
    directory "{run}";
    pid-file "{run}/named.pid";
    lock-file "{run}/named.lock";
    session-keyfile "{run}/session.key";
    managed-keys-directory "{run}";
    dump-file "{run}/named_dump.db";
    statistics-file "{run}/named.stats";
    memstatistics-file "{run}/named.memstats";
    listen-on port {dns_port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    allow-new-zones {allow};
    dnssec-validation no;
    notify explicit;
{extra_options}
}};

controls {{
    inet 127.0.0.1 port {rndc_port} allow {{ 127.0.0.1; }} keys {{ "{key_name}"; }};
}};
{statistics}
{extra_config}
"#,
            key = key_path.display(),
            allow = if options.allow_new_zones { "yes" } else { "no" },
            extra_options = options.extra_options.replace("@ZONE_DIR@", &zone_dir_text),
            key_name = options.key_name,
            extra_config = options.extra_config.replace("@ZONE_DIR@", &zone_dir_text),
        );
        fs::write(conf_dir.join("named.conf"), named_conf)?;
        let rndc_conf = format!(
            "include \"{}\";\noptions {{ default-key \"{}\"; default-server 127.0.0.1; default-port {rndc_port}; }};\n",
            key_path.display(),
            options.key_name
        );
        fs::write(conf_dir.join("rndc.conf"), rndc_conf)?;
        Ok(Named {
            log_path: root.join("named.log"),
            _root: temp,
            conf_dir,
            run_dir,
            zone_dir,
            dns_port,
            rndc_port,
            stats_port,
            key_name: options.key_name.clone(),
            algorithm: options.key_algorithm.clone(),
            secret,
            child: None,
        })
    }

    fn spawn(&mut self, named_bin: &Path) -> Result<()> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)?;
        let child = Command::new(named_bin)
            .arg("-g")
            .arg("-4")
            .arg("-c")
            .arg(self.conf_dir.join("named.conf"))
            .args(["-u", "root"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("spawning {}", named_bin.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    self.child = None;
                    bail!(
                        "named exited with {status} during startup; log:\n{}",
                        self.log_tail(40)
                    );
                }
            }
            if TcpStream::connect(("127.0.0.1", self.rndc_port)).is_ok()
                && self.rndc(&["status"]).status.success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill();
                bail!(
                    "named did not answer rndc status within 15 s; log:\n{}",
                    self.log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops named (rndc stop, then SIGKILL if it lingers) and waits for it to exit.
    /// Its state (zones added at runtime, zone files) stays for `start_again`.
    pub fn stop(&mut self) {
        if self.child.is_none() {
            return;
        }
        let _ = self.rndc(&["stop"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Some(child) = self.child.as_mut() {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => {
                    self.child = None;
                }
                Ok(None) if Instant::now() > deadline => self.kill(),
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// Starts the same named again: same configuration, ports, key and directories.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "named is still running");
        let result = find_tool("named", "NAMED_BIN").and_then(|bin| self.spawn(&bin));
        if let Err(e) = result {
            panic!("could not restart named: {e:#}");
        }
    }

    /// Kills named with SIGKILL (no shutdown of its own) and waits for it: a crash. Its
    /// state stays for `start_again`.
    pub fn crash(&mut self) {
        self.kill();
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// named's process id while it runs (the bench reads its CPU time).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn dns_port(&self) -> u16 {
        self.dns_port
    }

    pub fn rndc_port(&self) -> u16 {
        self.rndc_port
    }

    /// `http://127.0.0.1:<port>` of the statistics channel, as BIND_STATS_URL wants it.
    pub fn stats_url(&self) -> Option<String> {
        self.stats_port.map(|p| format!("http://127.0.0.1:{p}"))
    }

    /// `127.0.0.1:<control port>`, as RNDC_SERVER wants it.
    pub fn rndc_server(&self) -> String {
        format!("127.0.0.1:{}", self.rndc_port)
    }

    /// Where zone files go (BIND_ZONE_DIR): separate from named's own working directory.
    pub fn zone_dir(&self) -> &Path {
        &self.zone_dir
    }

    /// named's `directory` (NZD database, pid, session key).
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    pub fn conf_dir(&self) -> &Path {
        &self.conf_dir
    }

    /// Key file (`key "<name>" { algorithm ...; secret "..."; };`), usable as RNDC_CONF.
    pub fn rndc_key_path(&self) -> PathBuf {
        self.conf_dir.join("rndc.key")
    }

    /// rndc.conf with default-server/port/key, usable as RNDC_CONF or `rndc -c`.
    pub fn rndc_conf_path(&self) -> PathBuf {
        self.conf_dir.join("rndc.conf")
    }

    pub fn rndc_secret(&self) -> &str {
        &self.secret
    }

    pub fn rndc_algorithm(&self) -> &str {
        &self.algorithm
    }

    pub fn key_name(&self) -> &str {
        &self.key_name
    }

    /// The environment a bindcar backend needs to manage this named.
    pub fn backend_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = vec![
            ("BIND_ZONE_DIR".into(), self.zone_dir.display().to_string()),
            ("RNDC_SERVER".into(), self.rndc_server()),
            ("RNDC_ALGORITHM".into(), self.algorithm.clone()),
            ("RNDC_SECRET".into(), self.secret.clone()),
            // The records API's UPDATEs and transfers go to this named's DNS port (the
            // backend's default is 53, where nothing of ours listens).
            ("NSUPDATE_SERVER".into(), "127.0.0.1".into()),
            ("NSUPDATE_PORT".into(), self.dns_port.to_string()),
        ];
        if let Some(url) = self.stats_url() {
            env.push(("BIND_STATS_URL".into(), url));
        }
        env
    }

    /// Runs the rndc binary against this named.
    pub fn rndc(&self, args: &[&str]) -> Output {
        let rndc = find_tool("rndc", "RNDC_BIN").unwrap_or_else(|e| panic!("{e:#}"));
        Command::new(rndc)
            .arg("-c")
            .arg(self.rndc_conf_path())
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running rndc: {e}"))
    }

    /// `dig +short` at this named: the answer's records as text (empty when there is none).
    pub fn dig(&self, name: &str, rtype: &str) -> Vec<String> {
        let output = self.dig_raw(&["+short", name, rtype]);
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with(";;"))
            .map(str::to_owned)
            .collect()
    }

    /// The answer section as dig prints it (`+noall +answer`): whole records, one a line, in
    /// the form `dnssec-dsfromkey -f` reads.
    pub fn dig_answer(&self, name: &str, rtype: &str) -> String {
        let output = self.dig_raw(&["+noall", "+answer", name, rtype]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// The response code dig reports (`NOERROR`, `NXDOMAIN`, `REFUSED`, `SERVFAIL`...).
    pub fn dig_status(&self, name: &str, rtype: &str) -> String {
        let output = self.dig_raw(&[name, rtype]);
        let text = String::from_utf8_lossy(&output.stdout);
        text.split("status: ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .map(str::to_owned)
            .unwrap_or_else(|| format!("NO-ANSWER ({})", text.trim()))
    }

    /// The whole zone as a transfer signed with this named's key gives it (a zone whose
    /// `allow-transfer` names only other addresses, the catalog, included): one line per
    /// record, fields separated by one space, in named's order (the SOA first and last). Two
    /// equal transfers mean nothing changed, not even the serial.
    pub fn axfr(&self, zone: &str) -> Vec<String> {
        let key = format!("{}:{}:{}", self.algorithm, self.key_name, self.secret);
        let output = self.dig_raw(&["-y", &key, "+noall", "+answer", zone, "AXFR"]);
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| !l.is_empty() && !l.starts_with(';'))
            .collect()
    }

    fn dig_raw(&self, args: &[&str]) -> Output {
        let dig = find_tool("dig", "DIG_BIN").unwrap_or_else(|e| panic!("{e:#}"));
        Command::new(dig)
            .arg("@127.0.0.1")
            .args(["-p", &self.dns_port.to_string()])
            .args(["+norec", "+time=2", "+tries=2"])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running dig: {e}"))
    }

    /// Sends an RFC 2136 update with `nsupdate`, signed with this named's key. `script` holds
    /// the `update ...` lines; server, zone and `send` are added.
    pub fn nsupdate(&self, zone: &str, script: &str) -> Output {
        let nsupdate = find_tool("nsupdate", "NSUPDATE_BIN").unwrap_or_else(|e| panic!("{e:#}"));
        let mut child = Command::new(nsupdate)
            .arg("-y")
            .arg(format!(
                "{}:{}:{}",
                self.algorithm, self.key_name, self.secret
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning nsupdate: {e}"));
        let full = format!(
            "server 127.0.0.1 {}\nzone {zone}\n{script}\nsend\n",
            self.dns_port
        );
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(full.as_bytes())
                .unwrap_or_else(|e| panic!("writing to nsupdate: {e}"));
        }
        child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("waiting for nsupdate: {e}"))
    }

    /// named's log so far (it runs with -g: everything goes there).
    pub fn log(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = fs::File::open(&self.log_path) {
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        self.kill();
    }
}
