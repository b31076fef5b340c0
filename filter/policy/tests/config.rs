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
fn empty_means_defaults() {
    for s in ["", "  \n", "{}"] {
        let c = parse(s).unwrap();
        assert_eq!(c.mode, Mode::Basic);
        assert_eq!(c.status_on_error, 401);
        assert_eq!(
            c.identity,
            IdentityHeaders {
                user: "x-remote-user".into(),
                groups: "x-remote-group".into()
            }
        );
        assert!(c.exempt.is_exempt(b"/api/v1/health"));
        assert!(c.exempt.is_exempt(b"/metrics"));
        assert_eq!(c.throttle, None, "throttling is off unless configured");
        assert_eq!(c.client_key, ClientKeySource::SourceAddress);
    }
}

#[wasm_bindgen_test(unsupported = test)]
fn throttle_defaults_and_client_keys() {
    let c = parse(r#"{"throttle":{}}"#).unwrap();
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
    let c = parse(r#"{"throttle":{"failuresPerMinute":6,"burst":3,"blockSeconds":2,"clientKey":"sourceAddress","maxClients":500}}"#).unwrap();
    assert_eq!(c.throttle.map(|t| (t.burst, t.max_clients)), Some((3, 500)));
    let c = parse(r#"{"throttle":{"clientKey":{"header":"X-Forwarded-For","trustedHops":2}}}"#)
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
        (r#"{"mdoe":"basic"}"#, "unknown field `mdoe`"),
        (r#"{"exemptPaths":["/health/.."]}"#, "exemptPaths"),
        (r#"{"exemptPaths":"/health"}"#, "invalid type"),
        (
            r#"{"identityHeaders":{"user":"x remote"}}"#,
            "identityHeaders.user",
        ),
        (
            r#"{"identityHeaders":{"user":"authorization"}}"#,
            "must not overwrite",
        ),
        (
            r#"{"identityHeaders":{"user":"x-a","groups":"X-A"}}"#,
            "different",
        ),
        (
            r#"{"identityHeaders":{"email":"x-a"}}"#,
            "unknown field `email`",
        ),
        (r#"{"statusOnError":200}"#, "statusOnError"),
        (
            r#"{"tokenReview":{"allowAnyServiceAccount":true}}"#,
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
            r#"{"throttle":{"burst":0}}"#,
            "throttle.burst: 0 is outside 1..=10000",
        ),
        (
            r#"{"throttle":{"failuresPerMinute":0}}"#,
            "throttle.failuresPerMinute",
        ),
        (
            r#"{"throttle":{"blockSeconds":0}}"#,
            "throttle.blockSeconds",
        ),
        (
            r#"{"throttle":{"maxClients":1000001}}"#,
            "throttle.maxClients",
        ),
        (
            r#"{"throttle":{"blocksSeconds":5}}"#,
            "unknown field `blocksSeconds`",
        ),
        (r#"{"throttle":{"burst":-1}}"#, "invalid value"),
        (
            r#"{"throttle":{"clientKey":"remoteAddress"}}"#,
            "throttle.clientKey must be",
        ),
        (
            r#"{"throttle":{"clientKey":{"header":"x forwarded"}}}"#,
            "clientKey.header",
        ),
        (
            r#"{"throttle":{"clientKey":{"header":"x-forwarded-for","trustedHops":0}}}"#,
            "trustedHops: 0 is outside 1..=16",
        ),
        (
            r#"{"throttle":{"clientKey":{"header":"x-forwarded-for","hops":1}}}"#,
            "unknown field `hops`",
        ),
        (
            r#"{"throttle":{"clientKey":{"trustedHops":1}}}"#,
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
