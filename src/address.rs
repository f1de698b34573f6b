//! Socket addresses as the kernel reads them, decoded from bytes, and where the kernel sends a
//! connect or a datagram whose address does not say it outright. Shared by both engines: the
//! preload library reads the program's memory (or its copy of it) and the seccomp supervisor its
//! copy of the program's bytes, and both decide here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

const AF_UNSPEC: u16 = 0;
const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
/// `sizeof(struct sockaddr_in)`.
pub const SIN_LEN: usize = 16;
/// `SIN6_LEN_RFC2133`: the shortest IPv6 address the kernel takes (no scope id).
pub const SIN6_LEN_RFC2133: usize = 24;
/// `sizeof(struct sockaddr_in6)`.
pub const SIN6_LEN: usize = 28;

/// The family field of an address (`None` when too short for one).
pub fn family(bytes: &[u8]) -> Option<i32> {
    Some(i32::from(u16::from_ne_bytes([
        *bytes.first()?,
        *bytes.get(1)?,
    ])))
}

/// The port and address fields of a `sockaddr_in`, whatever its family field says (the kernel
/// reads an `AF_UNSPEC` address on an IPv4 socket as IPv4). `bytes` holds at least [`SIN_LEN`].
fn v4_fields(bytes: &[u8]) -> Option<SocketAddrV4> {
    let port = u16::from_be_bytes([*bytes.get(2)?, *bytes.get(3)?]);
    let ip: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
    Some(SocketAddrV4::new(Ipv4Addr::from(ip), port))
}

/// The IPv4 or IPv6 address in `bytes`, or `None` for another family or a length too short for
/// it: IPv4 of 16 bytes and up, IPv6 of 24 bytes and up (the scope id read when there are 28).
pub fn decode(bytes: &[u8]) -> Option<SocketAddr> {
    match u16::try_from(family(bytes)?).ok()? {
        AF_INET if bytes.len() >= SIN_LEN => v4_fields(bytes).map(SocketAddr::V4),
        AF_INET6 if bytes.len() >= SIN6_LEN_RFC2133 => {
            let port = u16::from_be_bytes([bytes[2], bytes[3]]);
            let flowinfo = u32::from_ne_bytes(bytes.get(4..8)?.try_into().ok()?);
            let ip: [u8; 16] = bytes.get(8..24)?.try_into().ok()?;
            let scope = match bytes.get(24..SIN6_LEN) {
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
    if family(bytes)? != i32::from(AF_UNSPEC) || bytes.len() < SIN_LEN {
        return None;
    }
    v4_fields(bytes)
}

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

/// Where a connect or datagram to the unspecified `address` goes from a socket whose local
/// address `local` gives (asked only when the answer depends on it; `None`: unbound, or not
/// known), as the kernel decides it:
///
/// - IPv4 `0.0.0.0` (or `::ffff:0.0.0.0` on an IPv6 socket): to the socket's IPv4 source
///   address when it has one (the address it is bound to, say 127.0.0.2), else to 127.0.0.1
///   (`ip_route_output_key_hash_rcu`: the destination is the source, or loopback);
/// - IPv6 `::` by connect: to `::ffff:127.0.0.1` when the socket is bound to an IPv4-mapped
///   address, else to `::1` (`tcp_v6_connect`, `__ip6_datagram_connect`);
/// - IPv6 `::` by a datagram: to `::1` (`udpv6_sendmsg`).
///
/// The port is the program's. (An IPv6 socket bound to an IPv6 address that has no IPv4 form
/// cannot send IPv4 at all: the kernel fails it with ENETUNREACH, whatever is judged.)
pub fn of_unspecified(
    address: SocketAddr,
    via: Via,
    local: impl FnOnce() -> Option<SocketAddr>,
) -> SocketAddr {
    let port = address.port();
    let ipv4_source = |local: Option<SocketAddr>| {
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
                && matches!(local(), Some(SocketAddr::V6(l)) if l.ip().to_ipv4_mapped().is_some());
            let ip = if mapped_local {
                Ipv4Addr::LOCALHOST.to_ipv6_mapped()
            } else {
                Ipv6Addr::LOCALHOST
            };
            SocketAddr::new(IpAddr::V6(ip), port)
        }
        IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(ipv4_source(local()).to_ipv6_mapped()), port),
        IpAddr::V4(_) => SocketAddr::new(IpAddr::V4(ipv4_source(local())), port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of an IP socket address as the kernel writes it (an accepted peer), and how many
    /// of them there are (16 or 28).
    fn encode(address: &SocketAddr) -> ([u8; SIN6_LEN], usize) {
        let mut b = [0u8; SIN6_LEN];
        b[2..4].copy_from_slice(&address.port().to_be_bytes());
        match address {
            SocketAddr::V4(a) => {
                b[0..2].copy_from_slice(&AF_INET.to_ne_bytes());
                b[4..8].copy_from_slice(&a.ip().octets());
                (b, SIN_LEN)
            }
            SocketAddr::V6(a) => {
                b[0..2].copy_from_slice(&AF_INET6.to_ne_bytes());
                b[4..8].copy_from_slice(&a.flowinfo().to_ne_bytes());
                b[8..24].copy_from_slice(&a.ip().octets());
                b[24..28].copy_from_slice(&a.scope_id().to_ne_bytes());
                (b, SIN6_LEN)
            }
        }
    }

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn decodes_what_the_kernel_takes_and_encodes_it_back() {
        for text in ["10.1.2.3:443", "[::ffff:127.0.0.1]:80", "[fe80::1%7]:9"] {
            let a = at(text);
            let (bytes, len) = encode(&a);
            assert_eq!(decode(&bytes[..len]), Some(a), "{text}");
        }
        let (v4, _) = encode(&at("10.1.2.3:443"));
        assert_eq!(decode(&v4[..15]), None, "too short");
        let (v6, _) = encode(&at("[fe80::1%7]:9"));
        assert!(matches!(decode(&v6[..24]), Some(SocketAddr::V6(a)) if a.scope_id() == 0));
        assert_eq!(decode(&v6[..23]), None, "too short");
        let mut unspec = v4;
        unspec[0..2].copy_from_slice(&0u16.to_ne_bytes());
        assert_eq!(decode(&unspec[..16]), None);
        assert_eq!(
            decode_unspec_as_v4(&unspec[..16]).map(SocketAddr::V4),
            decode(&v4[..16])
        );
        assert_eq!(decode_unspec_as_v4(&unspec[..15]), None, "too short");
        assert_eq!(decode(&[1, 0, 0]), None, "AF_UNIX");
        assert_eq!(decode(&[]), None);
    }

    #[test]
    fn the_unspecified_address_goes_where_the_kernel_sends_it() {
        let v4 = at("0.0.0.0:9");
        let cases = [
            (None, v4, Via::Connect, "127.0.0.1:9"),
            (Some("127.0.0.2:5"), v4, Via::Send, "127.0.0.2:9"),
            (Some("127.0.0.2:5"), v4, Via::Connect, "127.0.0.2:9"),
            (
                Some("[::ffff:127.0.0.2]:5"),
                at("[::ffff:0.0.0.0]:9"),
                Via::Connect,
                "[::ffff:127.0.0.2]:9",
            ),
            (
                Some("[::]:5"),
                at("[::ffff:0.0.0.0]:9"),
                Via::Send,
                "[::ffff:127.0.0.1]:9",
            ),
            (
                Some("[::ffff:127.0.0.2]:5"),
                at("[::]:9"),
                Via::Connect,
                "[::ffff:127.0.0.1]:9",
            ),
            (
                Some("[::ffff:127.0.0.2]:5"),
                at("[::]:9"),
                Via::Send,
                "[::1]:9",
            ),
            (Some("[::]:5"), at("[::]:9"), Via::Connect, "[::1]:9"),
        ];
        for (local, address, via, expected) in cases {
            assert!(is_unspecified(address));
            assert_eq!(
                of_unspecified(address, via, || local.map(at)),
                at(expected),
                "{address} by {via:?} from {local:?}"
            );
        }
        assert!(!is_unspecified(at("127.0.0.1:9")));
        assert!(!is_unspecified(at("[::1]:9")));
    }
}
