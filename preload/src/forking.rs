//! A `fork` waits for a hostname resolution in progress on another thread.
//!
//! Resolving a kind's hostnames happens once per process, on the first decision that needs them,
//! and the policy keeps the answer in a once-only cell. A child forked while another thread fills
//! that cell inherits it half-filled, with no thread left to finish it: its first decision of that
//! kind would wait forever. So the fork handler armr registers (`pthread_atfork`, before the fork)
//! waits until no resolution is in progress, and a resolution waits while a fork is being
//! prepared. The wait is bounded by the resolution's deadline (one resolver timeout: see
//! `armr_core::policy::SystemResolver`), and happens at most once per kind and process. The helper
//! threads that look names up are not waited for: they touch nothing of the policy's, and one
//! still waiting for the resolver after the deadline only has its answer dropped.
//!
//! The library's fork handler (`lib.rs`) first tells the descriptor bookkeeping that the child
//! shares every socket (`descriptors`), then calls [`before_fork`].

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Threads resolving now.
static RESOLVING: AtomicUsize = AtomicUsize::new(0);
/// A fork is being prepared: no resolution may start.
static FORKING: AtomicBool = AtomicBool::new(false);

/// Held while a thread resolves hostnames.
pub struct Resolving(());

impl Resolving {
    /// Waits while a fork is being prepared, then counts this thread as resolving.
    pub fn enter() -> Resolving {
        loop {
            // SeqCst on both sides: either this thread sees the fork, or the fork sees it.
            RESOLVING.fetch_add(1, Ordering::SeqCst);
            if !FORKING.load(Ordering::SeqCst) {
                return Resolving(());
            }
            RESOLVING.fetch_sub(1, Ordering::SeqCst);
            while FORKING.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
        }
    }
}

impl Drop for Resolving {
    fn drop(&mut self) {
        RESOLVING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Before a fork: waits until no other thread resolves. A thread that forks from inside armr's
/// own work (an NSS module that forks while this thread resolves) does not wait for itself.
pub fn before_fork() {
    FORKING.store(true, Ordering::SeqCst);
    if crate::guard::inside() {
        return;
    }
    while RESOLVING.load(Ordering::SeqCst) != 0 {
        std::thread::yield_now();
    }
}

/// After a fork, in the parent: resolutions may start again.
pub extern "C" fn after_fork_in_parent() {
    FORKING.store(false, Ordering::SeqCst);
}

/// After a fork, in the child: only the forking thread exists.
pub fn after_fork_in_child() {
    RESOLVING.store(0, Ordering::SeqCst);
    FORKING.store(false, Ordering::SeqCst);
}
