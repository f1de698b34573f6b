//! System-wide mode (docs/system-wide.md): no `ARMR_RULES`, so the policy `armr install` wrote
//! (`armr_core::config::INSTALLED_POLICY`) is enforced. The library is then in every process of
//! the host (`/etc/ld.so.preload`), so no problem of armr's may stop one: a missing or corrupt
//! policy falls back to the last good copy, then to running unprotected; an unusable log or
//! settings file falls back to defaults. Each problem is reported once per process, on standard
//! error and to syslog, and enforcement never waits on the log.

use crate::sink::Sink;
use crate::state::State;
use armr_core::config::{self, LogTarget, Sidecar};
use armr_core::policy::Policy;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The largest installed policy read: the largest rules source armr loads.
const MAX_POLICY: u64 = armr_core::language::source::MAX_RULES_FILE;
/// A settings file holds a few short lines: anything bigger is not one.
const MAX_SETTINGS: u64 = 64 * 1024;

/// True when nothing is installed (neither the policy nor its last good copy): the common case
/// of a process with no `ARMR_RULES`, answered with one or two `lstat`s.
fn nothing_installed(policy: &Path) -> bool {
    std::fs::symlink_metadata(policy).is_err()
        && std::fs::symlink_metadata(config::last_good(policy)).is_err()
}

/// True when a policy is installed (or its last good copy is there).
pub fn present() -> bool {
    !nothing_installed(Path::new(config::INSTALLED_POLICY))
}

/// The state of system-wide mode, or `None` when nothing is installed (silently) or no policy
/// loads (reported). `earlier`: problems found before (a sidecar that cannot be read), reported
/// with this mode's own.
pub fn load(earlier: Vec<String>) -> Option<State> {
    let policy_path = Path::new(config::INSTALLED_POLICY);
    if nothing_installed(policy_path) && earlier.is_empty() {
        return None;
    }
    let mut problems = earlier;
    let settings = read_settings(&config::installed_settings(policy_path)).unwrap_or_else(|e| {
        problems.push(format!("{e}: the default settings apply"));
        None
    });
    let (config, messages) = config::installed_config(policy_path, settings.as_ref());
    problems.extend(
        messages
            .into_iter()
            .map(|m| format!("{m}: its default applies")),
    );
    let last = config::last_good(policy_path);
    let loaded = match load_policy(policy_path, config.mode) {
        Ok(policy) => Some(policy),
        Err(e) => match load_policy(&last, config.mode) {
            Ok(policy) => {
                problems.push(format!(
                    "{e}: enforcing the last good policy, {}",
                    last.display()
                ));
                Some(policy)
            }
            Err(e2) => {
                problems.push(format!(
                    "{e}; {e2}: this process runs WITHOUT armr's protection"
                ));
                None
            }
        },
    };
    let Some(policy) = loaded else {
        report(&problems);
        return None;
    };
    let (sink, log_name) = match Sink::open(&config.log) {
        Ok(sink) => (sink, config.log.value().unwrap_or_default()),
        Err(e) => {
            // Enforcement goes on: the events go to syslog instead (or, failing that, stderr).
            let syslog = LogTarget::Syslog(PathBuf::from("/dev/log"));
            match Sink::open(&syslog) {
                Ok(sink) => {
                    problems.push(format!(
                        "ARMR_LOG: {e}: events go to syslog instead; the rules are enforced"
                    ));
                    (sink, "syslog".to_string())
                }
                Err(_) => {
                    problems.push(format!(
                        "ARMR_LOG: {e}: events go to stderr instead; the rules are enforced"
                    ));
                    (Sink::open(&LogTarget::Stderr).ok()?, "stderr".to_string())
                }
            }
        }
    };
    let setting = |key: &str| settings.as_ref().and_then(|s| s.get(key));
    let log_limit = armr_sink::limit::parse(setting(config::LOG_LIMIT)).unwrap_or_else(|e| {
        problems.push(format!("{e}: events are not limited"));
        0
    });
    report(&problems);
    // Watches the installed path even when the last good copy was loaded: `armr install` repairs
    // it, and the repair is picked up.
    let watch = crate::reload::Watch::installed(
        &config,
        setting(config::RELOAD),
        setting(config::LOG_LIFECYCLE),
    );
    let state = State {
        throttles: crate::log::throttles(policy.len()),
        policy,
        sink: Box::leak(Box::new(sink)),
        log_limit,
        log_name,
        hostname: armr_sink::line::hostname(),
        process: crate::state::process_name(),
    };
    crate::reload::started(&state, watch, &[]);
    Some(state)
}

/// The compiled policy at `path`, copied into the process's own memory: a file changed in place
/// under a mapping (truncated by hand) would be SIGBUS in a running program; a private copy is
/// never changed under it. Costs the file's size per process.
pub(crate) fn load_policy(path: &Path, mode: armr_core::policy::Mode) -> Result<Policy, String> {
    let shown = path.display();
    // Non-blocking: a FIFO put in the file's place does not hold every process at its start.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("{shown}: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("{shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    // Every process reads it: a file put in its place by mistake (a disk image) is not read whole.
    if meta.len() > MAX_POLICY {
        return Err(format!(
            "{shown}: {} bytes, more than a compiled policy's {MAX_POLICY}",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes)
        .map_err(|e| format!("{shown}: {e}"))?;
    // Aligned for every section, as a mapping would be; kept for the life of the process.
    let mut words = vec![0u128; bytes.len().div_ceil(16)];
    // SAFETY: `words` holds at least bytes.len() bytes; u128 has no invalid bit patterns.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), words.as_mut_ptr().cast::<u8>(), bytes.len())
    };
    let leaked: &'static [u128] = Vec::leak(words);
    // SAFETY: the leaked words are bytes.len() initialized bytes or more, never freed.
    let copy: &'static [u8] =
        unsafe { std::slice::from_raw_parts(leaked.as_ptr().cast::<u8>(), bytes.len()) };
    Policy::from_compiled(copy, mode, Box::new(crate::resolving::Resolver::new()))
        .map_err(|e| format!("{shown}: compiled policy: {e}"))
}

/// The settings file, if there is one. Whoever may write it decides where every process's events
/// go: only root's file, not writable by others, is read.
fn read_settings(path: &Path) -> Result<Option<Sidecar>, String> {
    let shown = path.display();
    let mut file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{shown}: cannot open: {e}")),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("{shown}: cannot stat: {e}"))?;
    if !meta.is_file() {
        return Err(format!("{shown}: not a regular file"));
    }
    if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{shown}: not trusted (owner uid {}, mode {:o}): it must be root's and writable by \
             root only",
            meta.uid(),
            meta.mode() & 0o7777
        ));
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(MAX_SETTINGS)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{shown}: cannot read: {e}"))?;
    Ok(Some(Sidecar::parse(&shown.to_string(), &bytes)))
}

/// Reports each problem on standard error and to syslog (`/dev/log`, facility user, warning),
/// once: this runs once per process, when the policy is loaded.
pub fn report(problems: &[String]) {
    if problems.is_empty() {
        return;
    }
    let process = crate::state::process_name();
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    for problem in problems {
        crate::state::say(&format!("armr: warning: system-wide mode: {problem}\n"));
    }
    // SAFETY: a new datagram socket, closed below; armr's own, never judged.
    let fd = unsafe {
        crate::real::socket(
            libc::AF_UNIX,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    if fd < 0 {
        return;
    }
    // SAFETY: sockaddr_un is plain data; all-zero is valid.
    let mut sun: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (slot, byte) in sun.sun_path.iter_mut().zip(b"/dev/log") {
        *slot = *byte as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    for problem in problems {
        // <12>: facility user (1), severity warning (4).
        let line = format!("<12>armr[{pid}]: system-wide mode, in {process}: {problem}");
        // SAFETY: line and sun are valid for their lengths; the call does not keep them.
        unsafe {
            crate::real::sendto(
                fd,
                line.as_ptr().cast(),
                line.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                (&sun as *const libc::sockaddr_un).cast(),
                len,
            )
        };
    }
    // SAFETY: fd is this function's own descriptor.
    unsafe { crate::real::close(fd) };
}
