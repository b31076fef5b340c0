//! The bindcar backend's startup: the guards that refuse a dangerous posture and say what
//! to set, weak TSIG algorithms refused naming their variable, `--help` documenting every
//! variable, and rndc settings from an rndc.conf file.

mod common;

use std::path::Path;
use std::time::Duration;

use bindcar_testbed::backend::Backend;
use bindcar_testbed::named::{Named, NamedOptions};
use common::{primary_zone, Client};

/// Environment enough to get past configuration (no named is contacted at startup).
fn minimal_env(zone_dir: &Path) -> Vec<(String, String)> {
    vec![
        ("BIND_ZONE_DIR".into(), zone_dir.display().to_string()),
        ("RNDC_SERVER".into(), "127.0.0.1:1".into()),
        (
            "RNDC_SECRET".into(),
            "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0".into(),
        ),
    ]
}

fn refused(env: Vec<(String, String)>, args: &[&str]) -> String {
    let output = Backend::run_to_exit(env, args, Duration::from_secs(10)).expect("bindcar exits");
    assert!(
        matches!(output.status.code(), Some(1) | Some(2)),
        "expected a refusal (exit 1, or 2 for a malformed value), got {:?}",
        output.status
    );
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[test]
fn startup_guards_refuse_dangerous_postures_and_say_what_to_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = |extra: &[(&str, &str)]| {
        let mut env = minimal_env(dir.path());
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        env
    };
    // 192.0.2.1 is not an address of this host: past the guard, binding fails, so nothing
    // ever listens beyond loopback in this test.
    let outside = ("BIND_API_ADDRESS", "192.0.2.1");

    // Guard A: non-loopback without real authentication
    for mode in [vec![outside], vec![outside, ("DISABLE_AUTH", "true")]] {
        let stderr = refused(env(&mode), &[]);
        assert!(stderr.contains("refusing to start"), "{stderr}");
        for hint in [
            "BIND_API_TOKEN",
            "BIND_AUTH_MODE=tokenreview",
            "BINDCAR_ALLOW_INSECURE_AUTH=true",
            "--i-know-this-is-insecure",
        ] {
            assert!(stderr.contains(hint), "missing hint {hint}: {stderr}");
        }
    }
    // ... lifted by either override, or by real authentication
    for (extra, args) in [
        (
            vec![outside, ("BINDCAR_ALLOW_INSECURE_AUTH", "true")],
            vec![],
        ),
        (vec![outside], vec!["--i-know-this-is-insecure"]),
        (vec![outside, ("BIND_API_TOKEN", "x")], vec![]),
    ] {
        let stderr = refused(env(&extra), &args);
        assert!(!stderr.contains("refusing to start"), "{extra:?}: {stderr}");
        assert!(
            stderr.contains("cannot listen on 192.0.2.1"),
            "{extra:?}: {stderr}"
        );
    }

    // Guard B: TokenReview with no allowlist
    let stderr = refused(env(&[("BIND_AUTH_MODE", "tokenreview")]), &[]);
    assert!(stderr.contains("refusing to start"), "{stderr}");
    for hint in [
        "BIND_ALLOWED_NAMESPACES",
        "BIND_ALLOWED_SERVICE_ACCOUNTS",
        "BIND_ALLOW_ANY_SERVICEACCOUNT=true",
    ] {
        assert!(stderr.contains(hint), "missing hint {hint}: {stderr}");
    }
    // ... lifted by the explicit allow-any (on loopback it then starts)
    let backend = Backend::start(env(&[
        ("BIND_AUTH_MODE", "tokenreview"),
        ("BIND_ALLOW_ANY_SERVICEACCOUNT", "true"),
    ]));
    drop(backend);
    // Ambiguous or malformed configuration is refused too
    let stderr = refused(
        env(&[("BIND_AUTH_MODE", "tokenreview"), ("BIND_API_TOKEN", "x")]),
        &[],
    );
    assert!(
        stderr.contains("both BIND_API_TOKEN and BIND_AUTH_MODE=tokenreview"),
        "{stderr}"
    );
    let stderr = refused(env(&[("DISABLE_AUTH", "maybe")]), &[]);
    assert!(
        stderr.contains("DISABLE_AUTH") || stderr.contains("disable-auth"),
        "{stderr}"
    );
    // TSIG keys of the control channel and of RFC 2136: hmac-sha224/256/384/512 only
    for (variable, weak) in [
        ("RNDC_ALGORITHM", "hmac-md5"),
        ("RNDC_ALGORITHM", "hmac-sha1"),
        ("NSUPDATE_ALGORITHM", "hmac-md5"),
        ("NSUPDATE_ALGORITHM", "hmac-sha1"),
    ] {
        let stderr = refused(
            env(&[("BIND_API_ADDRESS", "127.0.0.1"), (variable, weak)]),
            &[],
        );
        assert!(
            stderr.contains(&format!(
                "Error: {variable} {weak}: MD5 and SHA-1 are refused"
            )),
            "{variable}={weak}: {stderr}"
        );
    }
    let mut no_secret = env(&[]);
    no_secret.retain(|(k, _)| k != "RNDC_SECRET");
    no_secret.push((
        "RNDC_CONF".into(),
        dir.path().join("missing.conf").display().to_string(),
    ));
    let stderr = refused(no_secret, &[]);
    assert!(stderr.contains("missing.conf"), "{stderr}");
}

#[test]
fn help_documents_every_variable() {
    let output =
        Backend::run_to_exit(vec![], &["--help"], Duration::from_secs(10)).expect("--help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for var in [
        "BIND_ZONE_DIR",
        "BIND_API_ADDRESS",
        "API_PORT",
        "RNDC_SERVER",
        "RNDC_ALGORITHM",
        "RNDC_SECRET",
        "RNDC_CONF",
        "RNDC_TIMEOUT_SECS",
        "BIND_AUTH_MODE",
        "DISABLE_AUTH",
        "BIND_API_TOKEN",
        "BINDCAR_ALLOW_INSECURE_AUTH",
        "BIND_TOKEN_AUDIENCES",
        "BIND_ALLOWED_NAMESPACES",
        "BIND_ALLOWED_SERVICE_ACCOUNTS",
        "BIND_ALLOW_ANY_SERVICEACCOUNT",
        "BIND_TOKEN_CACHE_TTL_SECS",
        "BIND_TOKEN_CACHE_NEGATIVE_TTL_SECS",
        "BIND_TOKEN_CACHE_MAX_ENTRIES",
        "BIND_TOKEN_REVIEW_TIMEOUT_SECS",
        "KUBE_API_SERVER",
        "KUBE_TOKEN_PATH",
        "KUBE_CA_CERT_PATH",
        "KUBECONFIG",
        "NSUPDATE_SERVER",
        "NSUPDATE_PORT",
        "NSUPDATE_KEY_NAME",
        "RNDC_KEY_NAME",
        "NSUPDATE_ALGORITHM",
        "NSUPDATE_SECRET",
        "NSUPDATE_TIMEOUT_SECS",
        "BIND_TLS_CERT",
        "BIND_TLS_KEY",
        "BIND_TLS_CLIENT_CA",
        "BIND_TLS_ALLOWED_CLIENTS",
        "BIND_TLS_RELOAD_INTERVAL",
        "RUST_LOG",
        "--i-know-this-is-insecure",
    ] {
        assert!(help.contains(var), "--help does not mention {var}:\n{help}");
    }
}

#[test]
fn rndc_settings_can_come_from_an_rndc_conf_file() {
    // Given only RNDC_CONF (the harness's rndc.conf: key, server and port)
    let named = Named::start(NamedOptions::default());
    let backend = Backend::start(vec![
        (
            "BIND_ZONE_DIR".into(),
            named.zone_dir().display().to_string(),
        ),
        (
            "RNDC_CONF".into(),
            named.rndc_conf_path().display().to_string(),
        ),
        ("DISABLE_AUTH".into(), "true".into()),
    ]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let api = Client::new(backend.base_url(), None);
    runtime.block_on(async {
        assert_eq!(api.get("/api/v1/ready").await.0, 200);
        assert_eq!(api.create(&primary_zone("conf.test")).await.0, 201);
    });
    assert_eq!(named.dig("www.conf.test", "A"), ["192.0.2.10"]);
}
