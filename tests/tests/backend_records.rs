//! Over 400 lines: one file for the records API end to end, sharing the named-with-two-keys stack.
//! The records API against a real named: RFC 2136 UPDATEs signed with the test named's own TSIG
//! key, sent by the backend itself. Every change is checked with `dig`; each DNS answer maps to
//! one status with BIND's rcode in `details`.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bindcar_testbed::backend::Backend;
use bindcar_testbed::named::{Named, NamedOptions};
use common::{dynamic_zone, primary_zone, Client};
use serde_json::{json, Value};

/// A named with a second key that no zone allows, and a backend signing with `rndc-key`.
struct RecordStack {
    named: Named,
    backend: Backend,
    api: Client,
    other_secret: String,
}

const OTHER_SECRET: &str = "c2Vjb25kLWtleS1mb3ItdGVzdHMtb25seS0xMjM0NTY3ODk=";

fn start() -> RecordStack {
    let named = Named::start(NamedOptions {
        extra_config: format!(
            "key \"other-key\" {{ algorithm hmac-sha256; secret \"{OTHER_SECRET}\"; }};\n"
        ),
        ..NamedOptions::default()
    });
    let backend = Backend::start(backend_env(&named, &[]));
    let api = Client::new(backend.base_url(), None);
    RecordStack {
        named,
        backend,
        api,
        other_secret: OTHER_SECRET.into(),
    }
}

fn backend_env(named: &Named, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = named.backend_env();
    env.push(("DISABLE_AUTH".into(), "true".into()));
    env.push(("NSUPDATE_SERVER".into(), "127.0.0.1".into()));
    env.push(("NSUPDATE_PORT".into(), named.dns_port().to_string()));
    for (k, v) in extra {
        env.push((k.to_string(), v.to_string()));
    }
    env
}

fn serial(named: &Named, zone: &str) -> String {
    named
        .dig(zone, "SOA")
        .join(" ")
        .split(' ')
        .nth(2)
        .unwrap_or_default()
        .to_string()
}

async fn put(api: &Client, path: &str, body: &Value) -> (u16, Value) {
    api.send("PUT", path, Some(body)).await
}

async fn delete(api: &Client, path: &str, body: &Value) -> (u16, Value) {
    api.send("DELETE", path, Some(body)).await
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_api_changes_what_named_serves() {
    let RecordStack {
        named,
        backend,
        api,
        ..
    } = start();
    let (status, body) = api
        .create(&dynamic_zone("rec.test", named.key_name()))
        .await;
    assert_eq!(status, 201, "{body}");
    let path = "/api/v1/zones/rec.test/records";

    // POST adds a record (ttl defaults to 3600)
    let (status, body) = api
        .post(
            path,
            &json!({"name": "new", "type": "a", "value": "192.0.2.50", "extra": 1}),
        )
        .await;
    assert_eq!(status, 201, "{body}\n{}", backend.logs());
    assert_eq!(body["message"], "Record added to zone rec.test");
    assert_eq!(named.dig("new.rec.test", "A"), ["192.0.2.50"]);
    // absolute names inside the zone and MX with a priority. named refuses (REFUSED, its call,
    // reported as is) an MX RRset whose in-zone targets have no address: give them one first
    let mx = json!({"name": "rec.test.", "type": "MX", "value": "mx2.rec.test.", "priority": 20, "ttl": 60});
    let (status, body) = api.post(path, &mx).await;
    assert_eq!(
        (status, &body["details"]),
        (403, &json!("REFUSED")),
        "{body}"
    );
    for host in ["mx2.rec.test", "mail"] {
        let (status, body) = api
            .post(
                path,
                &json!({"name": host, "type": "A", "value": "192.0.2.25"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = api
        .post(path, &json!({"name": "rec.test.", "type": "MX", "value": "mx2.rec.test.", "priority": 20, "ttl": 60}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        sorted(named.dig("rec.test", "MX")),
        ["10 mail.rec.test.", "20 mx2.rec.test."]
    );

    // GET reads what named serves, filtered, with the serial
    let (status, body) = api.get(&format!("{path}?name=new&type=A")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["records"],
        json!([{"name": "new.rec.test.", "type": "A", "ttl": 3600, "value": "192.0.2.50"}])
    );
    assert_eq!(body["count"], 1);
    assert_eq!(body["serial"].to_string(), serial(&named, "rec.test"));
    let (status, all) = api.get(path).await;
    assert_eq!(status, 200, "{all}");
    assert!(all["count"].as_u64().unwrap_or(0) >= 8, "{all}");

    // PUT replaces one value in one UPDATE
    let (status, body) = put(
        &api,
        path,
        &json!({"name": "new", "type": "A", "currentValue": "192.0.2.50", "newValue": "192.0.2.51", "ttl": 120}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(named.dig("new.rec.test", "A"), ["192.0.2.51"]);
    // ... and needs an RRset to update: NXRRSET → 409 with the rcode
    let (status, body) = put(
        &api,
        path,
        &json!({"name": "nothing", "type": "A", "currentValue": "192.0.2.1", "newValue": "192.0.2.2"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["details"], "NXRRSET");
    assert!(named.dig("nothing.rec.test", "A").is_empty());

    // DELETE one value, then a whole RRset; deleting again is still 200
    let (status, body) = delete(
        &api,
        path,
        &json!({"name": "@", "type": "MX", "value": "20 mx2.rec.test."}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(named.dig("rec.test", "MX"), ["10 mail.rec.test."]);
    for _ in 0..2 {
        let (status, body) = delete(&api, path, &json!({"name": "new", "type": "A"})).await;
        assert_eq!(status, 200, "{body}");
    }
    assert!(named.dig("new.rec.test", "A").is_empty());

    // PUT rrsets replaces the whole set; the same PUT twice is idempotent; [] deletes it
    let rrset = "/api/v1/zones/rec.test/rrsets/multi/A";
    for _ in 0..2 {
        let (status, body) = put(
            &api,
            rrset,
            &json!({"ttl": 60, "values": ["192.0.2.1", "192.0.2.2"]}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            sorted(named.dig("multi.rec.test", "A")),
            ["192.0.2.1", "192.0.2.2"]
        );
    }
    let (status, _) = put(&api, rrset, &json!({"ttl": 60, "values": ["192.0.2.3"]})).await;
    assert_eq!(status, 200);
    assert_eq!(named.dig("multi.rec.test", "A"), ["192.0.2.3"]);
    let (status, _) = put(&api, rrset, &json!({"values": []})).await;
    assert_eq!(status, 200);
    assert!(named.dig("multi.rec.test", "A").is_empty());
    let (status, body) = put(
        &api,
        "/api/v1/zones/rec.test/rrsets/@/TXT",
        &json!({"values": ["\"a b\" \"c\""]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(named.dig("rec.test", "TXT"), ["\"a b\" \"c\""]);

    // Bad input: 400 naming the field, and nothing reaches named (the serial stays)
    let before = serial(&named, "rec.test");
    let long_txt = format!("\"{}\"", "x".repeat(256));
    let huge = "y".repeat(70 * 1024);
    let bad: Vec<(Value, &str)> = vec![
        (
            json!({"name": "w", "type": "HINFO", "value": "x"}),
            "Invalid record type",
        ),
        (
            json!({"name": "w", "type": "A", "value": ""}),
            "value cannot be empty",
        ),
        (
            json!({"name": "w", "type": "TXT", "value": "a\nb"}),
            "control characters",
        ),
        (
            json!({"name": "w", "type": "A", "value": "2001:db8::1"}),
            "A value",
        ),
        (
            json!({"name": "w", "type": "AAAA", "value": "192.0.2.1"}),
            "AAAA value",
        ),
        (
            json!({"name": "w", "type": "CNAME", "value": "target"}),
            "absolute",
        ),
        (
            json!({"name": "w", "type": "NS", "value": "ns.other"}),
            "absolute",
        ),
        (
            json!({"name": "w", "type": "PTR", "value": "p"}),
            "absolute",
        ),
        (
            json!({"name": "w", "type": "MX", "value": "mail.rec.test."}),
            "MX value",
        ),
        (
            json!({"name": "w", "type": "SRV", "value": "5 5060 sip.rec.test."}),
            "SRV value",
        ),
        (
            json!({"name": "w", "type": "TXT", "value": "\"open"}),
            "unbalanced",
        ),
        (
            json!({"name": "w", "type": "TXT", "value": long_txt}),
            "255 bytes",
        ),
        (
            json!({"name": "fooexample.rec.test.other.", "type": "A", "value": "192.0.2.1"}),
            "outside zone",
        ),
        (
            json!({"name": "foorec.test", "type": "A", "value": "192.0.2.1"}),
            "outside zone",
        ),
        (
            json!({"name": "a.*.b", "type": "A", "value": "192.0.2.1"}),
            "name",
        ),
        (
            json!({"name": "w", "type": "A", "value": "192.0.2.1", "ttl": 2147483648u64}),
            "ttl",
        ),
    ];
    for (request, words) in bad {
        let (status, body) = api.post(path, &request).await;
        assert_eq!(status, 400, "{request}: {body}");
        let error = body["error"].as_str().unwrap_or_default().to_string();
        assert!(error.contains(words), "{words:?} not in {error:?}");
    }
    // A body over the records API's 64 KiB: 413
    let (status, body) = api
        .post(path, &json!({"name": "w", "type": "TXT", "value": huge}))
        .await;
    assert_eq!(status, 413, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap_or_default()
        .contains("length limit"));
    assert_eq!(serial(&named, "rec.test"), before, "nothing was sent");

    // Unknown zone → 404; a zone without allow-update → 400 with bindcar's message
    let (status, _) = api
        .post(
            "/api/v1/zones/nope.test/records",
            &json!({"name": "w", "type": "A", "value": "192.0.2.1"}),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(api.create(&primary_zone("static.test")).await.0, 201);
    let (status, body) = api
        .post(
            "/api/v1/zones/static.test/records",
            &json!({"name": "w", "type": "A", "value": "192.0.2.1"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"],
        "Dynamic updates not enabled: Zone static.test does not have allow-update configured. \
         Create zone with updateKeyName or modify zone to enable dynamic updates"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_keys_are_403_naming_the_key() {
    let stack = start();
    let (status, body) = stack
        .api
        .create(&dynamic_zone("keys.test", stack.named.key_name()))
        .await;
    assert_eq!(status, 201, "{body}");
    let record = json!({"name": "w", "type": "A", "value": "192.0.2.1"});
    // A key named knows but the zone does not allow: REFUSED
    let other = Backend::start(backend_env(
        &stack.named,
        &[
            ("NSUPDATE_KEY_NAME", "other-key"),
            ("NSUPDATE_SECRET", &stack.other_secret),
        ],
    ));
    let (status, body) = Client::new(other.base_url(), None)
        .post("/api/v1/zones/keys.test/records", &record)
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["details"], "REFUSED");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("\"other-key\""),
        "{body}"
    );
    // A key named does not know: NOTAUTH (TSIG BADKEY)
    let unknown = Backend::start(backend_env(
        &stack.named,
        &[
            ("NSUPDATE_KEY_NAME", "ghost-key"),
            ("NSUPDATE_SECRET", &stack.other_secret),
        ],
    ));
    let (status, body) = Client::new(unknown.base_url(), None)
        .post("/api/v1/zones/keys.test/records", &record)
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["details"], "NOTAUTH");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("\"ghost-key\""),
        "{body}"
    );
    // Nobody listening: 503
    let down = Backend::start(backend_env(&stack.named, &[("NSUPDATE_PORT", "1")]));
    let (status, body) = Client::new(down.base_url(), None)
        .post("/api/v1/zones/keys.test/records", &record)
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(stack.named.dig("w.keys.test", "A").is_empty());
    // and the right key still works
    let (status, body) = stack
        .api
        .post("/api/v1/zones/keys.test/records", &record)
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(stack.named.dig("w.keys.test", "A"), ["192.0.2.1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rrset_replace_is_atomic_for_a_concurrent_reader() {
    let stack = start();
    let (status, body) = stack
        .api
        .create(&dynamic_zone("atomic.test", stack.named.key_name()))
        .await;
    assert_eq!(status, 201, "{body}");
    let path = "/api/v1/zones/atomic.test/rrsets/flip/A";
    let old = vec!["192.0.2.1".to_string(), "192.0.2.2".to_string()];
    let new = vec!["198.51.100.1".to_string(), "198.51.100.2".to_string()];
    assert_eq!(
        put(&stack.api, path, &json!({"ttl": 30, "values": old}))
            .await
            .0,
        200
    );

    let named = Arc::new(stack.named);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (named, stop, old, new) = (named.clone(), stop.clone(), old.clone(), new.clone());
        std::thread::spawn(move || {
            let mut seen = 0usize;
            let mut bad = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let answer = sorted(named.dig("flip.atomic.test", "A"));
                if answer != old && answer != new {
                    bad.push(answer);
                }
                seen += 1;
            }
            (seen, bad)
        })
    };
    for i in 0..20 {
        let values = if i % 2 == 0 { &new } else { &old };
        let (status, body) = put(&stack.api, path, &json!({"ttl": 30, "values": values})).await;
        assert_eq!(status, 200, "{body}");
    }
    stop.store(true, Ordering::Relaxed);
    let (seen, bad) = reader.join().expect("reader");
    assert!(seen > 0);
    assert!(
        bad.is_empty(),
        "dig saw neither the old nor the new set: {bad:?}"
    );
    assert_eq!(sorted(named.dig("flip.atomic.test", "A")), old);
}

/// Every change named would silently skip (RFC 2136 §3.4.2) is refused with a status and
/// words saying why, and the zone transfer before and after is the same (serial included);
/// every success is what named then holds, counts included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_never_claim_a_change_named_skipped() {
    let RecordStack {
        named,
        api,
        backend: _backend,
        ..
    } = start();
    let (status, body) = api
        .create(&dynamic_zone("truth.test", named.key_name()))
        .await;
    assert_eq!(status, 201, "{body}");
    let path = "/api/v1/zones/truth.test/records";
    let rrset =
        |owner: &str, rtype: &str| format!("/api/v1/zones/truth.test/rrsets/{owner}/{rtype}");
    for (name, rtype, value) in [("w", "A", "192.0.2.1"), ("c", "CNAME", "t.truth.test.")] {
        let (status, body) = api
            .post(path, &json!({"name": name, "type": rtype, "value": value}))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let hundred: Vec<String> = (0..100).map(|i| format!("10.0.0.{i}")).collect();
    let (status, body) = put(&api, &rrset("big", "A"), &json!({"values": hundred})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        "RRset big A of zone truth.test replaced (100 values)"
    );
    assert_eq!(named.dig("big.truth.test", "A").len(), 100);

    // (method, path, body, status, words in the error)
    let mut many: Vec<String> = hundred.clone();
    many.push("10.0.1.1".into());
    let refused: Vec<(&str, String, Value, u16, &str)> = vec![
        (
            "POST",
            path.into(),
            json!({"name": "w", "type": "CNAME", "value": "x.truth.test."}),
            409,
            "already holds other records",
        ),
        (
            "POST",
            path.into(),
            json!({"name": "c", "type": "A", "value": "192.0.2.9"}),
            409,
            "is an alias",
        ),
        (
            "POST",
            path.into(),
            json!({"name": "c", "type": "TXT", "value": "\"x\""}),
            409,
            "is an alias",
        ),
        (
            "POST",
            path.into(),
            json!({"name": "c", "type": "CNAME", "value": "other.truth.test."}),
            409,
            "a CNAME to another target",
        ),
        (
            "POST",
            path.into(),
            json!({"name": "@", "type": "CNAME", "value": "x.truth.test."}),
            400,
            "zone apex",
        ),
        (
            "PUT",
            rrset("@", "CNAME"),
            json!({"values": ["x.truth.test."]}),
            400,
            "zone apex",
        ),
        (
            "DELETE",
            path.into(),
            json!({"name": "@", "type": "NS"}),
            400,
            "cannot all be deleted",
        ),
        (
            "DELETE",
            path.into(),
            json!({"name": "@", "type": "NS", "value": "ns1.truth.test."}),
            409,
            "the only NS record",
        ),
        (
            "DELETE",
            path.into(),
            json!({"name": "@", "type": "SOA"}),
            400,
            "Invalid record type: \"SOA\"",
        ),
        (
            "DELETE",
            path.into(),
            json!({"name": "@", "type": "SOA", "value": "x"}),
            400,
            "Invalid record type",
        ),
        (
            "PUT",
            rrset("@", "NS"),
            json!({"values": []}),
            400,
            "cannot all be deleted",
        ),
        (
            "PUT",
            rrset("w", "CNAME"),
            json!({"values": ["x.truth.test."]}),
            409,
            "other than a CNAME",
        ),
        (
            "PUT",
            rrset("c", "MX"),
            json!({"values": ["10 mail.truth.test."]}),
            409,
            "is an alias",
        ),
        (
            "PUT",
            rrset("c2", "CNAME"),
            json!({"values": ["a.truth.test.", "b.truth.test."]}),
            400,
            "at most one CNAME",
        ),
        (
            "PUT",
            rrset("big", "A"),
            json!({"values": many}),
            400,
            "max-records-per-type",
        ),
        (
            "POST",
            path.into(),
            json!({"name": "big", "type": "A", "value": "10.0.1.1"}),
            409,
            "already holds 100 A records",
        ),
        (
            "POST",
            path.into(),
            json!({"name": "@", "type": "CAA", "value": "0 is sue \"x\""}),
            400,
            "more than one word",
        ),
        (
            "POST",
            path.into(),
            json!({"name": "@", "type": "CAA", "value": "0 issue \"x\" \"y\""}),
            400,
            "one quoted string",
        ),
    ];
    let tried = refused.len();
    for (method, uri, request, expected, words) in refused {
        let before = named.axfr("truth.test");
        assert!(before.len() > 100, "{before:?}");
        let (status, body) = api.send(method, &uri, Some(&request)).await;
        assert_eq!(status, expected, "{method} {uri} {request}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(words),
            "{method} {uri} {request}: {words:?} not in {error:?}"
        );
        assert_eq!(
            named.axfr("truth.test"),
            before,
            "{method} {uri} {request} changed the zone"
        );
    }
    println!("records: {tried} changes named would skip, all refused, the zone unchanged");

    // What succeeds is what named holds
    let (status, body) = put(
        &api,
        &rrset("c", "CNAME"),
        &json!({"values": ["u.truth.test."]}),
    )
    .await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            200,
            json!("RRset c CNAME of zone truth.test replaced (1 values)")
        ),
        "{body}"
    );
    assert_eq!(named.dig("c.truth.test", "CNAME"), ["u.truth.test."]);
    // the same CNAME again: idempotent; a fresh name: added
    for name in ["c", "fresh"] {
        let (status, body) = api
            .post(
                path,
                &json!({"name": name, "type": "CNAME", "value": "u.truth.test."}),
            )
            .await;
        assert_eq!(status, 201, "{name}: {body}");
        assert_eq!(
            named.dig(&format!("{name}.truth.test"), "CNAME"),
            ["u.truth.test."]
        );
    }
    // duplicates are one record, and the message counts what named holds
    let (status, body) = put(
        &api,
        &rrset("d", "AAAA"),
        &json!({"values": ["2001:db8::1", "2001:DB8:0::1"]}),
    )
    .await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            200,
            json!("RRset d AAAA of zone truth.test replaced (1 values)")
        )
    );
    assert_eq!(named.dig("d.truth.test", "AAAA"), ["2001:db8::1"]);

    // The apex NS set is replaced, not merged, and shrinks down to one but not to none
    let (status, body) = put(
        &api,
        &rrset("@", "NS"),
        &json!({"values": ["ns1.truth.test.", "ns.other.example."]}),
    )
    .await;
    assert_eq!(
        (status, body["message"].clone()),
        (
            200,
            json!("RRset @ NS of zone truth.test replaced (2 values)")
        ),
        "{body}"
    );
    assert_eq!(
        sorted(named.dig("truth.test", "NS")),
        ["ns.other.example.", "ns1.truth.test."]
    );
    let (status, body) = delete(
        &api,
        path,
        &json!({"name": "@", "type": "NS", "value": "ns1.truth.test."}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(named.dig("truth.test", "NS"), ["ns.other.example."]);
    let (status, body) = put(
        &api,
        &rrset("@", "NS"),
        &json!({"values": ["ns2.other.example."]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(named.dig("truth.test", "NS"), ["ns2.other.example."]);
    // one value for another: the only NS record is replaced, not kept beside the new one
    let (status, body) = put(
        &api,
        path,
        &json!({"name": "@", "type": "NS", "currentValue": "ns2.other.example.", "newValue": "ns1.truth.test."}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(named.dig("truth.test", "NS"), ["ns1.truth.test."]);

    // CAA: flags, tag and value stored exactly as sent (a bare value is quoted), and read back
    // the same through the API
    let caa = [
        (
            "0 issue \"letsencrypt.org; validationmethods=dns-01\"",
            "0 issue \"letsencrypt.org; validationmethods=dns-01\"",
        ),
        ("128 tbs \"Unknown\"", "128 tbs \"Unknown\""),
        (
            "0 iodef \"mailto:security@truth.test\"",
            "0 iodef \"mailto:security@truth.test\"",
        ),
        ("0 issue \";\"", "0 issue \";\""),
        (
            "0 issuewild letsencrypt.org",
            "0 issuewild \"letsencrypt.org\"",
        ),
        ("0 is \"sue x\"", "0 is \"sue x\""),
    ];
    for (value, _) in caa {
        let (status, body) = api
            .post(path, &json!({"name": "@", "type": "CAA", "value": value}))
            .await;
        assert_eq!(status, 201, "{value}: {body}");
    }
    let expected = sorted(caa.iter().map(|(_, stored)| stored.to_string()).collect());
    assert_eq!(sorted(named.dig("truth.test", "CAA")), expected);
    let (status, body) = api.get(&format!("{path}?name=@&type=CAA")).await;
    assert_eq!(status, 200, "{body}");
    let listed: Vec<String> = body["records"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|r| r["value"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(sorted(listed), expected);
}
