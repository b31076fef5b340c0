//! What named's answers mean for a zone operation: pure functions from an `RndcFailure` (and
//! the command that got it) to a `ZoneError`. The operations decide what to do on disk.

use crate::bind::command::is_read;
use crate::bind::{RndcFailure, ZoneName};

use super::error::ZoneError;

/// named's result text and detail, as one string for the client (`err: text`).
pub fn join(err: &str, text: &str) -> String {
    if text.trim().is_empty() {
        err.to_string()
    } else {
        format!("{err}: {}", text.trim())
    }
}

/// A failure that is not a refusal, of a command that only reads: named is down or slow.
pub fn unavailable(failure: RndcFailure) -> ZoneError {
    match failure {
        RndcFailure::Timeout(t) => ZoneError::Timeout(t),
        RndcFailure::Unavailable(why) | RndcFailure::Lost(why) => ZoneError::Unavailable(why),
        RndcFailure::Refused { err, text } => ZoneError::Refused {
            command: "rndc",
            bind: join(&err, &text),
        },
    }
}

/// The one rule for a change whose answer did not come back: once the command was sent, the
/// outcome is unknown, whatever broke (`None` for any other failure).
pub fn outcome_unknown(
    zone: &ZoneName,
    command: &'static str,
    failure: &RndcFailure,
) -> Option<ZoneError> {
    if is_read(command) {
        return None;
    }
    let (why, timed_out) = match failure {
        RndcFailure::Lost(why) => (why.clone(), false),
        RndcFailure::Timeout(t) => (format!("no answer within {} s", t.as_secs()), true),
        RndcFailure::Refused { .. } | RndcFailure::Unavailable(_) => return None,
    };
    Some(ZoneError::OutcomeUnknown {
        zone: zone.clone(),
        command,
        why,
        timed_out,
    })
}

/// What a failure of `command` on `zone` means.
pub fn classify(zone: &ZoneName, command: &'static str, failure: RndcFailure) -> ZoneError {
    if let Some(unknown) = outcome_unknown(zone, command, &failure) {
        return unknown;
    }
    let (err, text) = match failure {
        RndcFailure::Refused { err, text } => (err, text),
        other => return unavailable(other),
    };
    let bind = join(&err, &text);
    let zone = zone.clone();
    match (command, err.as_str()) {
        (_, "not found") => ZoneError::NotFound(zone),
        ("reload", "dynamic zone") => ZoneError::Dynamic { zone, bind },
        ("freeze", "not dynamic") => ZoneError::NotDynamic { zone, bind },
        ("freeze", "already frozen") => ZoneError::AlreadyFrozen { zone, bind },
        ("freeze" | "thaw", "not primary") => ZoneError::NotPrimary { zone, bind },
        ("retransfer", _) if text.contains("inappropriate zone type") => {
            ZoneError::NotSecondary { zone, bind }
        }
        (_, "zone not loaded") => ZoneError::NotLoaded { zone, bind },
        _ => ZoneError::Refused { command, bind },
    }
}

/// What a failed `addzone` means. An unknown outcome (BIND may have the zone) is the one where
/// the files must stay; on `AlreadyExists` the zone is someone else's, with a file of its own.
pub fn classify_addzone(zone: &ZoneName, failure: RndcFailure) -> ZoneError {
    if let Some(unknown) = outcome_unknown(zone, "addzone", &failure) {
        return unknown;
    }
    match failure {
        RndcFailure::Refused { err, .. } if err == "already exists" => {
            ZoneError::AlreadyExists(zone.clone())
        }
        RndcFailure::Refused { err, text } if err == "permission denied" => ZoneError::Refused {
            command: "addzone",
            bind: join(&err, &text) + " (does named.conf set allow-new-zones yes?)",
        },
        RndcFailure::Refused { err, text } => ZoneError::CreateRejected {
            zone: zone.clone(),
            bind: join(&err, &text),
            err,
        },
        other => unavailable(other),
    }
}

/// Whether a failed change must keep what it wrote: named may have carried it out.
pub fn keeps_files(error: &ZoneError) -> bool {
    matches!(error, ZoneError::OutcomeUnknown { .. })
}

/// What a failed `modzone` means: any refusal but the zone's own `not found` is about the new
/// configuration (a `dnssec-policy` or key it names that named.conf lacks is `not found` too,
/// with `configure_zone failed` as its detail).
pub fn classify_modzone(zone: &ZoneName, failure: RndcFailure) -> ZoneError {
    if let Some(unknown) = outcome_unknown(zone, "modzone", &failure) {
        return unknown;
    }
    match failure {
        RndcFailure::Refused { err, text }
            if err != "not found" || text.contains("configure_zone failed") =>
        {
            ZoneError::ModifyRejected {
                zone: zone.clone(),
                bind: join(&err, &text),
                err,
            }
        }
        other => classify(zone, "modzone", other),
    }
}

/// What a failed `rndc status` means (no zone involved).
pub fn classify_status(failure: RndcFailure) -> ZoneError {
    match failure {
        RndcFailure::Refused { err, text } => ZoneError::Refused {
            command: "status",
            bind: join(&err, &text),
        },
        other => unavailable(other),
    }
}

/// `zone not loaded`: configured, not serving yet. Not an error for status and info.
pub fn is_not_loaded(failure: &RndcFailure) -> bool {
    matches!(failure, RndcFailure::Refused { err, .. } if err == "zone not loaded")
}

/// `not found`: BIND has no such zone.
pub fn is_not_found(failure: &RndcFailure) -> bool {
    matches!(failure, RndcFailure::Refused { err, .. } if err == "not found")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::time::Duration;

    use super::*;

    fn zone() -> ZoneName {
        ZoneName::parse("ok.test").unwrap()
    }

    fn refused(err: &str, text: &str) -> RndcFailure {
        RndcFailure::Refused {
            err: err.into(),
            text: text.into(),
        }
    }

    #[test]
    fn join_trims_and_omits_empty_detail() {
        assert_eq!(join("not found", ""), "not found");
        assert_eq!(join("not found", "  \n"), "not found");
        assert_eq!(join("failure", " zone x: bad\n"), "failure: zone x: bad");
    }

    #[test]
    fn not_found_is_not_found_for_every_command() {
        for command in [
            "showzone",
            "zonestatus",
            "delzone",
            "reload",
            "freeze",
            "thaw",
        ] {
            assert_eq!(
                classify(&zone(), command, refused("not found", "")),
                ZoneError::NotFound(zone()),
                "{command}"
            );
        }
    }

    #[test]
    fn zone_states_depend_on_the_command() {
        let z = zone();
        assert_eq!(
            classify(&z, "reload", refused("dynamic zone", "")),
            ZoneError::Dynamic {
                zone: z.clone(),
                bind: "dynamic zone".into()
            }
        );
        // the same answer to another command is not classified
        assert_eq!(
            classify(&z, "notify", refused("dynamic zone", "")),
            ZoneError::Refused {
                command: "notify",
                bind: "dynamic zone".into()
            }
        );
        assert_eq!(
            classify(&z, "freeze", refused("not dynamic", "")),
            ZoneError::NotDynamic {
                zone: z.clone(),
                bind: "not dynamic".into()
            }
        );
        assert_eq!(
            classify(&z, "freeze", refused("not primary", "")),
            ZoneError::NotPrimary {
                zone: z.clone(),
                bind: "not primary".into()
            }
        );
        assert_eq!(
            classify(&z, "freeze", refused("already frozen", "")),
            ZoneError::AlreadyFrozen {
                zone: z.clone(),
                bind: "already frozen".into()
            }
        );
        assert_eq!(
            classify(
                &z,
                "retransfer",
                refused("failure", "inappropriate zone type")
            ),
            ZoneError::NotSecondary {
                zone: z.clone(),
                bind: "failure: inappropriate zone type".into()
            }
        );
        assert_eq!(
            classify(&z, "zonestatus", refused("zone not loaded", "")),
            ZoneError::NotLoaded {
                zone: z.clone(),
                bind: "zone not loaded".into()
            }
        );
        assert_eq!(
            classify(&z, "thaw", refused("permission denied", "x")),
            ZoneError::Refused {
                command: "thaw",
                bind: "permission denied: x".into()
            }
        );
    }

    #[test]
    fn a_change_sent_without_a_usable_answer_has_an_unknown_outcome() {
        let z = zone();
        for command in ["addzone", "delzone", "modzone", "reload", "freeze", "thaw"] {
            let lost = RndcFailure::Lost("named closed the control connection".into());
            let timed_out = RndcFailure::Timeout(Duration::from_secs(3));
            let classified = match command {
                "addzone" => [classify_addzone(&z, lost), classify_addzone(&z, timed_out)],
                "modzone" => [classify_modzone(&z, lost), classify_modzone(&z, timed_out)],
                _ => [
                    classify(&z, command, lost),
                    classify(&z, command, timed_out),
                ],
            };
            assert_eq!(
                classified,
                [
                    ZoneError::OutcomeUnknown {
                        zone: z.clone(),
                        command,
                        why: "named closed the control connection".into(),
                        timed_out: false
                    },
                    ZoneError::OutcomeUnknown {
                        zone: z.clone(),
                        command,
                        why: "no answer within 3 s".into(),
                        timed_out: true
                    }
                ],
                "{command}"
            );
            assert!(classified.iter().all(keeps_files));
        }
    }

    #[test]
    fn down_and_slow_are_not_refusals() {
        let z = zone();
        assert_eq!(
            classify(&z, "showzone", RndcFailure::Timeout(Duration::from_secs(3))),
            ZoneError::Timeout(Duration::from_secs(3))
        );
        assert_eq!(
            classify(&z, "zonestatus", RndcFailure::Lost("reset".into())),
            ZoneError::Unavailable("reset".into())
        );
        assert_eq!(
            classify(&z, "reload", RndcFailure::Unavailable("down".into())),
            ZoneError::Unavailable("down".into())
        );
        assert_eq!(
            classify_status(RndcFailure::Unavailable("down".into())),
            ZoneError::Unavailable("down".into())
        );
        assert_eq!(
            classify_status(refused("permission denied", "")),
            ZoneError::Refused {
                command: "status",
                bind: "permission denied".into()
            }
        );
        assert_eq!(
            classify_addzone(&z, RndcFailure::Unavailable("down".into())),
            ZoneError::Unavailable("down".into())
        );
        assert_eq!(
            unavailable(refused("x", "y")),
            ZoneError::Refused {
                command: "rndc",
                bind: "x: y".into()
            }
        );
    }

    #[test]
    fn addzone_answers_and_which_keep_the_files() {
        let z = zone();
        let exists = classify_addzone(&z, refused("already exists", ""));
        assert_eq!(exists, ZoneError::AlreadyExists(z.clone()));
        assert!(!keeps_files(&exists));
        let timeout = classify_addzone(&z, RndcFailure::Timeout(Duration::from_secs(1)));
        assert!(keeps_files(&timeout));
        let denied = classify_addzone(&z, refused("permission denied", ""));
        assert_eq!(
            denied,
            ZoneError::Refused {
                command: "addzone",
                bind: "permission denied (does named.conf set allow-new-zones yes?)".into()
            }
        );
        assert!(!keeps_files(&denied));
        let rejected = classify_addzone(&z, refused("bad zone", "ok.test: no NS"));
        assert_eq!(
            rejected,
            ZoneError::CreateRejected {
                zone: z.clone(),
                err: "bad zone".into(),
                bind: "bad zone: ok.test: no NS".into()
            }
        );
        assert!(!keeps_files(&rejected));
        let down = classify_addzone(&z, RndcFailure::Unavailable("down".into()));
        assert_eq!(down, ZoneError::Unavailable("down".into()));
        assert!(!keeps_files(&down));
    }

    #[test]
    fn modzone_refusals_are_about_the_configuration_except_not_found() {
        let z = zone();
        assert_eq!(
            classify_modzone(&z, refused("failure", "bad acl")),
            ZoneError::ModifyRejected {
                zone: z.clone(),
                err: "failure".into(),
                bind: "failure: bad acl".into()
            }
        );
        assert_eq!(
            classify_modzone(&z, refused("not found", "")),
            ZoneError::NotFound(z.clone())
        );
        // named 9.18 on a dnssec-policy named.conf does not define
        assert_eq!(
            classify_modzone(&z, refused("not found", "configure_zone failed: not found")),
            ZoneError::ModifyRejected {
                zone: z.clone(),
                err: "not found".into(),
                bind: "not found: configure_zone failed: not found".into()
            }
        );
        assert!(is_not_loaded(&refused("zone not loaded", "")));
        assert!(!is_not_loaded(&refused("not found", "")));
        assert!(is_not_found(&refused("not found", "")));
    }
}
