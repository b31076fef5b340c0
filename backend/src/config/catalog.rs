//! `BIND_CATALOG_ZONE` and `BIND_CATALOG_SECONDARIES`: the catalog zone (RFC 9432) this API
//! keeps for its secondaries, checked once at startup.

use super::update::UpdateSettings;
use crate::bind::{AddressMatch, Endpoint, ZoneName};

/// The longest catalog name whose member names fit a DNS name (253): a member is
/// `<32 hex>.zones.<catalog>`.
const MAX_CATALOG_NAME: usize = 253 - 32 - ".zones.".len();

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogSettings {
    pub zone: ZoneName,
    /// Who gets NOTIFY and may transfer the catalog and its members.
    pub secondaries: Vec<Endpoint>,
    /// `BIND_CATALOG_ALLOW_TRANSFER`: who may transfer instead of the secondaries' addresses.
    pub allow_transfer: Option<Vec<AddressMatch>>,
}

fn comma_list(raw: Option<&str>) -> Vec<&str> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// `zone`: `BIND_CATALOG_ZONE` (unset or empty: no catalog); `secondaries` and
/// `allow_transfer`: the comma lists.
pub fn resolve(
    zone: Option<&str>,
    secondaries: Option<&str>,
    allow_transfer: Option<&str>,
    update: &UpdateSettings,
) -> Result<Option<CatalogSettings>, String> {
    let zone = zone.map(str::trim).filter(|z| !z.is_empty());
    let listed = comma_list(secondaries);
    let acl = comma_list(allow_transfer);
    let Some(raw) = zone else {
        if !listed.is_empty() || !acl.is_empty() {
            return Err(
                "BIND_CATALOG_SECONDARIES or BIND_CATALOG_ALLOW_TRANSFER is set but \
                 BIND_CATALOG_ZONE is not: they are the catalog zone's; name it (e.g. \
                 BIND_CATALOG_ZONE=catalog.bindcar.invalid)"
                    .into(),
            );
        }
        return Ok(None);
    };
    let zone = ZoneName::parse(raw).map_err(|e| format!("BIND_CATALOG_ZONE {raw:?}: {e}"))?;
    if zone.as_str().len() > MAX_CATALOG_NAME {
        return Err(format!(
            "BIND_CATALOG_ZONE {zone}: at most {MAX_CATALOG_NAME} characters (its members' names \
             must fit in 253)"
        ));
    }
    if let Err(why) = &update.key {
        return Err(format!(
            "BIND_CATALOG_ZONE needs a TSIG key the DNS client can sign with (members are added \
             by RFC 2136 UPDATE): {why}"
        ));
    }
    let secondaries = listed
        .iter()
        .map(|raw| {
            Endpoint::parse(raw).ok_or_else(|| {
                format!(
                    "BIND_CATALOG_SECONDARIES: {raw:?} is not \"<ip>\", \"<ipv4>:<port>\" or \
                     \"[<ipv6>]:<port>\""
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if secondaries.len() > 64 || acl.len() > 64 {
        return Err(
            "BIND_CATALOG_SECONDARIES, BIND_CATALOG_ALLOW_TRANSFER: at most 64 entries each".into(),
        );
    }
    let allow_transfer = if acl.is_empty() {
        None
    } else {
        Some(
            acl.iter()
                .map(|raw| {
                    AddressMatch::parse(raw).ok_or_else(|| {
                        format!(
                            "BIND_CATALOG_ALLOW_TRANSFER: {raw:?} is not an IP address or a CIDR \
                             prefix"
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    Ok(Some(CatalogSettings {
        zone,
        secondaries,
        allow_transfer,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::time::Duration;

    use super::*;
    use crate::config::update::TsigKey;

    fn update(key: bool) -> UpdateSettings {
        UpdateSettings {
            server: "127.0.0.1:53".into(),
            key_name: "rndc-key".into(),
            key: if key {
                Ok(TsigKey {
                    algorithm: "hmac-sha256",
                    secret: vec![1; 32],
                })
            } else {
                Err("hmac-sha224 cannot sign".into())
            },
            timeout: Duration::from_secs(1),
            max_records_per_type: 100,
        }
    }

    #[test]
    fn unset_is_off_and_secondaries_need_a_catalog() {
        assert_eq!(resolve(None, None, None, &update(true)), Ok(None));
        assert_eq!(resolve(Some(" "), Some(""), None, &update(true)), Ok(None));
        let err = resolve(None, Some("10.0.0.2"), None, &update(true)).unwrap_err();
        assert!(err.contains("BIND_CATALOG_ZONE"), "{err}");
    }

    #[test]
    fn names_and_secondaries_are_checked() {
        let settings = resolve(
            Some("Catalog.Bindcar.Invalid."),
            Some("10.0.0.2, 10.0.0.3:5353,[2001:db8::1]:53"),
            None,
            &update(true),
        )
        .unwrap()
        .unwrap();
        assert_eq!(settings.zone.as_str(), "catalog.bindcar.invalid");
        let rendered: Vec<String> = settings
            .secondaries
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            rendered,
            ["10.0.0.2", "10.0.0.3 port 5353", "2001:db8::1 port 53"]
        );
        assert_eq!(settings.allow_transfer, None);
        let pods = resolve(
            Some("catalog.invalid"),
            Some("10.96.53.11"),
            Some("10.244.0.0/16"),
            &update(true),
        )
        .unwrap()
        .unwrap();
        assert_eq!(pods.allow_transfer.unwrap()[0].to_string(), "10.244.0.0/16");
        assert!(resolve(Some("catalog.invalid"), None, Some("any"), &update(true)).is_err());
        assert!(resolve(None, None, Some("10.0.0.0/8"), &update(true)).is_err());
        for (zone, list) in [
            ("bad..name", ""),
            ("catalog.invalid", "ns1.example.test"),
            ("catalog.invalid", "10.0.0.2 port 53"),
            (&"a.".repeat(110), ""),
        ] {
            assert!(
                resolve(Some(zone), Some(list), None, &update(true)).is_err(),
                "{zone} {list}"
            );
        }
        let err = resolve(Some("catalog.invalid"), None, None, &update(false)).unwrap_err();
        assert!(err.contains("TSIG"), "{err}");
    }
}
