//! TCP sockets armr knows to be unbound, so that their `connect` needs no question to the kernel.
//!
//! A `bind(client:)` rule judges the local address a client bound itself. To tell such a socket
//! from one the kernel binds during `connect`, armr asks the socket (`getsockname`: one system
//! call per connect, see `sockaddr::explicit_client_bind`). This table lets `connect` skip the
//! question for a socket that cannot have been bound: one the program created with `socket` in
//! this process and that nothing has since been able to bind.
//!
//! A mark is only ever a shortcut. Clearing one is always safe (the socket is asked again), so
//! every event that could let the socket be bound behind armr's back clears marks:
//! - `bind` (and `bindresvport`) through the marked descriptor clears its mark; an IP bind through
//!   any other descriptor clears them all, as it may be a copy (`dup`, `fcntl(F_DUPFD)`, a
//!   descriptor received over a unix socket) of a marked one;
//! - `close`, `fclose`, `close_range`, `closefrom` clear the numbers they free, and `dup2`/`dup3`
//!   the number they replace, so that a mark never outlives its socket;
//! - `fork` (an atfork handler), `posix_spawn`, `posix_spawnp`, `system`, `popen`, and sending
//!   descriptors over a unix socket (`SCM_RIGHTS`) clear them all: another process may bind the
//!   shared socket.
//!
//! The table also marks the IP datagram sockets `socket` made: their connect never needs the
//! question either (`bind(client:)` judges a datagram socket at its `bind`, and a socket's type
//! never changes), whatever binds or shares them; only freeing the number clears that mark.
//!
//! Only descriptors below [`TRACKED`] are marked; a socket numbered above is always asked. Marks
//! are words with plain loads and stores: no lock, no allocation, nothing a forked child could
//! inherit half-taken. Forgetting every mark costs the same however many descriptors the process
//! ever opened: a mark is valid only while it holds the current generation, and forgetting them
//! all starts the next generation. What is left outside (a direct system call, `vfork`/`clone`
//! without exec hooks) is escaping armr on purpose: docs/security.md lists it.

use libc::c_int;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed, Ordering::SeqCst};

/// Descriptors `0..TRACKED` can be marked (256 KiB of zeroed memory, resident only where used).
pub const TRACKED: usize = 65_536;

/// 0: no mark. A generation of [`UNBOUND`] (1..[`LAST`]): a TCP socket known to be unbound while
/// that generation lasts. [`DATAGRAM`] | a generation of [`FREED`]: an IP datagram socket.
static MARKS: [AtomicU32; TRACKED] = [const { AtomicU32::new(0) }; TRACKED];

/// The generation of unbound marks: every mark of an older one is forgotten.
static UNBOUND: AtomicU32 = AtomicU32::new(1);
/// The generation of datagram marks, which only freeing numbers ends (a large `close_range`).
static FREED: AtomicU32 = AtomicU32::new(1);
const DATAGRAM: u32 = 1 << 31;
/// A generation that has reached this marks nothing more (after 2^31 - 2 generations: never in
/// practice, and still correct).
const LAST: u32 = DATAGRAM - 1;
/// A range of at most this many numbers is cleared one by one; a larger one ends generations.
const SMALL_RANGE: usize = 64;

fn slot(fd: c_int) -> Option<&'static AtomicU32> {
    MARKS.get(usize::try_from(fd).ok()?)
}

/// What a connect from `fd` needs to know: no question about its local address when it is a TCP
/// socket known to be unbound, or a datagram socket.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mark {
    Unknown,
    UnboundStream,
    Datagram,
}

/// The mark of `fd`.
#[inline(always)]
pub fn mark(fd: c_int) -> Mark {
    let Some(slot) = slot(fd) else {
        return Mark::Unknown;
    };
    // The generations are never 0 (no mark): no test of its own for it.
    let mark = slot.load(Relaxed);
    if mark == UNBOUND.load(Relaxed) {
        Mark::UnboundStream
    } else if mark & DATAGRAM != 0 && mark == DATAGRAM | FREED.load(Relaxed) {
        Mark::Datagram
    } else {
        Mark::Unknown
    }
}

/// True for a TCP socket created by `socket` that nothing can have bound since.
#[cfg(test)]
fn is_unbound(fd: c_int) -> bool {
    mark(fd) == Mark::UnboundStream
}

/// The mark `socket` gives a new socket of `domain`, `kind` (flags taken off) and `protocol`
/// (0: none), worked out before the socket is made: a fork or bind that forgets marks while it is
/// being made leaves its mark already forgotten.
#[inline(always)]
pub fn mark_for(domain: c_int, kind: c_int, protocol: c_int) -> u32 {
    if !matches!(domain, libc::AF_INET | libc::AF_INET6) {
        return 0;
    }
    if kind == libc::SOCK_STREAM && matches!(protocol, 0 | libc::IPPROTO_TCP) {
        let unbound = UNBOUND.load(SeqCst);
        if unbound < LAST { unbound } else { 0 }
    } else if kind == libc::SOCK_DGRAM {
        let freed = FREED.load(SeqCst);
        if freed < LAST { DATAGRAM | freed } else { 0 }
    } else {
        0
    }
}

/// `socket` returned `fd`, whose mark [`mark_for`] gave (not 0).
#[inline(always)]
pub fn remember(fd: c_int, mark: u32) {
    if let Some(slot) = slot(fd) {
        slot.store(mark, Relaxed);
    }
}

/// `fd` is closed or replaced.
#[inline]
pub fn forget(fd: c_int) {
    // Read first: most descriptors closed are not marked sockets, and their bytes stay untouched.
    if let Some(mark) = slot(fd)
        && mark.load(Relaxed) != 0
    {
        mark.store(0, Relaxed);
    }
}

/// Descriptors `first..=last` are closed: a few are cleared one by one; more end both
/// generations (clearing marks outside the range too, which is always safe).
pub fn forget_range(first: usize, last: usize) {
    if first >= TRACKED || last < first {
        return;
    }
    let last = last.min(TRACKED - 1);
    if last - first < SMALL_RANGE {
        for mark in &MARKS[first..=last] {
            if mark.load(Relaxed) != 0 {
                mark.store(0, Relaxed);
            }
        }
        return;
    }
    next_generation(&FREED);
    next_generation(&UNBOUND);
}

fn next_generation(generation: &AtomicU32) {
    let _ = generation.fetch_update(SeqCst, SeqCst, |g| (g < LAST).then_some(g + 1));
}

/// Every socket may now be shared with someone who can bind it: no TCP socket is known to be
/// unbound any more (datagram sockets stay what they are).
pub fn forget_all() {
    next_generation(&UNBOUND);
}

/// A bind through `fd` (to an IP address): its own mark goes; when `fd` is not marked, it may be
/// a copy of a marked socket, so every mark goes. A datagram socket stays one.
pub fn binding(fd: c_int) {
    match mark(fd) {
        Mark::UnboundStream => forget(fd),
        Mark::Datagram => {}
        Mark::Unknown => forget_all(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the table is process-wide, and tests run in parallel.
    #[test]
    fn marks_are_set_by_socket_and_cleared_by_everything_that_may_bind_or_share() {
        let tcp = || mark_for(libc::AF_INET, libc::SOCK_STREAM, 0);
        let udp = || mark_for(libc::AF_INET6, libc::SOCK_DGRAM, 0);
        assert_eq!(mark_for(libc::AF_UNIX, libc::SOCK_STREAM, 0), 0);
        remember(3, tcp());
        remember(4, tcp());
        remember(70_000, tcp()); // beyond the table: never marked, always asked
        assert!(is_unbound(3) && is_unbound(4));
        assert!(!is_unbound(70_000) && !is_unbound(-1) && !is_unbound(5));

        binding(3); // through the marked descriptor: only its own mark
        assert!(!is_unbound(3) && is_unbound(4));

        remember(3, tcp());
        binding(5); // through another descriptor, maybe a copy: every mark
        assert!(!is_unbound(3) && !is_unbound(4));

        remember(10, tcp());
        remember(11, tcp());
        remember(12, tcp());
        forget(11);
        forget(-1);
        assert!(is_unbound(10) && !is_unbound(11) && is_unbound(12));
        forget_range(12, 20);
        assert!(is_unbound(10) && !is_unbound(12));
        forget_all();
        assert!(!is_unbound(10));

        // A mark made with generations read before a forgetting is forgotten with it.
        let g = tcp();
        forget_all();
        remember(13, g);
        assert!(!is_unbound(13));

        // Datagram sockets: kept through binds and sharing, cleared by freeing their number.
        remember(20, udp());
        remember(21, udp());
        remember(22, tcp());
        binding(20);
        forget_all();
        assert_eq!(
            (mark(20), mark(21), mark(22)),
            (Mark::Datagram, Mark::Datagram, Mark::Unknown)
        );
        forget(21);
        assert_eq!(mark(21), Mark::Unknown);
        // A large range (closefrom) ends every generation, whatever the highest number.
        remember(30, tcp());
        remember(60_000, udp());
        forget_range(100, usize::MAX);
        assert_eq!(
            (mark(20), mark(30), mark(60_000)),
            (Mark::Unknown, Mark::Unknown, Mark::Unknown)
        );
    }
}
