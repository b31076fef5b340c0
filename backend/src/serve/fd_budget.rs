//! File descriptors: the connection caps are only a defence if the process can hold them.
//! At startup the soft RLIMIT_NOFILE is raised to the hard limit (as Go's runtime does: the
//! soft default of 1024 is a relic of select(2)), and the caps are checked against it: each
//! client connection takes one descriptor, and while its request runs it may hold one more
//! toward named (an UPDATE or zone transfer connection, a zone file being written); `RESERVE`
//! covers the rest (named's control-channel pool, the statistics channel, the Kubernetes
//! client, the runtime, logs). An explicit `BIND_API_MAX_CONNECTIONS` that does not fit is a
//! startup error; the default is lowered to fit, with a warning.

use crate::config::ConnectionSettings;

/// Descriptors kept for everything but the client connections and their requests.
pub const RESERVE: u64 = 256;
/// Descriptors one client connection may hold at once (its socket, and one toward named).
pub const PER_CONNECTION: u64 = 2;

/// Descriptors the caps need.
pub fn needed(max_connections: u32) -> u64 {
    u64::from(max_connections) * PER_CONNECTION + RESERVE
}

/// The settings that fit `limit` descriptors, or why an explicit cap cannot.
pub fn fit(settings: ConnectionSettings, limit: u64) -> Result<ConnectionSettings, String> {
    if needed(settings.max_connections) <= limit {
        return Ok(settings);
    }
    let fitting = limit.saturating_sub(RESERVE) / PER_CONNECTION;
    if settings.max_connections_explicit || fitting == 0 {
        return Err(format!(
            "BIND_API_MAX_CONNECTIONS={} needs {} file descriptors ({PER_CONNECTION} per \
             connection + {RESERVE}), but the limit (RLIMIT_NOFILE) is {limit}: raise it (ulimit \
             -n, LimitNOFILE=, the container runtime's nofile) or lower BIND_API_MAX_CONNECTIONS \
             to at most {fitting}",
            settings.max_connections,
            needed(settings.max_connections),
        ));
    }
    let max_connections = u32::try_from(fitting).unwrap_or(u32::MAX);
    Ok(ConnectionSettings {
        max_connections,
        max_per_client: settings.max_per_client.min(max_connections),
        ..settings
    })
}

/// Raises the soft descriptor limit to the hard one; the soft limit in force after.
pub fn raise_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    let hard = limit.maximum;
    if limit.current != hard {
        let raised = rustix::process::Rlimit {
            current: hard,
            maximum: hard,
        };
        // Refused (an unlimited hard limit the kernel caps lower): keep the soft one.
        if setrlimit(Resource::Nofile, raised).is_err() {
            tracing::debug!("could not raise the soft RLIMIT_NOFILE to the hard limit");
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::time::Duration;

    use super::*;

    fn settings(max: u32, explicit: bool) -> ConnectionSettings {
        ConnectionSettings {
            max_connections: max,
            max_connections_explicit: explicit,
            max_per_client: 256,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn caps_that_fit_are_kept() {
        assert_eq!(needed(1024), 2304);
        assert_eq!(fit(settings(1024, false), 2304), Ok(settings(1024, false)));
        assert_eq!(fit(settings(1024, true), 1 << 20), Ok(settings(1024, true)));
    }

    #[test]
    fn the_default_is_lowered_to_fit_and_an_explicit_cap_is_refused() {
        // a soft limit of 1024 that could not be raised
        let lowered = fit(settings(1024, false), 1024).unwrap();
        assert_eq!(lowered.max_connections, 384);
        assert_eq!(lowered.max_per_client, 256);
        let small = fit(settings(1024, false), 600).unwrap();
        assert_eq!((small.max_connections, small.max_per_client), (172, 172));
        let error = fit(settings(1024, true), 1024).unwrap_err();
        assert!(error.contains("needs 2304 file descriptors"), "{error}");
        assert!(error.contains("at most 384"), "{error}");
        assert!(fit(settings(1024, false), 100).is_err());
    }
}
