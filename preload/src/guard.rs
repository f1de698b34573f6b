//! One reentrancy guard per thread: socket calls armr's own work makes (resolving a hostname; a
//! library called while loading the rules) pass straight through.
//!
//! The guard is held only around that work, not around the program's own call: a signal handler
//! that interrupts a hook while it waits in the real `connect` is judged like any other caller.
//!
//! armr's own work that makes socket calls the hooks must pass through (loading the rules,
//! resolving the hostnames of a kind's rules, both once per process) runs under [`Held`]: the
//! guard, with the thread's asynchronous signals held, so that no handler runs while the guard is
//! up. Signals arriving then are delivered when the work ends, and their handlers are judged.
//! Sending events needs no guard at all: the sink calls the real functions directly (`real`).
//!
//! A process-wide count of held guards lets a hook skip the thread-local lookup (a call into the
//! dynamic loader, from a shared library) when no thread holds one, which is almost always. A
//! thread always sees its own increment of the count, so it never misses its own guard.

use crate::errno;
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

/// Synchronous fault signals, never held: blocking one that the thread itself raises (a bad
/// address, an abort) gets the process killed instead of its handler run.
pub const NEVER_HELD: [libc::c_int; 7] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGTRAP,
    libc::SIGABRT,
    libc::SIGSYS,
];

/// The reentrancy guard, with this thread's asynchronous signals held (blocked) until it is
/// dropped: for armr's own one-time work whose socket calls pass through the hooks. A handler for
/// a signal that arrives meanwhile runs once the guard is down, and its calls are judged.
///
/// Two system calls (block, restore); no allocation, no lock; errno is left as it was. A thread
/// started while signals are held would inherit the mask: armr's own work starts none.
pub struct Held {
    guard: Option<Guard>,
    /// The thread's signal mask before, restored on drop.
    previous: libc::sigset_t,
    blocked: bool,
}

impl Held {
    /// `None` when this thread is already inside armr (its signals are held by whoever entered,
    /// or its work does not need them held).
    pub fn enter() -> Option<Held> {
        let guard = Guard::enter()?;
        let saved = errno::get();
        // SAFETY: sigset_t is plain data, filled in by sigfillset / pthread_sigmask.
        let mut hold: libc::sigset_t = unsafe { std::mem::zeroed() };
        let mut previous: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: both sets are valid and writable; pthread_sigmask changes this thread's mask
        // only (glibc keeps its own internal signals out of it).
        let blocked = unsafe {
            libc::sigfillset(&mut hold);
            for signal in NEVER_HELD {
                libc::sigdelset(&mut hold, signal);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &hold, &mut previous) == 0
        };
        errno::set(saved);
        Some(Held {
            guard: Some(guard),
            previous,
            blocked,
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // Leave the guard first: a signal held meanwhile is delivered as the mask is restored,
        // and its handler must find this thread outside armr.
        drop(self.guard.take());
        if self.blocked {
            let saved = errno::get();
            // SAFETY: previous is the mask pthread_sigmask gave back.
            unsafe {
                libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous, std::ptr::null_mut())
            };
            errno::set(saved);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicU32};

    /// How many SIGUSR1 this test's handler has seen (raise() sends to the calling thread only).
    static RAN: AtomicU32 = AtomicU32::new(0);
    /// Set when the handler ran with the reentrancy guard up: its calls would not be judged.
    static RAN_INSIDE: AtomicBool = AtomicBool::new(false);

    extern "C" fn count(_: libc::c_int) {
        if inside() {
            RAN_INSIDE.store(true, Ordering::SeqCst);
        }
        RAN.fetch_add(1, Ordering::SeqCst);
    }

    fn mask() -> libc::sigset_t {
        // SAFETY: a query of this thread's mask into a writable set.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            assert_eq!(
                libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut set),
                0
            );
            set
        }
    }

    fn blocked(set: &libc::sigset_t) -> Vec<libc::c_int> {
        // SAFETY: set is a valid sigset_t.
        (1..65)
            .filter(|&s| unsafe { libc::sigismember(set, s) } == 1)
            .collect()
    }

    #[test]
    fn held_signals_run_their_handler_after_the_guard_is_down_and_the_mask_is_restored() {
        // SAFETY: installs a handler that only counts; builds this thread's mask.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = count as extern "C" fn(libc::c_int) as libc::sighandler_t;
            assert_eq!(
                libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
                0
            );
            // A mask the thread had before: SIGUSR2 blocked. It must come back as it was.
            let mut usr2: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut usr2);
            libc::sigaddset(&mut usr2, libc::SIGUSR2);
            assert_eq!(
                libc::pthread_sigmask(libc::SIG_BLOCK, &usr2, std::ptr::null_mut()),
                0
            );
        }
        let before = blocked(&mask());
        assert!(before.contains(&libc::SIGUSR2) && !before.contains(&libc::SIGUSR1));

        errno::set(libc::EINPROGRESS);
        let held = Held::enter().expect("this thread is not inside armr");
        assert_eq!(errno::get(), libc::EINPROGRESS, "entering keeps errno");
        assert!(inside(), "the reentrancy guard is up");
        assert!(
            Held::enter().is_none() && Guard::enter().is_none(),
            "no second entry"
        );
        let during = blocked(&mask());
        assert!(during.contains(&libc::SIGUSR1) && during.contains(&libc::SIGALRM));
        for fault in NEVER_HELD {
            assert!(!during.contains(&fault), "signal {fault} is never held");
        }

        // SAFETY: raise sends SIGUSR1 to this thread, whose handler only counts.
        assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
        assert_eq!(
            RAN.load(Ordering::SeqCst),
            0,
            "the handler ran while armr's work was going on"
        );

        errno::set(libc::EAGAIN);
        drop(held);
        assert_eq!(
            RAN.load(Ordering::SeqCst),
            1,
            "the held signal was delivered on drop"
        );
        assert!(
            !RAN_INSIDE.load(Ordering::SeqCst),
            "the handler ran with the guard still up"
        );
        assert_eq!(errno::get(), libc::EAGAIN, "dropping keeps errno");
        assert!(!inside(), "the reentrancy guard is down");
        assert_eq!(blocked(&mask()), before, "the previous mask is back");

        // SAFETY: as above; SIGUSR1 is not blocked any more.
        assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
        assert_eq!(
            RAN.load(Ordering::SeqCst),
            2,
            "delivered at once after the drop"
        );
    }
}
