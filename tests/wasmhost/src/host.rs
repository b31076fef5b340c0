//! The host's state (one Envoy worker's view of one plugin VM) and what each import does.
//! Every import the module declares is linked (`vm.rs`); each call lands in [`handle`], is
//! recorded in order, and the ones the filter's paths need are implemented for real enough:
//! headers, logs, buffers and properties here, the rest in `services.rs`.

use std::collections::{BTreeMap, VecDeque};

use wasmi::{Caller, Error, Extern, Val};

use crate::abi::{self, HostCall, Pairs};

/// A request as the host holds it: its headers (changed by the filter), and what the filter
/// did with it.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    pub request_headers: Pairs,
    pub response_headers: Pairs,
    pub local_response: Option<LocalResponse>,
    /// `proxy_continue_stream` was called for the request (a paused request resumed).
    pub resumed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LocalResponse {
    pub status: u32,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// A callout the module dispatched with `proxy_http_call`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCall {
    pub token: u32,
    pub cluster: String,
    pub headers: Pairs,
    pub body: Vec<u8>,
    pub timeout_ms: u32,
}

pub struct Host {
    pub calls: Vec<HostCall>,
    /// The callback the module is in, for the record.
    pub during: &'static str,
    /// The context header and reply calls act on (`proxy_set_effective_context` moves it).
    pub effective: u32,
    /// The root context's id: callouts' answers and queue events go to it.
    pub root_id: u32,
    pub plugin_config: Vec<u8>,
    /// What `proxy_get_log_level` answers (2 = info, Envoy's default).
    pub log_level: i32,
    /// Fixed unless a test moves it, so counts do not depend on the wall clock.
    pub now_ns: u64,
    random: u64,
    pub logs: Vec<(u32, String)>,
    pub streams: BTreeMap<u32, Stream>,
    /// Key → (value, cas); shared with other VMs by copying (`FilterVm::shared_data`).
    pub shared: BTreeMap<String, (Vec<u8>, u32)>,
    /// The last compare-and-swap version handed out (versions only grow, as in Envoy).
    pub cas: u32,
    /// Queue id − 1 → (name, messages).
    pub queues: Vec<(String, VecDeque<Vec<u8>>)>,
    /// Queues that got a message since the driver last delivered `proxy_on_queue_ready`.
    pub ready: Vec<u32>,
    /// Metric id − 1 → (name, value).
    pub metrics: Vec<(String, i64)>,
    pub http_calls: Vec<HttpCall>,
    /// The answer `proxy_on_http_call_response` is delivering: headers and body.
    pub callout_response: (Pairs, Vec<u8>),
    /// Property path (parts joined with '.') → value.
    pub properties: BTreeMap<String, Vec<u8>>,
    /// Imports that answer a failure instead of doing anything, as a host in trouble would
    /// (`INTERNAL_FAILURE`; WASI calls `EIO`): what the module does then is the test.
    pub failing: Vec<&'static str>,
    /// The same for the calls this picks out by import name and arguments.
    pub fail_when: Option<FailWhen>,
}

/// Picks the import calls that fail: `(import name, its arguments)`.
pub type FailWhen = Box<dyn Fn(&str, &[u64]) -> bool>;

impl Host {
    pub fn new(plugin_config: &str) -> Host {
        let mut properties = BTreeMap::new();
        properties.insert("source.address".into(), b"10.0.0.7:51234".to_vec());
        Host {
            calls: Vec::new(),
            during: "instantiate",
            effective: 0,
            root_id: 0,
            plugin_config: plugin_config.as_bytes().to_vec(),
            log_level: 2,
            // 2026-01-01T00:00:00Z
            now_ns: 1_767_225_600_000_000_000,
            random: 0x9e37_79b9_7f4a_7c15,
            logs: Vec::new(),
            streams: BTreeMap::new(),
            shared: BTreeMap::new(),
            cas: 0,
            queues: Vec::new(),
            ready: Vec::new(),
            metrics: Vec::new(),
            http_calls: Vec::new(),
            callout_response: (Vec::new(), Vec::new()),
            properties,
            failing: Vec::new(),
            fail_when: None,
        }
    }

    pub fn metric(&self, name: &str) -> Option<i64> {
        self.metrics
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }

    fn map(&mut self, map: u32) -> Option<&mut Pairs> {
        let effective = self.effective;
        match map {
            abi::MAP_REQUEST_HEADERS => {
                Some(&mut self.streams.get_mut(&effective)?.request_headers)
            }
            abi::MAP_RESPONSE_HEADERS => {
                Some(&mut self.streams.get_mut(&effective)?.response_headers)
            }
            abi::MAP_CALLOUT_HEADERS => Some(&mut self.callout_response.0),
            _ => None,
        }
    }

    /// Deterministic bytes (splitmix64): the same run gives the same keys and queue names.
    pub(crate) fn fill_random(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.random = self.random.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.random;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

pub(crate) fn memory(c: &Caller<'_, Host>) -> Result<wasmi::Memory, Error> {
    c.get_export("memory")
        .and_then(Extern::into_memory)
        .ok_or_else(|| Error::new("the module exports no memory"))
}

pub(crate) fn read(c: &Caller<'_, Host>, ptr: u64, len: u64) -> Result<Vec<u8>, Error> {
    let (ptr, len) = (ptr as usize, len as usize);
    memory(c)?
        .data(c)
        .get(ptr..ptr.saturating_add(len))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| Error::new(format!("read out of bounds: {ptr}+{len}")))
}

pub(crate) fn read_str(c: &Caller<'_, Host>, ptr: u64, len: u64) -> Result<String, Error> {
    Ok(String::from_utf8_lossy(&read(c, ptr, len)?).into_owned())
}

pub(crate) fn write(c: &mut Caller<'_, Host>, ptr: u64, bytes: &[u8]) -> Result<(), Error> {
    memory(c)?
        .write(&mut *c, ptr as usize, bytes)
        .map_err(|e| Error::new(format!("write out of bounds at {ptr}: {e}")))
}

pub(crate) fn write_u32(c: &mut Caller<'_, Host>, ptr: u64, v: u32) -> Result<(), Error> {
    write(c, ptr, &v.to_le_bytes())
}

/// Hands `bytes` to the module as the SDK expects: memory from its own allocator
/// (`proxy_on_memory_allocate`), the address and size written at the two return pointers.
pub(crate) fn give(
    c: &mut Caller<'_, Host>,
    bytes: &[u8],
    ptr_ptr: u64,
    size_ptr: u64,
) -> Result<(), Error> {
    let alloc = c
        .get_export("proxy_on_memory_allocate")
        .or_else(|| c.get_export("malloc"))
        .and_then(Extern::into_func)
        .ok_or_else(|| Error::new("the module exports no allocator"))?;
    let mut out = [Val::I32(0)];
    alloc.call(&mut *c, &[Val::I32(bytes.len() as i32)], &mut out)?;
    let addr = out[0].i32().unwrap_or(0) as u32;
    if addr == 0 && !bytes.is_empty() {
        return Err(Error::new("the module's allocator returned null"));
    }
    write(c, u64::from(addr), bytes)?;
    write_u32(c, ptr_ptr, addr)?;
    write_u32(c, size_ptr, bytes.len() as u32)
}

fn lower(b: &[u8]) -> Vec<u8> {
    b.to_ascii_lowercase()
}

/// One import call: does it, records it, and returns the status (None for a function with no
/// result, i.e. `proc_exit`, which ends the call with a trap as WASI wants).
pub fn handle(
    c: &mut Caller<'_, Host>,
    module: &str,
    name: &str,
    a: &[u64],
) -> Result<Option<i32>, Error> {
    let arg = |i: usize| a.get(i).copied().unwrap_or(0);
    let mut detail = None;
    let status = match (module, name) {
        ("env", "proxy_log") => {
            let msg = read_str(c, arg(1), arg(2))?;
            detail = Some(format!("level {}", arg(0)));
            c.data_mut().logs.push((arg(0) as u32, msg));
            abi::OK
        }
        ("env", "proxy_get_log_level") => {
            let level = c.data().log_level as u32;
            write_u32(c, arg(0), level)?;
            abi::OK
        }
        ("env", "proxy_get_current_time_nanoseconds") => {
            let now = c.data().now_ns;
            write(c, arg(0), &now.to_le_bytes())?;
            abi::OK
        }
        ("env", "proxy_set_tick_period_milliseconds") => abi::OK,
        ("env", "proxy_get_buffer_bytes") => {
            let (kind, start, max) = (arg(0) as u32, arg(1) as usize, arg(2) as usize);
            detail = Some(abi::buffer_name(kind).into());
            let data = match kind {
                abi::BUFFER_PLUGIN_CONFIGURATION => Some(c.data().plugin_config.clone()),
                abi::BUFFER_CALLOUT_BODY => Some(c.data().callout_response.1.clone()),
                _ => None,
            };
            match data {
                Some(d) => {
                    let end = start.saturating_add(max).min(d.len());
                    let slice = d.get(start.min(end)..end).unwrap_or_default().to_vec();
                    give(c, &slice, arg(3), arg(4))?;
                    abi::OK
                }
                None => abi::NOT_FOUND,
            }
        }
        ("env", "proxy_get_header_map_value") => {
            let key = lower(&read(c, arg(1), arg(2))?);
            detail = Some(format!(
                "{}:{}",
                abi::map_name(arg(0) as u32),
                String::from_utf8_lossy(&key)
            ));
            let found = c
                .data_mut()
                .map(arg(0) as u32)
                .and_then(|m| m.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()));
            match found {
                Some(v) => {
                    give(c, &v, arg(3), arg(4))?;
                    abi::OK
                }
                None => abi::NOT_FOUND,
            }
        }
        ("env", "proxy_get_header_map_pairs") => {
            detail = Some(abi::map_name(arg(0) as u32).into());
            let pairs = c.data_mut().map(arg(0) as u32).cloned().unwrap_or_default();
            give(c, &abi::serialize_map(&pairs), arg(1), arg(2))?;
            abi::OK
        }
        ("env", "proxy_set_header_map_pairs") => {
            detail = Some(abi::map_name(arg(0) as u32).into());
            let bytes = read(c, arg(1), arg(2))?;
            let pairs = abi::deserialize_map(&bytes).ok_or_else(|| Error::new("bad map"))?;
            match c.data_mut().map(arg(0) as u32) {
                Some(m) => {
                    *m = pairs;
                    abi::OK
                }
                None => abi::NOT_FOUND,
            }
        }
        ("env", op @ ("proxy_replace_header_map_value" | "proxy_add_header_map_value"))
        | ("env", op @ "proxy_remove_header_map_value") => {
            let key = lower(&read(c, arg(1), arg(2))?);
            let value = if op == "proxy_remove_header_map_value" {
                None
            } else {
                Some(read(c, arg(3), arg(4))?)
            };
            detail = Some(format!(
                "{}:{}",
                abi::map_name(arg(0) as u32),
                String::from_utf8_lossy(&key)
            ));
            match c.data_mut().map(arg(0) as u32) {
                Some(m) => {
                    if op != "proxy_add_header_map_value" {
                        m.retain(|(k, _)| *k != key);
                    }
                    if let Some(v) = value {
                        m.push((key, v));
                    }
                    abi::OK
                }
                None => abi::NOT_FOUND,
            }
        }
        ("env", "proxy_get_property") => {
            let path = read(c, arg(0), arg(1))?;
            let key = path
                .split(|b| *b == 0)
                .map(String::from_utf8_lossy)
                .collect::<Vec<_>>()
                .join(".");
            detail = Some(key.clone());
            match c.data().properties.get(&key).cloned() {
                Some(v) => {
                    give(c, &v, arg(2), arg(3))?;
                    abi::OK
                }
                None => abi::NOT_FOUND,
            }
        }
        _ => return crate::services::handle(c, module, name, a),
    };
    record(c, name, detail);
    Ok(Some(status))
}

/// An import listed in `Host::failing`: recorded, then refused.
pub fn fail(c: &mut Caller<'_, Host>, module: &str, name: &str) -> Option<i32> {
    record(c, name, Some("failed (injected)".into()));
    Some(match module {
        "wasi_snapshot_preview1" => WASI_EIO,
        _ => abi::INTERNAL_FAILURE,
    })
}

/// WASI's `EIO`.
const WASI_EIO: i32 = 29;

pub(crate) fn record(c: &mut Caller<'_, Host>, name: &str, detail: Option<String>) {
    let during = c.data().during;
    c.data_mut().calls.push(HostCall {
        name: name.to_string(),
        detail,
        during,
    });
}
