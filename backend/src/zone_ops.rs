//! The zone operations: what happens, in which order, and what each answer of named means.
//! Mutations of one zone hold its lock from the first look at BIND to the last file touched.

use tokio::task::JoinSet;

use crate::actor::Actor;
use crate::api_types::{ZoneInfo, ZoneListResponse, ZoneResponse};
use crate::error::ApiError;
use crate::locks::ZoneLocks;
use crate::metrics::Metrics;
use crate::plan::{CreatePlan, ModifyPlan};
use crate::rndc::{Rndc, RndcFailure};
use crate::rndc_command::RndcCommand;
use crate::showzone::ShownZone;
use crate::zone_dir::{now_secs, Marker, ZoneDir};
use crate::zone_name::ZoneName;
use crate::zone_options::list_statement;

/// The zone-level commands passed through to rndc.
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

    fn done(self) -> &'static str {
        match self {
            ZoneAction::Reload => "reloaded",
            ZoneAction::Freeze => "frozen",
            ZoneAction::Thaw => "thawed",
            ZoneAction::Notify => "notify queued",
            ZoneAction::Retransfer => "retransfer queued",
        }
    }
}

pub struct Zones {
    pub dir: ZoneDir,
    pub rndc: Rndc,
    pub locks: ZoneLocks,
    pub metrics: Metrics,
}

/// What BIND says about a zone's configuration.
enum Presence {
    Absent,
    Present(ShownZone),
}

impl Zones {
    pub async fn create(&self, plan: CreatePlan, actor: &Actor) -> Result<ZoneResponse, ApiError> {
        let outcome = self.create_locked(&plan, actor).await;
        self.metrics.zone_operation("create", outcome.is_ok());
        outcome
    }

    async fn create_locked(
        &self,
        plan: &CreatePlan,
        actor: &Actor,
    ) -> Result<ZoneResponse, ApiError> {
        let zone = &plan.zone;
        let _guard = self.locks.lock(zone).await;
        if let Presence::Present(_) = self.presence(zone).await? {
            tracing::info!(zone = %zone, actor = %actor.0, "create refused: zone already exists");
            return Err(ApiError::ZoneAlreadyExists(zone.clone()));
        }
        // The name is free in BIND: whatever lies on disk under it is a leftover of an earlier
        // zone (a journal would be replayed into the new zone), so clear it before writing.
        self.dir
            .remove_zone_files(zone)
            .await
            .map_err(|e| ApiError::Internal(format!("removing leftover files of {zone}: {e}")))?;
        if let Some(content) = &plan.zone_file {
            self.dir
                .write_zone_file(zone, content.clone())
                .await
                .map_err(|e| ApiError::Internal(format!("writing the zone file of {zone}: {e}")))?;
        }
        let marker = Marker {
            zone_name: zone.to_string(),
            zone_type: plan.options.zone_type.as_str().to_string(),
            created_at: now_secs(),
        };
        if let Err(e) = self.dir.write_marker(zone, &marker).await {
            self.discard(zone).await;
            return Err(ApiError::Internal(format!(
                "writing the marker of {zone}: {e}"
            )));
        }
        let command = RndcCommand::AddZone(zone.clone(), plan.options.render());
        match self.rndc.run(&command).await {
            Ok(text) => {
                tracing::info!(zone = %zone, zone_type = plan.options.zone_type.as_str(), actor = %actor.0, "zone created");
                Ok(ZoneResponse {
                    success: true,
                    message: format!("Zone {zone} created successfully"),
                    details: Some(text),
                })
            }
            // Someone outside this API added it in between: the files are theirs now.
            Err(RndcFailure::Refused { err, .. }) if err == "already exists" => {
                Err(ApiError::ZoneAlreadyExists(zone.clone()))
            }
            // Unknown outcome: keep the files, BIND may have the zone.
            Err(RndcFailure::Timeout(t)) => Err(ApiError::BindTimeout(t.as_secs())),
            Err(failure) => {
                self.discard(zone).await;
                tracing::warn!(zone = %zone, actor = %actor.0, failure = ?failure, "addzone failed; files removed");
                Err(match failure {
                    RndcFailure::Refused { err, text } if err == "permission denied" => {
                        ApiError::BindRefused {
                            command: "addzone",
                            bind: join(&err, &text) + " (does named.conf set allow-new-zones yes?)",
                        }
                    }
                    RndcFailure::Refused { err, text } => ApiError::BindRejected {
                        message: format!("BIND rejected zone {zone}: {err}"),
                        bind: join(&err, &text),
                    },
                    other => unavailable(other),
                })
            }
        }
    }

    /// Removes what a failed create wrote.
    async fn discard(&self, zone: &ZoneName) {
        if let Err(e) = self.dir.remove_zone_files(zone).await {
            tracing::error!(zone = %zone, error = %e, "could not remove the zone file of a failed create");
        }
        if let Err(e) = self.dir.remove_marker(zone).await {
            tracing::error!(zone = %zone, error = %e, "could not remove the marker of a failed create");
        }
    }

    pub async fn delete(&self, zone: &ZoneName, actor: &Actor) -> Result<ZoneResponse, ApiError> {
        let outcome = self.delete_locked(zone, actor).await;
        self.metrics.zone_operation("delete", outcome.is_ok());
        outcome
    }

    async fn delete_locked(
        &self,
        zone: &ZoneName,
        actor: &Actor,
    ) -> Result<ZoneResponse, ApiError> {
        let _guard = self.locks.lock(zone).await;
        let shown = match self.presence(zone).await? {
            Presence::Absent => return Err(ApiError::ZoneNotFound(zone.clone())),
            Presence::Present(shown) => shown,
        };
        if !self.is_managed(zone, &shown).await? {
            return Err(ApiError::NotManaged {
                zone: zone.clone(),
                operation: "delete",
            });
        }
        let owns_files = self.owns_file(zone, &shown);
        let text = self
            .rndc
            .run(&RndcCommand::DelZone(zone.clone()))
            .await
            .map_err(|f| self.classify(zone, "delzone", f))?;
        if owns_files {
            if let Err(e) = self.dir.remove_zone_files(zone).await {
                tracing::error!(zone = %zone, error = %e, "zone deleted but its files could not be removed");
            }
        }
        if let Err(e) = self.dir.remove_marker(zone).await {
            tracing::error!(zone = %zone, error = %e, "zone deleted but its marker could not be removed");
        }
        tracing::info!(zone = %zone, actor = %actor.0, "zone deleted");
        Ok(ZoneResponse {
            success: true,
            message: format!("Zone {zone} deleted successfully"),
            details: Some(text),
        })
    }

    pub async fn modify(
        &self,
        zone: &ZoneName,
        plan: &ModifyPlan,
        actor: &Actor,
    ) -> Result<ZoneResponse, ApiError> {
        let outcome = self.modify_locked(zone, plan, actor).await;
        self.metrics.zone_operation("modify", outcome.is_ok());
        outcome
    }

    async fn modify_locked(
        &self,
        zone: &ZoneName,
        plan: &ModifyPlan,
        actor: &Actor,
    ) -> Result<ZoneResponse, ApiError> {
        let _guard = self.locks.lock(zone).await;
        let mut shown = match self.presence(zone).await? {
            Presence::Absent => return Err(ApiError::ZoneNotFound(zone.clone())),
            Presence::Present(shown) => shown,
        };
        if !self.is_managed(zone, &shown).await? {
            return Err(ApiError::NotManaged {
                zone: zone.clone(),
                operation: "modify",
            });
        }
        fn statement<T: std::fmt::Display>(keyword: &str, list: &[T]) -> Option<String> {
            (!list.is_empty()).then(|| {
                list_statement(keyword, list)
                    .trim_end()
                    .trim_end_matches(';')
                    .to_string()
            })
        }
        if let Some(list) = &plan.also_notify {
            shown.set("also-notify", statement("also-notify", list));
        }
        if let Some(list) = &plan.allow_transfer {
            shown.set("allow-transfer", statement("allow-transfer", list));
        }
        if let Some(list) = &plan.allow_update {
            shown.set("allow-update", statement("allow-update", list));
        }
        let command = RndcCommand::ModZone(zone.clone(), shown.render_block());
        let text = self.rndc.run(&command).await.map_err(|f| match f {
            RndcFailure::Refused { err, text } if err != "not found" => ApiError::BindRejected {
                message: format!("BIND rejected the new configuration of zone {zone}: {err}"),
                bind: join(&err, &text),
            },
            other => self.classify(zone, "modzone", other),
        })?;
        tracing::info!(zone = %zone, actor = %actor.0, change = ?plan, "zone modified");
        Ok(ZoneResponse {
            success: true,
            message: format!("Zone {zone} modified successfully"),
            details: Some(text),
        })
    }

    pub async fn act(
        &self,
        zone: &ZoneName,
        action: ZoneAction,
        actor: &Actor,
    ) -> Result<ZoneResponse, ApiError> {
        let outcome = async {
            let _guard = self.locks.lock(zone).await;
            self.rndc
                .run(&action.command(zone))
                .await
                .map_err(|f| self.classify(zone, action.name(), f))
        }
        .await;
        self.metrics.zone_operation(action.name(), outcome.is_ok());
        let text = outcome?;
        tracing::info!(zone = %zone, actor = %actor.0, action = action.name(), "zone {}", action.done());
        Ok(ZoneResponse {
            success: true,
            message: format!("Zone {zone} {}", action.done()),
            details: Some(text),
        })
    }

    pub async fn status(&self, zone: &ZoneName) -> Result<ZoneResponse, ApiError> {
        match self.rndc.run(&RndcCommand::ZoneStatus(zone.clone())).await {
            Ok(text) => Ok(ZoneResponse {
                success: true,
                message: format!("Zone {zone} status retrieved"),
                details: Some(text),
            }),
            Err(RndcFailure::Refused { err, text }) if err == "zone not loaded" => Ok(ZoneResponse {
                success: true,
                message: format!(
                    "Zone {zone} is configured but not loaded (a secondary waiting for its first transfer, or a file BIND could not load)"
                ),
                details: Some(join(&err, &text)),
            }),
            Err(failure) => Err(self.classify(zone, "zonestatus", failure)),
        }
    }

    pub async fn info(&self, zone: &ZoneName) -> Result<ZoneInfo, ApiError> {
        let shown = match self.presence(zone).await? {
            Presence::Absent => return Err(ApiError::ZoneNotFound(zone.clone())),
            Presence::Present(shown) => shown,
        };
        let serial = match self.rndc.run(&RndcCommand::ZoneStatus(zone.clone())).await {
            Ok(text) => status_field(&text, "serial").and_then(|s| s.parse().ok()),
            Err(RndcFailure::Refused { err, .. }) if err == "zone not loaded" => None,
            Err(failure) => return Err(self.classify(zone, "zonestatus", failure)),
        };
        Ok(ZoneInfo {
            name: zone.to_string(),
            zone_type: shown.value("type").unwrap_or_else(|| "unknown".into()),
            serial,
            file_path: shown.value("file"),
        })
    }

    /// The zones this API manages that BIND has, secondaries included.
    pub async fn list(&self) -> Result<ZoneListResponse, ApiError> {
        let candidates = self
            .dir
            .candidates()
            .await
            .map_err(|e| ApiError::Internal(format!("reading the zone directory: {e}")))?;
        let mut lookups = JoinSet::new();
        for (zone, marked) in candidates {
            let rndc = self.rndc.clone();
            let our_file = self.dir.zone_file(&zone);
            lookups.spawn(async move {
                let outcome = match rndc.run(&RndcCommand::ShowZone(zone.clone())).await {
                    Ok(_) if marked => Ok(true),
                    // No marker: a zone bindcar created before us counts if its file is ours
                    // and it was added at runtime (not a named.conf zone).
                    Ok(text) => {
                        let ours = ShownZone::parse(&text)
                            .ok()
                            .and_then(|s| s.value("file"))
                            .is_some_and(|f| std::path::Path::new(&f) == our_file);
                        if !ours {
                            Ok(false)
                        } else {
                            match runtime_added(&rndc, &zone).await {
                                Err(RndcFailure::Refused { err, .. })
                                    if err == "zone not loaded" =>
                                {
                                    Ok(false)
                                }
                                other => other,
                            }
                        }
                    }
                    Err(failure) => Err(failure),
                };
                (zone, marked, outcome)
            });
        }
        let mut zones = Vec::new();
        while let Some(joined) = lookups.join_next().await {
            let (zone, marked, outcome) =
                joined.map_err(|e| ApiError::Internal(format!("zone lookup task: {e}")))?;
            match outcome {
                Ok(true) => zones.push(zone.to_string()),
                Ok(false) => {}
                Err(RndcFailure::Refused { err, .. }) if err == "not found" => {
                    if marked {
                        // Created here, gone from BIND (its new-zone database was lost or
                        // the zone was deleted with rndc): not listed, but worth a trace.
                        tracing::warn!(zone = %zone, "zone created through this API is no longer in BIND");
                    }
                }
                Err(failure) => return Err(self.classify(&zone, "showzone", failure)),
            }
        }
        zones.sort();
        self.metrics.set_zones_managed(zones.len());
        Ok(ZoneListResponse {
            count: zones.len(),
            zones,
        })
    }

    pub async fn server_status(&self) -> Result<String, ApiError> {
        self.rndc
            .run(&RndcCommand::Status)
            .await
            .map_err(|f| match f {
                RndcFailure::Refused { err, text } => ApiError::BindRefused {
                    command: "status",
                    bind: join(&err, &text),
                },
                other => unavailable(other),
            })
    }

    async fn presence(&self, zone: &ZoneName) -> Result<Presence, ApiError> {
        match self.rndc.run(&RndcCommand::ShowZone(zone.clone())).await {
            Ok(text) => ShownZone::parse(&text).map(Presence::Present).map_err(|e| {
                ApiError::Internal(format!(
                    "unexpected showzone output for {zone}: {e}: {text}"
                ))
            }),
            Err(RndcFailure::Refused { err, .. }) if err == "not found" => Ok(Presence::Absent),
            Err(failure) => Err(self.classify(zone, "showzone", failure)),
        }
    }

    /// Created through this API: it has a marker, or (a zone of the reference bindcar) its
    /// file is `<dir>/<zone>.zone` and it was added at runtime, not defined in named.conf.
    async fn is_managed(&self, zone: &ZoneName, shown: &ShownZone) -> Result<bool, ApiError> {
        if self.dir.has_marker(zone).await {
            return Ok(true);
        }
        if !self.owns_file(zone, shown) {
            return Ok(false);
        }
        match runtime_added(&self.rndc, zone).await {
            Ok(added) => Ok(added),
            Err(RndcFailure::Refused { err, .. }) if err == "zone not loaded" => Ok(false),
            Err(failure) => Err(self.classify(zone, "zonestatus", failure)),
        }
    }

    /// The zone's file is the one this API would have written (`<dir>/<zone>.zone`).
    fn owns_file(&self, zone: &ZoneName, shown: &ShownZone) -> bool {
        shown
            .value("file")
            .is_some_and(|f| std::path::Path::new(&f) == self.dir.zone_file(zone))
    }

    /// What a refusal from named means for the client, with what to do about it.
    fn classify(&self, zone: &ZoneName, command: &'static str, failure: RndcFailure) -> ApiError {
        let (err, text) = match failure {
            RndcFailure::Refused { err, text } => (err, text),
            other => return unavailable(other),
        };
        let bind = join(&err, &text);
        let state = |message: String| ApiError::ZoneState {
            message,
            bind: bind.clone(),
        };
        match (command, err.as_str()) {
            (_, "not found") => ApiError::ZoneNotFound(zone.clone()),
            ("reload", "dynamic zone") => state(format!(
                "Zone {zone} accepts dynamic updates, so BIND will not reload it while it is live: \
                 freeze it (POST /api/v1/zones/{zone}/freeze), then thaw it (POST /api/v1/zones/{zone}/thaw), \
                 which reloads it from its file"
            )),
            ("freeze", "not dynamic") => state(format!(
                "Zone {zone} does not accept dynamic updates, so there is nothing to freeze; \
                 use POST /api/v1/zones/{zone}/reload to re-read its file"
            )),
            ("freeze", "already frozen") => state(format!(
                "Zone {zone} is already frozen; thaw it (POST /api/v1/zones/{zone}/thaw) to accept updates again"
            )),
            ("retransfer", _) if text.contains("inappropriate zone type") => state(format!(
                "Zone {zone} is not a secondary zone; only secondary zones can be retransferred"
            )),
            (_, "zone not loaded") => state(format!(
                "Zone {zone} is configured but not loaded (a secondary waiting for its first transfer, \
                 or a file BIND could not load)"
            )),
            _ => ApiError::BindRefused { command, bind },
        }
    }
}

/// `rndc zonestatus` says the zone can be changed with modzone: it was added at runtime
/// (`addzone`), not read from named.conf.
async fn runtime_added(rndc: &Rndc, zone: &ZoneName) -> Result<bool, RndcFailure> {
    let text = rndc.run(&RndcCommand::ZoneStatus(zone.clone())).await?;
    Ok(status_field(&text, "reconfigurable via modzone").as_deref() == Some("yes"))
}

fn unavailable(failure: RndcFailure) -> ApiError {
    match failure {
        RndcFailure::Timeout(t) => ApiError::BindTimeout(t.as_secs()),
        RndcFailure::Unavailable(why) => ApiError::BindUnavailable(format!(
            "cannot reach named's control channel: {why}. Nothing was changed; retry when named is back"
        )),
        RndcFailure::Refused { err, text } => ApiError::BindRefused { command: "rndc", bind: join(&err, &text) },
    }
}

fn join(err: &str, text: &str) -> String {
    if text.trim().is_empty() {
        err.to_string()
    } else {
        format!("{err}: {}", text.trim())
    }
}

/// A `key: value` line of `rndc zonestatus`.
fn status_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        line.strip_prefix(key)?
            .strip_prefix(':')
            .map(|v| v.trim().to_string())
    })
}
