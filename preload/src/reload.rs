//! Live reload: a running process picks up a change to its rules at its next socket call, within
//! about two seconds, without a thread of armr's (docs/reload.md).
//!
//! The hooks compare the time-stamp counter (one instruction) with [`NEXT_CHECK`]; past it, the
//! check runs out of line: it stats what the policy was built from and, when that changed, loads
//! the rules again. A good change is published (`state::publish`); a change that does not load
//! is refused, the policy in force is kept and a `Syntax Error` event says why. The next check is
//! set a second later, in counter ticks measured against `CLOCK_MONOTONIC` at each check.

use crate::state::{self, State};
use armr_core::config::{self, Config};
use armr_core::event::Lifecycle;
use armr_core::language::Load;
use armr_core::policy::compiled::{self, Provenance};
use armr_core::policy::{Mode, Policy};
use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The counter value past which a hook checks the rules; `u64::MAX` when reload is off, before
/// the rules are loaded, and while a thread checks.
static NEXT_CHECK: AtomicU64 = AtomicU64::new(u64::MAX);
/// Reload is on in this process (for a forked child: see [`after_fork`]).
static ENABLED: AtomicBool = AtomicBool::new(false);
/// What the policy in force was built from. Only the thread that took the check touches it.
static WATCH: Mutex<Option<Watch>> = Mutex::new(None);

/// Counter ticks to the first check after start (about 0.2 s at 2.5 GHz), and between checks
/// until the counter's rate is measured.
const FIRST: u64 = 1 << 29;

/// The reason a rule left out by its `os` list gives in its `Load Rule` event (the
/// specification's words).
use armr_core::event::NOT_THIS_OS;

/// The time-stamp counter: one instruction, no system call.
#[inline(always)]
fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: rdtsc has no preconditions.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(target_arch = "aarch64")]
    {
        let t: u64;
        // SAFETY: reads the virtual counter, readable from user space on Linux.
        unsafe { core::arch::asm!("mrs {}, cntvct_el0", out(reg) t) };
        t
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        monotonic_ns()
    }
}

fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: now is a writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (now.tv_sec.max(0) as u64) * 1_000_000_000 + now.tv_nsec as u64
}

/// True when the rules are due for a check: a load, the counter and a compare.
#[inline(always)]
pub fn due() -> bool {
    ticks() >= NEXT_CHECK.load(Ordering::Relaxed)
}

/// What a policy was built from, and what was seen of it.
pub struct Watch {
    /// The rules file or directory, or the compiled file, whose changes are picked up.
    path: PathBuf,
    /// `path` is a compiled policy: its replacement is mapped as it is.
    compiled: bool,
    /// `path` is the policy `armr install` wrote (system-wide mode): its replacement is read into
    /// the process's own memory, as at start (`installed`).
    installed: bool,
    /// `armr run`'s private compiled file, rewritten after a good reload so that programs started
    /// later get the last good policy.
    compiled_out: Option<PathBuf>,
    mode: Mode,
    enabled: bool,
    lifecycle: bool,
    /// The files stat'ed at each check: `path` and, for a directory, its rules files as last
    /// listed (a file added or removed changes the directory's times).
    stat_paths: Vec<CString>,
    /// Their stat when last looked at (`None`: not yet).
    fingerprint: Option<Vec<u64>>,
    /// Each rules file with its SHA-256, of the policy in force (when known).
    applied: Option<Vec<(String, String)>>,
    /// Counter and monotonic clock at start, to measure the counter's rate.
    start: (u64, u64),
}

impl Watch {
    /// Before the rules are read: `reload`, `lifecycle` and `source` are the values of
    /// `ARMR_RELOAD`, `ARMR_LOG_LIFECYCLE` and `ARMR_SOURCE`.
    pub fn new(
        config: &Config,
        reload: Option<&str>,
        lifecycle: Option<&str>,
        source: Option<&str>,
    ) -> Watch {
        let enabled = config::reload_on(reload);
        let (path, compiled_out) = match source {
            Some(source) if !source.is_empty() && compiled::is_compiled(&config.rules) => {
                (PathBuf::from(source), Some(config.rules.clone()))
            }
            _ => (config.rules.clone(), None),
        };
        let compiled = compiled_out.is_none() && compiled::is_compiled(&path);
        // For armr run's compiled file the first check compares the sources with the digests it
        // was compiled from: they may have changed before this process started.
        let (stat_paths, seen) = if enabled {
            fingerprint(&path)
        } else {
            (Vec::new(), Vec::new())
        };
        let fingerprint = compiled_out.is_none().then_some(seen);
        Watch {
            path,
            stat_paths,
            compiled,
            installed: false,
            compiled_out,
            mode: config.mode,
            enabled,
            lifecycle: config::lifecycle_on(lifecycle),
            fingerprint,
            applied: None,
            start: (ticks(), monotonic_ns()),
        }
    }
}

impl Watch {
    /// System-wide mode: the installed policy at `path`, whose replacement by `armr install` is
    /// picked up like any other change.
    pub fn installed(config: &Config, reload: Option<&str>, lifecycle: Option<&str>) -> Watch {
        let mut watch = Watch::new(config, reload, lifecycle, None);
        watch.compiled = true;
        watch.installed = true;
        watch
    }
}

/// The names of the rules `load` left out because their `os` list does not include Linux.
pub fn skipped_for_os(load: &Load) -> Vec<String> {
    load.skipped_for_os().map(String::from).collect()
}

/// When the rules are loaded at start: their `Load Rule` events, then the watch armed.
pub fn started(state: &State, mut watch: Watch, skipped: &[String]) {
    for rule in skipped {
        crate::log::write_lifecycle(
            state,
            &Lifecycle::Skipped {
                rule,
                reason: NOT_THIS_OS,
            },
        );
    }
    if watch.lifecycle {
        for order in 0..state.policy.len() as u32 {
            let mut name = [0; 32];
            let rule = state.policy.event_rule(order, &mut name);
            crate::log::write_lifecycle(state, &Lifecycle::Loaded(&rule));
        }
    }
    if !watch.enabled {
        return;
    }
    if watch.compiled_out.is_some() {
        watch.applied = state.policy.provenance().map(|p| p.sources);
    }
    if let Ok(mut slot) = WATCH.lock() {
        *slot = Some(watch);
        ENABLED.store(true, Ordering::Relaxed);
        NEXT_CHECK.store(ticks().saturating_add(FIRST), Ordering::Relaxed);
    }
}

/// In a forked child: a check another thread had taken at the fork is the child's to redo.
pub fn after_fork() {
    if ENABLED.load(Ordering::Relaxed) && NEXT_CHECK.load(Ordering::Relaxed) == u64::MAX {
        NEXT_CHECK.store(0, Ordering::Relaxed);
    }
}

/// The check, once [`due`]: taken by one thread (the others go on at once), under the guard with
/// signals held, while a fork waits (as hostname resolving does), errno kept.
#[cold]
#[inline(never)]
pub fn check() {
    let next = NEXT_CHECK.load(Ordering::Relaxed);
    if next == u64::MAX
        || NEXT_CHECK
            .compare_exchange(next, u64::MAX, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let Some(_held) = crate::guard::Held::enter() else {
        NEXT_CHECK.store(next, Ordering::Relaxed);
        return;
    };
    let _resolving = crate::forking::Resolving::enter();
    let saved = crate::errno::get();
    let per_second = std::panic::catch_unwind(check_now).unwrap_or(FIRST);
    crate::errno::set(saved);
    NEXT_CHECK.store(ticks().saturating_add(per_second), Ordering::Relaxed);
}

/// Looks at the rules, reloads them if they changed; returns the counter ticks to the next
/// check (a second).
fn check_now() -> u64 {
    let Ok(mut slot) = WATCH.try_lock() else {
        return FIRST;
    };
    let Some(watch) = slot.as_mut() else {
        return u64::MAX;
    };
    let (t0, ns0) = watch.start;
    let elapsed = monotonic_ns().saturating_sub(ns0);
    let per_second = if elapsed >= 10_000_000 {
        let rate = u128::from(ticks().saturating_sub(t0)) * 1_000_000_000 / u128::from(elapsed);
        u64::try_from(rate).unwrap_or(FIRST).max(1)
    } else {
        FIRST
    };
    // Nothing allocated while nothing changed: this may run in a signal handler.
    if unchanged(watch) {
        return per_second;
    }
    let (stat_paths, seen) = fingerprint(&watch.path);
    watch.stat_paths = stat_paths;
    if watch.fingerprint.as_ref() == Some(&seen) {
        return per_second;
    }
    watch.fingerprint = Some(seen);
    let Some(old) = state::loaded() else {
        return per_second;
    };
    if watch.compiled {
        reload_compiled(watch, old);
    } else {
        reload_source(watch, old);
    }
    per_second
}

/// What a stat says of a file that a change alters: device, inode, size, modification and
/// change times (nanoseconds). All ones when it cannot be stat'ed.
const STAT_WORDS: usize = 7;

fn stat_of(path: &CStr) -> [u64; STAT_WORDS] {
    // SAFETY: st is plain data, written by stat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: path is a C string; st is writable.
    if unsafe { libc::stat(path.as_ptr(), &mut st) } != 0 {
        return [u64::MAX; STAT_WORDS];
    }
    [
        st.st_dev,
        st.st_ino,
        st.st_size as u64,
        st.st_mtime as u64,
        st.st_mtime_nsec as u64,
        st.st_ctime as u64,
        st.st_ctime_nsec as u64,
    ]
}

/// True when every file of the last look stats the same: `stat` calls only, nothing allocated.
fn unchanged(watch: &Watch) -> bool {
    let Some(seen) = &watch.fingerprint else {
        return false;
    };
    seen.len() == watch.stat_paths.len() * STAT_WORDS
        && watch
            .stat_paths
            .iter()
            .zip(seen.chunks_exact(STAT_WORDS))
            .all(|(path, was)| stat_of(path) == was)
}

/// The files to stat for `path` (itself and, for a directory, its rules files) and their stat.
fn fingerprint(path: &Path) -> (Vec<CString>, Vec<u64>) {
    let mut paths = vec![path.to_path_buf()];
    if path.is_dir()
        && let Ok(files) = config::rule_files(path)
    {
        paths.extend(files);
    }
    let paths: Vec<CString> = paths
        .into_iter()
        .filter_map(|p| CString::new(p.into_os_string().into_vec()).ok())
        .collect();
    let seen = paths.iter().flat_map(|p| stat_of(p)).collect();
    (paths, seen)
}

/// Rules files changed: parsed and checked again; put in force if they load.
fn reload_source(watch: &mut Watch, old: &'static State) {
    let (load, digests) = match compiled::reread(&watch.path, watch.applied.as_deref()) {
        compiled::Reread::Unchanged => return,
        compiled::Reread::Refused(first) => return refused(watch, old, &first),
        compiled::Reread::Loaded(load, digests) => (load, digests),
    };
    for rule in skipped_for_os(&load) {
        crate::log::write_lifecycle(
            old,
            &Lifecycle::Skipped {
                rule: &rule,
                reason: NOT_THIS_OS,
            },
        );
    }
    let policy = Policy::with_resolver(
        load.rules,
        watch.mode,
        Box::new(crate::resolving::Resolver::new()),
    );
    if let Some(out) = &watch.compiled_out {
        rewrite(out, &policy, &digests);
    }
    state::publish(old, policy);
    watch.applied = Some(digests);
    applied(watch, old);
}

/// `armr run`'s private compiled file replaced by the policy just loaded (best effort: a failure
/// is said once), so that programs started later get it.
fn rewrite(out: &Path, policy: &Policy, sources: &[(String, String)]) {
    static REPORTED: AtomicBool = AtomicBool::new(false);
    let provenance = Provenance {
        sources: sources.to_vec(),
        ..Provenance::of_files(&[])
    };
    let written = match policy.compile(&provenance) {
        Some(bytes) => compiled::write_file(out, &bytes).map_err(|e| e.to_string()),
        None => Err("the policy does not compile".into()),
    };
    if let Err(e) = written
        && !REPORTED.swap(true, Ordering::Relaxed)
    {
        state::say(&format!(
            "armr: cannot rewrite {}: {e}: programs started later get the policy it holds \
             (reported once)\n",
            out.display()
        ));
    }
}

/// The compiled file was replaced: the new one mapped and checked; put in force if it is whole.
fn reload_compiled(watch: &mut Watch, old: &'static State) {
    if watch.installed {
        match crate::installed::load_policy(&watch.path, watch.mode) {
            Ok(policy) => {
                state::publish(old, policy);
                applied(watch, old);
            }
            Err(e) => refused(watch, old, &e),
        }
        return;
    }
    let loaded = crate::mapped::map(&watch.path).and_then(|bytes| {
        compiled::verify(bytes)?;
        Policy::from_compiled(
            bytes,
            watch.mode,
            Box::new(crate::resolving::Resolver::new()),
        )
    });
    match loaded {
        Ok(policy) => {
            state::publish(old, policy);
            applied(watch, old);
        }
        Err(e) => refused(
            watch,
            old,
            &format!("{}: compiled policy: {e}", watch.path.display()),
        ),
    }
}

fn applied(watch: &Watch, state: &State) {
    if watch.lifecycle {
        crate::log::write_lifecycle(
            state,
            &Lifecycle::Reloaded {
                success: true,
                msg: "New ARMR policy has been applied",
            },
        );
    }
}

/// A change that does not load: the policy in force is kept; always logged.
fn refused(_watch: &Watch, state: &State, why: &str) {
    crate::log::write_lifecycle(state, &Lifecycle::SyntaxError { msg: why });
    crate::log::write_lifecycle(
        state,
        &Lifecycle::Reloaded {
            success: false,
            msg: "the changed rules do not load: the policy in force is kept",
        },
    );
}
