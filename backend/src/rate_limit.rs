//! The per-client rate limiter of the API routes (no axum: the middleware is
//! `http::rate_limit`; it covers the API routes, not health, ready, metrics): governor's GCRA,
//! `RATE_LIMIT_REQUESTS` per `RATE_LIMIT_PERIOD_SECS` replenished evenly, at most
//! `RATE_LIMIT_BURST` back to back; beyond that 429 with `retry-after`.
//!
//! The key is the TCP peer address, never a header a client could write: an IPv6 client is
//! keyed by its /64 (one host usually owns a whole /64, so rotating addresses inside it buys
//! nothing), an IPv4-mapped IPv6 address as its IPv4 address. governor's keyed store grows with
//! every new key, so it is bounded here: every `SWEEP_EVERY` checks, and whenever it reaches
//! `max_clients`, keys whose state is back to fresh are dropped (`retain_recent`); if it is
//! still full (more distinct clients active at once than the cap), it starts afresh, which costs
//! those clients at most one extra burst and never grows memory.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::Quota;

use crate::config::RateLimitSettings;

/// Distinct client keys held at most (about 100 bytes each: a few MB at the cap).
pub const MAX_CLIENTS: usize = 65_536;

/// Checks between two sweeps of the keys that are back to fresh.
const SWEEP_EVERY: u64 = 1024;

type Limiter<C> = governor::RateLimiter<
    IpAddr,
    DashMapStateStore<IpAddr>,
    C,
    NoOpMiddleware<<C as Clock>::Instant>,
>;

pub struct RateLimit<C: Clock = DefaultClock> {
    limiter: RwLock<Arc<Limiter<C>>>,
    quota: Quota,
    clock: C,
    max_clients: usize,
    checks: AtomicU64,
    sweeping: Mutex<()>,
}

impl RateLimit<DefaultClock> {
    pub fn new(settings: &RateLimitSettings) -> RateLimit<DefaultClock> {
        RateLimit::with_clock(settings, DefaultClock::default(), MAX_CLIENTS)
    }
}

impl<C: Clock + Clone> RateLimit<C> {
    pub fn with_clock(settings: &RateLimitSettings, clock: C, max_clients: usize) -> RateLimit<C> {
        let quota = quota(settings);
        RateLimit {
            limiter: RwLock::new(Arc::new(Limiter::dashmap_with_clock(quota, clock.clone()))),
            quota,
            clock,
            max_clients: max_clients.max(1),
            checks: AtomicU64::new(0),
            sweeping: Mutex::new(()),
        }
    }

    /// `Ok` when `peer` may go on, else how long until its next request would pass.
    pub fn check(&self, peer: Option<SocketAddr>) -> Result<(), Duration> {
        self.upkeep();
        self.current()
            .check_key(&client_key(peer))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Client keys currently held.
    pub fn tracked_clients(&self) -> usize {
        self.current().len()
    }

    fn current(&self) -> Arc<Limiter<C>> {
        self.limiter
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Keeps the key set bounded (see the module comment). One sweep at a time; the others
    /// go on with their check.
    fn upkeep(&self) {
        let count = self.checks.fetch_add(1, Ordering::Relaxed);
        let full = self.current().len() >= self.max_clients;
        if !full && count % SWEEP_EVERY != SWEEP_EVERY - 1 {
            return;
        }
        let Ok(_sweeping) = self.sweeping.try_lock() else {
            return;
        };
        let limiter = self.current();
        limiter.retain_recent();
        limiter.shrink_to_fit();
        if limiter.len() >= self.max_clients {
            tracing::warn!(
                max_clients = self.max_clients,
                "rate limiter: more distinct clients active than it tracks; starting afresh"
            );
            let fresh = Arc::new(Limiter::dashmap_with_clock(self.quota, self.clock.clone()));
            *self
                .limiter
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
        }
    }
}

/// `requests` per `period`, one every `period / requests`, at most `burst` at once.
fn quota(settings: &RateLimitSettings) -> Quota {
    let interval = settings.period / settings.requests.get();
    // `period` >= 1 s and `requests` <= u32::MAX keep the interval above zero.
    Quota::with_period(interval.max(Duration::from_nanos(1)))
        .unwrap_or_else(|| Quota::per_second(settings.requests))
        .allow_burst(settings.burst)
}

/// The key of a peer: its IPv4 address, or its IPv6 /64. Without a peer address (only in
/// in-process tests that give none) every request shares one key.
pub fn client_key(peer: Option<SocketAddr>) -> IpAddr {
    match peer.map(|p| p.ip()) {
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Some(IpAddr::V4(v4)) => IpAddr::V4(v4),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::num::NonZeroU32;

    use governor::clock::FakeRelativeClock;

    use super::*;

    fn settings(requests: u32, period_secs: u64, burst: u32) -> RateLimitSettings {
        RateLimitSettings {
            requests: NonZeroU32::new(requests).unwrap(),
            period: Duration::from_secs(period_secs),
            burst: NonZeroU32::new(burst).unwrap(),
        }
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().unwrap(), 40000))
    }

    /// Requests that pass out of `n` sent at one instant.
    fn passing(limit: &RateLimit<FakeRelativeClock>, who: Option<SocketAddr>, n: u32) -> u32 {
        (0..n).filter(|_| limit.check(who).is_ok()).count() as u32
    }

    #[test]
    fn defaults_give_600_per_minute_after_a_burst_of_50() {
        let clock = FakeRelativeClock::default();
        let limit = RateLimit::with_clock(&settings(600, 60, 50), clock.clone(), MAX_CLIENTS);
        let client = peer("192.0.2.1");
        assert_eq!(passing(&limit, client, 200), 50, "the burst");
        let wait = limit.check(client).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100), "one every 60 s / 600");
        // Over the next minute, one request every 0.1 s passes: 600 in all.
        let mut passed = 0;
        for _ in 0..600 {
            clock.advance(Duration::from_millis(100));
            passed += passing(&limit, client, 5);
        }
        assert_eq!(passed, 600);
        // Idle for a whole period: the burst is back, not more.
        clock.advance(Duration::from_secs(60));
        assert_eq!(passing(&limit, client, 200), 50);
    }

    #[test]
    fn burst_and_rate_are_independent() {
        let clock = FakeRelativeClock::default();
        let limit = RateLimit::with_clock(&settings(600, 60, 1), clock.clone(), MAX_CLIENTS);
        let client = peer("192.0.2.1");
        assert_eq!(passing(&limit, client, 5), 1);
        clock.advance(Duration::from_millis(100));
        assert_eq!(passing(&limit, client, 5), 1, "10 per second");
        let limit = RateLimit::with_clock(&settings(1, 3600, 25), clock.clone(), MAX_CLIENTS);
        assert_eq!(passing(&limit, client, 100), 25);
        assert_eq!(limit.check(client).unwrap_err(), Duration::from_secs(3600));
    }

    #[test]
    fn clients_are_keyed_apart_and_ipv6_by_its_64() {
        let limit = RateLimit::with_clock(
            &settings(1, 3600, 2),
            FakeRelativeClock::default(),
            MAX_CLIENTS,
        );
        assert_eq!(passing(&limit, peer("192.0.2.1"), 5), 2);
        assert_eq!(passing(&limit, peer("192.0.2.2"), 5), 2, "another address");
        assert_eq!(
            passing(&limit, peer("::ffff:192.0.2.2"), 5),
            0,
            "same as v4"
        );
        assert_eq!(passing(&limit, peer("2001:db8::1"), 1), 1);
        assert_eq!(passing(&limit, peer("2001:db8::ffff:2"), 5), 1, "same /64");
        assert_eq!(
            passing(&limit, peer("2001:db8:0:1::1"), 5),
            2,
            "another /64"
        );
    }

    #[test]
    fn many_distinct_clients_stay_bounded() {
        let clock = FakeRelativeClock::default();
        let cap = 500;
        let limit = RateLimit::with_clock(&settings(100, 60, 10), clock.clone(), cap);
        let mut most = 0;
        for i in 0..20_000u32 {
            let ip = Ipv4Addr::from(0x0A00_0000 + i);
            assert!(limit.check(Some(SocketAddr::new(ip.into(), 1))).is_ok());
            most = most.max(limit.tracked_clients());
        }
        assert!(most <= cap, "held {most} keys, cap {cap}");
        // Keys that are back to fresh go at the next sweep; a still-limited one stays limited.
        let abuser = peer("192.0.2.9");
        assert_eq!(passing(&limit, abuser, 50), 10);
        clock.advance(Duration::from_secs(10));
        assert_eq!(passing(&limit, abuser, 50), 10, "refilled after 10 s");
        assert!(limit.check(abuser).is_err());
        for _ in 0..SWEEP_EVERY {
            let _ = limit.check(peer("192.0.2.10"));
        }
        assert!(limit.tracked_clients() <= 2, "{}", limit.tracked_clients());
        assert!(
            limit.check(abuser).is_err(),
            "the sweep kept the limited client"
        );
    }
}
