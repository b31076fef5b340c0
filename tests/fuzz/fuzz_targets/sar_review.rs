//! SubjectAccessReview answers (the API server's body), as the filter and the backend read them.
//! Input: two bytes of HTTP status (big-endian; 0 means no answer), then the body.
//! Properties: only a 200/201 answer can allow; an allow needs a well-formed
//! `authorization.k8s.io/v1` SubjectAccessReview whose `status.allowed` is true and whose
//! `status.denied` is not true; every other answer is a failure of the matching kind.
//! Seed `corpus/sar_review/invalid-utf8-in-unknown-field` is the input that first broke this
//! target's property (not the parser): bytes that are not UTF-8 in a field nobody reads.
#![no_main]

use bindcar_policy::authz::sar::parse_sar_response;
use bindcar_policy::review::ReviewFailure;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let status = match u16::from_be_bytes([data[0], data[1]]) {
        0 => None,
        s => Some(s),
    };
    let body = &data[2..];
    match parse_sar_response(status, body) {
        Ok(allowed) => {
            assert!(matches!(status, Some(200 | 201)));
            // Lossy: serde skips an unknown field's string without checking its UTF-8 (a
            // harmless leniency the fuzzer found), while the fields read must be valid.
            let v: Value =
                serde_json::from_str(&String::from_utf8_lossy(body)).unwrap_or(Value::Null);
            assert_eq!(v["kind"], "SubjectAccessReview");
            assert_eq!(v["apiVersion"], "authorization.k8s.io/v1");
            if allowed {
                assert_eq!(v["status"]["allowed"], Value::Bool(true));
                assert_ne!(v["status"]["denied"], Value::Bool(true));
            }
        }
        Err(failure) => match (status, &failure) {
            (None, ReviewFailure::Transport) => {}
            (Some(200 | 201), ReviewFailure::MalformedBody) => {}
            (Some(s), ReviewFailure::HttpStatus(f)) => assert_eq!(s, *f),
            other => panic!("unexpected failure {other:?}"),
        },
    }
});
