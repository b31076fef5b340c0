//! The plugin configuration as an operator writes it (`src/config.rs`), through its public
//! API only: defaults, the documented example, and a message naming each mistake.

use std::time::Duration;

use bindcar_policy::client::ClientKeySource;
use bindcar_policy::config::{ConfigError, FilterConfig, IdentityHeaders, Mode};
use bindcar_policy::throttle::ThrottleSettings;
use wasm_bindgen_test::wasm_bindgen_test;

fn parse(s: &str) -> Result<FilterConfig, ConfigError> {
    FilterConfig::from_json(s.as_bytes())
}

#[wasm_bindgen_test(unsupported = test)]
fn mode_is_required() {
    // A configuration that went missing (none, empty, `{}`, only other keys) must not load
    // as a weaker mode: it does not load at all.
    for s in [
        "",
        "  \n",
        "{}",
        r#"{"exemptPaths":["/api/v1/health"]}"#,
        r#"{"statusOnError":503}"#,
        r#"{"throttle":{}}"#,
    ] {
        let e = parse(s).expect_err(s).to_string();
        assert!(
            e.contains("\"mode\"") && e.contains("never guesses its mode"),
            "{s:?}: {e}"
        );
    }
    for (s, says) in [
        (r#"{"mode":null}"#, "mode"),
        (r#"{"mode":""}"#, "unknown variant ``"),
        (r#"{"mode":1}"#, "invalid type"),
        (r#"{"mode":["basic"]}"#, "invalid type"),
        (r#"{"mode":"Basic"}"#, "unknown variant `Basic`"),
    ] {
        let e = parse(s).expect_err(s).to_string();
        assert!(e.contains(says), "{s}: {e}");
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn basic_mode_defaults() {
    let c = parse(r#"{"mode":"basic"}"#).unwrap();
    assert_eq!(c.mode, Mode::Basic);
    assert_eq!(c.status_on_error, 401);
    assert_eq!(
        c.identity,
        IdentityHeaders {
            user: "x-remote-user".into(),
            groups: "x-remote-group".into()
        }
    );
    assert_eq!(c.strip_headers, ["x-remote-user", "x-remote-group"]);
    assert!(c.exempt.is_exempt(b"/api/v1/health"));
    assert!(c.exempt.is_exempt(b"/metrics"));
    assert_eq!(c.throttle, None, "throttling is off unless configured");
    assert_eq!(c.client_key, ClientKeySource::SourceAddress);
}

#[wasm_bindgen_test(unsupported = test)]
fn renamed_identity_headers_still_strip_the_defaults() {
    let c = parse(r#"{"mode":"basic","identityHeaders":{"user":"X-Auth-User"}}"#).unwrap();
    assert_eq!(c.identity.user, "x-auth-user");
    assert_eq!(
        c.strip_headers,
        ["x-auth-user", "x-remote-group", "x-remote-user"]
    );
    let c = parse(r#"{"mode":"basic","identityHeaders":{"user":"a","groups":"b"}}"#).unwrap();
    assert_eq!(
        c.strip_headers,
        ["a", "b", "x-remote-user", "x-remote-group"]
    );
    let c = parse(
        r#"{"mode":"basic","identityHeaders":{"user":"x-remote-group","groups":"x-remote-user"}}"#,
    )
    .unwrap();
    assert_eq!(c.strip_headers, ["x-remote-group", "x-remote-user"]);
}

#[wasm_bindgen_test(unsupported = test)]
fn duplicate_keys_are_refused() {
    for s in [
        r#"{"mode":"tokenReview","mode":"basic"}"#,
        r#"{"mode":"basic","exemptPaths":[],"exemptPaths":["/api/v1/health"]}"#,
        r#"{"mode":"basic","throttle":{"burst":5,"burst":50}}"#,
        r#"{"mode":"basic","throttle":{"clientKey":{"header":"a","header":"b"}}}"#,
        r#"{"mode":"tokenReview","tokenReview":{"allowedNamespaces":["a"],"allowedNamespaces":["b"]}}"#,
    ] {
        let e = parse(s).expect_err(s).to_string();
        assert!(e.contains("duplicate key"), "{s}: {e}");
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn an_api_route_is_exempt_only_with_the_loud_override() {
    for path in [
        "/api/v1/zones",
        "/api/v1/zones/example.com",
        "/api/v1/zones/example.com/records",
        "/api/v1/zones/example.com/reload",
        "/api/v1/server/status",
        "/api/v1/openapi.json",
    ] {
        let s = format!(r#"{{"mode":"basic","exemptPaths":["/api/v1/health","{path}"]}}"#);
        let e = parse(&s).expect_err(&s).to_string();
        assert!(
            e.contains(path) && e.contains("allowUnauthenticatedApiRoutes"),
            "{s}: {e}"
        );
        let s = format!(
            r#"{{"mode":"basic","exemptPaths":["{path}"],"allowUnauthenticatedApiRoutes":true}}"#
        );
        assert!(parse(&s).unwrap().exempt.is_exempt(path.as_bytes()), "{s}");
    }
    // Not routes of the API: fine without the override.
    for path in [
        "/api/v1/health",
        "/api/v1/ready",
        "/metrics",
        "/healthz",
        "/api/v1/zonesx",
    ] {
        let s = format!(r#"{{"mode":"basic","exemptPaths":["{path}"]}}"#);
        assert!(parse(&s).is_ok(), "{s}");
    }
    let s = r#"{"mode":"basic","allowUnauthenticatedApiRoutes":"yes"}"#;
    assert!(parse(s).unwrap_err().to_string().contains("invalid type"));
}

#[wasm_bindgen_test(unsupported = test)]
fn throttle_defaults_and_client_keys() {
    let c = parse(r#"{"mode":"basic","throttle":{}}"#).unwrap();
    assert_eq!(
        c.throttle,
        Some(ThrottleSettings {
            failures_per_minute: 30,
            burst: 10,
            block_seconds: 60,
            max_clients: 10_000
        })
    );
    assert_eq!(c.client_key, ClientKeySource::SourceAddress);
    let c = parse(r#"{"mode":"basic","throttle":{"failuresPerMinute":6,"burst":3,"blockSeconds":2,"clientKey":"sourceAddress","maxClients":500}}"#).unwrap();
    assert_eq!(c.throttle.map(|t| (t.burst, t.max_clients)), Some((3, 500)));
    let c = parse(
        r#"{"mode":"basic","throttle":{"clientKey":{"header":"X-Forwarded-For","trustedHops":2}}}"#,
    )
    .unwrap();
    assert_eq!(
        c.client_key,
        ClientKeySource::Header {
            name: "x-forwarded-for".into(),
            trusted_hops: 2
        }
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn max_pending_per_client_defaults_to_a_quarter() {
    let share = |s: &str| match parse(s).unwrap().mode {
        Mode::TokenReview(t) => (t.max_pending_reviews, t.max_pending_per_client),
        Mode::Basic => panic!("mode"),
    };
    let base = r#""mode":"tokenReview","tokenReview":{"allowAnyServiceAccount":true"#;
    assert_eq!(share(&format!("{{{base}}}}}")), (256, 64));
    assert_eq!(
        share(&format!(r#"{{{base},"maxPendingReviews":3}}}}"#)),
        (3, 1)
    );
    assert_eq!(
        share(&format!(
            r#"{{{base},"maxPendingReviews":8,"maxPendingPerClient":8}}}}"#
        )),
        (8, 8)
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn the_issue_example_parses() {
    let c = parse(r#"{"mode": "basic", "exemptPaths": ["/api/v1/health", "/api/v1/ready", "/metrics"], "identityHeaders": {"user": "x-remote-user", "groups": "x-remote-group"}}"#).unwrap();
    assert_eq!(c.mode, Mode::Basic);
    let c = parse(
        r#"{"mode": "tokenReview", "statusOnError": 401,
        "tokenReview": {"cluster": "kubernetes", "authority": "kubernetes.default.svc",
        "path": "/apis/authentication.k8s.io/v1/tokenreviews", "timeoutMs": 2000,
        "audiences": ["bindcar"], "allowedNamespaces": ["dns-system"], "allowedServiceAccounts": [],
        "allowAnyServiceAccount": false, "reviewerToken": null,
        "cacheTtlSeconds": 60, "negativeCacheTtlSeconds": 5, "cacheMaxEntries": 10000,
        "maxPendingReviews": 256}}"#,
    )
    .unwrap();
    let Mode::TokenReview(tr) = c.mode else {
        panic!("mode")
    };
    assert_eq!(tr.cluster, "kubernetes");
    assert_eq!(tr.timeout, Duration::from_secs(2));
    assert_eq!(tr.cache.max_entries, 10_000);
    assert_eq!(tr.max_pending_reviews, 256);
    assert_eq!(tr.reviewer_token, None);
}

#[wasm_bindgen_test(unsupported = test)]
fn bad_configurations_say_what_is_wrong() {
    let cases = [
        (r#"{"mode":"jwt"}"#, "unknown variant `jwt`"),
        (r#"{"mode":"basic","mdoe":"basic"}"#, "unknown field `mdoe`"),
        (
            r#"{"mode":"basic","exemptPaths":["/health/.."]}"#,
            "exemptPaths",
        ),
        (
            r#"{"mode":"basic","exemptPaths":"/health"}"#,
            "invalid type",
        ),
        (
            r#"{"mode":"basic","identityHeaders":{"user":"x remote"}}"#,
            "identityHeaders.user",
        ),
        (
            r#"{"mode":"basic","identityHeaders":{"user":"authorization"}}"#,
            "must not overwrite",
        ),
        (
            r#"{"mode":"basic","identityHeaders":{"user":"x-a","groups":"X-A"}}"#,
            "different",
        ),
        (
            r#"{"mode":"basic","identityHeaders":{"email":"x-a"}}"#,
            "unknown field `email`",
        ),
        (r#"{"mode":"basic","statusOnError":200}"#, "statusOnError"),
        (
            r#"{"mode":"basic","tokenReview":{"allowAnyServiceAccount":true}}"#,
            "mode is \"basic\"",
        ),
        (
            r#"{"mode":"tokenReview"}"#,
            "ANY authenticated ServiceAccount",
        ),
        (
            r#"{"mode":"tokenReview","tokenReview":{"allowedNamespaces":[]}}"#,
            "ANY authenticated ServiceAccount",
        ),
        (
            r#"{"mode":"tokenReview","tokenReview":{"audiences":[],"allowAnyServiceAccount":true}}"#,
            "audiences",
        ),
        (
            r#"{"mode":"tokenReview","tokenReview":{"allowedServiceAccounts":["external-dns"]}}"#,
            "system:serviceaccount",
        ),
        (
            r#"{"mode":"tokenReview","tokenReview":{"allowedNamespaces":["DNS"]}}"#,
            "namespace name",
        ),
        (
            r#"{"mode":"tokenReview","tokenReview":{"allowAnyServiceAccount":true,"timeoutMs":0}}"#,
            "timeoutMs",
        ),
        (
            r#"{"mode":"tokenReview","tokenReview":{"allowAnyServiceAccount":true,"cluster":""}}"#,
            "cluster",
        ),
        (
            r#"{"mode":"tokenReview","tokenReview":{"allowAnyServiceAccount":true,"path":"apis"}}"#,
            "path",
        ),
        (
            r#"{"mode":"tokenReview","tokenReview":{"allowAnyServiceAccount":true,"reviewerToken":"a b"}}"#,
            "reviewerToken",
        ),
        (
            r#"{"mode":"tokenReview","tokenReview":{"allowAnyServiceAccount":true,"maxPendingReviews":0}}"#,
            "maxPendingReviews",
        ),
        (
            r#"{"mode":"tokenReview","tokenReview":{"allowAnyServiceAccount":true,"cacheTtlSeconds":86400}}"#,
            "cacheTtlSeconds",
        ),
        (
            r#"{"mode":"tokenReview","tokenReview":{"allowAnyServiceAccount":true,"allowAny":true}}"#,
            "unknown field `allowAny`",
        ),
        (
            r#"{"mode":"basic","throttle":{"burst":0}}"#,
            "throttle.burst: 0 is outside 1..=10000",
        ),
        (
            r#"{"mode":"basic","throttle":{"failuresPerMinute":0}}"#,
            "throttle.failuresPerMinute",
        ),
        (
            r#"{"mode":"basic","throttle":{"blockSeconds":0}}"#,
            "throttle.blockSeconds",
        ),
        (
            r#"{"mode":"basic","throttle":{"maxClients":1000001}}"#,
            "throttle.maxClients",
        ),
        (
            r#"{"mode":"basic","throttle":{"blocksSeconds":5}}"#,
            "unknown field `blocksSeconds`",
        ),
        (
            r#"{"mode":"basic","throttle":{"burst":-1}}"#,
            "invalid value",
        ),
        (
            r#"{"mode":"basic","throttle":{"clientKey":"remoteAddress"}}"#,
            "throttle.clientKey must be",
        ),
        (
            r#"{"mode":"basic","throttle":{"clientKey":{"header":"x forwarded"}}}"#,
            "clientKey.header",
        ),
        (
            r#"{"mode":"basic","throttle":{"clientKey":{"header":"x-forwarded-for","trustedHops":0}}}"#,
            "trustedHops: 0 is outside 1..=16",
        ),
        (
            r#"{"mode":"basic","throttle":{"clientKey":{"header":"x-forwarded-for","hops":1}}}"#,
            "unknown field `hops`",
        ),
        (
            r#"{"mode":"basic","throttle":{"clientKey":{"trustedHops":1}}}"#,
            "`header` is missing",
        ),
        (
            r#"{"mode":"tokenReview","tokenReview":{"allowAnyServiceAccount":true,"maxPendingReviews":8,"maxPendingPerClient":9}}"#,
            "tokenReview.maxPendingPerClient: 9 is outside 1..=maxPendingReviews (8)",
        ),
        (
            r#"{"mode":"tokenReview","tokenReview":{"allowAnyServiceAccount":true,"maxPendingPerClient":0}}"#,
            "maxPendingPerClient",
        ),
        ("not json", "expected"),
        ("[]", "must be a JSON object"),
        ("\"basic\"", "must be a JSON object"),
    ];
    for (input, needle) in cases {
        let e = parse(input).expect_err(input).to_string();
        assert!(e.contains(needle), "{input}: {e:?} lacks {needle:?}");
        assert!(e.starts_with("invalid plugin configuration: "));
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn scope_changes_with_what_the_answer_depends_on() {
    let a =
        parse(r#"{"mode":"tokenReview","tokenReview":{"allowAnyServiceAccount":true}}"#).unwrap();
    let b = parse(r#"{"mode":"tokenReview","tokenReview":{"allowAnyServiceAccount":true,"audiences":["other"]}}"#).unwrap();
    let c = parse(r#"{"mode":"tokenReview","tokenReview":{"allowedNamespaces":["dns"]}}"#).unwrap();
    let scope = |c: &FilterConfig| match &c.mode {
        Mode::TokenReview(t) => t.cache_scope(),
        Mode::Basic => vec![],
    };
    assert_ne!(scope(&a), scope(&b));
    // Allowlists are applied on every request, so they need not split the cache.
    assert_eq!(scope(&a), scope(&c));
}
