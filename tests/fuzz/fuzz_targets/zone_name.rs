//! Zone names from the URL path and create bodies: everything behind them (file names, rndc
//! command lines, locks) relies on their normal form.
//! Properties: a parsed name re-parses to itself, also with a trailing dot and in upper case;
//! it is lower-case `[a-z0-9._-]`, at most 253 bytes, labels 1..=63 bytes not starting with
//! `-`; a refusal's message (shown to the client) has no raw control characters.
#![no_main]

use bindcar::bind::ZoneName;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    match ZoneName::parse(raw) {
        Ok(zone) => {
            let s = zone.as_str();
            assert_eq!(ZoneName::parse(s).as_ref(), Ok(&zone), "not idempotent");
            assert_eq!(ZoneName::parse(&format!("{s}.")).as_ref(), Ok(&zone));
            assert_eq!(ZoneName::parse(&s.to_ascii_uppercase()).as_ref(), Ok(&zone));
            assert_eq!(zone.to_string(), s);
            assert!(!s.is_empty() && s.len() <= 253 && !s.ends_with('.'));
            assert!(s
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)));
            for label in s.split('.') {
                assert!((1..=63).contains(&label.len()) && !label.starts_with('-'));
            }
            assert_eq!(s, raw.strip_suffix('.').unwrap_or(raw).to_ascii_lowercase());
        }
        Err(e) => {
            assert!(!e.0.is_empty());
            assert!(
                !e.0.chars().any(char::is_control),
                "control character in {:?}",
                e.0
            );
        }
    }
});
