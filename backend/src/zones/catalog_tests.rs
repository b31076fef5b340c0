//! The catalog's side of each operation, against the fake named and a fake DNS server: a
//! create adds its member after `addzone`, a refused member undoes the create, a lost answer
//! keeps the zone for the reconciliation; a delete removes the member before `delzone`; the
//! catalog zone itself is out of the API's reach; the reconciliation creates a missing
//! catalog and repairs its members.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use super::fake::{ok, refused, Harness};
use super::fake_dns::FakeDns;
use super::tests::{primary, primary_request};
use super::{ZoneAction, ZoneError, Zones};
use crate::bind::update::{Change, DnsFailure, ZoneRecord};
use crate::bind::Endpoint;
use crate::catalog::label::member_label;
use crate::catalog::Catalog;
use crate::metrics::Metrics;

const CATALOG: &str = "catalog.invalid";

/// The harness's zones, keeping a catalog through `dns`.
fn with_catalog(h: &Harness) -> (Zones, Arc<FakeDns>) {
    let dns = Arc::new(FakeDns::default());
    let catalog = Catalog::new(
        Harness::zone(CATALOG),
        vec![Endpoint::parse("127.0.0.1:5301").unwrap()],
        None,
    );
    let zones = Zones::new(
        h.zones.dir().clone(),
        h.named.clone(),
        Metrics::new().unwrap(),
    )
    .with_stats(Some(h.stats.clone()))
    .with_orphan_grace(Duration::ZERO)
    .with_boot_check_ttl(Duration::ZERO)
    .with_catalog(catalog, dns.clone())
    .unwrap();
    (zones, dns)
}

fn added(dns: &FakeDns) -> Vec<(String, String)> {
    dns.sent()
        .iter()
        .flat_map(|u| u.changes.clone())
        .map(|c| match c {
            Change::Add { name, rdata, .. } => ("add".to_string(), format!("{name} {rdata}")),
            Change::DeleteRrset { name, .. } => ("remove".to_string(), name),
            other => ("other".to_string(), format!("{other:?}")),
        })
        .collect()
}

fn owner(zone: &str) -> String {
    format!("{}.zones.{CATALOG}.", member_label(&Harness::zone(zone)))
}

fn lost() -> Result<(), DnsFailure> {
    Err(DnsFailure::Lost("connection reset".into()))
}

fn refused_update() -> Result<(), DnsFailure> {
    Err(DnsFailure::Rcode {
        rcode: "REFUSED".into(),
        tsig: None,
    })
}

#[tokio::test]
async fn a_create_adds_its_member_after_bind_has_the_zone() {
    let h = Harness::with_stats();
    let (zones, dns) = with_catalog(&h);
    h.named.answer("addzone", ok(""));
    let plan = zones
        .plan_create(&primary_request("ok.test"), std::time::SystemTime::now())
        .unwrap();
    zones.create(plan, "t").await.unwrap();
    assert_eq!(h.named.sent(), ["addzone ok.test"]);
    // the secondaries are told of the zone and may transfer it, with the API's key
    assert!(h.named.lines()[0].contains(
        "also-notify { 127.0.0.1 port 5301; }; allow-transfer { key \"test-key\"; 127.0.0.1; };"
    ));
    assert_eq!(
        added(&dns),
        [("add".to_string(), format!("{} ok.test.", owner("ok.test")))]
    );
    assert_eq!(dns.sent()[0].zone, Harness::zone(CATALOG));
}

#[tokio::test]
async fn a_refused_member_undoes_the_create() {
    let h = Harness::with_stats();
    let (zones, dns) = with_catalog(&h);
    h.named.answer("addzone", ok(""));
    h.named.answer("delzone", ok(""));
    dns.answer_next(refused_update());
    let error = zones.create(primary(&h, "ok.test"), "t").await.unwrap_err();
    assert!(
        matches!(&error, ZoneError::CatalogRefused { retryable: false, why, .. } if why.contains("REFUSED")),
        "{error:?}"
    );
    assert_eq!(h.named.sent(), ["addzone ok.test", "delzone ok.test"]);
    assert!(!h.zone_file("ok.test").exists());
    assert!(!h.marker("ok.test").exists());
    // a tombstone: a named that brings the zone back deletes it again
    assert!(h.scratch.0.join(".bindcar/deleted/ok.test").exists());
}

#[tokio::test]
async fn a_lost_member_answer_keeps_the_zone_for_the_reconciliation() {
    let h = Harness::with_stats();
    let (zones, dns) = with_catalog(&h);
    h.named.answer("addzone", ok(""));
    dns.answer_next(lost());
    let error = zones.create(primary(&h, "ok.test"), "t").await.unwrap_err();
    assert!(
        matches!(
            &error,
            ZoneError::OutcomeUnknown {
                command: "update of the catalog",
                timed_out: false,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(h.named.sent(), ["addzone ok.test"]);
    assert!(h.zone_file("ok.test").exists() && h.marker("ok.test").exists());
}

#[tokio::test]
async fn a_delete_removes_the_member_first_and_stops_if_that_fails() {
    let h = Harness::with_stats();
    let (zones, dns) = with_catalog(&h);
    for zone in ["a.test", "b.test", "c.test"] {
        h.mark(zone);
    }
    h.named.answer("delzone", ok(""));
    dns.answer_next(refused_update());
    let error = zones
        .delete(&Harness::zone("a.test"), "t")
        .await
        .unwrap_err();
    assert!(
        matches!(error, ZoneError::CatalogRefused { .. }),
        "{error:?}"
    );
    dns.answer_next(lost());
    let error = zones
        .delete(&Harness::zone("b.test"), "t")
        .await
        .unwrap_err();
    assert!(
        matches!(error, ZoneError::OutcomeUnknown { .. }),
        "{error:?}"
    );
    // neither reached named: the zones are as they were
    assert!(h.named.sent().is_empty());
    assert!(h.marker("a.test").exists() && h.marker("b.test").exists());
    zones.delete(&Harness::zone("c.test"), "t").await.unwrap();
    assert_eq!(h.named.sent(), ["delzone c.test"]);
    assert_eq!(
        added(&dns).last().unwrap(),
        &("remove".to_string(), owner("c.test"))
    );
}

#[tokio::test]
async fn a_refused_delzone_makes_the_zone_a_member_again() {
    let h = Harness::with_stats();
    let (zones, dns) = with_catalog(&h);
    h.mark("ok.test");
    h.named.answer("delzone", refused("failure", "busy"));
    zones
        .delete(&Harness::zone("ok.test"), "t")
        .await
        .unwrap_err();
    let changes: Vec<String> = added(&dns).into_iter().map(|(k, _)| k).collect();
    assert_eq!(changes, ["remove", "add"]);
}

#[tokio::test]
async fn the_catalog_zone_is_out_of_the_api_s_reach() {
    let h = Harness::with_stats();
    let (zones, dns) = with_catalog(&h);
    let catalog = Harness::zone(CATALOG);
    let refused_op = |e: ZoneError| matches!(e, ZoneError::CatalogZone { .. });
    assert!(refused_op(
        zones.create(primary(&h, CATALOG), "t").await.unwrap_err()
    ));
    assert!(refused_op(zones.delete(&catalog, "t").await.unwrap_err()));
    let plan = super::plan::plan_modify(&super::request::ModifyZoneRequest {
        also_notify: Some(vec![]),
        ..Default::default()
    })
    .unwrap();
    assert!(refused_op(
        zones.modify(&catalog, &plan, "t").await.unwrap_err()
    ));
    assert!(refused_op(
        zones
            .act(&catalog, ZoneAction::Freeze, "t")
            .await
            .unwrap_err()
    ));
    let update = crate::bind::update::Update {
        zone: catalog.clone(),
        prerequisites: vec![],
        changes: vec![],
    };
    let error = zones
        .apply_update(dns.as_ref(), &update, "add_record", "t")
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            super::records_update::RecordError::Zone(ZoneError::CatalogZone { .. })
        ),
        "{error:?}"
    );
    assert!(h.named.sent().is_empty() && dns.sent().is_empty());
}

#[tokio::test]
async fn the_reconciliation_creates_a_missing_catalog_once() {
    let h = Harness::with_stats();
    let (zones, _dns) = with_catalog(&h);
    h.named.answer("addzone", ok(""));
    assert!(zones.ensure_catalog().await.unwrap());
    assert_eq!(
        h.named.sent(),
        [format!("showzone {CATALOG}"), format!("addzone {CATALOG}")]
    );
    let line = &h.named.lines()[1];
    assert!(line.contains("notify explicit; notify-delay 0;"), "{line}");
    assert!(
        line.contains("allow-update { key \"test-key\"; }"),
        "{line}"
    );
    let file = std::fs::read_to_string(h.zone_file(CATALOG)).unwrap();
    assert!(file.contains("version IN TXT \"2\""), "{file}");
    // BIND has it now: nothing more is sent
    h.bind_has(CATALOG);
    assert!(!zones.ensure_catalog().await.unwrap());
    assert_eq!(h.named.sent().len(), 3);
    // never listed, never swept, never a member
    h.stats.set_zones(&[CATALOG]);
    zones.reconcile().await.unwrap();
    assert!(zones.list().await.unwrap().is_empty());
    assert!(h.zone_file(CATALOG).exists());
}

#[tokio::test]
async fn the_repair_adds_missing_members_and_removes_strays() {
    let h = Harness::with_stats();
    let (zones, dns) = with_catalog(&h);
    for zone in ["a.test", "b.test"] {
        h.mark(zone);
    }
    h.stats
        .set_zones(&["a.test", "b.test", "conf.test", CATALOG]);
    zones.reconcile().await.unwrap();
    *dns.zone.lock().unwrap() = vec![
        ZoneRecord {
            name: owner("a.test"),
            rtype: "PTR".into(),
            ttl: 0,
            value: "a.test.".into(),
        },
        // a named.conf zone and a deleted one never stay members
        ZoneRecord {
            name: owner("conf.test"),
            rtype: "PTR".into(),
            ttl: 0,
            value: "conf.test.".into(),
        },
        ZoneRecord {
            name: owner("gone.test"),
            rtype: "PTR".into(),
            ttl: 0,
            value: "gone.test.".into(),
        },
    ];
    zones.repair_catalog().await.unwrap();
    let mut changes = added(&dns);
    changes.sort();
    assert_eq!(
        changes,
        [
            ("add".to_string(), format!("{} b.test.", owner("b.test"))),
            ("remove".to_string(), owner("conf.test")),
            ("remove".to_string(), owner("gone.test")),
        ]
    );
}
