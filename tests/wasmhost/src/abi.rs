//! The proxy-wasm ABI 0.2.1 as the host sees it: status codes, map and buffer numbers, the
//! header-map wire format, and one recorded host call.

use std::fmt;

use serde::Serialize;

/// Statuses the SDK understands; it panics (a trap, with `panic = "abort"`) on any other, so
/// an import we do not model answers `INTERNAL_FAILURE`, which the SDK turns into an `Err`.
pub const OK: i32 = 0;
pub const NOT_FOUND: i32 = 1;
pub const BAD_ARGUMENT: i32 = 2;
pub const EMPTY: i32 = 7;
pub const CAS_MISMATCH: i32 = 8;
pub const INTERNAL_FAILURE: i32 = 10;

/// `MapType` numbers.
pub const MAP_REQUEST_HEADERS: u32 = 0;
pub const MAP_RESPONSE_HEADERS: u32 = 2;
pub const MAP_CALLOUT_HEADERS: u32 = 6;

/// `BufferType` numbers.
pub const BUFFER_CALLOUT_BODY: u32 = 4;
pub const BUFFER_PLUGIN_CONFIGURATION: u32 = 7;

/// `Action` as `proxy_on_request_headers` returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Action {
    Continue,
    Pause,
}

impl Action {
    pub fn from_wasm(v: i32) -> Action {
        if v == 0 {
            Action::Continue
        } else {
            Action::Pause
        }
    }
}

/// A short name for a map type, for the call list (`request:authorization`).
pub fn map_name(map: u32) -> &'static str {
    match map {
        MAP_REQUEST_HEADERS => "request",
        1 => "request-trailers",
        MAP_RESPONSE_HEADERS => "response",
        3 => "response-trailers",
        MAP_CALLOUT_HEADERS => "callout-response",
        _ => "other-map",
    }
}

pub fn buffer_name(buffer: u32) -> &'static str {
    match buffer {
        0 => "request-body",
        1 => "response-body",
        BUFFER_CALLOUT_BODY => "callout-response-body",
        6 => "vm-configuration",
        BUFFER_PLUGIN_CONFIGURATION => "plugin-configuration",
        _ => "other-buffer",
    }
}

pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// The SDK's map format: count, then (key length, value length) per pair, then each key and
/// value followed by a NUL.
pub fn serialize_map(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = (pairs.len() as u32).to_le_bytes().to_vec();
    for (k, v) in pairs {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k);
        out.push(0);
        out.extend_from_slice(v);
        out.push(0);
    }
    out
}

/// The inverse of [`serialize_map`]; `None` on a malformed map (the guest's bug, reported).
pub fn deserialize_map(bytes: &[u8]) -> Option<Pairs> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let u32_at = |at: usize| -> Option<usize> {
        let b = bytes.get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let n = u32_at(0)?;
    let mut p = 4 + n.checked_mul(8)?;
    let mut pairs = Vec::with_capacity(n.min(1024));
    for i in 0..n {
        let (kl, vl) = (u32_at(4 + i * 8)?, u32_at(8 + i * 8)?);
        let k = bytes.get(p..p + kl)?.to_vec();
        p += kl + 1;
        let v = bytes.get(p..p + vl)?.to_vec();
        p += vl + 1;
        pairs.push((k, v));
    }
    Some(pairs)
}

/// One host call the module made: the import's name, what it was about where that helps
/// (a header name, a shared-data key, a metric), and the callback it was made in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostCall {
    pub name: String,
    pub detail: Option<String>,
    pub during: &'static str,
}

impl fmt::Display for HostCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.during, self.name)?;
        match &self.detail {
            Some(d) => write!(f, "({d})"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn maps_round_trip_in_the_sdk_format() {
        let pairs = vec![
            (b":status".to_vec(), b"201".to_vec()),
            (b"x-empty".to_vec(), Vec::new()),
        ];
        let bytes = serialize_map(&pairs);
        assert_eq!(&bytes[..4], &2u32.to_le_bytes());
        assert_eq!(deserialize_map(&bytes).unwrap(), pairs);
        assert_eq!(deserialize_map(&[]).unwrap(), Vec::new());
        assert_eq!(
            deserialize_map(&bytes[..bytes.len() - 3]),
            None,
            "truncated"
        );
    }

    #[test]
    fn a_call_reads_as_callback_name_and_detail() {
        let call = HostCall {
            name: "proxy_get_header_map_value".into(),
            detail: Some("request:authorization".into()),
            during: "on_request_headers",
        };
        assert_eq!(
            call.to_string(),
            "on_request_headers: proxy_get_header_map_value(request:authorization)"
        );
    }
}
