//! One reentrancy guard per thread: socket calls armr makes itself (resolving a hostname, writing
//! a log line, a library called while loading the rules) pass straight through.

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

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        let _ = INSIDE_ARMR.try_with(|inside| inside.set(false));
    }
}
