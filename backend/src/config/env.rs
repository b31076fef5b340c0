//! Building the `Config` from the command line and environment (clap has already read both):
//! every value checked, the startup guards applied.

use std::time::Duration;

use bindcar_policy::cache::CacheSettings;

use super::authz;
use super::cli::{AuthModeArg, AuthzModeArg, Cli};
use super::guards;
use super::rndc_conf;
use super::settings::{AuthSettings, Config, KubeSource, TokenReviewSettings};

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
        let auth = auth_settings(cli)?;
        let allow_insecure = cli.allow_insecure_auth || cli.i_know_this_is_insecure;
        guards::check_listen_posture(&cli.address, &auth, allow_insecure)?;
        Ok(Config {
            address: cli.address.clone(),
            port: cli.port,
            zone_dir: cli.zone_dir.clone(),
            rndc,
            rndc_timeout: Duration::from_secs(cli.rndc_timeout_secs),
            auth,
        })
    }
}

fn auth_settings(cli: &Cli) -> Result<AuthSettings, String> {
    if cli.disable_auth {
        if nonempty(&cli.api_token).is_some() {
            tracing::warn!("DISABLE_AUTH=true: BIND_API_TOKEN is ignored");
        }
        return Ok(AuthSettings::Disabled);
    }
    if let Some(token) = nonempty(&cli.api_token) {
        if cli.auth_mode == AuthModeArg::Tokenreview {
            return Err(
                "refusing to start: both BIND_API_TOKEN and BIND_AUTH_MODE=tokenreview are set; \
                 unset BIND_API_TOKEN to use TokenReview, or BIND_AUTH_MODE to use the shared secret"
                    .into(),
            );
        }
        return Ok(AuthSettings::SharedSecret(token.as_bytes().to_vec()));
    }
    if cli.auth_mode != AuthModeArg::Tokenreview && cli.authz_mode != AuthzModeArg::None {
        return Err(
            "refusing to start: BIND_AUTHZ_MODE needs an identity to authorize; set \
             BIND_AUTH_MODE=tokenreview (or BIND_AUTHZ_MODE=none)"
                .into(),
        );
    }
    match cli.auth_mode {
        AuthModeArg::Basic => Ok(AuthSettings::Basic),
        AuthModeArg::Tokenreview => {
            let policy = guards::access_policy(
                list(&cli.token_audiences),
                list(&cli.allowed_namespaces),
                list(&cli.allowed_service_accounts),
                cli.allow_any_service_account,
            )?;
            let kube = match (
                nonempty(&cli.kube_api_server),
                &cli.kube_token_path,
                &cli.kube_ca_cert_path,
            ) {
                (Some(server), Some(token), Some(ca)) => KubeSource::Explicit {
                    server: server.to_string(),
                    token_path: token.clone(),
                    ca_path: ca.clone(),
                },
                (None, None, None) => KubeSource::Inferred,
                _ => return Err(
                    "KUBE_API_SERVER, KUBE_TOKEN_PATH and KUBE_CA_CERT_PATH must be set together \
                         (or none of them, to use KUBECONFIG or the in-cluster configuration)"
                        .into(),
                ),
            };
            if cli.token_review_timeout_secs == 0 {
                return Err("BIND_TOKEN_REVIEW_TIMEOUT_SECS must be at least 1".into());
            }
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
    }
}
