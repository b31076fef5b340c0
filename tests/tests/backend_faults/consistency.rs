//! The invariant every fault must leave behind: each zone is whole (BIND has it and serves it,
//! its zone file and marker are on disk, `GET /api/v1/zones` lists it, and, when the backend
//! keeps a catalog zone, the catalog lists it) or absent (none of these), and a named restart
//! loads every zone without an error (`restart_loads_everything` asserts it).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use bindcar_testbed::named::Named;

use crate::common::Client;

/// One zone seen from every side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sides {
    pub in_bind: bool,
    pub served: bool,
    pub file: bool,
    pub marker: bool,
    pub listed: bool,
    /// A member of the catalog; `None` when the backend keeps none.
    pub member: Option<bool>,
}

impl Sides {
    pub fn whole(&self) -> bool {
        self.in_bind
            && self.served
            && self.file
            && self.marker
            && self.listed
            && self.member != Some(false)
    }

    pub fn absent(&self) -> bool {
        !(self.in_bind || self.served || self.file || self.marker || self.listed)
            && self.member != Some(true)
    }
}

/// The zones the catalog `catalog` lists (its PTR members), read from named by AXFR.
pub fn catalog_members(named: &Named, catalog: &str) -> BTreeSet<String> {
    let suffix = format!(".zones.{catalog}.");
    named
        .axfr(catalog)
        .iter()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let member = fields.first()?.ends_with(&suffix) && fields.get(3) == Some(&"PTR");
            member.then_some(fields.get(4)?.trim_end_matches('.').to_lowercase())
        })
        .collect()
}

fn names_with_suffix(dir: &Path, suffix: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| {
                    let name = e.ok()?.file_name().to_str()?.to_string();
                    name.strip_suffix(suffix).map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every zone anyone might hold: the ones the test touched, and whatever the zone directory,
/// the markers or the listing name (a stray file of a zone nobody asked about is a violation).
async fn every_zone(named: &Named, api: &Client, touched: &[String]) -> BTreeSet<String> {
    let mut zones: BTreeSet<String> = touched.iter().cloned().collect();
    zones.extend(names_with_suffix(named.zone_dir(), ".zone"));
    zones.extend(names_with_suffix(
        &named.zone_dir().join(".bindcar/zones"),
        ".zone",
    ));
    zones.extend(api.zones().await);
    zones
}

/// BIND's zones, each with whether it is loaded (served), from named's statistics channel:
/// one request for all of them.
pub async fn bind_zones(named: &Named) -> std::collections::BTreeMap<String, bool> {
    let url = format!(
        "{}/json/v1/zones",
        named.stats_url().expect("statistics channel")
    );
    let body: serde_json::Value = reqwest::get(&url)
        .await
        .and_then(|r| r.error_for_status())
        .expect("named's statistics channel answers")
        .json()
        .await
        .expect("statistics JSON");
    body["views"]["_default"]["zones"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|z| {
            let name = z["name"].as_str()?.trim_end_matches('.').to_lowercase();
            Some((name, z.get("serial").is_some_and(|s| s.is_u64())))
        })
        .collect()
}

pub fn sides(
    named: &Named,
    bind: &std::collections::BTreeMap<String, bool>,
    listed: &BTreeSet<String>,
    zone: &str,
) -> Sides {
    let dir = named.zone_dir();
    Sides {
        in_bind: bind.contains_key(zone),
        served: bind.get(zone).copied().unwrap_or(false),
        file: dir.join(format!("{zone}.zone")).exists(),
        marker: dir.join(format!(".bindcar/zones/{zone}.zone")).exists(),
        listed: listed.contains(zone),
        member: None,
    }
}

/// Waits up to `within` for every zone to be whole or absent; returns each zone's sides at
/// the end, and the violations left (empty when the invariant holds).
pub async fn settle(
    named: &Named,
    api: &Client,
    touched: &[String],
    within: Duration,
) -> (Vec<(String, Sides)>, Vec<(String, Sides)>) {
    settle_with_catalog(named, api, touched, within, None).await
}

/// The same when the backend keeps the catalog zone `catalog`: whole also means a member,
/// absent also means not one (and the catalog zone itself is not one of the zones judged).
pub async fn settle_with_catalog(
    named: &Named,
    api: &Client,
    touched: &[String],
    within: Duration,
    catalog: Option<&str>,
) -> (Vec<(String, Sides)>, Vec<(String, Sides)>) {
    let deadline = Instant::now() + within;
    loop {
        let mut zones = every_zone(named, api, touched).await;
        let members = catalog.map(|c| catalog_members(named, c));
        if let Some(catalog) = catalog {
            zones.remove(catalog);
            zones.extend(members.iter().flatten().cloned());
        }
        let listed: BTreeSet<String> = api.zones().await.into_iter().collect();
        let bind = bind_zones(named).await;
        let all: Vec<_> = zones
            .into_iter()
            .chain(bind.keys().filter(|z| z.ends_with(".test")).cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|zone| Some(zone.as_str()) != catalog)
            .map(|zone| {
                let mut seen = sides(named, &bind, &listed, &zone);
                seen.member = members.as_ref().map(|m| m.contains(&zone));
                (zone, seen)
            })
            .collect();
        let violations: Vec<_> = all
            .iter()
            .filter(|(_, s)| !s.whole() && !s.absent())
            .cloned()
            .collect();
        if violations.is_empty() || Instant::now() > deadline {
            return (all, violations);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The zones of `seen` (from `settle`) that are whole.
pub fn whole_zones(seen: &[(String, Sides)]) -> Vec<String> {
    seen.iter()
        .filter(|(_, s)| s.whole())
        .map(|(z, _)| z.clone())
        .collect()
}

/// `zone`'s sides in `seen` (from `settle`); `None` when no side has it.
pub fn sides_of(seen: &[(String, Sides)], zone: &str) -> Option<Sides> {
    seen.iter().find(|(z, _)| z == zone).map(|(_, s)| *s)
}

/// Restarts named (a clean stop) and asserts that it loads every zone that is whole without an
/// error: each is served, and the log of the new start has no failed load.
pub async fn restart_loads_everything(named: &mut Named, whole: &[String]) {
    let before = named.log().len();
    named.stop();
    named.start_again();
    let mut problems = Vec::new();
    let bind = bind_zones(named).await;
    for zone in whole {
        if bind.get(zone) != Some(&true) {
            problems.push(format!("{zone} not loaded after a named restart"));
        }
    }
    if let Some(zone) = whole.first() {
        if named.dig_status(zone, "SOA") != "NOERROR" {
            problems.push(format!("{zone} not served after a named restart"));
        }
    }
    let log = named.log();
    for line in log.get(before..).unwrap_or_default().lines() {
        if line.contains("file not found")
            || (line.contains("loading from master file") && line.contains("failed"))
            || line.contains("not loaded due to errors")
        {
            problems.push(format!("named: {line}"));
        }
    }
    assert!(problems.is_empty(), "{problems:?}");
}
