//! Listing and reconciliation against the fake named and a fake statistics channel: the same
//! answer with and without the channel, the index kept by the API's own changes, changes made
//! outside the API within a reconciliation, orphans swept, and few rndc commands in flight.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::fake::{ok, unavailable, zonestatus, Harness};
use super::tests::primary;
use super::ZoneError;

fn exists(path: &std::path::Path) -> bool {
    path.exists()
}

#[tokio::test]
async fn list_confirms_each_candidate_with_bind() {
    let h = Harness::new();
    h.mark("b.test");
    h.bind_has("b.test");
    h.mark("gone.test"); // marked, but BIND no longer has it: an orphan, swept
    std::fs::write(h.zone_file("gone.test"), "x").unwrap();
    std::fs::write(h.zone_file("a.test"), "x").unwrap(); // reference bindcar's zone
    h.bind_has("a.test");
    h.named.answer("zonestatus a.test", zonestatus(1, true));
    std::fs::write(h.zone_file("static.test"), "x").unwrap(); // named.conf zone
    h.bind_has("static.test");
    h.named
        .answer("zonestatus static.test", zonestatus(1, false));
    let zones = h.zones.list().await.unwrap();
    let names: Vec<_> = zones.iter().map(|z| z.to_string()).collect();
    assert_eq!(names, ["a.test", "b.test"]);
    assert!(!exists(&h.marker("gone.test")));
    assert!(!exists(&h.zone_file("gone.test")));
    assert!(exists(&h.zone_file("static.test")));
    // the next listing answers from the index: one `status` to see named is up, unchanged
    let before = h.named.sent().len();
    assert_eq!(h.zones.list().await.unwrap(), zones);
    assert_eq!(h.named.sent()[before..], ["status"]);
    h.named.answer("status", unavailable());
    assert!(matches!(
        h.zones.list().await,
        Err(ZoneError::Unavailable(_))
    ));
}

/// The same zones on disk and in BIND, listed over the statistics channel and over rndc.
fn populate(h: &Harness) {
    for name in ["b.test", "c.test"] {
        h.mark(name);
        h.bind_has(name);
    }
    std::fs::write(h.zone_file("a.test"), "x").unwrap();
    h.bind_has("a.test");
    h.named.answer("zonestatus a.test", zonestatus(1, true));
    std::fs::write(h.zone_file("static.test"), "x").unwrap();
    h.bind_has("static.test");
    h.named
        .answer("zonestatus static.test", zonestatus(1, false));
    h.stats
        .set_zones(&["a.test", "b.test", "c.test", "static.test", "conf.test"]);
}

#[tokio::test]
async fn list_over_the_statistics_channel_is_the_same_answer_in_one_request() {
    let (with, without) = (Harness::with_stats(), Harness::new());
    populate(&with);
    populate(&without);
    let listed = with.zones.list().await.unwrap();
    assert_eq!(listed, without.zones.list().await.unwrap());
    assert_eq!(listed.len(), 3);
    // marked zones cost no rndc command; only the unmarked candidates are checked, once
    assert_eq!(
        with.named.sent(),
        [
            "showzone a.test",
            "zonestatus a.test",
            "showzone static.test",
            "zonestatus static.test"
        ]
    );
    assert_eq!(with.zones.list().await.unwrap(), listed);
    assert_eq!(
        with.stats
            .listings
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    // named down: 503, not a stale list
    *with.stats.down.lock().unwrap() = true;
    assert!(matches!(
        with.zones.list().await,
        Err(ZoneError::Unavailable(_))
    ));
}

#[tokio::test]
async fn changes_outside_the_api_show_after_a_reconciliation_or_a_restart_of_named() {
    let h = Harness::with_stats();
    h.mark("a.test");
    h.stats.set_zones(&["a.test"]);
    assert_eq!(*h.zones.list().await.unwrap(), [Harness::zone("a.test")]);
    // a zone of ours deleted with rndc, outside the API: still listed until reconciled
    h.stats.set_zones(&[]);
    assert_eq!(*h.zones.list().await.unwrap(), [Harness::zone("a.test")]);
    h.zones.reconcile().await.unwrap();
    assert!(h.zones.list().await.unwrap().is_empty());
    assert!(!exists(&h.marker("a.test"))); // and its files swept
                                           // named restarted (new boot time): the next listing reconciles first
    h.mark("b.test");
    h.stats.set_zones(&["b.test"]);
    *h.stats.boot.lock().unwrap() = "rebooted".into();
    assert_eq!(*h.zones.list().await.unwrap(), [Harness::zone("b.test")]);
}

#[tokio::test]
async fn the_api_keeps_the_index_current_without_asking_bind() {
    let h = Harness::with_stats();
    assert!(h.zones.list().await.unwrap().is_empty());
    h.named.answer("addzone", ok(""));
    h.zones.create(primary(&h, "new.test"), "t").await.unwrap();
    assert_eq!(*h.zones.list().await.unwrap(), [Harness::zone("new.test")]);
    h.named.answer("delzone", ok(""));
    h.zones
        .delete(&Harness::zone("new.test"), "t")
        .await
        .unwrap();
    assert!(h.zones.list().await.unwrap().is_empty());
    assert_eq!(
        h.stats.listings.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[tokio::test]
async fn listing_200_zones_over_rndc_keeps_few_commands_in_flight() {
    let h = Harness::new();
    for i in 0..200 {
        let name = format!("z{i}.test");
        h.mark(&name);
        h.bind_has(&name);
    }
    h.named.set_delay(std::time::Duration::from_millis(2));
    assert_eq!(h.zones.list().await.unwrap().len(), 200);
    let max = h.named.max_in_flight();
    assert!(
        (1..=super::reconcile::LOOKUPS_IN_FLIGHT).contains(&max),
        "{max} commands in flight at once"
    );
}

/// As in production: one check of named's boot time serves every listing for its interval,
/// so a burst of listings sends named one request, not one each (over the statistics channel,
/// each request is a new TCP connection: a burst used to overflow named's listen queue).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_listings_asks_named_once_per_interval() {
    let h = Harness::with_stats();
    let ttl = std::time::Duration::from_millis(400);
    let zones = std::sync::Arc::new(
        super::Zones::new(
            crate::bind::ZoneDir::open(&h.scratch.0).unwrap(),
            h.named.clone(),
            crate::metrics::Metrics::new().unwrap(),
        )
        .with_stats(Some(h.stats.clone()))
        .with_boot_check_ttl(ttl),
    );
    h.mark("a.test");
    h.stats.set_zones(&["a.test"]);
    let statuses = || h.stats.statuses.load(std::sync::atomic::Ordering::SeqCst);
    let burst = |zones: &std::sync::Arc<super::Zones>| {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..200 {
            let zones = zones.clone();
            set.spawn(async move { zones.list().await });
        }
        set
    };
    let mut set = burst(&zones);
    while let Some(listed) = set.join_next().await {
        assert_eq!(*listed.unwrap().unwrap(), [Harness::zone("a.test")]);
    }
    assert_eq!(statuses(), 1);
    // named goes down: within the interval, the index still answers...
    *h.stats.down.lock().unwrap() = true;
    assert!(zones.list().await.is_ok());
    // ...after it, 503...
    tokio::time::sleep(ttl + std::time::Duration::from_millis(50)).await;
    let mut set = burst(&zones);
    while let Some(listed) = set.join_next().await {
        assert!(matches!(listed.unwrap(), Err(ZoneError::Unavailable(_))));
    }
    // ...and a failure is not kept: named back, the next listing answers
    *h.stats.down.lock().unwrap() = false;
    assert!(zones.list().await.is_ok());
    // over rndc (no statistics channel) alike: one `status` for the burst
    let zones = std::sync::Arc::new(
        super::Zones::new(
            crate::bind::ZoneDir::open(&h.scratch.0).unwrap(),
            h.named.clone(),
            crate::metrics::Metrics::new().unwrap(),
        )
        .with_boot_check_ttl(ttl),
    );
    h.bind_has("a.test");
    let mut set = burst(&zones);
    while let Some(listed) = set.join_next().await {
        assert_eq!(*listed.unwrap().unwrap(), [Harness::zone("a.test")]);
    }
    let sent = h.named.sent();
    assert_eq!(
        sent.iter().filter(|c| *c == "status").count(),
        1,
        "{sent:?}"
    );
}

#[tokio::test]
async fn a_zone_file_lost_while_bind_has_the_zone_is_restored_from_its_marker() {
    let h = Harness::with_stats();
    // a primary created here (its marker holds the content) whose `<zone>.zone` is gone
    std::fs::write(h.marker("lost.test"), "content as created\n").unwrap();
    h.stats.set_zones(&["lost.test"]);
    h.named.answer("reload lost.test", ok("zone reload queued"));
    h.zones.reconcile().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(h.zone_file("lost.test")).unwrap(),
        "content as created\n"
    );
    assert!(h.named.sent().contains(&"reload lost.test".to_string()));
    assert_eq!(*h.zones.list().await.unwrap(), [Harness::zone("lost.test")]);
    // a secondary's marker is empty: nothing to restore; BIND lacking a zone: swept, not
    // restored
    h.mark("sec.test");
    std::fs::write(h.marker("gone.test"), "content\n").unwrap();
    h.stats.set_zones(&["lost.test", "sec.test"]);
    let before = h.named.sent().len();
    h.zones.reconcile().await.unwrap();
    assert!(!exists(&h.zone_file("sec.test")));
    assert!(!exists(&h.zone_file("gone.test")) && !exists(&h.marker("gone.test")));
    assert!(h.named.sent()[before..]
        .iter()
        .all(|c| !c.starts_with("reload")));
}

#[tokio::test]
async fn young_orphans_are_left_for_the_next_round() {
    let mut h = Harness::with_stats();
    h.zones = std::mem::replace(
        &mut h.zones,
        super::Zones::new(
            crate::bind::ZoneDir::open(&h.scratch.0).unwrap(),
            h.named.clone(),
            crate::metrics::Metrics::new().unwrap(),
        ),
    )
    .with_orphan_grace(std::time::Duration::from_secs(3600));
    h.mark("young.test");
    h.zones.reconcile().await.unwrap();
    assert!(exists(&h.marker("young.test")));
}

#[tokio::test]
async fn a_deleted_zone_that_named_brought_back_is_deleted_again() {
    // named answers delzone before its new-zone database forgets the zone: killed right
    // after, it starts with the zone again (its file gone with our delete)
    let h = Harness::with_stats();
    h.mark("back.test");
    std::fs::write(h.zone_file("back.test"), "x").unwrap();
    h.bind_has("back.test");
    h.named.answer("delzone back.test", ok(""));
    h.zones
        .delete(&Harness::zone("back.test"), "t")
        .await
        .unwrap();
    assert!(!exists(&h.marker("back.test")) && !exists(&h.zone_file("back.test")));
    let tombstone = h.scratch.0.join(".bindcar/deleted/back.test");
    assert!(exists(&tombstone));
    h.stats.set_zones(&["back.test"]);
    h.zones.reconcile().await.unwrap();
    let delzones = |h: &Harness| {
        h.named
            .sent()
            .iter()
            .filter(|c| *c == "delzone back.test")
            .count()
    };
    assert_eq!(delzones(&h), 2, "{:?}", h.named.sent());
    assert!(h.zones.list().await.unwrap().is_empty());
    // BIND without it: the tombstone is buried (the grace is 0 here); no more delzones
    h.stats.set_zones(&[]);
    h.zones.reconcile().await.unwrap();
    assert!(!exists(&tombstone));
    h.zones.reconcile().await.unwrap();
    assert_eq!(delzones(&h), 2);
}

#[tokio::test]
async fn a_tombstone_never_deletes_a_zone_created_again() {
    let h = Harness::with_stats();
    std::fs::create_dir_all(h.scratch.0.join(".bindcar/deleted")).unwrap();
    std::fs::write(h.scratch.0.join(".bindcar/deleted/again.test"), "").unwrap();
    h.mark("again.test");
    h.stats.set_zones(&["again.test"]);
    h.zones.reconcile().await.unwrap();
    assert!(!h.named.sent().iter().any(|c| c.starts_with("delzone")));
    assert!(!exists(&h.scratch.0.join(".bindcar/deleted/again.test")));
    assert_eq!(
        *h.zones.list().await.unwrap(),
        [Harness::zone("again.test")]
    );
}

#[tokio::test]
async fn a_create_whose_content_never_reached_the_disk_is_removed_from_bind() {
    // after a power loss before the create's sync: marker and zone file (one inode) empty,
    // while named's new-zone database kept the zone
    let h = Harness::with_stats();
    std::fs::write(h.marker("empty.test"), "").unwrap();
    std::fs::hard_link(h.marker("empty.test"), h.zone_file("empty.test")).unwrap();
    h.bind_has("empty.test");
    h.stats.set_zones(&["empty.test"]);
    h.named.answer("delzone empty.test", ok(""));
    // a secondary's empty marker beside a zone file that is not linked to it stays
    h.mark("sec.test");
    std::fs::write(h.zone_file("sec.test"), "").unwrap();
    h.bind_has("sec.test");
    h.stats.set_zones(&["empty.test", "sec.test"]);
    h.zones.reconcile().await.unwrap();
    assert!(h.named.sent().contains(&"delzone empty.test".to_string()));
    assert!(!exists(&h.marker("empty.test")) && !exists(&h.zone_file("empty.test")));
    assert!(!h.named.sent().contains(&"delzone sec.test".to_string()));
    assert!(exists(&h.marker("sec.test")));
    assert_eq!(*h.zones.list().await.unwrap(), [Harness::zone("sec.test")]);
}
