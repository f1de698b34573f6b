//! The supervisor's events: the same lines as the preload library's, through the same writer
//! (`armr-sink`), naming the program that made the call (its pid and name) instead of the
//! process that writes them.

use armr::config::LogTarget;
use armr::event::Event;
use armr::policy::{Policy, UnreadableName};
use armr::verdict::Logged;
use armr_sink::{Libc, Sink, line};

pub struct Events {
    sink: Sink<Libc>,
    hostname: String,
    /// The `ARMR_LOG` value, for messages about it.
    log_name: String,
}

/// The program a call came from, as an event names it.
pub struct Origin {
    pub process: String,
    pub pid: u32,
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return "-".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

impl Events {
    /// Opens the destination: an error only for a value that can never work (see `Sink::open`).
    pub fn open(target: &LogTarget) -> Result<Events, String> {
        Ok(Events {
            sink: Sink::open(target)?,
            hostname: hostname(),
            log_name: target.value().unwrap_or_else(|| "stderr".into()),
        })
    }

    /// Writes the event a verdict names, for the program `origin`. (Received datagrams, whose
    /// events are counted, are not judged by this engine yet: every event is a line.)
    pub fn write(&self, policy: &Policy, logged: &Logged, origin: &Origin) {
        let mut name: UnreadableName = [0; 32];
        let rule = policy.event_rule(logged.decision.rule, &mut name);
        let event = Event {
            unix_millis: line::unix_millis(),
            hostname: &self.hostname,
            process: &origin.process,
            pid: origin.pid,
            rule,
            kind: logged.kind,
            action: logged.decision.action,
            address: logged.address,
            // The program's stack is not the supervisor's to walk.
            stacktrace: None,
            count: None,
        };
        line::send(&self.sink, &event);
    }

    /// When the supervisor ends: events that could not be delivered are reported to the
    /// destination if it takes them, and on standard error in any case.
    pub fn at_exit(&self) {
        let dropped = self.sink.take_dropped();
        if dropped == 0 {
            return;
        }
        line::report_dropped(
            &self.sink,
            &self.hostname,
            "armr",
            std::process::id(),
            dropped,
        );
        eprintln!(
            "armr: {dropped} event{} could not be delivered to ARMR_LOG={}: it was unavailable or too slow",
            if dropped == 1 { "" } else { "s" },
            self.log_name
        );
    }
}
