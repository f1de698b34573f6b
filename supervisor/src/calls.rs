//! Each notified system call: read its arguments once from the program's memory into copies,
//! check the notification is still the program's, judge the copies (`armr::verdict`, as the
//! preload library asks it), and make the call on the program's behalf, on the supervisor's copy
//! of the program's socket, with the copies. The kernel's `SECCOMP_USER_NOTIF_FLAG_CONTINUE`
//! "cannot be used to implement a security policy" (another thread can rewrite the address
//! between the check and the call), so it answers only calls on sockets that are not IP
//! (`AF_UNIX`, netlink...), whose calls the supervisor must not make itself: a unix socket's
//! peer would see the supervisor's credentials, and descriptors passed with `SCM_RIGHTS` would
//! be the supervisor's.
//!
//! Receiving threads wait in `SECCOMP_IOCTL_NOTIF_RECV` and each makes the call it received
//! itself (no hand-off to another thread: two context switches and two futex calls a call).
//! The supervisor must never stall behind a call that blocks: while one is made, another
//! receiver must wait. A receiver waiting beside the one making the calls costs every call a
//! wake-up (the kernel wakes every thread in the receive, and on one CPU the program, answered,
//! runs its next call before the answering thread is back), so it waits there only while
//! calls were seen blocked lately ([`QUIET_MS`]); then a thread makes sure of one before a call
//! that may block (a blocking socket). Otherwise the call is made at once (most calls on a
//! blocking socket return at once: a loopback connect, an accept with a connection queued),
//! and the watcher thread, which looks every [`SPARE_AFTER_MS`] while such calls come, starts
//! or wakes a receiver when one has lasted that long. The others park until wanted, and a
//! thread ends beyond [`PARKED_MAX`] parked. A program whose sockets are non-blocking (nginx,
//! Go) is served by one thread. A signal the program handles, arriving during a blocking call,
//! interrupts it as the kernel would (`workers`).

use crate::address::{self, Via};
use crate::events::{Events, Origin};
use crate::filter::nr;
use crate::notify::{self, Answer};
use crate::receive;
use crate::target::{Pidfds, Taken, Target};
use crate::workers::{self, Workers};
use armr::config::OnError;
use armr::policy::{EventKind, Policy};
use armr::verdict::{self, Call, Refusal, Transport};
use libc::{c_int, c_uint, c_void, seccomp_notif};
use std::cell::Cell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

/// `sizeof(struct sockaddr_storage)`: the longest address the kernel copies.
pub(crate) const ADDRESS_MAX: usize = 128;
/// `UIO_MAXIOV`: the most buffers (and `sendmmsg` messages) the kernel takes in one call.
pub(crate) const UIO_MAXIOV: usize = 1024;
/// The most data one send copies: a stream send of more is made in part (it returns the count
/// sent, as a send interrupted by a signal does); a datagram of more fails with `EMSGSIZE`, as
/// the kernel fails any datagram over 64 KiB.
pub(crate) const DATA_MAX: usize = 4 << 20;
/// The longest control data copied (`net.core.optmem_max` is smaller): longer fails with
/// `ENOBUFS`, as the kernel does.
pub(crate) const CONTROL_MAX: usize = 1 << 20;

/// Everything the supervisor keeps: the policy, the event writer, the listener.
pub struct Supervisor {
    pub listener: OwnedFd,
    /// The policy in force: replaced by a reload (`reload`), read once per call.
    pub policy: RwLock<Arc<Policy>>,
    pub events: Events,
    pub on_error: OnError,
    pub workers: Workers,
    /// Receiving threads waiting for a notification, or started and about to.
    idle: AtomicUsize,
    /// Threads parked (out of the receive), and how many of them are wanted back in it.
    parked: Mutex<(usize, usize)>,
    wake: Condvar,
    /// When the last call that may block was made, in milliseconds since `started`.
    last_may_block: AtomicU64,
    /// When a call was last seen blocked (lasting [`SPARE_AFTER_MS`]), in milliseconds since
    /// `started`.
    last_blocked: AtomicU64,
    /// The watcher sleeps [`workers::WATCH_MS`] (no call that may block came lately): the next
    /// one wakes it (`watch_wake`) so that it looks every [`SPARE_AFTER_MS`].
    watcher_slow: AtomicBool,
    watch_lock: Mutex<()>,
    watch_wake: Condvar,
    started: std::time::Instant,
    /// Listeners judged at `listen` or at their first `accept`, by socket cookie (`SO_COOKIE`:
    /// never another socket's): `Some(errno)` when refused. A listener made before armr (inherited) is judged
    /// by `bind(server:)` rules once, at its first accept.
    listeners: Mutex<HashMap<u64, Option<c_int>>>,
    /// What the policy was built from, taken by the reload thread when it starts.
    pub reload: Mutex<Option<crate::reload::Watch>>,
}

/// One notification: which call, by which thread, with which arguments.
#[derive(Clone, Copy, Debug)]
pub struct Notification {
    pub id: u64,
    pub tid: u32,
    pub nr: u32,
    pub args: [u64; 6],
}

impl From<&seccomp_notif> for Notification {
    fn from(n: &seccomp_notif) -> Notification {
        Notification {
            id: n.id,
            tid: n.pid,
            nr: n.data.nr as u32,
            args: n.data.args,
        }
    }
}

/// The errno of a refusal (the preload library's `errno::of`).
fn errno_of(refusal: Refusal) -> c_int {
    match refusal {
        Refusal::PermissionDenied => libc::EACCES,
        Refusal::ConnectionRefused | Refusal::Discard => libc::ECONNREFUSED,
    }
}

pub(crate) fn last_errno() -> c_int {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

pub(crate) fn io_errno(e: &std::io::Error) -> c_int {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// The call's context: the supervisor, the notification, the program, its socket.
pub(crate) struct Ctx<'a> {
    pub(crate) sup: &'a Arc<Supervisor>,
    pub(crate) n: Notification,
    pub(crate) target: Target,
    pub(crate) socket: OwnedFd,
    /// The descriptor may not be the notifying thread's until `ID_VALID` says so (`Taken`).
    fresh: bool,
    /// The policy in force when the call came: one look-up a call.
    policy: Arc<Policy>,
    /// `SO_TYPE`, asked when first needed (-1 until then): most calls never need it.
    kind: Cell<c_int>,
}

impl Ctx<'_> {
    /// The verdict on `call` at `address`, carried out: its event written, its refusal's errno
    /// handed back.
    pub(crate) fn judge(&self, call: Call, address: SocketAddr) -> Option<c_int> {
        self.judge_if(call, address, || true)
    }

    /// As [`Ctx::judge`], when `applies` (asked only when the verdict logs or refuses: a
    /// question about the socket that costs a system call, such as its type).
    pub(crate) fn judge_if(
        &self,
        call: Call,
        address: SocketAddr,
        applies: impl FnOnce() -> bool,
    ) -> Option<c_int> {
        let policy = &self.policy;
        let mut verdict = verdict::judge(policy, call, address);
        if (verdict.event.is_none() && verdict.refusal().is_none()) || !applies() {
            return None;
        }
        // A connect or a send does not say its transport: the socket does (asked only now).
        if let Some(event) = &mut verdict.event
            && event.transport.is_none()
        {
            event.transport = Transport::of_socket_type(self.kind());
        }
        if let Some(event) = &verdict.event {
            let origin = Origin {
                process: self.target.name(),
                pid: self.target.process_id(),
            };
            self.sup.events.write(policy, event, &origin);
        }
        verdict.refusal().map(errno_of)
    }

    pub(crate) fn has_rules(&self, kind: EventKind) -> bool {
        self.policy.has_rules(kind)
    }

    /// True while the notification waits for its answer: what was read is the program's.
    pub(crate) fn valid(&self) -> bool {
        notify::is_valid(self.sup.listener.as_fd(), self.n.id)
    }

    /// [`Ctx::valid`] for a call that read nothing from the program's memory: only needed when
    /// the descriptor may not be the notifying thread's (`Taken::fresh`).
    pub(crate) fn descriptor_valid(&self) -> bool {
        !self.fresh || self.valid()
    }

    pub(crate) fn read(&self, address: u64, len: usize) -> Result<Vec<u8>, c_int> {
        self.target.read(address, len).map_err(|e| io_errno(&e))
    }

    /// The socket's type when already asked.
    pub(crate) fn kind_known(&self) -> Option<c_int> {
        let kind = self.kind.get();
        (kind >= 0).then_some(kind)
    }

    /// The socket's type (`SO_TYPE`; 0 if it cannot be told).
    pub(crate) fn kind(&self) -> c_int {
        if self.kind.get() < 0 {
            self.kind
                .set(address::kind(self.socket.as_fd()).unwrap_or(0));
        }
        self.kind.get()
    }

    pub(crate) fn non_blocking(&self) -> bool {
        address::non_blocking(self.socket.as_fd())
    }
}

impl Supervisor {
    pub fn new(listener: OwnedFd, policy: Policy, events: Events, on_error: OnError) -> Supervisor {
        Supervisor {
            listener,
            policy: RwLock::new(Arc::new(policy)),
            events,
            on_error,
            workers: Workers::default(),
            idle: AtomicUsize::new(0),
            parked: Mutex::new((0, 0)),
            wake: Condvar::new(),
            last_may_block: AtomicU64::new(0),
            last_blocked: AtomicU64::new(0),
            watcher_slow: AtomicBool::new(false),
            watch_lock: Mutex::new(()),
            watch_wake: Condvar::new(),
            started: std::time::Instant::now(),
            listeners: Mutex::new(HashMap::new()),
            reload: Mutex::new(None),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        match self.policy.read() {
            Ok(policy) => Arc::clone(&policy),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Puts `policy` in force for the calls judged from now on.
    pub fn publish(&self, policy: Policy) {
        let policy = Arc::new(policy);
        match self.policy.write() {
            Ok(mut slot) => *slot = policy,
            Err(poisoned) => *poisoned.into_inner() = policy,
        }
    }

    /// Answers notifications until the listener fails (the supervisor is ending): the first
    /// receiving thread, which never ends before.
    pub fn serve(self: &Arc<Supervisor>) {
        self.idle.fetch_add(1, Ordering::SeqCst);
        self.receive(true);
    }

    /// A receiving thread's loop (counted in `idle` when it starts): receives a notification,
    /// answers it, and receives again, unless it is not the first and [`SPARE`] others wait.
    fn receive(self: &Arc<Supervisor>, first: bool) {
        workers::take_interrupt();
        let mut pidfds = Pidfds::default();
        loop {
            let n = loop {
                match notify::receive(self.listener.as_fd()) {
                    Ok(n) => break Some(Notification::from(&n)),
                    Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EINTR)) => {}
                    Err(_) => break None,
                }
            };
            self.idle.fetch_sub(1, Ordering::SeqCst);
            let Some(n) = n else { return };
            let answer = self.answer_of(&mut pidfds, n);
            // Back to the receive when no other thread waits there, or when calls blocked
            // lately and fewer than SPARE wait; else parked (each thread in the receive costs
            // every call a wake-up), or ended when enough are parked.
            let idle = self.idle.load(Ordering::SeqCst);
            let receive = idle == 0 || (idle < SPARE && self.blocked_lately());
            // Counted as waiting before the answer wakes the program (whose next call may come
            // at once): else the next receiver would see none waiting and start one.
            if receive {
                self.idle.fetch_add(1, Ordering::SeqCst);
            }
            if let Some(answer) = answer {
                let _ = notify::answer(self.listener.as_fd(), n.id, answer);
            }
            if !receive && !self.park(first) {
                return;
            }
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// True within [`QUIET_MS`] of a call seen blocked: a second thread waits for calls.
    fn blocked_lately(&self) -> bool {
        self.now_ms() <= self.last_blocked.load(Ordering::Relaxed) + QUIET_MS
    }

    /// Notes a call that may block, waking the watcher if it sleeps long.
    fn may_block(&self) {
        let now = self.now_ms();
        if self.last_may_block.load(Ordering::Relaxed) != now {
            self.last_may_block.store(now, Ordering::Relaxed);
        }
        if self.watcher_slow.swap(false, Ordering::SeqCst) {
            let _lock = self.watch_lock.lock();
            self.watch_wake.notify_one();
        }
    }

    /// Looks at the calls that may block, forever (a thread of its own): every
    /// [`SPARE_AFTER_MS`] while such calls come, makes sure another receiver waits when one made
    /// without lasts that long; every [`workers::WATCH_MS`], interrupts those whose thread has
    /// a signal to take (`workers`).
    pub fn watch(self: &Arc<Supervisor>) {
        let spare_after = std::time::Duration::from_millis(SPARE_AFTER_MS);
        let watch = std::time::Duration::from_millis(workers::WATCH_MS);
        let mut looked = std::time::Instant::now();
        loop {
            let fast = self.now_ms() <= self.last_may_block.load(Ordering::Relaxed) + FAST_MS;
            if fast {
                std::thread::sleep(spare_after);
            } else {
                self.watcher_slow.store(true, Ordering::SeqCst);
                // A call that may block between the look above and the flag: not slept through.
                if self.now_ms() > self.last_may_block.load(Ordering::Relaxed) + FAST_MS {
                    let lock = self.watch_lock.lock().unwrap_or_else(|e| e.into_inner());
                    if self.watcher_slow.load(Ordering::SeqCst) {
                        let _ = self.watch_wake.wait_timeout(lock, watch);
                    }
                }
            }
            let (blocked, unspared) = self.workers.blocked(spare_after);
            if blocked {
                self.last_blocked.store(self.now_ms(), Ordering::Relaxed);
            }
            if unspared {
                let _ = self.spare();
            }
            if looked.elapsed() >= watch {
                looked = std::time::Instant::now();
                self.workers.look(self.listener.as_fd());
            }
        }
    }

    /// Waits until [`Supervisor::spare`] wants this thread in the receive (true: it is counted
    /// in `idle`), or, beyond [`PARKED_MAX`] parked threads, ends it (false; never the first).
    fn park(&self, first: bool) -> bool {
        let mut parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        if !first && parked.0 >= PARKED_MAX {
            return false;
        }
        parked.0 += 1;
        while parked.1 == 0 {
            parked = self.wake.wait(parked).unwrap_or_else(|e| e.into_inner());
        }
        parked.1 -= 1;
        parked.0 -= 1;
        true
    }

    /// Makes sure another receiver waits (or is starting) before this thread makes a call that
    /// may block. Err: no thread could be started.
    fn spare(self: &Arc<Supervisor>) -> std::io::Result<()> {
        if self.idle.load(Ordering::SeqCst) > 0 {
            return Ok(());
        }
        self.idle.fetch_add(1, Ordering::SeqCst);
        let mut parked = self.parked.lock().unwrap_or_else(|e| e.into_inner());
        if parked.0 > parked.1 {
            parked.1 += 1;
            drop(parked);
            self.wake.notify_one();
            return Ok(());
        }
        drop(parked);
        let sup = Arc::clone(self);
        let started = std::thread::Builder::new()
            .name("armr-receive".into())
            .spawn(move || sup.receive(false));
        if started.is_err() {
            self.idle.fetch_sub(1, Ordering::SeqCst);
        }
        started.map(drop)
    }

    /// The answer to one notification (the call made), or None when there is nobody to answer.
    fn answer_of(self: &Arc<Supervisor>, pidfds: &mut Pidfds, n: Notification) -> Option<Answer> {
        match catch_unwind(AssertUnwindSafe(|| self.dispatch(pidfds, n))) {
            Ok(answer) => answer,
            Err(_) => Some(self.internal_error()),
        }
    }

    /// An internal failure (a panic) judging a call: `ARMR_ON_ERROR` says what happens to it,
    /// closed (the default) fails it with `EACCES`, open lets the kernel make it. Said once.
    fn internal_error(&self) -> Answer {
        static REPORTED: AtomicBool = AtomicBool::new(false);
        let (answer, what) = match self.on_error {
            OnError::Closed => (Answer::Error(libc::EACCES), "failed with EACCES"),
            OnError::Open => (Answer::Continue, "made unjudged (ARMR_ON_ERROR=open)"),
        };
        if !REPORTED.swap(true, Ordering::Relaxed) {
            eprintln!(
                "armr: internal error while judging a socket call: the call was {what} (reported once)"
            );
        }
        answer
    }

    fn dispatch(self: &Arc<Supervisor>, pidfds: &mut Pidfds, n: Notification) -> Option<Answer> {
        let n = match n.nr {
            // A read of nothing is the kernel's: it returns 0 and takes no datagram (a receive
            // of 0 bytes would take one).
            nr::READ if n.args[2] == 0 => return Some(Answer::Continue),
            // `read(fd, buf, count)` of a socket is `recvfrom(fd, buf, count, 0, NULL, NULL)`.
            nr::READ => Notification {
                args: [n.args[0], n.args[1], n.args[2], 0, 0, 0],
                ..n
            },
            _ => n,
        };
        let early = early_read(&n);
        let Taken {
            target,
            socket,
            fresh,
        } = match pidfds.descriptor(n.tid, n.args[0]) {
            Ok(taken) => taken,
            // Gone (ESRCH: nobody waits for the answer), or the kernel's answer (EBADF).
            Err(e) => return Some(Answer::Error(io_errno(&e))),
        };
        let policy = self.policy();
        // An accept under bind(server:) rules asks the listener's cookie first: one judged
        // already is IP (only IP listeners are kept), its family need not be asked.
        let listener = if matches!(n.nr, nr::ACCEPT | nr::ACCEPT4)
            && policy.has_rules(EventKind::BindServer)
        {
            match address::cookie(socket.as_fd()) {
                Ok(cookie) => {
                    let known = self
                        .listeners
                        .lock()
                        .ok()
                        .and_then(|l| l.get(&cookie).copied());
                    Some((cookie, known))
                }
                Err(errno) => return Some(Answer::Error(errno)),
            }
        } else {
            None
        };
        if !matches!(listener, Some((_, Some(_)))) {
            // Not a socket: the kernel's own answer (ENOTSOCK).
            let family = match address::domain(socket.as_fd()) {
                Ok(family) => family,
                // A `read` of anything but a socket is the kernel's to make.
                Err(libc::ENOTSOCK) if n.nr == nr::READ => return Some(Answer::Continue),
                Err(errno) => return Some(Answer::Error(errno)),
            };
            if family != libc::AF_INET && family != libc::AF_INET6 {
                return Some(Answer::Continue);
            }
        }
        let ctx = Ctx {
            sup: self,
            n,
            target,
            socket,
            fresh,
            policy,
            kind: Cell::new(-1),
        };
        match n.nr {
            nr::CONNECT => connect(ctx, early),
            nr::BIND => Some(bind(&ctx)),
            nr::LISTEN => Some(listen(&ctx)),
            nr::ACCEPT | nr::ACCEPT4 => accept(ctx, listener),
            nr::SENDTO => sendto(ctx, early),
            nr::SENDMSG => sendmsg(ctx),
            nr::SENDMMSG => sendmmsg(ctx),
            nr::RECVFROM => receive::recvfrom(ctx),
            nr::RECVMSG => receive::recvmsg(ctx),
            nr::RECVMMSG => receive::recvmmsg(ctx),
            nr::READ => receive::recvfrom(ctx),
            // Not in the filter: let the kernel make it.
            _ => Some(Answer::Continue),
        }
    }
}

/// The most data a `sendto` reads before its descriptor is taken (the read is wasted when the
/// socket is not IP).
const EARLY_MAX: usize = 4096;

/// What a `connect`, or a `sendto` of at most [`EARLY_MAX`] bytes, reads from the program (its
/// address; its address and data), read before its descriptor is taken: taken afterwards
/// through a pidfd the receiving thread kept, the descriptor proves the notifying thread alive
/// since before the read (`target::Pidfds`), so the copy is its own without
/// `SECCOMP_IOCTL_NOTIF_ID_VALID` (`Ctx::descriptor_valid`). Errors are answered after the
/// descriptor's (`EBADF`, `ENOTSOCK` first, as the kernel checks).
type Early = Option<Result<Vec<Vec<u8>>, c_int>>;

fn early_read(n: &Notification) -> Early {
    let length = |len: u64| {
        let len = len as u32 as i32;
        (len >= 0 && len as usize <= ADDRESS_MAX).then_some(len as usize)
    };
    let parts = match n.nr {
        nr::CONNECT => match length(n.args[2]) {
            Some(len) => vec![(n.args[1], len)],
            None => return Some(Err(libc::EINVAL)),
        },
        nr::SENDTO if n.args[2] as usize <= EARLY_MAX => match length(n.args[5]) {
            Some(len) => vec![(n.args[4], len), (n.args[1], n.args[2] as usize)],
            None => return Some(Err(libc::EINVAL)),
        },
        _ => return None,
    };
    Some(crate::target::read_many(n.tid as libc::pid_t, &parts).map_err(|e| io_errno(&e)))
}

/// The receivers that wait beyond which one that answered a call ends.
const SPARE: usize = 2;
/// How long after a call seen blocked a second thread stays in the receive, and calls that may
/// block make sure of one first.
const QUIET_MS: u64 = 10;
/// How long a call that may block, made without another receiver waiting, runs before the
/// watcher makes sure one waits.
const SPARE_AFTER_MS: u64 = 1;
/// How long after a call that may block the watcher keeps looking every [`SPARE_AFTER_MS`].
const FAST_MS: u64 = 100;
/// The most threads parked: one more ends instead.
const PARKED_MAX: usize = 2;

/// Makes `perform` on this thread. A call that may block (`blocking`) first makes sure another
/// receiver waits, and is interruptible by the watcher (`workers`).
pub(crate) fn perform(
    ctx: Ctx<'_>,
    blocking: bool,
    perform: impl FnOnce(&Ctx<'_>) -> Answer,
) -> Option<Answer> {
    if !blocking {
        return Some(perform(&ctx));
    }
    let sup = ctx.sup;
    sup.may_block();
    // Another receiver waits before the call when calls blocked lately; else the watcher makes
    // sure of one if the call lasts SPARE_AFTER_MS (most calls on a blocking socket return at
    // once, and a receiver waiting beside this thread costs every call a wake-up).
    let spared = sup.blocked_lately();
    if spared && sup.spare().is_err() {
        return Some(Answer::Error(libc::EAGAIN));
    }
    let (id, tid) = (ctx.n.id, ctx.n.tid as libc::pid_t);
    let (answer, took) = sup.workers.run(id, tid, !spared, || perform(&ctx));
    if took >= std::time::Duration::from_millis(SPARE_AFTER_MS) {
        sup.last_blocked.store(sup.now_ms(), Ordering::Relaxed);
    }
    Some(answer)
}

/// An address argument of `len` bytes (an `int` to the kernel): read, or the kernel's error for
/// it (`EINVAL` for a negative length or one over `sockaddr_storage`, `EFAULT` for bad memory).
fn address_arg(ctx: &Ctx<'_>, ptr: u64, len: u64) -> Result<Vec<u8>, c_int> {
    let len = len as u32 as i32;
    if len < 0 || len as usize > ADDRESS_MAX {
        return Err(libc::EINVAL);
    }
    ctx.read(ptr, len as usize)
}

// --- connect

fn connect(ctx: Ctx<'_>, early: Early) -> Option<Answer> {
    let bytes = match early {
        Some(Ok(mut parts)) => parts.pop().unwrap_or_default(),
        Some(Err(errno)) => return Some(Answer::Error(errno)),
        None => return Some(Answer::Error(libc::EINVAL)),
    };
    // Read before the descriptor was taken.
    if !ctx.descriptor_valid() {
        return None;
    }
    if let Some(errno) = judge_connect(&ctx, &bytes) {
        return Some(Answer::Error(errno));
    }
    // A datagram socket's connect never waits; a stream socket's waits unless non-blocking. The
    // type is asked only when the rules needed it: one of another type is taken as may block.
    let blocking = !ctx.non_blocking()
        && ctx
            .kind_known()
            .is_none_or(|kind| kind == libc::SOCK_STREAM);
    perform(ctx, blocking, move |ctx| {
        // SAFETY: bytes is a readable buffer of its length.
        let r = unsafe {
            libc::connect(
                ctx.socket.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len() as libc::socklen_t,
            )
        };
        Answer::of(r.into())
    })
}

/// The judging of a connect, as the preload library's `connect`: a TCP socket the program bound
/// itself by `bind(client:)` rules on its local address (EACCES), the destination by `connect`
/// rules (ECONNREFUSED), a UDP socket's destination by `accept` rules too (ECONNREFUSED).
fn judge_connect(ctx: &Ctx<'_>, bytes: &[u8]) -> Option<c_int> {
    if ctx.has_rules(EventKind::BindClient)
        && ctx.kind() == libc::SOCK_STREAM
        && let Some(local) = address::explicit_client_bind(ctx.socket.as_fd())
        && let Some(errno) = ctx.judge(Call::ClientBind, local)
    {
        return Some(errno);
    }
    // AF_UNSPEC disconnects: no destination. Another family fails in the kernel.
    let mut remote = address::decode(bytes)?;
    if address::is_unspecified(remote) {
        remote = address::of_unspecified(ctx.socket.as_fd(), remote, Via::Connect);
    }
    if ctx.has_rules(EventKind::Connect)
        && let Some(errno) = ctx.judge(Call::Connect, remote)
    {
        return Some(errno);
    }
    // The socket's type asked only when accept rules log or refuse the destination.
    if ctx.has_rules(EventKind::Accept) {
        return ctx.judge_if(Call::DatagramConnect, remote, || {
            ctx.kind() == libc::SOCK_DGRAM
        });
    }
    None
}

// --- bind, listen

fn bind(ctx: &Ctx<'_>) -> Answer {
    let bytes = match address_arg(ctx, ctx.n.args[1], ctx.n.args[2]) {
        Ok(bytes) => bytes,
        Err(errno) => return Answer::Error(errno),
    };
    if !ctx.valid() {
        return Answer::Error(libc::EINTR);
    }
    // A datagram socket's bind makes it a server (a port) or a client (port 0); a TCP socket is
    // judged at listen or connect.
    if (ctx.has_rules(EventKind::BindServer) || ctx.has_rules(EventKind::BindClient))
        && ctx.kind() == libc::SOCK_DGRAM
    {
        let local = address::decode(&bytes).or_else(|| {
            // AF_UNSPEC with INADDR_ANY binds 0.0.0.0:PORT on an IPv4 socket.
            address::decode_unspec_as_v4(&bytes)
                .filter(|a| a.ip().is_unspecified())
                .filter(|_| address::domain(ctx.socket.as_fd()) == Ok(libc::AF_INET))
                .map(SocketAddr::V4)
        });
        if let Some(local) = local
            && ctx.has_rules(Call::DatagramBind.kind(local.port()))
            && let Some(errno) = ctx.judge(Call::DatagramBind, local)
        {
            return Answer::Error(errno);
        }
    }
    // SAFETY: bytes is a readable buffer of its length.
    let r = unsafe {
        libc::bind(
            ctx.socket.as_raw_fd(),
            bytes.as_ptr().cast(),
            bytes.len() as libc::socklen_t,
        )
    };
    Answer::of(r.into())
}

fn listen(ctx: &Ctx<'_>) -> Answer {
    if !ctx.descriptor_valid() {
        return Answer::Error(libc::EINTR);
    }
    if ctx.has_rules(EventKind::BindServer)
        && let Some(local) = address::local(ctx.socket.as_fd())
        && let Some(errno) = ctx.judge(Call::Listen, local)
    {
        return Answer::Error(errno);
    }
    // SAFETY: plain listen on the supervisor's copy.
    let r = unsafe { libc::listen(ctx.socket.as_raw_fd(), ctx.n.args[1] as c_int) };
    let answer = Answer::of(r.into());
    if r == 0
        && ctx.has_rules(EventKind::BindServer)
        && let Ok(cookie) = address::cookie(ctx.socket.as_fd())
        && let Ok(mut listeners) = ctx.sup.listeners.lock()
    {
        listeners.insert(cookie, None);
    }
    answer
}

// --- accept

/// The listener's cookie and, when judged already, its verdict (asked under `bind(server:)`
/// rules only: `dispatch`).
type Listener = Option<(u64, Option<Option<c_int>>)>;

fn accept(ctx: Ctx<'_>, listener: Listener) -> Option<Answer> {
    let flags = if ctx.n.nr == nr::ACCEPT4 {
        ctx.n.args[3] as c_int
    } else {
        0
    };
    if flags & !(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK) != 0 {
        return Some(Answer::Error(libc::EINVAL));
    }
    let (addr, lenp) = (ctx.n.args[1], ctx.n.args[2]);
    // The room the program gives for the peer's address (none without a buffer).
    let room = if addr == 0 {
        None
    } else if lenp == 0 {
        return Some(Answer::Error(libc::EFAULT));
    } else {
        match ctx.target.read_value::<i32>(lenp) {
            Ok(n) if n < 0 => return Some(Answer::Error(libc::EINVAL)),
            Ok(n) => Some(n as usize),
            Err(e) => return Some(Answer::Error(io_errno(&e))),
        }
    };
    // Nothing read without an address buffer: only the descriptor's owner to make sure of.
    let valid = if room.is_some() {
        ctx.valid()
    } else {
        ctx.descriptor_valid()
    };
    if !valid {
        return None;
    }
    if ctx.has_rules(EventKind::BindServer)
        && let Some(errno) = inherited_listener_refused(&ctx, listener)
    {
        return Some(Answer::Error(errno));
    }
    let blocking = !ctx.non_blocking();
    perform(ctx, blocking, move |ctx| {
        accept_loop(ctx, flags, addr, lenp, room)
    })
}

/// A listener the supervisor did not see listen (made before armr, inherited) is judged once, at
/// its first accept, by `bind(server:)` rules on its local address: refused, every accept on it
/// fails with `EACCES`, and the connections queued on it are reset, so that their clients see a
/// reset, not a hang (the preload library's `receive::listener_refused`).
fn inherited_listener_refused(ctx: &Ctx<'_>, listener: Listener) -> Option<c_int> {
    let (cookie, known) = listener?;
    let refused = match known {
        Some(refused) => refused,
        None => {
            let refused = address::local(ctx.socket.as_fd())
                .and_then(|local| ctx.judge(Call::InheritedListener, local));
            ctx.sup.listeners.lock().ok()?.insert(cookie, refused);
            refused
        }
    };
    if refused.is_some() {
        reset_queued(ctx.socket.as_fd());
    }
    refused
}

/// Accepts and resets every connection queued on a refused listener, without waiting.
fn reset_queued(listener: BorrowedFd<'_>) {
    loop {
        let mut p = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: p is a valid pollfd; accept4 without an address.
        let conn = unsafe {
            if libc::poll(&mut p, 1, 0) != 1 {
                return;
            }
            libc::accept4(
                listener.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            )
        };
        if conn < 0 {
            return;
        }
        // SAFETY: a new descriptor, the supervisor's.
        reset(unsafe { std::os::fd::FromRawFd::from_raw_fd(conn) });
    }
}

/// Accepts on the supervisor's copy of the listener until a peer the rules allow comes (a
/// refused one is reset and never reaches the program), writes its address into the program's
/// buffer as the kernel does (cut to the room, the full length in `*addrlen`), and installs the
/// connection in the program (`SECCOMP_IOCTL_NOTIF_ADDFD` with `SECCOMP_ADDFD_FLAG_SEND`): the
/// call returns its number. A non-blocking listener with nothing left fails with `EAGAIN`.
fn accept_loop(ctx: &Ctx<'_>, flags: c_int, addr: u64, lenp: u64, room: Option<usize>) -> Answer {
    loop {
        let mut name = [0u8; ADDRESS_MAX];
        let mut len = name.len() as libc::socklen_t;
        // SAFETY: name is writable for len bytes. The connection is the supervisor's until
        // installed: close-on-exec here, the program's flags on the installed descriptor.
        let conn = unsafe {
            libc::accept4(
                ctx.socket.as_raw_fd(),
                name.as_mut_ptr().cast(),
                &mut len,
                (flags & libc::SOCK_NONBLOCK) | libc::SOCK_CLOEXEC,
            )
        };
        if conn < 0 {
            return Answer::Error(last_errno());
        }
        // SAFETY: a new descriptor, the supervisor's.
        let conn: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(conn) };
        let name = &name[..(len as usize).min(ADDRESS_MAX)];
        if ctx.has_rules(EventKind::Accept)
            && let Some(peer) = address::decode(name)
            && ctx.judge(Call::Accept, peer).is_some()
        {
            reset(conn);
            continue;
        }
        if let Some(room) = room {
            let written = ctx
                .target
                .write(addr, &name[..name.len().min(room)])
                .and_then(|()| ctx.target.write_value(lenp, &(len as i32)));
            if written.is_err() {
                // The kernel closes the connection when it cannot write the address.
                return Answer::Error(libc::EFAULT);
            }
        }
        // Installed with the answer, after this thread counts itself waiting again.
        return Answer::Install {
            fd: std::os::fd::IntoRawFd::into_raw_fd(conn),
            cloexec: flags & libc::SOCK_CLOEXEC != 0,
        };
    }
}

/// Resets a refused connection: its client sees a reset, not a hang.
fn reset(conn: OwnedFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: linger is a valid struct of the size given.
    unsafe {
        libc::setsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(conn);
}

// --- sends

/// True when a send with a destination reaches it: datagram sockets, and TCP Fast Open (a
/// connected stream socket ignores the address).
fn sends_to_address(kind: c_int, flags: c_int) -> bool {
    kind != libc::SOCK_STREAM || flags & libc::MSG_FASTOPEN != 0
}

/// The judging of a send to the address in `bytes`, by `connect` rules (EACCES), on the
/// kernel's destination: an unspecified address goes to this host, an `AF_UNSPEC` one on an IPv4
/// datagram socket is IPv4.
fn judge_send(ctx: &Ctx<'_>, bytes: &[u8], flags: c_int) -> Option<c_int> {
    if !ctx.has_rules(EventKind::Connect) {
        return None;
    }
    // The socket's type asked only when it matters: the rules log or refuse the destination,
    // or the destination is not given plainly.
    let reaches = || sends_to_address(ctx.kind(), flags);
    let remote = match address::decode(bytes) {
        Some(a) if address::is_unspecified(a) && !reaches() => return None,
        Some(a) if address::is_unspecified(a) => {
            let via = if ctx.kind() == libc::SOCK_STREAM {
                Via::Connect
            } else {
                Via::Send
            };
            address::of_unspecified(ctx.socket.as_fd(), a, via)
        }
        Some(a) => return ctx.judge_if(Call::Send, a, reaches),
        None => {
            let v4 = address::decode_unspec_as_v4(bytes)?;
            if !reaches()
                || address::domain(ctx.socket.as_fd()) != Ok(libc::AF_INET)
                || ctx.kind() == libc::SOCK_STREAM
            {
                return None;
            }
            let a = SocketAddr::V4(v4);
            if address::is_unspecified(a) {
                address::of_unspecified(ctx.socket.as_fd(), a, Via::Send)
            } else {
                a
            }
        }
    };
    ctx.judge(Call::Send, remote)
}

/// A send on the supervisor's copy never raises SIGPIPE in the supervisor; the program gets the
/// SIGPIPE the kernel would have raised in it.
fn sent(ctx: &Ctx<'_>, flags: c_int, r: isize) -> Answer {
    let answer = Answer::of(r as i64);
    if answer == Answer::Error(libc::EPIPE) && flags & libc::MSG_NOSIGNAL == 0 {
        // SAFETY: plain system call.
        unsafe {
            libc::syscall(
                libc::SYS_tgkill,
                ctx.target.process_id() as libc::pid_t,
                ctx.target.pid,
                libc::SIGPIPE,
            )
        };
    }
    answer
}

/// Data of `iovecs` read from the program, at most [`DATA_MAX`] bytes in all (`Err(EMSGSIZE)`
/// for a datagram over it).
fn read_data(ctx: &Ctx<'_>, iovecs: &[(u64, usize)]) -> Result<Vec<Vec<u8>>, c_int> {
    let mut left = DATA_MAX;
    let mut buffers = Vec::with_capacity(iovecs.len());
    for &(base, len) in iovecs {
        if len > left && ctx.kind() != libc::SOCK_STREAM {
            return Err(libc::EMSGSIZE);
        }
        let take = len.min(left);
        buffers.push(ctx.read(base, take)?);
        left -= take;
    }
    Ok(buffers)
}

fn sendto(ctx: Ctx<'_>, early: Early) -> Option<Answer> {
    let [_, buf, len, flags, dest, dest_len] = ctx.n.args;
    let flags = flags as c_int;
    // The address and the data, in one read (made before the descriptor was taken for a short
    // send: `Early`).
    let read = match early {
        Some(read) => {
            if read.is_ok() && !ctx.descriptor_valid() {
                return None;
            }
            read
        }
        None => {
            let dest_len = dest_len as u32 as i32;
            if dest_len < 0 || dest_len as usize > ADDRESS_MAX {
                return Some(Answer::Error(libc::EINVAL));
            }
            let len = len as usize;
            if len > DATA_MAX && ctx.kind() != libc::SOCK_STREAM {
                return Some(Answer::Error(libc::EMSGSIZE));
            }
            let read = ctx
                .target
                .read_many(&[(dest, dest_len as usize), (buf, len.min(DATA_MAX))])
                .map_err(|e| io_errno(&e));
            if read.is_ok() && !ctx.valid() {
                return None;
            }
            read
        }
    };
    let (bytes, data) = match read {
        Ok(mut parts) => {
            let data = parts.pop().unwrap_or_default();
            (parts.pop().unwrap_or_default(), data)
        }
        Err(errno) => return Some(Answer::Error(errno)),
    };
    if let Some(errno) = judge_send(&ctx, &bytes, flags) {
        return Some(Answer::Error(errno));
    }
    let whole = data.len();
    send(ctx, flags, Some(whole), move |ctx, more, skip| {
        let data = &data[skip.min(whole)..];
        // SAFETY: data and bytes are readable buffers of their lengths.
        let r = unsafe {
            libc::sendto(
                ctx.socket.as_raw_fd(),
                data.as_ptr().cast(),
                data.len(),
                flags | more | libc::MSG_NOSIGNAL,
                bytes.as_ptr().cast(),
                bytes.len() as libc::socklen_t,
            )
        };
        sent(ctx, flags, r)
    })
}

/// Makes a send (`send(ctx, more flags, bytes of the data to skip)`): one that may wait (a
/// blocking socket, no `MSG_DONTWAIT`) as [`perform`] makes it. A datagram on a blocking socket
/// is first tried without waiting (`MSG_DONTWAIT`: a datagram is sent whole or not at all, so
/// the result is the blocking call's whenever it does not say `EAGAIN`): the common answer costs
/// no `fcntl` and no spare receiver. So is a send of `whole` bytes on a socket whose type was
/// not asked (`sendto`): sent whole or failed, that is the blocking call's answer too, of
/// either type; nothing sent (`EAGAIN`), it is made as the socket's blocking state says; sent
/// in part (a stream), the rest is sent as a blocking send would.
fn send(
    ctx: Ctx<'_>,
    flags: c_int,
    whole: Option<usize>,
    send: impl Fn(&Ctx<'_>, c_int, usize) -> Answer,
) -> Option<Answer> {
    if flags & libc::MSG_DONTWAIT != 0 {
        return perform(ctx, false, move |ctx| send(ctx, 0, 0));
    }
    if let (None, Some(whole)) = (ctx.kind_known(), whole) {
        let answer = send(&ctx, libc::MSG_DONTWAIT, 0);
        let sent = match answer {
            Answer::Value(v) if (v as usize) < whole => v as usize,
            Answer::Error(libc::EAGAIN) => 0,
            answer => return Some(answer),
        };
        if ctx.non_blocking() {
            return Some(answer);
        }
        let rest = perform(ctx, true, move |ctx| send(ctx, 0, sent))?;
        return Some(match rest {
            Answer::Value(v) => Answer::Value(v + sent as i64),
            _ if sent > 0 => Answer::Value(sent as i64),
            rest => rest,
        });
    }
    if ctx.kind() != libc::SOCK_STREAM {
        let answer = send(&ctx, libc::MSG_DONTWAIT, 0);
        if answer != Answer::Error(libc::EAGAIN) || ctx.non_blocking() {
            return Some(answer);
        }
        return perform(ctx, true, move |ctx| send(ctx, 0, 0));
    }
    let blocking = !ctx.non_blocking();
    perform(ctx, blocking, move |ctx| send(ctx, 0, 0))
}

/// A message of the program's, copied: its destination, data and control data.
struct Message {
    name: Vec<u8>,
    has_name: bool,
    data: Vec<Vec<u8>>,
    control: Vec<u8>,
    flags: c_int,
}

/// A `msghdr` over a [`Message`], with the buffers it points to (the message must outlive it).
struct Header {
    hdr: libc::msghdr,
    _iovecs: Vec<libc::iovec>,
}

impl Message {
    /// The program's `msghdr` at `at`, with everything it points to.
    fn read(ctx: &Ctx<'_>, at: u64) -> Result<Message, c_int> {
        let hdr: libc::msghdr = ctx.target.read_value(at).map_err(|e| io_errno(&e))?;
        let namelen = hdr.msg_namelen as i32;
        if namelen < 0 {
            return Err(libc::EINVAL);
        }
        let has_name = !hdr.msg_name.is_null() && namelen > 0;
        // The kernel cuts a longer name to sockaddr_storage.
        let name = if has_name {
            ctx.read(hdr.msg_name as u64, (namelen as usize).min(ADDRESS_MAX))?
        } else {
            Vec::new()
        };
        if hdr.msg_iovlen > UIO_MAXIOV {
            return Err(libc::EMSGSIZE);
        }
        let iovecs: Vec<(u64, usize)> = if hdr.msg_iovlen == 0 {
            Vec::new()
        } else {
            let raw = ctx.read(
                hdr.msg_iov as u64,
                hdr.msg_iovlen * std::mem::size_of::<libc::iovec>(),
            )?;
            raw.chunks_exact(std::mem::size_of::<libc::iovec>())
                .map(|c| {
                    // SAFETY: c holds one iovec's bytes.
                    let v = unsafe { c.as_ptr().cast::<libc::iovec>().read_unaligned() };
                    (v.iov_base as u64, v.iov_len)
                })
                .collect()
        };
        if hdr.msg_controllen > CONTROL_MAX {
            return Err(libc::ENOBUFS);
        }
        let control = if hdr.msg_control.is_null() || hdr.msg_controllen == 0 {
            Vec::new()
        } else {
            ctx.read(hdr.msg_control as u64, hdr.msg_controllen)?
        };
        Ok(Message {
            name,
            has_name,
            data: read_data(ctx, &iovecs)?,
            control,
            flags: hdr.msg_flags,
        })
    }

    /// The `msghdr` of the copy, for the supervisor's send (which only reads through it).
    fn header(&self) -> Header {
        let mut iovecs: Vec<libc::iovec> = self
            .data
            .iter()
            .map(|d| libc::iovec {
                iov_base: d.as_ptr() as *mut c_void,
                iov_len: d.len(),
            })
            .collect();
        // SAFETY: an all-zero msghdr is valid.
        let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        if self.has_name {
            hdr.msg_name = self.name.as_ptr() as *mut c_void;
            hdr.msg_namelen = self.name.len() as libc::socklen_t;
        }
        hdr.msg_iov = iovecs.as_mut_ptr();
        hdr.msg_iovlen = iovecs.len();
        if !self.control.is_empty() {
            hdr.msg_control = self.control.as_ptr() as *mut c_void;
            hdr.msg_controllen = self.control.len();
        }
        hdr.msg_flags = self.flags;
        Header {
            hdr,
            _iovecs: iovecs,
        }
    }
}

fn sendmsg(ctx: Ctx<'_>) -> Option<Answer> {
    let flags = ctx.n.args[2] as c_int;
    let message = match Message::read(&ctx, ctx.n.args[1]) {
        Ok(m) => m,
        Err(errno) => return Some(Answer::Error(errno)),
    };
    if !ctx.valid() {
        return None;
    }
    if message.has_name
        && let Some(errno) = judge_send(&ctx, &message.name, flags)
    {
        return Some(Answer::Error(errno));
    }
    send(ctx, flags, None, move |ctx, more, _| {
        let header = message.header();
        // SAFETY: the header points into message, alive for the call.
        let r = unsafe {
            libc::sendmsg(
                ctx.socket.as_raw_fd(),
                &header.hdr,
                flags | more | libc::MSG_NOSIGNAL,
            )
        };
        sent(ctx, flags, r)
    })
}

/// `sendmmsg`: each message with a destination is judged; the messages before the first refused
/// one are sent, and a call whose first message is refused fails with `EACCES` (the preload
/// library's rule). The count sent of each message is written back into the program's
/// `msg_len`, as the kernel does.
fn sendmmsg(ctx: Ctx<'_>) -> Option<Answer> {
    let [_, at, vlen, flags, ..] = ctx.n.args;
    let flags = flags as c_int;
    let count = (vlen as c_uint as usize).min(UIO_MAXIOV);
    const MMSG: usize = std::mem::size_of::<libc::mmsghdr>();
    let mut messages = Vec::with_capacity(count);
    // The copies of one call hold at most DATA_MAX bytes in all: the messages after that are
    // left for the program's next call (sendmmsg may send fewer than asked).
    let mut copied = 0usize;
    for i in 0..count {
        if i > 0 && copied >= DATA_MAX {
            break;
        }
        match Message::read(&ctx, at + (i * MMSG) as u64) {
            Ok(m) => {
                copied += m.data.iter().map(Vec::len).sum::<usize>();
                messages.push(m);
            }
            // The kernel sends the messages before a bad one, and fails only on the first.
            Err(errno) if i == 0 => return Some(Answer::Error(errno)),
            Err(_) => break,
        }
    }
    if !ctx.valid() {
        return None;
    }
    for (i, message) in messages.iter().enumerate() {
        if message.has_name
            && let Some(errno) = judge_send(&ctx, &message.name, flags)
        {
            if i == 0 {
                return Some(Answer::Error(errno));
            }
            messages.truncate(i);
            break;
        }
    }
    if messages.is_empty() {
        return Some(Answer::Value(0));
    }
    send(ctx, flags, None, move |ctx, more, _| {
        let kept: Vec<Header> = messages.iter().map(Message::header).collect();
        let mut headers: Vec<libc::mmsghdr> = kept
            .iter()
            .map(|h| libc::mmsghdr {
                msg_hdr: h.hdr,
                msg_len: 0,
            })
            .collect();
        // SAFETY: the headers point into messages and kept, alive for the call.
        let r = unsafe {
            libc::sendmmsg(
                ctx.socket.as_raw_fd(),
                headers.as_mut_ptr(),
                headers.len() as c_uint,
                flags | more | libc::MSG_NOSIGNAL,
            )
        };
        if r > 0 {
            for (i, header) in headers.iter().take(r as usize).enumerate() {
                let offset = (i * MMSG + std::mem::offset_of!(libc::mmsghdr, msg_len)) as u64;
                let _ = ctx.target.write_value(at + offset, &header.msg_len);
            }
        }
        sent(ctx, flags, r as isize)
    })
}
