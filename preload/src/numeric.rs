//! The quick answer for an address read as numbers, IPv4 and IPv6 alike: no `SocketAddr` is
//! built, no `catch_unwind` frame is set up, unless a rule has something to do. The hooks ask
//! [`silent`] first and judge the address in full (`sockaddr::decode`, `judge::refusal`) only
//! when it says no: a rule to act on, an address the kernel reads otherwise (unspecified,
//! IPv4-mapped), or a kind whose rules name hosts.

use crate::state::State;
use crate::{judge, sockaddr as address};
use armr_core::policy::{EventKind, Rank};
use armr_core::verdict::{self, Call, Refusal};
use libc::{AF_INET, AF_INET6, c_int, sockaddr, sockaddr_in, sockaddr_in6, socklen_t};

/// An IP address and port in host order, when the lookup can take it as numbers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Numbers {
    V4(u32, u16),
    V6(u128, u16),
}

/// The address at `addr` as numbers, or `None` for what the quick lookup leaves to the full
/// one: a null pointer, another family, a length too short for the family (the kernel refuses
/// it, and `decode` says `None` too), the unspecified address (the kernel picks the destination)
/// and IPv4-mapped IPv6 (judged as IPv4 by the full path). IPv6 takes 24 bytes and up, as
/// `sockaddr::decode` does; the scope id is not part of the lookup.
///
/// # Safety
/// `addr` is null or points to `len` readable bytes.
#[inline(always)]
pub unsafe fn numbers(addr: *const sockaddr, len: socklen_t) -> Option<Numbers> {
    if addr.is_null() || (len as usize) < std::mem::size_of::<sockaddr_in>() {
        return None;
    }
    // SAFETY: at least 16 bytes are readable; unaligned reads, as the caller's buffer may be any
    // byte array. The family is the first two bytes, the port the next two, in both families.
    let head = unsafe { (addr as *const sockaddr_in).read_unaligned() };
    let port = u16::from_be(head.sin_port);
    match c_int::from(head.sin_family) {
        AF_INET => {
            let ip = u32::from_be(head.sin_addr.s_addr);
            (ip != 0).then_some(Numbers::V4(ip, port))
        }
        AF_INET6 if len as usize >= address::SIN6_LEN_RFC2133 => {
            // SAFETY: 24 bytes are readable: the address is bytes 8..24.
            let (high, low) = unsafe {
                let at = addr.cast::<u8>().add(8).cast::<[u8; 8]>();
                (at.read_unaligned(), at.add(1).read_unaligned())
            };
            // `::` and `::ffff:a.b.c.d` are left to the full path: ten zero bytes, then the
            // mapped prefix's `ff ff` or two more zero bytes and a zero IPv4 address.
            let left =
                high == [0; 8] && (low == [0; 8] || matches!(low, [0, 0, 0xff, 0xff, _, _, _, _]));
            let ip =
                u128::from(u64::from_be_bytes(high)) << 64 | u128::from(u64::from_be_bytes(low));
            (!left).then_some(Numbers::V6(ip, port))
        }
        _ => None,
    }
}

/// The port of the IPv4 or IPv6 address at `addr`: `Some` exactly when `sockaddr::decode`
/// reads an address there (the port is at the same place in both families).
///
/// # Safety
/// As [`numbers`].
#[inline(always)]
pub unsafe fn port(addr: *const sockaddr, len: socklen_t) -> Option<u16> {
    if addr.is_null() || (len as usize) < std::mem::size_of::<sockaddr_in>() {
        return None;
    }
    // SAFETY: at least 16 bytes are readable.
    let head = unsafe { (addr as *const sockaddr_in).read_unaligned() };
    match c_int::from(head.sin_family) {
        AF_INET => Some(u16::from_be(head.sin_port)),
        AF_INET6 if len as usize >= address::SIN6_LEN_RFC2133 => Some(u16::from_be(head.sin_port)),
        _ => None,
    }
}

/// The rank for an address as numbers; an IPv4 one may be a lookup to finish
/// ([`Rank::resumes`]), which is not silent. `None`: the kind's rules name hosts, judge in full.
#[inline(always)]
pub fn rank(state: &State, kind: EventKind, numbers: Numbers) -> Option<Rank> {
    match numbers {
        Numbers::V4(ip, port) => {
            (!state.policy.has_hostnames(kind)).then(|| judge::rank_v4(state, kind, ip, port))
        }
        // Out of line (`quick_rank_v6`), so that IPv4's callers keep their size; the test for
        // hostnames is inside it, under the same dispatch as the lookup.
        Numbers::V6(ip, port) => state.policy.quick_rank_v6(kind, ip, port),
    }
}

/// True when no rule has anything to do with `kind` at the address at `addr`: no rule matches,
/// or a silent `allow()`. False means "judge it in full", not "refused".
///
/// # Safety
/// As [`numbers`].
#[inline(always)]
pub unsafe fn silent(
    state: &State,
    kind: EventKind,
    addr: *const sockaddr,
    len: socklen_t,
) -> bool {
    let Some(numbers) = (unsafe { numbers(addr, len) }) else {
        return false;
    };
    match rank(state, kind, numbers) {
        Some(rank) if verdict::is_silent(rank) => true,
        Some(rank) => finished_silent(state, kind, rank, numbers),
        None => false,
    }
}

/// A rank that is not silent may be an IPv4 lookup left to finish (nested blocks): finished
/// here, out of line, so that the common answers pay nothing for it.
#[inline(always)]
fn finished_silent(state: &State, kind: EventKind, rank: Rank, numbers: Numbers) -> bool {
    let Numbers::V4(_, port) = numbers else {
        return false;
    };
    rank.resumes().is_some() && verdict::is_silent(state.policy.finish_rank_v4(kind, rank, port))
}

/// The refusal of a `listen` on `fd` by `bind(server:)` rules, judged on its local address: one
/// `getsockname`, the quick answer first, the full judging from the same bytes (out of line).
#[inline(always)]
pub fn listen_refusal(state: &State, fd: c_int) -> Option<Refusal> {
    let mut buf = std::mem::MaybeUninit::<sockaddr_in6>::zeroed();
    let size = std::mem::size_of::<sockaddr_in6>() as socklen_t;
    let mut len = size;
    // SAFETY: buf is writable for len bytes.
    if !unsafe { address::local_name_quietly(fd, buf.as_mut_ptr().cast(), &mut len) } {
        return None;
    }
    let (name, len) = (buf.as_ptr().cast::<sockaddr>(), len.min(size));
    // SAFETY: the kernel wrote len bytes of it; the rest is zeroed.
    if unsafe { silent(state, EventKind::BindServer, name, len) } {
        return None;
    }
    unsafe { listen_in_full(state, name, len) }
}

/// # Safety
/// `name` points to `len` readable bytes.
#[inline(never)]
unsafe fn listen_in_full(state: &State, name: *const sockaddr, len: socklen_t) -> Option<Refusal> {
    let local = unsafe { address::decode(name, len) }?;
    judge::refusal(state, Call::Listen, local)
}

#[cfg(test)]
mod tests {
    use super::*;
    use libc::sockaddr_storage;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(ip: Ipv4Addr, port: u16, family: c_int) -> sockaddr_storage {
        let mut s: sockaddr_storage = unsafe { std::mem::zeroed() };
        let sin = unsafe { &mut *(&mut s as *mut sockaddr_storage).cast::<sockaddr_in>() };
        sin.sin_family = family as libc::sa_family_t;
        sin.sin_port = port.to_be();
        sin.sin_addr.s_addr = u32::from(ip).to_be();
        s
    }

    fn v6(ip: Ipv6Addr, port: u16) -> sockaddr_storage {
        let mut s: sockaddr_storage = unsafe { std::mem::zeroed() };
        let sin6 = unsafe { &mut *(&mut s as *mut sockaddr_storage).cast::<sockaddr_in6>() };
        sin6.sin6_family = AF_INET6 as libc::sa_family_t;
        sin6.sin6_port = port.to_be();
        sin6.sin6_addr.s6_addr = ip.octets();
        sin6.sin6_scope_id = 7;
        s
    }

    fn read(s: &sockaddr_storage, len: usize) -> Option<Numbers> {
        unsafe { numbers((s as *const sockaddr_storage).cast(), len as socklen_t) }
    }

    #[test]
    fn ip_addresses_read_as_the_full_decoding_reads_them() {
        let a = v4(Ipv4Addr::new(127, 0, 0, 1), 8080, AF_INET);
        assert_eq!(read(&a, 16), Some(Numbers::V4(0x7f00_0001, 8080)));
        let b = v6(Ipv6Addr::LOCALHOST, 443);
        assert_eq!(read(&b, 28), Some(Numbers::V6(1, 443)));
        // SIN6_LEN_RFC2133: no scope id, taken as the kernel takes it.
        assert_eq!(read(&b, 24), Some(Numbers::V6(1, 443)));
        let c = v6("2001:db8::5".parse().unwrap(), 1);
        assert_eq!(
            read(&c, 28),
            Some(Numbers::V6(0x2001_0db8_0000_0000_0000_0000_0000_0005, 1))
        );
    }

    #[test]
    fn the_port_is_read_exactly_where_the_full_decoding_reads_an_address() {
        let cases = [
            (v4(Ipv4Addr::LOCALHOST, 80, AF_INET), 16),
            (v4(Ipv4Addr::LOCALHOST, 80, AF_INET), 15),
            (v4(Ipv4Addr::UNSPECIFIED, 81, AF_INET), 16),
            (v4(Ipv4Addr::LOCALHOST, 82, libc::AF_UNSPEC), 16),
            (v4(Ipv4Addr::LOCALHOST, 83, libc::AF_UNIX), 110),
            (v6(Ipv6Addr::LOCALHOST, 84), 28),
            (v6(Ipv6Addr::LOCALHOST, 85), 24),
            (v6(Ipv6Addr::LOCALHOST, 86), 23),
            (v6(Ipv6Addr::UNSPECIFIED, 0), 28),
        ];
        for (s, len) in cases {
            let p = (&s as *const sockaddr_storage).cast();
            let full = unsafe { address::decode(p, len) }.map(|a| a.port());
            assert_eq!(unsafe { port(p, len) }, full, "{len} bytes");
        }
        assert_eq!(unsafe { port(std::ptr::null(), 28) }, None);
    }

    #[test]
    fn what_the_kernel_reads_otherwise_is_left_to_the_full_path() {
        // Unspecified (the kernel picks the destination), IPv4-mapped (judged as IPv4).
        assert_eq!(read(&v4(Ipv4Addr::UNSPECIFIED, 80, AF_INET), 16), None);
        assert_eq!(read(&v6(Ipv6Addr::UNSPECIFIED, 80), 28), None);
        let mapped = v6(Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped(), 80);
        assert_eq!(read(&mapped, 28), None);
        let mapped_any = v6(Ipv4Addr::UNSPECIFIED.to_ipv6_mapped(), 80);
        assert_eq!(read(&mapped_any, 28), None);
        // AF_UNSPEC (read as IPv4 by an IPv4 socket's kernel code), short lengths, null.
        assert_eq!(
            read(&v4(Ipv4Addr::LOCALHOST, 80, libc::AF_UNSPEC), 16),
            None
        );
        assert_eq!(read(&v4(Ipv4Addr::LOCALHOST, 80, AF_INET), 15), None);
        assert_eq!(read(&v6(Ipv6Addr::LOCALHOST, 80), 23), None);
        assert_eq!(read(&v4(Ipv4Addr::LOCALHOST, 80, libc::AF_UNIX), 16), None);
        assert_eq!(unsafe { numbers(std::ptr::null(), 28) }, None);
    }

    #[test]
    fn every_address_the_quick_path_takes_decodes_in_full_to_the_same_numbers() {
        for (s, len) in [
            (v4(Ipv4Addr::new(10, 1, 2, 3), 65535, AF_INET), 16),
            (v6("fe80::1".parse().unwrap(), 0), 28),
            (v6("::2".parse().unwrap(), 9), 24),
        ] {
            let p = (&s as *const sockaddr_storage).cast();
            let full = unsafe { address::decode(p, len) }.unwrap();
            let quick = match read(&s, len as usize).unwrap() {
                Numbers::V4(ip, port) => std::net::SocketAddr::from((Ipv4Addr::from(ip), port)),
                Numbers::V6(ip, port) => std::net::SocketAddr::from((Ipv6Addr::from(ip), port)),
            };
            assert_eq!(full.ip(), quick.ip());
            assert_eq!(full.port(), quick.port());
        }
    }
}
