//! `ARMR_LOG_LIMIT=N`: at most N events per rule per second. The events over the limit are not
//! written; the first event of the rule written after them stands for them too (`cnt`, ECS
//! `event.count`: itself and every one suppressed since the last line). Both engines keep one
//! [`RuleLimit`] per rule; no lock, no allocation.

use std::sync::atomic::{AtomicU64, Ordering};

/// One rule's window: when its current second began, how many lines were written in it, and how
/// many events were suppressed since the last line. All zero: a valid, fresh limit.
#[derive(Debug, Default)]
pub struct RuleLimit {
    window_ms: AtomicU64,
    written: AtomicU64,
    suppressed: AtomicU64,
}

/// What to do with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Over the limit: counted, not written.
    Suppress,
    /// Written; `suppressed` events of the rule were left out before it.
    Write { suppressed: u64 },
}

impl RuleLimit {
    /// Whether an event at `now_ms` (monotonic milliseconds) is written under `limit` events a
    /// second (0: no limit).
    pub fn admit(&self, limit: u32, now_ms: u64) -> Admit {
        if limit == 0 {
            return Admit::Write { suppressed: 0 };
        }
        let start = self.window_ms.load(Ordering::Relaxed);
        if now_ms >= start + 1000 || start == 0 {
            // A new second: the thread that moves the window counts from zero.
            if self
                .window_ms
                .compare_exchange(start, now_ms.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                self.written.store(0, Ordering::Relaxed);
            }
        }
        if self.written.fetch_add(1, Ordering::Relaxed) >= u64::from(limit) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return Admit::Suppress;
        }
        Admit::Write {
            suppressed: self.suppressed.swap(0, Ordering::Relaxed),
        }
    }
}

/// `ARMR_LOG_LIMIT`'s value: events per rule per second, 0 (unset, empty or `off`) for none.
pub fn parse(value: Option<&str>) -> Result<u32, String> {
    match value {
        None | Some("") | Some("off") => Ok(0),
        Some(n) => n.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
            format!(
                "ARMR_LOG_LIMIT={}: expected a number of events per rule per second (1 or more), \
                 or `off`",
                n.escape_debug()
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_the_limit_a_second_then_one_line_counts_the_rest() {
        let l = RuleLimit::default();
        assert_eq!(l.admit(2, 5000), Admit::Write { suppressed: 0 });
        assert_eq!(l.admit(2, 5100), Admit::Write { suppressed: 0 });
        assert_eq!(l.admit(2, 5200), Admit::Suppress);
        assert_eq!(l.admit(2, 5999), Admit::Suppress);
        assert_eq!(l.admit(2, 6000), Admit::Write { suppressed: 2 });
        assert_eq!(l.admit(2, 6001), Admit::Write { suppressed: 0 });
        assert_eq!(l.admit(0, 6002), Admit::Write { suppressed: 0 });
        assert_eq!(parse(Some("off")), Ok(0));
        assert_eq!(parse(Some("10")), Ok(10));
        assert!(parse(Some("0")).is_err() && parse(Some("x")).is_err());
    }
}
