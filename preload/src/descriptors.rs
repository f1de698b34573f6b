//! The descriptor bookkeeping: the hooks that create, copy, close or share descriptors
//! (`socket`, `close`, `dup`, `dup2`, `dup3`, `fclose`, `close_range`, `closefrom`,
//! `posix_spawn`, `posix_spawnp`, `system`, `popen`, `fork`), and the notes that `bind` and
//! descriptors sent over a unix socket leave. They judge nothing and change nothing the calls
//! do: they keep armr's two tables of descriptors true, `unbound` (the TCP sockets known to be
//! unbound, with `bind(client:)` rules) and `receive`'s (what each descriptor is, with `accept`
//! or `bind(server:)` rules). Each clears marks before the real call, and only when the policy
//! has rules that keep a table (otherwise no descriptor is ever marked).

use crate::state::{self, kind_bit};
use crate::{errno, real, receive, sink, sockaddr, unbound};
use armr_core::policy::EventKind;
use libc::{
    FILE, c_char, c_int, c_uint, msghdr, pid_t, posix_spawn_file_actions_t, posix_spawnattr_t,
    sockaddr as SockAddr, socklen_t,
};

/// A `bind` through `fd` to the address at `addr` is about to be made: a mark must never
/// outlive the socket's being unbound, so this runs before the bind, and whether or not armr is
/// inside its own work.
///
/// # Safety
/// `addr` is null or points to `len` readable bytes.
#[inline(always)]
pub unsafe fn binding(fd: c_int, addr: *const SockAddr, len: socklen_t) {
    if state::judges(EventKind::BindClient)
        && unsafe { sockaddr::family(addr, len) } != Some(libc::AF_UNIX)
    {
        unbound::binding(fd);
    }
}

/// `msg` is about to be sent: descriptors it passes (`SCM_RIGHTS`) may be bound by their
/// receiver, so no socket is known to be unbound any more. The control messages are read only
/// when sockets are tracked.
///
/// # Safety
/// `msg` is null or a valid `msghdr`.
#[inline(always)]
pub unsafe fn sending(msg: *const msghdr) {
    if state::judges(EventKind::BindClient) && unsafe { sockaddr::passes_descriptors(msg) } {
        unbound::forget_all();
    }
}

/// [`sending`] for the first `count` messages of a `sendmmsg`.
///
/// # Safety
/// `msgs` is null or holds `count` valid messages.
#[inline(always)]
pub unsafe fn sending_many(msgs: *const libc::mmsghdr, count: usize) {
    if state::judges(EventKind::BindClient)
        && !msgs.is_null()
        && (0..count).any(|i| unsafe { sockaddr::passes_descriptors(&(*msgs.add(i)).msg_hdr) })
    {
        unbound::forget_all();
    }
}

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

/// `socket`: with `bind(client:)` rules, a new TCP socket is known to be unbound and a new UDP
/// socket to be one (`unbound`); with `accept` rules, armr keeps its type (`receive`).
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
unsafe fn socket_tracked(judged: u16, domain: c_int, kind: c_int, protocol: c_int) -> c_int {
    // Worked out before the call: only the two answers live across it.
    let mark = if judged & u16::from(kind_bit(EventKind::BindClient)) != 0 {
        unbound::mark_for(domain, kind & 0xf, protocol)
    } else {
        0
    };
    let known = if judged & u16::from(kind_bit(EventKind::Accept)) != 0 {
        receive::created(domain, kind & 0xf)
    } else {
        receive::Known::NOTHING
    };
    let fd = unsafe { real::socket(domain, kind, protocol) };
    if fd >= 0 {
        if mark != 0 {
            unbound::remember(fd, mark);
        }
        receive::remember(fd, known);
    }
    fd
}

/// `close`.
///
/// # Safety
/// libc's contract for `close`.
#[inline(always)]
pub unsafe fn close(fd: c_int) -> c_int {
    closing(fd);
    unsafe { real::close(fd) }
}

/// `fd` is about to be closed or replaced: every table forgets it, and the sink hears of it.
#[inline(always)]
fn closing(fd: c_int) {
    if forgets() {
        freed(fd);
    }
    sink::freeing(fd);
}

/// True when a descriptor closed or replaced must be forgotten: some rule keeps a table of
/// descriptors, or a send was judged by its socket's type (`receive`). One load and one test.
#[inline(always)]
fn forgets() -> bool {
    let judged = state::judged_kinds();
    state::loaded_any(
        judged,
        kind_bit(EventKind::BindClient)
            | kind_bit(EventKind::Accept)
            | kind_bit(EventKind::BindServer),
    ) || judged & state::SENDS_TYPED != 0
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
    if copy >= 0 && receive::kept() {
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
    sink::freeing(new);
    let copy = unsafe {
        match flags {
            None => real::dup2(old, new),
            Some(flags) => real::dup3(old, new, flags),
        }
    };
    if copy >= 0 && receive::kept() {
        receive::copied(old, new);
    }
    copy
}

/// `fclose`: closes the stream's descriptor (a socket opened with `fdopen`, say) inside libc.
///
/// # Safety
/// libc's contract for `fclose`.
pub unsafe fn fclose(stream: *mut FILE) -> c_int {
    if !stream.is_null() {
        let saved = errno::get();
        // SAFETY: stream is a valid stream, as fclose requires.
        closing(unsafe { libc::fileno(stream) });
        errno::set(saved);
    }
    unsafe { real::fclose(stream) }
}

/// `close_range`.
///
/// # Safety
/// libc's contract for `close_range`.
pub unsafe fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    if flags as c_uint & libc::CLOSE_RANGE_CLOEXEC == 0 {
        sink::freeing_range(
            c_int::try_from(first).unwrap_or(c_int::MAX),
            c_int::try_from(last).unwrap_or(c_int::MAX),
        );
    }
    if state::judges(EventKind::BindClient) {
        unbound::forget_range(first as usize, last as usize);
    }
    // With CLOSE_RANGE_CLOEXEC the descriptors stay open (until an exec): what armr knows of
    // them still holds, and a UDP socket forgotten would be read unjudged.
    if receive::kept() && flags as c_uint & libc::CLOSE_RANGE_CLOEXEC == 0 {
        receive::forget_range(first as usize, last as usize);
    }
    unsafe { real::close_range(first, last, flags) }
}

/// `closefrom`.
///
/// # Safety
/// libc's contract for `closefrom`.
pub unsafe fn closefrom(first: c_int) {
    sink::freeing_range(first, c_int::MAX);
    if state::judges(EventKind::BindClient) {
        unbound::forget_range(first.max(0) as usize, usize::MAX);
    }
    if receive::kept() {
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
