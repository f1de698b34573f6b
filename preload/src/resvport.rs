//! libc's reserved-port binds, redone on armr's judged `bind`: glibc's `bindresvport` and
//! `rresvport_af` call its internal `__bind`, which no hook sees. Each bind they make goes
//! through `interpose::bind` instead, and is judged like the program's own (a UDP bind by
//! `bind(server:)` rules, refused with EACCES; a TCP socket then judged at `listen` or `connect`).
//! The port search is glibc's.

use crate::errno;
use libc::{
    AF_INET, AF_INET6, EADDRINUSE, c_int, sa_family_t, sockaddr, sockaddr_in, sockaddr_in6,
    socklen_t,
};
use std::sync::atomic::{AtomicU32, Ordering};

/// The reserved ports these functions take: 512 to 1023 (`IPPORT_RESERVED / 2` up to
/// `IPPORT_RESERVED - 1`).
const LOW: u32 = 512;
const HIGH: u32 = 1023;
const COUNT: u32 = HIGH - LOW + 1;

/// Where `bindresvport` starts its next search, plus one (0: not yet chosen). It rotates from
/// call to call, as glibc's does; a race between threads only makes them start at one port.
static NEXT: AtomicU32 = AtomicU32::new(0);

/// `bindresvport(fd, sin)`: binds `fd` to the first free reserved port of `sin`'s address (the
/// IPv4 any address when `sin` is null), writing the port into `sin`. A family other than
/// AF_INET fails with EAFNOSUPPORT (as glibc 2.36 does); a bind that fails otherwise than
/// EADDRINUSE (armr's refusal included) ends the search with its errno, as in glibc.
///
/// # Safety
/// libc's contract for `bindresvport`: `sin` is null or a writable `sockaddr_in`.
pub unsafe fn bindresvport(fd: c_int, sin: *mut sockaddr_in) -> c_int {
    // SAFETY: an all-zero sockaddr_in is valid.
    let mut any: sockaddr_in = unsafe { std::mem::zeroed() };
    any.sin_family = AF_INET as sa_family_t;
    let sin = if sin.is_null() {
        &mut any as *mut sockaddr_in
    } else {
        // SAFETY: the caller's sockaddr_in.
        if c_int::from(unsafe { std::ptr::addr_of!((*sin).sin_family).read_unaligned() }) != AF_INET
        {
            errno::set(libc::EAFNOSUPPORT);
            return -1;
        }
        sin
    };
    let start = match NEXT.load(Ordering::Relaxed) {
        // SAFETY: getpid has no precondition.
        0 => (unsafe { libc::getpid() }) as u32 % COUNT,
        next => next - 1,
    };
    let mut result = -1;
    for i in 0..COUNT {
        let port = LOW + (start + i) % COUNT;
        NEXT.store((start + i + 1) % COUNT + 1, Ordering::Relaxed);
        // SAFETY: sin is a writable sockaddr_in.
        unsafe { std::ptr::addr_of_mut!((*sin).sin_port).write_unaligned((port as u16).to_be()) };
        result = unsafe {
            crate::hooks::bind(
                fd,
                sin.cast::<sockaddr>(),
                std::mem::size_of::<sockaddr_in>() as socklen_t,
            )
        };
        if result >= 0 || errno::get() != EADDRINUSE {
            break;
        }
    }
    result
}

/// `rresvport_af(port, family)`: a new TCP socket of `family` bound to a reserved port of the any
/// address, trying `*port` first and then downwards (wrapping from 512 to 1023), as glibc does.
/// The socket is made by armr's `socket` hook and bound by its `bind`: judged at `listen` or
/// `connect` like any TCP socket the program binds.
///
/// # Safety
/// libc's contract for `rresvport_af`: `port` is a writable int.
pub unsafe fn rresvport_af(port: *mut c_int, family: sa_family_t) -> c_int {
    let family = c_int::from(family);
    let len = match family {
        AF_INET => std::mem::size_of::<sockaddr_in>(),
        AF_INET6 => std::mem::size_of::<sockaddr_in6>(),
        _ => {
            errno::set(libc::EAFNOSUPPORT);
            return -1;
        }
    };
    // No SOCK_CLOEXEC: glibc's neither.
    let fd = unsafe { crate::hooks::socket(family, libc::SOCK_STREAM, 0) };
    if fd < 0 {
        return -1;
    }
    // The larger of the two, zeroed: the any address of either family.
    // SAFETY: an all-zero sockaddr_in6 is valid.
    let mut address: sockaddr_in6 = unsafe { std::mem::zeroed() };
    address.sin6_family = family as sa_family_t;
    // SAFETY: port is the caller's writable int.
    let mut current = unsafe { port.read() };
    if current < LOW as c_int {
        current = LOW as c_int;
    } else if current > HIGH as c_int {
        current = HIGH as c_int;
    }
    let start = current;
    loop {
        unsafe { port.write(current) };
        // sin_port and sin6_port are at the same place.
        address.sin6_port = (current as u16).to_be();
        let bound = unsafe {
            crate::hooks::bind(
                fd,
                (&address as *const sockaddr_in6).cast::<sockaddr>(),
                len as socklen_t,
            )
        };
        if bound >= 0 {
            return fd;
        }
        let failure = errno::get();
        if failure != EADDRINUSE {
            unsafe { crate::hooks::close(fd) };
            errno::set(failure);
            return -1;
        }
        current = if current == LOW as c_int {
            HIGH as c_int
        } else {
            current - 1
        };
        if current == start {
            break;
        }
    }
    unsafe { port.write(current) };
    unsafe { crate::hooks::close(fd) };
    errno::set(libc::EAGAIN);
    -1
}
