//! Decoding of C socket addresses: the one place that reads `sockaddr` memory.

use crate::errno;
use libc::{
    AF_INET, AF_INET6, c_int, msghdr, sa_family_t, sockaddr, sockaddr_in, sockaddr_in6, socklen_t,
};
use std::net::{SocketAddr, SocketAddrV4};

/// `SIN6_LEN_RFC2133`: a `sockaddr_in6` without its scope id, the shortest the kernel takes for an
/// IPv6 bind, connect or send (`inet6_bind`, `tcp_v6_connect`, `udpv6_sendmsg`).
pub const SIN6_LEN_RFC2133: usize = 24;

/// Room for any address the kernel takes (`sizeof(struct sockaddr_storage)`).
pub type Room = std::mem::MaybeUninit<libc::sockaddr_storage>;

/// The address at `addr` copied into `room`, for the call to judge and then make with the same
/// bytes: another thread of the program may rewrite its buffer between armr's look and the
/// system call, and the kernel would read the new address (docs/security.md). Returns the copy,
/// or `addr` itself when null or longer than any address the kernel takes (the kernel then fails
/// the call, EFAULT or EINVAL, without reading an address).
///
/// # Safety
/// `addr` is null or points to at least `len` readable bytes.
#[inline(always)]
pub unsafe fn copied(room: &mut Room, addr: *const sockaddr, len: socklen_t) -> *const sockaddr {
    if addr.is_null() {
        return addr;
    }
    if len as usize == std::mem::size_of::<sockaddr_in>() {
        // The common address, by two loads and two stores: a variable-length copy became a call
        // to memcpy (10 instructions, callgrind).
        let to = room.as_mut_ptr().cast::<u64>();
        let from = addr.cast::<u64>();
        // SAFETY: the caller's 16 readable bytes; `room` has 128.
        unsafe {
            let (a, b) = (from.read_unaligned(), from.add(1).read_unaligned());
            to.write_unaligned(a);
            to.add(1).write_unaligned(b);
        }
        return room.as_ptr().cast();
    }
    if len as usize == std::mem::size_of::<libc::sockaddr_in6>() {
        // IPv6's 28 bytes, also by fixed loads and stores (memcpy: 14 instructions).
        // SAFETY: the caller's 28 readable bytes; `room` has 128.
        unsafe {
            room.as_mut_ptr()
                .cast::<[u8; 28]>()
                .write_unaligned(addr.cast::<[u8; 28]>().read_unaligned())
        };
        return room.as_ptr().cast();
    }
    // SAFETY: as above, for `len` bytes.
    unsafe { copied_other(room, addr, len) }
}

/// [`copied`] for any other length the kernel takes: out of line.
///
/// # Safety
/// As [`copied`], `addr` not null.
#[inline(never)]
unsafe fn copied_other(room: &mut Room, addr: *const sockaddr, len: socklen_t) -> *const sockaddr {
    if len as usize > std::mem::size_of::<libc::sockaddr_storage>() {
        return addr;
    }
    // SAFETY: the caller's `len` readable bytes; `room` has room for them.
    unsafe {
        std::ptr::copy_nonoverlapping(
            addr.cast::<u8>(),
            room.as_mut_ptr().cast::<u8>(),
            len as usize,
        )
    };
    room.as_ptr().cast()
}

/// The `len` bytes at `addr` (at most a `sockaddr_storage`'s worth: the kernel takes no longer
/// address), for the core's decoding (`armr_core::address`); empty for a null pointer.
///
/// # Safety
/// `addr` is null or points to at least `len` readable bytes.
#[inline(always)]
unsafe fn bytes<'a>(addr: *const sockaddr, len: socklen_t) -> &'a [u8] {
    if addr.is_null() {
        return &[];
    }
    let n = (len as usize).min(std::mem::size_of::<libc::sockaddr_storage>());
    // SAFETY: the caller's `len` readable bytes, of which `n`.
    unsafe { std::slice::from_raw_parts(addr.cast::<u8>(), n) }
}

/// The IPv4 or IPv6 address at `addr`, or `None` for a null pointer, another family (AF_UNIX,
/// netlink, ...) or a length too short for the family (`armr_core::address::decode`: IPv6 of
/// every length the kernel takes, 24 bytes and up, the scope id read only when it is there).
///
/// Out of line: the full path, after the hooks' numeric answers.
///
/// # Safety
/// `addr` is null or points to at least `len` readable bytes.
#[inline(never)]
pub unsafe fn decode(addr: *const sockaddr, len: socklen_t) -> Option<SocketAddr> {
    armr_core::address::decode(unsafe { bytes(addr, len) })
}

/// The IPv4 address in an `AF_UNSPEC` socket address long enough to hold one: what the kernel
/// reads from it on an IPv4 socket (`udp_sendmsg`, `inet_bind`). The caller asks the socket's
/// family; `None` for another family or a short address.
///
/// # Safety
/// As [`decode`].
pub unsafe fn decode_unspec_as_v4(addr: *const sockaddr, len: socklen_t) -> Option<SocketAddrV4> {
    armr_core::address::decode_unspec_as_v4(unsafe { bytes(addr, len) })
}

/// Copies a received address of `full` bytes into the caller's buffer of `room` bytes, cut
/// short as the kernel does (the caller then learns `full`).
///
/// # Safety
/// `to` is null or writable for `room` bytes; `from` holds `full` bytes, at most a
/// `sockaddr_storage`.
pub unsafe fn give_name(
    from: *const sockaddr,
    full: socklen_t,
    to: *mut sockaddr,
    room: socklen_t,
) {
    const STORAGE: socklen_t = std::mem::size_of::<libc::sockaddr_storage>() as socklen_t;
    if to.is_null() {
        return;
    }
    // SAFETY: `from` has `full` bytes (at most STORAGE), `to` room for `room`; the common
    // lengths by fixed loads and stores, not a call to memcpy.
    unsafe {
        let (from, to) = (from.cast::<u64>(), to.cast::<u64>());
        match full.min(room).min(STORAGE) as usize {
            16 => {
                let (a, b) = (from.read_unaligned(), from.add(1).read_unaligned());
                to.write_unaligned(a);
                to.add(1).write_unaligned(b);
            }
            28 => {
                let (a, b, c) = (
                    from.read_unaligned(),
                    from.add(1).read_unaligned(),
                    from.add(2).read_unaligned(),
                );
                let d = from.add(3).cast::<u32>().read_unaligned();
                to.write_unaligned(a);
                to.add(1).write_unaligned(b);
                to.add(2).write_unaligned(c);
                to.add(3).cast::<u32>().write_unaligned(d);
            }
            n => std::ptr::copy_nonoverlapping(from.cast::<u8>(), to.cast::<u8>(), n),
        }
    }
}

/// An accepted peer's address, `full` bytes at `from` in armr's buffer, given to the caller as
/// the kernel would have: cut to the `room` it gave at `to` (none when `to` or `len` is null),
/// its full length in `*len`.
///
/// # Safety
/// As [`give_name`]; `len` is null or writable.
#[inline(always)]
pub unsafe fn give_peer(
    from: *const sockaddr,
    full: socklen_t,
    to: *mut sockaddr,
    len: *mut socklen_t,
    room: socklen_t,
) {
    if to.is_null() || len.is_null() {
        return;
    }
    unsafe {
        give_name(from, full, to, room);
        *len = full;
    }
}

/// The IPv4 address and port at `addr` as numbers (host order), or `None` for anything [`decode`]
/// would not return as IPv4: the common case, without building a `SocketAddr`.
///
/// # Safety
/// As [`decode`].
#[inline(always)]
pub unsafe fn decode_v4(addr: *const sockaddr, len: socklen_t) -> Option<(u32, u16)> {
    if addr.is_null() || (len as usize) < std::mem::size_of::<sockaddr_in>() {
        return None;
    }
    // SAFETY: len bytes are readable, at least a sockaddr_in; unaligned reads as in `decode`.
    let sin = unsafe { (addr as *const sockaddr_in).read_unaligned() };
    (c_int::from(sin.sin_family) == AF_INET).then(|| {
        (
            u32::from_be(sin.sin_addr.s_addr),
            u16::from_be(sin.sin_port),
        )
    })
}

/// The address family at `addr` (`None` for a null pointer or a length too short for one).
///
/// # Safety
/// As [`decode`].
pub unsafe fn family(addr: *const sockaddr, len: socklen_t) -> Option<c_int> {
    if addr.is_null() || (len as usize) < std::mem::size_of::<sa_family_t>() {
        return None;
    }
    // SAFETY: the family field is readable.
    Some(c_int::from(unsafe {
        std::ptr::addr_of!((*addr).sa_family).read_unaligned()
    }))
}

/// True when the message passes descriptors (an `SCM_RIGHTS` control message).
///
/// # Safety
/// `msg` is null or a valid `msghdr` whose control buffer is readable for `msg_controllen` bytes.
pub unsafe fn passes_descriptors(msg: *const msghdr) -> bool {
    if msg.is_null() || unsafe { (*msg).msg_control.is_null() } {
        return false;
    }
    // SAFETY: the CMSG macros stay within msg_control..msg_control + msg_controllen.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(msg) };
    while !cmsg.is_null() {
        let header = unsafe { cmsg.read_unaligned() };
        if header.cmsg_level == libc::SOL_SOCKET && header.cmsg_type == libc::SCM_RIGHTS {
            return true;
        }
        cmsg = unsafe { libc::CMSG_NXTHDR(msg, cmsg) };
    }
    false
}

/// Runs `query` (a system call about a socket), true when it succeeds; errno is put back when it
/// fails: armr's own questions never change what the program sees.
fn quietly(query: impl FnOnce() -> c_int) -> bool {
    let saved = errno::get();
    let ok = query() == 0;
    if !ok {
        errno::set(saved);
    }
    ok
}

/// `getsockname` as the system call itself, true when it succeeds: the kernel's error comes back
/// in the return value, so the program's errno is never touched and needs no saving (the
/// listen hook's question, on every judged `listen`).
///
/// # Safety
/// `name` is writable for `*len` bytes; `len` is writable.
#[inline(always)]
pub unsafe fn local_name_quietly(fd: c_int, name: *mut sockaddr, len: *mut socklen_t) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let ret: isize;
        // SAFETY: the getsockname system call on the caller's buffers; rcx and r11 are the
        // instruction's to clobber.
        unsafe {
            core::arch::asm!(
                "syscall",
                inlateout("rax") libc::SYS_getsockname as isize => ret,
                in("rdi") fd as isize,
                in("rsi") name,
                in("rdx") len,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            )
        };
        ret == 0
    }
    #[cfg(target_arch = "aarch64")]
    {
        let ret: isize;
        // SAFETY: as above (the arguments in x0..x2, the number in x8).
        unsafe {
            core::arch::asm!(
                "svc 0",
                inlateout("x0") fd as isize => ret,
                in("x1") name,
                in("x2") len,
                in("x8") libc::SYS_getsockname,
                options(nostack),
            )
        };
        ret == 0
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        // SAFETY: the caller's buffers.
        quietly(|| unsafe { libc::getsockname(fd, name, len) })
    }
}

/// The address `query` (getsockname or getpeername) writes, when it is IPv4 or IPv6. The buffer
/// is a `sockaddr_in6`, the larger of the two: another family's address is cut short, and its
/// family is still there to be refused.
fn ask(
    fd: c_int,
    query: unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int,
) -> Option<SocketAddr> {
    let mut buf = std::mem::MaybeUninit::<sockaddr_in6>::zeroed();
    let size = std::mem::size_of::<sockaddr_in6>() as socklen_t;
    let mut len = size;
    // SAFETY: buf is writable for len bytes.
    if !quietly(|| unsafe { query(fd, buf.as_mut_ptr().cast(), &mut len) }) {
        return None;
    }
    // SAFETY: the kernel wrote min(len, size) bytes of it; the rest is zeroed.
    unsafe { decode(buf.as_ptr().cast(), len.min(size)) }
}

/// The socket's address family (`SO_DOMAIN`), or `None` when `fd` is not a socket.
pub fn socket_domain(fd: c_int) -> Option<c_int> {
    socket_option(fd, libc::SO_DOMAIN)
}

#[inline(always)]
fn socket_option(fd: c_int, option: c_int) -> Option<c_int> {
    let mut value: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: value is a writable int and len its size.
    quietly(|| unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            &mut value as *mut _ as *mut _,
            &mut len,
        )
    })
    .then_some(value)
}

/// The local address of a socket (`getsockname`), when it is IPv4 or IPv6.
#[inline]
pub fn local_address(fd: c_int) -> Option<SocketAddr> {
    ask(fd, libc::getsockname)
}

/// The remote address of a connected socket (`getpeername`), when it is IPv4 or IPv6.
pub fn peer_address(fd: c_int) -> Option<SocketAddr> {
    ask(fd, libc::getpeername)
}

/// The socket type (`SOCK_STREAM`, `SOCK_DGRAM`, ...), or `None` when `fd` is not a socket.
pub fn socket_type(fd: c_int) -> Option<c_int> {
    socket_option(fd, libc::SO_TYPE)
}

/// True for a listening socket (`SO_ACCEPTCONN`).
pub fn is_listening(fd: c_int) -> bool {
    socket_option(fd, libc::SO_ACCEPTCONN).is_some_and(|on| on != 0)
}

/// The local address of a TCP socket that the program bound itself and has not yet connected:
/// what `bind(client:)` rules judge at `connect`.
///
/// Such a socket is in state CLOSE with a local port (or, with `IP_BIND_ADDRESS_NO_PORT`, a local
/// address) already set. A socket the kernel binds automatically gets its port only during its
/// connect, and is then no longer CLOSE (or, after a failed connect, has its port back at 0). The
/// test asks the socket itself, so it holds through `dup`, `dup2` and `fcntl(F_DUPFD)`.
pub fn explicit_client_bind(fd: c_int) -> Option<SocketAddr> {
    let mut buf = std::mem::MaybeUninit::<sockaddr_in6>::zeroed();
    let size = std::mem::size_of::<sockaddr_in6>() as socklen_t;
    let mut len = size;
    // SAFETY: buf is writable for len bytes.
    if !quietly(|| unsafe { libc::getsockname(fd, buf.as_mut_ptr().cast(), &mut len) }) {
        return None;
    }
    // SAFETY: zeroed, then partly written by the kernel: every byte is initialised.
    let raw = unsafe { buf.assume_init_ref() };
    // An unbound socket (the common case): port 0 and the unspecified address, read in place.
    // (A sockaddr_in lies over the first 16 bytes: its port and address where sin6's are.)
    let unbound = match c_int::from(raw.sin6_family) {
        AF_INET => raw.sin6_port == 0 && raw.sin6_flowinfo == 0,
        AF_INET6 => raw.sin6_port == 0 && raw.sin6_addr.s6_addr == [0; 16],
        _ => true,
    };
    if unbound {
        return None;
    }
    bound_client(fd, raw, len.min(size))
}

/// The rest of [`explicit_client_bind`], for a socket with a local address. Out of line: only a
/// bound socket gets here.
#[cold]
#[inline(never)]
fn bound_client(fd: c_int, raw: &sockaddr_in6, len: socklen_t) -> Option<SocketAddr> {
    // SAFETY: raw is a sockaddr_in6, valid for its size, of which len bytes are the address.
    let local = unsafe { decode((raw as *const sockaddr_in6).cast(), len) }?;
    is_unconnected_tcp(fd).then_some(local)
}

/// True for a TCP socket in state CLOSE. Out of line: only a bound socket gets here.
#[cold]
#[inline(never)]
fn is_unconnected_tcp(fd: c_int) -> bool {
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as socklen_t;
    const TCP_CLOSE: u8 = 7;
    // SAFETY: info is writable for len bytes.
    quietly(|| unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            &mut info as *mut _ as *mut _,
            &mut len,
        )
    }) && info.tcpi_state == TCP_CLOSE
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn decodes_both_families_and_refuses_the_rest() {
        let a: SocketAddr = "10.1.2.3:443".parse().unwrap();
        let mut sin: sockaddr_in = unsafe { std::mem::zeroed() };
        sin.sin_family = AF_INET as sa_family_t;
        sin.sin_port = 443u16.to_be();
        sin.sin_addr.s_addr = u32::from(Ipv4Addr::new(10, 1, 2, 3)).to_be();
        let p = &sin as *const _ as *const sockaddr;
        assert_eq!(
            unsafe { decode(p, std::mem::size_of::<sockaddr_in>() as socklen_t) },
            Some(a)
        );
        assert_eq!(unsafe { decode(p, 4) }, None, "too short");
        let len = std::mem::size_of::<sockaddr_in>() as socklen_t;
        assert_eq!(unsafe { decode_v4(p, len) }, Some((0x0a01_0203, 443)));
        assert_eq!(unsafe { decode_v4(p, len - 1) }, None, "too short");
        assert_eq!(unsafe { decode_v4(std::ptr::null(), len) }, None);
        assert_eq!(unsafe { decode(std::ptr::null(), 16) }, None);

        let mut sin6: sockaddr_in6 = unsafe { std::mem::zeroed() };
        sin6.sin6_family = AF_INET6 as sa_family_t;
        sin6.sin6_port = 80u16.to_be();
        sin6.sin6_addr.s6_addr = "::ffff:127.0.0.1".parse::<Ipv6Addr>().unwrap().octets();
        let p = &sin6 as *const _ as *const sockaddr;
        let got = unsafe { decode(p, std::mem::size_of::<sockaddr_in6>() as socklen_t) }.unwrap();
        assert_eq!(
            unsafe { decode_v4(p, std::mem::size_of::<sockaddr_in6>() as socklen_t) },
            None,
            "IPv6 (mapped or not) takes the general path"
        );
        assert_eq!(got.to_string(), "[::ffff:127.0.0.1]:80");
        // SIN6_LEN_RFC2133: no scope id, read as 0; anything shorter is not IPv6.
        sin6.sin6_scope_id = 7;
        let p = &sin6 as *const _ as *const sockaddr;
        let full = unsafe { decode(p, 28) }.unwrap();
        let short = unsafe { decode(p, 24) }.unwrap();
        assert!(matches!(full, SocketAddr::V6(a) if a.scope_id() == 7));
        assert!(matches!(short, SocketAddr::V6(a) if a.scope_id() == 0 && a.port() == 80));
        assert_eq!(unsafe { decode(p, 23) }, None, "too short");

        // AF_UNSPEC: read as IPv4 only when asked (the caller knows the socket's family).
        sin.sin_family = libc::AF_UNSPEC as sa_family_t;
        let p = &sin as *const _ as *const sockaddr;
        assert_eq!(unsafe { decode(p, 16) }, None);
        assert_eq!(unsafe { decode_v4(p, 16) }, None);
        assert_eq!(
            unsafe { decode_unspec_as_v4(p, 16) }.map(SocketAddr::V4),
            Some(a)
        );
        assert_eq!(unsafe { decode_unspec_as_v4(p, 15) }, None, "too short");

        let mut un: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        un.sun_family = libc::AF_UNIX as sa_family_t;
        let p = &un as *const _ as *const sockaddr;
        assert_eq!(
            unsafe { decode(p, std::mem::size_of::<libc::sockaddr_un>() as socklen_t) },
            None
        );
    }
}
