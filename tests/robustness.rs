//! libarmr.so under real programs: small Python 3 programs (`tests/programs/*.py`) run with
//! `LD_PRELOAD=target/release/libarmr.so`. CPython's socket module calls libc, so every call goes
//! through armr's hooks. Each program prints `name: value` lines; the tests assert on them, on the
//! CEF event lines armr writes (`ARMR_LOG=file:...`) and, for refusals, on listeners held by this
//! test process (which is not preloaded) that no connection reached.
//!
//! Needs `cargo build --release` first (for target/release/libarmr.so and target/release/armr)
//! and `python3`. Every run has a deadline: a program that hangs is killed with its whole process
//! group and the test fails. Only 127.0.0.0/8 and ::1 are used; every port is chosen by the kernel
//! (port 0), so that the tests run in parallel with each other and with anything else.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod support;
use support::events::EventLine;
use support::net::{assert_untouched, tcp_listener};
use support::programs::python_program;
use support::run::{Ran, under_armr};
use support::{armr_command, without_armr_env};

const REFUSED: &str = "ConnectionRefusedError errno=111";
const EACCES: &str = "PermissionError errno=13";
const RESET: &str = "ConnectionResetError errno=104";
const EAGAIN: &str = "BlockingIOError errno=11";

// --- rules

/// One app, `Robustness`, holding `rules`, each `(name, condition, action)`.
fn policy(rules: &[(&str, String, String)]) -> String {
    support::rules::policy("Robustness", rules)
}

fn protect(message: &str) -> String {
    format!("protect(message: \"{message}\", severity: High)")
}

fn allow(message: &str) -> String {
    format!("allow(message: \"{message}\")")
}

// --- a sandbox: a directory with the rules file, the log and each run's output

struct Sandbox {
    dir: PathBuf,
    rules: PathBuf,
    log: PathBuf,
    runs: AtomicUsize,
}

impl Sandbox {
    fn new(test: &str, rules: &str) -> Sandbox {
        let dir =
            std::env::temp_dir().join(format!("armr-robustness-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rules.armr");
        fs::write(&path, rules).unwrap();
        let check = Command::new(armr_command())
            .arg("check")
            .arg(&path)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "the test's own rules do not check:\n{rules}\n{}",
            String::from_utf8_lossy(&check.stderr)
        );
        Sandbox {
            log: dir.join("armr.log"),
            dir,
            rules: path,
            runs: AtomicUsize::new(0),
        }
    }

    /// Runs a program under libarmr.so.
    fn run(&self, name: &str, args: &[String], timeout: Duration) -> Run {
        self.spawn(name, args, timeout, true)
    }

    fn spawn(&self, name: &str, args: &[String], timeout: Duration, preload: bool) -> Run {
        let n = self.runs.fetch_add(1, Ordering::Relaxed);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut command = python_program(name, &args);
        without_armr_env(&mut command)
            .current_dir(&self.dir)
            .env("PYTHONUNBUFFERED", "1");
        if preload {
            under_armr(&mut command, &self.rules, &self.log);
        }
        let run = support::run::run(&mut command, &self.dir, &format!("{n}-{name}"), timeout)
            .with_log(&self.log);
        assert!(
            run.status.success(),
            "{} failed ({})\n{}",
            name,
            run.status,
            run.context()
        );
        assert_eq!(
            run.get("done"),
            "yes",
            "{} did not finish its checks\n{}",
            name,
            run.context()
        );
        run
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Kept when the test fails, for a look at the output.
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

// --- a run's results

/// What a user sees of one run.
type Run = Ran;

impl Ran {
    fn number(&self, key: &str) -> u64 {
        self.get(key)
            .parse()
            .unwrap_or_else(|_| panic!("`{key}` is not a number\n{}", self.context()))
    }

    /// The event lines of the log, every one of which must be a whole, well-formed line.
    fn events(&self) -> Vec<Event> {
        self.log
            .lines()
            .map(|line| {
                Event::parse(line)
                    .unwrap_or_else(|| panic!("malformed log line: {line:?}\n{}", self.context()))
            })
            .collect()
    }
}

/// One CEF event line of an armr rule: the syslog header's PROCID and the CEF extension fields.
#[derive(Debug)]
struct Event {
    line: String,
    syslog_pid: u32,
    rule: String,
    event: EventLine,
}

impl Event {
    /// `<PRI>1 TIMESTAMP HOST APP PROCID - - CEF:0|ARMR:APP|APP|VER|RULE|Execute Rule|SEV|EXT`,
    /// with the fields every rule event has.
    fn parse(line: &str) -> Option<Event> {
        let event = EventLine::parse(line).ok()?;
        if event.cef[0] != "CEF:0"
            || !event.cef[1].starts_with("ARMR:")
            || event.cef[5] != "Execute Rule"
        {
            return None;
        }
        for required in ["rt", "dvchost", "procid", "act", "securityFeature"] {
            event.field(required)?;
        }
        Some(Event {
            line: event.raw.clone(),
            syslog_pid: event.procid,
            rule: event.cef[4].clone(),
            event,
        })
    }

    fn f(&self, key: &str) -> &str {
        self.event.field(key).unwrap_or("")
    }

    fn procid(&self) -> u32 {
        self.f("procid").parse().unwrap_or(0)
    }

    fn msg(&self) -> &str {
        self.f("msg")
    }
}

// --- listeners held by the test process (not preloaded)

fn listener() -> TcpListener {
    tcp_listener("127.0.0.1:0").0
}

fn port(listener: &TcpListener) -> u16 {
    listener.local_addr().unwrap().port()
}

/// Accepts and closes connections on a listener in a thread, counting them.
struct Acceptor {
    count: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Acceptor {
    fn start(listener: TcpListener) -> Acceptor {
        listener.set_nonblocking(true).unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (count.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            loop {
                match listener.accept() {
                    Ok(_) => {
                        c.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        if s.load(Ordering::Relaxed) {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
        });
        Acceptor {
            count,
            stop,
            thread: Some(thread),
        }
    }

    /// Waits (up to `timeout`) for the count to reach `expected`, then stops; returns the count.
    fn finish(mut self, expected: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        while self.count.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.take().unwrap().join();
        self.count.load(Ordering::Relaxed)
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn args<T: ToString>(values: &[T]) -> Vec<String> {
    values.iter().map(ToString::to_string).collect()
}

/// `pid=PID ppid=PPID RESULT`.
fn pid_line(run: &Run, key: &str) -> (u32, u32, String) {
    let value = run.get(key);
    let mut parts = value.splitn(3, ' ');
    let mut number = |prefix: &str| -> u32 {
        parts
            .next()
            .and_then(|p| p.strip_prefix(prefix))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "`{key}: {value}` is not `pid=.. ppid=.. RESULT`\n{}",
                    run.context()
                )
            })
    };
    let (pid, ppid) = (number("pid="), number("ppid="));
    (pid, ppid, parts.next().unwrap_or("").to_string())
}

// --- 1. threads

#[test]
fn threads_16_by_500_connects_under_a_mixed_policy() {
    const THREADS: usize = 16;
    const ITERATIONS: usize = 500;
    // Four listeners; the two lowest ports bound a protected range, the other two lie above it.
    let mut listeners: Vec<TcpListener> = (0..4).map(|_| listener()).collect();
    listeners.sort_by_key(port);
    let ports: Vec<u16> = listeners.iter().map(port).collect();
    let sandbox = Sandbox::new(
        "threads",
        &policy(&[
            (
                "threads refused",
                format!("connect(\"127.0.0.1:{}-{}\")", ports[0], ports[1]),
                protect("threads refused"),
            ),
            (
                "everything else",
                "connect(\"0.0.0.0:0\")".into(),
                "allow()".into(),
            ),
        ]),
    );
    let mut listeners = listeners.into_iter();
    let protected = [listeners.next().unwrap(), listeners.next().unwrap()];
    let acceptors: Vec<Acceptor> = listeners.map(Acceptor::start).collect();

    let run = sandbox.run(
        "threads.py",
        &args(&[
            "127.0.0.1".to_string(),
            format!("{},{}", ports[0], ports[1]),
            format!("{},{}", ports[2], ports[3]),
            THREADS.to_string(),
            ITERATIONS.to_string(),
        ]),
        Duration::from_secs(150),
    );
    let total = (THREADS * ITERATIONS) as u64;
    assert_eq!(
        run.number("wrong"),
        0,
        "verdicts that do not match the policy\n{}",
        run.context()
    );
    assert_eq!(run.number("refused"), total / 2, "{}", run.context());
    assert_eq!(run.number("connected"), total / 2, "{}", run.context());

    let reached: usize = acceptors
        .into_iter()
        .map(|a| a.finish(ITERATIONS * THREADS / 4, Duration::from_secs(20)))
        .sum();
    assert_eq!(
        reached as u64,
        total / 2,
        "connections the allowed listeners accepted\n{}",
        run.context()
    );
    for l in &protected {
        assert_untouched(l, &run.context());
    }

    let events = run.events();
    assert_eq!(
        events.len() as u64,
        total / 2,
        "one whole event line per refusal\n{}",
        run.context()
    );
    let protected_ports = [ports[0].to_string(), ports[1].to_string()];
    for e in &events {
        assert!(
            e.msg() == "threads refused"
                && e.rule == "threads refused"
                && e.f("act") == "protect"
                && e.f("securityFeature") == "socket connect"
                && e.f("remoteIpAddress") == "127.0.0.1"
                && protected_ports.contains(&e.f("remotePort").to_string())
                && e.procid() == run.pid
                && e.syslog_pid == run.pid,
            "unexpected event {}\n{}",
            e.line,
            run.context()
        );
    }
}

// --- 2. fork, exec, grandchildren

#[test]
fn forked_and_execed_children_and_grandchildren_are_refused_and_log_their_own_pid() {
    let protected = listener();
    let p = port(&protected);
    let sandbox = Sandbox::new(
        "fork",
        &policy(&[(
            "fork refused",
            format!("connect(\"127.0.0.1:{p}\")"),
            protect("fork refused"),
        )]),
    );
    let run = sandbox.run(
        "fork.py",
        &args(&["127.0.0.1".to_string(), p.to_string()]),
        Duration::from_secs(90),
    );
    run.expect(&[
        ("fork_child_exit", "0"),
        ("fork_grandchild_exit", "0"),
        ("exec_child_exit", "0"),
        ("exec_child_grandchild_exit", "0"),
    ]);
    assert_eq!(
        run.get("parent"),
        format!("pid={}", run.pid),
        "{}",
        run.context()
    );

    let labels = [
        "parent_connect",
        "fork_child",
        "fork_grandchild",
        "exec_child",
        "exec_grandchild",
    ];
    let mut pids = BTreeMap::new();
    for label in labels {
        let (pid, ppid, result) = pid_line(&run, label);
        assert_eq!(
            result,
            REFUSED,
            "{label} (pid {pid}) was not refused\n{}",
            run.context()
        );
        pids.insert(label, (pid, ppid));
    }
    let parent = run.pid;
    assert_eq!(pids["parent_connect"].0, parent);
    assert_eq!(
        pids["fork_child"].1,
        parent,
        "the forked child's parent\n{}",
        run.context()
    );
    assert_eq!(
        pids["exec_child"].1,
        parent,
        "the exec'd child's parent\n{}",
        run.context()
    );
    assert_eq!(
        pids["exec_grandchild"].1,
        pids["exec_child"].0,
        "the exec'd grandchild's parent\n{}",
        run.context()
    );
    assert_ne!(
        pids["fork_grandchild"].1,
        parent,
        "the forked grandchild's parent is the child\n{}",
        run.context()
    );
    let distinct: BTreeSet<u32> = pids.values().map(|(pid, _)| *pid).collect();
    assert_eq!(
        distinct.len(),
        labels.len(),
        "five processes\n{}",
        run.context()
    );

    // Each process logged its own refusal, with its own pid in the syslog header and in procid.
    let events = run.events();
    assert_eq!(
        events.len(),
        labels.len(),
        "one event per process\n{}",
        run.context()
    );
    for label in labels {
        let pid = pids[label].0;
        let mine: Vec<&Event> = events.iter().filter(|e| e.procid() == pid).collect();
        assert_eq!(
            mine.len(),
            1,
            "{label} (pid {pid}): events with procid={pid}\n{}",
            run.context()
        );
        let e = mine[0];
        assert_eq!(
            e.syslog_pid,
            pid,
            "{label}: syslog PROCID of {}\n{}",
            e.line,
            run.context()
        );
        assert_eq!(
            (e.msg(), e.f("act"), e.f("remotePort")),
            ("fork refused", "protect", p.to_string().as_str()),
            "{}",
            e.line
        );
    }
    assert_untouched(&protected, &run.context());
}

// --- 3. fork while another thread logs

#[test]
fn forking_while_another_thread_logs_never_hangs_a_child() {
    const CHILDREN: u64 = 40;
    let protected = listener();
    let p = port(&protected);
    let sandbox = Sandbox::new(
        "fork-logging",
        &policy(&[(
            "fork logging",
            format!("connect(\"127.0.0.1:{p}\")"),
            protect("fork while logging"),
        )]),
    );
    let run = sandbox.run(
        "fork_logging.py",
        &args(&[
            "127.0.0.1".to_string(),
            p.to_string(),
            CHILDREN.to_string(),
            "10".to_string(),
        ]),
        Duration::from_secs(120),
    );
    run.expect(&[
        ("children_ok", &CHILDREN.to_string()),
        ("children_hung", "0"),
        ("children_failed", "0"),
        ("thread_alive", "False"),
        ("thread_other", "0"),
    ]);
    let thread_refused = run.number("thread_refused");
    assert!(thread_refused >= 50, "{}", run.context());

    // Every refusal logged as one whole line: the thread's under the parent's pid, each child's
    // under its own.
    let events = run.events();
    let children: Vec<u32> = run
        .values("child")
        .iter()
        .map(|v| {
            let pid = v
                .strip_prefix("pid=")
                .and_then(|v| v.split(' ').next())
                .and_then(|p| p.parse().ok());
            pid.unwrap_or_else(|| panic!("bad child line `{v}`\n{}", run.context()))
        })
        .collect();
    assert_eq!(children.len() as u64, CHILDREN, "{}", run.context());
    let parent_events = events
        .iter()
        .filter(|e| e.procid() == run.pid && e.syslog_pid == run.pid)
        .count();
    assert_eq!(
        parent_events as u64,
        thread_refused,
        "the thread's events\n{}",
        run.context()
    );
    for pid in &children {
        let n = events
            .iter()
            .filter(|e| e.procid() == *pid && e.syslog_pid == *pid)
            .count();
        assert_eq!(n, 1, "child {pid}: events\n{}", run.context());
    }
    assert_eq!(
        events.len() as u64,
        thread_refused + CHILDREN,
        "{}",
        run.context()
    );
    assert!(
        events
            .iter()
            .all(|e| e.msg() == "fork while logging" && e.f("act") == "protect")
    );
    assert_untouched(&protected, &run.context());
}

// --- 4. errno

#[test]
fn errno_is_the_kernels_on_forwarded_calls_and_armrs_on_refusals() {
    let protected = listener();
    let p = port(&protected);
    let sandbox = Sandbox::new(
        "errno",
        &policy(&[
            (
                "errno refused",
                format!("connect(\"127.0.0.1:{p}\")"),
                protect("errno refused"),
            ),
            (
                "errno allowed",
                "connect(\"127.0.0.1:0\")".into(),
                allow("errno allowed"),
            ),
            (
                "errno binds",
                "bind(server: \"0.0.0.0:0\", client: \"0.0.0.0:0\")".into(),
                allow("errno bind"),
            ),
            (
                "errno accepts",
                "accept(\"0.0.0.0:0\")".into(),
                allow("errno accept"),
            ),
        ]),
    );
    let run = sandbox.run("errno_paths.py", &args(&[p]), Duration::from_secs(90));
    run.expect(&[
        // Allowed, and refused by the kernel: its ECONNREFUSED.
        ("closed_blocking", REFUSED),
        ("closed_nonblocking", "connect_ex=115 so_error=111"),
        // Refused by armr, at once, blocking or not.
        ("protected_blocking", REFUSED),
        ("protected_nonblocking", REFUSED),
        ("protected_nonblocking_connect_ex", "111"),
        ("protected_nonblocking_fast", "True"),
        // Non-blocking and allowed: EINPROGRESS, then the connection completes.
        ("allowed_nonblocking", "BlockingIOError errno=115"),
        (
            "allowed_nonblocking_completed",
            "writable=1 so_error=0 echo=ping",
        ),
        ("allowed_nonblocking_connect_ex", "115"),
        // errno untouched by calls that succeed (errno was 4242 before each).
        ("c_connect_success", "ret=0 errno=4242"),
        ("c_bind_tcp_success", "ret=0 errno=4242"),
        ("c_connect_after_bind_success", "ret=0 errno=4242"),
        ("c_bind_udp_success", "ret=0 errno=4242"),
        ("c_sendto_success", "ret=1 errno=4242"),
        ("c_listen_success", "ret=0 errno=4242"),
        ("c_accept_success", "ok=1 errno=4242"),
        // The kernel's errno for forwarded calls that fail; armr's for a refusal.
        ("c_reconnect", "ret=-1 errno=106"),
        ("c_connect_protected", "ret=-1 errno=111"),
        ("c_connect_not_a_socket", "ret=-1 errno=88"),
        ("c_connect_wrong_family", "ret=-1 errno=97"),
        ("sendto_too_big", "OSError errno=90"),
        ("sendmsg_too_big", "OSError errno=90"),
        ("udp_bind_in_use", "OSError errno=98"),
        ("listen_on_udp", "OSError errno=95"),
        ("accept_nothing_pending", EAGAIN),
        ("accept_not_listening", "OSError errno=22"),
    ]);
    assert_untouched(&protected, &run.context());

    // The closed port's ECONNREFUSED came from the kernel: armr allowed (and logged) the connects.
    let closed = run.get("closed_port");
    let events = run.events();
    let allowed_closed = events
        .iter()
        .filter(|e| {
            e.msg() == "errno allowed" && e.f("act") == "allow" && e.f("remotePort") == closed
        })
        .count();
    assert_eq!(
        allowed_closed,
        2,
        "allow events for the closed port {closed}\n{}",
        run.context()
    );
    let refused = events
        .iter()
        .filter(|e| e.msg() == "errno refused" && e.f("act") == "protect")
        .count();
    // protected_blocking, protected_nonblocking, its connect_ex, c_connect_protected.
    assert_eq!(refused, 4, "protect events\n{}", run.context());
    assert!(
        events
            .iter()
            .all(|e| e.msg() != "errno refused" || e.f("remotePort") == p.to_string())
    );
}

// --- 5. accept

const ACCEPT_POLICY: (&str, &str) = ("accept refused", "accept(\"127.0.0.2:0\")");

fn accept_sandbox(test: &str) -> Sandbox {
    Sandbox::new(
        test,
        &policy(&[(
            ACCEPT_POLICY.0,
            ACCEPT_POLICY.1.into(),
            protect("accept refused"),
        )]),
    )
}

fn assert_accept_events(run: &Run, expected: usize) {
    let events = run.events();
    assert_eq!(events.len(), expected, "accept events\n{}", run.context());
    for e in &events {
        assert_eq!(
            (
                e.rule.as_str(),
                e.msg(),
                e.f("act"),
                e.f("securityFeature"),
                e.f("remoteIpAddress")
            ),
            (
                ACCEPT_POLICY.0,
                "accept refused",
                "protect",
                "socket accept",
                "127.0.0.2"
            ),
            "{}",
            e.line
        );
    }
}

#[test]
fn accept_blocking_server_resets_a_refused_peer_and_waits_for_the_next() {
    let sandbox = accept_sandbox("accept-blocking");
    let run = sandbox.run("accept_blocking.py", &[], Duration::from_secs(60));
    run.expect(&[
        ("refused_client_connect", "ok"),
        ("refused_client_recv", RESET),
        ("server_waiting_after_refusal", "True"),
        ("allowed_client_recv", "hello"),
        ("server_accepted", "127.0.0.1"),
    ]);
    assert_accept_events(&run, 1);
}

#[test]
fn accept_nonblocking_server_gets_eagain_for_a_refused_peer_and_serves_the_next() {
    let sandbox = accept_sandbox("accept-nonblocking");
    let run = sandbox.run("accept_nonblocking.py", &[], Duration::from_secs(60));
    run.expect(&[
        ("selector", "EpollSelector"),
        ("select_1", "readable"),
        ("accept_1", EAGAIN),
        ("refused_client_recv_1", RESET),
        ("select_2", "readable"),
        ("accept_2", "accepted 127.0.0.1"),
        ("allowed_client_recv_2", "data hi"),
        ("select_3", "readable"),
        ("accept_3", "accepted 127.0.0.1"),
        ("accept_3_again", EAGAIN),
        ("refused_client_recv_3", RESET),
        ("allowed_client_recv_3", "data yo"),
    ]);
    assert_accept_events(&run, 2);
}

#[test]
fn accept4_flags_are_kept_on_the_returned_descriptor() {
    let sandbox = accept_sandbox("accept-flags");
    let run = sandbox.run("accept_flags.py", &[], Duration::from_secs(60));
    let none = "nonblock=0 cloexec=0 peer=127.0.0.1";
    let cloexec = "nonblock=0 cloexec=1 peer=127.0.0.1";
    let nonblock = "nonblock=1 cloexec=0 peer=127.0.0.1";
    let both = "nonblock=1 cloexec=1 peer=127.0.0.1";
    run.expect(&[
        // CPython's accept() is accept4(SOCK_CLOEXEC); the new socket is blocking, whatever the
        // listener (the kernel does not copy O_NONBLOCK to an accepted socket).
        (
            "py_accept_blocking_listener",
            "nonblock=0 cloexec=1 getblocking=True",
        ),
        ("listener_sock_nonblock", "nonblock=1 cloexec=1"),
        (
            "py_accept_nonblock_listener",
            "nonblock=0 cloexec=1 getblocking=True",
        ),
        ("c_accept", none),
        ("c_accept_after_refusal", none),
        ("c_accept4_0", none),
        ("c_accept4_0_after_refusal", none),
        ("c_accept4_cloexec", cloexec),
        ("c_accept4_cloexec_after_refusal", cloexec),
        ("c_accept4_nonblock", nonblock),
        ("c_accept4_nonblock_after_refusal", nonblock),
        ("c_accept4_nonblock_cloexec", both),
        ("c_accept4_nonblock_cloexec_after_refusal", both),
    ]);
    assert_accept_events(&run, 5);
}

// --- 6. UDP

#[test]
fn udp_sendto_sendmsg_sendmmsg_and_bind_are_judged() {
    let tcp = listener();
    let p = port(&tcp);
    let sandbox = Sandbox::new(
        "udp",
        &policy(&[
            (
                "udp refused",
                "connect(\"127.0.0.3:0\")".into(),
                protect("udp refused"),
            ),
            (
                "udp bind refused",
                "bind(server: \"127.0.0.5:0\")".into(),
                protect("udp bind refused"),
            ),
            (
                "tfo refused",
                format!("connect(\"127.0.0.1:{p}\")"),
                protect("tfo refused"),
            ),
        ]),
    );
    let run = sandbox.run("udp.py", &args(&[p]), Duration::from_secs(60));
    run.expect(&[
        ("receivers_bound", "ok"),
        ("sendto_protected", EACCES),
        ("sendto_allowed", "ok 9"),
        ("sendmsg_protected", EACCES),
        ("sendmsg_allowed", "ok 10"),
        ("received_allowed_1", "ok-sendto,ok-sendmsg"),
        // The message before the first refused one is sent, and counted.
        ("sendmmsg_second_protected", "ret=1 errno=0"),
        ("sendmmsg_first_protected", "ret=-1 errno=13"),
        ("sendmmsg_all_allowed", "ret=3 errno=0 lens=[4, 4, 4]"),
        ("received_allowed_2", "mm-1,mm-7,mm-8,mm-9"),
        ("received_protected", "nothing"),
        ("udp_connect_protected", REFUSED),
        ("udp_connect_allowed", "ok"),
        ("udp_send_connected", "ok 12"),
        ("received_allowed_3", "ok-connected"),
        ("udp_bind_protected", EACCES),
        ("udp_bind_allowed", "ok"),
        ("tcp_fastopen_protected", EACCES),
    ]);
    assert_untouched(&tcp, &run.context());
    let events = run.events();
    let count = |msg: &str| {
        events
            .iter()
            .filter(|e| e.msg() == msg && e.f("act") == "protect")
            .count()
    };
    // sendto, sendmsg, the 2nd of one sendmmsg, the 1st of another, the connect of a UDP socket.
    assert_eq!(count("udp refused"), 5, "{}", run.context());
    assert_eq!(count("udp bind refused"), 1, "{}", run.context());
    assert_eq!(count("tfo refused"), 1, "{}", run.context());
    assert_eq!(events.len(), 7, "{}", run.context());
    for e in events.iter().filter(|e| e.msg() == "udp refused") {
        assert_eq!(e.f("remoteIpAddress"), "127.0.0.3", "{}", e.line);
    }
    let bind = events
        .iter()
        .find(|e| e.msg() == "udp bind refused")
        .unwrap();
    assert_eq!(
        (bind.f("securityFeature"), bind.f("localIpAddress")),
        ("socket serverbind", "127.0.0.5"),
        "{}",
        bind.line
    );
}

// --- 7. AF_UNIX

#[test]
fn unix_sockets_pass_through_a_policy_that_protects_everything() {
    let sandbox = Sandbox::new(
        "unix",
        &policy(&[
            (
                "no connect",
                "connect(\"0.0.0.0:0\")".into(),
                protect("no connect"),
            ),
            (
                "no bind",
                "bind(server: \"0.0.0.0:0\", client: \"0.0.0.0:0\")".into(),
                protect("no bind"),
            ),
            (
                "no accept",
                "accept(\"0.0.0.0:0\")".into(),
                protect("no accept"),
            ),
        ]),
    );
    let run = sandbox.run(
        "unix.py",
        &[sandbox.dir.display().to_string()],
        Duration::from_secs(60),
    );
    run.expect(&[
        ("tcp_connect", REFUSED),
        ("path_bind", "ok"),
        ("path_listen", "ok"),
        ("path_connect", "ok"),
        ("path_accept_echo", "ping"),
        ("abstract_bind", "ok"),
        ("abstract_listen", "ok"),
        ("abstract_connect", "ok"),
        ("abstract_accept_echo", "ping"),
        ("client_bind", "ok"),
        ("client_bound_connect", "ok"),
        ("nonblocking_accept", "ok"),
        ("nonblocking_accept_again", EAGAIN),
        ("dgram_bind", "ok"),
        ("dgram_sendto", "ok 1"),
        ("dgram_sendmsg", "ok 1"),
        ("dgram_received", "a,b"),
        ("dgram_sendmmsg", "ret=2 errno=0"),
        ("dgram_received_mmsg", "c,d"),
        ("socketpair", "pair"),
    ]);
    // The only event: the TCP connect that shows the policy is active.
    let events = run.events();
    assert_eq!(events.len(), 1, "{}", run.context());
    assert_eq!(
        (events[0].msg(), events[0].f("remotePort")),
        ("no connect", "9"),
        "{}",
        events[0].line
    );
}

// --- 8. IPv6 and dual stack

#[test]
fn ipv4_mapped_addresses_and_dual_stack_servers_are_judged_as_ipv4() {
    let protected = listener();
    let allowed = listener();
    let (p, a) = (port(&protected), port(&allowed));
    // The server port must be free on `::` for the program's bind: the kernel picks one, this
    // test lets it go, and tries again should another process take it in between.
    for attempt in 1..=5 {
        let s = TcpListener::bind("[::]:0")
            .expect("bind [::]:0 (IPv6 loopback needed)")
            .local_addr()
            .unwrap()
            .port();
        let sandbox = Sandbox::new(
            &format!("ipv6-{attempt}"),
            &policy(&[
                (
                    "mapped refused",
                    format!("connect(\"127.0.0.1:{p}\")"),
                    protect("mapped refused"),
                ),
                (
                    "dual stack refused",
                    format!("bind(server: \"127.0.0.1:{s}\")"),
                    protect("dual stack refused"),
                ),
            ]),
        );
        let run = sandbox.run("ipv6.py", &args(&[p, a, s]), Duration::from_secs(60));
        if run.get("dual_stack_bind") == "OSError errno=98" && attempt < 5 {
            continue;
        }
        run.expect(&[
            ("mapped_connect_protected", REFUSED),
            ("mapped_connect_allowed", "ok"),
            ("v4_connect_protected", REFUSED),
            ("unspecified4_connect_protected", REFUSED),
            ("mapped_sendto_protected", EACCES),
            ("dual_stack_bind", "ok"),
            ("dual_stack_listen", EACCES),
            ("mapped_bind", "ok"),
            ("mapped_listen", EACCES),
            ("any4_bind", "ok"),
            ("any4_listen", EACCES),
        ]);
        assert_untouched(&protected, &run.context());
        let events = run.events();
        let connects: Vec<&Event> = events
            .iter()
            .filter(|e| e.msg() == "mapped refused")
            .collect();
        assert_eq!(
            connects.len(),
            4,
            "mapped, IPv4, 0.0.0.0 and a mapped datagram\n{}",
            run.context()
        );
        assert!(
            connects
                .iter()
                .all(|e| e.f("remotePort") == p.to_string() && e.f("act") == "protect")
        );
        let servers: Vec<&Event> = events
            .iter()
            .filter(|e| e.msg() == "dual stack refused")
            .collect();
        assert_eq!(servers.len(), 3, "{}", run.context());
        assert!(
            servers.iter().all(|e| e.f("localPort") == s.to_string()
                && e.f("securityFeature") == "socket serverbind")
        );
        return;
    }
}

// --- 9. socket type flags and duplicated descriptors

#[test]
fn socket_type_flags_and_duplicated_descriptors_are_still_judged() {
    let protected = listener();
    let p = port(&protected);
    let sandbox = Sandbox::new(
        "flags",
        &policy(&[(
            "flags refused",
            format!("connect(\"127.0.0.1:{p}\")"),
            protect("flags refused"),
        )]),
    );
    let run = sandbox.run("socket_flags.py", &args(&[p]), Duration::from_secs(60));
    run.expect(&[
        ("sock_cloexec", REFUSED),
        ("sock_nonblock", REFUSED),
        ("sock_nonblock_cloexec", REFUSED),
        ("dup", REFUSED),
        ("dup2", REFUSED),
        ("fcntl_dupfd", REFUSED),
        ("fcntl_dupfd_cloexec", REFUSED),
        ("socket_dup", REFUSED),
    ]);
    assert_untouched(&protected, &run.context());
    assert_eq!(run.events().len(), 8, "{}", run.context());
}

#[test]
fn an_explicit_client_bind_is_judged_at_connect_through_a_duplicated_descriptor() {
    let allowed = listener();
    let a = port(&allowed);
    let sandbox = Sandbox::new(
        "client-bind-dup",
        &policy(&[(
            "client bind refused",
            "bind(client: \"127.0.0.2:0\")".into(),
            protect("client bind refused"),
        )]),
    );
    let run = sandbox.run("client_bind_dup.py", &args(&[a]), Duration::from_secs(60));
    run.expect(&[
        ("same_fd", EACCES),
        ("same_fd_nonblocking", EACCES),
        ("dup", EACCES),
        ("dup_original_closed", EACCES),
        ("dup2", EACCES),
        ("fcntl_dupfd", EACCES),
        ("bound_via_dup_connect_original", EACCES),
    ]);
    assert_untouched(&allowed, &run.context());
}

/// A socket armr knows unbound (`preload/src/unbound.rs`) connects without asking the kernel: every
/// way it can come to be bound elsewhere must make armr ask again.
#[test]
fn a_client_bind_made_by_another_process_through_a_reused_number_or_by_libc_is_judged() {
    let allowed = listener();
    let a = port(&allowed);
    let sandbox = Sandbox::new(
        "client-bind-shared",
        &policy(&[
            (
                "client bind refused",
                "bind(client: \"127.0.0.2:0\")".into(),
                protect("client bind refused"),
            ),
            (
                "reserved port refused",
                "bind(client: \"0.0.0.0:512-1023\")".into(),
                protect("reserved port refused"),
            ),
        ]),
    );
    let run = sandbox.run(
        "client_bind_shared.py",
        &args(&[a]),
        Duration::from_secs(60),
    );
    run.expect(&[
        ("fork", EACCES),
        ("posix_spawn", EACCES),
        ("posix_spawnp", EACCES),
        ("system", EACCES),
        ("popen", EACCES),
        ("scm_rights", EACCES),
        ("close", EACCES),
        ("fclose", EACCES),
        ("close_range", EACCES),
        ("dup2", EACCES),
        ("dup3", EACCES),
    ]);
    // bindresvport binds a port below 1024, which only root may.
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|line| line.starts_with("Uid:"))
        .and_then(|line| line.split_whitespace().nth(2).map(|euid| euid == "0"))
        .unwrap_or(false);
    if root {
        run.expect(&[("bindresvport", EACCES)]);
    } else {
        let got = run.values("bindresvport");
        assert!(
            got.len() == 1 && got[0].starts_with("not run"),
            "bindresvport as a user: {got:?}\n{}",
            run.context()
        );
    }
    assert_untouched(&allowed, &run.context());
}

#[test]
fn the_kernels_automatic_bind_is_not_a_client_bind() {
    let allowed = listener();
    let a = port(&allowed);
    let sandbox = Sandbox::new(
        "client-bind-automatic",
        &policy(&[(
            "no client binds",
            "bind(client: \"0.0.0.0:0\")".into(),
            protect("client bind refused"),
        )]),
    );
    let run = sandbox.run(
        "client_bind_automatic.py",
        &args(&[a]),
        Duration::from_secs(60),
    );
    run.expect(&[
        ("blocking_unbound", "ok"),
        ("nonblocking_first", "115"),
        ("nonblocking_again", "0"),
        ("explicit", EACCES),
    ]);
    assert_eq!(
        run.events().len(),
        1,
        "only the explicit bind is logged\n{}",
        run.context()
    );
}

/// The hardening issue's stress: 16 threads x 10,000 connect attempts under a mixed policy, every
/// verdict checked. UDP sockets, so that 160,000 connects need no server and no ephemeral ports.
#[test]
fn threads_16_by_10000_udp_connects_under_a_mixed_policy() {
    const THREADS: usize = 16;
    const ITERATIONS: usize = 10_000;
    let sandbox = Sandbox::new(
        "threads-udp",
        &policy(&[
            (
                "udp refused",
                "connect(\"127.0.0.1:40001-40002\")".into(),
                protect("udp refused"),
            ),
            (
                "everything else",
                "connect(\"0.0.0.0:0\")".into(),
                "allow()".into(),
            ),
        ]),
    );
    let run = sandbox.run(
        "threads.py",
        &args(&[
            "127.0.0.1",
            "40001,40002",
            "40003,40004",
            &THREADS.to_string(),
            &ITERATIONS.to_string(),
            "udp",
        ]),
        Duration::from_secs(150),
    );
    let total = (THREADS * ITERATIONS) as u64;
    assert_eq!(run.number("wrong"), 0, "{}", run.context());
    assert_eq!(run.number("refused"), total / 2, "{}", run.context());
    assert_eq!(run.number("connected"), total / 2, "{}", run.context());
    assert_eq!(
        run.events().len() as u64,
        total / 2,
        "one whole event per refusal"
    );
}

/// What armr keeps of a socket's type (`receive`'s table for sends, `unbound`'s datagram marks
/// for the client-bind question) follows each number through dup, close, dup2 and reuse: a
/// number reused by another kind of socket is judged as what it now is.
#[test]
fn socket_types_armr_keeps_follow_numbers_through_dup_close_and_reuse() {
    let allowed = listener();
    let a = port(&allowed);
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let u = receiver.local_addr().unwrap().port();
    let sends = Sandbox::new(
        "types-send",
        &policy(&[(
            "udp refused",
            format!("connect(\"127.0.0.1:{u}\")"),
            protect("udp refused"),
        )]),
    );
    let run = sends.run(
        "socket_types_reused.py",
        &args(&["send".to_string(), u.to_string(), a.to_string()]),
        Duration::from_secs(60),
    );
    run.expect(&[
        ("udp_sendto", EACCES),
        ("udp_dup_original_closed", EACCES),
        ("tcp_on_reused_number", "True ok 1"),
        ("udp_on_reused_number", &format!("True {EACCES}")),
        ("dup2_tcp_over_udp", "ok 1"),
    ]);
    let binds = Sandbox::new(
        "types-client-bind",
        &policy(&[(
            "client bind refused",
            "bind(client: \"127.0.0.2:0\")".into(),
            protect("client bind refused"),
        )]),
    );
    let run = binds.run(
        "socket_types_reused.py",
        &args(&["client-bind".to_string(), "0".to_string(), a.to_string()]),
        Duration::from_secs(60),
    );
    run.expect(&[
        ("udp_connect", "ok"),
        ("dup2_bound_tcp_over_udp", EACCES),
        ("dup_of_bound_tcp_on_udp_number", &format!("True {EACCES}")),
        ("closerange_then_bound_tcp", &format!("True {EACCES}")),
    ]);
}
