//! The records routes in-process (`oneshot`) over the fake named and the fake DNS server:
//! bad input is a 400 naming the field with nothing sent anywhere; each DNS answer gets its one
//! status with BIND's rcode in `details`; the reads and the OpenAPI document.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::Router;
use serde_json::{json, Value};

use super::{router, AppState};
use crate::bind::update::{Change, DnsFailure, ZoneRecord};
use crate::zones::fake::{ok, refused, Harness};
use crate::zones::fake_dns::FakeDns;

const DYNAMIC: &str = "zone \"ok.test\" { type primary; file \"/z/ok.test.zone\"; \
    allow-update { key \"rndc-key\"; }; };";

fn app() -> (Router, Harness, Arc<FakeDns>) {
    let h = Harness::new();
    let dns = Arc::new(FakeDns::default());
    let state = AppState {
        dns: dns.clone(),
        ..AppState::fake(&h)
    };
    (router(Arc::new(state)), h, dns)
}

/// The shared in-process call, its body read as JSON (`Null` when it is not).
async fn call(app: &Router, method: Method, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
    let (status, text) = super::dnssec_tests::call(app, method, uri, body).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

const RECORDS: &str = "/api/v1/zones/ok.test/records";

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field_and_nothing_is_sent() {
    let (app, h, dns) = app();
    h.named.answer("showzone ok.test", ok(DYNAMIC));
    let cases: Vec<(Method, &str, Value, &str)> = vec![
        (
            Method::POST,
            RECORDS,
            json!({"name": "w", "type": "HINFO", "value": "x"}),
            "Invalid record type",
        ),
        (
            Method::POST,
            RECORDS,
            json!({"name": "w", "type": "A", "value": "a\u{0}b"}),
            "control",
        ),
        (
            Method::POST,
            RECORDS,
            json!({"name": "w", "type": "A", "value": "::1"}),
            "A value",
        ),
        (
            Method::POST,
            RECORDS,
            json!({"name": "w", "type": "MX", "value": "mx.ok.test."}),
            "MX value",
        ),
        (
            Method::POST,
            RECORDS,
            json!({"name": "fook.test", "type": "A", "value": "192.0.2.1"}),
            "outside zone",
        ),
        (
            Method::POST,
            RECORDS,
            json!({"name": "w", "type": "A", "value": "192.0.2.1", "ttl": 4294967295u64}),
            "ttl",
        ),
        (
            Method::POST,
            RECORDS,
            json!({"name": "w", "type": "A"}),
            "value",
        ),
        (
            Method::PUT,
            RECORDS,
            json!({"name": "w", "type": "A", "currentValue": "192.0.2.1", "newValue": "x"}),
            "newValue",
        ),
        (
            Method::DELETE,
            RECORDS,
            json!({"name": "w", "type": "SOA"}),
            "Invalid record type",
        ),
        (
            Method::PUT,
            "/api/v1/zones/ok.test/rrsets/w/A",
            json!({"values": ["192.0.2.1", "nope"]}),
            "values[1]",
        ),
    ];
    for (method, uri, body, words) in cases {
        let (status, reply) = call(&app, method.clone(), uri, Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {body}: {reply}");
        let error = reply["error"].as_str().unwrap_or_default();
        assert!(error.contains(words), "{words:?} not in {error:?}");
    }
    // Over the size limit: 413, the body not read further
    let huge = json!({"values": ["x".repeat(70_000)]});
    let (status, reply) = call(
        &app,
        Method::PUT,
        "/api/v1/zones/ok.test/rrsets/w/TXT",
        Some(huge),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let error = reply["error"].as_str().unwrap_or_default();
    assert!(error.contains("length limit"), "{error}");
    assert!(dns.sent().is_empty(), "nothing reaches the DNS server");
    assert!(
        h.named.sent().is_empty(),
        "nor named's control channel: {:?}",
        h.named.sent()
    );
}

#[tokio::test]
async fn each_dns_answer_maps_to_one_status_with_the_rcode() {
    let (app, h, dns) = app();
    h.named.answer("showzone ok.test", ok(DYNAMIC));
    let rcode = |rcode: &str, tsig: Option<&str>| {
        Err(DnsFailure::Rcode {
            rcode: rcode.into(),
            tsig: tsig.map(str::to_owned),
        })
    };
    let cases = [
        (Ok(()), StatusCode::CREATED, Value::Null),
        (
            rcode("NOTZONE", None),
            StatusCode::NOT_FOUND,
            json!("NOTZONE"),
        ),
        (
            rcode("REFUSED", None),
            StatusCode::FORBIDDEN,
            json!("REFUSED"),
        ),
        (
            rcode("NOTAUTH", Some("BADKEY")),
            StatusCode::FORBIDDEN,
            json!("NOTAUTH"),
        ),
        (
            rcode("NOTAUTH", Some("BADSIG")),
            StatusCode::FORBIDDEN,
            json!("NOTAUTH"),
        ),
        (
            rcode("YXRRSET", None),
            StatusCode::CONFLICT,
            json!("YXRRSET"),
        ),
        (
            rcode("NXRRSET", None),
            StatusCode::CONFLICT,
            json!("NXRRSET"),
        ),
        (
            rcode("YXDOMAIN", None),
            StatusCode::CONFLICT,
            json!("YXDOMAIN"),
        ),
        (
            rcode("SERVFAIL", None),
            StatusCode::BAD_GATEWAY,
            json!("SERVFAIL"),
        ),
        (
            rcode("FORMERR", None),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("FORMERR"),
        ),
        (
            Err(DnsFailure::Unavailable("refused".into())),
            StatusCode::SERVICE_UNAVAILABLE,
            Value::Null,
        ),
        // sent, and no usable answer: the outcome is unknown (a retryable 5xx)
        (
            Err(DnsFailure::Timeout(Duration::from_secs(3))),
            StatusCode::GATEWAY_TIMEOUT,
            Value::Null,
        ),
        (
            Err(DnsFailure::Lost("reset".into())),
            StatusCode::SERVICE_UNAVAILABLE,
            Value::Null,
        ),
        (
            Err(DnsFailure::Protocol("bad TSIG".into())),
            StatusCode::SERVICE_UNAVAILABLE,
            Value::Null,
        ),
        (
            Err(DnsFailure::Disabled("sha224".into())),
            StatusCode::NOT_IMPLEMENTED,
            Value::Null,
        ),
    ];
    let record = json!({"name": "www", "type": "A", "value": "192.0.2.1"});
    for (answer, status, details) in cases {
        dns.answer_next(answer.clone());
        let (got, body) = call(&app, Method::POST, RECORDS, Some(record.clone())).await;
        assert_eq!(got, status, "{answer:?}: {body}");
        if got.is_success() {
            assert_eq!(body["message"], "Record added to zone ok.test");
            assert_eq!(body["details"]["record"]["ttl"], 3600);
        } else {
            assert_eq!(body["details"], details, "{answer:?}: {body}");
        }
        if matches!(got, StatusCode::FORBIDDEN) {
            assert!(
                body["error"].as_str().unwrap().contains("\"test-key\""),
                "{body}"
            );
        }
    }
    // every attempt was one UPDATE adding www.ok.test. A
    let sent = dns.sent();
    assert_eq!(sent.len(), 15);
    assert_eq!(
        sent[0].changes,
        [Change::Add {
            name: "www.ok.test.".into(),
            rtype: "A".into(),
            ttl: 3600,
            rdata: "192.0.2.1".into()
        }]
    );
}

#[tokio::test]
async fn zones_that_take_no_updates_and_unknown_zones() {
    let (app, h, dns) = app();
    let record = json!({"name": "www", "type": "A", "value": "192.0.2.1"});
    h.named
        .answer("showzone missing.test", refused("not found", ""));
    let (status, _) = call(
        &app,
        Method::POST,
        "/api/v1/zones/missing.test/records",
        Some(record.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    h.named.answer("showzone sec.test", ok("zone \"sec.test\" { type secondary; primaries { 192.0.2.1; }; allow-update { key \"k\"; }; };"));
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/v1/zones/sec.test/records",
        Some(record.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "Dynamic updates not enabled: Zone sec.test is secondary type. Dynamic updates only supported on primary zones");
    h.named.answer(
        "showzone static.test",
        ok("zone \"static.test\" { type primary; file \"/z/s\"; };"),
    );
    let (status, body) = call(
        &app,
        Method::DELETE,
        "/api/v1/zones/static.test/records",
        Some(record),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("does not have allow-update configured"));
    assert!(dns.sent().is_empty());
}

#[tokio::test]
async fn updates_replace_and_reads() {
    let (app, h, dns) = app();
    h.named.answer("showzone ok.test", ok(DYNAMIC));
    let (status, body) = call(&app, Method::PUT, RECORDS, Some(json!({"name": "www", "type": "A", "currentValue": "192.0.2.1", "newValue": "192.0.2.2"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = call(
        &app,
        Method::PUT,
        "/api/v1/zones/ok.test/rrsets/@/MX",
        Some(json!({"ttl": 60, "values": ["10 a.ok.test.", "20 b.ok.test."]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &app,
        Method::DELETE,
        RECORDS,
        Some(json!({"name": "www", "type": "A"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let sent = dns.sent();
    assert_eq!(sent.len(), 3);
    assert_eq!(
        sent[0].prerequisites.len(),
        1,
        "update needs the RRset to exist"
    );
    assert!(matches!(
        sent[0].changes[..],
        [Change::DeleteRr { .. }, Change::Add { .. }]
    ));
    assert!(matches!(
        sent[1].changes[..],
        [
            Change::DeleteRrset { .. },
            Change::Add { .. },
            Change::Add { .. }
        ]
    ));
    assert!(matches!(sent[2].changes[..], [Change::DeleteRrset { .. }]));

    *dns.zone.lock().unwrap() = vec![
        ZoneRecord {
            name: "ok.test.".into(),
            rtype: "SOA".into(),
            ttl: 300,
            value: "ns1.ok.test. h.ok.test. 42 1 1 1 1".into(),
        },
        ZoneRecord {
            name: "www.ok.test.".into(),
            rtype: "A".into(),
            ttl: 60,
            value: "192.0.2.2".into(),
        },
        ZoneRecord {
            name: "ok.test.".into(),
            rtype: "NS".into(),
            ttl: 300,
            value: "ns1.ok.test.".into(),
        },
    ];
    let (status, body) = call(
        &app,
        Method::GET,
        &format!("{RECORDS}?name=WWW&type=a"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"records": [{"name": "www.ok.test.", "type": "A", "ttl": 60, "value": "192.0.2.2"}], "count": 1, "serial": 42})
    );
    let (_, body) = call(&app, Method::GET, RECORDS, None).await;
    assert_eq!(body["count"], 3);
}

#[tokio::test]
async fn the_openapi_document_has_the_record_routes() {
    let (app, _h, _dns) = app();
    let (status, doc) = call(&app, Method::GET, "/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let records = &doc["paths"]["/api/v1/zones/{name}/records"];
    for method in ["get", "post", "put", "delete"] {
        assert!(records[method].is_object(), "{method} missing");
    }
    assert!(doc["paths"]["/api/v1/zones/{name}/rrsets/{owner}/{type}"]["put"].is_object());
}

fn rcode(rcode: &str) -> Result<(), DnsFailure> {
    Err(DnsFailure::Rcode {
        rcode: rcode.into(),
        tsig: None,
    })
}

fn record(name: &str, rtype: &str, value: &str) -> ZoneRecord {
    ZoneRecord {
        name: name.into(),
        rtype: rtype.into(),
        ttl: 60,
        value: value.into(),
    }
}

#[tokio::test]
async fn named_refusing_what_it_would_skip_is_a_409_that_says_why() {
    let (app, h, dns) = app();
    h.named.answer("showzone ok.test", ok(DYNAMIC));
    let cname = json!({"name": "c", "type": "CNAME", "value": "t.ok.test."});

    // A name in use (YXDOMAIN), whose CNAME is this one: the second step succeeds
    dns.answer_next(rcode("YXDOMAIN"));
    let (status, body) = call(&app, Method::POST, RECORDS, Some(cname.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(dns.sent().len(), 2);

    // ... or holding something else (NXRRSET on the second step): 409 with the reason
    dns.answer_next(rcode("YXDOMAIN"));
    dns.answer_next(rcode("NXRRSET"));
    let (status, body) = call(&app, Method::POST, RECORDS, Some(cname)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["details"], "NXRRSET");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .starts_with("c.ok.test. already holds other records"));

    // Data beside a CNAME: YXRRSET on the one step
    dns.answer_next(rcode("YXRRSET"));
    let (status, body) = call(
        &app,
        Method::POST,
        RECORDS,
        Some(json!({"name": "c", "type": "A", "value": "192.0.2.1"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"].as_str().unwrap().contains("is an alias"));
    assert_eq!(dns.sent().len(), 5);
}

#[tokio::test]
async fn a_servfail_on_a_full_rrset_is_a_409_with_the_count_named_holds() {
    let (app, h, dns) = app();
    h.named.answer("showzone ok.test", ok(DYNAMIC));
    let add = json!({"name": "big", "type": "A", "value": "10.0.1.1"});
    let mut zone: Vec<ZoneRecord> = (0..99)
        .map(|i| record("big.ok.test.", "A", &format!("10.0.0.{i}")))
        .collect();
    *dns.zone.lock().unwrap() = zone.clone();
    // Not full: the SERVFAIL is named's, retryable
    dns.answer_next(rcode("SERVFAIL"));
    let (status, _) = call(&app, Method::POST, RECORDS, Some(add.clone())).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    // Full (max-records-per-type 100): a retry could never pass
    zone.push(record("BIG.ok.test.", "A", "10.0.0.99"));
    *dns.zone.lock().unwrap() = zone;
    dns.answer_next(rcode("SERVFAIL"));
    let (status, body) = call(&app, Method::POST, RECORDS, Some(add)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["details"], "SERVFAIL");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .starts_with("big.ok.test. already holds 100 A records"));
}

#[tokio::test]
async fn the_apex_ns_set_is_changed_against_what_named_holds() {
    let (app, h, dns) = app();
    h.named.answer("showzone ok.test", ok(DYNAMIC));
    *dns.zone.lock().unwrap() = vec![
        record("ok.test.", "SOA", "ns1.ok.test. h.ok.test. 1 1 1 1 1"),
        record("ok.test.", "NS", "ns1.ok.test."),
    ];
    let last = json!({"name": "@", "type": "NS", "value": "ns1.ok.test."});
    let (status, body) = call(&app, Method::DELETE, RECORDS, Some(last)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("the only NS record"));
    assert!(dns.sent().is_empty(), "nothing sent");

    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/v1/zones/ok.test/rrsets/@/NS",
        Some(json!({"values": ["ns2.ok.test."]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sent = dns.sent();
    assert_eq!(
        sent[0].changes,
        [
            Change::Add {
                name: "ok.test.".into(),
                rtype: "NS".into(),
                ttl: 3600,
                rdata: "ns2.ok.test.".into()
            },
            Change::DeleteRr {
                name: "ok.test.".into(),
                rtype: "NS".into(),
                rdata: "ns1.ok.test.".into()
            }
        ]
    );
    // the set changed between the read and the UPDATE: 409, retry
    dns.answer_next(rcode("NXRRSET"));
    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/v1/zones/ok.test/rrsets/@/NS",
        Some(json!({"values": ["ns2.ok.test."]})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"].as_str().unwrap().contains("changed while"));
}
