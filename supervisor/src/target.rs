//! The program's side of a call: its memory (read and written as copies, with
//! `process_vm_readv`/`process_vm_writev`) and its descriptors (taken with `pidfd_getfd`). Both
//! need ptrace access to the target, which the supervisor has as its ancestor (and subreaper).

use libc::{c_int, c_void, pid_t};
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

/// A process (or thread: a notification names the thread) the supervisor acts on.
pub struct Target {
    pub pid: pid_t,
    pidfd: Arc<OwnedFd>,
    /// The pidfd names the thread itself (`PIDFD_THREAD`), not its thread group's leader.
    thread: bool,
}

/// The pidfds of the threads that made calls, kept by one receiving thread (each has its own):
/// opening one per call costs two system calls. A pidfd names its thread for good, so one
/// whose thread ended (its number maybe reused) fails with `ESRCH` and is opened again.
///
/// Kept by the receiving thread, a pidfd was opened before the notification it serves was
/// received, for a thread alive then with the notifying thread's number: the notifying thread
/// itself, or one that had ended before it (numbers are unique among live threads), whose
/// pidfd fails. So a descriptor taken through a kept thread pidfd is the notifying thread's
/// without `SECCOMP_IOCTL_NOTIF_ID_VALID`; one opened for the notification may name a thread
/// that took the number after the notifying one died, and needs that check (`Taken::fresh`).
#[derive(Default)]
pub struct Pidfds {
    open: HashMap<u32, (Arc<OwnedFd>, bool)>,
}

/// The most pidfds one receiving thread keeps (threads come and go): beyond, its table starts
/// again. Small, as each receiving thread has its own (under the usual 1024 descriptors).
const PIDFDS_KEPT: usize = 128;

/// A descriptor taken from a thread of the program.
pub struct Taken {
    pub target: Target,
    pub socket: OwnedFd,
    /// Taken through a pidfd opened for this notification, or one naming the thread group's
    /// leader (before Linux 6.9): only `SECCOMP_IOCTL_NOTIF_ID_VALID` after it says the
    /// descriptor is the notifying thread's (see [`Pidfds`]).
    pub fresh: bool,
}

impl Pidfds {
    /// The target `tid` with its descriptor `fd` taken (`pidfd_getfd`).
    pub fn descriptor(&mut self, tid: u32, fd: u64) -> io::Result<Taken> {
        if let Some((pidfd, thread)) = self.open.get(&tid) {
            let target = Target {
                pid: tid as pid_t,
                pidfd: Arc::clone(pidfd),
                thread: *thread,
            };
            match target.descriptor(fd) {
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                Ok(socket) => {
                    let fresh = !target.thread;
                    return Ok(Taken {
                        target,
                        socket,
                        fresh,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        let target = Target::open(tid)?;
        if self.open.len() >= PIDFDS_KEPT {
            self.open.clear();
        }
        self.open
            .insert(tid, (Arc::clone(&target.pidfd), target.thread));
        let socket = target.descriptor(fd)?;
        Ok(Taken {
            target,
            socket,
            fresh: true,
        })
    }
}

impl Target {
    /// Opens `pid` (`pidfd_open`). `ESRCH`: it is gone.
    pub fn open(pid: u32) -> io::Result<Target> {
        // PIDFD_THREAD (O_EXCL): a notification names a thread, which may not lead its group.
        const PIDFD_THREAD: c_int = libc::O_EXCL;
        // SAFETY: plain system call.
        let mut fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as pid_t, PIDFD_THREAD) };
        let thread = fd >= 0;
        if fd < 0 && last_error().raw_os_error() == Some(libc::EINVAL) {
            // Before Linux 6.9: a thread's pidfd is its group leader's (same descriptors, memory).
            let tgid = thread_group(pid).unwrap_or(pid as pid_t);
            // SAFETY: plain system call.
            fd = unsafe { libc::syscall(libc::SYS_pidfd_open, tgid, 0) };
        }
        if fd < 0 {
            return Err(last_error());
        }
        Ok(Target {
            pid: pid as pid_t,
            // SAFETY: a new descriptor, ours.
            pidfd: Arc::new(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }),
            thread,
        })
    }

    /// A copy of the target's descriptor `fd` (`pidfd_getfd`): the same open file, so calls made
    /// on it act on the program's socket.
    pub fn descriptor(&self, fd: u64) -> io::Result<OwnedFd> {
        let Ok(fd) = c_int::try_from(fd as i64) else {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        };
        // SAFETY: plain system call.
        let got = unsafe { libc::syscall(libc::SYS_pidfd_getfd, self.pidfd.as_raw_fd(), fd, 0) };
        if got < 0 {
            return Err(last_error());
        }
        // SAFETY: a new descriptor, ours.
        Ok(unsafe { OwnedFd::from_raw_fd(got as RawFd) })
    }

    /// Reads `len` bytes at `address` in the target. A part that cannot be read is `EFAULT`, as
    /// the kernel says for a bad pointer.
    pub fn read(&self, address: u64, len: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        if len == 0 {
            return Ok(buf);
        }
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: len,
        };
        let remote = libc::iovec {
            iov_base: address as *mut c_void,
            iov_len: len,
        };
        // SAFETY: local describes buf; remote is only read in the target.
        let n = unsafe { libc::process_vm_readv(self.pid, &local, 1, &remote, 1, 0) };
        if n < 0 {
            let e = last_error();
            return Err(match e.raw_os_error() {
                Some(libc::ESRCH) => e,
                _ => io::Error::from_raw_os_error(libc::EFAULT),
            });
        }
        if n as usize != len {
            return Err(io::Error::from_raw_os_error(libc::EFAULT));
        }
        Ok(buf)
    }

    /// Reads several buffers (`address`, `len`) in one system call. A part that cannot be read
    /// is `EFAULT`.
    pub fn read_many(&self, parts: &[(u64, usize)]) -> io::Result<Vec<Vec<u8>>> {
        read_many(self.pid, parts)
    }

    /// A value of type `T` at `address` (a plain C struct: every bit pattern valid).
    pub fn read_value<T: Copy>(&self, address: u64) -> io::Result<T> {
        let bytes = self.read(address, std::mem::size_of::<T>())?;
        // SAFETY: bytes holds size_of::<T>() bytes; T is plain data (the caller's contract).
        Ok(unsafe { bytes.as_ptr().cast::<T>().read_unaligned() })
    }

    /// Writes `bytes` at `address` in the target.
    pub fn write(&self, address: u64, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let local = libc::iovec {
            iov_base: bytes.as_ptr() as *mut c_void,
            iov_len: bytes.len(),
        };
        let remote = libc::iovec {
            iov_base: address as *mut c_void,
            iov_len: bytes.len(),
        };
        // SAFETY: local describes bytes; remote is written in the target only.
        let n = unsafe { libc::process_vm_writev(self.pid, &local, 1, &remote, 1, 0) };
        if n < 0 || n as usize != bytes.len() {
            return Err(io::Error::from_raw_os_error(libc::EFAULT));
        }
        Ok(())
    }

    /// Writes a plain value at `address`.
    pub fn write_value<T: Copy>(&self, address: u64, value: &T) -> io::Result<()> {
        // SAFETY: a plain value's bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts((value as *const T).cast::<u8>(), std::mem::size_of::<T>())
        };
        self.write(address, bytes)
    }

    /// The program's name, as the preload library names it (`/proc/PID/comm`).
    pub fn name(&self) -> String {
        std::fs::read_to_string(format!("/proc/{}/comm", self.pid))
            .map(|s| s.trim_end().to_string())
            .unwrap_or_else(|_| "-".into())
    }

    /// The process (thread group) id: what the preload library logs as the pid.
    pub fn process_id(&self) -> u32 {
        thread_group(self.pid as u32).unwrap_or(self.pid) as u32
    }
}

/// Reads several buffers (`address`, `len`) of thread `pid` in one system call (`ESRCH`: gone;
/// a part that cannot be read is `EFAULT`).
pub fn read_many(pid: pid_t, parts: &[(u64, usize)]) -> io::Result<Vec<Vec<u8>>> {
    let mut buffers: Vec<Vec<u8>> = parts.iter().map(|&(_, len)| vec![0u8; len]).collect();
    let total: usize = parts.iter().map(|&(_, len)| len).sum();
    if total == 0 {
        return Ok(buffers);
    }
    let iovec = |base: *mut c_void, len: usize| libc::iovec {
        iov_base: base,
        iov_len: len,
    };
    // Up to two parts (a connect's address, a sendto's address and data), the vectors on the
    // stack: no allocation but the copies'.
    const ON_STACK: usize = 2;
    let (mut local_stack, mut remote_stack) = (
        [iovec(std::ptr::null_mut(), 0); ON_STACK],
        [iovec(std::ptr::null_mut(), 0); ON_STACK],
    );
    let (mut local_heap, mut remote_heap) = (Vec::new(), Vec::new());
    let (local, remote): (&mut [libc::iovec], &mut [libc::iovec]) = if parts.len() <= ON_STACK {
        (
            &mut local_stack[..parts.len()],
            &mut remote_stack[..parts.len()],
        )
    } else {
        local_heap.resize(parts.len(), iovec(std::ptr::null_mut(), 0));
        remote_heap.resize(parts.len(), iovec(std::ptr::null_mut(), 0));
        (&mut local_heap[..], &mut remote_heap[..])
    };
    for (i, (buffer, &(address, len))) in buffers.iter_mut().zip(parts).enumerate() {
        local[i] = iovec(buffer.as_mut_ptr().cast(), len);
        remote[i] = iovec(address as *mut c_void, len);
    }
    // SAFETY: local describes buffers; remote is only read in the target.
    let n = unsafe {
        libc::process_vm_readv(
            pid,
            local.as_ptr(),
            local.len() as libc::c_ulong,
            remote.as_ptr(),
            remote.len() as libc::c_ulong,
            0,
        )
    };
    if n < 0 && last_error().raw_os_error() == Some(libc::ESRCH) {
        return Err(last_error());
    }
    if n < 0 || n as usize != total {
        return Err(io::Error::from_raw_os_error(libc::EFAULT));
    }
    Ok(buffers)
}

/// The thread group (process) of thread `tid`, from `/proc/TID/status`.
fn thread_group(tid: u32) -> Option<pid_t> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// What `/proc/TID/status` says of signals waiting for a thread that the program handles: a
/// signal for the thread itself, or one for the whole process. The supervisor interrupts a
/// blocking call it makes for the thread when one is pending, as the kernel would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    None,
    Thread,
    Process,
}

pub fn pending_signal(tid: pid_t) -> Pending {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{tid}/status")) else {
        return Pending::None;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0)
    };
    let caught = field("SigCgt:") & !field("SigBlk:");
    // A signal for the process is this thread's when it is the only one.
    let threads = status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse::<u32>().ok());
    if field("SigPnd:") & caught != 0 {
        Pending::Thread
    } else if field("ShdPnd:") & caught != 0 {
        if threads == Some(1) {
            Pending::Thread
        } else {
            Pending::Process
        }
    } else {
        Pending::None
    }
}
