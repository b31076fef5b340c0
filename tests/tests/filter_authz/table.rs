//! The mapping table in the real Envoy: each row allowed by exactly the RBAC rule that names
//! it and refused without one; unmapped requests refused without a callout; `create` not
//! restricted by name; the subject is always the reviewed identity.

use super::*;

/// (method, path, verb, resource[/subresource], zone)
const ROWS: &[(&str, &str, &str, &str, Option<&str>)] = &[
    ("GET", "/api/v1/zones", "list", "zones", None),
    ("POST", "/api/v1/zones", "create", "zones", None),
    (
        "GET",
        "/api/v1/zones/example.com",
        "get",
        "zones",
        Some("example.com"),
    ),
    (
        "GET",
        "/api/v1/zones/Example.COM./status",
        "get",
        "zones/status",
        Some("example.com"),
    ),
    (
        "PATCH",
        "/api/v1/zones/example.com",
        "patch",
        "zones",
        Some("example.com"),
    ),
    (
        "DELETE",
        "/api/v1/zones/example.com",
        "delete",
        "zones",
        Some("example.com"),
    ),
    (
        "POST",
        "/api/v1/zones/example.com/reload",
        "create",
        "zones/reload",
        Some("example.com"),
    ),
    (
        "POST",
        "/api/v1/zones/example.com/freeze",
        "create",
        "zones/freeze",
        Some("example.com"),
    ),
    (
        "POST",
        "/api/v1/zones/example.com/thaw",
        "create",
        "zones/thaw",
        Some("example.com"),
    ),
    (
        "POST",
        "/api/v1/zones/example.com/notify",
        "create",
        "zones/notify",
        Some("example.com"),
    ),
    (
        "POST",
        "/api/v1/zones/example.com/retransfer",
        "create",
        "zones/retransfer",
        Some("example.com"),
    ),
    (
        "GET",
        "/api/v1/zones/example.com/ds",
        "get",
        "zones/ds",
        Some("example.com"),
    ),
    (
        "POST",
        "/api/v1/zones/example.com/dnssec/checkds",
        "create",
        "zones/checkds",
        Some("example.com"),
    ),
    (
        "GET",
        "/api/v1/zones/example.com/propagation",
        "get",
        "zones/propagation",
        Some("example.com"),
    ),
    (
        "GET",
        "/api/v1/zones/example.com/records",
        "get",
        "zones/records",
        Some("example.com"),
    ),
    (
        "GET",
        "/api/v1/zones/example.com/rrsets",
        "get",
        "zones/records",
        Some("example.com"),
    ),
    (
        "POST",
        "/api/v1/zones/example.com/records",
        "create",
        "zones/records",
        Some("example.com"),
    ),
    (
        "PUT",
        "/api/v1/zones/example.com/records",
        "update",
        "zones/records",
        Some("example.com"),
    ),
    (
        "DELETE",
        "/api/v1/zones/example.com/records",
        "delete",
        "zones/records",
        Some("example.com"),
    ),
    (
        "PUT",
        "/api/v1/zones/example.com/rrsets/www/A",
        "update",
        "zones/records",
        Some("example.com"),
    ),
    ("GET", "/api/v1/server/status", "get", "server/status", None),
    ("GET", "/api/v1/openapi.json", "get", "openapi", None),
];

fn action(verb: &str, resource: &str, zone: Option<&str>) -> String {
    match zone {
        Some(z) => format!("{verb} {resource} {z}"),
        None => format!("{verb} {resource}"),
    }
}

#[test]
fn every_row_is_allowed_by_its_rule_and_denied_without_it() {
    let s = sar_stack();
    let rules = ROWS
        .iter()
        .map(|(_, _, verb, resource, zone)| {
            let rule = RbacRule::for_users(&[TEAM_A], &[verb], &[resource]);
            match zone {
                Some(z) => rule.named(&[z]),
                None => rule,
            }
        })
        .collect();
    s.api.set_rbac(rules);
    let (a, b) = (token(&s.api, "team-a"), token(&s.api, "team-b"));
    // rrsets rows share their attributes with records rows: those are decided from the cache.
    let mut asked = std::collections::HashSet::new();
    for (i, (method, path, verb, resource, zone)) in ROWS.iter().enumerate() {
        let fresh = asked.insert((verb, resource, zone));
        let before = s.api.sar_count();
        // Given team A's rule for this row, when team A asks, then it reaches the upstream.
        let r = send(&s.envoy, method, path, &a);
        assert_eq!(r.status, 200, "{method} {path}: {r:?}");
        assert_eq!(s.up.count(), i + 1);
        assert_eq!(
            s.api.sar_count() - before,
            u64::from(fresh),
            "{method} {path}"
        );
        if fresh {
            // And the SubjectAccessReview named exactly the row's attributes.
            let spec = s.api.sar_specs().last().cloned().unwrap();
            let (res, sub) = resource
                .split_once('/')
                .map_or((*resource, None), |(r, s)| (r, Some(s)));
            let mut want = json!({"group": "bindcar.dns", "resource": res, "verb": verb});
            if let Some(sub) = sub {
                want["subresource"] = json!(sub);
            }
            if let Some(z) = zone {
                want["name"] = json!(z);
            }
            assert_eq!(spec["resourceAttributes"], want, "{method} {path}");
            assert_eq!(spec["user"], TEAM_A);
        }
        // Team B has no rule: refused, with what was refused, never reaching the upstream.
        let r = send(&s.envoy, method, path, &b);
        assert_forbidden(
            &r,
            &format!("{TEAM_B} may not {}", action(verb, resource, *zone)),
        );
        assert_eq!(s.up.count(), i + 1);
    }
    let distinct = asked.len() as u64;
    assert_eq!(distinct, ROWS.len() as u64 - 2);
    assert_eq!(s.api.sar_count(), 2 * distinct);
    assert_eq!(
        s.envoy.counter("bindcar_auth_authz_allowed").unwrap(),
        ROWS.len() as u64
    );
    assert_eq!(
        s.envoy.counter("bindcar_auth_authz_denied").unwrap(),
        ROWS.len() as u64
    );
    assert_eq!(
        s.envoy.counter("bindcar_auth_denied_forbidden").unwrap(),
        ROWS.len() as u64
    );
    assert_eq!(
        s.envoy.counter("bindcar_auth_authz_checks_sent").unwrap(),
        2 * distinct
    );
}

#[test]
fn a_service_account_allowed_on_example_com_is_denied_on_example_org() {
    let s = sar_stack();
    // Given: team A's ServiceAccounts (by group) may manage example.com and its records.
    s.api.set_rbac(vec![RbacRule::for_groups(
        &["system:serviceaccounts:team-a"],
        &["get", "patch", "delete", "create", "update"],
        &["zones", "zones/records"],
    )
    .named(&["example.com"])]);
    let a = token(&s.api, "team-a");
    for (m, p) in [
        ("GET", "/api/v1/zones/example.com"),
        ("PUT", "/api/v1/zones/example.com/records"),
    ] {
        assert_eq!(send(&s.envoy, m, p, &a).status, 200, "{m} {p}");
    }
    // When it touches example.org, then it is refused.
    assert_forbidden(
        &send(&s.envoy, "DELETE", "/api/v1/zones/example.org", &a),
        &format!("{TEAM_A} may not delete zones example.org"),
    );
    assert_forbidden(
        &send(&s.envoy, "PUT", "/api/v1/zones/example.org/records", &a),
        &format!("{TEAM_A} may not update zones/records example.org"),
    );
    // A rule with resourceNames never covers list or create (no name), as in Kubernetes.
    assert_forbidden(
        &send(&s.envoy, "GET", "/api/v1/zones", &a),
        &format!("{TEAM_A} may not list zones"),
    );
    assert_eq!(s.up.count(), 2);
}

#[test]
fn create_is_not_restricted_by_name() {
    let s = sar_stack();
    s.api.set_rbac(vec![RbacRule::for_users(
        &[TEAM_A],
        &["create"],
        &["zones"],
    )]);
    let a = token(&s.api, "team-a");
    let r = request(
        s.envoy.port,
        "POST",
        b"/api/v1/zones",
        &[("authorization", format!("Bearer {a}").as_bytes())],
        br#"{"zoneName":"anything.example"}"#,
    )
    .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    let spec = s.api.sar_specs().pop().unwrap();
    assert!(spec["resourceAttributes"].get("name").is_none(), "{spec}");
}

#[test]
fn unmapped_paths_and_methods_are_denied_without_a_callout_and_exempt_paths_stay_open() {
    let s = sar_stack();
    s.api
        .set_rbac(vec![RbacRule::for_users(&[TEAM_A], &["*"], &["*"])]);
    let a = token(&s.api, "team-a");
    for (m, p) in [
        ("HEAD", "/api/v1/zones"),
        ("PUT", "/api/v1/zones"),
        ("DELETE", "/api/v1/zones"),
        ("POST", "/api/v1/zones/example.com"),
        ("POST", "/api/v1/zones/example.com/explode"),
        ("GET", "/api/v1/zones/example.com/reload"),
        ("GET", "/api/v1/zones/bad..name"),
        ("GET", "/api/v1/elsewhere"),
        ("GET", "/"),
    ] {
        let r = send(&s.envoy, m, p, &a);
        if m == "HEAD" {
            assert_eq!(r.status, 403, "{m} {p}");
        } else {
            assert_forbidden(&r, &format!("{TEAM_A} may not {m} {p}"));
        }
    }
    assert_eq!(s.api.sar_count(), 0);
    assert_eq!(s.up.count(), 0);
    // Exempt paths need no token and no authorization.
    let r = request(s.envoy.port, "GET", b"/api/v1/health", &[], b"").unwrap();
    assert_eq!(r.status, 200);
    // A mapped request with the wildcard rule passes.
    assert_eq!(send(&s.envoy, "GET", "/api/v1/zones", &a).status, 200);
    // Unauthenticated requests are still 401: authentication comes first.
    let r = send(&s.envoy, "GET", "/api/v1/zones", "not-a-token");
    assert_eq!(r.status, 401);
}

#[test]
fn the_subject_is_the_reviewed_identity_never_the_clients_headers() {
    let s = sar_stack();
    s.api.set_rbac(vec![RbacRule::for_users(
        &["kubernetes-admin"],
        &["*"],
        &["*"],
    )]);
    let b = token(&s.api, "team-b");
    let r = request(
        s.envoy.port,
        "DELETE",
        b"/api/v1/zones/example.com",
        &[
            ("authorization", format!("Bearer {b}").as_bytes()),
            ("x-remote-user", b"kubernetes-admin"),
            ("x-remote-group", b"system:masters"),
            ("impersonate-user", b"kubernetes-admin"),
        ],
        b"",
    )
    .unwrap();
    assert_forbidden(&r, &format!("{TEAM_B} may not delete zones example.com"));
    let spec = s.api.sar_specs().pop().unwrap();
    assert_eq!(spec["user"], TEAM_B);
    let groups = spec["groups"].as_array().unwrap();
    assert!(
        groups.contains(&json!("system:serviceaccounts:team-b")),
        "{spec}"
    );
    assert!(!groups.contains(&json!("system:masters")), "{spec}");
    assert!(
        spec["uid"].as_str().is_some_and(|u| !u.is_empty()),
        "{spec}"
    );
}
