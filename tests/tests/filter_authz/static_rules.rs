//! Static rules: decided in the filter without any SubjectAccessReview; and authorization
//! refused at load where there is no identity to authorize.

use bindcar_testbed::envoy::start_expecting_refusal;

use super::*;

#[test]
fn static_rules_decide_without_any_callout() {
    let s = stack(
        json!({"mode": "static", "rules": [
            {"groups": ["system:serviceaccounts:team-a"], "verbs": ["get", "update", "create", "delete"],
             "resources": ["zones", "zones/records"], "zones": ["example.com", "*.team-a.example"]},
            {"users": [TEAM_B], "verbs": ["list"], "resources": ["zones"]}]}),
        503,
    );
    let (a, b) = (token(&s.api, "team-a"), token(&s.api, "team-b"));
    for (m, p, t, status) in [
        ("GET", "/api/v1/zones/example.com", &a, 200),
        ("PUT", "/api/v1/zones/example.com/records", &a, 200),
        ("GET", "/api/v1/zones/x.team-a.example", &a, 200),
        ("GET", "/api/v1/zones/team-a.example", &a, 403),
        ("GET", "/api/v1/zones/example.org", &a, 403),
        ("GET", "/api/v1/zones", &a, 403),
        ("PATCH", "/api/v1/zones/example.com", &a, 403),
        ("GET", "/api/v1/zones", &b, 200),
        ("GET", "/api/v1/zones/example.com", &b, 403),
    ] {
        assert_eq!(send(&s.envoy, m, p, t).status, status, "{m} {p}");
    }
    assert_forbidden(
        &send(&s.envoy, "DELETE", "/api/v1/zones/example.org", &a),
        &format!("{TEAM_A} may not delete zones example.org"),
    );
    assert_eq!(s.api.sar_count(), 0, "static rules never call out");
    assert_eq!(s.up.count(), 4);
}

#[test]
fn authorization_without_an_identity_is_refused_at_load() {
    for authz in [
        json!({"mode": "subjectAccessReview"}),
        json!({"mode": "static", "rules": []}),
    ] {
        let config = json!({"mode": "basic", "authorization": authz}).to_string();
        let log = start_expecting_refusal(&EnvoyOptions::filter(&config, 9)).unwrap();
        assert!(log.contains("authorization needs an identity"), "{log}");
    }
    let config = json!({"mode": "tokenReview", "tokenReview": {"allowAnyServiceAccount": true},
        "authorization": {"mode": "static", "rules": [{"users": ["u"], "verbs": ["get"], "resources": ["zone"]}]}})
    .to_string();
    let log = start_expecting_refusal(&EnvoyOptions::filter(&config, 9)).unwrap();
    assert!(log.contains("authorization.rules[0].resources"), "{log}");
}
