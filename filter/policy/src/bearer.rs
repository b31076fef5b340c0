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
    match values {
        [] => Err(Denial::MissingHeader),
        [value] => parse_value(value),
        _ => Err(Denial::InvalidFormat),
    }
}

fn parse_value(value: &[u8]) -> Result<&[u8], Denial> {
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
    if token.len() > MAX_TOKEN_LEN || !is_token68(token) {
        return Err(Denial::InvalidFormat);
    }
    Ok(token)
}

/// RFC 7235 token68: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub fn is_token68(token: &[u8]) -> bool {
    let body_len = token.len() - token.iter().rev().take_while(|&&b| b == b'=').count();
    body_len > 0 && token[..body_len].iter().all(|&b| TOKEN68[usize::from(b)])
}

/// token68's body characters, by byte: one load per byte of a token on every request (a
/// ServiceAccount JWT is ~1 KB), where range tests cost several compares and branches.
static TOKEN68: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] =
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
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
