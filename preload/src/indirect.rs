//! libc functions that look names up through libc's internal resolver calls, past the hooks of
//! `resolver`: `gethostid` (the host's own name, when `/etc/hostid` is missing) and the
//! `ruserok` family (the remote host's name; the names in `/etc/hosts.equiv` and `~/.rhosts`).
//! Each is judged as the lookup it makes: it reaches only the name servers the rules allow, and
//! with none left fails as when no server answers (`gethostid` 0, `ruserok` -1).
//!
//! Also the DNS module's functions (`_nss_dns_gethostbyname_r` and the rest: `GLIBC_PRIVATE`, but
//! `dlsym` and Python's `ctypes.CDLL(None)` find them), which always ask the name servers: judged
//! like `res_query`. (libc's own calls to them do not go through these names.)

use crate::real;
use crate::resolver::{self, Lookup};
use libc::{c_char, c_int, c_long, c_void, sa_family_t, size_t};

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

/// Runs `call`, a query of the DNS module on this thread's resolver state.
fn dns<R>(call: impl FnOnce() -> R) -> R {
    // SAFETY: a null state is this thread's `_res`.
    unsafe { resolver::lookup(std::ptr::null_mut(), Lookup::Dns, call) }
}

/// The DNS module's entry points, each judged as its query (`dns`).
macro_rules! nss_dns {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            #[unsafe(no_mangle)]
            #[allow(clippy::too_many_arguments)]
            pub unsafe extern "C" fn $name($($arg: $ty),*) -> c_int {
                // SAFETY: the caller's arguments, as the module's contract requires.
                dns(|| unsafe { real::$name($($arg),*) })
            }
        )*
    };
}

nss_dns! {
    _nss_dns_gethostbyname_r(name: *const c_char, result: *mut c_void, buffer: *mut c_char, buflen: size_t, errnop: *mut c_int, h_errnop: *mut c_int);
    _nss_dns_gethostbyname2_r(name: *const c_char, af: c_int, result: *mut c_void, buffer: *mut c_char, buflen: size_t, errnop: *mut c_int, h_errnop: *mut c_int);
    _nss_dns_gethostbyname3_r(name: *const c_char, af: c_int, result: *mut c_void, buffer: *mut c_char, buflen: size_t, errnop: *mut c_int, h_errnop: *mut c_int, ttlp: *mut i32, canonp: *mut *mut c_char);
    _nss_dns_gethostbyname4_r(name: *const c_char, pat: *mut *mut c_void, buffer: *mut c_char, buflen: size_t, errnop: *mut c_int, h_errnop: *mut c_int, ttlp: *mut i32);
    _nss_dns_gethostbyaddr_r(addr: *const c_void, len: libc::socklen_t, af: c_int, result: *mut c_void, buffer: *mut c_char, buflen: size_t, errnop: *mut c_int, h_errnop: *mut c_int);
    _nss_dns_gethostbyaddr2_r(addr: *const c_void, len: libc::socklen_t, af: c_int, result: *mut c_void, buffer: *mut c_char, buflen: size_t, errnop: *mut c_int, h_errnop: *mut c_int, ttlp: *mut i32);
    _nss_dns_getcanonname_r(name: *const c_char, buffer: *mut c_char, buflen: size_t, result: *mut *mut c_char, errnop: *mut c_int, h_errnop: *mut c_int);
    _nss_dns_getnetbyname_r(name: *const c_char, result: *mut c_void, buffer: *mut c_char, buflen: size_t, errnop: *mut c_int, h_errnop: *mut c_int);
    _nss_dns_getnetbyaddr_r(net: u32, kind: c_int, result: *mut c_void, buffer: *mut c_char, buflen: size_t, errnop: *mut c_int, h_errnop: *mut c_int);
}
