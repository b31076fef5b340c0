//! The zone operations and their order, in domain terms (no HTTP here): `plan` validates a
//! request before any I/O (`records`: the records of a new zone; `request`: what a client
//! sends), `create`/`change`/`actions`/`read`/`dnssec` are the operations on `service::Zones`, `locks`
//! serialises mutations per zone, `classify` says what each answer of named means, and
//! `error::ZoneError` is every way an operation can fail; `index` is the in-memory list of
//! managed zones and `reconcile` keeps it true to BIND (and sweeps orphaned files). named is
//! reached only through `bind::ControlChannel` and `bind::Statistics`; records over RFC 2136:
//! `records_request` (bodies, one record's check), `records_plan` (what a call sends, and the
//! refusals that keep named from silently skipping it), `records_apply` (a call carried out)
//! and `records_update` (one UPDATE over `bind::update::DnsChannel`, `RecordError`). The catalog zone
//! (`membership`: members added by creates, removed by deletes, repaired by the
//! reconciliation) and what each secondary serves (`propagation`).

pub mod actions;
pub mod change;
pub mod classify;
pub mod create;
pub mod dnssec;
pub mod error;
pub mod index;
pub mod locks;
pub mod membership;
pub mod plan;
pub mod propagation;
pub mod read;
pub mod reconcile;
pub mod records;
pub mod records_apply;
pub mod records_plan;
pub mod records_request;
pub mod records_update;
pub mod request;
pub mod service;

pub use crate::bind::ZoneName;
pub use actions::ZoneAction;
pub use error::ZoneError;
pub use plan::{CreatePlan, ModifyPlan, PolicyChange};
pub use propagation::{Propagation, SecondaryView};
pub use read::{ZoneStatus, ZoneSummary};
pub use service::Zones;

#[cfg(test)]
mod catalog_tests;
#[cfg(test)]
mod dnssec_tests;
#[cfg(test)]
pub mod fake;
#[cfg(test)]
pub mod fake_dns;
#[cfg(test)]
mod list_tests;
#[cfg(test)]
mod records_plan_tests;
#[cfg(test)]
mod tests;
