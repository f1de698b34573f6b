//! The process's loaded policy: built once, when the library loads (or by the first hook, if one
//! runs before armr's constructor), then only read.

use crate::sink::Sink;
use armr_core::config::{self, OnError, Sidecar};
use armr_core::policy::EventKind;
use armr_core::policy::Policy;
use armr_core::policy::compiled;
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicU16, Ordering};

pub struct State {
    pub policy: Policy,
    /// Where event lines are written: the same sink for every policy a reload publishes.
    pub sink: &'static Sink,
    /// The `ARMR_LOG` value, for messages about it.
    pub log_name: String,
    pub hostname: String,
    /// The program's name, as syslog APP-NAME.
    pub process: String,
    /// Per rule: how often events of discarded datagrams are logged (`log`), and the window of
    /// `ARMR_LOG_LIMIT`.
    pub throttles: &'static [crate::log::Throttle],
    /// `ARMR_LOG_LIMIT`: at most this many events per rule per second (0: no limit).
    pub log_limit: u32,
}

const UNLOADED: u8 = 0;
const LOADING: u8 = 1;
const READY: u8 = 2;
/// No rules (ARMR_RULES unset), or rules that failed to load with ARMR_ON_ERROR=open.
const DISABLED: u8 = 3;

static PHASE: AtomicU8 = AtomicU8::new(UNLOADED);

/// Two bits per event kind ([`kind_bit`]): the low four say that a hook may have to judge a call
/// of the kind (all four until the rules are loaded, so that the first call loads them), the
/// high four that the loaded rules judge it (none until they are loaded). Either question is one
/// load and one test: a hook goes straight to libc, before any other work, when no rule can
/// judge its call. [`SENDS_TYPED`] rides along, for `close`.
static JUDGED_KINDS: AtomicU16 = AtomicU16::new(MAY_KINDS);
const MAY_KINDS: u16 = 0x0f;
const LOADED_SHIFT: u32 = 4;

/// Set at the first send judged by its socket's type (`receive::socket_type`), before armr's
/// table of sockets is first written for it: from then on the table is kept true across `close`
/// and `dup*` in a process whose rules would not keep it otherwise (connect rules alone), which
/// until then pays nothing for it. Kept across reloads.
pub const SENDS_TYPED: u16 = 0x100;

/// The value of [`JUDGED_KINDS`] once rules with these kind bits are loaded (`sends`: the
/// [`SENDS_TYPED`] bit as it was).
const fn judged_bits(kinds: u8, sends: u16) -> u16 {
    kinds as u16 | (kinds as u16) << LOADED_SHIFT | sends & SENDS_TYPED
}

/// Puts the loaded rules' kind bits in force, keeping [`SENDS_TYPED`].
fn publish_kinds(kinds: u8) {
    let _ = JUDGED_KINDS.fetch_update(Ordering::Release, Ordering::Relaxed, |old| {
        Some(judged_bits(kinds, old))
    });
}

/// Notes that a send was judged by its socket's type ([`SENDS_TYPED`]).
#[inline(always)]
pub fn note_sends_typed() {
    if JUDGED_KINDS.load(Ordering::Relaxed) & SENDS_TYPED == 0 {
        JUDGED_KINDS.fetch_or(SENDS_TYPED, Ordering::SeqCst);
    }
}

/// True once a send was judged by its socket's type ([`SENDS_TYPED`]).
#[inline(always)]
pub fn sends_typed() -> bool {
    JUDGED_KINDS.load(Ordering::Relaxed) & SENDS_TYPED != 0
}

pub const fn kind_bit(kind: EventKind) -> u8 {
    match kind {
        EventKind::BindServer => 1,
        EventKind::BindClient => 2,
        EventKind::Connect => 4,
        EventKind::Accept => 8,
    }
}

/// False when armr is off or no rule judges any of the `kinds` bits: the call goes straight to
/// libc. True also before the rules are loaded, so that the first call loads them, and when the
/// rules are due for a look (`reload`), so that a change adding rules of a kind is seen.
#[inline(always)]
pub fn may_judge(kinds: u8) -> bool {
    JUDGED_KINDS.load(Ordering::Relaxed) & u16::from(kinds) != 0 || crate::reload::due()
}

/// Both sets of kind bits ([`JUDGED_KINDS`]), in one load, for a hook that asks about several
/// kinds: test them with [`loaded_any`] and [`may_judge_in`].
#[inline(always)]
pub fn judged_kinds() -> u16 {
    JUDGED_KINDS.load(Ordering::Relaxed)
}

/// [`judges_any`] on bits read with [`judged_kinds`].
#[inline(always)]
pub fn loaded_any(judged: u16, kinds: u8) -> bool {
    judged & u16::from(kinds) << LOADED_SHIFT != 0
}

/// [`may_judge`] on bits read with [`judged_kinds`].
#[inline(always)]
pub fn may_judge_in(judged: u16, kinds: u8) -> bool {
    judged & u16::from(kinds) != 0 || crate::reload::due()
}

/// True when the loaded rules have a rule of `kind` (false until they are loaded).
#[inline(always)]
pub fn judges(kind: EventKind) -> bool {
    JUDGED_KINDS.load(Ordering::Relaxed) & u16::from(kind_bit(kind)) << LOADED_SHIFT != 0
}

/// True when the loaded rules have a rule of any of the `kinds` bits (false until they are loaded).
#[inline(always)]
pub fn judges_any(kinds: u8) -> bool {
    loaded_any(judged_kinds(), kinds)
}

static STATE: AtomicPtr<State> = AtomicPtr::new(std::ptr::null_mut());

/// The policy, loading it on first use. `None`: armr is off in this process.
#[inline]
pub fn get() -> Option<&'static State> {
    // SAFETY: STATE is set once the rules are loaded, and never freed.
    match unsafe { STATE.load(Ordering::Acquire).as_ref() } {
        Some(state) => Some(state),
        None => load_or_wait(),
    }
}

/// The rest of [`get`]: out of line, so that a hook's common path stays small.
#[cold]
#[inline(never)]
fn load_or_wait() -> Option<&'static State> {
    loop {
        match PHASE.load(Ordering::Acquire) {
            // SAFETY: STATE is set before READY is published and never freed.
            READY => return unsafe { STATE.load(Ordering::Acquire).as_ref() },
            DISABLED => return None,
            UNLOADED => {
                if PHASE
                    .compare_exchange(UNLOADED, LOADING, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    // Loading reads files and may run other libraries' code: their socket calls
                    // are armr's own. Signals are held meanwhile (a handler runs, and is judged,
                    // when loading ends). The constructor already holds both.
                    let _held = crate::guard::Held::enter();
                    // A hook may load the rules: its caller's errno is not armr's to change.
                    let saved_errno = crate::errno::get();
                    // A panic would leave the phase LOADING, and every later call waiting.
                    let loaded = std::panic::catch_unwind(load).unwrap_or_else(|_| {
                        say("armr: internal error while loading the rules: armr is off in this process\n");
                        None
                    });
                    crate::errno::set(saved_errno);
                    let (phase, kinds) = match loaded {
                        Some(state) => {
                            // The first stack trace must not be taken in a hook (stack.rs).
                            if state.policy.has_stacktraces() {
                                crate::stack::prepare();
                            }
                            let kinds = kinds_of(&state.policy);
                            STATE.store(Box::into_raw(Box::new(state)), Ordering::Release);
                            (READY, kinds)
                        }
                        None => (DISABLED, 0),
                    };
                    PHASE.store(phase, Ordering::Release);
                    publish_kinds(kinds);
                    // Parsing freed far more than the policy keeps: give it back to the system
                    // rather than leave it resident in the program.
                    // SAFETY: no preconditions.
                    unsafe { libc::malloc_trim(0) };
                }
            }
            // Another thread is loading: wait for it (only at process start).
            _ => std::thread::yield_now(),
        }
    }
}

/// The kind bits of `policy`'s rules.
fn kinds_of(policy: &Policy) -> u8 {
    EventKind::ALL
        .into_iter()
        .filter(|k| policy.has_rules(*k))
        .fold(0, |bits, k| bits | kind_bit(k))
}

/// Puts `policy` in force in place of the loaded one (a reload: `reload`), with the same sink
/// and names. The old state is never freed: another thread may still be judging with it.
pub fn publish(old: &'static State, policy: Policy) {
    if policy.has_stacktraces() {
        crate::stack::prepare();
    }
    let kinds = kinds_of(&policy);
    let was_kept = crate::receive::kept();
    let state = State {
        throttles: crate::log::throttles(policy.len()),
        policy,
        sink: old.sink,
        log_limit: old.log_limit,
        log_name: old.log_name.clone(),
        hostname: old.hostname.clone(),
        process: old.process.clone(),
    };
    STATE.store(Box::into_raw(Box::new(state)), Ordering::Release);
    publish_kinds(kinds);
    if !was_kept && crate::receive::tracked() {
        crate::receive::relearn();
    }
}

/// The policy if it is loaded, without loading it.
#[inline]
pub fn loaded() -> Option<&'static State> {
    if PHASE.load(Ordering::Acquire) != READY {
        return None;
    }
    // SAFETY: as in `get`.
    unsafe { STATE.load(Ordering::Acquire).as_ref() }
}

/// Writes text to standard error with plain `write` calls.
pub fn say(text: &str) {
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        // SAFETY: rest is a valid buffer of rest.len() bytes.
        let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        if n <= 0 {
            break;
        }
        rest = &rest[n as usize..];
    }
}

pub(crate) fn process_name() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| "-".into())
}

/// Reports a load failure, then stops the process (closed) or lets it run unprotected (open).
/// `origin` says where ARMR_ON_ERROR comes from: empty (the environment), ` in FILE[:LINE]` (a
/// sidecar), or why the default applies (a sidecar that cannot be read).
fn fail(on_error: OnError, origin: &str, what: &str) {
    let process = process_name();
    say(what);
    match on_error {
        OnError::Closed => {
            // The environment's ARMR_ON_ERROR counts only without a sidecar: say where to set it.
            let fix = if origin.is_empty() {
                "set ARMR_ON_ERROR=open to run it unprotected"
            } else if origin.starts_with(" in ") {
                "set ARMR_ON_ERROR=open in that file to run it unprotected"
            } else {
                "fix the sidecar: the environment's ARMR_ON_ERROR does not apply"
            };
            say(&format!(
                "armr: the rules could not be loaded: stopping {process} before it starts \
                 (ARMR_ON_ERROR=closed{origin}; {fix})\n"
            ));
            // SAFETY: ends the process without running anything more of it.
            unsafe { libc::_exit(1) }
        }
        OnError::Open => say(&format!(
            "armr: the rules could not be loaded: {process} runs WITHOUT armr's protection \
             (ARMR_ON_ERROR=open{origin})\n"
        )),
    }
}

/// Where the settings come from: the sidecar beside the library when there is one (the
/// environment is then ignored), else the environment.
enum Source {
    Environment,
    Sidecar(Sidecar),
}

impl Source {
    fn var(&self, key: &str) -> Option<String> {
        match self {
            Source::Environment => std::env::var(key).ok(),
            Source::Sidecar(sidecar) => sidecar.get(key).map(str::to_string),
        }
    }

    /// Prefix for a message about `key`'s value: `FILE:LINE: ` for a sidecar.
    fn at(&self, key: &str) -> String {
        match self {
            Source::Environment => String::new(),
            Source::Sidecar(sidecar) => format!("{}: ", sidecar.origin(key)),
        }
    }

    /// Suffix saying where ARMR_ON_ERROR was read.
    fn on_error_origin(&self) -> String {
        match self {
            Source::Environment => String::new(),
            Source::Sidecar(sidecar) => format!(" in {}", sidecar.origin("ARMR_ON_ERROR")),
        }
    }
}

/// True in secure-execution mode (AT_SECURE: setuid, setgid or file capabilities).
fn secure_execution() -> bool {
    // SAFETY: getauxval has no preconditions.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

fn load() -> Option<State> {
    let source = match crate::sidecar::read() {
        // A setuid or setgid program (secure-execution mode, reached through /etc/ld.so.preload):
        // its environment belongs to the user who started it, who must not choose the file root
        // appends events to, nor the rules. Only a sidecar, or the installed policy, configures it.
        Ok(None) if secure_execution() => return crate::installed::load(Vec::new()),
        // No rules named: system-wide mode, when a policy is installed.
        Ok(None)
            if std::env::var_os("ARMR_RULES").is_none_or(|r| r.is_empty())
                && crate::installed::present() =>
        {
            return crate::installed::load(Vec::new());
        }
        Ok(None) => Source::Environment,
        Ok(Some(sidecar)) => Source::Sidecar(sidecar),
        // With a policy installed, nothing of armr's stops a process (system-wide mode).
        Err(e) if crate::installed::present() => {
            return crate::installed::load(vec![format!("{e}: ignored")]);
        }
        Err(e) => {
            // Unreadable: its ARMR_ON_ERROR is unknown, so the default (closed) applies.
            fail(
                OnError::Closed,
                ", the default, as the sidecar cannot be read",
                &format!("armr: error: {e}\n"),
            );
            return None;
        }
    };
    let checked = match &source {
        Source::Environment => config::from_env(|k| std::env::var(k).ok()),
        Source::Sidecar(sidecar) => sidecar.config().map(Some),
    };
    let config = match checked {
        Ok(None) => return None,
        Ok(Some(config)) => config,
        Err((on_error, errors)) => {
            fail(
                on_error,
                &source.on_error_origin(),
                &errors
                    .iter()
                    .map(|e| format!("armr: error: {e}\n"))
                    .collect::<String>(),
            );
            return None;
        }
    };
    let origin = source.on_error_origin();
    // Taken before the rules are read: a change made while they load is seen at the first check.
    let watch = crate::reload::Watch::new(
        &config,
        source.var(config::RELOAD).as_deref(),
        source.var(config::LOG_LIFECYCLE).as_deref(),
        source.var(config::SOURCE).as_deref(),
    );
    let mut skipped = Vec::new();
    let policy = if compiled::is_compiled(&config.rules) {
        // A compiled policy: mapped, its header and section table checked, nothing parsed.
        let loaded = crate::mapped::map(&config.rules).and_then(|bytes| {
            Policy::from_compiled(
                bytes,
                config.mode,
                Box::new(crate::resolving::Resolver::new()),
            )
        });
        match loaded {
            Ok(policy) => policy,
            Err(e) => {
                let at = source.at("ARMR_RULES");
                fail(
                    config.on_error,
                    &origin,
                    &format!(
                        "armr: error: {at}ARMR_RULES={}: compiled policy: {e}\n",
                        config.rules.display()
                    ),
                );
                return None;
            }
        }
    } else {
        load_source(&config, &source, &origin, &mut skipped)?
    };
    let log_limit = match armr_sink::limit::parse(source.var(config::LOG_LIMIT).as_deref()) {
        Ok(limit) => limit,
        Err(e) => {
            let at = source.at(config::LOG_LIMIT);
            fail(config.on_error, &origin, &format!("armr: error: {at}{e}\n"));
            return None;
        }
    };
    let sink = match Sink::open(&config.log) {
        Ok(sink) => sink,
        Err(e) => {
            let at = source.at("ARMR_LOG");
            fail(
                config.on_error,
                &origin,
                &format!("armr: error: {at}ARMR_LOG: {e}\n"),
            );
            return None;
        }
    };
    let state = State {
        throttles: crate::log::throttles(policy.len()),
        policy,
        sink: Box::leak(Box::new(sink)),
        log_limit,
        log_name: source.var("ARMR_LOG").unwrap_or_else(|| "stderr".into()),
        hostname: armr_sink::line::hostname(),
        process: process_name(),
    };
    crate::reload::started(&state, watch, &skipped);
    Some(state)
}

/// The policy from rules files (parsed and checked), or `None` after reporting their errors.
/// The names of the rules left out by their `os` list go to `skipped`, for their `Load Rule`
/// events.
fn load_source(
    config: &config::Config,
    source: &Source,
    origin: &str,
    skipped: &mut Vec<String>,
) -> Option<Policy> {
    let load = match config::load_rules(&config.rules) {
        Ok(load) => load,
        Err(e) => {
            let at = source.at("ARMR_RULES");
            fail(
                config.on_error,
                origin,
                &format!("armr: error: {at}ARMR_RULES={e}\n"),
            );
            return None;
        }
    };
    if !load.is_ok() {
        let mut text: String = load.files.iter().map(|f| f.render()).collect();
        let errors = load.errors();
        text.push_str(&format!(
            "armr: {errors} error{} in the rules\n",
            if errors == 1 { "" } else { "s" }
        ));
        if let Source::Sidecar(sidecar) = source {
            text.push_str(&format!(
                "armr: the rules are ARMR_RULES at {}\n",
                sidecar.origin("ARMR_RULES")
            ));
        }
        fail(config.on_error, origin, &text);
        return None;
    }
    *skipped = crate::reload::skipped_for_os(&load);
    Some(Policy::with_resolver(
        load.rules,
        config.mode,
        Box::new(crate::resolving::Resolver::new()),
    ))
}
