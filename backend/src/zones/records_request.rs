//! The records API's request bodies (bindcar's, plus the RRset replace) and their planning:
//! every check happens here, before anything is sent to named. Record data is checked by
//! `records::check_record`, the same code as the records of a create request.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::records::{check_owner, check_record, printable, MAX_TTL};
use super::request::DnsRecord;
use crate::bind::update::{check_rdata, Change, Prerequisite, Update};
use crate::bind::ZoneName;

fn default_ttl() -> u32 {
    3600
}

/// Body of `POST /api/v1/zones/{name}/records`: adds one record to its RRset.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddRecordRequest {
    /// `@`, relative (`www`) or absolute inside the zone (`www.example.test.`).
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub value: String,
    #[serde(default = "default_ttl")]
    pub ttl: u32,
    /// MX preference or SRV priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
}

/// Body of `PUT /api/v1/zones/{name}/records`: replaces one value, in one UPDATE.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRecordRequest {
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub current_value: String,
    pub new_value: String,
    #[serde(default = "default_ttl")]
    pub ttl: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
}

/// Body of `DELETE /api/v1/zones/{name}/records`: one value, or (no value) the whole RRset.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoveRecordRequest {
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// Body of `PUT /api/v1/zones/{name}/rrsets/{owner}/{type}`: the RRset's new content.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RrsetRequest {
    #[serde(default = "default_ttl")]
    pub ttl: u32,
    /// The complete new set (MX as `10 mail.example.test.`); empty deletes the RRset.
    pub values: Vec<String>,
}

/// At most this many values in one RRset replace.
const MAX_VALUES: usize = 256;

/// A checked record: absolute owner, canonical type, presentation rdata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRecord {
    pub owner: String,
    pub rtype: String,
    pub ttl: u32,
    pub rdata: String,
}

/// The owner as an absolute name inside `zone`: `@`; relative; or absolute (with a trailing dot,
/// or without one when it ends with `.<zone>` on a label boundary, as bindcar reads it).
/// `fooexample.test` is NOT inside `example.test` (bindcar's plain string test lets it in).
pub fn owner_name(zone: &ZoneName, raw: &str) -> Result<String, String> {
    check_owner(raw).map_err(|e| format!("name {e}"))?;
    let zone_text = zone.as_str();
    let lower = raw.to_ascii_lowercase();
    if lower == "@" {
        return Ok(format!("{zone_text}."));
    }
    let bare = lower.strip_suffix('.').unwrap_or(&lower);
    let inside = bare == zone_text || bare.ends_with(&format!(".{zone_text}"));
    if lower.ends_with('.') || inside {
        if !inside {
            return Err(format!(
                "name {} is outside zone {zone_text}",
                printable(raw)
            ));
        }
        return Ok(format!("{bare}."));
    }
    if bare.ends_with(zone_text) {
        return Err(format!(
            "name {} is outside zone {zone_text} (it is not a subdomain of it; write a relative name \
             or an absolute one ending in .{zone_text}.)",
            printable(raw)
        ));
    }
    let full = format!("{bare}.{zone_text}");
    if full.len() > 253 {
        return Err(format!(
            "name {} is too long inside zone {zone_text}",
            printable(raw)
        ));
    }
    Ok(format!("{full}."))
}

/// Checks one record for the records API (absolute targets) and locates its owner.
pub fn plan_record(
    zone: &ZoneName,
    name: &str,
    record_type: &str,
    value: &str,
    ttl: u32,
    priority: Option<u16>,
) -> Result<PlannedRecord, String> {
    let record = DnsRecord {
        name: name.to_string(),
        record_type: record_type.to_string(),
        value: value.to_string(),
        ttl: Some(ttl),
        priority,
    };
    let line = check_record(&record, true)?;
    let owner = owner_name(zone, name)?;
    check_rdata(line.record_type, &line.rdata)
        .map_err(|e| format!("{} value {}: {e}", line.record_type, printable(value)))?;
    Ok(PlannedRecord {
        owner,
        rtype: line.record_type.to_string(),
        ttl,
        rdata: line.rdata,
    })
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

pub fn plan_add(zone: &ZoneName, request: &AddRecordRequest) -> Result<Update, String> {
    let r = plan_record(
        zone,
        &request.name,
        &request.record_type,
        &request.value,
        request.ttl,
        request.priority,
    )?;
    Ok(Update {
        zone: zone.clone(),
        prerequisites: vec![],
        changes: vec![add(&r)],
    })
}

/// Delete the current value and add the new one, in one UPDATE, on condition that an RRset of
/// that name and type exists (else NXRRSET → 409: there was nothing to update).
pub fn plan_update(zone: &ZoneName, request: &UpdateRecordRequest) -> Result<Update, String> {
    let plan = |value: &str, field: &str| {
        plan_record(
            zone,
            &request.name,
            &request.record_type,
            value,
            request.ttl,
            request.priority,
        )
        .map_err(|e| format!("{field}: {e}"))
    };
    let old = plan(&request.current_value, "currentValue")?;
    let new = plan(&request.new_value, "newValue")?;
    Ok(Update {
        zone: zone.clone(),
        prerequisites: vec![Prerequisite::RrsetExists {
            name: old.owner.clone(),
            rtype: old.rtype.clone(),
        }],
        changes: vec![delete_rr(&old), add(&new)],
    })
}

pub fn plan_remove(zone: &ZoneName, request: &RemoveRecordRequest) -> Result<Update, String> {
    let change = match &request.value {
        Some(value) => delete_rr(&plan_record(
            zone,
            &request.name,
            &request.record_type,
            value,
            0,
            None,
        )?),
        None => {
            let (owner, rtype) = owner_and_type(zone, &request.name, &request.record_type)?;
            Change::DeleteRrset { name: owner, rtype }
        }
    };
    Ok(Update {
        zone: zone.clone(),
        prerequisites: vec![],
        changes: vec![change],
    })
}

/// The owner and the type alone (a type is checked by planning a harmless record of it).
pub fn owner_and_type(
    zone: &ZoneName,
    name: &str,
    record_type: &str,
) -> Result<(String, String), String> {
    let upper = record_type.to_ascii_uppercase();
    if !super::records::SUPPORTED_TYPES.contains(&upper.as_str()) {
        return Err(format!(
            "Invalid record type: {}. Supported types: {}",
            printable(record_type),
            super::records::SUPPORTED_TYPES.join(", ")
        ));
    }
    Ok((owner_name(zone, name)?, upper))
}

/// Delete the RRset and add every value, in one UPDATE: named applies it atomically.
pub fn plan_rrset(
    zone: &ZoneName,
    owner: &str,
    record_type: &str,
    request: &RrsetRequest,
) -> Result<Update, String> {
    let (name, rtype) = owner_and_type(zone, owner, record_type)?;
    if request.values.len() > MAX_VALUES {
        return Err(format!("values: at most {MAX_VALUES} values"));
    }
    if request.ttl > MAX_TTL {
        return Err(format!("ttl must be at most {MAX_TTL}"));
    }
    let mut changes = vec![Change::DeleteRrset {
        name,
        rtype: rtype.clone(),
    }];
    for (i, value) in request.values.iter().enumerate() {
        let r = plan_record(zone, owner, &rtype, value, request.ttl, None)
            .map_err(|e| format!("values[{i}]: {e}"))?;
        changes.push(add(&r));
    }
    Ok(Update {
        zone: zone.clone(),
        prerequisites: vec![],
        changes,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn zone() -> ZoneName {
        ZoneName::parse("example.test").unwrap()
    }

    #[test]
    fn owners_are_located_inside_the_zone_or_refused() {
        let z = zone();
        assert_eq!(owner_name(&z, "@").unwrap(), "example.test.");
        assert_eq!(owner_name(&z, "WWW").unwrap(), "www.example.test.");
        assert_eq!(
            owner_name(&z, "www.example.test.").unwrap(),
            "www.example.test."
        );
        assert_eq!(
            owner_name(&z, "www.example.test").unwrap(),
            "www.example.test."
        );
        assert_eq!(owner_name(&z, "*.dev").unwrap(), "*.dev.example.test.");
        for bad in [
            "fooexample.test",
            "www.other.test.",
            "a.*.b",
            "",
            "a b",
            "fooexample.test.",
        ] {
            assert!(owner_name(&z, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn plans_name_the_bad_field() {
        let z = zone();
        let bad = |value: &str, rtype: &str| {
            plan_add(
                &z,
                &AddRecordRequest {
                    name: "www".into(),
                    record_type: rtype.into(),
                    value: value.into(),
                    ttl: 60,
                    priority: None,
                },
            )
            .unwrap_err()
        };
        assert!(bad("2001:db8::1", "A").contains("A value"));
        assert!(bad("192.0.2.1", "AAAA").contains("AAAA value"));
        assert!(bad("x", "HINFO").contains("Invalid record type"));
        assert!(bad("target", "CNAME").contains("absolute"));
        assert!(bad("mail.example.test.", "MX").contains("MX value"));
        assert!(bad("\"open", "TXT").contains("unbalanced"));
        assert!(bad("a\u{7}b", "TXT").contains("control"));
        let update = plan_update(
            &z,
            &UpdateRecordRequest {
                name: "www".into(),
                record_type: "a".into(),
                current_value: "192.0.2.1".into(),
                new_value: "192.0.2.2".into(),
                ttl: 60,
                priority: None,
            },
        )
        .unwrap();
        assert_eq!(update.changes.len(), 2);
        assert_eq!(update.prerequisites.len(), 1);
        let rrset = plan_rrset(
            &z,
            "@",
            "mx",
            &RrsetRequest {
                ttl: 300,
                values: vec!["10 a.example.test.".into(), "20 b.example.test.".into()],
            },
        )
        .unwrap();
        assert_eq!(rrset.changes.len(), 3);
        let bad_rrset = plan_rrset(
            &z,
            "@",
            "A",
            &RrsetRequest {
                ttl: 300,
                values: vec!["192.0.2.1".into(), "nope".into()],
            },
        )
        .unwrap_err();
        assert!(bad_rrset.starts_with("values[1]"), "{bad_rrset}");
    }
}
