//! `rcmd`, `rcmd_af`, `rexec` and `rexec_af`: libc makes their sockets, binds, connects, listens
//! and accepts through its internal calls, which no hook sees. armr judges beforehand every call
//! they would make, and refuses the whole call (-1, ECONNREFUSED) when any of them would be
//! refused:
//!
//! - `connect` rules, for each address they would try: every address the host resolves to
//!   (`getaddrinfo` with the given family, as they do) for `rcmd`, the first for `rexec`;
//! - `bind(client:)` rules (`rcmd` only: it binds its socket to a reserved port of the any
//!   address), for every port from 512 to 1023;
//! - when `fd2p` is not null, the second channel that the remote host connects back to:
//!   `bind(server:)` rules on the any address of the family, for every port it may listen on
//!   (512 to 1023 for `rcmd`, the kernel's ephemeral range for `rexec`), and `accept` rules for
//!   each address tried, for every port the peer may come from (512 to 1023 for `rcmd`, which
//!   refuses others; any port for `rexec`).
//!
//! A range of ports is one judgment: the first port a protect rule refuses is logged, or, when
//! none is refused, the first port whose rule logs. The call itself is then libc's, unchanged.

use crate::judge::{self, active};
use crate::resolver::{self, Lookup};
use crate::state::{kind_bit, may_judge};
use crate::{errno, sockaddr};
use armr_core::policy::EventKind;
use armr_core::verdict::{Call, Verdict};
use libc::{c_char, c_int};
use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;

/// Which of the two.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Remote {
    Rcmd,
    Rexec,
}

const RESERVED: RangeInclusive<u16> = 512..=1023;

/// True when the call is refused (errno is ECONNREFUSED, the deciding event logged).
/// `port` is in network byte order, as the functions take it.
///
/// # Safety
/// `host` is null or a valid pointer to a null or NUL-terminated string.
pub unsafe fn refused_call(
    which: Remote,
    host: *mut *mut c_char,
    port: u16,
    fd2p: *mut c_int,
    family: c_int,
) -> bool {
    if !may_judge(
        kind_bit(EventKind::Connect)
            | kind_bit(EventKind::BindClient)
            | kind_bit(EventKind::BindServer)
            | kind_bit(EventKind::Accept),
    ) || host.is_null()
    {
        return false;
    }
    let Some(state) = active() else {
        return false;
    };
    // SAFETY: the caller's contract.
    let name = unsafe { *host };
    if name.is_null() {
        return false;
    }
    let saved = errno::get();
    let name = unsafe { CStr::from_ptr(name) };
    let port = u16::from_be(port);
    let mut addresses = {
        // armr's own lookup: the resolver's sockets are not the program's.
        let Some(_guard) = crate::guard::Guard::enter() else {
            return false;
        };
        resolve(name, port, family)
    };
    errno::set(saved);
    if which == Remote::Rexec {
        addresses.truncate(1);
    }
    let (peer_ports, listen_ports) = match which {
        Remote::Rcmd => (RESERVED, RESERVED),
        Remote::Rexec => (1..=u16::MAX, ephemeral_ports()),
    };
    let any = |address: &SocketAddr| match address {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let mut refuse = addresses
        .iter()
        .any(|&address| judge::refusal(state, Call::Remote(EventKind::Connect), address).is_some());
    if !refuse && which == Remote::Rcmd {
        refuse = addresses
            .iter()
            .any(|address| refused_in_range(state, EventKind::BindClient, any(address), RESERVED));
    }
    if !refuse && !fd2p.is_null() {
        refuse = addresses.iter().any(|address| {
            refused_in_range(
                state,
                EventKind::BindServer,
                any(address),
                listen_ports.clone(),
            ) || refused_in_range(state, EventKind::Accept, address.ip(), peer_ports.clone())
        });
    }
    errno::set(if refuse {
        errno::of(Call::Remote(EventKind::Connect).refusal())
    } else {
        saved
    });
    refuse
}

/// The addresses `name` resolves to for a TCP connection to `port` of `family`, as `rcmd_af`
/// and `rexec_af` ask (`AI_CANONNAME`); none when it does not resolve (the call then fails by
/// itself).
fn resolve(name: &CStr, port: u16, family: c_int) -> Vec<SocketAddr> {
    let service = format!("{port}\0");
    // SAFETY: an all-zero addrinfo is a valid hints value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = family;
    hints.ai_socktype = libc::SOCK_STREAM;
    hints.ai_flags = libc::AI_CANONNAME;
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: name and service are NUL-terminated; list receives the result.
    if unsafe { libc::getaddrinfo(name.as_ptr(), service.as_ptr().cast(), &hints, &mut list) } != 0
    {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: an entry of getaddrinfo's list, freed below.
        let ai = unsafe { &*entry };
        if let Some(address) = unsafe { sockaddr::decode(ai.ai_addr, ai.ai_addrlen) } {
            out.push(address);
        }
        entry = ai.ai_next;
    }
    // SAFETY: the list getaddrinfo returned.
    unsafe { libc::freeaddrinfo(list) };
    out
}

/// The ports the kernel picks a listening socket's port from (`ip_local_port_range`).
fn ephemeral_ports() -> RangeInclusive<u16> {
    let text =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut ports = text
        .split_whitespace()
        .filter_map(|p| p.parse::<u16>().ok());
    match (ports.next(), ports.next()) {
        (Some(low), Some(high)) if low <= high => low..=high,
        _ => 32768..=60999,
    }
}

/// True when a protect rule refuses an event of `kind` at `ip` on some port of `ports`. One
/// event is logged: the first refused, else the first whose rule logs.
fn refused_in_range(
    state: &crate::state::State,
    kind: EventKind,
    ip: IpAddr,
    ports: RangeInclusive<u16>,
) -> bool {
    if !state.policy.has_rules(kind) {
        return false;
    }
    let mut first_logged: Option<Verdict> = None;
    for port in ports {
        let verdict = judge::verdict(state, Call::Remote(kind), SocketAddr::new(ip, port));
        if verdict.refusal().is_some() {
            return judge::carry_out(state, &verdict).is_some();
        }
        if verdict.event.is_some() && first_logged.is_none() {
            first_logged = Some(verdict);
        }
    }
    if let Some(verdict) = first_logged {
        judge::carry_out(state, &verdict);
    }
    false
}

/// [`refused_call`], where a failure of armr's (a panic) refuses nothing: the call goes on.
unsafe fn judged(
    which: Remote,
    host: *mut *mut c_char,
    port: u16,
    fd2p: *mut c_int,
    family: c_int,
) -> bool {
    let saved = errno::get();
    std::panic::catch_unwind(|| unsafe { refused_call(which, host, port, fd2p, family) })
        .unwrap_or_else(|_| {
            errno::set(saved);
            false
        })
}

/// `rcmd_af` and `rcmd` (family AF_INET), `rexec_af` and `rexec`: judged, then libc's.
///
/// # Safety
/// libc's contract for `rcmd_af`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn rcmd(
    host: *mut *mut c_char,
    port: u16,
    local_user: *const c_char,
    remote_user: *const c_char,
    command: *const c_char,
    fd2p: *mut c_int,
    family: Option<libc::sa_family_t>,
) -> c_int {
    let judged_family = family.map_or(libc::AF_INET, c_int::from);
    // Both lookups of the host, armr's and libc's internal one, reach only the name servers the
    // rules allow.
    unsafe {
        resolver::lookup(std::ptr::null_mut(), Lookup::Names, || {
            if judged(Remote::Rcmd, host, port, fd2p, judged_family) {
                return -1;
            }
            match family {
                None => crate::real::rcmd(host, port, local_user, remote_user, command, fd2p),
                Some(family) => {
                    crate::real::rcmd_af(host, port, local_user, remote_user, command, fd2p, family)
                }
            }
        })
    }
}

/// `rexec_af` and `rexec` (family AF_INET).
///
/// # Safety
/// libc's contract for `rexec_af`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn rexec(
    host: *mut *mut c_char,
    port: c_int,
    user: *const c_char,
    password: *const c_char,
    command: *const c_char,
    fd2p: *mut c_int,
    family: Option<libc::sa_family_t>,
) -> c_int {
    let judged_family = family.map_or(libc::AF_INET, c_int::from);
    // As in `rcmd`: both lookups of the host reach only the name servers the rules allow.
    unsafe {
        resolver::lookup(std::ptr::null_mut(), Lookup::Names, || {
            if judged(Remote::Rexec, host, port as u16, fd2p, judged_family) {
                return -1;
            }
            match family {
                None => crate::real::rexec(host, port, user, password, command, fd2p),
                Some(family) => {
                    crate::real::rexec_af(host, port, user, password, command, fd2p, family)
                }
            }
        })
    }
}
