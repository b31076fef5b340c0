//! The router's abuse limits, in-process: the per-client rate limit (burst, 429 body and
//! `retry-after`, the metric, exempt routes, keyed by peer, before authentication) and the
//! bounded label sets of the HTTP metrics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::{router, AppState};
use crate::config::{AuthSettings, RateLimitSettings};
use crate::rate_limit::RateLimit;
use crate::zones::fake::Harness;

/// `requests` per hour (so nothing refills during a test), `burst` at once.
fn app(auth: AuthSettings, limit: Option<(u32, u32)>) -> (Router, Harness) {
    let h = Harness::new();
    let rate_limit = limit.map(|(requests, burst)| {
        RateLimit::new(&RateLimitSettings {
            requests: NonZeroU32::new(requests).unwrap(),
            period: Duration::from_secs(3600),
            burst: NonZeroU32::new(burst).unwrap(),
        })
    });
    let state = AppState {
        rate_limit,
        ..AppState::fake(&h).with_auth(&auth)
    };
    (router(Arc::new(state)), h)
}

struct Reply {
    status: StatusCode,
    retry_after: Option<String>,
    body: String,
}

async fn send(app: &Router, method: Method, uri: &str, peer: &str, token: Option<&str>) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let mut request = request.body(Body::empty()).unwrap();
    let peer: SocketAddr = peer.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        retry_after,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn metrics(app: &Router) -> String {
    send(app, Method::GET, "/metrics", "127.0.0.1:1", None)
        .await
        .body
}

fn metric_line<'a>(text: &'a str, series: &str) -> Option<&'a str> {
    text.lines().find(|l| l.starts_with(series))
}

const CLIENT: &str = "192.0.2.7:50000";

#[tokio::test]
async fn the_burst_passes_then_429_with_retry_after_and_the_metric() {
    let (app, _h) = app(AuthSettings::disabled(), Some((1, 3)));
    for _ in 0..3 {
        let reply = send(&app, Method::GET, "/api/v1/zones", CLIENT, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let limited = send(&app, Method::GET, "/api/v1/zones", CLIENT, None).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.retry_after.as_deref(), Some("3600"));
    assert_eq!(
        serde_json::from_str::<Value>(&limited.body).unwrap(),
        json!({"error": "Too Many Requests", "message": "Rate limit exceeded; retry after 3600 s"})
    );
    // Every API route shares the client's budget, whatever the method.
    let other_route = send(
        &app,
        Method::POST,
        "/api/v1/zones/a.test/reload",
        CLIENT,
        None,
    )
    .await;
    assert_eq!(other_route.status, StatusCode::TOO_MANY_REQUESTS);

    let text = metrics(&app).await;
    assert_eq!(
        metric_line(
            &text,
            "bindcar_rate_limit_requests_total{result=\"allowed\"}"
        ),
        Some("bindcar_rate_limit_requests_total{result=\"allowed\"} 3")
    );
    assert_eq!(
        metric_line(
            &text,
            "bindcar_rate_limit_requests_total{result=\"limited\"}"
        ),
        Some("bindcar_rate_limit_requests_total{result=\"limited\"} 2")
    );
    assert_eq!(
        metric_line(&text, "bindcar_rate_limit_tracked_clients"),
        Some("bindcar_rate_limit_tracked_clients 1")
    );
    assert!(text.contains(
        "bindcar_http_requests_total{method=\"GET\",path=\"/api/v1/zones\",status=\"429\"} 1"
    ));
}

#[tokio::test]
async fn open_routes_unknown_paths_and_other_clients_are_not_limited() {
    let (app, _h) = app(AuthSettings::disabled(), Some((1, 1)));
    assert_eq!(
        send(&app, Method::GET, "/api/v1/zones", CLIENT, None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, Method::GET, "/api/v1/zones", CLIENT, None)
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    for _ in 0..20 {
        for path in ["/api/v1/health", "/api/v1/ready", "/metrics"] {
            let reply = send(&app, Method::GET, path, CLIENT, None).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}");
        }
        let unknown = send(&app, Method::GET, "/api/v1/nothing", CLIENT, None).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    }
    let other = send(&app, Method::GET, "/api/v1/zones", "198.51.100.1:1", None).await;
    assert_eq!(
        other.status,
        StatusCode::OK,
        "another address has its own budget"
    );
}

#[tokio::test]
async fn a_token_guessing_flood_is_limited_before_authentication() {
    let (app, _h) = app(AuthSettings::SharedSecret(b"s3cret".to_vec()), Some((1, 5)));
    let mut statuses = Vec::new();
    for i in 0..8 {
        let guess = format!("guess{i}");
        statuses.push(
            send(&app, Method::GET, "/api/v1/zones", CLIENT, Some(&guess))
                .await
                .status,
        );
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(statuses[5..], [StatusCode::TOO_MANY_REQUESTS; 3]);
    // Even the right secret waits: the limit is per client, not per failure.
    let right = send(&app, Method::GET, "/api/v1/zones", CLIENT, Some("s3cret")).await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    let text = metrics(&app).await;
    assert!(
        text.contains("bindcar_auth_decisions_total{mode=\"api-token\",result=\"denied\"} 5"),
        "the limited requests never reached authentication:\n{text}"
    );
}

#[tokio::test]
async fn without_a_limit_nothing_is_refused() {
    let (app, _h) = app(AuthSettings::disabled(), None);
    for _ in 0..150 {
        assert_eq!(
            send(&app, Method::GET, "/api/v1/zones", CLIENT, None)
                .await
                .status,
            StatusCode::OK
        );
    }
}

/// Red-team item 1: random and very long methods, on open, API and unknown paths, must not
/// grow the metrics (on `main`, 300 random methods took it from 19 series to 5,437).
#[tokio::test]
async fn metric_labels_stay_bounded_under_random_and_long_methods() {
    let (app, _h) = app(AuthSettings::Basic, None);
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut round = |app: Router| {
        let methods: Vec<String> = (0..300)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                format!("M{seed:X}")
            })
            .collect();
        async move {
            let paths = [
                "/api/v1/health",
                "/metrics",
                "/api/v1/zones",
                "/api/v1/zones/a.test",
                "/nope/x",
            ];
            for (i, method) in methods.iter().enumerate() {
                let path = paths[i % paths.len()];
                let method = Method::from_bytes(method.as_bytes()).unwrap();
                let reply = send(&app, method, path, CLIENT, None).await;
                assert!(reply.status.is_client_error(), "{path}: {}", reply.status);
            }
            let long = "L".repeat(4000);
            for path in paths {
                let method = Method::from_bytes(long.as_bytes()).unwrap();
                let reply = send(&app, method, path, CLIENT, None).await;
                assert!(reply.status.is_client_error());
            }
            // Twice: the first read adds its own GET /metrics series.
            metrics(&app).await;
            metrics(&app).await
        }
    };
    let first = round(app.clone()).await;
    let second = round(app.clone()).await;
    let series = |text: &str| text.lines().filter(|l| !l.starts_with('#')).count();
    assert!(!second.contains("LLLL") && !second.contains("method=\"M"));
    assert!(second.contains(
        "bindcar_http_requests_total{method=\"other\",path=\"<unmatched>\",status=\"404\"} 122"
    ));
    assert!(second.contains(
        "bindcar_http_requests_total{method=\"other\",path=\"/api/v1/health\",status=\"405\"} 122"
    ));
    // 300 more random methods add no series at all; the first 300 added one label value.
    assert_eq!(series(&first), series(&second));
    assert!(series(&second) < 200, "{} series", series(&second));
    assert!(
        second.len() < 32 * 1024,
        "/metrics is {} bytes",
        second.len()
    );
}
