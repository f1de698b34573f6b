//! Live reload (docs/reload.md): a running program picks up a change to its rules at its next
//! socket call, within two seconds; a change that does not load is refused and logged, and the
//! policy in force is kept, for programs started afterwards too.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};
use support::{TempDir, armr_command, library, python, without_armr_env};

/// Rules that refuse connects to 127.0.0.1:PORT, in a rule named `no PORT`.
fn refusing(port: u16) -> String {
    format!(
        r#"app("Reload"):
    requires(version: ARMR/2.11)
    socket("no {port}"):
        connect("127.0.0.1:{port}")
        protect(message: "blocked {port}", severity: High)
    endsocket
endapp
"#
    )
}

/// Replaces `path` by `text` the way editors that save safely do: a new file renamed over it.
fn replace(path: &Path, text: &str) {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// tests/programs/reload_server.py running under armr, driven line by line.
struct Server {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Server {
    fn start(command: &mut Command) -> Server {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            stdin,
            lines,
        };
        let ready = server.next();
        assert!(ready.starts_with("ready: "), "{ready}");
        server
    }

    fn next(&mut self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(30))
            .expect("the server answers")
    }

    /// Sends `command` (`connect PORT`, `fork PORT`, `exec PORT`); returns the result it prints.
    fn ask(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").unwrap();
        let line = self.next();
        let result = line.split_once(": ").map_or(line.as_str(), |(_, r)| r);
        // `exec`'s program says its pids first: `pid=N ppid=N RESULT`.
        match result.strip_prefix("pid=") {
            Some(pids) => pids.splitn(3, ' ').nth(2).unwrap_or_default().to_string(),
            None => result.to_string(),
        }
    }

    /// Asks `command` until its result is `wanted`; returns how long that took after `since`.
    fn until(&mut self, command: &str, wanted: &str, since: Instant) -> Duration {
        loop {
            let got = self.ask(command);
            if got.ends_with(wanted) {
                return since.elapsed();
            }
            assert!(
                since.elapsed() < Duration::from_secs(5),
                "`{command}` still gives `{got}` 5 s after the change"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const OK: &str = "ok";
const REFUSED: &str = "ConnectionRefusedError errno=111";

fn server_program() -> PathBuf {
    support::manifest().join("tests/programs/reload_server.py")
}

/// The server under libarmr.so with `ARMR_RULES=rules` and the events in `log`.
fn preloaded(rules: &Path, log: &Path) -> Command {
    let mut command = Command::new(python());
    without_armr_env(&mut command)
        .env("LD_PRELOAD", library())
        .env("ARMR_RULES", rules)
        .env("ARMR_LOG", format!("file:{}", log.display()))
        .arg(server_program());
    command
}

/// The event lines of `log` whose CEF name is `name`, with their time fields and the pid left
/// out: `<PRI>1 HOST APP - - CEF:...|NAME|SEVERITY|dvchost=HOST procid=PID ...`.
fn lifecycle_lines(log: &Path, name: &str) -> Vec<String> {
    support::events::log_lines(log)
        .into_iter()
        .filter(|l| l.contains(&format!("|{name}|")))
        .map(|l| {
            let mut words: Vec<&str> = l.split(' ').collect();
            words.remove(1); // the syslog timestamp
            let line = words.join(" ");
            // rt=Mon DD YYYY HH:MM:SS.mmm +0000
            let start = line.find("rt=").unwrap();
            let end = line[start..].find(" +0000 ").unwrap() + start + " +0000 ".len();
            format!("{}{}", &line[..start], &line[end..])
        })
        .collect()
}

fn wait_for(log: &Path, name: &str) -> Vec<String> {
    let start = Instant::now();
    loop {
        let lines = lifecycle_lines(log, name);
        if !lines.is_empty() || start.elapsed() > Duration::from_secs(5) {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_running_server_and_its_forked_child_pick_up_a_change_within_two_seconds() {
    let dir = TempDir::new("reload", "server");
    let (_a, a) = listener();
    let (_b, b) = listener();
    let rules = dir.write("rules.armr", &refusing(a));
    let log = dir.path("events.log");
    let mut server = Server::start(&mut preloaded(&rules, &log));
    assert_eq!(server.ask(&format!("connect {a}")), REFUSED);
    assert_eq!(server.ask(&format!("connect {b}")), OK);
    assert_eq!(server.ask(&format!("fork {a}")), REFUSED);

    let edited = Instant::now();
    replace(&rules, &refusing(b));
    let took = server.until(&format!("connect {a}"), OK, edited);
    assert!(took < Duration::from_secs(2), "seen after {took:?}");
    assert_eq!(server.ask(&format!("connect {b}")), REFUSED);
    // A child forked now has the new policy; so has one forked from a process that has not
    // looked since (it inherits the deadline).
    assert_eq!(server.ask(&format!("fork {b}")), REFUSED);
    assert_eq!(server.ask(&format!("fork {a}")), OK);

    // And back: allowed again, refused again.
    let edited = Instant::now();
    replace(&rules, &refusing(a));
    let took = server.until(&format!("connect {b}"), OK, edited);
    assert!(took < Duration::from_secs(2), "seen after {took:?}");
    assert_eq!(server.ask(&format!("connect {a}")), REFUSED);
    assert_eq!(server.ask(&format!("fork {a}")), REFUSED);
    // Failures only: no lifecycle line without ARMR_LOG_LIFECYCLE=on.
    assert!(lifecycle_lines(&log, "Reload Rules").is_empty());
}

/// A reload that brings the first `accept` rules: a UDP socket the program opened before the
/// change is judged from then on, `read` included (armr's table of sockets, not kept until
/// then, learns the open descriptors as at start; before, the refused sender's datagram was read).
#[test]
fn the_first_accept_rules_judge_a_udp_socket_opened_before_the_change() {
    let dir = TempDir::new("reload", "first-accept");
    let (_a, a) = listener();
    let (_b, b) = listener();
    let rules = dir.write("rules.armr", &refusing(a));
    let log = dir.path("events.log");
    let mut server = Server::start(&mut preloaded(&rules, &log));
    let port: u16 = server.ask("udp-open 0").parse().unwrap();
    let send = |from: &str, what: &str| {
        let s = std::net::UdpSocket::bind((from, 0)).unwrap();
        s.send_to(what.as_bytes(), ("127.0.0.1", port)).unwrap();
    };
    send("127.0.0.2", "two");
    send("127.0.0.1", "one");
    assert_eq!(server.ask("udp-read 0"), "one,two", "no accept rule yet");

    let edited = Instant::now();
    let with_accept = refusing(b).replace(
        "endapp",
        r#"    socket("no 127.0.0.2"):
        accept("127.0.0.2:0")
        protect(message: "sender refused", severity: High)
    endsocket
endapp"#,
    );
    replace(&rules, &with_accept);
    server.until(&format!("connect {a}"), OK, edited);
    send("127.0.0.2", "two");
    send("127.0.0.1", "one");
    assert_eq!(server.ask("udp-read 0"), "one");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("sender refused"),
        "the refusal logged"
    );
}

#[test]
fn a_forked_child_picks_up_a_change_on_its_own() {
    let dir = TempDir::new("reload", "fork");
    let (_a, a) = listener();
    let (_b, b) = listener();
    let rules = dir.write("rules.armr", &refusing(a));
    let log = dir.path("events.log");
    let mut server = Server::start(&mut preloaded(&rules, &log));
    // The parent makes no socket call after the edit: only the children look.
    assert_eq!(server.ask(&format!("connect {a}")), REFUSED);
    let edited = Instant::now();
    replace(&rules, &refusing(b));
    let took = server.until(&format!("fork {a}"), OK, edited);
    assert!(took < Duration::from_secs(2), "seen after {took:?}");
    assert_eq!(server.ask(&format!("fork {b}")), REFUSED);
}

#[test]
fn a_broken_edit_is_refused_the_old_policy_kept_and_the_events_logged() {
    let dir = TempDir::new("reload", "broken");
    let (_a, a) = listener();
    let (_b, b) = listener();
    let rules = dir.write("rules.armr", &refusing(a));
    let log = dir.path("events.log");
    let mut command = preloaded(&rules, &log);
    command.env("ARMR_LOG_LIFECYCLE", "on");
    let mut server = Server::start(&mut command);
    let pid = server.child.id();
    assert_eq!(server.ask(&format!("connect {a}")), REFUSED);
    assert_eq!(
        lifecycle_lines(&log, "Load Rule"),
        [format!(
            "<14>1 vm python3 {pid} - - CEF:0|ARMR:Reload|Reload|2.11|no {a}|Load Rule|Low|\
             dvchost=vm procid={pid} outcome=success appVersion=1"
        )
        .replace("vm", &hostname())]
    );

    // Half written: the app never ends.
    replace(&rules, &refusing(b)[..60]);
    let syntax = wait_for(&log, "Syntax Error");
    // The check ran on some call: make calls until it has.
    let edited = Instant::now();
    let syntax = if syntax.is_empty() {
        while lifecycle_lines(&log, "Syntax Error").is_empty()
            && edited.elapsed() < Duration::from_secs(3)
        {
            server.ask(&format!("connect {b}"));
            std::thread::sleep(Duration::from_millis(100));
        }
        lifecycle_lines(&log, "Syntax Error")
    } else {
        syntax
    };
    let host = hostname();
    assert_eq!(
        syntax,
        [format!(
            "<9>1 {host} python3 {pid} - - CEF:0|ARMR|armr|{}|Engine|Syntax Error|Very-High|\
             dvchost={host} procid={pid} outcome=failure msg={}:1:1: error: `app` block is never \
             closed",
            env!("CARGO_PKG_VERSION"),
            rules.display()
        )]
    );
    assert_eq!(
        lifecycle_lines(&log, "Reload Rules"),
        [format!(
            "<10>1 {host} python3 {pid} - - CEF:0|ARMR|armr|{}|Engine|Reload Rules|High|\
             dvchost={host} procid={pid} outcome=failure msg=the changed rules do not load: \
             the policy in force is kept",
            env!("CARGO_PKG_VERSION")
        )]
    );
    // The old policy is kept, and the broken file is not reported again.
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(server.ask(&format!("connect {a}")), REFUSED);
    assert_eq!(server.ask(&format!("connect {b}")), OK);
    assert_eq!(lifecycle_lines(&log, "Syntax Error").len(), 1);

    // Fixed: picked up, `Reload Rules` outcome=success.
    let edited = Instant::now();
    replace(&rules, &refusing(b));
    server.until(&format!("connect {b}"), REFUSED, edited);
    assert_eq!(
        lifecycle_lines(&log, "Reload Rules")[1],
        format!(
            "<14>1 {host} python3 {pid} - - CEF:0|ARMR|armr|{}|Engine|Reload Rules|Low|\
             dvchost={host} procid={pid} outcome=success msg=New ARMR policy has been applied",
            env!("CARGO_PKG_VERSION")
        )
    );
}

fn hostname() -> String {
    let out = Command::new("hostname").output().unwrap();
    support::text(&out.stdout).trim().to_string()
}

#[test]
fn a_program_started_after_a_broken_edit_gets_the_last_good_policy() {
    support::armr_command();
    let dir = TempDir::new("reload", "last-good");
    let (_a, a) = listener();
    let (_b, b) = listener();
    let rules = dir.write("rules.armr", &refusing(a));
    let log = dir.path("events.log");
    let runtime = dir.path("runtime");
    std::fs::create_dir(&runtime).unwrap();
    let mut command = Command::new(armr_command());
    without_armr_env(&mut command)
        .env("ARMR_LIB", library())
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("ARMR_LOG", format!("file:{}", log.display()))
        .args(["run", "-r"])
        .arg(&rules)
        .arg("--")
        .arg(python())
        .arg(server_program());
    let mut server = Server::start(&mut command);
    assert_eq!(server.ask(&format!("exec {a}")), REFUSED);

    // A good edit, picked up by the server: programs it starts now get it.
    let edited = Instant::now();
    replace(&rules, &refusing(b));
    server.until(&format!("connect {b}"), REFUSED, edited);
    assert_eq!(server.ask(&format!("exec {b}")), REFUSED);
    assert_eq!(server.ask(&format!("exec {a}")), OK);

    // A broken edit: refused; programs started afterwards still get the last good policy.
    replace(&rules, "app(\"Reload\"):\n    socket(\n");
    let edited = Instant::now();
    while lifecycle_lines(&log, "Syntax Error").is_empty() {
        assert!(edited.elapsed() < Duration::from_secs(3), "no Syntax Error");
        server.ask(&format!("connect {a}"));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(server.ask(&format!("exec {b}")), REFUSED);
    assert_eq!(server.ask(&format!("exec {a}")), OK);
    assert_eq!(server.ask(&format!("connect {b}")), REFUSED);
}

#[test]
fn reload_off_keeps_the_policy_the_program_started_with() {
    let dir = TempDir::new("reload", "off");
    let (_a, a) = listener();
    let (_b, b) = listener();
    let rules = dir.write("rules.armr", &refusing(a));
    let log = dir.path("events.log");
    let mut command = preloaded(&rules, &log);
    command.env("ARMR_RELOAD", "off");
    let mut server = Server::start(&mut command);
    assert_eq!(server.ask(&format!("connect {a}")), REFUSED);
    replace(&rules, &refusing(b));
    let edited = Instant::now();
    while edited.elapsed() < Duration::from_millis(2500) {
        assert_eq!(server.ask(&format!("connect {a}")), REFUSED);
        assert_eq!(server.ask(&format!("connect {b}")), OK);
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_directory_of_rules_sees_a_file_added_and_a_file_removed() {
    let dir = TempDir::new("reload", "directory");
    let (_a, a) = listener();
    let (_b, b) = listener();
    let rules = dir.path("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("a.armr"), refusing(a)).unwrap();
    let log = dir.path("events.log");
    let mut server = Server::start(&mut preloaded(&rules, &log));
    assert_eq!(server.ask(&format!("connect {a}")), REFUSED);
    assert_eq!(server.ask(&format!("connect {b}")), OK);

    let edited = Instant::now();
    let b_rules = refusing(b).replace("app(\"Reload\")", "app(\"Reload B\")");
    replace(&rules.join("b.armr"), &b_rules);
    let took = server.until(&format!("connect {b}"), REFUSED, edited);
    assert!(took < Duration::from_secs(2), "seen after {took:?}");
    assert_eq!(server.ask(&format!("connect {a}")), REFUSED);

    let edited = Instant::now();
    std::fs::remove_file(rules.join("a.armr")).unwrap();
    let took = server.until(&format!("connect {a}"), OK, edited);
    assert!(took < Duration::from_secs(2), "seen after {took:?}");
    assert_eq!(server.ask(&format!("connect {b}")), REFUSED);
}

#[test]
fn a_rule_left_out_by_its_os_list_is_logged_at_start() {
    let dir = TempDir::new("reload", "os");
    let rules = dir.write(
        "rules.armr",
        "app(\"Reload\"):\n    requires(version: ARMR/2.11)\n    socket(\"windows only\", os: [windows]):\n        connect(\"127.0.0.1:9\")\n        protect()\n    endsocket\nendapp\n",
    );
    let log = dir.path("events.log");
    let mut command = Command::new("/bin/true");
    without_armr_env(&mut command)
        .env("LD_PRELOAD", library())
        .env("ARMR_RULES", &rules)
        .env("ARMR_LOG", format!("file:{}", log.display()));
    let status = command.status().unwrap();
    assert!(status.success());
    let host = hostname();
    let lines = lifecycle_lines(&log, "Load Rule");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (head, rest) = lines[0].split_once(" - - ").unwrap();
    assert!(head.starts_with(&format!("<14>1 {host} true ")), "{head}");
    let pid = head.rsplit(' ').next().unwrap();
    assert_eq!(
        rest,
        format!(
            "CEF:0|ARMR|armr|{}|windows only|Load Rule|Low|dvchost={host} procid={pid} \
             outcome=failure reason=rule is not applicable to the currently running operating \
             system",
            env!("CARGO_PKG_VERSION")
        )
    );
}

/// Under `armr run` the program loads the policy compiled without the rule, so the launcher
/// logs the rule left out, once, as the program's (under seccomp, as the supervisor's).
#[test]
fn a_rule_left_out_by_its_os_list_is_logged_once_through_the_launcher() {
    let dir = TempDir::new("reload", "os-launcher");
    let rules = dir.write(
        "rules.armr",
        "app(\"Reload\"):\n    requires(version: ARMR/2.11)\n    socket(\"windows only\", os: [windows]):\n        connect(\"127.0.0.1:9\")\n        protect()\n    endsocket\n    socket(\"here\"):\n        connect(\"127.0.0.1:7\")\n        protect()\n    endsocket\nendapp\n",
    );
    let host = hostname();
    for (engine, process) in [("preload", "true"), ("seccomp", "armr")] {
        let log = dir.path(&format!("{engine}.log"));
        let mut command = Command::new(support::manifest().join("scripts/armr-run"));
        without_armr_env(&mut command)
            .env("XDG_RUNTIME_DIR", &dir.0)
            .args(["-r", rules.to_str().unwrap(), "--engine", engine, "-l"])
            .arg(format!("file:{}", log.display()))
            .args(["--", "/bin/true"]);
        let out = command.output().unwrap();
        assert!(out.status.success(), "{engine}: {out:?}");
        let lines = lifecycle_lines(&log, "Load Rule");
        assert_eq!(lines.len(), 1, "{engine}: {lines:?}");
        let (head, rest) = lines[0].split_once(" - - ").unwrap();
        assert!(
            head.starts_with(&format!("<14>1 {host} {process} ")),
            "{engine}: {head}"
        );
        assert!(
            rest.ends_with(
                "|windows only|Load Rule|Low|dvchost=HOST procid=PID outcome=failure reason=rule \
                 is not applicable to the currently running operating system"
                    .replace("HOST", &host)
                    .replace("PID", head.rsplit(' ').next().unwrap())
                    .as_str()
            ),
            "{engine}: {rest}"
        );
    }
}

/// A hook may run in a signal handler that interrupted `malloc`: the once-a-second look at the
/// rules, when nothing changed, makes `stat` calls and allocates nothing.
#[test]
fn looking_at_unchanged_rules_allocates_nothing() {
    let dir = TempDir::new("reload", "alloc");
    let (_a, a) = listener();
    let rules_dir = dir.path("rules");
    std::fs::create_dir(&rules_dir).unwrap();
    std::fs::write(rules_dir.join("a.armr"), refusing(a)).unwrap();
    let shim = support::programs::c_library("count_allocations");
    let log = dir.path("events.log");
    let program = "import socket, time\n\
                   for _ in range(30):\n    \
                   s = socket.socket()\n    \
                   try: s.connect(('127.0.0.1', PORT))\n    \
                   except OSError: pass\n    \
                   s.close()\n    \
                   time.sleep(0.1)\n"
        .replace("PORT", &a.to_string());
    let out = Command::new(python())
        .args(["-c", &program])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env(
            "LD_PRELOAD",
            format!("{}:{}", shim.display(), library().display()),
        )
        .env("ARMR_RULES", &rules_dir)
        .env("ARMR_LOG", format!("file:{}", log.display()))
        .output()
        .unwrap();
    let stderr = support::text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.ends_with("connects=30 allocations in connect=0\n"),
        "{stderr}"
    );
}

/// The seccomp engine's supervisor (docs/engines.md) reloads too: a thread of its own looks once
/// a second; a broken edit is refused and logged, the policy kept.
#[test]
fn the_seccomp_supervisor_picks_up_a_change_and_refuses_a_broken_one() {
    support::armr_command();
    let dir = TempDir::new("reload", "seccomp");
    let (_a, a) = listener();
    let (_b, b) = listener();
    let rules = dir.write("rules.armr", &refusing(a));
    let log = dir.path("events.log");
    let mut command = Command::new(armr_command());
    without_armr_env(&mut command)
        .env("ARMR_LOG", format!("file:{}", log.display()))
        .env("ARMR_LOG_LIFECYCLE", "on")
        .args(["run", "--engine", "seccomp", "-r"])
        .arg(&rules)
        .arg("--")
        .arg(python())
        .arg(server_program());
    let mut server = Server::start(&mut command);
    assert_eq!(server.ask(&format!("connect {a}")), REFUSED);
    assert_eq!(server.ask(&format!("connect {b}")), OK);

    let edited = Instant::now();
    replace(&rules, &refusing(b));
    let took = server.until(&format!("connect {a}"), OK, edited);
    assert!(took < Duration::from_secs(2), "seen after {took:?}");
    assert_eq!(server.ask(&format!("connect {b}")), REFUSED);
    assert_eq!(server.ask(&format!("fork {b}")), REFUSED);
    assert_eq!(wait_for(&log, "Reload Rules").len(), 1);

    replace(&rules, "app(\"Reload\"):\n");
    let syntax = wait_for(&log, "Syntax Error");
    let host = hostname();
    assert_eq!(syntax.len(), 1, "{syntax:?}");
    let (head, rest) = syntax[0].split_once(" - - ").unwrap();
    assert!(head.starts_with(&format!("<9>1 {host} armr ")), "{head}");
    let pid = head.rsplit(' ').next().unwrap();
    assert_eq!(
        rest,
        format!(
            "CEF:0|ARMR|armr|{}|Engine|Syntax Error|Very-High|dvchost={host} procid={pid} \
             outcome=failure msg={}:1:1: error: `app` block is never closed",
            env!("CARGO_PKG_VERSION"),
            rules.display()
        )
    );
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(server.ask(&format!("connect {b}")), REFUSED);
    assert_eq!(server.ask(&format!("connect {a}")), OK);
    let reloads = lifecycle_lines(&log, "Reload Rules");
    assert_eq!(reloads.len(), 2, "{reloads:?}");
    assert!(reloads[1].contains("outcome=failure"), "{reloads:?}");
}
