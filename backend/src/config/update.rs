//! Where the records API sends its RFC 2136 UPDATEs and zone transfers, and the TSIG key it
//! signs them with: bindcar's `NSUPDATE_*` variables, defaulting to the rndc key.

use std::time::Duration;

use base64::Engine as _;

use super::cli::Cli;
use super::rndc_conf::{hmac_sha2, RndcSettings};

/// The TSIG algorithms the DNS client can sign with (hickory supports these three).
pub const TSIG_ALGORITHMS: [&str; 3] = ["hmac-sha256", "hmac-sha384", "hmac-sha512"];

#[derive(Clone)]
pub struct UpdateSettings {
    /// `host:port` of the server that takes the updates.
    pub server: String,
    pub key_name: String,
    /// The key, or why the records API cannot sign (an rndc algorithm hickory cannot do):
    /// the zone API still runs, record calls answer 503 with this text.
    pub key: Result<TsigKey, String>,
    pub timeout: Duration,
    /// named's `max-records-per-type` (`BIND_MAX_RECORDS_PER_TYPE`; 0: no limit).
    pub max_records_per_type: usize,
}

#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    /// One of `TSIG_ALGORITHMS`.
    pub algorithm: &'static str,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for UpdateSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateSettings")
            .field("server", &self.server)
            .field("key_name", &self.key_name)
            .field("key", &self.key.as_ref().map(|k| k.algorithm))
            .field("timeout", &self.timeout)
            .field("max_records_per_type", &self.max_records_per_type)
            .finish()
    }
}

fn nonempty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// `sha256`, `HMAC-SHA256` → `hmac-sha256`, if supported.
pub fn tsig_algorithm(raw: &str) -> Option<&'static str> {
    let lower = raw.trim().to_ascii_lowercase();
    let full = if lower.starts_with("hmac-") {
        lower
    } else {
        format!("hmac-{lower}")
    };
    TSIG_ALGORITHMS.iter().find(|a| **a == full).copied()
}

pub fn resolve(cli: &Cli, rndc: &RndcSettings) -> Result<UpdateSettings, String> {
    if cli.nsupdate_timeout_secs == 0 {
        return Err("NSUPDATE_TIMEOUT_SECS must be at least 1".into());
    }
    let key_name = nonempty(cli.nsupdate_key_name.as_deref())
        .or(nonempty(cli.rndc_key_name.as_deref()))
        .unwrap_or("rndc-key")
        .to_string();
    if !key_name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        || key_name.len() > 253
    {
        return Err(format!(
            "NSUPDATE_KEY_NAME {key_name:?} must be 1-253 characters of A-Z a-z 0-9 . - _"
        ));
    }
    let explicit_algorithm = nonempty(cli.nsupdate_algorithm.as_deref());
    let algorithm = match explicit_algorithm {
        Some(raw) => {
            // The policy first (MD5 and SHA-1 refused, as for RNDC_ALGORITHM), then what the
            // DNS client can sign with.
            hmac_sha2(raw).map_err(|why| format!("NSUPDATE_ALGORITHM {raw}: {why}"))?;
            Ok(tsig_algorithm(raw).ok_or_else(|| {
                format!(
                    "NSUPDATE_ALGORITHM {raw}: the DNS client cannot sign with it; use one of {}",
                    TSIG_ALGORITHMS.join(", ")
                )
            })?)
        }
        None => tsig_algorithm(&rndc.algorithm).ok_or_else(|| {
            format!(
                "the records API signs with the rndc algorithm ({}), which the DNS client cannot \
                 do; set NSUPDATE_ALGORITHM and NSUPDATE_SECRET to a key of {}",
                rndc.algorithm,
                TSIG_ALGORITHMS.join(", ")
            )
        }),
    };
    let secret_text = nonempty(cli.nsupdate_secret.as_deref()).unwrap_or(&rndc.secret);
    let secret = base64::engine::general_purpose::STANDARD
        .decode(secret_text.trim())
        .map_err(|e| format!("NSUPDATE_SECRET (or RNDC_SECRET) is not valid base64: {e}"))?;
    let key = algorithm.map(|algorithm| TsigKey { algorithm, secret });
    if let Err(why) = &key {
        tracing::warn!(reason = %why, "records API disabled");
    }
    Ok(UpdateSettings {
        server: match cli.nsupdate_server.trim() {
            host if host.contains(':') && !host.starts_with('[') => {
                format!("[{host}]:{}", cli.nsupdate_port)
            }
            host => format!("{host}:{}", cli.nsupdate_port),
        },
        key_name,
        key,
        timeout: Duration::from_secs(cli.nsupdate_timeout_secs),
        max_records_per_type: usize::try_from(cli.max_records_per_type).unwrap_or(usize::MAX),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn algorithms_are_normalised() {
        assert_eq!(tsig_algorithm("sha256"), Some("hmac-sha256"));
        assert_eq!(tsig_algorithm("HMAC-SHA512"), Some("hmac-sha512"));
        assert_eq!(tsig_algorithm("hmac-md5"), None);
        assert_eq!(tsig_algorithm("sha224"), None);
    }
}
