//! Startup guards: postures that would silently grant too much are refused unless a loudly
//! named override is set. Each message says what to set.

use bindcar_policy::access::{AccessPolicy, PostureError};

use std::net::IpAddr;

use super::settings::AuthSettings;
use super::tls::TlsSettings;

/// Guard A: no listening beyond loopback without a credential actually being verified.
/// Mutual TLS counts when `BIND_TLS_ALLOWED_CLIENTS` names the certificates admitted: a CA
/// alone (a cluster issuer, a mesh CA) vouches for every workload it ever signed for, which
/// is TokenReview without an allowlist (guard B's refusal); backend/README.md says why.
pub fn check_listen_posture(
    address: &str,
    auth: &AuthSettings,
    tls: Option<&TlsSettings>,
    allow_insecure: bool,
) -> Result<(), String> {
    let named_clients = tls.is_some_and(TlsSettings::restricts_clients);
    if auth.is_real() || named_clients || allow_insecure || is_loopback(address) {
        return Ok(());
    }
    let mutual_tls_hint = if tls.is_some_and(|t| t.client_ca.is_some()) {
        " Mutual TLS counts only with BIND_TLS_ALLOWED_CLIENTS naming the client certificates \
         admitted (BIND_TLS_CLIENT_CA alone admits anything the CA ever signed)."
    } else {
        ""
    };
    Err(format!(
        "refusing to start: the API would listen on a non-loopback address ({address}) without real \
         authentication (mode: {}). Set BIND_API_TOKEN, or BIND_AUTH_MODE=tokenreview, or mutual TLS \
         with BIND_TLS_CLIENT_CA and BIND_TLS_ALLOWED_CLIENTS, or listen on loopback \
         (BIND_API_ADDRESS=127.0.0.1); if a mesh authenticates in front of this service, set \
         BINDCAR_ALLOW_INSECURE_AUTH=true or pass --i-know-this-is-insecure.{mutual_tls_hint}",
        auth.mode()
    ))
}

/// Guard B (and the allowlists' syntax): the shared policy decides, we word it in env terms.
pub fn access_policy(
    mode: &str,
    audiences: Vec<String>,
    namespaces: Vec<String>,
    service_accounts: Vec<String>,
    allow_any: bool,
) -> Result<AccessPolicy, String> {
    AccessPolicy::new(audiences, namespaces, service_accounts, allow_any).map_err(|e| match e {
        PostureError::NoAllowlist => format!(
            "refusing to start: BIND_AUTH_MODE={mode} but neither BIND_ALLOWED_NAMESPACES nor \
             BIND_ALLOWED_SERVICE_ACCOUNTS is set, so ANY authenticated ServiceAccount in the \
             cluster would get full DNS control. Set an allowlist, or set \
             BIND_ALLOW_ANY_SERVICEACCOUNT=true to accept that explicitly."
        ),
        PostureError::NoAudiences => "refusing to start: BIND_TOKEN_AUDIENCES is empty; TokenReview \
            needs at least one audience (e.g. bindcar), or every pod's default token would pass."
            .to_string(),
        PostureError::BadNamespace(ns) => format!(
            "BIND_ALLOWED_NAMESPACES: {ns:?} is not a valid namespace name"
        ),
        PostureError::BadServiceAccount(sa) => format!(
            "BIND_ALLOWED_SERVICE_ACCOUNTS: {sa:?} is not of the form system:serviceaccount:<namespace>:<name>"
        ),
    })
}

/// `serviceaccount.identity.<namespace>.<trust domain>` (what follows `<sa>.<ns>.` in a
/// Linkerd identity), both parts checked as DNS names.
pub fn linkerd_identity_domain(namespace: &str, trust_domain: &str) -> Result<String, String> {
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !label(namespace) {
        return Err(format!(
            "BIND_LINKERD_CONTROL_PLANE_NAMESPACE: {namespace:?} is not a namespace name"
        ));
    }
    let trust_domain = trust_domain.trim_end_matches('.');
    if trust_domain.len() > 253 || !trust_domain.split('.').all(label) {
        return Err(format!(
            "BIND_LINKERD_TRUST_DOMAIN: {trust_domain:?} is not a domain name (e.g. cluster.local)"
        ));
    }
    Ok(format!(
        "serviceaccount.identity.{namespace}.{trust_domain}"
    ))
}

/// `localhost` or a loopback address.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn non_loopback_needs_real_auth_or_the_override() {
        let check =
            |address, auth: &AuthSettings, allow| check_listen_posture(address, auth, None, allow);
        assert!(check("0.0.0.0", &AuthSettings::Basic, false).is_err());
        assert!(check("0.0.0.0", &AuthSettings::disabled(), false).is_err());
        assert!(check("0.0.0.0", &AuthSettings::disabled(), true).is_ok());
        assert!(check("127.0.0.1", &AuthSettings::Basic, false).is_ok());
        assert!(check("localhost", &AuthSettings::disabled(), false).is_ok());
        assert!(check("::1", &AuthSettings::Basic, false).is_ok());
        assert!(check("0.0.0.0", &AuthSettings::SharedSecret(b"x".to_vec()), false).is_ok());
        let message = check("10.0.0.1", &AuthSettings::Basic, false).unwrap_err();
        assert!(
            message.contains("BINDCAR_ALLOW_INSECURE_AUTH=true")
                && message.contains("BIND_API_TOKEN")
        );
    }

    fn tls(client_ca: Option<&str>, allowed: &[&str]) -> TlsSettings {
        TlsSettings {
            cert: "/c".into(),
            key: "/k".into(),
            client_ca: client_ca.map(Into::into),
            allowed_clients: allowed.iter().map(|s| s.to_string()).collect(),
            reload_every: None,
        }
    }

    #[test]
    fn mutual_tls_counts_only_with_named_clients() {
        let named = tls(Some("/ca"), &["bindy"]);
        for auth in [AuthSettings::Basic, AuthSettings::disabled()] {
            assert!(check_listen_posture("0.0.0.0", &auth, Some(&named), false).is_ok());
        }
        // Server TLS protects the token on the wire; it authenticates nobody.
        let message = check_listen_posture(
            "0.0.0.0",
            &AuthSettings::Basic,
            Some(&tls(None, &[])),
            false,
        )
        .unwrap_err();
        assert!(!message.contains("Mutual TLS counts only"), "{message}");
        // Any certificate of a CA is not a decision about who may call.
        let message = check_listen_posture(
            "0.0.0.0",
            &AuthSettings::disabled(),
            Some(&tls(Some("/ca"), &[])),
            false,
        )
        .unwrap_err();
        assert!(
            message.contains("BIND_TLS_ALLOWED_CLIENTS naming the client certificates"),
            "{message}"
        );
    }

    #[test]
    fn tokenreview_needs_an_allowlist_or_allow_any() {
        let aud = vec!["bindcar".to_string()];
        let message = access_policy("tokenreview", aud.clone(), vec![], vec![], false).unwrap_err();
        assert!(
            message.contains("BIND_ALLOW_ANY_SERVICEACCOUNT=true"),
            "{message}"
        );
        assert!(access_policy("tokenreview", aud.clone(), vec![], vec![], true).is_ok());
        let ns = vec!["dns-system".to_string()];
        assert!(access_policy("tokenreview", aud.clone(), ns, vec![], false).is_ok());
        assert!(access_policy("linkerd", aud, vec![], vec!["bob".into()], false).is_err());
        assert!(access_policy("tokenreview", vec![], vec!["dns".into()], vec![], false).is_err());
    }
}
