//! The imports beyond headers: shared data (with compare-and-swap, as Envoy checks it), shared
//! queues, metrics, callouts, local replies, stream control and the WASI calls Rust's std
//! makes. Anything the module imports and nobody models answers a failure, still recorded.

use std::collections::VecDeque;

use wasmi::{Caller, Error};

use crate::abi;
use crate::host::{give, read, read_str, record, write, write_u32, Host, HttpCall, LocalResponse};

/// WASI's `ENOSYS`, for a WASI call nobody models.
const WASI_ENOSYS: i32 = 52;

pub fn handle(
    c: &mut Caller<'_, Host>,
    module: &str,
    name: &str,
    a: &[u64],
) -> Result<Option<i32>, Error> {
    let arg = |i: usize| a.get(i).copied().unwrap_or(0);
    let mut detail = None;
    let status = match (module, name) {
        ("env", "proxy_get_shared_data") => {
            let key = read_str(c, arg(0), arg(1))?;
            let entry = c.data().shared.get(&key).cloned();
            detail = Some(key);
            match entry {
                Some((value, cas)) => {
                    give(c, &value, arg(2), arg(3))?;
                    write_u32(c, arg(4), cas)?;
                    abi::OK
                }
                None => abi::NOT_FOUND,
            }
        }
        ("env", "proxy_set_shared_data") => {
            let key = read_str(c, arg(0), arg(1))?;
            let value = read(c, arg(2), arg(3))?;
            let cas = arg(4) as u32;
            detail = Some(key.clone());
            let host = c.data_mut();
            match host.shared.get(&key) {
                // Envoy checks a version only on a key that exists, and 0 means "no check".
                Some((_, current)) if cas != 0 && cas != *current => abi::CAS_MISMATCH,
                _ => {
                    host.cas += 1;
                    let version = host.cas;
                    host.shared.insert(key, (value, version));
                    abi::OK
                }
            }
        }
        ("env", "proxy_register_shared_queue") => {
            let queue = read_str(c, arg(0), arg(1))?;
            detail = Some(queue.clone());
            let host = c.data_mut();
            let id = match host.queues.iter().position(|(n, _)| *n == queue) {
                Some(i) => i + 1,
                None => {
                    host.queues.push((queue, VecDeque::new()));
                    host.queues.len()
                }
            };
            write_u32(c, arg(2), id as u32)?;
            abi::OK
        }
        ("env", "proxy_resolve_shared_queue") => {
            let queue = read_str(c, arg(2), arg(3))?;
            detail = Some(queue.clone());
            match c.data().queues.iter().position(|(n, _)| *n == queue) {
                Some(i) => {
                    write_u32(c, arg(4), i as u32 + 1)?;
                    abi::OK
                }
                None => abi::NOT_FOUND,
            }
        }
        ("env", "proxy_enqueue_shared_queue") => {
            let id = arg(0) as u32;
            let msg = read(c, arg(1), arg(2))?;
            detail = Some(format!("queue {id}"));
            let host = c.data_mut();
            match host.queues.get_mut((id as usize).wrapping_sub(1)) {
                Some((_, q)) => {
                    q.push_back(msg);
                    host.ready.push(id);
                    abi::OK
                }
                None => abi::NOT_FOUND,
            }
        }
        ("env", "proxy_dequeue_shared_queue") => {
            let id = arg(0) as u32;
            detail = Some(format!("queue {id}"));
            let popped = match c.data_mut().queues.get_mut((id as usize).wrapping_sub(1)) {
                Some((_, q)) => Ok(q.pop_front()),
                None => Err(()),
            };
            match popped {
                Ok(Some(msg)) => {
                    give(c, &msg, arg(1), arg(2))?;
                    abi::OK
                }
                Ok(None) => abi::EMPTY,
                Err(()) => abi::NOT_FOUND,
            }
        }
        ("env", "proxy_define_metric") => {
            let metric = read_str(c, arg(1), arg(2))?;
            detail = Some(metric.clone());
            let host = c.data_mut();
            host.metrics.push((metric, 0));
            let id = host.metrics.len() as u32;
            write_u32(c, arg(3), id)?;
            abi::OK
        }
        ("env", op @ ("proxy_increment_metric" | "proxy_record_metric")) => {
            let (id, v) = (arg(0) as usize, arg(1) as i64);
            match c.data_mut().metrics.get_mut(id.wrapping_sub(1)) {
                Some((metric, value)) => {
                    detail = Some(metric.clone());
                    *value = if op == "proxy_increment_metric" {
                        value.saturating_add(v)
                    } else {
                        v
                    };
                    abi::OK
                }
                None => abi::NOT_FOUND,
            }
        }
        ("env", "proxy_http_call") => {
            let cluster = read_str(c, arg(0), arg(1))?;
            let headers = abi::deserialize_map(&read(c, arg(2), arg(3))?)
                .ok_or_else(|| Error::new("proxy_http_call: malformed headers"))?;
            let body = read(c, arg(4), arg(5))?;
            detail = Some(cluster.clone());
            let host = c.data_mut();
            let token = host.http_calls.len() as u32 + 1;
            host.http_calls.push(HttpCall {
                token,
                cluster,
                headers,
                body,
                timeout_ms: arg(8) as u32,
            });
            write_u32(c, arg(9), token)?;
            abi::OK
        }
        ("env", "proxy_send_local_response") => {
            let body = read_str(c, arg(3), arg(4))?;
            let headers = abi::deserialize_map(&read(c, arg(5), arg(6))?)
                .ok_or_else(|| Error::new("proxy_send_local_response: malformed headers"))?;
            detail = Some(arg(0).to_string());
            let host = c.data_mut();
            let effective = host.effective;
            match host.streams.get_mut(&effective) {
                Some(stream) => {
                    stream.local_response = Some(LocalResponse {
                        status: arg(0) as u32,
                        headers: headers
                            .iter()
                            .map(|(k, v)| {
                                let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                                (s(k), s(v))
                            })
                            .collect(),
                        body,
                    });
                    abi::OK
                }
                None => abi::NOT_FOUND,
            }
        }
        ("env", "proxy_set_effective_context") => {
            let id = arg(0) as u32;
            detail = Some(id.to_string());
            let host = c.data_mut();
            if host.streams.contains_key(&id) || id == host.root_id {
                host.effective = id;
                abi::OK
            } else {
                abi::BAD_ARGUMENT
            }
        }
        ("env", "proxy_continue_stream") => {
            let host = c.data_mut();
            let effective = host.effective;
            match host.streams.get_mut(&effective) {
                Some(stream) if arg(0) == 0 => {
                    stream.resumed = true;
                    abi::OK
                }
                _ => abi::BAD_ARGUMENT,
            }
        }
        ("env", "proxy_close_stream" | "proxy_done") => abi::OK,
        ("wasi_snapshot_preview1", "random_get") => {
            let mut buf = vec![0u8; arg(1) as usize];
            c.data_mut().fill_random(&mut buf);
            write(c, arg(0), &buf)?;
            0
        }
        ("wasi_snapshot_preview1", "clock_time_get") => {
            let now = c.data().now_ns;
            write(c, arg(2), &now.to_le_bytes())?;
            0
        }
        ("wasi_snapshot_preview1", "fd_write") => {
            // Nothing is shown; the bytes are counted as written so std does not retry.
            let mut total = 0u32;
            for i in 0..arg(2) {
                let iov = read(c, arg(1) + i * 8, 8)?;
                total += u32::from_le_bytes([iov[4], iov[5], iov[6], iov[7]]);
            }
            detail = Some(format!("fd {}", arg(0)));
            write_u32(c, arg(3), total)?;
            0
        }
        ("wasi_snapshot_preview1", "environ_sizes_get") => {
            write_u32(c, arg(0), 0)?;
            write_u32(c, arg(1), 0)?;
            0
        }
        ("wasi_snapshot_preview1", "environ_get") => 0,
        ("wasi_snapshot_preview1", "proc_exit") => {
            record(c, name, Some(arg(0).to_string()));
            return Err(Error::i32_exit(arg(0) as i32));
        }
        ("wasi_snapshot_preview1", _) => {
            detail = Some("not modelled".into());
            WASI_ENOSYS
        }
        _ => {
            detail = Some("not modelled".into());
            abi::INTERNAL_FAILURE
        }
    };
    record(c, name, detail);
    Ok(Some(status))
}
