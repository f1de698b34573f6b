//! libc functions that look names up through libc's internal resolver calls, past the hooks of
//! `resolver`: `gethostid` (the host's own name, when `/etc/hostid` is missing) and the
//! `ruserok` family (the remote host's name; the names in `/etc/hosts.equiv` and `~/.rhosts`).
//! Each is judged as the lookup it makes: it reaches only the name servers the rules allow, and
//! with none left fails as when no server answers (`gethostid` 0, `ruserok` -1).
//!
//! Also the DNS module's functions (`_nss_dns_gethostbyname_r` and the rest: `GLIBC_PRIVATE`, but
//! `dlsym` and Python's `ctypes.CDLL(None)` find them), which always ask the name servers: judged
//! like `res_query`. (libc's own calls to them do not go through these names.) Their exports are
//! in the table of `hooks`.

use crate::resolver::{self, Lookup};

/// Runs `call` as a lookup on this thread's resolver state.
pub fn names<R>(call: impl FnOnce() -> R) -> R {
    // SAFETY: a null state is this thread's `_res`.
    unsafe { resolver::lookup(std::ptr::null_mut(), Lookup::Names, call) }
}

/// Runs `call`, a query of the DNS module on this thread's resolver state.
pub fn dns<R>(call: impl FnOnce() -> R) -> R {
    // SAFETY: a null state is this thread's `_res`.
    unsafe { resolver::lookup(std::ptr::null_mut(), Lookup::Dns, call) }
}
