//! The records API's request bodies (bindcar's, plus the RRset replace), and the check of one
//! record in them: its owner located inside the zone, its data checked by
//! `records::check_record` (the same code as the records of a create request). What is sent
//! for a whole call is `records_plan`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::records::{check_owner, check_record, printable};
use super::request::DnsRecord;
use crate::bind::update::check_rdata;
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
    fn records_name_the_bad_field() {
        let z = zone();
        let bad =
            |value: &str, rtype: &str| plan_record(&z, "www", rtype, value, 60, None).unwrap_err();
        assert!(bad("2001:db8::1", "A").contains("A value"));
        assert!(bad("192.0.2.1", "AAAA").contains("AAAA value"));
        assert!(bad("x", "HINFO").contains("Invalid record type"));
        assert!(bad("target", "CNAME").contains("absolute"));
        assert!(bad("mail.example.test.", "MX").contains("MX value"));
        assert!(bad("\"open", "TXT").contains("unbalanced"));
        assert!(bad("a\u{7}b", "TXT").contains("control"));
        let ok = plan_record(&z, "@", "mx", "10 a.example.test.", 300, None).unwrap();
        assert_eq!(
            ok,
            PlannedRecord {
                owner: "example.test.".into(),
                rtype: "MX".into(),
                ttl: 300,
                rdata: "10 a.example.test.".into()
            }
        );
    }
}
