//! The one JWT fact the cache needs: when the token itself expires. The signature is not
//! checked here (the TokenReview API does that); `exp` only shortens a cache entry's life.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The `exp` claim (Unix seconds) when `token` is a JWT with a numeric `exp`.
pub fn expiry_unix_seconds(token: &[u8]) -> Option<u64> {
    let mut parts = token.split(|&b| b == b'.');
    let (_header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || payload.len() > 6000 {
        return None;
    }
    let payload = payload
        .strip_suffix(b"==")
        .or(payload.strip_suffix(b"="))
        .unwrap_or(payload);
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&json).ok()?;
    let exp = claims.get("exp")?;
    exp.as_u64()
        .or_else(|| exp.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn jwt(payload: &str) -> Vec<u8> {
        format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
            URL_SAFE_NO_PAD.encode(payload)
        )
        .into_bytes()
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn reads_exp() {
        assert_eq!(
            expiry_unix_seconds(&jwt(r#"{"exp":1700000000}"#)),
            Some(1700000000)
        );
        assert_eq!(
            expiry_unix_seconds(&jwt(r#"{"exp":1700000000.5}"#)),
            Some(1700000000)
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn anything_else_is_none() {
        assert_eq!(expiry_unix_seconds(&jwt(r#"{"sub":"x"}"#)), None);
        assert_eq!(expiry_unix_seconds(&jwt(r#"{"exp":"soon"}"#)), None);
        assert_eq!(expiry_unix_seconds(&jwt(r#"{"exp":-5}"#)), None);
        assert_eq!(expiry_unix_seconds(&jwt("not json")), None);
        assert_eq!(expiry_unix_seconds(b"opaque-token"), None);
        assert_eq!(expiry_unix_seconds(b"a.b"), None);
        assert_eq!(expiry_unix_seconds(b"a.!!!.c"), None);
        assert_eq!(expiry_unix_seconds(b"a.b.c.d"), None);
        assert_eq!(expiry_unix_seconds(b""), None);
    }
}
