//! `rndc showzone` answers, which PATCH edits and hands back to `modzone`.
//! Properties: a parsed zone's statements are non-empty with their keyword first; its
//! `modzone` block reads back as the same statements; `value` never panics.
#![no_main]

use bindcar::bind::ShownZone;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(shown) = ShownZone::parse(text) else {
        return;
    };
    for s in &shown.statements {
        assert!(!s.keyword.is_empty());
        assert!(s.text.starts_with(&s.keyword), "{s:?}");
        let _ = shown.value(&s.keyword);
    }
    let block = shown.render_block();
    let back = ShownZone::parse(&format!("zone \"x\" {block}"))
        .unwrap_or_else(|e| panic!("block does not read back ({e}): {block}"));
    assert_eq!(back, shown, "{block}");
});
