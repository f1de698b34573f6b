//! Writes event lines: formatted into a stack buffer, written with one `write` call.

use crate::state::State;
use armr_core::event::{Event, format_event};
use armr_core::language::Action;
use armr_core::policy::{Decision, EventKind};
use std::net::SocketAddr;

/// Logs the event of a decision when the rule asks for it: a rule with a message, or any rule
/// acting as detect (detect-only mode logs every call a protect rule would refuse).
pub fn decision(state: &State, kind: EventKind, address: SocketAddr, decision: Decision) {
    let (app, rule) = state.policy.rule(decision.rule);
    if rule.message.is_none() && decision.action != Action::Detect {
        return;
    }
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: now is a writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    let unix_millis = (now.tv_sec.max(0) as u64) * 1000 + (now.tv_nsec as u64) / 1_000_000;
    let event = Event {
        unix_millis,
        hostname: &state.hostname,
        process: &state.process,
        // SAFETY: getpid has no preconditions. Called per event so that a forked child logs its own.
        pid: unsafe { libc::getpid() } as u32,
        app,
        rule,
        kind,
        action: decision.action,
        address,
        stacktrace: None,
    };
    let mut buf = [0u8; 8192];
    let n = format_event(&event, &mut buf);
    let mut rest = &buf[..n];
    while !rest.is_empty() {
        // SAFETY: rest is a valid buffer.
        let w = unsafe { libc::write(state.log_fd, rest.as_ptr().cast(), rest.len()) };
        if w <= 0 {
            break;
        }
        rest = &rest[w as usize..];
    }
}
