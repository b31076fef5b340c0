//! Reading named's DNSSEC answers, and the DS records of a zone's key-signing keys. Pure: the
//! text of `rndc dnssec -status` and `-checkds` in, typed values out; DNSKEY records in, DS
//! records out (RFC 4034 §5.1.4, SHA-256 as RFC 4509), computed from what named serves, so no
//! key directory is read.
//!
//! The status block's field names are bindcar 0.9.0's (`DnssecStatus`), so bindy's types read it.

use hickory_proto::dnssec::rdata::DNSKEY;
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKeyBuf};
use hickory_proto::rr::Name;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::zone_name::ZoneName;

/// A zone's signing state, from `rndc dnssec -status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnssecStatus {
    /// The `dnssec-policy` named applies to the zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Some key's DNSKEY is being introduced or is in place (`rumoured` or `omnipresent`).
    pub signed: bool,
    pub keys: Vec<DnssecKey>,
}

/// One key of the zone. Times are named's clock, as `YYYY-MM-DDTHH:MM:SS` (named's own text
/// when it does not read as a date).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DnssecKey {
    /// Key tag (RFC 4034 appendix B).
    pub tag: u16,
    /// named's name for the algorithm, e.g. `ECDSAP256SHA256`.
    pub algorithm: String,
    /// `KSK`, `ZSK` or `CSK`.
    pub role: String,
    pub published: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_since: Option<String>,
    pub key_signing: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_signing_since: Option<String>,
    pub zone_signing: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_signing_since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_rollover: Option<String>,
    /// named said "Key has been removed from the zone".
    pub removed: bool,
    /// The states of the key (`hidden`, `rumoured`, `omnipresent`, `unretentive`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnskey_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ds_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_rrsig_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_rrsig_state: Option<String>,
}

/// What `rndc dnssec -status` says of a zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningState {
    /// "Zone does not have dnssec-policy".
    NoPolicy,
    Policy(DnssecStatus),
}

/// Reads `rndc dnssec -status`. Lines it does not know are skipped, so a newer named's extra
/// lines cannot break a status read.
pub fn parse_status(text: &str) -> SigningState {
    let mut status = DnssecStatus::default();
    let mut saw_policy = false;
    for line in text.lines().map(str::trim) {
        if let Some(policy) = line.strip_prefix("dnssec-policy:") {
            status.policy = Some(policy.trim().to_string());
            saw_policy = true;
        } else if let Some(key) = line.strip_prefix("key:") {
            status.keys.push(key_header(key));
        } else if let Some(key) = status.keys.last_mut() {
            key_line(key, line);
        }
    }
    if !saw_policy {
        return SigningState::NoPolicy;
    }
    status.signed = status
        .keys
        .iter()
        .any(|k| matches!(k.dnskey_state.as_deref(), Some("rumoured" | "omnipresent")));
    SigningState::Policy(status)
}

/// `43900 (ECDSAP256SHA256), CSK`
fn key_header(rest: &str) -> DnssecKey {
    let rest = rest.trim();
    let (tag, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let (algorithm, role) = match (rest.find('('), rest.find(')')) {
        (Some(open), Some(close)) if open < close => (
            rest[open + 1..close].to_string(),
            rest[close + 1..].trim_start_matches(',').trim().to_string(),
        ),
        _ => (String::new(), rest.trim().to_string()),
    };
    DnssecKey {
        tag: tag.parse().unwrap_or(0),
        algorithm,
        role,
        ..DnssecKey::default()
    }
}

fn key_line(key: &mut DnssecKey, line: &str) {
    let state = |v: &str| Some(v.trim().to_string());
    if let Some(v) = line.strip_prefix("published:") {
        (key.published, key.published_since) = yes_since(v);
    } else if let Some(v) = line.strip_prefix("key signing:") {
        (key.key_signing, key.key_signing_since) = yes_since(v);
    } else if let Some(v) = line.strip_prefix("zone signing:") {
        (key.zone_signing, key.zone_signing_since) = yes_since(v);
    } else if let Some(v) = line.strip_prefix("Next rollover scheduled on") {
        key.next_rollover = Some(iso_time(v));
    } else if line == "Key has been removed from the zone" {
        key.removed = true;
    } else if let Some(v) = line.strip_prefix("- goal:") {
        key.goal = state(v);
    } else if let Some(v) = line.strip_prefix("- dnskey:") {
        key.dnskey_state = state(v);
    } else if let Some(v) = line.strip_prefix("- ds:") {
        key.ds_state = state(v);
    } else if let Some(v) = line.strip_prefix("- zone rrsig:") {
        key.zone_rrsig_state = state(v);
    } else if let Some(v) = line.strip_prefix("- key rrsig:") {
        key.key_rrsig_state = state(v);
    }
}

/// `yes - since <time>` or `no`.
fn yes_since(value: &str) -> (bool, Option<String>) {
    match value.trim().strip_prefix("yes") {
        Some(rest) => (
            true,
            rest.trim()
                .strip_prefix("- since")
                .map(iso_time)
                .filter(|t| !t.is_empty()),
        ),
        None => (false, None),
    }
}

/// named's `Sun Dec  6 00:35:33 2026` as `2026-12-06T00:35:33`; anything else as it came.
fn iso_time(raw: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let raw = raw.trim();
    let parts: Vec<&str> = raw.split_whitespace().collect();
    let [_weekday, month, day, time, year] = parts.as_slice() else {
        return raw.to_string();
    };
    let month = MONTHS.iter().position(|m| m == month);
    let day = day.parse::<u8>().ok().filter(|d| (1..=31).contains(d));
    let year = year.parse::<u16>().ok();
    let time_ok = time.len() == 8
        && time.chars().enumerate().all(|(i, c)| {
            if i == 2 || i == 5 {
                c == ':'
            } else {
                c.is_ascii_digit()
            }
        });
    match (month, day, year, time_ok) {
        (Some(month), Some(day), Some(year), true) => {
            format!("{year:04}-{:02}-{day:02}T{time}", month + 1)
        }
        _ => raw.to_string(),
    }
}

/// What `rndc dnssec -checkds` answered. named reports a refusal as text on a successful
/// answer, so the text decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckdsOutcome {
    Recorded(String),
    /// "no matching key found"
    NoSuchKey,
    NoPolicy,
    /// Another "Error executing checkds command: ..." line.
    Refused(String),
}

pub fn parse_checkds(text: &str) -> CheckdsOutcome {
    let text = text.trim();
    if text.starts_with("Zone does not have dnssec-policy") {
        return CheckdsOutcome::NoPolicy;
    }
    match text.strip_prefix("Error executing checkds command:") {
        Some(why) if why.trim() == "no matching key found" => CheckdsOutcome::NoSuchKey,
        Some(why) => CheckdsOutcome::Refused(why.trim().to_string()),
        None => CheckdsOutcome::Recorded(text.to_string()),
    }
}

/// A DNSKEY record as named serves it at the zone's apex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dnskey {
    pub flags: u16,
    pub algorithm: u8,
    pub public_key: Vec<u8>,
}

/// RFC 4034 §2.1.1: the Secure Entry Point bit marks a key-signing key.
const FLAG_SEP: u16 = 0x0001;
/// RFC 5011 §3: a revoked key is not delegated to.
const FLAG_REVOKE: u16 = 0x0080;
/// DS digest type 2, SHA-256 (RFC 4509).
pub const DIGEST_SHA256: u8 = 2;

/// One DS record, as bindcar's `DsRecordView` has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ds {
    pub key_tag: u16,
    pub algorithm: u8,
    pub digest_type: u8,
    /// Upper-case hex, as `dnssec-dsfromkey` prints it.
    pub digest: String,
    /// `<zone>. IN DS <tag> <alg> 2 <digest>`
    pub rr: String,
}

/// The SHA-256 DS records of the key-signing keys (SEP set, not revoked) among `keys`, by key
/// tag: what `dnssec-dsfromkey -2` gives for the same DNSKEY RRset.
pub fn ds_records(zone: &ZoneName, keys: &[Dnskey]) -> Result<Vec<Ds>, String> {
    let owner = Name::from_ascii(format!("{zone}.")).map_err(|e| format!("zone name: {e}"))?;
    let mut out = Vec::new();
    for key in keys
        .iter()
        .filter(|k| k.flags & FLAG_SEP != 0 && k.flags & FLAG_REVOKE == 0)
    {
        let dnskey = DNSKEY::with_flags(
            key.flags,
            PublicKeyBuf::new(key.public_key.clone(), Algorithm::from_u8(key.algorithm)),
        );
        let key_tag = dnskey
            .calculate_key_tag()
            .map_err(|e| format!("key tag: {e}"))?;
        let digest = dnskey
            .to_digest(&owner, DigestType::SHA256)
            .map_err(|e| format!("digest: {e}"))?;
        let digest: String = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
        out.push(Ds {
            rr: format!(
                "{zone}. IN DS {key_tag} {} {DIGEST_SHA256} {digest}",
                key.algorithm
            ),
            key_tag,
            algorithm: key.algorithm,
            digest_type: DIGEST_SHA256,
            digest,
        });
    }
    out.sort_by_key(|d| d.key_tag);
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use base64::Engine;

    use super::*;

    // Captured from named 9.18.49 (`rndc dnssec -status`): the built-in `default` policy (one
    // CSK), a policy with a KSK and a ZSK, and a zone moved to `insecure`.
    const CSK: &str = include_str!("fixtures/named918_dnssec_status_csk.txt");
    const SPLIT: &str = include_str!("fixtures/named918_dnssec_status_split.txt");
    const INSECURE: &str = include_str!("fixtures/named918_dnssec_status_insecure.txt");

    fn policy(text: &str) -> DnssecStatus {
        match parse_status(text) {
            SigningState::Policy(status) => status,
            SigningState::NoPolicy => panic!("no policy in {text}"),
        }
    }

    #[test]
    fn reads_a_csk_zone() {
        let status = policy(CSK);
        assert_eq!(status.policy.as_deref(), Some("default"));
        assert!(status.signed);
        assert_eq!(
            status.keys,
            [DnssecKey {
                tag: 38453,
                algorithm: "ECDSAP256SHA256".into(),
                role: "CSK".into(),
                published: true,
                published_since: Some("2026-12-06T00:35:48".into()),
                key_signing: true,
                key_signing_since: Some("2026-12-06T00:35:48".into()),
                zone_signing: true,
                zone_signing_since: Some("2026-12-06T00:35:48".into()),
                next_rollover: None,
                removed: false,
                goal: Some("omnipresent".into()),
                dnskey_state: Some("rumoured".into()),
                ds_state: Some("hidden".into()),
                zone_rrsig_state: Some("rumoured".into()),
                key_rrsig_state: Some("rumoured".into()),
            }]
        );
    }

    #[test]
    fn reads_a_ksk_and_a_zsk_with_their_own_lines() {
        let status = policy(SPLIT);
        assert_eq!(status.policy.as_deref(), Some("split"));
        let [zsk, ksk] = status.keys.as_slice() else {
            panic!("{status:?}")
        };
        assert_eq!((zsk.tag, zsk.role.as_str()), (45150, "ZSK"));
        assert!(zsk.zone_signing && !zsk.key_signing);
        assert_eq!(zsk.next_rollover.as_deref(), Some("2027-01-04T22:33:00"));
        assert_eq!(zsk.ds_state, None);
        assert_eq!((ksk.tag, ksk.role.as_str()), (58821, "KSK"));
        assert!(ksk.key_signing && !ksk.zone_signing);
        assert_eq!(ksk.zone_rrsig_state, None);
        assert_eq!(ksk.ds_state.as_deref(), Some("hidden"));
    }

    #[test]
    fn an_insecure_zone_is_not_signed_and_its_key_removed() {
        let status = policy(INSECURE);
        assert_eq!(status.policy.as_deref(), Some("insecure"));
        assert!(!status.signed);
        let key = &status.keys[0];
        assert!(key.removed && !key.published && !key.key_signing);
        assert_eq!(key.published_since, None);
        assert_eq!(key.dnskey_state.as_deref(), Some("unretentive"));
    }

    #[test]
    fn no_policy_and_odd_text() {
        assert_eq!(
            parse_status("Zone does not have dnssec-policy\n"),
            SigningState::NoPolicy
        );
        assert_eq!(parse_status(""), SigningState::NoPolicy);
        // unknown lines and a garbled key header are kept as far as they read
        let status = policy("dnssec-policy: p\nkey: x\nsomething new: 1\n  published: maybe\n");
        assert_eq!(status.keys.len(), 1);
        assert_eq!(status.keys[0].tag, 0);
        assert!(!status.keys[0].published);
        assert_eq!(
            iso_time("Sun Foo  6 00:35:33 2026"),
            "Sun Foo  6 00:35:33 2026"
        );
        assert_eq!(iso_time("soon"), "soon");
    }

    #[test]
    fn checkds_answers() {
        assert_eq!(
            parse_checkds("KSK 43900: Marked DS as published since 06-Dec-2026 00:36:00.000"),
            CheckdsOutcome::Recorded(
                "KSK 43900: Marked DS as published since 06-Dec-2026 00:36:00.000".into()
            )
        );
        assert_eq!(
            parse_checkds("Error executing checkds command: no matching key found"),
            CheckdsOutcome::NoSuchKey
        );
        assert_eq!(
            parse_checkds("Zone does not have dnssec-policy"),
            CheckdsOutcome::NoPolicy
        );
        assert_eq!(
            parse_checkds("Error executing checkds command: multiple possible keys found"),
            CheckdsOutcome::Refused("multiple possible keys found".into())
        );
    }

    fn dnskey(flags: u16, b64: &str) -> Dnskey {
        Dnskey {
            flags,
            algorithm: 13,
            public_key: base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
        }
    }

    #[test]
    fn ds_of_the_ksk_equals_dnssec_dsfromkey() {
        // `dig d.test DNSKEY` from named 9.18 (policy with a KSK and a ZSK), and what
        // `dnssec-dsfromkey -2 -f <that answer> d.test` printed for it.
        let keys = [
            dnskey(
                257,
                "2h9w32ZWn2+FDrRvaERNoHuTKFy1Z4AwNXxNRZA5Eed1vBKb8GGfvu+E7KDNYZd1hO8RnccnMw+RtKbiMZVOwA==",
            ),
            dnskey(
                256,
                "ZYIxII/6+vxOvb84E6JipOjrxnt2HStYzSrgorqJP06+etdciOIpPJCqjDsqx/FG2LK/w7f5nyGU8CZeutAnXA==",
            ),
        ];
        let zone = ZoneName::parse("D.test.").unwrap();
        let ds = ds_records(&zone, &keys).unwrap();
        assert_eq!(
            ds,
            [Ds {
                key_tag: 58821,
                algorithm: 13,
                digest_type: 2,
                digest: "ABB1EAB9D0AC179CAF72A867EB8969AE4D9DE2697716F2D64F57AC30BFDD981D".into(),
                rr: "d.test. IN DS 58821 13 2 \
                     ABB1EAB9D0AC179CAF72A867EB8969AE4D9DE2697716F2D64F57AC30BFDD981D"
                    .into(),
            }]
        );
        // a revoked KSK is not delegated to; no KSK, no DS
        assert!(ds_records(&zone, &[dnskey(257 | 0x80, "AAAA")])
            .unwrap()
            .is_empty());
        assert!(ds_records(&zone, &keys[1..]).unwrap().is_empty());
    }
}
