//! The DNSSEC routes and the status answer in-process (`oneshot`) over the fake named and the
//! fake DNS server: each route's statuses and bodies, bad bodies refused before anything is
//! sent, a zone configured but not loaded answered 409 `zoneNotLoaded`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::{router, AppState};
use crate::zones::fake::{ok, refused, zonestatus, Harness};
use crate::zones::fake_dns::{ksk, FakeDns};

pub(super) const STATUS_SIGNED: &str =
    include_str!("../bind/fixtures/named918_dnssec_status_csk.txt");
pub(super) const NO_POLICY: &str = "Zone does not have dnssec-policy";

pub(super) fn app() -> (Router, Harness, Arc<FakeDns>) {
    let h = Harness::new();
    let dns = Arc::new(FakeDns::default());
    let state = AppState {
        dns: dns.clone(),
        ..AppState::fake(&h)
    };
    (router(Arc::new(state)), h, dns)
}

pub(super) async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, String) {
    let request = Request::builder().method(method).uri(uri);
    let request = match body {
        Some(b) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => request.body(Body::empty()),
    }
    .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn json_call(
    app: &Router,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, text) = call(app, method, uri, body).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A signed zone of this API: `ok.test` with the built-in `default` policy.
pub(super) fn signed_zone(h: &Harness) {
    let file = h.zone_file("ok.test").display().to_string();
    h.mark("ok.test");
    h.named.answer(
        "showzone ok.test",
        ok(&format!(
            "zone \"ok.test\" {{ type primary; file \"{file}\"; inline-signing yes; dnssec-policy \"default\"; }};"
        )),
    );
    h.named.answer("zonestatus ok.test", zonestatus(7, true));
    h.named.answer("dnssec-status ok.test", ok(STATUS_SIGNED));
    h.named
        .answer("modzone", ok("zone 'ok.test' reconfigured."));
    h.named.answer("reconfig", ok(""));
}

#[tokio::test]
async fn status_carries_the_dnssec_block_and_omits_it_when_unsigned_or_unreadable() {
    let (app, h, _) = app();
    signed_zone(&h);
    let (status, body) = json_call(&app, Method::GET, "/api/v1/zones/ok.test/status", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["details"],
        "name: x\ntype: primary\nserial: 7\nreconfigurable via modzone: yes\n"
    );
    assert_eq!(body["dnssec"]["policy"], "default");
    assert_eq!(body["dnssec"]["signed"], true);
    assert_eq!(
        body["dnssec"]["keys"][0],
        json!({"tag": 38453, "algorithm": "ECDSAP256SHA256", "role": "CSK",
               "published": true, "publishedSince": "2026-12-06T00:35:48",
               "keySigning": true, "keySigningSince": "2026-12-06T00:35:48",
               "zoneSigning": true, "zoneSigningSince": "2026-12-06T00:35:48",
               "removed": false, "goal": "omnipresent", "dnskeyState": "rumoured",
               "dsState": "hidden", "zoneRrsigState": "rumoured", "keyRrsigState": "rumoured"})
    );
    for unsigned in [
        ok(NO_POLICY),
        refused("failure", "odd"),
        crate::zones::fake::timeout(),
    ] {
        h.named.answer("dnssec-status ok.test", unsigned);
        let (status, body) =
            json_call(&app, Method::GET, "/api/v1/zones/ok.test/status", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("dnssec").is_none(), "{body}");
    }
}

#[tokio::test]
async fn a_zone_configured_but_not_loaded_is_a_typed_409() {
    let (app, h, _) = app();
    h.named
        .answer("zonestatus sec.test", refused("zone not loaded", ""));
    let (status, body) = json_call(&app, Method::GET, "/api/v1/zones/sec.test/status", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        body,
        json!({"error": "Zone sec.test is configured but not loaded (a secondary waiting for its first transfer, or a file BIND could not load)",
               "details": "zone not loaded", "code": "zoneNotLoaded"})
    );
    // unknown stays 404
    let (status, _) = json_call(&app, Method::GET, "/api/v1/zones/none.test/status", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn patch_signs_keeps_and_refuses_none_while_signed() {
    let (app, h, _) = app();
    signed_zone(&h);
    let patch = |body: Value| json_call(&app, Method::PATCH, "/api/v1/zones/ok.test", Some(body));
    // bindy's PATCH: lists and the policy
    let (status, body) =
        patch(json!({"allowTransfer": ["10.0.0.2"], "alsoNotify": [], "dnssecPolicy": "default"}))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["message"], "Zone ok.test modified successfully");
    let (status, body) = patch(json!({"dnssecPolicy": "none"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("still serves DNSKEY records"),
        "{body}"
    );
    let (status, body) = patch(json!({"dnssecPolicy": "x\"; }; allow-transfer { any; }; #"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    h.named.answer(
        "modzone",
        refused("not found", "configure_zone failed: not found"),
    );
    let (status, body) = patch(json!({"dnssecPolicy": "nosuch"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("dnssecPolicy"),
        "{body}"
    );
    // the injected name and the 409 sent no modzone
    let modzones = h
        .named
        .sent()
        .iter()
        .filter(|c| c.starts_with("modzone"))
        .count();
    assert_eq!(modzones, 2);
}

#[tokio::test]
async fn ds_route_answers_bindcar_s_shape() {
    let (app, h, dns) = app();
    signed_zone(&h);
    dns.serve_keys(Ok(vec![ksk()]));
    let (status, body) = json_call(&app, Method::GET, "/api/v1/zones/OK.test./ds", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["success"], &body["zone"]),
        (&json!(true), &json!("ok.test"))
    );
    assert_eq!(body["dsRecords"].as_array().unwrap().len(), 1);
    assert_eq!(body["dsRecords"][0]["algorithm"], 13);
    assert_eq!(body["dsRecords"][0]["digestType"], 2);
    assert_eq!(body["dsRecords"][0]["keyTag"], 58821);
    let digest = body["dsRecords"][0]["digest"].as_str().unwrap();
    assert_eq!(digest.len(), 64);
    assert_eq!(
        body["dsRecords"][0]["rr"],
        format!("ok.test. IN DS 58821 13 2 {digest}")
    );
    h.named.answer("dnssec-status ok.test", ok(NO_POLICY));
    let (status, body) = json_call(&app, Method::GET, "/api/v1/zones/ok.test/ds", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("no dnssec-policy"),
        "{body}"
    );
    let (status, _) = json_call(&app, Method::GET, "/api/v1/zones/none.test/ds", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn checkds_takes_published_or_withdrawn_and_nothing_else() {
    let (app, h, _) = app();
    signed_zone(&h);
    const URI: &str = "/api/v1/zones/ok.test/dnssec/checkds";
    for bad in [
        json!({"keyTag": 38453, "ds": "maybe"}),
        json!({"keyTag": 70000, "ds": "published"}),
        json!({"keyTag": "38453", "ds": "published"}),
        json!({"ds": "published"}),
        json!({"keyTag": 38453}),
        json!({"keyTag": 38453, "ds": "published", "zone": "other.test"}),
    ] {
        let (status, body) = json_call(&app, Method::POST, URI, Some(bad.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    assert!(!h
        .named
        .sent()
        .iter()
        .any(|c| c.starts_with("dnssec-checkds")));
    h.named.answer_once(
        "dnssec-checkds ok.test",
        ok("KSK 38453: Marked DS as published since 06-Dec-2026 00:36:00.000"),
    );
    let (status, body) = json_call(
        &app,
        Method::POST,
        URI,
        Some(json!({"keyTag": 38453, "ds": "published"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["message"],
        "DS published recorded for zone ok.test key tag 38453"
    );
    assert_eq!(
        h.named.lines().last().unwrap(),
        "dnssec -checkds -key 38453 published ok.test"
    );
    h.named.answer_once(
        "dnssec-checkds ok.test",
        ok("Error executing checkds command: no matching key found"),
    );
    let (status, body) = json_call(
        &app,
        Method::POST,
        URI,
        Some(json!({"keyTag": 1, "ds": "withdrawn"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("no key with tag 1"),
        "{body}"
    );
}
