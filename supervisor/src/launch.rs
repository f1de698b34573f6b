//! Starting the program under the filter, and supervising it until the last guarded process
//! ends.
//!
//! `armr run` forks. The child sets `PR_SET_NO_NEW_PRIVS` (so that no root is needed), installs
//! the filter with a new listener, sends the listener's number to the parent over a pipe
//! (`write` is not filtered; `sendmsg` would wait for the supervisor that is not there yet),
//! waits for the parent's go-ahead, closes its listener and execs the program. The parent takes
//! the listener from the child (`pidfd_getfd`), becomes a subreaper (so that every guarded
//! process stays its descendant: its ptrace access to them, which `process_vm_readv` and
//! `pidfd_getfd` need, holds under Yama's scope 1, and orphans are reaped here), answers
//! notifications, forwards the signals a service manager sends, and exits with the program's
//! status once no guarded process is left.

use crate::calls::Supervisor;
use crate::filter::{self, Judged};
use crate::notify;
use crate::workers;
use std::ffi::{CString, OsString};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

/// The signals forwarded to the program. SIGINT and SIGQUIT are not: a terminal sends them to the
/// whole foreground process group, the program included; the supervisor ignores them.
const FORWARDED: [libc::c_int; 5] = [
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(signal: libc::c_int) {
    let child = CHILD.load(Ordering::Relaxed);
    if child > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(child, signal) };
    }
}

fn cstring(bytes: &[u8]) -> Result<CString, String> {
    CString::new(bytes).map_err(|_| "an argument contains a NUL byte".to_string())
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: fds is writable for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: two new descriptors, ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn write_all(fd: RawFd, bytes: &[u8]) -> bool {
    // SAFETY: bytes is a readable buffer.
    unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) == bytes.len() as isize }
}

fn read_exact(fd: RawFd, bytes: &mut [u8]) -> bool {
    let mut got = 0;
    while got < bytes.len() {
        // SAFETY: the rest of bytes is writable.
        let n = unsafe { libc::read(fd, bytes[got..].as_mut_ptr().cast(), bytes.len() - got) };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        if n <= 0 {
            return false;
        }
        got += n as usize;
    }
    true
}

/// What the child does after `fork`: it never returns. Failures are reported to the parent as a
/// negative errno instead of a listener number.
fn child(
    program: &[libc::sock_filter],
    path: &CString,
    argv: &[*const libc::c_char],
    to_parent: RawFd,
    from_parent: RawFd,
    old_mask: &libc::sigset_t,
) -> ! {
    // SAFETY: this process has one thread (the fork's); every call here is plain.
    unsafe {
        libc::sigprocmask(libc::SIG_SETMASK, old_mask, std::ptr::null_mut());
        let listener = match notify::install(program) {
            Ok(listener) => listener,
            Err(e) => {
                let errno = -e.raw_os_error().unwrap_or(libc::EINVAL);
                write_all(to_parent, &errno.to_ne_bytes());
                libc::_exit(1);
            }
        };
        let number = std::os::fd::AsRawFd::as_raw_fd(&listener);
        let mut ack = [0u8; 1];
        if !write_all(to_parent, &number.to_ne_bytes()) || !read_exact(from_parent, &mut ack) {
            libc::_exit(1);
        }
        drop(listener);
        libc::execv(path.as_ptr(), argv.as_ptr());
        let e = std::io::Error::last_os_error();
        let status = if e.kind() == std::io::ErrorKind::NotFound {
            127
        } else {
            126
        };
        let message = format!(
            "armr run: cannot run {}: {e}\n",
            String::from_utf8_lossy(path.as_bytes())
        );
        write_all(2, message.as_bytes());
        libc::_exit(status);
    }
}

/// The program's exit status as a shell gives it: its own, or 128 + the signal that killed it.
fn status_of(status: libc::c_int) -> u8 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as u8
    } else if libc::WIFSIGNALED(status) {
        (128 + libc::WTERMSIG(status)) as u8
    } else {
        1
    }
}

/// Starts `path` (run as `argv`) under the filter and supervises it with `make`'s supervisor
/// (given the listener). Returns the program's exit status once every guarded process has ended,
/// or an error before the program runs.
pub fn run(
    path: &Path,
    argv: &[OsString],
    judged: Judged,
    make: impl FnOnce(OwnedFd) -> Supervisor,
) -> Result<u8, String> {
    let program = filter::program(judged);
    let c_path = cstring(path.as_os_str().as_bytes())?;
    let c_args = argv
        .iter()
        .map(|a| cstring(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut c_argv: Vec<*const libc::c_char> = c_args.iter().map(|a| a.as_ptr()).collect();
    c_argv.push(std::ptr::null());
    let (from_child, to_parent) = pipe()?;
    let (from_parent, to_child) = pipe()?;

    // SAFETY: prctl with constant arguments: orphaned descendants are reparented here.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    // Signals held across the fork, so that the handlers are in place before one is taken; the
    // child restores the mask before exec.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid sets.
    unsafe {
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_BLOCK, &all, &mut old);
    }
    // SAFETY: this process is single-threaded here (armr run has started no thread), so the
    // child may run ordinary code until exec.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        use std::os::fd::AsRawFd;
        child(
            &program,
            &c_path,
            &c_argv,
            to_parent.as_raw_fd(),
            from_parent.as_raw_fd(),
            &old,
        );
    }
    CHILD.store(pid, Ordering::Relaxed);
    drop(to_parent);
    drop(from_parent);
    // SAFETY: handlers that only call kill; SIGINT and SIGQUIT ignored (see FORWARDED).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = forward as extern "C" fn(libc::c_int) as usize;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        for signal in FORWARDED {
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        // Nobody attaches to the supervisor: a guarded process could otherwise drive it.
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    workers::install_interrupt();

    let listener = take_listener(pid, &from_child);
    let listener = match listener {
        Ok(listener) => listener,
        Err(e) => {
            // SAFETY: the child is ours; it has not exec'd the program.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            return Err(e);
        }
    };
    let supervisor = Arc::new(make(listener));
    // The threads answer with every signal blocked but the receivers' interrupt: the forwarded
    // ones go to this thread.
    {
        let supervisor = Arc::clone(&supervisor);
        std::thread::Builder::new()
            .name("armr-supervisor".into())
            .spawn(move || supervisor.serve())
            .map_err(|e| format!("cannot start the supervisor: {e}"))?;
    }
    {
        let supervisor = Arc::clone(&supervisor);
        std::thread::Builder::new()
            .name("armr-watch".into())
            .spawn(move || supervisor.watch())
            .map_err(|e| format!("cannot start the supervisor: {e}"))?;
    }
    let watch = supervisor.reload.lock().ok().and_then(|mut w| w.take());
    if let Some(watch) = watch {
        let supervisor = Arc::clone(&supervisor);
        std::thread::Builder::new()
            .name("armr-reload".into())
            .spawn(move || crate::reload::watch(&supervisor, watch))
            .map_err(|e| format!("cannot start the supervisor: {e}"))?;
    }
    let mut interrupt: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid sets. This thread takes every signal but the workers' interrupt; the threads
    // above were started with every signal blocked, and the receiving threads unblock only the
    // interrupt (`workers::take_interrupt`).
    unsafe {
        libc::sigemptyset(&mut interrupt);
        libc::sigaddset(&mut interrupt, workers::interrupt_signal());
        libc::sigprocmask(libc::SIG_SETMASK, &interrupt, std::ptr::null_mut());
    }
    if !write_all(std::os::fd::AsRawFd::as_raw_fd(&to_child), b"g") {
        return Err("cannot start the program: its pipe closed".into());
    }
    drop(to_child);

    let mut status = None;
    loop {
        let mut raw = 0;
        // SAFETY: raw is writable.
        let reaped = unsafe { libc::waitpid(-1, &mut raw, 0) };
        if reaped < 0 {
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                _ => break,
            }
        }
        if reaped == pid {
            status = Some(status_of(raw));
            CHILD.store(0, Ordering::Relaxed);
        }
    }
    supervisor.events.at_exit();
    Ok(status.unwrap_or(1))
}

/// The listener the child installed, taken from it.
fn take_listener(pid: libc::pid_t, from_child: &OwnedFd) -> Result<OwnedFd, String> {
    use std::os::fd::AsRawFd;
    let mut number = [0u8; 4];
    if !read_exact(from_child.as_raw_fd(), &mut number) {
        return Err("the program's process ended before installing the seccomp filter".into());
    }
    let number = i32::from_ne_bytes(number);
    if number < 0 {
        return Err(format!(
            "cannot install the seccomp filter: {} (the seccomp engine needs Linux 5.9 or later \
             with seccomp user notification)",
            std::io::Error::from_raw_os_error(-number)
        ));
    }
    // SAFETY: plain system calls on our child.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, pid, 0);
        if pidfd < 0 {
            return Err(format!("pidfd_open: {}", std::io::Error::last_os_error()));
        }
        let pidfd = OwnedFd::from_raw_fd(pidfd as RawFd);
        let fd = libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), number, 0);
        if fd < 0 {
            return Err(format!(
                "pidfd_getfd (the seccomp engine needs Linux 5.9 or later): {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(OwnedFd::from_raw_fd(fd as RawFd))
    }
}
