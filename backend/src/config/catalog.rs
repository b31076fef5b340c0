//! `BIND_CATALOG_ZONE` and `BIND_CATALOG_SECONDARIES`: the catalog zone (RFC 9432) this API
//! keeps for its secondaries, checked once at startup.

use super::update::UpdateSettings;
use crate::bind::{Endpoint, ZoneName};

/// The longest catalog name whose member names fit a DNS name (253): a member is
/// `<32 hex>.zones.<catalog>`.
const MAX_CATALOG_NAME: usize = 253 - 32 - ".zones.".len();

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogSettings {
    pub zone: ZoneName,
    /// Who gets NOTIFY and may transfer the catalog and its members.
    pub secondaries: Vec<Endpoint>,
}

/// `zone`: `BIND_CATALOG_ZONE` (unset or empty: no catalog); `secondaries`: the comma list.
pub fn resolve(
    zone: Option<&str>,
    secondaries: Option<&str>,
    update: &UpdateSettings,
) -> Result<Option<CatalogSettings>, String> {
    let zone = zone.map(str::trim).filter(|z| !z.is_empty());
    let listed: Vec<&str> = secondaries
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let Some(raw) = zone else {
        if !listed.is_empty() {
            return Err(
                "BIND_CATALOG_SECONDARIES is set but BIND_CATALOG_ZONE is not: the secondaries \
                 follow the catalog zone; name it (e.g. BIND_CATALOG_ZONE=catalog.bindcar.invalid)"
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
    if secondaries.len() > 64 {
        return Err("BIND_CATALOG_SECONDARIES: at most 64 secondaries".into());
    }
    Ok(Some(CatalogSettings { zone, secondaries }))
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
        }
    }

    #[test]
    fn unset_is_off_and_secondaries_need_a_catalog() {
        assert_eq!(resolve(None, None, &update(true)), Ok(None));
        assert_eq!(resolve(Some(" "), Some(""), &update(true)), Ok(None));
        let err = resolve(None, Some("10.0.0.2"), &update(true)).unwrap_err();
        assert!(err.contains("BIND_CATALOG_ZONE"), "{err}");
    }

    #[test]
    fn names_and_secondaries_are_checked() {
        let settings = resolve(
            Some("Catalog.Bindcar.Invalid."),
            Some("10.0.0.2, 10.0.0.3:5353,[2001:db8::1]:53"),
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
        for (zone, list) in [
            ("bad..name", ""),
            ("catalog.invalid", "ns1.example.test"),
            ("catalog.invalid", "10.0.0.2 port 53"),
            (&"a.".repeat(110), ""),
        ] {
            assert!(
                resolve(Some(zone), Some(list), &update(true)).is_err(),
                "{zone} {list}"
            );
        }
        let err = resolve(Some("catalog.invalid"), None, &update(false)).unwrap_err();
        assert!(err.contains("TSIG"), "{err}");
    }
}
