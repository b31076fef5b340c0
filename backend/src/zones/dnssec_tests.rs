//! The DNSSEC operations against the fake named: what each PATCH sends (and never sends), the
//! status block, `/ds` from the served DNSKEYs, `checkds`; and a secondary's primaries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::fake::{ok, refused, timeout, Harness};
use super::fake_dns::{ksk, FakeDns};
use super::plan::plan_modify;
use super::request::ModifyZoneRequest;
use super::ZoneError;
use crate::bind::update::DnsFailure;
use crate::bind::DsState;

const STATUS_SIGNED: &str = include_str!("../bind/fixtures/named918_dnssec_status_csk.txt");
const STATUS_INSECURE: &str = include_str!("../bind/fixtures/named918_dnssec_status_insecure.txt");
const NO_POLICY: &str = "Zone does not have dnssec-policy";

fn harness(statements: &str) -> Harness {
    let h = Harness::new();
    let file = h.zone_file("ok.test").display().to_string();
    h.named.answer(
        "showzone ok.test",
        ok(&format!(
            "zone \"ok.test\" {{ type primary; file \"{file}\"; {statements} }};"
        )),
    );
    h.mark("ok.test");
    h.named
        .answer("modzone", ok("zone 'ok.test' reconfigured."));
    h.named.answer("reconfig", ok(""));
    h
}

fn policy(name: &str) -> ModifyZoneRequest {
    ModifyZoneRequest {
        dnssec_policy: Some(name.into()),
        ..ModifyZoneRequest::default()
    }
}

async fn modify(h: &Harness, request: ModifyZoneRequest) -> Result<String, ZoneError> {
    let plan = plan_modify(&request)?;
    h.zones.modify(&Harness::zone("ok.test"), &plan, "t").await
}

fn modzone_line(h: &Harness) -> String {
    h.named
        .lines()
        .into_iter()
        .find(|l| l.starts_with("modzone"))
        .unwrap()
}

#[tokio::test]
async fn a_policy_signs_with_modzone_then_reconfig() {
    let h = harness("allow-transfer { 10.0.0.0/8; };");
    modify(&h, policy("default")).await.unwrap();
    assert_eq!(
        h.named.sent(),
        ["showzone ok.test", "modzone ok.test", "reconfig"]
    );
    let line = modzone_line(&h);
    assert!(
        line.ends_with(
            "allow-transfer { 10.0.0.0/8; }; dnssec-policy \"default\"; inline-signing yes; };"
        ),
        "{line}"
    );
}

#[tokio::test]
async fn a_patch_of_another_field_keeps_the_policy_and_needs_no_reconfig() {
    let h = harness("inline-signing yes; dnssec-policy \"default\";");
    modify(
        &h,
        ModifyZoneRequest {
            allow_transfer: Some(vec!["192.0.2.1".into()]),
            also_notify: Some(vec![]),
            ..ModifyZoneRequest::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(h.named.sent(), ["showzone ok.test", "modzone ok.test"]);
    let line = modzone_line(&h);
    assert!(
        line.contains(
            "inline-signing yes; dnssec-policy \"default\"; allow-transfer { 192.0.2.1; };"
        ),
        "{line}"
    );
}

#[tokio::test]
async fn none_is_refused_while_dnskeys_are_served_and_sends_no_change() {
    let h = harness("inline-signing yes; dnssec-policy \"default\";");
    h.named.answer("dnssec-status ok.test", ok(STATUS_SIGNED));
    assert_eq!(
        modify(&h, policy("none")).await,
        Err(ZoneError::StillSigned(Harness::zone("ok.test")))
    );
    assert_eq!(
        h.named.sent(),
        ["showzone ok.test", "dnssec-status ok.test"]
    );
}

#[tokio::test]
async fn none_removes_the_policy_once_no_key_is_published() {
    let h = harness("inline-signing yes; dnssec-policy \"insecure\";");
    h.named.answer("dnssec-status ok.test", ok(STATUS_INSECURE));
    modify(&h, policy("none")).await.unwrap();
    assert_eq!(
        h.named.sent(),
        [
            "showzone ok.test",
            "dnssec-status ok.test",
            "modzone ok.test",
            "reconfig"
        ]
    );
    assert!(!modzone_line(&h).contains("dnssec-policy"));
}

#[tokio::test]
async fn an_unknown_policy_is_bind_s_refusal_and_a_lost_reconfig_says_not_in_effect() {
    let h = harness("");
    h.named.answer(
        "modzone",
        refused("not found", "configure_zone failed: not found"),
    );
    assert!(matches!(
        modify(&h, policy("nosuchpolicy")).await,
        Err(ZoneError::ModifyRejected { err, .. }) if err == "not found"
    ));
    assert!(!h.named.sent().contains(&"reconfig".to_string()));

    let h = harness("");
    h.named.answer("reconfig", timeout());
    assert!(matches!(
        modify(&h, policy("default")).await,
        Err(ZoneError::NotInEffect { .. })
    ));
}

#[tokio::test]
async fn primaries_go_to_a_secondary_then_it_is_transferred_again() {
    let h = Harness::new();
    h.mark("sec.test");
    h.named.answer(
        "showzone sec.test",
        ok("zone \"sec.test\" { type secondary; masters { 192.0.2.1; }; also-notify { 10.0.0.1 port 5353; }; };"),
    );
    h.named.answer("modzone", ok(""));
    h.named.answer("retransfer", ok(""));
    let plan = plan_modify(&ModifyZoneRequest {
        primaries: Some(vec!["192.0.2.2:5353".into()]),
        ..ModifyZoneRequest::default()
    })
    .unwrap();
    h.zones
        .modify(&Harness::zone("sec.test"), &plan, "t")
        .await
        .unwrap();
    assert_eq!(
        h.named.sent(),
        [
            "showzone sec.test",
            "modzone sec.test",
            "retransfer sec.test"
        ]
    );
    // the port-qualified also-notify BIND shows is handed back as it was
    assert_eq!(
        h.named.lines()[1],
        "modzone sec.test { type secondary; also-notify { 10.0.0.1 port 5353; }; primaries { 192.0.2.2 port 5353; }; };"
    );

    let h = harness("");
    assert_eq!(
        h.zones.modify(&Harness::zone("ok.test"), &plan, "t").await,
        Err(ZoneError::PrimariesOfPrimary(Harness::zone("ok.test")))
    );
    assert_eq!(h.named.sent(), ["showzone ok.test"]);
}

#[tokio::test]
async fn ds_needs_a_policy_and_reads_the_served_keys() {
    let h = Harness::new();
    let dns = FakeDns::default();
    let zone = Harness::zone("d.test");
    h.named.answer("dnssec-status d.test", ok(NO_POLICY));
    assert_eq!(
        h.zones.ds(&zone, &dns).await,
        Err(ZoneError::NoPolicy(zone.clone()))
    );
    h.named.answer("dnssec-status d.test", ok(STATUS_SIGNED));
    dns.serve_keys(Ok(vec![ksk()]));
    let ds = h.zones.ds(&zone, &dns).await.unwrap();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].key_tag, 58821);
    dns.serve_keys(Err(DnsFailure::Unavailable("refused".into())));
    assert!(matches!(
        h.zones.ds(&zone, &dns).await,
        Err(ZoneError::Unavailable(_))
    ));
    // an unknown zone is named's `not found`
    assert_eq!(
        h.zones.ds(&Harness::zone("none.test"), &dns).await,
        Err(ZoneError::NotFound(Harness::zone("none.test")))
    );
}

#[tokio::test]
async fn checkds_reads_named_s_text() {
    let h = Harness::new();
    let zone = Harness::zone("ok.test");
    h.named.answer_once(
        "dnssec-checkds ok.test",
        ok("KSK 38453: Marked DS as published since 06-Dec-2026 00:36:00.000"),
    );
    h.named.answer_once(
        "dnssec-checkds ok.test",
        ok("Error executing checkds command: no matching key found"),
    );
    h.named.answer_once("dnssec-checkds ok.test", ok(NO_POLICY));
    assert!(h
        .zones
        .checkds(&zone, 38453, DsState::Published, "t")
        .await
        .unwrap()
        .contains("Marked DS as published"));
    assert_eq!(
        h.zones.checkds(&zone, 1, DsState::Withdrawn, "t").await,
        Err(ZoneError::NoSuchKey {
            zone: zone.clone(),
            tag: 1
        })
    );
    assert_eq!(
        h.zones.checkds(&zone, 1, DsState::Withdrawn, "t").await,
        Err(ZoneError::NoPolicy(zone.clone()))
    );
    assert_eq!(
        h.named.lines()[0],
        "dnssec -checkds -key 38453 published ok.test"
    );
}

#[tokio::test]
async fn the_status_block_is_best_effort() {
    let h = Harness::new();
    let zone = Harness::zone("ok.test");
    h.named
        .answer_once("dnssec-status ok.test", ok(STATUS_SIGNED));
    h.named.answer_once("dnssec-status ok.test", ok(NO_POLICY));
    h.named.answer_once("dnssec-status ok.test", timeout());
    let maintained = "secure: yes\nkey maintenance: automatic\n";
    assert_eq!(
        h.zones.signing(&zone, maintained).await.unwrap().keys[0].tag,
        38453
    );
    assert_eq!(h.zones.signing(&zone, maintained).await, None);
    assert_eq!(h.zones.signing(&zone, maintained).await, None);
    // a zone whose zonestatus shows no policy costs no dnssec -status
    let sent = h.named.sent().len();
    assert_eq!(
        h.zones.signing(&zone, "secure: no\ndynamic: no\n").await,
        None
    );
    assert_eq!(h.named.sent().len(), sent);
}
