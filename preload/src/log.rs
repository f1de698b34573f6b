//! Writes event lines: formatted into a stack buffer, handed to the sink as one write.

use crate::sink::{Sent, line};
use crate::stack;
use crate::state::State;
use armr_core::event::{Event, Lifecycle, format_lifecycle, format_unresolved};
use armr_core::policy::{UnreadableName, Unresolved};
use armr_core::verdict::Logged;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use armr_sink::limit::{Admit, RuleLimit};
use line::unix_millis;

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

/// Writes the event a verdict names: a line per event, or for a counted one (received
/// datagrams) the first of its rule at once, then at most one line a second, whose `cnt` says
/// how many events it stands for.
pub fn write(state: &State, event: &Logged) {
    if !event.counted {
        let mut count = None;
        if state.log_limit > 0
            && let Some(throttle) = state.throttles.get(event.decision.rule as usize)
        {
            match throttle.limit.admit(state.log_limit, crate::sink::now_ms()) {
                Admit::Suppress => return,
                // This line stands for itself and the events suppressed before it.
                Admit::Write { suppressed } if suppressed > 0 => count = Some(suppressed + 1),
                Admit::Write { .. } => {}
            }
        }
        return write_line(state, event, count);
    }
    let Some(throttle) = state.throttles.get(event.decision.rule as usize) else {
        return;
    };
    throttle.pending.fetch_add(1, Ordering::Relaxed);
    let now = crate::sink::now_ms();
    let next = throttle.next_ms.load(Ordering::Relaxed);
    if now < next
        || throttle
            .next_ms
            .compare_exchange(next, now + 1000, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let count = throttle.pending.swap(0, Ordering::Relaxed);
    if count > 0 {
        write_line(state, event, Some(count));
    }
}

/// Formats and sends one line, which stands for `count` events of its rule (CEF `cnt`) when
/// given. Out of line: its buffers are on the stack only when an event is written, not on every
/// judged call.
#[cold]
#[inline(never)]
fn write_line(state: &State, logged: &Logged, count: Option<u64>) {
    // Borrowed, from the rules or in place from a compiled file: nothing allocated in a hook.
    let mut name: UnreadableName = [0; 32];
    let rule = state.policy.event_rule(logged.decision.rule, &mut name);
    let event = Event {
        unix_millis: unix_millis(),
        hostname: &state.hostname,
        process: &state.process,
        pid: pid(),
        rule,
        kind: logged.kind,
        action: logged.decision.action,
        address: logged.address,
        stacktrace: None,
        count,
        transport: logged.transport,
    };
    if rule.stacktrace {
        let mut frames = [0u8; 4096];
        let n = stack::capture(&mut frames);
        let event = Event {
            stacktrace: std::str::from_utf8(&frames[..n]).ok(),
            ..event
        };
        line::send(state.sink, &event);
    } else {
        // The common event: `line` picks a small buffer to clear when the line fits.
        line::send(state.sink, &event);
    }
}

// --- counted events: at most a line a second per rule

/// A rule's count of events (received datagrams) since its last line.
pub struct Throttle {
    /// Monotonic milliseconds before which no line is written.
    next_ms: AtomicU64,
    pending: AtomicU64,
    /// `ARMR_LOG_LIMIT`'s window for the rule's other events.
    limit: RuleLimit,
}

/// One per rule of the policy (a [`Decision::rule`](armr_core::policy::Decision) indexes it).
pub fn throttles(rules: usize) -> &'static [Throttle] {
    let bytes = rules * std::mem::size_of::<Throttle>();
    if bytes == 0 {
        return &[];
    }
    // Pages of their own, zero until written: the throttles of rules that never discard a
    // datagram stay off the program's resident memory (heap memory reused from parsing would
    // be cleared, and so resident). The policy lives as long as the process: never unmapped.
    // SAFETY: a new private anonymous mapping of `bytes` bytes.
    let pages = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if pages == libc::MAP_FAILED {
        // SAFETY: all-zero bytes are a valid Throttle (atomic zeros).
        return Box::leak(unsafe { Box::<[Throttle]>::new_zeroed_slice(rules).assume_init() });
    }
    // SAFETY: zero-filled, aligned to a page, `rules` Throttles long; all-zero is a valid Throttle.
    unsafe { std::slice::from_raw_parts(pages.cast::<Throttle>(), rules) }
}

/// Sends the line that counts events lost while the destination was unavailable.
pub fn report_dropped(state: &State, count: u64) {
    line::report_dropped(state.sink, &state.hostname, &state.process, pid(), count);
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

/// Sends a line about the life of the policy (`reload`).
#[cold]
pub fn write_lifecycle(state: &State, event: &Lifecycle<'_>) {
    let mut buf = [0u8; 4096];
    let n = format_lifecycle(
        unix_millis(),
        &state.hostname,
        &state.process,
        pid(),
        event,
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
    let dropped = line::report_each_dropped(state.sink, &state.hostname, &state.process, pid());
    if dropped == 0 {
        return;
    }
    crate::state::say(&format!(
        "armr: {dropped} event{} could not be delivered to ARMR_LOG={}: it was unavailable or too slow\n",
        if dropped == 1 { "" } else { "s" },
        state.log_name
    ));
}
