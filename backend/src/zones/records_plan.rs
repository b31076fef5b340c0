//! What a records call sends, and what named's refusals of it mean (pure: no I/O).
//!
//! RFC 2136 tells a server to skip some changes silently, and named does: a CNAME added beside
//! other data, other data added beside a CNAME, the apex NS RRset deleted (whole, or its last
//! value). An UPDATE carrying only such a change succeeds with the zone unchanged, so a plain
//! "sent, NOERROR" would be a false 201. Each plan therefore either refuses the change before
//! anything is sent (400: it can never apply, e.g. a CNAME at the apex, two CNAME values, more
//! values than named's `max-records-per-type`), or carries prerequisites that make named refuse
//! it instead of skipping it (409 saying why: a CNAME beside an A record). The apex NS RRset is
//! replaced or shrunk against its current values (read first, and required unchanged by a
//! value-dependent prerequisite), never below one record.

use super::records::MAX_TTL;
use super::records_request::{
    owner_and_type, plan_record, AddRecordRequest, PlannedRecord, RemoveRecordRequest,
    RrsetRequest, UpdateRecordRequest,
};
use super::records_update::RecordError;
use crate::bind::update::{same_rdata, Change, Prerequisite, Update};
use crate::bind::ZoneName;

/// At most this many values in one RRset replace, whatever named's limit (a bound on the work
/// one request can ask for).
const MAX_VALUES: usize = 256;

/// One records call, as the client asked it.
#[derive(Debug, Clone)]
pub enum RecordCall {
    Add(AddRecordRequest),
    Update(UpdateRecordRequest),
    Remove(RemoveRecordRequest),
    Replace {
        owner: String,
        record_type: String,
        request: RrsetRequest,
    },
}

/// What to send for one call and what named's refusals of it mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPlan {
    /// UPDATEs tried in order, the next one only when the one before failed because its
    /// name was in use (YXDOMAIN): a CNAME first tries a name with no records, then a name
    /// whose only record is a CNAME.
    pub steps: Vec<Update>,
    /// Said with the 409 when the last step's prerequisite fails (`None`: the generic words).
    pub clash: Option<String>,
    /// The RRset (owner, type) an add extends: a SERVFAIL may be named's
    /// `max-records-per-type`, which a retry never gets past.
    pub grows: Option<(String, String)>,
    /// Records the RRset holds once the plan succeeds (a replace; distinct values).
    pub holds: usize,
}

/// A plan, or the need for the apex NS records it is to be planned against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    Ready(RecordPlan),
    NeedsApexNs,
}

/// Plans `call` on `zone`. `max_per_type` is named's `max-records-per-type` (0: no limit);
/// `apex_ns` the zone's NS values, once read (asked for with `Planned::NeedsApexNs`). Every
/// check of the request comes before the need to read: a bad request is a 400 with nothing
/// read or sent.
pub fn plan(
    zone: &ZoneName,
    call: &RecordCall,
    max_per_type: usize,
    apex_ns: Option<&[String]>,
) -> Result<Planned, RecordError> {
    let invalid = RecordError::Invalid;
    let apex = format!("{}.", zone.as_str());
    match call {
        RecordCall::Add(r) => {
            let record = plan_record(zone, &r.name, &r.record_type, &r.value, r.ttl, r.priority)
                .map_err(invalid)?;
            refuse_cname_at_apex(&record, &apex, "name")?;
            let grows = Some((record.owner.clone(), record.rtype.clone()));
            let mut plan = if record.rtype == "CNAME" {
                cname_plan(zone, &record, &r.name, false)
            } else {
                beside_no_cname(zone, &record, vec![add(&record)])
            };
            plan.grows = grows;
            Ok(Planned::Ready(plan))
        }
        RecordCall::Update(r) => {
            let planned = |value: &str, field: &str| {
                plan_record(zone, &r.name, &r.record_type, value, r.ttl, r.priority)
                    .map_err(|e| RecordError::Invalid(format!("{field}: {e}")))
            };
            let old = planned(&r.current_value, "currentValue")?;
            let new = planned(&r.new_value, "newValue")?;
            refuse_cname_at_apex(&new, &apex, "name")?;
            // At the apex, the new NS goes in before the old one goes out: named skips
            // deleting the last NS record, and the old may be the only one.
            let changes = if new.owner == apex && new.rtype == "NS" {
                let mut changes = vec![add(&new)];
                if !same_rdata("NS", &old.rdata, &new.rdata) {
                    changes.push(delete_rr(&old));
                }
                changes
            } else {
                vec![delete_rr(&old), add(&new)]
            };
            Ok(Planned::Ready(single(
                zone,
                vec![Prerequisite::RrsetExists {
                    name: old.owner.clone(),
                    rtype: old.rtype.clone(),
                }],
                changes,
                None,
            )))
        }
        RecordCall::Remove(r) => match &r.value {
            Some(value) => {
                let record =
                    plan_record(zone, &r.name, &r.record_type, value, 0, None).map_err(invalid)?;
                if record.owner == apex && record.rtype == "NS" {
                    let Some(current) = apex_ns else {
                        return Ok(Planned::NeedsApexNs);
                    };
                    return apex_ns_removal(zone, &record, current).map(Planned::Ready);
                }
                Ok(Planned::Ready(single(
                    zone,
                    vec![],
                    vec![delete_rr(&record)],
                    None,
                )))
            }
            None => {
                let (owner, rtype) =
                    owner_and_type(zone, &r.name, &r.record_type).map_err(invalid)?;
                if owner == apex && rtype == "NS" {
                    return Err(RecordError::Invalid(apex_ns_kept(zone)));
                }
                Ok(Planned::Ready(single(
                    zone,
                    vec![],
                    vec![Change::DeleteRrset { name: owner, rtype }],
                    None,
                )))
            }
        },
        RecordCall::Replace {
            owner,
            record_type,
            request,
        } => replace(zone, owner, record_type, request, max_per_type, apex_ns),
    }
}

fn replace(
    zone: &ZoneName,
    owner: &str,
    record_type: &str,
    request: &RrsetRequest,
    max_per_type: usize,
    apex_ns: Option<&[String]>,
) -> Result<Planned, RecordError> {
    let invalid = RecordError::Invalid;
    let apex = format!("{}.", zone.as_str());
    let (name, rtype) = owner_and_type(zone, owner, record_type).map_err(invalid)?;
    if request.values.len() > MAX_VALUES {
        return Err(invalid(format!("values: at most {MAX_VALUES} values")));
    }
    if request.ttl > MAX_TTL {
        return Err(invalid(format!("ttl must be at most {MAX_TTL}")));
    }
    let mut values: Vec<PlannedRecord> = Vec::new();
    for (i, value) in request.values.iter().enumerate() {
        let record = plan_record(zone, owner, &rtype, value, request.ttl, None)
            .map_err(|e| invalid(format!("values[{i}]: {e}")))?;
        // The same record twice is one record to named: count it once.
        if !values
            .iter()
            .any(|v| same_rdata(&rtype, &v.rdata, &record.rdata))
        {
            values.push(record);
        }
    }
    if max_per_type > 0 && values.len() > max_per_type {
        return Err(invalid(format!(
            "values: {} distinct values, but named keeps at most {max_per_type} records of one \
             type at a name (its max-records-per-type; BIND_MAX_RECORDS_PER_TYPE here)",
            values.len()
        )));
    }
    let holds = values.len();
    let delete_rrset = Change::DeleteRrset {
        name: name.clone(),
        rtype: rtype.clone(),
    };
    let mut plan = if values.is_empty() {
        if name == apex && rtype == "NS" {
            return Err(invalid(apex_ns_kept(zone)));
        }
        single(zone, vec![], vec![delete_rrset], None)
    } else if rtype == "CNAME" {
        if let [record] = values.as_slice() {
            refuse_cname_at_apex(record, &apex, "owner")?;
            cname_plan(zone, record, owner, true)
        } else {
            return Err(invalid(format!(
                "values: a name holds at most one CNAME record (got {} different values)",
                values.len()
            )));
        }
    } else if name == apex && rtype == "NS" {
        let Some(current) = apex_ns else {
            return Ok(Planned::NeedsApexNs);
        };
        apex_ns_replacement(zone, &values, current)
    } else {
        let mut changes = vec![delete_rrset];
        changes.extend(values.iter().map(add));
        beside_no_cname(zone, &values[0], changes)
    };
    plan.holds = holds;
    Ok(Planned::Ready(plan))
}

fn add(r: &PlannedRecord) -> Change {
    Change::Add {
        name: r.owner.clone(),
        rtype: r.rtype.clone(),
        ttl: r.ttl,
        rdata: r.rdata.clone(),
    }
}

fn delete_rr(r: &PlannedRecord) -> Change {
    Change::DeleteRr {
        name: r.owner.clone(),
        rtype: r.rtype.clone(),
        rdata: r.rdata.clone(),
    }
}

fn single(
    zone: &ZoneName,
    prerequisites: Vec<Prerequisite>,
    changes: Vec<Change>,
    clash: Option<String>,
) -> RecordPlan {
    RecordPlan {
        steps: vec![Update {
            zone: zone.clone(),
            prerequisites,
            changes,
        }],
        clash,
        grows: None,
        holds: 0,
    }
}

fn refuse_cname_at_apex(r: &PlannedRecord, apex: &str, field: &str) -> Result<(), RecordError> {
    if r.rtype == "CNAME" && r.owner == apex {
        return Err(RecordError::Invalid(format!(
            "{field}: a CNAME cannot be at the zone apex ({apex}), which holds the zone's SOA and \
             NS records, and a CNAME must be the only record at its name (RFC 1034 §3.6.2; \
             named would ignore it)"
        )));
    }
    Ok(())
}

/// Changes to a non-CNAME RRset, on condition that its name is not an alias.
fn beside_no_cname(zone: &ZoneName, r: &PlannedRecord, changes: Vec<Change>) -> RecordPlan {
    single(
        zone,
        vec![Prerequisite::RrsetAbsent {
            name: r.owner.clone(),
            rtype: "CNAME".into(),
        }],
        changes,
        Some(format!(
            "{} is an alias (it has a CNAME record), so it cannot hold {} records: a CNAME must \
             be the only record at its name (RFC 1034 §3.6.2). Nothing was changed",
            r.owner, r.rtype
        )),
    )
}

/// A CNAME at `r.owner`: first on a name with no records at all; if it is in use, on a name
/// whose only record is a CNAME (`replace`: any CNAME, replaced; an add: this very CNAME,
/// which makes the add idempotent and refuses to overwrite another target).
fn cname_plan(zone: &ZoneName, r: &PlannedRecord, name: &str, replace: bool) -> RecordPlan {
    let fresh = Update {
        zone: zone.clone(),
        prerequisites: vec![Prerequisite::NameUnused {
            name: r.owner.clone(),
        }],
        changes: vec![add(r)],
    };
    let (prerequisite, changes, clash) = if replace {
        (
            Prerequisite::RrsetExists {
                name: r.owner.clone(),
                rtype: "CNAME".into(),
            },
            vec![
                Change::DeleteRrset {
                    name: r.owner.clone(),
                    rtype: "CNAME".into(),
                },
                add(r),
            ],
            format!(
                "{} holds records other than a CNAME: a CNAME must be the only record at its \
                 name (RFC 1034 §3.6.2). Delete them first. Nothing was changed",
                r.owner
            ),
        )
    } else {
        (
            Prerequisite::RrsetEquals {
                name: r.owner.clone(),
                rtype: "CNAME".into(),
                rdatas: vec![r.rdata.clone()],
            },
            vec![add(r)],
            format!(
                "{} already holds other records, or a CNAME to another target: a CNAME must be \
                 the only record at its name (RFC 1034 §3.6.2). Delete the other records first, \
                 or replace the CNAME with PUT /api/v1/zones/{}/rrsets/{}/CNAME. Nothing was \
                 changed",
                r.owner,
                zone.as_str(),
                name
            ),
        )
    };
    let in_use = Update {
        zone: zone.clone(),
        prerequisites: vec![prerequisite],
        changes,
    };
    RecordPlan {
        steps: vec![fresh, in_use],
        clash: Some(clash),
        grows: None,
        holds: 1,
    }
}

fn apex_ns_kept(zone: &ZoneName) -> String {
    format!(
        "the NS records of the zone apex ({}.) cannot all be deleted: a zone needs its name \
         servers, and named ignores such a delete (RFC 2136 §3.4.2.4). Delete single values, \
         keeping at least one, or replace the set with PUT \
         /api/v1/zones/{}/rrsets/@/NS and a non-empty list",
        zone.as_str(),
        zone.as_str()
    )
}

fn changed_meanwhile(zone: &ZoneName) -> String {
    format!(
        "the NS records of zone {} changed while this request was being made; nothing was \
         changed, retry",
        zone.as_str()
    )
}

fn apex_ns_equals(r: &PlannedRecord, current: &[String]) -> Prerequisite {
    Prerequisite::RrsetEquals {
        name: r.owner.clone(),
        rtype: "NS".into(),
        rdatas: current.to_vec(),
    }
}

/// Deleting one apex NS value, against the values the zone has now.
fn apex_ns_removal(
    zone: &ZoneName,
    r: &PlannedRecord,
    current: &[String],
) -> Result<RecordPlan, RecordError> {
    let present = current.iter().any(|c| same_rdata("NS", c, &r.rdata));
    if present && current.len() == 1 {
        return Err(RecordError::Clash {
            message: format!(
                "{} is the only NS record of zone {}: a zone keeps at least one, and named \
                 ignores deleting the last (RFC 2136 §3.4.2.4). Add another NS record first. \
                 Nothing was changed",
                r.rdata,
                zone.as_str()
            ),
            rcode: None,
        });
    }
    // Absent: deleting it changes nothing, as for any record (idempotent).
    let prerequisites = if present {
        vec![apex_ns_equals(r, current)]
    } else {
        vec![]
    };
    Ok(single(
        zone,
        prerequisites,
        vec![delete_rr(r)],
        Some(changed_meanwhile(zone)),
    ))
}

/// The apex NS set replaced: the new values added, then the old ones that are not kept
/// deleted (the set never empties, so named skips nothing), on condition that the set is
/// still what was read.
fn apex_ns_replacement(
    zone: &ZoneName,
    values: &[PlannedRecord],
    current: &[String],
) -> RecordPlan {
    let mut changes: Vec<Change> = values.iter().map(add).collect();
    for old in current {
        if !values.iter().any(|v| same_rdata("NS", &v.rdata, old)) {
            changes.push(Change::DeleteRr {
                name: values[0].owner.clone(),
                rtype: "NS".into(),
                rdata: old.clone(),
            });
        }
    }
    single(
        zone,
        vec![apex_ns_equals(&values[0], current)],
        changes,
        Some(changed_meanwhile(zone)),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

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
}
