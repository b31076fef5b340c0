//! One connection's phase, shared by its byte stream (`watched_io`: the first bytes of a new
//! request arrived), its service (requests being served, or their responses ready) and its
//! watchdog (when to give up on it). One atomic word, so reading it costs no lock: the
//! admission scans every connection's phase when it must shed one.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Where a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for (the rest of) a request head, since this instant: the connection opened,
    /// or the first bytes of a later request arrived.
    Head(Instant),
    /// Requests are being served (their heads complete; HTTP/2 carries several at once);
    /// a body has its own deadline.
    Busy,
    /// Between requests since this instant (its last response was ready).
    Idle(Instant),
}

/// Why a connection was closed by this side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    HeaderTimeout,
    IdleTimeout,
    /// Closed to make room for a new connection at the cap.
    Evicted,
}

impl Shed {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Shed::HeaderTimeout => "header_timeout",
            Shed::IdleTimeout => "idle_timeout",
            Shed::Evicted => "evicted",
        }
    }
}

/// The connection timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
}

/// When a connection in `phase` is to be closed, and why; `None` while a request is served.
pub fn deadline(phase: Phase, timeouts: Timeouts) -> Option<(Instant, Shed)> {
    match phase {
        Phase::Head(since) => Some((since + timeouts.header, Shed::HeaderTimeout)),
        Phase::Idle(since) => Some((since + timeouts.idle, Shed::IdleTimeout)),
        Phase::Busy => None,
    }
}

/// The phase word: requests in flight (an HTTP/2 connection carries several at once) in the
/// top 16 bits; with none, an idle flag and milliseconds since `epoch` below.
const IN_FLIGHT_SHIFT: u32 = 48;
const IDLE_BIT: u64 = 1 << 47;
const MILLIS: u64 = IDLE_BIT - 1;

/// One open connection.
pub struct Conn {
    pub id: u64,
    /// The admission's key of its peer (the address, an IPv6 /64).
    pub client: IpAddr,
    /// Every instant is kept as milliseconds since this one.
    epoch: Instant,
    phase: AtomicU64,
    /// Whether the last read found nothing to read: this side is waiting on the client (not
    /// the other way round: a connection whose bytes this process has not read yet, under
    /// load, is not one to shed).
    starved: AtomicBool,
    /// Whether bytes of the awaited head have arrived (a head begun and stalled is a
    /// slowloris's mark; a connection that has sent nothing yet may be a slow client).
    head_begun: AtomicBool,
    evicted: AtomicBool,
    /// Wakes the watchdog when the deadline may have moved or the connection was evicted.
    wake: Notify,
    /// Tells the listener a request ended (the admission's: there may be room again).
    room: Arc<Notify>,
}

impl Conn {
    pub fn new(id: u64, client: IpAddr, epoch: Instant, now: Instant, room: Arc<Notify>) -> Conn {
        let conn = Conn {
            id,
            client,
            epoch,
            phase: AtomicU64::new(0),
            starved: AtomicBool::new(false),
            head_begun: AtomicBool::new(false),
            evicted: AtomicBool::new(false),
            wake: Notify::new(),
            room,
        };
        conn.phase.store(conn.millis(now), Ordering::Release);
        conn
    }

    fn millis(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis())
            .unwrap_or(MILLIS)
            .min(MILLIS)
    }

    pub fn phase(&self) -> Phase {
        let word = self.phase.load(Ordering::Acquire);
        let at = self.epoch + Duration::from_millis(word & MILLIS);
        if word >> IN_FLIGHT_SHIFT > 0 {
            Phase::Busy
        } else if word & IDLE_BIT != 0 {
            Phase::Idle(at)
        } else {
            Phase::Head(at)
        }
    }

    /// Changes the phase word with `change` (a compare-and-swap loop); true if it changed.
    fn update(&self, change: impl FnMut(u64) -> Option<u64>) -> bool {
        self.phase
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, change)
            .is_ok()
    }

    /// Bytes arrived: an idle connection is now receiving a request head, and the header
    /// timeout runs from now (a head in progress keeps its start).
    pub fn bytes_arrived(&self, now: Instant) {
        if self.phase.load(Ordering::Acquire) >> IN_FLIGHT_SHIFT == 0 {
            self.head_begun.store(true, Ordering::Release);
        }
        let head = self.millis(now);
        let started = self
            .update(|word| (word >> IN_FLIGHT_SHIFT == 0 && word & IDLE_BIT != 0).then_some(head));
        if started {
            self.wake.notify_one();
        }
    }

    /// A request head is complete and the service runs.
    pub fn request_started(&self) {
        self.head_begun.store(false, Ordering::Release);
        self.update(|word| {
            let in_flight = (word >> IN_FLIGHT_SHIFT).saturating_add(1).min(0xffff);
            Some(in_flight << IN_FLIGHT_SHIFT)
        });
    }

    /// A response is ready: with no other request in flight, the connection is idle from now.
    pub fn request_finished(&self, now: Instant) {
        let idle = self.millis(now) | IDLE_BIT;
        self.update(|word| {
            let in_flight = (word >> IN_FLIGHT_SHIFT).saturating_sub(1);
            Some(if in_flight == 0 {
                idle
            } else {
                in_flight << IN_FLIGHT_SHIFT
            })
        });
        self.wake.notify_one();
        self.room.notify_one();
    }

    /// Whether this side is waiting on the client (a read found nothing, or a handshake is
    /// waiting for it).
    pub fn waiting_on_client(&self, waiting: bool) {
        self.starved.store(waiting, Ordering::Release);
    }

    /// The phase of a connection that waits on its client without a request in progress
    /// (the ones that may be shed for another), and whether bytes of its head have come.
    pub fn stalled(&self) -> Option<(Phase, bool)> {
        match self.phase() {
            Phase::Busy => None,
            waiting => self
                .starved
                .load(Ordering::Acquire)
                .then(|| (waiting, self.head_begun.load(Ordering::Acquire))),
        }
    }

    /// Asks the connection's task to close it.
    pub fn evict(&self) {
        self.evicted.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Resolves with the reason when the connection is to be closed: its deadline passed in
    /// the phase it is in, or it was evicted. Runs beside the connection, in its task.
    pub async fn watchdog(&self, timeouts: Timeouts) -> Shed {
        loop {
            if self.evicted.load(Ordering::Acquire) {
                return Shed::Evicted;
            }
            match deadline(self.phase(), timeouts) {
                None => self.wake.notified().await,
                Some((at, why)) => {
                    if at <= Instant::now() {
                        return why;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = self.wake.notified() => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::net::Ipv4Addr;

    use super::*;

    const T: Timeouts = Timeouts {
        header: Duration::from_secs(10),
        idle: Duration::from_secs(60),
    };

    fn conn(epoch: Instant) -> Conn {
        Conn::new(
            1,
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            epoch,
            epoch,
            Arc::new(Notify::new()),
        )
    }

    #[test]
    fn each_phase_has_its_deadline() {
        let now = Instant::now();
        assert_eq!(
            deadline(Phase::Head(now), T),
            Some((now + T.header, Shed::HeaderTimeout))
        );
        assert_eq!(
            deadline(Phase::Idle(now), T),
            Some((now + T.idle, Shed::IdleTimeout))
        );
        assert_eq!(deadline(Phase::Busy, T), None);
    }

    #[test]
    fn a_connection_goes_head_busy_idle_head() {
        let epoch = Instant::now();
        let c = conn(epoch);
        assert_eq!(c.phase(), Phase::Head(epoch));
        // more bytes of the same head do not push its deadline back
        c.bytes_arrived(epoch + Duration::from_secs(5));
        assert_eq!(c.phase(), Phase::Head(epoch));
        c.request_started();
        assert_eq!(c.phase(), Phase::Busy);
        // body bytes while busy change nothing
        c.bytes_arrived(epoch + Duration::from_secs(6));
        assert_eq!(c.phase(), Phase::Busy);
        let done = epoch + Duration::from_secs(7);
        c.request_finished(done);
        assert_eq!(c.phase(), Phase::Idle(done));
        // the next request's first bytes start its header timeout
        let next = epoch + Duration::from_secs(30);
        c.bytes_arrived(next);
        assert_eq!(c.phase(), Phase::Head(next));
    }

    #[test]
    fn a_connection_with_several_requests_in_flight_is_busy_until_the_last_ends() {
        let epoch = Instant::now();
        let c = conn(epoch);
        c.request_started();
        c.request_started();
        c.request_finished(epoch + Duration::from_secs(1));
        assert_eq!(c.phase(), Phase::Busy);
        let done = epoch + Duration::from_secs(2);
        c.request_finished(done);
        assert_eq!(c.phase(), Phase::Idle(done));
    }

    #[tokio::test(start_paused = true)]
    async fn the_watchdog_fires_at_the_deadline_of_the_current_phase() {
        let epoch = Instant::now();
        let c = conn(epoch);
        assert_eq!(c.watchdog(T).await, Shed::HeaderTimeout);
        assert_eq!(Instant::now(), epoch + T.header);

        let c = conn(Instant::now());
        c.request_finished(Instant::now());
        let idle_from = Instant::now();
        assert_eq!(c.watchdog(T).await, Shed::IdleTimeout);
        assert_eq!(Instant::now(), idle_from + T.idle);
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_connection_is_not_timed_out_and_eviction_wakes_the_watchdog() {
        let c = Arc::new(conn(Instant::now()));
        c.request_started();
        let watched = tokio::spawn({
            let c = c.clone();
            async move { c.watchdog(T).await }
        });
        tokio::time::sleep(T.idle * 10).await;
        assert!(!watched.is_finished());
        c.evict();
        assert_eq!(watched.await.unwrap(), Shed::Evicted);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_bytes_after_idling_bring_the_deadline_forward() {
        let c = Arc::new(conn(Instant::now()));
        c.request_finished(Instant::now());
        let watched = tokio::spawn({
            let c = c.clone();
            async move { (c.watchdog(T).await, Instant::now()) }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        let first_byte = Instant::now();
        c.bytes_arrived(first_byte);
        let (why, at) = watched.await.unwrap();
        assert_eq!((why, at), (Shed::HeaderTimeout, first_byte + T.header));
    }
}
