//! The supervisor's events: the same lines as the preload library's, through the same writer
//! (`armr-sink`), naming the program that made the call (its pid and name) instead of the
//! process that writes them.

use armr::config::LogTarget;
use armr::event::Event;
use armr::policy::{Policy, UnreadableName};
use armr::verdict::Logged;
use armr_sink::limit::{self, Admit, RuleLimit};
use armr_sink::{Libc, Sink, line};
use std::collections::HashMap;
use std::sync::Mutex;

pub struct Events {
    sink: Sink<Libc>,
    /// Per rule, for counted events (received datagrams): when its next line may be written
    /// (monotonic milliseconds) and how many events wait for it.
    throttles: Mutex<HashMap<u32, (u64, u64)>>,
    /// `ARMR_LOG_LIMIT` (0: none) and each rule's window.
    limit: u32,
    limits: Mutex<HashMap<u32, RuleLimit>>,
    hostname: String,
    /// The `ARMR_LOG` value, for messages about it.
    log_name: String,
}

/// The program a call came from, as an event names it.
pub struct Origin {
    pub process: String,
    pub pid: u32,
}

impl Events {
    /// Opens the destination: an error only for a value that can never work (see `Sink::open`).
    /// `ARMR_LOG_LIMIT` is read from the supervisor's environment (`armr run`'s).
    pub fn open(target: &LogTarget) -> Result<Events, String> {
        let limit = limit::parse(std::env::var(armr::config::LOG_LIMIT).ok().as_deref())?;
        Ok(Events {
            sink: Sink::open(target)?,
            throttles: Mutex::new(HashMap::new()),
            limit,
            limits: Mutex::new(HashMap::new()),
            hostname: line::hostname(),
            log_name: target.value().unwrap_or_else(|| "stderr".into()),
        })
    }

    /// Writes the event a verdict names, for the program `origin`: a line per event, or for a
    /// counted one (received datagrams, which a sender controls) the first of its rule at once,
    /// then at most one line a second, whose `cnt` says how many events it stands for (as the
    /// preload library does).
    pub fn write(&self, policy: &Policy, logged: &Logged, origin: &Origin) {
        let count = if logged.counted {
            let Ok(mut throttles) = self.throttles.lock() else {
                return;
            };
            let now = armr_sink::sink::now_ms();
            let (next, pending) = throttles.entry(logged.decision.rule).or_insert((0, 0));
            *pending += 1;
            if now < *next {
                return;
            }
            *next = now + 1000;
            Some(std::mem::take(pending))
        } else if self.limit > 0 {
            let Ok(mut limits) = self.limits.lock() else {
                return;
            };
            let now = armr_sink::sink::now_ms();
            match limits
                .entry(logged.decision.rule)
                .or_default()
                .admit(self.limit, now)
            {
                Admit::Suppress => return,
                // This line stands for itself and the events suppressed before it.
                Admit::Write { suppressed } if suppressed > 0 => Some(suppressed + 1),
                Admit::Write { .. } => None,
            }
        } else {
            None
        };
        self.write_line(policy, logged, origin, count);
    }

    fn write_line(&self, policy: &Policy, logged: &Logged, origin: &Origin, count: Option<u64>) {
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
            count,
            transport: logged.transport,
        };
        line::send(&self.sink, &event);
    }

    /// Writes a line about the life of the policy (`reload`), as the supervisor's own.
    pub fn lifecycle(&self, event: &armr::event::Lifecycle<'_>) {
        self.lifecycle_of("armr", std::process::id(), event);
    }

    /// Writes a line about the life of the policy, for the process `process` of `pid`.
    pub fn lifecycle_of(&self, process: &str, pid: u32, event: &armr::event::Lifecycle<'_>) {
        let mut buf = [0u8; 4096];
        let n = armr::event::format_lifecycle(
            line::unix_millis(),
            &self.hostname,
            process,
            pid,
            event,
            &mut buf,
        );
        let _ = self.sink.send(&buf[..n]);
    }

    /// When the supervisor ends: events that could not be delivered are reported to the
    /// destination if it takes them, and on standard error in any case.
    pub fn at_exit(&self) {
        let dropped =
            line::report_each_dropped(&self.sink, &self.hostname, "armr", std::process::id());
        if dropped == 0 {
            return;
        }
        eprintln!(
            "armr: {dropped} event{} could not be delivered to ARMR_LOG={}: it was unavailable or too slow",
            if dropped == 1 { "" } else { "s" },
            self.log_name
        );
    }
}
