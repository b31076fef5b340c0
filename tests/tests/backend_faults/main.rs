//! Crash consistency, proven by injecting faults into a real named and a real backend:
//! named's answer to each change lost or held back (`lost_answers.rs`, a proxy on the control
//! channel and on the DNS port), the backend killed (SIGKILL) at every crash point of create,
//! delete and PATCH (`crash_points.rs`, the `bindcar-failpoints` binary), and named killed at
//! random moments of a create/delete storm (`named_crashes.rs`). After each: every zone is
//! whole or absent (`consistency.rs`), every acknowledged change holds, and a named restart
//! loads every zone without an error. Each test prints how many faults it covered.

#[path = "../common/mod.rs"]
mod common;

mod consistency;
mod crash_points;
mod lost_answers;
mod named_crashes;
mod power_loss;
mod support;
