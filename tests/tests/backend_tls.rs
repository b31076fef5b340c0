//! The backend over TLS (`BIND_TLS_*`, bindcar 0.9.0's transport), with certificates made
//! here by `openssl` and spoken to by `curl` (OpenSSL) and the testbed's rustls client:
//! HTTPS with h2 and http/1.1, no answer to plain HTTP on that port, mutual TLS (no
//! certificate refused, one of the CA admitted, the allowlist), a renewed certificate served
//! within the reload interval and after SIGHUP, and the startup refusals.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bindcar_testbed::backend::Backend;
use bindcar_testbed::https::Https;
use bindcar_testbed::named::{Named, NamedOptions};
use common::primary_zone;

/// Certificates made with `openssl` in a scratch directory: a CA, a server certificate for
/// 127.0.0.1, and client certificates.
struct Pki {
    dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed (Debian's openssl package)");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Pki {
    fn new() -> Pki {
        let pki = Pki {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        openssl(
            pki.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-subj",
                "/CN=bindcar test CA",
                "-days",
                "2",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        pki.issue(
            "server",
            "/CN=bindcar",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        );
        pki.issue(
            "bindy",
            "/CN=bindy",
            "subjectAltName=URI:spiffe://cluster.local/ns/dns-system/sa/bindy\nextendedKeyUsage=clientAuth\n",
        );
        pki
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    /// `<name>.pem` and `<name>.key` signed by the CA, with `extensions` (an -extfile).
    fn issue(&self, name: &str, subject: &str, extensions: &str) {
        let ext = format!("{name}.ext");
        std::fs::write(self.file(&ext), extensions).expect("write extensions");
        let (key, csr, pem) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        openssl(
            self.path(),
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                subject,
            ],
        );
        openssl(
            self.path(),
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext,
                "-out",
                &pem,
            ],
        );
    }

    /// The DER of `<name>.pem`.
    fn der(&self, name: &str) -> Vec<u8> {
        let der = format!("{name}.der");
        openssl(
            self.path(),
            &[
                "x509",
                "-in",
                &format!("{name}.pem"),
                "-outform",
                "DER",
                "-out",
                &der,
            ],
        );
        std::fs::read(self.file(&der)).expect("DER")
    }

    /// The server's files where the backend reads them (a copy, so a test can replace them).
    fn serving_env(&self, served: &Path) -> Vec<(String, String)> {
        std::fs::create_dir_all(served).expect("served dir");
        std::fs::copy(self.file("server.pem"), served.join("tls.crt")).expect("copy cert");
        std::fs::copy(self.file("server.key"), served.join("tls.key")).expect("copy key");
        vec![
            var(
                "BIND_TLS_CERT",
                &served.join("tls.crt").display().to_string(),
            ),
            var(
                "BIND_TLS_KEY",
                &served.join("tls.key").display().to_string(),
            ),
        ]
    }

    fn https(&self, client: Option<&str>) -> Https {
        Https {
            ca: self.file("ca.pem"),
            client: client.map(|name| {
                (
                    self.file(&format!("{name}.pem")),
                    self.file(&format!("{name}.key")),
                )
            }),
        }
    }
}

fn var(key: &str, value: &str) -> (String, String) {
    (key.to_string(), value.to_string())
}

/// Enough to start without a named (none is contacted at startup; /health answers).
fn no_named_env(zone_dir: &Path) -> Vec<(String, String)> {
    vec![
        var("BIND_ZONE_DIR", &zone_dir.display().to_string()),
        var("RNDC_SERVER", "127.0.0.1:1"),
        var("RNDC_SECRET", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"),
        var("DISABLE_AUTH", "true"),
    ]
}

/// `curl <args> <url>`: (exit code, `%{http_version} %{http_code}`, body).
fn curl(pki: &Pki, client: Option<&str>, args: &[&str], url: &str) -> (i32, String, String) {
    let mut command = Command::new("curl");
    command
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(pki.file("ca.pem"))
        .args(["-o", "-", "-w", "\n%{http_version} %{http_code}"]);
    if let Some(name) = client {
        command
            .arg("--cert")
            .arg(pki.file(&format!("{name}.pem")))
            .arg("--key")
            .arg(pki.file(&format!("{name}.key")));
    }
    let output = command
        .args(args)
        .arg(url)
        .output()
        .expect("curl is installed");
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let (body, status) = stdout.rsplit_once('\n').unwrap_or(("", &stdout));
    (
        output.status.code().unwrap_or(-1),
        status.to_string(),
        body.to_string(),
    )
}

/// What comes back for a plain HTTP/1.1 request written on the raw socket.
fn plain_http_answer(port: u16) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// Polls `check` every 100 ms until it holds or `limit` passes.
fn within(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn https_serves_h2_and_http1_and_plain_http_on_that_port_gets_no_answer() {
    // Given a backend with BIND_TLS_CERT and BIND_TLS_KEY
    let pki = Pki::new();
    let zones = tempfile::tempdir().expect("tempdir");
    let mut env = no_named_env(zones.path());
    env.extend(pki.serving_env(&pki.file("served")));
    // One API request per client per hour, to see what the limiter keys on under TLS.
    env.extend([
        var("RATE_LIMIT_ENABLED", "true"),
        var("RATE_LIMIT_REQUESTS", "1"),
        var("RATE_LIMIT_PERIOD_SECS", "3600"),
        var("RATE_LIMIT_BURST", "1"),
    ]);
    let backend = Backend::start_https(env, &pki.https(None));
    let url = backend.url("/api/v1/health");
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    // When curl asks over HTTPS, h2 by ALPN or HTTP/1.1, it is answered
    let (code, status, body) = curl(&pki, None, &["--http2"], &url);
    assert_eq!((code, status.as_str()), (0, "2 200"), "{body}");
    assert!(body.contains("\"healthy\""), "{body}");
    let (code, status, _) = curl(&pki, None, &["--http1.1"], &url);
    assert_eq!((code, status.as_str()), (0, "1.1 200"));

    // Plain HTTP on the same port is not served: no HTTP answer at all
    let answer = plain_http_answer(backend.port());
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP answered: {:?}",
        String::from_utf8_lossy(&answer)
    );
    let plain = backend.base_url().replace("https://", "http://");
    let (code, status, _) = curl(&pki, None, &[], &format!("{plain}/api/v1/health"));
    assert!(code != 0 && status.ends_with(" 000"), "{code} {status}");
    assert!(
        backend.logs().contains("\"tls\":\"on\""),
        "{}",
        backend.logs()
    );

    // The rate limit keys on the TLS peer's address: 127.0.0.2 has a budget of its own
    let zones_url = backend.url("/api/v1/zones");
    let from = |source: &str| {
        let (_, status, _) = curl(&pki, None, &["--interface", source], &zones_url);
        status
    };
    assert!(
        !from("127.0.0.1").ends_with(" 429"),
        "the first request passes"
    );
    assert_eq!(from("127.0.0.1"), "2 429");
    assert!(
        !from("127.0.0.2").ends_with(" 429"),
        "another peer, another budget"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_refuses_a_client_without_a_certificate_and_serves_one_with() {
    // Given named and a backend requiring a client certificate of the CA
    let pki = Pki::new();
    let named = Named::start(NamedOptions::default());
    let mut env = named.backend_env();
    env.extend(pki.serving_env(&pki.file("served")));
    env.push(var(
        "BIND_TLS_CLIENT_CA",
        &pki.file("ca.pem").display().to_string(),
    ));
    let backend = Backend::start_https(env, &pki.https(Some("bindy")));

    // A client without a certificate is refused in the handshake: no HTTP status at all
    let zones_url = backend.url("/api/v1/zones");
    let (code, status, _) = curl(&pki, None, &["-H", "Authorization: Bearer t"], &zones_url);
    assert!(code != 0 && status.ends_with(" 000"), "{code} {status}");
    assert!(pki
        .https(None)
        .status("127.0.0.1", backend.port(), "/api/v1/health")
        .is_err());
    assert!(
        backend.logs().contains("TLS handshake failed"),
        "{}",
        backend.logs()
    );

    // With one, a zone is created over h2 and named serves it; the log names the certificate
    let body = primary_zone("mtls.test").to_string();
    let (code, status, answer) = curl(
        &pki,
        Some("bindy"),
        &[
            "--http2",
            "-X",
            "POST",
            "-H",
            "Authorization: Bearer any-token",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body,
        ],
        &zones_url,
    );
    assert_eq!((code, status.as_str()), (0, "2 201"), "{answer}");
    assert_eq!(named.dig("www.mtls.test", "A"), ["192.0.2.10"]);
    let logs = backend.logs();
    assert!(
        logs.lines().any(|l| l.contains("\"zone\":\"mtls.test\"")
            && l.contains("\"actor\":\"tls:spiffe://cluster.local/ns/dns-system/sa/bindy\"")),
        "{logs}"
    );
    assert!(
        logs.contains("\"tls\":\"mutual, any client certificate of the CA\""),
        "{logs}"
    );
}

#[test]
fn the_allowlist_admits_only_the_client_certificates_it_names() {
    let pki = Pki::new();
    pki.issue(
        "other",
        "/CN=other",
        "subjectAltName=DNS:other.dns-system.svc\nextendedKeyUsage=clientAuth\n",
    );
    let zones = tempfile::tempdir().expect("tempdir");
    let mut env = no_named_env(zones.path());
    env.extend(pki.serving_env(&pki.file("served")));
    env.push(var(
        "BIND_TLS_CLIENT_CA",
        &pki.file("ca.pem").display().to_string(),
    ));
    env.push(var("BIND_TLS_ALLOWED_CLIENTS", "bindy, someone-else"));
    let backend = Backend::start_https(env, &pki.https(Some("bindy")));
    let url = backend.url("/api/v1/health");
    // bindy (by its CN) passes; a certificate of the same CA with another name does not.
    let (code, status, _) = curl(&pki, Some("bindy"), &[], &url);
    assert_eq!((code, status.as_str()), (0, "2 200"));
    let (code, status, _) = curl(&pki, Some("other"), &[], &url);
    assert!(code != 0 && status.ends_with(" 000"), "{code} {status}");
    assert!(backend
        .logs()
        .contains("\"tls\":\"mutual, named clients only\""));
}

/// A new server certificate of the same CA, written over the served files (key first, then
/// the certificate: a reload may see the pair mismatched in between, and must keep the old).
fn renew(pki: &Pki, served: &Path, name: &str) -> Vec<u8> {
    pki.issue(
        name,
        &format!("/CN={name}"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    );
    std::fs::copy(pki.file(&format!("{name}.key")), served.join("tls.key")).expect("key");
    std::fs::copy(pki.file(&format!("{name}.pem")), served.join("tls.crt")).expect("cert");
    pki.der(name)
}

#[test]
fn a_renewed_certificate_is_served_within_the_reload_interval() {
    // Given a backend that checks its files every second
    let pki = Pki::new();
    let zones = tempfile::tempdir().expect("tempdir");
    let served = pki.file("served");
    let mut env = no_named_env(zones.path());
    env.extend(pki.serving_env(&served));
    env.push(var("BIND_TLS_RELOAD_INTERVAL", "1"));
    let https = pki.https(None);
    let backend = Backend::start_https(env, &https);
    let serving = || https.served_certificate("127.0.0.1", backend.port()).ok();
    assert_eq!(serving(), Some(pki.der("server")));

    // When the certificate is replaced on disk, new connections get the new one
    let renewed = renew(&pki, &served, "renewed");
    assert!(
        within(Duration::from_secs(20), || serving().as_ref()
            == Some(&renewed)),
        "the renewed certificate was not served; log:\n{}",
        backend.logs()
    );
    assert!(backend
        .logs()
        .contains("reloaded the TLS certificate, key and client CA"));

    // A key that does not load is reported and the renewed certificate stays
    std::fs::write(
        served.join("tls.key"),
        "-----BEGIN PRIVATE KEY-----\nbroken\n",
    )
    .expect("break the key");
    assert!(
        within(Duration::from_secs(20), || backend
            .logs()
            .contains("keeping the previous certificate")),
        "{}",
        backend.logs()
    );
    assert_eq!(serving(), Some(renewed));
    assert_eq!(
        https
            .status("127.0.0.1", backend.port(), "/api/v1/health")
            .ok(),
        Some(200)
    );
}

#[test]
fn with_no_interval_sighup_reloads_the_certificate() {
    let pki = Pki::new();
    let zones = tempfile::tempdir().expect("tempdir");
    let served = pki.file("served");
    let mut env = no_named_env(zones.path());
    env.extend(pki.serving_env(&served));
    env.push(var("BIND_TLS_RELOAD_INTERVAL", "0"));
    let https = pki.https(None);
    let backend = Backend::start_https(env, &https);
    assert!(
        backend.logs().contains("on SIGHUP only"),
        "{}",
        backend.logs()
    );

    let renewed = renew(&pki, &served, "renewed");
    let pid = backend.pid().expect("running").to_string();
    let hup = Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill");
    assert!(hup.success());
    assert!(
        within(Duration::from_secs(10), || https
            .served_certificate("127.0.0.1", backend.port())
            .ok()
            .as_ref()
            == Some(&renewed)),
        "not served after SIGHUP; log:\n{}",
        backend.logs()
    );
    let logs = backend.logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("reloaded the TLS certificate") && l.contains("SIGHUP")),
        "{logs}"
    );
    // The process is still the same one, serving; SIGTERM still stops it cleanly.
    assert_eq!(backend.pid().map(|p| p.to_string()), Some(pid));
    assert_eq!(
        https
            .status("127.0.0.1", backend.port(), "/api/v1/health")
            .ok(),
        Some(200)
    );
    let mut backend = backend;
    let status = backend.terminate(Duration::from_secs(10)).expect("exits");
    assert!(status.success(), "{status}");
    assert!(backend.logs().contains("bindcar stopped"));
}

#[test]
fn half_a_configuration_or_an_unusable_pem_stops_startup_naming_the_variable() {
    let pki = Pki::new();
    let zones = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| pki.file(name).display().to_string();
    let garbage = pki.file("garbage.pem");
    std::fs::write(&garbage, "not PEM at all\n").expect("garbage");
    let garbage = garbage.display().to_string();
    let refused = |extra: Vec<(&str, String)>| -> String {
        let mut env = no_named_env(zones.path());
        env.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
        let output = Backend::run_to_exit(env, &[], Duration::from_secs(10)).expect("exits");
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        String::from_utf8_lossy(&output.stderr).to_string()
    };
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (
            vec![("BIND_TLS_CERT", path("server.pem"))],
            "BIND_TLS_CERT is set but BIND_TLS_KEY is not",
        ),
        (
            vec![("BIND_TLS_KEY", path("server.key"))],
            "BIND_TLS_KEY is set but BIND_TLS_CERT is not",
        ),
        (
            vec![("BIND_TLS_CLIENT_CA", path("ca.pem"))],
            "BIND_TLS_CLIENT_CA (mutual TLS) is set without BIND_TLS_CERT and BIND_TLS_KEY",
        ),
        (
            vec![
                ("BIND_TLS_CERT", path("absent.pem")),
                ("BIND_TLS_KEY", path("server.key")),
            ],
            "BIND_TLS_CERT ",
        ),
        (
            vec![
                ("BIND_TLS_CERT", path("server.pem")),
                ("BIND_TLS_KEY", garbage.clone()),
            ],
            "BIND_TLS_KEY ",
        ),
        (
            vec![
                ("BIND_TLS_CERT", path("server.pem")),
                ("BIND_TLS_KEY", path("bindy.key")),
            ],
            "BIND_TLS_KEY ",
        ),
        (
            vec![
                ("BIND_TLS_CERT", path("server.pem")),
                ("BIND_TLS_KEY", path("server.key")),
                ("BIND_TLS_CLIENT_CA", garbage.clone()),
            ],
            "BIND_TLS_CLIENT_CA ",
        ),
    ];
    for (extra, expected) in cases {
        let what = format!("{extra:?}");
        let stderr = refused(extra);
        assert!(
            stderr.contains(&format!("Error: {expected}")),
            "{what}: {stderr}"
        );
    }
    // The absent file is named with the reason.
    let stderr = refused(vec![
        ("BIND_TLS_CERT", path("absent.pem")),
        ("BIND_TLS_KEY", path("server.key")),
    ]);
    assert!(stderr.contains("absent.pem: cannot read it"), "{stderr}");
}

#[test]
fn the_listen_guard_counts_mutual_tls_only_with_named_clients() {
    let pki = Pki::new();
    let zones = tempfile::tempdir().expect("tempdir");
    let served = pki.file("served");
    // 192.0.2.1 is no address of this host: past the guard, binding fails; nothing listens.
    let run = |extra: &[(&str, &str)]| -> String {
        let mut env = no_named_env(zones.path());
        env.retain(|(k, _)| k != "DISABLE_AUTH");
        env.extend(pki.serving_env(&served));
        env.push(var("BIND_API_ADDRESS", "192.0.2.1"));
        env.push(var(
            "BIND_TLS_CLIENT_CA",
            &pki.file("ca.pem").display().to_string(),
        ));
        env.extend(extra.iter().map(|(k, v)| var(k, v)));
        let output = Backend::run_to_exit(env, &[], Duration::from_secs(10)).expect("exits");
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        String::from_utf8_lossy(&output.stderr).to_string()
    };
    // Any certificate of the CA: refused as if no authentication were set
    let stderr = run(&[]);
    assert!(stderr.contains("refusing to start"), "{stderr}");
    assert!(
        stderr.contains("BIND_TLS_ALLOWED_CLIENTS naming the client certificates"),
        "{stderr}"
    );
    // Named clients: past the guard (then the address cannot be bound)
    let stderr = run(&[("BIND_TLS_ALLOWED_CLIENTS", "bindy")]);
    assert!(!stderr.contains("refusing to start"), "{stderr}");
    assert!(stderr.contains("cannot listen on 192.0.2.1"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_handshakes_are_shed_like_stalled_heads_and_https_still_answers() {
    use std::io::Read;
    // Given an HTTPS backend whose cap is 4 connections (the header timeout, which bounds a
    // handshake too, at its default of 10 s)
    let pki = Pki::new();
    let zones = tempfile::tempdir().expect("tempdir");
    let mut env = no_named_env(zones.path());
    env.extend(pki.serving_env(&pki.file("served")));
    env.extend([var("BIND_API_MAX_CONNECTIONS", "4")]);
    let backend = Backend::start_https(env, &pki.https(None));
    let port = backend.port();
    let url = format!("https://127.0.0.1:{port}/api/v1/health");
    // When another address opens 4 connections and never starts a handshake (the cap is full)
    let mut silent = Vec::new();
    for _ in 0..4 {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(([127, 0, 0, 2], 0).into())
            .expect("bind 127.0.0.2");
        let stream = socket
            .connect(([127, 0, 0, 1], port).into())
            .await
            .expect("connect");
        silent.push(stream.into_std().expect("std stream"));
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    // Then a real client still gets its answer: the longest-waiting silent connection made
    // room once it had waited 5 s (one that has sent nothing may be a slow client)
    let (code, status, body) = curl(&pki, None, &["--http1.1"], &url);
    assert_eq!((code, status.as_str()), (0, "1.1 200"), "{body}");
    // And every silent connection is closed by the server (shed, or at the header timeout),
    // without a byte
    for stream in &mut silent {
        stream.set_nonblocking(false).expect("blocking");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut buf = [0u8; 16];
        assert_eq!(
            stream.read(&mut buf).unwrap_or(0),
            0,
            "still open or answered"
        );
    }
    let (_, _, metrics) = curl(
        &pki,
        None,
        &[],
        &format!("https://127.0.0.1:{port}/metrics"),
    );
    let count = |reason: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix(&format!(
                    "bindcar_http_connections_closed_total{{reason=\"{reason}\"}}"
                ))?
                .trim()
                .parse()
                .ok()
            })
            .unwrap_or(0)
    };
    assert_eq!(count("evicted") + count("header_timeout"), 4, "{metrics}");
    assert!(count("evicted") >= 1, "{metrics}");
}
