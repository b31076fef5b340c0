//! Basic mode in the real Envoy: the seed's answers, an empty repeated `Authorization`,
//! exact exemptions, identity-header stripping, stats, hostile input, and refusal of a bad
//! configuration. (~460 lines: one Envoy per test, each test a table of one concern; they
//! share the helpers at the top, which a split would duplicate.)

use bindcar_testbed::envoy::{
    start_expecting_refusal, start_yaml_expecting_refusal, Envoy, EnvoyOptions,
};
use bindcar_testbed::http::{get, raw, request, Response};
use bindcar_testbed::ports::free_port;
use bindcar_testbed::upstream::Upstream;

const MISSING: &str = "Missing Authorization header";
const FORMAT: &str = "Invalid Authorization header format. Expected: Bearer <token>";
const EMPTY: &str = "Empty token";

fn stack(config: &str) -> (Upstream, Envoy) {
    let up = Upstream::start().unwrap();
    let envoy = Envoy::start(&EnvoyOptions::filter(config, up.port)).unwrap();
    (up, envoy)
}

fn assert_401(r: &Response, message: &str, context: &str) {
    assert_eq!(r.status, 401, "{context}: {r:?}");
    assert_eq!(
        r.json(),
        serde_json::json!({"error": "Unauthorized", "message": message}),
        "{context}"
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{context}"
    );
    assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{context}");
}

fn reached(up: &Upstream, path: &str) -> bool {
    up.seen().iter().any(|s| s.path == path)
}

#[test]
fn answers_follow_the_seed_and_denied_requests_never_reach_the_upstream() {
    let (up, envoy) = stack(r#"{"mode":"basic"}"#);
    let long = format!("Bearer {}", "a".repeat(8193));
    let cases: Vec<(Vec<&[u8]>, Option<&str>)> = vec![
        (vec![], Some(MISSING)),
        (vec![b"Bearer"], Some(EMPTY)),
        (vec![b"Bearer "], Some(EMPTY)),
        (vec![b"Basic dXNlcjpwYXNz"], Some(FORMAT)),
        (vec![b"Token abc"], Some(FORMAT)),
        (vec![b"Bearer  abc"], Some(FORMAT)),
        (vec![b"Bearer\tabc"], Some(FORMAT)),
        (vec![b"Bearer abc def"], Some(FORMAT)),
        (vec![b"Bearer abc,Bearer def"], Some(FORMAT)),
        (vec![b"Bearer a\"b"], Some(FORMAT)),
        (vec![b"Bearer caf\xc3\xa9"], Some(FORMAT)),
        (vec![b"Bearer \xff\xfe\xfd"], Some(FORMAT)),
        (vec![b"abc"], Some(FORMAT)),
        (vec![long.as_bytes()], Some(FORMAT)),
        (vec![b"Bearer abc", b"Bearer abc"], Some(FORMAT)),
        (vec![b"Bearer abc", b"Bearer def"], Some(FORMAT)),
        (vec![b"Bearer abc"], None),
        (vec![b"bearer abc"], None),
        (vec![b"BEARER a-b.c_d~e+f/g=="], None),
        (
            vec![b"Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"],
            None,
        ),
    ];
    for (i, (auth, expected)) in cases.iter().enumerate() {
        let path = format!("/api/v1/zones?case={i}");
        let headers: Vec<(&str, &[u8])> = auth.iter().map(|v| ("authorization", *v)).collect();
        let r = get(envoy.port, &path, &headers).unwrap();
        let context = format!(
            "case {i} {:?}",
            auth.iter()
                .map(|v| String::from_utf8_lossy(v))
                .collect::<Vec<_>>()
        );
        match expected {
            Some(message) => {
                assert_401(&r, message, &context);
                assert!(
                    !reached(&up, &path),
                    "{context}: a denied request reached the upstream"
                );
            }
            None => {
                assert_eq!(r.status, 200, "{context}: {r:?}");
                let seen = up
                    .seen()
                    .into_iter()
                    .find(|s| s.path == path)
                    .expect("reached upstream");
                assert_eq!(
                    seen.header("authorization"),
                    Some(auth[0]),
                    "{context}: Authorization forwarded intact"
                );
            }
        }
    }
    // POST with a body is judged the same way.
    let r = request(
        envoy.port,
        "POST",
        b"/api/v1/zones",
        &[("content-type", b"application/json")],
        b"{}",
    )
    .unwrap();
    assert_401(&r, MISSING, "POST without token");
    assert!(!up.seen().iter().any(|s| s.method == "POST"));
}

#[test]
fn an_empty_repeated_authorization_header_is_dropped_by_envoy_before_the_filter() {
    // Envoy merges repeated `Authorization` headers into one entry, joined with ',', before
    // any filter runs, and an empty repeat adds nothing: the filter sees one header. Two
    // non-empty ones are refused (above); one non-empty and one empty pass as the one.
    let (up, envoy) = stack(r#"{"mode":"basic"}"#);
    for (i, auth) in [
        [&b"Bearer abc"[..], b""],
        [b"", b"Bearer abc"],
        [b"Bearer abc", b"   "],
    ]
    .iter()
    .enumerate()
    {
        let path = format!("/api/v1/zones?empty-repeat={i}");
        let headers: Vec<(&str, &[u8])> = auth.iter().map(|v| ("authorization", *v)).collect();
        let r = get(envoy.port, &path, &headers).unwrap();
        assert_eq!(r.status, 200, "case {i}: {r:?}");
        let seen = up.seen().into_iter().find(|s| s.path == path).unwrap();
        assert_eq!(seen.header_count("authorization"), 1, "case {i}");
        assert_eq!(seen.header("authorization"), Some(&b"Bearer abc"[..]));
    }
    // Two empty ones are one empty header: refused as malformed.
    let r = get(
        envoy.port,
        "/api/v1/zones",
        &[("authorization", b""), ("authorization", b"")],
    )
    .unwrap();
    assert_eq!(r.status, 401, "{r:?}");
}

#[test]
fn exempt_paths_match_exactly_and_nothing_else_passes_without_a_token() {
    let (up, envoy) = stack(r#"{"mode":"basic"}"#);
    let exempt = [
        "/api/v1/health",
        "/api/v1/ready",
        "/metrics",
        "/api/v1/health?probe=1",
        "/api/v1/ready?x=%2e%2e",
        "/metrics?name[]=a",
        "/api/v1/health?",
    ];
    let not_exempt = [
        "/api/v1/health/../zones",
        "/api/v1/health/..",
        "/api/v1/health%2f..%2fzones",
        "/api/v1/health%2F..%2Fzones",
        "/api/v1/%68ealth",
        "//api/v1/health",
        "/api//v1/health",
        "/API/v1/health",
        "/api/V1/health",
        "/api/v1/HEALTH",
        "/api/v1/healthz",
        "/api/v1/health-admin",
        "/api/v1/health/",
        "/api/v1/health/x",
        "/api/v1/health;x=1",
        "/api/v1/health;",
        "/api/v1/./health",
        "/./api/v1/health",
        "/api/v1/zones/../health",
        "/api/v1/zones/%2e%2e/health",
        "/metrics/x",
        "/metrics/",
        "/metricsx",
        "/Metrics",
        "/api/v1/ready/",
        "/api/v1/readyz",
        "/api/v1/health%00",
        "/api/v1/health%20",
        "/api/v1/zones",
        "/",
    ];
    assert!(exempt.len() + not_exempt.len() >= 30);
    for p in exempt {
        let r = get(envoy.port, p, &[]).unwrap();
        assert_eq!(r.status, 200, "{p} should pass without a token: {r:?}");
        assert!(reached(&up, p), "{p} did not reach the upstream");
    }
    for p in not_exempt {
        let r = get(envoy.port, p, &[]).unwrap();
        // Envoy itself may refuse some of these (400); what matters is that none passes.
        if r.status != 400 {
            assert_401(&r, MISSING, p);
        }
        assert!(!reached(&up, p), "{p} reached the upstream without a token");
        // With a token they are ordinary authenticated requests.
        let r = get(envoy.port, p, &[("authorization", b"Bearer t")]).unwrap();
        assert_ne!(r.status, 401, "{p} with a token: {r:?}");
    }
    // Raw bytes the codec may reject before the filter: still never exempt.
    for p in [
        &b"/api/v1/health#x"[..],
        b"/api/v1/health\\",
        b"/api/v1/h\xc3\xa9alth",
        b"/api/v1/health\x7f",
    ] {
        let r = request(envoy.port, "GET", p, &[], b"").unwrap();
        assert!(
            r.status == 400 || r.status == 401,
            "{:?}: {r:?}",
            String::from_utf8_lossy(p)
        );
    }
    assert_eq!(
        up.seen()
            .iter()
            .filter(|s| s.header("authorization").is_none())
            .count(),
        exempt.len()
    );
}

#[test]
fn configured_exempt_paths_replace_the_defaults() {
    let (up, envoy) = stack(r#"{"mode":"basic","exemptPaths":["/livez"]}"#);
    assert_eq!(get(envoy.port, "/livez", &[]).unwrap().status, 200);
    assert_401(
        &get(envoy.port, "/api/v1/health", &[]).unwrap(),
        MISSING,
        "default no longer exempt",
    );
    assert_401(
        &get(envoy.port, "/livez/", &[]).unwrap(),
        MISSING,
        "trailing slash",
    );
    assert_eq!(up.count(), 1);
}

#[test]
fn client_identity_headers_never_reach_the_upstream() {
    let (up, envoy) = stack(r#"{"mode":"basic"}"#);
    let spoof: [(&str, &[u8]); 4] = [
        ("x-remote-user", b"system:serviceaccount:kube-system:admin"),
        ("X-Remote-Group", b"system:masters"),
        ("x-remote-user", b"second-copy"),
        ("x-remote-group", b"\xff\xfe"),
    ];
    let mut with_token = spoof.to_vec();
    with_token.push(("authorization", b"Bearer abc"));
    assert_eq!(
        get(envoy.port, "/api/v1/health", &spoof).unwrap().status,
        200
    );
    assert_eq!(
        get(envoy.port, "/api/v1/zones", &with_token)
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        get(envoy.port, "/api/v1/zones", &spoof).unwrap().status,
        401
    );
    let seen = up.seen();
    assert_eq!(seen.len(), 2);
    for s in seen {
        assert_eq!(s.header_count("x-remote-user"), 0, "{s:?}");
        assert_eq!(s.header_count("x-remote-group"), 0, "{s:?}");
    }
    drop(envoy);
    // Configured names are stripped, and the defaults still are (issue 24, item 5: a backend
    // left trusting `x-remote-user` must never see a client's copy of it).
    let (up, envoy) = stack(
        r#"{"mode":"basic","identityHeaders":{"user":"X-Auth-User","groups":"x-auth-groups"}}"#,
    );
    let h: [(&str, &[u8]); 5] = [
        ("x-auth-user", b"evil"),
        ("x-auth-groups", b"evil"),
        ("x-remote-user", b"evil:admin"),
        ("x-remote-group", b"system:masters"),
        ("authorization", b"Bearer a"),
    ];
    assert_eq!(get(envoy.port, "/api/v1/zones", &h).unwrap().status, 200);
    let s = &up.seen()[0];
    for name in [
        "x-auth-user",
        "x-auth-groups",
        "x-remote-user",
        "x-remote-group",
    ] {
        assert_eq!(s.header(name), None, "{name} reached the upstream");
    }
}

#[test]
fn stats_count_every_outcome() {
    let (_up, envoy) = stack(r#"{"mode":"basic"}"#);
    for _ in 0..3 {
        get(
            envoy.port,
            "/api/v1/zones",
            &[("authorization", b"Bearer ok")],
        )
        .unwrap();
    }
    for _ in 0..2 {
        get(envoy.port, "/api/v1/health", &[]).unwrap();
    }
    get(envoy.port, "/api/v1/zones", &[]).unwrap();
    get(
        envoy.port,
        "/api/v1/zones",
        &[("authorization", b"Basic x")],
    )
    .unwrap();
    get(
        envoy.port,
        "/api/v1/zones",
        &[("authorization", b"Basic x")],
    )
    .unwrap();
    get(envoy.port, "/api/v1/zones", &[("authorization", b"Bearer")]).unwrap();
    assert_eq!(envoy.counter("bindcar_auth_allowed").unwrap(), 3);
    assert_eq!(envoy.counter("bindcar_auth_exempt").unwrap(), 2);
    assert_eq!(
        envoy.counter("bindcar_auth_denied_missing_header").unwrap(),
        1
    );
    assert_eq!(
        envoy.counter("bindcar_auth_denied_invalid_format").unwrap(),
        2
    );
    assert_eq!(envoy.counter("bindcar_auth_denied_empty_token").unwrap(), 1);
}

#[test]
fn hostile_requests_neither_crash_the_vm_nor_get_through() {
    let (up, envoy) = stack(r#"{"mode":"basic"}"#);
    let big = vec![b'a'; 64 * 1024];
    let big_auth = [b"Bearer ".as_slice(), &big].concat();
    let mut hostile: Vec<Vec<u8>> = vec![
        b"GET /api/v1/zones HTTP/1.1\r\nhost: x\r\nauthorization: Bearer \xff\xfe\xfd\xfc\r\nconnection: close\r\n\r\n".to_vec(),
        b"GET /api/v1/zones HTTP/1.1\r\nhost: x\r\nauthorization: \x80\x81\r\nx-junk: \xc0\xaf\xed\xa0\x80\r\nconnection: close\r\n\r\n".to_vec(),
        b"GET /api/v1/zones HTTP/1.1\r\nhost: x\r\nauthorization: Bearer a\r\nauthorization: Bearer a\r\nauthorization: Bearer b\r\nconnection: close\r\n\r\n".to_vec(),
        b"GET /api/v1/zones HTTP/1.1\r\nhost: x\r\nauthorization: Bearer a\x00b\r\nconnection: close\r\n\r\n".to_vec(),
        b"GET /api/v1/health HTTP/1.1\r\nhost: x\r\nx-remote-user: \xff\r\nconnection: close\r\n\r\n".to_vec(),
        b"GET \xff\xfe HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".to_vec(),
        b"GET /api/v1/zones HTTP/1.1\r\nhost: \xff\r\nauthorization: \r\nconnection: close\r\n\r\n".to_vec(),
    ];
    let mut h =
        b"GET /api/v1/zones HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: ".to_vec();
    h.extend_from_slice(&big_auth);
    h.extend_from_slice(b"\r\n\r\n");
    hostile.push(h);
    let mut h =
        b"GET /api/v1/zones HTTP/1.1\r\nhost: x\r\nconnection: close\r\nx-filler: ".to_vec();
    h.extend_from_slice(&big);
    h.extend_from_slice(b"\r\n\r\n");
    hostile.push(h);
    for _round in 0..5 {
        for req in &hostile {
            let r = raw(envoy.port, req);
            if let Ok(r) = r {
                assert!(
                    r.status == 400 || r.status == 401 || r.status == 431 || r.status == 200,
                    "{r:?}"
                );
            }
        }
    }
    // Only the exempt health request (and nothing carrying a bad credential) got through.
    assert!(
        up.seen().iter().all(|s| s.path == "/api/v1/health"),
        "{:?}",
        up.seen()
    );
    // The filter still answers correctly: the VM is alive.
    assert_401(
        &get(envoy.port, "/api/v1/zones", &[]).unwrap(),
        MISSING,
        "after hostile batch",
    );
    assert_eq!(
        get(
            envoy.port,
            "/api/v1/zones",
            &[("authorization", b"Bearer ok")]
        )
        .unwrap()
        .status,
        200
    );
    let log = envoy.log_text();
    assert!(!log.contains("panic"), "panic in log:\n{log}");
    assert!(
        !log.contains("Function: proxy_on_request_headers failed"),
        "VM failure in log"
    );
}

#[test]
fn invalid_configurations_make_envoy_refuse_the_plugin() {
    for (config, says) in [
        (r#"{"mode":"jwt"}"#, "unknown variant `jwt`"),
        (
            r#"{"mode":"basic","exemptPaths":["/health/.."]}"#,
            "exemptPaths",
        ),
        (
            r#"{"mode":"tokenReview","tokenReview":{}}"#,
            "ANY authenticated ServiceAccount",
        ),
        ("not json", "invalid plugin configuration"),
        (
            r#"{"mode":"basic","throttle":{"burst":0}}"#,
            "throttle.burst: 0 is outside",
        ),
        (
            r#"{"mode":"basic","throttle":{"clientKey":"remote"}}"#,
            "throttle.clientKey must be",
        ),
        (
            r#"{"mode":"basic","throttle":{"maxClient":5}}"#,
            "unknown field `maxClient`",
        ),
        (
            r#"{"mode":"tokenReview","tokenReview":{"allowAnyServiceAccount":true,"maxPendingReviews":4,"maxPendingPerClient":5}}"#,
            "maxPendingPerClient",
        ),
    ] {
        let log = start_expecting_refusal(&EnvoyOptions::filter(config, 9)).unwrap();
        assert!(log.contains(says), "{config}: log lacks {says:?}:\n{log}");
        assert!(log.contains("the plugin refuses to load"), "{config}");
    }
}

/// Issue 23, item 1: a configuration that went missing, or does not say its mode, must not
/// load as basic mode (a presence-only gate in front of a backend that trusts the mesh).
/// Each is refused with one log line naming the problem; with `fail_open: false` Envoy does
/// not run, so nothing reaches the upstream. An explicit `"mode": "basic"` still works.
#[test]
fn a_configuration_that_does_not_state_its_mode_never_loads() {
    let up = Upstream::start().unwrap();
    let without_configuration = {
        let yaml = bindcar_testbed::envoy::bootstrap_yaml(
            &EnvoyOptions::filter("{}", up.port),
            free_port(),
            free_port(),
            &bindcar_testbed::envoy::wasm_path().unwrap(),
        );
        let start = yaml.find("                configuration:").unwrap();
        let end = yaml.find("                fail_open:").unwrap();
        format!("{}{}", &yaml[..start], &yaml[end..])
    };
    let cases: Vec<(Option<&str>, &str)> = vec![
        (None, "the configuration is empty"),
        (Some(""), "the configuration is empty"),
        (Some("{}"), "\"mode\" is missing"),
        (
            Some(r#"{"exemptPaths":["/api/v1/health"]}"#),
            "\"mode\" is missing",
        ),
        (Some(r#"{"statusOnError":503}"#), "\"mode\" is missing"),
        (
            Some(r#"{"mode":"basic","exemptPath":[]}"#),
            "unknown field `exemptPath`",
        ),
        (Some(r#"{"mode":1}"#), "invalid type"),
        (Some(r#"{"mode":"basic","throttle":"on"}"#), "invalid type"),
        (
            Some(r#"{"mode":"tokenReview","mode":"basic"}"#),
            "duplicate key `mode`",
        ),
        (
            Some(r#"{"mode":"basic","exemptPaths":["/api/v1/zones"]}"#),
            "allowUnauthenticatedApiRoutes",
        ),
    ];
    for (config, says) in cases {
        let log = match config {
            None => start_yaml_expecting_refusal(&without_configuration).unwrap(),
            Some(c) => start_expecting_refusal(&EnvoyOptions::filter(c, up.port)).unwrap(),
        };
        let ours: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("bindcar-auth:") && l.contains("refuses to load"))
            .collect();
        assert_eq!(ours.len(), 1, "{config:?}: one log line:\n{log}");
        assert!(
            ours[0].contains(says),
            "{config:?}: {:?} lacks {says:?}",
            ours[0]
        );
        assert!(!log.contains("panic"), "{config:?}:\n{log}");
    }
    assert!(up.seen().is_empty(), "a request reached the upstream");
    // Stated, basic mode loads and lets a bearer through.
    let envoy = Envoy::start(&EnvoyOptions::filter(r#"{"mode":"basic"}"#, up.port)).unwrap();
    let r = get(
        envoy.port,
        "/api/v1/zones",
        &[("authorization", b"Bearer x")],
    )
    .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let r = get(envoy.port, "/api/v1/zones", &[]).unwrap();
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(up.seen().len(), 1);
}

#[test]
fn tokens_are_never_logged() {
    let up = Upstream::start().unwrap();
    let mut o = EnvoyOptions::filter(r#"{"mode":"basic"}"#, up.port);
    o.concurrency = 1;
    // At debug level our denial lines are written too.
    o.extra_args = vec!["--component-log-level".into(), "wasm:debug".into()];
    let envoy = Envoy::start(&o).unwrap();
    let secret = "s3cr3t-token-value-that-must-not-appear";
    get(
        envoy.port,
        "/api/v1/zones",
        &[("authorization", format!("Bearer {secret}").as_bytes())],
    )
    .unwrap();
    get(
        envoy.port,
        "/api/v1/zones",
        &[("authorization", format!("Basic {secret}").as_bytes())],
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let log = envoy.log_text();
    assert!(
        log.contains("bindcar-auth: denied (invalid_format)"),
        "debug lines not written:\n{log}"
    );
    assert!(!log.contains(secret), "token in log");
}
