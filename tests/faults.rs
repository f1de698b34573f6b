//! libarmr.so under faults a user can meet: rules files that are missing, a directory without
//! rules, a dangling symlink, empty, binary garbage, 10 MB; a rules file rewritten while processes
//! start; a log destination that is full, or a FIFO nobody reads; a signal handler that connects.
//! Each test runs a real program (Python 3, `tests/programs/faults.py`, or C built with `cc`)
//! under `LD_PRELOAD=target/release/libarmr.so`
//! and asserts what the user sees: exit status, standard output and error, connections made.
//!
//! Needs `cargo build --release` first, `python3`, and root for the tmpfs mount of
//! `a_full_log_destination_counts_and_reports_lost_events`. Only 127.0.0.1 is used, every port is
//! chosen by the kernel, every run has a deadline (a hung program is killed with its group).

mod support;

use std::fs;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::net::{assert_untouched, tcp_listener};
use support::programs::{c_library, c_program, python_program};
use support::rules;
use support::run::{Ran, kill_group};
use support::{TempDir, armr_command, library, text, without_armr_env};

const REFUSED: &str = "ConnectionRefusedError errno=111";
const STOPPED: &str = "armr: the rules could not be loaded: stopping ";
const UNPROTECTED: &str = "runs WITHOUT armr's protection (ARMR_ON_ERROR=open)";

// --- paths and programs

/// Runs `tests/programs/faults.py ARGS` under libarmr.so with `env` (ARMR_* otherwise unset).
fn run(dir: &Path, tag: &str, args: &[String], env: &[(&str, String)], timeout: Duration) -> Ran {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut command = python_program("faults.py", &args);
    without_armr_env(&mut command)
        .current_dir(dir)
        .env("LD_PRELOAD", library())
        .envs(env.iter().map(|(k, v)| (k, v)));
    support::run::run(&mut command, dir, tag, timeout)
}

fn args(values: &[&dyn ToString]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

// --- rules and listeners

/// One app, `Faults`, whose rules are `(name, condition, action)`.
fn policy(rules: &[(&str, String, &str)]) -> String {
    rules::policy("Faults", rules)
}

const PROTECT: &str = "protect(message: \"blocked\", severity: High)";

fn protect_port(port: u16) -> String {
    policy(&[("no", format!("connect(\"127.0.0.1:{port}\")"), PROTECT)])
}

fn listener() -> (TcpListener, u16) {
    tcp_listener("127.0.0.1:0")
}

/// A listener whose connections are accepted (and dropped) by a thread, for the life of the test
/// binary, so that a backlog never fills.
fn accepting() -> u16 {
    let (l, port) = listener();
    std::thread::spawn(move || {
        for s in l.incoming() {
            drop(s);
        }
    });
    port
}

/// A listener that accepts and counts its connections (a full backlog would hang a program that
/// gets through), for the life of the test binary.
fn counting_listener() -> (Arc<AtomicUsize>, u16) {
    let (l, port) = listener();
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = reached.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    (reached, port)
}

/// The policy of the C signal program: connects to `protected` refused by `protect`, connects to
/// `allowed` allowed and logged.
fn signal_policy(protected: u16, protect: &str, allowed: u16) -> String {
    policy(&[
        ("no", format!("connect(\"127.0.0.1:{protected}\")"), protect),
        (
            "ok",
            format!("connect(\"127.0.0.1:{allowed}\")"),
            "allow(message: \"ok\", severity: Low)",
        ),
    ])
}

// --- 1. rules files that cannot be loaded, and a 10 MB one that can

/// Random bytes from a fixed seed, with NUL, invalid UTF-8 and something rule-like in them.
fn garbage() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes: Vec<u8> = (0..8192)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    bytes.extend_from_slice(b"\0\0\xff\xfe\xc3\x28app(\"x\"):\n\xed\xa0\x80\0");
    bytes
}

/// The broken rules paths: `(case, path)`, each a different way to have no rules.
fn broken_rules(dir: &TempDir) -> Vec<(&'static str, PathBuf)> {
    let missing = dir.join("missing.armr");
    let no_rules_dir = dir.join("no-rules");
    fs::create_dir_all(&no_rules_dir).unwrap();
    fs::write(no_rules_dir.join("README.txt"), "not rules\n").unwrap();
    fs::create_dir_all(no_rules_dir.join("sub.armr")).unwrap(); // a directory named *.armr
    let dangling = dir.join("dangling.armr");
    std::os::unix::fs::symlink(dir.join("nowhere.armr"), &dangling).unwrap();
    let empty = dir.write("empty.armr", "");
    let garbage_path = dir.join("garbage.armr");
    fs::write(&garbage_path, garbage()).unwrap();
    vec![
        ("missing", missing),
        ("directory without *.armr", no_rules_dir),
        ("dangling symlink", dangling),
        ("empty", empty),
        ("binary garbage", garbage_path),
    ]
}

#[test]
fn broken_rules_files_stop_the_program_when_closed() {
    let dir = TempDir::new("faults", "closed");
    let (protected, port) = listener();
    for (case, rules) in broken_rules(&dir) {
        for on_error in [None, Some("closed")] {
            let mut env = vec![("ARMR_RULES", rules.display().to_string())];
            if let Some(v) = on_error {
                env.push(("ARMR_ON_ERROR", v.to_string()));
            }
            let tag = format!(
                "{}-{}",
                case.replace(' ', "-"),
                on_error.unwrap_or("default")
            );
            let out = run(
                &dir.0,
                &tag,
                &args(&[&"connect", &"127.0.0.1", &port]),
                &env,
                Duration::from_secs(20),
            );
            let what = format!("{case} (ARMR_ON_ERROR={on_error:?})\n{}", out.context());
            assert_eq!(out.code(), Some(1), "{what}");
            assert_eq!(out.stdout, "", "main never ran: {what}");
            assert!(
                out.stderr.contains(&rules.display().to_string()),
                "the diagnostic names the file: {what}"
            );
            assert!(out.stderr.contains(STOPPED), "{what}");
            assert!(!out.stderr.contains("WITHOUT"), "{what}");
            assert_untouched(&protected, &what);
        }
    }
}

#[test]
fn broken_rules_files_run_the_program_unprotected_and_say_so_when_open() {
    let dir = TempDir::new("faults", "open");
    let port = accepting();
    for (case, rules) in broken_rules(&dir) {
        let env = [
            ("ARMR_RULES", rules.display().to_string()),
            ("ARMR_ON_ERROR", "open".to_string()),
        ];
        let tag = case.replace(' ', "-");
        let out = run(
            &dir.0,
            &tag,
            &args(&[&"connect", &"127.0.0.1", &port]),
            &env,
            Duration::from_secs(20),
        );
        let what = format!("{case}\n{}", out.context());
        assert_eq!(out.code(), Some(0), "{what}");
        assert_eq!(out.stdout, format!("port_{port}: ok\n"), "{what}");
        assert!(
            out.stderr.contains(&rules.display().to_string()),
            "the diagnostic names the file: {what}"
        );
        assert!(out.stderr.contains(UNPROTECTED), "{what}");
        assert!(!out.stderr.contains(STOPPED), "{what}");
    }
}

#[test]
fn a_ten_megabyte_rules_file_loads_and_enforces() {
    let dir = TempDir::new("faults", "ten-mb");
    let (protected, port) = listener();
    let allowed = accepting();
    let mut rules = protect_port(port);
    let mut n = 0;
    while rules.len() < 10 << 20 {
        rules.push_str(&format!(
            "app(\"filler {n}\"):\n  requires(version: ARMR/2.11)\n"
        ));
        for r in 0..100 {
            rules.push_str(&format!(
                "  socket(\"rule {r}\"):\n    connect(\"10.{}.{r}.1:{}\")\n    protect(message: \"blocked\", severity: 8)\n  endsocket\n",
                n % 256,
                r + 1
            ));
        }
        rules.push_str("endapp\n");
        n += 1;
    }
    let path = dir.write("big.armr", &rules);
    assert!(fs::metadata(&path).unwrap().len() >= 10 << 20);
    let env = [("ARMR_RULES", path.display().to_string())];
    let started = Instant::now();
    let out = run(
        &dir.0,
        "big",
        &args(&[&"connect", &"127.0.0.1", &port, &allowed]),
        &env,
        Duration::from_secs(60),
    );
    let what = format!(
        "loaded and ran in {:?}\n{}",
        started.elapsed(),
        out.context()
    );
    assert_eq!(out.code(), Some(0), "{what}");
    assert_eq!(
        out.stdout,
        format!("port_{port}: {REFUSED}\nport_{allowed}: ok\n"),
        "{what}"
    );
    assert_untouched(&protected, &what);
    eprintln!("10 MB rules file: {what}");
}

// --- 2. a rules file rewritten while processes load it

/// Two listening ports that differ in their last digit only, so that the two versions of the rules
/// differ in one byte: whatever bytes of each a reader mixes, it reads one version or the other.
fn two_ports_one_digit_apart() -> (TcpListener, u16, TcpListener, u16) {
    for _ in 0..100 {
        let (a, pa) = listener();
        let base = pa - pa % 10;
        for pb in base..base + 10 {
            if pb != pa
                && pb >= 1024
                && let Ok(b) = TcpListener::bind(("127.0.0.1", pb))
            {
                return (a, pa, b, pb);
            }
        }
    }
    panic!("no two free ports one digit apart");
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Rewrite {
    Rename,
    InPlace,
}

#[test]
fn rules_rewritten_while_loading_are_enforced_whole_or_fail_closed() {
    let dir = TempDir::new("faults", "rewrite");
    let (la, pa, lb, pb) = two_ports_one_digit_apart();
    for l in [la, lb] {
        std::thread::spawn(move || {
            for s in l.incoming() {
                drop(s);
            }
        });
    }
    let versions = [protect_port(pa), protect_port(pb)];
    assert_eq!(versions[0].len(), versions[1].len());
    let rules = dir.join("rules.armr");
    let mut problems = Vec::new();
    for (rewrite, on_error) in [
        (Rewrite::Rename, "closed"),
        (Rewrite::InPlace, "closed"),
        (Rewrite::InPlace, "open"),
    ] {
        fs::write(&rules, &versions[0]).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (stop, rules, versions) = (stop.clone(), rules.clone(), versions.clone());
            let tmp = dir.join("rules.tmp");
            std::thread::spawn(move || {
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let v = &versions[i % 2];
                    match rewrite {
                        Rewrite::Rename => {
                            fs::write(&tmp, v).unwrap();
                            fs::rename(&tmp, &rules).unwrap();
                        }
                        Rewrite::InPlace => fs::write(&rules, v).unwrap(),
                    }
                }
                i
            })
        };
        let (mut a, mut b, mut closed, mut open) = (0, 0, 0, 0);
        let runs = 32;
        let parallel = 4;
        for batch in 0..runs / parallel {
            let handles: Vec<_> = (0..parallel)
                .map(|k| {
                    let d = dir.0.clone();
                    let env = vec![
                        ("ARMR_RULES", rules.display().to_string()),
                        ("ARMR_ON_ERROR", on_error.to_string()),
                        (
                            "ARMR_LOG",
                            format!("file:{}", dir.join("events.log").display()),
                        ),
                        // What loading sees, alone: a reload between the two connects (the
                        // file is rewritten all the time) would mix the versions on purpose.
                        ("ARMR_RELOAD", "off".to_string()),
                    ];
                    let tag = format!("{rewrite:?}-{on_error}-{}", batch * parallel + k);
                    std::thread::spawn(move || {
                        run(
                            &d,
                            &tag,
                            &args(&[&"connect", &"127.0.0.1", &pa, &pb]),
                            &env,
                            Duration::from_secs(30),
                        )
                    })
                })
                .collect();
            for h in handles {
                let out = h.join().unwrap();
                let enforces_a = format!("port_{pa}: {REFUSED}\nport_{pb}: ok\n");
                let enforces_b = format!("port_{pa}: ok\nport_{pb}: {REFUSED}\n");
                let unprotected = format!("port_{pa}: ok\nport_{pb}: ok\n");
                let clean = !out.stderr.contains("armr:");
                if out.code() == Some(0) && out.stdout == enforces_a && clean {
                    a += 1;
                } else if out.code() == Some(0) && out.stdout == enforces_b && clean {
                    b += 1;
                } else if on_error == "closed"
                    && out.code() == Some(1)
                    && out.stdout.is_empty()
                    && out.stderr.contains(STOPPED)
                    && out.stderr.contains(&rules.display().to_string())
                {
                    closed += 1;
                } else if on_error == "open"
                    && out.code() == Some(0)
                    && out.stdout == unprotected
                    && out.stderr.contains(UNPROTECTED)
                    && out.stderr.contains(&rules.display().to_string())
                {
                    open += 1;
                } else {
                    problems.push(format!(
                        "{rewrite:?} ARMR_ON_ERROR={on_error}: {}",
                        out.context()
                    ));
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        let writes = writer.join().unwrap();
        eprintln!(
            "{rewrite:?} ARMR_ON_ERROR={on_error}: {writes} rewrites; {a} enforced version A, {b} version B, \
             {closed} failed closed, {open} ran unprotected and said so"
        );
        if rewrite == Rewrite::Rename && closed + open > 0 {
            problems.push(format!("{rewrite:?}: an atomic rename never leaves a reader without rules, yet {} runs failed", closed + open));
        }
    }
    assert!(
        problems.is_empty(),
        "{} runs neither enforced a version nor failed visibly:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

// --- 3. a full log destination

/// A tmpfs mounted for the test; unmounted when dropped, on failure too.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, size: &str) -> Mount {
        fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mount -t tmpfs (needs root): {}",
            text(&out.stderr)
        );
        Mount(dir.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

#[test]
fn a_full_log_destination_counts_and_reports_lost_events() {
    let dir = TempDir::new("faults", "full-log");
    let rules = dir.write(
        "rules.armr",
        &policy(&[(
            "seen",
            "connect(\"127.0.0.1:9\")".into(),
            "detect(message: \"seen\", severity: Low)",
        )]),
    );
    let logfs = Mount::tmpfs(&dir.join("logfs"), "16k");
    let log = logfs.0.join("events.log");
    let log_name = format!("file:{}", log.display());
    let env = [
        ("ARMR_RULES", rules.display().to_string()),
        ("ARMR_LOG", log_name.clone()),
    ];
    let n = 2000;
    let started = Instant::now();
    let out = run(
        &dir.0,
        "flood",
        &args(&[&"flood", &"127.0.0.1", &9, &n]),
        &env,
        Duration::from_secs(20),
    );
    let elapsed = started.elapsed();
    let logged = fs::read(&log).unwrap_or_default();
    let lines = logged.iter().filter(|&&c| c == b'\n').count();
    let what = format!(
        "{n} connects in {elapsed:?}; {} bytes, {lines} lines in the log\n{}",
        logged.len(),
        out.context()
    );
    assert_eq!(out.code(), Some(0), "{what}");
    assert_eq!(out.stdout, format!("done: {n}\n"), "{what}");
    assert!(lines > 0, "the log took events until it was full: {what}");
    let reports: Vec<u64> = out
        .stderr
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("armr: ")?;
            let (count, tail) = rest.split_once(' ')?;
            tail.starts_with("event").then_some(()).filter(|_| {
                tail.contains(&format!("could not be delivered to ARMR_LOG={log_name}"))
            })?;
            count.parse().ok()
        })
        .collect();
    assert_eq!(reports.len(), 1, "one report at exit: {what}");
    let dropped = reports[0];
    assert!(dropped > 0 && dropped <= n, "{what}");
    assert_eq!(
        lines as u64 + dropped,
        n,
        "every event is either in the log, whole, or counted as lost: {what}"
    );
    eprintln!("full log: {dropped} dropped; {what}");
}

/// logging.md: when the file system fills up in the middle of an event, the short `write` leaves
/// the start of that line in the file (the event is counted as lost); once there is room again,
/// the next event starts on a line of its own, so that no two events share a line.
#[test]
fn a_full_log_destination_cuts_one_line_and_the_next_starts_afresh() {
    let dir = TempDir::new("faults", "torn-log");
    let rules = dir.write(
        "rules.armr",
        &policy(&[(
            "seen",
            "connect(\"127.0.0.1:9\")".into(),
            "detect(message: \"seen\", severity: Low)",
        )]),
    );
    let logfs = Mount::tmpfs(&dir.join("logfs"), "16k");
    let log = logfs.0.join("events.log");
    let env = [
        ("ARMR_RULES", rules.display().to_string()),
        ("ARMR_LOG", format!("file:{}", log.display())),
    ];
    // One process: it fills the disk, then finds room again (the file system grows) and goes on.
    let grow = format!("mount -o remount,size=256k {}", logfs.0.display());
    let out = run(
        &dir.0,
        "flood",
        &args(&[&"flood_then_grow", &"127.0.0.1", &9, &2000, &grow]),
        &env,
        Duration::from_secs(20),
    );
    assert_eq!(out.code(), Some(0), "{}", out.context());
    let logged = text(&fs::read(&log).unwrap_or_default());
    assert!(logged.ends_with('\n'), "the log ends with a whole line");
    let lines: Vec<&str> = logged.lines().collect();
    let glued: Vec<&&str> = lines
        .iter()
        .filter(|l| l.matches("<14>1 ").count() > 1)
        .collect();
    assert!(glued.is_empty(), "two events on one line: {glued:?}");
    let whole =
        |l: &&&str| l.ends_with("remotePort=9") || l.contains("|events dropped|Events dropped|");
    let cut = lines.iter().filter(|l| !whole(l)).count();
    assert!(cut <= 1, "at most the one line cut by the full disk: {cut}");
    assert!(
        lines.iter().any(|l| l.contains("|events dropped|")),
        "the count of lost events is written once there is room"
    );
    let after = lines
        .iter()
        .skip_while(|l| l.ends_with("remotePort=9"))
        .skip(1)
        .count();
    assert!(
        after > 0,
        "events were written after the file system grew:\n{}",
        out.context()
    );
}

// --- 4. a signal handler that connects

/// Runs a compiled C program under libarmr.so with only `env` besides `LD_PRELOAD` (its output
/// in `dir`); returns its exit status and what it wrote (standard output, then standard error).
fn run_c(
    dir: &Path,
    binary: &Path,
    args: &[String],
    env: &[(&str, String)],
    timeout: Duration,
) -> (Option<i32>, String) {
    let mut command = Command::new(binary);
    command
        .args(args)
        .env_clear()
        .env("LD_PRELOAD", library())
        .envs(env.iter().map(|(k, v)| (k, v)));
    let tag = binary.file_name().unwrap().to_string_lossy();
    let ran = support::run::run(&mut command, dir, &tag, timeout);
    (ran.code(), format!("{}{}", ran.stdout, ran.stderr))
}

#[test]
fn a_c_signal_handler_interrupting_a_hook_is_still_refused() {
    let dir = TempDir::new("faults", "c-signal");
    let (reached, port) = counting_listener();
    let allowed = accepting();
    let rules = dir.write("rules.armr", &signal_policy(port, PROTECT, allowed));
    let binary = c_program("signal_connect", &[]);
    let (code, report) = run_c(
        &dir.0,
        &binary,
        &args(&[&port, &allowed, &2]),
        &[
            ("ARMR_RULES", rules.display().to_string()),
            (
                "ARMR_LOG",
                format!("file:{}", dir.join("events.log").display()),
            ),
        ],
        Duration::from_secs(20),
    );
    assert_eq!(code, Some(0), "{report}");
    std::thread::sleep(Duration::from_millis(200));
    let reached = reached.load(Ordering::SeqCst);
    assert!(
        report.contains(" 0 connected, 0 other") && reached == 0,
        "the handler reached the protected address ({reached} connections accepted by it):\n{report}"
    );
}

#[test]
fn a_signal_handler_connecting_to_a_protected_address_is_refused() {
    let dir = TempDir::new("faults", "signal");
    let (protected, port) = listener();
    let allowed = accepting();
    let rules = dir.write("rules.armr", &protect_port(port));
    let env = [
        ("ARMR_RULES", rules.display().to_string()),
        (
            "ARMR_LOG",
            format!("file:{}", dir.join("events.log").display()),
        ),
    ];
    let out = run(
        &dir.0,
        "signal",
        &args(&[&"signal", &"127.0.0.1", &port, &allowed]),
        &env,
        Duration::from_secs(30),
    );
    let what = out.context();
    assert_eq!(out.code(), Some(0), "{what}");
    assert_eq!(
        out.stdout,
        format!(
            "sleeping_handler_main_thread: 1\nsleeping_handler_protected: {REFUSED}\nsleeping_handler_allowed: ok\n\
             connecting_handler_main_thread: 1\nconnecting_handler_protected: {REFUSED}\nconnecting_handler_allowed: ok\n"
        ),
        "{what}"
    );
    assert_untouched(&protected, &what);
    let events = fs::read_to_string(dir.join("events.log")).unwrap_or_default();
    assert_eq!(
        events
            .lines()
            .filter(|l| l.contains("act=protect") && l.contains(&format!("remotePort={port}")))
            .count(),
        2,
        "one protect event per handler\n{events}"
    );
}

/// A listener that takes no more connections: its accept queue is full and nobody accepts, so
/// the kernel drops every new SYN and a connect to it waits for its handshake. Returns the
/// listener and the connection that fills its queue (both must live as long as the test).
fn full_listener() -> (TcpListener, Vec<std::net::TcpStream>, u16) {
    use std::os::fd::AsRawFd;
    let (l, port) = listener();
    // SAFETY: l is a listening socket; listen again only sets its backlog.
    assert_eq!(unsafe { libc::listen(l.as_raw_fd(), 0) }, 0, "listen(0)");
    let addr = l.local_addr().unwrap();
    let mut filling = Vec::new();
    loop {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(s) => filling.push(s),
            Err(e) if e.kind() == ErrorKind::TimedOut => break,
            Err(e) => panic!("filling the accept queue: {e}"),
        }
        assert!(filling.len() < 8, "the accept queue does not fill");
    }
    (l, filling, port)
}

#[test]
fn a_signal_handler_landing_while_armr_sends_an_event_is_still_refused() {
    let dir = TempDir::new("faults", "sink-signal");
    let (reached, port) = counting_listener();
    let allowed = accepting();
    let (_full, _filling, log_port) = full_listener();
    // The handler's refusals are not logged (a protect without a message): only the main thread's
    // events reach the sink, so that its connect is the one armr's reconnection interrupts.
    let rules = dir.write("rules.armr", &signal_policy(port, "protect()", allowed));
    let binary = c_program("signal_connect", &[]);
    let (code, report) = run_c(
        &dir.0,
        &binary,
        &args(&[&port, &allowed, &20, &3]),
        &[
            ("ARMR_RULES", rules.display().to_string()),
            ("ARMR_LOG", format!("tcp://127.0.0.1:{log_port}")),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(0), "{report}");
    let inside = report
        .lines()
        .find_map(|l| l.strip_prefix("inside armr's sink: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no count of handler runs inside the sink:\n{report}"));
    assert!(
        inside >= 1,
        "the handler never ran while armr was connecting to its log destination:\n{report}"
    );
    std::thread::sleep(Duration::from_millis(200));
    let reached = reached.load(Ordering::SeqCst);
    assert!(
        report.contains(" 0 connected, 0 other")
            && report.contains(&format!(
                "inside armr's sink: {inside} runs, {inside} refused"
            ))
            && reached == 0,
        "a handler reached the protected address ({reached} connections accepted by it):\n{report}"
    );
    assert!(
        report.contains("could not be delivered to ARMR_LOG=tcp://"),
        "armr reports the events its destination did not take:\n{report}"
    );
}

// --- 5. a fork while another thread resolves the rules' hostnames

/// A child forked while another thread of its parent resolves the rules' hostnames would inherit
/// the resolution half done, with no thread to finish it, and hang at its first decision; the
/// fork waits for the resolution to end instead (forking.rs), and the child's connect is judged.
#[test]
fn a_fork_while_another_thread_resolves_hostnames_does_not_hang_the_child() {
    let dir = TempDir::new("faults", "fork-resolving");
    let slow = c_library("slow_getaddrinfo");
    let binary = c_program("fork_resolving", &[]);
    let (protected, port) = listener();
    let rules = dir.write(
        "rules.armr",
        &policy(&[(
            "no",
            format!("connect(\"armr-fork.test:{port}\")"),
            "protect()",
        )]),
    );
    let preload = format!("{}:{}", library().display(), slow.display());
    let (code, out) = run_c(
        &dir.0,
        &binary,
        &[port.to_string()],
        &[
            ("LD_PRELOAD", preload),
            ("ARMR_RULES", rules.display().to_string()),
        ],
        Duration::from_secs(20),
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("child: errno=111\n"), "{out}");
    assert!(out.contains("thread: errno=111\n"), "{out}");
    let fork_ms: f64 = out
        .lines()
        .find_map(|l| {
            l.strip_prefix("fork took ")?
                .strip_suffix(" ms")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no fork time: {out}"));
    assert!(
        fork_ms >= 300.0,
        "the fork did not wait for the resolution in progress ({fork_ms} ms): {out}"
    );
    assert_untouched(&protected, "the thread and the child");
}

// --- 6. a log destination that is a FIFO: never blocks, never raises a signal

/// A named pipe at `path`.
fn mkfifo(path: &Path) {
    let out = Command::new("mkfifo").arg(path).output().expect("mkfifo");
    assert!(out.status.success(), "mkfifo: {}", text(&out.stderr));
}

/// The read end of a FIFO, opened without waiting for a writer; reads never block.
fn fifo_reader(path: &Path) -> fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .unwrap()
}

/// Everything the FIFO holds now.
fn drain(reader: &mut fs::File) -> String {
    use std::io::Read;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("reading the FIFO: {e}"),
        }
    }
    text(&bytes)
}

/// Waits for `child` until `deadline`; kills its group and fails past it. Exit code (`None`:
/// killed by a signal, named in the failure), standard output, standard error.
fn finish(
    child: std::process::Child,
    what: &str,
    timeout: Duration,
) -> (Option<i32>, String, String) {
    use std::os::unix::process::ExitStatusExt;
    let deadline = Instant::now() + timeout;
    let mut child = child;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            kill_group(child.id());
            let _ = child.wait();
            panic!("{what}: still running after {timeout:?}, killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.signal(),
        None,
        "{what}: killed by signal {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.signal(),
        text(&out.stdout),
        text(&out.stderr)
    );
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// The events program under armr, logging to `log`; standard input piped.
fn start_events(binary: &Path, rules: &Path, log: &str, args: &[String]) -> std::process::Child {
    Command::new(binary)
        .args(args)
        .env_clear()
        .env("LD_PRELOAD", library())
        .env("ARMR_RULES", rules)
        .env("ARMR_LOG", log)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap()
}

/// The count in armr's report at exit of the events its destination did not take.
fn reported_lost(stderr: &str, log: &str) -> Option<u64> {
    stderr.lines().find_map(|l| {
        let (count, tail) = l.strip_prefix("armr: ")?.split_once(' ')?;
        (tail
            == format!(
                "events could not be delivered to ARMR_LOG={log}: it was unavailable or too slow"
            ))
        .then(|| count.parse().ok())?
    })
}

/// A FIFO that nobody reads: opening it for writing would wait for a reader, before `main`, with
/// the program's signals held. armr opens it without waiting: no reader is a destination that is
/// down (docs/logging.md), the events are dropped and counted.
#[test]
fn a_log_fifo_without_a_reader_neither_blocks_nor_stops_the_program() {
    let dir = TempDir::new("faults", "fifo-no-reader");
    let (protected, port) = listener();
    let rules = dir.write("rules.armr", &protect_port(port));
    let fifo = dir.join("events.fifo");
    mkfifo(&fifo);
    let log = format!("file:{}", fifo.display());
    let binary = c_program("events", &[]);
    let child = start_events(&binary, &rules, &log, &args(&[&port, &1000]));
    let (code, stdout, stderr) = finish(child, "no reader", Duration::from_secs(20));
    let what = format!("exit {code:?}\n--- stdout\n{stdout}--- stderr\n{stderr}");
    assert_eq!(
        (code, stdout.as_str()),
        (Some(0), "1000 refused\n"),
        "{what}"
    );
    assert_eq!(reported_lost(&stderr, &log), Some(1000), "{what}");
    assert_untouched(&protected, &what);
}

/// A reader that stops reading: the pipe fills after a few hundred lines, and a blocking write
/// would stall the program for good. Every event is either in the pipe, whole, or counted.
#[test]
fn a_log_fifo_whose_reader_stops_reading_does_not_stall_the_program() {
    const N: u64 = 200_000;
    let dir = TempDir::new("faults", "fifo-stalled");
    let (protected, port) = listener();
    let rules = dir.write("rules.armr", &protect_port(port));
    let fifo = dir.join("events.fifo");
    mkfifo(&fifo);
    let mut reader = fifo_reader(&fifo);
    let log = format!("file:{}", fifo.display());
    let binary = c_program("events", &[]);
    let started = Instant::now();
    let child = start_events(&binary, &rules, &log, &args(&[&port, &N]));
    let (code, stdout, stderr) = finish(child, "stalled reader", Duration::from_secs(60));
    let elapsed = started.elapsed();
    let piped = drain(&mut reader);
    let what = format!(
        "{N} events in {elapsed:?}, {} bytes in the pipe\nexit {code:?}\n--- stdout\n{stdout}--- stderr\n{stderr}",
        piped.len()
    );
    assert_eq!(
        (code, stdout.as_str()),
        (Some(0), &*format!("{N} refused\n")),
        "{what}"
    );
    let lines: Vec<&str> = piped.lines().collect();
    assert!(
        !lines.is_empty(),
        "the pipe took events until it was full: {what}"
    );
    assert!(piped.ends_with('\n'), "{what}");
    for line in &lines {
        assert!(
            line.contains(" act=protect msg=blocked ")
                && line.ends_with(&format!("remoteIpAddress=127.0.0.1 remotePort={port}")),
            "a whole event line: {line:?}"
        );
    }
    let lost = reported_lost(&stderr, &log).unwrap_or_else(|| panic!("no report: {what}"));
    assert_eq!(
        lines.len() as u64 + lost,
        N,
        "every event is in the pipe, whole, or counted as lost: {what}"
    );
    assert_untouched(&protected, &what);
    eprintln!("stalled FIFO: {what}");
}

/// A reader that goes away: a write to a pipe without a reader raises SIGPIPE, which kills a
/// program that does not expect it. armr's write never raises it; the events are counted.
#[test]
fn a_log_fifo_whose_reader_exits_does_not_kill_the_program_with_sigpipe() {
    use std::io::{BufRead, Write};
    let dir = TempDir::new("faults", "fifo-gone");
    let (protected, port) = listener();
    let rules = dir.write("rules.armr", &protect_port(port));
    let fifo = dir.join("events.fifo");
    mkfifo(&fifo);
    let mut reader = fifo_reader(&fifo);
    let log = format!("file:{}", fifo.display());
    let binary = c_program("events", &[]);
    let mut child = start_events(&binary, &rules, &log, &args(&[&port, &1, &1000]));
    // The first event reaches the reader; then the reader goes away and the program goes on.
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let _ = tx.send(first);
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        let _ = tx.send(rest.join("\n"));
    });
    let paused = rx.recv_timeout(Duration::from_secs(20));
    if paused.as_deref() != Ok("paused") {
        kill_group(child.id());
        panic!("the program did not pause: {paused:?}");
    }
    let first = drain(&mut reader);
    assert!(
        first.ends_with(&format!("remotePort={port}\n")) && first.lines().count() == 1,
        "the first event reached the reader: {first:?}"
    );
    drop(reader);
    child.stdin.take().unwrap().write_all(b"\n").unwrap();
    let (code, _, stderr) = finish(child, "reader gone", Duration::from_secs(20));
    let stdout = rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
    let what = format!("exit {code:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    assert_eq!((code, stdout.as_str()), (Some(0), "1001 refused"), "{what}");
    assert_eq!(reported_lost(&stderr, &log), Some(1000), "{what}");
    assert_untouched(&protected, &what);
}

// --- 7. a stack trace taken in a signal handler

/// The first stack trace of a process must not load a library (glibc's `backtrace` loads
/// libgcc_s with `dlopen` on its first call) nor allocate: a signal handler whose connect is
/// logged with a stack trace, landing while the main thread is inside malloc, would re-enter
/// malloc and deadlock or corrupt the heap. 20 runs, none may hang or abort; no allocation in the
/// handler; `LD_DEBUG=files` shows no library loaded once `main` runs.
#[test]
fn a_stack_trace_in_a_signal_handler_neither_allocates_nor_loads_a_library() {
    let dir = TempDir::new("faults", "stack-in-handler");
    let (protected, port) = listener();
    let rules = dir.write(
        "rules.armr",
        &policy(&[(
            "traced",
            format!("connect(\"127.0.0.1:{port}\")"),
            "protect(message: \"traced\", severity: High, stacktrace: \"full\")",
        )]),
    );
    let binary = c_program("stack_in_handler", &["-rdynamic", "-pthread"]);
    let log = dir.join("events.log");
    let env = |debug: bool| {
        let mut env = vec![
            ("ARMR_RULES", rules.display().to_string()),
            ("ARMR_LOG", format!("file:{}", log.display())),
        ];
        if debug {
            env.push(("LD_DEBUG", "files".to_string()));
        }
        env
    };
    // Libraries loaded once main runs, as the loader reports them.
    let (code, report) = run_c(
        &dir.0,
        &binary,
        &args(&[&port, &0.1]),
        &env(true),
        Duration::from_secs(20),
    );
    assert_eq!(code, Some(0), "{report}");
    let after_start = report
        .split_once("main: start\n")
        .unwrap_or_else(|| panic!("{report}"))
        .1;
    let loaded: Vec<&str> = after_start
        .lines()
        .filter(|l| l.contains("file="))
        .collect();
    assert!(
        loaded.is_empty(),
        "libraries loaded after main started (by the first stack trace):\n{}",
        loaded.join("\n")
    );
    for run in 0..20 {
        let (code, report) = run_c(
            &dir.0,
            &binary,
            &args(&[&port, &0.2]),
            &env(false),
            Duration::from_secs(20),
        );
        let what = format!("run {run}: exit {code:?}\n{report}");
        assert_eq!(code, Some(0), "{what}");
        let counts = report
            .lines()
            .find_map(|l| l.strip_prefix("handler: "))
            .unwrap_or_else(|| panic!("{what}"));
        let runs: u32 = counts.split(' ').next().unwrap().parse().unwrap();
        assert!(runs >= 3, "{what}");
        assert_eq!(
            counts,
            format!("{runs} runs, {runs} refused, 0 allocations"),
            "every handler run refused, none allocated: {what}"
        );
        assert!(report.contains(", 0 bad blocks\n"), "{what}");
    }
    assert_untouched(&protected, "the handlers");
    // The events carry their stack traces: the handler's frame, named (-rdynamic).
    let events = fs::read_to_string(&log).unwrap();
    let first = events.lines().next().unwrap_or_else(|| panic!("no event"));
    assert!(
        first.contains(" act=protect msg=traced stacktrace=handler (stack_in_handler+0x"),
        "{first}"
    );
    assert!(
        first.ends_with(&format!("remoteIpAddress=127.0.0.1 remotePort={port}")),
        "{first}"
    );
}

// --- 8. rules sources that are not regular files

/// Runs the events program (one connect to `port`) under libarmr.so with `ARMR_RULES=rules` and
/// `on_error`, its address space limited to 1 GiB (a rules source read without end fails there
/// rather than take the machine's memory), for at most 20 seconds.
fn run_with_rules(dir: &Path, binary: &Path, rules: &Path, on_error: &str, port: u16) -> Ran {
    let mut command = Command::new(binary);
    command
        .arg(port.to_string())
        .arg("1")
        .env_clear()
        .env("LD_PRELOAD", library())
        .env("ARMR_RULES", rules)
        .env("ARMR_ON_ERROR", on_error);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 1 << 30,
                rlim_max: 1 << 30,
            };
            libc::setrlimit(libc::RLIMIT_AS, &limit);
            Ok(())
        });
    }
    let what = format!("ARMR_RULES={} ARMR_ON_ERROR={on_error}", rules.display());
    let ran = support::run::run(&mut command, dir, "rules", Duration::from_secs(20));
    assert_eq!(
        ran.signal(),
        None,
        "{what}: killed by a signal\n{}",
        ran.context()
    );
    ran
}

/// `armr check PATH`, for at most 20 seconds: exit code and standard error.
fn armr_check(path: &Path) -> (Option<i32>, String) {
    let child = Command::new(armr_command())
        .arg("check")
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("target/release/armr: cargo build --release");
    let (code, _, stderr) = finish(
        child,
        &format!("armr check {}", path.display()),
        Duration::from_secs(20),
    );
    (code, stderr)
}

const NOT_REGULAR_HINT: &str = "  = hint: name a regular file of rules, or a directory of *.armr \
     files: a pipe, device or socket is not read (it may never end); copy the rules into a file\n";

/// A rules source that is not a regular file (a FIFO, which would hang the program before `main`;
/// `/dev/zero`, which would be read until memory runs out; a FIFO named `*.armr` in a rules
/// directory) or is larger than 64 MiB (a sparse file) is an error naming the file and saying
/// how to fix it: the program stops (closed) or runs saying it is unprotected (open), and
/// `armr check` says the same. A symlink to a regular file is still read.
#[test]
fn rules_sources_that_are_not_regular_files_or_too_large_are_errors() {
    let dir = TempDir::new("faults", "not-regular");
    let (protected, port) = listener();
    let binary = c_program("events", &[]);
    let fifo = dir.join("rules.armr");
    mkfifo(&fifo);
    let rules_dir = dir.join("rules.d");
    fs::create_dir_all(&rules_dir).unwrap();
    fs::write(rules_dir.join("a.armr"), protect_port(port)).unwrap();
    let fifo_entry = rules_dir.join("x.armr");
    mkfifo(&fifo_entry);
    let big = dir.join("big.armr");
    let truncate = Command::new("truncate")
        .args(["-s", "100M"])
        .arg(&big)
        .status()
        .unwrap();
    assert!(truncate.success(), "truncate -s 100M");
    let zero = PathBuf::from("/dev/zero");
    let not_regular = |path: &Path, what: &str| {
        format!(
            "{}: error: cannot read the rules file: it is {what}, not a regular file\n{NOT_REGULAR_HINT}",
            path.display()
        )
    };
    let cases = [
        (fifo.clone(), not_regular(&fifo, "a named pipe (FIFO)")),
        (zero.clone(), not_regular(&zero, "a character device")),
        (
            rules_dir.clone(),
            not_regular(&fifo_entry, "a named pipe (FIFO)"),
        ),
        (
            big.clone(),
            format!(
                "{}: error: the rules file is 104857600 bytes, more than the 67108864 (64 MiB) \
                 armr reads\n  = hint: check that the path names a rules file; split a rule set \
                 this large into several *.armr files in a directory\n",
                big.display()
            ),
        ),
    ];
    for (rules, diagnostic) in &cases {
        let out = run_with_rules(&dir.0, &binary, rules, "closed", port);
        let what = out.context();
        assert_eq!(out.code(), Some(1), "{what}");
        assert_eq!(out.stdout, "", "main never ran: {what}");
        assert_eq!(
            out.stderr,
            format!(
                "{diagnostic}armr: 1 error in the rules\narmr: the rules could not be loaded: \
                 stopping events before it starts (ARMR_ON_ERROR=closed; set ARMR_ON_ERROR=open \
                 to run it unprotected)\n"
            ),
            "{what}"
        );
        let out = run_with_rules(&dir.0, &binary, rules, "open", port);
        let what = out.context();
        assert_eq!(
            (out.code(), out.stdout.as_str()),
            (Some(0), "0 refused\n"),
            "{what}"
        );
        assert_eq!(
            out.stderr,
            format!(
                "{diagnostic}armr: 1 error in the rules\narmr: the rules could not be loaded: \
                 events runs WITHOUT armr's protection (ARMR_ON_ERROR=open)\n"
            ),
            "{what}"
        );
        let check = if rules == &rules_dir {
            // armr check takes files: the directory's FIFO itself.
            fifo_entry.clone()
        } else {
            rules.clone()
        };
        let (code, stderr) = armr_check(&check);
        assert_eq!(code, Some(1), "{stderr}");
        assert_eq!(stderr, format!("{diagnostic}armr: 1 error found\n"));
    }
    // The protected listener took the connects of the `open` runs; drain them.
    protected.set_nonblocking(true).unwrap();
    while protected.accept().is_ok() {}
    // A symlink to a regular file is a regular file.
    let real = dir.write("real.armr", &protect_port(port));
    let link = dir.join("link.armr");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let out = run_with_rules(&dir.0, &binary, &link, "closed", port);
    let what = out.context();
    assert_eq!(
        (out.code(), out.stdout.as_str()),
        (Some(0), "1 refused\n"),
        "{what}"
    );
    assert!(
        out.stderr.lines().count() == 1
            && out
                .stderr
                .contains(" act=protect msg=blocked remoteIpAddress=127.0.0.1 ")
            && out.stderr.ends_with(&format!(" remotePort={port}\n")),
        "the event of the refused connect, nothing else: {what}"
    );
    assert_untouched(&protected, "through a symlink to the rules");
}
