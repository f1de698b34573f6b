//! The receive side of the rules, under real programs: `accept` rules judge the sender of every
//! datagram an unconnected UDP socket receives (and a UDP socket's `connect`), a peer that reset
//! before its `accept`, and `bind(server:)` rules judge a listening socket armr did not see
//! listen (inherited). A UDP socket bound to port 0 is a client's. Programs in `tests/programs/`
//! (Python 3, C built with cc, Java built with javac) print `name: value` lines; the tests assert
//! on them and on the exact event lines of `ARMR_LOG`.
//!
//! Needs `cargo build --release` first. Only 127.0.0.0/8 is used; ports are the kernel's choice,
//! except 5432 of `rules/web.armr`, to which one datagram is sent; every run has a deadline.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::programs::{c_program, path, python_program};
use support::run::{Ran, under_armr};
use support::{TempDir, library, manifest, text};

const EACCES: &str = "PermissionError errno=13";
const REFUSED: &str = "ConnectionRefusedError errno=111";
const RESET: &str = "ConnectionResetError errno=104";
const EAGAIN: &str = "BlockingIOError errno=11";

/// One app, `Receive`, holding `rules`, each `(name, condition, message)`: protect rules.
fn policy(rules: &[(&str, &str, &str)]) -> String {
    let rules: Vec<(&str, &str, String)> = rules
        .iter()
        .map(|(name, condition, message)| {
            (
                *name,
                *condition,
                format!("protect(message: \"{message}\", severity: High)"),
            )
        })
        .collect();
    support::rules::policy("Receive", &rules)
}

/// What a user sees of one run.
type Run = Ran;

impl Ran {
    /// The event lines, each cut to what does not vary between runs: the CEF header and the
    /// extension from `appVersion` on (the time, host and pid before it are checked for shape).
    fn events(&self) -> Vec<String> {
        self.log
            .lines()
            .map(|line| {
                let (header, cef) = line
                    .split_once(" - - ")
                    .unwrap_or_else(|| panic!("malformed line {line:?}"));
                assert!(header.starts_with('<') && header.contains(">1 "), "{line}");
                let (head, ext) = cef
                    .split_once("rt=")
                    .unwrap_or_else(|| panic!("no rt in {line:?}"));
                let tail = ext
                    .split_once(" appVersion=")
                    .unwrap_or_else(|| panic!("no appVersion in {line:?}"))
                    .1;
                format!("{head}appVersion={tail}")
            })
            .collect()
    }
}

/// The event line (as [`Run::events`] cuts it) of a protect rule of [`policy`].
fn event(rule: &str, feature: &str, message: &str, fields: &str) -> String {
    format!(
        "CEF:0|ARMR:Receive|Receive|2.11|{rule}|Execute Rule|High|appVersion=1 ruleType=socket securityFeature=socket {feature} act=protect msg={message} {fields}"
    )
}

/// Runs `command` under armr with `rules` and `ARMR_LOG` in `dir`; `preload`: set `LD_PRELOAD`
/// (false when the program sets it itself before an exec). The program must succeed and print
/// `done: yes`.
fn run(dir: &TempDir, rules: &Path, mut command: Command, preload: bool) -> Run {
    let log = dir.join("armr.log");
    let _ = fs::remove_file(&log);
    under_armr(&mut command, rules, &log)
        .current_dir(&dir.0)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONPATH", manifest().join("tests/programs"));
    if !preload {
        command.env_remove("LD_PRELOAD");
    }
    let run =
        support::run::run(&mut command, &dir.0, "run", Duration::from_secs(60)).with_log(&log);
    assert!(run.status.success(), "{}\n{}", run.status, run.context());
    assert_eq!(run.get("done"), "yes", "{}", run.context());
    run
}

// --- 1. accept of a peer that reset before the accept

#[test]
fn accept_without_an_address_judges_a_peer_that_reset_before_the_accept() {
    let dir = TempDir::new("receive", "accept-reset");
    let rules = dir.write(
        "rules.armr",
        &policy(&[(
            "no local clients",
            "accept(\"127.0.0.1:0\")",
            "client refused",
        )]),
    );
    let run = run(&dir, &rules, python_program("accept_reset.py", &[]), true);
    run.expect(&[
        // Refused, reset and never returned: nothing else pending, so EAGAIN.
        ("accept_null_reset", "ret=-1 errno=11"),
        ("accept4_null_reset", "ret=-1 errno=11"),
        ("accept_null_allowed", "accepted"),
        // Cut to the 6 bytes asked, the full 16 reported, the rest of the buffer untouched.
        (
            "accept_short_buffer",
            "ok=True len=16 family=2 port=True ip=[127, 0] untouched=eeeeeeeeeeeeeeeeeeee",
        ),
    ]);
    let events = run.events();
    assert_eq!(events.len(), 2, "{}", run.context());
    for e in &events {
        let (judged, port) = e.rsplit_once(" remotePort=").unwrap();
        assert_eq!(
            judged,
            event(
                "no local clients",
                "accept",
                "client refused",
                "remoteIpAddress=127.0.0.1"
            )
        );
        assert!(port.parse::<u16>().is_ok_and(|p| p > 0), "{e}");
    }
}

// --- 2. a listener armr did not see listen

#[test]
fn an_inherited_listener_is_judged_at_its_first_accept() {
    let dir = TempDir::new("receive", "inherited-listener");
    let rules = dir.write(
        "rules.armr",
        &policy(&[(
            "no local listener",
            "bind(server: \"127.0.0.1:0\")",
            "listener refused",
        )]),
    );
    // The launcher listens without armr, then execs the program under armr.
    let command = python_program(
        "listen_then_exec.py",
        &[
            library().to_str().unwrap(),
            path("inherited_listener.py").to_str().unwrap(),
        ],
    );
    let run = run(&dir, &rules, command, false);
    run.expect(&[
        ("inherited", "127.0.0.1 listening=1"),
        ("client_connect", "ok"),
        ("accept_1", EACCES),
        // The queued connection was reset, not left hanging.
        ("client_recv", RESET),
        ("client2_connect", "ok"),
        ("accept_2", EACCES),
        ("accept_3_nonblocking", EACCES),
        // The number reused for an allowed listener serves again.
        ("dup2_reused_accept", "accepted"),
        ("reused_number", "True"),
        ("close_reused_accept", "accepted"),
    ]);
    // Logged once, at the first accept.
    assert_eq!(
        run.events(),
        [event(
            "no local listener",
            "serverbind",
            "listener refused",
            &format!("localIpAddress=127.0.0.1 localPort={}", run.get("port"))
        )],
        "{}",
        run.context()
    );
}

// --- 3. UDP receive

#[test]
fn an_inherited_udp_socket_read_with_read_or_readv_is_judged() {
    let dir = TempDir::new("receive", "inherited-udp");
    let rules = dir.write("rules.armr", &policy(&[DATAGRAM_RULE]));
    // The launcher binds without armr, then execs the program under armr.
    let command = python_program(
        "udp_bind_then_exec.py",
        &[
            library().to_str().unwrap(),
            path("inherited_udp.py").to_str().unwrap(),
        ],
    );
    let run = run(&dir, &rules, command, false);
    run.expect(&[
        ("read", "good-read"),
        ("readv", "good-readv"),
        ("dup_read", "good-dup_read"),
    ]);
    run.assert_first_event_is_a_discarded_datagram();
}

/// `preadv2` at offset -1 and `splice` read a socket as `readv` and `recv` do, past both hooks:
/// they are judged too; so are glibc's private names for recv, read, socket and sendmmsg.
#[test]
fn preadv2_and_splice_from_an_unconnected_udp_socket_are_judged() {
    let dir = TempDir::new("receive", "udp-receive-paths");
    let rules = dir.write(
        "rules.armr",
        &policy(&[
            DATAGRAM_RULE,
            ("no .5", "connect(\"127.0.0.5:0\")", "send refused"),
        ]),
    );
    let run = run(
        &dir,
        &rules,
        python_program("udp_receive_paths.py", &[]),
        true,
    );
    run.expect(&[
        ("preadv2", "good-preadv2 left=0"),
        ("preadv2_nowait", "good-preadv2_nowait left=0"),
        ("preadv2_hipri", "good-preadv2_hipri left=0"),
        ("preadv64v2", "good-preadv64v2 left=0"),
        ("preadv64v2_nowait", "good-preadv64v2_nowait left=0"),
        ("preadv64v2_hipri", "good-preadv64v2_hipri left=0"),
        ("os_preadv", "good-os_preadv"),
        ("preadv2_only_refused", "ret=-1 errno=11"),
        ("splice", "good-splice left=0"),
        ("splice_only_refused", "errno=11"),
        ("readv_empty", "ret=0 errno=0"),
        ("readv_1025", "ret=-1 errno=22"),
        ("kept", "kept"),
        ("__recv", "good-__recv left=0"),
        ("__read_nocancel", "good-__read_nocancel left=0"),
        ("__socket_read", "good-__socket"),
        ("__sendmmsg", "ret=-1 errno=13"),
        ("__sendmmsg_delivered", "0"),
    ]);
    run.assert_first_event_is_a_discarded_datagram();
}

/// Lengths the kernel rejects give the kernel's result on judged calls, and a refused sender's
/// data never lands in the buffer of a call that then fails.
#[test]
fn receive_and_accept_with_lengths_the_kernel_rejects_fail_as_the_kernel_says() {
    let dir = TempDir::new("receive", "receive-lengths");
    let rules = dir.write("rules.armr", &policy(&[DATAGRAM_RULE]));
    let run = run(
        &dir,
        &rules,
        python_program("receive_lengths.py", &[]),
        true,
    );
    run.expect(&[
        ("recvfrom_no_length", "ret=-1 errno=14"),
        ("recvfrom_no_length_data", "good-no_length left=0"),
        ("recvfrom_negative", "ret=-1 errno=22"),
        ("recvfrom_negative_data", "good-negative left=0"),
        ("recvmsg_negative", "ret=-1 errno=22"),
        // Nothing taken: the allowed datagram is still there (the refused one is discarded
        // by the receive that counts them).
        ("recvmsg_negative_left", "1"),
        // The kernel accepts, fails and closes the connection.
        ("accept_no_length", "ret=-1 errno=14"),
        ("accept_after", "ret=-1 errno=11"),
    ]);
    run.assert_first_event_is_a_discarded_datagram();
}

/// `connect` does not empty a UDP socket's queue: a refused sender's datagram that came before
/// it is not delivered after it.
#[test]
fn a_datagram_queued_before_a_udp_connect_is_still_judged() {
    let dir = TempDir::new("receive", "udp-connect-queued");
    let rules = dir.write("rules.armr", &policy(&[DATAGRAM_RULE]));
    let run = run(
        &dir,
        &rules,
        python_program("udp_connect_queued.py", &[]),
        true,
    );
    // (A Python socket with a timeout is non-blocking underneath: os.read says EAGAIN.)
    run.expect(&[
        (
            "connect_then_recv",
            "ok good-before, ok peer-after, TimeoutError errno=None",
        ),
        (
            "connect_then_read",
            "ok good-before, ok peer-after, BlockingIOError errno=11",
        ),
    ]);
    run.assert_first_event_is_a_discarded_datagram();
}

const DATAGRAM_RULE: (&str, &str, &str) = (
    "no datagrams from .3",
    "accept(\"127.0.0.3:0\")",
    "datagram refused",
);

impl Run {
    /// The first event is the first datagram [`DATAGRAM_RULE`] discarded, logged at once.
    fn assert_first_event_is_a_discarded_datagram(&self) {
        assert_eq!(
            self.events().first(),
            Some(&datagram_event(self, Some(1))),
            "{}",
            self.context()
        );
    }
}

fn datagram_event(run: &Run, count: Option<u64>) -> String {
    let count = count.map(|c| format!("cnt={c} ")).unwrap_or_default();
    event(
        DATAGRAM_RULE.0,
        "accept",
        DATAGRAM_RULE.2,
        &format!(
            "{count}remoteIpAddress=127.0.0.3 remotePort={}",
            run.get("bad_port")
        ),
    )
}

#[test]
fn datagrams_from_a_refused_sender_are_discarded_by_every_receive_call() {
    let dir = TempDir::new("receive", "udp-receive");
    let rules = dir.write("rules.armr", &policy(&[DATAGRAM_RULE]));
    let run = run(&dir, &rules, python_program("udp_receive.py", &[]), true);
    run.expect(&[
        ("recvfrom", "good-recvfrom from 127.0.0.2"),
        ("recv", "good-recv"),
        ("read", "good-read"),
        ("readv", "good-readv"),
        ("__read", "good-__read"),
        ("recvmsg", "good-recvmsg from 127.0.0.2"),
        ("recv_into", "good-recv_into"),
        ("recvfrom_into", "good-recvfrom_into from 127.0.0.2"),
        ("peek", "good-peek"),
        ("after_peek", "good-peek"),
        ("nonblocking", EAGAIN),
        ("dontwait", EAGAIN),
        ("rcvtimeo", EAGAIN),
        ("rcvtimeo_waited", "True"),
        ("python_timeout", "TimeoutError errno=None"),
        (
            "recvmmsg",
            "ret=2 good-mm-1 from 127.0.0.2 namelen=16, good-mm-2 from - namelen=0",
        ),
        ("copy_recvfrom", "good-copy_recvfrom from 127.0.0.2"),
        ("copy_read", "good-copy_read"),
        ("connect_refused_sender", REFUSED),
        ("connect_allowed_sender", "ok"),
        ("connected_recv", "good-connected"),
        ("disconnect", "ret=0 errno=0"),
        ("disconnected_recv", "good-disconnected"),
    ]);
    // The first discarded datagram is logged at once; the rest within the second are counted
    // into later lines (at most one a second); the UDP connect is an event of its own.
    run.assert_first_event_is_a_discarded_datagram();
    let events = run.events();
    let connect = datagram_event(&run, None);
    assert_eq!(
        events.iter().filter(|e| **e == connect).count(),
        1,
        "one event for the UDP connect\n{}",
        run.context()
    );
    let refused = 19; // datagrams from .3 the program sent to sockets it receives on unconnected
    let (head, tail) = connect.split_once("remoteIpAddress").unwrap();
    let counted: u64 = events
        .iter()
        .filter(|e| **e != connect)
        .map(|e| {
            let count = e
                .strip_prefix(head)
                .and_then(|rest| rest.strip_prefix("cnt="))
                .and_then(|rest| rest.split_once(" remoteIpAddress"))
                .filter(|(_, rest)| *rest == tail)
                .unwrap_or_else(|| panic!("not a datagram's event: {e}"))
                .0;
            count.parse::<u64>().unwrap()
        })
        .sum();
    assert!(
        counted <= refused && events.len() <= 6,
        "{counted} counted in {} lines\n{}",
        events.len(),
        run.context()
    );
}

#[test]
fn discarded_datagrams_are_logged_at_most_once_a_second_with_a_count() {
    let dir = TempDir::new("receive", "udp-throttle");
    let rules = dir.write("rules.armr", &policy(&[DATAGRAM_RULE]));
    let run = run(&dir, &rules, python_program("udp_throttle.py", &[]), true);
    run.expect(&[
        ("burst_1", "one"),
        ("burst_2", "twenty"),
        ("burst_3", "late"),
    ]);
    assert_eq!(
        run.events(),
        [
            datagram_event(&run, Some(1)),
            datagram_event(&run, Some(21))
        ],
        "{}",
        run.context()
    );
}

#[test]
fn fortified_receive_calls_discard_datagrams_from_a_refused_sender() {
    let dir = TempDir::new("receive", "udp-fortified");
    let binary = c_program("udp_fortified", &["-D_FORTIFY_SOURCE=2"]);
    let symbols = Command::new("nm").arg("-D").arg(&binary).output().unwrap();
    for name in ["__recv_chk", "__recvfrom_chk", "__read_chk"] {
        assert!(
            text(&symbols.stdout).contains(name),
            "the program does not call {name}: {}",
            text(&symbols.stdout)
        );
    }
    let rules = dir.write("rules.armr", &policy(&[DATAGRAM_RULE]));
    let run = run(&dir, &rules, Command::new(&binary), true);
    run.expect(&[
        ("recv", "good-recv from -"),
        ("recvfrom", "good-recvfrom from 127.0.0.2"),
        ("read", "good-read from -"),
    ]);
    assert!(!run.log.is_empty(), "{}", run.context());
}

// --- 4. a UDP socket bound to port 0 is a client

fn web_rules() -> PathBuf {
    manifest().join("rules/web.armr")
}

#[test]
fn a_python_udp_client_binding_port_0_works_under_the_web_rules() {
    let dir = TempDir::new("receive", "udp-port-0");
    let run = run(
        &dir,
        &web_rules(),
        python_program("udp_client_port0.py", &[]),
        true,
    );
    run.expect(&[
        ("bind_port_0", "ok"),
        ("sendto_database", "ok 5"),
        ("bind_v6_port_0", "ok"),
        // A UDP server on a port the rules do not allow is still refused.
        ("bind_server_port", EACCES),
    ]);
    let events: Vec<String> = run.events();
    assert_eq!(
        events,
        [
            "CEF:0|ARMR:Web Server|Web Server|2.11|no other listeners|Execute Rule|High|appVersion=1 ruleType=socket securityFeature=socket serverbind act=protect msg=web server tried to listen on an unexpected port localIpAddress=127.0.0.1 localPort=47123"
        ],
        "{}",
        run.context()
    );
}

#[test]
fn a_java_datagram_socket_client_works_under_the_web_rules() {
    let dir = TempDir::new("receive", "java-udp");
    let javac = Command::new("javac")
        .arg("-d")
        .arg(&dir.0)
        .arg(path("UdpClient.java"))
        .output();
    let javac = match javac {
        Ok(out) => out,
        Err(e) => {
            eprintln!("NOT RUN: javac cannot be started ({e}); install a JDK to run this test");
            return;
        }
    };
    assert!(javac.status.success(), "javac: {}", text(&javac.stderr));
    let mut java = Command::new("java");
    java.arg("-cp").arg(&dir.0).arg("UdpClient");
    let run = run(&dir, &web_rules(), java, true);
    run.expect(&[("bound", "true"), ("sent", "yes")]);
    assert_eq!(run.log, "", "{}", run.context());
}

#[test]
fn a_udp_bind_to_port_0_is_judged_by_bind_client_rules() {
    let dir = TempDir::new("receive", "udp-port-0-client-rule");
    let rules = dir.write(
        "rules.armr",
        &policy(&[
            (
                "no client on .1",
                "bind(client: \"127.0.0.1:0\")",
                "client bind refused",
            ),
            (
                "no servers",
                "bind(server: \"0.0.0.0:0\")",
                "server refused",
            ),
        ]),
    );
    let command = python_program("udp_bind_client.py", &[]);
    let run = run(&dir, &rules, command, true);
    run.expect(&[
        ("bind_refused_client", EACCES),
        ("bind_allowed_client", "ok"),
    ]);
    assert_eq!(
        run.events(),
        [event(
            "no client on .1",
            "bind",
            "client bind refused",
            "localIpAddress=127.0.0.1 localPort=0"
        )],
        "{}",
        run.context()
    );
}
