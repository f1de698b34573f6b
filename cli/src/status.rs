//! `armr status`: the processes of this machine running under armr, read from /proc only, so
//! that nothing is added to the hot path of a guarded process.
//!
//! - Preload engine: libarmr.so is mapped in `/proc/PID/maps`. The policy is the compiled file
//!   mapped beside it (its digest, and the sources its provenance names), else the rules the
//!   settings name (`armr.env` beside the preloaded link, else the environment it started with,
//!   else the installed policy).
//! - Seccomp engine: `/proc/PID/status` says `Seccomp: 2` (a filter) and an ancestor is the
//!   supervisor, `armr run`, whose command line (read with armr's own parser), environment and
//!   working directory say which rules and mode it enforces.
//!
//! An unprivileged user can read only their own processes' maps and environment: the others are
//! left out. Dropped events: the count a process keeps, from its first loss, in a memfd named
//! `armr-dropped-PID` (`armr_sink::tally`), read through `/proc/PID/fd`; no such file, no loss.
//! Under the seccomp engine the supervisor writes the events, so the count is its own, shared by
//! every process it guards. Unknown (`-`, JSON null) when the descriptors cannot be read.

use crate::{Cli, Command};
use armr::policy::compiled;
use clap::Parser;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct StatusArgs {
    /// Print one JSON array, an object per process
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct Guarded {
    pid: u32,
    command: String,
    engine: &'static str,
    /// The seccomp engine's supervisor (`armr run`).
    supervisor: Option<u32>,
    mode: String,
    /// The rules file or directory the policy comes from.
    source: Option<String>,
    /// The compiled policy file the process maps (preload engine, when it maps one).
    compiled: Option<String>,
    /// SHA-256 of the compiled policy the process maps, else of the source file as it is now.
    digest: Option<String>,
    /// The source files and their digests, as the compiled policy records them.
    sources: Vec<(String, String)>,
    /// When the process loaded the policy (Unix seconds): its start, or the compiled file's
    /// rewrite by a reload when later; the supervisor's start for the seccomp engine.
    loaded: Option<u64>,
    /// Events the destinations lost (see the module's comment).
    dropped: Option<u64>,
}

pub fn status(args: StatusArgs) -> ExitCode {
    let mut pids: Vec<u32> = fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    let me = std::process::id();
    let guarded: Vec<Guarded> = pids
        .into_iter()
        .filter(|&pid| pid != me)
        .filter_map(|pid| preload(pid).or_else(|| seccomp(pid)))
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&guarded).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    println!("PID\tENGINE\tMODE\tLOADED\tDIGEST\tDROPPED\tSOURCE\tCOMMAND");
    for g in &guarded {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            g.pid,
            g.engine,
            g.mode,
            g.loaded.map_or("-".into(), time),
            g.digest.as_deref().map_or("-", |d| &d[..d.len().min(16)]),
            g.dropped.map_or("-".into(), |d| d.to_string()),
            g.source.as_deref().unwrap_or("-"),
            g.command
        );
    }
    ExitCode::SUCCESS
}

/// `2026-11-30T17:40:01Z`.
fn time(secs: u64) -> String {
    let t = armr::event::UtcTime::from_unix_millis(secs * 1000);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

fn proc(pid: u32, name: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/{name}"))
}

fn comm(pid: u32) -> String {
    fs::read_to_string(proc(pid, "comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_default()
}

/// The environment a process started with.
fn environ(pid: u32) -> BTreeMap<String, String> {
    fs::read(proc(pid, "environ"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .filter_map(|kv| {
            let kv = std::str::from_utf8(kv).ok()?;
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// A process's start, in Unix seconds: /proc/PID/stat's starttime after the boot time.
fn started(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(proc(pid, "stat")).ok()?;
    // Fields after the command (in parentheses, which may hold anything): the 22nd is starttime.
    let after = &stat[stat.rfind(')')? + 2..];
    let ticks: u64 = after.split(' ').nth(19)?.parse().ok()?;
    let boot: u64 = fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some(boot + ticks / u64::try_from(hz).ok().filter(|&h| h > 0)?)
}

fn parent(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(proc(pid, "stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split(' ').nth(1)?.parse().ok()
}

fn sha256_of(path: &Path) -> Option<String> {
    let bytes = fs::read(path).ok()?;
    Some(armr::digest::hex(&armr::digest::sha256(&bytes)))
}

fn mode_of(value: Option<&String>) -> String {
    match value.map(String::as_str) {
        Some("detect-only") => "detect-only".into(),
        _ => "enforce".into(),
    }
}

/// `KEY=value` lines of an `armr.env`.
fn settings_file(path: &Path) -> BTreeMap<String, String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

/// A process that maps libarmr.so.
fn preload(pid: u32) -> Option<Guarded> {
    let maps = fs::read_to_string(proc(pid, "maps")).ok()?;
    let mut paths: Vec<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|p| p.starts_with('/'))
        .collect();
    paths.dedup();
    let library = paths.iter().any(|p| {
        Path::new(p)
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("libarmr") && n.contains(".so"))
    });
    if !library {
        return None;
    }
    let policy = paths
        .iter()
        .filter(|p| !p.contains(".so"))
        .find(|p| compiled::is_compiled(Path::new(p)))
        .map(PathBuf::from);
    let env = environ(pid);
    // The settings file beside the preloaded link (armr run), else the environment.
    let sidecar = env
        .get("LD_PRELOAD")
        .and_then(|p| p.split([' ', ':']).find(|s| !s.is_empty()))
        .and_then(|first| {
            Path::new(first)
                .parent()
                .map(|d| d.join(armr::config::SIDECAR))
        })
        .map(|p| settings_file(&p))
        .unwrap_or_default();
    let setting = |key: &str| sidecar.get(key).or_else(|| env.get(key));
    let cwd = fs::read_link(proc(pid, "cwd")).unwrap_or_else(|_| PathBuf::from("/"));
    let source = setting(armr::config::SOURCE)
        .or_else(|| setting("ARMR_RULES"))
        .map(|s| cwd.join(s).display().to_string())
        .or_else(|| Some(armr::config::INSTALLED_POLICY.to_string()));
    let start = started(pid);
    let (digest, sources, loaded) = match &policy {
        Some(file) => {
            let bytes = fs::read(file).ok();
            let digest = bytes
                .as_ref()
                .map(|b| armr::digest::hex(&armr::digest::sha256(b)));
            let sources = crate::load_compiled(file, armr::policy::Mode::Enforce)
                .ok()
                .and_then(|(policy, _)| policy.provenance())
                .map(|p| p.sources)
                .unwrap_or_default();
            let written = fs::metadata(file)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs());
            (digest, sources, start.max(written))
        }
        None => (
            source.as_deref().and_then(|s| sha256_of(Path::new(s))),
            Vec::new(),
            start,
        ),
    };
    Some(Guarded {
        pid,
        command: comm(pid),
        engine: "preload",
        supervisor: None,
        mode: mode_of(setting("ARMR_MODE")),
        source,
        compiled: policy.map(|p| p.display().to_string()),
        digest,
        sources,
        loaded,
        dropped: dropped(pid),
    })
}

/// A process under a seccomp filter whose supervisor is `armr run`.
fn seccomp(pid: u32) -> Option<Guarded> {
    let status = fs::read_to_string(proc(pid, "status")).ok()?;
    let filtered = status
        .lines()
        .any(|l| l.strip_prefix("Seccomp:").is_some_and(|v| v.trim() == "2"));
    if !filtered {
        return None;
    }
    // The nearest ancestor that is `armr run` (a guarded program's children are guarded too).
    let mut at = pid;
    let (supervisor, args) = loop {
        at = parent(at).filter(|&p| p > 1)?;
        if let Some(args) = armr_run(at) {
            break (at, args);
        }
    };
    let env = environ(supervisor);
    let cwd = fs::read_link(proc(supervisor, "cwd")).unwrap_or_else(|_| PathBuf::from("/"));
    let rules = args
        .rules()
        .cloned()
        .or_else(|| env.get("ARMR_RULES").map(OsString::from))
        .map(|r| cwd.join(r));
    let mode = if args.detect_only() {
        "detect-only".into()
    } else {
        mode_of(env.get("ARMR_MODE"))
    };
    Some(Guarded {
        pid,
        command: comm(pid),
        engine: "seccomp",
        supervisor: Some(supervisor),
        mode,
        digest: rules.as_deref().and_then(sha256_of),
        source: rules.map(|r| r.display().to_string()),
        compiled: None,
        sources: Vec::new(),
        loaded: started(supervisor),
        dropped: dropped(supervisor),
    })
}

/// The arguments of `armr run` when process `pid` is one.
fn armr_run(pid: u32) -> Option<crate::run::RunArgs> {
    let exe = fs::read_link(proc(pid, "exe")).ok()?;
    if exe.file_name()? != "armr" {
        return None;
    }
    let argv: Vec<OsString> = fs::read(proc(pid, "cmdline"))
        .ok()?
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect();
    match Cli::try_parse_from(argv).ok()?.command {
        Command::Run(args) => Some(args),
        _ => None,
    }
}

/// The events `pid`'s destinations lost: its `armr-dropped-PID` memfd, 0 without one, `None` when
/// its descriptors cannot be read.
fn dropped(pid: u32) -> Option<u64> {
    let name = format!("/memfd:{}{pid} (deleted)", armr_sink::tally::NAME_PREFIX);
    for entry in fs::read_dir(proc(pid, "fd")).ok()?.flatten() {
        if fs::read_link(entry.path()).is_ok_and(|link| link.as_os_str() == name.as_str()) {
            let bytes = fs::read(entry.path()).ok()?;
            return Some(u64::from_ne_bytes(bytes.get(..8)?.try_into().ok()?));
        }
    }
    Some(0)
}
