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
    matches!(label, "status" | "zonestatus" | "showzone")
}
