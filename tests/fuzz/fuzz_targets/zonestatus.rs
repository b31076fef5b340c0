//! `rndc zonestatus` answers (`key: value` lines). Properties: a field's value is one trimmed
//! line; `serial` is that field parsed; `reconfigurable` means the field says exactly "yes".
#![no_main]

use bindcar::bind::zonestatus::{reconfigurable, serial, status_field};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for key in ["serial", "type", "reconfigurable via modzone", "name", ""] {
        if let Some(v) = status_field(&text, key) {
            assert!(!v.contains('\n') && v.trim() == v, "{v:?}");
        }
    }
    let field = status_field(&text, "serial");
    assert_eq!(serial(&text), field.and_then(|s| s.parse().ok()));
    assert_eq!(
        reconfigurable(&text),
        status_field(&text, "reconfigurable via modzone").as_deref() == Some("yes")
    );
});
