//! `Authorization` parsing (filter and backend share it). Input: the header values, separated
//! by NUL bytes (one value when there is no NUL).
//! Properties: an accepted token is token68, at most MAX_TOKEN_LEN bytes, and is exactly what
//! follows "bearer " (any case) in the only value; a value of that shape is always accepted.
#![no_main]

use bindcar_policy::bearer::{is_token68, parse_authorization, MAX_TOKEN_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let values: Vec<&[u8]> = if data.is_empty() {
        Vec::new()
    } else {
        data.split(|&b| b == 0).collect()
    };
    let well_formed = |v: &[u8]| {
        v.len() > 7
            && v[..6].eq_ignore_ascii_case(b"bearer")
            && v[6] == b' '
            && v.len() - 7 <= MAX_TOKEN_LEN
            && is_token68(&v[7..])
    };
    match parse_authorization(&values) {
        Ok(token) => {
            assert_eq!(values.len(), 1, "a token from several headers");
            let value = values[0];
            assert!(well_formed(value), "accepted a malformed value");
            assert_eq!(token, &value[7..]);
            assert!(token.len() <= MAX_TOKEN_LEN);
            assert!(is_token68(token));
            assert!(token.iter().all(|b| b.is_ascii_graphic()));
            let _ = bindcar_policy::token_fingerprint(token);
        }
        Err(_) => {
            assert!(
                values.len() != 1 || !well_formed(values[0]),
                "refused a well-formed value"
            );
        }
    }
});
