//! Over 400 lines: one file, so every route's case sits next to the shared app builder and helpers.
//! The real router, driven in-process (`oneshot`) against the fake named: every route's
//! statuses and bodies, authentication on and off, unknown paths and methods.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::{router, AppState};
use crate::config::AuthSettings;
use crate::zones::fake::{ok, refused, timeout, unavailable, zonestatus, Harness};

/// The router over a fresh fake named; `auth`: the configured mode.
fn app(auth: AuthSettings) -> (Router, Harness) {
    let h = Harness::new();
    let state = AppState::fake(&h).with_auth(&auth);
    (router(Arc::new(state)), h)
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn get(app: &Router, uri: &str) -> Reply {
    send(app, Method::GET, uri, None, None).await
}

async fn post(app: &Router, uri: &str) -> Reply {
    send(app, Method::POST, uri, None, None).await
}

fn create_body(name: &str) -> Value {
    json!({
        "zoneName": name, "zoneType": "primary",
        "zoneConfig": {
            "ttl": 300,
            "soa": {"primaryNs": "ns1.example.test.", "adminEmail": "hostmaster.example.test."},
            "nameServers": ["ns1.example.test."]
        }
    })
}

#[tokio::test]
async fn open_routes() {
    let (app, h) = app(AuthSettings::Basic);
    let health = get(&app, "/api/v1/health").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(
        health.json(),
        json!({"status": "healthy", "version": env!("CARGO_PKG_VERSION")})
    );
    let ready = get(&app, "/api/v1/ready").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(
        ready.body,
        r#"{"ready":true,"checks":["zone_dir: ok","rndc: ok"]}"#
    );
    h.named.answer("status", unavailable());
    let ready = get(&app, "/api/v1/ready").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.body,
        r#"{"ready":false,"checks":["zone_dir: ok","rndc: error"]}"#
    );
    let metrics = get(&app, "/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert_eq!(
        metrics.headers[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(
        metrics.body.contains(
            "bindcar_http_requests_total{method=\"GET\",path=\"/api/v1/ready\",status=\"503\"} 1"
        ),
        "{}",
        metrics.body
    );
}

#[tokio::test]
async fn api_routes_need_a_bearer_token_when_auth_is_on() {
    let (app, _h) = app(AuthSettings::Basic);
    // Every API route of the table, so a route added later is covered the day it is added.
    let api: Vec<(Method, String)> = super::router::routes()
        .into_iter()
        .filter(|r| r.access == super::router::Access::Api)
        .map(|r| {
            let uri = r
                .path
                .replace("{name}", "ok.test")
                .replace("{owner}", "www")
                .replace("{type}", "A");
            (r.verb.method(), uri)
        })
        .collect();
    for records in [
        (Method::GET, "/api/v1/zones/ok.test/records"),
        (Method::POST, "/api/v1/zones/ok.test/records"),
        (Method::PUT, "/api/v1/zones/ok.test/records"),
        (Method::DELETE, "/api/v1/zones/ok.test/records"),
        (Method::PUT, "/api/v1/zones/ok.test/rrsets/www/A"),
    ] {
        assert!(
            api.iter()
                .any(|(m, u)| (m, u.as_str()) == (&records.0, records.1)),
            "{records:?} is not an API route"
        );
    }
    assert!(api.len() >= 18, "{api:?}");
    for (method, uri) in &api {
        let reply = send(&app, method.clone(), uri, None, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        assert_eq!(
            reply.body, r#"{"error":"Unauthorized","message":"Missing Authorization header"}"#,
            "{method} {uri}"
        );
        assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer");
    }
    let reply = send(
        &app,
        Method::GET,
        "/api/v1/server/status",
        Some("any"),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let request = Request::get("/api/v1/zones")
        .header(header::AUTHORIZATION, "Basic abc")
        .body(Body::empty())
        .unwrap();
    let reply = app.clone().oneshot(request).await.unwrap();
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_shared_secret_is_compared() {
    let (app, _h) = app(AuthSettings::SharedSecret(b"s3cret".to_vec()));
    let wrong = send(
        &app,
        Method::GET,
        "/api/v1/server/status",
        Some("nope"),
        None,
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.body,
        r#"{"error":"Unauthorized","message":"Invalid API token"}"#
    );
    let right = send(
        &app,
        Method::GET,
        "/api/v1/server/status",
        Some("s3cret"),
        None,
    )
    .await;
    assert_eq!(right.status, StatusCode::OK);
}

#[tokio::test]
/// Unknown paths are 404 without an auth check; a wrong method on an API path is checked
/// for a credential first (401), then 405.
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let (app, _h) = app(AuthSettings::Basic);
    for uri in [
        "/",
        "/api/v1",
        "/api/v1/zonez",
        "/api/v1/zones/a/b/c",
        "/api/v1/health/x",
    ] {
        assert_eq!(get(&app, uri).await.status, StatusCode::NOT_FOUND, "{uri}");
    }
    let reply = send(&app, Method::PUT, "/api/v1/zones", None, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = send(&app, Method::PUT, "/api/v1/zones", Some("t"), None).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    let reply = send(&app, Method::DELETE, "/api/v1/health", None, None).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    let reply = send(
        &app,
        Method::GET,
        "/api/v1/zones/ok.test/reload",
        Some("t"),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn zone_lifecycle_with_auth_disabled() {
    let (app, h) = app(AuthSettings::disabled());
    h.named.answer("addzone", ok(""));
    let created = send(
        &app,
        Method::POST,
        "/api/v1/zones",
        None,
        Some(create_body("Ok.TEST.")),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(
        created.body,
        r#"{"success":true,"message":"Zone ok.test created successfully","details":""}"#
    );
    assert!(h.zone_file("ok.test").exists());
    h.bind_has("ok.test");
    let again = send(
        &app,
        Method::POST,
        "/api/v1/zones",
        None,
        Some(create_body("ok.test")),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(
        again.json(),
        json!({"error": "Zone already exists: ok.test", "details": null})
    );

    let list = get(&app, "/api/v1/zones").await;
    assert_eq!(
        (list.status, list.body.as_str()),
        (StatusCode::OK, r#"{"zones":["ok.test"],"count":1}"#)
    );

    h.named.answer("zonestatus", zonestatus(2026112201, true));
    let info = get(&app, "/api/v1/zones/ok.test.").await;
    assert_eq!(info.status, StatusCode::OK);
    let file = h.zone_file("ok.test").display().to_string();
    assert_eq!(
        info.json(),
        json!({"name": "ok.test", "zoneType": "primary", "serial": 2026112201, "filePath": file})
    );

    let status = get(&app, "/api/v1/zones/ok.test/status").await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.json()["message"], "Zone ok.test status retrieved");

    h.named.answer("modzone", ok(""));
    let patched = send(
        &app,
        Method::PATCH,
        "/api/v1/zones/ok.test",
        None,
        Some(json!({"alsoNotify": ["10.0.0.3:5353"]})),
    )
    .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(
        patched.json()["message"],
        "Zone ok.test modified successfully"
    );

    for (action, done) in [
        ("reload", "reloaded"),
        ("freeze", "frozen"),
        ("thaw", "thawed"),
        ("notify", "notify queued"),
        ("retransfer", "retransfer queued"),
    ] {
        h.named.answer_once(action, ok(""));
        let reply = post(&app, &format!("/api/v1/zones/ok.test/{action}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{action}");
        assert_eq!(
            reply.body,
            format!(r#"{{"success":true,"message":"Zone ok.test {done}","details":""}}"#)
        );
    }

    h.named.answer("delzone", ok(""));
    let deleted = send(&app, Method::DELETE, "/api/v1/zones/ok.test", None, None).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(
        deleted.json()["message"],
        "Zone ok.test deleted successfully"
    );
    assert!(!h.zone_file("ok.test").exists());
    assert!(h.named.sent().contains(&"delzone ok.test".to_string()));
}

#[tokio::test]
async fn zone_errors_map_to_one_status_and_body_each() {
    let (app, h) = app(AuthSettings::disabled());
    let missing = get(&app, "/api/v1/zones/none.test").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(
        missing.body,
        r#"{"error":"Zone not found: none.test","details":null}"#
    );
    for uri in [
        "/api/v1/zones/none.test/status",
        "/api/v1/zones/none.test/reload",
    ] {
        let reply = if uri.ends_with("status") {
            get(&app, uri).await
        } else {
            post(&app, uri).await
        };
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
    }
    let bad = get(&app, "/api/v1/zones/a..b").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.json()["error"],
        "Invalid request: Zone name must not contain empty labels ('..', or a leading '.')"
    );
    let no_type = send(&app, Method::POST, "/api/v1/zones", None, None).await;
    assert_eq!(no_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let empty = send(
        &app,
        Method::PATCH,
        "/api/v1/zones/ok.test",
        None,
        Some(json!({})),
    )
    .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(h.named.sent().iter().all(|c| !c.starts_with("modzone")));

    h.named.answer("reload", refused("dynamic zone", ""));
    let dynamic = post(&app, "/api/v1/zones/ok.test/reload").await;
    assert_eq!(dynamic.status, StatusCode::CONFLICT);
    assert_eq!(
        dynamic.json(),
        json!({"error": "Zone ok.test accepts dynamic updates, so BIND will not reload it while it is live: freeze it (POST /api/v1/zones/ok.test/freeze), then thaw it (POST /api/v1/zones/ok.test/thaw), which reloads it from its file", "details": "dynamic zone"})
    );
    h.named.answer("freeze", refused("not dynamic", ""));
    let not_dynamic = post(&app, "/api/v1/zones/ok.test/freeze").await;
    assert_eq!(not_dynamic.status, StatusCode::CONFLICT);
    assert!(not_dynamic.json()["error"]
        .as_str()
        .unwrap()
        .contains("use POST /api/v1/zones/ok.test/reload"));
    h.named
        .answer("retransfer", refused("failure", "inappropriate zone type"));
    let primary = post(&app, "/api/v1/zones/ok.test/retransfer").await;
    assert_eq!(primary.status, StatusCode::CONFLICT);

    h.named.answer(
        "addzone",
        refused("bad zone", "ok.test/IN: has no NS records"),
    );
    let rejected = send(
        &app,
        Method::POST,
        "/api/v1/zones",
        None,
        Some(create_body("ok.test")),
    )
    .await;
    assert_eq!(rejected.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        rejected.json(),
        json!({"error": "BIND rejected zone ok.test: bad zone", "details": "bad zone: ok.test/IN: has no NS records"})
    );
    h.named.answer("notify", refused("permission denied", ""));
    let refused_reply = post(&app, "/api/v1/zones/ok.test/notify").await;
    assert_eq!(refused_reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        refused_reply.json()["error"],
        "BIND refused 'notify': permission denied"
    );

    h.named.answer("showzone", unavailable());
    let down = get(&app, "/api/v1/zones/ok.test").await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        down.json()["error"],
        "BIND is unavailable: cannot reach named's control channel: connection refused (is named running?). Nothing was changed; retry when named is back"
    );
    h.named.answer("status", timeout());
    let slow = get(&app, "/api/v1/server/status").await;
    assert_eq!(slow.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        slow.body,
        r#"{"error":"BIND did not answer within 10 seconds","details":null}"#
    );
}

#[tokio::test]
async fn not_managed_zones_are_409() {
    let (app, h) = app(AuthSettings::disabled());
    h.named.answer(
        "showzone conf.test",
        crate::zones::fake::shown("conf.test", "primary", "/etc/bind/db.conf"),
    );
    let reply = send(&app, Method::DELETE, "/api/v1/zones/conf.test", None, None).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(
        reply.json()["error"],
        "Zone conf.test is not managed by this API (it was not created through it); refusing to delete it"
    );
}

#[tokio::test]
async fn server_status_and_openapi() {
    let (app, _h) = app(AuthSettings::Basic);
    let status = send(&app, Method::GET, "/api/v1/server/status", Some("t"), None).await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(
        status.json(),
        json!({"status": "version: fake named\nserver is up and running"})
    );
    let doc = send(&app, Method::GET, "/api/v1/openapi.json", Some("t"), None).await;
    assert_eq!(doc.status, StatusCode::OK);
    let doc = doc.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/zones",
        "/api/v1/zones/{name}",
        "/api/v1/zones/{name}/retransfer",
        "/api/v1/server/status",
        "/metrics",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
}
