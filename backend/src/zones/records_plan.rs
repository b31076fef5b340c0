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
