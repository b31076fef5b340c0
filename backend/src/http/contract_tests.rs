//! The contract with bindcar 0.9.0's own published types (the crate `bindcar`, types only, as
//! bindy depends on it): every request bindy sends, built with bindcar's structs and serialized
//! by them, is accepted by our router; every answer of those routes deserializes into bindcar's
//! response types. In-process over the fake named; `tests/tests/backend_contract.rs` does the
//! same against a real named.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use axum::Router;
use bindcar_090 as upstream;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::dnssec_tests::{app, call, signed_zone, STATUS_SIGNED};
use crate::zones::fake::ok;
use crate::zones::fake_dns::ksk;

/// Sends `body` (serialized by bindcar's type), expects `status`, and reads the answer as `T`.
async fn exchange<T: DeserializeOwned>(
    app: &Router,
    method: Method,
    uri: &str,
    body: Option<&impl Serialize>,
    status: StatusCode,
) -> T {
    let body = body.map(|b| serde_json::to_value(b).unwrap());
    let (got, text) = call(app, method.clone(), uri, body).await;
    assert_eq!(got, status, "{method} {uri}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {uri}: {e}: {text}"))
}

const NONE: Option<&()> = None;

fn soa() -> upstream::SoaRecord {
    upstream::SoaRecord {
        primary_ns: "ns1.example.test.".into(),
        admin_email: "admin.example.test.".into(),
        serial: 1,
        refresh: 3600,
        retry: 600,
        expire: 604800,
        negative_ttl: 86400,
    }
}

/// bindy's primary create (`add_primary_zone`), DNSSEC on.
fn bindy_primary(zone: &str) -> upstream::CreateZoneRequest {
    upstream::CreateZoneRequest {
        zone_name: zone.into(),
        zone_type: upstream::ZONE_TYPE_PRIMARY.into(),
        zone_config: upstream::ZoneConfig {
            ttl: 300,
            soa: soa(),
            name_servers: vec!["ns1.example.test.".into()],
            name_server_ips: HashMap::from([("ns1.example.test.".into(), "192.0.2.53".into())]),
            records: vec![],
            also_notify: Some(vec!["192.0.2.2:5353".into()]),
            allow_transfer: Some(vec!["192.0.2.2".into()]),
            primaries: None,
            dnssec_policy: Some("default".into()),
            inline_signing: Some(true),
        },
        update_key_name: Some("rndc-key".into()),
    }
}

/// bindy's secondary create (`add_secondary_zone`): placeholder SOA, empty lists.
fn bindy_secondary(zone: &str) -> upstream::CreateZoneRequest {
    upstream::CreateZoneRequest {
        zone_name: zone.into(),
        zone_type: upstream::ZONE_TYPE_SECONDARY.into(),
        zone_config: upstream::ZoneConfig {
            ttl: 300,
            soa: soa(),
            name_servers: vec![],
            name_server_ips: HashMap::new(),
            records: vec![],
            also_notify: None,
            allow_transfer: None,
            primaries: Some(vec!["192.0.2.1:5353".into()]),
            dnssec_policy: None,
            inline_signing: None,
        },
        update_key_name: Some("rndc-key".into()),
    }
}

#[tokio::test]
async fn bindy_s_zone_requests_are_accepted_and_every_answer_reads_as_bindcar_s_types() {
    let (app, h, dns) = app();
    h.named.answer("addzone", ok(""));
    for request in [bindy_primary("new.test"), bindy_secondary("sec.test")] {
        let created: upstream::ZoneResponse = exchange(
            &app,
            Method::POST,
            "/api/v1/zones",
            Some(&request),
            StatusCode::CREATED,
        )
        .await;
        assert!(created.success);
    }
    // bindcar serializes an absent updateKeyName as null
    let mut plain = bindy_primary("plain.test");
    plain.update_key_name = None;
    plain.zone_config.dnssec_policy = None;
    plain.zone_config.inline_signing = None;
    let created: upstream::ZoneResponse = exchange(
        &app,
        Method::POST,
        "/api/v1/zones",
        Some(&plain),
        StatusCode::CREATED,
    )
    .await;
    assert!(created.success);

    signed_zone(&h);
    dns.serve_keys(Ok(vec![ksk()]));
    // bindy's PATCHes: lists and policy; the policy alone; inline signing
    for patch in [
        upstream::zones_types::ModifyZoneRequest {
            also_notify: Some(vec![]),
            allow_transfer: Some(vec!["192.0.2.2".into()]),
            allow_update: None,
            dnssec_policy: Some("default".into()),
            inline_signing: None,
        },
        upstream::zones_types::ModifyZoneRequest {
            also_notify: None,
            allow_transfer: None,
            allow_update: None,
            dnssec_policy: Some("insecure".into()),
            inline_signing: Some(true),
        },
    ] {
        let modified: upstream::ZoneResponse = exchange(
            &app,
            Method::PATCH,
            "/api/v1/zones/ok.test",
            Some(&patch),
            StatusCode::OK,
        )
        .await;
        assert!(modified.success);
    }

    let status: upstream::zones_types::ZoneStatusResponse = exchange(
        &app,
        Method::GET,
        "/api/v1/zones/ok.test/status",
        NONE,
        StatusCode::OK,
    )
    .await;
    // the block bindy reads is the one bindcar itself parses from the same named output
    assert_eq!(
        status.dnssec,
        Some(upstream::dnssec::parse_dnssec_status(STATUS_SIGNED))
    );

    let ds: upstream::zones_types::DsSetResponse = exchange(
        &app,
        Method::GET,
        "/api/v1/zones/ok.test/ds",
        NONE,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ds.zone, "ok.test");
    assert_eq!(ds.ds_records[0].key_tag, 58821);
    assert_eq!(
        ds.ds_records[0].digest_type,
        upstream::dnssec::DS_DIGEST_TYPE_SHA256
    );

    h.named.answer(
        "dnssec-checkds ok.test",
        ok("KSK 38453: Marked DS as published since 06-Dec-2026 00:36:00.000"),
    );
    let checkds = upstream::zones_types::CheckdsRequest {
        key_tag: 38453,
        ds: upstream::dnssec::CheckdsState::Published,
    };
    let recorded: upstream::ZoneResponse = exchange(
        &app,
        Method::POST,
        "/api/v1/zones/ok.test/dnssec/checkds",
        Some(&checkds),
        StatusCode::OK,
    )
    .await;
    assert!(recorded.success);

    let info: upstream::ZoneInfo = exchange(
        &app,
        Method::GET,
        "/api/v1/zones/ok.test",
        NONE,
        StatusCode::OK,
    )
    .await;
    assert_eq!((info.name.as_str(), info.serial), ("ok.test", Some(7)));
    let server: upstream::ServerStatusResponse = exchange(
        &app,
        Method::GET,
        "/api/v1/server/status",
        NONE,
        StatusCode::OK,
    )
    .await;
    assert!(server.status.contains("up and running"));
    let list: upstream::ZoneListResponse =
        exchange(&app, Method::GET, "/api/v1/zones", NONE, StatusCode::OK).await;
    assert_eq!(list.count, list.zones.len());

    for action in ["reload", "notify", "retransfer", "freeze", "thaw"] {
        h.named.answer(action, ok(""));
        let done: upstream::ZoneResponse = exchange(
            &app,
            Method::POST,
            &format!("/api/v1/zones/ok.test/{action}"),
            NONE,
            StatusCode::OK,
        )
        .await;
        assert!(done.success, "{action}");
    }
    h.named.answer("delzone", ok(""));
    let deleted: upstream::ZoneResponse = exchange(
        &app,
        Method::DELETE,
        "/api/v1/zones/ok.test",
        NONE,
        StatusCode::OK,
    )
    .await;
    assert!(deleted.success);
}

#[tokio::test]
async fn the_records_requests_are_accepted_and_answer_bindcar_s_record_response() {
    let (app, h, _) = app();
    h.named.answer(
        "showzone ok.test",
        ok("zone \"ok.test\" { type primary; file \"/z/ok.test.zone\"; allow-update { key \"rndc-key\"; }; };"),
    );
    const RECORDS: &str = "/api/v1/zones/ok.test/records";
    let add = upstream::AddRecordRequest {
        name: "www".into(),
        record_type: "A".into(),
        value: "192.0.2.1".into(),
        ttl: 300,
        priority: None,
    };
    let update = upstream::UpdateRecordRequest {
        name: "www".into(),
        record_type: "A".into(),
        current_value: "192.0.2.1".into(),
        new_value: "192.0.2.2".into(),
        ttl: 300,
        priority: None,
    };
    let remove = upstream::RemoveRecordRequest {
        name: "www".into(),
        record_type: "A".into(),
        value: Some("192.0.2.2".into()),
    };
    let added: upstream::RecordResponse =
        exchange(&app, Method::POST, RECORDS, Some(&add), StatusCode::CREATED).await;
    let updated: upstream::RecordResponse =
        exchange(&app, Method::PUT, RECORDS, Some(&update), StatusCode::OK).await;
    let removed: upstream::RecordResponse =
        exchange(&app, Method::DELETE, RECORDS, Some(&remove), StatusCode::OK).await;
    assert!(added.success && updated.success && removed.success);
}
