//! The whole stack: client → Envoy with the filter → bindcar backend → real named.
//! Written as Given / When / Then, one behaviour each.

use bindcar_testbed::backend::Backend;
use bindcar_testbed::envoy::{prometheus_value, Envoy, EnvoyOptions};
use bindcar_testbed::http::{get, request, Response};
use bindcar_testbed::named::{Named, NamedOptions};
use bindcar_testbed::tokenreview::{MintRequest, ServerOptions, TokenReviewServer};
use serde_json::json;

struct Stack {
    named: Named,
    backend: Backend,
    envoy: Envoy,
    _api: Option<TokenReviewServer>,
    _dir: tempfile::TempDir,
}

/// The backend trusts the mesh (auth disabled, loopback), the filter authenticates.
fn stack(plugin_config: &str, api: Option<TokenReviewServer>) -> Stack {
    let named = Named::start(NamedOptions::default());
    let mut env = named.backend_env();
    env.push(("BIND_API_ADDRESS".into(), "127.0.0.1".into()));
    env.push(("DISABLE_AUTH".into(), "true".into()));
    let backend = Backend::start(env);
    let dir = tempfile::tempdir().unwrap();
    let mut options = EnvoyOptions::filter(plugin_config, backend.port());
    if let Some(api) = &api {
        let ca = dir.path().join("ca.pem");
        api.write_ca(&ca).unwrap();
        options = options.with_api_server(api.https_port(), &ca);
    }
    let envoy = Envoy::start(&options).unwrap();
    Stack {
        named,
        backend,
        envoy,
        _api: api,
        _dir: dir,
    }
}

fn zone(name: &str) -> Vec<u8> {
    json!({"zoneName": name, "zoneType": "primary", "zoneConfig": {"ttl": 300,
        "soa": {"primaryNs": format!("ns1.{name}."), "adminEmail": format!("admin.{name}.")},
        "nameServers": [format!("ns1.{name}.")], "nameServerIps": {format!("ns1.{name}."): "127.0.0.1"},
        "records": [{"name": "www", "type": "A", "value": "192.0.2.10", "ttl": 300}]}})
    .to_string()
    .into_bytes()
}

fn call(s: &Stack, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Response {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &[u8])> = vec![("content-type", b"application/json")];
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_bytes()));
    }
    request(s.envoy.port, method, path.as_bytes(), &headers, body).unwrap()
}

/// Requests the backend has counted for a route template and method (its own /metrics).
fn backend_saw(s: &Stack, method: &str, route: &str) -> u64 {
    let metrics = reqwest::blocking::get(s.backend.url("/metrics"))
        .unwrap()
        .text()
        .unwrap();
    metrics
        .lines()
        .filter(|l| {
            l.starts_with("bindcar_http_requests_total{")
                && l.contains(&format!("method=\"{method}\""))
                && l.contains(&format!("path=\"{route}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[test]
fn without_a_token_a_create_is_refused_by_the_filter_and_never_reaches_the_backend() {
    // Given the stack in basic mode
    let s = stack(r#"{"mode":"basic"}"#, None);
    // When a client posts a zone without a token
    let r = call(&s, "POST", "/api/v1/zones", None, &zone("nope.test"));
    // Then the filter answers the seed's 401, and the backend never saw the request
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json(),
        json!({"error": "Unauthorized", "message": "Missing Authorization header"})
    );
    assert_eq!(backend_saw(&s, "POST", "/api/v1/zones"), 0);
    assert!(s.named.dig("nope.test", "SOA").is_empty());
}

#[test]
fn health_ready_and_metrics_answer_through_envoy_without_a_token() {
    let s = stack(r#"{"mode":"basic"}"#, None);
    let health = get(s.envoy.port, "/api/v1/health", &[]).unwrap();
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "healthy");
    let ready = get(s.envoy.port, "/api/v1/ready", &[]).unwrap();
    assert_eq!(ready.status, 200, "{}", ready.text());
    let metrics = get(s.envoy.port, "/metrics", &[]).unwrap();
    assert_eq!(metrics.status, 200);
    assert!(metrics.text().contains("bindcar_http_requests_total"));
    // And an API route still needs one.
    assert_eq!(
        get(s.envoy.port, "/api/v1/server/status", &[])
            .unwrap()
            .status,
        401
    );
}

#[test]
fn with_a_token_a_zone_is_created_served_listed_reloaded_and_deleted_through_envoy() {
    let s = stack(r#"{"mode":"basic"}"#, None);
    let token = Some("any-bearer-token");
    let r = call(&s, "POST", "/api/v1/zones", token, &zone("stack.test"));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        s.named.dig("www.stack.test", "A"),
        vec!["192.0.2.10".to_string()]
    );
    assert!(!s.named.dig("stack.test", "SOA").is_empty());
    let list = call(&s, "GET", "/api/v1/zones", token, b"");
    assert_eq!(list.status, 200);
    assert!(list.json()["zones"]
        .as_array()
        .unwrap()
        .iter()
        .any(|z| z == "stack.test"));
    let reload = call(&s, "POST", "/api/v1/zones/stack.test/reload", token, b"");
    assert_eq!(reload.status, 200, "{}", reload.text());
    let delete = call(&s, "DELETE", "/api/v1/zones/stack.test", token, b"");
    assert_eq!(delete.status, 200, "{}", delete.text());
    assert!(s.named.dig("www.stack.test", "A").is_empty());
    assert_eq!(
        call(&s, "GET", "/api/v1/zones/stack.test", token, b"").status,
        404
    );
}

#[test]
fn in_tokenreview_mode_only_allowed_service_accounts_change_dns_and_the_backend_logs_who() {
    // Given the stack in TokenReview mode, namespace dns-system allowed
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt
        .block_on(TokenReviewServer::start(ServerOptions::default()))
        .unwrap();
    let config = json!({"mode": "tokenReview", "tokenReview": {"audiences": ["bindcar"],
        "allowedNamespaces": ["dns-system"], "reviewerToken": api.reviewer_token()}})
    .to_string();
    let allowed = api.mint(&MintRequest::new(
        "dns-system",
        "external-dns",
        &["bindcar"],
    ));
    let other = api.mint(&MintRequest::new("default", "app", &["bindcar"]));
    let s = stack(&config, Some(api));

    // When a ServiceAccount from another namespace tries to create a zone
    let r = call(
        &s,
        "POST",
        "/api/v1/zones",
        Some(&other),
        &zone("denied.test"),
    );
    // Then it is refused and nothing is served
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json()["message"],
        "Token validation failed: ServiceAccount from unauthorized namespace: default"
    );
    assert!(s.named.dig("denied.test", "SOA").is_empty());
    assert_eq!(backend_saw(&s, "POST", "/api/v1/zones"), 0);

    // When the allowed ServiceAccount creates, lists, reloads and deletes a zone
    let r = call(
        &s,
        "POST",
        "/api/v1/zones",
        Some(&allowed),
        &zone("review.test"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        s.named.dig("www.review.test", "A"),
        vec!["192.0.2.10".to_string()]
    );
    assert_eq!(
        backend_saw(&s, "POST", "/api/v1/zones"),
        1,
        "only the allowed create reached the backend"
    );
    let list = call(&s, "GET", "/api/v1/zones", Some(&allowed), b"");
    assert!(list.json()["zones"]
        .as_array()
        .unwrap()
        .iter()
        .any(|z| z == "review.test"));
    assert_eq!(
        call(
            &s,
            "POST",
            "/api/v1/zones/review.test/reload",
            Some(&allowed),
            b""
        )
        .status,
        200
    );
    assert_eq!(
        call(
            &s,
            "DELETE",
            "/api/v1/zones/review.test",
            Some(&allowed),
            b""
        )
        .status,
        200
    );
    assert!(s.named.dig("www.review.test", "A").is_empty());

    // Then the backend logged who did it, as the filter reported it
    let logs = s.backend.logs();
    let created = logs
        .lines()
        .find(|l| l.contains("zone created") && l.contains("review.test"))
        .expect("creation logged");
    assert!(
        created.contains("system:serviceaccount:dns-system:external-dns"),
        "{created}"
    );
    assert!(!logs.contains(&allowed), "the token itself was logged");
    assert_eq!(
        prometheus_value(
            &s.envoy.prometheus().unwrap(),
            "bindcar_auth_denied_unauthorized_namespace"
        ),
        Some(1)
    );
}
