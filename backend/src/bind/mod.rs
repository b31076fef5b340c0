//! Everything that speaks to named or writes what named reads: the control channel
//! (`channel`: the `ControlChannel` seam and `RndcFailure`; `rndc`: the real client and its pool
//! of open connections; `control_conn`: one connection; `isccc`: the wire format), the closed
//! set of commands (`command`), reading its answers (`showzone`, `zonestatus`), the zone
//! statement options and the `addzone`/`modzone` blocks (`options`, `showzone`), zone files
//! (`zone_file`), the zone directory and its markers (`zone_dir`; `dir_sync`: its fsyncs shared
//! by concurrent creates), named.conf tokens
//! (`conf_tokens`), and `ZoneName`, which every command and path is built from.
//!
//! `dnssec`: named's signing state (`rndc dnssec -status`, `-checkds`) read into typed values,
//! and the DS records of the DNSKEYs named serves.
//!
//! RFC 2136 updates and AXFR with TSIG (`update`: the `DnsChannel` seam and `TsigDns`), the
//! serial a server serves for a zone (`serial_query`: a SOA query over UDP, for propagation),
//! named's statistics channel (`stats`: the zone list and boot time, over HTTP), and claiming a
//! zone's files for a create without replacing anyone's (`zone_claim`).
//!
//! Depends on nothing else in the crate but `metrics`.

pub mod channel;
pub mod command;
pub mod conf_tokens;
pub mod control_conn;
pub mod dir_sync;
pub mod dnssec;
pub mod isccc;
pub mod options;
pub mod rndc;
pub mod serial_query;
pub mod showzone;
pub mod stats;
pub mod update;
pub mod zone_claim;
pub mod zone_dir;
pub mod zone_file;
pub mod zone_name;
pub mod zonestatus;

pub use channel::{ControlChannel, Reply, RndcFailure};
pub use command::{DsState, RndcCommand};
pub use options::{AddressMatch, ConfName, Endpoint, ZoneOptions, ZoneType};
pub use rndc::Rndc;
pub use showzone::ShownZone;
pub use stats::{Statistics, StatsChannel, StatsSnapshot};
pub use zone_claim::Claim;
pub use zone_dir::{Found, ZoneDir};
pub use zone_file::RecordLine;
pub use zone_name::{InvalidZoneName, ZoneName};

/// Seconds since the Unix epoch (0 if the clock is before it): the time the control channel
/// and TSIG sign with.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
