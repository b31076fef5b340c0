//! The backend killed (SIGKILL, from the crash point itself: no destructor, no answer) at
//! every step of create, delete and PATCH that touches the disk or named, then started again:
//! every zone settles whole or absent, to the side of the step it died at.

use std::path::Path;
use std::time::Duration;

use bindcar_testbed::backend::{failpoints_binary, Backend};
use bindcar_testbed::named::{Named, NamedOptions};
use serde_json::json;

use crate::common::{primary_zone, Client};
use crate::consistency::{restart_loads_everything, settle_with_catalog, sides_of, whole_zones};
use crate::support::fault_env;

/// (operation, crash point, whether BIND must have the zone after a crash there).
type Point = (&'static str, &'static str, Option<bool>);

/// `None` when either is right (the syncs run beside `addzone`, so a crash there may come
/// before or after it).
const POINTS: [Point; 13] = [
    // delete first: its last point is in the file removal the startup sweep also runs
    ("delete", "delete.after_files", Some(false)),
    ("delete", "delete.after_delzone", Some(false)),
    ("delete", "delete.before_delzone", Some(true)),
    ("modify", "modify.before_modzone", Some(true)),
    ("modify", "modify.after_modzone", Some(true)),
    ("create", "create.before_claim", Some(false)),
    ("create", "claim.after_marker", Some(false)),
    ("create", "claim.after_link", Some(false)),
    ("create", "create.before_addzone", Some(false)),
    ("create", "claim.before_sync", None),
    ("create", "claim.after_sync", None),
    ("create", "rndc.after_send", Some(true)),
    ("create", "create.after_addzone", Some(true)),
];

/// The zone a crash point acts on, under `domain`.
fn zone_of(point: &str, domain: &str) -> String {
    format!("{}.{domain}", point.replace(['.', '_'], "-"))
}

/// A backend armed (`BINDCAR_KILL_AT`) to die at `point`, asked to do `operation` on `zone`:
/// it dies there, without an answer.
async fn killed_at(
    binary: &Path,
    env: Vec<(String, String)>,
    operation: &str,
    point: &str,
    zone: &str,
) {
    let mut backend = Backend::try_start_binary(binary, env, &[])
        .unwrap_or_else(|e| panic!("starting bindcar-failpoints for {point}: {e:#}"));
    let api = Client::new(backend.base_url(), None);
    let path = format!("/api/v1/zones/{zone}");
    let reply = match operation {
        "create" => {
            api.try_send("POST", "/api/v1/zones", Some(&primary_zone(zone)))
                .await
        }
        "delete" => api.try_send("DELETE", &path, None).await,
        _ => {
            let patch = json!({"allowTransfer": ["10.9.9.9"]});
            api.try_send("PATCH", &path, Some(&patch)).await
        }
    };
    assert!(reply.is_none(), "{point}: answered {reply:?}");
    assert!(
        backend.wait_exit(Duration::from_secs(10)).is_some(),
        "{point}: still running; log:\n{}",
        backend.logs()
    );
    assert!(
        backend
            .logs()
            .contains(&format!("failpoint {point} reached")),
        "{point}: {}",
        backend.logs()
    );
}

/// Given the zones the deletes and PATCHes act on, when a backend armed at each of `points`
/// is asked to do its operation, then a backend started again settles every zone whole or
/// absent, on the side of the step each crash came at (with `catalog`, the catalog zone the
/// backend keeps: whole also means a member), and named restarted loads every whole zone.
/// Returns how many zones were checked.
async fn every_crash_settles(
    named: &mut Named,
    points: &[Point],
    domain: &str,
    extra: &[(&str, &str)],
    catalog: Option<&str>,
) -> usize {
    let binary = failpoints_binary().unwrap_or_else(|e| panic!("{e:#}"));
    let zones: Vec<String> = points.iter().map(|(_, p, _)| zone_of(p, domain)).collect();
    {
        let backend = Backend::start(fault_env(named, extra));
        let api = Client::new(backend.base_url(), None);
        for (operation, point, _) in points {
            if *operation != "create" {
                let reply = api.create(&primary_zone(&zone_of(point, domain))).await;
                assert_eq!(reply.0, 201, "{}\n{}", reply.1, backend.logs());
            }
        }
    }
    for (operation, point, _) in points {
        let mut armed = extra.to_vec();
        armed.push(("BINDCAR_KILL_AT", point));
        let zone = zone_of(point, domain);
        killed_at(&binary, fault_env(named, &armed), operation, point, &zone).await;
    }
    let backend = Backend::start(fault_env(named, extra));
    let api = Client::new(backend.base_url(), None);
    let (seen, violations) =
        settle_with_catalog(named, &api, &zones, Duration::from_secs(20), catalog).await;
    assert!(
        violations.is_empty(),
        "{violations:?}\nlog:\n{}",
        backend.logs()
    );
    for (_, point, in_bind) in points {
        let sides = sides_of(&seen, &zone_of(point, domain));
        if let Some(expected) = *in_bind {
            let whole =
                sides.is_some_and(|s| s.whole() && (catalog.is_none() || s.member == Some(true)));
            assert_eq!(whole, expected, "{point}: {sides:?}");
        }
    }
    drop(backend);
    restart_loads_everything(named, &whole_zones(&seen)).await;
    seen.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_killed_at_any_crash_point_leaves_every_zone_whole_or_absent() {
    let mut named = Named::start(NamedOptions::default());
    let checked = every_crash_settles(&mut named, &POINTS, "crash.test", &[], None).await;
    eprintln!(
        "crash points: {} covered (SIGKILL at each), {checked} zones checked, 0 violations",
        POINTS.len(),
    );
}

/// The catalog's steps (the backend keeping a catalog zone): where BIND must have the zone
/// after a crash there; whole then also means a member of the catalog. In this order: a
/// backend armed at `update.after_send` must start while no repair of the catalog is due (the
/// repair's own UPDATEs would reach the point first).
const CATALOG_POINTS: [Point; 6] = [
    ("create", "update.after_send", Some(true)),
    ("delete", "delete.before_member_removal", Some(true)),
    ("delete", "delete.after_member_removal", Some(true)),
    ("delete", "delete.after_delzone", Some(false)),
    ("create", "create.before_member", Some(true)),
    ("create", "create.after_member", Some(true)),
];

const CATALOG: &str = "catalog.crash.invalid";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_catalog_a_crash_at_any_step_leaves_every_zone_whole_and_a_member_or_absent() {
    let mut named = Named::start(NamedOptions::default());
    let port = named.dns_port().to_string();
    let catalog = [
        ("BIND_CATALOG_ZONE", CATALOG),
        ("NSUPDATE_SERVER", "127.0.0.1"),
        ("NSUPDATE_PORT", port.as_str()),
    ];
    let checked = every_crash_settles(
        &mut named,
        &CATALOG_POINTS,
        "catalog-crash.test",
        &catalog,
        Some(CATALOG),
    )
    .await;
    eprintln!(
        "catalog crash points: {} covered (SIGKILL at each), {checked} zones checked, 0 violations",
        CATALOG_POINTS.len(),
    );
}
