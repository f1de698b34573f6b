//! The real libc functions behind the hooks, found once with `dlsym(RTLD_NEXT)`.
//!
//! Each address is looked up on first use and kept in an atomic: no lock, no allocation, and it
//! works in a hook that runs before armr's constructor. Two threads may race to look one up; both
//! find the same address.

use libc::{
    FILE, c_char, c_int, c_uint, c_ushort, c_void, iovec, mmsghdr, msghdr, pid_t,
    posix_spawn_file_actions_t, posix_spawnattr_t, sa_family_t, size_t, sockaddr, socklen_t,
    ssize_t, timespec,
};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Looks up `name` in the libraries loaded after this one.
fn resolve(slot: &AtomicUsize, name: &std::ffi::CStr) -> usize {
    // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name has no other precondition.
    let found = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
    slot.store(found, Ordering::Release);
    found
}

/// What a call returns when the real function could not be found (no libc after armr): a
/// failure with errno ENOSYS.
trait Missing {
    fn missing() -> Self;
}

impl Missing for c_int {
    fn missing() -> c_int {
        crate::errno::set(libc::ENOSYS);
        -1
    }
}

impl Missing for ssize_t {
    fn missing() -> ssize_t {
        crate::errno::set(libc::ENOSYS);
        -1
    }
}

impl Missing for *mut c_void {
    fn missing() -> *mut c_void {
        crate::errno::set(libc::ENOSYS);
        std::ptr::null_mut()
    }
}

impl Missing for () {
    fn missing() {}
}

impl Missing for *mut FILE {
    fn missing() -> *mut FILE {
        crate::errno::set(libc::ENOSYS);
        std::ptr::null_mut()
    }
}

macro_rules! real_functions {
    ($( $name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty; )*) => {
        $(
            /// The real libc function.
            ///
            /// # Safety
            /// The caller's arguments must satisfy the libc function's contract.
            #[inline(always)]
            #[allow(non_snake_case)] // the fortified functions' names: __recv_chk
            pub unsafe fn $name($($arg: $ty),*) -> $ret {
                static SLOT: AtomicUsize = AtomicUsize::new(0);
                /// The first call: looks the function up. Out of line, so that every later call
                /// is a load, a test and a jump. (It makes the call itself too: a lookup-only
                /// helper keeps the arguments live across a call, and every forward then saves
                /// registers, 10 instructions more per call under callgrind.)
                #[cold]
                #[inline(never)]
                #[allow(non_snake_case)]
                unsafe fn first_call($($arg: $ty),*) -> $ret {
                    let name = const { match std::ffi::CStr::from_bytes_with_nul(concat!(stringify!($name), "\0").as_bytes()) {
                        Ok(name) => name,
                        Err(_) => panic!("symbol name"),
                    } };
                    let address = resolve(&SLOT, name);
                    if address == 0 {
                        return <$ret as Missing>::missing();
                    }
                    // SAFETY: the symbol is libc's function of this exact signature.
                    let real: unsafe extern "C" fn($($ty),*) -> $ret = unsafe { std::mem::transmute(address) };
                    unsafe { real($($arg),*) }
                }
                let address = SLOT.load(Ordering::Acquire);
                if address == 0 {
                    return unsafe { first_call($($arg),*) };
                }
                // SAFETY: the symbol is libc's function of this exact signature.
                let real: unsafe extern "C" fn($($ty),*) -> $ret = unsafe { std::mem::transmute(address) };
                unsafe { real($($arg),*) }
            }
        )*
    };
}

real_functions! {
    bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int;
    listen(fd: c_int, backlog: c_int) -> c_int;
    connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int;
    accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int;
    accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int;
    sendto(fd: c_int, buf: *const c_void, n: size_t, flags: c_int, addr: *const sockaddr, len: socklen_t) -> ssize_t;
    sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t;
    sendmmsg(fd: c_int, msgs: *mut mmsghdr, vlen: c_uint, flags: c_int) -> c_int;
    socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int;
    close(fd: c_int) -> c_int;
    dup(old: c_int) -> c_int;
    dup2(old: c_int, new: c_int) -> c_int;
    dup3(old: c_int, new: c_int, flags: c_int) -> c_int;
    fclose(stream: *mut FILE) -> c_int;
    close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int;
    closefrom(first: c_int) -> ();
    rcmd(host: *mut *mut c_char, port: c_ushort, local_user: *const c_char, remote_user: *const c_char, command: *const c_char, fd2p: *mut c_int) -> c_int;
    rcmd_af(host: *mut *mut c_char, port: c_ushort, local_user: *const c_char, remote_user: *const c_char, command: *const c_char, fd2p: *mut c_int, family: sa_family_t) -> c_int;
    rexec(host: *mut *mut c_char, port: c_int, user: *const c_char, password: *const c_char, command: *const c_char, fd2p: *mut c_int) -> c_int;
    rexec_af(host: *mut *mut c_char, port: c_int, user: *const c_char, password: *const c_char, command: *const c_char, fd2p: *mut c_int, family: sa_family_t) -> c_int;
    posix_spawn(pid: *mut pid_t, path: *const c_char, actions: *const posix_spawn_file_actions_t, attributes: *const posix_spawnattr_t, argv: *const *mut c_char, envp: *const *mut c_char) -> c_int;
    posix_spawnp(pid: *mut pid_t, file: *const c_char, actions: *const posix_spawn_file_actions_t, attributes: *const posix_spawnattr_t, argv: *const *mut c_char, envp: *const *mut c_char) -> c_int;
    system(command: *const c_char) -> c_int;
    popen(command: *const c_char, mode: *const c_char) -> *mut FILE;
    read(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t;
    readv(fd: c_int, iov: *const iovec, count: c_int) -> ssize_t;
    preadv2(fd: c_int, iov: *const iovec, count: c_int, offset: libc::off_t, flags: c_int) -> ssize_t;
    preadv64v2(fd: c_int, iov: *const iovec, count: c_int, offset: libc::off64_t, flags: c_int) -> ssize_t;
    splice(fd_in: c_int, off_in: *mut libc::loff_t, fd_out: c_int, off_out: *mut libc::loff_t, len: size_t, flags: c_uint) -> ssize_t;
    __read_chk(fd: c_int, buf: *mut c_void, n: size_t, room: size_t) -> ssize_t;
    recv(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int) -> ssize_t;
    __recv_chk(fd: c_int, buf: *mut c_void, n: size_t, room: size_t, flags: c_int) -> ssize_t;
    recvfrom(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> ssize_t;
    __recvfrom_chk(fd: c_int, buf: *mut c_void, n: size_t, room: size_t, flags: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> ssize_t;
    recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t;
    recvmmsg(fd: c_int, msgs: *mut mmsghdr, vlen: c_uint, flags: c_int, timeout: *mut timespec) -> c_int;
}

// The resolver's calls (`resolver`): each is judged as a connect to the name servers. In a module
// of their own: getnameinfo, gethostbyaddr_r and res_mkquery take more arguments than clippy likes.
pub use resolver_calls::*;

mod resolver_calls {
    #![allow(clippy::too_many_arguments)]
    use super::{Missing, resolve};
    use libc::{c_char, c_int, c_uchar, c_void, size_t, sockaddr, socklen_t};
    use std::sync::atomic::{AtomicUsize, Ordering};

    real_functions! {
        getaddrinfo(node: *const c_char, service: *const c_char, hints: *const libc::addrinfo, res: *mut *mut libc::addrinfo) -> c_int;
        getnameinfo(sa: *const sockaddr, salen: socklen_t, host: *mut c_char, hostlen: socklen_t, serv: *mut c_char, servlen: socklen_t, flags: c_int) -> c_int;
        gethostbyname(name: *const c_char) -> *mut c_void;
        gethostbyname2(name: *const c_char, af: c_int) -> *mut c_void;
        gethostbyname_r(name: *const c_char, ret: *mut c_void, buf: *mut c_char, buflen: size_t, result: *mut *mut c_void, h_errnop: *mut c_int) -> c_int;
        gethostbyname2_r(name: *const c_char, af: c_int, ret: *mut c_void, buf: *mut c_char, buflen: size_t, result: *mut *mut c_void, h_errnop: *mut c_int) -> c_int;
        gethostbyaddr(addr: *const c_void, len: socklen_t, kind: c_int) -> *mut c_void;
        gethostbyaddr_r(addr: *const c_void, len: socklen_t, kind: c_int, ret: *mut c_void, buf: *mut c_char, buflen: size_t, result: *mut *mut c_void, h_errnop: *mut c_int) -> c_int;
        getaddrinfo_a(mode: c_int, list: *mut *mut crate::resolver::Gaicb, ent: c_int, sig: *mut libc::sigevent) -> c_int;
        getnetbyname(name: *const c_char) -> *mut c_void;
        getnetbyaddr(net: u32, kind: c_int) -> *mut c_void;
        getnetbyname_r(name: *const c_char, ret: *mut c_void, buf: *mut c_char, buflen: size_t, result: *mut *mut c_void, h_errnop: *mut c_int) -> c_int;
        getnetbyaddr_r(net: u32, kind: c_int, ret: *mut c_void, buf: *mut c_char, buflen: size_t, result: *mut *mut c_void, h_errnop: *mut c_int) -> c_int;
        res_query(name: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int;
        res_search(name: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int;
        res_querydomain(name: *const c_char, domain: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int;
        res_send(msg: *const c_uchar, msglen: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int;
        res_nquery(statp: *mut c_void, name: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int;
        res_nsearch(statp: *mut c_void, name: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int;
        res_nquerydomain(statp: *mut c_void, name: *const c_char, domain: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int;
        res_nsend(statp: *mut c_void, msg: *const c_uchar, msglen: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int;
        res_mkquery(op: c_int, name: *const c_char, class: c_int, kind: c_int, data: *const c_uchar, datalen: c_int, newrr: *const c_uchar, buf: *mut c_uchar, buflen: c_int) -> c_int;
    }
}

// libc functions that look a name up with libc's internal resolver calls (`indirect`).
pub use indirect_calls::*;

mod indirect_calls {
    #![allow(clippy::too_many_arguments)]
    use super::{Missing, resolve};
    use libc::{c_char, c_int, c_long, c_void, sa_family_t};
    use std::sync::atomic::{AtomicUsize, Ordering};

    impl Missing for c_long {
        fn missing() -> c_long {
            crate::errno::set(libc::ENOSYS);
            0
        }
    }

    real_functions! {
        gethostid() -> c_long;
        __read_nocancel(fd: c_int, buf: *mut c_void, n: libc::size_t) -> libc::ssize_t;
        _nss_dns_gethostbyname_r(name: *const c_char, result: *mut c_void, buffer: *mut c_char, buflen: libc::size_t, errnop: *mut c_int, h_errnop: *mut c_int) -> c_int;
        _nss_dns_gethostbyname2_r(name: *const c_char, af: c_int, result: *mut c_void, buffer: *mut c_char, buflen: libc::size_t, errnop: *mut c_int, h_errnop: *mut c_int) -> c_int;
        _nss_dns_gethostbyname3_r(name: *const c_char, af: c_int, result: *mut c_void, buffer: *mut c_char, buflen: libc::size_t, errnop: *mut c_int, h_errnop: *mut c_int, ttlp: *mut i32, canonp: *mut *mut c_char) -> c_int;
        _nss_dns_gethostbyname4_r(name: *const c_char, pat: *mut *mut c_void, buffer: *mut c_char, buflen: libc::size_t, errnop: *mut c_int, h_errnop: *mut c_int, ttlp: *mut i32) -> c_int;
        _nss_dns_gethostbyaddr_r(addr: *const c_void, len: libc::socklen_t, af: c_int, result: *mut c_void, buffer: *mut c_char, buflen: libc::size_t, errnop: *mut c_int, h_errnop: *mut c_int) -> c_int;
        _nss_dns_gethostbyaddr2_r(addr: *const c_void, len: libc::socklen_t, af: c_int, result: *mut c_void, buffer: *mut c_char, buflen: libc::size_t, errnop: *mut c_int, h_errnop: *mut c_int, ttlp: *mut i32) -> c_int;
        _nss_dns_getcanonname_r(name: *const c_char, buffer: *mut c_char, buflen: libc::size_t, result: *mut *mut c_char, errnop: *mut c_int, h_errnop: *mut c_int) -> c_int;
        _nss_dns_getnetbyname_r(name: *const c_char, result: *mut c_void, buffer: *mut c_char, buflen: libc::size_t, errnop: *mut c_int, h_errnop: *mut c_int) -> c_int;
        _nss_dns_getnetbyaddr_r(net: u32, kind: c_int, result: *mut c_void, buffer: *mut c_char, buflen: libc::size_t, errnop: *mut c_int, h_errnop: *mut c_int) -> c_int;
        ruserok(host: *const c_char, superuser: c_int, remote_user: *const c_char, local_user: *const c_char) -> c_int;
        ruserok_af(host: *const c_char, superuser: c_int, remote_user: *const c_char, local_user: *const c_char, family: sa_family_t) -> c_int;
        iruserok(address: u32, superuser: c_int, remote_user: *const c_char, local_user: *const c_char) -> c_int;
        iruserok_af(address: *const c_void, superuser: c_int, remote_user: *const c_char, local_user: *const c_char, family: sa_family_t) -> c_int;
    }
}
