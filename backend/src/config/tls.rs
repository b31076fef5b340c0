//! `BIND_TLS_*`: whether the API is served over TLS, with which files, whether clients must
//! present a certificate (and which ones), how often the files are checked for a renewal.
//! Only the combination is checked here; the files are read by the TLS transport at startup, where
//! an unreadable one stops it naming its variable.

use std::path::PathBuf;
use std::time::Duration;

/// bindcar 0.9.0's default: a cert-manager renewal is served within a minute.
pub const DEFAULT_RELOAD_SECS: u64 = 60;

/// A day: checking less often than daily is no longer "reloading".
const MAX_RELOAD_SECS: u64 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `BIND_TLS_CERT`: PEM chain, leaf first.
    pub cert: PathBuf,
    /// `BIND_TLS_KEY`: PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// `BIND_TLS_CLIENT_CA`: mutual TLS, clients must present a certificate chaining to it.
    pub client_ca: Option<PathBuf>,
    /// `BIND_TLS_ALLOWED_CLIENTS`: the client certificates admitted, by name (a URI or DNS
    /// subject alternative name, or the subject's common name); empty = any from the CA.
    pub allowed_clients: Vec<String>,
    /// `BIND_TLS_RELOAD_INTERVAL`; `None` = no periodic check (SIGHUP still reloads).
    pub reload_every: Option<Duration>,
}

impl TlsSettings {
    /// Whether only named client certificates get through the handshake: then mutual TLS
    /// is an authentication the listen guard can count (see `guards`).
    pub fn restricts_clients(&self) -> bool {
        self.client_ca.is_some() && !self.allowed_clients.is_empty()
    }
}

/// The raw values (empty = unset, as bindcar: a manifest's `""` must not half-configure TLS).
#[derive(Debug, Clone, Default)]
pub struct TlsVars<'a> {
    pub cert: Option<&'a str>,
    pub key: Option<&'a str>,
    pub client_ca: Option<&'a str>,
    pub allowed_clients: &'a str,
    pub reload_secs: u64,
}

/// `None`: plain HTTP. Half a configuration is an error naming what is missing.
pub fn resolve(vars: &TlsVars<'_>) -> Result<Option<TlsSettings>, String> {
    let set = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let (cert, key, client_ca) = (set(vars.cert), set(vars.key), set(vars.client_ca));
    let allowed_clients: Vec<String> = vars
        .allowed_clients
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if vars.reload_secs > MAX_RELOAD_SECS {
        return Err(format!(
            "BIND_TLS_RELOAD_INTERVAL must be 0 (no periodic check) to {MAX_RELOAD_SECS} seconds"
        ));
    }
    let (cert, key) = match (cert, key) {
        (Some(cert), Some(key)) => (cert, key),
        (Some(_), None) => {
            return Err(
                "BIND_TLS_CERT is set but BIND_TLS_KEY is not: set both to serve \
                        HTTPS, or neither to serve plain HTTP"
                    .into(),
            )
        }
        (None, Some(_)) => {
            return Err(
                "BIND_TLS_KEY is set but BIND_TLS_CERT is not: set both to serve \
                        HTTPS, or neither to serve plain HTTP"
                    .into(),
            )
        }
        (None, None) => {
            if client_ca.is_some() {
                return Err(
                    "BIND_TLS_CLIENT_CA (mutual TLS) is set without BIND_TLS_CERT and \
                            BIND_TLS_KEY: the server needs its own certificate first"
                        .into(),
                );
            }
            if !allowed_clients.is_empty() {
                return Err(
                    "BIND_TLS_ALLOWED_CLIENTS is set without TLS: it names client \
                            certificates, which needs BIND_TLS_CERT, BIND_TLS_KEY and \
                            BIND_TLS_CLIENT_CA"
                        .into(),
                );
            }
            return Ok(None);
        }
    };
    if client_ca.is_none() && !allowed_clients.is_empty() {
        return Err(
            "BIND_TLS_ALLOWED_CLIENTS needs BIND_TLS_CLIENT_CA: without mutual TLS \
                    clients present no certificate to check"
                .into(),
        );
    }
    if let Some(bad) = allowed_clients
        .iter()
        .find(|c| c.len() > 1024 || c.chars().any(char::is_control))
    {
        return Err(format!(
            "BIND_TLS_ALLOWED_CLIENTS: {bad:?} cannot be a certificate name"
        ));
    }
    Ok(Some(TlsSettings {
        cert,
        key,
        client_ca,
        allowed_clients,
        reload_every: (vars.reload_secs > 0).then(|| Duration::from_secs(vars.reload_secs)),
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn vars<'a>(
        cert: &'a str,
        key: &'a str,
        client_ca: &'a str,
        allowed_clients: &'a str,
    ) -> TlsVars<'a> {
        TlsVars {
            cert: Some(cert),
            key: Some(key),
            client_ca: Some(client_ca),
            allowed_clients,
            reload_secs: DEFAULT_RELOAD_SECS,
        }
    }

    #[test]
    fn nothing_set_or_only_empty_values_is_plain_http() {
        assert_eq!(resolve(&TlsVars::default()), Ok(None));
        assert_eq!(resolve(&vars("", " ", "", " , ")), Ok(None));
    }

    #[test]
    fn cert_and_key_give_tls_with_the_default_reload() {
        let settings = resolve(&vars("/t/tls.crt", "/t/tls.key", "", ""))
            .unwrap()
            .unwrap();
        assert_eq!(settings.cert, PathBuf::from("/t/tls.crt"));
        assert_eq!(settings.key, PathBuf::from("/t/tls.key"));
        assert_eq!(settings.client_ca, None);
        assert_eq!(settings.reload_every, Some(Duration::from_secs(60)));
        assert!(!settings.restricts_clients());
        let off = resolve(&TlsVars {
            reload_secs: 0,
            ..vars("/c", "/k", "", "")
        })
        .unwrap()
        .unwrap();
        assert_eq!(off.reload_every, None);
    }

    #[test]
    fn half_a_configuration_names_what_is_missing() {
        let error = resolve(&vars("/c", "", "", "")).unwrap_err();
        assert!(
            error.starts_with("BIND_TLS_CERT is set but BIND_TLS_KEY is not"),
            "{error}"
        );
        let error = resolve(&vars("", "/k", "", "")).unwrap_err();
        assert!(
            error.starts_with("BIND_TLS_KEY is set but BIND_TLS_CERT is not"),
            "{error}"
        );
        let error = resolve(&vars("", "", "/ca", "")).unwrap_err();
        assert!(
            error.starts_with("BIND_TLS_CLIENT_CA (mutual TLS) is set without"),
            "{error}"
        );
        let error = resolve(&vars("", "", "", "bindy")).unwrap_err();
        assert!(
            error.starts_with("BIND_TLS_ALLOWED_CLIENTS is set without TLS"),
            "{error}"
        );
        let error = resolve(&vars("/c", "/k", "", "bindy")).unwrap_err();
        assert!(
            error.starts_with("BIND_TLS_ALLOWED_CLIENTS needs BIND_TLS_CLIENT_CA"),
            "{error}"
        );
    }

    #[test]
    fn mutual_tls_with_an_allowlist_restricts_clients() {
        let settings = resolve(&vars(
            "/c",
            "/k",
            "/ca",
            " bindy , spiffe://cluster.local/ns/dns-system/sa/bindy,,",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(settings.client_ca, Some(PathBuf::from("/ca")));
        assert_eq!(
            settings.allowed_clients,
            ["bindy", "spiffe://cluster.local/ns/dns-system/sa/bindy"]
        );
        assert!(settings.restricts_clients());
        let any = resolve(&vars("/c", "/k", "/ca", "")).unwrap().unwrap();
        assert!(!any.restricts_clients(), "any certificate of the CA");
        assert!(resolve(&vars("/c", "/k", "/ca", "a\u{7}b")).is_err());
    }

    #[test]
    fn the_reload_interval_is_bounded() {
        let error = resolve(&TlsVars {
            reload_secs: 86_401,
            ..vars("/c", "/k", "", "")
        })
        .unwrap_err();
        assert!(error.starts_with("BIND_TLS_RELOAD_INTERVAL"), "{error}");
        // Checked even without TLS: a typo should not wait for the day TLS is turned on.
        assert!(resolve(&TlsVars {
            reload_secs: u64::MAX,
            ..TlsVars::default()
        })
        .is_err());
    }
}
