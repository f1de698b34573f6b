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
//! Only descriptors below [`TRACKED`] are marked; a socket numbered above is always asked. Marks
//! are bytes with plain loads and stores: no lock, no allocation, nothing a forked child could
//! inherit half-taken. What is left outside (a direct system call, `vfork`/`clone` without exec
//! hooks) is escaping armr on purpose: docs/security.md lists it.

use libc::c_int;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::Relaxed};

/// Descriptors `0..TRACKED` can be marked (64 KiB of zeroed memory, resident only where used).
pub const TRACKED: usize = 65_536;

static MARKS: [AtomicU8; TRACKED] = [const { AtomicU8::new(0) }; TRACKED];

/// One past the highest descriptor ever marked: how far `forget_all` has to clear.
static HIGH: AtomicUsize = AtomicUsize::new(0);

fn slot(fd: c_int) -> Option<&'static AtomicU8> {
    MARKS.get(usize::try_from(fd).ok()?)
}

/// True for a TCP socket created by `socket` that nothing can have bound since.
#[inline]
pub fn is_unbound(fd: c_int) -> bool {
    slot(fd).is_some_and(|mark| mark.load(Relaxed) != 0)
}

/// `fd` was just returned by `socket` for a TCP socket.
pub fn remember(fd: c_int) {
    if let Some(mark) = slot(fd) {
        mark.store(1, Relaxed);
        let next = fd as usize + 1;
        if HIGH.load(Relaxed) < next {
            HIGH.fetch_max(next, Relaxed);
        }
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

/// Descriptors `first..=last` are closed.
pub fn forget_range(first: usize, last: usize) {
    let end = HIGH.load(Relaxed).min(last.saturating_add(1));
    for mark in MARKS.get(first..end).unwrap_or(&[]) {
        mark.store(0, Relaxed);
    }
}

/// Every socket may now be shared with someone who can bind it.
pub fn forget_all() {
    forget_range(0, usize::MAX);
}

/// A bind through `fd` (to an IP address): its own mark goes; when `fd` is not marked, it may be
/// a copy of a marked socket, so every mark goes.
pub fn binding(fd: c_int) {
    if is_unbound(fd) {
        forget(fd);
    } else {
        forget_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the table is process-wide, and tests run in parallel.
    #[test]
    fn marks_are_set_by_socket_and_cleared_by_everything_that_may_bind_or_share() {
        remember(3);
        remember(4);
        remember(70_000); // beyond the table: never marked, always asked
        assert!(is_unbound(3) && is_unbound(4));
        assert!(!is_unbound(70_000) && !is_unbound(-1) && !is_unbound(5));

        binding(3); // through the marked descriptor: only its own mark
        assert!(!is_unbound(3) && is_unbound(4));

        remember(3);
        binding(5); // through another descriptor, maybe a copy: every mark
        assert!(!is_unbound(3) && !is_unbound(4));

        remember(10);
        remember(11);
        remember(12);
        forget(11);
        forget(-1);
        assert!(is_unbound(10) && !is_unbound(11) && is_unbound(12));
        forget_range(12, 20);
        assert!(is_unbound(10) && !is_unbound(12));
        forget_all();
        assert!(!is_unbound(10));
    }
}
