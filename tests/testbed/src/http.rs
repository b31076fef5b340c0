//! A raw HTTP/1.1 client: every byte of the request is ours to choose (non-UTF-8 values,
//! duplicate headers, 64 KiB headers), which ordinary clients refuse to send.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{bail, Result};
use socket2::{Domain, Socket, Type};

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET path` with the given extra header lines.
pub fn get(port: u16, path: &str, headers: &[(&str, &[u8])]) -> Result<Response> {
    request(port, "GET", path.as_bytes(), headers, b"")
}

/// `GET path` from this source address (e.g. 127.0.0.2): one machine as several clients, to
/// a proxy that tells clients apart by their peer address.
pub fn get_from(
    source: IpAddr,
    port: u16,
    path: &str,
    headers: &[(&str, &[u8])],
) -> Result<Response> {
    let req = request_bytes("GET", path.as_bytes(), headers, b"");
    let socket = Socket::new(
        Domain::for_address(SocketAddr::new(source, 0)),
        Type::STREAM,
        None,
    )?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    socket.connect(&SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port).into())?;
    exchange(socket.into(), &req)
}

pub fn request(
    port: u16,
    method: &str,
    path: &[u8],
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Result<Response> {
    raw(port, &request_bytes(method, path, headers, body))
}

fn request_bytes(method: &str, path: &[u8], headers: &[(&str, &[u8])], body: &[u8]) -> Vec<u8> {
    let mut req = Vec::new();
    req.extend_from_slice(method.as_bytes());
    req.push(b' ');
    req.extend_from_slice(path);
    req.extend_from_slice(b" HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.extend_from_slice(k.as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(v);
        req.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || method == "POST" || method == "PUT" || method == "PATCH" {
        req.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    req.extend_from_slice(body);
    req
}

/// Sends bytes as they are, reads until the server closes.
pub fn raw(port: u16, bytes: &[u8]) -> Result<Response> {
    exchange(TcpStream::connect(("127.0.0.1", port))?, bytes)
}

fn exchange(mut s: TcpStream, bytes: &[u8]) -> Result<Response> {
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    s.write_all(bytes)?;
    // Read until the response is complete (content-length) or the server closes: Envoy
    // holds a connection open for a second after a local reply (delayed close).
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head.lines().find_map(|l| {
                l.strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse::<usize>().ok())
            });
            if length.is_some_and(|len| buf.len() >= end + 4 + len) {
                break;
            }
        }
    }
    parse(&buf)
}

fn parse(buf: &[u8]) -> Result<Response> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        bail!(
            "no HTTP response head in {} bytes: {:?}",
            buf.len(),
            String::from_utf8_lossy(buf)
        )
    };
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    let mut body = buf[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..i]).trim(), 16).unwrap_or(0);
        if size == 0 || b.len() < i + 2 + size {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + size]);
        b = &b[(i + 4 + size).min(b.len())..];
    }
    out
}
