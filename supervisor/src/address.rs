//! Socket addresses as the kernel reads them, decoded from the supervisor's copy of the program's
//! bytes, and what the supervisor asks a socket (its copy of the program's descriptor) about
//! itself. The rules are the preload library's (`preload/src/sockaddr.rs`, `destination.rs`),
//! over a byte slice instead of the program's own memory.

use libc::{AF_INET, AF_INET6, c_int, sockaddr_in6, socklen_t};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd};

/// `SIN6_LEN_RFC2133`: the shortest IPv6 address the kernel takes (no scope id).
const SIN6_LEN_RFC2133: usize = 24;
const SIN_LEN: usize = 16;

/// The family field of an address (`None` when too short for one).
pub fn family(bytes: &[u8]) -> Option<c_int> {
    Some(c_int::from(u16::from_ne_bytes([
        *bytes.first()?,
        *bytes.get(1)?,
    ])))
}

fn v4_fields(bytes: &[u8]) -> SocketAddrV4 {
    let port = u16::from_be_bytes([bytes[2], bytes[3]]);
    let ip = Ipv4Addr::new(bytes[4], bytes[5], bytes[6], bytes[7]);
    SocketAddrV4::new(ip, port)
}

/// The IPv4 or IPv6 address in `bytes`, or `None` for another family or a length too short for
/// it. IPv6 of every length the kernel takes: 24 bytes and up, the scope id read when there.
pub fn decode(bytes: &[u8]) -> Option<SocketAddr> {
    match family(bytes)? {
        AF_INET if bytes.len() >= SIN_LEN => Some(SocketAddr::V4(v4_fields(bytes))),
        AF_INET6 if bytes.len() >= SIN6_LEN_RFC2133 => {
            let port = u16::from_be_bytes([bytes[2], bytes[3]]);
            let flowinfo = u32::from_ne_bytes(bytes[4..8].try_into().ok()?);
            let ip: [u8; 16] = bytes[8..24].try_into().ok()?;
            let scope = match bytes.get(24..28) {
                Some(s) => u32::from_ne_bytes(s.try_into().ok()?),
                None => 0,
            };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                flowinfo,
                scope,
            )))
        }
        _ => None,
    }
}

/// The IPv4 address in an `AF_UNSPEC` address long enough to hold one: what the kernel reads from
/// it on an IPv4 socket (`udp_sendmsg`, `inet_bind`).
pub fn decode_unspec_as_v4(bytes: &[u8]) -> Option<SocketAddrV4> {
    (family(bytes)? == libc::AF_UNSPEC && bytes.len() >= SIN_LEN).then(|| v4_fields(bytes))
}

/// The bytes of an IP socket address, as the kernel writes it (for `accept`'s peer).
pub fn encode(address: &SocketAddr) -> Vec<u8> {
    match address {
        SocketAddr::V4(a) => {
            let mut b = vec![0u8; SIN_LEN];
            b[0..2].copy_from_slice(&(AF_INET as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&a.port().to_be_bytes());
            b[4..8].copy_from_slice(&a.ip().octets());
            b
        }
        SocketAddr::V6(a) => {
            let mut b = vec![0u8; std::mem::size_of::<sockaddr_in6>()];
            b[0..2].copy_from_slice(&(AF_INET6 as u16).to_ne_bytes());
            b[2..4].copy_from_slice(&a.port().to_be_bytes());
            b[4..8].copy_from_slice(&a.flowinfo().to_ne_bytes());
            b[8..24].copy_from_slice(&a.ip().octets());
            b[24..28].copy_from_slice(&a.scope_id().to_ne_bytes());
            b
        }
    }
}

fn option(fd: BorrowedFd<'_>, level: c_int, name: c_int) -> Option<c_int> {
    let mut value: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: value is a writable int and len its size.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut c_int).cast(),
            &mut len,
        )
    };
    (r == 0).then_some(value)
}

/// The socket's family (`SO_DOMAIN`); `Err(errno)` when it is not a socket (`ENOTSOCK`).
pub fn domain(fd: BorrowedFd<'_>) -> Result<c_int, c_int> {
    option(fd, libc::SOL_SOCKET, libc::SO_DOMAIN).ok_or_else(|| {
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::ENOTSOCK)
    })
}

/// The socket's cookie (`SO_COOKIE`): a number the kernel gives it for good, never another
/// socket's (unlike its inode number). `Err(errno)` when it is not a socket (`ENOTSOCK`).
pub fn cookie(fd: BorrowedFd<'_>) -> Result<u64, c_int> {
    let mut value: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as socklen_t;
    // SAFETY: value is a writable u64 and len its size.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_COOKIE,
            (&mut value as *mut u64).cast(),
            &mut len,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::ENOTSOCK));
    }
    Ok(value)
}

/// The socket's type (`SOCK_STREAM`, `SOCK_DGRAM`, ...).
pub fn kind(fd: BorrowedFd<'_>) -> Option<c_int> {
    option(fd, libc::SOL_SOCKET, libc::SO_TYPE)
}

/// True when the open file is non-blocking (`O_NONBLOCK`, shared with the program's descriptor).
pub fn non_blocking(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: plain fcntl.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    flags >= 0 && flags & libc::O_NONBLOCK != 0
}

fn ask(
    fd: BorrowedFd<'_>,
    query: unsafe extern "C" fn(c_int, *mut libc::sockaddr, *mut socklen_t) -> c_int,
) -> Option<(SocketAddr, Vec<u8>)> {
    let mut buf = [0u8; 128];
    let mut len = buf.len() as socklen_t;
    // SAFETY: buf is writable for len bytes.
    if unsafe { query(fd.as_raw_fd(), buf.as_mut_ptr().cast(), &mut len) } != 0 {
        return None;
    }
    let bytes = &buf[..(len as usize).min(buf.len())];
    decode(bytes).map(|a| (a, bytes.to_vec()))
}

/// The socket's local address, when IPv4 or IPv6.
pub fn local(fd: BorrowedFd<'_>) -> Option<SocketAddr> {
    ask(fd, libc::getsockname).map(|(a, _)| a)
}

/// The local address of a TCP socket the program bound itself and has not connected (state
/// CLOSE with a local address): what `bind(client:)` rules judge at `connect`.
pub fn explicit_client_bind(fd: BorrowedFd<'_>) -> Option<SocketAddr> {
    let local = local(fd)?;
    if local.port() == 0 && local.ip().is_unspecified() {
        return None;
    }
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as socklen_t;
    const TCP_CLOSE: u8 = 7;
    // SAFETY: info is writable for len bytes.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (r == 0 && info.tcpi_state == TCP_CLOSE).then_some(local)
}

/// How the address reaches the kernel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Via {
    Connect,
    Send,
}

/// True for `0.0.0.0`, `::` and `::ffff:0.0.0.0`: the kernel picks the real destination.
pub fn is_unspecified(address: SocketAddr) -> bool {
    match address.ip() {
        IpAddr::V4(ip) => ip.is_unspecified(),
        IpAddr::V6(ip) => ip.is_unspecified() || ip.to_ipv4_mapped() == Some(Ipv4Addr::UNSPECIFIED),
    }
}

/// Where a connect or datagram to the unspecified `address` goes from `fd`, as the kernel
/// decides it (the preload library's `destination::of_unspecified`).
pub fn of_unspecified(fd: BorrowedFd<'_>, address: SocketAddr, via: Via) -> SocketAddr {
    let port = address.port();
    let local = local(fd);
    let ipv4_source = || {
        let source = match local {
            Some(SocketAddr::V4(l)) => *l.ip(),
            Some(SocketAddr::V6(l)) => l.ip().to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
            None => Ipv4Addr::UNSPECIFIED,
        };
        if source.is_unspecified() {
            Ipv4Addr::LOCALHOST
        } else {
            source
        }
    };
    match address.ip() {
        IpAddr::V6(ip) if ip.is_unspecified() => {
            let mapped_local = via == Via::Connect
                && matches!(local, Some(SocketAddr::V6(l)) if l.ip().to_ipv4_mapped().is_some());
            let ip = if mapped_local {
                Ipv4Addr::LOCALHOST.to_ipv6_mapped()
            } else {
                Ipv6Addr::LOCALHOST
            };
            SocketAddr::new(IpAddr::V6(ip), port)
        }
        IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(ipv4_source().to_ipv6_mapped()), port),
        IpAddr::V4(_) => SocketAddr::new(IpAddr::V4(ipv4_source()), port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_the_kernel_takes_and_encodes_it_back() {
        for text in ["10.1.2.3:443", "[::ffff:127.0.0.1]:80", "[fe80::1%7]:9"] {
            let a: SocketAddr = text.parse().unwrap();
            let bytes = encode(&a);
            assert_eq!(decode(&bytes), Some(a), "{text}");
        }
        let v4 = encode(&"10.1.2.3:443".parse().unwrap());
        assert_eq!(decode(&v4[..15]), None, "too short");
        let v6 = encode(&"[fe80::1%7]:9".parse().unwrap());
        assert!(matches!(decode(&v6[..24]), Some(SocketAddr::V6(a)) if a.scope_id() == 0));
        assert_eq!(decode(&v6[..23]), None, "too short");
        let mut unspec = v4.clone();
        unspec[0..2].copy_from_slice(&0u16.to_ne_bytes());
        assert_eq!(decode(&unspec), None);
        assert_eq!(
            decode_unspec_as_v4(&unspec).map(SocketAddr::V4),
            decode(&v4)
        );
        assert_eq!(decode(&[1, 0, 0]), None, "AF_UNIX");
        assert_eq!(decode(&[]), None);
    }
}
