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

/// Every byte of `body` a token68 body character. Every request's token (a ServiceAccount JWT
/// is ~1 KB) goes through here, and a branch per byte cost more than the rest of the basic
/// check together (callgrind on the real Envoy): sixteen bytes per step on wasm (SIMD), eight
/// without a branch elsewhere.
fn all_token68(body: &[u8]) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        // SAFETY: `simd128` is part of WebAssembly 2.0, which every engine the filter runs in
        // (V8 in Envoy, Node for the tests, wasmi with `simd` for the host-call tests) has.
        unsafe { simd::all_token68(body) }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        all_token68_scalar(body)
    }
}

fn all_token68_scalar(body: &[u8]) -> bool {
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

/// The same set by nibbles: a byte is in it when `LO[low nibble] & HI[high nibble]` is not
/// zero. `HI` gives each high nibble 2..=7 a bit (8..=15, non-ASCII, none); `LO` sets, for a
/// low nibble, the bits of the high nibbles that make a token68 character with it.
#[cfg(target_arch = "wasm32")]
mod simd {
    use core::arch::wasm32::*;

    const fn nibble_tables() -> ([u8; 16], [u8; 16]) {
        let mut lo = [0u8; 16];
        let mut hi = [0u8; 16];
        let mut h = 2;
        while h <= 7 {
            hi[h] = 1 << (h - 2);
            let mut l = 0;
            while l < 16 {
                if super::TOKEN68[h * 16 + l] == 1 {
                    lo[l] |= 1 << (h - 2);
                }
                l += 1;
            }
            h += 1;
        }
        (lo, hi)
    }

    const TABLES: ([u8; 16], [u8; 16]) = nibble_tables();

    /// # Safety
    /// Needs an engine with WebAssembly SIMD (see the caller).
    #[target_feature(enable = "simd128")]
    pub unsafe fn all_token68(body: &[u8]) -> bool {
        let lo = u8x16(
            TABLES.0[0],
            TABLES.0[1],
            TABLES.0[2],
            TABLES.0[3],
            TABLES.0[4],
            TABLES.0[5],
            TABLES.0[6],
            TABLES.0[7],
            TABLES.0[8],
            TABLES.0[9],
            TABLES.0[10],
            TABLES.0[11],
            TABLES.0[12],
            TABLES.0[13],
            TABLES.0[14],
            TABLES.0[15],
        );
        let hi = u8x16(
            TABLES.1[0],
            TABLES.1[1],
            TABLES.1[2],
            TABLES.1[3],
            TABLES.1[4],
            TABLES.1[5],
            TABLES.1[6],
            TABLES.1[7],
            TABLES.1[8],
            TABLES.1[9],
            TABLES.1[10],
            TABLES.1[11],
            TABLES.1[12],
            TABLES.1[13],
            TABLES.1[14],
            TABLES.1[15],
        );
        let nibble = u8x16_splat(0x0f);
        let zero = u8x16_splat(0);
        let mut chunks = body.chunks_exact(16);
        // A lane of `bad` is set once any byte in its position is outside the set.
        let mut bad = zero;
        for c in &mut chunks {
            // SAFETY: `c` is 16 readable bytes; wasm loads need no alignment.
            let v = unsafe { v128_load(c.as_ptr().cast()) };
            let class_lo = u8x16_swizzle(lo, v128_and(v, nibble));
            let class_hi = u8x16_swizzle(hi, u8x16_shr(v, 4));
            bad = v128_or(bad, u8x16_eq(v128_and(class_lo, class_hi), zero));
        }
        !v128_any_true(bad) && super::all_token68_scalar(chunks.remainder())
    }
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

    /// On wasm this is the SIMD path: every byte at every position of a 16-byte step, and
    /// steps whose bytes belong to different classes (letters, digits, punctuation).
    #[wasm_bindgen_test(unsupported = test)]
    fn the_fast_check_is_the_table_at_every_position() {
        let mixed = b"Ab0-._~+/zZ9aA1b".repeat(4);
        assert!(all_token68(&mixed));
        assert!(all_token68(
            b"eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJrdWJlcm5ldGVzIn0.c2ln"
        ));
        for len in [16, 17, 31, 32, 48] {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut t = vec![b'a'; len];
                    t[at] = b;
                    assert_eq!(
                        all_token68(&t),
                        all_token68_scalar(&t),
                        "{b:#04x} at {at} of {len}"
                    );
                    assert_eq!(all_token68(&t), TOKEN68[usize::from(b)] == 1);
                }
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
