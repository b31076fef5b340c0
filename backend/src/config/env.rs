//! Building the `Config` from the command line and environment (clap has already read both):
//! every value checked, the startup guards applied.

use std::num::NonZeroU32;
use std::time::Duration;

use bindcar_policy::bearer::{is_token68, MAX_TOKEN_LEN};
use bindcar_policy::cache::CacheSettings;

use super::authz;
use super::cli::{AuthModeArg, AuthzModeArg, Cli};
use super::guards;
use super::rndc_conf;
use super::settings::{
    AuthSettings, Config, ConnectionSettings, KubeSource, LinkerdSettings, RateLimitSettings,
    TokenReviewSettings,
};
use super::tls;

fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn nonempty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl Config {
    /// Validates everything and applies the startup guards; the error says what to set.
    pub fn from_cli(cli: &Cli) -> Result<Config, String> {
        let rndc = rndc_conf::resolve(
            cli.rndc_server.as_deref(),
            cli.rndc_algorithm.as_deref(),
            cli.rndc_secret.as_deref(),
            cli.rndc_conf.as_deref(),
        )?;
        if cli.rndc_timeout_secs == 0 {
            return Err("RNDC_TIMEOUT_SECS must be at least 1".into());
        }
        if cli.reconcile_secs == 0 {
            return Err("BIND_RECONCILE_SECS must be at least 1".into());
        }
        let (auth, auth_reason) = auth_settings(cli)?;
        let rate_limit = rate_limit_settings(cli)?;
        let tls = tls::resolve(&tls::TlsVars {
            cert: cli.tls_cert.as_deref(),
            key: cli.tls_key.as_deref(),
            client_ca: cli.tls_client_ca.as_deref(),
            allowed_clients: &cli.tls_allowed_clients,
            reload_secs: cli.tls_reload_interval,
        })?;
        if matches!(auth, AuthSettings::Linkerd(_)) && tls.is_some() {
            // The proxy would see only TLS bytes: no l5d-client-id could ever be added.
            return Err(
                "refusing to start: BIND_AUTH_MODE=linkerd with BIND_TLS_CERT: Linkerd's proxy adds \
                 l5d-client-id only to plain HTTP, and the mesh already encrypts with mTLS; unset \
                 BIND_TLS_CERT and BIND_TLS_KEY"
                    .into(),
            );
        }
        let allow_insecure = cli.allow_insecure_auth || cli.i_know_this_is_insecure;
        guards::check_listen_posture(&cli.address, &auth, tls.as_ref(), allow_insecure)?;
        let update = super::update::resolve(cli, &rndc)?;
        let connections = connection_settings(cli)?;
        let catalog = super::catalog::resolve(
            cli.catalog_zone.as_deref(),
            cli.catalog_secondaries.as_deref(),
            cli.catalog_allow_transfer.as_deref(),
            &update,
        )?;
        Ok(Config {
            address: cli.address.clone(),
            port: cli.port,
            zone_dir: cli.zone_dir.clone(),
            rndc,
            rndc_timeout: Duration::from_secs(cli.rndc_timeout_secs),
            stats_url: nonempty(&cli.stats_url).map(str::to_owned),
            reconcile_every: Duration::from_secs(cli.reconcile_secs),
            auth,
            enable_docs: cli.enable_docs,
            rate_limit,
            auth_reason,
            update,
            connections,
            tls,
            catalog,
        })
    }
}

/// `BIND_API_MAX_CONNECTIONS*` and the connection timeouts: every value at least 1 (a zero
/// would refuse every client or close every connection at once), and a per-client cap no
/// larger than the total.
fn connection_settings(cli: &Cli) -> Result<ConnectionSettings, String> {
    let max_connections = cli
        .max_connections
        .unwrap_or(ConnectionSettings::DEFAULT_MAX_CONNECTIONS);
    // Behind the mesh every connection comes from the sidecar: one client, whose share is
    // the whole.
    let default_per_client = if cli.disable_auth {
        max_connections
    } else {
        ConnectionSettings::DEFAULT_MAX_PER_CLIENT.min(max_connections)
    };
    let max_per_client = cli.max_connections_per_client.unwrap_or(default_per_client);
    for (name, value) in [
        ("BIND_API_MAX_CONNECTIONS", u64::from(max_connections)),
        (
            "BIND_API_MAX_CONNECTIONS_PER_CLIENT",
            u64::from(max_per_client),
        ),
        ("BIND_API_HEADER_TIMEOUT_SECS", cli.header_timeout_secs),
        ("BIND_API_BODY_TIMEOUT_SECS", cli.body_timeout_secs),
        ("BIND_API_IDLE_TIMEOUT_SECS", cli.idle_timeout_secs),
    ] {
        if value == 0 {
            return Err(format!("{name} must be at least 1"));
        }
    }
    if max_per_client > max_connections {
        return Err(format!(
            "BIND_API_MAX_CONNECTIONS_PER_CLIENT ({max_per_client}) is larger than \
             BIND_API_MAX_CONNECTIONS ({max_connections})"
        ));
    }
    Ok(ConnectionSettings {
        max_connections,
        max_connections_explicit: cli.max_connections.is_some(),
        max_per_client,
        header_timeout: Duration::from_secs(cli.header_timeout_secs),
        body_timeout: Duration::from_secs(cli.body_timeout_secs),
        idle_timeout: Duration::from_secs(cli.idle_timeout_secs),
    })
}

/// `RATE_LIMIT_*`: every number at least 1 (bindcar refuses zeros too), and a period that
/// divides into a representable interval.
fn rate_limit_settings(cli: &Cli) -> Result<Option<RateLimitSettings>, String> {
    if !cli.rate_limit_enabled {
        return Ok(None);
    }
    let positive = |name: &str, value: u64| -> Result<NonZeroU32, String> {
        u32::try_from(value)
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or_else(|| {
                format!(
                    "{name} must be between 1 and {} (or set RATE_LIMIT_ENABLED=false to turn rate limiting off)",
                    u32::MAX
                )
            })
    };
    let requests = positive("RATE_LIMIT_REQUESTS", cli.rate_limit_requests.into())?;
    let burst = positive("RATE_LIMIT_BURST", cli.rate_limit_burst.into())?;
    // A day is already a generous window; beyond it the interval arithmetic is pointless.
    if cli.rate_limit_period_secs == 0 || cli.rate_limit_period_secs > 86_400 {
        return Err(
            "RATE_LIMIT_PERIOD_SECS must be between 1 and 86400 (or set RATE_LIMIT_ENABLED=false \
             to turn rate limiting off)"
                .into(),
        );
    }
    Ok(Some(RateLimitSettings {
        requests,
        period: Duration::from_secs(cli.rate_limit_period_secs),
        burst,
    }))
}

/// `BIND_API_TOKEN` must be a secret some client can actually send: a blank value would
/// otherwise fall back to basic mode (any token accepted), and one outside token68 or longer
/// than the bearer parser accepts would start a service no client can ever use.
fn api_token(cli: &Cli) -> Result<Option<&str>, String> {
    let Some(raw) = cli.api_token.as_deref() else {
        return Ok(None);
    };
    if raw.is_empty() {
        // Empty = unset, as in bindcar ("shared-secret mode when non-empty").
        return Ok(None);
    }
    let token = raw.trim();
    if token.is_empty() {
        return Err(
            "refusing to start: BIND_API_TOKEN is blank (whitespace only), which would leave the \
             API in basic mode accepting any token; set a real secret, or unset it"
                .into(),
        );
    }
    if !is_token68(token.as_bytes()) {
        return Err(
            "refusing to start: BIND_API_TOKEN contains characters a Bearer token cannot carry \
             (allowed: letters, digits, - . _ ~ + / and trailing =), so no client could ever \
             match it; generate one with e.g. `openssl rand -base64 32`"
                .into(),
        );
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(format!(
            "refusing to start: BIND_API_TOKEN is {} bytes long, over the {MAX_TOKEN_LEN} bytes a \
             Bearer token may have here, so no client could ever match it",
            token.len()
        ));
    }
    Ok(Some(token))
}

/// The authentication mode and why it was chosen (logged at startup). bindcar's image rule:
/// no BIND_API_TOKEN and an allowlist set means TokenReview (bindy's sidecar sets
/// BIND_ALLOWED_SERVICE_ACCOUNTS and nothing else); an explicit BIND_AUTH_MODE wins.
fn auth_settings(cli: &Cli) -> Result<(AuthSettings, &'static str), String> {
    if cli.disable_auth {
        if nonempty(&cli.api_token).is_some() {
            tracing::warn!("DISABLE_AUTH=true: BIND_API_TOKEN is ignored");
        }
        if cli.authz_mode != AuthzModeArg::None {
            return Err(
                "refusing to start: BIND_AUTHZ_MODE needs an identity to authorize, and \
                 DISABLE_AUTH=true checks none (behind the mesh, the filter authorizes)"
                    .into(),
            );
        }
        return Ok((AuthSettings::Disabled, "DISABLE_AUTH=true"));
    }
    // A blank token next to TokenReview (or Linkerd) counts as unset, as before: the mode
    // checks the caller itself.
    let identity_mode = matches!(
        cli.auth_mode,
        Some(AuthModeArg::Tokenreview | AuthModeArg::Linkerd)
    );
    let token = if identity_mode && nonempty(&cli.api_token).is_none() {
        None
    } else {
        api_token(cli)?
    };
    if let Some(token) = token {
        if let Some(mode @ (AuthModeArg::Tokenreview | AuthModeArg::Linkerd)) = cli.auth_mode {
            let mode = mode_name(mode);
            return Err(format!(
                "refusing to start: both BIND_API_TOKEN and BIND_AUTH_MODE={mode} are set; \
                 unset BIND_API_TOKEN to use {mode} mode, or BIND_AUTH_MODE to use the shared secret"
            ));
        }
        if cli.authz_mode != AuthzModeArg::None {
            return Err(
                "refusing to start: BIND_AUTHZ_MODE needs a Kubernetes identity to authorize, \
                 and BIND_API_TOKEN (a shared secret) has none; use BIND_AUTH_MODE=tokenreview"
                    .into(),
            );
        }
        return Ok((
            AuthSettings::SharedSecret(token.as_bytes().to_vec()),
            "BIND_API_TOKEN is set",
        ));
    }
    let allowlist_set = !list(&cli.allowed_namespaces).is_empty()
        || !list(&cli.allowed_service_accounts).is_empty();
    let (mode, reason) = match cli.auth_mode {
        Some(mode) => (mode, "BIND_AUTH_MODE is set"),
        None if allowlist_set => (
            AuthModeArg::Tokenreview,
            "BIND_AUTH_MODE unset, no BIND_API_TOKEN, and an allowlist \
             (BIND_ALLOWED_SERVICE_ACCOUNTS or BIND_ALLOWED_NAMESPACES) is set",
        ),
        None => (
            AuthModeArg::Basic,
            "default: no BIND_AUTH_MODE, BIND_API_TOKEN or allowlist",
        ),
    };
    if mode == AuthModeArg::Basic && cli.authz_mode != AuthzModeArg::None {
        return Err(
            "refusing to start: BIND_AUTHZ_MODE needs an identity to authorize; set \
             BIND_AUTH_MODE=tokenreview or linkerd (or BIND_AUTHZ_MODE=none)"
                .into(),
        );
    }
    let policy = || {
        guards::access_policy(
            mode_name(mode),
            list(&cli.token_audiences),
            list(&cli.allowed_namespaces),
            list(&cli.allowed_service_accounts),
            cli.allow_any_service_account,
        )
    };
    if mode != AuthModeArg::Basic && cli.token_review_timeout_secs == 0 {
        return Err("BIND_TOKEN_REVIEW_TIMEOUT_SECS must be at least 1".into());
    }
    let settings: Result<AuthSettings, String> = match mode {
        AuthModeArg::Basic => Ok(AuthSettings::Basic),
        AuthModeArg::Linkerd => Ok(AuthSettings::Linkerd(Box::new(LinkerdSettings {
            policy: policy()?,
            identity_domain: guards::linkerd_identity_domain(
                &cli.linkerd_control_plane_namespace,
                &cli.linkerd_trust_domain,
            )?,
            kube: kube_source(cli)?,
            timeout: Duration::from_secs(cli.token_review_timeout_secs),
            authz: authz::settings(cli)?,
        }))),
        AuthModeArg::Tokenreview => {
            let policy = policy()?;
            let kube = kube_source(cli)?;
            Ok(AuthSettings::TokenReview(Box::new(TokenReviewSettings {
                policy,
                cache: CacheSettings {
                    ttl: Duration::from_secs(cli.token_cache_ttl_secs),
                    negative_ttl: Duration::from_secs(cli.token_cache_negative_ttl_secs),
                    max_entries: cli.token_cache_max_entries,
                },
                timeout: Duration::from_secs(cli.token_review_timeout_secs),
                kube,
                authz: authz::settings(cli)?,
            })))
        }
    };
    Ok((settings?, reason))
}

fn mode_name(mode: AuthModeArg) -> &'static str {
    match mode {
        AuthModeArg::Basic => "basic",
        AuthModeArg::Tokenreview => "tokenreview",
        AuthModeArg::Linkerd => "linkerd",
    }
}

/// `KUBE_*`: all three, or none (then KUBECONFIG, ~/.kube/config, in-cluster).
fn kube_source(cli: &Cli) -> Result<KubeSource, String> {
    match (
        nonempty(&cli.kube_api_server),
        &cli.kube_token_path,
        &cli.kube_ca_cert_path,
    ) {
        (Some(server), Some(token), Some(ca)) => Ok(KubeSource::Explicit {
            server: server.to_string(),
            token_path: token.clone(),
            ca_path: ca.clone(),
        }),
        (None, None, None) => Ok(KubeSource::Inferred),
        _ => Err(
            "KUBE_API_SERVER, KUBE_TOKEN_PATH and KUBE_CA_CERT_PATH must be set together \
             (or none of them, to use KUBECONFIG or the in-cluster configuration)"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use clap::Parser;

    use super::*;

    fn config(args: &[&str]) -> Result<Config, String> {
        let mut all = vec![
            "bindcar",
            "--rndc-server",
            "127.0.0.1:953",
            "--rndc-algorithm",
            "hmac-sha256",
            "--rndc-secret",
            "c2VjcmV0",
        ];
        all.extend_from_slice(args);
        Config::from_cli(&Cli::try_parse_from(all).map_err(|e| e.to_string())?)
    }

    #[test]
    fn bindy_sidecar_env_chooses_tokenreview_on_any_address() {
        // bindy: no listen address (0.0.0.0), no token, no mode, an allowlist
        let c = config(&[
            "--allowed-service-accounts",
            "system:serviceaccount:dns-system:bindy",
        ])
        .unwrap();
        assert_eq!(c.auth.mode(), "tokenreview");
        assert!(c.auth_reason.contains("allowlist"), "{}", c.auth_reason);
        assert_eq!(c.address, "0.0.0.0");
        let c = config(&["--allowed-namespaces", "dns-system"]).unwrap();
        assert_eq!(c.auth.mode(), "tokenreview");
        // an explicit mode wins; a token wins over the allowlist
        let c = config(&[
            "--address",
            "127.0.0.1",
            "--auth-mode",
            "basic",
            "--allowed-namespaces",
            "x",
        ])
        .unwrap();
        assert_eq!(c.auth.mode(), "basic");
        let c = config(&["--api-token", "s3cret", "--allowed-namespaces", "x"]).unwrap();
        assert_eq!(c.auth.mode(), "api-token");
        // nothing set: basic, refused on 0.0.0.0 as before
        assert!(config(&[]).is_err());
        assert_eq!(
            config(&["--address", "127.0.0.1"]).unwrap().auth.mode(),
            "basic"
        );
    }

    #[test]
    fn nsupdate_settings_default_to_the_rndc_key() {
        let c = config(&["--address", "127.0.0.1"]).unwrap();
        assert_eq!(c.update.server, "127.0.0.1:53");
        assert_eq!(c.update.key_name, "rndc-key");
        let key = c.update.key.clone().unwrap();
        assert_eq!(
            (key.algorithm, key.secret.as_slice()),
            ("hmac-sha256", b"secret".as_slice())
        );
        let c = config(&[
            "--address",
            "127.0.0.1",
            "--rndc-key-name",
            "k1",
            "--nsupdate-port",
            "5353",
        ])
        .unwrap();
        assert_eq!(
            (c.update.key_name.as_str(), c.update.server.as_str()),
            ("k1", "127.0.0.1:5353")
        );
        let c = config(&[
            "--address",
            "127.0.0.1",
            "--rndc-key-name",
            "k1",
            "--nsupdate-key-name",
            "k2",
        ])
        .unwrap();
        assert_eq!(c.update.key_name, "k2");
        for weak in ["hmac-md5", "hmac-sha1", "SHA1"] {
            let error =
                config(&["--address", "127.0.0.1", "--nsupdate-algorithm", weak]).unwrap_err();
            assert!(
                error.starts_with(&format!("NSUPDATE_ALGORITHM {weak}:"))
                    && error.contains("MD5 and SHA-1 are refused"),
                "{error}"
            );
        }
        // sha224 passes the policy, but hickory cannot sign with it: refused when explicit,
        // the records API off (not the zone API) when inherited from the rndc key.
        let error = config(&[
            "--address",
            "127.0.0.1",
            "--nsupdate-algorithm",
            "hmac-sha224",
        ])
        .unwrap_err();
        assert!(error.contains("cannot sign"), "{error}");
        let with_rndc_algorithm = |algorithm: &str| {
            Config::from_cli(&cli(&[
                "--address",
                "127.0.0.1",
                "--rndc-server",
                "127.0.0.1:953",
                "--rndc-secret",
                "c2VjcmV0",
                "--rndc-algorithm",
                algorithm,
            ]))
        };
        let c = with_rndc_algorithm("hmac-sha224").unwrap();
        assert!(c.update.key.is_err());
        let error = with_rndc_algorithm("hmac-md5").unwrap_err();
        assert!(error.starts_with("RNDC_ALGORITHM hmac-md5:"), "{error}");
        assert!(config(&["--address", "127.0.0.1", "--nsupdate-secret", "not base64!"]).is_err());
    }

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("bindcar").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn rate_limit_defaults_and_off_switches() {
        let limit = rate_limit_settings(&cli(&[])).unwrap().unwrap();
        assert_eq!(
            (limit.requests.get(), limit.period, limit.burst.get()),
            (600, Duration::from_secs(60), 50)
        );
        for off in ["false", "0", "no", "NO", "False"] {
            let settings = rate_limit_settings(&cli(&["--rate-limit-enabled", off])).unwrap();
            assert_eq!(settings, None, "{off}");
        }
        let error = Cli::try_parse_from(["bindcar", "--rate-limit-enabled", "off"]).unwrap_err();
        assert!(error.to_string().contains("RATE_LIMIT_ENABLED"), "{error}");
        for (flag, name) in [
            ("--rate-limit-requests", "RATE_LIMIT_REQUESTS"),
            ("--rate-limit-period-secs", "RATE_LIMIT_PERIOD_SECS"),
            ("--rate-limit-burst", "RATE_LIMIT_BURST"),
        ] {
            let error = rate_limit_settings(&cli(&[flag, "0"])).unwrap_err();
            assert!(error.starts_with(name), "{error}");
            // Off means off: zeros do not matter then.
            assert_eq!(
                rate_limit_settings(&cli(&[flag, "0", "--rate-limit-enabled", "false"])),
                Ok(None)
            );
        }
    }

    #[test]
    fn the_api_token_must_be_usable() {
        assert_eq!(api_token(&cli(&[])), Ok(None));
        assert_eq!(api_token(&cli(&["--api-token", ""])), Ok(None));
        assert_eq!(
            api_token(&cli(&["--api-token", "abc-DEF_1.2~3+4/5=="])),
            Ok(Some("abc-DEF_1.2~3+4/5=="))
        );
        let blank = api_token(&cli(&["--api-token", "   "])).unwrap_err();
        assert!(blank.contains("BIND_API_TOKEN is blank"), "{blank}");
        for bad in ["two words", "sécret", "a,b", "=abc", "tab\tinside"] {
            let error = api_token(&cli(&["--api-token", bad])).unwrap_err();
            assert!(
                error.contains("BIND_API_TOKEN contains characters"),
                "{bad}: {error}"
            );
        }
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert!(api_token(&cli(&["--api-token", &long])).is_err());
        // The refusal reaches the mode choice; TokenReview still treats a blank one as unset.
        assert!(auth_settings(&cli(&["--api-token", " "])).is_err());
        let review = auth_settings(&cli(&[
            "--api-token",
            " ",
            "--auth-mode",
            "tokenreview",
            "--allowed-namespaces",
            "dns",
        ]))
        .unwrap();
        assert_eq!(review.0.mode(), "tokenreview");
    }

    #[test]
    fn connection_limits_have_defaults_and_refuse_zeros() {
        let c = config(&["--address", "127.0.0.1"]).unwrap().connections;
        assert_eq!(c.max_connections, 1024);
        assert!(!c.max_connections_explicit);
        assert_eq!(c.max_per_client, 256);
        assert_eq!(c.header_timeout, Duration::from_secs(10));
        assert_eq!(c.body_timeout, Duration::from_secs(30));
        assert_eq!(c.idle_timeout, Duration::from_secs(60));
        let c = config(&["--address", "127.0.0.1", "--max-connections", "100"])
            .unwrap()
            .connections;
        assert!(c.max_connections_explicit);
        assert_eq!((c.max_connections, c.max_per_client), (100, 100));
        // behind the mesh (DISABLE_AUTH) the sidecar is the only client
        let c = config(&["--address", "127.0.0.1", "--disable-auth"])
            .unwrap()
            .connections;
        assert_eq!((c.max_connections, c.max_per_client), (1024, 1024));
        for (flag, name) in [
            ("--max-connections", "BIND_API_MAX_CONNECTIONS"),
            (
                "--max-connections-per-client",
                "BIND_API_MAX_CONNECTIONS_PER_CLIENT",
            ),
            ("--header-timeout-secs", "BIND_API_HEADER_TIMEOUT_SECS"),
            ("--body-timeout-secs", "BIND_API_BODY_TIMEOUT_SECS"),
            ("--idle-timeout-secs", "BIND_API_IDLE_TIMEOUT_SECS"),
        ] {
            let error = config(&["--address", "127.0.0.1", flag, "0"]).unwrap_err();
            assert_eq!(error, format!("{name} must be at least 1"));
        }
        let error = config(&[
            "--address",
            "127.0.0.1",
            "--max-connections",
            "10",
            "--max-connections-per-client",
            "11",
        ])
        .unwrap_err();
        assert!(
            error.contains("larger than BIND_API_MAX_CONNECTIONS"),
            "{error}"
        );
    }
}
