//! This thread's `errno`, read and written in one place.

use armr_core::verdict::Refusal;
use libc::c_int;

pub use armr_sink::errno::{get, set};

/// The errno of a refusal that fails the call, as the decision core names it.
pub fn of(refusal: Refusal) -> c_int {
    match refusal {
        Refusal::PermissionDenied => libc::EACCES,
        Refusal::ConnectionRefused => libc::ECONNREFUSED,
        // Passed over, not failed: a call that had nothing else to return would fail as a
        // refused connection (no call refuses this way and fails: see `verdict::Call`).
        Refusal::Discard => libc::ECONNREFUSED,
    }
}

/// Fails a refused call: -1, with the refusal's errno.
#[inline]
pub fn refuse(refusal: Refusal) -> c_int {
    set(of(refusal));
    -1
}
