//! Standalone authorization of the bindcar backend: after TokenReview, the same request →
//! attributes table as the filter, decided by SubjectAccessReview (through kube, against our
//! API server's RBAC table) or by static rules from a file; fail-closed; refused at startup
//! without an identity.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use bindcar_testbed::backend::Backend;
use bindcar_testbed::tokenreview::{
    Fault, MintRequest, RbacRule, ServerOptions, TokenReviewServer,
};
use common::{primary_zone, snapshot, Stack};
use serde_json::{json, Value};

/// (method, path, verb, resource, subresource, name)
type Row<'a> = (
    &'a str,
    String,
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
);

const TEAM_A: &str = "system:serviceaccount:team-a:external-dns";
const TEAM_B: &str = "system:serviceaccount:team-b:external-dns";

struct AuthzStack {
    stack: Stack,
    api: TokenReviewServer,
    _dir: tempfile::TempDir,
}

async fn authz_stack(extra: &[(&str, &str)], write: Option<(&str, &str)>) -> AuthzStack {
    let api = TokenReviewServer::start(ServerOptions::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.write_kubeconfig(dir.path()).unwrap();
    let mut env = vec![
        ("BIND_AUTH_MODE".to_string(), "tokenreview".to_string()),
        ("BIND_ALLOW_ANY_SERVICEACCOUNT".into(), "true".into()),
        ("KUBECONFIG".into(), kubeconfig.display().to_string()),
    ];
    if let Some((name, text)) = write {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        env.push(("BIND_AUTHZ_RULES_FILE".into(), path.display().to_string()));
    }
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    AuthzStack {
        stack: Stack::start_with(env, None),
        api,
        _dir: dir,
    }
}

fn forbidden(message: &str) -> Value {
    json!({"error": "Forbidden", "message": message})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subject_access_review_decides_every_route_the_backend_serves() {
    let s = authz_stack(&[("BIND_AUTHZ_MODE", "subjectaccessreview")], None).await;
    let zone = "example.com";
    let rows: Vec<Row> = vec![
        (
            "POST",
            "/api/v1/zones".into(),
            "create",
            "zones",
            None,
            None,
        ),
        ("GET", "/api/v1/zones".into(), "list", "zones", None, None),
        (
            "GET",
            format!("/api/v1/zones/{zone}"),
            "get",
            "zones",
            None,
            Some(zone),
        ),
        (
            "GET",
            format!("/api/v1/zones/{zone}/status"),
            "get",
            "zones",
            Some("status"),
            Some(zone),
        ),
        (
            "PATCH",
            format!("/api/v1/zones/{zone}"),
            "patch",
            "zones",
            None,
            Some(zone),
        ),
        (
            "POST",
            format!("/api/v1/zones/{zone}/freeze"),
            "create",
            "zones",
            Some("freeze"),
            Some(zone),
        ),
        (
            "POST",
            format!("/api/v1/zones/{zone}/thaw"),
            "create",
            "zones",
            Some("thaw"),
            Some(zone),
        ),
        (
            "POST",
            format!("/api/v1/zones/{zone}/reload"),
            "create",
            "zones",
            Some("reload"),
            Some(zone),
        ),
        (
            "POST",
            format!("/api/v1/zones/{zone}/notify"),
            "create",
            "zones",
            Some("notify"),
            Some(zone),
        ),
        (
            "POST",
            format!("/api/v1/zones/{zone}/retransfer"),
            "create",
            "zones",
            Some("retransfer"),
            Some(zone),
        ),
        (
            "GET",
            format!("/api/v1/zones/{zone}/ds"),
            "get",
            "zones",
            Some("ds"),
            Some(zone),
        ),
        (
            "POST",
            format!("/api/v1/zones/{zone}/dnssec/checkds"),
            "create",
            "zones",
            Some("checkds"),
            Some(zone),
        ),
        (
            "GET",
            format!("/api/v1/zones/{zone}/propagation"),
            "get",
            "zones",
            Some("propagation"),
            Some(zone),
        ),
        (
            "GET",
            "/api/v1/server/status".into(),
            "get",
            "server",
            Some("status"),
            None,
        ),
        (
            "GET",
            "/api/v1/openapi.json".into(),
            "get",
            "openapi",
            None,
            None,
        ),
        (
            "DELETE",
            format!("/api/v1/zones/{zone}"),
            "delete",
            "zones",
            None,
            Some(zone),
        ),
    ];
    s.api.set_rbac(
        rows.iter()
            .map(|(_, _, verb, res, sub, name)| {
                let resource = sub.map_or(res.to_string(), |s| format!("{res}/{s}"));
                let rule = RbacRule::for_users(&[TEAM_A], &[verb], &[&resource]);
                match name {
                    Some(n) => rule.named(&[n]),
                    None => rule,
                }
            })
            .collect(),
    );
    let a = s
        .api
        .mint(&MintRequest::new("team-a", "external-dns", &["bindcar"]));
    let b = s
        .api
        .mint(&MintRequest::new("team-b", "external-dns", &["bindcar"]));
    let (ca, cb) = (
        s.stack.client.with_token(Some(&a)),
        s.stack.client.with_token(Some(&b)),
    );
    for (method, path, verb, res, sub, name) in &rows {
        let body = match (*method, path.as_str()) {
            ("POST", "/api/v1/zones") => Some(primary_zone(zone)),
            ("PATCH", _) => Some(json!({"alsoNotify": ["192.0.2.9"]})),
            (_, p) if p.ends_with("/checkds") => Some(json!({"keyTag": 1, "ds": "published"})),
            _ => None,
        };
        // Team B, with no rule, is refused first and nothing changes on disk.
        let before = snapshot(s.stack.named.zone_dir());
        let (status, got) = cb.send(method, path, body.as_ref()).await;
        let resource = sub.map_or(res.to_string(), |s| format!("{res}/{s}"));
        let action = match name {
            Some(n) => format!("{verb} {resource} {n}"),
            None => format!("{verb} {resource}"),
        };
        assert_eq!(
            (status, got),
            (403, forbidden(&format!("{TEAM_B} may not {action}"))),
            "{method} {path}"
        );
        assert_eq!(
            snapshot(s.stack.named.zone_dir()),
            before,
            "{method} {path}"
        );
        // Team A, with the row's rule, is let through to the handler.
        let (status, got) = ca.send(method, path, body.as_ref()).await;
        assert!(
            ![401, 403, 503].contains(&status),
            "{method} {path}: {status} {got}"
        );
        let spec = s.api.sar_specs().last().cloned().unwrap();
        assert_eq!(spec["user"], TEAM_A);
        assert_eq!(spec["resourceAttributes"]["verb"], *verb, "{method} {path}");
        assert_eq!(spec["resourceAttributes"]["resource"], *res);
        assert_eq!(
            spec["resourceAttributes"]
                .get("subresource")
                .and_then(Value::as_str),
            *sub
        );
        assert_eq!(
            spec["resourceAttributes"]
                .get("name")
                .and_then(Value::as_str),
            *name
        );
        assert_eq!(spec["resourceAttributes"]["group"], "bindcar.dns");
        match (*method, path.as_str()) {
            ("POST", "/api/v1/zones") => assert_eq!(status, 201, "{got}"),
            ("GET", "/api/v1/zones") => assert_eq!(got["zones"], json!([zone])),
            ("DELETE", _) => assert_eq!(status, 200, "{got}"),
            _ => {}
        }
    }
    assert_eq!(s.api.sar_count(), 2 * rows.len() as u64);
    // Decisions are cached: asking again sends no SubjectAccessReview.
    let (status, _) = cb.get("/api/v1/zones").await;
    assert_eq!(status, 403);
    assert_eq!(ca.get("/api/v1/openapi.json").await.0, 200);
    assert_eq!(s.api.sar_count(), 2 * rows.len() as u64);
    // An unmapped method on a served path is refused without a callout.
    let (status, got) = ca
        .send("PUT", "/api/v1/zones/example.com", Some(&json!({})))
        .await;
    assert_eq!(status, 403, "{got}");
    assert_eq!(s.api.sar_count(), 2 * rows.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_subject_access_review_api_fails_closed_and_is_not_cached() {
    let s = authz_stack(
        &[
            ("BIND_AUTHZ_MODE", "subjectaccessreview"),
            ("BIND_TOKEN_REVIEW_TIMEOUT_SECS", "1"),
        ],
        None,
    )
    .await;
    s.api
        .set_rbac(vec![RbacRule::for_users(&[TEAM_A], &["*"], &["*"])]);
    let a = s
        .api
        .mint(&MintRequest::new("team-a", "external-dns", &["bindcar"]));
    let ca = s.stack.client.with_token(Some(&a));
    for (fault, path) in [
        Fault::Status500,
        Fault::Reset,
        Fault::Hang,
        Fault::MalformedBody,
    ]
    .into_iter()
    .zip([
        "/api/v1/zones",
        "/api/v1/openapi.json",
        "/api/v1/server/status",
        "/api/v1/zones/none.test",
    ]) {
        s.api.set_sar_fault(fault);
        let (status, got) = ca.get(path).await;
        assert_eq!(
            (status, got),
            (
                503,
                json!({"error": "Unauthorized", "message": "Authorization check failed: SubjectAccessReview API call failed"})
            ),
            "{fault:?}"
        );
        s.api.set_sar_fault(Fault::None);
        // Not cached: asked again once the API is back, and let through to the handler.
        let (status, got) = ca.get(path).await;
        assert!(
            [200, 404].contains(&status),
            "after {fault:?}: {status} {got}"
        );
    }
    assert_eq!(s.api.sar_count(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_rules_from_a_yaml_file_decide_without_any_callout() {
    let rules = "- groups: [\"system:serviceaccounts:team-a\"]\n  verbs: [create, get, list]\n  resources: [zones]\n- users: [\"system:serviceaccount:team-a:external-dns\"]\n  verbs: [delete]\n  resources: [zones]\n  zones: [\"*.team-a.test\"]\n";
    let s = authz_stack(
        &[("BIND_AUTHZ_MODE", "static")],
        Some(("rules.yaml", rules)),
    )
    .await;
    let a = s
        .api
        .mint(&MintRequest::new("team-a", "external-dns", &["bindcar"]));
    let b = s
        .api
        .mint(&MintRequest::new("team-b", "external-dns", &["bindcar"]));
    let (ca, cb) = (
        s.stack.client.with_token(Some(&a)),
        s.stack.client.with_token(Some(&b)),
    );
    assert_eq!(ca.create(&primary_zone("x.team-a.test")).await.0, 201);
    assert_eq!(ca.create(&primary_zone("team-a.test")).await.0, 201);
    assert_eq!(ca.zones().await, ["team-a.test", "x.team-a.test"]);
    assert_eq!(
        cb.get("/api/v1/zones").await,
        (403, forbidden(&format!("{TEAM_B} may not list zones")))
    );
    assert_eq!(
        ca.delete("/api/v1/zones/team-a.test").await,
        (
            403,
            forbidden(&format!("{TEAM_A} may not delete zones team-a.test"))
        )
    );
    assert_eq!(ca.delete("/api/v1/zones/X.Team-A.test.").await.0, 200);
    assert_eq!(s.api.sar_count(), 0);
}

#[test]
fn authorization_without_an_identity_or_with_bad_rules_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let base = vec![
        (
            "BIND_ZONE_DIR".to_string(),
            dir.path().display().to_string(),
        ),
        ("RNDC_SERVER".into(), "127.0.0.1:1".into()),
        (
            "RNDC_SECRET".into(),
            "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0".into(),
        ),
        ("BIND_API_ADDRESS".into(), "127.0.0.1".into()),
    ];
    let refused = |extra: &[(&str, String)]| {
        let mut env = base.clone();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let out = Backend::run_to_exit(env, &[], Duration::from_secs(10)).unwrap();
        assert!(matches!(out.status.code(), Some(1) | Some(2)), "{out:?}");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let e = refused(&[("BIND_AUTHZ_MODE", "subjectaccessreview".into())]);
    assert!(e.contains("BIND_AUTHZ_MODE needs an identity"), "{e}");
    let rules = dir.path().join("rules.json");
    std::fs::write(
        &rules,
        r#"[{"users": ["u"], "verbs": ["fetch"], "resources": ["zones"]}]"#,
    )
    .unwrap();
    let e = refused(&[
        ("BIND_AUTH_MODE", "tokenreview".into()),
        ("BIND_ALLOW_ANY_SERVICEACCOUNT", "true".into()),
        ("BIND_AUTHZ_MODE", "static".into()),
        ("BIND_AUTHZ_RULES_FILE", rules.display().to_string()),
    ]);
    assert!(e.contains("rules.json[0].verbs: \"fetch\""), "{e}");
    let e = refused(&[
        ("BIND_AUTH_MODE", "tokenreview".into()),
        ("BIND_ALLOW_ANY_SERVICEACCOUNT", "true".into()),
        ("BIND_AUTHZ_MODE", "static".into()),
    ]);
    assert!(e.contains("needs BIND_AUTHZ_RULES_FILE"), "{e}");
}
