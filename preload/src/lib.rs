//! libarmr.so: ARMR socket rules enforced inside any dynamically linked process by `LD_PRELOAD`.
//!
//! The rules, the policy and the event format are the safe `armr` crate; this crate is the edge
//! where armr meets C: [`sockaddr`] decodes addresses, [`hooks`] exports libc's names, [`real`]
//! finds the functions they stand in front of, and [`interpose`] does the work of each call.
//! See the README for the environment variables and docs/enforcement.md for what each call does.

mod guard;
mod hooks;
mod interpose;
mod log;
mod real;
mod sockaddr;
mod state;

/// Loads the rules when the library is loaded, before the program's `main`, so that a broken
/// rules file stops the program (ARMR_ON_ERROR=closed) before it does anything.
extern "C" fn load_at_start() {
    if let Some(_guard) = guard::Guard::enter() {
        let _ = std::panic::catch_unwind(state::get);
    }
}

#[used]
#[unsafe(link_section = ".init_array")]
static LOAD_AT_START: extern "C" fn() = load_at_start;
