//! This thread's `errno`, read and written in one place.

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
