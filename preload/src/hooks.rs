//! The exported functions: libc's names, one line each, into `interpose`.

use crate::{descriptors, interpose, receive, remote, resvport};
use libc::{
    FILE, c_char, c_int, c_uint, c_ushort, c_void, mmsghdr, msghdr, pid_t,
    posix_spawn_file_actions_t, posix_spawnattr_t, sa_family_t, size_t, sockaddr, sockaddr_in,
    socklen_t, ssize_t, timespec,
};

#[unsafe(no_mangle)]
pub unsafe extern "C" fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    unsafe { interpose::bind(fd, addr, len) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn listen(fd: c_int, backlog: c_int) -> c_int {
    unsafe { interpose::listen(fd, backlog) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    unsafe { interpose::connect(fd, addr, len) }
}

/// glibc's second name for `connect` (`__connect@GLIBC_2.2.5`): a program that calls it by this
/// name is judged exactly like `connect`. (`__send`, the other exported alias, has no address;
/// `__sendmmsg` is `GLIBC_PRIVATE`, which no program links against.)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    unsafe { interpose::connect(fd, addr, len) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    unsafe { interpose::accept(fd, addr, len, None) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    unsafe { interpose::accept(fd, addr, len, Some(flags)) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    n: size_t,
    flags: c_int,
    addr: *const sockaddr,
    len: socklen_t,
) -> ssize_t {
    unsafe { interpose::sendto(fd, buf, n, flags, addr, len) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    unsafe { interpose::sendmsg(fd, msg, flags) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendmmsg(
    fd: c_int,
    msgs: *mut mmsghdr,
    vlen: c_uint,
    flags: c_int,
) -> c_int {
    unsafe { interpose::sendmmsg(fd, msgs, vlen, flags) }
}

// --- the calls that create, copy, close or share descriptors: they keep `unbound` true.

#[unsafe(no_mangle)]
pub unsafe extern "C" fn socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int {
    unsafe { descriptors::socket(domain, kind, protocol) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    unsafe { descriptors::close(fd) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup(old: c_int) -> c_int {
    unsafe { descriptors::dup(old) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    unsafe { descriptors::dup2(old, new, None) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    unsafe { descriptors::dup2(old, new, Some(flags)) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn fclose(stream: *mut FILE) -> c_int {
    unsafe { descriptors::fclose(stream) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    unsafe { descriptors::close_range(first, last, flags) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn closefrom(first: c_int) {
    unsafe { descriptors::closefrom(first) }
}

// --- libc functions that bind or connect through libc's internal calls, past the hooks above.

#[unsafe(no_mangle)]
pub unsafe extern "C" fn bindresvport(fd: c_int, addr: *mut sockaddr_in) -> c_int {
    unsafe { resvport::bindresvport(fd, addr) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn rresvport(port: *mut c_int) -> c_int {
    unsafe { resvport::rresvport_af(port, libc::AF_INET as sa_family_t) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn rresvport_af(port: *mut c_int, family: sa_family_t) -> c_int {
    unsafe { resvport::rresvport_af(port, family) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcmd(
    host: *mut *mut c_char,
    port: c_ushort,
    local_user: *const c_char,
    remote_user: *const c_char,
    command: *const c_char,
    fd2p: *mut c_int,
) -> c_int {
    unsafe { remote::rcmd(host, port, local_user, remote_user, command, fd2p, None) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn rcmd_af(
    host: *mut *mut c_char,
    port: c_ushort,
    local_user: *const c_char,
    remote_user: *const c_char,
    command: *const c_char,
    fd2p: *mut c_int,
    family: sa_family_t,
) -> c_int {
    unsafe {
        remote::rcmd(
            host,
            port,
            local_user,
            remote_user,
            command,
            fd2p,
            Some(family),
        )
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn rexec(
    host: *mut *mut c_char,
    port: c_int,
    user: *const c_char,
    password: *const c_char,
    command: *const c_char,
    fd2p: *mut c_int,
) -> c_int {
    unsafe { remote::rexec(host, port, user, password, command, fd2p, None) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn rexec_af(
    host: *mut *mut c_char,
    port: c_int,
    user: *const c_char,
    password: *const c_char,
    command: *const c_char,
    fd2p: *mut c_int,
    family: sa_family_t,
) -> c_int {
    unsafe { remote::rexec(host, port, user, password, command, fd2p, Some(family)) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_spawn(
    pid: *mut pid_t,
    path: *const c_char,
    actions: *const posix_spawn_file_actions_t,
    attributes: *const posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    unsafe { descriptors::posix_spawn(pid, path, actions, attributes, argv, envp, false) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_spawnp(
    pid: *mut pid_t,
    file: *const c_char,
    actions: *const posix_spawn_file_actions_t,
    attributes: *const posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
) -> c_int {
    unsafe { descriptors::posix_spawn(pid, file, actions, attributes, argv, envp, true) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn system(command: *const c_char) -> c_int {
    unsafe { descriptors::system(command) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn popen(command: *const c_char, mode: *const c_char) -> *mut FILE {
    unsafe { descriptors::popen(command, mode) }
}

// --- name lookups: glibc's resolver connects to the name servers past the hooks above, so each
// lookup is judged as that connect (`resolver`). The `__res_` names are the ones programs built
// before glibc 2.34 call.

use crate::resolver::{self, Statp};
use libc::{addrinfo, c_uchar};

#[unsafe(no_mangle)]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    unsafe { resolver::getaddrinfo(node, service, hints, res) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn getaddrinfo_a(
    mode: c_int,
    list: *mut *mut resolver::Gaicb,
    ent: c_int,
    sig: *mut libc::sigevent,
) -> c_int {
    unsafe { resolver::getaddrinfo_a(mode, list, ent, sig) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn getnameinfo(
    sa: *const sockaddr,
    salen: socklen_t,
    host: *mut c_char,
    hostlen: socklen_t,
    serv: *mut c_char,
    servlen: socklen_t,
    flags: c_int,
) -> c_int {
    unsafe { resolver::getnameinfo(sa, salen, host, hostlen, serv, servlen, flags) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn gethostbyname(name: *const c_char) -> *mut c_void {
    unsafe { resolver::gethostbyname(name) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn gethostbyname2(name: *const c_char, af: c_int) -> *mut c_void {
    unsafe { resolver::gethostbyname2(name, af) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn gethostbyname_r(
    name: *const c_char,
    ret: *mut c_void,
    buf: *mut c_char,
    buflen: size_t,
    result: *mut *mut c_void,
    h_errnop: *mut c_int,
) -> c_int {
    unsafe { resolver::gethostbyname_r(name, ret, buf, buflen, result, h_errnop) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn gethostbyname2_r(
    name: *const c_char,
    af: c_int,
    ret: *mut c_void,
    buf: *mut c_char,
    buflen: size_t,
    result: *mut *mut c_void,
    h_errnop: *mut c_int,
) -> c_int {
    unsafe { resolver::gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn gethostbyaddr(
    addr: *const c_void,
    len: socklen_t,
    kind: c_int,
) -> *mut c_void {
    unsafe { resolver::gethostbyaddr(addr, len, kind) }
}

#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn gethostbyaddr_r(
    addr: *const c_void,
    len: socklen_t,
    kind: c_int,
    ret: *mut c_void,
    buf: *mut c_char,
    buflen: size_t,
    result: *mut *mut c_void,
    h_errnop: *mut c_int,
) -> c_int {
    unsafe { resolver::gethostbyaddr_r(addr, len, kind, ret, buf, buflen, result, h_errnop) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn getnetbyname(name: *const c_char) -> *mut c_void {
    unsafe { resolver::getnetbyname(name) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn getnetbyaddr(net: u32, kind: c_int) -> *mut c_void {
    unsafe { resolver::getnetbyaddr(net, kind) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn getnetbyname_r(
    name: *const c_char,
    ret: *mut c_void,
    buf: *mut c_char,
    buflen: size_t,
    result: *mut *mut c_void,
    h_errnop: *mut c_int,
) -> c_int {
    unsafe { resolver::getnetbyname_r(name, ret, buf, buflen, result, h_errnop) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn getnetbyaddr_r(
    net: u32,
    kind: c_int,
    ret: *mut c_void,
    buf: *mut c_char,
    buflen: size_t,
    result: *mut *mut c_void,
    h_errnop: *mut c_int,
) -> c_int {
    unsafe { resolver::getnetbyaddr_r(net, kind, ret, buf, buflen, result, h_errnop) }
}

/// The res_query family under both names.
macro_rules! res_exports {
    ($($name:ident, $alias:ident: ($($arg:ident: $ty:ty),*) => $body:expr;)*) => {
        $(
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $name($($arg: $ty),*) -> c_int {
                unsafe { $body }
            }

            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $alias($($arg: $ty),*) -> c_int {
                unsafe { $body }
            }
        )*
    };
}

res_exports! {
    res_query, __res_query: (name: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int)
        => resolver::res_query(std::ptr::null_mut(), false, name, class, kind, answer, anslen);
    res_search, __res_search: (name: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int)
        => resolver::res_query(std::ptr::null_mut(), true, name, class, kind, answer, anslen);
    res_querydomain, __res_querydomain: (name: *const c_char, domain: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int)
        => resolver::res_querydomain(std::ptr::null_mut(), name, domain, class, kind, answer, anslen);
    res_send, __res_send: (msg: *const c_uchar, msglen: c_int, answer: *mut c_uchar, anslen: c_int)
        => resolver::res_send(std::ptr::null_mut(), msg, msglen, answer, anslen);
    res_nquery, __res_nquery: (statp: Statp, name: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int)
        => resolver::res_query(statp, false, name, class, kind, answer, anslen);
    res_nsearch, __res_nsearch: (statp: Statp, name: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int)
        => resolver::res_query(statp, true, name, class, kind, answer, anslen);
    res_nquerydomain, __res_nquerydomain: (statp: Statp, name: *const c_char, domain: *const c_char, class: c_int, kind: c_int, answer: *mut c_uchar, anslen: c_int)
        => resolver::res_querydomain(statp, name, domain, class, kind, answer, anslen);
    res_nsend, __res_nsend: (statp: Statp, msg: *const c_uchar, msglen: c_int, answer: *mut c_uchar, anslen: c_int)
        => resolver::res_send(statp, msg, msglen, answer, anslen);
}

// --- receiving: the sender of a datagram on an unconnected UDP socket is judged (`receive`).

#[unsafe(no_mangle)]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t {
    unsafe { receive::read(fd, buf, n) }
}

/// glibc's public second name for `read`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __read(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t {
    unsafe { receive::read(fd, buf, n) }
}

// glibc's private names for the socket calls (`GLIBC_PRIVATE`: no program links against them,
// but `dlsym` and Python's `ctypes.CDLL(None)` find them), judged like the public ones.

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
    unsafe { descriptors::socket(domain, kind, protocol) }
}

/// Not a cancellation point, unlike `read`: forwarded to itself unless judged.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __read_nocancel(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t {
    // SAFETY: read's contract.
    unsafe { receive::read_nocancel(fd, buf, n) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const libc::iovec, count: c_int) -> ssize_t {
    unsafe { receive::readv(fd, iov, count) }
}

/// `preadv2` at offset -1 reads a socket like `readv`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn preadv2(
    fd: c_int,
    iov: *const libc::iovec,
    count: c_int,
    offset: libc::off_t,
    flags: c_int,
) -> ssize_t {
    unsafe { receive::preadv2(fd, iov, count, offset, flags, false) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn preadv64v2(
    fd: c_int,
    iov: *const libc::iovec,
    count: c_int,
    offset: libc::off64_t,
    flags: c_int,
) -> ssize_t {
    unsafe { receive::preadv2(fd, iov, count, offset, flags, true) }
}

/// `splice` from a socket into a pipe takes a datagram.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn splice(
    fd_in: c_int,
    off_in: *mut libc::loff_t,
    fd_out: c_int,
    off_out: *mut libc::loff_t,
    len: size_t,
    flags: c_uint,
) -> ssize_t {
    unsafe { receive::splice(fd_in, off_in, fd_out, off_out, len, flags) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn __read_chk(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    room: size_t,
) -> ssize_t {
    unsafe { receive::read_chk(fd, buf, n, room) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int) -> ssize_t {
    unsafe { receive::recv(fd, buf, n, flags) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn __recv_chk(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    room: size_t,
    flags: c_int,
) -> ssize_t {
    unsafe { receive::recv_chk(fd, buf, n, room, flags) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> ssize_t {
    unsafe { receive::recvfrom(fd, buf, n, flags, addr, len) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn __recvfrom_chk(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    room: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> ssize_t {
    unsafe { receive::recvfrom_chk(fd, buf, n, room, flags, addr, len) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    unsafe { receive::recvmsg(fd, msg, flags) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn recvmmsg(
    fd: c_int,
    msgs: *mut mmsghdr,
    vlen: c_uint,
    flags: c_int,
    timeout: *mut timespec,
) -> c_int {
    unsafe { receive::recvmmsg(fd, msgs, vlen, flags, timeout) }
}
