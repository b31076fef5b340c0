//! 100,000 zones (issue 21, item 5): this backend and bindcar 0.9.0, each on its own named (the
//! same named build), filled to 100,000 zones through the API at 8 clients, in chunks of
//! 10,000 alternating between the two servers so that the machine's noise falls on both alike.
//! Then, at 100,000: `GET /api/v1/zones` p50, each server's and its named's resident memory,
//! and a restart of each server (SIGTERM, start again) timed until its first listing holds
//! every zone (for ours: the index rebuilt from disk and reconciled with named).
//!
//! Bounded: each server stops creating at its deadline (bindcar at a third of the part's budget,
//! ours at the whole) and the report says how far it got. Skipped when `BENCH_100K=0`; never
//! part of `make test`.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};

use crate::client::Client;
use crate::clock::Clock;
use crate::machine::time_wait;
use crate::options::Options;
use crate::peer::{self, Peer, PEER_VERSION, TOKEN};
use crate::proc_cpu::{clock_ticks, rss_kib};
use crate::ZONES;

/// How long a restarted server may take to list every zone before the part gives up on it.
const RESTART_LIMIT: Duration = Duration::from_secs(120);

/// Chunks per server: the first and the last are compared.
const CHUNKS: usize = 10;

/// What one server did in this part: each chunk's creates, creates per second and CPU ticks
/// (server, named); why it stopped short of the goal, if it did.
#[derive(Default)]
struct Tally {
    chunks: Vec<(usize, f64, [u64; 2])>,
    stopped: Option<String>,
}

impl Tally {
    /// The chunks made whole (a chunk cut by the deadline is not compared).
    fn whole(&self, size: usize) -> Vec<&(usize, f64, [u64; 2])> {
        self.chunks.iter().filter(|c| c.0 == size).collect()
    }
}

/// The whole part: `opts.zones_100k_goal` zones per server in alternating chunks. The peer
/// stops creating at a third of the budget (`opts.zones_100k_budget_secs`; bindcar 0.9.0 slows
/// down as zones accumulate), this backend at the whole budget, each mid-chunk if need be.
pub(crate) fn zones_100k(clock: &Clock, opts: &Options) -> Result<Value> {
    clock.check("100,000 zones")?;
    let budget = Duration::from_secs(opts.zones_100k_budget_secs);
    let chunk_size = opts.zones_100k_goal / CHUNKS;
    let started = Instant::now();
    say!("100k: starting this backend and bindcar {PEER_VERSION}, each on its own named");
    let mut peers = [peer::start("ours")?, peer::start("bindcar")?];
    let deadlines = [started + budget, started + budget / 3];
    let mut tallies: [Tally; 2] = Default::default();
    for chunk in 0..CHUNKS {
        // Ours first in even chunks, bindcar first in odd ones.
        let order = if chunk % 2 == 0 { [0, 1] } else { [1, 0] };
        for k in order {
            if tallies[k].stopped.is_some() {
                continue;
            }
            clock.check("100,000 zones: creating")?;
            let to = (chunk + 1) * chunk_size;
            let filled = peer::fill_until(&mut peers[k], to, Some(deadlines[k]))
                .with_context(|| format!("{}: creating zones up to {to}", peers[k].id))?;
            say!(
                "100k: {:<7} {:>6} zones  {:>6.0} creates/s  TIME_WAIT {}",
                peers[k].id,
                peers[k].zones,
                filled.per_sec,
                time_wait()
            );
            tallies[k]
                .chunks
                .push((filled.created, filled.per_sec, filled.cpu));
            if peers[k].zones < to {
                let why = format!(
                    "stopped at {} zones, {} s into the part",
                    peers[k].zones,
                    (deadlines[k] - started).as_secs()
                );
                say!("100k: {}: {why}", peers[k].id);
                tallies[k].stopped = Some(why);
            }
        }
    }
    let mut servers = serde_json::Map::new();
    for (p, tally) in peers.iter_mut().zip(&tallies) {
        let v = at_scale(clock, p, tally, chunk_size)?;
        servers.insert(p.id.to_string(), v);
    }
    Ok(json!({
        "zones_goal": opts.zones_100k_goal,
        "chunk": chunk_size,
        "clients": peer::CLIENTS,
        "peer_version": PEER_VERSION,
        "auth": "shared secret (BIND_API_TOKEN) on both",
        "order": format!(
            "chunks of {chunk_size} alternating between the servers (ours first in even chunks)"
        ),
        "budget_secs": budget.as_secs(),
        "peer_budget_secs": budget.as_secs() / 3,
        "servers": servers,
        "wall_secs": started.elapsed().as_secs_f64(),
    }))
}

/// The figures of one server once filled: rates, listing, memory, restart.
fn at_scale(clock: &Clock, p: &mut Peer, tally: &Tally, chunk_size: usize) -> Result<Value> {
    let whole = tally.whole(chunk_size);
    let first = whole.first().copied();
    let last = whole.last().copied().filter(|_| whole.len() >= 2);
    // CPU µs per create of the server, of its named, and of both.
    let us = |c: &(usize, f64, [u64; 2])| {
        let per = |ticks: u64| ticks as f64 / clock_ticks() * 1e6 / c.0.max(1) as f64;
        json!({"server": per(c.2[0]), "named": per(c.2[1]), "total": per(c.2[0] + c.2[1])})
    };
    let (first, cpu_first) = (first.map(|c| c.1), first.map(us));
    let (last, cpu_last) = (last.map(|c| c.1), last.map(us));
    clock.check("100,000 zones: listing")?;
    let listing = peer::list(p)?;
    say!("100k: {} GET {ZONES} at {} zones: {listing}", p.id, p.zones);
    let rss = |pid: Option<u32>| pid.and_then(rss_kib);
    let (server_rss, named_rss) = (rss(p.backend.pid()), rss(p.named.pid()));
    say!(
        "100k: {} RSS {:?} KiB, its named {:?} KiB",
        p.id,
        server_rss,
        named_rss
    );
    clock.check("100,000 zones: restart")?;
    let restarted = peer::restart(p)?;
    let to_health = restarted.elapsed().as_secs_f64();
    let to_listing = full_listing(p, restarted)?;
    say!(
        "100k: {} restarted: health after {to_health:.2} s, every zone listed after {to_listing:.2} s",
        p.id
    );
    Ok(json!({
        "zones": p.zones,
        "stopped": tally.stopped,
        "chunk_creates_per_sec": tally.chunks.iter().map(|c| c.1).collect::<Vec<_>>(),
        "first_chunk_creates_per_sec": first,
        "last_chunk_creates_per_sec": last,
        "first_over_last": first.zip(last).map(|(a, b)| a / b),
        "cpu_us_per_create_first_chunk": cpu_first,
        "cpu_us_per_create_last_chunk": cpu_last,
        "list": listing,
        "rss_kib": {"server": server_rss, "named": named_rss},
        "restart": {
            "to_health_secs": to_health,
            "to_full_listing_secs": to_listing,
            "server_rss_kib_after": rss(p.backend.pid()),
        },
    }))
}

/// Seconds from `since` until `GET /api/v1/zones` lists every zone the server made.
fn full_listing(p: &Peer, since: Instant) -> Result<f64> {
    let mut client = Client::with_token(p.backend.port(), TOKEN);
    loop {
        let a = client.call("GET", ZONES, None)?;
        if a.status == 200 {
            let v: Value = serde_json::from_slice(&a.body)?;
            if v["count"].as_u64() == Some(p.zones as u64) {
                return Ok(since.elapsed().as_secs_f64());
            }
        }
        ensure!(
            since.elapsed() < RESTART_LIMIT,
            "{}: not every zone listed {} s after a restart (last answer {})",
            p.id,
            RESTART_LIMIT.as_secs(),
            a.status
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
