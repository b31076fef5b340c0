//! Who may connect: at most `max` connections open, at most `per_client` from one client key
//! (the rate limiter's: an IPv4 address, an IPv6 /64). A client at its own cap is refused. At
//! the total cap, the open connection that has waited longest without a request in progress
//! (a slow or silent head, or an idle keep-alive) is evicted for the newcomer, so a slowloris
//! from many addresses cannot lock a health check out; when every connection is serving a
//! request, the newcomer is refused. No I/O here: the listener acts on the answers.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::time::Instant;

use super::phase::{Conn, Phase};
use crate::rate_limit::client_key;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its client already has `per_client` connections open.
    ClientLimit,
    /// `max` connections are open and every one is serving a request.
    TotalLimit,
}

impl Refusal {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::ClientLimit => "refused_client_limit",
            Refusal::TotalLimit => "refused_total_limit",
        }
    }
}

#[derive(Default)]
struct Open {
    conns: HashMap<u64, Arc<Conn>>,
    per_client: HashMap<IpAddr, u32>,
    next_id: u64,
}

pub struct Admission {
    max: usize,
    per_client: u32,
    epoch: Instant,
    open: Mutex<Open>,
}

/// An admitted connection; dropping it frees its place.
pub struct Ticket {
    conn: Arc<Conn>,
    admission: Arc<Admission>,
}

impl Ticket {
    pub fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.release(&self.conn);
    }
}

impl Admission {
    pub fn new(max: u32, per_client: u32) -> Arc<Admission> {
        Arc::new(Admission {
            max: usize::try_from(max).unwrap_or(usize::MAX).max(1),
            per_client: per_client.max(1),
            epoch: Instant::now(),
            open: Mutex::new(Open::default()),
        })
    }

    fn open(&self) -> MutexGuard<'_, Open> {
        // The counts stay consistent under any panic elsewhere: keep using them.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Admits a connection from `peer`, evicting one at the total cap if it can.
    pub fn admit(self: &Arc<Self>, peer: SocketAddr, now: Instant) -> Result<Ticket, Refusal> {
        let client = client_key(Some(peer));
        let mut open = self.open();
        if open.per_client.get(&client).copied().unwrap_or(0) >= self.per_client {
            return Err(Refusal::ClientLimit);
        }
        if open.conns.len() >= self.max {
            let oldest = open
                .conns
                .values()
                .filter_map(|c| match c.phase() {
                    Phase::Head(since) | Phase::Idle(since) => Some((since, c.id)),
                    Phase::Busy => None,
                })
                .min();
            let Some((_, id)) = oldest else {
                return Err(Refusal::TotalLimit);
            };
            if let Some(evicted) = forget(&mut open, id) {
                evicted.evict();
            }
        }
        open.next_id += 1;
        let conn = Arc::new(Conn::new(open.next_id, client, self.epoch, now));
        open.conns.insert(conn.id, conn.clone());
        *open.per_client.entry(client).or_insert(0) += 1;
        Ok(Ticket {
            conn,
            admission: self.clone(),
        })
    }

    /// Connections open (evicted ones leave at once, their sockets a moment later).
    #[cfg(test)]
    pub fn open_count(&self) -> usize {
        self.open().conns.len()
    }

    fn release(&self, conn: &Conn) {
        forget(&mut self.open(), conn.id);
    }
}

/// Removes a connection from the counts (once: eviction and the ticket's drop both call it).
fn forget(open: &mut Open, id: u64) -> Option<Arc<Conn>> {
    let conn = open.conns.remove(&id)?;
    if let Some(count) = open.per_client.get_mut(&conn.client) {
        *count -= 1;
        if *count == 0 {
            open.per_client.remove(&conn.client);
        }
    }
    Some(conn)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::time::Duration;

    use super::*;

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40000)
    }

    #[test]
    fn a_client_at_its_cap_is_refused_and_others_are_not() {
        let admission = Admission::new(10, 2);
        let now = Instant::now();
        let a1 = admission.admit(peer("192.0.2.1"), now).unwrap();
        let _a2 = admission.admit(peer("192.0.2.1"), now).unwrap();
        assert_eq!(
            admission.admit(peer("192.0.2.1"), now).err(),
            Some(Refusal::ClientLimit)
        );
        // one /64 is one client; another address is another
        let _b1 = admission.admit(peer("2001:db8::1"), now).unwrap();
        let _b2 = admission.admit(peer("2001:db8::ffff"), now).unwrap();
        assert_eq!(
            admission.admit(peer("2001:db8::2"), now).err(),
            Some(Refusal::ClientLimit)
        );
        assert!(admission.admit(peer("2001:db8:0:1::1"), now).is_ok());
        // closing one frees its place
        drop(a1);
        assert!(admission.admit(peer("192.0.2.1"), now).is_ok());
    }

    #[test]
    fn at_the_total_cap_the_longest_waiting_connection_makes_room() {
        let admission = Admission::new(3, 3);
        let t0 = Instant::now();
        let slow = admission.admit(peer("192.0.2.1"), t0).unwrap();
        let busy = admission
            .admit(peer("192.0.2.2"), t0 - Duration::from_secs(1))
            .unwrap();
        busy.conn().request_started();
        let idle = admission.admit(peer("192.0.2.3"), t0).unwrap();
        idle.conn().request_finished(t0 + Duration::from_secs(2));
        // full: the oldest waiting one (slow, a head since t0) goes; the busy one, older, stays
        let newcomer = admission
            .admit(peer("198.51.100.1"), t0 + Duration::from_secs(3))
            .unwrap();
        assert_eq!(admission.open_count(), 3);
        // its ticket, dropped later, does not free a second place
        drop(slow);
        assert_eq!(admission.open_count(), 3);
        // next: the idle one (waiting since t0+2) before the newcomer (since t0+3)
        let _next = admission
            .admit(peer("198.51.100.2"), t0 + Duration::from_secs(4))
            .unwrap();
        drop(idle);
        assert_eq!(admission.open_count(), 3);
        assert_eq!(busy.conn().phase(), Phase::Busy);
        drop(newcomer);
        assert_eq!(admission.open_count(), 2);
    }

    #[tokio::test]
    async fn eviction_tells_the_evicted_connection() {
        let admission = Admission::new(1, 1);
        let first = admission.admit(peer("192.0.2.1"), Instant::now()).unwrap();
        let _second = admission.admit(peer("192.0.2.2"), Instant::now()).unwrap();
        let timeouts = super::super::phase::Timeouts {
            header: Duration::from_secs(3600),
            idle: Duration::from_secs(3600),
        };
        assert_eq!(
            first.conn().watchdog(timeouts).await,
            super::super::phase::Shed::Evicted
        );
    }

    #[test]
    fn when_every_connection_is_serving_a_request_newcomers_are_refused() {
        let admission = Admission::new(2, 2);
        let now = Instant::now();
        let tickets: Vec<Ticket> = ["192.0.2.1", "192.0.2.2"]
            .iter()
            .map(|ip| admission.admit(peer(ip), now).unwrap())
            .collect();
        for t in &tickets {
            t.conn().request_started();
        }
        assert_eq!(
            admission.admit(peer("192.0.2.3"), now).err(),
            Some(Refusal::TotalLimit)
        );
        tickets[0].conn().request_finished(now);
        assert!(admission.admit(peer("192.0.2.3"), now).is_ok());
    }
}
