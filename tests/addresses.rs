//! Every address form the kernel takes is judged as the kernel reads it: IPv6 addresses without
//! a scope id (24 bytes), `AF_UNSPEC` addresses read by the socket's own family, the unspecified
//! address judged where the kernel sends it, `sendmmsg` with a huge `vlen`, glibc's `__connect`,
//! and the libc functions that bind or connect through libc's internal calls (`bindresvport`,
//! `rresvport`, `rcmd`, `rexec`).
//!
//! Each test runs `tests/programs/addresses.c` (compiled with `cc` at test time) under
//! `LD_PRELOAD=target/release/libarmr.so` and asserts what the program sees (`LABEL: RESULT` per
//! step: `ok` or the errno's name), the connections that reached the test's listeners, and the
//! events logged. Needs `cargo build --release` first, `cc`, and root (reserved ports). Only
//! loopback addresses are used, every port is chosen by the kernel, every run has a deadline.

mod support;

use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use support::net::{assert_untouched, free_tcp_port, tcp_listener};
use support::programs::c_program;
use support::rules;
use support::run::Ran;
use support::{TempDir, library};

const PROTECT: &str = "protect(message: \"blocked\", severity: High)";

/// The test program, `tests/programs/addresses.c`, compiled once per test binary.
fn program() -> PathBuf {
    c_program("addresses", &[])
}

/// One app whose rules `ruleI` are `conditions`, each protecting with a message (logged).
fn policy(conditions: &[String]) -> String {
    let rules: Vec<(String, &str, &str)> = conditions
        .iter()
        .enumerate()
        .map(|(i, condition)| (format!("rule{i}"), condition.as_str(), PROTECT))
        .collect();
    rules::policy("Addresses", &rules)
}

/// What one run of the program showed.
type Run = Ran;

impl Ran {
    /// Asserts each `(label, result)` of the program's steps, reporting every mismatch at once,
    /// and that the program ran to its end.
    fn expect_steps(&self, expected: &[(&str, &str)]) {
        self.expect(&[expected, &[("done", "yes")]].concat());
    }

    /// Asserts that one logged event carries all of `fields` (`key=value` of the CEF line).
    fn expect_event(&self, fields: &[String]) {
        assert!(
            self.log
                .lines()
                .any(|line| fields.iter().all(|f| line.split(' ').any(|w| w == f))),
            "no event with {fields:?}\n{}",
            self.context()
        );
    }
}

/// Runs the program's `steps` under libarmr.so with `rules`, logging to a file.
fn run(dir: &TempDir, rules: &str, steps: &[String]) -> Run {
    let rules_path = dir.write("rules.armr", rules);
    let log = dir.join("armr.log");
    let _ = fs::remove_file(&log);
    let mut command = Command::new(program());
    command
        .args(steps)
        .env_clear()
        .env("HOME", &dir.0)
        .env("LD_PRELOAD", library())
        .env("ARMR_RULES", &rules_path)
        .env("ARMR_LOG", format!("file:{}", log.display()))
        .current_dir(&dir.0);
    support::run::run(&mut command, &dir.0, "run", Duration::from_secs(60)).with_log(&log)
}

/// Builds a step: its fields joined by `/`.
fn step(fields: &[&dyn ToString]) -> String {
    fields
        .iter()
        .map(|f| f.to_string())
        .collect::<Vec<_>>()
        .join("/")
}

fn udp(address: &str) -> (UdpSocket, u16) {
    let s = UdpSocket::bind(address).unwrap_or_else(|e| panic!("bind {address}: {e}"));
    s.set_nonblocking(true).unwrap();
    let port = s.local_addr().unwrap().port();
    (s, port)
}

/// Asserts that no datagram reached `receiver`.
fn assert_nothing_received(receiver: &UdpSocket, run: &Run) {
    let mut buf = [0u8; 16];
    match receiver.recv_from(&mut buf) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok((_, from)) => panic!(
            "a datagram from {from} reached the protected {}\n{}",
            receiver.local_addr().unwrap(),
            run.context()
        ),
        Err(e) => panic!("recv: {e}"),
    }
}

// --- 1. IPv6 addresses of 24 bytes

#[test]
fn an_ipv6_address_without_a_scope_id_is_judged_for_every_call() {
    let dir = TempDir::new("addresses", "in6short");
    let (protected, p) = tcp_listener("[::1]:0");
    let (_allowed, ok) = tcp_listener("[::1]:0");
    let (receiver, q) = udp("[::1]:0");
    let r = free_tcp_port();
    let rules = policy(&[
        format!("connect(\"[::1]:{p}\")"),
        format!("connect(\"[::1]:{q}\")"),
        format!("bind(server: \"[::1]:{r}\")"),
    ]);
    let short = |label: &str, op: &str, sock: &str, port: u16| {
        step(&[&label, &op, &sock, &"-", &"in6short", &"::1", &port])
    };
    let run = run(
        &dir,
        &rules,
        &[
            short("tcp", "connect", "tcp6", p),
            short("tcp_nonblocking", "connect", "tcp6nb", p),
            short("tcp_fast_open", "fastopen", "tcp6", p),
            short("udp_connect", "connect", "udp6", q),
            short("udp_sendto", "sendto", "udp6", q),
            short("udp_sendmsg", "sendmsg", "udp6", q),
            short("udp_sendmmsg", "sendmmsg", "udp6nb", q),
            short("udp_bind", "bind", "udp6", r),
            short("tcp_allowed", "connect", "tcp6", ok),
            step(&[&"tcp_28", &"connect", &"tcp6", &"-", &"in6", &"::1", &p]),
        ],
    );
    run.expect_steps(&[
        ("tcp", "ECONNREFUSED"),
        ("tcp_nonblocking", "ECONNREFUSED"),
        ("tcp_fast_open", "EACCES"),
        ("udp_connect", "ECONNREFUSED"),
        ("udp_sendto", "EACCES"),
        ("udp_sendmsg", "EACCES"),
        ("udp_sendmmsg", "EACCES"),
        ("udp_bind", "EACCES"),
        ("tcp_allowed", "ok"),
        ("tcp_28", "ECONNREFUSED"),
    ]);
    run.expect_event(&["remoteIpAddress=::1".into(), format!("remotePort={p}")]);
    run.expect_event(&["remoteIpAddress=::1".into(), format!("remotePort={q}")]);
    assert_untouched(&protected, &run.context());
    assert_nothing_received(&receiver, &run);
}

// --- 2. AF_UNSPEC, judged by the socket's family

#[test]
fn an_af_unspec_address_is_read_as_the_kernel_reads_it_on_each_socket_family() {
    let dir = TempDir::new("addresses", "unspec");
    let (receiver, q) = udp("127.0.0.1:0");
    let (_other, ok) = udp("127.0.0.1:0");
    let (r, s) = (free_tcp_port(), free_tcp_port());
    let rules = policy(&[
        format!("connect(\"127.0.0.1:{q}\")"),
        format!("bind(server: \"0.0.0.0:{r}\")"),
        format!("bind(server: \"0.0.0.0:{s}\")"),
    ]);
    let unspec = |label: &str, op: &str, sock: &str, ip: &str, port: u16| {
        step(&[&label, &op, &sock, &"-", &"unspec", &ip, &port])
    };
    let run = run(
        &dir,
        &rules,
        &[
            unspec("udp_sendto", "sendto", "udp4", "127.0.0.1", q),
            unspec("udp_sendto_nonblocking", "sendto", "udp4nb", "127.0.0.1", q),
            unspec("udp_sendmsg", "sendmsg", "udp4", "127.0.0.1", q),
            unspec("udp_sendmmsg", "sendmmsg", "udp4", "127.0.0.1", q),
            unspec("udp_sendto_allowed", "sendto", "udp4", "127.0.0.1", ok),
            unspec("udp_bind", "bind", "udp4", "0.0.0.0", r),
            unspec("tcp_bind_listen", "bindlisten", "tcp4", "0.0.0.0", s),
            // A disconnect: no destination, nothing to judge.
            unspec("udp_connect", "connect", "udp4", "127.0.0.1", q),
            // On an IPv6 socket AF_UNSPEC means no address at all.
            unspec("udp6_sendto", "sendto", "udp6", "127.0.0.1", q),
            step(&[
                &"udp6_sendto_in",
                &"sendto",
                &"udp6",
                &"-",
                &"in",
                &"127.0.0.1",
                &q,
            ]),
        ],
    );
    run.expect_steps(&[
        ("udp_sendto", "EACCES"),
        ("udp_sendto_nonblocking", "EACCES"),
        ("udp_sendmsg", "EACCES"),
        ("udp_sendmmsg", "EACCES"),
        ("udp_sendto_allowed", "ok"),
        ("udp_bind", "EACCES"),
        ("tcp_bind_listen", "EACCES"),
        ("udp_connect", "ok"),
        ("udp6_sendto", "EDESTADDRREQ"),
        ("udp6_sendto_in", "EACCES"),
    ]);
    run.expect_event(&[
        "remoteIpAddress=127.0.0.1".into(),
        format!("remotePort={q}"),
    ]);
    run.expect_event(&["act=protect".into(), format!("localPort={r}")]);
    std::thread::sleep(Duration::from_millis(100));
    assert_nothing_received(&receiver, &run);
}

// --- 3. the unspecified address, judged where the kernel sends it

#[test]
fn the_unspecified_address_is_judged_where_the_kernel_sends_it() {
    let dir = TempDir::new("addresses", "unspecified");
    let (on_2, p2) = tcp_listener("127.0.0.2:0");
    let (on_1, p1) = tcp_listener("127.0.0.1:0");
    let (_on_2_same_port, _) = tcp_listener(&format!("127.0.0.2:{p1}"));
    let (on_6, p6) = tcp_listener("[::1]:0");
    let (receiver_2, q2) = udp("127.0.0.2:0");
    let (receiver_6, q6) = udp("[::1]:0");
    let rules = policy(&[
        format!("connect(\"127.0.0.2:{p2}\")"),
        format!("connect(\"127.0.0.1:{p1}\")"),
        format!("connect(\"[::1]:{p6}\")"),
        format!("connect(\"127.0.0.2:{q2}\")"),
        format!("connect(\"[::1]:{q6}\")"),
    ]);
    let to = |label: &str, op: &str, sock: &str, bound: &str, form: &str, ip: &str, port: u16| {
        step(&[&label, &op, &sock, &bound, &form, &ip, &port])
    };
    let run = run(
        &dir,
        &rules,
        &[
            // Bound to 127.0.0.2: 0.0.0.0 is 127.0.0.2.
            to(
                "tcp_bound",
                "connect",
                "tcp4",
                "127.0.0.2",
                "in",
                "0.0.0.0",
                p2,
            ),
            to(
                "tcp_bound_nonblocking",
                "connect",
                "tcp4nb",
                "127.0.0.2",
                "in",
                "0.0.0.0",
                p2,
            ),
            to(
                "tcp_bound_elsewhere",
                "connect",
                "tcp4",
                "127.0.0.2",
                "in",
                "0.0.0.0",
                p1,
            ),
            to(
                "udp_bound_connect",
                "connect",
                "udp4",
                "127.0.0.2",
                "in",
                "0.0.0.0",
                q2,
            ),
            to(
                "udp_bound_sendto",
                "sendto",
                "udp4",
                "127.0.0.2",
                "in",
                "0.0.0.0",
                q2,
            ),
            to(
                "udp_bound_sendmsg",
                "sendmsg",
                "udp4",
                "127.0.0.2",
                "in",
                "0.0.0.0",
                q2,
            ),
            to(
                "udp_bound_sendmmsg",
                "sendmmsg",
                "udp4",
                "127.0.0.2",
                "in",
                "0.0.0.0",
                q2,
            ),
            // Unbound: 0.0.0.0 is 127.0.0.1.
            to("tcp_unbound", "connect", "tcp4", "-", "in", "0.0.0.0", p1),
            // IPv6 sockets bound to a mapped address.
            to(
                "tcp6_mapped_any",
                "connect",
                "tcp6",
                "::ffff:127.0.0.2",
                "in6",
                "::ffff:0.0.0.0",
                p2,
            ),
            to(
                "tcp6_any_from_mapped",
                "connect",
                "tcp6",
                "::ffff:127.0.0.2",
                "in6",
                "::",
                p1,
            ),
            // `::` is ::1.
            to("tcp6_any", "connect", "tcp6", "-", "in6", "::", p6),
            to("udp6_any_sendto", "sendto", "udp6", "-", "in6", "::", q6),
        ],
    );
    run.expect_steps(&[
        ("tcp_bound", "ECONNREFUSED"),
        ("tcp_bound_nonblocking", "ECONNREFUSED"),
        ("tcp_bound_elsewhere", "ok"),
        ("udp_bound_connect", "ECONNREFUSED"),
        ("udp_bound_sendto", "EACCES"),
        ("udp_bound_sendmsg", "EACCES"),
        ("udp_bound_sendmmsg", "EACCES"),
        ("tcp_unbound", "ECONNREFUSED"),
        ("tcp6_mapped_any", "ECONNREFUSED"),
        ("tcp6_any_from_mapped", "ECONNREFUSED"),
        ("tcp6_any", "ECONNREFUSED"),
        ("udp6_any_sendto", "EACCES"),
    ]);
    // The event names the destination the kernel would have used.
    run.expect_event(&[
        "remoteIpAddress=127.0.0.2".into(),
        format!("remotePort={p2}"),
    ]);
    run.expect_event(&[
        "remoteIpAddress=127.0.0.2".into(),
        format!("remotePort={q2}"),
    ]);
    for listener in [&on_2, &on_1, &on_6] {
        assert_untouched(listener, &run.context());
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_nothing_received(&receiver_2, &run);
    assert_nothing_received(&receiver_6, &run);
}

// --- 4. sendmmsg with a vlen above UIO_MAXIOV

#[test]
fn sendmmsg_with_a_huge_vlen_reads_only_the_messages_the_kernel_sends() {
    let dir = TempDir::new("addresses", "vlen");
    let (receiver, q) = udp("127.0.0.1:0");
    let rules = policy(&[
        format!("connect(\"127.0.0.1:{}\")", free_tcp_port()),
        "bind(client: \"127.0.0.9:0\")".to_string(),
    ]);
    let run = run(
        &dir,
        &rules,
        &[step(&[&"vlen_100000", &"mmsg-guard", &"127.0.0.1", &q])],
    );
    run.expect_steps(&[("vlen_100000", "ok 1024")]);
    drop(receiver);
}

// --- 5. glibc's __connect

#[test]
fn glibc_s_second_name_for_connect_is_judged_like_connect() {
    let dir = TempDir::new("addresses", "__connect");
    let (protected, p) = tcp_listener("127.0.0.1:0");
    let (_allowed, ok) = tcp_listener("127.0.0.1:0");
    let rules = policy(&[format!("connect(\"127.0.0.1:{p}\")")]);
    let run = run(
        &dir,
        &rules,
        &[
            step(&[
                &"blocking",
                &"__connect",
                &"tcp4",
                &"-",
                &"in",
                &"127.0.0.1",
                &p,
            ]),
            step(&[
                &"nonblocking",
                &"__connect",
                &"tcp4nb",
                &"-",
                &"in",
                &"127.0.0.1",
                &p,
            ]),
            step(&[&"udp", &"__connect", &"udp4", &"-", &"in", &"127.0.0.1", &p]),
            step(&[
                &"allowed",
                &"__connect",
                &"tcp4",
                &"-",
                &"in",
                &"127.0.0.1",
                &ok,
            ]),
        ],
    );
    run.expect_steps(&[
        ("blocking", "ECONNREFUSED"),
        ("nonblocking", "ECONNREFUSED"),
        ("udp", "ECONNREFUSED"),
        ("allowed", "ok"),
    ]);
    run.expect_event(&[
        "act=protect".into(),
        "remoteIpAddress=127.0.0.1".into(),
        format!("remotePort={p}"),
    ]);
    assert_untouched(&protected, &run.context());
}

// --- 6. libc's internal binds and connects

#[test]
fn bindresvport_and_rresvport_binds_are_judged_like_the_program_s() {
    let dir = TempDir::new("addresses", "resvport");
    let (_target, p) = tcp_listener("127.0.0.1:0");
    let rules = policy(&["bind(server: \"0.0.0.0:512-1023\")".to_string()]);
    let run1 = run(
        &dir,
        &rules,
        &[
            step(&[&"udp_null", &"bindresvport", &"udp4", &"null"]),
            step(&[&"udp_sin", &"bindresvport", &"udp4", &"in"]),
            step(&[&"udp_in6", &"bindresvport", &"udp4", &"in6"]),
            step(&[&"tcp_listen", &"bindresvport", &"tcp4", &"null"]),
            step(&[&"rresvport_listen", &"rresvport", &"-", &"0"]),
            step(&[&"rresvport_connect", &"rresvport", &"127.0.0.1", &p]),
        ],
    );
    run1.expect_steps(&[
        ("udp_null", "EACCES"),
        ("udp_sin", "EACCES"),
        ("udp_in6", "EAFNOSUPPORT"),
        ("tcp_listen", "EACCES"),
        ("rresvport_listen", "EACCES"),
        ("rresvport_connect", "ok"),
    ]);
    run1.expect_event(&["act=protect".into(), "localIpAddress=0.0.0.0".into()]);

    let rules = policy(&[
        "bind(client: \"0.0.0.0:512-1023\")".to_string(),
        "bind(server: \"127.0.0.1:80\")".to_string(),
    ]);
    let run2 = run(
        &dir,
        &rules,
        &[
            step(&[&"udp_null", &"bindresvport", &"udp4", &"null"]),
            step(&[&"rresvport_listen", &"rresvport", &"-", &"0"]),
            step(&[&"rresvport_connect", &"rresvport", &"127.0.0.1", &p]),
        ],
    );
    run2.expect_steps(&[
        ("udp_null", "ok"),
        ("rresvport_listen", "ok"),
        ("rresvport_connect", "EACCES"),
    ]);
}

/// A listener that answers the rcmd/rexec protocol's first byte (0: go on) and counts the
/// connections it accepts.
struct Server {
    port: u16,
    count: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn start() -> Server {
        let (listener, port) = tcp_listener("127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (count.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        c.fetch_add(1, Ordering::Relaxed);
                        std::thread::spawn(move || {
                            conn.set_nonblocking(false).unwrap();
                            conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                            let _ = conn.write_all(b"\0");
                            let mut buf = [0u8; 256];
                            while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server { port, count, stop }
    }

    fn connections(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[test]
fn rcmd_and_rexec_are_judged_by_the_calls_they_would_make() {
    let dir = TempDir::new("addresses", "rcmd");
    let protected = Server::start();
    let allowed = Server::start();
    let rules = policy(&[format!("connect(\"127.0.0.1:{}\")", protected.port)]);
    let call =
        |label: &str, f: &str, port: u16, fd2p: u8| step(&[&label, &f, &"127.0.0.1", &port, &fd2p]);
    let run1 = run(
        &dir,
        &rules,
        &[
            call("rcmd_protected", "rcmd", protected.port, 0),
            call("rexec_protected", "rexec", protected.port, 0),
            call("rcmd_allowed", "rcmd", allowed.port, 0),
            call("rexec_allowed", "rexec", allowed.port, 0),
        ],
    );
    run1.expect_steps(&[
        ("rcmd_protected", "ECONNREFUSED"),
        ("rexec_protected", "ECONNREFUSED"),
        ("rcmd_allowed", "ok"),
        ("rexec_allowed", "ok"),
    ]);
    run1.expect_event(&[
        "act=protect".into(),
        "remoteIpAddress=127.0.0.1".into(),
        format!("remotePort={}", protected.port),
    ]);
    assert_eq!(protected.connections(), 0, "{}", run1.context());
    assert_eq!(allowed.connections(), 2, "{}", run1.context());
}

#[test]
fn the_second_channel_of_rcmd_and_rexec_is_judged() {
    let dir = TempDir::new("addresses", "rcmd-fd2p");
    let allowed = Server::start();
    let second = Server::start();
    let call =
        |label: &str, f: &str, port: u16, fd2p: u8| step(&[&label, &f, &"127.0.0.1", &port, &fd2p]);
    // The second channel (fd2p): its listening port and the peer it accepts are judged.
    let rules = policy(&[
        "accept(\"127.0.0.1:0\")".to_string(),
        "bind(server: \"0.0.0.0:40000-65535\")".to_string(),
    ]);
    let run2 = run(
        &dir,
        &rules,
        &[
            call("rcmd_fd2p", "rcmd", second.port, 1),
            call("rexec_fd2p", "rexec", second.port, 1),
            call("rcmd_no_fd2p", "rcmd", allowed.port, 0),
        ],
    );
    run2.expect_steps(&[
        ("rcmd_fd2p", "ECONNREFUSED"),
        ("rexec_fd2p", "ECONNREFUSED"),
        ("rcmd_no_fd2p", "ok"),
    ]);
    // rcmd: its peer comes from a reserved port, the first of which is refused.
    run2.expect_event(&[
        "accept".into(),
        "remoteIpAddress=127.0.0.1".into(),
        "remotePort=512".into(),
    ]);
    // rexec: it listens on an ephemeral port.
    run2.expect_event(&[
        "serverbind".into(),
        "localIpAddress=0.0.0.0".into(),
        "localPort=40000".into(),
    ]);
    assert_eq!(second.connections(), 0, "{}", run2.context());
}
