//! The resolver of a guarded process: the system resolver, whose helper threads run inside the
//! reentrancy guard (their DNS queries are armr's own socket calls), and which reports a name
//! that does not resolve both on standard error and as an event in `ARMR_LOG`.

use armr_core::policy::{Resolve, SystemResolver, Unresolved, warning};
use std::net::IpAddr;

/// A helper thread's work, inside the guard for the whole of it. Helper threads start with every
/// asynchronous signal blocked (they inherit the mask of the thread that resolves, which holds
/// them), so no handler ever runs on them.
fn guarded(work: &mut dyn FnMut()) {
    let _guard = crate::guard::Guard::enter();
    work();
}

pub struct Resolver(SystemResolver);

impl Resolver {
    pub fn new() -> Resolver {
        Resolver(SystemResolver { helper: guarded })
    }
}

impl Resolve for Resolver {
    fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, String> {
        self.0.resolve(name)
    }

    fn resolve_all(&self, names: &[&str]) -> Vec<Result<Vec<IpAddr>, String>> {
        self.0.resolve_all(names)
    }

    fn report_unresolved(&self, report: &Unresolved<'_>) {
        crate::state::say(&format!("{}\n", warning(report.name, report.reason)));
        if let Some(state) = crate::state::loaded() {
            crate::log::write_unresolved(state, report);
        }
    }
}
