//! The address the kernel really uses when the program's address does not say it outright: a
//! connect or a datagram to the unspecified address, and an `AF_UNSPEC` address on an IPv4
//! socket. Only the rare cases come here: the common address is judged as written, with no
//! system call of armr's.

use crate::sockaddr;
use libc::{c_int, sockaddr as SockAddr, socklen_t};
use std::net::SocketAddr;

pub use armr_core::address::{Via, is_unspecified};

/// Where a connect or datagram to the unspecified `address` goes on socket `fd`, as the kernel
/// decides it (`armr_core::address::of_unspecified`; the socket's local address asked only when
/// the answer depends on it).
pub fn of_unspecified(fd: c_int, address: SocketAddr, via: Via) -> SocketAddr {
    armr_core::address::of_unspecified(address, via, || sockaddr::local_address(fd))
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
