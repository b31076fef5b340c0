//! Who may connect: at most `max` connections open, at most `per_client` from one client key
//! (the rate limiter's: an IPv4 address, an IPv6 /64). At a cap, the connection that has
//! waited longest on its client without a request in progress (a slow or silent head or
//! handshake, an idle keep-alive) makes room for the newcomer: the client's own at its cap (one client only ever churns its
//! own connections), anyone's at the total cap (a slowloris from many addresses cannot lock a
//! health check out). Only a connection that this side is waiting on is shed, and only after
//! a grace: 1 s for a head begun and stalled, 5 s for a connection that has sent nothing, 10 s
//! for an idle keep-alive (its client may be about to reuse it). A client at its cap with nothing to shed is refused. With nothing
//! to shed at the total cap, the listener stops accepting until something changes (`room`):
//! new connections wait in the kernel's listen queue (backpressure, not errors). No I/O here:
//! the listener acts on the answers.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::phase::{Conn, Phase};
use crate::rate_limit::client_key;

/// How long a head begun and then stalled may wait before the connection may be shed for
/// another: a client writes its head at once, a slowloris a line at a time.
pub const GRACE: Duration = Duration::from_secs(1);
/// How long a connection that has sent nothing (no head, no handshake) may wait before it may
/// be shed: a client on a busy machine may be slow to write its first bytes.
pub const SILENT_GRACE: Duration = Duration::from_secs(5);
/// How long a kept-alive connection must have been idle before it may be shed: its client
/// may reuse it at any moment, and one closed just as a request goes out loses that request,
/// so idle connections go after stalled heads and only once their client has left them.
pub const IDLE_GRACE: Duration = Duration::from_secs(10);

/// Whether a newcomer could be admitted (short of its client's cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    Now,
    /// When the longest-waiting connection may be shed.
    At(Instant),
    /// Every connection is serving a request: when one ends or closes.
    Later,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its client already has `per_client` connections open.
    ClientLimit,
    /// `max` connections are open and every one is serving a request (the listener waits for
    /// room before accepting, so only a connection that raced a request start gets this).
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
    /// Signalled when a connection closes or a request ends: there may be room again.
    room: Arc<Notify>,
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
            room: Arc::new(Notify::new()),
        })
    }

    fn open(&self) -> MutexGuard<'_, Open> {
        // The counts stay consistent under any panic elsewhere: keep using them.
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a newcomer could be admitted at `now`: a free place, or a connection to shed.
    pub fn room(&self, now: Instant) -> Room {
        let open = self.open();
        if open.conns.len() < self.max {
            return Room::Now;
        }
        let earliest = open
            .conns
            .values()
            .filter_map(|c| shed_from(c).map(|(_, at)| at))
            .min();
        match earliest {
            Some(at) if at <= now => Room::Now,
            Some(at) => Room::At(at),
            None => Room::Later,
        }
    }

    /// Resolves when there is room (at once if there is).
    pub async fn wait_for_room(&self) {
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.room(Instant::now()) {
                Room::Now => return,
                Room::At(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = &mut notified => {}
                    }
                }
                Room::Later => notified.await,
            }
        }
    }

    /// Admits a connection from `peer`, evicting one at the total cap if it can.
    pub fn admit(self: &Arc<Self>, peer: SocketAddr, now: Instant) -> Result<Ticket, Refusal> {
        let client = client_key(Some(peer));
        let mut open = self.open();
        let shed = |open: &Open, of: Option<IpAddr>| shed_first(open, of, now);
        let victim = if open.per_client.get(&client).copied().unwrap_or(0) >= self.per_client {
            Some(shed(&open, Some(client)).ok_or(Refusal::ClientLimit)?)
        } else if open.conns.len() >= self.max {
            Some(shed(&open, None).ok_or(Refusal::TotalLimit)?)
        } else {
            None
        };
        if let Some(evicted) = victim.and_then(|id| forget(&mut open, id)) {
            evicted.evict();
        }
        open.next_id += 1;
        let conn = Arc::new(Conn::new(
            open.next_id,
            client,
            self.epoch,
            now,
            self.room.clone(),
        ));
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
        self.room.notify_one();
    }
}

/// When a connection may be shed, and its rank among those that may (stalled heads before
/// idle keep-alives); `None` while it serves a request or this side has not read it yet.
fn shed_from(c: &Conn) -> Option<(u8, Instant)> {
    match c.stalled()? {
        (Phase::Head(since), true) => Some((0, since + GRACE)),
        (Phase::Head(since), false) => Some((0, since + SILENT_GRACE)),
        (Phase::Idle(since), _) => Some((1, since + IDLE_GRACE)),
        (Phase::Busy, _) => None,
    }
}

/// The connection (of one client, or of any) to shed at `now`: a stalled head before an idle
/// keep-alive, the longest waiting first.
fn shed_first(open: &Open, of: Option<IpAddr>, now: Instant) -> Option<u64> {
    open.conns
        .values()
        .filter(|c| of.is_none_or(|client| c.client == client))
        .filter_map(|c| {
            let (rank, at) = shed_from(c)?;
            (at <= now).then_some((rank, at, c.id))
        })
        .min()
        .map(|(_, _, id)| id)
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
    use super::*;

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40000)
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// A connection admitted at `at` that sent part of a head and stalled (a slowloris).
    fn stalled(admission: &Arc<Admission>, ip: &str, at: Instant) -> Result<Ticket, Refusal> {
        let ticket = admission.admit(peer(ip), at)?;
        ticket.conn().bytes_arrived(at);
        ticket.conn().waiting_on_client(true);
        Ok(ticket)
    }

    #[test]
    fn a_client_at_its_cap_churns_its_own_waiting_connections_or_is_refused() {
        let admission = Admission::new(10, 2);
        let t0 = Instant::now();
        let a1 = stalled(&admission, "192.0.2.1", t0).unwrap();
        let a2 = stalled(&admission, "192.0.2.1", t0).unwrap();
        // its connections' heads may still be on their way: refused
        assert_eq!(
            admission.admit(peer("192.0.2.1"), t0).err(),
            Some(Refusal::ClientLimit)
        );
        // one /64 is one client; another address is another
        let _b1 = stalled(&admission, "2001:db8::1", t0).unwrap();
        let _b2 = stalled(&admission, "2001:db8::ffff", t0).unwrap();
        assert_eq!(
            admission.admit(peer("2001:db8::2"), t0).err(),
            Some(Refusal::ClientLimit)
        );
        let _c = stalled(&admission, "2001:db8:0:1::1", t0).unwrap();
        // once they have waited, the client's own oldest makes room (not another client's)
        a1.conn().request_started();
        let a3 = stalled(&admission, "192.0.2.1", t0 + GRACE).unwrap();
        assert_eq!(a1.conn().phase(), Phase::Busy, "a busy one is never shed");
        drop(a2);
        assert_eq!(admission.open_count(), 5);
        // all of its connections busy: refused
        a3.conn().request_started();
        assert_eq!(
            admission.admit(peer("192.0.2.1"), t0 + secs(9)).err(),
            Some(Refusal::ClientLimit)
        );
        // closing one frees its place
        drop(a1);
        assert!(admission.admit(peer("192.0.2.1"), t0 + secs(9)).is_ok());
    }

    #[test]
    fn at_the_total_cap_stalled_heads_then_idle_keep_alives_make_room() {
        let admission = Admission::new(3, 3);
        let t0 = Instant::now();
        let slow = stalled(&admission, "192.0.2.1", t0).unwrap();
        let busy = stalled(&admission, "192.0.2.2", t0 - secs(1)).unwrap();
        busy.conn().request_started();
        let idle = stalled(&admission, "192.0.2.3", t0).unwrap();
        idle.conn().request_finished(t0);
        assert_eq!(admission.room(t0 + secs(3)), Room::Now);
        // full: the stalled head goes; the busy one, older, stays; the idle one too, for now
        let newcomer = stalled(&admission, "198.51.100.1", t0 + secs(3)).unwrap();
        assert_eq!(admission.open_count(), 3);
        // its ticket, dropped later, does not free a second place
        drop(slow);
        assert_eq!(admission.open_count(), 3);
        // a stalled head (the newcomer, since t0+3) goes before an idle keep-alive (since t0)
        let next = stalled(&admission, "198.51.100.2", t0 + secs(5)).unwrap();
        drop(newcomer);
        assert_eq!(admission.open_count(), 3);
        // with no stalled head left, the idle one, once idle for IDLE_GRACE
        next.conn().request_started();
        assert_eq!(
            admission.admit(peer("198.51.100.3"), t0 + secs(9)).err(),
            Some(Refusal::TotalLimit)
        );
        let _last = stalled(&admission, "198.51.100.3", t0 + IDLE_GRACE).unwrap();
        drop(idle);
        assert_eq!(admission.open_count(), 3);
        assert_eq!(busy.conn().phase(), Phase::Busy);
        drop(next);
        assert_eq!(admission.open_count(), 2);
    }

    #[test]
    fn a_connection_whose_bytes_this_side_has_not_read_is_not_shed() {
        let admission = Admission::new(1, 1);
        let t0 = Instant::now();
        let unread = admission.admit(peer("192.0.2.1"), t0).unwrap();
        assert_eq!(admission.room(t0 + secs(60)), Room::Later);
        // read, nothing there: a silent client, shed after the longer grace
        unread.conn().waiting_on_client(true);
        assert!(matches!(admission.room(t0 + GRACE), Room::At(_)));
        assert_eq!(admission.room(t0 + SILENT_GRACE), Room::Now);
    }

    #[test]
    fn a_connection_is_shed_only_once_it_has_waited_the_grace() {
        let admission = Admission::new(1, 1);
        let t0 = Instant::now();
        let first = stalled(&admission, "192.0.2.1", t0).unwrap();
        // (phases keep milliseconds)
        let Phase::Head(since) = first.conn().phase() else {
            panic!("a new connection waits for its head")
        };
        assert_eq!(admission.room(t0), Room::At(since + GRACE));
        assert_eq!(
            admission.admit(peer("192.0.2.2"), t0).err(),
            Some(Refusal::TotalLimit)
        );
        assert_eq!(admission.room(t0 + GRACE), Room::Now);
        assert!(admission.admit(peer("192.0.2.2"), t0 + GRACE).is_ok());
    }

    #[tokio::test]
    async fn eviction_tells_the_evicted_connection() {
        let admission = Admission::new(1, 1);
        let t0 = Instant::now();
        let first = stalled(&admission, "192.0.2.1", t0).unwrap();
        let _second = stalled(&admission, "192.0.2.2", t0 + GRACE).unwrap();
        let timeouts = super::super::phase::Timeouts {
            header: secs(3600),
            idle: secs(3600),
        };
        assert_eq!(
            first.conn().watchdog(timeouts).await,
            super::super::phase::Shed::Evicted
        );
    }

    #[test]
    fn when_every_connection_is_serving_a_request_there_is_no_room() {
        let admission = Admission::new(2, 2);
        let now = Instant::now();
        let tickets: Vec<Ticket> = ["192.0.2.1", "192.0.2.2"]
            .iter()
            .map(|ip| stalled(&admission, ip, now).unwrap())
            .collect();
        for t in &tickets {
            t.conn().request_started();
        }
        assert_eq!(admission.room(now + secs(60)), Room::Later);
        assert_eq!(
            admission.admit(peer("192.0.2.3"), now + secs(60)).err(),
            Some(Refusal::TotalLimit)
        );
        tickets[0].conn().request_finished(now);
        assert!(matches!(admission.room(now + GRACE), Room::At(_)));
        assert!(admission.admit(peer("192.0.2.3"), now + IDLE_GRACE).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_listener_waits_for_room_until_a_request_ends_or_a_connection_closes() {
        let admission = Admission::new(1, 1);
        let busy = stalled(&admission, "192.0.2.1", Instant::now()).unwrap();
        busy.conn().request_started();
        let waiting = tokio::spawn({
            let admission = admission.clone();
            async move { admission.wait_for_room().await }
        });
        tokio::time::sleep(secs(3600)).await;
        assert!(!waiting.is_finished());
        // the request ends: the connection may be shed once it has idled for the grace
        let ended = Instant::now();
        busy.conn().request_finished(ended);
        waiting.await.unwrap();
        let Some((Phase::Idle(since), _)) = busy.conn().stalled() else {
            panic!("idle")
        };
        assert_eq!(Instant::now(), since + IDLE_GRACE);
        // and a connection closing makes room at once
        busy.conn().request_started();
        let waiting = tokio::spawn({
            let admission = admission.clone();
            async move { admission.wait_for_room().await }
        });
        tokio::task::yield_now().await;
        drop(busy);
        waiting.await.unwrap();
    }
}
