//! `Authorizer` end to end (pure) and the `authorization` configuration as the plugin
//! configuration parser sees it, through the public API (here, not in `src/authz/`, so that
//! `authz` never imports `config`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::json;
use wasm_bindgen_test::wasm_bindgen_test;

use bindcar_policy::authz::settings::*;
use bindcar_policy::authz::*;
use bindcar_policy::config::FilterConfig;
use bindcar_policy::denial::Denial;
use bindcar_policy::review::{Identity, ReviewFailure};

fn id(name: &str) -> Identity {
    Identity {
        username: name.into(),
        uid: None,
        extra: Default::default(),
        groups: vec!["team-a".into()],
    }
}

fn config(authorization: serde_json::Value) -> Result<FilterConfig, String> {
    let v = json!({"mode": "tokenReview", "tokenReview": {"allowAnyServiceAccount": true,
        "cluster": "k8s", "authority": "api.example"}, "authorization": authorization});
    FilterConfig::from_json(v.to_string().as_bytes()).map_err(|e| e.to_string())
}

fn authz(authorization: serde_json::Value) -> AuthzConfig {
    config(authorization).unwrap().authorization
}

#[wasm_bindgen_test(unsupported = test)]
fn defaults_follow_token_review() {
    assert_eq!(authz(json!({})), AuthzConfig::none());
    let c = authz(json!({"mode": "subjectAccessReview"}));
    assert_eq!(c.group, "bindcar.dns");
    let AuthzMode::SubjectAccessReview(s) = c.mode else {
        panic!("{c:?}")
    };
    assert_eq!(
        (s.cluster.as_str(), s.authority.as_str()),
        ("k8s", "api.example")
    );
    assert_eq!(s.path, "/apis/authorization.k8s.io/v1/subjectaccessreviews");
    assert_eq!(s.timeout, Duration::from_millis(2000));
    assert_eq!(
        (s.allow_ttl, s.deny_ttl),
        (Duration::from_secs(300), Duration::from_secs(30))
    );
    let c = authz(
        json!({"mode": "subjectAccessReview", "group": "dns.example", "cluster": "c",
        "authority": "a", "path": "/p", "timeoutMs": 10, "allowCacheTtlSeconds": 0, "denyCacheTtlSeconds": 1}),
    );
    assert_eq!(c.group, "dns.example");
    let omitted = FilterConfig::from_json(
        br#"{"mode":"tokenReview","tokenReview":{"allowAnyServiceAccount":true}}"#,
    )
    .unwrap();
    assert!(!omitted.authorization.is_on());
}

#[wasm_bindgen_test(unsupported = test)]
fn refused_configurations_say_why() {
    let e = |v| config(v).unwrap_err();
    assert!(e(json!({"mode": "rbac"})).contains("unknown variant"));
    assert!(e(json!({"mode": "static"})).contains("needs \"rules\""));
    assert!(e(json!({"mode": "subjectAccessReview", "rules": []}))
        .contains("only with \"mode\": \"static\""));
    assert!(e(json!({"mode": "static", "rules": [], "timeoutMs": 5})).contains("only with"));
    assert!(e(json!({"timeoutMs": 5})).contains("only with"));
    assert!(e(json!({"mode": "subjectAccessReview", "timeoutMs": 0})).contains("timeoutMs"));
    assert!(
        e(json!({"mode": "subjectAccessReview", "allowCacheTtlSeconds": 3601}))
            .contains("allowCacheTtlSeconds")
    );
    assert!(
        e(json!({"mode": "subjectAccessReview", "denyCacheTtlSeconds": 301}))
            .contains("denyCacheTtlSeconds")
    );
    assert!(e(json!({"mode": "subjectAccessReview", "path": "x"})).contains("path"));
    assert!(e(json!({"mode": "subjectAccessReview", "group": ""})).contains("group"));
    assert!(e(json!({"mode": "static", "rules": [{"users": ["u"], "verbs": ["get"], "resources": ["zonez"]}]})).contains("authorization.rules[0].resources"));
    assert!(e(json!({"mode": "subjectAccessReview", "bogus": 1})).contains("bogus"));
    // Basic mode has no identity to authorize.
    for mode in ["subjectAccessReview", "static"] {
        let mut a = json!({"mode": mode});
        if mode == "static" {
            a["rules"] = json!([]);
        }
        let e = FilterConfig::from_json(
            json!({"mode": "basic", "authorization": a})
                .to_string()
                .as_bytes(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("authorization needs an identity"), "{e}");
    }
    assert!(
        FilterConfig::from_json(br#"{"mode":"basic","authorization":{"mode":"none"}}"#).is_ok()
    );
}

#[wasm_bindgen_test(unsupported = test)]
fn static_rules_decide_in_place() {
    let a = Authorizer::new(
        authz(
            json!({"mode": "static", "rules": [{"groups": ["team-a"], "verbs": ["get"],
            "resources": ["zones"], "zones": ["example.com"]}]}),
        ),
        b"k",
        b"",
    );
    let ok = Operation::of(b"GET", b"/api/v1/zones/example.com");
    assert_eq!(a.begin(&id("u"), &ok, 0), Begin::Decided(Ok(())));
    let no = Operation::of(b"GET", b"/api/v1/zones/example.org");
    let Begin::Decided(Err(d)) = a.begin(&id("u"), &no, 0) else {
        panic!()
    };
    assert_eq!(d.message(), "u may not get zones example.org");
    assert_eq!(d.status(401), 403);
    let odd = Operation::of(b"HEAD", b"/api/v1/zones?x=1");
    let Begin::Decided(Err(d)) = a.begin(&id("u"), &odd, 0) else {
        panic!()
    };
    assert_eq!(d.message(), "u may not HEAD /api/v1/zones");
}

#[wasm_bindgen_test(unsupported = test)]
fn sar_decisions_are_asked_then_cached_and_failures_never() {
    let mut a = Authorizer::new(
        authz(
            json!({"mode": "subjectAccessReview", "allowCacheTtlSeconds": 10, "denyCacheTtlSeconds": 2}),
        ),
        b"k",
        b"",
    );
    let op = Operation::of(b"DELETE", b"/api/v1/zones/example.org");
    let Operation::Known(attrs) = &op else {
        panic!()
    };
    let u = id("u");
    let Begin::Ask(key) = a.begin(&u, &op, 0) else {
        panic!()
    };
    let failed = a.finish(
        &key,
        &u,
        attrs,
        &Err(ReviewFailure::HttpStatus(500)),
        0,
        Some(u64::MAX),
    );
    assert_eq!(failed, Err(Denial::AuthorizationUnavailable));
    assert_eq!(
        a.begin(&u, &op, 1),
        Begin::Ask(key),
        "a failure is not cached"
    );
    let denied = a.finish(&key, &u, attrs, &Ok(false), 0, Some(u64::MAX));
    assert!(matches!(denied, Err(Denial::Forbidden { .. })));
    assert!(matches!(a.begin(&u, &op, 1_999), Begin::Cached(Err(_))));
    assert_eq!(a.begin(&u, &op, 2_000), Begin::Ask(key), "deny TTL");
    assert_eq!(
        a.finish(&key, &u, attrs, &Ok(true), 2_000, Some(u64::MAX)),
        Ok(())
    );
    assert_eq!(a.begin(&u, &op, 11_999), Begin::Cached(Ok(())));
    assert_eq!(a.begin(&u, &op, 12_000), Begin::Ask(key), "allow TTL");
    // The body names the reviewed user and the table's attributes.
    let body: serde_json::Value = serde_json::from_slice(&a.request_body(&u, attrs)).unwrap();
    assert_eq!(body["spec"]["user"], "u");
    assert_eq!(body["spec"]["resourceAttributes"]["verb"], "delete");
    // A changed configuration keys differently: no decision carries over.
    let b = Authorizer::new(
        authz(json!({"mode": "subjectAccessReview", "group": "other"})),
        b"k",
        b"",
    );
    assert_ne!(b.begin(&u, &op, 0), Begin::Ask(key));
}
