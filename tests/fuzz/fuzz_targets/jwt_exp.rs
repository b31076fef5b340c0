//! JWT `exp` extraction (it bounds a cached verdict's life). Two uses of the input: as a raw
//! token, and as the JSON payload of a token built around it.
//! Properties: a raw token yields an expiry only when it has exactly three dot-separated parts;
//! for a payload that is a JSON object whose `exp` is an unsigned integer, that is the expiry.
#![no_main]

use bindcar_policy::jwt::expiry_unix_seconds;
use libfuzzer_sys::fuzz_target;

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// A plain base64url encoder, so the oracle does not share the parser's decoder.
fn encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(B64URL[((n >> (18 - 6 * i)) & 63) as usize]);
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if expiry_unix_seconds(data).is_some() {
        assert_eq!(data.iter().filter(|&&b| b == b'.').count(), 2);
    }
    let mut token = b"eyJhbGciOiJSUzI1NiJ9.".to_vec();
    let payload = encode(data);
    token.extend_from_slice(&payload);
    token.extend_from_slice(b".c2ln");
    let got = expiry_unix_seconds(&token);
    if payload.len() <= 6000 {
        if let Ok(serde_json::Value::Object(claims)) = serde_json::from_slice(data) {
            if let Some(exp) = claims.get("exp").and_then(|e| e.as_u64()) {
                assert_eq!(got, Some(exp));
            }
        }
    } else {
        assert_eq!(got, None, "an oversized payload was decoded");
    }
});
