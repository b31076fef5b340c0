//! The DNSSEC lifecycle against a real named 9.18, as bindcar 0.9.0 offers it: a zone created
//! with a policy and one signed later by PATCH are served signed; `/ds` is what
//! `dnssec-dsfromkey -2` makes of the DNSKEYs named serves; checkds; a PATCH of another field
//! keeps the zone signed; `none` is refused while signed, `insecure` unsigns; an unknown
//! policy is BIND's refusal, an injected one never reaches it. Then the contract: bindy's
//! requests built with bindcar 0.9.0's own types, and our answers read into them.

mod common;

use std::process::Command;
use std::time::Duration;

use bindcar_090 as upstream;
use bindcar_testbed::backend::Backend;
use bindcar_testbed::named::{find_tool, Named, NamedOptions};
use common::{eventually, primary_zone, Client};
use serde_json::{json, Value};

/// Signing takes named a moment (keys made, zone signed, then served).
const SIGNING: Duration = Duration::from_secs(20);

fn backend_for(named: &Named) -> (Backend, Client) {
    let mut env = named.backend_env();
    env.push(("DISABLE_AUTH".into(), "true".into()));
    // The DNSKEY query of `/ds` goes where the records API sends its updates.
    env.push(("NSUPDATE_PORT".into(), named.dns_port().to_string()));
    // bindcar's key directory: accepted, and not read (no such directory here)
    env.push(("BIND_KEY_DIR".into(), "/nonexistent/bind-keys".into()));
    let backend = Backend::start(env);
    let client = Client::new(backend.base_url(), None);
    (backend, client)
}

/// named serves the zone signed: DNSKEYs at the apex and RRSIGs over its data.
fn served_signed(named: &Named, zone: &str) -> bool {
    !named.dig(zone, "DNSKEY").is_empty() && !named.dig(&format!("www.{zone}"), "RRSIG").is_empty()
}

fn served_unsigned(named: &Named, zone: &str) -> bool {
    named.dig(zone, "DNSKEY").is_empty() && named.dig(&format!("www.{zone}"), "RRSIG").is_empty()
}

/// `dnssec-dsfromkey -2` of the DNSKEY RRset named serves: `<zone>. IN DS <tag> <alg> 2 <HEX>`.
fn dsfromkey(named: &Named, zone: &str) -> Vec<String> {
    let tool = find_tool("dnssec-dsfromkey", "DSFROMKEY_BIN").unwrap_or_else(|e| panic!("{e:#}"));
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("dnskeys");
    std::fs::write(&keys, named.dig_answer(zone, "DNSKEY")).expect("write keys");
    let out = Command::new(tool)
        .args(["-2", "-f"])
        .arg(&keys)
        .arg(zone)
        .output()
        .expect("run dnssec-dsfromkey");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect()
}

fn signed_zone(name: &str) -> Value {
    let mut zone = primary_zone(name);
    zone["zoneConfig"]["dnssecPolicy"] = json!("default");
    zone
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnssec_lifecycle_on_real_named() {
    let named = Named::start(NamedOptions::default());
    let (backend, api) = backend_for(&named);

    // Created with a policy, and created plain then signed by PATCH: both served signed
    let (status, body) = api.create(&signed_zone("born.test")).await;
    assert_eq!(status, 201, "{body}\n{}", backend.logs());
    let (status, body) = api.create(&primary_zone("later.test")).await;
    assert_eq!(status, 201, "{body}");
    assert!(served_unsigned(&named, "later.test"));
    let (status, body) = api
        .patch(
            "/api/v1/zones/later.test",
            &json!({"dnssecPolicy": "default"}),
        )
        .await;
    assert_eq!(status, 200, "{body}\n{}", backend.logs());
    for zone in ["born.test", "later.test"] {
        assert!(
            eventually(SIGNING, || served_signed(&named, zone)).await,
            "{zone} not served signed; named log:\n{}",
            named.log()
        );
    }

    // The status block; absent for an unsigned zone
    let (status, body) = api.get("/api/v1/zones/born.test/status").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dnssec"]["policy"], "default", "{body}");
    let key = &body["dnssec"]["keys"][0];
    assert_eq!(key["role"], "CSK", "{body}");
    assert_eq!(key["algorithm"], "ECDSAP256SHA256", "{body}");
    let tag = key["tag"].as_u64().expect("key tag");
    let (status, body) = api.create(&primary_zone("plain.test")).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = api.get("/api/v1/zones/plain.test/status").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("dnssec").is_none(), "{body}");

    // /ds equals dnssec-dsfromkey -2 of the served DNSKEYs; 404 without a policy
    for zone in ["born.test", "later.test"] {
        let (status, body) = api.get(&format!("/api/v1/zones/{zone}/ds")).await;
        assert_eq!(status, 200, "{body}\n{}", backend.logs());
        let ours: Vec<String> = body["dsRecords"]
            .as_array()
            .expect("dsRecords")
            .iter()
            .map(|d| d["rr"].as_str().expect("rr").to_string())
            .collect();
        assert!(!ours.is_empty(), "{body}");
        assert_eq!(ours, dsfromkey(&named, zone), "{zone}");
    }
    assert_eq!(body_status(&api, "/api/v1/zones/plain.test/ds").await, 404);

    // checkds: the key's tag is recorded; anything else in the body is a 400; an unknown tag 404
    let checkds = "/api/v1/zones/born.test/dnssec/checkds";
    let (status, body) = api
        .post(checkds, &json!({"keyTag": tag, "ds": "published"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["details"]
            .as_str()
            .unwrap_or("")
            .contains("Marked DS as published"),
        "{body}"
    );
    let (status, body) = api.get("/api/v1/zones/born.test/status").await;
    assert_eq!(
        body["dnssec"]["keys"][0]["dsState"], "rumoured",
        "{status} {body}"
    );
    for bad in [
        json!({"keyTag": tag, "ds": "gone"}),
        json!({"keyTag": -1, "ds": "published"}),
        json!({"keyTag": tag}),
    ] {
        assert_eq!(api.post(checkds, &bad).await.0, 400, "{bad}");
    }
    let other = if tag == 1 { 2 } else { 1 };
    let (status, body) = api
        .post(checkds, &json!({"keyTag": other, "ds": "published"}))
        .await;
    assert_eq!(status, 404, "{body}");

    // A PATCH of another field keeps the zone signed
    let (status, body) = api
        .patch(
            "/api/v1/zones/born.test",
            &json!({"allowTransfer": ["127.0.0.1"], "alsoNotify": []}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let shown = String::from_utf8_lossy(&named.rndc(&["showzone", "born.test"]).stdout).to_string();
    assert!(shown.contains("dnssec-policy \"default\""), "{shown}");
    assert!(served_signed(&named, "born.test"));

    // none while signed: 409, nothing changed; an unknown policy: 422; an injected one: 400
    let (status, body) = api
        .patch("/api/v1/zones/born.test", &json!({"dnssecPolicy": "none"}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(served_signed(&named, "born.test"));
    let (status, body) = api
        .patch(
            "/api/v1/zones/born.test",
            &json!({"dnssecPolicy": "nosuchpolicy"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("dnssecPolicy"),
        "{body}"
    );
    let (status, body) = api
        .patch(
            "/api/v1/zones/born.test",
            &json!({"dnssecPolicy": "x\"; }; allow-transfer { any; }; dnssec-policy \"default"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let shown_after =
        String::from_utf8_lossy(&named.rndc(&["showzone", "born.test"]).stdout).to_string();
    assert_eq!(shown_after, shown);
    assert!(served_signed(&named, "born.test"));

    // insecure unsigns gracefully; then none removes the policy
    let (status, body) = api
        .patch(
            "/api/v1/zones/later.test",
            &json!({"dnssecPolicy": "insecure"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        eventually(SIGNING, || served_unsigned(&named, "later.test")).await,
        "later.test still signed; named log:\n{}",
        named.log()
    );
    let (status, body) = api.get("/api/v1/zones/later.test/status").await;
    assert_eq!(body["dnssec"]["policy"], "insecure", "{status} {body}");
    assert_eq!(body["dnssec"]["signed"], false, "{body}");
    let (status, body) = api
        .patch("/api/v1/zones/later.test", &json!({"dnssecPolicy": "none"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let shown =
        String::from_utf8_lossy(&named.rndc(&["showzone", "later.test"]).stdout).to_string();
    assert!(!shown.contains("dnssec-policy"), "{shown}");
    assert_eq!(named.dig("www.later.test", "A"), ["192.0.2.10"]);
    assert_eq!(body_status(&api, "/api/v1/zones/later.test/ds").await, 404);
}

async fn body_status(api: &Client, path: &str) -> u16 {
    api.get(path).await.0
}

/// Sends what bindcar's type serializes to and reads the answer as bindcar's response type.
async fn exchange<T: serde::de::DeserializeOwned>(
    api: &Client,
    method: &str,
    path: &str,
    body: Option<&impl serde::Serialize>,
    expected: u16,
) -> T {
    let body = body.map(|b| serde_json::to_value(b).expect("bindcar serializes"));
    let (status, answer) = api.send(method, path, body.as_ref()).await;
    assert_eq!(status, expected, "{method} {path}: {answer}");
    serde_json::from_value(answer.clone())
        .unwrap_or_else(|e| panic!("{method} {path}: not bindcar's type: {e}: {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bindcar_090_types_against_real_named() {
    let named = Named::start(NamedOptions::default());
    let (_backend, api) = backend_for(&named);
    let none: Option<&()> = None;
    let soa = upstream::SoaRecord {
        primary_ns: "ns1.contract.test.".into(),
        admin_email: "admin.contract.test.".into(),
        serial: 1,
        refresh: 3600,
        retry: 600,
        expire: 604800,
        negative_ttl: 86400,
    };
    let create = upstream::CreateZoneRequest {
        zone_name: "contract.test".into(),
        zone_type: upstream::ZONE_TYPE_PRIMARY.into(),
        zone_config: upstream::ZoneConfig {
            ttl: 300,
            soa,
            name_servers: vec!["ns1.contract.test.".into()],
            name_server_ips: [("ns1.contract.test.".to_string(), "127.0.0.1".to_string())].into(),
            records: vec![upstream::DnsRecord {
                name: "www".into(),
                record_type: "A".into(),
                value: "192.0.2.10".into(),
                ttl: None,
                priority: None,
            }],
            also_notify: Some(vec!["127.0.0.1:5353".into()]),
            allow_transfer: Some(vec!["127.0.0.1".into()]),
            primaries: None,
            dnssec_policy: None,
            inline_signing: None,
        },
        update_key_name: Some(named.key_name().to_string()),
    };
    let created: upstream::ZoneResponse =
        exchange(&api, "POST", "/api/v1/zones", Some(&create), 201).await;
    assert!(created.success);
    // bindy's PATCH, lists sent even when empty, and the policy
    let patch = upstream::zones_types::ModifyZoneRequest {
        also_notify: Some(vec![]),
        allow_transfer: Some(vec!["127.0.0.1".into()]),
        allow_update: None,
        dnssec_policy: Some("default".into()),
        inline_signing: None,
    };
    let modified: upstream::ZoneResponse = exchange(
        &api,
        "PATCH",
        "/api/v1/zones/contract.test",
        Some(&patch),
        200,
    )
    .await;
    assert!(modified.success);
    assert!(eventually(SIGNING, || served_signed_www(&named)).await);
    let status: upstream::zones_types::ZoneStatusResponse =
        exchange(&api, "GET", "/api/v1/zones/contract.test/status", none, 200).await;
    let dnssec = status.dnssec.expect("dnssec block");
    assert_eq!(dnssec.policy.as_deref(), Some("default"));
    assert!(!dnssec.keys.is_empty());
    // bindy reads the next rollover from it (the default policy's CSK never rolls: none)
    assert_eq!(dnssec.keys[0].next_rollover, None);
    let ds: upstream::zones_types::DsSetResponse =
        exchange(&api, "GET", "/api/v1/zones/contract.test/ds", none, 200).await;
    assert_eq!(ds.ds_records.len(), 1);
    assert_eq!(ds.ds_records[0].key_tag, dnssec.keys[0].tag);
    let checkds = upstream::zones_types::CheckdsRequest {
        key_tag: dnssec.keys[0].tag,
        ds: upstream::dnssec::CheckdsState::Published,
    };
    let _: upstream::ZoneResponse = exchange(
        &api,
        "POST",
        "/api/v1/zones/contract.test/dnssec/checkds",
        Some(&checkds),
        200,
    )
    .await;
    let info: upstream::ZoneInfo =
        exchange(&api, "GET", "/api/v1/zones/contract.test", none, 200).await;
    assert_eq!(info.zone_type, "primary");
    let list: upstream::ZoneListResponse = exchange(&api, "GET", "/api/v1/zones", none, 200).await;
    assert_eq!(list.zones, ["contract.test"]);
    let server: upstream::ServerStatusResponse =
        exchange(&api, "GET", "/api/v1/server/status", none, 200).await;
    assert!(server.status.contains("server is up and running"));
    let add = upstream::AddRecordRequest {
        name: "api".into(),
        record_type: "A".into(),
        value: "192.0.2.11".into(),
        ttl: 60,
        priority: None,
    };
    let added: upstream::RecordResponse = exchange(
        &api,
        "POST",
        "/api/v1/zones/contract.test/records",
        Some(&add),
        201,
    )
    .await;
    assert!(added.success);
    let remove = upstream::RemoveRecordRequest {
        name: "api".into(),
        record_type: "A".into(),
        value: None,
    };
    let removed: upstream::RecordResponse = exchange(
        &api,
        "DELETE",
        "/api/v1/zones/contract.test/records",
        Some(&remove),
        200,
    )
    .await;
    assert!(removed.success);
    for action in ["notify", "freeze", "thaw"] {
        let _: upstream::ZoneResponse = exchange(
            &api,
            "POST",
            &format!("/api/v1/zones/contract.test/{action}"),
            none,
            200,
        )
        .await;
    }
    let _: upstream::ZoneResponse =
        exchange(&api, "DELETE", "/api/v1/zones/contract.test", none, 200).await;
}

fn served_signed_www(named: &Named) -> bool {
    served_signed(named, "contract.test")
}
