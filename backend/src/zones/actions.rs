//! The zone-level commands passed through to named (reload, freeze, thaw, notify,
//! retransfer), under the zone's lock.

use super::classify::classify;
use super::error::ZoneError;
use super::service::Zones;
use crate::bind::{RndcCommand, ZoneName};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneAction {
    Reload,
    Freeze,
    Thaw,
    Notify,
    Retransfer,
}

impl ZoneAction {
    pub fn name(self) -> &'static str {
        match self {
            ZoneAction::Reload => "reload",
            ZoneAction::Freeze => "freeze",
            ZoneAction::Thaw => "thaw",
            ZoneAction::Notify => "notify",
            ZoneAction::Retransfer => "retransfer",
        }
    }

    fn command(self, zone: &ZoneName) -> RndcCommand {
        let zone = zone.clone();
        match self {
            ZoneAction::Reload => RndcCommand::Reload(zone),
            ZoneAction::Freeze => RndcCommand::Freeze(zone),
            ZoneAction::Thaw => RndcCommand::Thaw(zone),
            ZoneAction::Notify => RndcCommand::Notify(zone),
            ZoneAction::Retransfer => RndcCommand::Retransfer(zone),
        }
    }

    /// What happened, as a past participle (`Zone x reloaded`).
    pub fn done(self) -> &'static str {
        match self {
            ZoneAction::Reload => "reloaded",
            ZoneAction::Freeze => "frozen",
            ZoneAction::Thaw => "thawed",
            ZoneAction::Notify => "notify queued",
            ZoneAction::Retransfer => "retransfer queued",
        }
    }
}

impl Zones {
    /// Runs the action; `Ok` carries named's text.
    pub async fn act(
        &self,
        zone: &ZoneName,
        action: ZoneAction,
        actor: &str,
    ) -> Result<String, ZoneError> {
        let outcome = async {
            if matches!(
                action,
                ZoneAction::Reload | ZoneAction::Freeze | ZoneAction::Thaw
            ) {
                // a frozen catalog would refuse the members' updates
                self.refuse_catalog(zone, action.name())?;
            }
            let _guard = self.locks.lock(zone).await;
            self.named
                .run(&action.command(zone))
                .await
                .map_err(|f| classify(zone, action.name(), f))
        }
        .await;
        self.metrics.zone_operation(action.name(), outcome.is_ok());
        let text = outcome?;
        tracing::info!(zone = %zone, actor = %actor, action = action.name(), "zone {}", action.done());
        Ok(text)
    }
}
