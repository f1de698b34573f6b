//! The hot path asks the kernel nothing armr already knows (issue 14): counted with strace, and
//! what the program sees unchanged. Needs strace (`make test` installs it: never skipped).

use std::collections::BTreeMap;
use std::fs;
use std::net::UdpSocket;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

mod support;
use support::programs::c_program;
use support::run::{Ran, under_armr};
use support::{TempDir, rules};

const STRACE: &str = "/usr/bin/strace";

/// Runs `hot_path ARGS` under strace -f -c and armr with `policy`: what it printed, and the
/// count of each system call.
fn counted(test: &str, policy: &str, args: &[&str]) -> (Ran, BTreeMap<String, u64>) {
    assert!(
        Path::new(STRACE).exists(),
        "{STRACE} is missing: `make test` installs it (scripts/install-test-deps), or \
         `apt-get install strace`"
    );
    let dir = TempDir::new("hot_path", test);
    let rules = dir.write("rules.armr", policy);
    let log = dir.join("armr.log");
    let counts = dir.join("strace.out");
    let mut command = Command::new(STRACE);
    command
        .args(["-f", "-c", "-o"])
        .arg(&counts)
        .arg(c_program("hot_path", &[]))
        .args(args);
    under_armr(&mut command, &rules, &log);
    let ran = support::run::run(&mut command, &dir.0, test, Duration::from_secs(60)).with_log(&log);
    assert!(ran.status.success(), "{}", ran.context());
    let table = fs::read_to_string(&counts).unwrap();
    // "% time  seconds  usecs/call  calls  [errors]  syscall": the calls column, by name.
    let calls = table
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let name = fields.last()?;
            let calls = fields.get(3)?.parse().ok()?;
            Some((name.to_string(), calls))
        })
        .collect();
    (ran, calls)
}

fn port_of(socket: &UdpSocket) -> u16 {
    socket.local_addr().unwrap().port()
}

/// A datagram refused by a connect rule: the socket's type is asked once (or known from
/// `socket`), not at every datagram; every datagram is still refused.
#[test]
fn refused_datagrams_ask_the_socket_type_once() {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let p = port_of(&receiver);
    let policy = rules::policy(
        "HotPath",
        &[(
            "udp refused",
            format!("connect(\"127.0.0.1:{p}\")"),
            "protect()".to_string(),
        )],
    );
    let (ran, calls) = counted("sendto", &policy, &["sendto", "200", &p.to_string()]);
    assert_eq!(ran.stdout.trim(), "sent=0 refused=200", "{}", ran.context());
    let asked = calls.get("getsockopt").copied().unwrap_or(0);
    assert!(
        asked <= 1,
        "getsockopt made {asked} times for 200 datagrams: {calls:?}"
    );
    assert_eq!(
        calls.get("sendto"),
        None,
        "a refused datagram reached the kernel: {calls:?}"
    );
}

/// A UDP connect under `bind(client:)` rules: a datagram socket has no client bind to judge at
/// connect, and armr knows it from `socket`: no getsockname per connect.
#[test]
fn udp_connects_under_client_bind_rules_ask_nothing() {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let p = port_of(&receiver);
    let policy = rules::policy(
        "HotPath",
        &[(
            "client bind",
            "bind(client: \"127.0.0.2:0\")".to_string(),
            "protect()".to_string(),
        )],
    );
    let (ran, calls) = counted(
        "udpconnect",
        &policy,
        &["udpconnect", "200", &p.to_string()],
    );
    assert_eq!(ran.stdout.trim(), "connected=200", "{}", ran.context());
    let asked = calls.get("getsockname").copied().unwrap_or(0);
    assert_eq!(
        asked, 0,
        "getsockname made {asked} times for 200 UDP connects: {calls:?}"
    );
}

/// An event costs one system call, its write: no `fstat` per event to check armr's file is still
/// its own (the hooks that close descriptors say when it may not be), no `writev`. Counted as the
/// difference between 100 and 300 logged datagrams, so that start-up's calls cancel out.
#[test]
fn a_logged_event_is_one_write() {
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let p = port_of(&receiver);
    let policy = rules::policy(
        "HotPath",
        &[(
            "udp logged",
            format!("connect(\"127.0.0.1:{p}\")"),
            "detect(message: \"datagram\", severity: Low)".to_string(),
        )],
    );
    let calls = |n: u64| {
        let (ran, calls) = counted(
            &format!("log{n}"),
            &policy,
            &["sendto", &n.to_string(), &p.to_string()],
        );
        assert_eq!(
            ran.stdout.trim(),
            format!("sent={n} refused=0"),
            "{}",
            ran.context()
        );
        assert_eq!(ran.log.lines().count() as u64, n, "{}", ran.context());
        calls
    };
    let (few, many) = (calls(100), calls(300));
    let per_200 = |name: &str| {
        many.get(name).copied().unwrap_or(0) as i64 - few.get(name).copied().unwrap_or(0) as i64
    };
    // 200 datagrams (sendto) and their 200 lines (write).
    assert_eq!(per_200("write"), 200, "{few:?}\n{many:?}");
    assert_eq!(per_200("writev"), 0, "{few:?}\n{many:?}");
    for stat in ["fstat", "newfstatat", "statx"] {
        assert_eq!(per_200(stat), 0, "{stat} per event: {few:?}\n{many:?}");
    }
}
