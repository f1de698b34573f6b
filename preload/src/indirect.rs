//! libc functions that look names up through libc's internal resolver calls, past the hooks of
//! `resolver`: `gethostid` (the host's own name, when `/etc/hostid` is missing) and the
//! `ruserok` family (the remote host's name; the names in `/etc/hosts.equiv` and `~/.rhosts`).
//! Each is judged as the lookup it makes: it reaches only the name servers the rules allow, and
//! with none left fails as when no server answers (`gethostid` 0, `ruserok` -1).
//!
//! Also glibc's private names for the socket calls (`GLIBC_PRIVATE`: no program links against
//! them, but `dlsym` and Python's `ctypes.CDLL(None)` find them): `__recv`, `__sendmmsg`,
//! `__socket` and `__read_nocancel` are judged like `recv`, `sendmmsg`, `socket` and `read`.

use crate::resolver::{self, Lookup};
use crate::{interpose, real, receive};
use libc::{c_char, c_int, c_long, c_uint, c_void, mmsghdr, sa_family_t, size_t, ssize_t};

/// Runs `call` as a lookup on this thread's resolver state.
fn names<R>(call: impl FnOnce() -> R) -> R {
    // SAFETY: a null state is this thread's `_res`.
    unsafe { resolver::lookup(std::ptr::null_mut(), Lookup::Names, call) }
}

#[unsafe(no_mangle)]
pub extern "C" fn gethostid() -> c_long {
    // SAFETY: gethostid takes no argument.
    names(|| unsafe { real::gethostid() })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn ruserok(
    host: *const c_char,
    superuser: c_int,
    remote_user: *const c_char,
    local_user: *const c_char,
) -> c_int {
    // SAFETY: the caller's arguments, as libc's contract requires.
    names(|| unsafe { real::ruserok(host, superuser, remote_user, local_user) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn ruserok_af(
    host: *const c_char,
    superuser: c_int,
    remote_user: *const c_char,
    local_user: *const c_char,
    family: sa_family_t,
) -> c_int {
    // SAFETY: the caller's arguments, as libc's contract requires.
    names(|| unsafe { real::ruserok_af(host, superuser, remote_user, local_user, family) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn iruserok(
    address: u32,
    superuser: c_int,
    remote_user: *const c_char,
    local_user: *const c_char,
) -> c_int {
    // SAFETY: the caller's arguments, as libc's contract requires.
    names(|| unsafe { real::iruserok(address, superuser, remote_user, local_user) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn iruserok_af(
    address: *const c_void,
    superuser: c_int,
    remote_user: *const c_char,
    local_user: *const c_char,
    family: sa_family_t,
) -> c_int {
    // SAFETY: the caller's arguments, as libc's contract requires.
    names(|| unsafe { real::iruserok_af(address, superuser, remote_user, local_user, family) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn __recv(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int) -> ssize_t {
    // SAFETY: recv's contract.
    unsafe { receive::recv(fd, buf, n, flags) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn __sendmmsg(
    fd: c_int,
    msgs: *mut mmsghdr,
    vlen: c_uint,
    flags: c_int,
) -> c_int {
    // SAFETY: sendmmsg's contract.
    unsafe { interpose::sendmmsg(fd, msgs, vlen, flags) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn __socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int {
    // SAFETY: socket's contract.
    unsafe { interpose::socket(domain, kind, protocol) }
}

/// Not a cancellation point, unlike `read`: forwarded to itself unless judged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __read_nocancel(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t {
    if receive::read_is_judged(fd, n) {
        // SAFETY: read's contract.
        return unsafe { receive::read(fd, buf, n) };
    }
    // SAFETY: read's contract.
    unsafe { real::__read_nocancel(fd, buf, n) }
}
