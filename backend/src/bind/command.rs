//! The rndc commands this service sends, as a closed set. A command line is only ever built
//! here, from a validated `ZoneName` and a block rendered from typed options.

use super::zone_name::ZoneName;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RndcCommand {
    Status,
    ZoneStatus(ZoneName),
    ShowZone(ZoneName),
    /// Zone name and the `{ ... };` block.
    AddZone(ZoneName, String),
    ModZone(ZoneName, String),
    DelZone(ZoneName),
    Reload(ZoneName),
    Freeze(ZoneName),
    Thaw(ZoneName),
    Notify(ZoneName),
    Retransfer(ZoneName),
    /// `rndc dnssec -status`: the zone's signing state.
    DnssecStatus(ZoneName),
    /// `rndc dnssec -checkds -key <tag> published|withdrawn`.
    DnssecCheckds(ZoneName, u16, DsState),
    /// Re-reads named's configuration: what makes a `dnssec-policy` stored by `modzone`
    /// take effect (named 9.18 applies it only at configuration time).
    Reconfig,
}

/// What the parent did with a key's DS record, as `rndc dnssec -checkds` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsState {
    Published,
    Withdrawn,
}

impl DsState {
    pub fn as_str(self) -> &'static str {
        match self {
            DsState::Published => "published",
            DsState::Withdrawn => "withdrawn",
        }
    }
}

impl RndcCommand {
    /// The command word, used as metric label.
    pub fn label(&self) -> &'static str {
        match self {
            RndcCommand::Status => "status",
            RndcCommand::ZoneStatus(_) => "zonestatus",
            RndcCommand::ShowZone(_) => "showzone",
            RndcCommand::AddZone(..) => "addzone",
            RndcCommand::ModZone(..) => "modzone",
            RndcCommand::DelZone(_) => "delzone",
            RndcCommand::Reload(_) => "reload",
            RndcCommand::Freeze(_) => "freeze",
            RndcCommand::Thaw(_) => "thaw",
            RndcCommand::Notify(_) => "notify",
            RndcCommand::Retransfer(_) => "retransfer",
            RndcCommand::DnssecStatus(_) => "dnssec-status",
            RndcCommand::DnssecCheckds(..) => "dnssec-checkds",
            RndcCommand::Reconfig => "reconfig",
        }
    }

    /// The zone the command is about, if any.
    pub fn zone(&self) -> Option<&ZoneName> {
        match self {
            RndcCommand::Status | RndcCommand::Reconfig => None,
            RndcCommand::ZoneStatus(zone)
            | RndcCommand::ShowZone(zone)
            | RndcCommand::AddZone(zone, _)
            | RndcCommand::ModZone(zone, _)
            | RndcCommand::DelZone(zone)
            | RndcCommand::Reload(zone)
            | RndcCommand::Freeze(zone)
            | RndcCommand::Thaw(zone)
            | RndcCommand::Notify(zone)
            | RndcCommand::Retransfer(zone)
            | RndcCommand::DnssecStatus(zone)
            | RndcCommand::DnssecCheckds(zone, ..) => Some(zone),
        }
    }

    /// Whether the command only reads: sending it twice, or losing its answer, changes nothing.
    pub fn reads_only(&self) -> bool {
        is_read(self.label())
    }

    /// The text sent as `_data.type`, exactly as the rndc binary would send it.
    pub fn line(&self) -> String {
        match self {
            RndcCommand::Status => "status".to_string(),
            RndcCommand::Reconfig => "reconfig".to_string(),
            RndcCommand::DnssecStatus(zone) => format!("dnssec -status {zone}"),
            RndcCommand::DnssecCheckds(zone, tag, state) => {
                format!("dnssec -checkds -key {tag} {} {zone}", state.as_str())
            }
            RndcCommand::AddZone(zone, block) | RndcCommand::ModZone(zone, block) => {
                format!("{} {zone} {block}", self.label())
            }
            RndcCommand::ZoneStatus(zone)
            | RndcCommand::ShowZone(zone)
            | RndcCommand::DelZone(zone)
            | RndcCommand::Reload(zone)
            | RndcCommand::Freeze(zone)
            | RndcCommand::Thaw(zone)
            | RndcCommand::Notify(zone)
            | RndcCommand::Retransfer(zone) => format!("{} {zone}", self.label()),
        }
    }
}

/// Whether the command of this label only reads (`RndcCommand::label`).
pub fn is_read(label: &str) -> bool {
    matches!(
        label,
        "status" | "zonestatus" | "showzone" | "dnssec-status"
    )
}
