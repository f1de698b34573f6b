//! What armr does around bind, listen, connect, accept and the sends: decode the address, ask the
//! decision core (`judge`), and either refuse as its verdict says or forward to the real
//! function. `hooks` exports these under libc's names.
//!
//! Every path that forwards leaves errno exactly as the real call leaves it; a refusal sets the
//! documented errno and returns -1. Each step of armr's own that makes a system call (resolving a
//! hostname, writing an event, asking the socket about itself) puts errno back itself, so that
//! the common path, which makes none, never touches errno.

use crate::destination::{self, Via};
use crate::errno;
use crate::judge::{self, active, rank_v4};
use crate::state::{self, State, kind_bit, may_judge};
use crate::{descriptors, numeric, real, receive, sockaddr, unbound};
use armr_core::policy::EventKind;
use armr_core::verdict::{Call, Refusal, Verdict};
use libc::{
    c_int, c_uint, c_void, mmsghdr, msghdr, size_t, sockaddr as SockAddr, socklen_t, ssize_t,
};
use std::net::SocketAddr;

/// The refusal of a connect to the address at `addr` on `fd`: IPv4 is judged from the numbers,
/// and a `SocketAddr` is built only when a rule matches; anything else (IPv6, the unspecified
/// address, a hostname rule) is decoded in full, out of line.
///
/// # Safety
/// `addr` is null or points to `len` readable bytes.
#[inline(always)]
unsafe fn connect_refusal(
    state: &State,
    fd: c_int,
    addr: *const SockAddr,
    len: socklen_t,
) -> Option<Refusal> {
    match unsafe { sockaddr::decode_v4(addr, len) } {
        Some((ip, port)) if ip != 0 && !state.policy.has_hostnames(EventKind::Connect) => {
            let rank = rank_v4(state, EventKind::Connect, ip, port);
            judge::refusal_v4(state, fd, Call::Connect, rank, ip, port)
        }
        _ => unsafe { connect_refusal_other(state, fd, addr, len) },
    }
}

/// [`connect_refusal`] for what IPv4's numbers leave: IPv6 as numbers first (no `SocketAddr`
/// unless a rule has something to do), then the rest in full.
#[inline(always)]
unsafe fn connect_refusal_other(
    state: &State,
    fd: c_int,
    addr: *const SockAddr,
    len: socklen_t,
) -> Option<Refusal> {
    if unsafe { numeric::silent(state, EventKind::Connect, addr, len) } {
        return None;
    }
    unsafe { connect_refusal_in_full(state, Call::Connect, fd, addr, len) }
}

/// The rest of [`connect_refusal`], and a UDP connect's judging by `accept` rules
/// (`Call::DatagramConnect`). The unspecified address is judged where the kernel sends it
/// (`destination`); an `AF_UNSPEC` address is a disconnect, with no destination to judge.
#[inline(never)]
unsafe fn connect_refusal_in_full(
    state: &State,
    call: Call,
    fd: c_int,
    addr: *const SockAddr,
    len: socklen_t,
) -> Option<Refusal> {
    let mut address = unsafe { sockaddr::decode(addr, len) }?;
    if destination::is_unspecified(address) {
        address = destination::of_unspecified(fd, address, Via::Connect);
    }
    judge::refusal_on(state, fd, call, address)
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
    unsafe { descriptors::binding(fd, addr, len) };
    // A stream socket's bind is judged later, on the kernel's answer (`listen`, `connect`):
    // nothing to read in its address.
    if receive::known_stream(fd) {
        return unsafe { real::bind(fd, addr, len) };
    }
    let Some(state) = active() else {
        return unsafe { real::bind(fd, addr, len) };
    };
    let mut room = sockaddr::Room::uninit();
    let addr = unsafe { sockaddr::copied(&mut room, addr, len) };
    let port = if state.policy.has_rules(EventKind::BindServer)
        || state.policy.has_rules(EventKind::BindClient)
    {
        unsafe { numeric::port(addr, len) }
    } else {
        None
    };
    let Some(port) = port else {
        // An AF_UNSPEC address is 0.0.0.0 to the kernel on an IPv4 socket.
        return unsafe { bind_other(state, fd, addr, len) };
    };
    // Only a datagram socket's bind is judged: the address is decoded for it alone (a TCP
    // server's bind, the common case, reads the port and the socket's byte in `receive`).
    let kind = Call::DatagramBind.kind(port);
    if state.policy.has_rules(kind)
        && receive::socket_type(fd) == Some(libc::SOCK_DGRAM)
        && let Some(refusal) = unsafe { datagram_bind_judged(state, kind, addr, len) }
    {
        return errno::refuse(refusal);
    }
    unsafe { real::bind(fd, addr, len) }
}

/// A datagram socket's bind to an address `numeric::port` reads, judged by the rules of `kind`.
///
/// # Safety
/// `addr` points to `len` readable bytes.
#[inline(never)]
unsafe fn datagram_bind_judged(
    state: &State,
    kind: EventKind,
    addr: *const SockAddr,
    len: socklen_t,
) -> Option<Refusal> {
    let local = unsafe { sockaddr::decode(addr, len) }?;
    judge::refusal_of(state, Call::DatagramBind, kind, local)
}

/// The refusal of a bind of `fd` to `local` when it is a datagram socket (asked only when a
/// rule may judge it): port 0 asks for an ephemeral port, a client's (`bind(client:)`); any
/// other port is a server's (`bind(server:)`). `local` by reference: moved, it was copied
/// field by field on every bind (+10 instructions under callgrind).
#[inline(always)]
fn datagram_bind_refusal(state: &State, fd: c_int, local: &SocketAddr) -> Option<Refusal> {
    let kind = Call::DatagramBind.kind(local.port());
    if !state.policy.has_rules(kind) || receive::socket_type(fd) != Some(libc::SOCK_DGRAM) {
        return None;
    }
    judge::refusal_of(state, Call::DatagramBind, kind, *local)
}

/// The rest of `bind_judged`, for an address `decode` does not read (out of line: rare): an
/// `AF_UNSPEC` address on an IPv4 socket, which the kernel binds as `0.0.0.0:PORT`, is judged
/// like any bind; anything else is forwarded.
#[cold]
#[inline(never)]
unsafe fn bind_other(state: &State, fd: c_int, addr: *const SockAddr, len: socklen_t) -> c_int {
    if let Some(local) = unsafe { destination::of_unspec_bind(fd, addr, len) }
        && let Some(refusal) = datagram_bind_refusal(state, fd, &local)
    {
        return errno::refuse(refusal);
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
        && let Some(refusal) = numeric::listen_refusal(state, fd)
    {
        return errno::refuse(refusal);
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
    // Connect rules (or rules not loaded yet) judge every connect. Without them, accept rules
    // judge only a UDP socket's, and bind(client:) rules only a socket the program may have
    // bound (not one `unbound` marks: unbound TCP, or datagram): the others go on at once.
    let judged = state::judged_kinds();
    if !state::may_judge_in(judged, kind_bit(EventKind::Connect)) {
        let udp = judged & u16::from(kind_bit(EventKind::Accept)) != 0 && receive::may_be_udp(fd);
        if !udp
            && (judged & u16::from(kind_bit(EventKind::BindClient)) == 0
                || unbound::mark(fd) != unbound::Mark::Unknown)
        {
            return unsafe { real::connect(fd, addr, len) };
        }
    }
    unsafe { connect_judged(fd, addr, len) }
}

#[inline(never)]
unsafe fn connect_judged(fd: c_int, addr: *const SockAddr, len: socklen_t) -> c_int {
    let Some(state) = active() else {
        return unsafe { real::connect(fd, addr, len) };
    };
    // Judged and made with armr's copy: the program's buffer may change meanwhile.
    let mut room = sockaddr::Room::uninit();
    let addr = unsafe { sockaddr::copied(&mut room, addr, len) };
    let client_rules = state.policy.has_rules(EventKind::BindClient);
    // A TCP socket known to be unbound, or a datagram socket, has no client bind to judge.
    let mark = if client_rules {
        unbound::mark(fd)
    } else {
        unbound::Mark::Unknown
    };
    let unbound = mark == unbound::Mark::UnboundStream;
    if client_rules
        && mark == unbound::Mark::Unknown
        && let Some(refusal) = client_bind_refusal(state, fd)
    {
        return errno::refuse(refusal);
    }
    if state.policy.has_rules(EventKind::Connect)
        && let Some(refusal) = unsafe { connect_refusal(state, fd, addr, len) }
    {
        return errno::refuse(refusal);
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
    if let Some(refusal) =
        unsafe { connect_refusal_in_full(state, Call::DatagramConnect, fd, addr, len) }
    {
        return errno::refuse(refusal);
    }
    let connected = unsafe { real::connect(fd, addr, len) };
    unsafe { receive::udp_connected(fd, addr, len, connected) };
    connected
}

/// The refusal by `bind(client:)` rules of a connect from a socket the program bound itself, on
/// its local address. Out of line: the buffers asked of the kernel stay in this frame, and
/// `connect_judged`'s forwarding to libc stays a tail call.
#[inline(never)]
fn client_bind_refusal(state: &State, fd: c_int) -> Option<Refusal> {
    let local = sockaddr::explicit_client_bind(fd)?;
    judge::refusal(state, Call::ClientBind, local)
}

/// `accept` and `accept4` (`flags` is `None` for `accept`): the peer is judged by `accept` rules.
/// A refused connection is reset and never returned; armr accepts the next one instead, so a
/// blocking server waits for its next client and a non-blocking one gets EAGAIN when no other is
/// pending. The peer's address is always learnt from the accept itself, into armr's own buffer
/// (then given to the caller's): a peer that reset before the accept has no address
/// `getpeername` could give, and is judged all the same, and another thread rewriting the
/// caller's buffer cannot change what is judged.
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
    // Always into armr's own buffer, then given to the caller: judged from the caller's buffer,
    // the peer could be rewritten by another thread between the kernel's write and armr's read.
    // Not cleared: only the bytes the kernel writes are read.
    let mut own = std::mem::MaybeUninit::<libc::sockaddr_storage>::uninit();
    let size = std::mem::size_of::<libc::sockaddr_storage>() as socklen_t;
    let name: *mut SockAddr = own.as_mut_ptr().cast();
    loop {
        let mut full = size;
        let conn = call(name, &mut full);
        if conn < 0 {
            return conn;
        }
        let got = full.min(size);
        // As the kernel: the address cut to the caller's room, its full length in *len.
        let give = || unsafe { sockaddr::give_peer(name, full, addr, len, room) };
        // The common answers (no rule, a silent allow()) from the address as numbers: nothing
        // since the accept has touched errno.
        if unsafe { numeric::silent(state, EventKind::Accept, name, got) } {
            give();
            receive::accepted(conn);
            return conn;
        }
        let after = errno::get();
        let Some(peer) = (unsafe { sockaddr::decode(name, got) }) else {
            give();
            errno::set(after);
            return conn;
        };
        // A refused peer's connection is discarded: reset, and the next one accepted.
        if judge::refusal(state, Call::Accept, peer).is_none() {
            give();
            receive::accepted(conn);
            errno::set(after);
            return conn;
        }
        receive::reset(conn);
    }
}

/// True when sending with an explicit destination on this socket reaches that destination:
/// datagram sockets, and TCP Fast Open. (A connected stream socket ignores the address.)
/// The socket's type comes from armr's table (`receive`), asked of the kernel once at most.
fn sends_to_address(fd: c_int, flags: c_int) -> bool {
    match receive::socket_type(fd) {
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
#[inline(always)]
unsafe fn send_refused(
    state: &State,
    fd: c_int,
    flags: c_int,
    dest: *const SockAddr,
    len: socklen_t,
) -> bool {
    // The common answers in the hook's own frame: a frame of their own cost a send 18
    // instructions (callgrind).
    if unsafe { numeric::silent(state, EventKind::Connect, dest, len) } {
        return false;
    }
    unsafe { send_refused_in_full(state, fd, flags, dest, len) }
}

/// [`send_refused`] when a rule may have something to do, or the address is not read as numbers.
///
/// # Safety
/// As [`send_refused`].
#[inline(never)]
unsafe fn send_refused_in_full(
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
    // The socket is asked whether the address counts only when a rule has something to do.
    let mut verdict = judge::verdict(state, Call::Send, remote);
    judge::on_socket(&mut verdict, fd);
    if verdict == Verdict::FORWARD || !sends_to_address(fd, flags) {
        return false;
    }
    match judge::carry_out(state, &verdict) {
        Some(refusal) => {
            errno::refuse(refusal);
            true
        }
        None => false,
    }
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
    let mut room = sockaddr::Room::uninit();
    let dest = unsafe { sockaddr::copied(&mut room, dest, len) };
    if unsafe { send_refused(state, fd, flags, dest, len) } {
        return -1;
    }
    unsafe { real::sendto(fd, buf, n, flags, dest, len) }
}

/// `sendmsg` with a destination (`msg_name`): as `sendto`. Descriptors it passes (`SCM_RIGHTS`)
/// may be bound by their receiver: no socket is known to be unbound any more.
///
/// # Safety
/// libc's contract for `sendmsg`.
pub unsafe fn sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    let forward = || unsafe { real::sendmsg(fd, msg, flags) };
    unsafe { descriptors::sending(msg) };
    if msg.is_null() || !may_judge(kind_bit(EventKind::Connect)) {
        return forward();
    }
    let Some(state) = active() else {
        return forward();
    };
    if !state.policy.has_rules(EventKind::Connect) {
        return forward();
    }
    // The header and its destination copied: judged and sent as read. A header without a
    // destination is sent as read too: forwarded, it could gain one from another thread
    // between armr's look and the kernel's read.
    let mut header = unsafe { *msg };
    if header.msg_name.is_null() {
        return unsafe { real::sendmsg(fd, &header, flags) };
    }
    let mut room = sockaddr::Room::uninit();
    let (dest, len) = (header.msg_name as *const SockAddr, header.msg_namelen);
    let dest = unsafe { sockaddr::copied(&mut room, dest, len) };
    header.msg_name = dest as *mut c_void;
    if unsafe { send_refused(state, fd, flags, dest, len) } {
        return -1;
    }
    unsafe { real::sendmsg(fd, &header, flags) }
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
    unsafe { descriptors::sending_many(msgs, read) };
    if msgs.is_null() || !may_judge(kind_bit(EventKind::Connect)) {
        return forward(vlen);
    }
    let Some(state) = active() else {
        return forward(vlen);
    };
    if !state.policy.has_rules(EventKind::Connect) {
        return forward(vlen);
    }
    // Judged and sent in batches of copies (headers and destinations): the program's array may
    // change between armr's look and the kernel's read.
    const BATCH: usize = 16;
    let mut sent = 0usize;
    while sent < read {
        let count = (read - sent).min(BATCH);
        // SAFETY: plain C structures, each one written below before it is read.
        let mut batch: [mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        let mut rooms = [sockaddr::Room::uninit(); BATCH];
        let mut allowed = count;
        for (i, (copy, room)) in batch
            .iter_mut()
            .zip(rooms.iter_mut())
            .take(count)
            .enumerate()
        {
            *copy = unsafe { *msgs.add(sent + i) };
            let hdr = &mut copy.msg_hdr;
            let dest =
                unsafe { sockaddr::copied(room, hdr.msg_name as *const SockAddr, hdr.msg_namelen) };
            hdr.msg_name = dest as *mut c_void;
            if unsafe { send_refused(state, fd, flags, dest, hdr.msg_namelen) } {
                allowed = i;
                break;
            }
        }
        if allowed == 0 {
            // EACCES when it is the call's first message, as the kernel fails its first one.
            return if sent == 0 { -1 } else { sent as c_int };
        }
        let done = unsafe { real::sendmmsg(fd, batch.as_mut_ptr(), allowed as c_uint, flags) };
        if done < 0 {
            return if sent == 0 { done } else { sent as c_int };
        }
        for (i, copy) in batch.iter().take(done as usize).enumerate() {
            unsafe { (*msgs.add(sent + i)).msg_len = copy.msg_len };
        }
        sent += done as usize;
        if (done as usize) < count {
            break;
        }
    }
    sent as c_int
}
