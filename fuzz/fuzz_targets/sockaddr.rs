//! Fuzz target `sockaddr`: arbitrary bytes through the LD_PRELOAD library's sockaddr decoder
//! (`preload/src/sockaddr.rs`, compiled into this target as a module, over the core's
//! `armr::address::decode`, which the seccomp supervisor uses too). See docs/fuzzing.md.
//!
//! Input: the first two bytes are the declared length (`socklen_t`, little-endian), the rest is
//! the buffer. The length is clamped to the buffer's size, which is `decode`'s contract: `addr`
//! is null or points to at least `len` readable bytes. The `len` bytes are copied to the very end
//! of a readable page that is followed by an inaccessible (`PROT_NONE`) page, so a read past
//! `len` faults and libFuzzer reports it as a crash, even without AddressSanitizer. The start
//! of the copy is then aligned to whatever `len` makes it; `decode` must read unaligned.
//!
//! For every input:
//!
//! - nothing panics or faults, with the buffer and with a null pointer;
//! - `decode_v4` (the hooks' IPv4 fast path) returns exactly the IPv4 address and port `decode`
//!   returns, and `None` whenever `decode` returns anything else;
//! - a null pointer gives `None`;
//! - the result is `Some` exactly when the family (the first two bytes, native order) is
//!   `AF_INET` and `len >= 16`, or `AF_INET6` and `len >= 24` (`SIN6_LEN_RFC2133`, which the
//!   kernel takes: no scope id);
//! - IPv4: the port is bytes 2..4 and the address bytes 4..8, both in network order;
//! - IPv6: the port is bytes 2..4 (network order), the address bytes 8..24; the flow info
//!   (bytes 4..8) and the scope id (bytes 24..28, 0 when `len < 28`) are passed on as stored, in
//!   native order, as the standard library does when it converts a `sockaddr_in6`.

#![no_main]
#![allow(dead_code)]

// The preload library's name for the core crate, which its decoding calls.
extern crate armr as armr_core;

#[path = "../../preload/src/errno.rs"]
mod errno;
#[path = "../../preload/src/sockaddr.rs"]
mod sockaddr;

use libc::{AF_INET, AF_INET6, c_void, socklen_t};
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

/// One readable and writable page followed by a `PROT_NONE` guard page: (start, page size).
fn guarded_page() -> (usize, usize) {
    static PAGE: OnceLock<(usize, usize)> = OnceLock::new();
    *PAGE.get_or_init(|| unsafe {
        let size = libc::sysconf(libc::_SC_PAGESIZE) as usize;
        let p = libc::mmap(
            std::ptr::null_mut(),
            2 * size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED, "mmap");
        let guard = (p as *mut u8).add(size) as *mut c_void;
        assert_eq!(libc::mprotect(guard, size, libc::PROT_NONE), 0, "mprotect");
        (p as usize, size)
    })
}

fuzz_target!(|data: &[u8]| {
    let (declared, buffer) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        [a] => (u16::from(*a), &[][..]),
        [] => (0, &[][..]),
    };
    let (page, page_size) = guarded_page();
    // The page holds the whole buffer: clamp to both (libFuzzer's -max_len keeps inputs far
    // below a page anyway).
    let len = usize::from(declared).min(buffer.len()).min(page_size);
    let bytes = &buffer[..len];

    // SAFETY: null is allowed.
    assert_eq!(
        unsafe { sockaddr::decode(std::ptr::null(), len as socklen_t) },
        None
    );
    assert_eq!(
        unsafe { sockaddr::decode(std::ptr::null(), declared as socklen_t) },
        None
    );

    let start = page + page_size - len;
    // SAFETY: start..start+len is inside the writable page.
    let got = unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), start as *mut u8, len);
        sockaddr::decode(start as *const libc::sockaddr, len as socklen_t)
    };

    // The IPv4 fast path reads the same bytes and agrees with `decode` on every input.
    // SAFETY: as for `decode`, and null is allowed.
    let v4 = unsafe { sockaddr::decode_v4(start as *const libc::sockaddr, len as socklen_t) };
    let v4_of_decode = match got {
        Some(SocketAddr::V4(a)) => Some((a.ip().to_bits(), a.port())),
        _ => None,
    };
    assert_eq!(v4, v4_of_decode, "decode_v4 against decode, len {len}");
    assert_eq!(
        unsafe { sockaddr::decode_v4(std::ptr::null(), declared as socklen_t) },
        None
    );

    let family = (len >= 2).then(|| i32::from(u16::from_ne_bytes([bytes[0], bytes[1]])));
    let expect_some = match family {
        Some(AF_INET) => len >= 16,
        Some(AF_INET6) => len >= 24,
        _ => false,
    };
    assert_eq!(
        got.is_some(),
        expect_some,
        "family {family:?}, len {len}: got {got:?}"
    );
    let Some(addr) = got else { return };
    let be16 = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
    let ne32 = |i: usize| u32::from_ne_bytes(bytes[i..i + 4].try_into().unwrap());
    assert_eq!(addr.port(), be16(2), "port");
    match (family, addr) {
        (Some(AF_INET), SocketAddr::V4(a)) => {
            let ip: [u8; 4] = bytes[4..8].try_into().unwrap();
            assert_eq!(*a.ip(), Ipv4Addr::from(ip), "IPv4 address");
            assert_eq!(addr.ip(), IpAddr::V4(Ipv4Addr::from(ip)));
        }
        (Some(AF_INET6), SocketAddr::V6(a)) => {
            let ip: [u8; 16] = bytes[8..24].try_into().unwrap();
            assert_eq!(*a.ip(), Ipv6Addr::from(ip), "IPv6 address");
            assert_eq!(a.flowinfo(), ne32(4), "flow info");
            let scope = if len >= 28 { ne32(24) } else { 0 };
            assert_eq!(a.scope_id(), scope, "scope id");
        }
        (family, addr) => panic!("family {family:?} decoded as {addr:?}"),
    }
});
