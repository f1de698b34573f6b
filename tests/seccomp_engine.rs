//! The seccomp engine end to end, with a statically linked C program (`tests/engine_programs/
//! net.c`, built with `cc -static`), which `LD_PRELOAD` cannot reach: `armr run --engine seccomp`
//! (and `auto`, which picks it for a static program) refuses and allows its socket calls by the
//! rules, and logs the same event lines as the preload engine.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use support::{TempDir, armr_command, manifest, text, without_armr_env};

/// `net` built once, statically.
fn net() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        // Named `net`: an event names the program by its name (`/proc/PID/comm`).
        let dir = std::env::temp_dir().join(format!("armr-seccomp-net-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("net");
        let status = Command::new("cc")
            .args(["-static", "-O1", "-o"])
            .arg(&out)
            .arg(manifest().join("tests/engine_programs/net.c"))
            .stderr(Stdio::null())
            .status()
            .expect("cc");
        assert!(
            status.success(),
            "cc -static net.c (libc6-dev installs libc.a)"
        );
        out
    })
}

/// `armr run [ENGINE] -r RULES -l LOG -- net ARGS`.
fn armr(engine: Option<&str>, rules: &Path, log: &Path, extra: &[&str], args: &[&str]) -> Output {
    let mut command = Command::new(armr_command());
    without_armr_env(&mut command).arg("run");
    if let Some(engine) = engine {
        command.args(["--engine", engine]);
    }
    command
        .arg("-r")
        .arg(rules)
        .arg("-l")
        .arg(log)
        .args(extra)
        .arg("--")
        .arg(net())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("armr run")
}

/// The rules: connect to `refused` protected (with a message), listen on `no_listen` protected,
/// peers from 127.0.0.1 refused at accept, datagrams to `refused` protected.
fn rules(dir: &TempDir, refused: u16, no_listen: u16) -> PathBuf {
    dir.write(
        "rules.armr",
        &format!(
            "app(\"seccomp\"):\n    requires(version: ARMR/2.11)\n\
             \x20   socket(\"no {refused}\"):\n        connect(\"127.0.0.1:{refused}\")\n\
             \x20       protect(message: \"outgoing connection blocked\", severity: High)\n    endsocket\n\
             \x20   socket(\"no listener {no_listen}\"):\n        bind(server: \"0.0.0.0:{no_listen}\")\n\
             \x20       protect(message: \"listener blocked\", severity: High)\n    endsocket\n\
             \x20   socket(\"not from 127.0.0.1\"):\n        accept(\"127.0.0.1:0\")\n\
             \x20       protect(message: \"peer blocked\", severity: High)\n    endsocket\n\
             endapp\n"
        ),
    )
}

fn pid_of(stdout: &str) -> u32 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("pid "))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid line in {stdout:?}"))
}

/// The event line of the log, its times (which vary) replaced by `TIME` and `RT`.
fn events(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let mut fields: Vec<&str> = line.splitn(3, ' ').collect();
            fields[1] = "TIME";
            let line = fields.join(" ");
            let start = line.find("rt=").unwrap() + 3;
            let end = start + line[start..].find(" dvchost=").unwrap();
            format!("{}RT{}", &line[..start], &line[end..])
        })
        .collect()
}

fn hostname() -> String {
    let out = Command::new("hostname").output().expect("hostname");
    text(&out.stdout).trim().to_string()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_static_program_s_connect_is_refused_and_logged_an_allowed_one_works() {
    let dir = TempDir::new("seccomp", "connect");
    let protected = TcpListener::bind("127.0.0.1:0").unwrap();
    protected.set_nonblocking(true).unwrap();
    let port = protected.local_addr().unwrap().port();
    let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
    let allowed_port = allowed.local_addr().unwrap().port();
    let rules = rules(&dir, port, free_port());
    let log = dir.join("events.log");

    for engine in [Some("seccomp"), None] {
        let _ = std::fs::remove_file(&log);
        let out = armr(
            engine,
            &rules,
            &log,
            &[],
            &["connect", "127.0.0.1", &port.to_string()],
        );
        let stdout = text(&out.stdout);
        assert!(
            stdout.ends_with("connect: ECONNREFUSED\n"),
            "{engine:?}: {stdout} {}",
            text(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "the program's own status");
        // Refused by armr: the listener never saw a connection.
        assert!(
            protected.accept().is_err(),
            "no connection reached the port"
        );
        let pid = pid_of(&stdout);
        let host = hostname();
        assert_eq!(
            events(&log),
            [format!(
                "<10>1 TIME {host} net {pid} - - CEF:0|ARMR:seccomp|seccomp|2.11|no {port}|Execute \
                 Rule|High|rt=RT dvchost={host} procid={pid} appVersion=1 ruleType=socket \
                 securityFeature=socket connect act=protect msg=outgoing connection blocked \
                 remoteIpAddress=127.0.0.1 remotePort={port}"
            )],
            "{engine:?}"
        );
    }

    // Allowed: connected, and the server's reply read.
    let server = std::thread::spawn(move || {
        let (mut c, _) = allowed.accept().unwrap();
        c.write_all(b"yo").unwrap();
    });
    let out = armr(
        Some("seccomp"),
        &rules,
        &log,
        &[],
        &["connect", "127.0.0.1", &allowed_port.to_string()],
    );
    server.join().unwrap();
    assert!(
        text(&out.stdout).ends_with("connected\nread yo\n"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn the_preload_engine_still_refuses_a_static_program() {
    let dir = TempDir::new("seccomp", "preload");
    let rules = rules(&dir, free_port(), free_port());
    let log = dir.join("events.log");
    let out = armr(
        Some("preload"),
        &rules,
        &log,
        &[],
        &["udp-bind", "127.0.0.1", "0"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).is_empty(), "it did not run");
    assert!(
        text(&out.stderr).contains("is statically linked"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_ipv4_mapped_connect_and_a_non_blocking_one_are_judged() {
    let dir = TempDir::new("seccomp", "mapped");
    let protected = TcpListener::bind("127.0.0.1:0").unwrap();
    protected.set_nonblocking(true).unwrap();
    let port = protected.local_addr().unwrap().port();
    let rules = rules(&dir, port, free_port());
    let log = dir.join("events.log");
    let out = armr(
        Some("seccomp"),
        &rules,
        &log,
        &[],
        &["connect", "::ffff:127.0.0.1", &port.to_string()],
    );
    assert!(
        text(&out.stdout).ends_with("connect: ECONNREFUSED\n"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        events(&log)[0].ends_with(&format!(
            "remoteIpAddress=::ffff:127.0.0.1 remotePort={port}"
        )),
        "{:?}",
        events(&log)
    );
    // Non-blocking: refused at once; allowed, EINPROGRESS then connected.
    let out = armr(
        Some("seccomp"),
        &rules,
        &log,
        &[],
        &["connect-nb", "127.0.0.1", &port.to_string()],
    );
    assert!(
        text(&out.stdout).ends_with("connect: ECONNREFUSED\n"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        protected.accept().is_err(),
        "no connection reached the port"
    );
    let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
    let allowed_port = allowed.local_addr().unwrap().port().to_string();
    let out = armr(
        Some("seccomp"),
        &rules,
        &log,
        &[],
        &["connect-nb", "127.0.0.1", &allowed_port],
    );
    assert!(
        text(&out.stdout).ends_with("connect: EINPROGRESS\noutcome: 0\n"),
        "{}",
        text(&out.stdout)
    );
    assert!(allowed.accept().is_ok());
}

#[test]
fn detect_only_lets_the_connect_through_and_logs_it_as_detect() {
    let dir = TempDir::new("seccomp", "detect");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let rules = rules(&dir, port, free_port());
    let log = dir.join("events.log");
    let server = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.write_all(b"ok").unwrap();
    });
    let out = armr(
        Some("seccomp"),
        &rules,
        &log,
        &["--detect-only"],
        &["connect", "127.0.0.1", &port.to_string()],
    );
    server.join().unwrap();
    assert!(
        text(&out.stdout).ends_with("connected\nread ok\n"),
        "{}",
        text(&out.stdout)
    );
    let events = events(&log);
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].contains(" act=detect msg=outgoing connection blocked "),
        "{events:?}"
    );
}

#[test]
fn a_refused_listener_fails_with_eacces() {
    let dir = TempDir::new("seccomp", "listen");
    let port = free_port();
    let rules = rules(&dir, free_port(), port);
    let log = dir.join("events.log");
    let out = armr(
        Some("seccomp"),
        &rules,
        &log,
        &[],
        &["listen", "127.0.0.1", &port.to_string()],
    );
    assert!(
        text(&out.stdout).ends_with("listen: EACCES\n"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        events(&log)[0].ends_with(&format!(
            "securityFeature=socket serverbind act=protect msg=listener blocked \
             localIpAddress=127.0.0.1 localPort={port}"
        )),
        "{:?}",
        events(&log)
    );
    // TCP: nothing listens on the port.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn a_refused_peer_is_reset_and_the_next_one_accepted() {
    let dir = TempDir::new("seccomp", "accept");
    let rules = rules(&dir, free_port(), free_port());
    let log = dir.join("events.log");
    let mut command = Command::new(armr_command());
    without_armr_env(&mut command)
        .args(["run", "--engine", "seccomp", "-r"])
        .arg(&rules)
        .arg("-l")
        .arg(&log)
        .arg("--")
        .arg(net())
        .args(["serve", "0.0.0.0", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    // "pid N\nlistening PORT\n"
    let mut seen = String::new();
    let mut byte = [0u8; 1];
    while !seen.contains("listening ") || !seen.ends_with('\n') {
        assert_eq!(stdout.read(&mut byte).unwrap(), 1, "{seen}");
        seen.push(byte[0] as char);
    }
    let port: u16 = seen.lines().last().unwrap()["listening ".len()..]
        .parse()
        .unwrap();
    // From 127.0.0.1: refused, reset.
    let mut refused = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 8];
    let got = refused.read(&mut buf);
    assert!(
        matches!(&got, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
            || matches!(got, Ok(0)),
        "{got:?}"
    );
    // From 127.0.0.2: accepted, served.
    let python = support::python();
    let out = Command::new(python)
        .arg(manifest().join("tests/engine_programs/client_from.py"))
        .args(["127.0.0.2", &port.to_string()])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "hi\n", "{}", text(&out.stderr));
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "accepted 127.0.0.2 len 16\n");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let events = events(&log);
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].contains(" act=protect msg=peer blocked remoteIpAddress=127.0.0.1 "),
        "{events:?}"
    );
}

#[test]
fn a_datagram_to_a_refused_destination_fails_with_eacces_an_allowed_one_is_sent() {
    let dir = TempDir::new("seccomp", "udp");
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    receiver
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let port = receiver.local_addr().unwrap().port();
    let allowed = UdpSocket::bind("127.0.0.1:0").unwrap();
    allowed
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let rules = rules(&dir, port, free_port());
    let log = dir.join("events.log");
    let out = armr(
        Some("seccomp"),
        &rules,
        &log,
        &[],
        &["udp-send", "127.0.0.1", &port.to_string()],
    );
    assert!(
        text(&out.stdout).ends_with("sendto: EACCES\n"),
        "{}",
        text(&out.stdout)
    );
    receiver.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 8];
    assert!(receiver.recv(&mut buf).is_err(), "nothing was sent");
    let allowed_port = allowed.local_addr().unwrap().port().to_string();
    let out = armr(
        Some("seccomp"),
        &rules,
        &log,
        &[],
        &["udp-send", "127.0.0.1", &allowed_port],
    );
    assert!(
        text(&out.stdout).ends_with("sent 4\n"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(allowed.recv(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"ping");
}

#[test]
fn sendmsg_and_sendmmsg_are_judged_per_destination() {
    let dir = TempDir::new("seccomp", "sendmmsg");
    // Two receivers on consecutive ports: the first refused, the second allowed.
    let (refused, allowed) = loop {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = a.local_addr().unwrap().port();
        if let Ok(b) = UdpSocket::bind(("127.0.0.1", port + 1)) {
            break (a, b);
        }
    };
    for socket in [&refused, &allowed] {
        socket.set_nonblocking(true).unwrap();
    }
    let port = refused.local_addr().unwrap().port();
    let rules = rules(&dir, port, free_port());
    let log = dir.join("events.log");
    let mut buf = [0u8; 16];
    let out = armr(
        Some("seccomp"),
        &rules,
        &log,
        &[],
        &["udp-sendmsg", "127.0.0.1", &port.to_string()],
    );
    assert!(
        text(&out.stdout).ends_with("sendmsg: EACCES\n"),
        "{}",
        text(&out.stdout)
    );
    let next = (port + 1).to_string();
    let out = armr(
        Some("seccomp"),
        &rules,
        &log,
        &[],
        &["udp-sendmsg", "127.0.0.1", &next],
    );
    assert!(
        text(&out.stdout).ends_with("sent 4\n"),
        "{}",
        text(&out.stdout)
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(allowed.recv(&mut buf).unwrap(), 4, "both buffers, gathered");
    assert_eq!(&buf[..4], b"ping");
    // sendmmsg: the message before the refused one is sent, and its msg_len written back.
    let out = armr(
        Some("seccomp"),
        &rules,
        &log,
        &[],
        &["udp-sendmmsg", "127.0.0.1", &port.to_string()],
    );
    assert!(
        text(&out.stdout).ends_with("sent 1 lens 3 99 99\n"),
        "{}",
        text(&out.stdout)
    );
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(allowed.recv(&mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"one");
    assert!(
        allowed.recv(&mut buf).is_err(),
        "nothing after the refused message"
    );
    assert!(
        refused.recv(&mut buf).is_err(),
        "nothing reached the refused port"
    );
    assert_eq!(events(&log).len(), 2, "{:?}", events(&log));
}

/// Sends `bad0..2` from 127.0.0.2 (refused by the rule below) and `good0..2` from 127.0.0.3,
/// interleaved, to 127.0.0.1:`port`.
fn send_interleaved(port: u16) {
    let bad = UdpSocket::bind("127.0.0.2:0").unwrap();
    let good = UdpSocket::bind("127.0.0.3:0").unwrap();
    for i in 0..3 {
        bad.send_to(format!("bad{i}").as_bytes(), ("127.0.0.1", port))
            .unwrap();
        good.send_to(format!("good{i}").as_bytes(), ("127.0.0.1", port))
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
}

/// Waits for the line `ready` on a child's standard output.
fn wait_ready(stdout: &mut impl Read) {
    let mut seen = String::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with("ready\n") {
        assert_eq!(stdout.read(&mut byte).unwrap(), 1, "{seen}");
        seen.push(byte[0] as char);
    }
}

#[test]
fn datagrams_from_a_refused_sender_never_reach_the_program() {
    let dir = TempDir::new("seccomp", "receive");
    let rules = dir.write(
        "rules.armr",
        "app(\"seccomp\"):\n    requires(version: ARMR/2.11)\n    socket(\"not from .2\"):\n        \
         accept(\"127.0.0.2:0\")\n        protect(message: \"datagram blocked\", severity: High)\n    \
         endsocket\nendapp\n",
    );
    let log = dir.join("events.log");
    let run = |args: &[&str]| {
        let mut command = Command::new(armr_command());
        without_armr_env(&mut command)
            .args(["run", "--engine", "seccomp", "-r"])
            .arg(&rules)
            .arg("-l")
            .arg(&log)
            .arg("--")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        command.spawn().unwrap()
    };
    // recvmmsg, in a static program.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let net = net().to_str().unwrap().to_string();
    let mut child = run(&[&net, "udp-recvmmsg", "127.0.0.1", &port.to_string()]);
    let mut stdout = child.stdout.take().unwrap();
    wait_ready(&mut stdout);
    send_interleaved(port);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "got good0\ngot good1\ngot good2\n");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    // recvfrom, recvmsg, recv in Python: each gets the next allowed datagram; then a timeout.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let python = support::python().to_str().unwrap().to_string();
    let script = manifest().join("tests/engine_programs/recv.py");
    let mut child = run(&[&python, script.to_str().unwrap(), &port.to_string()]);
    let mut stdout = child.stdout.take().unwrap();
    wait_ready(&mut stdout);
    send_interleaved(port);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "good0\ngood1\ngood2\ntimed out\n");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    // Counted: the first refused datagram of the rule logged at once, with cnt=1.
    let events = events(&log);
    assert!(!events.is_empty());
    assert!(
        events[0].contains(" act=protect msg=datagram blocked cnt=1 remoteIpAddress=127.0.0.2 "),
        "{events:?}"
    );
}

#[test]
fn an_inherited_listener_is_judged_at_its_first_accept_and_its_queue_reset() {
    use std::os::fd::AsRawFd;
    let dir = TempDir::new("seccomp", "inherited");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let rules = rules(&dir, free_port(), port);
    let log = dir.join("events.log");
    // Queued before the program starts; the listener passed to it across exec.
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let fd = listener.as_raw_fd();
    // SAFETY: clears close-on-exec on a descriptor this test owns.
    unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    let mut command = Command::new(armr_command());
    without_armr_env(&mut command)
        .args(["run", "--engine", "seccomp", "-r"])
        .arg(&rules)
        .arg("-l")
        .arg(&log)
        .arg("--")
        .arg(support::python())
        .arg(manifest().join("tests/engine_programs/accept_fd.py"))
        .arg(fd.to_string())
        .stdin(Stdio::null());
    let out = command.output().unwrap();
    // SAFETY: as above (other tests' programs, started meanwhile, inherit it until then).
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    assert_eq!(
        text(&out.stdout),
        "accept: Permission denied\n",
        "{}",
        text(&out.stderr)
    );
    client
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 4];
    let got = client.read(&mut buf);
    assert!(
        matches!(&got, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "the queued client is reset, not left hanging: {got:?}"
    );
    let events = events(&log);
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].contains(&format!(
            "serverbind act=protect msg=listener blocked localIpAddress=127.0.0.1 localPort={port}"
        )),
        "{events:?}"
    );
}

/// `armr run --engine seccomp -- waiter ARGS`, and its first line: (child, pid, port).
fn waiter(
    dir: &TempDir,
    args: &[&str],
) -> (std::process::Child, std::process::ChildStdout, i32, u16) {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let program = BUILT.get_or_init(|| {
        let out = net().with_file_name("waiter");
        let status = Command::new("cc")
            .args(["-static", "-O1", "-o"])
            .arg(&out)
            .arg(manifest().join("tests/engine_programs/waiter.c"))
            .status()
            .expect("cc");
        assert!(status.success());
        out
    });
    // No accept rule: the test's own connection from 127.0.0.1 is let in.
    let rules = dir.write(
        "waiter.armr",
        &format!(
            "app(\"seccomp\"):\n    requires(version: ARMR/2.11)\n    socket(\"no {0}\"):\n        \
             connect(\"127.0.0.1:{0}\")\n        protect(message: \"m\", severity: High)\n    \
             endsocket\nendapp\n",
            free_port()
        ),
    );
    let mut command = Command::new(armr_command());
    without_armr_env(&mut command)
        .args(["run", "--engine", "seccomp", "-r"])
        .arg(&rules)
        .arg("--")
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    let mut byte = [0u8; 1];
    while !line.ends_with('\n') {
        assert_eq!(stdout.read(&mut byte).unwrap(), 1, "{line}");
        line.push(byte[0] as char);
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    (
        child,
        stdout,
        words[1].parse().unwrap(),
        words[3].parse().unwrap(),
    )
}

fn kill(pid: i32, signal: i32) {
    // SAFETY: plain kill of a process this test started.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
}

#[test]
fn a_signal_interrupts_a_blocking_accept_as_the_kernel_would() {
    let dir = TempDir::new("seccomp", "signals");
    // Without SA_RESTART: the handler runs and accept fails with EINTR.
    let (mut child, mut stdout, pid, _) = waiter(&dir, &[]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    kill(pid, libc::SIGUSR1);
    let mut line = [0u8; 64];
    let n = stdout.read(&mut line).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&line[..n]),
        "accept -1 errno EINTR signal 10\n"
    );
    // SIGTERM to armr run is forwarded; the program exits 7 and armr run with it. Sent once the
    // program waits in accept again: its write of the line above wakes this reader before the
    // write returns, and a signal taken on that return ends the program before its next line.
    std::thread::sleep(std::time::Duration::from_millis(200));
    kill(child.id() as i32, libc::SIGTERM);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "accept -1 errno EINTR signal 15\n");
    assert_eq!(child.wait().unwrap().code(), Some(7));

    // With SA_RESTART: the handler runs and accept goes on waiting, then takes the connection.
    let (mut child, mut stdout, pid, port) = waiter(&dir, &["restart"]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    kill(pid, libc::SIGUSR1);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "accept 0 errno - signal 10\n");
    assert_eq!(child.wait().unwrap().code(), Some(0));

    // Killed by a signal: armr run's status is 128 + N, as a shell's.
    let (mut child, _stdout, pid, _) = waiter(&dir, &[]);
    kill(pid, libc::SIGKILL);
    assert_eq!(child.wait().unwrap().code(), Some(128 + libc::SIGKILL));
}

/// Calls that block never hold up the others: a (dynamic) program with six threads blocked in
/// `accept` at once, made by the supervisor on its behalf, connects to each listener from its
/// main thread; every connect and every accept completes, twice (the second time after a
/// pause, with the supervisor's extra threads parked), and a protected connect made after them
/// is still refused. (The supervisor's receiving threads make the calls they receive:
/// each makes sure another waits before a call that may block.)
#[test]
fn blocking_accepts_in_six_threads_never_stall_the_other_calls() {
    let dir = TempDir::new("seccomp", "no-stall");
    let refused = free_port();
    let rules = dir.write(
        "rules.armr",
        &format!(
            "app(\"seccomp\"):\n    requires(version: ARMR/2.11)\n    socket(\"no {refused}\"):\n        \
             connect(\"127.0.0.1:{refused}\")\n        protect(message: \"m\", severity: High)\n    \
             endsocket\nendapp\n"
        ),
    );
    let program = format!(
        "import errno, socket, threading, time\n\
         for round in range(2):\n\
         \x20   listeners, threads, accepted = [], [], []\n\
         \x20   for _ in range(6):\n\
         \x20       l = socket.socket()\n\
         \x20       l.bind(('127.0.0.1', 0))\n\
         \x20       l.listen(1)\n\
         \x20       listeners.append(l)\n\
         \x20       t = threading.Thread(target=lambda l=l: accepted.append(l.accept()[0]))\n\
         \x20       t.start()\n\
         \x20       threads.append(t)\n\
         \x20   time.sleep(0.5)\n\
         \x20   clients = [socket.create_connection(l.getsockname()) for l in listeners]\n\
         \x20   for t in threads:\n\
         \x20       t.join(10)\n\
         \x20   print('accepted', len(accepted), flush=True)\n\
         \x20   time.sleep(0.2)\n\
         try:\n\
         \x20   socket.create_connection(('127.0.0.1', {refused}))\n\
         except OSError as e:\n\
         \x20   print('protected', errno.errorcode[e.errno], flush=True)\n"
    );
    let mut command = Command::new("timeout");
    command.arg("30").arg(armr_command());
    without_armr_env(&mut command)
        .args(["run", "--engine", "seccomp", "-r"])
        .arg(&rules)
        .arg("-l")
        .arg(dir.path("log"))
        .args(["--", "python3", "-c", &program])
        .stdin(Stdio::null());
    let out = command.output().expect("armr run");
    assert_eq!(
        text(&out.stdout),
        "accepted 6\naccepted 6\nprotected ECONNREFUSED\n",
        "{}",
        text(&out.stderr)
    );
    assert!(out.status.success(), "{out:?}");
}

/// `armr run --engine seccomp -r RULES -l LOG -- python3 -c PROGRAM`, at most 60 s.
fn python_under_seccomp(dir: &TempDir, rules: &Path, program: &str) -> Output {
    let mut command = Command::new("timeout");
    command.arg("60").arg(armr_command());
    without_armr_env(&mut command)
        .args(["run", "--engine", "seccomp", "-r"])
        .arg(rules)
        .arg("-l")
        .arg(dir.path("log"))
        .args(["--", "python3", "-c", program])
        .stdin(Stdio::null())
        .output()
        .expect("armr run")
}

/// Connects and datagrams to `refused` protected.
fn refused_rules(dir: &TempDir, refused: u16) -> PathBuf {
    dir.write(
        "rules.armr",
        &format!(
            "app(\"seccomp\"):\n    requires(version: ARMR/2.11)\n    socket(\"no {refused}\"):\n        \
             connect(\"127.0.0.1:{refused}\")\n        protect(message: \"m\", severity: High)\n    \
             endsocket\nendapp\n"
        ),
    )
}

/// Python's `attempt(f)`: the errno name of what `f` raised, or `ok`.
const ATTEMPT: &str = "import errno, os, socket, sys\n\
def attempt(f):\n\
\x20   try:\n\
\x20       f()\n\
\x20       return 'ok'\n\
\x20   except OSError as e:\n\
\x20       return errno.errorcode[e.errno]\n";

#[test]
fn a_descriptor_number_reused_or_dup2_d_over_or_forked_is_judged_as_the_socket_it_names_now() {
    // The supervisor takes the program's socket afresh for every call (pidfd_getfd): whatever
    // it judged or kept for an earlier call on the same number never decides a later one.
    let dir = TempDir::new("seccomp", "fd-reuse");
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let refused = server.local_addr().unwrap().port();
    let sink = UdpSocket::bind(("127.0.0.1", refused)).unwrap();
    let allowed = TcpListener::bind("127.0.0.1:0").unwrap();
    let allowed = allowed.local_addr().unwrap().port();
    let rules = refused_rules(&dir, refused);
    let unix = dir.path("unix.sock");
    let program = format!(
        "{ATTEMPT}\
         R, A, U = ('127.0.0.1', {refused}), ('127.0.0.1', {allowed}), '{unix}'\n\
         server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
         server.bind(U)\n\
         t = socket.socket()\n\
         n = t.fileno()\n\
         print('tcp', attempt(lambda: t.connect(R)), flush=True)\n\
         t.close()\n\
         u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         print('udp', u.fileno() == n, attempt(lambda: u.sendto(b'x', R)), flush=True)\n\
         u.close()\n\
         x = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n\
         print('unix', x.fileno() == n, attempt(lambda: x.sendto(b'x', U)), flush=True)\n\
         fd = x.detach()\n\
         t2 = socket.socket()\n\
         os.dup2(t2.fileno(), fd)\n\
         d = socket.socket(fileno=fd)\n\
         print('dup2', attempt(lambda: d.connect(R)), attempt(lambda: d.connect(A)), flush=True)\n\
         d.close()\n\
         p = socket.socket()\n\
         pid = os.fork()\n\
         if pid == 0:\n\
         \x20   c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         \x20   os.dup2(c.fileno(), n)\n\
         \x20   cu = socket.socket(fileno=n)\n\
         \x20   print('child udp', attempt(lambda: cu.sendto(b'x', R)), flush=True)\n\
         \x20   os._exit(0)\n\
         os.waitpid(pid, 0)\n\
         print('parent tcp', p.fileno() == n, attempt(lambda: p.connect(R)), flush=True)\n\
         e = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         os.set_inheritable(e.fileno(), True)\n\
         after = \"import socket, errno\\ns = socket.socket(fileno=%d)\\n\
         try:\\n    s.sendto(b'x', ('127.0.0.1', {refused}))\\n    print('exec udp ok')\\n\
         except OSError as x:\\n    print('exec udp', errno.errorcode[x.errno])\\n\" % e.fileno()\n\
         sys.stdout.flush()\n\
         os.execv(sys.executable, [sys.executable, '-c', after])\n",
        unix = unix.display()
    );
    let out = python_under_seccomp(&dir, &rules, &program);
    assert_eq!(
        text(&out.stdout),
        "tcp ECONNREFUSED\nudp True EACCES\nunix True ok\ndup2 ECONNREFUSED ok\n\
         child udp EACCES\nparent tcp True ECONNREFUSED\nexec udp EACCES\n",
        "{}",
        text(&out.stderr)
    );
    drop((server, sink));
}

#[test]
fn short_lived_threads_leave_the_supervisor_s_descriptors_bounded() {
    // Each receiving thread keeps the pidfds of the threads that made calls: 1,000 threads
    // that each send one datagram and end must not leave 1,000 pidfds open in the supervisor.
    let dir = TempDir::new("seccomp", "fd-bound");
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sink.local_addr().unwrap().port();
    let rules = refused_rules(&dir, free_port());
    let program = format!(
        "import os, socket, threading\n\
         u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         def send():\n\
         \x20   u.sendto(b'x', ('127.0.0.1', {port}))\n\
         for _ in range(1000):\n\
         \x20   t = threading.Thread(target=send)\n\
         \x20   t.start()\n\
         \x20   t.join()\n\
         print('open', len(os.listdir('/proc/%d/fd' % os.getppid())), flush=True)\n"
    );
    let out = python_under_seccomp(&dir, &rules, &program);
    let open: usize = text(&out.stdout)
        .trim()
        .strip_prefix("open ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(open < 300, "the supervisor holds {open} descriptors");
    drop(sink);
}

#[test]
fn a_call_that_blocks_with_no_other_receiver_waiting_holds_the_others_briefly() {
    // A call on a blocking socket is made without first making sure another thread waits for
    // calls (most return at once); when it lasts, the watcher starts one within milliseconds.
    let dir = TempDir::new("seccomp", "unspared");
    let refused = free_port();
    let rules = refused_rules(&dir, refused);
    let program = format!(
        "{ATTEMPT}\
         import threading, time\n\
         l = socket.socket()\n\
         l.bind(('127.0.0.1', 0))\n\
         l.listen(1)\n\
         time.sleep(0.2)\n\
         threading.Thread(target=l.accept, daemon=True).start()\n\
         time.sleep(0.2)\n\
         for _ in range(3):\n\
         \x20   start = time.monotonic()\n\
         \x20   r = attempt(lambda: socket.socket().connect(('127.0.0.1', {refused})))\n\
         \x20   print(r, 'at once' if time.monotonic() - start < 0.5 else 'late', flush=True)\n"
    );
    let out = python_under_seccomp(&dir, &rules, &program);
    assert_eq!(
        text(&out.stdout),
        "ECONNREFUSED at once\nECONNREFUSED at once\nECONNREFUSED at once\n",
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_blocking_stream_sendto_that_fills_the_buffer_sends_everything() {
    // A sendto with an address is first tried without waiting, before the socket's type is
    // asked: on a stream socket whose buffer fills, part is sent at once and the rest as a
    // blocking send would, each call returning its whole count.
    let dir = TempDir::new("seccomp", "stream-sendto");
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let reader = std::thread::spawn(move || {
        let (mut conn, _) = server.accept().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        let mut all = Vec::new();
        conn.read_to_end(&mut all).unwrap();
        all.len()
    });
    let rules = refused_rules(&dir, free_port());
    let program = format!(
        "import socket\n\
         A = ('127.0.0.1', {port})\n\
         s = socket.create_connection(A)\n\
         short = [n for n in (s.sendto(b'x' * 4000, A) for _ in range(2000)) if n != 4000]\n\
         s.close()\n\
         print('short', len(short), flush=True)\n"
    );
    let out = python_under_seccomp(&dir, &rules, &program);
    assert_eq!(text(&out.stdout), "short 0\n", "{}", text(&out.stderr));
    assert_eq!(reader.join().unwrap(), 8_000_000);
}
