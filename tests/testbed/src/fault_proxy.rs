//! A TCP proxy in front of named that loses answers on purpose: the fault-injection tests put
//! it on the control channel (rndc's 4-byte length framing) or on the DNS port (2-byte framing,
//! RFC 1035 §4.2.2) and arm a fault for the next request that matches: forward it and drop
//! named's answer (named acted, the client never hears), hold the answer back (the client
//! times out), or drop the request itself (named never acts). Every other byte passes as is,
//! so the client's connection reuse, nonces and TSIG work through it.

// A proxy that cannot bind loopback cannot test anything: fail loudly.
#![allow(clippy::expect_used)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// How messages are delimited on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// named's control channel: a 4-byte big-endian length, then the message.
    Control,
    /// DNS over TCP: a 2-byte big-endian length, then the message.
    Dns,
}

/// What to do to the request a fault matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Forward the request; when named's answer comes, close the client's connection instead.
    DropAnswer,
    /// Forward the request; pass named's answer on only after this long.
    DelayAnswer(Duration),
    /// Close the client's connection instead of forwarding the request (named never sees it).
    DropRequest,
}

/// Which requests a fault applies to.
pub type Matcher = Box<dyn Fn(&[u8]) -> bool + Send + Sync>;

/// A control-channel request carrying this command word (`addzone`, `delzone`, ...): the
/// command line travels as plain text in the message.
pub fn command(word: &str) -> Matcher {
    let needle = format!("{word} ").into_bytes();
    Box::new(move |message| message.windows(needle.len()).any(|w| w == needle))
}

/// A DNS UPDATE (opcode 5).
pub fn dns_update() -> Matcher {
    Box::new(|message| message.len() > 2 && (message[2] >> 3) & 0x0f == 5)
}

struct Fault {
    matcher: Matcher,
    action: Action,
}

struct Shared {
    upstream: SocketAddr,
    framing: Framing,
    faults: Mutex<Vec<Fault>>,
    applied: AtomicUsize,
    stopped: AtomicBool,
}

pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`.
    pub fn start(upstream: SocketAddr, framing: Framing) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            upstream,
            framing,
            faults: Mutex::new(Vec::new()),
            applied: AtomicUsize::new(0),
            stopped: AtomicBool::new(false),
        });
        let accepting = shared.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                if accepting.stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let shared = accepting.clone();
                thread::spawn(move || {
                    let _ = relay(client, &shared);
                });
            }
        });
        FaultProxy { port, shared }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Applies `action` to the next request `matcher` accepts (once).
    pub fn arm(&self, matcher: Matcher, action: Action) {
        self.shared
            .faults
            .lock()
            .expect("faults lock")
            .push(Fault { matcher, action });
    }

    /// How many faults were applied so far.
    pub fn applied(&self) -> usize {
        self.shared.applied.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        // wake the accept loop so it sees the flag
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn read_frame(stream: &mut TcpStream, framing: Framing) -> io::Result<Vec<u8>> {
    let len = match framing {
        Framing::Control => {
            let mut prefix = [0u8; 4];
            stream.read_exact(&mut prefix)?;
            u32::from_be_bytes(prefix) as usize
        }
        Framing::Dns => {
            let mut prefix = [0u8; 2];
            stream.read_exact(&mut prefix)?;
            usize::from(u16::from_be_bytes(prefix))
        }
    };
    if len > 16 << 20 {
        return Err(io::Error::other("frame too large"));
    }
    let mut frame = vec![0u8; len];
    stream.read_exact(&mut frame)?;
    Ok(frame)
}

fn write_frame(stream: &mut TcpStream, framing: Framing, frame: &[u8]) -> io::Result<()> {
    let mut out = match framing {
        Framing::Control => (frame.len() as u32).to_be_bytes().to_vec(),
        Framing::Dns => (frame.len() as u16).to_be_bytes().to_vec(),
    };
    out.extend_from_slice(frame);
    stream.write_all(&out)
}

/// One client connection: requests go up one by one; each answer comes back, or suffers the
/// fault armed for its request.
fn relay(mut client: TcpStream, shared: &Shared) -> io::Result<()> {
    let mut server = TcpStream::connect(shared.upstream)?;
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let pending: Arc<Mutex<Option<Action>>> = Arc::new(Mutex::new(None));
    // answers: server → client, applying the action recorded for the request before them
    let (mut from_server, mut to_client) = (server.try_clone()?, client.try_clone()?);
    let (framing, answer_pending) = (shared.framing, pending.clone());
    let answers = thread::spawn(move || -> io::Result<()> {
        loop {
            let frame = read_frame(&mut from_server, framing)?;
            let action = answer_pending.lock().expect("pending lock").take();
            match action {
                Some(Action::DropAnswer) => {
                    let _ = to_client.shutdown(Shutdown::Both);
                    let _ = from_server.shutdown(Shutdown::Both);
                    return Ok(());
                }
                Some(Action::DelayAnswer(delay)) => thread::sleep(delay),
                _ => {}
            }
            write_frame(&mut to_client, framing, &frame)?;
        }
    });
    // requests: client → server
    while let Ok(frame) = read_frame(&mut client, shared.framing) {
        let action = {
            let mut faults = shared.faults.lock().expect("faults lock");
            faults
                .iter()
                .position(|f| (f.matcher)(&frame))
                .map(|i| faults.remove(i).action)
        };
        if let Some(action) = action {
            shared.applied.fetch_add(1, Ordering::SeqCst);
            if action == Action::DropRequest {
                let _ = client.shutdown(Shutdown::Both);
                break;
            }
            *pending.lock().expect("pending lock") = Some(action);
        }
        if write_frame(&mut server, shared.framing, &frame).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Both);
    let _ = answers.join();
    Ok(())
}
