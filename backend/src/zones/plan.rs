//! Turning a request into what will be written and sent. All validation happens here, before
//! any I/O: a request that fails leaves no trace on disk and never reaches rndc.

use std::net::IpAddr;
use std::time::SystemTime;

use super::error::ZoneError;
use super::records::{check_target, printable, validate_record};
use super::request::{CreateZoneRequest, ModifyZoneRequest, ZoneType};
use crate::bind::zone_file::{self, Soa, ZoneFile};
use crate::bind::{AddressMatch, ConfName, Endpoint, ZoneDir, ZoneName, ZoneOptions};
use crate::catalog::MemberDefaults;

/// Cap on list lengths, so one request cannot build a megabyte rndc command.
const MAX_LIST: usize = 64;

/// A validated create request.
#[derive(Debug, Clone)]
pub struct CreatePlan {
    pub zone: ZoneName,
    pub options: ZoneOptions,
    /// The zone file's text, for a primary zone.
    pub zone_file: Option<String>,
}

/// A validated PATCH: each `Some` list replaces the statement (empty removes it); `None`
/// leaves the setting as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModifyPlan {
    pub also_notify: Option<Vec<Endpoint>>,
    pub allow_transfer: Option<Vec<AddressMatch>>,
    pub allow_update: Option<Vec<AddressMatch>>,
    pub dnssec_policy: Option<PolicyChange>,
    pub inline_signing: Option<bool>,
    /// Never empty (a secondary needs a primary).
    pub primaries: Option<Vec<Endpoint>>,
}

/// What a PATCH does to the zone's `dnssec-policy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyChange {
    /// Sign with this policy (`insecure` included: BIND's graceful way out).
    Use(ConfName),
    /// `none`: remove the statement.
    Remove,
}

/// The `dnssecPolicy` value that removes the statement.
pub const POLICY_NONE: &str = "none";

fn invalid(message: impl Into<String>) -> ZoneError {
    ZoneError::Invalid(message.into())
}

pub fn zone_name(raw: &str) -> Result<ZoneName, ZoneError> {
    ZoneName::parse(raw).map_err(|e| invalid(e.0))
}

pub fn plan_create(
    request: &CreateZoneRequest,
    dir: &ZoneDir,
    now: SystemTime,
) -> Result<CreatePlan, ZoneError> {
    plan_create_with(request, dir, now, &MemberDefaults::default())
}

/// The same, with what a member of the catalog gets when the request does not say: `alsoNotify`
/// and `allowTransfer` absent take the secondaries (and the API's transfer key); a list given,
/// even empty, is used as given.
pub fn plan_create_with(
    request: &CreateZoneRequest,
    dir: &ZoneDir,
    now: SystemTime,
    defaults: &MemberDefaults,
) -> Result<CreatePlan, ZoneError> {
    let zone = zone_name(&request.zone_name)?;
    crate::bind::zone_claim::check_fits(&zone).map_err(invalid)?;
    let config = &request.zone_config;
    // As bindcar: `primaries` is ignored for a primary zone, and the content fields for a
    // secondary (clients send the same zoneConfig shape for both).
    let primaries = match request.zone_type {
        ZoneType::Primary => Vec::new(),
        ZoneType::Secondary => {
            endpoints("primaries", config.primaries.as_deref().unwrap_or_default())?
        }
    };
    if request.zone_type == ZoneType::Secondary && primaries.is_empty() {
        return Err(invalid(
            "Secondary zones require at least one primary server in 'primaries' field",
        ));
    }
    let update_key = request
        .update_key_name
        .as_deref()
        .map(|k| conf_name("updateKeyName", k))
        .transpose()?;
    let dnssec_policy = config
        .dnssec_policy
        .as_deref()
        .map(|p| conf_name("dnssecPolicy", p))
        .transpose()?;
    // A secondary takes `allow-update { key }` too (bindy always sends updateKeyName): BIND
    // 9.18 accepts it on a secondary, forwards nothing, and the zone transfers as usual.
    let dynamic = update_key.is_some() && request.zone_type == ZoneType::Primary;
    let options = ZoneOptions {
        zone_type: request.zone_type,
        file: dir.zone_file(&zone),
        primaries,
        update_key,
        also_notify: match config.also_notify.as_deref() {
            Some(list) => endpoints("alsoNotify", list)?,
            None => defaults.also_notify.clone(),
        },
        allow_transfer: match config.allow_transfer.as_deref() {
            Some(list) => Some(address_matches("allowTransfer", list)?),
            None => defaults.allow_transfer.clone(),
        },
        transfer_key: match config.allow_transfer {
            Some(_) => None,
            None => defaults.transfer_key.clone(),
        },
        notify_explicit: false,
        notify_delay: None,
        dnssec_policy: dnssec_policy.clone(),
        // BIND signs a zone with a policy in place only if it takes dynamic updates; a static
        // one is signed inline, so its file stays as written (as PATCH does, see
        // `zones::dnssec::apply`).
        inline_signing: config
            .inline_signing
            .or((dnssec_policy.is_some() && !dynamic).then_some(true)),
    };
    let zone_file = match request.zone_type {
        ZoneType::Primary => Some(primary_zone_file(request, now)?.render(zone.as_str())),
        ZoneType::Secondary => None,
    };
    Ok(CreatePlan {
        zone,
        options,
        zone_file,
    })
}

fn primary_zone_file(request: &CreateZoneRequest, now: SystemTime) -> Result<ZoneFile, ZoneError> {
    let config = &request.zone_config;
    let ttl = config
        .ttl
        .ok_or_else(|| invalid("zoneConfig.ttl is required for a primary zone"))?;
    let soa = config
        .soa
        .as_ref()
        .ok_or_else(|| invalid("zoneConfig.soa is required for a primary zone"))?;
    check_target(&soa.primary_ns).map_err(|e| invalid(format!("soa.primaryNs {e}")))?;
    check_target(&soa.admin_email).map_err(|e| {
        invalid(format!(
            "soa.adminEmail {e} (write it in RNAME form: hostmaster.example.test.)"
        ))
    })?;
    if config.name_servers.is_empty() {
        return Err(invalid(
            "zoneConfig.nameServers needs at least one name server for a primary zone",
        ));
    }
    check_list_len("nameServers", config.name_servers.len())?;
    for (i, ns) in config.name_servers.iter().enumerate() {
        check_target(ns).map_err(|e| invalid(format!("nameServers[{i}] {e}")))?;
    }
    check_list_len("nameServerIps", config.name_server_ips.len())?;
    let mut glue = Vec::new();
    for (name, ip) in &config.name_server_ips {
        check_target(name).map_err(|e| invalid(format!("nameServerIps key {e}")))?;
        let ip: IpAddr = ip.parse().map_err(|_| {
            invalid(format!(
                "nameServerIps[{}] must be an IP address, got {}",
                printable(name),
                printable(ip)
            ))
        })?;
        glue.push((name.clone(), ip));
    }
    if config.records.len() > 10_000 {
        return Err(invalid(
            "zoneConfig.records: at most 10000 records at creation",
        ));
    }
    let records = config
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| validate_record(i, r).map_err(invalid))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ZoneFile {
        ttl,
        soa: Soa {
            primary_ns: soa.primary_ns.clone(),
            admin_email: soa.admin_email.clone(),
            serial: soa.serial.unwrap_or_else(|| zone_file::default_serial(now)),
            refresh: soa.refresh.unwrap_or(zone_file::DEFAULT_REFRESH),
            retry: soa.retry.unwrap_or(zone_file::DEFAULT_RETRY),
            expire: soa.expire.unwrap_or(zone_file::DEFAULT_EXPIRE),
            negative_ttl: soa.negative_ttl.unwrap_or(zone_file::DEFAULT_NEGATIVE_TTL),
        },
        name_servers: config.name_servers.clone(),
        glue,
        records,
    })
}

pub fn plan_modify(request: &ModifyZoneRequest) -> Result<ModifyPlan, ZoneError> {
    if request.also_notify.is_none()
        && request.allow_transfer.is_none()
        && request.allow_update.is_none()
        && request.dnssec_policy.is_none()
        && request.inline_signing.is_none()
        && request.primaries.is_none()
    {
        return Err(invalid(
            "At least one field (alsoNotify, allowTransfer, allowUpdate, dnssecPolicy, \
             inlineSigning, or primaries) must be provided",
        ));
    }
    let primaries = request
        .primaries
        .as_deref()
        .map(|l| endpoints("primaries", l))
        .transpose()?;
    if primaries.as_ref().is_some_and(Vec::is_empty) {
        return Err(invalid(
            "primaries cannot be empty: a secondary zone needs at least one primary server",
        ));
    }
    Ok(ModifyPlan {
        dnssec_policy: request
            .dnssec_policy
            .as_deref()
            .map(|p| {
                if p.eq_ignore_ascii_case(POLICY_NONE) {
                    Ok(PolicyChange::Remove)
                } else {
                    conf_name("dnssecPolicy", p).map(PolicyChange::Use)
                }
            })
            .transpose()?,
        inline_signing: request.inline_signing,
        primaries,
        also_notify: request
            .also_notify
            .as_deref()
            .map(|l| endpoints("alsoNotify", l))
            .transpose()?,
        allow_transfer: request
            .allow_transfer
            .as_deref()
            .map(|l| address_matches("allowTransfer", l))
            .transpose()?,
        allow_update: request
            .allow_update
            .as_deref()
            .map(|l| address_matches("allowUpdate", l))
            .transpose()?,
    })
}

fn check_list_len(field: &str, len: usize) -> Result<(), ZoneError> {
    if len > MAX_LIST {
        return Err(invalid(format!("{field}: at most {MAX_LIST} entries")));
    }
    Ok(())
}

fn endpoints(field: &str, list: &[String]) -> Result<Vec<Endpoint>, ZoneError> {
    check_list_len(field, list.len())?;
    list.iter()
        .map(|raw| {
            Endpoint::parse(raw).ok_or_else(|| {
                invalid(format!(
                    "{field} contains an invalid entry: {} (expected \"<ip>\", \"<ipv4>:<port>\" or \"[<ipv6>]:<port>\")",
                    printable(raw)
                ))
            })
        })
        .collect()
}

fn address_matches(field: &str, list: &[String]) -> Result<Vec<AddressMatch>, ZoneError> {
    check_list_len(field, list.len())?;
    list.iter()
        .map(|raw| {
            AddressMatch::parse(raw).ok_or_else(|| {
                invalid(format!(
                    "{field} contains an invalid IP address: {} (expected an address or a CIDR prefix)",
                    printable(raw)
                ))
            })
        })
        .collect()
}

fn conf_name(field: &str, raw: &str) -> Result<ConfName, ZoneError> {
    ConfName::parse(raw).ok_or_else(|| {
        invalid(format!(
            "{field} must be 1-253 characters of A-Z a-z 0-9 . - _, got {}",
            printable(raw)
        ))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::zones::request::{DnsRecord, SoaRecord, ZoneConfig};
    use std::path::PathBuf;

    fn dir() -> ZoneDir {
        let path: PathBuf =
            std::env::temp_dir().join(format!("bindcar-plan-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        ZoneDir::open(&path).unwrap()
    }

    fn request(zone_type: ZoneType) -> CreateZoneRequest {
        CreateZoneRequest {
            zone_name: "Example.TEST.".into(),
            zone_type,
            update_key_name: None,
            zone_config: ZoneConfig {
                ttl: Some(300),
                soa: Some(SoaRecord {
                    primary_ns: "ns1.example.test.".into(),
                    admin_email: "hostmaster.example.test.".into(),
                    serial: Some(7),
                    refresh: None,
                    retry: None,
                    expire: None,
                    negative_ttl: None,
                }),
                name_servers: vec!["ns1.example.test.".into()],
                name_server_ips: [("ns1.example.test.".to_string(), "2001:db8::53".to_string())]
                    .into(),
                records: vec![DnsRecord {
                    name: "www".into(),
                    record_type: "A".into(),
                    value: "192.0.2.1".into(),
                    ttl: None,
                    priority: None,
                }],
                primaries: Some(vec!["192.0.2.9".into()]),
                ..ZoneConfig::default()
            },
        }
    }

    #[test]
    fn primary_plan_has_file_and_options() {
        let dir = dir();
        let plan = plan_create(&request(ZoneType::Primary), &dir, SystemTime::now()).unwrap();
        assert_eq!(plan.zone.as_str(), "example.test");
        // primaries are ignored for a primary zone, as bindcar does
        assert!(plan.options.primaries.is_empty());
        assert_eq!(plan.options.file, dir.root().join("example.test.zone"));
        let file = plan.zone_file.unwrap();
        assert!(file.contains("    7  ; Serial"), "{file}");
        assert!(
            file.contains("ns1.example.test. IN AAAA 2001:db8::53"),
            "{file}"
        );
        assert!(file.contains("www IN A 192.0.2.1"), "{file}");
    }

    #[test]
    fn secondary_plan_needs_primaries_and_takes_an_update_key() {
        let dir = dir();
        let plan = plan_create(&request(ZoneType::Secondary), &dir, SystemTime::now()).unwrap();
        assert!(plan.zone_file.is_none());
        assert!(plan.options.render().contains("primaries { 192.0.2.9; };"));
        let mut no_primaries = request(ZoneType::Secondary);
        no_primaries.zone_config.primaries = None;
        assert!(plan_create(&no_primaries, &dir, SystemTime::now()).is_err());
        let mut keyed = request(ZoneType::Secondary);
        keyed.update_key_name = Some("rndc-key".into());
        let plan = plan_create(&keyed, &dir, SystemTime::now()).unwrap();
        // bindcar's order: type, file, primaries, allow-update
        assert!(plan
            .options
            .render()
            .contains("primaries { 192.0.2.9; }; allow-update { key \"rndc-key\"; };"));
    }

    #[test]
    fn catalog_defaults_fill_only_what_the_request_leaves_out() {
        let dir = dir();
        let defaults = MemberDefaults {
            also_notify: vec![Endpoint::parse("127.0.0.1:5301").unwrap()],
            allow_transfer: Some(vec![AddressMatch::parse("127.0.0.1").unwrap()]),
            transfer_key: ConfName::parse("rndc-key"),
        };
        let block = |r: &CreateZoneRequest| {
            plan_create_with(r, &dir, SystemTime::now(), &defaults)
                .unwrap()
                .options
                .render()
        };
        let silent = request(ZoneType::Primary);
        assert!(block(&silent).contains(
            "also-notify { 127.0.0.1 port 5301; }; allow-transfer { key \"rndc-key\"; 127.0.0.1; };"
        ));
        let mut explicit = request(ZoneType::Primary);
        explicit.zone_config.also_notify = Some(vec![]);
        explicit.zone_config.allow_transfer = Some(vec!["10.0.0.0/8".into()]);
        let text = block(&explicit);
        assert!(!text.contains("also-notify"), "{text}");
        assert!(text.contains("allow-transfer { 10.0.0.0/8; };"), "{text}");
        // without a catalog, nothing is added
        let plain = plan_create(&silent, &dir, SystemTime::now()).unwrap();
        assert!(!plain.options.render().contains("also-notify"));
    }

    #[test]
    fn modify_needs_a_field_and_valid_addresses() {
        assert!(plan_modify(&ModifyZoneRequest::default()).is_err());
        let plan = plan_modify(&ModifyZoneRequest {
            allow_transfer: Some(vec![]),
            ..ModifyZoneRequest::default()
        })
        .unwrap();
        assert_eq!(plan.allow_transfer, Some(vec![]));
        assert!(plan_modify(&ModifyZoneRequest {
            allow_update: Some(vec!["any".into()]),
            ..ModifyZoneRequest::default()
        })
        .is_err());
    }

    #[test]
    fn modify_reads_dnssec_and_primaries() {
        let plan = |r: ModifyZoneRequest| plan_modify(&r);
        let policy = |p: &str| {
            plan(ModifyZoneRequest {
                dnssec_policy: Some(p.into()),
                ..ModifyZoneRequest::default()
            })
            .map(|p| p.dnssec_policy)
        };
        assert_eq!(
            policy("default"),
            Ok(Some(PolicyChange::Use(ConfName::parse("default").unwrap())))
        );
        assert_eq!(policy("None"), Ok(Some(PolicyChange::Remove)));
        // an injected name never reaches named
        for bad in ["a\"; }; allow-transfer { any; }; x \"", "", "two words"] {
            assert!(
                matches!(policy(bad), Err(ZoneError::Invalid(m)) if m.contains("dnssecPolicy")),
                "{bad}"
            );
        }
        let inline = plan(ModifyZoneRequest {
            inline_signing: Some(false),
            ..ModifyZoneRequest::default()
        })
        .unwrap();
        assert_eq!(inline.inline_signing, Some(false));
        assert_eq!(inline.dnssec_policy, None);
        let primaries = plan(ModifyZoneRequest {
            primaries: Some(vec!["192.0.2.1:5353".into()]),
            ..ModifyZoneRequest::default()
        })
        .unwrap();
        assert_eq!(
            primaries.primaries.unwrap()[0].to_string(),
            "192.0.2.1 port 5353"
        );
        for bad in [vec![], vec!["ns1.example.test".to_string()]] {
            assert!(plan(ModifyZoneRequest {
                primaries: Some(bad.clone()),
                ..ModifyZoneRequest::default()
            })
            .is_err());
        }
    }
}
