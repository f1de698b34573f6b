//! An event line: formatted into a stack buffer (no allocation) in each destination's format,
//! sent with one write per destination, and the events a destination lost reported once it
//! takes lines again.

use crate::sink::{Calls, Destination, Sent, Sink};
use armr_core::config::LogFormat;
use armr_core::event::{
    Event, format_dropped, format_event_as, format_json_message, max_event_len_as,
};

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

/// Sends the event's line to every destination, in its format: the common event in a small
/// buffer, a long one (a stack trace, long metadata) in a larger one.
pub fn send<C: Calls>(sink: &Sink<C>, event: &Event<'_>) {
    for (format, destination) in sink.destinations() {
        let max = max_event_len_as(*format, event);
        if event.stacktrace.is_none() && max <= 1024 {
            send_in::<C, 1024>(destination, *format, event);
        } else if event.stacktrace.is_none() && max <= 2048 {
            // A json line's bound counts every byte as a control byte's six-byte escape.
            send_in::<C, 2048>(destination, *format, event);
        } else {
            send_in::<C, 8192>(destination, *format, event);
        }
    }
}

fn send_in<C: Calls, const N: usize>(
    destination: &Destination<C>,
    format: LogFormat,
    event: &Event<'_>,
) {
    let mut buf = [0u8; N];
    let n = format_event_as(format, event, &mut buf);
    if let Sent::Written { dropped } = destination.send(&buf[..n])
        && dropped > 0
    {
        report_dropped_to(
            destination,
            format,
            event.hostname,
            event.process,
            event.pid,
            dropped,
        );
    }
}

/// Sends the line that counts events lost while a destination was unavailable, to each
/// destination (at exit: the sum of their counts).
pub fn report_dropped<C: Calls>(
    sink: &Sink<C>,
    hostname: &str,
    process: &str,
    pid: u32,
    count: u64,
) {
    for (format, destination) in sink.destinations() {
        report_dropped_to(destination, *format, hostname, process, pid, count);
    }
}

/// At exit: each destination's lost events reported to it, if it takes the line now; returns
/// the total, for standard error.
pub fn report_each_dropped<C: Calls>(
    sink: &Sink<C>,
    hostname: &str,
    process: &str,
    pid: u32,
) -> u64 {
    let mut total = 0;
    for (format, destination) in sink.destinations() {
        let dropped = destination.take_dropped();
        if dropped > 0 {
            report_dropped_to(destination, *format, hostname, process, pid, dropped);
            total += dropped;
        }
    }
    total
}

/// The line that counts `count` events `destination` lost.
fn report_dropped_to<C: Calls>(
    destination: &Destination<C>,
    format: LogFormat,
    hostname: &str,
    process: &str,
    pid: u32,
    count: u64,
) {
    let mut buf = [0u8; 1024];
    let n = format_dropped(unix_millis(), hostname, process, pid, count, &mut buf);
    // If the destination is still unreachable, it counts the report itself as dropped and it is
    // reported with the next recovery.
    if format == LogFormat::Json {
        let mut json = [0u8; 2048];
        let m = format_json_message(&buf[..n], &mut json);
        let _ = destination.send(&json[..m]);
    } else {
        let _ = destination.send(&buf[..n]);
    }
}

/// This host's name, as events write it (`dvchost`, syslog HOSTNAME): `-` when it cannot be read.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return "-".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
