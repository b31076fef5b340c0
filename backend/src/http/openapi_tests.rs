//! The OpenAPI document against the real router: the same routes both ways (the route table
//! the router is built from, and every documented operation answered by the real router,
//! in-process over the fake named), the error statuses every layer can add, and Swagger UI
//! (off by default; open when enabled, and nothing else opens with it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use utoipa::OpenApi;

use super::openapi::{ApiDoc, OPEN_PATHS};
use super::router::{routes, Access};
use super::{router_with_docs, AppState};
use crate::config::AuthSettings;
use crate::zones::fake::Harness;

const TOKEN: &str = "s3cret";
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// The real router with shared-secret authentication, over a fresh fake named.
fn app(docs: bool) -> (Router, Harness) {
    let h = Harness::new();
    let auth = AuthSettings::SharedSecret(TOKEN.as_bytes().to_vec());
    let state = AppState::fake(&h).with_auth(&auth);
    (router_with_docs(Arc::new(state), docs), h)
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: bool,
) -> (StatusCode, String, String) {
    let mut request = Request::builder().method(method.clone()).uri(uri);
    if token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    if [Method::POST, Method::PUT, Method::PATCH].contains(&method) {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from("{}")).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        content_type,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

fn document() -> Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap()
}

/// Every (METHOD, path) the document names.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// A concrete URI for a route template: `{name}` → a zone, other parameters → plausible values.
fn concrete(path: &str) -> String {
    path.replace("{name}", "ok.test")
        .replace("{owner}", "www.ok.test")
        .replace("{type}", "A")
}

#[test]
fn the_document_and_the_route_table_list_the_same_routes() {
    let doc = document();
    let table: BTreeSet<(String, String)> = routes()
        .iter()
        .map(|r| (r.verb.method().to_string(), r.path.to_string()))
        .collect();
    assert_eq!(routes().len(), table.len(), "a route is declared twice");
    let in_doc = documented(&doc);
    let undocumented: Vec<_> = table.difference(&in_doc).collect();
    let unrouted: Vec<_> = in_doc.difference(&table).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the OpenAPI document: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented routes the router lacks: {unrouted:?}"
    );

    // Open routes carry no security requirement, API routes the Bearer one, as the router does.
    let open: BTreeSet<&str> = routes()
        .iter()
        .filter(|r| r.access == Access::Open)
        .map(|r| r.path)
        .collect();
    assert_eq!(open, OPEN_PATHS.iter().copied().collect());
    for route in routes() {
        let operation = &doc["paths"][route.path][route.verb.method().as_str().to_lowercase()];
        let expected = match route.access {
            Access::Open => serde_json::json!([]),
            Access::Api => serde_json::json!([{"bearer": []}]),
        };
        assert_eq!(
            operation["security"], expected,
            "{:?} {}",
            route.verb, route.path
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        serde_json::json!({"type": "http", "scheme": "bearer"})
    );
}

#[tokio::test]
async fn every_documented_route_is_answered_by_the_real_router() {
    let (app, h) = app(false);
    h.bind_has("ok.test");
    let doc = document();
    for (method, path) in documented(&doc) {
        let uri = concrete(&path);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let (status, _, body) = send(&app, method.clone(), &uri, true).await;
        // The router's own 404/405 have an empty body; a handler's 404 (zone not found) is JSON.
        assert!(
            !(matches!(
                status,
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            ) && body.is_empty()),
            "{method} {uri} (documented as {path}) is not routed: {status}"
        );
        assert_ne!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {uri}: the token was refused: {body}"
        );
    }
    // And the metrics middleware saw every one of them on a matched route.
    let (_, _, metrics) = send(&app, Method::GET, "/metrics", false).await;
    assert!(!metrics.contains("<unmatched>"), "{metrics}");
    for (method, path) in documented(&doc) {
        let line = format!("method=\"{method}\",path=\"{path}\"");
        assert!(metrics.contains(&line), "no request counted for {line}");
    }
}

#[tokio::test]
async fn undocumented_routes_are_404_or_405() {
    let (app, _h) = app(false);
    for (method, uri, expected) in [
        (Method::GET, "/api/v1/zone", StatusCode::NOT_FOUND),
        (Method::GET, "/api/v2/zones", StatusCode::NOT_FOUND),
        (
            Method::GET,
            "/api/v1/zones/ok.test/bogus",
            StatusCode::NOT_FOUND,
        ),
        (Method::GET, "/api/v1/docs", StatusCode::NOT_FOUND),
        (Method::GET, "/api/v1/docs/", StatusCode::NOT_FOUND),
        (
            Method::GET,
            "/api/v1/docs/openapi.json",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::DELETE,
            "/api/v1/zones",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::GET,
            "/api/v1/zones/ok.test/reload",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::POST,
            "/api/v1/health",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::POST,
            "/api/v1/openapi.json",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ] {
        let (status, _, body) = send(&app, method.clone(), uri, true).await;
        assert_eq!((status, body.as_str()), (expected, ""), "{method} {uri}");
        assert!(
            !documented(&document()).contains(&(method.to_string(), uri.to_string())),
            "{method} {uri} is documented"
        );
    }
}

/// The statuses the layers around the handlers add, and those that follow from a route's
/// shape: a `{name}` segment (400 invalid name, 404 unknown zone), a JSON body (400, 415).
#[test]
fn every_error_status_a_route_can_answer_is_documented() {
    let doc = document();
    for (method, path) in documented(&doc) {
        let operation = &doc["paths"][&path][method.to_lowercase()];
        let responses = operation["responses"].as_object().unwrap();
        let has = |status: &str| responses.contains_key(status);
        let what = format!("{method} {path}");
        assert!(
            operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{what} has no summary"
        );
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{what}: no success status"
        );
        if OPEN_PATHS.contains(&path.as_str()) {
            assert!(!has("401") && !has("429"), "{what} is open");
            continue;
        }
        for status in ["401", "429", "500", "503"] {
            assert!(has(status), "{what} does not document {status}");
        }
        assert_eq!(
            responses["401"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/AuthErrorResponse",
            "{what}"
        );
        if path != "/api/v1/openapi.json" {
            for status in ["502", "504"] {
                assert!(
                    has(status),
                    "{what} talks to named but does not document {status}"
                );
            }
        }
        if path.contains("{name}") {
            for status in ["400", "404"] {
                assert!(
                    has(status),
                    "{what} takes a zone name but does not document {status}"
                );
            }
        }
        if operation.get("requestBody").is_some() {
            for status in ["400", "408", "413", "415"] {
                assert!(
                    has(status),
                    "{what} takes a JSON body but does not document {status}"
                );
            }
        }
    }
    // Route-specific conflicts, from the ZoneError → ApiError mapping.
    for (method, path, status) in [
        ("post", "/api/v1/zones", "409"),
        ("post", "/api/v1/zones", "422"),
        ("delete", "/api/v1/zones/{name}", "409"),
        ("patch", "/api/v1/zones/{name}", "409"),
        ("patch", "/api/v1/zones/{name}", "422"),
        ("post", "/api/v1/zones/{name}/reload", "409"),
        ("post", "/api/v1/zones/{name}/freeze", "409"),
        ("post", "/api/v1/zones/{name}/retransfer", "409"),
    ] {
        assert!(
            doc["paths"][path][method]["responses"]
                .get(status)
                .is_some(),
            "{method} {path} does not document {status}"
        );
    }
}

#[tokio::test]
async fn the_served_document_is_the_generated_one() {
    let (app, _h) = app(false);
    let (status, content_type, body) = send(&app, Method::GET, "/api/v1/openapi.json", true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), document());
}

#[tokio::test]
async fn docs_when_enabled_are_open_and_open_nothing_else() {
    let (app, _h) = app(true);
    // The page, its assets and its copy of the document need no token.
    let (status, _, _) = send(&app, Method::GET, "/api/v1/docs", false).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let redirect = app
        .clone()
        .oneshot(Request::get("/api/v1/docs").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(redirect.headers()[header::LOCATION], "/api/v1/docs/");
    let (status, content_type, page) = send(&app, Method::GET, "/api/v1/docs/", false).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "text/html")
    );
    assert!(page.contains("swagger-ui"), "{page}");
    let (status, _, init) = send(
        &app,
        Method::GET,
        "/api/v1/docs/swagger-initializer.js",
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(init.contains("\"/api/v1/docs/openapi.json\""), "{init}");
    let (status, _, js) = send(
        &app,
        Method::GET,
        "/api/v1/docs/swagger-ui-bundle.js",
        false,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        js.len() > 100_000,
        "the vendored bundle is {} bytes",
        js.len()
    );
    let (status, _, spec) = send(&app, Method::GET, "/api/v1/docs/openapi.json", false).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&spec).unwrap(), document());

    // Nothing else opens: the API, its document, and paths that climb out of the docs prefix.
    for (method, uri, expected) in [
        (
            Method::GET,
            "/api/v1/openapi.json",
            StatusCode::UNAUTHORIZED,
        ),
        (Method::GET, "/api/v1/zones", StatusCode::UNAUTHORIZED),
        (Method::POST, "/api/v1/zones", StatusCode::UNAUTHORIZED),
        (Method::GET, "/api/v1/docs/../zones", StatusCode::NOT_FOUND),
        (
            Method::GET,
            "/api/v1/docs/%2e%2e/zones",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/api/v1/docs/nothing-here.js",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/api/v1/docs/",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (Method::GET, "/api/v1/docsx", StatusCode::NOT_FOUND),
    ] {
        let (status, _, body) = send(&app, method.clone(), uri, false).await;
        assert_eq!(status, expected, "{method} {uri}: {body}");
    }
}
