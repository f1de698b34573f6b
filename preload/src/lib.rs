//! libarmr.so: ARMR socket rules enforced inside any dynamically linked process by `LD_PRELOAD`.
//!
//! The rules, the policy, the decision on each call (`armr_core::verdict`) and the event format are
//! the safe `armr` crate; this crate is the edge where armr meets C, a shell around that decision:
//! [`hooks`] declares every function armr stands in front of (the export, the real function's slot
//! in [`real`], the forwarding), [`sockaddr`] decodes addresses, [`interpose`] does the work of
//! the socket calls, and [`judge`] asks the decision core and carries its verdict out (the event
//! logged, the refusal handed back). [`descriptors`] keeps armr's tables of descriptors true:
//! [`unbound`], the TCP sockets known to be unbound, so that a `connect` need not ask, and
//! [`receive`]'s, which judges the senders of datagrams and the listeners armr did not see
//! listen. [`sidecar`] finds the settings file beside the library; [`destination`] finds the
//! address the kernel really uses when the program's does not say it outright; [`resvport`]
//! redoes libc's reserved-port binds on the judged `bind`, and [`remote`] judges `rcmd` and
//! `rexec` beforehand. [`resolver`] judges name lookups as the connect to their name servers,
//! which glibc makes past the hooks, and [`indirect`] the libc functions that look names up
//! inside libc (`gethostid`, `ruserok`) and glibc's DNS module's own entry points.
//! See the README for the environment variables and docs/enforcement.md for what each call does.

mod descriptors;
mod destination;
mod errno;
mod forking;
mod guard;
mod hooks;
mod indirect;
mod interpose;
mod judge;
mod log;
mod real;
mod receive;
mod remote;
mod resolver;
mod resolving;
mod resvport;
mod sidecar;
mod sink;
mod sockaddr;
mod stack;
mod state;
mod unbound;

/// Loads the rules when the library is loaded, before the program's `main`, so that a broken
/// rules file stops the program (ARMR_ON_ERROR=closed) before it does anything. With the guard up
/// and signals held, as whenever the rules load (`state`).
extern "C" fn load_at_start() {
    if let Some(_held) = guard::Held::enter() {
        let _ = std::panic::catch_unwind(state::get);
        // Sockets inherited from before armr (systemd socket activation, a parent's UDP socket)
        // are known from the start, so that `read` judges them too.
        if receive::tracked() {
            let _ = std::panic::catch_unwind(receive::classify_inherited);
        }
        // SAFETY: registers a plain function.
        unsafe {
            libc::pthread_atfork(
                Some(before_fork),
                Some(forking::after_fork_in_parent),
                Some(in_forked_child),
            )
        };
    }
}

/// Before a fork: the child shares every socket (`descriptors`), and must not inherit a
/// hostname resolution half done (`forking`).
extern "C" fn before_fork() {
    descriptors::shared_with_another_process();
    forking::before_fork();
}

/// In a forked child: nothing the parent's other threads were doing is the child's.
extern "C" fn in_forked_child() {
    forking::after_fork_in_child();
    guard::after_fork();
    log::after_fork();
    if let Some(state) = state::loaded() {
        state.sink.after_fork();
    }
}

/// At exit: reports events that could not be delivered. No guard: the sink calls libc's real
/// functions, so a signal handler that lands meanwhile is judged.
extern "C" fn report_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        if let Some(state) = state::loaded() {
            log::at_exit(state);
        }
    });
}

#[used]
#[unsafe(link_section = ".fini_array")]
static REPORT_AT_EXIT: extern "C" fn() = report_at_exit;

#[used]
#[unsafe(link_section = ".init_array")]
static LOAD_AT_START: extern "C" fn() = load_at_start;
