//! The codec against bytes from elsewhere: two replies captured from a real named 9.18 (Debian
//! bind9 9.18.49) and a request built by an independent Python encoder (stdlib `hmac`) that named
//! accepted. The key is a throwaway `tsig-keygen -a hmac-sha256` key made for the capture.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

const SECRET: &str = "RLBAV4hXkffW9ccefFFaLqLpOJwUspg/guqxbx2+pQg=";

fn key() -> Key {
    Key::new("hmac-sha256", SECRET).unwrap()
}

fn hex(text: &str) -> Vec<u8> {
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn null_reply() -> Vec<u8> {
    hex(include_str!("fixtures/named918_null_reply.hex"))
}

fn status_reply() -> Vec<u8> {
    hex(include_str!("fixtures/named918_status_reply.hex"))
}

#[test]
fn a_request_is_byte_for_byte_what_an_independent_encoder_signed_and_named_accepted() {
    let ours = encode_request(
        &key(),
        "zonestatus example.test",
        1234567,
        1796035837,
        Some(b"3268040819"),
    );
    assert_eq!(
        ours,
        hex(include_str!("fixtures/python_zonestatus_request.hex"))
    );
}

#[test]
fn named_replies_verify_and_decode() {
    let null = null_reply();
    assert_eq!(
        message_len(null[..4].try_into().unwrap()).unwrap(),
        null.len() - 4
    );
    let reply = decode_reply(&key(), &null[4..]).unwrap();
    assert_eq!(reply.nonce.as_deref(), Some(&b"3268040819"[..]));
    assert!(reply.success);
    assert_eq!(reply.text, None);

    let status = status_reply();
    let reply = decode_reply(&key(), &status[4..]).unwrap();
    assert!(reply.success);
    assert_eq!(reply.serial.as_deref(), Some("1322641450"));
    assert!(reply
        .text
        .unwrap()
        .starts_with("version: BIND 9.18.49-1~deb12u3-Debian"));
}

#[test]
fn a_request_round_trips_through_the_decoder() {
    for algorithm in ["hmac-sha224", "hmac-sha256", "sha384", "HMAC-SHA512"] {
        let key = Key::new(algorithm, SECRET).unwrap();
        let message = encode_request(&key, "showzone a.test", 42, 1_000, Some(b"77"));
        assert_eq!(
            message_len(message[..4].try_into().unwrap()).unwrap(),
            message.len() - 4
        );
        let decoded = decode_reply(&key, &message[4..]);
        // A request has no result: it decodes (signature good) as an unsuccessful reply.
        let decoded = decoded.unwrap();
        assert_eq!(decoded.serial.as_deref(), Some("42"));
        assert_eq!(decoded.nonce.as_deref(), Some(&b"77"[..]));
        assert!(!decoded.success);
        // and another algorithm's key refuses it
        let other = if algorithm == "hmac-sha256" {
            "sha512"
        } else {
            "sha256"
        };
        let other = Key::new(other, SECRET).unwrap();
        assert!(matches!(
            decode_reply(&other, &message[4..]),
            Err(CodecError::Auth(_))
        ));
    }
}

#[test]
fn a_refusal_carries_err_and_text() {
    // Built as named builds it: _data { type, result, err, text }.
    let mut data = Vec::new();
    put_field(&mut data, "type", TYPE_BINARY, b"delzone x.test");
    put_field(&mut data, "result", TYPE_BINARY, b"23");
    put_field(&mut data, "err", TYPE_BINARY, b"not found");
    put_field(
        &mut data,
        "text",
        TYPE_BINARY,
        b"no matching zone 'x.test' in any view",
    );
    let message = signed_message(&key(), &data);
    let reply = decode_reply(&key(), &message).unwrap();
    assert!(!reply.success);
    assert_eq!(reply.err.as_deref(), Some("not found"));
    assert_eq!(
        reply.text.as_deref(),
        Some("no matching zone 'x.test' in any view")
    );
}

/// version | _auth | _ctrl {} | _data {data}, signed with `key` (no length prefix).
fn signed_message(key: &Key, data: &[u8]) -> Vec<u8> {
    let mut signed = Vec::new();
    put_field(&mut signed, "_ctrl", TYPE_TABLE, &[]);
    put_field(&mut signed, "_data", TYPE_TABLE, data);
    let mut auth = Vec::new();
    put_field(&mut auth, "hsha", TYPE_BINARY, &key.signature(&signed));
    let mut message = 1u32.to_be_bytes().to_vec();
    put_field(&mut message, "_auth", TYPE_TABLE, &auth);
    message.extend_from_slice(&signed);
    message
}

#[test]
fn a_wrong_key_or_a_tampered_reply_fails_authentication() {
    let status = status_reply();
    let wrong = Key::new(
        "hmac-sha256",
        "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE=",
    )
    .unwrap();
    assert!(matches!(
        decode_reply(&wrong, &status[4..]),
        Err(CodecError::Auth(_))
    ));
    let mut tampered = status.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(matches!(
        decode_reply(&key(), &tampered[4..]),
        Err(CodecError::Auth(_))
    ));
    // a flipped signature character, and non-zero padding after the digest
    for offset in [30, 100] {
        let mut tampered = status.clone();
        tampered[offset] ^= 0x01;
        assert!(
            matches!(
                decode_reply(&key(), &tampered[4..]),
                Err(CodecError::Auth(_))
            ),
            "{offset}"
        );
    }
}

#[test]
fn every_truncation_of_a_reply_is_an_error() {
    for reply in [null_reply(), status_reply()] {
        for len in 4..reply.len() {
            assert!(decode_reply(&key(), &reply[4..len]).is_err(), "{len}");
        }
    }
}

#[test]
fn garbage_is_an_error_never_a_panic() {
    // Deterministic pseudo-random bytes, and every single-byte corruption of a real reply.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for len in 0..300 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        assert!(decode_reply(&key(), &bytes).is_err());
    }
    let reply = null_reply();
    for offset in 4..reply.len() {
        for value in [0x00, 0xff, 0x7f] {
            let mut corrupt = reply.clone();
            if corrupt[offset] == value {
                continue;
            }
            corrupt[offset] = value;
            assert!(decode_reply(&key(), &corrupt[4..]).is_err(), "{offset}");
        }
    }
}

#[test]
fn lengths_outside_the_bounds_are_refused() {
    for len in [0u32, 3, (MAX_MESSAGE + 1) as u32, u32::MAX] {
        assert!(message_len(len.to_be_bytes()).is_err(), "{len}");
    }
    assert_eq!(message_len(4u32.to_be_bytes()).unwrap(), 4);
}

#[test]
fn unsigned_or_deeply_nested_messages_are_refused() {
    // no _auth first
    let mut message = 1u32.to_be_bytes().to_vec();
    put_field(&mut message, "_data", TYPE_TABLE, &[]);
    assert!(matches!(
        decode_reply(&key(), &message),
        Err(CodecError::Auth(_))
    ));
    // a signed reply whose _data nests tables beyond the limit
    let mut nested = Vec::new();
    for _ in 0..(MAX_DEPTH + 2) {
        let mut outer = Vec::new();
        put_field(&mut outer, "t", TYPE_TABLE, &nested);
        nested = outer;
    }
    assert!(matches!(
        decode_reply(&key(), &signed_message(&key(), &nested)),
        Err(CodecError::Malformed(_))
    ));
    // an unknown value type
    let mut data = Vec::new();
    put_field(&mut data, "x", 9, b"");
    assert!(matches!(
        decode_reply(&key(), &signed_message(&key(), &data)),
        Err(CodecError::Malformed(_))
    ));
}

#[test]
fn keys_are_checked_and_never_shown() {
    assert!(Key::new("hmac-md5", SECRET).is_err());
    assert!(Key::new("hmac-sha256", "not base64!").is_err());
    let shown = format!("{:?}", key());
    assert!(
        !shown.contains(SECRET) && shown.contains("redacted"),
        "{shown}"
    );
}
