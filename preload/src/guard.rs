//! One reentrancy guard per thread: socket calls armr makes itself (resolving a hostname, writing
//! a log line, a library called while loading the rules) pass straight through.
//!
//! The guard is held only around that work, not around the program's own call: a signal handler
//! that interrupts a hook while it waits in the real `connect` is judged like any other caller.
//!
//! A process-wide count of held guards lets a hook skip the thread-local lookup (a call into the
//! dynamic loader, from a shared library) when no thread holds one, which is almost always. A
//! thread always sees its own increment of the count, so it never misses its own guard.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

thread_local! {
    // Const-initialised, and Cell<bool> has no destructor: no allocation, no TLS destructor,
    // usable until the thread's last instruction.
    static INSIDE_ARMR: Cell<bool> = const { Cell::new(false) };
}

/// How many threads hold a guard now.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// Held while armr handles a call on this thread.
pub struct Guard(());

impl Guard {
    /// `None` when this thread is already inside armr.
    #[inline]
    pub fn enter() -> Option<Guard> {
        let entered = INSIDE_ARMR
            .try_with(|inside| !inside.replace(true))
            .unwrap_or(false);
        entered.then(|| {
            HELD.fetch_add(1, Ordering::Relaxed);
            Guard(())
        })
    }
}

/// True when this thread is inside armr's own work (loading the rules, resolving a hostname,
/// writing an event): its socket calls are armr's and pass straight through.
#[inline]
pub fn inside() -> bool {
    HELD.load(Ordering::Relaxed) != 0 && inside_this_thread()
}

#[cold]
#[inline(never)]
fn inside_this_thread() -> bool {
    INSIDE_ARMR.try_with(Cell::get).unwrap_or(true)
}

/// In a forked child: only the forking thread exists, and the guards other threads held at the
/// fork are gone with them.
pub fn after_fork() {
    let mine = INSIDE_ARMR.try_with(Cell::get).unwrap_or(false);
    HELD.store(usize::from(mine), Ordering::Relaxed);
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        let _ = INSIDE_ARMR.try_with(|inside| inside.set(false));
        HELD.fetch_sub(1, Ordering::Relaxed);
    }
}
