//! Calls that may block, made on worker threads, and interrupted as the kernel would interrupt
//! them.
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
use std::collections::VecDeque;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

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
}

#[derive(Default)]
pub struct Workers {
    flights: Mutex<Vec<Arc<Flight>>>,
}

/// The signal that interrupts a worker's blocking call: a handler that does nothing, installed
/// without `SA_RESTART`.
pub fn interrupt_signal() -> libc::c_int {
    libc::SIGRTMIN() + 3
}

extern "C" fn nothing(_: libc::c_int) {}

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
    /// Runs `call` (a blocking call for the program's thread `tid`, notification `id`) on this
    /// worker thread (one of the [`Pool`]'s, which take the interrupt signal), interruptible by
    /// the watcher; the answer, mapped as the kernel maps an
    /// interrupted call.
    pub fn run(&self, id: u64, tid: libc::pid_t, call: impl FnOnce() -> Answer) -> Answer {
        let flight = Arc::new(Flight {
            id,
            tid,
            // SAFETY: no preconditions.
            thread: unsafe { libc::pthread_self() },
            reason: AtomicU8::new(NOT_INTERRUPTED),
        });
        if let Ok(mut flights) = self.flights.lock() {
            flights.push(Arc::clone(&flight));
        }
        let answer = call();
        // Removed under the lock the watcher signals under: no signal comes after this.
        if let Ok(mut flights) = self.flights.lock() {
            flights.retain(|f| !Arc::ptr_eq(f, &flight));
        }
        match (answer, flight.reason.load(Ordering::Relaxed)) {
            (Answer::Error(libc::EINTR), FOR_THREAD) => Answer::Error(ERESTARTSYS),
            (answer, _) => answer,
        }
    }

    /// Looks at the waiting threads every [`WATCH_MS`], forever (a thread of its own).
    pub fn watch(&self, listener: BorrowedFd<'_>) {
        loop {
            std::thread::sleep(std::time::Duration::from_millis(WATCH_MS));
            let Ok(flights) = self.flights.lock() else {
                continue;
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

/// A job for a worker thread.
pub type Job = Box<dyn FnOnce() + Send>;

/// The worker threads: kept waiting for the next blocking call rather than started for each (a
/// thread's start costs more than the notification's round trip). A job goes to an idle worker
/// when there is one, else to a new thread, so that a call waiting long (an `accept`) never
/// holds up another; a worker idle for [`IDLE`] ends.
#[derive(Default)]
pub struct Pool {
    state: Mutex<PoolState>,
    ready: Condvar,
}

#[derive(Default)]
struct PoolState {
    jobs: VecDeque<Job>,
    /// Workers waiting for a job and not yet promised one.
    available: usize,
}

/// How long a worker waits for a job before it ends.
const IDLE: Duration = Duration::from_secs(30);

impl Pool {
    /// Runs `job` on a worker.
    pub fn spawn(self: &Arc<Pool>, job: Job) -> std::io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.available > 0 {
            state.available -= 1;
            state.jobs.push_back(job);
            drop(state);
            self.ready.notify_one();
            return Ok(());
        }
        drop(state);
        let pool = Arc::clone(self);
        std::thread::Builder::new()
            .name("armr-call".into())
            .spawn(move || {
                // SAFETY: valid sets: a worker takes the interrupt, and no other signal (it
                // starts with every signal blocked, as the thread that starts it).
                unsafe {
                    let mut set: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut set);
                    libc::sigaddset(&mut set, interrupt_signal());
                    libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
                }
                job();
                pool.work();
            })
            .map(drop)
    }

    /// A worker's life after its first job: the next jobs, until it is idle too long.
    fn work(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.available += 1;
        loop {
            if let Some(job) = state.jobs.pop_front() {
                drop(state);
                job();
                state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                state.available += 1;
                continue;
            }
            let (next, timeout) = self
                .ready
                .wait_timeout(state, IDLE)
                .unwrap_or_else(|e| e.into_inner());
            state = next;
            if timeout.timed_out() && state.jobs.is_empty() {
                state.available -= 1;
                return;
            }
        }
    }
}
