//! The host functions the filter calls, declared here so that every status the host answers
//! is a value the caller handles. The SDK's wrappers (proxy-wasm 0.2 `hostcalls`, its trait
//! methods and its logger) `panic!` on any status they did not expect, and a panic aborts the
//! VM: every later request on the worker would fail. Statuses are read as plain integers (an
//! unknown number must not become an enum the compiler trusts).
//!
//! The one call still made through the SDK is `proxy_http_call` (`hostcalls::dispatch_http_call`
//! registers the callout with the SDK's dispatcher, which routes its answer; it turns the
//! statuses Envoy returns for a refused callout into errors).

use std::ptr::{null, null_mut};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A host status other than Ok (`1` not found, `2` bad argument, `8` CAS mismatch, `10`
/// internal failure, or anything else the host answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u32);

const OK: u32 = 0;
const NOT_FOUND: u32 = 1;

/// `MapType` numbers of the ABI.
pub const REQUEST_HEADERS: u32 = 0;
pub const CALLOUT_RESPONSE_HEADERS: u32 = 6;
/// `BufferType` numbers of the ABI.
pub const CALLOUT_RESPONSE_BODY: u32 = 4;
pub const PLUGIN_CONFIGURATION: u32 = 7;
/// `StreamType::HttpRequest`.
const HTTP_REQUEST: u32 = 0;

#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_log_level(return_level: *mut u32) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(
        map_type: u32,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
    fn proxy_replace_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_get_property(
        path_data: *const u8,
        path_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_data: *mut *mut u8,
        return_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
    fn proxy_register_shared_queue(
        name_data: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    fn proxy_enqueue_shared_queue(queue_id: u32, value_data: *const u8, value_size: usize) -> u32;
    fn proxy_dequeue_shared_queue(
        queue_id: u32,
        return_data: *mut *mut u8,
        return_size: *mut usize,
    ) -> u32;
    fn proxy_continue_stream(stream_type: u32) -> u32;
    fn proxy_close_stream(stream_type: u32) -> u32;
    fn proxy_send_local_response(
        status_code: u32,
        details_data: *const u8,
        details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_set_effective_context(context_id: u32) -> u32;
    fn proxy_define_metric(
        metric_type: u32,
        name_data: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_record_metric(metric_id: u32, value: u64) -> u32;
}

fn done(status: u32) -> Result<(), Status> {
    match status {
        OK => Ok(()),
        s => Err(Status(s)),
    }
}

/// Bytes the host handed over: on Ok it has put `size` bytes at `data`, allocated through this
/// module's `proxy_on_memory_allocate` (the SDK's: a `Vec<u8>` of capacity `size`, forgotten),
/// so a Vec takes ownership of exactly that allocation, as the SDK's getters do. Not found (or
/// no data) is `None`.
fn taken(status: u32, data: *mut u8, size: usize) -> Result<Option<Vec<u8>>, Status> {
    match status {
        // SAFETY: see above; `data` is non-null and came from our allocator with this size.
        OK if !data.is_null() => Ok(Some(unsafe { Vec::from_raw_parts(data, size, size) })),
        OK | NOT_FOUND => Ok(None),
        s => Err(Status(s)),
    }
}

pub fn log(level: u32, message: &str) -> Result<(), Status> {
    // SAFETY: a pointer and length of a live &str.
    done(unsafe { proxy_log(level, message.as_ptr(), message.len()) })
}

/// The proxy's log level for this plugin (0 trace … 5 critical).
pub fn log_level() -> Result<u32, Status> {
    let mut level = 0;
    // SAFETY: a valid out pointer.
    done(unsafe { proxy_get_log_level(&mut level) }).map(|()| level)
}

pub fn now() -> Result<SystemTime, Status> {
    let mut nanos = 0u64;
    // SAFETY: a valid out pointer.
    done(unsafe { proxy_get_current_time_nanoseconds(&mut nanos) })
        .map(|()| UNIX_EPOCH + Duration::from_nanos(nanos))
}

/// The clock, or the epoch when the host will not say (every deadline then looks passed or
/// far away; nothing is let through because of it).
pub fn now_or_epoch() -> SystemTime {
    now().unwrap_or(UNIX_EPOCH)
}

pub fn buffer(buffer_type: u32, start: usize, max_size: usize) -> Result<Option<Vec<u8>>, Status> {
    let (mut data, mut size) = (null_mut(), 0);
    // SAFETY: valid out pointers; ownership of what the host allocates: `taken`.
    let status =
        unsafe { proxy_get_buffer_bytes(buffer_type, start, max_size, &mut data, &mut size) };
    taken(status, data, size)
}

/// Every header of `map_type`, serialized (read with `bindcar_policy::header_map`).
pub fn header_map(map_type: u32) -> Result<Option<Vec<u8>>, Status> {
    let (mut data, mut size) = (null_mut(), 0);
    // SAFETY: valid out pointers; ownership: `taken`.
    let status = unsafe { proxy_get_header_map_pairs(map_type, &mut data, &mut size) };
    taken(status, data, size)
}

pub fn header(map_type: u32, name: &str) -> Result<Option<Vec<u8>>, Status> {
    let (mut data, mut size) = (null_mut(), 0);
    // SAFETY: a live &str, valid out pointers; ownership: `taken`.
    let status = unsafe {
        proxy_get_header_map_value(map_type, name.as_ptr(), name.len(), &mut data, &mut size)
    };
    taken(status, data, size)
}

pub fn remove_header(map_type: u32, name: &str) -> Result<(), Status> {
    // SAFETY: a live &str.
    done(unsafe { proxy_remove_header_map_value(map_type, name.as_ptr(), name.len()) })
}

pub fn replace_header(map_type: u32, name: &str, value: &[u8]) -> Result<(), Status> {
    // SAFETY: live slices.
    done(unsafe {
        proxy_replace_header_map_value(
            map_type,
            name.as_ptr(),
            name.len(),
            value.as_ptr(),
            value.len(),
        )
    })
}

/// An attribute, e.g. `["source", "address"]`.
pub fn property(path: &[&str]) -> Result<Option<Vec<u8>>, Status> {
    let joined = path.join("\0");
    let (mut data, mut size) = (null_mut(), 0);
    // SAFETY: a live String, valid out pointers; ownership: `taken`.
    let status = unsafe { proxy_get_property(joined.as_ptr(), joined.len(), &mut data, &mut size) };
    taken(status, data, size)
}

/// The value and its compare-and-swap version (`None`: the key does not exist).
pub fn shared_data(key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), Status> {
    let (mut data, mut size, mut cas) = (null_mut(), 0, 0u32);
    // SAFETY: a live &str, valid out pointers; ownership: `taken`.
    let status =
        unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) };
    let value = taken(status, data, size)?;
    Ok((value, (status == OK && cas != 0).then_some(cas)))
}

/// Writes `value`; with `cas`, only if the key is still at that version.
pub fn set_shared_data(key: &str, value: &[u8], cas: Option<u32>) -> Result<(), Status> {
    // SAFETY: live slices.
    done(unsafe {
        proxy_set_shared_data(
            key.as_ptr(),
            key.len(),
            value.as_ptr(),
            value.len(),
            cas.unwrap_or(0),
        )
    })
}

pub fn register_queue(name: &str) -> Result<u32, Status> {
    let mut id = 0;
    // SAFETY: a live &str, a valid out pointer.
    done(unsafe { proxy_register_shared_queue(name.as_ptr(), name.len(), &mut id) }).map(|()| id)
}

pub fn enqueue(queue_id: u32, value: &[u8]) -> Result<(), Status> {
    // SAFETY: a live slice.
    done(unsafe { proxy_enqueue_shared_queue(queue_id, value.as_ptr(), value.len()) })
}

/// The next message, `None` when the queue is empty (or gone).
pub fn dequeue(queue_id: u32) -> Result<Option<Vec<u8>>, Status> {
    let (mut data, mut size) = (null_mut(), 0);
    // SAFETY: valid out pointers; ownership: `taken`.
    match unsafe { proxy_dequeue_shared_queue(queue_id, &mut data, &mut size) } {
        7 => Ok(None), // Empty
        status => taken(status, data, size),
    }
}

/// Resumes the effective (paused) request.
pub fn resume_request() -> Result<(), Status> {
    // SAFETY: no pointers.
    done(unsafe { proxy_continue_stream(HTTP_REQUEST) })
}

/// Resets the effective request: what is left when even a local reply cannot be sent.
pub fn reset_request() -> Result<(), Status> {
    // SAFETY: no pointers.
    done(unsafe { proxy_close_stream(HTTP_REQUEST) })
}

/// A local reply on the effective request; if the host will not send it, the request is
/// reset, so it never goes on to the upstream.
pub fn reply(status: u32, headers: &[(&str, &str)], body: &[u8]) {
    let map = serialize_map(headers);
    // SAFETY: live slices; "details" empty.
    let sent = done(unsafe {
        proxy_send_local_response(
            status,
            null(),
            0,
            body.as_ptr(),
            body.len(),
            map.as_ptr(),
            map.len(),
            -1,
        )
    });
    if sent.is_err() {
        reset_request().ok();
    }
}

pub fn set_effective_context(context_id: u32) -> Result<(), Status> {
    // SAFETY: no pointers.
    done(unsafe { proxy_set_effective_context(context_id) })
}

/// `metric_type`: 0 counter, 1 gauge, 2 histogram.
pub fn define_metric(metric_type: u32, name: &str) -> Result<u32, Status> {
    let mut id = 0;
    // SAFETY: a live &str, a valid out pointer.
    done(unsafe { proxy_define_metric(metric_type, name.as_ptr(), name.len(), &mut id) })
        .map(|()| id)
}

pub fn increment_metric(id: u32, offset: i64) -> Result<(), Status> {
    // SAFETY: no pointers.
    done(unsafe { proxy_increment_metric(id, offset) })
}

pub fn record_metric(id: u32, value: u64) -> Result<(), Status> {
    // SAFETY: no pointers.
    done(unsafe { proxy_record_metric(id, value) })
}

/// The ABI's header map: count, each name and value length (u32 little-endian), then each
/// name and value followed by a NUL.
fn serialize_map(pairs: &[(&str, &str)]) -> Vec<u8> {
    let size = 4 + pairs
        .iter()
        .map(|(n, v)| 10 + n.len() + v.len())
        .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (n, v) in pairs {
        out.extend_from_slice(&(n.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (n, v) in pairs {
        out.extend_from_slice(n.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

/// The `log` crate's records, to the host; a line the host refuses is dropped (the SDK's
/// logger would abort the VM over it).
pub struct HostLogger;

pub static LOGGER: HostLogger = HostLogger;

impl log::Log for HostLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            let level = match record.level() {
                log::Level::Trace => 0,
                log::Level::Debug => 1,
                log::Level::Info => 2,
                log::Level::Warn => 3,
                log::Level::Error => 4,
            };
            log(level, &record.args().to_string()).ok();
        }
    }

    fn flush(&self) {}
}

/// The proxy's level (0 trace … 5 critical) as the `log` crate's filter.
pub fn level_filter(level: u32) -> log::LevelFilter {
    match level {
        0 => log::LevelFilter::Trace,
        1 => log::LevelFilter::Debug,
        2 => log::LevelFilter::Info,
        3 => log::LevelFilter::Warn,
        4 => log::LevelFilter::Error,
        _ => log::LevelFilter::Off,
    }
}
