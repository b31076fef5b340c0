//! The serial a DNS server serves for a zone, asked with one SOA query over UDP: what the
//! catalog tests and the bench poll on each secondary, hundreds of times a second, where a
//! `dig` process per query would cost more than the server. Encoded and read here (a query is
//! a header and a question; the answer's SOA is found past compression pointers), so the
//! measure does not share the backend's DNS code it checks. `Watcher` polls a set of servers
//! for zones as they are created and reports when each first served the expected serial.

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The serial of the zone's SOA in an authoritative NOERROR answer; `Ok(None)` when the
/// server answers without serving the zone (REFUSED, SERVFAIL, not authoritative); an error
/// when it does not answer within `timeout`.
pub fn soa_serial(server: SocketAddr, zone: &str, timeout: Duration) -> Result<Option<u32>> {
    let socket = UdpSocket::bind("127.0.0.1:0").context("binding a UDP socket")?;
    socket.set_read_timeout(Some(timeout))?;
    socket.connect(server)?;
    let id = (std::process::id() as u16) ^ (nanos() as u16);
    socket.send(&query(id, zone))?;
    let mut buf = [0u8; 4096];
    loop {
        let len = socket
            .recv(&mut buf)
            .with_context(|| format!("no answer from {server} within {timeout:?}"))?;
        let answer = &buf[..len];
        if answer.len() >= 2 && u16::from_be_bytes([answer[0], answer[1]]) == id {
            return read(answer);
        }
    }
}

fn nanos() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

/// A query for `zone` SOA IN, recursion not desired.
fn query(id: u16, zone: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]); // flags, 1 question
    for label in zone.trim_end_matches('.').split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.extend_from_slice(&[0, 0, 6, 0, 1]); // root, SOA, IN
    out
}

/// Skips a name at `at` (labels or a compression pointer); the offset after it.
fn skip_name(msg: &[u8], mut at: usize) -> Result<usize> {
    loop {
        let Some(&len) = msg.get(at) else {
            bail!("truncated name")
        };
        match len {
            0 => return Ok(at + 1),
            l if l & 0xc0 == 0xc0 => return Ok(at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}

fn read(msg: &[u8]) -> Result<Option<u32>> {
    if msg.len() < 12 {
        bail!("short answer");
    }
    let authoritative = msg[2] & 0x04 != 0;
    let rcode = msg[3] & 0x0f;
    if rcode != 0 || !authoritative {
        return Ok(None);
    }
    let questions = u16::from_be_bytes([msg[4], msg[5]]);
    let answers = u16::from_be_bytes([msg[6], msg[7]]);
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(msg, at)? + 4;
    }
    for _ in 0..answers {
        at = skip_name(msg, at)?;
        let Some(header) = msg.get(at..at + 10) else {
            bail!("truncated record")
        };
        let rtype = u16::from_be_bytes([header[0], header[1]]);
        let rdlen = usize::from(u16::from_be_bytes([header[8], header[9]]));
        let rdata = at + 10;
        if rtype == 6 {
            let serial_at = skip_name(msg, skip_name(msg, rdata)?)?;
            let Some(serial) = msg.get(serial_at..serial_at + 4) else {
                bail!("truncated SOA")
            };
            return Ok(Some(u32::from_be_bytes([
                serial[0], serial[1], serial[2], serial[3],
            ])));
        }
        at = rdata + rdlen;
    }
    Ok(None)
}

/// When a zone was first served by one server (`None`: not within the wait).
#[derive(Debug, Clone)]
pub struct Arrival {
    pub zone: String,
    pub server: SocketAddr,
    pub after: Option<Duration>,
}

enum Order {
    Watch(String, Instant),
    Finish(Duration),
}

/// Polls `servers` on a thread of its own (a round every 10 ms, each asking every pending
/// (zone, server) at once and waiting at most 200 ms for the answers) for each
/// zone handed to `watch`, from the instant given (a 201), until each serves `serial` (any
/// serial when `None`) or `finish`'s wait is over.
pub struct Watcher {
    orders: Sender<Order>,
    thread: JoinHandle<Vec<Arrival>>,
}

impl Watcher {
    pub fn start(servers: Vec<SocketAddr>, serial: Option<u32>) -> Watcher {
        let (orders, inbox) = channel();
        let thread = std::thread::spawn(move || poll(&servers, serial, &inbox));
        Watcher { orders, thread }
    }

    pub fn watch(&self, zone: &str, since: Instant) {
        let _ = self.orders.send(Order::Watch(zone.to_string(), since));
    }

    /// Waits until every zone is served everywhere, or `within` from now has passed.
    pub fn finish(self, within: Duration) -> Vec<Arrival> {
        let _ = self.orders.send(Order::Finish(within));
        self.thread.join().unwrap_or_default()
    }
}

/// One round: every (server, zone) asked at once on one socket, answers collected until all
/// came or `wait` passed; the serial each serves (`None`: no answer, or not served). A slow
/// or dead server costs the round `wait`, never a time limit per query.
pub fn serials(queries: &[(SocketAddr, String)], wait: Duration) -> Result<Vec<Option<u32>>> {
    Ok(ask_all(queries, wait)?
        .into_iter()
        .map(|a| a.map(|(serial, _)| serial))
        .collect())
}

/// `serials`, with when each answer came.
fn ask_all(
    queries: &[(SocketAddr, String)],
    wait: Duration,
) -> Result<Vec<Option<(u32, Instant)>>> {
    let socket = UdpSocket::bind("127.0.0.1:0").context("binding a UDP socket")?;
    let base = (std::process::id() as u16) ^ (nanos() as u16);
    let mut found = vec![None; queries.len()];
    let mut open = 0usize;
    for (i, (server, zone)) in queries.iter().enumerate() {
        let id = base.wrapping_add(i as u16);
        // a send refused (ICMP from a dead server) is that query unanswered
        if socket.send_to(&query(id, zone), server).is_ok() {
            open += 1;
        }
    }
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 4096];
    while open > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        socket.set_read_timeout(Some(left))?;
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(_) => continue, // an ICMP error for one of the queries
        };
        let answer = &buf[..len];
        if answer.len() < 2 {
            continue;
        }
        let i = usize::from(u16::from_be_bytes([answer[0], answer[1]]).wrapping_sub(base));
        if queries.get(i).is_some_and(|(server, _)| *server == from) {
            found[i] = read(answer).ok().flatten().map(|s| (s, Instant::now()));
            open -= 1;
        }
    }
    Ok(found)
}

fn poll(servers: &[SocketAddr], serial: Option<u32>, inbox: &Receiver<Order>) -> Vec<Arrival> {
    let mut pending: Vec<(String, SocketAddr, Instant)> = Vec::new();
    let mut done = Vec::new();
    let mut deadline: Option<Instant> = None;
    loop {
        while let Ok(order) = inbox.try_recv() {
            match order {
                Order::Watch(zone, since) => {
                    pending.extend(servers.iter().map(|s| (zone.clone(), *s, since)));
                }
                Order::Finish(within) => deadline = Some(Instant::now() + within),
            }
        }
        // at most 60,000 at once: the ids of one round must not wrap
        for chunk_start in (0..pending.len()).step_by(60_000) {
            let end = (chunk_start + 60_000).min(pending.len());
            let asked: Vec<(SocketAddr, String)> = pending[chunk_start..end]
                .iter()
                .map(|(zone, server, _)| (*server, zone.clone()))
                .collect();
            let answers = serials(&asked, Duration::from_millis(200))
                .unwrap_or_else(|_| vec![None; asked.len()]);
            let now = Instant::now();
            for (slot, answer) in pending[chunk_start..end].iter_mut().zip(answers) {
                if answer.is_some_and(|s| serial.is_none_or(|want| s == want)) {
                    done.push(Arrival {
                        zone: slot.0.clone(),
                        server: slot.1,
                        after: Some(now.duration_since(slot.2)),
                    });
                    slot.0.clear(); // served: dropped below
                }
            }
        }
        pending.retain(|(zone, _, _)| !zone.is_empty());
        if let Some(deadline) = deadline {
            if pending.is_empty() || Instant::now() > deadline {
                done.extend(pending.drain(..).map(|(zone, server, _)| Arrival {
                    zone,
                    server,
                    after: None,
                }));
                return done;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
