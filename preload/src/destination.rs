//! The address the kernel really uses when the program's address does not say it outright: a
//! connect or a datagram to the unspecified address, and an `AF_UNSPEC` address on an IPv4
//! socket. Only the rare cases come here: the common address is judged as written, with no
//! system call of armr's.

use crate::sockaddr;
use libc::{c_int, sockaddr as SockAddr, socklen_t};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// How the address reaches the kernel: a connect (TCP or UDP `connect`, TCP Fast Open), or a
/// datagram sent to it (`sendto`, `sendmsg`, `sendmmsg`).
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

/// Where a connect or datagram to the unspecified `address` goes on socket `fd`, as the kernel
/// decides it:
///
/// - IPv4 `0.0.0.0` (or `::ffff:0.0.0.0` on an IPv6 socket): to the socket's IPv4 source
///   address when it has one (the address it is bound to, say 127.0.0.2), else to 127.0.0.1
///   (`ip_route_output_key_hash_rcu`: the destination is the source, or loopback);
/// - IPv6 `::` by connect: to `::ffff:127.0.0.1` when the socket is bound to an IPv4-mapped
///   address, else to `::1` (`tcp_v6_connect`, `__ip6_datagram_connect`);
/// - IPv6 `::` by a datagram: to `::1` (`udpv6_sendmsg`).
///
/// The port is the program's.
pub fn of_unspecified(fd: c_int, address: SocketAddr, via: Via) -> SocketAddr {
    let port = address.port();
    match address.ip() {
        IpAddr::V6(ip) if ip.is_unspecified() => {
            let mapped_local = via == Via::Connect
                && matches!(sockaddr::local_address(fd),
                    Some(SocketAddr::V6(l)) if l.ip().to_ipv4_mapped().is_some());
            let ip = if mapped_local {
                Ipv4Addr::LOCALHOST.to_ipv6_mapped()
            } else {
                Ipv6Addr::LOCALHOST
            };
            SocketAddr::new(IpAddr::V6(ip), port)
        }
        IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(ipv4_source(fd).to_ipv6_mapped()), port),
        IpAddr::V4(_) => SocketAddr::new(IpAddr::V4(ipv4_source(fd)), port),
    }
}

/// The IPv4 destination of a packet to 0.0.0.0 from socket `fd`: its IPv4 source address, or
/// 127.0.0.1 when it has none. (An IPv6 socket bound to an IPv6 address that has no IPv4 form
/// cannot send IPv4 at all: the kernel fails it with ENETUNREACH, whatever armr judges.)
fn ipv4_source(fd: c_int) -> Ipv4Addr {
    let source = match sockaddr::local_address(fd) {
        Some(SocketAddr::V4(l)) => *l.ip(),
        Some(SocketAddr::V6(l)) => l.ip().to_ipv4_mapped().unwrap_or(Ipv4Addr::UNSPECIFIED),
        None => Ipv4Addr::UNSPECIFIED,
    };
    if source.is_unspecified() {
        Ipv4Addr::LOCALHOST
    } else {
        source
    }
}

/// The destination of a send whose address [`sockaddr::decode`] does not read: an `AF_UNSPEC`
/// address on an IPv4 datagram socket is read as IPv4 (`udp_sendmsg`, raw and ping sockets).
/// On an IPv6 socket it means no address, and on a stream socket (TCP Fast Open) a disconnect.
///
/// # Safety
/// `dest` is null or points to `len` readable bytes.
#[cold]
#[inline(never)]
pub unsafe fn of_unspec_send(
    fd: c_int,
    dest: *const SockAddr,
    len: socklen_t,
) -> Option<SocketAddr> {
    let v4 = unsafe { sockaddr::decode_unspec_as_v4(dest, len) }?;
    if sockaddr::socket_domain(fd) != Some(libc::AF_INET)
        || matches!(sockaddr::socket_type(fd), Some(libc::SOCK_STREAM) | None)
    {
        return None;
    }
    let address = SocketAddr::V4(v4);
    Some(if is_unspecified(address) {
        of_unspecified(fd, address, Via::Send)
    } else {
        address
    })
}

/// The address of a bind whose address [`sockaddr::decode`] does not read: `inet_bind` takes an
/// `AF_UNSPEC` address on an IPv4 socket when its address is `INADDR_ANY`, and binds
/// `0.0.0.0:PORT`. (`inet6_bind` refuses it.)
///
/// # Safety
/// `addr` is null or points to `len` readable bytes.
#[cold]
#[inline(never)]
pub unsafe fn of_unspec_bind(
    fd: c_int,
    addr: *const SockAddr,
    len: socklen_t,
) -> Option<SocketAddr> {
    let v4 = unsafe { sockaddr::decode_unspec_as_v4(addr, len) }?;
    (v4.ip().is_unspecified() && sockaddr::socket_domain(fd) == Some(libc::AF_INET))
        .then_some(SocketAddr::V4(v4))
}

/// The destination of a send to `address` on `fd`: the kernel's, when `address` is unspecified.
pub fn of_send(fd: c_int, address: SocketAddr) -> SocketAddr {
    if !is_unspecified(address) {
        return address;
    }
    of_send_unspecified(fd, address)
}

#[cold]
#[inline(never)]
fn of_send_unspecified(fd: c_int, address: SocketAddr) -> SocketAddr {
    // TCP Fast Open connects; a datagram is sent.
    let via = if sockaddr::socket_type(fd) == Some(libc::SOCK_STREAM) {
        Via::Connect
    } else {
        Via::Send
    };
    of_unspecified(fd, address, via)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_unspecified_address_goes_where_the_kernel_sends_it() {
        let unbound = UdpSocket::bind("0.0.0.0:0").unwrap();
        let bound = UdpSocket::bind("127.0.0.2:0").unwrap();
        let mapped = UdpSocket::bind("[::ffff:127.0.0.2]:0").unwrap();
        let any6 = UdpSocket::bind("[::]:0").unwrap();
        let v4 = at("0.0.0.0:9");
        let cases = [
            (&unbound, v4, Via::Connect, "127.0.0.1:9"),
            (&bound, v4, Via::Send, "127.0.0.2:9"),
            (&bound, v4, Via::Connect, "127.0.0.2:9"),
            (
                &mapped,
                at("[::ffff:0.0.0.0]:9"),
                Via::Connect,
                "[::ffff:127.0.0.2]:9",
            ),
            (
                &any6,
                at("[::ffff:0.0.0.0]:9"),
                Via::Send,
                "[::ffff:127.0.0.1]:9",
            ),
            (&mapped, at("[::]:9"), Via::Connect, "[::ffff:127.0.0.1]:9"),
            (&mapped, at("[::]:9"), Via::Send, "[::1]:9"),
            (&any6, at("[::]:9"), Via::Connect, "[::1]:9"),
        ];
        for (socket, address, via, expected) in cases {
            assert!(is_unspecified(address));
            assert_eq!(
                of_unspecified(socket.as_raw_fd(), address, via),
                at(expected),
                "{address} by {via:?} from {:?}",
                socket.local_addr()
            );
        }
        assert!(!is_unspecified(at("127.0.0.1:9")));
        assert!(!is_unspecified(at("[::1]:9")));
    }
}
