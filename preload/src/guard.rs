//! One reentrancy guard per thread: socket calls armr makes itself (resolving a hostname, writing
//! a log line, a library called while loading the rules) pass straight through.
//!
//! The guard is held only around that work, not around the program's own call: a signal handler
//! that interrupts a hook while it waits in the real `connect` is judged like any other caller.

use std::cell::Cell;

thread_local! {
    // Const-initialised, and Cell<bool> has no destructor: no allocation, no TLS destructor,
    // usable until the thread's last instruction.
    static INSIDE_ARMR: Cell<bool> = const { Cell::new(false) };
}

/// Held while armr handles a call on this thread.
pub struct Guard(());

impl Guard {
    /// `None` when this thread is already inside armr.
    #[inline]
    pub fn enter() -> Option<Guard> {
        INSIDE_ARMR
            .try_with(|inside| !inside.replace(true))
            .ok()
            .filter(|entered| *entered)
            .map(|_| Guard(()))
    }
}

/// True when this thread is inside armr's own work (loading the rules, resolving a hostname,
/// judging or logging): its socket calls are armr's and pass straight through.
#[inline]
pub fn inside() -> bool {
    INSIDE_ARMR.try_with(Cell::get).unwrap_or(true)
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        let _ = INSIDE_ARMR.try_with(|inside| inside.set(false));
    }
}
