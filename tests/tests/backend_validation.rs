//! Invalid names and bodies are refused with 400 before anything is written or sent to rndc:
//! the zone directory is byte-for-byte unchanged and named never received a zone command.

mod common;

use common::{primary_zone, snapshot, Stack};
use serde_json::{json, Value};

/// A create body with one field replaced (`pointer` is a JSON pointer into the body).
fn with(pointer: &str, value: Value) -> Value {
    let mut body = primary_zone("valid.test");
    let (parent, key) = pointer.rsplit_once('/').expect("pointer");
    let target = if parent.is_empty() {
        Some(&mut body)
    } else {
        body.pointer_mut(parent)
    };
    target
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no {parent}"))
        .insert(key.to_string(), value);
    body
}

fn with_record(record: Value) -> Value {
    with("/zoneConfig/records", json!([record]))
}

fn invalid_create_bodies() -> Vec<(&'static str, Value)> {
    let long_label = format!("{}.test", "a".repeat(64));
    let long_name = format!("{}.test", vec!["abcdefghij"; 25].join("."));
    vec![
        ("empty name", with("/zoneName", json!(""))),
        ("root", with("/zoneName", json!("."))),
        ("empty label", with("/zoneName", json!("a..b.test"))),
        ("dot-dot path", with("/zoneName", json!("../../etc/passwd"))),
        ("slash", with("/zoneName", json!("a/b.test"))),
        ("space", with("/zoneName", json!("a b.test"))),
        ("double quote", with("/zoneName", json!("a\"b.test"))),
        ("single quote", with("/zoneName", json!("a'b.test"))),
        ("semicolon", with("/zoneName", json!("a;b.test"))),
        ("open brace", with("/zoneName", json!("a{b.test"))),
        ("close brace", with("/zoneName", json!("a}b.test"))),
        ("newline", with("/zoneName", json!("a\nb.test"))),
        ("nul", with("/zoneName", json!("a\u{0}b.test"))),
        ("leading dash", with("/zoneName", json!("-lead.test"))),
        ("label over 63", with("/zoneName", json!(long_label))),
        ("name over 253", with("/zoneName", json!(long_name))),
        ("non-ascii", with("/zoneName", json!("bücher.test"))),
        ("wildcard", with("/zoneName", json!("*.test"))),
        (
            "rndc injection in name",
            with(
                "/zoneName",
                json!("x.test { type primary; file \"/etc/passwd\"; };"),
            ),
        ),
        ("zoneType master", with("/zoneType", json!("master"))),
        ("zoneName not a string", with("/zoneName", json!(42))),
        ("ttl negative", with("/zoneConfig/ttl", json!(-1))),
        ("missing soa", {
            let mut body = primary_zone("valid.test");
            body["zoneConfig"].as_object_mut().map(|c| c.remove("soa"));
            body
        }),
        (
            "no name servers",
            with("/zoneConfig/nameServers", json!([])),
        ),
        (
            "name server with space",
            with("/zoneConfig/nameServers", json!(["ns1.valid.test. ; x"])),
        ),
        (
            "soa primaryNs injection",
            with(
                "/zoneConfig/soa/primaryNs",
                json!("ns1.valid.test.\n$INCLUDE /etc/shadow"),
            ),
        ),
        (
            "soa adminEmail with @",
            with("/zoneConfig/soa/adminEmail", json!("admin@valid.test")),
        ),
        (
            "glue not an IP",
            with(
                "/zoneConfig/nameServerIps",
                json!({"ns1.valid.test.": "localhost"}),
            ),
        ),
        (
            "A not IPv4",
            with_record(json!({"name": "www", "type": "A", "value": "999.0.0.1"})),
        ),
        (
            "AAAA not IPv6",
            with_record(json!({"name": "www", "type": "AAAA", "value": "192.0.2.1"})),
        ),
        (
            "TXT unbalanced quote",
            with_record(json!({"name": "t", "type": "TXT", "value": "\"open"})),
        ),
        (
            "TXT newline",
            with_record(json!({"name": "t", "type": "TXT", "value": "\"a\"\n@ IN NS evil."})),
        ),
        (
            "TXT directive",
            with_record(json!({"name": "t", "type": "TXT", "value": "$INCLUDE /etc/passwd"})),
        ),
        (
            "record name directive",
            with_record(json!({"name": "$GENERATE", "type": "A", "value": "192.0.2.1"})),
        ),
        (
            "record type HINFO",
            with_record(json!({"name": "h", "type": "HINFO", "value": "x y"})),
        ),
        (
            "priority on A",
            with_record(json!({"name": "www", "type": "A", "value": "192.0.2.1", "priority": 5})),
        ),
        (
            "MX without preference",
            with_record(json!({"name": "@", "type": "MX", "value": "mail.valid.test."})),
        ),
        (
            "secondary without primaries",
            json!({"zoneName": "s.test", "zoneType": "secondary", "zoneConfig": {}}),
        ),
        (
            "primaries injection",
            json!({"zoneName": "s.test", "zoneType": "secondary",
                   "zoneConfig": {"primaries": ["10.0.0.1; }; also-notify { 1.2.3.4"]}}),
        ),
        (
            "primaries with bad port",
            json!({"zoneName": "s.test", "zoneType": "secondary",
                   "zoneConfig": {"primaries": ["10.0.0.1:70000"]}}),
        ),
        (
            "alsoNotify hostname",
            with("/zoneConfig/alsoNotify", json!(["ns2.example.test"])),
        ),
        (
            "allowTransfer injection",
            with(
                "/zoneConfig/allowTransfer",
                json!(["any; }; allow-update { any"]),
            ),
        ),
        (
            "allowTransfer prefix too long",
            with("/zoneConfig/allowTransfer", json!(["10.0.0.0/33"])),
        ),
        ("updateKeyName injection", {
            let mut body = primary_zone("valid.test");
            body["updateKeyName"] = json!("k\"; }; allow-update { any; };");
            body
        }),
        (
            "dnssecPolicy injection",
            with(
                "/zoneConfig/dnssecPolicy",
                json!("default\"; inline-signing no"),
            ),
        ),
        ("body is an array", json!([primary_zone("valid.test")])),
        ("body is a string", json!("valid.test")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_names_and_bodies_are_400_and_leave_no_trace() {
    let stack = Stack::start();
    let api = &stack.client;
    let before = snapshot(stack.named.zone_dir());
    let cases = invalid_create_bodies();
    assert!(cases.len() >= 20);
    for (case, body) in &cases {
        let (status, reply) = api.create(body).await;
        assert_eq!(status, 400, "{case}: {reply}");
        let error = reply["error"].as_str().unwrap_or_default();
        assert!(error.starts_with("Invalid request: "), "{case}: {reply}");
        assert!(
            reply.get("details").is_some(),
            "{case}: no details key: {reply}"
        );
    }

    // Bodies that are not JSON at all
    let http = reqwest::Client::new();
    for raw in ["{", "zoneName=x", "{\"zoneName\": \"x.test\",}"] {
        let response = http
            .post(stack.backend.url("/api/v1/zones"))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 400, "{raw}");
        let reply: Value = response.json().await.expect("JSON error body");
        assert!(
            reply["error"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Invalid request"),
            "{reply}"
        );
    }
    let response = http
        .post(stack.backend.url("/api/v1/zones"))
        .body(primary_zone("valid.test").to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 415);

    // Invalid names in the path, on every route that takes one
    for name in [
        "a..b",
        "a%2Fb",
        "a%20b",
        "a%22b",
        "a%3Bb.test",
        "-x.test",
        "%0Aevil",
        "a%7Bb",
        "x%00",
    ] {
        for (method, suffix) in [
            ("GET", ""),
            ("DELETE", ""),
            ("GET", "/status"),
            ("POST", "/reload"),
            ("POST", "/freeze"),
            ("POST", "/thaw"),
            ("POST", "/notify"),
            ("POST", "/retransfer"),
        ] {
            let path = format!("/api/v1/zones/{name}{suffix}");
            let (status, reply) = api.send(method, &path, None).await;
            assert_eq!(status, 400, "{method} {path}: {reply}");
        }
        let (status, _) = api
            .patch(
                &format!("/api/v1/zones/{name}"),
                &json!({"allowTransfer": []}),
            )
            .await;
        assert_eq!(status, 400, "PATCH {name}");
    }

    // PATCH bodies
    for body in [
        json!({}),
        json!({"allowTransfer": ["nope"]}),
        json!({"alsoNotify": ["1.2.3.4:99999"]}),
        json!({"allowUpdate": ["10.0.0.1; }; allow-transfer { any"]}),
        json!({"allowTransfer": "10.0.0.1"}),
    ] {
        let (status, reply) = api.patch("/api/v1/zones/valid.test", &body).await;
        assert_eq!(status, 400, "{body}: {reply}");
    }

    // Nothing was written, and named never received a zone command
    assert_eq!(snapshot(stack.named.zone_dir()), before);
    let (_, metrics) = api.get_text("/metrics").await;
    assert!(
        !metrics
            .lines()
            .any(|l| l.starts_with("bindcar_rndc_commands_total{")),
        "an rndc command was sent:\n{metrics}"
    );
    let log = stack.named.log();
    assert!(
        !log.contains("addzone") && !log.contains("modzone"),
        "named log:\n{log}"
    );
    assert!(api.zones().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_messages_say_what_is_wrong() {
    let stack = Stack::start();
    let api = &stack.client;
    for (body, expected) in [
        (with("/zoneName", json!("")), "Invalid request: Zone name cannot be empty"),
        (with("/zoneName", json!("a..b")), "Invalid request: Zone name must not contain empty labels"),
        (with("/zoneName", json!("a b")), "Invalid request: Zone name contains invalid character: ' '"),
        (
            json!({"zoneName": "s.test", "zoneType": "secondary", "zoneConfig": {}}),
            "Invalid request: Secondary zones require at least one primary server in 'primaries' field",
        ),
        (with("/zoneType", json!("master")), "unknown variant `master`"),
        (
            with_record(json!({"name": "h", "type": "HINFO", "value": "x"})),
            "Invalid request: records[0]: Invalid record type: \"HINFO\"",
        ),
    ] {
        let (status, reply) = api.create(&body).await;
        assert_eq!(status, 400);
        let error = reply["error"].as_str().unwrap_or_default();
        assert!(error.contains(expected), "expected {expected:?} in {error:?}");
    }
    let (status, reply) = api.patch("/api/v1/zones/x.test", &json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(
        reply["error"],
        "Invalid request: At least one field (alsoNotify, allowTransfer, allowUpdate, dnssecPolicy, \
         inlineSigning, or primaries) must be provided"
    );
}
