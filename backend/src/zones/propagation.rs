//! Whether a zone's change is live everywhere: the serial the primary has loaded (`rndc
//! zonestatus`) against the serial each configured secondary serves, asked over DNS at once
//! (`bind::serial_query`, bounded: a silent secondary costs its time limit, not the answer).
//! What ACME DNS-01 and migrations wait for.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::task::JoinSet;

use super::classify::{classify, join};
use super::error::ZoneError;
use super::service::Zones;
use crate::bind::serial_query::{SerialQuery, Served};
use crate::bind::{zonestatus, Endpoint, RndcCommand, RndcFailure, ZoneName};
use crate::catalog::propagation::{lag, state};
use crate::catalog::{Seen, State};

/// The zone on every server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Propagation {
    pub zone: ZoneName,
    /// The primary's (this named's) serial.
    pub serial: u32,
    /// In the order of `BIND_CATALOG_SECONDARIES`.
    pub secondaries: Vec<SecondaryView>,
}

impl Propagation {
    /// Every secondary serves the primary's serial (true when there is none).
    pub fn in_step(&self) -> bool {
        self.secondaries.iter().all(|s| s.state == State::InStep)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondaryView {
    pub server: Endpoint,
    pub state: State,
    /// The serial it serves, when it serves the zone.
    pub serial: Option<u32>,
    /// Why it is not in step, in words.
    pub detail: Option<String>,
}

fn address(endpoint: &Endpoint) -> SocketAddr {
    SocketAddr::new(endpoint.ip, endpoint.port.unwrap_or(53))
}

impl Zones {
    /// The zone's serial on the primary and on each secondary. 404 when BIND lacks the zone,
    /// 409 `zoneNotLoaded` when the primary has not loaded it.
    pub async fn propagation(
        &self,
        zone: &ZoneName,
        query: Arc<dyn SerialQuery>,
    ) -> Result<Propagation, ZoneError> {
        let serial = match self.named.run(&RndcCommand::ZoneStatus(zone.clone())).await {
            Ok(text) => zonestatus::serial(&text).ok_or_else(|| {
                ZoneError::Internal(format!("no serial in the zonestatus of {zone}: {text}"))
            })?,
            Err(RndcFailure::Refused { err, text }) if err == "zone not loaded" => {
                return Err(ZoneError::NotLoaded {
                    zone: zone.clone(),
                    bind: join(&err, &text),
                });
            }
            Err(failure) => return Err(classify(zone, "zonestatus", failure)),
        };
        let servers: Vec<Endpoint> = self
            .catalog()
            .map(|c| c.secondaries.clone())
            .unwrap_or_default();
        let mut asked = JoinSet::new();
        for (i, server) in servers.iter().enumerate() {
            let (query, zone, at) = (query.clone(), zone.clone(), address(server));
            asked.spawn(async move { (i, query.serial(at, &zone).await) });
        }
        let mut answers: Vec<Option<Served>> = vec![None; servers.len()];
        while let Some(joined) = asked.join_next().await {
            let (i, served) =
                joined.map_err(|e| ZoneError::Internal(format!("serial query task: {e}")))?;
            if let Some(slot) = answers.get_mut(i) {
                *slot = Some(served);
            }
        }
        let secondaries = servers
            .into_iter()
            .zip(answers)
            .map(|(server, served)| view(server, serial, served))
            .collect();
        Ok(Propagation {
            zone: zone.clone(),
            serial,
            secondaries,
        })
    }
}

fn view(server: Endpoint, primary: u32, served: Option<Served>) -> SecondaryView {
    let seen = match served {
        Some(Served::Serial(s)) => Seen::Serial(s),
        Some(Served::NotServed(why)) => Seen::NotServed(why),
        Some(Served::NoAnswer(why)) => Seen::Unreachable(why),
        None => Seen::Unreachable("not asked".into()),
    };
    let state = state(primary, &seen);
    let (serial, detail) = match seen {
        Seen::Serial(s) => (Some(s), lag(primary, s)),
        Seen::NotServed(why) => (None, Some(format!("does not serve the zone: {why}"))),
        Seen::Unreachable(why) => (None, Some(why)),
    };
    SecondaryView {
        server,
        state,
        serial,
        detail,
    }
}
