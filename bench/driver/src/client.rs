//! A keep-alive HTTP/1.1 client, as an API client would be (one connection, reused), timing
//! each call from the first byte written to the last byte of the answer read.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

pub struct Client {
    port: u16,
    conn: Option<BufReader<TcpStream>>,
    /// Sent as `Authorization: Bearer <token>` when set.
    token: Option<String>,
}

pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

impl Client {
    pub fn new(port: u16) -> Client {
        Client {
            port,
            conn: None,
            token: None,
        }
    }

    pub fn with_token(port: u16, token: &str) -> Client {
        Client {
            port,
            conn: None,
            token: Some(token.to_string()),
        }
    }

    fn connect(&mut self) -> Result<&mut BufReader<TcpStream>> {
        if self.conn.is_none() {
            let s = TcpStream::connect(("127.0.0.1", self.port))?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(Duration::from_secs(30)))?;
            self.conn = Some(BufReader::new(s));
        }
        self.conn.as_mut().context("no connection")
    }

    /// One request; reconnects once if the server had closed the idle connection.
    pub fn call(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Answer> {
        match self.try_call(method, path, body) {
            Ok(a) => Ok(a),
            Err(_) => {
                self.conn = None;
                self.try_call(method, path, body)
            }
        }
    }

    fn try_call(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Answer> {
        let mut req = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n");
        if let Some(token) = &self.token {
            req.push_str(&format!("authorization: Bearer {token}\r\n"));
        }
        if let Some(b) = body {
            req.push_str(&format!(
                "content-type: application/json\r\ncontent-length: {}\r\n",
                b.len()
            ));
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend_from_slice(body.unwrap_or_default());
        let conn = self.connect()?;
        let started = Instant::now();
        conn.get_mut().write_all(&bytes)?;
        let mut line = String::new();
        if conn.read_line(&mut line)? == 0 {
            bail!("connection closed");
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {line:?}"))?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        loop {
            line.clear();
            if conn.read_line(&mut line)? == 0 {
                bail!("connection closed in the head");
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase());
                match k.as_str() {
                    "content-length" => length = v.parse::<usize>().ok(),
                    "transfer-encoding" => chunked = v.contains("chunked"),
                    "connection" => close = v == "close",
                    _ => {}
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                conn.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim(), 16).context("chunk size")?;
                let mut chunk = vec![0u8; size + 2];
                conn.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            conn.read_exact(&mut body)?;
        } else {
            conn.read_to_end(&mut body)?;
            close = true;
        }
        let elapsed = started.elapsed();
        if close {
            self.conn = None;
        }
        Ok(Answer {
            status,
            body,
            elapsed,
        })
    }
}
