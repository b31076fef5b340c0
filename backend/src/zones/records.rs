//! The resource records of a new zone's file: validated one by one, then rendered as zone-file
//! lines. Validation is strict enough that a value cannot break out of its line (no newlines,
//! no unbalanced quotes, no `;`/`(`/`)` outside quotes, no `$` directives); BIND still judges the
//! zone as a whole (CNAME and other data, missing glue), and its verdict is reported as is.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::request::DnsRecord;
use crate::bind::RecordLine;

/// Record types accepted in `zoneConfig.records` (bindcar's list).
pub const SUPPORTED_TYPES: [&str; 9] =
    ["A", "AAAA", "CNAME", "MX", "TXT", "NS", "PTR", "SRV", "CAA"];

/// Largest TTL (RFC 2181 §8: 2^31 - 1).
pub const MAX_TTL: u32 = i32::MAX as u32;

/// Checks one record of a create request; the error names the record by its index.
pub fn validate_record(index: usize, record: &DnsRecord) -> Result<RecordLine, String> {
    check_record(record, false).map_err(|why| format!("records[{index}]: {why}"))
}

/// The one record check, shared by create requests and the records API. `absolute_targets`:
/// CNAME/NS/PTR/MX/SRV targets must end with `.` (an UPDATE has no origin to complete them;
/// in a zone file a relative target is completed with the zone name).
pub fn check_record(record: &DnsRecord, absolute_targets: bool) -> Result<RecordLine, String> {
    let at = |why: String| why;
    if record.ttl.is_some_and(|ttl| ttl > MAX_TTL) {
        return Err(format!("ttl must be at most {MAX_TTL}"));
    }
    let upper = record.record_type.to_ascii_uppercase();
    let record_type = SUPPORTED_TYPES
        .iter()
        .find(|t| **t == upper)
        .copied()
        .ok_or_else(|| {
            at(format!(
                "Invalid record type: {}. Supported types: {}",
                printable(&record.record_type),
                SUPPORTED_TYPES.join(", ")
            ))
        })?;
    check_owner(&record.name).map_err(|e| at(format!("name {e}")))?;
    let value = record.value.as_str();
    if value.is_empty() {
        return Err(at("value cannot be empty".into()));
    }
    if value.chars().any(char::is_control) {
        return Err(at(
            "value must not contain control characters (newlines, tabs, ...)".into(),
        ));
    }
    if record.priority.is_some() && !matches!(record_type, "MX" | "SRV") {
        return Err(at(format!(
            "priority applies to MX and SRV records only, not {record_type}"
        )));
    }
    let rdata = match record_type {
        "A" => value
            .parse::<Ipv4Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| {
                at(format!(
                    "A value must be an IPv4 address, got {}",
                    printable(value)
                ))
            })?,
        "AAAA" => value
            .parse::<Ipv6Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| {
                at(format!(
                    "AAAA value must be an IPv6 address, got {}",
                    printable(value)
                ))
            })?,
        "CNAME" | "NS" | "PTR" => {
            check_target(value).map_err(|e| at(format!("{record_type} value {e}")))?;
            value.to_string()
        }
        "MX" => mx_rdata(value, record.priority).map_err(|e| at(format!("MX value {e}")))?,
        "SRV" => srv_rdata(value, record.priority).map_err(|e| at(format!("SRV value {e}")))?,
        "CAA" => caa_rdata(value).map_err(|e| at(format!("CAA value {e}")))?,
        _ => {
            check_text(value).map_err(|e| at(format!("TXT value {e}")))?;
            value.to_string()
        }
    };
    if absolute_targets && matches!(record_type, "CNAME" | "NS" | "PTR" | "MX" | "SRV") {
        let target = rdata.rsplit(' ').next().unwrap_or_default();
        if !target.ends_with('.') {
            return Err(format!(
                "{record_type} value: the target {} must be absolute (end with '.')",
                printable(target)
            ));
        }
    }
    Ok(RecordLine {
        owner: record.name.clone(),
        ttl: record.ttl,
        record_type,
        rdata,
    })
}

/// A domain name as it may appear in record data or SOA/NS fields: relative or absolute,
/// labels of `[A-Za-z0-9_-]`, at most 63 bytes each, 253 in all. `.` (the root) is accepted.
pub fn check_target(value: &str) -> Result<(), String> {
    if value == "." {
        return Ok(());
    }
    check_labels(value, false)
}

/// An owner name: `@`, or a name whose leftmost label may be the wildcard `*`.
pub fn check_owner(value: &str) -> Result<(), String> {
    if value == "@" {
        return Ok(());
    }
    check_labels(value, true)
}

fn check_labels(value: &str, wildcard_allowed: bool) -> Result<(), String> {
    if value.is_empty() {
        return Err("cannot be empty".into());
    }
    let relative = value.strip_suffix('.').unwrap_or(value);
    if relative.len() > 253 {
        return Err("is longer than 253 characters".into());
    }
    for (i, label) in relative.split('.').enumerate() {
        if label.is_empty() {
            return Err(format!("{} has an empty label", printable(value)));
        }
        if label.len() > 63 {
            return Err(format!(
                "{} has a label longer than 63 characters",
                printable(value)
            ));
        }
        if wildcard_allowed && i == 0 && label == "*" {
            continue;
        }
        if label.starts_with('-') {
            return Err(format!(
                "{} has a label starting with '-'",
                printable(value)
            ));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
        {
            return Err(format!(
                "{} contains an illegal character: {:?} (allowed: A-Z a-z 0-9 . - _)",
                printable(value),
                bad
            ));
        }
    }
    Ok(())
}

/// Character-string data (TXT, the CAA value): quoted strings or plain words; quotes balanced,
/// and no `;`, `(`, `)` or `$` outside quotes, which would turn the rest of the line into a
/// comment, a multi-line group or a directive.
pub fn check_text(value: &str) -> Result<(), String> {
    let mut in_quotes = false;
    // Bytes of the current character-string (quoted, or a bare word); at most 255 each.
    let mut length = 0usize;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '"' || (!in_quotes && c == ' ') {
            length = 0;
        } else {
            length += c.len_utf8();
            if length > 255 {
                return Err(
                    "has a string longer than 255 bytes; split it into quoted strings \
                     of at most 255 bytes each (\"part1\" \"part2\")"
                        .into(),
                );
            }
        }
        match c {
            '\\' if chars.next().is_none() => {
                return Err("ends with a lone backslash".into());
            }
            '"' => in_quotes = !in_quotes,
            ';' | '(' | ')' | '$' if !in_quotes => {
                return Err(format!(
                    "has {c:?} outside quotes; quote the text, e.g. \"\\\"v=spf1 -all\\\"\""
                ));
            }
            _ => {}
        }
    }
    if in_quotes {
        return Err("has unbalanced quotes".into());
    }
    Ok(())
}

fn mx_rdata(value: &str, priority: Option<u16>) -> Result<String, String> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    match (priority, parts.as_slice()) {
        (Some(preference), [host]) => {
            check_target(host)?;
            Ok(format!("{preference} {host}"))
        }
        (None, [preference, host]) => {
            let preference: u16 = preference
                .parse()
                .map_err(|_| "must be '<preference> <host>' or set priority".to_string())?;
            check_target(host)?;
            Ok(format!("{preference} {host}"))
        }
        _ => Err("must be a host name (with priority) or '<preference> <host>'".into()),
    }
}

fn srv_rdata(value: &str, priority: Option<u16>) -> Result<String, String> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let (priority, rest) = match (priority, parts.as_slice()) {
        (Some(p), [w, port, target]) => (p, [*w, *port, *target]),
        (None, [p, w, port, target]) => (
            p.parse::<u16>().map_err(|_| "priority must be a number 0-65535".to_string())?,
            [*w, *port, *target],
        ),
        _ => return Err("must be '<weight> <port> <target>' (with priority) or '<priority> <weight> <port> <target>'".into()),
    };
    let [weight, port, target] = rest;
    let weight: u16 = weight
        .parse()
        .map_err(|_| "weight must be a number 0-65535".to_string())?;
    let port: u16 = port
        .parse()
        .map_err(|_| "port must be a number 0-65535".to_string())?;
    check_target(target)?;
    Ok(format!("{priority} {weight} {port} {target}"))
}

/// CAA (RFC 8659): `<flags> <tag> <value>`, the value one string, quoted or not. Rendered
/// as `<flags> <tag> "<value>"`, which is what named stores and shows. A value of several
/// words must be quoted: `0 is sue "x"` is refused (a lenient parser keeps `sue` and drops
/// the rest). Inside the quotes, printable ASCII without `"` and `\`: issuer domains,
/// parameters and URLs need nothing else, and what is accepted is stored byte for byte.
fn caa_rdata(value: &str) -> Result<String, String> {
    const FORM: &str = "must be '<flags> <tag> <value>', e.g. '0 issue \"letsencrypt.org\"'";
    let word = |text: &str| -> Option<(String, String)> {
        let text = text.trim_start();
        let end = text.find(' ').unwrap_or(text.len());
        (end > 0).then(|| {
            (
                text[..end].to_string(),
                text[end..].trim_start().to_string(),
            )
        })
    };
    let Some((flags, rest)) = word(value) else {
        return Err(FORM.into());
    };
    let Some((tag, data)) = word(&rest) else {
        return Err(FORM.into());
    };
    let data = data.trim_end();
    if data.is_empty() {
        return Err(FORM.into());
    }
    let flags: u8 = flags
        .parse()
        .map_err(|_| "flags must be a number 0-255".to_string())?;
    if tag.is_empty() || tag.len() > 255 || !tag.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err("tag must be letters and digits (issue, issuewild, iodef, ...)".into());
    }
    let inner = match data.strip_prefix('"') {
        Some(quoted) => quoted
            .strip_suffix('"')
            .filter(|inner| !inner.contains('"'))
            .ok_or_else(|| {
                "value must be one quoted string, with nothing after its closing quote".to_string()
            })?,
        None if data.contains(' ') => {
            return Err(format!(
                "value {} is more than one word: quote it as one string, e.g. \
                 '{flags} {tag} \"{data}\"'",
                printable(data)
            ))
        }
        None => data,
    };
    if let Some(bad) = inner
        .chars()
        .find(|c| !(c.is_ascii_graphic() || *c == ' ') || matches!(c, '"' | '\\'))
    {
        return Err(format!(
            "value may hold printable ASCII except '\"' and '\\', not {bad:?}"
        ));
    }
    if inner.len() > 255 {
        return Err("value is longer than 255 bytes".into());
    }
    Ok(format!("{flags} {tag} \"{inner}\""))
}

/// Client text quoted for an error message (control characters escaped).
pub fn printable(value: &str) -> String {
    format!("{value:?}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn record(name: &str, record_type: &str, value: &str, priority: Option<u16>) -> DnsRecord {
        DnsRecord {
            name: name.into(),
            record_type: record_type.into(),
            value: value.into(),
            ttl: None,
            priority,
        }
    }

    #[test]
    fn renders_valid_records() {
        let cases = [
            (record("www", "a", "192.0.2.1", None), "www IN A 192.0.2.1"),
            (
                record("@", "MX", "mail.example.test.", Some(10)),
                "@ IN MX 10 mail.example.test.",
            ),
            (record("@", "MX", "20 mail", None), "@ IN MX 20 mail"),
            (
                record("_sip._tcp", "SRV", "5 5060 sip.example.test.", Some(10)),
                "_sip._tcp IN SRV 10 5 5060 sip.example.test.",
            ),
            (
                record("@", "TXT", "\"v=spf1 -all\"", None),
                "@ IN TXT \"v=spf1 -all\"",
            ),
            (
                record("@", "TXT", "\"a;b\" \"c\"", None),
                "@ IN TXT \"a;b\" \"c\"",
            ),
            (
                record("@", "CAA", "0 issue \"letsencrypt.org\"", None),
                "@ IN CAA 0 issue \"letsencrypt.org\"",
            ),
            (
                record("@", "CAA", "0 issue letsencrypt.org", None),
                "@ IN CAA 0 issue \"letsencrypt.org\"",
            ),
            (
                record("@", "CAA", "128  tbs   \"a; b=c\"", None),
                "@ IN CAA 128 tbs \"a; b=c\"",
            ),
            (
                record("@", "CAA", "0 issue \";\"", None),
                "@ IN CAA 0 issue \";\"",
            ),
            (
                record("*.dev", "AAAA", "2001:db8::1", None),
                "*.dev IN AAAA 2001:db8::1",
            ),
        ];
        for (input, line) in cases {
            assert_eq!(validate_record(0, &input).unwrap().render(), line);
        }
    }

    #[test]
    fn the_records_api_wants_absolute_targets_and_ttls_in_range() {
        assert!(check_record(&record("@", "MX", "20 mail", None), true).is_err());
        assert!(check_record(&record("@", "MX", "mail.example.test.", Some(5)), true).is_ok());
        assert!(check_record(&record("w", "CNAME", "x", None), true).is_err());
        assert!(check_record(&record("w", "SRV", "1 2 3 t.example.", None), true).is_ok());
        let mut long_ttl = record("w", "A", "192.0.2.1", None);
        long_ttl.ttl = Some(MAX_TTL + 1);
        assert!(check_record(&long_ttl, true).unwrap_err().contains("ttl"));
        let split = format!("\"{}\" \"{}\"", "x".repeat(255), "y".repeat(10));
        assert!(check_record(&record("w", "TXT", &split, None), true).is_ok());
    }

    #[test]
    fn refuses_values_that_could_break_the_zone_file() {
        let cases = [
            record("www", "A", "999.0.0.1", None),
            record("www", "A", "192.0.2.1", Some(5)),
            record("www", "HINFO", "x", None),
            record("www", "TXT", "\"unbalanced", None),
            record("www", "TXT", "a\nb", None),
            record("www", "TXT", "x; comment", None),
            record("www", "TXT", "$INCLUDE /etc/passwd", None),
            record("$INCLUDE", "A", "192.0.2.1", None),
            record("www\nevil", "A", "192.0.2.1", None),
            record("", "A", "192.0.2.1", None),
            record("www", "CNAME", "a b", None),
            record("www", "MX", "mail", None),
            record("www", "SRV", "1 2 x y", None),
            record("www", "CAA", "300 issue x", None),
            record("www", "CAA", "0 is sue \"x\"", None),
            record("www", "CAA", "0 issue \"x\" \"y\"", None),
            record("www", "CAA", "0 issue \"a\\\"b\"", None),
            record("www", "CAA", "0 issue \"unclosed", None),
            record("www", "CAA", "0 iss-ue x", None),
            record("www", "CAA", "0 issue", None),
            record("www", "CAA", "0 issue \"é\"", None),
            record("www", "TXT", "", None),
            record("www", "TXT", &format!("\"{}\"", "x".repeat(256)), None),
            record("a.*.b", "A", "192.0.2.1", None),
        ];
        for input in cases {
            assert!(validate_record(0, &input).is_err(), "{input:?}");
        }
    }
}
