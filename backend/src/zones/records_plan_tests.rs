//! The records plans, pure: what each call sends and what each refusal says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::records_plan::*;
use super::records_request::{
    AddRecordRequest, RemoveRecordRequest, RrsetRequest, UpdateRecordRequest,
};
use super::records_update::RecordError;
use crate::bind::update::{Change, Prerequisite};
use crate::bind::ZoneName;

fn zone() -> ZoneName {
    ZoneName::parse("example.test").unwrap()
}

fn add_call(name: &str, rtype: &str, value: &str) -> RecordCall {
    RecordCall::Add(AddRecordRequest {
        name: name.into(),
        record_type: rtype.into(),
        value: value.into(),
        ttl: 60,
        priority: None,
    })
}

fn replace_call(owner: &str, rtype: &str, values: &[&str]) -> RecordCall {
    RecordCall::Replace {
        owner: owner.into(),
        record_type: rtype.into(),
        request: RrsetRequest {
            ttl: 60,
            values: values.iter().map(|v| v.to_string()).collect(),
        },
    }
}

fn remove_call(name: &str, rtype: &str, value: Option<&str>) -> RecordCall {
    RecordCall::Remove(RemoveRecordRequest {
        name: name.into(),
        record_type: rtype.into(),
        value: value.map(str::to_owned),
    })
}

fn ready(call: &RecordCall, current: Option<&[String]>) -> RecordPlan {
    match plan(&zone(), call, 100, current).unwrap() {
        Planned::Ready(p) => p,
        Planned::NeedsApexNs => panic!("needs the apex NS"),
    }
}

fn invalid(call: &RecordCall) -> String {
    match plan(&zone(), call, 100, None) {
        Err(RecordError::Invalid(why)) => why,
        other => panic!("{other:?}"),
    }
}

fn ns(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

#[test]
fn data_beside_a_cname_is_refused_by_named_not_skipped() {
    let p = ready(&add_call("w", "A", "192.0.2.1"), None);
    assert_eq!(p.steps.len(), 1);
    assert_eq!(
        p.steps[0].prerequisites,
        [Prerequisite::RrsetAbsent {
            name: "w.example.test.".into(),
            rtype: "CNAME".into()
        }]
    );
    assert!(p.clash.unwrap().contains("is an alias"));
    assert_eq!(p.grows, Some(("w.example.test.".into(), "A".into())));
    // the same guard on a replace with values (not on one that empties the RRset)
    let p = ready(&replace_call("w", "TXT", &["\"x\""]), None);
    assert!(matches!(
        p.steps[0].prerequisites[..],
        [Prerequisite::RrsetAbsent { .. }]
    ));
    let p = ready(&replace_call("w", "TXT", &[]), None);
    assert!(p.steps[0].prerequisites.is_empty());
}

#[test]
fn a_cname_goes_on_an_unused_name_or_over_the_same_cname() {
    let p = ready(&add_call("c", "CNAME", "t.example.test."), None);
    assert_eq!(p.steps.len(), 2);
    assert_eq!(
        p.steps[0].prerequisites,
        [Prerequisite::NameUnused {
            name: "c.example.test.".into()
        }]
    );
    assert_eq!(
        p.steps[1].prerequisites,
        [Prerequisite::RrsetEquals {
            name: "c.example.test.".into(),
            rtype: "CNAME".into(),
            rdatas: vec!["t.example.test.".into()]
        }]
    );
    assert!(p
        .clash
        .unwrap()
        .contains("PUT /api/v1/zones/example.test/rrsets/c/CNAME"));
    // a replace takes any CNAME there, never other data
    let p = ready(&replace_call("c", "CNAME", &["u.example.test."]), None);
    assert_eq!(
        p.steps[1].prerequisites,
        [Prerequisite::RrsetExists {
            name: "c.example.test.".into(),
            rtype: "CNAME".into()
        }]
    );
    assert!(matches!(
        p.steps[1].changes[..],
        [Change::DeleteRrset { .. }, Change::Add { .. }]
    ));
    assert!(p.clash.unwrap().contains("other than a CNAME"));
}

#[test]
fn cnames_that_can_never_apply_are_refused_before_sending() {
    assert!(invalid(&add_call("@", "CNAME", "t.example.test.")).contains("zone apex"));
    assert!(invalid(&replace_call("@", "CNAME", &["t.example.test."])).contains("zone apex"));
    let update = RecordCall::Update(UpdateRecordRequest {
        name: "example.test.".into(),
        record_type: "CNAME".into(),
        current_value: "a.example.".into(),
        new_value: "b.example.".into(),
        ttl: 60,
        priority: None,
    });
    assert!(invalid(&update).contains("zone apex"));
    let two = invalid(&replace_call("c", "CNAME", &["a.example.", "b.example."]));
    assert!(two.contains("at most one CNAME"), "{two}");
    // the same target twice is one CNAME
    let p = ready(
        &replace_call("c", "CNAME", &["a.example.", "A.EXAMPLE."]),
        None,
    );
    assert_eq!(p.holds, 1);
}

#[test]
fn values_are_counted_as_named_counts_them_and_held_to_its_limit() {
    let p = ready(
        &replace_call(
            "m",
            "AAAA",
            &["2001:db8::1", "2001:DB8:0::1", "2001:db8::2"],
        ),
        None,
    );
    assert_eq!(p.holds, 2);
    assert_eq!(p.steps[0].changes.len(), 3, "delete + two adds");
    let many: Vec<String> = (0..101).map(|i| format!("10.0.0.{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let over = invalid(&replace_call("m", "A", &many));
    assert!(over.contains("101 distinct values"), "{over}");
    assert!(over.contains("max-records-per-type"), "{over}");
    assert!(ready(&replace_call("m", "A", &many[..100]), None).holds == 100);
    // 0: no limit
    assert!(matches!(
        plan(&zone(), &replace_call("m", "A", &many), 0, None),
        Ok(Planned::Ready(_))
    ));
}

#[test]
fn the_apex_keeps_its_ns_records() {
    assert!(invalid(&remove_call("@", "NS", None)).contains("cannot all be deleted"));
    assert!(invalid(&replace_call("@", "NS", &[])).contains("cannot all be deleted"));
    assert!(invalid(&remove_call("@", "SOA", None)).contains("Invalid record type"));
    assert!(invalid(&remove_call("@", "SOA", Some("x"))).contains("Invalid record type"));

    // one value: against the values read; the last one stays
    let remove = remove_call("@", "NS", Some("ns1.example.test."));
    assert_eq!(
        plan(&zone(), &remove, 100, None).unwrap(),
        Planned::NeedsApexNs
    );
    assert!(matches!(
        plan(&zone(), &remove, 100, Some(&ns(&["ns1.example.test."]))),
        Err(RecordError::Clash { .. })
    ));
    let current = ns(&["ns1.example.test.", "ns2.example.test."]);
    let p = ready(&remove, Some(&current));
    assert_eq!(
        p.steps[0].prerequisites,
        [Prerequisite::RrsetEquals {
            name: "example.test.".into(),
            rtype: "NS".into(),
            rdatas: current.clone()
        }]
    );
    assert!(p.clash.unwrap().contains("changed while"));
    // a value that is not there: nothing to guard
    let p = ready(
        &remove_call("@", "NS", Some("ns9.example.test.")),
        Some(&current),
    );
    assert!(p.steps[0].prerequisites.is_empty());

    // a replace adds the new values before deleting the old ones
    let replace = replace_call("@", "NS", &["ns2.example.test.", "ns3.example.test."]);
    assert_eq!(
        plan(&zone(), &replace, 100, None).unwrap(),
        Planned::NeedsApexNs
    );
    let p = ready(&replace, Some(&current));
    let kinds: Vec<(&str, &str)> = p.steps[0]
        .changes
        .iter()
        .map(|c| match c {
            Change::Add { rdata, .. } => ("add", rdata.as_str()),
            Change::DeleteRr { rdata, .. } => ("delete", rdata.as_str()),
            Change::DeleteRrset { .. } => ("delete rrset", ""),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("add", "ns2.example.test."),
            ("add", "ns3.example.test."),
            ("delete", "ns1.example.test.")
        ]
    );
    assert_eq!(p.holds, 2);

    // a value replaced at the apex: the new one first
    let update = |current: &str, new: &str| {
        ready(
            &RecordCall::Update(UpdateRecordRequest {
                name: "@".into(),
                record_type: "NS".into(),
                current_value: current.into(),
                new_value: new.into(),
                ttl: 60,
                priority: None,
            }),
            None,
        )
        .steps[0]
            .changes
            .clone()
    };
    assert!(matches!(
        update("ns1.example.test.", "ns4.example.test.")[..],
        [Change::Add { .. }, Change::DeleteRr { .. }]
    ));
    assert!(matches!(
        update("ns1.example.test.", "NS1.example.test.")[..],
        [Change::Add { .. }]
    ));
}
