//! named's DNS answers in the records path (one TCP frame's bytes, from the network): parsed,
//! refusals mapped to their rcode, and a zone transfer's records turned into the API's list.
//! Properties: an accepted answer is NOERROR; a refusal names a non-empty rcode other than
//! NOERROR; every listed record has a type and prints without control characters in its type.
#![no_main]

use bindcar::bind::update::{read_answer, zone_records, DnsFailure};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match read_answer(data) {
        Ok(message) => {
            for record in zone_records(std::slice::from_ref(&message)) {
                assert!(!record.rtype.is_empty());
                assert!(!record.rtype.chars().any(char::is_control));
            }
        }
        Err(DnsFailure::Rcode { rcode, .. }) => {
            assert!(!rcode.is_empty());
            assert_ne!(rcode, "NOERROR");
        }
        Err(DnsFailure::Protocol(_)) => {}
        Err(other) => panic!("parsing alone cannot fail with {other:?}"),
    }
});
