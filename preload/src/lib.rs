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
mod installed;
mod interpose;
mod judge;
mod log;
mod mapped;
mod numeric;
mod real;
mod receive;
mod reload;
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
    reload::after_fork();
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The modules of this crate that `module` names (`crate::x`, `crate::{x, y}`), its tests
    /// left out.
    fn uses(module: &str) -> BTreeSet<String> {
        let path = format!("{}/src/{module}.rs", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let mut found = BTreeSet::new();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            let names = match rest.strip_prefix('{') {
                Some(list) => &list[..list.find('}').unwrap_or(0)],
                None => &rest[..rest.find("::").unwrap_or(0)],
            };
            for name in names.split(',') {
                let name: String = name
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let file = format!("{}/src/{name}.rs", env!("CARGO_MANIFEST_DIR"));
                if name != module && std::path::Path::new(&file).is_file() {
                    found.insert(name);
                }
            }
        }
        found
    }

    fn reaches(from: &str, to: &str) -> bool {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(module) = todo.pop() {
            for next in uses(&module) {
                if next == to {
                    return true;
                }
                if seen.insert(next.clone()) {
                    todo.push(next);
                }
            }
        }
        false
    }

    /// The descriptor bookkeeping and the fork's wait for a resolution are below the enforcement
    /// logic, never in a loop with it (issue 13).
    #[test]
    fn no_module_cycle_among_forking_interpose_and_unbound() {
        let modules = ["forking", "interpose", "unbound"];
        for a in modules {
            for b in modules {
                if a != b {
                    assert!(
                        !(reaches(a, b) && reaches(b, a)),
                        "{a} and {b} depend on each other"
                    );
                }
            }
        }
        assert!(!uses("interpose").is_empty() && uses("unbound").is_empty());
    }
}
