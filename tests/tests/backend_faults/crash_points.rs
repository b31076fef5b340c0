//! The backend killed (SIGKILL, from the crash point itself: no destructor, no answer) at
//! every step of create, delete and PATCH that touches the disk or named, then started again:
//! every zone settles whole or absent, to the side of the step it died at.

use std::time::Duration;

use bindcar_testbed::backend::{failpoints_binary, Backend};
use bindcar_testbed::named::{Named, NamedOptions};
use serde_json::json;

use crate::common::{primary_zone, Client};
use crate::consistency::{restart_loads_everything, settle, settle_with_catalog};

/// Whether BIND must have the zone after a crash at the point: `None` when either is right
/// (the syncs run beside `addzone`, so a crash there may come before or after it).
const POINTS: [(&str, &str, Option<bool>); 13] = [
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

fn env(named: &Named, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = named.backend_env();
    for (k, v) in [
        ("RNDC_TIMEOUT_SECS", "1"),
        ("BIND_RECONCILE_SECS", "1"),
        ("DISABLE_AUTH", "true"),
    ]
    .iter()
    .chain(extra)
    {
        env.push((k.to_string(), v.to_string()));
    }
    env
}

fn zone_of(point: &str) -> String {
    format!("{}.crash.test", point.replace(['.', '_'], "-"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_killed_at_any_crash_point_leaves_every_zone_whole_or_absent() {
    let mut named = Named::start(NamedOptions::default());
    let binary = failpoints_binary().unwrap_or_else(|e| panic!("{e:#}"));
    // Given the zones the deletes and PATCHes will act on
    let zones: Vec<String> = POINTS.iter().map(|(_, p, _)| zone_of(p)).collect();
    {
        let backend = Backend::start(env(&named, &[]));
        let api = Client::new(backend.base_url(), None);
        for (operation, point, _) in POINTS {
            if operation != "create" {
                let reply = api.create(&primary_zone(&zone_of(point))).await;
                assert_eq!(reply.0, 201, "{}", reply.1);
            }
        }
    }
    // When, for each crash point, a backend armed to die there is asked to do it
    for (operation, point, _) in POINTS {
        let zone = zone_of(point);
        let mut backend =
            Backend::try_start_binary(&binary, env(&named, &[("BINDCAR_KILL_AT", point)]), &[])
                .unwrap_or_else(|e| panic!("starting bindcar-failpoints for {point}: {e:#}"));
        let api = Client::new(backend.base_url(), None);
        let path = format!("/api/v1/zones/{zone}");
        let reply = match operation {
            "create" => {
                api.try_send("POST", "/api/v1/zones", Some(&primary_zone(&zone)))
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
    // Then a backend started again settles every zone whole or absent
    let backend = Backend::start(env(&named, &[]));
    let api = Client::new(backend.base_url(), None);
    let (seen, violations) = settle(&named, &api, &zones, Duration::from_secs(20)).await;
    assert!(
        violations.is_empty(),
        "{violations:?}\nlog:\n{}",
        backend.logs()
    );
    // on the side of the step each crash came at
    for (_, point, in_bind) in POINTS {
        let zone = zone_of(point);
        let sides = seen.iter().find(|(z, _)| *z == zone).map(|(_, s)| *s);
        if let Some(expected) = in_bind {
            let whole = sides.is_some_and(|s| s.whole());
            assert_eq!(whole, expected, "{point}: {sides:?}");
        }
    }
    let whole: Vec<String> = seen
        .iter()
        .filter(|(_, s)| s.whole())
        .map(|(z, _)| z.clone())
        .collect();
    drop(backend);
    let problems = restart_loads_everything(&mut named, &whole).await;
    assert!(problems.is_empty(), "{problems:?}");
    eprintln!(
        "crash points: {} covered (SIGKILL at each), {} zones checked, 0 violations",
        POINTS.len(),
        seen.len()
    );
}

/// The catalog's steps (the backend keeping a catalog zone): where BIND must have the zone
/// after a crash there; whole then also means a member of the catalog. In this order: a
/// backend armed at `update.after_send` must start while no repair of the catalog is due (the
/// repair's own UPDATEs would reach the point first).
const CATALOG_POINTS: [(&str, &str, Option<bool>); 6] = [
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
    let binary = failpoints_binary().unwrap_or_else(|e| panic!("{e:#}"));
    let port = named.dns_port().to_string();
    let catalog = [
        ("BIND_CATALOG_ZONE", CATALOG),
        ("NSUPDATE_SERVER", "127.0.0.1"),
        ("NSUPDATE_PORT", port.as_str()),
    ];
    let zone_of = |point: &str| format!("{}.catalog-crash.test", point.replace(['.', '_'], "-"));
    let zones: Vec<String> = CATALOG_POINTS.iter().map(|(_, p, _)| zone_of(p)).collect();
    // Given the catalog and the zones the deletes will act on
    {
        let backend = Backend::start(env(&named, &catalog));
        let api = Client::new(backend.base_url(), None);
        for (operation, point, _) in CATALOG_POINTS {
            if operation == "delete" {
                let reply = api.create(&primary_zone(&zone_of(point))).await;
                assert_eq!(reply.0, 201, "{}\n{}", reply.1, backend.logs());
            }
        }
    }
    // When, for each step, a backend armed to die there is asked to do it
    for (operation, point, _) in CATALOG_POINTS {
        let zone = zone_of(point);
        let mut armed: Vec<(&str, &str)> = catalog.to_vec();
        armed.push(("BINDCAR_KILL_AT", point));
        let mut backend = Backend::try_start_binary(&binary, env(&named, &armed), &[])
            .unwrap_or_else(|e| panic!("starting bindcar-failpoints for {point}: {e:#}"));
        let api = Client::new(backend.base_url(), None);
        let reply = match operation {
            "create" => {
                api.try_send("POST", "/api/v1/zones", Some(&primary_zone(&zone)))
                    .await
            }
            _ => {
                api.try_send("DELETE", &format!("/api/v1/zones/{zone}"), None)
                    .await
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
    // Then a backend started again settles every zone whole (and a member) or absent
    let backend = Backend::start(env(&named, &catalog));
    let api = Client::new(backend.base_url(), None);
    let (seen, violations) =
        settle_with_catalog(&named, &api, &zones, Duration::from_secs(20), Some(CATALOG)).await;
    assert!(
        violations.is_empty(),
        "{violations:?}\nlog:\n{}",
        backend.logs()
    );
    for (_, point, in_bind) in CATALOG_POINTS {
        let zone = zone_of(point);
        let sides = seen.iter().find(|(z, _)| *z == zone).map(|(_, s)| *s);
        if let Some(expected) = in_bind {
            let whole = sides.is_some_and(|s| s.whole() && s.member == Some(true));
            assert_eq!(whole, expected, "{point}: {sides:?}");
        }
    }
    let whole: Vec<String> = seen
        .iter()
        .filter(|(_, s)| s.whole())
        .map(|(z, _)| z.clone())
        .collect();
    drop(backend);
    let problems = restart_loads_everything(&mut named, &whole).await;
    assert!(problems.is_empty(), "{problems:?}");
    eprintln!(
        "catalog crash points: {} covered (SIGKILL at each), {} zones checked, 0 violations",
        CATALOG_POINTS.len(),
        seen.len()
    );
}
