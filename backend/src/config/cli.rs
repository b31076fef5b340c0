//! Command line and environment: every setting is a flag with an environment variable of the
//! same meaning (bindcar's names where they overlap), documented by `--help`. Parsed once at
//! startup into `Config`; nothing reads the environment after that.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Other environment variables:
  RUST_LOG        Log filter (tracing EnvFilter syntax), default \"info\". Logs are JSON lines on stdout.
  KUBECONFIG      Kubeconfig used for TokenReview when the KUBE_* variables are not all set
                  (then ~/.kube/config, then the in-cluster service account).

Boolean variables accept true/false, 1/0 or yes/no (any case); anything else is a startup error.

Rate limiting (API routes only, per client address; RATE_LIMIT_ENABLED=false turns it off):
  RATE_LIMIT_REQUESTS per RATE_LIMIT_PERIOD_SECS, replenished evenly (600 per 60 s = one every
  0.1 s), with at most RATE_LIMIT_BURST requests back to back; beyond that 429 with retry-after.

Authentication modes (API routes; /api/v1/health, /api/v1/ready and /metrics are always open):
  DISABLE_AUTH=true            no authentication here (the mesh authenticates; x-remote-user is logged)
  BIND_API_TOKEN=<secret>      shared secret: 'Authorization: Bearer <secret>' (constant-time compare)
  BIND_AUTH_MODE=tokenreview   Kubernetes TokenReview with audiences, allowlists and a verdict cache
  BIND_AUTH_MODE=basic         any well-formed Bearer token; verification is left to the mesh
  BIND_AUTH_MODE=linkerd       the ServiceAccount of Linkerd's l5d-client-id header, taken only from
                               connections inside the pod (the local proxy); same allowlists
  BIND_AUTH_MODE unset         tokenreview if an allowlist is set (bindcar's image), else basic

Authorization (needs BIND_AUTH_MODE=tokenreview or linkerd; the request -> verb/resource/zone table is the filter's):
  BIND_AUTHZ_MODE=none                 (default) every authenticated caller may do everything
  BIND_AUTHZ_MODE=subjectaccessreview  Kubernetes RBAC decides (SubjectAccessReview, cached)
  BIND_AUTHZ_MODE=static               the rules in BIND_AUTHZ_RULES_FILE (JSON or YAML) decide

TLS: BIND_TLS_CERT and BIND_TLS_KEY serve the API over HTTPS only (h2 and http/1.1); BIND_TLS_CLIENT_CA
requires a client certificate chaining to it, BIND_TLS_ALLOWED_CLIENTS names the ones admitted. The
files are checked for a renewal every BIND_TLS_RELOAD_INTERVAL seconds and on SIGHUP. Not with
BIND_AUTH_MODE=linkerd (the mesh encrypts; its proxy adds l5d-client-id only to plain HTTP).

Startup guards: listening on a non-loopback address requires BIND_API_TOKEN, TokenReview, Linkerd
mode, or mutual TLS restricted by BIND_TLS_ALLOWED_CLIENTS unless BINDCAR_ALLOW_INSECURE_AUTH=true or
--i-know-this-is-insecure; TokenReview and Linkerd modes require BIND_ALLOWED_NAMESPACES or
BIND_ALLOWED_SERVICE_ACCOUNTS unless BIND_ALLOW_ANY_SERVICEACCOUNT=true.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthzModeArg {
    /// No authorization: every authenticated caller may do everything.
    None,
    /// Ask the Kubernetes API server (SubjectAccessReview).
    Subjectaccessreview,
    /// Decide from the rules in BIND_AUTHZ_RULES_FILE.
    Static,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthModeArg {
    /// Accept any well-formed Bearer token (bindcar's default).
    Basic,
    /// Validate tokens with the Kubernetes TokenReview API.
    Tokenreview,
    /// The caller's ServiceAccount from Linkerd's mTLS identity (`l5d-client-id`), accepted
    /// only on connections from inside the pod (the local proxy).
    Linkerd,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Run,
    /// Same as run (bindcar's name for managing a BIND outside Kubernetes).
    Drone,
}

#[derive(Debug, Clone, Parser)]
#[command(
    name = "bindcar",
    version,
    about = "HTTP API for BIND9 zones over rndc, compatible with bindcar",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Log at debug level, whatever RUST_LOG says.
    #[arg(short, long, global = true)]
    pub debug: bool,

    /// Start even when the startup guard would refuse (same as BINDCAR_ALLOW_INSECURE_AUTH=true).
    #[arg(long = "i-know-this-is-insecure", global = true)]
    pub i_know_this_is_insecure: bool,

    /// Directory of the zone files; named must see it at the same absolute path.
    #[arg(long, env = "BIND_ZONE_DIR", default_value = "/var/cache/bind")]
    pub zone_dir: PathBuf,

    /// Address to listen on.
    #[arg(long, env = "BIND_API_ADDRESS", default_value = "0.0.0.0")]
    pub address: String,

    /// Port to listen on.
    #[arg(long, env = "API_PORT", default_value_t = 8080)]
    pub port: u16,

    /// named's control channel, host:port [default: rndc.conf's default-server, else 127.0.0.1:953].
    #[arg(long, env = "RNDC_SERVER")]
    pub rndc_server: Option<String>,

    /// HMAC algorithm of the control key: hmac-sha224/256/384/512 [default: the key file's, else hmac-sha256].
    #[arg(long, env = "RNDC_ALGORITHM")]
    pub rndc_algorithm: Option<String>,

    /// Base64 secret of the control key (required unless an rndc.conf/rndc.key provides it).
    #[arg(long, env = "RNDC_SECRET", hide_env_values = true)]
    pub rndc_secret: Option<String>,

    /// rndc.conf or rndc.key file to read the key (and server) from
    /// [default: the first of /etc/bind/rndc.conf, /etc/rndc.conf, /etc/bind/rndc.key].
    #[arg(long, env = "RNDC_CONF")]
    pub rndc_conf: Option<PathBuf>,

    /// Seconds to wait for named to answer one rndc command.
    #[arg(long, env = "RNDC_TIMEOUT_SECS", default_value_t = 10)]
    pub rndc_timeout_secs: u64,

    /// Server that receives the records API's DNS UPDATEs (over TCP).
    #[arg(long, env = "NSUPDATE_SERVER", default_value = "127.0.0.1")]
    pub nsupdate_server: String,

    /// DNS port of that server.
    #[arg(long, env = "NSUPDATE_PORT", default_value_t = 53)]
    pub nsupdate_port: u16,

    /// TSIG key name for updates and zone transfers (default: RNDC_KEY_NAME, then rndc-key).
    #[arg(long, env = "NSUPDATE_KEY_NAME")]
    pub nsupdate_key_name: Option<String>,

    /// Name of the rndc key; the default TSIG key name.
    #[arg(long, env = "RNDC_KEY_NAME")]
    pub rndc_key_name: Option<String>,

    /// TSIG algorithm (hmac-sha256/384/512; default: the rndc algorithm).
    #[arg(long, env = "NSUPDATE_ALGORITHM")]
    pub nsupdate_algorithm: Option<String>,

    /// Base64 TSIG secret (default: the rndc secret).
    #[arg(long, env = "NSUPDATE_SECRET", hide_env_values = true)]
    pub nsupdate_secret: Option<String>,

    /// Time limit of one DNS UPDATE or zone transfer (504 beyond).
    #[arg(long, env = "NSUPDATE_TIMEOUT_SECS", default_value_t = 10)]
    pub nsupdate_timeout_secs: u64,

    /// named's max-records-per-type (0: no limit): RRset replaces with more distinct values
    /// are refused before anything is sent, and an add to a full RRset is a 409 saying so.
    #[arg(long, env = "BIND_MAX_RECORDS_PER_TYPE", default_value_t = 100)]
    pub max_records_per_type: u32,

    /// Catalog zone (RFC 9432) this API keeps: every zone it creates becomes a member, so
    /// secondaries with BIND's `catalog-zones` follow without a call each. Unset: no catalog.
    #[arg(long, env = "BIND_CATALOG_ZONE")]
    pub catalog_zone: Option<String>,

    /// Secondaries of the catalog, comma-separated `ip` or `ip:port`: NOTIFY and transfers of the
    /// catalog and (unless a create request says otherwise) of every zone created.
    #[arg(long, env = "BIND_CATALOG_SECONDARIES")]
    pub catalog_secondaries: Option<String>,

    /// Who may transfer the catalog and its members, comma-separated addresses or CIDR
    /// prefixes, instead of the secondaries' addresses (in Kubernetes, the pod network: a
    /// secondary transfers from its pod's address, not the Service address it is notified at).
    #[arg(long, env = "BIND_CATALOG_ALLOW_TRANSFER")]
    pub catalog_allow_transfer: Option<String>,

    /// named's statistics channel, http://host:port (statistics-channels in named.conf): zone
    /// listings in one request. Unset: listings ask over rndc, a few zones at a time.
    #[arg(long, env = "BIND_STATS_URL")]
    pub stats_url: Option<String>,

    /// Seconds between reconciliations of the zone list with BIND (and sweeps of orphaned
    /// files): the staleness bound of GET /zones for changes made outside this API.
    #[arg(long, env = "BIND_RECONCILE_SECS", default_value_t = 15)]
    pub reconcile_secs: u64,

    /// Authentication mode when DISABLE_AUTH is not set and BIND_API_TOKEN is empty.
    /// Unset: tokenreview when BIND_API_TOKEN is empty and an allowlist
    /// (BIND_ALLOWED_SERVICE_ACCOUNTS / BIND_ALLOWED_NAMESPACES) is set, as bindcar's image
    /// does; basic otherwise.
    #[arg(long, env = "BIND_AUTH_MODE", value_enum, ignore_case = true)]
    pub auth_mode: Option<AuthModeArg>,

    /// Authorization after TokenReview: none, subjectaccessreview or static.
    #[arg(
        long,
        env = "BIND_AUTHZ_MODE",
        value_enum,
        default_value = "none",
        ignore_case = true
    )]
    pub authz_mode: AuthzModeArg,

    /// Authorization: the API group RBAC rules name (resources zones, zones/records, ...).
    #[arg(long, env = "BIND_AUTHZ_GROUP", default_value = "bindcar.dns")]
    pub authz_group: String,

    /// Authorization: the static rules (a JSON or YAML list), for BIND_AUTHZ_MODE=static.
    #[arg(long, env = "BIND_AUTHZ_RULES_FILE")]
    pub authz_rules_file: Option<PathBuf>,

    /// Linkerd mode: the mesh's identity trust domain (Linkerd's identityTrustDomain).
    #[arg(
        long,
        env = "BIND_LINKERD_TRUST_DOMAIN",
        default_value = "cluster.local"
    )]
    pub linkerd_trust_domain: String,

    /// Linkerd mode: the namespace of Linkerd's control plane, part of every identity
    /// (<sa>.<ns>.serviceaccount.identity.<this>.<trust domain>).
    #[arg(
        long,
        env = "BIND_LINKERD_CONTROL_PLANE_NAMESPACE",
        default_value = "linkerd"
    )]
    pub linkerd_control_plane_namespace: String,

    /// Turn authentication off (the mesh does it); x-remote-user is then logged with mutations.
    #[arg(long, env = "DISABLE_AUTH", value_name = "DISABLE_AUTH", value_parser = parse_bool, action = ArgAction::Set,
          default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub disable_auth: bool,

    /// Shared secret: clients send 'Authorization: Bearer <secret>'.
    #[arg(long, env = "BIND_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,

    /// Allow listening on a non-loopback address without real authentication.
    #[arg(long, env = "BINDCAR_ALLOW_INSECURE_AUTH", value_name = "BINDCAR_ALLOW_INSECURE_AUTH", value_parser = parse_bool, action = ArgAction::Set,
          default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub allow_insecure_auth: bool,

    /// TokenReview: comma-separated audiences a token must be issued for.
    #[arg(long, env = "BIND_TOKEN_AUDIENCES", default_value = "bindcar")]
    pub token_audiences: String,

    /// TokenReview: comma-separated namespaces whose ServiceAccounts are allowed.
    #[arg(long, env = "BIND_ALLOWED_NAMESPACES", default_value = "")]
    pub allowed_namespaces: String,

    /// TokenReview: comma-separated usernames system:serviceaccount:<ns>:<name> allowed.
    #[arg(long, env = "BIND_ALLOWED_SERVICE_ACCOUNTS", default_value = "")]
    pub allowed_service_accounts: String,

    /// TokenReview: accept any authenticated ServiceAccount when no allowlist is set.
    #[arg(long, env = "BIND_ALLOW_ANY_SERVICEACCOUNT", value_name = "BIND_ALLOW_ANY_SERVICEACCOUNT", value_parser = parse_bool, action = ArgAction::Set,
          default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub allow_any_service_account: bool,

    /// TokenReview: seconds an "authenticated" verdict is cached (never past the token's exp; 0 = off).
    #[arg(long, env = "BIND_TOKEN_CACHE_TTL_SECS", default_value_t = 60)]
    pub token_cache_ttl_secs: u64,

    /// TokenReview: seconds a "not authenticated" verdict is cached (0 = off).
    #[arg(long, env = "BIND_TOKEN_CACHE_NEGATIVE_TTL_SECS", default_value_t = 5)]
    pub token_cache_negative_ttl_secs: u64,

    /// TokenReview: size of the verdict cache (slots; 0 = no cache).
    #[arg(long, env = "BIND_TOKEN_CACHE_MAX_ENTRIES", default_value_t = 10_000)]
    pub token_cache_max_entries: u32,

    /// TokenReview: seconds to wait for the API server.
    #[arg(long, env = "BIND_TOKEN_REVIEW_TIMEOUT_SECS", default_value_t = 5)]
    pub token_review_timeout_secs: u64,

    /// Serve Swagger UI at /api/v1/docs (open: the page and the API description; API calls still need a token).
    #[arg(long, env = "BIND_ENABLE_DOCS", value_parser = parse_bool, action = ArgAction::Set,
          default_value = "false", num_args = 0..=1, default_missing_value = "true")]
    pub enable_docs: bool,

    /// TokenReview: API server URL (with KUBE_TOKEN_PATH and KUBE_CA_CERT_PATH; else KUBECONFIG/in-cluster).
    #[arg(long, env = "KUBE_API_SERVER")]
    pub kube_api_server: Option<String>,

    /// TokenReview: file holding the bearer token bindcar uses to call the API server (read at each call, whitespace trimmed).
    #[arg(long, env = "KUBE_TOKEN_PATH")]
    pub kube_token_path: Option<PathBuf>,

    /// TokenReview: PEM file of the API server's CA.
    #[arg(long, env = "KUBE_CA_CERT_PATH")]
    pub kube_ca_cert_path: Option<PathBuf>,

    /// Connections: at most this many client connections open at once (see "Connections" in
    /// the README). At the cap, the connection that has waited longest without a request in
    /// progress is closed for a new one; when all are serving requests, new connections wait
    /// [default: 1024, lowered to fit the file-descriptor limit].
    #[arg(long, env = "BIND_API_MAX_CONNECTIONS")]
    pub max_connections: Option<u32>,

    /// Connections: at most this many open at once from one client address (an IPv6 /64)
    /// [default: 256, or BIND_API_MAX_CONNECTIONS if lower; with DISABLE_AUTH=true, behind the
    /// mesh's sidecar, BIND_API_MAX_CONNECTIONS].
    #[arg(long, env = "BIND_API_MAX_CONNECTIONS_PER_CLIENT")]
    pub max_connections_per_client: Option<u32>,

    /// Connections: seconds a client has to send a complete request head (from connecting,
    /// or from the first byte of a later request on the same connection).
    #[arg(long, env = "BIND_API_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// Connections: seconds a client has to send a whole request body, from the end of its head (408 beyond).
    #[arg(long, env = "BIND_API_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub body_timeout_secs: u64,

    /// Connections: seconds a kept-alive connection may stay idle between requests.
    #[arg(long, env = "BIND_API_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,

    /// TLS: PEM certificate chain of the API, leaf first (with BIND_TLS_KEY; unset: plain HTTP).
    #[arg(long, env = "BIND_TLS_CERT")]
    pub tls_cert: Option<String>,

    /// TLS: PEM private key of that certificate (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "BIND_TLS_KEY")]
    pub tls_key: Option<String>,

    /// TLS: PEM CA bundle; set, clients must present a certificate chaining to it (mutual TLS).
    #[arg(long, env = "BIND_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<String>,

    /// Mutual TLS: comma-separated client certificate names admitted (a URI or DNS subject
    /// alternative name, or the subject CN); empty: any certificate of BIND_TLS_CLIENT_CA.
    #[arg(long, env = "BIND_TLS_ALLOWED_CLIENTS", default_value = "")]
    pub tls_allowed_clients: String,

    /// TLS: seconds between checks of the certificate, key and CA files for a renewal
    /// (0: none; SIGHUP checks at once).
    #[arg(long, env = "BIND_TLS_RELOAD_INTERVAL", default_value_t = super::tls::DEFAULT_RELOAD_SECS)]
    pub tls_reload_interval: u64,

    /// Rate limiting of the API routes, per client address.
    #[arg(long, env = "RATE_LIMIT_ENABLED", value_name = "RATE_LIMIT_ENABLED", value_parser = parse_bool,
          action = ArgAction::Set, default_value = "true", num_args = 0..=1, default_missing_value = "true")]
    pub rate_limit_enabled: bool,

    /// Rate limiting: requests a client may make per RATE_LIMIT_PERIOD_SECS (replenished evenly).
    #[arg(long, env = "RATE_LIMIT_REQUESTS", default_value_t = 600)]
    pub rate_limit_requests: u32,

    /// Rate limiting: the period, in seconds, over which RATE_LIMIT_REQUESTS are allowed.
    #[arg(long, env = "RATE_LIMIT_PERIOD_SECS", default_value_t = 60)]
    pub rate_limit_period_secs: u64,

    /// Rate limiting: requests a client may send back to back before the steady rate applies
    /// (50, as bindcar 0.9.0: bindy replays every zone at once when a BIND pod restarts).
    #[arg(long, env = "RATE_LIMIT_BURST", default_value_t = 50)]
    pub rate_limit_burst: u32,
}

/// Booleans as bindcar writes them (`true`/`false`), plus `1/0` and `yes/no` in any case;
/// anything else is refused (bindcar silently keeps the default for `0`). clap's error names
/// the variable: every boolean's `value_name` is its environment variable.
pub fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        other => Err(format!(
            "{other:?} is not a boolean (use true/false, 1/0 or yes/no)"
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn help_documents_every_variable() {
        let help = Cli::command().render_long_help().to_string();
        for var in [
            "BIND_ZONE_DIR",
            "BIND_API_ADDRESS",
            "API_PORT",
            "RNDC_SERVER",
            "RNDC_ALGORITHM",
            "RNDC_SECRET",
            "RNDC_CONF",
            "RNDC_TIMEOUT_SECS",
            "BIND_STATS_URL",
            "BIND_RECONCILE_SECS",
            "BIND_AUTH_MODE",
            "DISABLE_AUTH",
            "BIND_API_TOKEN",
            "BINDCAR_ALLOW_INSECURE_AUTH",
            "BIND_TOKEN_AUDIENCES",
            "BIND_ALLOWED_NAMESPACES",
            "BIND_ALLOWED_SERVICE_ACCOUNTS",
            "BIND_ALLOW_ANY_SERVICEACCOUNT",
            "BIND_TOKEN_CACHE_TTL_SECS",
            "BIND_ENABLE_DOCS",
            "BIND_AUTHZ_MODE",
            "BIND_AUTHZ_GROUP",
            "BIND_AUTHZ_RULES_FILE",
            "BIND_LINKERD_TRUST_DOMAIN",
            "BIND_LINKERD_CONTROL_PLANE_NAMESPACE",
            "KUBE_API_SERVER",
            "KUBE_TOKEN_PATH",
            "KUBE_CA_CERT_PATH",
            "RATE_LIMIT_ENABLED",
            "RATE_LIMIT_REQUESTS",
            "RATE_LIMIT_PERIOD_SECS",
            "RATE_LIMIT_BURST",
            "BIND_MAX_RECORDS_PER_TYPE",
            "BIND_API_MAX_CONNECTIONS",
            "BIND_API_MAX_CONNECTIONS_PER_CLIENT",
            "BIND_API_HEADER_TIMEOUT_SECS",
            "BIND_API_BODY_TIMEOUT_SECS",
            "BIND_API_IDLE_TIMEOUT_SECS",
            "BIND_TLS_CERT",
            "BIND_TLS_KEY",
            "BIND_TLS_CLIENT_CA",
            "BIND_TLS_ALLOWED_CLIENTS",
            "BIND_TLS_RELOAD_INTERVAL",
            "KUBECONFIG",
            "RUST_LOG",
            "--i-know-this-is-insecure",
        ] {
            assert!(help.contains(var), "--help does not mention {var}");
        }
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("true"), Ok(true));
        assert_eq!(parse_bool("FALSE"), Ok(false));
        for (raw, value) in [("1", true), ("0", false), ("Yes", true), ("NO", false)] {
            assert_eq!(parse_bool(raw), Ok(value), "{raw}");
        }
        for raw in ["maybe", "on", "off", "", "2", "y"] {
            assert!(parse_bool(raw).is_err(), "{raw:?} accepted");
        }
    }

    #[test]
    fn run_and_drone_are_accepted() {
        assert!(Cli::try_parse_from(["bindcar", "run"]).is_ok());
        assert!(Cli::try_parse_from(["bindcar", "drone", "--i-know-this-is-insecure"]).is_ok());
        let cli = Cli::try_parse_from(["bindcar", "--disable-auth"]).unwrap();
        assert!(cli.disable_auth);
    }

    #[test]
    fn docs_are_off_unless_enabled() {
        assert!(!Cli::try_parse_from(["bindcar"]).unwrap().enable_docs);
        assert!(
            Cli::try_parse_from(["bindcar", "--enable-docs"])
                .unwrap()
                .enable_docs
        );
        for (raw, expected) in [
            ("true", true),
            ("1", true),
            ("yes", true),
            ("no", false),
            ("0", false),
        ] {
            let cli = Cli::try_parse_from(["bindcar", "--enable-docs", raw]).unwrap();
            assert_eq!(cli.enable_docs, expected, "{raw}");
        }
        assert!(Cli::try_parse_from(["bindcar", "--enable-docs", "maybe"]).is_err());
    }
}
