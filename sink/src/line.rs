//! An event line: formatted into a stack buffer (no allocation), sent with one write, and the
//! events a destination lost reported once it takes lines again.

use crate::sink::{Calls, Sent, Sink};
use armr_core::event::{Event, format_dropped, format_event, max_event_len};

/// Milliseconds since the Unix epoch (an event's time).
pub fn unix_millis() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: now is a writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    (now.tv_sec.max(0) as u64) * 1000 + (now.tv_nsec as u64) / 1_000_000
}

/// Sends the event's line: the common event in a small buffer, a long one (a stack trace, long
/// metadata) in a larger one.
pub fn send<C: Calls>(sink: &Sink<C>, event: &Event<'_>) {
    if event.stacktrace.is_none() && max_event_len(event) <= 1024 {
        send_in::<C, 1024>(sink, event);
    } else {
        send_in::<C, 8192>(sink, event);
    }
}

fn send_in<C: Calls, const N: usize>(sink: &Sink<C>, event: &Event<'_>) {
    let mut buf = [0u8; N];
    let n = format_event(event, &mut buf);
    if let Sent::Written { dropped } = sink.send(&buf[..n])
        && dropped > 0
    {
        report_dropped(sink, event.hostname, event.process, event.pid, dropped);
    }
}

/// Sends the line that counts events lost while the destination was unavailable.
pub fn report_dropped<C: Calls>(
    sink: &Sink<C>,
    hostname: &str,
    process: &str,
    pid: u32,
    count: u64,
) {
    let mut buf = [0u8; 1024];
    let n = format_dropped(unix_millis(), hostname, process, pid, count, &mut buf);
    // If the destination is still unreachable, the sink counts the report itself as dropped and
    // it is reported with the next recovery.
    let _ = sink.send(&buf[..n]);
}
