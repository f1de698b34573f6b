//! Where event lines go, without ever holding the program up for more than a few milliseconds.
//!
//! One system call per event and no lock: a line is written whole or not at all. A destination
//! that is down, full or slow makes armr drop the event and count it; the count is reported once
//! the destination takes events again, or at exit.
//!
//! armr's descriptor can be closed by the program (daemons close every descriptor they did not
//! open) and its number reused for a file of the program's. The hooks that free or replace a
//! descriptor (`close`, `fclose`, `close_range`, `closefrom`, the target of `dup2`/`dup3`) note
//! when it is armr's ([`freeing`]); the descriptor's identity (device and inode) is then checked
//! before the next write, and at least once a second anyway (for a close armr cannot see: a direct
//! system call), so that armr never writes into someone else's file; a lost descriptor is
//! reopened. An event otherwise costs one system call, its write.
//!
//! A `file:` that is a FIFO is opened without waiting for a reader (no reader: the destination is
//! down) and written without waiting (a full pipe drops the event). A write to a pipe whose reader
//! is gone, or to a standard error that is a closed pipe or socket, raises no SIGPIPE: the signal
//! is blocked on the thread around the write and taken back (see [`without_sigpipe`]).
//!
//! armr's own socket calls here (connecting, sending) go through the functions the user of the
//! sink gives ([`Calls`]): the preload library passes libc's real functions, never its exported
//! hooks (no rule judges them, and no reentrancy guard is needed, so a signal handler that
//! interrupts the sending is judged like any other caller); the supervisor passes libc's own
//! ([`Libc`]).

use crate::errno;
use armr_core::config::{LogFormat, LogTarget, MAX_LOG_DESTINATIONS};
use libc::{c_int, sockaddr, socklen_t};
use std::ffi::CString;
use std::marker::PhantomData;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};

/// How long a write to a slow standard error may wait before the event is dropped.
const STDERR_WAIT_MS: c_int = 5;
/// How long a TCP connection attempt may wait for handshakes, over all the destination's
/// addresses, before the event is dropped.
const CONNECT_WAIT_MS: u64 = 5;
/// At most one reconnection attempt per this many milliseconds while the destination is down.
const RETRY_EVERY_MS: u64 = 1000;

#[derive(Debug)]
enum Reopen {
    /// The program's own standard error: never reopened, never identity-checked.
    Stderr,
    File(CString),
    Unix(CString),
    /// Every address the name resolved to, in the resolver's order.
    Udp(Vec<SocketAddr>),
    Tcp(Vec<SocketAddr>),
}

/// The socket calls the sink makes for its own connection: the preload library's are libc's real
/// functions, found past its hooks.
pub trait Calls: 'static {
    /// `connect`.
    ///
    /// # Safety
    /// libc's contract for `connect`.
    unsafe fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int;
    /// `sendto`.
    ///
    /// # Safety
    /// libc's contract for `sendto`.
    unsafe fn sendto(
        fd: c_int,
        buf: *const libc::c_void,
        n: usize,
        flags: c_int,
        addr: *const sockaddr,
        len: socklen_t,
    ) -> isize;
    /// `sendmsg`.
    ///
    /// # Safety
    /// libc's contract for `sendmsg`.
    unsafe fn sendmsg(fd: c_int, msg: *const libc::msghdr, flags: c_int) -> isize;
}

/// libc's functions, for a process with no hooks (the supervisor).
#[derive(Debug)]
pub struct Libc;

impl Calls for Libc {
    unsafe fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
        unsafe { libc::connect(fd, addr, len) }
    }
    unsafe fn sendto(
        fd: c_int,
        buf: *const libc::c_void,
        n: usize,
        flags: c_int,
        addr: *const sockaddr,
        len: socklen_t,
    ) -> isize {
        unsafe { libc::sendto(fd, buf, n, flags, addr, len) }
    }
    unsafe fn sendmsg(fd: c_int, msg: *const libc::msghdr, flags: c_int) -> isize {
        unsafe { libc::sendmsg(fd, msg, flags) }
    }
}

/// One destination of `ARMR_LOG`: its descriptor, its dropped count, its reconnections, apart
/// from every other destination's (none waits for or drops because of another).
#[derive(Debug)]
pub struct Destination<C: Calls> {
    reopen: Reopen,
    /// Its place in [`WATCHED`] and [`DISTURBED`].
    slot: usize,
    fd: AtomicI32,
    /// Device and inode of `fd` when armr opened it (device `u64::MAX`: unknown).
    device: AtomicU64,
    inode: AtomicU64,
    reopening: AtomicBool,
    /// Set when the connection failed: the next event (at most once a second) reconnects.
    broken: AtomicBool,
    /// Set when a write to the file was cut short (a full disk): the file ends mid-line.
    torn: AtomicBool,
    /// Set when `fd` is a pipe (a `file:` naming a FIFO): its writes may raise SIGPIPE.
    pipe: AtomicBool,
    last_attempt_ms: AtomicU64,
    /// When the identity of `fd` was last checked (monotonic milliseconds).
    checked_ms: AtomicU64,
    dropped: AtomicU64,
    /// The index of the address a connection attempt starts with: the one that last worked, or
    /// the next one after a failure, so that every address gets its turn.
    address: AtomicUsize,
    calls: PhantomData<C>,
}

/// What became of a line.
pub enum Sent {
    /// Written; `dropped` events were lost before it (now reported by the caller).
    Written {
        dropped: u64,
    },
    Dropped,
}

/// The descriptors armr writes events to and checks by identity (-1: none, or standard error,
/// which is the program's own), one per destination, for the hooks that free descriptors to
/// compare with.
static WATCHED: [AtomicI32; MAX_LOG_DESTINATIONS] =
    [const { AtomicI32::new(-1) }; MAX_LOG_DESTINATIONS];
/// Set when the program may have closed or replaced a [`WATCHED`] descriptor since its identity
/// was checked.
static DISTURBED: [AtomicBool; MAX_LOG_DESTINATIONS] =
    [const { AtomicBool::new(true) }; MAX_LOG_DESTINATIONS];
/// A bit per descriptor number modulo 64 that is or was [`WATCHED`]: most descriptors freed
/// are none of armr's, and [`freeing`] answers them with one test. Never cleared: a stale bit
/// costs only the comparisons it would have saved.
static WATCHED_BITS: AtomicU64 = AtomicU64::new(0);
/// The next destination's slot (a process opens its destinations once; a reload keeps them).
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);
/// How long a descriptor nothing disturbed is trusted without a check of its identity.
const CHECK_EVERY_MS: u64 = 1000;

/// `fd` is about to be closed or replaced by the program (a hook's note: one load and a test;
/// `close(-1)` while nothing is watched costs one needless check of identity, no more).
#[inline(always)]
pub fn freeing(fd: c_int) {
    if WATCHED_BITS.load(Ordering::Relaxed) & watched_bit(fd) == 0 {
        return;
    }
    for (watched, disturbed) in WATCHED.iter().zip(&DISTURBED) {
        if fd == watched.load(Ordering::Relaxed) {
            disturbed.store(true, Ordering::Relaxed);
        }
    }
}

/// `fd`'s bit in [`WATCHED_BITS`].
#[inline(always)]
fn watched_bit(fd: c_int) -> u64 {
    1 << (fd as u32 & 63)
}

/// Descriptors `first..=last` are about to be closed.
pub fn freeing_range(first: c_int, last: c_int) {
    for (watched, disturbed) in WATCHED.iter().zip(&DISTURBED) {
        let fd = watched.load(Ordering::Relaxed);
        if fd >= 0 && first <= fd && fd <= last {
            disturbed.store(true, Ordering::Relaxed);
        }
    }
}

/// Monotonic milliseconds (for waits and retries; never goes back).
pub fn now_ms() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: t is writable.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1000 + t.tv_nsec as u64 / 1_000_000
}

/// Runs `write` (a write to a pipe or stream socket) with SIGPIPE blocked on this thread, and
/// takes back the SIGPIPE it raised: a reader that went away never kills the program. A SIGPIPE
/// that was already pending is the program's and stays pending. errno is `write`'s.
fn without_sigpipe(write: impl FnOnce() -> isize) -> isize {
    // SAFETY: plain signal-mask calls on sets armr owns; all are async-signal-safe.
    unsafe {
        let mut pipe: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut pipe);
        libc::sigaddset(&mut pipe, libc::SIGPIPE);
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, &pipe, &mut old);
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending);
        let was_pending = libc::sigismember(&pending, libc::SIGPIPE) == 1;
        let n = write();
        let e = errno::get();
        if n < 0 && e == libc::EPIPE && !was_pending {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&pipe, std::ptr::null_mut(), &zero);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        errno::set(e);
        n
    }
}

/// What armr keeps of an open descriptor: its identity, device and inode in full (no two open
/// files share both), and whether it is a pipe or FIFO (its writes may raise SIGPIPE).
struct Opened {
    identity: (u64, u64),
    pipe: bool,
}

fn opened(fd: c_int) -> Option<Opened> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is writable.
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some(Opened {
        identity: (st.st_dev as u64, st.st_ino as u64),
        pipe: st.st_mode & libc::S_IFMT == libc::S_IFIFO,
    })
}

/// Every address of `host`, in the resolver's order (the order a TCP client tries them in).
fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let mut addresses: Vec<SocketAddr> = Vec::new();
    for address in (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
    {
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    if addresses.is_empty() {
        return Err(format!("`{host}` has no address"));
    }
    Ok(addresses)
}

/// A non-blocking socket of armr's connected to `addr`, waiting at most `wait_ms` for a TCP
/// handshake; -1 when it fails or does not complete in time.
fn connect_ip<C: Calls>(addr: &SocketAddr, stream: bool, wait_ms: u64) -> c_int {
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let kind = if stream {
        libc::SOCK_STREAM
    } else {
        libc::SOCK_DGRAM
    };
    let (sa, len) = c_sockaddr(addr);
    // SAFETY: plain socket calls on a socket armr owns. The real connect, not the hook: no rule
    // judges armr's own connection.
    unsafe {
        let fd = libc::socket(family, kind | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK, 0);
        if fd < 0 {
            return -1;
        }
        let r = C::connect(fd, &sa as *const _ as *const sockaddr, len);
        let connected = r == 0
            || (errno::get() == libc::EINPROGRESS && {
                let mut p = libc::pollfd {
                    fd,
                    events: libc::POLLOUT,
                    revents: 0,
                };
                libc::poll(&mut p, 1, wait_ms as c_int) == 1
                    && p.revents & (libc::POLLERR | libc::POLLHUP) == 0
            });
        if !connected {
            libc::close(fd);
            return -1;
        }
        fd
    }
}

/// The C form of an IP socket address.
fn c_sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, socklen_t) {
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as socklen_t)
}

fn unix_sockaddr(path: &CString) -> Option<(libc::sockaddr_un, socklen_t)> {
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_bytes();
    if bytes.len() >= sun.sun_path.len() {
        return None;
    }
    for (d, s) in sun.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    Some((sun, std::mem::size_of::<libc::sockaddr_un>() as socklen_t))
}

impl<C: Calls> Destination<C> {
    /// Prepares the destination. Only a value that can never work is an error (a hostname that
    /// does not resolve, a file that cannot be opened); a syslog daemon that is down is not.
    pub fn open(target: &LogTarget) -> Result<Destination<C>, String> {
        let cstring = |p: &std::path::Path| {
            CString::new(p.as_os_str().as_encoded_bytes())
                .map_err(|_| format!("{}: a NUL byte in the path", p.display()))
        };
        let reopen = match target {
            LogTarget::Stderr => Reopen::Stderr,
            LogTarget::File(p) => Reopen::File(cstring(p)?),
            LogTarget::Syslog(p) => {
                let c = cstring(p)?;
                if unix_sockaddr(&c).is_none() {
                    // sun_path holds 108 bytes with the terminating NUL.
                    return Err(format!(
                        "{}: the socket path is {} bytes, more than the 107 a unix socket \
                         address holds: give the daemon's socket a shorter path (such as \
                         /run/armr/log.sock)",
                        p.display(),
                        c.as_bytes().len()
                    ));
                }
                Reopen::Unix(c)
            }
            LogTarget::Udp(h, p) => Reopen::Udp(resolve(h, *p)?),
            LogTarget::Tcp(h, p) => Reopen::Tcp(resolve(h, *p)?),
            LogTarget::Many(_) => return Err("a list is opened by `Sink::open`".to_string()),
        };
        let sink = Destination {
            reopen,
            slot: NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % MAX_LOG_DESTINATIONS,
            fd: AtomicI32::new(-1),
            device: AtomicU64::new(u64::MAX),
            inode: AtomicU64::new(0),
            reopening: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            torn: AtomicBool::new(false),
            pipe: AtomicBool::new(false),
            last_attempt_ms: AtomicU64::new(0),
            checked_ms: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            address: AtomicUsize::new(0),
            calls: PhantomData,
        };
        match &sink.reopen {
            Reopen::Stderr => sink.fd.store(2, Ordering::Relaxed),
            Reopen::File(path) => {
                let fd = sink.connect();
                // A FIFO without a reader is a destination that is down, not a wrong value.
                if fd < 0 && errno::get() != libc::ENXIO {
                    return Err(format!(
                        "{}: cannot open: {}",
                        path.to_string_lossy(),
                        std::io::Error::from_raw_os_error(errno::get())
                    ));
                }
            }
            _ => {
                sink.connect();
            }
        }
        Ok(sink)
    }

    /// Takes the count of dropped events, to report it.
    pub fn take_dropped(&self) -> u64 {
        self.dropped.swap(0, Ordering::Relaxed)
    }

    /// After `fork`, in the child: a reconnection the parent was making, and the events the
    /// parent dropped, are not the child's.
    pub fn after_fork(&self) {
        self.reopening.store(false, Ordering::Relaxed);
        self.dropped.store(0, Ordering::Relaxed);
    }

    /// True when `fd` is still the file or socket armr opened.
    fn is_mine(&self, fd: c_int) -> bool {
        let device = self.device.load(Ordering::Relaxed);
        device != u64::MAX
            && opened(fd).map(|o| o.identity) == Some((device, self.inode.load(Ordering::Relaxed)))
    }

    /// Opens or connects a new descriptor and makes it the sink's; returns it, or -1.
    fn connect(&self) -> c_int {
        let fd = match &self.reopen {
            Reopen::Stderr => return 2,
            // O_NONBLOCK: a FIFO opens at once (ENXIO without a reader) and a full one refuses a
            // write instead of stalling the program; a regular file ignores it.
            // SAFETY: path is NUL-terminated.
            Reopen::File(path) => unsafe {
                libc::open(
                    path.as_ptr(),
                    libc::O_WRONLY
                        | libc::O_APPEND
                        | libc::O_CREAT
                        | libc::O_CLOEXEC
                        | libc::O_NONBLOCK
                        | libc::O_NOCTTY,
                    0o640,
                )
            },
            Reopen::Unix(path) => {
                let Some((sun, len)) = unix_sockaddr(path) else {
                    return -1;
                };
                // SAFETY: plain socket calls on a socket armr owns; the real connect, not the hook.
                unsafe {
                    let fd = libc::socket(
                        libc::AF_UNIX,
                        libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                        0,
                    );
                    if fd >= 0 && C::connect(fd, &sun as *const _ as *const sockaddr, len) != 0 {
                        libc::close(fd);
                        -1
                    } else {
                        fd
                    }
                }
            }
            Reopen::Udp(addresses) | Reopen::Tcp(addresses) => {
                self.connect_any(addresses, matches!(self.reopen, Reopen::Tcp(_)))
            }
        };
        if fd < 0 {
            return -1;
        }
        // Keep the descriptor number the sink had when it is still armr's; otherwise take the new
        // one (the old number belongs to the program now).
        let old = self.fd.load(Ordering::Relaxed);
        let mine = old >= 0 && self.is_mine(old);
        let fd = if mine {
            // SAFETY: both descriptors are armr's.
            unsafe {
                libc::dup3(fd, old, libc::O_CLOEXEC);
                libc::close(fd);
            }
            old
        } else {
            fd
        };
        let opened = opened(fd);
        let (device, inode) = opened.as_ref().map_or((u64::MAX, 0), |o| o.identity);
        self.pipe
            .store(opened.is_some_and(|o| o.pipe), Ordering::Relaxed);
        self.device.store(device, Ordering::Relaxed);
        self.inode.store(inode, Ordering::Relaxed);
        self.fd.store(fd, Ordering::Relaxed);
        self.checked_ms.store(now_ms(), Ordering::Relaxed);
        // The bit before the number: a hook that sees the number sees the bit.
        WATCHED_BITS.fetch_or(watched_bit(fd), Ordering::Release);
        WATCHED[self.slot].store(fd, Ordering::Release);
        DISTURBED[self.slot].store(false, Ordering::Relaxed);
        fd
    }

    /// True when `fd` is still armr's: trusted when no hook saw it freed and it was checked less
    /// than a second ago; otherwise its identity is checked (`fstat`).
    fn still_mine(&self, fd: c_int) -> bool {
        let now = now_ms();
        let disturbed = &DISTURBED[self.slot];
        if !disturbed.load(Ordering::Relaxed)
            && now < self.checked_ms.load(Ordering::Relaxed) + CHECK_EVERY_MS
        {
            return true;
        }
        // Cleared before the check: a close after it is noted again.
        disturbed.store(false, Ordering::Relaxed);
        let mine = self.is_mine(fd);
        if mine {
            self.checked_ms.store(now, Ordering::Relaxed);
        } else {
            disturbed.store(true, Ordering::Relaxed);
        }
        mine
    }

    /// Connects to the first of `addresses` that takes the connection, starting with the one
    /// that last worked, within one budget of [`CONNECT_WAIT_MS`] for every handshake: a refused
    /// address costs no wait. For UDP, connecting succeeds wherever the kernel has a route; a
    /// destination that then refuses datagrams moves armr to the next address (`send`). When the
    /// budget runs out, the next attempt starts with the first address not yet tried.
    fn connect_any(&self, addresses: &[SocketAddr], stream: bool) -> c_int {
        let start = self.address.load(Ordering::Relaxed);
        let deadline = now_ms() + CONNECT_WAIT_MS;
        for i in 0..addresses.len() {
            let index = (start + i) % addresses.len();
            let now = now_ms();
            if i > 0 && now >= deadline {
                self.address.store(index, Ordering::Relaxed);
                return -1;
            }
            let fd = connect_ip::<C>(&addresses[index], stream, deadline.saturating_sub(now));
            if fd >= 0 {
                self.address.store(index, Ordering::Relaxed);
                return fd;
            }
        }
        -1
    }

    /// The descriptor to write to, reopening a lost or broken one at most once a second.
    fn current(&self) -> c_int {
        let fd = self.fd.load(Ordering::Relaxed);
        let broken = self.broken.load(Ordering::Relaxed);
        if matches!(self.reopen, Reopen::Stderr) {
            return fd;
        }
        if !broken && fd >= 0 && self.still_mine(fd) {
            return fd;
        }
        if !broken && fd >= 0 {
            // The program closed armr's descriptor, and may have reused the number: forget it.
            self.fd.store(-1, Ordering::Relaxed);
        }
        let now = now_ms();
        let last = self.last_attempt_ms.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < RETRY_EVERY_MS {
            return -1;
        }
        if self.reopening.swap(true, Ordering::Acquire) {
            return -1;
        }
        self.last_attempt_ms.store(now.max(1), Ordering::Relaxed);
        let fd = self.connect();
        if fd >= 0 {
            self.last_attempt_ms.store(0, Ordering::Relaxed);
            self.broken.store(false, Ordering::Relaxed);
        }
        self.reopening.store(false, Ordering::Release);
        fd
    }

    fn drop_one(&self) -> Sent {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        crate::tally::count(1);
        Sent::Dropped
    }

    /// [`send`](Self::send), the events lost before it left counted for the next report.
    pub fn send_keeping(&self, line: &[u8]) -> bool {
        match self.send(line) {
            Sent::Written { dropped } => {
                self.dropped.fetch_add(dropped, Ordering::Relaxed);
                true
            }
            Sent::Dropped => false,
        }
    }

    /// Writes one line (ending in `\n`) in one system call, or drops it.
    ///
    /// Holds no guard: every socket call here is libc's real one (see the module comment). A
    /// signal handler whose call is refused and logged may send its own event meanwhile: each line
    /// still goes in one system call, and a reconnection under way makes it dropped and counted.
    pub fn send(&self, line: &[u8]) -> Sent {
        let fd = self.current();
        if fd < 0 {
            return self.drop_one();
        }
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let ok = match &self.reopen {
            Reopen::Stderr => {
                // A full pipe would block the program: wait a few milliseconds at most. A pipe
                // or socket whose reader is gone reports POLLERR (the write would raise SIGPIPE).
                let mut p = libc::pollfd {
                    fd,
                    events: libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: p is a valid pollfd; line is a valid buffer.
                unsafe {
                    libc::poll(&mut p, 1, STDERR_WAIT_MS) == 1
                        && p.revents & libc::POLLOUT != 0
                        && p.revents & libc::POLLERR == 0
                        && without_sigpipe(|| libc::write(fd, line.as_ptr().cast(), line.len()))
                            == line.len() as isize
                }
            }
            // O_APPEND: each line lands whole at the end, whatever other writers do.
            Reopen::File(_) => {
                // A full disk can cut a line: the next line then starts with a line break, so that
                // only the cut line is lost.
                let newline = b"\n";
                let torn = self.torn.load(Ordering::Relaxed);
                let iov = [
                    libc::iovec {
                        iov_base: newline.as_ptr() as *mut _,
                        iov_len: usize::from(torn),
                    },
                    libc::iovec {
                        iov_base: line.as_ptr() as *mut _,
                        iov_len: line.len(),
                    },
                ];
                let total = (usize::from(torn) + line.len()) as isize;
                // SAFETY: iov describes two valid buffers, line one; O_APPEND makes the write
                // land whole at the end, whatever other writers do. The common line is one
                // write; only after a cut one the line break goes first, in the same call.
                let write = || unsafe {
                    if torn {
                        libc::writev(fd, iov.as_ptr(), 2)
                    } else {
                        libc::write(fd, line.as_ptr().cast(), line.len())
                    }
                };
                let n = if self.pipe.load(Ordering::Relaxed) {
                    without_sigpipe(write)
                } else {
                    write()
                };
                if n == total {
                    self.torn.store(false, Ordering::Relaxed);
                } else if n > 0 {
                    self.torn.store(true, Ordering::Relaxed);
                } else if n < 0 && errno::get() == libc::EPIPE {
                    // The FIFO's reader is gone: reopen later (at most once a second), which
                    // waits for a new reader without blocking.
                    self.broken.store(true, Ordering::Relaxed);
                }
                n == total
            }
            Reopen::Unix(_) | Reopen::Udp(_) => {
                // SAFETY: body is a valid buffer. send() is sendto() without an address, called
                // here as libc's real sendto, not the hook.
                let n = unsafe {
                    C::sendto(
                        fd,
                        body.as_ptr().cast(),
                        body.len(),
                        libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                        std::ptr::null(),
                        0,
                    )
                };
                if n < 0
                    && matches!(
                        errno::get(),
                        libc::ECONNREFUSED | libc::ENOTCONN | libc::EBADF
                    )
                {
                    if let Reopen::Udp(addresses) = &self.reopen {
                        // Nobody takes datagrams at this address: the next one gets its turn.
                        let next = (self.address.load(Ordering::Relaxed) + 1) % addresses.len();
                        self.address.store(next, Ordering::Relaxed);
                    }
                    self.broken.store(true, Ordering::Relaxed);
                }
                n == body.len() as isize
            }
            Reopen::Tcp(_) => {
                // RFC 6587 octet counting: "LENGTH SP MESSAGE", sent with one sendmsg.
                let mut prefix = [0u8; 24];
                let mut w = armr_core::event::LineBuffer::new(&mut prefix);
                let _ = std::fmt::Write::write_fmt(&mut w, format_args!("{} ", body.len()));
                let prefix_len = w.as_bytes().len();
                let mut iov = [
                    libc::iovec {
                        iov_base: prefix.as_mut_ptr().cast(),
                        iov_len: prefix_len,
                    },
                    libc::iovec {
                        iov_base: body.as_ptr() as *mut _,
                        iov_len: body.len(),
                    },
                ];
                let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
                msg.msg_iov = iov.as_mut_ptr();
                msg.msg_iovlen = 2;
                // SAFETY: msg describes two valid buffers; libc's real sendmsg, not the hook.
                let n = unsafe { C::sendmsg(fd, &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
                let total = (prefix_len + body.len()) as isize;
                if n == total {
                    true
                } else {
                    // Nothing sent (full buffer): the stream is intact, the event is dropped. Part
                    // sent, or an error: the stream is broken; reconnect later.
                    if n > 0 || (n < 0 && errno::get() != libc::EAGAIN) {
                        // SAFETY: fd is armr's socket; shutdown keeps the number reserved.
                        unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
                        self.broken.store(true, Ordering::Relaxed);
                    }
                    false
                }
            }
        };
        if ok {
            Sent::Written {
                dropped: self.take_dropped(),
            }
        } else {
            self.drop_one()
        }
    }
}

/// Every destination of `ARMR_LOG`, each with its format.
#[derive(Debug)]
pub struct Sink<C: Calls> {
    destinations: Vec<(LogFormat, Destination<C>)>,
}

impl<C: Calls> Sink<C> {
    /// Opens every destination: an error when one of them can never work (`Destination::open`).
    pub fn open(target: &LogTarget) -> Result<Sink<C>, String> {
        let mut destinations = Vec::new();
        let many = matches!(target, LogTarget::Many(_));
        for (format, one) in target.destinations() {
            let destination = Destination::open(one).map_err(|e| match one.value() {
                Some(value) if many => format!("{value}: {e}"),
                _ => e,
            })?;
            destinations.push((format, destination));
        }
        Ok(Sink { destinations })
    }

    /// The destinations, each with its format.
    pub fn destinations(&self) -> &[(LogFormat, Destination<C>)] {
        &self.destinations
    }

    /// Writes a line that is not a rule's event (the lifecycle, a hostname that does not
    /// resolve) to every destination: as it is, or for `json` as the `message` of an object. The
    /// events a destination lost are reported with its next rule event (or at exit).
    pub fn send(&self, line: &[u8]) -> Sent {
        let mut written = false;
        for (format, destination) in &self.destinations {
            let sent = if *format == LogFormat::Json {
                let mut buf = [0u8; 8192];
                let n = armr_core::event::format_json_message(line, &mut buf);
                destination.send_keeping(&buf[..n])
            } else {
                destination.send_keeping(line)
            };
            written |= sent;
        }
        if written {
            Sent::Written { dropped: 0 }
        } else {
            Sent::Dropped
        }
    }

    /// Takes the count of dropped events of every destination, to report it.
    pub fn take_dropped(&self) -> u64 {
        self.destinations
            .iter()
            .map(|(_, d)| d.take_dropped())
            .sum()
    }

    /// After `fork`, in the child (see `Destination::after_fork`).
    pub fn after_fork(&self) {
        for (_, destination) in &self.destinations {
            destination.after_fork();
        }
        crate::tally::after_fork();
    }
}
