//! A private rsyslogd for the tests that check what a real syslog daemon receives (never the
//! system service), configured from `tests/rsyslog/rsyslog.conf.in` with free ports on 127.0.0.1
//! and a unix socket in a private directory. rsyslog writes what it parsed (PRI, APP-NAME,
//! PROCID, HOSTNAME, MSGID, SD, TIMESTAMP, MSG) one line per message.

use super::net::{free_tcp_port, free_udp_port};
use super::{TempDir, manifest};
use std::fs;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a test waits for rsyslog to start or for events to arrive before it fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// What rsyslog parsed of one message (or what a line of a `file:` destination says).
#[derive(Debug, Clone)]
pub struct Record {
    /// imudp, imtcp, imuxsock; `file` for a line read from a file.
    pub input: String,
    pub pri: u32,
    pub app: String,
    pub procid: String,
    pub hostname: String,
    pub msgid: String,
    pub sd: String,
    pub time: String,
    pub msg: String,
}

impl Record {
    /// A line of rsyslog's `armr_parsed` template.
    pub fn from_rsyslog(line: &str) -> Record {
        let f: Vec<&str> = line.splitn(9, '\t').collect();
        assert_eq!(
            f.len(),
            9,
            "not a line of the armr_parsed template: {line:?}"
        );
        Record {
            input: f[0].into(),
            pri: f[1].parse().unwrap_or_else(|_| panic!("PRI in {line:?}")),
            app: f[2].into(),
            procid: f[3].into(),
            hostname: f[4].into(),
            msgid: f[5].into(),
            sd: f[6].into(),
            time: f[7].into(),
            msg: f[8].into(),
        }
    }

    /// An armr line, as written to a file: `<PRI>1 TIMESTAMP HOST APP PID - - MSG`.
    pub fn from_line(line: &str) -> Record {
        let bad = || -> ! { panic!("not an RFC 5424 line: {line:?}") };
        let rest = line.strip_prefix('<').unwrap_or_else(|| bad());
        let (pri, rest) = rest.split_once(">1 ").unwrap_or_else(|| bad());
        let f: Vec<&str> = rest.splitn(7, ' ').collect();
        if f.len() != 7 {
            bad();
        }
        Record {
            input: "file".into(),
            pri: pri.parse().unwrap_or_else(|_| bad()),
            time: f[0].into(),
            hostname: f[1].into(),
            app: f[2].into(),
            procid: f[3].into(),
            msgid: f[4].into(),
            sd: f[5].into(),
            msg: f[6].into(),
        }
    }

    /// The line armr sent, rebuilt from the parsed fields.
    pub fn line(&self) -> String {
        format!(
            "<{}>1 {} {} {} {} {} {} {}",
            self.pri,
            self.time,
            self.hostname,
            self.app,
            self.procid,
            self.msgid,
            self.sd,
            self.msg
        )
    }
}

/// The rsyslogd binary, or a failure that says how to get it.
pub fn rsyslogd() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join("rsyslogd"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "rsyslogd is not installed: tests/logging.rs checks what a real syslog daemon receives. \
                 `make test` installs rsyslog (scripts/install-test-deps); or run `apt-get install rsyslog`"
            )
        })
}

/// A private rsyslogd, stopped when dropped.
pub struct Rsyslog {
    pub child: Child,
    pub udp: u16,
    pub tcp: u16,
    pub socket: PathBuf,
    pub parsed: PathBuf,
    pub raw: PathBuf,
    pub work: PathBuf,
}

impl Rsyslog {
    pub fn start(dir: &TempDir) -> Rsyslog {
        Rsyslog::start_on(dir, free_tcp_port())
    }

    /// Starts rsyslogd with its TCP input on `tcp`, and waits until each input takes messages.
    pub fn start_on(dir: &TempDir, tcp: u16) -> Rsyslog {
        let bin = rsyslogd();
        let work = dir.join("rsyslog");
        fs::create_dir_all(&work).unwrap();
        let udp = free_udp_port();
        let socket = work.join("log.sock");
        let parsed = work.join("parsed.log");
        let raw = work.join("raw.log");
        let template =
            fs::read_to_string(manifest().join("tests/rsyslog/rsyslog.conf.in")).unwrap();
        let conf = template
            .replace("@WORKDIR@", work.to_str().unwrap())
            .replace("@UDP_PORT@", &udp.to_string())
            .replace("@TCP_PORT@", &tcp.to_string())
            .replace("@SOCKET@", socket.to_str().unwrap())
            .replace("@OUTPUT@", parsed.to_str().unwrap())
            .replace("@RAW@", raw.to_str().unwrap())
            .replace("@INTERNAL@", work.join("internal.log").to_str().unwrap());
        let conf_path = work.join("rsyslog.conf");
        fs::write(&conf_path, conf).unwrap();
        let child = Command::new(&bin)
            .arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .arg("-i")
            .arg(work.join("rsyslogd.pid"))
            .env_remove("LD_PRELOAD")
            .stdin(Stdio::null())
            .stdout(fs::File::create(work.join("stdout")).unwrap())
            .stderr(fs::File::create(work.join("stderr")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut rsyslog = Rsyslog {
            child,
            udp,
            tcp,
            socket,
            parsed,
            raw,
            work,
        };
        rsyslog.wait_until_ready();
        rsyslog
    }

    /// rsyslog's own account of itself, for failure messages.
    pub fn diagnostics(&self) -> String {
        ["stdout", "stderr", "internal.log"]
            .iter()
            .map(|f| {
                format!(
                    "--- rsyslog {f}:\n{}",
                    fs::read_to_string(self.work.join(f)).unwrap_or_default()
                )
            })
            .collect()
    }

    /// Sends a probe on every input until rsyslog has written each one out.
    fn wait_until_ready(&mut self) {
        let start = Instant::now();
        let mut seen = [false; 3];
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let unix = UnixDatagram::unbound().unwrap();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "rsyslogd exited at start ({status}):\n{}",
                    self.diagnostics()
                );
            }
            let lines = fs::read_to_string(&self.parsed).unwrap_or_default();
            for (i, name) in ["udp", "tcp", "unix"].iter().enumerate() {
                seen[i] |= lines.contains(&format!("\tready {name}\n"));
            }
            if seen.iter().all(|s| *s) {
                return;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "rsyslogd did not take messages within {DEADLINE:?} (udp, tcp, unix: {seen:?}):\n{}",
                self.diagnostics()
            );
            let probe = |name: &str| format!("<13>1 - - armr-probe - - - ready {name}");
            if !seen[0] {
                let _ = udp.send_to(probe("udp").as_bytes(), ("127.0.0.1", self.udp));
            }
            if !seen[1]
                && let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.tcp))
            {
                let p = probe("tcp");
                let _ = s.write_all(format!("{} {p}", p.len()).as_bytes());
            }
            if !seen[2] {
                let _ = unix.send_to(probe("unix").as_bytes(), &self.socket);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Every message rsyslog has written out so far, probes left out.
    pub fn records(&self) -> Vec<Record> {
        fs::read_to_string(&self.parsed)
            .unwrap_or_default()
            .lines()
            .map(Record::from_rsyslog)
            .filter(|r| r.app != "armr-probe")
            .collect()
    }

    /// The messages of process `pid`, once there are `count` of them. Then waits a little longer
    /// and checks that no more arrive.
    pub fn wait_for(&self, pid: u32, count: usize) -> Vec<Record> {
        let start = Instant::now();
        let of_pid = || -> Vec<Record> {
            self.records()
                .into_iter()
                .filter(|r| r.procid == pid.to_string())
                .collect()
        };
        loop {
            let got = of_pid();
            if got.len() >= count {
                std::thread::sleep(Duration::from_millis(300));
                let again = of_pid();
                assert_eq!(
                    again.len(),
                    count,
                    "rsyslog received more messages of {pid} than expected: {again:#?}"
                );
                return again;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "rsyslog received {} of {count} messages of process {pid} within {DEADLINE:?}: {got:#?}\nall: {:#?}\n{}",
                got.len(),
                self.records(),
                self.diagnostics()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The lines exactly as rsyslog received them (`%rawmsg%`).
    pub fn raw_lines(&self) -> Vec<String> {
        fs::read_to_string(&self.raw)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    /// `ARMR_LOG` values for each of this daemon's inputs, with rsyslog's name of the input.
    pub fn destinations(&self) -> [(String, &'static str); 3] {
        [
            (format!("udp://127.0.0.1:{}", self.udp), "imudp"),
            (format!("tcp://127.0.0.1:{}", self.tcp), "imtcp"),
            (format!("syslog:{}", self.socket.display()), "imuxsock"),
        ]
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
