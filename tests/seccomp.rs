//! The seccomp engine (issue 15, docs/engines.md) with real programs: `armr run --engine seccomp`
//! (and `--engine auto`, which picks it for static and Go programs) judges the socket system
//! calls themselves, so programs that `LD_PRELOAD` cannot reach are refused as a dynamic one is.
//!
//! - a static C program (`tests/programs/netops.c`, `cc -static`) and a Go program
//!   (`tests/programs/gonet.go`, built with `CGO_ENABLED=0` and with cgo): refused connect
//!   (`ECONNREFUSED`), refused listener (`EACCES`), refused peer on accept (reset, never
//!   returned), refused UDP send (`EACCES`), refused datagram sender (discarded, never
//!   received), allowed traffic working, the exact event line, and detect-only logging without
//!   refusing; and a program whose supervisor was killed cannot connect (closed);
//! - a dynamic program (`tests/programs/escapes.c`) reaching the kernel past libc's exports: a
//!   direct `syscall(SYS_connect)`, an inline `syscall` instruction, a child started with an
//!   empty environment, `RTLD_DEEPBIND` and `dlmopen` plugins, glibc's resolver: all refused
//!   under seccomp, and (the contrast) all but the resolver escaping the preload engine; Go's
//!   resolvers (its own, and glibc's through cgo) refused too;
//! - a thread flipping a connect's address while another connects (`toctou.c`): the protected
//!   port never gets a connection; a thread giving a `sendmsg` header a destination, or
//!   rewriting the buffer an `accept` or a `recvmsg`/`recvmmsg` writes the peer into
//!   (`accept_race.c`, `recvmsg_race.c`): the refused peer and sender are still refused;
//! - the i386 ABI (`int $0x80`), the x32 ABI and io_uring (`oldabi.c`): they fail with `ENOSYS`;
//! - nginx and a Go HTTP server under load from wrk and curl: correct answers, no stuck worker,
//!   a clean shutdown (exit status 0, no process left).
//!
//! Every address is on 127.0.0.0/8. The resolver test binds port 53 and mounts (root).

use std::io::{ErrorKind, Read};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

mod support;
use support::TempDir;
use support::dns::{ANSWER, FakeDns, with_private_etc};
use support::engines::{Started, armr_engine_command, armr_run, go_program, shell_status, start};
use support::events::without_times;
use support::net::{assert_untouched, free_port, hostname, tcp_listener, untouched};
use support::programs::{c_library, c_program};
use support::rules::policy;
use support::run::{Ran, run};

const APP: &str = "Seccomp test";
const TIMEOUT: Duration = Duration::from_secs(60);
const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

// =============================================================================================
// Programs, rules, runs and event lines

/// The programs LD_PRELOAD cannot reach, which `--engine auto` gives to the seccomp engine.
#[derive(Clone, Copy, Debug)]
enum Prog {
    /// tests/programs/netops.c, `cc -static`.
    StaticC,
    /// tests/programs/gonet.go, `CGO_ENABLED=0`.
    Go,
    /// tests/programs/gonet.go, `CGO_ENABLED=1 -tags netcgo`: dynamically linked.
    GoCgo,
}

impl Prog {
    fn binary(self) -> PathBuf {
        match self {
            Prog::StaticC => c_program("netops", &["-static"]),
            Prog::Go => go_program("gonet", false),
            Prog::GoCgo => go_program("gonet", true),
        }
    }

    /// The program's name, as events show it.
    fn name(self) -> &'static str {
        match self {
            Prog::StaticC => "netops",
            Prog::Go | Prog::GoCgo => "gonet",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Prog::StaticC => "static",
            Prog::Go => "go",
            Prog::GoCgo => "gocgo",
        }
    }
}

/// Both engines that must take these programs: seccomp named, and auto's choice.
const ENGINES: [&str; 2] = ["seccomp", "auto"];

/// `protect(...)` with `message`, severity High.
fn protect(message: &str) -> String {
    format!("protect(message: \"{message}\", severity: High)")
}

/// Rules that judge every call and match none of the tests' addresses (an app needs a rule).
fn unrelated_rules() -> String {
    policy(
        APP,
        &[(
            "elsewhere",
            "connect(\"127.0.0.2:9\")".to_string(),
            protect("not reached by the tests"),
        )],
    )
}

/// One test's directory, with its rules (`rules.armr`).
fn setup(test: &str, rules: &[(&str, String, String)]) -> (TempDir, PathBuf) {
    let dir = TempDir::new("seccomp", test);
    let rules = dir.write("rules.armr", &policy(APP, rules));
    (dir, rules)
}

/// Runs `program ARGS` to its end under `armr run --engine ENGINE OPTIONS`, logging to
/// `dir/TAG.log`; the run must succeed.
fn armr(
    engine: &str,
    dir: &TempDir,
    rules: &Path,
    options: &[&str],
    program: &Path,
    args: &[&str],
    tag: &str,
) -> Ran {
    let log = dir.join(&format!("{tag}.log"));
    let ran = run(
        &mut armr_run(engine, rules, &log, options, program, args),
        &dir.0,
        tag,
        TIMEOUT,
    )
    .with_log(&log);
    assert_eq!(ran.code(), Some(0), "{tag}: exit status\n{}", ran.context());
    ran
}

/// The event line armr writes for a rule of [`APP`] with severity High, its times written
/// `TIME` ([`without_times`]). `feature` is `connect`, `serverbind`, `accept`...; `side` is
/// `remote` or `local`.
#[allow(clippy::too_many_arguments)]
fn event(
    program: &str,
    pid: &str,
    rule: &str,
    feature: &str,
    act: &str,
    msg: &str,
    side: &str,
    ip: &str,
    port: u16,
) -> String {
    let host = hostname();
    format!(
        "<10>1 TIME {host} {program} {pid} - - CEF:0|ARMR:{APP}|{APP}|2.11|{rule}|Execute Rule|\
         High|rt=TIME dvchost={host} procid={pid} appVersion=1 ruleType=socket \
         securityFeature=socket {feature} act={act} msg={msg} {side}IpAddress={ip} {side}Port={port}"
    )
}

/// Asserts that the run logged exactly `expected` (lines as [`event`] writes them).
fn assert_log(ran: &Ran, expected: &[String]) {
    let got: Vec<String> = ran.log.lines().map(without_times).collect();
    assert_eq!(got, expected, "the log of {}\n{}", ran.tag, ran.context());
}

/// A TCP connection to 127.0.0.1:`port` from `source` (a loopback address: the peer an accept
/// rule judges); its local port.
fn connect_from(source: Ipv4Addr, port: u16) -> (TcpStream, u16) {
    let sockaddr = |ip: Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor made here, with addresses that live across them;
    // the descriptor is owned by the TcpStream from then on.
    let stream = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let stream = TcpStream::from_raw_fd(fd);
        let from = sockaddr(source, 0);
        assert_eq!(
            libc::bind(fd, &from as *const _ as *const libc::sockaddr, len),
            0,
            "bind {source}: {}",
            std::io::Error::last_os_error()
        );
        let to = sockaddr(LOCALHOST, port);
        assert_eq!(
            libc::connect(fd, &to as *const _ as *const libc::sockaddr, len),
            0,
            "connect from {source} to 127.0.0.1:{port}: {}",
            std::io::Error::last_os_error()
        );
        stream
    };
    let local = stream.local_addr().unwrap().port();
    (stream, local)
}

/// Accepts connections on `listener` on a thread until the flag is set; counts them.
fn count_connections(listener: TcpListener) -> (Arc<AtomicUsize>, Arc<AtomicBool>) {
    let count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    listener.set_nonblocking(true).unwrap();
    let (c, s) = (count.clone(), stop.clone());
    thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok(_) => {
                    c.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => sleep(Duration::from_millis(1)),
                Err(e) => panic!("accept: {e}"),
            }
        }
    });
    (count, stop)
}

// =============================================================================================
// Static and Go programs: the four refusals, allowed traffic, events, detect-only

fn refused_connect(prog: Prog) {
    let (protected, pp) = tcp_listener("127.0.0.1:0");
    let (allowed, ap) = tcp_listener("127.0.0.1:0");
    let (dir, rules) = setup(
        &format!("connect-{}", prog.tag()),
        &[(
            "no protected port",
            format!("connect(\"127.0.0.1:{pp}\")"),
            protect("outgoing connection blocked"),
        )],
    );
    let program = prog.binary();
    for engine in ENGINES {
        let (pp_s, ap_s) = (pp.to_string(), ap.to_string());
        let ran = armr(
            engine,
            &dir,
            &rules,
            &[],
            &program,
            &["connect", "127.0.0.1", &pp_s],
            &format!("{engine}-refused"),
        );
        ran.expect(&[("connect", "ECONNREFUSED")]);
        assert_untouched(&protected, &ran.context());
        assert_log(
            &ran,
            &[event(
                prog.name(),
                ran.get("pid"),
                "no protected port",
                "connect",
                "protect",
                "outgoing connection blocked",
                "remote",
                "127.0.0.1",
                pp,
            )],
        );

        let ran = armr(
            engine,
            &dir,
            &rules,
            &[],
            &program,
            &["connect", "127.0.0.1", &ap_s],
            &format!("{engine}-allowed"),
        );
        ran.expect(&[("connect", "OK")]);
        assert!(
            !untouched(&allowed),
            "the allowed connection arrived\n{}",
            ran.context()
        );
        assert_log(&ran, &[]);
    }
}

fn refused_listener(prog: Prog) {
    let (lp, ok) = (free_port(LOCALHOST.into()), free_port(LOCALHOST.into()));
    let (dir, rules) = setup(
        &format!("listen-{}", prog.tag()),
        &[(
            "no listener",
            format!("bind(server: \"127.0.0.1:{lp}\")"),
            protect("listener refused"),
        )],
    );
    let program = prog.binary();
    for engine in ENGINES {
        let ran = armr(
            engine,
            &dir,
            &rules,
            &[],
            &program,
            &["listen", "127.0.0.1", &lp.to_string()],
            &format!("{engine}-refused"),
        );
        assert_eq!(ran.get("listen"), "EACCES", "{}", ran.context());
        assert_log(
            &ran,
            &[event(
                prog.name(),
                ran.get("pid"),
                "no listener",
                "serverbind",
                "protect",
                "listener refused",
                "local",
                "127.0.0.1",
                lp,
            )],
        );
        let ran = armr(
            engine,
            &dir,
            &rules,
            &[],
            &program,
            &["listen", "127.0.0.1", &ok.to_string()],
            &format!("{engine}-allowed"),
        );
        assert_eq!(ran.get("listen"), "OK", "{}", ran.context());
        assert_log(&ran, &[]);
    }
}

fn refused_peer_on_accept(prog: Prog) {
    let port = free_port(LOCALHOST.into());
    let (dir, rules) = setup(
        &format!("accept-{}", prog.tag()),
        &[(
            "not from .2",
            "accept(\"127.0.0.2:0\")".to_string(),
            protect("peer refused"),
        )],
    );
    let program = prog.binary();
    for engine in ENGINES {
        let log = dir.join(&format!("{engine}.log"));
        let mut server = start(
            &mut armr_run(
                engine,
                &rules,
                &log,
                &[],
                &program,
                &["accept", "127.0.0.1", &port.to_string(), "1"],
            ),
            &dir.0,
            engine,
        );
        server.wait_line("listening: OK", TIMEOUT);
        // The refused peer first: reset, never returned to the program.
        let (mut refused, refused_port) = connect_from(Ipv4Addr::new(127, 0, 0, 2), port);
        refused
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut buf = [0u8; 16];
        match refused.read(&mut buf) {
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!(
                "{engine}: the refused peer got {other:?}, not a reset\n{}",
                server.context()
            ),
        }
        let (mut allowed, allowed_port) = connect_from(LOCALHOST, port);
        allowed
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut got = String::new();
        allowed
            .read_to_string(&mut got)
            .unwrap_or_else(|e| panic!("{engine}: the allowed peer: {e}\n{}", server.context()));
        assert_eq!(got, "hello\n", "{engine}: {}", server.context());
        let (status, _) = server.finish(TIMEOUT);
        assert_eq!(shell_status(status), 0, "{engine}: {}", server.context());
        assert_eq!(
            server.values("accept"),
            [format!("127.0.0.1:{allowed_port}")],
            "{engine}: only the allowed peer was accepted\n{}",
            server.context()
        );
        let pid = server.values("pid").remove(0);
        let lines: Vec<String> = support::events::log_lines(&log)
            .iter()
            .map(|l| without_times(l))
            .collect();
        assert_eq!(
            lines,
            [event(
                prog.name(),
                &pid,
                "not from .2",
                "accept",
                "protect",
                "peer refused",
                "remote",
                "127.0.0.2",
                refused_port,
            )],
            "{engine}: the log\n{}",
            server.context()
        );
    }
}

fn refused_udp_send(prog: Prog) {
    let protected = UdpSocket::bind("127.0.0.1:0").unwrap();
    let allowed = UdpSocket::bind("127.0.0.1:0").unwrap();
    let pp = protected.local_addr().unwrap().port();
    let ap = allowed.local_addr().unwrap().port();
    protected.set_nonblocking(true).unwrap();
    allowed
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let (dir, rules) = setup(
        &format!("udp-{}", prog.tag()),
        &[(
            "no datagrams",
            format!("connect(\"127.0.0.1:{pp}\")"),
            protect("datagram blocked"),
        )],
    );
    let program = prog.binary();
    let mut buf = [0u8; 64];
    for engine in ENGINES {
        let ran = armr(
            engine,
            &dir,
            &rules,
            &[],
            &program,
            &["udp", "127.0.0.1", &pp.to_string()],
            &format!("{engine}-refused"),
        );
        ran.expect(&[("sendto", "EACCES")]);
        assert!(
            matches!(protected.recv_from(&mut buf), Err(e) if e.kind() == ErrorKind::WouldBlock),
            "nothing reached the protected port\n{}",
            ran.context()
        );
        assert_log(
            &ran,
            &[event(
                prog.name(),
                ran.get("pid"),
                "no datagrams",
                "connect",
                "protect",
                "datagram blocked",
                "remote",
                "127.0.0.1",
                pp,
            )],
        );
        let ran = armr(
            engine,
            &dir,
            &rules,
            &[],
            &program,
            &["udp", "127.0.0.1", &ap.to_string()],
            &format!("{engine}-allowed"),
        );
        ran.expect(&[("sendto", "4")]);
        let (n, _) = allowed
            .recv_from(&mut buf)
            .unwrap_or_else(|e| panic!("the allowed datagram: {e}\n{}", ran.context()));
        assert_eq!(&buf[..n], b"ping");
        assert_log(&ran, &[]);
    }
}

fn refused_datagram_sender(prog: Prog) {
    refused_datagram_sender_by(prog, "udprecv");
}

/// The refused sender's datagram discarded whatever call receives it: `op` is `udprecv`
/// (`recvfrom`, the sender returned) or `udpread` (`read`, which Go's `UDPConn.Read` makes).
fn refused_datagram_sender_by(prog: Prog, op: &str) {
    let port = free_port(LOCALHOST.into());
    let (dir, rules) = setup(
        &format!("{op}-{}", prog.tag()),
        &[(
            "no datagrams from .2",
            "accept(\"127.0.0.2:0\")".to_string(),
            protect("datagram refused"),
        )],
    );
    let program = prog.binary();
    let send_from = |source: Ipv4Addr, data: &[u8]| {
        let socket = UdpSocket::bind((source, 0)).unwrap();
        socket.send_to(data, ("127.0.0.1", port)).unwrap();
        socket.local_addr().unwrap().port()
    };
    for engine in ENGINES {
        let log = dir.join(&format!("{engine}.log"));
        let mut receiver = start(
            &mut armr_run(
                engine,
                &rules,
                &log,
                &[],
                &program,
                &[op, "127.0.0.1", &port.to_string(), "1"],
            ),
            &dir.0,
            engine,
        );
        receiver.wait_line("bound: OK", TIMEOUT);
        // The refused sender's datagram first: discarded, never returned to the program.
        let refused_port = send_from(Ipv4Addr::new(127, 0, 0, 2), b"refused");
        let allowed_port = send_from(LOCALHOST, b"allowed");
        let (status, _) = receiver.finish(TIMEOUT);
        assert_eq!(shell_status(status), 0, "{engine}: {}", receiver.context());
        let received = if op == "udpread" {
            "allowed".to_string()
        } else {
            format!("127.0.0.1:{allowed_port} allowed")
        };
        assert_eq!(
            receiver.values("datagram"),
            [received],
            "{engine} {op}: only the allowed sender's datagram was received\n{}",
            receiver.context()
        );
        let pid = receiver.values("pid").remove(0);
        // A refused datagram's event counts the datagrams it stands for (docs/logging.md).
        let expected = event(
            prog.name(),
            &pid,
            "no datagrams from .2",
            "accept",
            "protect",
            "datagram refused",
            "remote",
            "127.0.0.2",
            refused_port,
        )
        .replace("msg=datagram refused ", "msg=datagram refused cnt=1 ");
        let lines: Vec<String> = support::events::log_lines(&log)
            .iter()
            .map(|l| without_times(l))
            .collect();
        assert_eq!(
            lines,
            [expected],
            "{engine}: the log\n{}",
            receiver.context()
        );
    }
}

/// `read` of an unconnected UDP socket (a static C program's, Go's `UDPConn.Read`): the refused
/// sender's datagram is discarded under the seccomp engine too (`read` is in the filter with
/// `accept` rules; before, the program read it).
#[test]
fn a_datagram_read_with_read_is_judged_by_its_sender() {
    for prog in [Prog::StaticC, Prog::Go] {
        refused_datagram_sender_by(prog, "udpread");
    }
}

fn detect_only_logs_without_refusing(prog: Prog) {
    let (protected, pp) = tcp_listener("127.0.0.1:0");
    let (dir, rules) = setup(
        &format!("detect-{}", prog.tag()),
        &[(
            "no protected port",
            format!("connect(\"127.0.0.1:{pp}\")"),
            protect("outgoing connection blocked"),
        )],
    );
    let program = prog.binary();
    for engine in ENGINES {
        let ran = armr(
            engine,
            &dir,
            &rules,
            &["--detect-only"],
            &program,
            &["connect", "127.0.0.1", &pp.to_string()],
            engine,
        );
        ran.expect(&[("connect", "OK")]);
        assert!(
            !untouched(&protected),
            "detect-only: the connection arrived\n{}",
            ran.context()
        );
        assert_log(
            &ran,
            &[event(
                prog.name(),
                ran.get("pid"),
                "no protected port",
                "connect",
                "detect",
                "outgoing connection blocked",
                "remote",
                "127.0.0.1",
                pp,
            )],
        );
    }
}

macro_rules! program_tests {
    ($($prog:ident: $connect:ident, $listen:ident, $accept:ident, $udp:ident, $datagram:ident,
        $detect:ident;)*) => {$(
        #[test]
        fn $connect() {
            refused_connect(Prog::$prog);
        }
        #[test]
        fn $listen() {
            refused_listener(Prog::$prog);
        }
        #[test]
        fn $accept() {
            refused_peer_on_accept(Prog::$prog);
        }
        #[test]
        fn $udp() {
            refused_udp_send(Prog::$prog);
        }
        #[test]
        fn $datagram() {
            refused_datagram_sender(Prog::$prog);
        }
        #[test]
        fn $detect() {
            detect_only_logs_without_refusing(Prog::$prog);
        }
    )*};
}

program_tests! {
    StaticC: static_c_refused_connect, static_c_refused_listener, static_c_refused_peer_on_accept,
        static_c_refused_udp_send, static_c_refused_datagram_sender,
        static_c_detect_only_logs_without_refusing;
    Go: go_refused_connect, go_refused_listener, go_refused_peer_on_accept, go_refused_udp_send,
        go_refused_datagram_sender, go_detect_only_logs_without_refusing;
    GoCgo: go_cgo_refused_connect, go_cgo_refused_listener, go_cgo_refused_peer_on_accept,
        go_cgo_refused_udp_send, go_cgo_refused_datagram_sender,
        go_cgo_detect_only_logs_without_refusing;
}

#[test]
fn the_test_programs_are_static_go_and_dynamic_as_meant() {
    let interp = |p: &Path| {
        let out = Command::new("readelf").arg("-lW").arg(p).output().unwrap();
        String::from_utf8_lossy(&out.stdout).contains("INTERP")
    };
    assert!(
        !interp(&Prog::StaticC.binary()),
        "netops -static has no loader"
    );
    assert!(!interp(&Prog::Go.binary()), "CGO_ENABLED=0: static");
    assert!(interp(&Prog::GoCgo.binary()), "cgo: dynamically linked");
    assert!(interp(&c_program("escapes", &[])), "escapes: dynamic");
}

/// The engine fails closed: when the supervisor (`armr run`) is killed, the program's guarded
/// calls fail with `ENOSYS` (the kernel's answer once no listener is left), or the program ends
/// with it; a connect never passes unjudged.
#[test]
fn a_program_whose_supervisor_was_killed_cannot_connect() {
    let (listener, port) = tcp_listener("127.0.0.1:0");
    let dir = TempDir::new("seccomp", "supervisor-killed");
    let rules = dir.write("rules.armr", &unrelated_rules());
    let log = dir.join("log");
    let mut program = start(
        &mut armr_run(
            "seccomp",
            &rules,
            &log,
            &[],
            &Prog::StaticC.binary(),
            &["connect", "127.0.0.1", &port.to_string(), "1000"],
        ),
        &dir.0,
        "program",
    );
    let pid = program.wait_line("pid: ", TIMEOUT);
    assert_ne!(
        pid,
        format!("pid: {}", program.pid()),
        "the program runs in a child of armr run, its supervisor"
    );
    program.signal(libc::SIGKILL);
    if let Some(line) = program.line_or_end("connect: ", TIMEOUT) {
        assert_eq!(line, "connect: ENOSYS", "{}", program.context());
    }
    sleep(Duration::from_millis(100));
    let context = program.context();
    assert_untouched(&listener, &context);
    program.finish(TIMEOUT);
}

// =============================================================================================
// A dynamic program past libc's exports

/// `escapes MODE 127.0.0.1 PORT` (with the plugin for the plugin modes).
fn escape_args(mode: &str, plugin: &Path, port: u16) -> Vec<String> {
    let mut args = vec![mode.to_string()];
    if mode == "deepbind" || mode == "dlmopen" {
        args.push(plugin.display().to_string());
    }
    args.extend(["127.0.0.1".to_string(), port.to_string()]);
    args
}

/// Every way escapes.c has to connect, the plain libc call first.
const ESCAPES: [&str; 6] = [
    "connect", "syscall", "asm", "emptyenv", "deepbind", "dlmopen",
];

#[test]
fn direct_calls_an_empty_environment_and_plugins_are_refused_by_the_seccomp_engine() {
    let (protected, pp) = tcp_listener("127.0.0.1:0");
    let (allowed, ap) = tcp_listener("127.0.0.1:0");
    let (dir, rules) = setup(
        "escapes",
        &[(
            "no protected port",
            format!("connect(\"127.0.0.1:{pp}\")"),
            protect("outgoing connection blocked"),
        )],
    );
    let program = c_program("escapes", &[]);
    let plugin = c_library("escapes_plugin");
    for mode in ESCAPES {
        let args = escape_args(mode, &plugin, pp);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ran = armr("seccomp", &dir, &rules, &[], &program, &args, mode);
        ran.expect(&[("connect", "ECONNREFUSED")]);
        assert_untouched(&protected, &ran.context());
        // The process that connected: the child started with an empty environment, when there
        // is one.
        let pid = *ran.values("pid").last().unwrap();
        assert_log(
            &ran,
            &[event(
                "escapes",
                pid,
                "no protected port",
                "connect",
                "protect",
                "outgoing connection blocked",
                "remote",
                "127.0.0.1",
                pp,
            )],
        );
        if mode == "emptyenv" {
            ran.expect(&[("child", "0")]);
        }

        let args = escape_args(mode, &plugin, ap);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ran = armr(
            "seccomp",
            &dir,
            &rules,
            &[],
            &program,
            &args,
            &format!("{mode}-allowed"),
        );
        ran.expect(&[("connect", "OK")]);
        assert!(!untouched(&allowed), "{mode}: allowed\n{}", ran.context());
        assert_log(&ran, &[]);
    }
}

/// The contrast: what the seccomp engine refuses above, the preload engine cannot see
/// (docs/security.md, "Limits"). Only libc's own connect is refused.
#[test]
fn direct_calls_an_empty_environment_and_plugins_escape_the_preload_engine() {
    let (protected, pp) = tcp_listener("127.0.0.1:0");
    let (dir, rules) = setup(
        "escapes-preload",
        &[(
            "no protected port",
            format!("connect(\"127.0.0.1:{pp}\")"),
            protect("outgoing connection blocked"),
        )],
    );
    let program = c_program("escapes", &[]);
    let plugin = c_library("escapes_plugin");
    for mode in ESCAPES {
        let args = escape_args(mode, &plugin, pp);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ran = armr("preload", &dir, &rules, &[], &program, &args, mode);
        if mode == "connect" {
            ran.expect(&[("connect", "ECONNREFUSED")]);
            assert_untouched(&protected, &ran.context());
            assert_eq!(ran.log.lines().count(), 1, "{}", ran.context());
        } else {
            ran.expect(&[("connect", "OK")]);
            assert!(
                !untouched(&protected),
                "{mode} escapes the preload engine\n{}",
                ran.context()
            );
            assert_log(&ran, &[]);
        }
    }
}

/// A lookup of `armr-name.test` by `program` (`resolve NAME`) under `--engine ENGINE`, in a
/// private /etc whose resolv.conf names one server, `server`:53 (a fake DNS server): with a rule
/// protecting the server, the lookup fails, the server hears nothing and the refused connect is
/// logged (named `name`, the program's); without, it answers.
fn resolver_to_a_protected_name_server(
    program: &Path,
    name: &str,
    engine: &str,
    server: Ipv4Addr,
    test: &str,
) {
    let dns = FakeDns::start(server);
    let (dir, rules) = setup(
        test,
        &[(
            "no name server",
            format!("connect(\"{server}:53\")"),
            protect("name server blocked"),
        )],
    );
    let open = dir.write("open.armr", &unrelated_rules());
    dir.write(
        "hosts",
        "127.0.0.1 localhost\n::1 localhost ip6-localhost\n",
    );
    dir.write(
        "resolv.conf",
        &format!("nameserver {server}\noptions timeout:1 attempts:1\n"),
    );
    dir.write("nsswitch.conf", "hosts: files dns\n");
    let lookup = |rules: &Path, tag: &str| {
        let log = dir.join(&format!("{tag}.log"));
        let mut command = with_private_etc(
            &dir.join("hosts"),
            &dir.join("resolv.conf"),
            &dir.join("nsswitch.conf"),
        );
        command
            .arg(armr_engine_command())
            .args(["run", "--engine", engine, "-r"])
            .arg(rules)
            .arg("-l")
            .arg(&log)
            .arg("--")
            .arg(program)
            .args(["resolve", "armr-name.test"]);
        let ran = run(&mut command, &dir.0, tag, TIMEOUT).with_log(&log);
        assert_eq!(ran.code(), Some(0), "{}", ran.context());
        ran
    };
    let ran = lookup(&rules, "refused");
    let answer = ANSWER.to_string();
    assert_ne!(ran.get("resolve"), answer, "{}", ran.context());
    assert_eq!(dns.queries(), Vec::<String>::new(), "{}", ran.context());
    let expected = event(
        name,
        ran.get("pid"),
        "no name server",
        "connect",
        "protect",
        "name server blocked",
        "remote",
        &server.to_string(),
        53,
    );
    let lines: Vec<String> = ran.log.lines().map(without_times).collect();
    assert!(
        !lines.is_empty() && lines.iter().all(|l| *l == expected),
        "every event is the refused connect to the name server:\n{expected}\n{}",
        ran.context()
    );

    let ran = lookup(&open, "allowed");
    ran.expect(&[("resolve", &answer)]);
    assert!(
        dns.queries().contains(&"udp armr-name.test A".to_string()),
        "{:?}\n{}",
        dns.queries(),
        ran.context()
    );
}

/// glibc's resolver sends its queries with libc's internal calls; under seccomp its connect to a
/// protected name server is refused like any other.
#[test]
fn glibc_resolver_to_a_protected_name_server_is_refused() {
    let program = c_program("escapes", &[]);
    let server = Ipv4Addr::new(127, 0, 53, 71);
    resolver_to_a_protected_name_server(&program, "escapes", "seccomp", server, "resolver-c");
}

/// Go's own resolver (`CGO_ENABLED=0`) and, with cgo, glibc's called from Go.
#[test]
fn go_resolvers_to_a_protected_name_server_are_refused() {
    for (prog, server) in [
        (Prog::Go, Ipv4Addr::new(127, 0, 53, 72)),
        (Prog::GoCgo, Ipv4Addr::new(127, 0, 53, 73)),
    ] {
        let test = format!("resolver-{}", prog.tag());
        resolver_to_a_protected_name_server(&prog.binary(), "gonet", "auto", server, &test);
    }
}

// =============================================================================================
// Time of check against time of use

#[test]
fn an_address_flipped_by_another_thread_never_reaches_the_protected_port() {
    address_flipped_by_another_thread("seccomp");
}

/// The preload engine too: it judges and makes the call with its own copy of the address.
#[test]
fn an_address_flipped_by_another_thread_never_gets_past_the_preload_engine() {
    address_flipped_by_another_thread("preload");
}

/// Datagrams too: a `sendto` destination and a `sendmsg` header's destination flipped by
/// another thread never reach the protected port, under either engine.
#[test]
fn a_datagram_destination_flipped_by_another_thread_never_reaches_the_protected_port() {
    for engine in ["preload", "seccomp"] {
        for call in ["sendto", "sendmsg"] {
            let protected = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let allowed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let (pp, ap) = (
                protected.local_addr().unwrap().port(),
                allowed.local_addr().unwrap().port(),
            );
            let ran = raced(
                engine,
                &format!("toctou-udp-{engine}-{call}"),
                format!("connect(\"127.0.0.1:{pp}\")"),
                "datagram blocked",
                "toctou",
                &["127.0.0.1", &ap.to_string(), &pp.to_string(), "20000", call],
            );
            let count = |key: &str| -> usize { ran.get(key).parse().unwrap() };
            assert!(
                count("ok") > 0 && count("refused") > 0 && count("other") == 0,
                "{engine} {call}: both destinations tried\n{}",
                ran.context()
            );
            protected.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 16];
            let mut arrived = 0;
            while protected.recv(&mut buf).is_ok() {
                arrived += 1;
            }
            assert_eq!(
                arrived,
                0,
                "{engine} {call}: datagrams reached the protected port\n{}",
                ran.context()
            );
        }
    }
}

fn address_flipped_by_another_thread(engine: &str) {
    let (protected, pp) = tcp_listener("127.0.0.1:0");
    let (allowed, ap) = tcp_listener("127.0.0.1:0");
    let (protected_count, stop_protected) = count_connections(protected);
    let (allowed_count, stop_allowed) = count_connections(allowed);
    let n = 20_000;
    let ran = raced(
        engine,
        &format!("toctou-{engine}"),
        format!("connect(\"127.0.0.1:{pp}\")"),
        "outgoing connection blocked",
        "toctou",
        &[
            "127.0.0.1",
            &ap.to_string(),
            &pp.to_string(),
            &n.to_string(),
        ],
    );
    let count = |key: &str| -> usize { ran.get(key).parse().unwrap() };
    let (ok, refused, other) = (count("ok"), count("refused"), count("other"));
    // The accepting threads catch up with the connections already made.
    let deadline = Instant::now() + Duration::from_secs(10);
    while allowed_count.load(Ordering::Relaxed) < ok && Instant::now() < deadline {
        sleep(Duration::from_millis(10));
    }
    sleep(Duration::from_millis(100));
    stop_protected.store(true, Ordering::Relaxed);
    stop_allowed.store(true, Ordering::Relaxed);
    assert_eq!(
        protected_count.load(Ordering::Relaxed),
        0,
        "connections reached the protected port\n{}",
        ran.context()
    );
    assert_eq!(ok + refused + other, n, "{}", ran.context());
    assert!(
        ok > 0 && refused > 0 && other == 0,
        "both destinations were tried, the allowed one reached, the protected one refused\n{}",
        ran.context()
    );
    assert_eq!(
        allowed_count.load(Ordering::Relaxed),
        ok,
        "{}",
        ran.context()
    );
    assert_eq!(
        ran.log.lines().count(),
        refused,
        "one event per refused connect\n{}",
        ran.context()
    );
}

/// Runs the racing `tests/programs/PROGRAM.c` (built with `-pthread`) with `args` under
/// `engine`, with one rule: `rule`, protected with `message`. `tag` names the run.
fn raced(
    engine: &str,
    tag: &str,
    rule: String,
    message: &str,
    program: &str,
    args: &[&str],
) -> Ran {
    let (dir, rules) = setup(tag, &[("raced", rule, protect(message))]);
    let program = c_program(program, &["-pthread"]);
    armr(engine, &dir, &rules, &[], &program, args, tag)
}

/// A header without a destination, given one by another thread while the program sends with
/// it: the kernel never sends to the protected port (the preload engine sends its own copy of
/// the header, read once; before, 306 of 20,000 datagrams arrived).
#[test]
fn a_destination_added_by_another_thread_never_reaches_the_protected_port() {
    for engine in ["preload", "seccomp"] {
        let protected = UdpSocket::bind("127.0.0.1:0").unwrap();
        let pp = protected.local_addr().unwrap().port();
        let ran = raced(
            engine,
            &format!("toctou-name-{engine}"),
            format!("connect(\"127.0.0.1:{pp}\")"),
            "datagram blocked",
            "toctou",
            &["127.0.0.1", "9", &pp.to_string(), "20000", "sendmsg-name"],
        );
        let count = |key: &str| -> usize { ran.get(key).parse().unwrap() };
        assert!(
            count("ok") == 0 && count("refused") > 0 && count("other") > 0,
            "{engine}: sends with and without a destination, none sent\n{}",
            ran.context()
        );
        protected.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 16];
        assert!(
            protected.recv(&mut buf).is_err(),
            "{engine}: a datagram reached the protected port\n{}",
            ran.context()
        );
    }
}

/// An `accept` whose address buffer another thread keeps filling with an allowed address: the
/// refused peer is still refused (the preload engine accepts into its own buffer; judged from
/// the program's, 1,794 of 2,000 refused peers were kept).
#[test]
fn a_peer_written_over_by_another_thread_is_still_refused() {
    for engine in ["preload", "seccomp"] {
        let ran = raced(
            engine,
            &format!("accept-race-{engine}"),
            "accept(\"127.0.0.2:0\")".to_string(),
            "peer refused",
            "accept_race",
            &["2000"],
        );
        assert_eq!(ran.get("sentinel"), "1", "{engine}\n{}", ran.context());
        assert_eq!(
            ran.get("escaped"),
            "0",
            "{engine}: refused peers kept\n{}",
            ran.context()
        );
        assert_eq!(
            ran.log.lines().count(),
            2000,
            "{engine}: one event per refused peer\n{}",
            ran.context()
        );
    }
}

/// A `recvmsg` or `recvmmsg` whose header another thread keeps pointing at another buffer: the
/// refused sender's datagrams are still discarded (the preload engine gives the kernel its own
/// copy of the header; with the program's, 1,470 and 1,736 of 2,000 arrived).
#[test]
fn a_sender_written_elsewhere_by_another_thread_is_still_refused() {
    for engine in ["preload", "seccomp"] {
        for call in ["recvmsg", "recvmmsg"] {
            let mut args = vec!["2000"];
            if call == "recvmmsg" {
                args.push(call);
            }
            let ran = raced(
                engine,
                &format!("recv-race-{engine}-{call}"),
                "accept(\"127.0.0.2:0\")".to_string(),
                "datagram refused",
                "recvmsg_race",
                &args,
            );
            assert_eq!(
                ran.get("sentinel"),
                "1",
                "{engine} {call}\n{}",
                ran.context()
            );
            assert_eq!(
                ran.get("escaped"),
                "0",
                "{engine} {call}: refused datagrams received\n{}",
                ran.context()
            );
            assert!(
                ran.log.contains("datagram refused"),
                "{engine} {call}: the refusal logged\n{}",
                ran.context()
            );
        }
    }
}

// =============================================================================================
// The other system-call ABIs and io_uring

#[test]
fn the_i386_and_x32_abis_and_io_uring_fail_with_enosys() {
    let (listener, port) = tcp_listener("127.0.0.1:0");
    let port = port.to_string();
    let program = c_program("oldabi", &[]);
    // Without armr each way works on this kernel (x32 is not built in: ENOSYS anyway).
    let dir = TempDir::new("seccomp", "oldabi");
    let ran = run(
        Command::new(&program).args(["127.0.0.1", &port]),
        &dir.0,
        "bare",
        TIMEOUT,
    );
    ran.expect(&[
        ("socketcall socket", "OK"),
        ("socketcall connect", "OK"),
        ("i386 connect", "OK"),
        ("x32 connect", "ENOSYS"),
        ("io_uring_setup", "OK"),
    ]);
    assert!(!untouched(&listener), "{}", ran.context());
    while !untouched(&listener) {}

    // Under the seccomp engine none reaches the socket calls, even to an address no rule
    // protects.
    let rules = dir.write("rules.armr", &unrelated_rules());
    let ran = armr(
        "seccomp",
        &dir,
        &rules,
        &[],
        &program,
        &["127.0.0.1", &port],
        "seccomp",
    );
    ran.expect(&[
        ("socketcall socket", "ENOSYS"),
        ("socketcall connect", "ENOSYS"),
        ("i386 connect", "ENOSYS"),
        ("x32 connect", "ENOSYS"),
        ("io_uring_setup", "ENOSYS"),
    ]);
    assert_untouched(&listener, &ran.context());
}

// =============================================================================================
// Servers under load

/// The rules of a server on 127.0.0.1:`port`: it may listen there only, connect nowhere, and
/// peers from 127.0.0.2 are refused.
fn server_rules(port: u16) -> Vec<(&'static str, String, String)> {
    vec![
        (
            "listen here",
            format!("bind(server: \"127.0.0.1:{port}\")"),
            "allow()".to_string(),
        ),
        (
            "no other listener",
            "bind(server: \"0.0.0.0:0\")".to_string(),
            protect("unexpected listener"),
        ),
        (
            "no egress",
            "connect(\"0.0.0.0:0\")".to_string(),
            protect("outgoing connection blocked"),
        ),
        (
            "not from .2",
            "accept(\"127.0.0.2:0\")".to_string(),
            protect("peer refused"),
        ),
    ]
}

/// Waits until 127.0.0.1:`port` accepts connections.
fn wait_listening(server: &mut Started, port: u16) {
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            panic!("nothing listens on {port}\n{}", server.context());
        }
        sleep(Duration::from_millis(20));
    }
}

/// wrk for two seconds on `url`, keep-alive or with `Connection: close`: every request answered
/// 2xx, no socket error; returns the request count.
fn load(dir: &TempDir, url: &str, close: bool, server: &mut Started) -> u64 {
    let mut wrk = Command::new("wrk");
    wrk.args(["-t2", "-c16", "-d2s"]);
    if close {
        wrk.args(["-H", "Connection: close"]);
    }
    wrk.arg(url);
    let tag = if close { "wrk-close" } else { "wrk-keepalive" };
    let ran = run(&mut wrk, &dir.0, tag, TIMEOUT);
    assert_eq!(ran.code(), Some(0), "{}", ran.context());
    let requests: u64 = ran
        .stdout
        .lines()
        .find_map(|l| {
            l.trim()
                .split_once(" requests in")
                .map(|(n, _)| n.to_string())
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count\n{}", ran.context()));
    assert!(requests > 100, "{requests} requests\n{}", ran.context());
    assert!(
        !ran.stdout.contains("Non-2xx") && !ran.stdout.contains("Socket errors"),
        "every request answered\n{}\n{}",
        ran.context(),
        server.context()
    );
    requests
}

/// `curl` `n` times, one process each: every answer is `body`.
fn curl(dir: &TempDir, url: &str, body: &str, n: usize, server: &mut Started) {
    for i in 0..n {
        let ran = run(
            Command::new("curl").args(["-sS", "--max-time", "10", url]),
            &dir.0,
            "curl",
            TIMEOUT,
        );
        assert_eq!(
            (ran.code(), ran.stdout.as_str()),
            (Some(0), body),
            "request {i}\n{}\n{}",
            ran.context(),
            server.context()
        );
    }
}

/// A peer from 127.0.0.2 is reset; the server goes on answering.
fn refused_peer_is_reset(port: u16, server: &mut Started) {
    let (mut refused, _) = connect_from(Ipv4Addr::new(127, 0, 0, 2), port);
    refused
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 64];
    match refused.read(&mut buf) {
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!(
            "the refused peer got {other:?}, not a reset\n{}",
            server.context()
        ),
    }
}

/// Serves under load, then SIGTERM to `armr run`: the server's clean exit status, nothing left
/// running, the refused peer logged.
fn serve_under_load(
    dir: &TempDir,
    mut server: Started,
    log: &Path,
    port: u16,
    body: &str,
    program: &str,
) {
    wait_listening(&mut server, port);
    let url = format!("http://127.0.0.1:{port}/");
    curl(dir, &url, body, 3, &mut server);
    refused_peer_is_reset(port, &mut server);
    load(dir, &url, false, &mut server);
    load(dir, &url, true, &mut server);
    // No worker stuck after the load: sequential requests are all answered.
    curl(dir, &url, body, 20, &mut server);
    server.signal(libc::SIGTERM);
    let (status, left) = server.finish(Duration::from_secs(30));
    assert_eq!(
        shell_status(status),
        0,
        "clean shutdown\n{}",
        server.context()
    );
    assert!(
        left.is_empty(),
        "processes left running: {left:?}\n{}",
        server.context()
    );
    let lines = support::events::log_lines(log);
    assert!(
        !lines.is_empty()
            && lines.iter().all(|l| {
                l.contains(&format!(" {program} "))
                    && l.contains("|not from .2|Execute Rule|High|")
                    && l.contains(" accept act=protect msg=peer refused remoteIpAddress=127.0.0.2 ")
            }),
        "the refused peer logged, nothing else:\n{}\n{}",
        lines.join("\n"),
        server.context()
    );
}

#[test]
fn nginx_under_load_with_the_seccomp_engine() {
    let port = free_port(LOCALHOST.into());
    let (dir, rules) = setup("nginx", &server_rules(port));
    let d = dir.0.display();
    let conf = dir.write(
        "nginx.conf",
        &format!(
            "worker_processes 2;\ndaemon off;\nmaster_process on;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\nhttp {{\n\
             access_log off;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\n\
             scgi_temp_path {d}/scgi;\nserver {{\nlisten 127.0.0.1:{port};\n\
             location / {{ return 200 \"hello from nginx\\n\"; }}\n}}\n}}\n"
        ),
    );
    let nginx = which("nginx");
    let log = dir.join("armr.log");
    let prefix = dir.0.display().to_string();
    let error_log = dir.join("error.log").display().to_string();
    let server = start(
        &mut armr_run(
            "seccomp",
            &rules,
            &log,
            &[],
            &nginx,
            &[
                "-p",
                &prefix,
                "-e",
                &error_log,
                "-c",
                conf.to_str().unwrap(),
            ],
        ),
        &dir.0,
        "nginx",
    );
    serve_under_load(&dir, server, &log, port, "hello from nginx\n", "nginx");
}

fn go_http_server(prog: Prog, engine: &str) {
    let port = free_port(LOCALHOST.into());
    let (dir, rules) = setup(
        &format!("gohttp-{}-{engine}", prog.tag()),
        &server_rules(port),
    );
    let log = dir.join("armr.log");
    let mut server = start(
        &mut armr_run(
            engine,
            &rules,
            &log,
            &[],
            &prog.binary(),
            &["http", "127.0.0.1", &port.to_string()],
        ),
        &dir.0,
        "gonet",
    );
    server.wait_line("listening: OK", TIMEOUT);
    serve_under_load(&dir, server, &log, port, "hello from go\n", "gonet");
}

#[test]
fn go_http_server_under_load_with_the_seccomp_engine() {
    go_http_server(Prog::Go, "seccomp");
}

#[test]
fn go_cgo_http_server_under_load_with_the_auto_engine() {
    go_http_server(Prog::GoCgo, "auto");
}

/// `name` found on PATH.
fn which(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .chain(["/usr/sbin", "/sbin"].map(|d| Path::new(d).join(name)))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| panic!("{name} is missing: scripts/install-test-deps installs it"))
}
