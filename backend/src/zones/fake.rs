//! A scripted fake named behind `ControlChannel`, for tests of the operations and the router:
//! replies per command (`"showzone"`) or per command and zone (`"showzone ok.test"`), once or
//! for good, and a record of every command sent, in order. Plus a scratch zone directory.
#![allow(clippy::new_without_default)]

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::bind::stats::StatsReply;
use crate::bind::{
    ControlChannel, Reply, RndcCommand, RndcFailure, Statistics, StatsSnapshot, ZoneDir, ZoneName,
};
use crate::metrics::Metrics;
use crate::zones::Zones;

pub type Answer = Result<String, RndcFailure>;

pub fn ok(text: &str) -> Answer {
    Ok(text.to_string())
}

pub fn refused(err: &str, text: &str) -> Answer {
    Err(RndcFailure::Refused {
        err: err.to_string(),
        text: text.to_string(),
    })
}

pub fn timeout() -> Answer {
    Err(RndcFailure::Timeout(Duration::from_secs(10)))
}

/// The command was sent; named's answer never came back (connection closed).
pub fn lost() -> Answer {
    Err(RndcFailure::Lost(
        "named closed the control connection (named restarting, or the rndc key/algorithm does not match named's controls key)".into(),
    ))
}

pub fn unavailable() -> Answer {
    Err(RndcFailure::Unavailable(
        "connection refused (is named running?)".into(),
    ))
}

/// `rndc showzone` output for a zone whose file is `file`.
pub fn shown(zone: &str, zone_type: &str, file: &str) -> Answer {
    ok(&format!(
        "zone \"{zone}\" {{ type {zone_type}; file \"{file}\"; allow-transfer {{ 10.0.0.0/8; }}; }};"
    ))
}

/// `rndc zonestatus` output.
pub fn zonestatus(serial: u32, reconfigurable: bool) -> Answer {
    let yes = if reconfigurable { "yes" } else { "no" };
    ok(&format!(
        "name: x\ntype: primary\nserial: {serial}\nreconfigurable via modzone: {yes}\n"
    ))
}

#[derive(Default)]
pub struct FakeNamed {
    once: Mutex<HashMap<String, VecDeque<Answer>>>,
    always: Mutex<HashMap<String, Answer>>,
    sent: Mutex<Vec<RndcCommand>>,
    delay: Mutex<Duration>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl FakeNamed {
    pub fn new() -> Arc<FakeNamed> {
        Arc::new(FakeNamed::default())
    }

    /// Answers `key` (`"label"` or `"label zone"`) with `answer` from now on.
    pub fn answer(&self, key: &str, answer: Answer) {
        self.always.lock().unwrap().insert(key.to_string(), answer);
    }

    /// Answers `key` with `answer` once, before any standing answer.
    pub fn answer_once(&self, key: &str, answer: Answer) {
        self.once
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default()
            .push_back(answer);
    }

    /// Every command sent so far, as `"label zone"` (no block, no checkds arguments), in order.
    pub fn sent(&self) -> Vec<String> {
        self.sent.lock().unwrap().iter().map(key).collect()
    }

    /// The full lines sent (blocks included).
    pub fn lines(&self) -> Vec<String> {
        self.sent.lock().unwrap().iter().map(|c| c.line()).collect()
    }

    fn reply(&self, command: &RndcCommand) -> Answer {
        let label = command.label();
        let exact = key(command);
        for key in [exact.as_str(), label] {
            if let Some(answer) = self
                .once
                .lock()
                .unwrap()
                .get_mut(key)
                .and_then(|q| q.pop_front())
            {
                return answer;
            }
        }
        let always = self.always.lock().unwrap();
        always
            .get(&exact)
            .or_else(|| always.get(label))
            .cloned()
            // Unscripted: named knows no such zone (and says ok to `status`).
            .unwrap_or_else(|| match command {
                RndcCommand::Status => ok("version: fake named\nserver is up and running"),
                _ => refused("not found", ""),
            })
    }
}

/// `"label zone"`, or `"label"` for a command without a zone.
fn key(command: &RndcCommand) -> String {
    match command.zone() {
        Some(zone) => format!("{} {zone}", command.label()),
        None => command.label().to_string(),
    }
}

impl ControlChannel for FakeNamed {
    fn run<'a>(&'a self, command: &'a RndcCommand) -> Reply<'a> {
        self.sent.lock().unwrap().push(command.clone());
        let answer = self.reply(command);
        Box::pin(async move {
            let in_flight = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(in_flight, Ordering::SeqCst);
            let delay = *self.delay.lock().unwrap();
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            answer
        })
    }
}

impl FakeNamed {
    /// Every command takes `delay` to answer (so concurrent commands overlap).
    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().unwrap() = delay;
    }

    /// The most commands that were in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

/// A fake statistics channel: a boot time, the zones BIND has, or a failure.
#[derive(Default)]
pub struct FakeStats {
    pub boot: Mutex<String>,
    pub zones: Mutex<BTreeSet<ZoneName>>,
    pub down: Mutex<bool>,
    pub listings: AtomicUsize,
    /// `/json/v1/status` requests answered.
    pub statuses: AtomicUsize,
}

impl FakeStats {
    pub fn set_zones(&self, names: &[&str]) {
        *self.zones.lock().unwrap() = names.iter().map(|n| Harness::zone(n)).collect();
    }

    fn answer(&self, zones: bool) -> Result<StatsSnapshot, String> {
        if zones {
            self.listings.fetch_add(1, Ordering::SeqCst);
        } else {
            self.statuses.fetch_add(1, Ordering::SeqCst);
        }
        if *self.down.lock().unwrap() {
            return Err(
                "statistics channel 127.0.0.1:1: connection refused (is named running?)".into(),
            );
        }
        Ok(StatsSnapshot {
            boot_time: self.boot.lock().unwrap().clone(),
            zones: zones.then(|| self.zones.lock().unwrap().clone()),
        })
    }
}

impl Statistics for FakeStats {
    fn status(&self) -> StatsReply<'_> {
        let answer = self.answer(false);
        Box::pin(async move { answer })
    }

    fn zones(&self) -> StatsReply<'_> {
        let answer = self.answer(true);
        Box::pin(async move { answer })
    }
}

/// A scratch zone directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Scratch {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "bindcar-fake-{}-{n}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        ));
        std::fs::create_dir_all(&path).unwrap();
        Scratch(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `Zones` over a fake named and a scratch directory.
pub struct Harness {
    pub named: Arc<FakeNamed>,
    pub stats: Arc<FakeStats>,
    pub zones: Zones,
    pub scratch: Scratch,
}

impl Harness {
    /// Without a statistics channel (listings over rndc); orphans swept at any age.
    pub fn new() -> Harness {
        Harness::build(false)
    }

    /// With a (fake) statistics channel.
    pub fn with_stats() -> Harness {
        Harness::build(true)
    }

    fn build(with_stats: bool) -> Harness {
        let scratch = Scratch::new();
        let named = FakeNamed::new();
        let stats = Arc::new(FakeStats::default());
        let dir = ZoneDir::open(&scratch.0).unwrap();
        let source: Option<Arc<dyn Statistics>> = if with_stats {
            Some(stats.clone())
        } else {
            None
        };
        let zones = Zones::new(dir, named.clone(), Metrics::new().unwrap())
            .with_stats(source)
            .with_orphan_grace(Duration::ZERO)
            .with_boot_check_ttl(Duration::ZERO);
        Harness {
            named,
            stats,
            zones,
            scratch,
        }
    }

    pub fn zone(name: &str) -> ZoneName {
        ZoneName::parse(name).unwrap()
    }

    /// The path this API writes a zone's file to.
    pub fn zone_file(&self, name: &str) -> PathBuf {
        self.zones.dir().zone_file(&Harness::zone(name))
    }

    pub fn marker(&self, name: &str) -> PathBuf {
        self.zones
            .dir()
            .root()
            .join(".bindcar/zones")
            .join(format!("{name}.zone"))
    }

    /// Puts a marker on disk, as a create through this API would (a secondary's: empty).
    pub fn mark(&self, name: &str) {
        std::fs::write(self.marker(name), "").unwrap();
    }

    /// named shows `name` as a zone whose file is the one this API writes.
    pub fn bind_has(&self, name: &str) {
        let file = self.zone_file(name);
        self.named.answer(
            &format!("showzone {name}"),
            shown(name, "primary", &file.display().to_string()),
        );
    }
}
