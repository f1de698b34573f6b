//! Hostnames in rules: `localhost` is the loopback addresses whatever the hosts file says; a
//! kind's names resolve in bounded, linear time (the hosts file read once, the other names looked
//! up concurrently within one resolver timeout), so that the program's signals are never held
//! longer than that; a name that does not resolve is an event in ARMR_LOG.
//!
//! The programs run in a private mount namespace (`unshare -m`, as root) whose `/etc/hosts`,
//! `/etc/resolv.conf` and `/etc/nsswitch.conf` are files of the test, bind-mounted: the
//! nameserver is always a loopback address (a socket of the test that never answers, or nothing),
//! so no query leaves the machine. Needs `cargo build --release` first, python3, cc, unshare.

mod support;

use armr::language::Action;
use armr::policy::{EventKind, Mode};
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::dns::with_private_etc;
use support::net::{hostname, tcp_listener, untouched};
use support::programs::{c_library, path};
use support::resolvers::Table;
use support::rules::{load_policy, policy};
use support::run::kill_group;
use support::{TempDir, library, manifest, python, text, without_armr_env};

const REFUSED: &str = "ConnectionRefusedError errno=111";

// --- the policy: `localhost` is never resolved

/// One app, `H`, whose rules `r0`, `r1`... are `(condition, action)`.
fn policy_text(rules: &[(&str, String)]) -> String {
    let named: Vec<(String, &str, &str)> = rules
        .iter()
        .enumerate()
        .map(|(i, (condition, action))| (format!("r{i}"), *condition, action.as_str()))
        .collect();
    policy("H", &named)
}

#[test]
fn localhost_is_the_loopback_addresses_whatever_the_resolver_says() {
    let text = policy_text(&[
        ("connect(\"localhost:0\")", "protect()".into()),
        (
            "accept(\"app.localhost:8080\")",
            "detect(message: \"d\")".into(),
        ),
    ]);
    // What a hosts file listing only `127.0.0.1 localhost`, or a hostile one, would say.
    let lying = Table::answering_all(&["10.9.9.9"]);
    let p = load_policy(&text, Mode::Enforce, lying.clone());
    let action = |kind, address: &str| p.decide(kind, address.parse().unwrap()).map(|d| d.action);
    use EventKind::*;
    for address in [
        "127.0.0.1:80",
        "[::1]:80",
        "127.0.0.2:5432",
        "127.255.255.254:1",
        "[::ffff:127.0.0.1]:80",
        "0.0.0.0:80",
        "[::]:80",
    ] {
        assert_eq!(action(Connect, address), Some(Action::Protect), "{address}");
    }
    assert_eq!(
        action(Connect, "10.9.9.9:80"),
        None,
        "what the resolver said"
    );
    assert_eq!(action(Connect, "[::2]:80"), None);
    assert_eq!(action(Connect, "128.0.0.1:80"), None);
    assert_eq!(action(Accept, "[::1]:8080"), Some(Action::Detect));
    assert_eq!(action(Accept, "127.0.0.9:8080"), Some(Action::Detect));
    assert_eq!(action(Accept, "127.0.0.9:8081"), None);
    assert_eq!(lying.asked(), 0, "never resolved");
    assert!(!p.has_hostnames(Connect) && !p.has_hostnames(Accept));
    assert!(p.resolved_names(Connect).is_empty());

    // The explanation's data (the `armr` command renders it: tests/cli.rs, cli/src/explain.rs).
    let explained = p.explain(Connect, "[::1]:443".parse().unwrap());
    let winner = explained.decision.expect("a rule decides");
    assert_eq!(
        (winner.action, &*p.rule(winner.rule).1.name),
        (Action::Protect, "r0"),
        "{explained:?}"
    );
    assert!(
        explained.notes.iter().any(|note| note
            == "hostname localhost is the loopback addresses 127.0.0.0/8 and ::1 (RFC 6761), \
                whatever the hosts file and the resolver say: it is not resolved"),
        "{explained:?}"
    );
}

// --- running programs in a namespace of their own

/// `/etc/hosts`, `/etc/resolv.conf` and `/etc/nsswitch.conf` for a program, and what it runs.
struct Host<'a> {
    dir: &'a TempDir,
    hosts: &'a str,
    /// The nameservers: loopback addresses.
    nameservers: Vec<String>,
    /// `options` of resolv.conf.
    options: &'a str,
}

impl Host<'_> {
    /// Starts `tests/programs/hostnames.py HOST PORT` under libarmr.so (then `also`, preloaded
    /// after it) in a mount namespace with this host's files; stdout piped, stderr to a file.
    /// Only the program is preloaded, not `unshare`, `sh` and `mount` before it.
    fn start(&self, rules: &str, log: &Path, also: Option<&Path>, target: &str) -> Child {
        let hosts = self.dir.write("hosts", self.hosts);
        let resolv = self.dir.write(
            "resolv.conf",
            &format!(
                "{}options {}\n",
                self.nameservers
                    .iter()
                    .map(|n| format!("nameserver {n}\n"))
                    .collect::<String>(),
                self.options
            ),
        );
        let nsswitch = self.dir.write("nsswitch.conf", "hosts: files dns\n");
        let rules = self.dir.write("rules.armr", rules);
        let preload = match also {
            Some(lib) => format!("{}:{}", library().display(), lib.display()),
            None => library().display().to_string(),
        };
        let (host, port) = target.rsplit_once(':').unwrap();
        let mut command = with_private_etc(&hosts, &resolv, &nsswitch);
        command
            .arg("env")
            .arg(format!("LD_PRELOAD={preload}"))
            .arg(python())
            .arg(path("hostnames.py"))
            .args([host.trim_matches(['[', ']']), port])
            .current_dir(manifest().join("tests/programs"))
            .env("ARMR_RULES", &rules)
            .env("ARMR_LOG", format!("file:{}", log.display()))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(self.dir.join("stderr")).unwrap())
            .process_group(0);
        command.spawn().expect("unshare: these tests run as root")
    }
}

/// What a program printed and how it ended, killed after `timeout`.
struct Ran {
    stdout: String,
    stderr: String,
    status: std::process::ExitStatus,
}

fn finish(mut child: Child, dir: &TempDir, timeout: Duration) -> Ran {
    // A test that read the first lines itself has taken stdout.
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        if let Some(stdout) = stdout {
            let mut lines = BufReader::new(stdout);
            while lines.read_line(&mut out).is_ok_and(|n| n > 0) {}
        }
        out
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            kill_group(child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran {
        stdout: reader.join().unwrap(),
        stderr: fs::read_to_string(dir.join("stderr")).unwrap_or_default(),
        status,
    }
}

impl Ran {
    fn context(&self) -> String {
        format!(
            "{:?}\n--- stdout\n{}--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    fn value(&self, key: &str) -> &str {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
            .unwrap_or_else(|| panic!("no `{key}` line:\n{}", self.context()))
    }
}

/// Two UDP sockets on loopback addresses' port 53 that never answer: two nameservers that time
/// out. With two, glibc gives a name two timeouts, so that armr's deadline (one timeout) always
/// comes first and says so. Each test takes its own addresses (127.53.PID.N), so that runs in
/// parallel never meet.
fn blackhole(n: u8) -> (Vec<UdpSocket>, Vec<String>) {
    let (mut sockets, mut addresses) = (Vec::new(), Vec::new());
    for tries in 0..50u8 {
        let address = format!(
            "127.53.{}.{}",
            std::process::id() % 250 + 1,
            n.wrapping_mul(50).wrapping_add(tries) % 250 + 1
        );
        if let Ok(socket) = UdpSocket::bind((address.as_str(), 53)) {
            sockets.push(socket);
            addresses.push(address);
            if sockets.len() == 2 {
                return (sockets, addresses);
            }
        }
    }
    panic!("no two loopback addresses with a free port 53");
}

// --- 1. localhost through ::1 when the hosts file lists only 127.0.0.1

/// curl, browsers, Go and systemd-resolved take `localhost` to both 127.0.0.1 and ::1 without
/// asking the hosts file: a `connect("localhost:0")` protect rule must not be escaped through
/// ::1 on a host whose hosts file lists only 127.0.0.1.
#[test]
fn a_localhost_rule_is_not_escaped_through_ipv6_when_the_hosts_file_lists_only_127_0_0_1() {
    let dir = TempDir::new("hostnames", "localhost-v6");
    let (listener, port) = tcp_listener("[::1]:0");
    let log = dir.join("events.log");
    let rules = policy_text(&[(
        "connect(\"localhost:0\")",
        "protect(message: \"no loopback\", severity: High)".into(),
    )]);
    let host = Host {
        dir: &dir,
        hosts: "127.0.0.1 localhost\n",
        nameservers: vec!["127.53.0.1".into()],
        options: "timeout:1 attempts:1",
    };
    let child = host.start(&rules, &log, None, &format!("[::1]:{port}"));
    let ran = finish(child, &dir, Duration::from_secs(20));
    assert_eq!(ran.value("connect"), REFUSED, "{}", ran.context());
    assert!(untouched(&listener), "the program reached [::1]:{port}");
    let events = fs::read_to_string(&log).unwrap_or_default();
    assert!(
        events.lines().count() == 1
            && events.contains(
                "|H|2.11|r0|Execute Rule|High|" //
            )
            && events.ends_with(&format!(
                " act=protect msg=no loopback remoteIpAddress=::1 remotePort={port}\n"
            )),
        "{events}"
    );
}

/// curl itself takes `localhost` to ::1 and 127.0.0.1, whatever the hosts file says (this one's
/// may list only 127.0.0.1): a `connect("localhost:0")` protect rule refuses both.
#[test]
fn curl_reaches_neither_loopback_address_past_a_localhost_rule() {
    let dir = TempDir::new("hostnames", "curl");
    let (listener, port) = tcp_listener("[::1]:0");
    let v4 = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let log = dir.join("events.log");
    let rules = dir.write(
        "rules.armr",
        &policy_text(&[(
            "connect(\"localhost:0\")",
            "protect(message: \"no loopback\", severity: High)".into(),
        )]),
    );
    let mut curl = Command::new("curl");
    let out = without_armr_env(&mut curl)
        .args(["-sS", "--max-time", "10"])
        .arg(format!("http://localhost:{port}/"))
        .env("LD_PRELOAD", library())
        .env("ARMR_RULES", &rules)
        .env("ARMR_LOG", format!("file:{}", log.display()))
        .stdin(Stdio::null())
        .output()
        .expect("curl: `make test` installs it");
    assert_eq!(
        out.status.code(),
        Some(7),
        "curl could not connect: {}",
        text(&out.stderr)
    );
    assert!(untouched(&listener), "curl reached [::1]:{port}");
    assert!(untouched(&v4), "curl reached 127.0.0.1:{port}");
    let events = fs::read_to_string(&log).unwrap_or_default();
    for address in ["::1", "127.0.0.1"] {
        assert!(
            events.lines().any(|e| e.ends_with(&format!(
                " act=protect msg=no loopback remoteIpAddress={address} remotePort={port}"
            ))),
            "no event for {address}:\n{events}"
        );
    }
}

// --- 2. bounded, linear time

/// 10,000 hostname rules whose names are all in the hosts file: glibc reads the whole file for
/// each name it is asked, 10,000 readings of 10,000 lines (5 to 8 s here). armr reads the file
/// once, asks `getaddrinfo` nothing, and the first connect is decided at once.
#[test]
fn ten_thousand_names_in_the_hosts_file_are_read_in_one_pass() {
    const N: usize = 10_000;
    let dir = TempDir::new("hostnames", "ten-thousand");
    let shim = c_library("count_getaddrinfo");
    let (listener, port) = tcp_listener("127.0.0.1:0");
    let mut hosts = String::from("127.0.0.1 localhost\n");
    let mut rules: Vec<(String, String)> = Vec::with_capacity(N);
    for i in 0..N {
        // The last name is the listener's address: its rule is the one the connect meets.
        let address = if i == N - 1 {
            "127.0.0.1".to_string()
        } else {
            format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255)
        };
        hosts.push_str(&format!("{address} h{i}.test\n"));
        rules.push((format!("connect(\"h{i}.test:{port}\")"), "protect()".into()));
    }
    let rules: Vec<(&str, String)> = rules.iter().map(|(c, a)| (c.as_str(), a.clone())).collect();
    let host = Host {
        dir: &dir,
        hosts: &hosts,
        nameservers: vec!["127.53.0.1".into()],
        options: "timeout:1 attempts:1",
    };
    let child = host.start(
        &policy_text(&rules),
        &dir.join("events.log"),
        Some(&shim),
        &format!("127.0.0.1:{port}"),
    );
    let ran = finish(child, &dir, Duration::from_secs(60));
    assert_eq!(ran.value("connect"), REFUSED, "{}", ran.context());
    assert!(untouched(&listener), "the program reached 127.0.0.1:{port}");
    assert!(
        ran.stderr
            .lines()
            .filter(|l| l.starts_with("getaddrinfo"))
            .collect::<Vec<_>>()
            == ["getaddrinfo .test calls: 0"],
        "armr asked the system resolver for names the hosts file holds:\n{}",
        ran.context()
    );
    let seconds: f64 = ran.value("seconds").parse().unwrap();
    assert!(
        seconds < 2.0,
        "the first connect took {seconds} s:\n{}",
        ran.context()
    );
}

/// Three names whose nameservers never answer (timeout 2 s, one attempt, two nameservers: 4 s a
/// name): looked up one after another, the program's signals were held 12 s, and a SIGTERM
/// waited all that time. Looked up
/// together, within one deadline, the SIGTERM ends the program within one timeout.
#[test]
fn a_sigterm_during_resolution_waits_at_most_one_resolver_timeout() {
    let dir = TempDir::new("hostnames", "sigterm");
    let (blackhole, nameservers) = blackhole(1);
    let (_listener, port) = tcp_listener("127.0.0.1:0");
    let rules = policy_text(&[
        ("connect(\"a.test:1\")", "protect()".into()),
        ("connect(\"b.test:1\")", "protect()".into()),
        ("connect(\"c.test:1\")", "protect()".into()),
    ]);
    let host = Host {
        dir: &dir,
        hosts: "127.0.0.1 localhost\n",
        nameservers,
        options: "timeout:2 attempts:1",
    };
    let mut child = host.start(
        &rules,
        &dir.join("events.log"),
        None,
        &format!("127.0.0.1:{port}"),
    );
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "start: connecting\n");
    // The connect is resolving the three names once the first query reaches the nameserver.
    blackhole[0]
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    blackhole[0]
        .recv_from(&mut [0u8; 512])
        .expect("no query reached the nameserver");
    std::thread::sleep(Duration::from_millis(100));
    let sent = Instant::now();
    // SAFETY: signals the program this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let ran = finish(child, &dir, Duration::from_secs(20));
    let waited = sent.elapsed();
    assert_eq!(ran.status.signal(), Some(15), "{}", ran.context());
    assert!(
        waited < Duration::from_millis(3000),
        "the SIGTERM waited {waited:?}, more than one resolver timeout (2 s):\n{}",
        ran.context()
    );
    for name in ["a.test", "b.test", "c.test"] {
        assert!(
            ran.stderr.contains(&format!(
                "armr: warning: hostname `{name}` in the rules does not resolve (no answer within 2 s, the resolver's timeout): its rules match nothing\n"
            )),
            "{}",
            ran.context()
        );
    }
}

// --- 3. a name that does not resolve is an event

/// `2026-11-30T12:01:23.395Z` as CEF's `rt`: `Nov 30 2026 12:01:23.395 +0000`.
fn cef_time(timestamp: &str) -> String {
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (date, clock) = timestamp
        .strip_suffix('Z')
        .unwrap()
        .split_once('T')
        .unwrap();
    let parts: Vec<&str> = date.split('-').collect();
    let month = months[parts[1].parse::<usize>().unwrap() - 1];
    format!("{month} {} {} {clock} +0000", parts[2], parts[0])
}

#[test]
fn a_name_that_does_not_resolve_is_an_event_in_armr_log() {
    let dir = TempDir::new("hostnames", "unresolved-event");
    let (_blackhole, nameservers) = blackhole(2);
    let (_listener, port) = tcp_listener("127.0.0.1:0");
    let rules = policy_text(&[
        ("connect(\"gone.test:1\")", "protect()".into()),
        ("connect(\"gone.test:2\")", "protect()".into()),
        ("connect(\"db.test:0\")", "protect()".into()),
    ]);
    let host = Host {
        dir: &dir,
        hosts: "127.0.0.1 localhost\n10.0.0.5 db.test\n",
        nameservers,
        options: "timeout:1 attempts:1",
    };
    let log = dir.join("events.log");
    let child = host.start(&rules, &log, None, &format!("127.0.0.1:{port}"));
    let pid = child.id();
    let ran = finish(child, &dir, Duration::from_secs(20));
    assert_eq!(ran.value("connect"), "ok", "{}", ran.context());
    let events = fs::read_to_string(&log).unwrap_or_default();
    let lines: Vec<&str> = events.lines().collect();
    assert_eq!(lines.len(), 1, "{events}");
    let timestamp = lines[0]
        .strip_prefix("<12>1 ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{events}"));
    let process: String = python()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .chars()
        .take(15)
        .collect();
    let host = hostname();
    assert_eq!(
        lines[0],
        format!(
            "<12>1 {timestamp} {host} {process} {pid} - - CEF:0|ARMR|armr|{}|hostname unresolved|Resolve Hostname|Medium|rt={} dvchost={host} procid={pid} securityFeature=socket connect outcome=failure dhost=gone.test cnt=2 reason=no answer within 1 s, the resolver's timeout msg=hostname gone.test in the rules does not resolve: its rules match nothing",
            env!("CARGO_PKG_VERSION"),
            cef_time(timestamp)
        )
    );
    assert!(
        ran.stderr.contains(
            "armr: warning: hostname `gone.test` in the rules does not resolve (no answer within 1 s, the resolver's timeout): its rules match nothing\n"
        ),
        "{}",
        ran.context()
    );
}
