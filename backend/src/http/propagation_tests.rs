//! `/propagation` through the real router over the fake named and scripted secondaries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::{router, AppState};
use crate::bind::serial_query::Served;
use crate::bind::Endpoint;
use crate::catalog::Catalog;
use crate::zones::fake::{zonestatus, Harness};
use crate::zones::fake_dns::{FakeDns, FakeSerials};

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, Value) {
    let response = app
        .clone()
        .oneshot(
            Request::builder()
                .method(Method::GET)
                .uri(uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn app(h: &Harness, secondaries: &[&str], serials: Arc<FakeSerials>) -> axum::Router {
    let dns = Arc::new(FakeDns::default());
    let mut state = AppState {
        dns: dns.clone(),
        serials,
        ..AppState::fake(h)
    };
    if !secondaries.is_empty() {
        let catalog = Catalog::new(
            Harness::zone("catalog.invalid"),
            secondaries
                .iter()
                .map(|s| Endpoint::parse(s).unwrap())
                .collect(),
            None,
        );
        state.zones = state.zones.with_catalog(catalog, dns).unwrap();
    }
    router(Arc::new(state))
}

#[tokio::test]
async fn each_secondary_is_in_step_lagging_missing_or_unreachable() {
    let h = Harness::new();
    h.named.answer("zonestatus ok.test", zonestatus(7, true));
    let serials = Arc::new(FakeSerials::default());
    serials.serve(5301, Served::Serial(7));
    serials.serve(5302, Served::Serial(6));
    serials.serve(5303, Served::NotServed("REFUSED".into()));
    let app = app(
        &h,
        &[
            "127.0.0.1:5301",
            "127.0.0.1:5302",
            "127.0.0.1:5303",
            "127.0.0.1:5304",
        ],
        serials.clone(),
    );
    let (status, body) = get(&app, "/api/v1/zones/OK.test./propagation").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["zone"], "ok.test");
    assert_eq!(body["serial"], 7);
    assert_eq!(body["inStep"], false);
    let states: Vec<(&str, &str, Value)> = body["secondaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["server"].as_str().unwrap(),
                s["state"].as_str().unwrap(),
                s["serial"].clone(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("127.0.0.1:5301", "inStep", json!(7)),
            ("127.0.0.1:5302", "lagging", json!(6)),
            ("127.0.0.1:5303", "missing", Value::Null),
            ("127.0.0.1:5304", "unreachable", Value::Null),
        ]
    );
    assert!(body["secondaries"][1]["detail"]
        .as_str()
        .unwrap()
        .contains("older than the primary's 7"));
    assert!(body["secondaries"][0].get("detail").is_none());
    assert_eq!(serials.asked.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn without_secondaries_a_zone_is_in_step_and_an_unknown_one_is_404() {
    let h = Harness::new();
    h.named.answer("zonestatus ok.test", zonestatus(3, true));
    let app = app(&h, &[], Arc::new(FakeSerials::default()));
    let (status, body) = get(&app, "/api/v1/zones/ok.test/propagation").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"zone": "ok.test", "serial": 3, "inStep": true, "secondaries": []})
    );
    let (status, _) = get(&app, "/api/v1/zones/none.test/propagation").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    h.named.answer(
        "zonestatus wait.test",
        crate::zones::fake::refused("zone not loaded", ""),
    );
    let (status, body) = get(&app, "/api/v1/zones/wait.test/propagation").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "zoneNotLoaded");
}
