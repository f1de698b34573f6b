//! Writes event lines: formatted into a stack buffer, handed to the sink as one write.

use crate::sink::Sent;
use crate::stack;
use crate::state::State;
use armr_core::event::{Event, format_dropped, format_event, format_unresolved, max_event_len};
use armr_core::policy::{Decision, EventKind, Unresolved};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};

fn unix_millis() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: now is a writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    (now.tv_sec.max(0) as u64) * 1000 + (now.tv_nsec as u64) / 1_000_000
}

/// The process id, cached: one system call less per event. Reset in a forked child.
static PID: AtomicU32 = AtomicU32::new(0);

fn pid() -> u32 {
    match PID.load(Ordering::Relaxed) {
        0 => {
            // SAFETY: no preconditions.
            let pid = unsafe { libc::getpid() } as u32;
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// In a forked child: the child logs its own pid.
pub fn after_fork() {
    PID.store(0, Ordering::Relaxed);
}

/// Formats and sends one event. Out of line: its buffers are on the stack only when an event is
/// written, not on every judged call.
#[cold]
#[inline(never)]
pub fn write_event(state: &State, kind: EventKind, address: SocketAddr, decision: Decision) {
    write_counted_event(state, kind, address, decision, None);
}

/// [`write_event`] for a line that stands for `count` events of its rule (CEF `cnt`).
#[cold]
#[inline(never)]
pub fn write_counted_event(
    state: &State,
    kind: EventKind,
    address: SocketAddr,
    decision: Decision,
    count: Option<u64>,
) {
    let (app, rule) = state.policy.rule(decision.rule);
    let event = Event {
        unix_millis: unix_millis(),
        hostname: &state.hostname,
        process: &state.process,
        pid: pid(),
        app,
        rule,
        kind,
        action: decision.action,
        address,
        stacktrace: None,
        count,
    };
    if rule.stacktrace {
        let mut frames = [0u8; 4096];
        let n = stack::capture(&mut frames);
        let event = Event {
            stacktrace: std::str::from_utf8(&frames[..n]).ok(),
            ..event
        };
        send_event::<8192>(state, &event);
    } else if max_event_len(&event) <= 1024 {
        // The common event: a small buffer to clear.
        send_event::<1024>(state, &event);
    } else {
        send_event::<8192>(state, &event);
    }
}

fn send_event<const N: usize>(state: &State, event: &Event<'_>) {
    let mut buf = [0u8; N];
    let n = format_event(event, &mut buf);
    if let Sent::Written { dropped } = state.sink.send(&buf[..n])
        && dropped > 0
    {
        report_dropped(state, dropped);
    }
}

/// Sends the line that counts events lost while the destination was unavailable.
pub fn report_dropped(state: &State, count: u64) {
    let mut buf = [0u8; 1024];
    let n = format_dropped(
        unix_millis(),
        &state.hostname,
        &state.process,
        pid(),
        count,
        &mut buf,
    );
    // If the destination is still unreachable, the sink counts the report itself as dropped and
    // it is reported with the next recovery.
    let _ = state.sink.send(&buf[..n]);
}

/// Sends the line that reports a hostname of the rules that does not resolve.
#[cold]
pub fn write_unresolved(state: &State, report: &Unresolved<'_>) {
    let mut buf = [0u8; 2048];
    let n = format_unresolved(
        unix_millis(),
        &state.hostname,
        &state.process,
        pid(),
        report,
        &mut buf,
    );
    if let Sent::Written { dropped } = state.sink.send(&buf[..n])
        && dropped > 0
    {
        report_dropped(state, dropped);
    }
}

/// At exit: events still unreported are reported to the destination if it takes them, and on
/// standard error in any case.
pub fn at_exit(state: &State) {
    let dropped = state.sink.take_dropped();
    if dropped == 0 {
        return;
    }
    report_dropped(state, dropped);
    crate::state::say(&format!(
        "armr: {dropped} event{} could not be delivered to ARMR_LOG={}: it was unavailable or too slow\n",
        if dropped == 1 { "" } else { "s" },
        state.log_name
    ));
}
