//! The real netcat (`nc`, netcat-openbsd at /usr/bin/nc) under armr, as a user runs it: started by
//! `scripts/armr-run` (and once with a plain `LD_PRELOAD` environment), with rules written to a
//! temporary directory and events logged to a `file:` log there (or to stderr). Each test asserts
//! what a user sees: nc's exit status and messages, what a server received, and every field of
//! each event line.
//!
//! Needs `cargo build --release` first (`target/release/libarmr.so` and `target/release/armr`),
//! as `make test` does, and netcat-openbsd (`make test` installs it). Everything stays on
//! 127.0.0.0/8 and ::1. Every port is free and unique per test; every wait has a deadline, and
//! every process started here is killed when its test ends, passed or failed.

use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant};

mod support;
use support::events::{EventLine, log_lines};
use support::net::{free_port, hostname};
use support::rules::{app, rule};
use support::{TempDir, armr_command, manifest, text, without_armr_env};

const NC: &str = "/usr/bin/nc";
/// The longest any single wait may take: a process to exit, a port to listen, a line to appear.
const DEADLINE: Duration = Duration::from_secs(10);
const TICK: Duration = Duration::from_millis(10);

// =============================================================================================
// The build, nc, temporary directories and ports

/// The armr build (the library and the command), built and newer than its sources.
fn library() -> PathBuf {
    armr_command();
    support::library()
}

/// Checks, once, that the real OpenBSD netcat is installed. Never skips: a missing nc fails.
fn require_nc() {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        let hint = "these tests run the real netcat (package netcat-openbsd); `make test` installs it \
                    (scripts/install-test-deps), or install it with `apt-get install netcat-openbsd`";
        assert!(Path::new(NC).exists(), "{NC} is missing: {hint}");
        let out = Command::new(NC)
            .arg("-h")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {NC} ({e}): {hint}"));
        let help = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(help.contains("OpenBSD netcat"), "{NC} is not OpenBSD netcat ({hint}); `nc -h` says:\n{help}");
    });
}

fn localhost() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

/// Polls `f` until it gives a value, failing after DEADLINE with `what`.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        sleep(TICK);
    }
}

// =============================================================================================
// Rules files

// =============================================================================================
// Processes

/// How nc is started.
enum Launch<'a> {
    /// `scripts/armr-run -r RULES -l file:LOG [--detect-only] -- /usr/bin/nc ARGS`.
    ArmrRun {
        rules: &'a Path,
        log: &'a Path,
        detect_only: bool,
    },
    /// `/usr/bin/nc ARGS` with exactly these environment variables set (armr's removed otherwise).
    Env(&'a [(&'a str, String)]),
    /// `/usr/bin/nc ARGS` without armr.
    Plain,
}

/// A started process whose stdout and stderr go to files. Killed when dropped.
struct Proc {
    name: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    status: Option<ExitStatus>,
}

/// Starts nc. `stdin`: the bytes nc reads (then end of file), or `None` for /dev/null.
fn nc(dir: &TempDir, name: &str, launch: Launch<'_>, args: &[&str], stdin: Option<&str>) -> Proc {
    require_nc();
    let lib = library();
    let mut command = match launch {
        Launch::ArmrRun {
            rules,
            log,
            detect_only,
        } => {
            let mut command = Command::new(manifest().join("scripts/armr-run"));
            command
                // armr-run's private directory (armr.env beside a link to the library) goes in
                // the test's directory, not the user's.
                .env("XDG_RUNTIME_DIR", &dir.0)
                .arg("-r")
                .arg(rules)
                .arg("-l")
                .arg(format!("file:{}", log.display()));
            if detect_only {
                command.arg("--detect-only");
            }
            command.arg("--").arg(NC);
            command
        }
        Launch::Env(_) | Launch::Plain => Command::new(NC),
    };
    command.args(args).current_dir(&dir.0);
    without_armr_env(&mut command);
    if let Launch::Env(vars) = launch {
        for (key, value) in vars {
            command.env(key, value.replace("{lib}", lib.to_str().unwrap()));
        }
    }
    let stdout = dir.path(&format!("{name}.stdout"));
    let stderr = dir.path(&format!("{name}.stderr"));
    command
        .stdout(File::create(&stdout).unwrap())
        .stderr(File::create(&stderr).unwrap());
    match stdin {
        Some(data) => command.stdin(File::open(dir.write(&format!("{name}.stdin"), data)).unwrap()),
        None => command.stdin(Stdio::null()),
    };
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {command:?}: {e}"));
    Proc {
        name: name.to_string(),
        child,
        stdout,
        stderr,
        status: None,
    }
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The exit status, if it has exited.
    fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().unwrap();
        }
        self.status
    }

    /// Waits (at most DEADLINE) for it to exit; its exit code.
    fn wait(&mut self) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                return status.code().unwrap_or_else(|| {
                    panic!(
                        "{} was killed by a signal ({status}); stderr:\n{}",
                        self.name,
                        self.stderr()
                    )
                });
            }
            if start.elapsed() > DEADLINE {
                self.kill();
                panic!(
                    "{} did not exit within {DEADLINE:?}; stderr:\n{}",
                    self.name,
                    self.stderr()
                );
            }
            sleep(TICK);
        }
    }

    /// Waits for it to exit with `code`.
    fn expect_exit(&mut self, code: i32) {
        let got = self.wait();
        assert_eq!(
            got,
            code,
            "{} exit status\nstdout:\n{}\nstderr:\n{}",
            self.name,
            self.stdout(),
            self.stderr()
        );
    }

    fn kill(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }

    /// Waits until it listens on TCP `port` (seen in /proc/net/tcp{,6}); fails if it exits first.
    fn wait_listening(&mut self, port: u16) {
        let start = Instant::now();
        while !tcp_listening(port) {
            if let Some(status) = self.exited() {
                panic!(
                    "{} exited ({status}) instead of listening on port {port}; stderr:\n{}",
                    self.name,
                    self.stderr()
                );
            }
            if start.elapsed() > DEADLINE {
                self.kill();
                panic!(
                    "{} did not listen on port {port} within {DEADLINE:?}; stderr:\n{}",
                    self.name,
                    self.stderr()
                );
            }
            sleep(TICK);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// True when some socket is in the LISTEN state on TCP `port`, IPv4 or IPv6. Read from /proc so
/// that checking never takes a connection from the server (an `nc -l` serves one only).
fn tcp_listening(port: u16) -> bool {
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|table| {
        fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.len() > 3
                    && fields[3] == "0A"
                    && fields[1]
                        .rsplit(':')
                        .next()
                        .and_then(|p| u16::from_str_radix(p, 16).ok())
                        == Some(port)
            })
    })
}

// =============================================================================================
// Servers and clients of the test itself

/// A TCP listener of the test, on a port the system picks.
fn test_listener(ip: IpAddr) -> (TcpListener, u16) {
    let listener =
        TcpListener::bind((ip, 0)).unwrap_or_else(|e| panic!("cannot listen on {ip}: {e}"));
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// The next connection to `listener`, waiting at most DEADLINE.
fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    let (stream, peer) = eventually("a connection to the test listener", || {
        match listener.accept() {
            Ok(conn) => Some(conn),
            Err(e) if e.kind() == ErrorKind::WouldBlock => None,
            Err(e) => panic!("accept: {e}"),
        }
    });
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.set_write_timeout(Some(DEADLINE)).unwrap();
    (stream, peer)
}

/// Everything one client sends, up to its end of file.
fn receive_all(listener: &TcpListener) -> (String, SocketAddr) {
    let (mut stream, peer) = accept(listener);
    let mut data = Vec::new();
    stream
        .read_to_end(&mut data)
        .unwrap_or_else(|e| panic!("reading from the client {peer}: {e}"));
    (text(&data), peer)
}

/// Asserts that nobody has connected to `listener` (call it after the client has exited: a
/// connection made would already be waiting in the backlog).
fn assert_no_connection(listener: &TcpListener, why: &str) {
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!("{why}: but {peer} connected"),
        Err(e) => panic!("accept: {e}"),
    }
}

/// A client of the test connecting to an nc server: retries while the port refuses.
fn connect(addr: SocketAddr) -> TcpStream {
    let stream = eventually(&format!("a connection to {addr}"), || {
        TcpStream::connect(addr).ok()
    });
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.set_write_timeout(Some(DEADLINE)).unwrap();
    stream
}

/// A TCP client bound to a chosen local IPv4 address (std cannot choose it; libc can). Only the
/// test process uses it, never a process under armr.
mod bound_client {
    use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
    use std::os::fd::FromRawFd;

    #[repr(C)]
    struct SockaddrIn {
        sin_family: u16,
        sin_port: u16,
        sin_addr: u32,
        sin_zero: [u8; 8],
    }

    unsafe extern "C" {
        fn socket(domain: i32, kind: i32, protocol: i32) -> i32;
        fn bind(fd: i32, addr: *const SockaddrIn, len: u32) -> i32;
        fn connect(fd: i32, addr: *const SockaddrIn, len: u32) -> i32;
        fn close(fd: i32) -> i32;
    }

    const AF_INET: i32 = 2;
    const SOCK_STREAM: i32 = 1;
    const SOCK_CLOEXEC: i32 = 0o2_000_000;

    fn sockaddr(addr: SocketAddrV4) -> SockaddrIn {
        SockaddrIn {
            sin_family: AF_INET as u16,
            sin_port: addr.port().to_be(),
            sin_addr: u32::from(*addr.ip()).to_be(),
            sin_zero: [0; 8],
        }
    }

    /// Connects from `local` (any port) to `remote`.
    pub fn connect_from(local: Ipv4Addr, remote: SocketAddrV4) -> std::io::Result<TcpStream> {
        let len = std::mem::size_of::<SockaddrIn>() as u32;
        // SAFETY: plain socket calls on a descriptor owned here; the addresses are valid
        // sockaddr_in structures of `len` bytes.
        unsafe {
            let fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let fail = |fd| {
                let e = std::io::Error::last_os_error();
                close(fd);
                Err(e)
            };
            if bind(fd, &sockaddr(SocketAddrV4::new(local, 0)), len) != 0 {
                return fail(fd);
            }
            if connect(fd, &sockaddr(remote), len) != 0 {
                return fail(fd);
            }
            Ok(TcpStream::from_raw_fd(fd))
        }
    }
}

// =============================================================================================
// Event lines

/// One parsed event line.
type Line = EventLine;

fn parse_line(raw: &str) -> Line {
    EventLine::parse(raw).unwrap_or_else(|why| panic!("malformed event line ({why}):\n{raw}"))
}

/// The event lines within a process's stderr (armr logs to stderr by default).
fn stderr_events(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.starts_with('<'))
        .map(str::to_string)
        .collect()
}

/// Waits until the log holds `n` lines, then returns them (failing if it holds more).
fn wait_log(path: &Path, n: usize) -> Vec<String> {
    let lines = eventually(&format!("{n} event line(s) in {}", path.display()), || {
        let lines = log_lines(path);
        (lines.len() >= n).then_some(lines)
    });
    assert_eq!(
        lines.len(),
        n,
        "event lines in {}:\n{}",
        path.display(),
        lines.join("\n")
    );
    lines
}

/// The spec's syslog PRI for each severity name: facility 1 (user), then the severity.
fn pri_of(severity: &str) -> u32 {
    match severity {
        "Very-High" => 9,
        "High" => 10,
        "Medium" => 12,
        "Unknown" => 13,
        "Low" => 14,
        other => panic!("unknown severity {other}"),
    }
}

/// Which address an event names.
#[derive(Clone, Copy)]
enum Side {
    Local,
    Remote,
}

/// What one event line must say.
struct Expect<'a> {
    app: &'a str,
    /// The app's language version, `2.11`.
    language: &'a str,
    rule: &'a str,
    severity: &'a str,
    feature: &'a str,
    act: &'a str,
    msg: Option<&'a str>,
    side: Side,
    /// Accepted IP addresses (one, or the alternatives a test allows).
    ips: &'a [&'a str],
    /// The port, or `None` for any port number (a client's automatic port).
    port: Option<u16>,
    pid: u32,
}

impl<'a> Expect<'a> {
    /// An event of the test's usual app `Demo` (ARMR/2.11).
    fn demo(
        rule: &'a str,
        severity: &'a str,
        feature: &'a str,
        act: &'a str,
        msg: &'a str,
    ) -> Self {
        Expect {
            app: "Demo",
            language: "2.11",
            rule,
            severity,
            feature,
            act,
            msg: Some(msg),
            side: if feature.contains("bind") {
                Side::Local
            } else {
                Side::Remote
            },
            ips: &["127.0.0.1"],
            port: None,
            pid: 0,
        }
    }

    fn at(mut self, ips: &'a [&'a str], port: u16) -> Self {
        self.ips = ips;
        self.port = Some(port);
        self
    }

    fn pid(mut self, pid: u32) -> Self {
        self.pid = pid;
        self
    }
}

/// Checks every field of an event line.
fn check_line(raw: &str, want: &Expect<'_>) {
    let line = parse_line(raw);
    let ctx = || format!("in the event line:\n{raw}");
    assert_eq!(
        line.pri,
        pri_of(want.severity),
        "PRI for severity {} {}",
        want.severity,
        ctx()
    );
    check_timestamp(&line);
    assert_eq!(line.host, hostname(), "HOSTNAME {}", ctx());
    assert_eq!(line.app_name, "nc", "APP-NAME {}", ctx());
    assert_eq!(line.procid, want.pid, "PROCID is nc's process id {}", ctx());
    let header: Vec<&str> = line.cef[..7].iter().map(String::as_str).collect();
    assert_eq!(
        header,
        [
            "CEF:0",
            &format!("ARMR:{}", want.app),
            want.app,
            want.language,
            want.rule,
            "Execute Rule",
            want.severity
        ],
        "CEF header {}",
        ctx()
    );
    let side = match want.side {
        Side::Local => "local",
        Side::Remote => "remote",
    };
    let mut keys = vec![
        "rt",
        "dvchost",
        "procid",
        "appVersion",
        "ruleType",
        "securityFeature",
        "act",
    ];
    if want.msg.is_some() {
        keys.push("msg");
    }
    let (ip_key, port_key) = (format!("{side}IpAddress"), format!("{side}Port"));
    keys.push(&ip_key);
    keys.push(&port_key);
    let got_keys: Vec<&str> = line.ext.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(got_keys, keys, "extension keys {}", ctx());
    assert_eq!(
        line.get("dvchost"),
        line.host,
        "dvchost is the HOSTNAME {}",
        ctx()
    );
    assert_eq!(
        line.get("procid"),
        line.procid.to_string(),
        "procid is the PROCID {}",
        ctx()
    );
    assert_eq!(line.get("appVersion"), "1", "{}", ctx());
    assert_eq!(line.get("ruleType"), "socket", "{}", ctx());
    assert_eq!(
        line.get("securityFeature"),
        want.feature,
        "securityFeature {}",
        ctx()
    );
    assert_eq!(line.get("act"), want.act, "act {}", ctx());
    if let Some(msg) = want.msg {
        assert_eq!(line.get("msg"), msg, "msg {}", ctx());
    }
    let ip = line.get(&ip_key);
    assert!(
        want.ips.contains(&ip),
        "{ip_key}={ip}, expected one of {:?} {}",
        want.ips,
        ctx()
    );
    let port: u16 = line
        .get(&port_key)
        .parse()
        .unwrap_or_else(|_| panic!("{port_key} is not a port {}", ctx()));
    match want.port {
        Some(expected) => assert_eq!(port, expected, "{port_key} {}", ctx()),
        None => assert_ne!(port, 0, "{port_key} {}", ctx()),
    }
}

/// TIMESTAMP is `YYYY-MM-DDTHH:MM:SS.mmmZ` and `rt` is the same instant, `Mon DD YYYY HH:MM:SS.mmm +0000`.
fn check_timestamp(line: &Line) {
    let t = &line.timestamp;
    let shape_ok = t.len() == 24
        && t.char_indices().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 => c == ':',
            19 => c == '.',
            23 => c == 'Z',
            _ => c.is_ascii_digit(),
        });
    assert!(
        shape_ok,
        "TIMESTAMP `{t}` is not YYYY-MM-DDTHH:MM:SS.mmmZ in:\n{}",
        line.raw
    );
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month: usize = t[5..7].parse().unwrap();
    assert!((1..=12).contains(&month), "month in `{t}`");
    let rt = format!(
        "{} {} {} {} +0000",
        MONTHS[month - 1],
        &t[8..10],
        &t[0..4],
        &t[11..23]
    );
    assert_eq!(line.get("rt"), rt, "rt is the TIMESTAMP in:\n{}", line.raw);
}

/// An `Env` launch: nc under armr's library with these rules, without armr-run.
fn preload_env(rules: &Path, more: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("LD_PRELOAD", "{lib}".to_string()),
        ("ARMR_RULES", rules.display().to_string()),
    ];
    env.extend(more.iter().map(|(k, v)| (*k, v.to_string())));
    env
}

// =============================================================================================
// 1. Outgoing connections

/// One rule allows (and logs) the connection to one service; every other destination is refused
/// without a connection being made, though a server listens there.
#[test]
fn outgoing_connection_refused_and_allowed() {
    let dir = TempDir::new("netcat", "connect");
    let (allowed, allowed_port) = test_listener(localhost());
    let (other, other_port) = test_listener(localhost());
    let rules = dir.write(
        "rules.armr",
        &app(
            "Demo",
            &(rule(
                "the service",
                &format!("connect(\"127.0.0.1:{allowed_port}\")"),
                "allow(message: \"connection to the service allowed\", severity: Low)",
            ) + &rule(
                "no egress",
                "connect(\"0.0.0.0:0\")",
                "protect(message: \"outgoing connection blocked\", severity: High)",
            )),
        ),
    );
    let log = dir.path("events.log");
    let launch = || Launch::ArmrRun {
        rules: &rules,
        log: &log,
        detect_only: false,
    };

    let port = other_port.to_string();
    let mut refused = nc(
        &dir,
        "refused",
        launch(),
        &["-v", "-N", "-w", "2", "127.0.0.1", &port],
        Some("secret\n"),
    );
    refused.expect_exit(1);
    assert!(
        refused.stderr().contains(&format!(
            "connect to 127.0.0.1 port {other_port} (tcp) failed: Connection refused"
        )),
        "nc says the connection was refused; stderr:\n{}",
        refused.stderr()
    );
    assert_no_connection(&other, "armr refuses the connect without making it");
    let lines = wait_log(&log, 1);
    check_line(
        &lines[0],
        &Expect::demo(
            "no egress",
            "High",
            "socket connect",
            "protect",
            "outgoing connection blocked",
        )
        .at(&["127.0.0.1"], other_port)
        .pid(refused.pid()),
    );

    let port = allowed_port.to_string();
    let mut client = nc(
        &dir,
        "allowed",
        launch(),
        &["-N", "-w", "2", "127.0.0.1", &port],
        Some("hello service\n"),
    );
    let (data, _) = receive_all(&allowed);
    client.expect_exit(0);
    assert_eq!(data, "hello service\n", "what the service received");
    let lines = wait_log(&log, 2);
    check_line(
        &lines[1],
        &Expect::demo(
            "the service",
            "Low",
            "socket connect",
            "allow",
            "connection to the service allowed",
        )
        .at(&["127.0.0.1"], allowed_port)
        .pid(client.pid()),
    );
}

/// The same refusal with the library preloaded by hand (no armr-run) and events on stderr, the
/// default log.
#[test]
fn plain_ld_preload_environment_logs_to_stderr() {
    let dir = TempDir::new("netcat", "plain-env");
    let (listener, port) = test_listener(localhost());
    let rules = dir.write(
        "rules.armr",
        &app(
            "Demo",
            &rule(
                "no egress",
                "connect(\"0.0.0.0:0\")",
                "protect(message: \"outgoing connection blocked\", severity: 8)",
            ),
        ),
    );
    let env = preload_env(&rules, &[]);
    let port_arg = port.to_string();
    let mut client = nc(
        &dir,
        "client",
        Launch::Env(&env),
        &["-N", "-w", "2", "127.0.0.1", &port_arg],
        Some("x\n"),
    );
    client.expect_exit(1);
    assert_no_connection(&listener, "the connect is refused");
    let stderr = client.stderr();
    let events = stderr_events(&stderr);
    assert_eq!(events.len(), 1, "one event line on stderr:\n{stderr}");
    check_line(
        &events[0],
        &Expect::demo(
            "no egress",
            "High",
            "socket connect",
            "protect",
            "outgoing connection blocked",
        )
        .at(&["127.0.0.1"], port)
        .pid(client.pid()),
    );
}

// =============================================================================================
// 2. Servers (`nc -l`)

#[test]
fn listening_server_refused() {
    let dir = TempDir::new("netcat", "server-refused");
    let port = free_port(localhost());
    let rules = dir.write(
        "rules.armr",
        &app(
            "Demo",
            &rule(
                "no servers",
                "bind(server: \"0.0.0.0:0\")",
                "protect(message: \"listening blocked\", severity: Very-High)",
            ),
        ),
    );
    let log = dir.path("events.log");
    let p = port.to_string();
    let mut server = nc(
        &dir,
        "server",
        Launch::ArmrRun {
            rules: &rules,
            log: &log,
            detect_only: false,
        },
        &["-d", "-l", "127.0.0.1", &p],
        None,
    );
    server.expect_exit(1);
    assert!(
        server.stderr().contains("nc: listen: Permission denied"),
        "stderr:\n{}",
        server.stderr()
    );
    assert!(!tcp_listening(port), "nothing listens on port {port}");
    match TcpStream::connect((Ipv4Addr::LOCALHOST, port)) {
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
        other => panic!(
            "a connection to the refused server's port: expected ECONNREFUSED, got {other:?}"
        ),
    }
    let lines = wait_log(&log, 1);
    check_line(
        &lines[0],
        &Expect::demo(
            "no servers",
            "Very-High",
            "socket serverbind",
            "protect",
            "listening blocked",
        )
        .at(&["127.0.0.1"], port)
        .pid(server.pid()),
    );
}

#[test]
fn listening_server_allowed() {
    let dir = TempDir::new("netcat", "server-allowed");
    let port = free_port(localhost());
    let rules = dir.write(
        "rules.armr",
        &app(
            "Demo",
            &(rule(
                "the service port",
                &format!("bind(server: \"127.0.0.1:{port}\")"),
                "allow(message: \"listening on the service port\", severity: Medium)",
            ) + &rule(
                "no other servers",
                "bind(server: \"0.0.0.0:0\")",
                "protect(message: \"listening blocked\", severity: Very-High)",
            )),
        ),
    );
    let log = dir.path("events.log");
    let p = port.to_string();
    let mut server = nc(
        &dir,
        "server",
        Launch::ArmrRun {
            rules: &rules,
            log: &log,
            detect_only: false,
        },
        &["-d", "-l", "127.0.0.1", &p],
        None,
    );
    server.wait_listening(port);
    let mut client = connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    client.write_all(b"hello server\n").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .expect("the server closes the connection");
    server.expect_exit(0);
    assert_eq!(
        server.stdout(),
        "hello server\n",
        "what the server received"
    );
    let lines = wait_log(&log, 1);
    check_line(
        &lines[0],
        &Expect::demo(
            "the service port",
            "Medium",
            "socket serverbind",
            "allow",
            "listening on the service port",
        )
        .at(&["127.0.0.1"], port)
        .pid(server.pid()),
    );
}

// =============================================================================================
// 3. Client binds (`nc -s ADDR -p PORT`)

#[test]
fn client_bind_refused() {
    let dir = TempDir::new("netcat", "client-bind-refused");
    let (listener, server_port) = test_listener(localhost());
    let local_port = free_port(localhost());
    let rules = dir.write(
        "rules.armr",
        &app(
            "Demo",
            &rule(
                "no client binds",
                "bind(client: \"0.0.0.0:0\")",
                "protect(message: \"client bind blocked\", severity: High)",
            ),
        ),
    );
    let log = dir.path("events.log");
    let (lp, sp) = (local_port.to_string(), server_port.to_string());
    let mut client = nc(
        &dir,
        "client",
        Launch::ArmrRun {
            rules: &rules,
            log: &log,
            detect_only: false,
        },
        &[
            "-v",
            "-N",
            "-w",
            "2",
            "-s",
            "127.0.0.1",
            "-p",
            &lp,
            "127.0.0.1",
            &sp,
        ],
        Some("from a bound client\n"),
    );
    client.expect_exit(1);
    assert!(
        client.stderr().contains(&format!(
            "connect to 127.0.0.1 port {server_port} (tcp) failed: Permission denied"
        )),
        "nc says EACCES; stderr:\n{}",
        client.stderr()
    );
    assert_no_connection(&listener, "the bound client's connect is refused");
    let lines = wait_log(&log, 1);
    check_line(
        &lines[0],
        &Expect::demo(
            "no client binds",
            "High",
            "socket bind",
            "protect",
            "client bind blocked",
        )
        .at(&["127.0.0.1"], local_port)
        .pid(client.pid()),
    );
}

#[test]
fn client_bind_rules_do_not_judge_a_server() {
    let dir = TempDir::new("netcat", "client-bind-vs-server");
    let port = free_port(localhost());
    let rules = dir.write(
        "rules.armr",
        &app(
            "Demo",
            &rule(
                "no client binds",
                "bind(client: \"0.0.0.0:0\")",
                "protect(message: \"client bind blocked\", severity: High)",
            ),
        ),
    );
    let log = dir.path("events.log");
    let p = port.to_string();
    let mut server = nc(
        &dir,
        "server",
        Launch::ArmrRun {
            rules: &rules,
            log: &log,
            detect_only: false,
        },
        &["-d", "-l", "127.0.0.1", &p],
        None,
    );
    server.wait_listening(port);
    let mut client = connect(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    client
        .write_all(b"to a server under client-bind rules\n")
        .unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .expect("the server closes the connection");
    server.expect_exit(0);
    assert_eq!(server.stdout(), "to a server under client-bind rules\n");
    assert_eq!(
        log_lines(&log),
        Vec::<String>::new(),
        "no event: a server bind is not a client bind"
    );
}

#[test]
fn server_bind_rules_do_not_judge_a_client() {
    let dir = TempDir::new("netcat", "server-bind-vs-client");
    let (listener, server_port) = test_listener(localhost());
    let local_port = free_port(localhost());
    let rules = dir.write(
        "rules.armr",
        &app(
            "Demo",
            &rule(
                "no servers",
                "bind(server: \"0.0.0.0:0\")",
                "protect(message: \"listening blocked\", severity: High)",
            ),
        ),
    );
    let log = dir.path("events.log");
    let (lp, sp) = (local_port.to_string(), server_port.to_string());
    let mut client = nc(
        &dir,
        "client",
        Launch::ArmrRun {
            rules: &rules,
            log: &log,
            detect_only: false,
        },
        &[
            "-N",
            "-w",
            "2",
            "-s",
            "127.0.0.1",
            "-p",
            &lp,
            "127.0.0.1",
            &sp,
        ],
        Some("from a bound client under server-bind rules\n"),
    );
    let (data, peer) = receive_all(&listener);
    client.expect_exit(0);
    assert_eq!(data, "from a bound client under server-bind rules\n");
    assert_eq!(
        peer,
        SocketAddr::from((Ipv4Addr::LOCALHOST, local_port)),
        "nc bound the port it was given"
    );
    assert_eq!(
        log_lines(&log),
        Vec::<String>::new(),
        "no event: a client bind is not a server bind"
    );
}

// =============================================================================================
// 4. Accept, judged by the peer's address

/// `protect accept("127.0.0.2:0")`: connections from 127.0.0.2 are reset and never reach the
/// server, which goes on serving the next client, from 127.0.0.1.
#[test]
fn accept_refused_by_peer_address_while_another_peer_is_served() {
    let dir = TempDir::new("netcat", "accept");
    let port = free_port(localhost());
    let refused_port = free_port(localhost());
    let rules = dir.write(
        "rules.armr",
        &app(
            "Demo",
            &rule(
                "not from 127.0.0.2",
                "accept(\"127.0.0.2:0\")",
                "protect(message: \"connection from 127.0.0.2 refused\", severity: Medium)",
            ),
        ),
    );
    let log = dir.path("events.log");
    let p = port.to_string();
    let mut server = nc(
        &dir,
        "server",
        Launch::ArmrRun {
            rules: &rules,
            log: &log,
            detect_only: false,
        },
        &["-d", "-lk", "127.0.0.1", &p],
        None,
    );
    server.wait_listening(port);
    let refused_event = |line: &str, peer_port: u16| {
        check_line(
            line,
            &Expect::demo(
                "not from 127.0.0.2",
                "Medium",
                "socket accept",
                "protect",
                "connection from 127.0.0.2 refused",
            )
            .at(&["127.0.0.2"], peer_port)
            .pid(server.pid()),
        )
    };

    // Client 1: nc from 127.0.0.2. Its handshake completes in the kernel before the server's
    // accept, so nc either sees the reset while it checks its connect (exit 1, "Connection reset
    // by peer") or after it (nc does not report a reset while reading: exit 0). Either way its
    // data never reaches the server.
    let rp = refused_port.to_string();
    let mut client1 = nc(
        &dir,
        "client1",
        Launch::Plain,
        &[
            "-v",
            "-N",
            "-w",
            "2",
            "-s",
            "127.0.0.2",
            "-p",
            &rp,
            "127.0.0.1",
            &p,
        ],
        Some("client 1 from 127.0.0.2\n"),
    );
    match client1.wait() {
        0 => {}
        1 => assert!(
            client1.stderr().contains("Connection reset by peer"),
            "client 1 failed for another reason than a reset; stderr:\n{}",
            client1.stderr()
        ),
        other => panic!("client 1 exited {other}; stderr:\n{}", client1.stderr()),
    }
    let lines = wait_log(&log, 1);
    refused_event(&lines[0], refused_port);

    // The same from a client that waits for the server: the connection ends with a reset (RST,
    // ECONNRESET), not an orderly close.
    let mut probe = bound_client::connect_from(
        Ipv4Addr::new(127, 0, 0, 2),
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, port),
    )
    .expect("connect from 127.0.0.2");
    let probe_port = probe.local_addr().unwrap().port();
    probe.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut buf = [0u8; 64];
    match probe.read(&mut buf) {
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Ok(0) => panic!("the refused connection from 127.0.0.2 was closed without a reset"),
        other => panic!("the refused connection from 127.0.0.2: expected a reset, got {other:?}"),
    }
    let lines = wait_log(&log, 2);
    refused_event(&lines[1], probe_port);

    // Client 2, from 127.0.0.1: served.
    let mut client2 = nc(
        &dir,
        "client2",
        Launch::Plain,
        &["-N", "-w", "2", "127.0.0.1", &p],
        Some("client 2 from 127.0.0.1\n"),
    );
    client2.expect_exit(0);
    eventually("client 2's data at the server", || {
        server.stdout().contains("client 2").then_some(())
    });
    sleep(Duration::from_millis(100));
    assert!(
        server.exited().is_none(),
        "nc -lk still runs; stderr:\n{}",
        server.stderr()
    );
    server.kill();
    assert_eq!(
        server.stdout(),
        "client 2 from 127.0.0.1\n",
        "the server received client 2's data only"
    );
    assert_eq!(
        log_lines(&log).len(),
        2,
        "no event for client 2 (no rule matches 127.0.0.1)"
    );
}

// =============================================================================================
// 5. The reference page's "Blocking client binds on all interfaces and all ports, but allowing
//    them on a specific interface and specific port" (rules/reference/block-client-binds-allow-one.armr)

#[test]
fn reference_client_binds_blocked_but_one_allowed() {
    const ALLOWED: u16 = 5000;
    let dir = TempDir::new("netcat", "reference-client-binds");
    if let Err(e) = TcpListener::bind((Ipv4Addr::LOCALHOST, ALLOWED)) {
        panic!(
            "port {ALLOWED} on 127.0.0.1 is in use on this machine ({e}): the reference rule names port \
             {ALLOWED}, so this test needs it free; stop what uses it (`ss -tanp | grep :{ALLOWED}`)"
        );
    }
    let rules = manifest().join("rules/reference/block-client-binds-allow-one.armr");
    let log = dir.path("events.log");
    let launch = || Launch::ArmrRun {
        rules: &rules,
        log: &log,
        detect_only: false,
    };
    let (listener, server_port) = test_listener(localhost());
    let sp = server_port.to_string();
    let app = "Socket Client Bind Mod Multiple Rules";

    // 127.0.0.1:5000 is allowed. nc does not close first (no -N): the test's server does, once it
    // has the data, so that no TIME_WAIT is left on port 5000 for the next run.
    let data = "through the allowed port\n";
    let mut client = nc(
        &dir,
        "allowed",
        launch(),
        &[
            "-v",
            "-w",
            "2",
            "-s",
            "127.0.0.1",
            "-p",
            "5000",
            "127.0.0.1",
            &sp,
        ],
        Some(data),
    );
    let (mut stream, peer) = eventually("the client from port 5000", || {
        if client.exited().is_some() {
            let stderr = client.stderr();
            assert!(
                !stderr.contains("Address already in use"),
                "port {ALLOWED} is in use on this machine (nc could not bind it): the reference rule names \
                 port {ALLOWED}, so this test needs it free; stderr:\n{stderr}"
            );
            panic!("nc exited before connecting from port {ALLOWED}; stderr:\n{stderr}");
        }
        match listener.accept() {
            Ok(conn) => Some(conn),
            Err(e) if e.kind() == ErrorKind::WouldBlock => None,
            Err(e) => panic!("accept: {e}"),
        }
    });
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut got = vec![0u8; data.len()];
    stream
        .read_exact(&mut got)
        .expect("the data from port 5000");
    drop(stream);
    client.expect_exit(0);
    assert_eq!(text(&got), data);
    assert_eq!(
        peer,
        SocketAddr::from((Ipv4Addr::LOCALHOST, ALLOWED)),
        "the client's address"
    );

    // Any other port is refused.
    let other = free_port(localhost());
    let op = other.to_string();
    let mut refused = nc(
        &dir,
        "refused",
        launch(),
        &[
            "-v",
            "-w",
            "2",
            "-s",
            "127.0.0.1",
            "-p",
            &op,
            "127.0.0.1",
            &sp,
        ],
        Some("through another port\n"),
    );
    refused.expect_exit(1);
    assert!(
        refused.stderr().contains("Permission denied"),
        "stderr:\n{}",
        refused.stderr()
    );
    assert_no_connection(&listener, "a client bound to another port is refused");

    let lines = wait_log(&log, 2);
    let event = |rule, severity, act, msg, port, pid| Expect {
        app,
        language: "2.8",
        rule,
        severity,
        feature: "socket bind",
        act,
        msg: Some(msg),
        side: Side::Local,
        ips: &["127.0.0.1"],
        port: Some(port),
        pid,
    };
    check_line(
        &lines[0],
        &event(
            "Socket bind allow specific",
            "Medium",
            "allow",
            "Socket rule allow 127.0.0.1:5000",
            ALLOWED,
            client.pid(),
        ),
    );
    check_line(
        &lines[1],
        &event(
            "Socket bind protect all",
            "High",
            "protect",
            "Socket rule protect 0.0.0.0:0",
            other,
            refused.pid(),
        ),
    );
}

// =============================================================================================
// 6. IPv6

/// `connect("0.0.0.0:0")` (an IPv4 wildcard) refuses a connect to [::1] as well.
#[test]
fn ipv6_connect_refused_by_an_ipv4_wildcard_rule() {
    let dir = TempDir::new("netcat", "ipv6");
    let ipv6 = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
    let (listener, port) = test_listener(ipv6);
    let rules = dir.write(
        "rules.armr",
        &app(
            "Demo",
            &rule(
                "no egress",
                "connect(\"0.0.0.0:0\")",
                "protect(message: \"outgoing connection blocked\", severity: High)",
            ),
        ),
    );
    let log = dir.path("events.log");
    let p = port.to_string();
    let mut client = nc(
        &dir,
        "client",
        Launch::ArmrRun {
            rules: &rules,
            log: &log,
            detect_only: false,
        },
        &["-6", "-v", "-N", "-w", "2", "::1", &p],
        Some("over IPv6\n"),
    );
    client.expect_exit(1);
    assert!(
        client.stderr().contains(&format!(
            "connect to ::1 port {port} (tcp) failed: Connection refused"
        )),
        "stderr:\n{}",
        client.stderr()
    );
    assert_no_connection(&listener, "the IPv6 connect is refused");
    let lines = wait_log(&log, 1);
    check_line(
        &lines[0],
        &Expect::demo(
            "no egress",
            "High",
            "socket connect",
            "protect",
            "outgoing connection blocked",
        )
        .at(&["::1"], port)
        .pid(client.pid()),
    );
}

/// A rule for 127.0.0.1 judges an IPv4-mapped connect (`nc -6 ::ffff:127.0.0.1`), when nc can
/// make one on this machine (checked first, without armr).
#[test]
fn ipv4_mapped_connect_judged_by_an_ipv4_rule() {
    let dir = TempDir::new("netcat", "ipv4-mapped");
    let (listener, port) = test_listener(localhost());
    let p = port.to_string();
    let mut plain = nc(
        &dir,
        "plain",
        Launch::Plain,
        &["-6", "-N", "-w", "2", "::ffff:127.0.0.1", &p],
        Some("mapped\n"),
    );
    if plain.wait() != 0 {
        eprintln!(
            "note: nc -6 ::ffff:127.0.0.1 cannot connect on this machine without armr (stderr: {}); \
             the IPv4-mapped check is skipped",
            plain.stderr().trim()
        );
        return;
    }
    assert_eq!(
        receive_all(&listener).0,
        "mapped\n",
        "without armr the mapped connect works"
    );

    let rules = dir.write(
        "rules.armr",
        &app(
            "Demo",
            &rule(
                "not the service",
                &format!("connect(\"127.0.0.1:{port}\")"),
                "protect(message: \"the service is off limits\", severity: Low)",
            ),
        ),
    );
    let log = dir.path("events.log");
    let mut client = nc(
        &dir,
        "client",
        Launch::ArmrRun {
            rules: &rules,
            log: &log,
            detect_only: false,
        },
        &["-6", "-v", "-N", "-w", "2", "::ffff:127.0.0.1", &p],
        Some("mapped\n"),
    );
    client.expect_exit(1);
    assert!(
        client.stderr().contains("Connection refused"),
        "stderr:\n{}",
        client.stderr()
    );
    assert_no_connection(
        &listener,
        "the mapped connect is refused by the 127.0.0.1 rule",
    );
    let lines = wait_log(&log, 1);
    // The address is logged as the program gave it (the mapped form) or normalised: either names
    // the same host.
    check_line(
        &lines[0],
        &Expect::demo(
            "not the service",
            "Low",
            "socket connect",
            "protect",
            "the service is off limits",
        )
        .at(&["127.0.0.1", "::ffff:127.0.0.1"], port)
        .pid(client.pid()),
    );
}

// =============================================================================================
// 7. UDP (`nc -u`)

/// nc -u connects its socket: a protected destination refuses the connect (ECONNREFUSED) and no
/// datagram leaves; an allowed one gets the datagram.
#[test]
fn udp_client_refused_and_allowed() {
    let dir = TempDir::new("netcat", "udp-client");
    let refused_rx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let allowed_rx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let refused_port = refused_rx.local_addr().unwrap().port();
    let allowed_port = allowed_rx.local_addr().unwrap().port();
    let rules = dir.write(
        "rules.armr",
        &app(
            "Demo",
            &(rule(
                "the collector",
                &format!("connect(\"127.0.0.1:{allowed_port}\")"),
                "allow(message: \"datagrams to the collector\", severity: Low)",
            ) + &rule(
                "no datagrams",
                "connect(\"0.0.0.0:0\")",
                "protect(message: \"datagrams blocked\")",
            )),
        ),
    );
    let log = dir.path("events.log");
    let launch = || Launch::ArmrRun {
        rules: &rules,
        log: &log,
        detect_only: false,
    };

    let rp = refused_port.to_string();
    let mut refused = nc(
        &dir,
        "refused",
        launch(),
        &["-u", "-v", "-w", "1", "127.0.0.1", &rp],
        Some("refused datagram\n"),
    );
    refused.expect_exit(1);
    assert!(
        refused.stderr().contains(&format!(
            "connect to 127.0.0.1 port {refused_port} (udp) failed: Connection refused"
        )),
        "stderr:\n{}",
        refused.stderr()
    );
    refused_rx.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 128];
    match refused_rx.recv_from(&mut buf) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("no datagram may reach the protected destination, got {other:?}"),
    }
    let lines = wait_log(&log, 1);
    // No severity in the rule: Unknown.
    check_line(
        &lines[0],
        &Expect::demo(
            "no datagrams",
            "Unknown",
            "socket connect",
            "protect",
            "datagrams blocked",
        )
        .at(&["127.0.0.1"], refused_port)
        .pid(refused.pid()),
    );

    let ap = allowed_port.to_string();
    let mut allowed = nc(
        &dir,
        "allowed",
        launch(),
        &["-u", "-w", "1", "127.0.0.1", &ap],
        Some("allowed datagram\n"),
    );
    allowed_rx.set_read_timeout(Some(DEADLINE)).unwrap();
    let (n, _) = allowed_rx
        .recv_from(&mut buf)
        .expect("the datagram to the allowed destination");
    assert_eq!(text(&buf[..n]), "allowed datagram\n");
    allowed.expect_exit(0);
    let lines = wait_log(&log, 2);
    check_line(
        &lines[1],
        &Expect::demo(
            "the collector",
            "Low",
            "socket connect",
            "allow",
            "datagrams to the collector",
        )
        .at(&["127.0.0.1"], allowed_port)
        .pid(allowed.pid()),
    );
}

/// A UDP server (`nc -u -l`) is judged at bind() as a server bind: EACCES.
#[test]
fn udp_server_bind_refused() {
    let dir = TempDir::new("netcat", "udp-server");
    let port = free_port(localhost());
    let rules = dir.write(
        "rules.armr",
        &app(
            "Demo",
            &rule(
                "no servers",
                "bind(server: \"0.0.0.0:0\")",
                "protect(message: \"listening blocked\", severity: High)",
            ),
        ),
    );
    let log = dir.path("events.log");
    let p = port.to_string();
    let mut server = nc(
        &dir,
        "server",
        Launch::ArmrRun {
            rules: &rules,
            log: &log,
            detect_only: false,
        },
        &["-u", "-d", "-l", "127.0.0.1", &p],
        None,
    );
    server.expect_exit(1);
    assert!(
        server.stderr().contains("nc: Permission denied"),
        "stderr:\n{}",
        server.stderr()
    );
    let lines = wait_log(&log, 1);
    check_line(
        &lines[0],
        &Expect::demo(
            "no servers",
            "High",
            "socket serverbind",
            "protect",
            "listening blocked",
        )
        .at(&["127.0.0.1"], port)
        .pid(server.pid()),
    );
}

// =============================================================================================
// 8. Detect-only mode

#[test]
fn detect_only_lets_the_connection_through_and_logs_detect() {
    let dir = TempDir::new("netcat", "detect-only");
    let (listener, port) = test_listener(localhost());
    let rules = dir.write(
        "rules.armr",
        &app(
            "Demo",
            &rule(
                "no egress",
                "connect(\"0.0.0.0:0\")",
                "protect(message: \"outgoing connection blocked\", severity: Medium)",
            ),
        ),
    );
    let log = dir.path("events.log");
    let p = port.to_string();
    let mut client = nc(
        &dir,
        "client",
        Launch::ArmrRun {
            rules: &rules,
            log: &log,
            detect_only: true,
        },
        &["-N", "-w", "2", "127.0.0.1", &p],
        Some("detected, not refused\n"),
    );
    let (data, _) = receive_all(&listener);
    client.expect_exit(0);
    assert_eq!(data, "detected, not refused\n");
    let lines = wait_log(&log, 1);
    check_line(
        &lines[0],
        &Expect::demo(
            "no egress",
            "Medium",
            "socket connect",
            "detect",
            "outgoing connection blocked",
        )
        .at(&["127.0.0.1"], port)
        .pid(client.pid()),
    );
}

// =============================================================================================
// 9. Rules that do not load (armr-run refuses them itself, so the library is preloaded by hand)

const BROKEN: &str = "app(\"Demo\"):\n    requires(version: ARMR/2.11)\n    socket(\"no egress\"):\n        connect(\"0.0.0.0:0\")\n        protect(message: \"outgoing connection blocked\")\n    endsocket\n    socket(\"typo\"):\n        connect(\"127.0.0.1:70000\")\n        protect()\n    endsocket\nendapp\n";

fn assert_diagnostics(stderr: &str, rules: &Path) {
    let location = format!(
        "{}:8:28: error: port `70000` is above 65535",
        rules.display()
    );
    assert!(
        stderr.contains(&location),
        "the diagnostic with file:line:col ({location}); stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("armr: 1 error in the rules"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn broken_rules_fail_closed_nc_does_not_run() {
    let dir = TempDir::new("netcat", "on-error-closed");
    let (listener, port) = test_listener(localhost());
    let rules = dir.write("broken.armr", BROKEN);
    let env = preload_env(&rules, &[("ARMR_ON_ERROR", "closed")]);
    let p = port.to_string();
    let mut client = nc(
        &dir,
        "client",
        Launch::Env(&env),
        &["-N", "-w", "2", "127.0.0.1", &p],
        Some("should not run\n"),
    );
    client.expect_exit(1);
    let stderr = client.stderr();
    assert_diagnostics(&stderr, &rules);
    assert!(
        stderr.contains(
            "armr: the rules could not be loaded: stopping nc before it starts \
             (ARMR_ON_ERROR=closed; set ARMR_ON_ERROR=open to run it unprotected)"
        ),
        "stderr:\n{stderr}"
    );
    assert_eq!(client.stdout(), "");
    assert_no_connection(&listener, "nc never ran");
}

#[test]
fn broken_rules_fail_open_nc_runs_unprotected() {
    let dir = TempDir::new("netcat", "on-error-open");
    let (listener, port) = test_listener(localhost());
    let rules = dir.write("broken.armr", BROKEN);
    let env = preload_env(&rules, &[("ARMR_ON_ERROR", "open")]);
    let p = port.to_string();
    let mut client = nc(
        &dir,
        "client",
        Launch::Env(&env),
        &["-N", "-w", "2", "127.0.0.1", &p],
        Some("unprotected\n"),
    );
    let (data, _) = receive_all(&listener);
    client.expect_exit(0);
    assert_eq!(
        data, "unprotected\n",
        "nc ran, and the rule that would refuse it was not loaded"
    );
    let stderr = client.stderr();
    assert_diagnostics(&stderr, &rules);
    assert!(
        stderr.contains("armr: the rules could not be loaded: nc runs WITHOUT armr's protection (ARMR_ON_ERROR=open)"),
        "stderr:\n{stderr}"
    );
    assert!(
        stderr_events(&stderr).is_empty(),
        "no events: nothing is judged\n{stderr}"
    );
}
