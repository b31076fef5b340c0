//! What can go wrong in a zone operation, in domain terms: no status codes, no API paths.
//! `http::error` maps each variant to one status and body.

use std::time::Duration;

use crate::bind::ZoneName;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ZoneError {
    /// The request is malformed or a value is invalid. Nothing was written or sent.
    #[error("{0}")]
    Invalid(String),
    #[error("zone {0} not found")]
    NotFound(ZoneName),
    #[error("zone {0} already exists")]
    AlreadyExists(ZoneName),
    /// The zone's file name is taken by a file this API did not write. Nothing was written.
    #[error("zone file {path} of zone {zone} exists and was not written by this API")]
    FileTaken { zone: ZoneName, path: String },
    /// The zone exists but was not created through this API (e.g. it is in named.conf).
    #[error("zone {zone} is not managed by this API; refusing to {operation} it")]
    NotManaged {
        zone: ZoneName,
        operation: &'static str,
    },
    /// `reload` of a zone that takes dynamic updates: it must be frozen, then thawed.
    #[error("zone {zone} is dynamic: {bind}")]
    Dynamic { zone: ZoneName, bind: String },
    /// `freeze` of a zone that takes no dynamic updates.
    #[error("zone {zone} is not dynamic: {bind}")]
    NotDynamic { zone: ZoneName, bind: String },
    #[error("zone {zone} is already frozen: {bind}")]
    AlreadyFrozen { zone: ZoneName, bind: String },
    /// `retransfer` of a zone that is not a secondary.
    #[error("zone {zone} is not a secondary: {bind}")]
    NotSecondary { zone: ZoneName, bind: String },
    /// `freeze`/`thaw` of a secondary zone (named: `not primary`).
    #[error("zone {zone} is not a primary: {bind}")]
    NotPrimary { zone: ZoneName, bind: String },
    /// Configured but not loaded (a secondary before its first transfer, or a bad file).
    #[error("zone {zone} is not loaded: {bind}")]
    NotLoaded { zone: ZoneName, bind: String },
    /// `addzone` refused the zone's configuration or content; `err` is named's result text.
    #[error("BIND rejected zone {zone}: {bind}")]
    CreateRejected {
        zone: ZoneName,
        err: String,
        bind: String,
    },
    /// `modzone` refused the new configuration.
    #[error("BIND rejected the new configuration of zone {zone}: {bind}")]
    ModifyRejected {
        zone: ZoneName,
        err: String,
        bind: String,
    },
    /// named refused a command for a reason this service does not classify.
    #[error("BIND refused '{command}': {bind}")]
    Refused { command: &'static str, bind: String },
    /// `dnssecPolicy: none` while the zone still serves DNSKEY records: removing the policy
    /// now would take the zone dark for validating resolvers. Nothing was sent.
    #[error("zone {0} still serves DNSKEY records")]
    StillSigned(ZoneName),
    /// The zone has no `dnssec-policy` (`/ds`, `checkds`).
    #[error("zone {0} has no dnssec-policy")]
    NoPolicy(ZoneName),
    /// `checkds` of a key tag the zone does not have.
    #[error("zone {zone} has no key with tag {tag}")]
    NoSuchKey { zone: ZoneName, tag: u16 },
    /// `checkds` refused for another reason (named's text).
    #[error("BIND refused checkds on zone {zone}: {bind}")]
    CheckdsRefused { zone: ZoneName, bind: String },
    /// `primaries` in a PATCH of a zone that is not a secondary. Nothing was sent.
    #[error("zone {0} is not a secondary")]
    PrimariesOfPrimary(ZoneName),
    /// `modzone` stored a DNSSEC change but the `reconfig` that puts it in effect failed or
    /// its answer was lost (`why`): named may serve the zone as before until its next reconfig
    /// or restart. The same PATCH again is harmless.
    #[error("zone {zone}: DNSSEC change stored but maybe not in effect: {why}")]
    NotInEffect { zone: ZoneName, why: String },
    /// named cannot be reached on its control channel; the text says why.
    #[error("cannot reach named's control channel: {0}")]
    Unavailable(String),
    /// named did not answer in time (a command that only reads).
    #[error("BIND did not answer within {} seconds", .0.as_secs())]
    Timeout(Duration),
    /// A change was sent to named and no usable answer came back (`why`): named may have
    /// carried it out. What the request wrote stays; the reconciliation settles the zone
    /// against what BIND has (whole or absent).
    #[error("the outcome of '{command}' on zone {zone} is unknown: {why}")]
    OutcomeUnknown {
        zone: ZoneName,
        command: &'static str,
        why: String,
        /// No answer within the time limit (else: the answer was lost).
        timed_out: bool,
    },
    /// The zone is this API's catalog zone (`BIND_CATALOG_ZONE`): only the API changes it.
    /// Nothing was sent.
    #[error("zone {zone} is this API's catalog zone; refusing to {operation} it")]
    CatalogZone {
        zone: ZoneName,
        operation: &'static str,
    },
    /// A create's or delete's change of the catalog failed for sure (`why`: named refused the
    /// UPDATE, or could not be reached before it was sent), and what the request had done was
    /// undone: nothing was changed. `retryable`: named unreachable rather than refusing.
    #[error("zone {zone}: the catalog {catalog} could not be changed: {why}")]
    CatalogRefused {
        zone: ZoneName,
        catalog: ZoneName,
        why: String,
        retryable: bool,
    },
    /// Anything else (disk, an unexpected answer); the cause is logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}
