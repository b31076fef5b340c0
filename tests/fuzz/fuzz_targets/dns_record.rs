//! One record of a create body (`zoneConfig.records[i]`) → one zone-file line. Input: lines
//! `name`, `type`, `value`, then optional `ttl` and `priority` (decimal).
//! Properties: an accepted record renders as exactly one line without control characters,
//! starting with its owner; its type is one of the supported ones; BIND's zone-file
//! metacharacters (`;`, `(`, `)`, `$`) appear in the data only inside quotes.
#![no_main]

use bindcar::zones::records::{validate_record, SUPPORTED_TYPES};
use bindcar::zones::request::DnsRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut fields = text.splitn(5, '\n');
    let (Some(name), Some(record_type), Some(value)) =
        (fields.next(), fields.next(), fields.next())
    else {
        return;
    };
    let ttl = fields.next().and_then(|t| t.parse().ok());
    let priority = fields.next().and_then(|p| p.parse().ok());
    let record = DnsRecord {
        name: name.into(),
        record_type: record_type.into(),
        value: value.into(),
        ttl,
        priority,
    };
    let Ok(line) = validate_record(3, &record) else {
        return;
    };
    assert!(SUPPORTED_TYPES.contains(&line.record_type));
    let rendered = line.render();
    assert!(!rendered.chars().any(char::is_control), "{rendered:?}");
    assert!(rendered.starts_with(&format!("{name} ")));
    let mut in_quotes = false;
    let mut chars = line.rdata.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '"' => in_quotes = !in_quotes,
            ';' | '(' | ')' | '$' => assert!(in_quotes, "{c:?} outside quotes in {rendered:?}"),
            _ => {}
        }
    }
    assert!(!in_quotes, "unbalanced quotes in {rendered:?}");
    assert!(!name.contains(['$', ';', '(', ')', '"', ' ']));
});
