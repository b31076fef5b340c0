//! The upstream behind Envoy in filter tests: answers 200 and records every request that
//! reached it, so a test can assert what got through (and what never did).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .count()
    }
}

pub struct Upstream {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    /// A thread-per-connection HTTP/1.1 responder with keep-alive.
    pub fn start() -> std::io::Result<Upstream> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let record = Arc::clone(&record);
                thread::spawn(move || {
                    let mut writer = match stream.try_clone() {
                        Ok(w) => w,
                        Err(_) => return,
                    };
                    let mut reader = BufReader::new(stream);
                    loop {
                        let mut line = Vec::new();
                        if reader.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let request_line = String::from_utf8_lossy(&line).trim().to_string();
                        let mut parts = request_line.split(' ');
                        let method = parts.next().unwrap_or_default().to_string();
                        let path = parts.next().unwrap_or_default().to_string();
                        let mut headers = Vec::new();
                        let mut content_length = 0usize;
                        loop {
                            let mut h = Vec::new();
                            if reader.read_until(b'\n', &mut h).unwrap_or(0) == 0 {
                                return;
                            }
                            let h = h.strip_suffix(b"\r\n").unwrap_or(&h).to_vec();
                            if h.is_empty() {
                                break;
                            }
                            if let Some(i) = h.iter().position(|&b| b == b':') {
                                let name = String::from_utf8_lossy(&h[..i]).to_ascii_lowercase();
                                let value = h[i + 1..].trim_ascii().to_vec();
                                if name == "content-length" {
                                    content_length =
                                        String::from_utf8_lossy(&value).parse().unwrap_or(0);
                                }
                                headers.push((name, value));
                            }
                        }
                        let mut body = vec![0u8; content_length];
                        if reader.read_exact(&mut body).is_err() {
                            return;
                        }
                        if let Ok(mut s) = record.lock() {
                            s.push(Seen {
                                method,
                                path,
                                headers,
                            });
                        }
                        let body = br#"{"upstream":"ok"}"#;
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                            body.len()
                        );
                        if writer
                            .write_all(resp.as_bytes())
                            .and_then(|_| writer.write_all(body))
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        Ok(Upstream { port, seen })
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or(0)
    }

    pub fn clear(&self) {
        if let Ok(mut s) = self.seen.lock() {
            s.clear();
        }
    }
}
