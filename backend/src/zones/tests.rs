//! Each operation's sequence against the fake named: what is sent, in which order, and what
//! is left in the zone directory on each outcome. (Over 400 lines: one test per outcome, kept
//! together so each operation's sequences read side by side; listings are in list_tests.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::SystemTime;

use super::fake::{lost, ok, refused, shown, timeout, unavailable, zonestatus, Harness};
use super::plan::{plan_create, plan_modify, CreatePlan};
use super::request::{CreateZoneRequest, ModifyZoneRequest, SoaRecord, ZoneConfig, ZoneType};
use super::{ZoneAction, ZoneError, ZoneStatus};

pub(super) fn primary(h: &Harness, name: &str) -> CreatePlan {
    plan_create(&primary_request(name), h.zones.dir(), SystemTime::now()).unwrap()
}

pub(super) fn primary_request(name: &str) -> CreateZoneRequest {
    CreateZoneRequest {
        zone_name: name.into(),
        zone_type: ZoneType::Primary,
        update_key_name: None,
        zone_config: ZoneConfig {
            ttl: Some(300),
            soa: Some(SoaRecord {
                primary_ns: "ns1.example.test.".into(),
                admin_email: "hostmaster.example.test.".into(),
                serial: Some(1),
                refresh: None,
                retry: None,
                expire: None,
                negative_ttl: None,
            }),
            name_servers: vec!["ns1.example.test.".into()],
            ..ZoneConfig::default()
        },
    }
}

fn exists(path: &std::path::Path) -> bool {
    path.exists()
}

#[tokio::test]
async fn create_writes_then_adds_in_one_round_trip() {
    let h = Harness::new();
    h.named.answer("addzone", ok(""));
    let text = h.zones.create(primary(&h, "ok.test"), "t").await.unwrap();
    assert_eq!(text, "");
    assert_eq!(h.named.sent(), ["addzone ok.test"]);
    let line = &h.named.lines()[0];
    assert!(
        line.starts_with("addzone ok.test { type primary; file \""),
        "{line}"
    );
    let file = std::fs::read_to_string(h.zone_file("ok.test")).unwrap();
    assert!(file.contains("@ IN NS ns1.example.test."), "{file}");
    assert!(exists(&h.marker("ok.test")));
}

#[tokio::test]
async fn create_over_a_foreign_file_touches_nothing() {
    let h = Harness::new();
    std::fs::write(h.zone_file("ok.test"), "theirs\n").unwrap();
    std::fs::write(h.scratch.0.join("ok.test.zone.jnl"), "their journal").unwrap();
    h.bind_has("ok.test");
    let error = h
        .zones
        .create(primary(&h, "ok.test"), "t")
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ZoneError::FileTaken {
            zone: Harness::zone("ok.test"),
            path: h.zone_file("ok.test").display().to_string()
        }
    );
    assert!(h.named.sent().is_empty());
    assert_eq!(
        std::fs::read_to_string(h.zone_file("ok.test")).unwrap(),
        "theirs\n"
    );
    assert!(exists(&h.scratch.0.join("ok.test.zone.jnl")));
    assert!(!exists(&h.marker("ok.test")));
}

#[tokio::test]
async fn create_of_a_zone_of_ours_that_bind_has_is_409_and_touches_nothing() {
    let h = Harness::new();
    std::fs::write(h.zone_file("ok.test"), "ours\n").unwrap();
    h.mark("ok.test");
    h.bind_has("ok.test");
    let error = h
        .zones
        .create(primary(&h, "ok.test"), "t")
        .await
        .unwrap_err();
    assert_eq!(error, ZoneError::AlreadyExists(Harness::zone("ok.test")));
    assert_eq!(h.named.sent(), ["showzone ok.test"]);
    assert_eq!(
        std::fs::read_to_string(h.zone_file("ok.test")).unwrap(),
        "ours\n"
    );
    assert!(exists(&h.marker("ok.test")));
}

#[tokio::test]
async fn create_replaces_the_leftovers_of_an_earlier_create_of_ours() {
    let h = Harness::new();
    std::fs::write(h.zone_file("ok.test"), "half done\n").unwrap();
    h.mark("ok.test"); // BIND does not have it: the earlier create never finished
    h.named.answer("addzone", ok(""));
    h.zones.create(primary(&h, "ok.test"), "t").await.unwrap();
    assert_eq!(h.named.sent(), ["showzone ok.test", "addzone ok.test"]);
    let file = std::fs::read_to_string(h.zone_file("ok.test")).unwrap();
    assert!(file.contains("@ IN NS ns1.example.test."), "{file}");
}

#[tokio::test]
async fn overlong_names_are_refused_before_any_io() {
    let h = Harness::new();
    let name = format!("{}.", "a".repeat(49)).repeat(6)[..236].to_string();
    let request = CreateZoneRequest {
        zone_name: name,
        zone_type: ZoneType::Secondary,
        update_key_name: None,
        zone_config: ZoneConfig {
            primaries: Some(vec!["192.0.2.1".into()]),
            ..ZoneConfig::default()
        },
    };
    let error = plan_create(&request, h.zones.dir(), SystemTime::now()).unwrap_err();
    assert!(
        matches!(&error, ZoneError::Invalid(m) if m.contains("255-byte file-name limit")),
        "{error:?}"
    );
}

#[tokio::test]
async fn create_clears_leftovers_of_an_earlier_zone() {
    let h = Harness::new();
    let journal = h.scratch.0.join("ok.test.zone.jnl");
    std::fs::write(&journal, "old").unwrap();
    h.named.answer("addzone", ok(""));
    h.zones.create(primary(&h, "ok.test"), "t").await.unwrap();
    assert!(!exists(&journal));
}

#[tokio::test]
async fn create_refused_by_bind_removes_file_and_marker() {
    for (answer, expected) in [
        (
            refused("bad zone", "no NS"),
            ZoneError::CreateRejected {
                zone: Harness::zone("ok.test"),
                err: "bad zone".into(),
                bind: "bad zone: no NS".into(),
            },
        ),
        (
            refused("permission denied", ""),
            ZoneError::Refused {
                command: "addzone",
                bind: "permission denied (does named.conf set allow-new-zones yes?)".into(),
            },
        ),
        (
            unavailable(),
            ZoneError::Unavailable("connection refused (is named running?)".into()),
        ),
    ] {
        let h = Harness::new();
        h.named.answer("addzone", answer);
        let error = h
            .zones
            .create(primary(&h, "ok.test"), "t")
            .await
            .unwrap_err();
        assert_eq!(error, expected);
        assert_eq!(h.named.sent(), ["addzone ok.test"]);
        assert!(!exists(&h.zone_file("ok.test")), "{expected:?}");
        assert!(!exists(&h.marker("ok.test")), "{expected:?}");
    }
}

#[tokio::test]
async fn create_keeps_files_when_the_outcome_is_unknown_and_removes_them_on_a_race_lost() {
    for answer in [timeout(), lost()] {
        let h = Harness::new();
        h.named.answer("addzone", answer.clone());
        let error = h
            .zones
            .create(primary(&h, "ok.test"), "t")
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                ZoneError::OutcomeUnknown {
                    command: "addzone",
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(exists(&h.zone_file("ok.test")), "{answer:?}");
        assert!(exists(&h.marker("ok.test")), "{answer:?}");
        assert!(!h.zones.index.current().contains(&Harness::zone("ok.test")));
        // named did add it: the retry answers 409 and completes the zone (listed)
        h.bind_has("ok.test");
        let retried = h.zones.create(primary(&h, "ok.test"), "t").await;
        assert_eq!(
            retried,
            Err(ZoneError::AlreadyExists(Harness::zone("ok.test")))
        );
        assert!(h.zones.index.current().contains(&Harness::zone("ok.test")));
        assert!(exists(&h.zone_file("ok.test")));
    }
    // someone else added the zone (its file elsewhere) between our claim and addzone
    let h = Harness::new();
    h.named.answer("addzone", refused("already exists", ""));
    let error = h
        .zones
        .create(primary(&h, "ok.test"), "t")
        .await
        .unwrap_err();
    assert_eq!(error, ZoneError::AlreadyExists(Harness::zone("ok.test")));
    assert!(!exists(&h.zone_file("ok.test")));
    assert!(!exists(&h.marker("ok.test")));
}

#[tokio::test]
async fn create_with_named_down_writes_nothing() {
    let h = Harness::new();
    h.named.answer("addzone", unavailable());
    let error = h
        .zones
        .create(primary(&h, "ok.test"), "t")
        .await
        .unwrap_err();
    assert!(matches!(error, ZoneError::Unavailable(_)), "{error:?}");
    assert_eq!(h.named.sent(), ["addzone ok.test"]);
    assert!(!exists(&h.zone_file("ok.test")));
    assert!(!exists(&h.marker("ok.test")));
    assert_eq!(std::fs::read_dir(&h.scratch.0).unwrap().count(), 1); // .bindcar only
}

#[tokio::test]
async fn delete_of_a_marked_zone_removes_its_files() {
    let h = Harness::new();
    h.bind_has("ok.test");
    h.mark("ok.test");
    std::fs::write(h.zone_file("ok.test"), "x").unwrap();
    h.named.answer("delzone", ok("zone deleted"));
    assert_eq!(
        h.zones
            .delete(&Harness::zone("ok.test"), "t")
            .await
            .unwrap(),
        "zone deleted"
    );
    assert_eq!(h.named.sent(), ["delzone ok.test"]);
    assert!(!exists(&h.zone_file("ok.test")));
    assert!(!exists(&h.marker("ok.test")));
}

#[tokio::test]
async fn delete_of_a_zone_of_the_reference_bindcar_asks_whether_it_was_added_at_runtime() {
    let h = Harness::new();
    h.bind_has("ok.test");
    h.named.answer("zonestatus", zonestatus(7, true));
    h.named.answer("delzone", ok(""));
    h.zones
        .delete(&Harness::zone("ok.test"), "t")
        .await
        .unwrap();
    assert_eq!(
        h.named.sent(),
        ["showzone ok.test", "zonestatus ok.test", "delzone ok.test"]
    );
}

#[tokio::test]
async fn delete_refuses_zones_it_does_not_manage_and_unknown_zones() {
    let h = Harness::new();
    h.named.answer(
        "showzone conf.test",
        shown("conf.test", "primary", "/etc/bind/db.conf"),
    );
    assert_eq!(
        h.zones.delete(&Harness::zone("conf.test"), "t").await,
        Err(ZoneError::NotManaged {
            zone: Harness::zone("conf.test"),
            operation: "delete"
        })
    );
    // our file name, but defined in named.conf
    h.bind_has("static.test");
    h.named.answer("zonestatus", zonestatus(1, false));
    assert!(matches!(
        h.zones.delete(&Harness::zone("static.test"), "t").await,
        Err(ZoneError::NotManaged { .. })
    ));
    assert_eq!(
        h.zones.delete(&Harness::zone("none.test"), "t").await,
        Err(ZoneError::NotFound(Harness::zone("none.test")))
    );
    assert!(!h.named.sent().iter().any(|c| c.starts_with("delzone")));
}

#[tokio::test]
async fn delete_with_an_unknown_outcome_keeps_the_files() {
    for answer in [timeout(), lost()] {
        let h = Harness::new();
        h.bind_has("ok.test");
        h.mark("ok.test");
        std::fs::write(h.zone_file("ok.test"), "x").unwrap();
        h.named.answer("delzone", answer.clone());
        assert!(
            matches!(
                h.zones.delete(&Harness::zone("ok.test"), "t").await,
                Err(ZoneError::OutcomeUnknown {
                    command: "delzone",
                    ..
                })
            ),
            "{answer:?}"
        );
        assert!(exists(&h.zone_file("ok.test")));
        assert!(exists(&h.marker("ok.test")));
    }
}

#[tokio::test]
async fn a_zone_of_the_reference_bindcar_is_marked_before_its_delzone() {
    // bindcar 0.7.3 keeps no marker: without one, a lost delzone answer would leave its file
    // unrecognised once BIND dropped the zone
    let h = Harness::new();
    h.bind_has("ok.test");
    std::fs::write(h.zone_file("ok.test"), "x").unwrap();
    h.named.answer("zonestatus", zonestatus(7, true));
    h.named.answer("delzone", lost());
    assert!(matches!(
        h.zones.delete(&Harness::zone("ok.test"), "t").await,
        Err(ZoneError::OutcomeUnknown { .. })
    ));
    assert!(exists(&h.marker("ok.test")));
    assert_eq!(std::fs::read_to_string(h.marker("ok.test")).unwrap(), "x");
}

#[tokio::test]
async fn modify_replaces_the_lists_and_keeps_the_rest() {
    let h = Harness::new();
    h.bind_has("ok.test");
    h.mark("ok.test");
    h.named.answer("modzone", ok(""));
    let plan = plan_modify(&ModifyZoneRequest {
        also_notify: Some(vec!["192.0.2.7:5353".into()]),
        allow_transfer: Some(vec![]),
        ..ModifyZoneRequest::default()
    })
    .unwrap();
    h.zones
        .modify(&Harness::zone("ok.test"), &plan, "t")
        .await
        .unwrap();
    assert_eq!(h.named.sent(), ["showzone ok.test", "modzone ok.test"]);
    let file = h.zone_file("ok.test").display().to_string();
    assert_eq!(
        h.named.lines()[1],
        format!(
            "modzone ok.test {{ type primary; file \"{file}\"; also-notify {{ 192.0.2.7 port 5353; }}; }};"
        )
    );
}

#[tokio::test]
async fn modify_refused_is_a_rejected_configuration_and_unknown_is_not_found() {
    let h = Harness::new();
    h.bind_has("ok.test");
    h.mark("ok.test");
    h.named.answer("modzone", refused("failure", "bad acl"));
    let plan = plan_modify(&ModifyZoneRequest {
        allow_transfer: Some(vec!["10.0.0.1".into()]),
        ..ModifyZoneRequest::default()
    })
    .unwrap();
    assert!(matches!(
        h.zones.modify(&Harness::zone("ok.test"), &plan, "t").await,
        Err(ZoneError::ModifyRejected { .. })
    ));
    assert_eq!(
        h.zones
            .modify(&Harness::zone("none.test"), &plan, "t")
            .await,
        Err(ZoneError::NotFound(Harness::zone("none.test")))
    );
}

#[tokio::test]
async fn actions_send_their_command_and_classify_the_answer() {
    let h = Harness::new();
    let zone = Harness::zone("ok.test");
    for action in [
        ZoneAction::Reload,
        ZoneAction::Freeze,
        ZoneAction::Thaw,
        ZoneAction::Notify,
        ZoneAction::Retransfer,
    ] {
        h.named.answer_once(action.name(), ok("done"));
        assert_eq!(h.zones.act(&zone, action, "t").await.unwrap(), "done");
    }
    assert_eq!(
        h.named.sent(),
        [
            "reload ok.test",
            "freeze ok.test",
            "thaw ok.test",
            "notify ok.test",
            "retransfer ok.test"
        ]
    );
    h.named.answer("reload", refused("dynamic zone", ""));
    assert!(matches!(
        h.zones.act(&zone, ZoneAction::Reload, "t").await,
        Err(ZoneError::Dynamic { .. })
    ));
    h.named.answer("freeze", refused("already frozen", ""));
    assert!(matches!(
        h.zones.act(&zone, ZoneAction::Freeze, "t").await,
        Err(ZoneError::AlreadyFrozen { .. })
    ));
    assert_eq!(
        h.zones.act(&zone, ZoneAction::Thaw, "t").await,
        Err(ZoneError::NotFound(zone.clone()))
    );
}

#[tokio::test]
async fn status_and_info_read_zonestatus() {
    let h = Harness::new();
    let zone = Harness::zone("ok.test");
    h.named.answer_once("zonestatus", zonestatus(42, true));
    assert!(matches!(
        h.zones.status(&zone).await,
        Ok(ZoneStatus::Loaded(_))
    ));
    h.named
        .answer_once("zonestatus", refused("zone not loaded", "waiting"));
    assert_eq!(
        h.zones.status(&zone).await,
        Ok(ZoneStatus::NotLoaded("zone not loaded: waiting".into()))
    );
    assert_eq!(
        h.zones.status(&Harness::zone("none.test")).await,
        Err(ZoneError::NotFound(Harness::zone("none.test")))
    );
    h.bind_has("ok.test");
    h.named.answer_once("zonestatus", zonestatus(42, true));
    let info = h.zones.info(&zone).await.unwrap();
    assert_eq!(
        (info.zone_type.as_str(), info.serial),
        ("primary", Some(42))
    );
    h.named
        .answer_once("zonestatus", refused("zone not loaded", ""));
    assert_eq!(h.zones.info(&zone).await.unwrap().serial, None);
    assert_eq!(
        h.named.sent()[3..],
        [
            "showzone ok.test",
            "zonestatus ok.test",
            "showzone ok.test",
            "zonestatus ok.test"
        ]
    );
}

#[tokio::test]
async fn server_status_passes_named_text_or_its_absence() {
    let h = Harness::new();
    assert!(h.zones.server_status().await.unwrap().contains("running"));
    h.named.answer("status", timeout());
    assert!(matches!(
        h.zones.server_status().await,
        Err(ZoneError::Timeout(_))
    ));
    assert_eq!(h.named.sent(), ["status", "status"]);
}
