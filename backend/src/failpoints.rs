//! Crash points for the fault-injection tests (feature `failpoints`, binary
//! `bindcar-failpoints`). Each step of create, delete and PATCH that touches the disk or named
//! carries a `fail::fail_point!` (compiled to nothing without the feature). The tests arm them
//! from the environment:
//!
//! - `BINDCAR_KILL_AT=<point>[,<point>...]`: the process kills itself with SIGKILL when it
//!   reaches one: no destructor, no flush, no answer; what is on disk and in named is what a
//!   crash there leaves.
//! - `FAILPOINTS=<point>=<action>;...`: fail-rs's own actions (`return`, `sleep(ms)`, ...).
//!
//! The points: `create.before_claim`, `claim.after_marker`, `claim.after_link`,
//! `create.before_addzone`, `claim.before_sync`, `claim.after_sync`, `create.after_addzone`,
//! `delete.before_delzone`, `delete.after_delzone`, `delete.after_files`,
//! `modify.before_modzone`, `modify.after_modzone`, `rndc.after_send` (the command written,
//! its answer then treated as lost), and with a catalog zone `create.before_member`,
//! `create.after_member`, `delete.before_member_removal`, `delete.after_member_removal` and
//! `update.after_send` (an RFC 2136 UPDATE written, its answer then treated as lost).

/// Arms the crash points named in the environment. Logs each armed point on stderr.
pub fn arm() {
    // fail-rs reads `FAILPOINTS`; the scenario must live as long as the process.
    std::mem::forget(fail::FailScenario::setup());
    let Ok(points) = std::env::var("BINDCAR_KILL_AT") else {
        return;
    };
    for point in points.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let name = point.to_string();
        let armed = fail::cfg_callback(point, move || {
            eprintln!("failpoint {name} reached: SIGKILL");
            // SAFETY: raise has no memory-safety preconditions; SIGKILL ends the process.
            unsafe {
                libc::raise(libc::SIGKILL);
            }
        });
        match armed {
            Ok(()) => eprintln!("failpoint {point} armed: SIGKILL"),
            Err(e) => eprintln!("failpoint {point}: {e}"),
        }
    }
}
