//! `Authorization: Bearer <token>` parsing.
//!
//! Rules: exactly one `Authorization` header; scheme `Bearer` in any case (RFC 7235);
//! exactly one space; a token of RFC 6750 `token68` characters, at most [`MAX_TOKEN_LEN`]
//! bytes. Anything else is an invalid format, so comma-joined or duplicated credentials,
//! tabs, second words and non-ASCII bytes never reach a reviewer or an upstream.

use crate::denial::Denial;

pub const MAX_TOKEN_LEN: usize = 8192;

/// Takes every `Authorization` value of the request, returns the token.
pub fn parse_authorization<'a>(values: &[&'a [u8]]) -> Result<&'a [u8], Denial> {
    let token = bearer_part(values)?;
    check_token(token)?;
    Ok(token)
}

/// The part after `Bearer ` of the one `Authorization` value, not yet checked to be a token:
/// what a caller that already knows these exact bytes (a worker's memo of tokens that passed
/// [`check_token`]) can look up before paying for the check.
pub fn bearer_part<'a>(values: &[&'a [u8]]) -> Result<&'a [u8], Denial> {
    match values {
        [] => Err(Denial::MissingHeader),
        [value] => scheme_and_space(value),
        _ => Err(Denial::InvalidFormat),
    }
}

/// A token: `token68`, at most [`MAX_TOKEN_LEN`] bytes.
pub fn check_token(token: &[u8]) -> Result<(), Denial> {
    if token.len() > MAX_TOKEN_LEN || !is_token68(token) {
        return Err(Denial::InvalidFormat);
    }
    Ok(())
}

fn scheme_and_space(value: &[u8]) -> Result<&[u8], Denial> {
    let (scheme, rest) = value.split_at(value.len().min(6));
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(Denial::InvalidFormat);
    }
    let token = match rest {
        [] => return Err(Denial::EmptyToken),
        [b' ', token @ ..] => token,
        _ => return Err(Denial::InvalidFormat),
    };
    if token.is_empty() {
        return Err(Denial::EmptyToken);
    }
    Ok(token)
}

/// RFC 7235 token68: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub fn is_token68(token: &[u8]) -> bool {
    let body_len = token.len() - token.iter().rev().take_while(|&&b| b == b'=').count();
    body_len > 0 && all_token68(&token[..body_len])
}

/// Eight bytes at a time, without a branch per byte: every request's token (a
/// ServiceAccount JWT is ~1 KB) goes through here, and a branch per byte cost more than the
/// rest of the basic check together (callgrind on the real Envoy).
fn all_token68(body: &[u8]) -> bool {
    let t = |b: u8| TOKEN68[usize::from(b)];
    let mut chunks = body.chunks_exact(8);
    let mut ok = 1u8;
    for c in &mut chunks {
        ok &= t(c[0]) & t(c[1]) & t(c[2]) & t(c[3]) & t(c[4]) & t(c[5]) & t(c[6]) & t(c[7]);
    }
    for &b in chunks.remainder() {
        ok &= t(b);
    }
    ok == 1
}

/// token68's body characters, by byte: 1 in the set, 0 not.
static TOKEN68: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/') {
            table[b] = 1;
        }
        b += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    type Case<'a> = (&'a [u8], Result<&'a [u8], Denial>);

    fn one(v: &[u8]) -> Result<&[u8], Denial> {
        parse_authorization(&[v])
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn the_table_is_the_rfc_set_byte_for_byte() {
        for b in 0..=255u8 {
            let rfc = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(is_token68(&[b]), rfc, "byte {b:#04x}");
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn table() {
        let long_ok = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN));
        let too_long = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));
        let cases: Vec<Case> = vec![
            (b"Bearer abc", Ok(b"abc")),
            (b"bearer abc", Ok(b"abc")),
            (b"BEARER abc", Ok(b"abc")),
            (b"BeArEr abc", Ok(b"abc")),
            (
                b"Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
                Ok(b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"),
            ),
            (b"Bearer a-b.c_d~e+f/g==", Ok(b"a-b.c_d~e+f/g==")),
            (b"Bearer ", Err(Denial::EmptyToken)),
            (b"Bearer", Err(Denial::EmptyToken)),
            (b"bearer", Err(Denial::EmptyToken)),
            (b"Bearer  abc", Err(Denial::InvalidFormat)),
            (b"Bearer\tabc", Err(Denial::InvalidFormat)),
            (b"Bearerabc", Err(Denial::InvalidFormat)),
            (b"Bearer abc def", Err(Denial::InvalidFormat)),
            (b"Bearer abc,Bearer def", Err(Denial::InvalidFormat)),
            (b"Bearer abc, def", Err(Denial::InvalidFormat)),
            (b"Bearer ===", Err(Denial::InvalidFormat)),
            (b"Bearer ab=c", Err(Denial::InvalidFormat)),
            (b"Bearer abc ", Err(Denial::InvalidFormat)),
            (b" Bearer abc", Err(Denial::InvalidFormat)),
            (b"Bearer \xff\xfe", Err(Denial::InvalidFormat)),
            (b"Bearer ab\x00c", Err(Denial::InvalidFormat)),
            (b"Bearer caf\xc3\xa9", Err(Denial::InvalidFormat)),
            (b"Bearer \"abc\"", Err(Denial::InvalidFormat)),
            (b"Basic dXNlcjpwYXNz", Err(Denial::InvalidFormat)),
            (b"Token abc", Err(Denial::InvalidFormat)),
            (b"Bear abc", Err(Denial::InvalidFormat)),
            (b"", Err(Denial::InvalidFormat)),
            (b"abc", Err(Denial::InvalidFormat)),
            (b"\xff", Err(Denial::InvalidFormat)),
            (long_ok.as_bytes(), Ok(&long_ok.as_bytes()[7..])),
            (too_long.as_bytes(), Err(Denial::InvalidFormat)),
        ];
        for (input, expected) in cases {
            assert_eq!(
                one(input),
                expected,
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_bad_byte_anywhere_in_a_long_token_is_found() {
        let good = b"eyJhbGciOiJSUzI1NiJ9".repeat(50);
        assert!(is_token68(&good));
        for at in 0..good.len() {
            for bad in [b' ', b'\0', 0xff, b'"', b'=', b','] {
                let mut t = good.clone();
                t[at] = bad;
                // '=' is fine only as trailing padding.
                let expect = bad == b'=' && t[at + 1..].iter().all(|&b| b == b'=');
                assert_eq!(is_token68(&t), expect, "{bad:#04x} at {at}");
            }
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn the_bearer_part_then_the_token_check() {
        assert_eq!(bearer_part(&[b"Bearer a b"]), Ok(&b"a b"[..]));
        assert_eq!(check_token(b"a b"), Err(Denial::InvalidFormat));
        assert_eq!(bearer_part(&[]), Err(Denial::MissingHeader));
        assert_eq!(bearer_part(&[b"Bearer "]), Err(Denial::EmptyToken));
        assert_eq!(check_token(b"abc=="), Ok(()));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn header_count() {
        assert_eq!(parse_authorization(&[]), Err(Denial::MissingHeader));
        assert_eq!(
            parse_authorization(&[b"Bearer a", b"Bearer a"]),
            Err(Denial::InvalidFormat)
        );
        assert_eq!(
            parse_authorization(&[b"Bearer a", b"Bearer b", b"Bearer c"]),
            Err(Denial::InvalidFormat)
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn never_panics_on_any_short_byte_string() {
        // Every 1- and 2-byte value, and all of them after "Bearer ".
        for a in 0..=255u8 {
            let _ = one(&[a]);
            let _ = one(&[b'B', b'e', b'a', b'r', b'e', b'r', b' ', a]);
            for b in 0..=255u8 {
                let _ = one(&[a, b]);
            }
        }
    }
}
