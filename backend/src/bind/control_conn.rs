//! One control-channel connection to named, kept open for many commands. named 9.18 hands out
//! a nonce in its answer to a first `null` message and then answers any number of commands
//! signed with that nonce on the same connection; it closes a connection idle for 30 s
//! (both observed against Debian's 9.18.49, see `bind/rndc.rs`).

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::isccc::{self, CodecError, Key, Reply};
use super::now_secs;

/// How an exchange failed, and whether named can have seen the command.
#[derive(Debug)]
pub enum ConnError {
    /// Connecting failed: nothing was sent.
    Connect(io::Error),
    /// Writing the command failed: named never got a whole command (it acts only on whole,
    /// signed messages).
    Write(io::Error),
    /// The command was written; its answer did not come back (named may have acted on it).
    Read(io::Error),
    /// An answer came back that we cannot use (bad signature, malformed, not ours).
    Reply(CodecError),
    /// Opening a new connection failed in its nonce exchange: no command was sent on it.
    Open(Box<ConnError>),
}

impl ConnError {
    pub fn before_sending(&self) -> bool {
        matches!(
            self,
            ConnError::Connect(_) | ConnError::Write(_) | ConnError::Open(_)
        )
    }
}

/// A connection after its nonce exchange.
pub struct Connection {
    stream: TcpStream,
    nonce: Vec<u8>,
    /// When the last exchange finished (named's idle clock starts there).
    pub idle_since: Instant,
}

/// Serials tie an answer to its command and let named's duplicate filter tell commands apart:
/// a counter from a clock-seeded start, so two processes rarely share one.
static SERIAL: AtomicU32 = AtomicU32::new(0);

fn next_serial() -> u32 {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ std::process::id().rotate_left(16))
        .unwrap_or(1);
    let _ = SERIAL.compare_exchange(0, seed | 1, Ordering::Relaxed, Ordering::Relaxed);
    SERIAL.fetch_add(1, Ordering::Relaxed) & 0x7fff_ffff
}

impl Connection {
    /// Connects and fetches the connection's nonce.
    pub async fn open(server: &str, key: &Key) -> Result<Connection, ConnError> {
        let stream = TcpStream::connect(server)
            .await
            .map_err(ConnError::Connect)?;
        // Commands are small and answered one at a time: no Nagle delay on either.
        let _ = stream.set_nodelay(true);
        let mut conn = Connection {
            stream,
            nonce: Vec::new(),
            idle_since: Instant::now(),
        };
        let reply = conn
            .exchange(key, "null")
            .await
            .map_err(|e| ConnError::Open(Box::new(e)))?;
        match reply.nonce {
            Some(nonce) if !nonce.is_empty() => conn.nonce = nonce,
            _ => {
                return Err(ConnError::Open(Box::new(ConnError::Reply(
                    CodecError::Malformed("named's answer to null has no nonce".into()),
                ))))
            }
        }
        Ok(conn)
    }

    /// Sends one command and reads its answer.
    pub async fn exchange(&mut self, key: &Key, line: &str) -> Result<Reply, ConnError> {
        let serial = self.send(key, line).await?;
        self.receive(key, serial).await
    }

    /// Writes one command whole (named acts only on whole, signed messages); returns its
    /// serial, which its answer must echo.
    pub async fn send(&mut self, key: &Key, line: &str) -> Result<u32, ConnError> {
        let serial = next_serial();
        let nonce = (!self.nonce.is_empty()).then_some(self.nonce.as_slice());
        let request = isccc::encode_request(key, line, serial, now_secs(), nonce);
        self.stream
            .write_all(&request)
            .await
            .map_err(ConnError::Write)?;
        Ok(serial)
    }

    /// Reads the answer to the command sent with `serial`.
    pub async fn receive(&mut self, key: &Key, serial: u32) -> Result<Reply, ConnError> {
        let mut prefix = [0u8; 4];
        self.stream
            .read_exact(&mut prefix)
            .await
            .map_err(ConnError::Read)?;
        let len = isccc::message_len(prefix).map_err(ConnError::Reply)?;
        let mut message = vec![0u8; len];
        self.stream
            .read_exact(&mut message)
            .await
            .map_err(ConnError::Read)?;
        let reply = isccc::decode_reply(key, &message).map_err(ConnError::Reply)?;
        if reply.serial.as_deref() != Some(serial.to_string().as_str()) {
            return Err(ConnError::Reply(CodecError::Malformed(
                "named's answer is not to this command (serial differs)".into(),
            )));
        }
        self.idle_since = Instant::now();
        Ok(reply)
    }

    /// Whether an idle connection is still open from named's side: nothing may be waiting on
    /// it (named never speaks first), so readable means closed (EOF) or out of step.
    pub fn looks_open(&self) -> bool {
        let mut byte = [0u8; 1];
        match self.stream.try_read(&mut byte) {
            Err(e) => e.kind() == io::ErrorKind::WouldBlock,
            Ok(_) => false,
        }
    }
}
