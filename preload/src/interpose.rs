//! What armr does around each intercepted call: decode the address, ask the policy, log, and
//! either refuse or forward to the real function. `hooks` exports these under libc's names.
//!
//! Every path that forwards leaves errno exactly as the real call leaves it; a refusal sets the
//! documented errno and returns -1. Each step of armr's own that makes a system call (resolving a
//! hostname, writing an event, asking the socket about itself) puts errno back itself, so that
//! the common path, which makes none, never touches errno.

use crate::destination::{self, Via};
use crate::errno;
use crate::state::{self, State, kind_bit, may_judge};
use crate::{log, real, receive, sockaddr, unbound};
use armr_core::language::Action;
use armr_core::policy::{Decision, EventKind, Rank};
use libc::{
    FILE, c_char, c_int, c_uint, c_void, mmsghdr, msghdr, pid_t, posix_spawn_file_actions_t,
    posix_spawnattr_t, size_t, sockaddr as SockAddr, socklen_t, ssize_t,
};
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

/// Says once per process that armr failed inside a call, and what it did about it.
fn internal_error(what: &str) {
    static REPORTED: AtomicBool = AtomicBool::new(false);
    if !REPORTED.swap(true, Ordering::Relaxed) {
        state::say(&format!(
            "armr: internal error while {what}; the program goes on (reported once)\n"
        ));
    }
}

/// The rank of the rule deciding an event ([`Rank::NONE`]: no rule). An internal failure (a
/// panic) decides nothing: the call proceeds. No guard, so that a signal handler interrupting
/// this is judged too, except while a kind's hostnames resolve (see `rank_resolving`). IPv4, the
/// common case, is passed to the policy as numbers.
#[inline(always)]
fn rank(state: &State, kind: EventKind, address: SocketAddr) -> Rank {
    if state.policy.has_hostnames(kind) {
        return rank_resolving(state, kind, address);
    }
    match address {
        SocketAddr::V4(a) => rank_v4(state, kind, a.ip().to_bits(), a.port()),
        SocketAddr::V6(_) => rank_other(state, kind, address),
    }
}

/// The common lookup cannot panic and is taken in line; the rest is out of line.
#[inline(always)]
fn rank_v4(state: &State, kind: EventKind, ip: u32, port: u16) -> Rank {
    match state.policy.quick_rank_v4(kind, ip, port) {
        Some(rank) => rank,
        None => rank_v4_in_full(state, kind, ip, port),
    }
}

#[inline(never)]
fn rank_v4_in_full(state: &State, kind: EventKind, ip: u32, port: u16) -> Rank {
    catch_unwind(AssertUnwindSafe(|| {
        state.policy.best_rank_v4(kind, ip, port)
    }))
    .unwrap_or_else(|_| judging_failed())
}

#[inline(never)]
fn rank_other(state: &State, kind: EventKind, address: SocketAddr) -> Rank {
    catch_unwind(AssertUnwindSafe(|| state.policy.best_rank(kind, address)))
        .unwrap_or_else(|_| judging_failed())
}

#[cold]
fn judging_failed() -> Rank {
    internal_error("judging a socket call: the call was forwarded");
    Rank::NONE
}

/// `rank` for a kind whose rules name hosts (other than `localhost`, never resolved). Its first
/// decision resolves all the kind's names (once per process and kind; the policy keeps them)
/// under [`Held`](crate::guard::Held), the guard with this thread's signals held: armr's own
/// socket calls pass through the hooks, and no handler runs meanwhile; one that arrives runs when
/// the resolving ends, and is judged. The resolving ends within one resolver timeout however many
/// names there are (`resolving`: the hosts file read once, helper threads inside the guard for
/// the rest, one deadline). A fork waits for it to end (`forking`). Once the names are resolved,
/// a decision makes no system call and is taken without the guard, like any other.
#[cold]
#[inline(never)]
fn rank_resolving(state: &State, kind: EventKind, address: SocketAddr) -> Rank {
    if state.policy.hostnames_resolved(kind) {
        return rank_other(state, kind, address);
    }
    let Some(_held) = crate::guard::Held::enter() else {
        return Rank::NONE;
    };
    let _resolving = crate::forking::Resolving::enter();
    let saved = errno::get();
    let rank = rank_other(state, kind, address);
    // Every name of the kind, whatever this address needed (a bind to the unspecified address
    // looks up no name): later decisions resolve nothing.
    let _ = catch_unwind(AssertUnwindSafe(|| state.policy.resolved_names(kind).len()));
    errno::set(saved);
    rank
}

/// The decision for an event, or `None` when no rule matches.
#[inline(always)]
pub(crate) fn judge(state: &State, kind: EventKind, address: SocketAddr) -> Option<Decision> {
    state.policy.decision(rank(state, kind, address))
}

/// Logs a decision, and says whether the call is refused. A failure to log never turns a protect
/// into a forward.
pub(crate) fn enforce(
    state: &State,
    kind: EventKind,
    address: SocketAddr,
    decision: Decision,
) -> bool {
    if decision.logged {
        log_event(state, kind, address, decision);
    }
    decision.action == Action::Protect
}

#[cold]
#[inline(never)]
pub(crate) fn log_event(state: &State, kind: EventKind, address: SocketAddr, decision: Decision) {
    let saved = errno::get();
    if catch_unwind(AssertUnwindSafe(|| {
        log::write_event(state, kind, address, decision)
    }))
    .is_err()
    {
        internal_error("logging an event: the event was lost, the decision stands");
    }
    errno::set(saved);
}

/// True when the event is refused (after logging it when its rule asks). The common answers, no
/// matching rule and a silent `allow()`, take the fewest steps; any other rule is handled out of
/// line.
#[inline(always)]
pub(crate) fn refused(state: &State, kind: EventKind, address: SocketAddr) -> bool {
    refused_by(state, kind, rank(state, kind, address), || address)
}

/// True when the rule of `rank` refuses the event; `address` is built only for a rule that has
/// something to do (not for no rule, nor for a silent `allow()`).
#[inline(always)]
fn refused_by(
    state: &State,
    kind: EventKind,
    rank: Rank,
    address: impl FnOnce() -> SocketAddr,
) -> bool {
    !(rank == Rank::NONE || rank.is_silent_allow()) && verdict(state, kind, address(), rank)
}

/// [`refused`] for a connect to the address at `addr` on `fd`: IPv4 is judged from the numbers,
/// and a `SocketAddr` is built only when a rule matches; anything else (IPv6, the unspecified
/// address, a hostname rule) is decoded in full, out of line.
///
/// # Safety
/// `addr` is null or points to `len` readable bytes.
#[inline(always)]
unsafe fn connect_refused_at(
    state: &State,
    fd: c_int,
    addr: *const SockAddr,
    len: socklen_t,
) -> bool {
    match unsafe { sockaddr::decode_v4(addr, len) } {
        Some((ip, port)) if ip != 0 && !state.policy.has_hostnames(EventKind::Connect) => {
            refused_by(
                state,
                EventKind::Connect,
                rank_v4(state, EventKind::Connect, ip, port),
                || SocketAddr::from((ip.to_be_bytes(), port)),
            )
        }
        _ => unsafe { connect_refused_in_full(state, EventKind::Connect, fd, addr, len) },
    }
}

/// The rest of [`connect_refused_at`], and a UDP connect's judging by `accept` rules (`kind`).
/// The unspecified address is judged where the kernel sends it (`destination`); an `AF_UNSPEC`
/// address is a disconnect, with no destination to judge.
#[inline(never)]
unsafe fn connect_refused_in_full(
    state: &State,
    kind: EventKind,
    fd: c_int,
    addr: *const SockAddr,
    len: socklen_t,
) -> bool {
    let Some(mut address) = (unsafe { sockaddr::decode(addr, len) }) else {
        return false;
    };
    if destination::is_unspecified(address) {
        address = destination::of_unspecified(fd, address, Via::Connect);
    }
    refused(state, kind, address)
}

#[inline(never)]
fn verdict(state: &State, kind: EventKind, address: SocketAddr, rank: Rank) -> bool {
    state
        .policy
        .decision(rank)
        .is_some_and(|d| enforce(state, kind, address, d))
}

/// The policy, when armr is active and this call is not armr's own (the guard is taken only
/// around armr's own work: see `guard`).
pub(crate) fn active() -> Option<&'static State> {
    if crate::guard::inside() {
        return None;
    }
    state::get()
}

// --- the calls

/// `bind`: a UDP socket bound to a port is a server (`bind(server:)` rules, refused with EACCES);
/// one bound to port 0 asks for an ephemeral port, as a client does (Java's `new
/// DatagramSocket()`), and is judged by `bind(client:)` rules. A TCP socket is judged later: by
/// `listen` as a server, by `connect` as a client (and the socket is no longer known to be
/// unbound: `unbound`).
///
/// # Safety
/// libc's contract for `bind`.
#[inline(always)]
pub unsafe fn bind(fd: c_int, addr: *const SockAddr, len: socklen_t) -> c_int {
    if !may_judge(kind_bit(EventKind::BindServer) | kind_bit(EventKind::BindClient)) {
        return unsafe { real::bind(fd, addr, len) };
    }
    unsafe { bind_judged(fd, addr, len) }
}

/// `bind` when some rule may judge it. Out of line, here and in every hook: the call no rule
/// judges goes to libc after one load and a test, with no stack frame of armr's.
#[inline(never)]
unsafe fn bind_judged(fd: c_int, addr: *const SockAddr, len: socklen_t) -> c_int {
    // Before the bind, and whether or not armr is inside its own work: a mark must never outlive
    // the socket's being unbound.
    if state::judges(EventKind::BindClient)
        && unsafe { sockaddr::family(addr, len) } != Some(libc::AF_UNIX)
    {
        unbound::binding(fd);
    }
    let Some(state) = active() else {
        return unsafe { real::bind(fd, addr, len) };
    };
    let local = if state.policy.has_rules(EventKind::BindServer)
        || state.policy.has_rules(EventKind::BindClient)
    {
        unsafe { sockaddr::decode(addr, len) }
    } else {
        None
    };
    let Some(local) = local else {
        // An AF_UNSPEC address is 0.0.0.0 to the kernel on an IPv4 socket.
        return unsafe { bind_other(state, fd, addr, len) };
    };
    let kind = datagram_bind_kind(local);
    if state.policy.has_rules(kind)
        && sockaddr::socket_type(fd) == Some(libc::SOCK_DGRAM)
        && refused(state, kind, local)
    {
        errno::set(libc::EACCES);
        return -1;
    }
    unsafe { real::bind(fd, addr, len) }
}

/// The rules that judge a datagram socket's bind: port 0 asks for an ephemeral port, a client's
/// (`bind(client:)`); any other port is a server's (`bind(server:)`).
fn datagram_bind_kind(local: SocketAddr) -> EventKind {
    if local.port() == 0 {
        EventKind::BindClient
    } else {
        EventKind::BindServer
    }
}

/// The rest of `bind_judged`, for an address `decode` does not read (out of line: rare): an
/// `AF_UNSPEC` address on an IPv4 socket, which the kernel binds as `0.0.0.0:PORT`, is judged
/// like any bind; anything else is forwarded.
#[cold]
#[inline(never)]
unsafe fn bind_other(state: &State, fd: c_int, addr: *const SockAddr, len: socklen_t) -> c_int {
    if let Some(local) = unsafe { destination::of_unspec_bind(fd, addr, len) }
        && let kind = datagram_bind_kind(local)
        && state.policy.has_rules(kind)
        && sockaddr::socket_type(fd) == Some(libc::SOCK_DGRAM)
        && refused(state, kind, local)
    {
        errno::set(libc::EACCES);
        return -1;
    }
    unsafe { real::bind(fd, addr, len) }
}

/// `listen`: the socket's local address is judged by `bind(server:)` rules; refused with EACCES,
/// so that the port never accepts a connection.
///
/// # Safety
/// libc's contract for `listen`.
#[inline(always)]
pub unsafe fn listen(fd: c_int, backlog: c_int) -> c_int {
    if !may_judge(kind_bit(EventKind::BindServer)) {
        return unsafe { real::listen(fd, backlog) };
    }
    unsafe { listen_judged(fd, backlog) }
}

#[inline(never)]
unsafe fn listen_judged(fd: c_int, backlog: c_int) -> c_int {
    let Some(state) = active() else {
        return unsafe { real::listen(fd, backlog) };
    };
    if state.policy.has_rules(EventKind::BindServer)
        && let Some(local) = sockaddr::local_address(fd)
        && refused(state, EventKind::BindServer, local)
    {
        errno::set(libc::EACCES);
        return -1;
    }
    let listening = unsafe { real::listen(fd, backlog) };
    if listening == 0 && state.policy.has_rules(EventKind::BindServer) {
        receive::listening(fd);
    }
    listening
}

/// `connect`: an explicitly bound TCP socket is first judged by `bind(client:)` rules on its
/// local address (EACCES), then the remote address by `connect` rules (ECONNREFUSED, without
/// making the system call). A socket known to be unbound (`unbound`) is not asked for its local
/// address. Non-blocking connects are forwarded untouched (EINPROGRESS included). A UDP socket
/// is also judged by `accept` rules on the remote address (ECONNREFUSED), as its receives are
/// judged no more once it is connected (`receive`).
///
/// # Safety
/// libc's contract for `connect`.
#[inline(always)]
pub unsafe fn connect(fd: c_int, addr: *const SockAddr, len: socklen_t) -> c_int {
    // Accept rules judge only a UDP socket's connect: a socket known not to be one goes on.
    let judged = state::judged_kinds();
    if !(state::may_judge_in(
        judged,
        kind_bit(EventKind::BindClient) | kind_bit(EventKind::Connect),
    ) || judged & kind_bit(EventKind::Accept) != 0 && receive::may_be_udp(fd))
    {
        return unsafe { real::connect(fd, addr, len) };
    }
    unsafe { connect_judged(fd, addr, len) }
}

#[inline(never)]
unsafe fn connect_judged(fd: c_int, addr: *const SockAddr, len: socklen_t) -> c_int {
    let Some(state) = active() else {
        return unsafe { real::connect(fd, addr, len) };
    };
    let client_rules = state.policy.has_rules(EventKind::BindClient);
    let unbound = client_rules && unbound::is_unbound(fd);
    if client_rules
        && !unbound
        && let Some(local) = sockaddr::explicit_client_bind(fd)
        && refused(state, EventKind::BindClient, local)
    {
        errno::set(libc::EACCES);
        return -1;
    }
    if state.policy.has_rules(EventKind::Connect)
        && unsafe { connect_refused_at(state, fd, addr, len) }
    {
        errno::set(libc::ECONNREFUSED);
        return -1;
    }
    // A UDP socket (asked once when armr does not know it) is judged by accept rules too; a TCP
    // socket known to be unbound is not one.
    if unbound
        || !state.policy.has_rules(EventKind::Accept)
        || !receive::may_be_udp(fd)
        || !receive::is_udp(fd)
    {
        return unsafe { real::connect(fd, addr, len) };
    }
    if unsafe { connect_refused_in_full(state, EventKind::Accept, fd, addr, len) } {
        errno::set(libc::ECONNREFUSED);
        return -1;
    }
    let connected = unsafe { real::connect(fd, addr, len) };
    unsafe { receive::udp_connected(fd, addr, len, connected) };
    connected
}

/// Ends a refused connection with a reset, so that the client sees it at once.
pub(crate) fn reset(fd: c_int) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: linger is a valid option value; fd is the connection armr accepted.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as socklen_t,
        );
        libc::close(fd);
    }
}

/// `accept` and `accept4` (`flags` is `None` for `accept`): the peer is judged by `accept` rules.
/// A refused connection is reset and never returned; armr accepts the next one instead, so a
/// blocking server waits for its next client and a non-blocking one gets EAGAIN when no other is
/// pending. The peer's address is always learnt from the accept itself (into armr's buffer when
/// the caller gave none, or too small a one): a peer that reset before the accept has no address
/// `getpeername` could give, and is judged all the same.
///
/// A listener armr did not see `listen` (inherited) is first judged by `bind(server:)` rules, at
/// its first accept (`receive::listener_refused`); refused, every accept on it fails with EACCES.
///
/// # Safety
/// libc's contract for `accept`/`accept4`.
#[inline(always)]
pub unsafe fn accept(
    fd: c_int,
    addr: *mut SockAddr,
    len: *mut socklen_t,
    flags: Option<c_int>,
) -> c_int {
    if !may_judge(kind_bit(EventKind::Accept) | kind_bit(EventKind::BindServer)) {
        return unsafe {
            match flags {
                None => real::accept(fd, addr, len),
                Some(flags) => real::accept4(fd, addr, len, flags),
            }
        };
    }
    unsafe { accept_judged(fd, addr, len, flags) }
}

#[inline(never)]
unsafe fn accept_judged(
    fd: c_int,
    addr: *mut SockAddr,
    len: *mut socklen_t,
    flags: Option<c_int>,
) -> c_int {
    let call = |addr, len| unsafe {
        match flags {
            None => real::accept(fd, addr, len),
            Some(flags) => real::accept4(fd, addr, len, flags),
        }
    };
    let Some(state) = active() else {
        return call(addr, len);
    };
    if state.policy.has_rules(EventKind::BindServer) && receive::listener_refused(state, fd) {
        return receive::refuse_accept(fd);
    }
    // An address without a length: the kernel accepts, fails with EFAULT and closes the
    // connection, so nothing reaches the program.
    if !state.policy.has_rules(EventKind::Accept) || (!addr.is_null() && len.is_null()) {
        return call(addr, len);
    }
    let room = if addr.is_null() || len.is_null() {
        0
    } else {
        unsafe { *len }
    };
    // Not cleared: only the bytes the kernel writes are read.
    let mut own = std::mem::MaybeUninit::<libc::sockaddr_storage>::uninit();
    let size = std::mem::size_of::<libc::sockaddr_storage>() as socklen_t;
    // The caller's buffer when it holds any IP address, else armr's.
    let theirs = room as usize >= std::mem::size_of::<libc::sockaddr_in6>();
    let (name, name_room) = if theirs {
        (addr, room)
    } else {
        (own.as_mut_ptr().cast(), size)
    };
    loop {
        let mut full = name_room;
        let conn = call(name, &mut full);
        if conn < 0 {
            return conn;
        }
        let after = errno::get();
        if !addr.is_null() && !len.is_null() {
            // As the kernel: the address cut to the caller's room, its full length in *len.
            if !theirs {
                unsafe { sockaddr::give_name(name, full, addr, room) };
            }
            unsafe { *len = full };
        }
        let Some(peer) = (unsafe { sockaddr::decode(name, full.min(name_room)) }) else {
            errno::set(after);
            return conn;
        };
        if !refused(state, EventKind::Accept, peer) {
            receive::accepted(conn);
            errno::set(after);
            return conn;
        }
        reset(conn);
    }
}

/// True when sending with an explicit destination on this socket reaches that destination:
/// datagram sockets, and TCP Fast Open. (A connected stream socket ignores the address.)
fn sends_to_address(fd: c_int, flags: c_int) -> bool {
    match sockaddr::socket_type(fd) {
        Some(libc::SOCK_STREAM) => flags & libc::MSG_FASTOPEN != 0,
        Some(_) => true,
        None => false,
    }
}

/// Judges a send to `dest`: true when it is refused (EACCES is set). The destination is the
/// kernel's (`destination`): an unspecified address goes to this host, and an `AF_UNSPEC`
/// address on an IPv4 datagram socket is IPv4.
///
/// # Safety
/// `dest` is null or points to `len` readable bytes.
unsafe fn send_refused(
    state: &State,
    fd: c_int,
    flags: c_int,
    dest: *const SockAddr,
    len: socklen_t,
) -> bool {
    let remote = match unsafe { sockaddr::decode(dest, len) } {
        Some(address) => destination::of_send(fd, address),
        None => match unsafe { destination::of_unspec_send(fd, dest, len) } {
            Some(address) => address,
            None => return false,
        },
    };
    let Some(decision) = judge(state, EventKind::Connect, remote) else {
        return false;
    };
    if !sends_to_address(fd, flags) {
        return false;
    }
    if enforce(state, EventKind::Connect, remote, decision) {
        errno::set(libc::EACCES);
        return true;
    }
    false
}

/// `sendto` with a destination: a datagram (or TCP Fast Open) to it is a connect, judged by
/// `connect` rules and refused with EACCES.
///
/// # Safety
/// libc's contract for `sendto`.
pub unsafe fn sendto(
    fd: c_int,
    buf: *const c_void,
    n: size_t,
    flags: c_int,
    dest: *const SockAddr,
    len: socklen_t,
) -> ssize_t {
    let forward = || unsafe { real::sendto(fd, buf, n, flags, dest, len) };
    if dest.is_null() || !may_judge(kind_bit(EventKind::Connect)) {
        return forward();
    }
    let Some(state) = active() else {
        return forward();
    };
    if !state.policy.has_rules(EventKind::Connect) {
        return forward();
    }
    if unsafe { send_refused(state, fd, flags, dest, len) } {
        return -1;
    }
    forward()
}

/// `sendmsg` with a destination (`msg_name`): as `sendto`. Descriptors it passes (`SCM_RIGHTS`)
/// may be bound by their receiver: no socket is known to be unbound any more.
///
/// # Safety
/// libc's contract for `sendmsg`.
pub unsafe fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    let forward = || unsafe { real::sendmsg(fd, msg, flags) };
    // The control messages are read only when sockets are tracked.
    if state::judges(EventKind::BindClient) && unsafe { sockaddr::passes_descriptors(msg) } {
        unbound::forget_all();
    }
    if msg.is_null()
        || !may_judge(kind_bit(EventKind::Connect))
        || unsafe { (*msg).msg_name.is_null() }
    {
        return forward();
    }
    let Some(state) = active() else {
        return forward();
    };
    if !state.policy.has_rules(EventKind::Connect) {
        return forward();
    }
    let (dest, len) = unsafe { ((*msg).msg_name as *const SockAddr, (*msg).msg_namelen) };
    if unsafe { send_refused(state, fd, flags, dest, len) } {
        return -1;
    }
    forward()
}

/// `UIO_MAXIOV`: the kernel sends at most this many messages of one `sendmmsg` (it clamps `vlen`).
const UIO_MAXIOV: c_uint = 1024;

/// `sendmmsg`: each message with a destination is judged; the messages before the first refused
/// one are sent (the call returns how many), and a call whose first message is refused fails with
/// EACCES, as the kernel reports a failure of the first message. Only the messages the kernel
/// reads are read: at most `UIO_MAXIOV` (1024), however large `vlen` is.
///
/// # Safety
/// libc's contract for `sendmmsg`.
pub unsafe fn sendmmsg(fd: c_int, msgs: *mut mmsghdr, vlen: c_uint, flags: c_int) -> c_int {
    let forward = |vlen| unsafe { real::sendmmsg(fd, msgs, vlen, flags) };
    let read = vlen.min(UIO_MAXIOV) as usize;
    if state::judges(EventKind::BindClient)
        && !msgs.is_null()
        && (0..read).any(|i| unsafe { sockaddr::passes_descriptors(&(*msgs.add(i)).msg_hdr) })
    {
        unbound::forget_all();
    }
    if msgs.is_null() || !may_judge(kind_bit(EventKind::Connect)) {
        return forward(vlen);
    }
    let Some(state) = active() else {
        return forward(vlen);
    };
    if !state.policy.has_rules(EventKind::Connect) {
        return forward(vlen);
    }
    for i in 0..read {
        let hdr = unsafe { &(*msgs.add(i)).msg_hdr };
        if unsafe {
            send_refused(
                state,
                fd,
                flags,
                hdr.msg_name as *const SockAddr,
                hdr.msg_namelen,
            )
        } {
            if i == 0 {
                return -1;
            }
            return forward(i as c_uint);
        }
    }
    forward(vlen)
}

// --- descriptors: what keeps `unbound` true. Each clears marks before the real call, and only
// when the policy has `bind(client:)` rules (otherwise no socket is ever marked).

/// Another process may now share any socket, and bind it: no socket is known to be unbound.
pub fn shared_with_another_process() {
    if state::judges(EventKind::BindClient) {
        unbound::forget_all();
    }
    // The other process may disconnect a connected UDP socket: its receives are judged again.
    if state::judges(EventKind::Accept) {
        receive::distrust_connected();
    }
}

/// `socket`: a new TCP socket is known to be unbound; with `accept` rules, armr keeps whether it
/// is a UDP socket (`receive`).
///
/// # Safety
/// libc's contract for `socket`.
#[inline(always)]
pub unsafe fn socket(domain: c_int, kind: c_int, protocol: c_int) -> c_int {
    let judged = state::judged_kinds();
    if !state::loaded_any(
        judged,
        kind_bit(EventKind::BindClient) | kind_bit(EventKind::Accept),
    ) {
        return unsafe { real::socket(domain, kind, protocol) };
    }
    unsafe { socket_tracked(judged, domain, kind, protocol) }
}

/// `socket` when armr keeps a table of sockets (`unbound`, `receive`): out of line, so that a
/// process without such rules reaches libc after one load and a test.
#[inline(never)]
unsafe fn socket_tracked(judged: u8, domain: c_int, kind: c_int, protocol: c_int) -> c_int {
    let fd = unsafe { real::socket(domain, kind, protocol) };
    if fd < 0 {
        return fd;
    }
    let ip = matches!(domain, libc::AF_INET | libc::AF_INET6);
    if judged & kind_bit(EventKind::BindClient) != 0
        && ip
        && kind & 0xf == libc::SOCK_STREAM
        && matches!(protocol, 0 | libc::IPPROTO_TCP)
    {
        unbound::remember(fd);
    }
    if judged & kind_bit(EventKind::Accept) != 0 {
        receive::created(fd, ip && kind & 0xf == libc::SOCK_DGRAM);
    }
    fd
}

/// `close`.
///
/// # Safety
/// libc's contract for `close`.
#[inline(always)]
pub unsafe fn close(fd: c_int) -> c_int {
    if tables_kept() {
        freed(fd);
    }
    unsafe { real::close(fd) }
}

/// True when some rule needs a table of descriptors (`unbound`, `receive`).
#[inline(always)]
fn tables_kept() -> bool {
    state::judges_any(
        kind_bit(EventKind::BindClient)
            | kind_bit(EventKind::Accept)
            | kind_bit(EventKind::BindServer),
    )
}

/// `fd`'s number is freed: every table forgets it. Both read before they write: a byte of a
/// table without marks stays untouched.
#[inline(always)]
fn freed(fd: c_int) {
    unbound::forget(fd);
    receive::forget(fd);
}

/// `dup`: the copy is the same socket, known as the original is (`receive`).
///
/// # Safety
/// libc's contract for `dup`.
#[inline(always)]
pub unsafe fn dup(old: c_int) -> c_int {
    let copy = unsafe { real::dup(old) };
    if copy >= 0 && receive::tracked() {
        receive::copied(old, copy);
    }
    copy
}

/// `dup2` and `dup3` (`flags` is `None` for `dup2`): `new` is replaced.
///
/// # Safety
/// libc's contract for `dup2`/`dup3`.
pub unsafe fn dup2(old: c_int, new: c_int, flags: Option<c_int>) -> c_int {
    if state::judges(EventKind::BindClient) {
        unbound::forget(new);
    }
    let copy = unsafe {
        match flags {
            None => real::dup2(old, new),
            Some(flags) => real::dup3(old, new, flags),
        }
    };
    if copy >= 0 && receive::tracked() {
        receive::copied(old, new);
    }
    copy
}

/// `fclose`: closes the stream's descriptor (a socket opened with `fdopen`, say) inside libc.
///
/// # Safety
/// libc's contract for `fclose`.
pub unsafe fn fclose(stream: *mut FILE) -> c_int {
    if tables_kept() && !stream.is_null() {
        let saved = errno::get();
        // SAFETY: stream is a valid stream, as fclose requires.
        freed(unsafe { libc::fileno(stream) });
        errno::set(saved);
    }
    unsafe { real::fclose(stream) }
}

/// `close_range`.
///
/// # Safety
/// libc's contract for `close_range`.
pub unsafe fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    if state::judges(EventKind::BindClient) {
        unbound::forget_range(first as usize, last as usize);
    }
    // With CLOSE_RANGE_CLOEXEC the descriptors stay open (until an exec): what armr knows of
    // them still holds, and a UDP socket forgotten would be read unjudged.
    if receive::tracked() && flags as c_uint & libc::CLOSE_RANGE_CLOEXEC == 0 {
        receive::forget_range(first as usize, last as usize);
    }
    unsafe { real::close_range(first, last, flags) }
}

/// `closefrom`.
///
/// # Safety
/// libc's contract for `closefrom`.
pub unsafe fn closefrom(first: c_int) {
    if tables_kept() {
        unbound::forget_range(first.max(0) as usize, usize::MAX);
        receive::forget_range(first.max(0) as usize, usize::MAX);
    }
    unsafe { real::closefrom(first) }
}

/// `posix_spawn` and `posix_spawnp` (`search`): the child inherits the sockets not marked
/// close-on-exec, and may bind them.
///
/// # Safety
/// libc's contract for `posix_spawn`/`posix_spawnp`.
pub unsafe fn posix_spawn(
    pid: *mut pid_t,
    path: *const c_char,
    actions: *const posix_spawn_file_actions_t,
    attributes: *const posix_spawnattr_t,
    argv: *const *mut c_char,
    envp: *const *mut c_char,
    search: bool,
) -> c_int {
    shared_with_another_process();
    unsafe {
        if search {
            real::posix_spawnp(pid, path, actions, attributes, argv, envp)
        } else {
            real::posix_spawn(pid, path, actions, attributes, argv, envp)
        }
    }
}

/// `system`: as `posix_spawn`, which libc calls inside, past the hook.
///
/// # Safety
/// libc's contract for `system`.
pub unsafe fn system(command: *const c_char) -> c_int {
    shared_with_another_process();
    unsafe { real::system(command) }
}

/// `popen`: as `posix_spawn`.
///
/// # Safety
/// libc's contract for `popen`.
pub unsafe fn popen(command: *const c_char, mode: *const c_char) -> *mut FILE {
    shared_with_another_process();
    unsafe { real::popen(command, mode) }
}
