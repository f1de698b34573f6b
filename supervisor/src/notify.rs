//! The kernel's user-notification interface: the listener's ioctls and the filter's install.

use libc::{c_int, c_long, seccomp_notif, seccomp_notif_addfd, seccomp_notif_resp};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// `SECCOMP_USER_NOTIF_FLAG_CONTINUE`.
const FLAG_CONTINUE: u32 = 1;
/// `SECCOMP_ADDFD_FLAG_SEND`: install the descriptor and answer the call with its number, in one
/// step (no window where the program has the descriptor and no answer).
const ADDFD_FLAG_SEND: u32 = 2;

/// `-ERESTARTSYS`: a call interrupted by a signal, restarted after the handler when it was
/// installed with `SA_RESTART`, else failed with `EINTR` (the kernel's own convention for a
/// blocking socket call; only answered while a signal is pending for the thread).
pub const ERESTARTSYS: c_int = 512;

fn check(r: c_int) -> io::Result<c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Installs `program` in this thread (and, being the only thread, in the process) with a new
/// listener, and returns it. Without `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV` (before Linux
/// 5.19) it is installed without it.
pub fn install(program: &[libc::sock_filter]) -> io::Result<OwnedFd> {
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut _,
    };
    // SAFETY: prctl with constant arguments.
    check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })?;
    let mut flags =
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    loop {
        // SAFETY: prog points to a valid program for the duration of the call.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER as c_long,
                flags as c_long,
                &prog as *const libc::sock_fprog,
            )
        };
        if fd >= 0 {
            // SAFETY: a new descriptor, ours.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EINVAL)
            && flags & libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0
        {
            flags &= !libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
            continue;
        }
        return Err(e);
    }
}

/// Receives the next notification (blocks until one comes). `ENOENT`: the target died before it
/// could be read, `EINTR`: a signal; the caller tries again.
pub fn receive(listener: BorrowedFd<'_>) -> io::Result<seccomp_notif> {
    // SAFETY: an all-zero seccomp_notif is valid, and the kernel requires it zeroed.
    let mut notif: seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: notif is a writable seccomp_notif, the size this ioctl takes.
    check(unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV as _,
            &mut notif,
        )
    })?;
    Ok(notif)
}

/// True while the notification `id` is still waiting for its answer: its thread has not died,
/// nor been interrupted. Checked after reading the target's memory, so that what was read
/// belongs to the process that made the call (its pid may have been reused).
pub fn is_valid(listener: BorrowedFd<'_>, id: u64) -> bool {
    let mut id = id;
    // SAFETY: id is a readable u64.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID as _,
            &mut id,
        ) == 0
    }
}

fn send(listener: BorrowedFd<'_>, mut resp: seccomp_notif_resp) -> io::Result<()> {
    // SAFETY: resp is a valid seccomp_notif_resp.
    check(unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND as _,
            &mut resp,
        )
    })
    .map(drop)
}

/// How a call is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The call returns this value (made on the program's behalf).
    Value(i64),
    /// The call fails with this errno.
    Error(c_int),
    /// The kernel makes the call itself (never for an IP socket: see `calls`).
    Continue,
    /// The call returns a new descriptor in the program: this one of the supervisor's, installed
    /// by [`answer`] (`cloexec`: with `O_CLOEXEC`), which closes it.
    Install { fd: RawFd, cloexec: bool },
}

impl Answer {
    /// The answer of a system call's return value as the supervisor made it: -1 is its errno.
    pub fn of(result: i64) -> Answer {
        if result < 0 {
            Answer::Error(
                io::Error::last_os_error()
                    .raw_os_error()
                    .unwrap_or(libc::EIO),
            )
        } else {
            Answer::Value(result)
        }
    }
}

/// Answers notification `id`. An error (`ENOENT`: the thread died or was interrupted
/// meanwhile) is ignored by the caller: there is nobody left to answer.
pub fn answer(listener: BorrowedFd<'_>, id: u64, answer: Answer) -> io::Result<()> {
    let (val, error, flags) = match answer {
        Answer::Value(v) => (v, 0, 0),
        Answer::Error(e) => (0, -e, 0),
        Answer::Continue => (0, 0, FLAG_CONTINUE),
        Answer::Install { fd, cloexec } => {
            // SAFETY: the answer owns the descriptor (`Answer::Install`).
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            return match answer_with_fd(listener, id, fd.as_fd(), cloexec) {
                Ok(_) => Ok(()),
                Err(e) => self::answer(
                    listener,
                    id,
                    Answer::Error(e.raw_os_error().unwrap_or(libc::EIO)),
                ),
            };
        }
    };
    let resp = seccomp_notif_resp {
        id,
        val,
        error,
        flags,
    };
    // A worker's interrupt signal may land here: the answer must still go.
    loop {
        match send(listener, resp) {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            other => return other,
        }
    }
}

/// Installs `fd` (the supervisor's) in the target as the answer to `id`: the call returns the
/// new descriptor's number. `cloexec`: the new descriptor gets `O_CLOEXEC`.
fn answer_with_fd(
    listener: BorrowedFd<'_>,
    id: u64,
    fd: BorrowedFd<'_>,
    cloexec: bool,
) -> io::Result<c_int> {
    let mut addfd = seccomp_notif_addfd {
        id,
        flags: ADDFD_FLAG_SEND,
        srcfd: fd.as_raw_fd() as u32,
        newfd: 0,
        newfd_flags: if cloexec { libc::O_CLOEXEC as u32 } else { 0 },
    };
    loop {
        // SAFETY: addfd is a valid seccomp_notif_addfd.
        let r = check(unsafe {
            libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_ADDFD as _,
                &mut addfd,
            )
        });
        // Interrupted before the program took the descriptor: the kernel withdrew the request.
        match r {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            other => return other,
        }
    }
}
