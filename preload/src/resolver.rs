//! Name lookups judged as the connects they are.
//!
//! glibc's resolver (getaddrinfo, gethostbyname*, gethostbyaddr*, getnameinfo, res_*) sends its
//! queries with libc's internal socket calls, which no hook sees. So each lookup is judged here,
//! before it starts, as a `connect` to each name server it may ask: the servers in the resolver
//! state the call uses (this thread's `_res`, or the caller's for res_n*). When the rules refuse
//! some, the call runs with those servers removed from that state, and the state is put back
//! exactly as it was when the call returns. With none left, glibc fails as when no server can be
//! reached (getaddrinfo `EAI_AGAIN`, gethostbyname `TRY_AGAIN`, res_query -1 with `TRY_AGAIN`;
//! res_send's `ESRCH` is reported as the `ECONNREFUSED` of an unreachable server); answers from
//! /etc/hosts and numeric addresses need no server and keep working.
//!
//! glibc (2.26 and later, resolv/resolv_context.c) keeps an application's changes to `_res`
//! when they no longer match the loaded configuration, and reads the servers from
//! `nsaddr_list` (IPv4) and `_u._ext.nsaddrs` (IPv6) in res_send. `RES_NORELOAD` is set for the
//! duration of the call, so that glibc never reloads resolv.conf into the state armr changed:
//! the servers used are the servers judged.
//!
//! An event is logged, as for a connect to SERVER:53, only when the lookup reached the name
//! servers (a name from /etc/hosts logs nothing): the res_* calls always do; for the others armr
//! watches a field only res_send or res_search write (see [`Filtered`]).

use crate::state::{State, kind_bit, may_judge};
use crate::{errno, judge, real, sockaddr};
use armr_core::policy::EventKind;
use armr_core::verdict::{Call, Verdict};
use libc::{c_char, c_int, c_uchar, c_ulong, c_ushort, c_void, sockaddr_in, sockaddr_in6};
use std::net::SocketAddr;

/// Name servers in a resolver state (glibc's MAXNS).
const MAXNS: usize = 3;
const RES_INIT: c_ulong = 0x1;
const RES_NORELOAD: c_ulong = 0x0200_0000;
/// Written into `res_h_errno` while no server is left: glibc's search and query paths overwrite
/// it (HOST_NOT_FOUND at the start of a search, TRY_AGAIN when res_send fails), so a value still
/// there afterwards says the lookup never reached the name servers.
const UNTOUCHED: c_int = 0x4152_4d52;

/// glibc's `struct __res_state` (resolv/bits/types/res_state.h, 64-bit).
#[repr(C)]
pub struct ResState {
    retrans: c_int,
    retry: c_int,
    options: c_ulong,
    nscount: c_int,
    nsaddr_list: [sockaddr_in; MAXNS],
    id: c_ushort,
    dnsrch: [*mut c_char; 7],
    defdname: [c_char; 256],
    pfcode: c_ulong,
    bits: u32,
    sort_list: [[u32; 2]; 10],
    qhook: *mut c_void,
    rhook: *mut c_void,
    res_h_errno: c_int,
    vcsock: c_int,
    flags: u32,
    ext: Ext,
}

/// `_u._ext`: res_send's copy of the server list, its sockets, and the IPv6 servers.
#[repr(C)]
struct Ext {
    nscount: u16,
    nsmap: [u16; MAXNS],
    nssocks: [c_int; MAXNS],
    nscount6: u16,
    nsinit: u16,
    nsaddrs: [*mut sockaddr_in6; MAXNS],
    reserved: [u32; 2],
}

// The layout glibc 2.36 has on x86_64 and aarch64 (checked against <resolv.h> with offsetof).
const _: () = {
    assert!(std::mem::size_of::<ResState>() == 568);
    assert!(std::mem::offset_of!(ResState, nscount) == 16);
    assert!(std::mem::offset_of!(ResState, nsaddr_list) == 20);
    assert!(std::mem::offset_of!(ResState, res_h_errno) == 496);
    assert!(std::mem::offset_of!(ResState, ext) == 512);
    assert!(std::mem::offset_of!(ResState, ext) + std::mem::offset_of!(Ext, nssocks) == 520);
    assert!(std::mem::offset_of!(ResState, ext) + std::mem::offset_of!(Ext, nsaddrs) == 536);
};

unsafe extern "C" {
    /// This thread's `_res`.
    fn __res_state() -> *mut ResState;
    fn __h_errno_location() -> *mut c_int;
}

fn h_errno() -> c_int {
    // SAFETY: returns this thread's h_errno.
    unsafe { *__h_errno_location() }
}

fn set_h_errno(value: c_int) {
    // SAFETY: as above.
    unsafe { *__h_errno_location() = value }
}

/// What a call does with the name servers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Through the name service (nsswitch): files may answer before DNS is asked.
    Names,
    /// A DNS query or send (res_*): it always asks the name servers.
    Dns,
}

/// The state a call uses: this thread's `_res` (null) or the caller's (res_n*).
pub type Statp = *mut ResState;

/// Runs `call`, a lookup on `statp` (null: this thread's `_res`), judged as a connect to each
/// of its name servers. The common case, no `connect` rule, goes straight to `call`.
///
/// # Safety
/// `statp` is null or the caller's valid resolver state, as the res_n* contract requires.
#[inline(always)]
pub unsafe fn lookup<R>(statp: Statp, kind: Lookup, call: impl FnOnce() -> R) -> R {
    if !may_judge(kind_bit(EventKind::Connect)) {
        return call();
    }
    unsafe { lookup_judged(statp, kind, call) }
}

#[inline(never)]
unsafe fn lookup_judged<R>(statp: Statp, kind: Lookup, call: impl FnOnce() -> R) -> R {
    let Some(state) = judge::active() else {
        return call();
    };
    if !state.policy.has_rules(EventKind::Connect) {
        return call();
    }
    // SAFETY: the caller's guarantee.
    let (statp, verdicts) = unsafe { servers_of(state, statp) };
    let Some(verdicts) = verdicts else {
        return call();
    };
    if verdicts.iter().all(|v| *v == Verdict::FORWARD) {
        return call();
    }
    // SAFETY: as above; put back before returning.
    let filtered = unsafe { Filtered::apply(statp, &verdicts) };
    let result = call();
    let (mut after_errno, after_h_errno) = (errno::get(), h_errno());
    // With no server left, res_send fails with ESRCH ("no name servers"); a server that cannot
    // be reached makes it fail with ECONNREFUSED, and a refused connect is what this is.
    if filtered.kept == 0 && after_errno == libc::ESRCH {
        after_errno = libc::ECONNREFUSED;
    }
    // SAFETY: the same state, after the call.
    let reached = unsafe { filtered.restore(statp) };
    if reached || kind == Lookup::Dns {
        for event in verdicts.iter().filter_map(|v| v.event.as_ref()) {
            judge::log_event(state, event);
        }
    }
    errno::set(after_errno);
    set_h_errno(after_h_errno);
    result
}

/// The verdict on a connect to each name server, in the state's order (forward for a server
/// whose address cannot be read, and past the state's count).
type Verdicts = [Verdict; MAXNS];

/// The name servers of `statp` (null: this thread's `_res`, brought up to date as a lookup
/// would) with their decisions ([`judge_servers`]), and the state they were read from. errno
/// and h_errno are left as they were.
///
/// # Safety
/// `statp` is null or a valid resolver state.
unsafe fn servers_of(state: &State, statp: Statp) -> (Statp, Option<Verdicts>) {
    let (saved_errno, saved_h_errno) = (errno::get(), h_errno());
    // The rules' hostnames are resolved (once per process, by armr, unjudged) before the servers
    // are read: that resolution uses this thread's resolver state too, and may reload it.
    if state.policy.has_hostnames(EventKind::Connect) {
        let _ = judge::verdict(
            state,
            Call::NameServer,
            SocketAddr::from(([127, 0, 0, 1], 53)),
        );
    }
    let thread = statp.is_null();
    let statp = if thread {
        refresh();
        // SAFETY: no preconditions; this thread's state.
        unsafe { __res_state() }
    } else {
        statp
    };
    // SAFETY: statp is this thread's state or the caller's valid one.
    let verdicts = unsafe { judge_servers(state, statp, thread) };
    errno::set(saved_errno);
    set_h_errno(saved_h_errno);
    (statp, verdicts)
}

/// Brings this thread's `_res` up to date the way the lookup itself would: initialised from
/// resolv.conf if it is not yet, reloaded if resolv.conf changed. res_mkquery takes the same
/// resolver context as every lookup and builds a packet; it sends nothing.
fn refresh() {
    let mut packet = [0u8; 512];
    // SAFETY: a valid name and a writable buffer of its length.
    unsafe {
        real::res_mkquery(
            0,
            c".".as_ptr(),
            1,
            1,
            std::ptr::null(),
            0,
            std::ptr::null(),
            packet.as_mut_ptr(),
            packet.len() as c_int,
        )
    };
}

/// Each name server of `statp` (in its order) with the decision on a connect to it; `None` when
/// this thread's state is not initialised even after [`refresh`] (resolv.conf cannot be loaded:
/// the lookup fails to initialise it too), or a state counts more servers than glibc has room
/// for: the call is then forwarded. A caller's state (res_n*) is used as it is, initialised or
/// not, and judged as it is.
///
/// # Safety
/// `statp` is null or a valid resolver state.
unsafe fn judge_servers(state: &State, statp: Statp, thread: bool) -> Option<Verdicts> {
    // SAFETY: the caller's guarantee.
    let st = unsafe { statp.as_ref() }?;
    if (thread && st.options & RES_INIT == 0) || !(0..=MAXNS as c_int).contains(&st.nscount) {
        return None;
    }
    let mut verdicts = [Verdict::FORWARD; MAXNS];
    for (i, verdict) in verdicts.iter_mut().enumerate().take(st.nscount as usize) {
        // SAFETY: the server's address as res_send reads it (__res_get_nsaddr).
        let address = unsafe { server(st, i) };
        if let Some(address) = address {
            *verdict = judge::verdict(state, Call::NameServer, address);
        }
    }
    Some(verdicts)
}

/// Server `i`'s address, as glibc's `__res_get_nsaddr` finds it: an IPv6 server in the extension
/// (`nsaddr_list[i].sin_family` 0), any other in `nsaddr_list`.
///
/// # Safety
/// `i` < `st.nscount`; the extension pointers are glibc's.
unsafe fn server(st: &ResState, i: usize) -> Option<SocketAddr> {
    let v4 = &st.nsaddr_list[i];
    let ext = st.ext.nsaddrs[i];
    if v4.sin_family == 0 && !ext.is_null() {
        // SAFETY: glibc's allocation of a sockaddr_in6.
        unsafe {
            sockaddr::decode(
                ext.cast(),
                std::mem::size_of::<sockaddr_in6>() as libc::socklen_t,
            )
        }
    } else {
        // SAFETY: a sockaddr_in inside the state.
        unsafe {
            sockaddr::decode(
                (v4 as *const sockaddr_in).cast(),
                std::mem::size_of::<sockaddr_in>() as libc::socklen_t,
            )
        }
    }
}

/// What armr changed in a resolver state for one call, to put it back after.
///
/// The servers the rules refuse are moved behind the ones they allow, and `nscount` counts only
/// the allowed ones. Each server keeps its own entries (`nsaddr_list`, and res_send's
/// `nsaddrs`/`nssocks`, which it allocates and opens per server): the order is a permutation,
/// undone after the call, so no allocation or socket is lost or shared.
///
/// Whether the call reached the name servers: with none left, [`UNTOUCHED`] in `res_h_errno`;
/// with some, res_send's `_u._ext.nscount` set to 0 before the call (res_send then rebuilds its
/// copy of the list and sets it again; 0 is the state right after res_init, and nothing else
/// reads it). When res_send keeps sockets open (RES_STAYOPEN), rebuilding would forget them: the
/// count is kept and the call is taken as having reached the servers.
struct Filtered {
    nscount: c_int,
    options: c_ulong,
    res_h_errno: c_int,
    ext_nscount: u16,
    /// The original index of the entry now at each place.
    order: [usize; MAXNS],
    /// How many servers are left.
    kept: usize,
    /// res_send's count was set to 0, to see whether it runs.
    watching: bool,
}

impl Filtered {
    /// # Safety
    /// `statp` is a valid resolver state whose `nscount` the verdicts were taken from.
    unsafe fn apply(statp: Statp, verdicts: &Verdicts) -> Filtered {
        // SAFETY: the caller's guarantee; armr's own changes, undone by `restore`.
        let st = unsafe { &mut *statp };
        let n = st.nscount as usize;
        let refused = |i: usize| verdicts[i].refusal().is_some();
        let mut order = [0, 1, 2];
        let mut at = 0;
        for i in (0..n).filter(|&i| !refused(i)) {
            order[at] = i;
            at += 1;
        }
        let kept = at;
        for i in (0..n).filter(|&i| refused(i)) {
            order[at] = i;
            at += 1;
        }
        let saved = Filtered {
            nscount: st.nscount,
            options: st.options,
            res_h_errno: st.res_h_errno,
            ext_nscount: st.ext.nscount,
            order,
            kept,
            watching: false,
        };
        let (list, addrs, socks) = (st.nsaddr_list, st.ext.nsaddrs, st.ext.nssocks);
        for (to, &from) in order.iter().enumerate().take(n) {
            st.nsaddr_list[to] = list[from];
            st.ext.nsaddrs[to] = addrs[from];
            st.ext.nssocks[to] = socks[from];
        }
        st.nscount = kept as c_int;
        st.options |= RES_NORELOAD;
        let watching = if kept == 0 {
            st.res_h_errno = UNTOUCHED;
            false
        } else if st.ext.nscount == 0 || st.ext.nssocks[..kept].iter().all(|&s| s == -1) {
            st.ext.nscount = 0;
            true
        } else {
            // Sockets kept open: res_send's copy stays valid for the allowed servers, in order.
            st.ext.nscount = if st.ext.nscount as usize == n {
                kept as u16
            } else {
                0
            };
            false
        };
        Filtered { watching, ..saved }
    }

    /// Puts the state back; says whether the call reached the name servers.
    ///
    /// # Safety
    /// The state `apply` changed.
    unsafe fn restore(self, statp: Statp) -> bool {
        // SAFETY: the caller's guarantee.
        let st = unsafe { &mut *statp };
        let n = self.nscount as usize;
        let reached = if self.kept == 0 {
            st.res_h_errno != UNTOUCHED
        } else {
            !self.watching || st.ext.nscount != 0
        };
        if self.kept == 0 && !reached {
            st.res_h_errno = self.res_h_errno;
        }
        // Re-initialised during the call (res_init from inside it): the state is glibc's new one
        // (its options are resolv.conf's, without the RES_NORELOAD armr set), and the entries
        // armr moved were freed with the old.
        let reinitialised = st.nscount as usize != self.kept
            || (self.options & RES_NORELOAD == 0 && st.options & RES_NORELOAD == 0);
        if reinitialised {
            return reached;
        }
        let rebuilt = self.kept > 0 && self.ext_nscount == 0 && st.ext.nscount != 0;
        let (list, addrs, socks) = (st.nsaddr_list, st.ext.nsaddrs, st.ext.nssocks);
        for (from, &to) in self.order.iter().enumerate().take(n) {
            st.nsaddr_list[to] = list[from];
            st.ext.nsaddrs[to] = addrs[from];
            st.ext.nssocks[to] = socks[from];
            // res_send built its copy of the list for the allowed servers only: the next
            // call rebuilds it for all, and forgets the sockets it kept open (RES_STAYOPEN).
            if rebuilt && from < self.kept && socks[from] >= 0 {
                // SAFETY: the socket res_send opened for this server in this call.
                unsafe { real::close(socks[from]) };
                st.ext.nssocks[to] = -1;
            }
        }
        st.nscount = self.nscount;
        st.ext.nscount = self.ext_nscount;
        st.options = (st.options & !RES_NORELOAD) | (self.options & RES_NORELOAD);
        reached
    }
}

// --- the calls: each runs the real function as a lookup.

type HostEnt = c_void;

/// True for a host that getaddrinfo and gethostbyname* read as an address, asking no one:
/// glibc parses dotted quads and IPv6 text before any lookup. Rust's parsers accept less than
/// glibc's (no `127.1`, no scope): what they reject is judged.
///
/// # Safety
/// `node` is null or a C string.
unsafe fn numeric(node: *const c_char) -> bool {
    if node.is_null() {
        return false;
    }
    // SAFETY: the caller's guarantee.
    let Ok(text) = unsafe { std::ffi::CStr::from_ptr(node) }.to_str() else {
        return false;
    };
    text.parse::<std::net::Ipv4Addr>().is_ok() || text.parse::<std::net::Ipv6Addr>().is_ok()
}

/// `getaddrinfo`: no host (a service only), `AI_NUMERICHOST` and an address need no name server
/// and are not judged.
///
/// # Safety
/// libc's contract for the function.
pub unsafe fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const libc::addrinfo,
    res: *mut *mut libc::addrinfo,
) -> c_int {
    let real = || unsafe { real::getaddrinfo(node, service, hints, res) };
    if !may_judge(kind_bit(EventKind::Connect))
        || node.is_null()
        // SAFETY: hints is null or the caller's addrinfo.
        || unsafe { hints.as_ref() }.is_some_and(|h| h.ai_flags & libc::AI_NUMERICHOST != 0)
        || unsafe { numeric(node) }
    {
        return real();
    }
    unsafe { lookup(std::ptr::null_mut(), Lookup::Names, real) }
}

/// glibc's `struct gaicb` (`<netdb.h>`), one `getaddrinfo_a` request.
#[repr(C)]
pub struct Gaicb {
    ar_name: *const c_char,
    ar_service: *const c_char,
    ar_request: *const libc::addrinfo,
    ar_result: *mut libc::addrinfo,
    ret: c_int,
    reserved: [c_int; 5],
}

const GAI_WAIT: c_int = 0;
const GAI_NOWAIT: c_int = 1;

/// `getaddrinfo_a`: glibc runs the requests on a thread of its own, through its internal
/// `getaddrinfo`, past every hook and with a resolver state of that thread's. When the rules
/// judge a name server of this thread's resolver configuration, the requests are run here instead,
/// one after the other through the hooked `getaddrinfo`, and glibc is then given an empty list with
/// the caller's mode and notification, which it delivers as for requests that are done (a signal,
/// a thread): `gai_error`, `gai_suspend` and `gai_cancel` see completed requests. The caller waits
/// for the lookups even with `GAI_NOWAIT`; refused ones fail at once.
///
/// # Safety
/// libc's contract for the function.
pub unsafe fn getaddrinfo_a(
    mode: c_int,
    list: *mut *mut Gaicb,
    ent: c_int,
    sig: *mut libc::sigevent,
) -> c_int {
    let real = |ent| unsafe { real::getaddrinfo_a(mode, list, ent, sig) };
    if !may_judge(kind_bit(EventKind::Connect))
        || list.is_null()
        || ent <= 0
        || (mode != GAI_WAIT && mode != GAI_NOWAIT)
        || !servers_judged()
    {
        return real(ent);
    }
    for i in 0..ent as usize {
        // SAFETY: the caller's list of `ent` requests, each null or valid.
        let Some(request) = (unsafe { (*list.add(i)).as_mut() }) else {
            continue;
        };
        request.ret = unsafe {
            getaddrinfo(
                request.ar_name,
                request.ar_service,
                request.ar_request,
                &mut request.ar_result,
            )
        };
    }
    real(0)
}

/// True when a rule refuses or logs a connect to a name server of this thread's resolver
/// configuration. errno and h_errno are left as they were.
fn servers_judged() -> bool {
    let Some(state) = judge::active() else {
        return false;
    };
    if !state.policy.has_rules(EventKind::Connect) {
        return false;
    }
    // SAFETY: null is this thread's state.
    let (_, verdicts) = unsafe { servers_of(state, std::ptr::null_mut()) };
    // Not initialised: judged as for a lookup, which cannot tell either; glibc's thread would
    // initialise its own state from the same resolv.conf.
    verdicts.is_none_or(|v| v.iter().any(|v| *v != Verdict::FORWARD))
}

/// `getnameinfo`: with `NI_NUMERICHOST` it looks up no host name.
///
/// # Safety
/// libc's contract for the function.
pub unsafe fn getnameinfo(
    sa: *const libc::sockaddr,
    salen: libc::socklen_t,
    host: *mut c_char,
    hostlen: libc::socklen_t,
    serv: *mut c_char,
    servlen: libc::socklen_t,
    flags: c_int,
) -> c_int {
    let real = || unsafe { real::getnameinfo(sa, salen, host, hostlen, serv, servlen, flags) };
    if host.is_null() || hostlen == 0 || flags & libc::NI_NUMERICHOST != 0 {
        return real();
    }
    unsafe { lookup(std::ptr::null_mut(), Lookup::Names, real) }
}

/// # Safety
/// libc's contract for the function.
pub unsafe fn gethostbyname(name: *const c_char) -> *mut HostEnt {
    unsafe {
        lookup(std::ptr::null_mut(), Lookup::Names, || {
            real::gethostbyname(name)
        })
    }
}

/// # Safety
/// libc's contract for the function.
pub unsafe fn gethostbyname2(name: *const c_char, af: c_int) -> *mut HostEnt {
    let real = || unsafe { real::gethostbyname2(name, af) };
    if unsafe { numeric(name) } {
        return real();
    }
    unsafe { lookup(std::ptr::null_mut(), Lookup::Names, real) }
}

/// # Safety
/// libc's contract for the function.
pub unsafe fn gethostbyname_r(
    name: *const c_char,
    ret: *mut HostEnt,
    buf: *mut c_char,
    buflen: libc::size_t,
    result: *mut *mut HostEnt,
    h_errnop: *mut c_int,
) -> c_int {
    let real = || unsafe { real::gethostbyname_r(name, ret, buf, buflen, result, h_errnop) };
    if unsafe { numeric(name) } {
        return real();
    }
    unsafe { lookup(std::ptr::null_mut(), Lookup::Names, real) }
}

/// # Safety
/// libc's contract for the function.
pub unsafe fn gethostbyname2_r(
    name: *const c_char,
    af: c_int,
    ret: *mut HostEnt,
    buf: *mut c_char,
    buflen: libc::size_t,
    result: *mut *mut HostEnt,
    h_errnop: *mut c_int,
) -> c_int {
    let real = || unsafe { real::gethostbyname2_r(name, af, ret, buf, buflen, result, h_errnop) };
    if unsafe { numeric(name) } {
        return real();
    }
    unsafe { lookup(std::ptr::null_mut(), Lookup::Names, real) }
}

/// # Safety
/// libc's contract for the function.
pub unsafe fn gethostbyaddr(
    addr: *const c_void,
    len: libc::socklen_t,
    kind: c_int,
) -> *mut HostEnt {
    unsafe {
        lookup(std::ptr::null_mut(), Lookup::Names, || {
            real::gethostbyaddr(addr, len, kind)
        })
    }
}

/// # Safety
/// libc's contract for the function.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gethostbyaddr_r(
    addr: *const c_void,
    len: libc::socklen_t,
    kind: c_int,
    ret: *mut HostEnt,
    buf: *mut c_char,
    buflen: libc::size_t,
    result: *mut *mut HostEnt,
    h_errnop: *mut c_int,
) -> c_int {
    unsafe {
        lookup(std::ptr::null_mut(), Lookup::Names, || {
            real::gethostbyaddr_r(addr, len, kind, ret, buf, buflen, result, h_errnop)
        })
    }
}

/// `getnetbyname` (nsswitch `networks: dns` asks the name servers).
///
/// # Safety
/// libc's contract for the function.
pub unsafe fn getnetbyname(name: *const c_char) -> *mut c_void {
    unsafe {
        lookup(std::ptr::null_mut(), Lookup::Names, || {
            real::getnetbyname(name)
        })
    }
}

/// # Safety
/// libc's contract for the function.
pub unsafe fn getnetbyaddr(net: u32, kind: c_int) -> *mut c_void {
    unsafe {
        lookup(std::ptr::null_mut(), Lookup::Names, || {
            real::getnetbyaddr(net, kind)
        })
    }
}

/// # Safety
/// libc's contract for the function.
pub unsafe fn getnetbyname_r(
    name: *const c_char,
    ret: *mut c_void,
    buf: *mut c_char,
    buflen: libc::size_t,
    result: *mut *mut c_void,
    h_errnop: *mut c_int,
) -> c_int {
    unsafe {
        lookup(std::ptr::null_mut(), Lookup::Names, || {
            real::getnetbyname_r(name, ret, buf, buflen, result, h_errnop)
        })
    }
}

/// # Safety
/// libc's contract for the function.
pub unsafe fn getnetbyaddr_r(
    net: u32,
    kind: c_int,
    ret: *mut c_void,
    buf: *mut c_char,
    buflen: libc::size_t,
    result: *mut *mut c_void,
    h_errnop: *mut c_int,
) -> c_int {
    unsafe {
        lookup(std::ptr::null_mut(), Lookup::Names, || {
            real::getnetbyaddr_r(net, kind, ret, buf, buflen, result, h_errnop)
        })
    }
}

/// res_query, res_search (`search`) and their res_n* forms (`statp` not null).
///
/// # Safety
/// libc's contract for the function.
pub unsafe fn res_query(
    statp: Statp,
    search: bool,
    name: *const c_char,
    class: c_int,
    kind: c_int,
    answer: *mut c_uchar,
    anslen: c_int,
) -> c_int {
    unsafe {
        lookup(statp, Lookup::Dns, || match (statp.is_null(), search) {
            (true, false) => real::res_query(name, class, kind, answer, anslen),
            (true, true) => real::res_search(name, class, kind, answer, anslen),
            (false, false) => real::res_nquery(statp.cast(), name, class, kind, answer, anslen),
            (false, true) => real::res_nsearch(statp.cast(), name, class, kind, answer, anslen),
        })
    }
}

/// res_querydomain and res_nquerydomain (`statp` not null).
///
/// # Safety
/// libc's contract for the function.
#[allow(clippy::too_many_arguments)]
pub unsafe fn res_querydomain(
    statp: Statp,
    name: *const c_char,
    domain: *const c_char,
    class: c_int,
    kind: c_int,
    answer: *mut c_uchar,
    anslen: c_int,
) -> c_int {
    unsafe {
        lookup(statp, Lookup::Dns, || {
            if statp.is_null() {
                real::res_querydomain(name, domain, class, kind, answer, anslen)
            } else {
                real::res_nquerydomain(statp.cast(), name, domain, class, kind, answer, anslen)
            }
        })
    }
}

/// res_send and res_nsend (`statp` not null).
///
/// # Safety
/// libc's contract for the function.
pub unsafe fn res_send(
    statp: Statp,
    msg: *const c_uchar,
    msglen: c_int,
    answer: *mut c_uchar,
    anslen: c_int,
) -> c_int {
    unsafe {
        lookup(statp, Lookup::Dns, || {
            if statp.is_null() {
                real::res_send(msg, msglen, answer, anslen)
            } else {
                real::res_nsend(statp.cast(), msg, msglen, answer, anslen)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use armr_core::language::Action;
    use armr_core::policy::Decision;

    /// A state with three IPv4 servers, .1 .2 .3, as res_init leaves it; res_send's copy built.
    fn three_servers() -> Box<ResState> {
        // SAFETY: all-zero is a valid ResState (integers and null pointers).
        let mut st: Box<ResState> = Box::new(unsafe { std::mem::zeroed() });
        st.options = RES_INIT;
        st.nscount = 3;
        for i in 0..3 {
            st.nsaddr_list[i].sin_family = libc::AF_INET as u16;
            st.nsaddr_list[i].sin_port = 53u16.to_be();
            st.nsaddr_list[i].sin_addr.s_addr =
                u32::from_be_bytes([127, 0, 0, i as u8 + 1]).to_be();
            st.ext.nssocks[i] = -1;
            st.ext.nsaddrs[i] = (0x1000 * (i + 1)) as *mut sockaddr_in6;
        }
        st.ext.nscount = 3;
        st.res_h_errno = 7;
        st
    }

    fn verdicts(refused: [bool; 3]) -> Verdicts {
        let mut verdicts = [Verdict::FORWARD; MAXNS];
        for (verdict, r) in verdicts.iter_mut().zip(refused) {
            let action = if r { Action::Protect } else { Action::Allow };
            *verdict = Verdict::decided(
                Call::NameServer,
                "127.0.0.1:53".parse().unwrap(),
                Decision {
                    rule: 0,
                    selected: action,
                    action,
                    logged: r,
                },
            );
        }
        verdicts
    }

    fn snapshot(st: &ResState) -> Vec<u8> {
        // SAFETY: reads the struct's bytes.
        unsafe { std::slice::from_raw_parts((st as *const ResState).cast::<u8>(), 568).to_vec() }
    }

    #[test]
    fn refused_servers_move_behind_the_allowed_and_everything_comes_back() {
        let mut st = three_servers();
        let before = snapshot(&st);
        let statp: Statp = &mut *st;
        // SAFETY: a valid state of this test's.
        let filtered = unsafe { Filtered::apply(statp, &verdicts([true, false, true])) };
        assert_eq!(st.nscount, 1);
        assert_eq!(
            st.nsaddr_list[0].sin_addr.s_addr,
            u32::from_be_bytes([127, 0, 0, 2]).to_be()
        );
        assert_eq!(
            st.ext.nsaddrs[0] as usize, 0x2000,
            "the pointer moves with its server"
        );
        assert_eq!(
            st.ext.nscount, 0,
            "res_send's copy is rebuilt: it shows the call ran"
        );
        assert_ne!(
            st.options & RES_NORELOAD,
            0,
            "no reload while the state is armr's"
        );
        // res_send runs: rebuilds its copy for the one server, allocates, sets errors.
        st.ext.nscount = 1;
        st.ext.nsaddrs[0] = 0x2000 as *mut sockaddr_in6;
        st.res_h_errno = 2;
        // SAFETY: the state apply changed.
        assert!(
            unsafe { filtered.restore(statp) },
            "the call reached a server"
        );
        let mut expected = three_servers();
        expected.res_h_errno = 2;
        assert_eq!(snapshot(&st), snapshot(&expected));
        assert_ne!(before, snapshot(&st));
    }

    #[test]
    fn a_state_reinitialised_during_the_call_is_left_as_glibc_made_it() {
        let mut st = three_servers();
        let statp: Statp = &mut *st;
        // SAFETY: a valid state of this test's.
        let filtered = unsafe { Filtered::apply(statp, &verdicts([false, false, false])) };
        // res_init inside the call: three servers again, new allocations.
        let fresh = three_servers();
        let mut renewed = three_servers();
        renewed.ext.nsaddrs = [0x7000 as *mut sockaddr_in6; MAXNS];
        *st = *renewed;
        // SAFETY: the state apply changed.
        unsafe { filtered.restore(statp) };
        assert_eq!(st.ext.nsaddrs, [0x7000 as *mut sockaddr_in6; MAXNS]);
        assert_eq!(st.nscount, fresh.nscount);
    }

    #[test]
    fn with_every_server_refused_none_is_left_and_an_untouched_call_changes_nothing() {
        let mut st = three_servers();
        let before = snapshot(&st);
        let statp: Statp = &mut *st;
        // SAFETY: a valid state of this test's.
        let filtered = unsafe { Filtered::apply(statp, &verdicts([true, true, true])) };
        assert_eq!(st.nscount, 0);
        // SAFETY: the state apply changed.
        assert!(
            !unsafe { filtered.restore(statp) },
            "nothing asked a server"
        );
        assert_eq!(snapshot(&st), before);
    }
}
