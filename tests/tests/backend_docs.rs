//! The API reference in a real browser: bindcar (real binary, real named, authentication on in
//! its default mode) with `BIND_ENABLE_DOCS=true`, and headless Chromium (Debian's `chromium`)
//! loading `/api/v1/docs/` with no token. The rendered DOM must list the zone operations; the
//! screenshot and the DOM are kept under `target/test-artifacts/`. Without chromium the test
//! fails (`scripts/setup.sh` installs it). Also: docs are 404 unless enabled; a value that is
//! not a boolean stops startup.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use bindcar_testbed::backend::Backend;
use common::Stack;

/// Longest a Chromium run may take before it is killed (the page itself gets 10 s of virtual time).
const CHROMIUM_LIMIT: Duration = Duration::from_secs(120);

fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("chromium not found on PATH (nor $CHROMIUM): run scripts/setup.sh, which installs Debian's chromium");
}

/// Where test artifacts are kept: `<workspace>/target/test-artifacts/`.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("create target/test-artifacts");
    dir
}

/// One headless Chromium run with a fresh profile; `mode` is `--dump-dom` or `--screenshot=<path>`.
fn run_chromium(mode: &str, url: &str) -> Output {
    let profile = tempfile::Builder::new()
        .prefix("bindcar-chromium-")
        .tempdir()
        .expect("profile dir");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,2000",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(mode)
        .arg(url)
        .env("HOME", profile.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chromium");
    let started = Instant::now();
    // Output is read after exit: a DOM dump of this page fits the pipe buffer only if drained,
    // so drain on threads while waiting.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).ok();
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut buf).ok();
        buf
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait chromium") {
            break status;
        }
        if started.elapsed() > CHROMIUM_LIMIT {
            child.kill().ok();
            child.wait().ok();
            panic!("chromium {mode} {url} did not finish within {CHROMIUM_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Output {
        status,
        stdout: out.join().expect("stdout thread"),
        stderr: err.join().expect("stderr thread"),
    }
}

#[test]
fn swagger_ui_renders_the_zone_operations_in_chromium() {
    let browser = chromium();
    let stack = Stack::start_with(vec![("BIND_ENABLE_DOCS".into(), "true".into())], None);
    let url = stack.backend.url("/api/v1/docs/");
    let dir = artifacts();

    let dom = run_chromium("--dump-dom", &url);
    let html = String::from_utf8_lossy(&dom.stdout).into_owned();
    std::fs::write(dir.join("swagger-ui.html"), &html).expect("keep the DOM");
    assert!(
        dom.status.success(),
        "{} --dump-dom failed: {}\n{}",
        browser.display(),
        dom.status,
        String::from_utf8_lossy(&dom.stderr)
    );
    // Swagger UI rendered the document (not just its empty shell): the title, the zone
    // operations with their paths and summaries, the Authorize button of the Bearer scheme.
    for expected in [
        "Bindcar API",
        "opblock-summary-path",
        "data-path=\"/api/v1/zones\"",
        "data-path=\"/api/v1/zones/{name}/reload\"",
        "data-path=\"/api/v1/server/status\"",
        "Create a zone: 201 once BIND serves it",
        "Zones this API manages that BIND has",
        "authorize",
    ] {
        assert!(
            html.contains(expected),
            "the rendered page lacks {expected:?} (DOM kept in {}):\n{}",
            dir.join("swagger-ui.html").display(),
            &html[..html.len().min(3000)]
        );
    }
    assert!(
        !html.contains("Failed to load API definition"),
        "Swagger UI could not load the document"
    );

    let shot = dir.join("swagger-ui.png");
    let _ = std::fs::remove_file(&shot);
    let run = run_chromium(&format!("--screenshot={}", shot.display()), &url);
    assert!(
        run.status.success(),
        "screenshot failed: {}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert!(
        png.len() > 20_000,
        "screenshot of {} bytes: a blank page?",
        png.len()
    );

    // The backend served the page and its assets without a token, and logged no refusal.
    assert!(
        !stack.backend.logs().contains("request refused"),
        "{}",
        stack.backend.logs()
    );
}

#[test]
fn docs_are_404_unless_enabled() {
    let stack = Stack::start_with(vec![], None);
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for path in ["/api/v1/docs", "/api/v1/docs/", "/api/v1/docs/openapi.json"] {
        let response = http.get(stack.backend.url(path)).send().expect("request");
        assert_eq!(response.status().as_u16(), 404, "{path}");
    }
    let response = http
        .get(stack.backend.url("/api/v1/openapi.json"))
        .send()
        .expect("request");
    assert_eq!(response.status().as_u16(), 401);
}

#[test]
fn a_bad_bind_enable_docs_refuses_to_start() {
    let out = Backend::run_to_exit(
        vec![("BIND_ENABLE_DOCS".into(), "maybe".into())],
        &[],
        Duration::from_secs(30),
    )
    .expect("run bindcar");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("\"maybe\" is not a boolean"), "{text}");
    assert!(text.contains("--enable-docs"), "{text}");
}
