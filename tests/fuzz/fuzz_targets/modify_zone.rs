//! `PATCH /api/v1/zones/{name}` bodies: JSON → `ModifyZoneRequest` → `plan_modify`, applied to
//! a zone as named shows it, as `change.rs` does.
//! Properties: the `modzone` block reads back as the same statements; each replaced list holds
//! exactly the planned entries (an empty list removes the statement); statements the request
//! did not name are kept verbatim.
#![no_main]

use bindcar::bind::ShownZone;
use bindcar::zones::plan::plan_modify;
use bindcar::zones::request::ModifyZoneRequest;
use libfuzzer_sys::fuzz_target;

const SHOWN: &str = "zone \"ok.test\" { type primary; file \"/var/lib/bind/ok.test.zone\"; \
    allow-transfer { 127.0.0.1/32; 10.0.0.0/8; }; allow-update { key \"rndc-key\"; }; \
    also-notify { 10.0.0.1 port 53; }; notify explicit; };";

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<ModifyZoneRequest>(data) else {
        return;
    };
    let Ok(plan) = plan_modify(&request) else {
        return;
    };
    let Ok(original) = ShownZone::parse(SHOWN) else {
        panic!("sample does not parse")
    };
    let mut shown = original.clone();
    let mut touched = Vec::new();
    if let Some(list) = &plan.also_notify {
        shown.set_list("also-notify", list);
        touched.push((
            "also-notify",
            list.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        ));
    }
    if let Some(list) = &plan.allow_transfer {
        shown.set_list("allow-transfer", list);
        touched.push((
            "allow-transfer",
            list.iter().map(|e| e.to_string()).collect(),
        ));
    }
    if let Some(list) = &plan.allow_update {
        shown.set_list("allow-update", list);
        touched.push(("allow-update", list.iter().map(|e| e.to_string()).collect()));
    }
    let block = shown.render_block();
    let back = ShownZone::parse(&format!("zone \"ok.test\" {block}"))
        .unwrap_or_else(|e| panic!("modzone block does not read back ({e}): {block}"));
    assert_eq!(back, shown, "{block}");
    for (keyword, items) in &touched {
        match back.get(keyword) {
            None => assert!(items.is_empty(), "{keyword} dropped: {block}"),
            Some(s) => {
                let expected = format!(
                    "{keyword} {{ {} }}",
                    items
                        .iter()
                        .map(|i| format!("{i};"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
                assert_eq!(s.text, expected);
            }
        }
    }
    for s in &original.statements {
        if !touched.iter().any(|(k, _)| *k == s.keyword) {
            assert_eq!(back.get(&s.keyword), Some(s), "untouched statement changed");
        }
    }
});
