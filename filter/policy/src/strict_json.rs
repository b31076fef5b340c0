//! JSON as an operator means it: a key given twice in one object is an error, not "the last
//! one wins" (serde_json's `Value` keeps the last silently, so `{"mode":"tokenReview",
//! "mode":"basic"}` would load in basic mode). Everything else is serde_json's.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Number, Value};

/// Parses `bytes` into a `Value`, refusing a duplicate key at any depth (the error names it).
pub fn parse(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Strict>(bytes).map(|s| s.0)
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate key `{key}` (each key may be given once)"
                )));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test(unsupported = test)]
    fn duplicate_keys_are_refused_at_any_depth() {
        for input in [
            r#"{"mode":"tokenReview","mode":"basic"}"#,
            r#"{"a":{"b":1,"b":1}}"#,
            r#"{"a":[{"x":1},{"y":2,"y":3}]}"#,
        ] {
            let e = parse(input.as_bytes()).expect_err(input).to_string();
            assert!(e.contains("duplicate key"), "{input}: {e}");
        }
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn everything_else_reads_as_serde_json_reads_it() {
        for input in [
            r#"{"a":1,"b":[true,null,"s",-2,1.5],"c":{"a":1}}"#,
            "[]",
            "\"x\"",
            "18446744073709551615",
        ] {
            let strict = parse(input.as_bytes()).unwrap();
            let loose: Value = serde_json::from_str(input).unwrap();
            assert_eq!(strict, loose, "{input}");
        }
        assert!(parse(b"{").is_err());
        assert!(parse(b"not json").is_err());
    }
}
