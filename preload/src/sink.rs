//! The event writer, shared with the supervisor engine (`armr-sink`), over libc's real socket
//! functions: armr's own connection never passes through its hooks.

use armr_sink::Calls;
use libc::{c_int, c_void, msghdr, sockaddr, socklen_t};

pub use armr_sink::sink::{freeing, freeing_range, now_ms};
pub use armr_sink::{Sent, line};

/// libc's real functions, past armr's hooks.
#[derive(Debug)]
pub struct Real;

impl Calls for Real {
    #[inline(always)]
    unsafe fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
        unsafe { crate::real::connect(fd, addr, len) }
    }
    #[inline(always)]
    unsafe fn sendto(
        fd: c_int,
        buf: *const c_void,
        n: usize,
        flags: c_int,
        addr: *const sockaddr,
        len: socklen_t,
    ) -> isize {
        unsafe { crate::real::sendto(fd, buf, n, flags, addr, len) }
    }
    #[inline(always)]
    unsafe fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> isize {
        unsafe { crate::real::sendmsg(fd, msg, flags) }
    }
}

/// The sink of the preload library.
pub type Sink = armr_sink::Sink<Real>;
