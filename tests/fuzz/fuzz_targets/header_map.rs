//! Envoy's serialized header map, as the filter reads every request header in one host call.
//! Input: any bytes, as if the host had written them.
//! Properties: a map is either refused or read whole; a read map serializes back to exactly
//! the input (nothing skipped, nothing invented), and every lookup agrees with the pairs.
#![no_main]

use bindcar_policy::header_map::{serialize, HeaderMap};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(map) = HeaderMap::new(data) else {
        return;
    };
    let pairs: Vec<(&[u8], &[u8])> = map.pairs().collect();
    if data.is_empty() {
        assert!(pairs.is_empty());
        return;
    }
    // Trailing bytes past the last NUL are allowed by the layout check; the pairs must
    // account for everything before them.
    let again = serialize(&pairs);
    assert_eq!(&data[..again.len()], &again[..], "pairs differ from the bytes");
    for (name, value) in &pairs {
        let first = pairs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v);
        assert_eq!(map.get(name), first);
        assert!(first.is_some_and(|v| v.len() <= data.len()) && value.len() <= data.len());
    }
    let mut two = [&b""[..]; 2];
    let n = map.get_all(b"authorization", &mut two);
    let expected = pairs
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(b"authorization"))
        .count()
        .min(2);
    assert_eq!(n, expected);
});
