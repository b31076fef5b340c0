//! What a create may never do to files it does not own, names whose files would not fit, and
//! files orphaned by a backend killed mid-create: each against a real named.

mod common;

use std::time::Duration;

use bindcar_testbed::backend::Backend;
use bindcar_testbed::named::{Named, NamedOptions};
use common::{eventually, primary_zone, snapshot, Client};

const REVERSE: &str =
    "$TTL 300\n@ IN SOA ns1.example.test. admin.example.test. 1 3600 600 86400 300\n\
@ IN NS ns1.example.test.\n10 IN PTR www.example.test.\n";

fn start_backend(named: &Named, extra: &[(&str, &str)]) -> (Backend, Client) {
    let mut env = named.backend_env();
    env.push(("DISABLE_AUTH".into(), "true".into()));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let backend = Backend::start(env);
    let client = Client::new(backend.base_url(), None);
    (backend, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_over_a_foreign_file_is_409_naming_it_and_changes_nothing() {
    // Given a reverse zone of named.conf kept in <zone dir>/192.0.2.zone
    let named = Named::start(NamedOptions {
        extra_config:
            "zone \"2.0.192.in-addr.arpa\" { type primary; file \"@ZONE_DIR@/192.0.2.zone\"; };"
                .into(),
        zone_files: vec![("192.0.2.zone".into(), REVERSE.into())],
        ..NamedOptions::default()
    });
    let (_backend, api) = start_backend(&named, &[]);
    let before = snapshot(named.zone_dir());
    // When a zone whose file name is that file is created through the API
    let (status, body) = api.create(&primary_zone("192.0.2")).await;
    // Then 409 naming the file, nothing on disk changed, and the reverse zone is still served
    assert_eq!(status, 409, "{body}");
    let file = named.zone_dir().join("192.0.2.zone").display().to_string();
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&file) && error.contains("not written by this API"),
        "{error}"
    );
    assert_eq!(snapshot(named.zone_dir()), before);
    assert_eq!(
        named.dig("10.2.0.192.in-addr.arpa", "PTR"),
        ["www.example.test."]
    );
    // and a delete of that name finds no zone and removes nothing
    assert_eq!(api.delete("/api/v1/zones/192.0.2").await.0, 404);
    assert_eq!(snapshot(named.zone_dir()), before);
    assert!(api.zones().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_whose_files_would_not_fit_are_400_and_nothing_lands_on_disk() {
    let named = Named::start(NamedOptions::default());
    let (_backend, api) = start_backend(&named, &[]);
    let before = snapshot(named.zone_dir());
    // 236 characters: a valid DNS name, but `<zone>.zone.signed.jnl.jnw` would pass 255 bytes
    let name = |n: usize| format!("{}.", "a".repeat(49)).repeat(6)[..n].to_string();
    let (status, body) = api.create(&primary_zone(&name(236))).await;
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("at most 235") && error.contains("255-byte file-name limit"),
        "{error}"
    );
    assert_eq!(snapshot(named.zone_dir()), before);
    // 235 fits: created, served, deleted
    let (status, body) = api.create(&primary_zone(&name(235))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        named.dig(&format!("www.{}", name(235)), "A"),
        ["192.0.2.10"]
    );
    assert_eq!(
        api.delete(&format!("/api/v1/zones/{}", name(235))).await.0,
        200
    );
    // all gone but the zone's tombstone (kept until BIND has been seen without the zone)
    let mut after = snapshot(named.zone_dir());
    let tombstone = format!(".bindcar/deleted/{}", name(235));
    assert!(after.remove(&tombstone).is_some(), "{after:?}");
    assert_eq!(after, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_orphaned_by_a_killed_backend_are_swept_and_acknowledged_zones_kept() {
    let named = Named::start(NamedOptions::default());
    // RNDC_TIMEOUT_SECS=1: orphans older than 2 s are swept; reconciled every second.
    let settings = [("RNDC_TIMEOUT_SECS", "1"), ("BIND_RECONCILE_SECS", "1")];
    let (backend, api) = start_backend(&named, &settings);
    // Given a create storm (8 clients) during which the backend is killed (SIGKILL)
    let mut storm = tokio::task::JoinSet::new();
    for client in 0..8 {
        let api = api.clone();
        storm.spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..200 {
                let zone = format!("s{client}-{i}.storm.test");
                match tokio::time::timeout(
                    Duration::from_secs(5),
                    api.try_create(&primary_zone(&zone)),
                )
                .await
                {
                    Ok(Some(201)) => acknowledged.push(zone),
                    Ok(Some(_)) => {}
                    _ => break, // the backend is gone
                }
            }
            acknowledged
        });
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    drop(backend);
    let mut acknowledged = Vec::new();
    while let Some(done) = storm.join_next().await {
        acknowledged.extend(done.expect("storm client"));
    }
    assert!(
        !acknowledged.is_empty(),
        "no create succeeded before the kill"
    );
    // and, for certain, the files of a create killed between writing and addzone
    // (the marker, then the zone file: a hard link to it)
    let marker = named.zone_dir().join(".bindcar/zones/orphan.test.zone");
    std::fs::write(&marker, "half\n").unwrap();
    std::fs::hard_link(&marker, named.zone_dir().join("orphan.test.zone")).unwrap();

    // When the backend starts again
    let (backend, api) = start_backend(&named, &settings);

    // Then every file of ours belongs to a zone BIND has, within the sweep's bound
    let zone_dir = named.zone_dir().to_path_buf();
    let marked = move || -> Vec<String> {
        std::fs::read_dir(zone_dir.join(".bindcar/zones"))
            .unwrap()
            .filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .strip_suffix(".zone")
                    .map(str::to_owned)
            })
            .collect()
    };
    let all_in_bind = || {
        marked()
            .iter()
            .all(|zone| named.rndc(&["showzone", zone]).status.success())
    };
    assert!(
        eventually(Duration::from_secs(20), all_in_bind).await,
        "orphans left: {:?}",
        marked()
            .iter()
            .filter(|z| !named.rndc(&["showzone", z]).status.success())
            .collect::<Vec<_>>()
    );
    assert!(!named.zone_dir().join("orphan.test.zone").exists());
    assert!(!marker.exists(), "the orphan's marker is swept with it");
    assert!(backend.logs().contains("orphan.test"), "{}", backend.logs());
    // and every zone that got 201 is served and listed
    let listed = api.zones().await;
    for zone in &acknowledged {
        assert_eq!(named.dig_status(zone, "SOA"), "NOERROR", "{zone}");
        assert!(listed.contains(zone), "{zone} not listed");
    }
}

/// A create makes the zone's content and its marker durable before `addzone`, and syncs the
/// zone file's name beside it; a name lost to a power loss in that window is restored from
/// the marker. Simulated: named restarts after the zone file's name is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_file_lost_while_named_has_the_zone_is_restored_from_its_marker() {
    // Given a zone created through the API and served
    let mut named = Named::start(NamedOptions::default());
    let (backend, api) = start_backend(&named, &[]);
    let (status, body) = api.create(&primary_zone("lost.test")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(named.dig("www.lost.test", "A"), ["192.0.2.10"]);
    let file = named.zone_dir().join("lost.test.zone");
    let content = std::fs::read(&file).unwrap();
    drop(backend);
    // When its zone file's name is lost and named starts again without it
    named.stop();
    std::fs::remove_file(&file).unwrap();
    named.start_again();
    assert_eq!(named.dig_status("www.lost.test", "A"), "SERVFAIL");
    // Then the backend, starting, restores the file from the marker and named serves the zone
    let (backend, api) = start_backend(&named, &[]);
    assert!(
        eventually(Duration::from_secs(10), || named.dig("www.lost.test", "A")
            == ["192.0.2.10"])
        .await,
        "the zone is not served again; backend log: {}",
        backend.logs()
    );
    assert_eq!(std::fs::read(&file).unwrap(), content);
    assert!(backend.logs().contains("restored the missing zone file"));
    assert_eq!(api.zones().await, ["lost.test"]);
    // and the zone is ours as before: a delete removes it, its files and its marker
    assert_eq!(api.delete("/api/v1/zones/lost.test").await.0, 200);
    assert!(!file.exists());
    assert!(!named
        .zone_dir()
        .join(".bindcar/zones/lost.test.zone")
        .exists());
}
