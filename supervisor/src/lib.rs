//! The seccomp engine: ARMR socket rules judged at the system-call boundary, by a supervisor
//! process beside the program, for what `LD_PRELOAD` cannot reach (static and Go programs,
//! direct system calls, children with a rewritten environment). See docs/engines.md.
//!
//! [`filter`] is the BPF program (which calls the kernel sends to the supervisor, which it
//! settles itself); [`notify`] the kernel's user-notification interface; [`target`] the
//! program's memory and descriptors; [`address`] socket addresses as the kernel reads them;
//! [`calls`] each judged system call (read once, judge the copy, make the call on the program's
//! behalf with the copy); [`workers`] the interruption of calls that may block; [`events`] the event lines,
//! through the preload library's writer (`armr-sink`); [`launch`] the fork, the filter's
//! install, the listener's transfer, the signals and the exit status.

pub mod address;
pub mod calls;
pub mod events;
pub mod filter;
pub mod launch;
pub mod notify;
pub mod receive;
pub mod reload;
pub mod target;
pub mod workers;

use armr::config::{LogTarget, OnError};
use armr::policy::{EventKind, Policy};
use std::ffi::OsString;
use std::path::Path;

/// Runs `path` (as `argv`) under the seccomp engine with `policy`, its events to `log`, and
/// returns its exit status once every guarded process has ended; an error (the destination of
/// events cannot work, the filter cannot be installed) before the program runs. With `reload`,
/// a thread puts changes to the rules in force (`reload`).
pub fn run(
    path: &Path,
    argv: &[OsString],
    policy: Policy,
    log: &LogTarget,
    on_error: OnError,
    reload: Option<reload::Watch>,
) -> Result<u8, String> {
    let events = events::Events::open(log).map_err(|e| format!("ARMR_LOG: {e}"))?;
    // The receive calls reach the supervisor only when accept rules judge datagrams' senders.
    let judged = filter::Judged {
        receives: policy.has_rules(EventKind::Accept),
    };
    launch::run(path, argv, judged, move |listener| {
        let mut supervisor = calls::Supervisor::new(listener, policy, events, on_error);
        supervisor.reload = std::sync::Mutex::new(reload);
        supervisor
    })
}
