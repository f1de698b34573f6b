//! Calls that may block, made on the receiving thread that received them (`calls`), and
//! interrupted as the kernel would interrupt them.
//!
//! The filter is installed with `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`: once the supervisor
//! has received a call, the program's thread waits for the answer and only a fatal signal ends
//! the wait. That keeps a call the supervisor made on the program's behalf from being made twice
//! (Go's runtime preempts its threads with signals all the time), but a blocking call (an
//! `accept` waiting for a client) would then hold off the program's signal handlers until it
//! returns. So a watcher looks at the waiting threads every [`WATCH_MS`]: when one has a signal
//! pending that the program handles, the supervisor's blocking call is interrupted (a signal of
//! its own to the worker) and the program's call answered as the kernel answers an interrupted
//! socket call: restarted after the handler when the handler was installed with `SA_RESTART`
//! (`ERESTARTSYS`), else `EINTR`. A thread that died (its notification no longer valid) ends its
//! worker's call too.

use crate::notify::{self, Answer, ERESTARTSYS};
use crate::target::{self, Pending};
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often waiting threads are looked at.
pub const WATCH_MS: u64 = 50;

const NOT_INTERRUPTED: u8 = 0;
const FOR_THREAD: u8 = 1;
const FOR_PROCESS: u8 = 2;
const GONE: u8 = 3;
/// A signal for the process seen once: interrupted if it is still pending at the next look
/// (another thread may take it meanwhile).
const PROCESS_SEEN: u8 = 4;

struct Flight {
    id: u64,
    tid: libc::pid_t,
    thread: libc::pthread_t,
    reason: AtomicU8,
    started: Instant,
    /// Made without making sure another receiver waits first: the watcher does, if it lasts.
    unspared: AtomicBool,
}

#[derive(Default)]
pub struct Workers {
    flights: Mutex<Vec<Arc<Flight>>>,
}

/// The signal that interrupts a receiving thread's blocking call: a handler that does nothing, installed
/// without `SA_RESTART`.
pub fn interrupt_signal() -> libc::c_int {
    libc::SIGRTMIN() + 3
}

extern "C" fn nothing(_: libc::c_int) {}

/// Unblocks the interrupt signal in this thread (a receiving thread, which makes the calls; it
/// starts with every signal blocked, as the thread that starts it).
pub fn take_interrupt() {
    // SAFETY: valid sets.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, interrupt_signal());
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}

/// Installs the interrupt signal's handler (once, at start).
pub fn install_interrupt() {
    // SAFETY: a valid sigaction with a handler that does nothing.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = nothing as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(interrupt_signal(), &action, std::ptr::null_mut());
    }
}

impl Workers {
    /// Runs `call` (a call that may block, for the program's thread `tid`, notification `id`)
    /// on this receiving thread (which takes the interrupt signal), interruptible by the
    /// watcher; the answer, mapped as the kernel maps an interrupted call.
    /// `unspared`: no other receiver was made sure of before the call (see
    /// [`Workers::blocked`]). The answer comes with how long the call took.
    pub fn run(
        &self,
        id: u64,
        tid: libc::pid_t,
        unspared: bool,
        call: impl FnOnce() -> Answer,
    ) -> (Answer, Duration) {
        let flight = Arc::new(Flight {
            id,
            tid,
            // SAFETY: no preconditions.
            thread: unsafe { libc::pthread_self() },
            reason: AtomicU8::new(NOT_INTERRUPTED),
            started: Instant::now(),
            unspared: AtomicBool::new(unspared),
        });
        if let Ok(mut flights) = self.flights.lock() {
            flights.push(Arc::clone(&flight));
        }
        let answer = call();
        // Removed under the lock the watcher signals under: no signal comes after this.
        if let Ok(mut flights) = self.flights.lock() {
            flights.retain(|f| !Arc::ptr_eq(f, &flight));
        }
        let took = flight.started.elapsed();
        match (answer, flight.reason.load(Ordering::Relaxed)) {
            (Answer::Error(libc::EINTR), FOR_THREAD) => (Answer::Error(ERESTARTSYS), took),
            (answer, _) => (answer, took),
        }
    }

    /// Whether a call is blocked now (made longer than `after` ago), and whether one made
    /// without a spare receiver is among them (each such is counted once: the caller makes
    /// sure another receiver waits).
    pub fn blocked(&self, after: Duration) -> (bool, bool) {
        let Ok(flights) = self.flights.lock() else {
            return (false, false);
        };
        let (mut blocked, mut unspared) = (false, false);
        for flight in flights.iter() {
            if flight.started.elapsed() >= after {
                blocked = true;
                unspared |= flight.unspared.swap(false, Ordering::Relaxed);
            }
        }
        (blocked, unspared)
    }

    /// Looks at the waiting threads once (every [`WATCH_MS`]: `calls::Supervisor::watch`):
    /// interrupts the calls of those with a signal to take, or gone.
    pub fn look(&self, listener: BorrowedFd<'_>) {
        {
            let Ok(flights) = self.flights.lock() else {
                return;
            };
            for flight in flights.iter() {
                let reason = if !notify::is_valid(listener, flight.id) {
                    GONE
                } else {
                    match target::pending_signal(flight.tid) {
                        Pending::Thread => FOR_THREAD,
                        Pending::Process
                            if flight.reason.load(Ordering::Relaxed) == PROCESS_SEEN =>
                        {
                            FOR_PROCESS
                        }
                        Pending::Process => {
                            flight.reason.store(PROCESS_SEEN, Ordering::Relaxed);
                            continue;
                        }
                        Pending::None => {
                            flight.reason.store(NOT_INTERRUPTED, Ordering::Relaxed);
                            continue;
                        }
                    }
                };
                flight.reason.store(reason, Ordering::Relaxed);
                // SAFETY: the thread is running (it is removed from the list, under this lock,
                // before it ends).
                unsafe { libc::pthread_kill(flight.thread, interrupt_signal()) };
            }
        }
    }
}
