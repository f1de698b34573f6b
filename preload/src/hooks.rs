//! Every function armr stands in front of, declared once. Each line of the table below is
//! `HOW name(args) -> ret => body;`, and makes what its `HOW` says:
//!
//! - `hook`: the export under libc's name (`#[no_mangle]`, the body run with the caller's
//!   arguments) and the slot of the real function of that name (`real::name`: looked up once,
//!   then a load, a test and a jump; see `real`);
//! - `export`: the export alone: a second name of a function whose real one is another's slot
//!   (glibc's private names `__connect`, `__recv`, `__socket`, `__sendmmsg`, `__read`, the
//!   `__res_*` names), or one armr implements itself (`bindresvport`, `rresvport`);
//! - `real`: the slot alone, for a libc function armr calls but does not stand in front of
//!   (`res_mkquery`).
//!
//! Adding a hook is one line here, and its body in the module that does the work: `interpose`
//! (bind, listen, connect, accept, sends), `descriptors` (the calls that create, copy, close or
//! share descriptors), `receive` (the senders of datagrams), `resvport` and `remote` (libc
//! functions that bind or connect inside libc), `resolver` and `indirect` (name lookups).

use crate::resolver::{self, Statp};
use crate::{descriptors, indirect, interpose, real, receive, remote, resvport};
use libc::{
    FILE, addrinfo, c_char, c_int, c_long, c_uchar, c_uint, c_ushort, c_void, iovec, mmsghdr,
    msghdr, pid_t, posix_spawn_file_actions_t, posix_spawnattr_t, sa_family_t, size_t, sockaddr,
    sockaddr_in, socklen_t, ssize_t, timespec,
};

/// The table's machinery: each entry goes to [`hook_export`] and to [`hook_slot`], which make
/// what its `HOW` asks for; the slots are gathered in `slots`, which `real` re-exports.
macro_rules! hooks {
    ($( $(#[$attr:meta])* $how:ident $name:ident ( $($arg:ident : $ty:ty),* ) -> $ret:ty $(=> $body:expr)? ; )*) => {
        $( hook_export!($how $(#[$attr])* $name($($arg: $ty),*) -> $ret $(=> $body)?); )*

        /// The real functions (`real` re-exports them).
        pub mod slots {
            use super::*;
            $( hook_slot!($how $name($($arg: $ty),*) -> $ret); )*
        }
    };
}

/// The export of a `hook` or `export` entry. Its body is the call's work, in the module that
/// does it; it runs under the caller's contract for the libc function.
macro_rules! hook_export {
    (real $($rest:tt)*) => {};
    ($how:ident $(#[$attr:meta])* $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty => $body:expr) => {
        $(#[$attr])*
        #[unsafe(no_mangle)]
        #[allow(clippy::too_many_arguments)]
        pub unsafe extern "C" fn $name($($arg: $ty),*) -> $ret {
            // SAFETY: the caller's arguments, under libc's contract for the function.
            unsafe { $body }
        }
    };
}

/// The real-function slot of a `hook` or `real` entry.
macro_rules! hook_slot {
    (export $($rest:tt)*) => {};
    ($how:ident $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        crate::real::real_functions! { $name($($arg: $ty),*) -> $ret; }
    };
}

hooks! {
    // --- binding, listening, connecting, accepting, sending: judged (`interpose`).
    hook bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int
        => interpose::bind(fd, addr, len);
    hook listen(fd: c_int, backlog: c_int) -> c_int => interpose::listen(fd, backlog);
    hook connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int
        => interpose::connect(fd, addr, len);
    /// glibc's second name for `connect` (`__connect@GLIBC_2.2.5`): a program that calls it by
    /// this name is judged exactly like `connect`. (`__send`, the other exported alias, has no
    /// address.)
    export __connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int
        => interpose::connect(fd, addr, len);
    hook accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int
        => interpose::accept(fd, addr, len, None);
    hook accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int
        => interpose::accept(fd, addr, len, Some(flags));
    hook sendto(fd: c_int, buf: *const c_void, n: size_t, flags: c_int, addr: *const sockaddr, len: socklen_t) -> ssize_t
        => interpose::sendto(fd, buf, n, flags, addr, len);
    hook sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t
        => interpose::sendmsg(fd, msg, flags);
    hook sendmmsg(fd: c_int, msgs: *mut mmsghdr, vlen: c_uint, flags: c_int) -> c_int
        => interpose::sendmmsg(fd, msgs, vlen, flags);
    /// glibc's private name (`GLIBC_PRIVATE`: no program links against it, but `dlsym` and
    /// Python's `ctypes.CDLL(None)` find it), judged like the public one. So are the other
    /// private names below.
    export __sendmmsg(fd: c_int, msgs: *mut mmsghdr, vlen: c_uint, flags: c_int) -> c_int
        => interpose::sendmmsg(fd, msgs, vlen, flags);

    // --- the calls that create, copy, close or share descriptors: they keep armr's tables of
    // descriptors true (`descriptors`).
    hook socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int
        => descriptors::socket(domain, kind, protocol);
    export __socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int
        => descriptors::socket(domain, kind, protocol);
    hook close(fd: c_int) -> c_int => descriptors::close(fd);
    hook dup(old: c_int) -> c_int => descriptors::dup(old);
    hook dup2(old: c_int, new: c_int) -> c_int => descriptors::dup2(old, new, None);
    hook dup3(old: c_int, new: c_int, flags: c_int) -> c_int
        => descriptors::dup2(old, new, Some(flags));
    hook fclose(stream: *mut FILE) -> c_int => descriptors::fclose(stream);
    hook close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int
        => descriptors::close_range(first, last, flags);
    hook closefrom(first: c_int) -> () => descriptors::closefrom(first);
    hook posix_spawn(pid: *mut pid_t, path: *const c_char, actions: *const posix_spawn_file_actions_t, attributes: *const posix_spawnattr_t, argv: *const *mut c_char, envp: *const *mut c_char) -> c_int
        => descriptors::posix_spawn(pid, path, actions, attributes, argv, envp, false);
    hook posix_spawnp(pid: *mut pid_t, file: *const c_char, actions: *const posix_spawn_file_actions_t, attributes: *const posix_spawnattr_t, argv: *const *mut c_char, envp: *const *mut c_char) -> c_int
        => descriptors::posix_spawn(pid, file, actions, attributes, argv, envp, true);
    hook system(command: *const c_char) -> c_int => descriptors::system(command);
    hook popen(command: *const c_char, mode: *const c_char) -> *mut FILE
        => descriptors::popen(command, mode);

    // --- libc functions that bind or connect through libc's internal calls, past the hooks
    // above: redone on armr's judged calls (`resvport`), or judged beforehand (`remote`).
    export bindresvport(fd: c_int, addr: *mut sockaddr_in) -> c_int
        => resvport::bindresvport(fd, addr);
    export rresvport(port: *mut c_int) -> c_int
        => resvport::rresvport_af(port, libc::AF_INET as sa_family_t);
    export rresvport_af(port: *mut c_int, family: sa_family_t) -> c_int
        => resvport::rresvport_af(port, family);
    hook rcmd(host: *mut *mut c_char, port: c_ushort, local_user: *const c_char, remote_user: *const c_char, command: *const c_char, fd2p: *mut c_int) -> c_int
        => remote::rcmd(host, port, local_user, remote_user, command, fd2p, None);
    hook rcmd_af(host: *mut *mut c_char, port: c_ushort, local_user: *const c_char, remote_user: *const c_char, command: *const c_char, fd2p: *mut c_int, family: sa_family_t) -> c_int
        => remote::rcmd(host, port, local_user, remote_user, command, fd2p, Some(family));
    hook rexec(host: *mut *mut c_char, port: c_int, user: *const c_char, password: *const c_char, command: *const c_char, fd2p: *mut c_int) -> c_int
        => remote::rexec(host, port, user, password, command, fd2p, None);
    hook rexec_af(host: *mut *mut c_char, port: c_int, user: *const c_char, password: *const c_char, command: *const c_char, fd2p: *mut c_int, family: sa_family_t) -> c_int
        => remote::rexec(host, port, user, password, command, fd2p, Some(family));

    // --- name lookups: glibc's resolver connects to the name servers past the hooks above, so
    // each lookup is judged as that connect (`resolver`). The `__res_` names are the ones
    // programs built before glibc 2.34 call.
    hook getaddrinfo(node: *const c_char, service: *const c_char, hints: *const addrinfo, res: *mut *mut addrinfo) -> c_int
        => resolver::getaddrinfo(node, service, hints, res);
    hook getaddrinfo_a(mode: c_int, list: *mut *mut resolver::Gaicb, ent: c_int, sig: *mut libc::sigevent) -> c_int
        => resolver::getaddrinfo_a(mode, list, ent, sig);
    hook getnameinfo(sa: *const sockaddr, salen: socklen_t, host: *mut c_char, hostlen: socklen_t, serv: *mut c_char, servlen: socklen_t, flags: c_int) -> c_int
        => resolver::getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
    hook gethostbyname(name: *const c_char) -> *mut c_void => resolver::gethostbyname(name);
    hook gethostbyname2(name: *const c_char, af: c_int) -> *mut c_void
        => resolver::gethostbyname2(name, af);
    hook gethostbyname_r(name: *const c_char, ret: *mut c_void, buf: *mut c_char, buflen: size_t, result: *mut *mut c_void, h_errnop: *mut c_int) -> c_int
        => resolver::gethostbyname_r(name, ret, buf, buflen, result, h_errnop);
    hook gethostbyname2_r(name: *const c_char, af: c_int, ret: *mut c_void, buf: *mut c_char, buflen: size_t, result: *mut *mut c_void, h_errnop: *mut c_int) -> c_int
        => resolver::gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop);
    hook gethostbyaddr(addr: *const c_void, len: socklen_t, kind: c_int) -> *mut c_void
        => resolver::gethostbyaddr(addr, len, kind);
    hook gethostbyaddr_r(addr: *const c_void, len: socklen_t, kind: c_int, ret: *mut c_void, buf: *mut c_char, buflen: size_t, result: *mut *mut c_void, h_errnop: *mut c_int) -> c_int
        => resolver::gethostbyaddr_r(addr, len, kind, ret, buf, buflen, result, h_errnop);
    hook getnetbyname(name: *const c_char) -> *mut c_void => resolver::getnetbyname(name);
    hook getnetbyaddr(net: u32, kind: c_int) -> *mut c_void => resolver::getnetbyaddr(net, kind);
    hook getnetbyname_r(name: *const c_char, ret: *mut c_void, buf: *mut c_char, buflen: size_t, result: *mut *mut c_void, h_errnop: *mut c_int) -> c_int
        => resolver::getnetbyname_r(name, ret, buf, buflen, result, h_errnop);
    hook getnetbyaddr_r(net: u32, kind: c_int, ret: *mut c_void, buf: *mut c_char, buflen: size_t, result: *mut *mut c_void, h_errnop: *mut c_int) -> c_int
        => resolver::getnetbyaddr_r(net, kind, ret, buf, buflen, result, h_errnop);
    hook res_query(name: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int
        => resolver::res_query(std::ptr::null_mut(), false, name, class, kind, answer, anslen);
    export __res_query(name: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int
        => resolver::res_query(std::ptr::null_mut(), false, name, class, kind, answer, anslen);
    hook res_search(name: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int
        => resolver::res_query(std::ptr::null_mut(), true, name, class, kind, answer, anslen);
    export __res_search(name: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int
        => resolver::res_query(std::ptr::null_mut(), true, name, class, kind, answer, anslen);
    hook res_querydomain(name: *const c_char, domain: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int
        => resolver::res_querydomain(std::ptr::null_mut(), name, domain, class, kind, answer, anslen);
    export __res_querydomain(name: *const c_char, domain: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int
        => resolver::res_querydomain(std::ptr::null_mut(), name, domain, class, kind, answer, anslen);
    hook res_send(msg: *const c_uchar, msglen: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int
        => resolver::res_send(std::ptr::null_mut(), msg, msglen, answer, anslen);
    export __res_send(msg: *const c_uchar, msglen: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int
        => resolver::res_send(std::ptr::null_mut(), msg, msglen, answer, anslen);
    hook res_nquery(statp: Statp, name: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int
        => resolver::res_query(statp, false, name, class, kind, answer, anslen);
    export __res_nquery(statp: Statp, name: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int
        => resolver::res_query(statp, false, name, class, kind, answer, anslen);
    hook res_nsearch(statp: Statp, name: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int
        => resolver::res_query(statp, true, name, class, kind, answer, anslen);
    export __res_nsearch(statp: Statp, name: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int
        => resolver::res_query(statp, true, name, class, kind, answer, anslen);
    hook res_nquerydomain(statp: Statp, name: *const c_char, domain: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int
        => resolver::res_querydomain(statp, name, domain, class, kind, answer, anslen);
    export __res_nquerydomain(statp: Statp, name: *const c_char, domain: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int
        => resolver::res_querydomain(statp, name, domain, class, kind, answer, anslen);
    hook res_nsend(statp: Statp, msg: *const c_uchar, msglen: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int
        => resolver::res_send(statp, msg, msglen, answer, anslen);
    export __res_nsend(statp: Statp, msg: *const c_uchar, msglen: c_int, answer: *mut c_uchar, anslen: c_int) -> c_int
        => resolver::res_send(statp, msg, msglen, answer, anslen);
    /// Builds a query packet (`resolver` brings this thread's `_res` up to date with it).
    real res_mkquery(op: c_int, name: *const c_char, class: c_int, kind: c_int, data: *const c_uchar, datalen: c_int, newrr: *const c_uchar, buf: *mut c_uchar, buflen: c_int) -> c_int;

    // --- libc functions that look a name up with libc's internal resolver calls, and glibc's
    // DNS module's entry points (`indirect`): each judged as the lookup it makes.
    hook gethostid() -> c_long => indirect::names(|| real::gethostid());
    hook ruserok(host: *const c_char, superuser: c_int, remote_user: *const c_char, local_user: *const c_char) -> c_int
        => indirect::names(|| real::ruserok(host, superuser, remote_user, local_user));
    hook ruserok_af(host: *const c_char, superuser: c_int, remote_user: *const c_char, local_user: *const c_char, family: sa_family_t) -> c_int
        => indirect::names(|| real::ruserok_af(host, superuser, remote_user, local_user, family));
    hook iruserok(address: u32, superuser: c_int, remote_user: *const c_char, local_user: *const c_char) -> c_int
        => indirect::names(|| real::iruserok(address, superuser, remote_user, local_user));
    hook iruserok_af(address: *const c_void, superuser: c_int, remote_user: *const c_char, local_user: *const c_char, family: sa_family_t) -> c_int
        => indirect::names(|| real::iruserok_af(address, superuser, remote_user, local_user, family));
    hook _nss_dns_gethostbyname_r(name: *const c_char, result: *mut c_void, buffer: *mut c_char, buflen: size_t, errnop: *mut c_int, h_errnop: *mut c_int) -> c_int
        => indirect::dns(|| real::_nss_dns_gethostbyname_r(name, result, buffer, buflen, errnop, h_errnop));
    hook _nss_dns_gethostbyname2_r(name: *const c_char, af: c_int, result: *mut c_void, buffer: *mut c_char, buflen: size_t, errnop: *mut c_int, h_errnop: *mut c_int) -> c_int
        => indirect::dns(|| real::_nss_dns_gethostbyname2_r(name, af, result, buffer, buflen, errnop, h_errnop));
    hook _nss_dns_gethostbyname3_r(name: *const c_char, af: c_int, result: *mut c_void, buffer: *mut c_char, buflen: size_t, errnop: *mut c_int, h_errnop: *mut c_int, ttlp: *mut i32, canonp: *mut *mut c_char) -> c_int
        => indirect::dns(|| real::_nss_dns_gethostbyname3_r(name, af, result, buffer, buflen, errnop, h_errnop, ttlp, canonp));
    hook _nss_dns_gethostbyname4_r(name: *const c_char, pat: *mut *mut c_void, buffer: *mut c_char, buflen: size_t, errnop: *mut c_int, h_errnop: *mut c_int, ttlp: *mut i32) -> c_int
        => indirect::dns(|| real::_nss_dns_gethostbyname4_r(name, pat, buffer, buflen, errnop, h_errnop, ttlp));
    hook _nss_dns_gethostbyaddr_r(addr: *const c_void, len: socklen_t, af: c_int, result: *mut c_void, buffer: *mut c_char, buflen: size_t, errnop: *mut c_int, h_errnop: *mut c_int) -> c_int
        => indirect::dns(|| real::_nss_dns_gethostbyaddr_r(addr, len, af, result, buffer, buflen, errnop, h_errnop));
    hook _nss_dns_gethostbyaddr2_r(addr: *const c_void, len: socklen_t, af: c_int, result: *mut c_void, buffer: *mut c_char, buflen: size_t, errnop: *mut c_int, h_errnop: *mut c_int, ttlp: *mut i32) -> c_int
        => indirect::dns(|| real::_nss_dns_gethostbyaddr2_r(addr, len, af, result, buffer, buflen, errnop, h_errnop, ttlp));
    hook _nss_dns_getcanonname_r(name: *const c_char, buffer: *mut c_char, buflen: size_t, result: *mut *mut c_char, errnop: *mut c_int, h_errnop: *mut c_int) -> c_int
        => indirect::dns(|| real::_nss_dns_getcanonname_r(name, buffer, buflen, result, errnop, h_errnop));
    hook _nss_dns_getnetbyname_r(name: *const c_char, result: *mut c_void, buffer: *mut c_char, buflen: size_t, errnop: *mut c_int, h_errnop: *mut c_int) -> c_int
        => indirect::dns(|| real::_nss_dns_getnetbyname_r(name, result, buffer, buflen, errnop, h_errnop));
    hook _nss_dns_getnetbyaddr_r(net: u32, kind: c_int, result: *mut c_void, buffer: *mut c_char, buflen: size_t, errnop: *mut c_int, h_errnop: *mut c_int) -> c_int
        => indirect::dns(|| real::_nss_dns_getnetbyaddr_r(net, kind, result, buffer, buflen, errnop, h_errnop));

    // --- receiving: the sender of a datagram on an unconnected UDP socket is judged
    // (`receive`).
    hook read(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t => receive::read(fd, buf, n);
    /// glibc's public second name for `read`.
    export __read(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t => receive::read(fd, buf, n);
    /// Not a cancellation point, unlike `read`: forwarded to itself unless judged.
    hook __read_nocancel(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t
        => receive::read_nocancel(fd, buf, n);
    hook readv(fd: c_int, iov: *const iovec, count: c_int) -> ssize_t
        => receive::readv(fd, iov, count);
    /// `preadv2` at offset -1 reads a socket like `readv`.
    hook preadv2(fd: c_int, iov: *const iovec, count: c_int, offset: libc::off_t, flags: c_int) -> ssize_t
        => receive::preadv2(fd, iov, count, offset, flags, false);
    hook preadv64v2(fd: c_int, iov: *const iovec, count: c_int, offset: libc::off64_t, flags: c_int) -> ssize_t
        => receive::preadv2(fd, iov, count, offset, flags, true);
    /// `splice` from a socket into a pipe takes a datagram.
    hook splice(fd_in: c_int, off_in: *mut libc::loff_t, fd_out: c_int, off_out: *mut libc::loff_t, len: size_t, flags: c_uint) -> ssize_t
        => receive::splice(fd_in, off_in, fd_out, off_out, len, flags);
    hook __read_chk(fd: c_int, buf: *mut c_void, n: size_t, room: size_t) -> ssize_t
        => receive::read_chk(fd, buf, n, room);
    hook recv(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int) -> ssize_t
        => receive::recv(fd, buf, n, flags);
    export __recv(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int) -> ssize_t
        => receive::recv(fd, buf, n, flags);
    hook __recv_chk(fd: c_int, buf: *mut c_void, n: size_t, room: size_t, flags: c_int) -> ssize_t
        => receive::recv_chk(fd, buf, n, room, flags);
    hook recvfrom(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> ssize_t
        => receive::recvfrom(fd, buf, n, flags, addr, len);
    hook __recvfrom_chk(fd: c_int, buf: *mut c_void, n: size_t, room: size_t, flags: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> ssize_t
        => receive::recvfrom_chk(fd, buf, n, room, flags, addr, len);
    hook recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t
        => receive::recvmsg(fd, msg, flags);
    hook recvmmsg(fd: c_int, msgs: *mut mmsghdr, vlen: c_uint, flags: c_int, timeout: *mut timespec) -> c_int
        => receive::recvmmsg(fd, msgs, vlen, flags, timeout);
}
