//! The receive side of the rules: the sender of every datagram an unconnected UDP socket receives
//! is judged by `accept` rules (a refused one is discarded and the call waits for the next), and a
//! listening socket armr did not see `listen` (inherited: systemd socket activation, inetd, a
//! parent that listened before `exec`) is judged by `bind(server:)` rules at its first `accept`.
//!
//! Both need to know, per descriptor, what armr knows of the socket, without a system call on the
//! hot path (`read` and `recv` are called by every program on every descriptor): a byte per
//! descriptor, as in `unbound`, set where armr sees the socket made or changed (`socket`,
//! `connect`, `listen`, `accept`) and cleared where the number is freed (`close`, `fclose`,
//! `close_range`, `closefrom`, the target of `dup2`/`dup3`). A descriptor armr knows nothing of
//! is asked once (`SO_TYPE`) by the socket calls (`recv`, `recvfrom`, `recvmsg`, `recvmmsg`,
//! `connect`, and a send whose verdict depends on the socket's type: [`socket_type`]); `read`
//! never asks, so a UDP socket armr has not seen nor asked about is read unjudged
//! (docs/enforcement.md says so).

use crate::judge::{self, active};
use crate::state::{self, State, kind_bit, may_judge};
use crate::{errno, real, sockaddr};
use armr_core::policy::EventKind;
use armr_core::verdict::Call;
use libc::{
    c_int, c_uint, c_void, iovec, mmsghdr, msghdr, size_t, sockaddr as SockAddr, sockaddr_in6,
    sockaddr_storage, socklen_t, ssize_t, timespec,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};

// --- what armr knows of each descriptor

/// Nothing: not seen made, or its number was freed since.
const UNKNOWN: u8 = 0;
/// A descriptor whose receives are not judged and that is not a stream socket: another family's
/// datagram socket, a raw socket, or not a socket at all.
const OTHER: u8 = 1;
/// An unconnected UDP socket (IPv4 or IPv6; any datagram socket of theirs, such as a ping
/// socket): every datagram's sender is judged.
const UDP: u8 = 2;
/// A connected UDP socket: judged once, at `connect`.
const UDP_CONNECTED: u8 = 3;
/// A listening socket whose address `bind(server:)` rules allowed (at `listen`, or at its first
/// `accept` when armr did not see it listen).
const LISTENER: u8 = 4;
/// A listening socket armr did not see listen, refused at its first `accept`.
const REFUSED_LISTENER: u8 = 5;
/// A stream socket (TCP: accept rules judge it at `accept`; a send to an address on it goes to
/// its peer, unless it is TCP Fast Open).
const STREAM: u8 = 6;

/// Descriptors `0..TRACKED` are known (64 KiB of zeroed memory, resident only where used).
pub const TRACKED: usize = 65_536;

static KNOWN: [AtomicU8; TRACKED] = [const { AtomicU8::new(UNKNOWN) }; TRACKED];

/// Descriptors per block of [`BLOCKS`].
const BLOCK: usize = 64;
/// A bit per block of [`BLOCK`] descriptors, set when the block may hold a known descriptor: a
/// sweep (`close_range`, `closefrom`, a fork) visits only those, so that its cost follows what is
/// known, not the highest descriptor ever opened.
static BLOCKS: [AtomicU64; TRACKED / BLOCK / 64] =
    [const { AtomicU64::new(0) }; TRACKED / BLOCK / 64];

#[inline(always)]
fn get(fd: c_int) -> u8 {
    match KNOWN.get(fd as usize) {
        Some(known) => known.load(Relaxed),
        None => UNKNOWN,
    }
}

#[inline(always)]
fn set(fd: c_int, what: u8) {
    if let Some(known) = usize::try_from(fd).ok().and_then(|i| KNOWN.get(i)) {
        known.store(what, Relaxed);
        // After the store, and always (a locked instruction): a sweep that clears the block's
        // bit either sees this descriptor or finds the bit set again.
        let block = fd as usize / BLOCK;
        BLOCKS[block / 64].fetch_or(1 << (block % 64), SeqCst);
    }
}

/// Calls `each` on every descriptor of `first..=last` that may be known, block by block; a block
/// found empty loses its bit.
fn sweep(first: usize, last: usize, mut each: impl FnMut(&AtomicU8)) {
    let last = last.min(TRACKED - 1);
    if first > last {
        return;
    }
    let (first_block, last_block) = (first / BLOCK, last / BLOCK);
    for (w, word) in BLOCKS
        .iter()
        .enumerate()
        .take(last_block / 64 + 1)
        .skip(first_block / 64)
    {
        let mut bits = word.load(SeqCst);
        while bits != 0 {
            let block = w * 64 + bits.trailing_zeros() as usize;
            let bit = bits & bits.wrapping_neg();
            bits &= bits - 1;
            if block < first_block || block > last_block {
                continue;
            }
            let (start, end) = (
                (block * BLOCK).max(first),
                (block * BLOCK + BLOCK - 1).min(last),
            );
            for known in &KNOWN[start..=end] {
                each(known);
            }
            // Cleared first, then looked at again: a descriptor set meanwhile sets it again.
            word.fetch_and(!bit, SeqCst);
            if KNOWN[block * BLOCK..block * BLOCK + BLOCK]
                .iter()
                .any(|known| known.load(SeqCst) != UNKNOWN)
            {
                word.fetch_or(bit, SeqCst);
            }
        }
    }
}

/// True when armr keeps the table: some rule judges an accept or a server's bind.
#[inline(always)]
pub fn tracked() -> bool {
    state::judges_any(kind_bit(EventKind::Accept) | kind_bit(EventKind::BindServer))
}

/// True once a send was judged by the socket's type (`state::SENDS_TYPED`).
#[inline(always)]
pub fn kept_for_sends() -> bool {
    state::sends_typed()
}

/// True when the table is kept true across `close` and `dup*`: with the rules of [`tracked`],
/// and once a send was judged by the socket's type.
#[inline(always)]
pub fn kept() -> bool {
    tracked() || kept_for_sends()
}

/// `fd` is closed, or replaced.
#[inline(always)]
pub fn forget(fd: c_int) {
    // Read first: most descriptors closed are not known sockets, and their bytes stay untouched.
    if let Some(known) = KNOWN.get(fd as usize)
        && known.load(Relaxed) != UNKNOWN
    {
        known.store(UNKNOWN, Relaxed);
    }
}

/// Descriptors `first..=last` are closed.
pub fn forget_range(first: usize, last: usize) {
    sweep(first, last, |known| {
        if known.load(Relaxed) != UNKNOWN {
            known.store(UNKNOWN, Relaxed);
        }
    });
}

/// `dup2(old, new)` succeeded: `new` is the same socket as `old`.
pub fn copied(old: c_int, new: c_int) {
    match get(old) {
        UNKNOWN => forget(new),
        what => set(new, what),
    }
}

/// A connected UDP socket may have been disconnected where armr cannot see it (through a copy of
/// its descriptor, or by another process sharing it): its receives are judged again.
pub fn distrust_connected() {
    sweep(0, TRACKED - 1, |known| {
        if known.load(Relaxed) == UDP_CONNECTED {
            known.store(UDP, Relaxed);
        }
    });
}

/// What `socket` tells of a new descriptor (worked out before the call: [`created`]).
#[derive(Clone, Copy)]
pub struct Known(u8);

impl Known {
    /// Nothing to keep (no rule keeps the table at `socket`).
    pub const NOTHING: Known = Known(UNKNOWN);
}

/// What a socket of `domain` and type `kind` (flags taken off) is to the table.
#[inline(always)]
pub fn created(domain: c_int, kind: c_int) -> Known {
    Known(match kind {
        libc::SOCK_DGRAM if matches!(domain, libc::AF_INET | libc::AF_INET6) => UDP,
        libc::SOCK_STREAM => STREAM,
        _ => OTHER,
    })
}

/// `socket` returned `fd`, which is `known` ([`created`]).
#[inline(always)]
pub fn remember(fd: c_int, known: Known) {
    if known.0 != UNKNOWN {
        set(fd, known.0);
    }
}

/// `accept` returned the connection `fd` (only called when accept rules exist).
pub fn accepted(fd: c_int) {
    set(fd, STREAM);
}

/// The type of the socket `fd` (`SOCK_STREAM`, `SOCK_DGRAM`, ...; `None`: not a socket), from
/// the table when armr knows it: a send judged on a known socket asks the kernel nothing. A
/// descriptor armr knows nothing of is classified once (its answer kept) when the table is kept.
pub fn socket_type(fd: c_int) -> Option<c_int> {
    state::note_sends_typed();
    let what = known(fd);
    match what {
        UDP | UDP_CONNECTED => Some(libc::SOCK_DGRAM),
        STREAM | LISTENER | REFUSED_LISTENER => Some(libc::SOCK_STREAM),
        _ => sockaddr::socket_type(fd),
    }
}

/// `listen` succeeded on `fd`, whose address `bind(server:)` rules allowed.
pub fn listening(fd: c_int) {
    set(fd, LISTENER);
}

/// What armr knows of `fd`, asking the socket when it knows nothing (`SO_TYPE`; for a UDP socket
/// its local and remote addresses): the answer is kept.
#[inline(always)]
fn known(fd: c_int) -> u8 {
    match get(fd) {
        UNKNOWN => classify(fd),
        what => what,
    }
}

#[cold]
#[inline(never)]
fn classify(fd: c_int) -> u8 {
    let what = match sockaddr::socket_type(fd) {
        Some(libc::SOCK_STREAM) => STREAM,
        Some(libc::SOCK_DGRAM) if sockaddr::local_address(fd).is_some() => {
            if sockaddr::peer_address(fd).is_some() {
                connected(fd)
            } else {
                UDP
            }
        }
        _ => OTHER,
    };
    set(fd, what);
    what
}

/// At load, with the policy's tables kept: every descriptor already open (inherited) is asked
/// once what it is, as a socket call would ask it, so that `read` and `readv` judge an inherited
/// UDP socket too. Descriptors from `/proc/self/fd`, or the first 1,024 without it.
pub fn classify_inherited() {
    let saved = errno::get();
    let open: Vec<c_int> = match std::fs::read_dir("/proc/self/fd") {
        Ok(entries) => entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect(),
        Err(_) => (0..1024).collect(),
    };
    for fd in open {
        // The directory's own descriptor is closed by now: asking a closed one finds nothing.
        if (fd as usize) < TRACKED && get(fd) == UNKNOWN && is_open(fd) {
            classify(fd);
        }
    }
    errno::set(saved);
}

/// The table is kept from now on (a reload brought the first `accept` or `bind(server:)`
/// rules): what it held was not kept true across `close` and `dup*` meanwhile, so it is
/// forgotten, and every descriptor open now is asked what it is, as at load. Without this a UDP
/// socket opened before the change would be `read` unjudged until the program restarts.
pub fn relearn() {
    forget_range(0, usize::MAX);
    classify_inherited();
}

fn is_open(fd: c_int) -> bool {
    // SAFETY: F_GETFD on any number has no effect but its answer.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// False when `fd` is known not to be a UDP socket (no question asked).
#[inline(always)]
pub fn may_be_udp(fd: c_int) -> bool {
    matches!(get(fd), UNKNOWN | UDP | UDP_CONNECTED)
}

/// True when armr knows `fd` for a stream socket (its bind is judged later, on the kernel's
/// answer: by `listen` or `connect`). Asks nothing.
#[inline(always)]
pub fn known_stream(fd: c_int) -> bool {
    matches!(get(fd), STREAM | LISTENER | REFUSED_LISTENER)
}

/// True when `fd` is a UDP socket (known, or asked): its `connect` is judged by accept rules too.
pub fn is_udp(fd: c_int) -> bool {
    matches!(known(fd), UDP | UDP_CONNECTED)
}

/// After the real `connect` of a UDP socket returned `result`: a socket connected to an IP
/// address is judged no more; one disconnected (`AF_UNSPEC`) is judged again, and so is every
/// copy of it armr cannot tell from another connected socket.
///
/// # Safety
/// `addr` is null or points to `len` readable bytes.
pub unsafe fn udp_connected(fd: c_int, addr: *const SockAddr, len: socklen_t, result: c_int) {
    let saved = errno::get();
    match unsafe { sockaddr::family(addr, len) } {
        Some(libc::AF_INET | libc::AF_INET6) if result == 0 => set(fd, connected(fd)),
        Some(libc::AF_UNSPEC) if result == 0 => {
            set(fd, UDP);
            distrust_connected();
        }
        // A failed connect may leave the socket connected or not: ask it.
        _ => {
            forget(fd);
            classify(fd);
        }
    }
    errno::set(saved);
}

/// What a connected UDP socket is: `connect` does not empty the receive queue, so datagrams
/// that came from any sender before it are still delivered after it. A socket whose queue
/// holds one stays judged ([`UDP`]); otherwise only its peer (judged at `connect`) can reach it.
fn connected(fd: c_int) -> u8 {
    let saved = errno::get();
    // SAFETY: a zero-length peek into no buffer takes nothing.
    let queued = unsafe {
        real::recvfrom(
            fd,
            std::ptr::null_mut(),
            0,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    } >= 0;
    errno::set(saved);
    if queued { UDP } else { UDP_CONNECTED }
}

// --- listeners armr did not see listen

/// `accept` on `fd` when `bind(server:)` rules exist: true when the listener is refused (then
/// the caller fails the accept with [`refuse_accept`]). A listener armr judged at `listen` costs
/// a load; any other is judged once, on its local address, and the verdict kept.
#[inline(always)]
pub fn listener_refused(state: &State, fd: c_int) -> bool {
    match get(fd) {
        LISTENER => false,
        REFUSED_LISTENER => true,
        _ => judge_listener(state, fd),
    }
}

#[cold]
#[inline(never)]
fn judge_listener(state: &State, fd: c_int) -> bool {
    // Not listening: the kernel fails the accept (EINVAL), and nothing is kept.
    if !sockaddr::is_listening(fd) {
        return false;
    }
    let refused = sockaddr::local_address(fd)
        .is_some_and(|local| judge::refusal(state, Call::InheritedListener, local).is_some());
    set(fd, if refused { REFUSED_LISTENER } else { LISTENER });
    refused
}

/// Fails an accept on a refused listener (-1, EACCES). The connections already queued are
/// accepted and reset, so that their clients see a reset rather than a hang and an event loop
/// polling the listener is not woken again for them.
pub fn refuse_accept(fd: c_int) -> c_int {
    for _ in 0..1024 {
        let mut pending = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pending, 1, 0) } != 1 || pending.revents & libc::POLLIN == 0 {
            break;
        }
        // SAFETY: no address asked.
        let conn = unsafe {
            real::accept4(
                fd,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC,
            )
        };
        if conn < 0 {
            break;
        }
        reset(conn);
    }
    errno::refuse(Call::InheritedListener.refusal())
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

// --- discarded datagrams (their events are logged at most once a second per rule: `log`)

/// True when the datagram from `sender` is discarded (its event logged when the rule asks).
fn sender_refused(state: &State, sender: SocketAddr) -> bool {
    judge::refusal(state, Call::Datagram, sender).is_some()
}

/// Drops the datagram a refused `MSG_PEEK` left at the head of the queue.
fn drop_peeked(fd: c_int) {
    let saved = errno::get();
    // SAFETY: a zero-length receive into no buffer consumes one datagram.
    unsafe {
        real::recvfrom(
            fd,
            std::ptr::null_mut(),
            0,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    errno::set(saved);
}

const STORAGE: socklen_t = std::mem::size_of::<sockaddr_storage>() as socklen_t;

/// Receives until a datagram whose sender is not refused (or a failure): `call` makes the real
/// receive with armr's address buffer, and sets its length. Returns the result and the
/// sender's address with its full length, for the caller to hand back.
fn receive_judged(
    state: &State,
    fd: c_int,
    flags: c_int,
    name: &mut sockaddr_storage,
    mut call: impl FnMut(*mut SockAddr, &mut socklen_t) -> ssize_t,
) -> (ssize_t, socklen_t) {
    loop {
        let mut len = STORAGE;
        let n = call((name as *mut sockaddr_storage).cast(), &mut len);
        if n < 0 {
            return (n, 0);
        }
        let after = errno::get();
        // SAFETY: the kernel wrote len bytes of the buffer (at most its size).
        let sender =
            unsafe { sockaddr::decode((name as *const sockaddr_storage).cast(), len.min(STORAGE)) };
        if sender.is_some_and(|sender| sender_refused(state, sender)) {
            if flags & libc::MSG_PEEK != 0 {
                drop_peeked(fd);
            }
            continue;
        }
        errno::set(after);
        return (n, len);
    }
}

/// The receive calls' common start: the policy, when this call on `fd` is judged. `ask`: the
/// call may ask an unknown socket what it is (a socket call; not `read`).
#[inline(always)]
fn judged(fd: c_int, ask: bool) -> Option<&'static State> {
    // The policy first: the table is kept (and asking fills it) only once it says so.
    let state = active().filter(|state| state.policy.has_rules(EventKind::Accept))?;
    let what = if ask { known(fd) } else { get(fd) };
    (what == UDP).then_some(state)
}

/// False when `fd` is known not to be an unconnected UDP socket: its receive goes to libc.
#[inline(always)]
fn maybe_udp(fd: c_int) -> bool {
    matches!(get(fd), UNKNOWN | UDP)
}

const ACCEPT: u8 = kind_bit(EventKind::Accept);

// --- the calls

/// `read`: judged only on a socket known to be an unconnected UDP socket (`read` never asks what
/// a descriptor is: it is called on every file). A zero-length read consumes nothing.
///
/// # Safety
/// libc's contract for `read`.
#[inline(always)]
pub unsafe fn read(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t {
    if !may_judge(ACCEPT) || get(fd) != UDP || n == 0 {
        return unsafe { real::read(fd, buf, n) };
    }
    unsafe { read_judged(fd, buf, n) }
}

/// True when a `read` of `n` bytes on `fd` is judged (glibc's private `__read_nocancel` asks
/// this, and forwards to its own real function otherwise).
#[inline(always)]
pub fn read_is_judged(fd: c_int, n: size_t) -> bool {
    may_judge(ACCEPT) && get(fd) == UDP && n > 0
}

#[inline(never)]
unsafe fn read_judged(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t {
    match judged(fd, false) {
        Some(state) => unsafe { recv_with_sender(state, fd, buf, n, 0) },
        None => unsafe { real::read(fd, buf, n) },
    }
}

/// glibc's `__read_nocancel`: as `read`; a read not judged goes to libc's `__read_nocancel`,
/// which is not a cancellation point.
///
/// # Safety
/// libc's contract for `read`.
pub unsafe fn read_nocancel(fd: c_int, buf: *mut c_void, n: size_t) -> ssize_t {
    if read_is_judged(fd, n) {
        return unsafe { read(fd, buf, n) };
    }
    unsafe { real::__read_nocancel(fd, buf, n) }
}

/// `readv`: as `read`, the datagram scattered into the caller's buffers.
///
/// # Safety
/// libc's contract for `readv`.
#[inline(always)]
pub unsafe fn readv(fd: c_int, iov: *const iovec, count: c_int) -> ssize_t {
    if !may_judge(ACCEPT) || get(fd) != UDP || count <= 0 {
        return unsafe { real::readv(fd, iov, count) };
    }
    unsafe { readv_judged(fd, iov, count) }
}

#[inline(never)]
unsafe fn readv_judged(fd: c_int, iov: *const iovec, count: c_int) -> ssize_t {
    match judged(fd, false) {
        // SAFETY: readv's contract.
        Some(state) if unsafe { consumes(iov, count) } => unsafe {
            readv_with_sender(state, fd, iov, count, 0)
        },
        _ => unsafe { real::readv(fd, iov, count) },
    }
}

/// `IOV_MAX`: `readv` fails with more buffers (EINVAL; `recvmsg` would say EMSGSIZE).
const IOV_MAX: c_int = 1024;

/// False when the kernel's `readv` of these buffers takes no datagram: more than `IOV_MAX`
/// buffers (EINVAL) or none with room (a socket's read of nothing returns 0 and consumes
/// nothing, where `recvmsg` would consume one). Both go to libc as they are.
///
/// # Safety
/// `iov` is readable for `count` entries when `count` is in `1..=IOV_MAX` (readv's contract).
unsafe fn consumes(iov: *const iovec, count: c_int) -> bool {
    if iov.is_null() || !(1..=IOV_MAX).contains(&count) {
        return false;
    }
    // SAFETY: count entries, per the contract.
    let buffers = unsafe { std::slice::from_raw_parts(iov, count as usize) };
    buffers.iter().any(|b| b.iov_len > 0)
}

/// `readv` of a judged socket with `recvmsg` flags (`MSG_DONTWAIT` for `preadv2`'s
/// `RWF_NOWAIT`), through `recvmsg` with armr's address buffer.
///
/// # Safety
/// readv's contract; `count` in `1..=IOV_MAX`.
unsafe fn readv_with_sender(
    state: &State,
    fd: c_int,
    iov: *const iovec,
    count: c_int,
    flags: c_int,
) -> ssize_t {
    // SAFETY: an all-zero sockaddr_storage is valid.
    let mut name: sockaddr_storage = unsafe { std::mem::zeroed() };
    let (n, _) = receive_judged(state, fd, flags, &mut name, |addr, len| {
        // SAFETY: an all-zero msghdr is valid.
        let mut msg: msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = addr.cast();
        msg.msg_namelen = *len;
        msg.msg_iov = iov.cast_mut();
        msg.msg_iovlen = count as usize;
        // SAFETY: msg describes the caller's buffers (readv's contract) and armr's address buffer.
        let r = unsafe { real::recvmsg(fd, &mut msg, flags) };
        *len = msg.msg_namelen;
        r
    });
    n
}

/// `preadv2` (and `preadv64v2`, `_large`): at offset -1 the kernel reads a socket like `readv`
/// (any other offset fails on a socket with ESPIPE). With no flag, or `RWF_NOWAIT`, it is
/// `readv` (`MSG_DONTWAIT`); with others, refused senders at the head of the queue are dropped
/// first and the kernel then reads with the caller's flags.
///
/// # Safety
/// libc's contract for `preadv2`.
#[inline(always)]
pub unsafe fn preadv2(
    fd: c_int,
    iov: *const iovec,
    count: c_int,
    offset: libc::off_t,
    flags: c_int,
    large: bool,
) -> ssize_t {
    if offset != -1 || !may_judge(ACCEPT) || !maybe_udp(fd) {
        return unsafe { real_preadv2(fd, iov, count, offset, flags, large) };
    }
    unsafe { preadv2_judged(fd, iov, count, offset, flags, large) }
}

#[inline(never)]
unsafe fn preadv2_judged(
    fd: c_int,
    iov: *const iovec,
    count: c_int,
    offset: libc::off_t,
    flags: c_int,
    large: bool,
) -> ssize_t {
    if let Some(state) = judged(fd, true)
        // SAFETY: preadv2's contract.
        && unsafe { consumes(iov, count) }
    {
        if flags & !libc::RWF_NOWAIT == 0 {
            let nowait = if flags != 0 { libc::MSG_DONTWAIT } else { 0 };
            return unsafe { readv_with_sender(state, fd, iov, count, nowait) };
        }
        if let Err(failed) = drop_refused_head(state, fd, flags & libc::RWF_NOWAIT != 0) {
            return failed;
        }
    }
    unsafe { real_preadv2(fd, iov, count, offset, flags, large) }
}

/// libc's `preadv2`, or `preadv64v2` when `large`.
#[inline(always)]
unsafe fn real_preadv2(
    fd: c_int,
    iov: *const iovec,
    count: c_int,
    offset: libc::off_t,
    flags: c_int,
    large: bool,
) -> ssize_t {
    if large {
        unsafe { real::preadv64v2(fd, iov, count, offset, flags) }
    } else {
        unsafe { real::preadv2(fd, iov, count, offset, flags) }
    }
}

/// `splice` from an unconnected UDP socket (no offset: a socket has none) moves one datagram
/// into the pipe: refused senders at the head of the queue are dropped first. (Another thread
/// receiving from the same socket between the two calls could let the next datagram through
/// unjudged: docs/security.md says so.)
///
/// # Safety
/// libc's contract for `splice`.
pub unsafe fn splice(
    fd_in: c_int,
    off_in: *mut libc::loff_t,
    fd_out: c_int,
    off_out: *mut libc::loff_t,
    len: size_t,
    flags: libc::c_uint,
) -> ssize_t {
    if off_in.is_null()
        && len > 0
        && may_judge(ACCEPT)
        && maybe_udp(fd_in)
        && let Some(state) = judged(fd_in, true)
        && let Err(failed) = drop_refused_head(state, fd_in, flags & libc::SPLICE_F_NONBLOCK != 0)
    {
        return failed;
    }
    unsafe { real::splice(fd_in, off_in, fd_out, off_out, len, flags) }
}

/// Peeks at the datagram at the head of `fd`'s queue (waiting for one unless `nowait` or the
/// socket is non-blocking) and drops it while its sender is refused. `Err`: the peek failed
/// (EAGAIN, EINTR, a timeout), as the read that follows would have.
fn drop_refused_head(state: &State, fd: c_int, nowait: bool) -> Result<(), ssize_t> {
    let flags = libc::MSG_PEEK | if nowait { libc::MSG_DONTWAIT } else { 0 };
    loop {
        // SAFETY: an all-zero sockaddr_storage is valid.
        let mut name: sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = STORAGE;
        let saved = errno::get();
        // SAFETY: a zero-length peek into no buffer; armr's address buffer of len bytes.
        let n = unsafe {
            real::recvfrom(
                fd,
                std::ptr::null_mut(),
                0,
                flags,
                (&mut name as *mut sockaddr_storage).cast(),
                &mut len,
            )
        };
        if n < 0 {
            return Err(n);
        }
        errno::set(saved);
        // SAFETY: the kernel wrote len bytes of the buffer (at most its size).
        let sender = unsafe {
            sockaddr::decode((&name as *const sockaddr_storage).cast(), len.min(STORAGE))
        };
        if !sender.is_some_and(|sender| sender_refused(state, sender)) {
            return Ok(());
        }
        drop_peeked(fd);
    }
}

/// `__read_chk`, which `_FORTIFY_SOURCE` programs call for `read`.
///
/// # Safety
/// libc's contract for `__read_chk`.
pub unsafe fn read_chk(fd: c_int, buf: *mut c_void, n: size_t, room: size_t) -> ssize_t {
    if n > room || !may_judge(ACCEPT) || get(fd) != UDP || n == 0 {
        return unsafe { real::__read_chk(fd, buf, n, room) };
    }
    unsafe { read_judged(fd, buf, n) }
}

/// `recv`: as `recvfrom` without an address; the sender is learnt with `recvmsg`.
///
/// # Safety
/// libc's contract for `recv`.
#[inline(always)]
pub unsafe fn recv(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int) -> ssize_t {
    if !may_judge(ACCEPT) || !maybe_udp(fd) {
        return unsafe { real::recv(fd, buf, n, flags) };
    }
    unsafe { recv_judged(fd, buf, n, flags) }
}

#[inline(never)]
unsafe fn recv_judged(fd: c_int, buf: *mut c_void, n: size_t, flags: c_int) -> ssize_t {
    match judged(fd, true) {
        Some(state) if flags & libc::MSG_ERRQUEUE == 0 => unsafe {
            recv_with_sender(state, fd, buf, n, flags)
        },
        _ => unsafe { real::recv(fd, buf, n, flags) },
    }
}

/// `__recv_chk`, which `_FORTIFY_SOURCE` programs call for `recv`.
///
/// # Safety
/// libc's contract for `__recv_chk`.
pub unsafe fn recv_chk(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    room: size_t,
    flags: c_int,
) -> ssize_t {
    if n > room || !may_judge(ACCEPT) || !maybe_udp(fd) {
        return unsafe { real::__recv_chk(fd, buf, n, room, flags) };
    }
    unsafe { recv_judged(fd, buf, n, flags) }
}

/// `recv` (or `read`, flags 0) of a judged socket, through `recvmsg` with armr's address buffer.
unsafe fn recv_with_sender(
    state: &State,
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    flags: c_int,
) -> ssize_t {
    // SAFETY: an all-zero sockaddr_storage is valid.
    let mut name: sockaddr_storage = unsafe { std::mem::zeroed() };
    let (n, _) = receive_judged(state, fd, flags, &mut name, |addr, len| {
        let mut iov = iovec {
            iov_base: buf,
            iov_len: n,
        };
        // SAFETY: an all-zero msghdr is valid.
        let mut msg: msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = addr.cast();
        msg.msg_namelen = *len;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        // SAFETY: msg describes the caller's buffer and armr's address buffer.
        let r = unsafe { real::recvmsg(fd, &mut msg, flags) };
        *len = msg.msg_namelen;
        r
    });
    n
}

/// `recvfrom`: on an unconnected UDP socket, a datagram from a sender `accept` rules refuse is
/// discarded and the call receives the next one (EAGAIN when non-blocking, `MSG_DONTWAIT` or
/// past `SO_RCVTIMEO`, as the kernel says).
///
/// # Safety
/// libc's contract for `recvfrom`.
#[inline(always)]
pub unsafe fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    flags: c_int,
    addr: *mut SockAddr,
    len: *mut socklen_t,
) -> ssize_t {
    if !may_judge(ACCEPT) || !maybe_udp(fd) {
        return unsafe { real::recvfrom(fd, buf, n, flags, addr, len) };
    }
    unsafe { recvfrom_judged(fd, buf, n, flags, addr, len) }
}

#[inline(never)]
unsafe fn recvfrom_judged(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    flags: c_int,
    addr: *mut SockAddr,
    len: *mut socklen_t,
) -> ssize_t {
    let Some(state) = judged(fd, true).filter(|_| flags & libc::MSG_ERRQUEUE == 0) else {
        return unsafe { real::recvfrom(fd, buf, n, flags, addr, len) };
    };
    // SAFETY: an all-zero sockaddr_storage is valid.
    let mut name: sockaddr_storage = unsafe { std::mem::zeroed() };
    let (got, full) = receive_judged(state, fd, flags, &mut name, |from, from_len| unsafe {
        real::recvfrom(fd, buf, n, flags, from, from_len)
    });
    if got >= 0 && !addr.is_null() {
        // As the kernel, once the datagram is taken and copied: no length is EFAULT, a negative
        // one EINVAL.
        if len.is_null() {
            errno::set(libc::EFAULT);
            return -1;
        }
        // SAFETY: len is the caller's, non-null.
        let room = unsafe { *len };
        if (room as c_int) < 0 {
            errno::set(libc::EINVAL);
            return -1;
        }
        unsafe {
            sockaddr::give_name((&name as *const sockaddr_storage).cast(), full, addr, room);
            *len = full;
        }
    }
    got
}

/// `__recvfrom_chk`, which `_FORTIFY_SOURCE` programs call for `recvfrom`.
///
/// # Safety
/// libc's contract for `__recvfrom_chk`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn recvfrom_chk(
    fd: c_int,
    buf: *mut c_void,
    n: size_t,
    room: size_t,
    flags: c_int,
    addr: *mut SockAddr,
    len: *mut socklen_t,
) -> ssize_t {
    if n > room || !may_judge(ACCEPT) || !maybe_udp(fd) {
        return unsafe { real::__recvfrom_chk(fd, buf, n, room, flags, addr, len) };
    }
    unsafe { recvfrom_judged(fd, buf, n, flags, addr, len) }
}

/// `recvmsg`: as `recvfrom`; the sender is received into armr's buffer and handed back in
/// `msg_name` (cut to `msg_namelen`, which is set to the full length, as the kernel does).
///
/// # Safety
/// libc's contract for `recvmsg`.
#[inline(always)]
pub unsafe fn recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    if !may_judge(ACCEPT) || msg.is_null() || !maybe_udp(fd) {
        return unsafe { real::recvmsg(fd, msg, flags) };
    }
    unsafe { recvmsg_judged(fd, msg, flags) }
}

#[inline(never)]
unsafe fn recvmsg_judged(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    let Some(state) = judged(fd, true).filter(|_| flags & libc::MSG_ERRQUEUE == 0) else {
        return unsafe { real::recvmsg(fd, msg, flags) };
    };
    // The kernel is given armr's own copy of the header, read once: another thread rewriting
    // the program's `msg_name` between armr's look and the kernel's read would have the sender
    // written elsewhere, and armr judge an address it never received.
    // SAFETY: msg is the caller's valid msghdr, as recvmsg requires.
    let mut own: msghdr = unsafe { msg.read() };
    let (their_name, their_room, control_room) =
        (own.msg_name, own.msg_namelen, own.msg_controllen);
    // A negative address length: the kernel fails with EINVAL before taking a datagram.
    if !their_name.is_null() && (their_room as c_int) < 0 {
        return unsafe { real::recvmsg(fd, msg, flags) };
    }
    // SAFETY: an all-zero sockaddr_storage is valid.
    let mut name: sockaddr_storage = unsafe { std::mem::zeroed() };
    let (got, full) = receive_judged(state, fd, flags, &mut name, |from, from_len| unsafe {
        own.msg_name = from.cast();
        own.msg_namelen = *from_len;
        // A discarded datagram's control messages are received again with the next.
        own.msg_controllen = control_room;
        let r = real::recvmsg(fd, &mut own, flags);
        *from_len = own.msg_namelen;
        r
    });
    // What the kernel writes back into a header, written into the caller's.
    unsafe {
        (*msg).msg_controllen = own.msg_controllen;
        (*msg).msg_flags = own.msg_flags;
        if got >= 0 && !their_name.is_null() {
            sockaddr::give_name(
                (&name as *const sockaddr_storage).cast(),
                full,
                their_name.cast(),
                their_room,
            );
            (*msg).msg_namelen = full;
        } else {
            (*msg).msg_namelen = their_room;
        }
    }
    got
}

/// At most this many messages per `recvmmsg` on a judged socket (armr's address buffers are on
/// its stack); fewer than asked is a result the call may always give.
const BATCH: usize = 64;

/// `recvmmsg`: the messages from refused senders are taken out, the later ones moved down into
/// their places; the call returns how many are left, and receives again when none is.
///
/// # Safety
/// libc's contract for `recvmmsg`.
#[inline(always)]
pub unsafe fn recvmmsg(
    fd: c_int,
    msgs: *mut mmsghdr,
    vlen: c_uint,
    flags: c_int,
    timeout: *mut timespec,
) -> c_int {
    if !may_judge(ACCEPT) || msgs.is_null() || !maybe_udp(fd) {
        return unsafe { real::recvmmsg(fd, msgs, vlen, flags, timeout) };
    }
    unsafe { recvmmsg_judged(fd, msgs, vlen, flags, timeout) }
}

#[inline(never)]
unsafe fn recvmmsg_judged(
    fd: c_int,
    msgs: *mut mmsghdr,
    vlen: c_uint,
    flags: c_int,
    timeout: *mut timespec,
) -> c_int {
    let Some(state) = judged(fd, true).filter(|_| flags & libc::MSG_ERRQUEUE == 0) else {
        return unsafe { real::recvmmsg(fd, msgs, vlen, flags, timeout) };
    };
    // A peeked message is judged, and dropped when refused, one at a time.
    let count = if flags & libc::MSG_PEEK != 0 {
        1
    } else {
        BATCH
    }
    .min(vlen as usize);
    // SAFETY: the caller's array holds vlen valid messages, as recvmmsg requires.
    let caller = unsafe { std::slice::from_raw_parts_mut(msgs, count) };
    // The kernel is given armr's own copy of the headers, read once (as in `recvmsg_judged`).
    // SAFETY: an all-zero mmsghdr is valid.
    let mut own: [mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    own[..count].copy_from_slice(caller);
    let msgs = &mut own[..count];
    let theirs: [(*mut c_void, socklen_t, size_t); BATCH] = std::array::from_fn(|i| {
        msgs.get(i).map_or((std::ptr::null_mut(), 0, 0), |m| {
            (
                m.msg_hdr.msg_name,
                m.msg_hdr.msg_namelen,
                m.msg_hdr.msg_controllen,
            )
        })
    });
    // SAFETY: an all-zero sockaddr_in6 is valid.
    let mut names: [sockaddr_in6; BATCH] = unsafe { std::mem::zeroed() };
    let name_room = std::mem::size_of::<sockaddr_in6>() as socklen_t;
    loop {
        for (i, m) in msgs.iter_mut().enumerate() {
            m.msg_hdr.msg_name = (&mut names[i] as *mut sockaddr_in6).cast();
            m.msg_hdr.msg_namelen = name_room;
            m.msg_hdr.msg_controllen = theirs[i].2;
        }
        let got = unsafe { real::recvmmsg(fd, msgs.as_mut_ptr(), count as c_uint, flags, timeout) };
        let after = errno::get();
        let mut kept = 0;
        for i in 0..usize::try_from(got).unwrap_or(0) {
            let len = msgs[i].msg_hdr.msg_namelen;
            // SAFETY: the kernel wrote len bytes of names[i] (at most its size).
            let sender = unsafe {
                sockaddr::decode(
                    (&names[i] as *const sockaddr_in6).cast(),
                    len.min(name_room),
                )
            };
            if sender.is_some_and(|sender| sender_refused(state, sender)) {
                if flags & libc::MSG_PEEK != 0 {
                    drop_peeked(fd);
                }
                continue;
            }
            if kept != i {
                let (done, rest) = msgs.split_at_mut(i);
                unsafe { move_message(&mut done[kept], &rest[0], theirs[kept].2) };
            }
            unsafe {
                sockaddr::give_name(
                    (&names[i] as *const sockaddr_in6).cast(),
                    len,
                    theirs[kept].0.cast(),
                    theirs[kept].1,
                );
            }
            msgs[kept].msg_hdr.msg_namelen = if theirs[kept].0.is_null() {
                theirs[kept].1
            } else {
                len
            };
            kept += 1;
        }
        // The messages not returned are as the caller left them.
        for (i, m) in msgs.iter_mut().enumerate() {
            m.msg_hdr.msg_name = theirs[i].0;
            if i >= kept {
                m.msg_hdr.msg_namelen = theirs[i].1;
                m.msg_hdr.msg_controllen = theirs[i].2;
            }
        }
        if got <= 0 || kept > 0 {
            caller.copy_from_slice(msgs);
            errno::set(after);
            return if got < 0 { got } else { kept as c_int };
        }
    }
}

/// Moves a received message into an earlier slot: its data into that slot's buffers, cut to
/// their size (`MSG_TRUNC` then set), its length, flags and control messages.
///
/// # Safety
/// Both are messages the kernel filled; `to`'s control buffer holds `control_room` bytes.
unsafe fn move_message(to: &mut mmsghdr, from: &mmsghdr, control_room: size_t) {
    let mut left = from.msg_len as usize;
    let mut copied = 0usize;
    let (mut src, mut src_off) = (0usize, 0usize);
    let (mut dst, mut dst_off) = (0usize, 0usize);
    while left > 0 && src < from.msg_hdr.msg_iovlen && dst < to.msg_hdr.msg_iovlen {
        // SAFETY: the indexes are within each message's iovec array.
        let (s, d) = unsafe {
            (
                &*from.msg_hdr.msg_iov.add(src),
                &*to.msg_hdr.msg_iov.add(dst),
            )
        };
        let n = left.min(s.iov_len - src_off).min(d.iov_len - dst_off);
        // SAFETY: within both buffers; the slots are distinct buffers, but memmove costs nothing
        // more.
        unsafe {
            std::ptr::copy(
                s.iov_base.cast::<u8>().add(src_off),
                d.iov_base.cast::<u8>().add(dst_off),
                n,
            )
        };
        left -= n;
        copied += n;
        src_off += n;
        dst_off += n;
        if src_off == s.iov_len {
            src += 1;
            src_off = 0;
        }
        if dst_off == d.iov_len {
            dst += 1;
            dst_off = 0;
        }
    }
    to.msg_len = copied as c_uint;
    to.msg_hdr.msg_flags = from.msg_hdr.msg_flags;
    if left > 0 {
        to.msg_hdr.msg_flags |= libc::MSG_TRUNC;
    }
    let control = from.msg_hdr.msg_controllen.min(control_room);
    if control > 0 && !to.msg_hdr.msg_control.is_null() {
        // SAFETY: within both control buffers.
        unsafe {
            std::ptr::copy(
                from.msg_hdr.msg_control.cast::<u8>(),
                to.msg_hdr.msg_control.cast::<u8>(),
                control,
            )
        };
    }
    if control < from.msg_hdr.msg_controllen {
        to.msg_hdr.msg_flags |= libc::MSG_CTRUNC;
    }
    to.msg_hdr.msg_controllen = control;
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the table is process-wide, and tests run in parallel.
    #[test]
    fn the_table_follows_sockets_made_connected_copied_and_closed() {
        let (inet, unix) = (libc::AF_INET, libc::AF_UNIX);
        remember(3, created(inet, libc::SOCK_DGRAM));
        remember(4, created(inet, libc::SOCK_STREAM));
        remember(5, created(unix, libc::SOCK_DGRAM));
        remember(70_000, created(inet, libc::SOCK_DGRAM)); // beyond the table: unknown
        assert_eq!(
            (get(3), get(4), get(5), get(70_000)),
            (UDP, STREAM, OTHER, UNKNOWN)
        );
        set(3, UDP_CONNECTED);
        copied(3, 6);
        assert_eq!(get(6), UDP_CONNECTED);
        distrust_connected();
        assert_eq!((get(3), get(6)), (UDP, UDP));
        copied(9, 6); // an unknown descriptor copied over a known one
        assert_eq!(get(6), UNKNOWN);
        listening(7);
        forget(7);
        forget(-1);
        assert_eq!(get(7), UNKNOWN);
        forget_range(3, 4);
        assert_eq!((get(3), get(4), get(5)), (UNKNOWN, UNKNOWN, OTHER));

        // Sweeps visit the blocks that hold known descriptors, wherever they are.
        remember(60_000, created(inet, libc::SOCK_DGRAM));
        set(60_001, UDP_CONNECTED);
        distrust_connected();
        assert_eq!(get(60_001), UDP);
        forget_range(100, usize::MAX);
        assert_eq!(
            (get(5), get(60_000), get(60_001)),
            (OTHER, UNKNOWN, UNKNOWN)
        );
        assert_eq!(
            BLOCKS[60_000 / BLOCK / 64].load(Relaxed) & (1 << (60_000 / BLOCK % 64)),
            0
        );
    }
}
