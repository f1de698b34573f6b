//! This thread's `errno`, read and written in one place.

use armr_core::verdict::Refusal;
use libc::c_int;

/// This thread's errno.
#[inline]
pub fn get() -> c_int {
    // SAFETY: __errno_location returns this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Sets this thread's errno.
#[inline]
pub fn set(e: c_int) {
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = e }
}

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
