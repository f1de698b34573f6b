//! What a real syslog daemon makes of armr's events, and how armr behaves when the destination is
//! down or shared.
//!
//! Each test that needs a daemon runs its own `rsyslogd` (never the system service), configured from
//! `tests/rsyslog/rsyslog.conf.in` with free ports on 127.0.0.1 and a unix socket in a private
//! directory. rsyslog writes what it parsed (PRI, APP-NAME, PROCID, HOSTNAME, MSGID, SD, TIMESTAMP,
//! MSG) one line per message, and the tests check every field, and the CEF record exactly.
//!
//! The programs run under `target/release/libarmr.so` (so `cargo build --release` first, as
//! `make test` does): bash (its `/dev/tcp` redirections connect through libc), python3 (`os.fork`),
//! and `connector`, a small C client built here with `cc`.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod support;
use support::net::{free_tcp_port, tcp_listener};
use support::programs::{c_library, c_program, python_program};
use support::rsyslog::{DEADLINE, Record, Rsyslog};
use support::{TempDir, library, manifest, text};

/// The host name, which the expected lines below write as is: it must need no escaping.
fn hostname() -> String {
    let host = support::net::hostname();
    assert!(
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'),
        "this test expects a plain host name, not {host:?}"
    );
    host
}

// ------------------------------------------------------------------------------------------------
// Programs

/// The name of a copy of `connector` whose APP-NAME needs care: `é` is not ASCII (each of its two
/// bytes becomes `_` in the syslog header), `|`, `=` and `\` mean something in CEF.
const ODD_PROGRAM: &str = "pé|a=b\\c";
const ODD_APP_NAME: &str = "p__|a=b\\c";

struct Programs {
    connector: PathBuf,
    odd: PathBuf,
}

fn programs() -> &'static Programs {
    static PROGRAMS: OnceLock<Programs> = OnceLock::new();
    PROGRAMS.get_or_init(|| {
        // Built with -O0 -rdynamic so that its stack frames keep their names.
        let connector = c_program("connector", &["-O0", "-rdynamic"]);
        let dir = connector.parent().unwrap();
        let odd = dir.join(ODD_PROGRAM);
        fs::copy(&connector, &odd).unwrap();
        Programs { connector, odd }
    })
}

/// `command` under armr with `rules` and `ARMR_LOG=log`, and nothing else of armr's environment.
fn armr<'c>(command: &'c mut Command, rules: &Path, log: &str) -> &'c mut Command {
    command
        .env("LD_PRELOAD", library())
        .env("ARMR_RULES", rules)
        .env("ARMR_LOG", log)
        .env_remove("ARMR_MODE")
        .env_remove("ARMR_ON_ERROR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
}

/// Runs a program to its end; returns its pid, its output and how long it ran.
fn run(command: &mut Command) -> (u32, Output, Duration) {
    let start = Instant::now();
    let child = command.spawn().expect("start the program");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    (pid, out, start.elapsed())
}

/// Standard error without the lines of the program itself (bash's "Connection refused").
fn armr_lines(stderr: &[u8]) -> Vec<String> {
    text(stderr)
        .lines()
        .filter(|l| l.starts_with("armr:") || l.starts_with('<'))
        .map(String::from)
        .collect()
}

// ------------------------------------------------------------------------------------------------
// rsyslog

// ------------------------------------------------------------------------------------------------
// Expected events

/// Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Checks an RFC 5424 timestamp as armr writes it (`2026-11-25T11:40:53.802Z`: UTC, milliseconds)
/// and that it is the time of the test; returns the CEF `rt` of the same instant
/// (`Nov 25 2026 11:40:53.802 +0000`).
fn rt_of(timestamp: &str) -> String {
    let b = timestamp.as_bytes();
    let shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    assert!(
        b.len() == shape.len()
            && shape.bytes().zip(b).all(|(s, c)| if s == b'd' {
                c.is_ascii_digit()
            } else {
                s == *c
            }),
        "timestamp {timestamp:?} is not UTC with milliseconds"
    );
    let n = |r: std::ops::Range<usize>| -> i64 { timestamp[r].parse().unwrap() };
    let (year, month, day) = (n(0..4), n(5..7), n(8..10));
    assert!(
        (1..=12).contains(&month) && (1..=31).contains(&day),
        "{timestamp}"
    );
    let millis = (days_from_civil(year, month, day) * 86_400
        + n(11..13) * 3600
        + n(14..16) * 60
        + n(17..19))
        * 1000
        + n(20..23);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        (now - millis).abs() < 120_000,
        "timestamp {timestamp} is not now (now: {now} ms since the epoch)"
    );
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {} {} +0000",
        MONTHS[month as usize - 1],
        &timestamp[8..10],
        &timestamp[0..4],
        &timestamp[11..23]
    )
}

/// One expected event.
#[derive(Debug, Clone)]
struct Want {
    pri: u32,
    app: String,
    pid: u32,
    /// The CEF record up to `rt=`: `CEF:0|...|Severity|`.
    head: String,
    /// The CEF record after the value of `rt`: ` dvchost=... remotePort=N`.
    tail: String,
}

impl Want {
    /// A connect event. `cef` is the CEF header from the vendor field to the severity, as escaped in
    /// the line (`ARMR:App|App|2.11|rule|Execute Rule|High`); `fields` the escaped extension fields
    /// between `act` and the address (` msg=... key=value`).
    #[allow(clippy::too_many_arguments)]
    fn connect(
        pri: u32,
        app: &str,
        pid: u32,
        cef: &str,
        version: u32,
        act: &str,
        fields: &str,
        port: u16,
    ) -> Want {
        Want {
            pri,
            app: app.into(),
            pid,
            head: format!("CEF:0|{cef}|"),
            tail: format!(
                " dvchost={} procid={pid} appVersion={version} ruleType=socket securityFeature=socket connect act={act}{fields} remoteIpAddress=127.0.0.1 remotePort={port}",
                hostname()
            ),
        }
    }

    /// The report of `count` events dropped.
    fn dropped(app: &str, pid: u32, count: u64) -> Want {
        Want {
            pri: 12,
            app: app.into(),
            pid,
            head: format!(
                "CEF:0|ARMR|armr|{}|events dropped|Events dropped|Medium|",
                env!("CARGO_PKG_VERSION")
            ),
            tail: format!(
                " dvchost={} procid={pid} cnt={count} msg={count} events were dropped: the log destination was unavailable or too slow",
                hostname()
            ),
        }
    }

    /// Checks every field of a record, and the CEF record exactly.
    fn check(&self, got: &Record, input: &str) {
        let context = format!("{got:#?}");
        assert_eq!(got.input, input, "{context}");
        assert_eq!(got.pri, self.pri, "PRI: {context}");
        assert_eq!(got.app, self.app, "APP-NAME: {context}");
        assert_eq!(got.procid, self.pid.to_string(), "PROCID: {context}");
        assert_eq!(got.hostname, hostname(), "HOSTNAME: {context}");
        assert_eq!(
            (got.msgid.as_str(), got.sd.as_str()),
            ("-", "-"),
            "MSGID and STRUCTURED-DATA: {context}"
        );
        let expected = format!("{}rt={}{}", self.head, rt_of(&got.time), self.tail);
        assert_eq!(got.msg, expected, "MSG");
    }
}

/// Checks rsyslog's records of one process against `wants`, in order, and that each line reached
/// rsyslog byte for byte as armr wrote it.
fn check_received(rsyslog: &Rsyslog, input: &str, wants: &[Want]) {
    let got = rsyslog.wait_for(wants[0].pid, wants.len());
    let raw = rsyslog.raw_lines();
    for (want, record) in wants.iter().zip(&got) {
        want.check(record, input);
        let line = record.line();
        assert!(
            raw.contains(&line),
            "rsyslog did not receive this line as such:\n{line}\nraw: {raw:#?}"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// PRI, APP-NAME, PROCID, the CEF record, over UDP, TCP, a unix socket and a file

/// Three rules of three severities, metadata of the app and of a rule, a version, and a rule
/// without a message (never logged). Ports: HIGH and VERY_HIGH are refused without a system call,
/// LOW (detect) is a real connect to a closed port.
fn severities_rules(dir: &TempDir, low: u16) -> PathBuf {
    dir.write(
        "severities.armr",
        &format!(
            r#"app("Logging Test"):
    requires(version: ARMR/2.11)
    version(3)
    metadata(log: {{team: "blue", env: "test"}})
    socket("high rule"):
        connect("127.0.0.1:9")
        protect(message: "blocked high", severity: High)
    endsocket
    socket("low rule"):
        connect("127.0.0.1:{low}")
        detect(message: "seen low", severity: Low)
        metadata(log: {{env: "prod", owner: "secops"}})
    endsocket
    socket("very high rule"):
        connect("127.0.0.1:7")
        protect(message: "blocked very high", severity: Very-High)
    endsocket
    socket("silent"):
        connect("0.0.0.0:0")
        protect()
    endsocket
endapp
"#
        ),
    )
}

fn severities_wanted(pid: u32, low: u16) -> Vec<Want> {
    let cef = |rule: &str, severity: &str| {
        format!("ARMR:Logging Test|Logging Test|2.11|{rule}|Execute Rule|{severity}")
    };
    vec![
        Want::connect(
            10,
            "bash",
            pid,
            &cef("high rule", "High"),
            3,
            "protect",
            " msg=blocked high team=blue env=test",
            9,
        ),
        Want::connect(
            14,
            "bash",
            pid,
            &cef("low rule", "Low"),
            3,
            "detect",
            " msg=seen low team=blue env=prod owner=secops",
            low,
        ),
        Want::connect(
            9,
            "bash",
            pid,
            &cef("very high rule", "Very-High"),
            3,
            "protect",
            " msg=blocked very high team=blue env=test",
            7,
        ),
    ]
}

/// bash connects four times: three events, then one to a port only the silent rule matches.
fn run_bash_severities(rules: &Path, log: &str, low: u16) -> u32 {
    let script = format!(
        "for p in 9 {low} 7 {}; do echo > /dev/tcp/127.0.0.1/$p; done; exit 0",
        free_tcp_port()
    );
    let (pid, out, _) = run(armr(Command::new("bash").args(["-c", &script]), rules, log));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        armr_lines(&out.stderr),
        Vec::<String>::new(),
        "nothing of armr's on stderr with ARMR_LOG={log}"
    );
    pid
}

fn severities_through(input: &str) {
    let dir = TempDir::new("logging", &format!("severities-{input}"));
    let rsyslog = Rsyslog::start(&dir);
    let low = free_tcp_port();
    let rules = severities_rules(&dir, low);
    let (log, _) = rsyslog
        .destinations()
        .into_iter()
        .find(|(_, i)| *i == input)
        .unwrap();
    let pid = run_bash_severities(&rules, &log, low);
    check_received(&rsyslog, input, &severities_wanted(pid, low));
}

#[test]
fn udp_events_are_parsed_by_rsyslog_as_rfc5424() {
    severities_through("imudp");
}

#[test]
fn tcp_octet_counted_events_are_parsed_by_rsyslog_as_rfc5424() {
    severities_through("imtcp");
}

#[test]
fn unix_socket_events_are_parsed_by_rsyslog_as_rfc5424() {
    severities_through("imuxsock");
}

#[test]
fn file_events_are_whole_rfc5424_lines() {
    let dir = TempDir::new("logging", "severities-file");
    let low = free_tcp_port();
    let rules = severities_rules(&dir, low);
    let log = dir.join("events.log");
    let pid = run_bash_severities(&rules, &format!("file:{}", log.display()), low);
    let contents = fs::read_to_string(&log).unwrap();
    assert!(contents.ends_with('\n'), "{contents:?}");
    let records: Vec<Record> = contents.lines().map(Record::from_line).collect();
    let wants = severities_wanted(pid, low);
    assert_eq!(records.len(), wants.len(), "{contents}");
    for (want, record) in wants.iter().zip(&records) {
        want.check(record, "file");
    }
}

// ------------------------------------------------------------------------------------------------
// Escaping, from the rules file to what rsyslog parsed

/// Names, a message and a metadata value with `|`, `=`, `\`, `"` and non-ASCII text. The rules
/// language has no other escapes than `\"` and `\\`, and no line break inside a string.
const ODD_RULES: &str = r#"app("Esc|App=\\é 日本"):
    requires(version: ARMR/2.11)
    metadata(log: {note: "v|=\\é 日本"})
    socket("r|n=\\é 日本"):
        connect("0.0.0.0:0")
        protect(message: "m|s=\\é 日本 \"q\"", severity: Medium)
    endsocket
endapp
"#;

fn odd_wanted(pid: u32) -> Want {
    // CEF header fields escape `\` and `|`; extension values escape `\` and `=`.
    Want::connect(
        12,
        ODD_APP_NAME,
        pid,
        r#"ARMR:Esc\|App=\\é 日本|Esc\|App=\\é 日本|2.11|r\|n=\\é 日本|Execute Rule|Medium"#,
        1,
        "protect",
        r#" msg=m|s\=\\é 日本 "q" note=v|\=\\é 日本"#,
        9,
    )
}

fn run_odd(rules: &Path, log: &str) -> u32 {
    let (pid, out, _) = run(armr(
        Command::new(&programs().odd).args(["count", "127.0.0.1", "9", "1"]),
        rules,
        log,
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "refused=1 other=0\n");
    assert_eq!(text(&out.stderr), "", "ARMR_LOG={log}");
    pid
}

#[test]
fn escaping_survives_the_file_destination_and_rsyslog() {
    let dir = TempDir::new("logging", "escaping");
    let rules = dir.write("odd.armr", ODD_RULES);
    // The file: the line as armr wrote it.
    let log = dir.join("events.log");
    let pid = run_odd(&rules, &format!("file:{}", log.display()));
    let contents = fs::read_to_string(&log).unwrap();
    assert_eq!(contents.matches('\n').count(), 1, "{contents}");
    odd_wanted(pid).check(&Record::from_line(contents.trim_end_matches('\n')), "file");
    // Each input of rsyslog: what it parsed.
    let rsyslog = Rsyslog::start(&dir);
    for (log, input) in rsyslog.destinations() {
        let pid = run_odd(&rules, &log);
        check_received(&rsyslog, input, &[odd_wanted(pid)]);
    }
}

// ------------------------------------------------------------------------------------------------
// The open Rampart specification's metadata in events

/// A file as the open specification and its reference parser write one: the `RAMPART/` prefix,
/// severity `Med`, standardized metadata keys, and two `log` dictionaries that merge.
const SPEC_RULES: &str = r#"app("Spec"):
    requires(version: RAMPART/2.8)
    metadata(cve: "CVE-2021-44228", log: {creation-time: "2022 Dec 03 09:04:55"}, log: {cwe: ["CWE-917", "CWE-20"]})
    socket("spec rule"):
        connect("0.0.0.0:0")
        protect(message: "spec", severity: Med)
    endsocket
endapp
"#;

fn spec_wanted(pid: u32) -> Want {
    // `creation-time` is written as it stands; a standardized list is written joined by `,`;
    // `cve` outside `log` is not logged.
    Want::connect(
        12,
        "connector",
        pid,
        "ARMR:Spec|Spec|2.8|spec rule|Execute Rule|Medium",
        1,
        "protect",
        " msg=spec creation-time=2022 Dec 03 09:04:55 cwe=CWE-917,CWE-20",
        9,
    )
}

#[test]
fn the_specifications_metadata_log_keys_reach_the_event_as_written() {
    let dir = TempDir::new("logging", "spec-metadata");
    let rules = dir.write("spec.armr", SPEC_RULES);
    let log = dir.join("events.log");
    let (pid, out, _) = run(armr(
        Command::new(&programs().connector).args(["count", "127.0.0.1", "9", "1"]),
        &rules,
        &format!("file:{}", log.display()),
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "refused=1 other=0\n");
    let contents = fs::read_to_string(&log).unwrap();
    assert_eq!(contents.matches('\n').count(), 1, "{contents}");
    spec_wanted(pid).check(&Record::from_line(contents.trim_end_matches('\n')), "file");
}

// ------------------------------------------------------------------------------------------------
// Several writers, one file

#[test]
fn concurrent_writers_to_one_file_leave_whole_lines() {
    const WRITERS: usize = 8;
    const EVENTS: usize = 200;
    let dir = TempDir::new("logging", "concurrent");
    let rules = dir.write(
        "rules.armr",
        "app(\"Many\"):\n requires(version: ARMR/2.11)\n socket(\"no egress\"):\n  connect(\"0.0.0.0:0\")\n  protect(message: \"outgoing connection blocked\", severity: High)\n endsocket\nendapp\n",
    );
    let log = dir.join("events.log");
    let target = format!("file:{}", log.display());
    let children: Vec<Child> = (0..WRITERS)
        .map(|_| {
            armr(
                Command::new(&programs().connector).args([
                    "count",
                    "127.0.0.1",
                    "9",
                    &EVENTS.to_string(),
                ]),
                &rules,
                &target,
            )
            .spawn()
            .unwrap()
        })
        .collect();
    let mut pids = Vec::new();
    for child in children {
        pids.push(child.id());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), format!("refused={EVENTS} other=0\n"));
        assert_eq!(text(&out.stderr), "", "no event was dropped");
    }
    let contents = fs::read_to_string(&log).unwrap();
    assert!(contents.ends_with('\n'));
    let lines: Vec<&str> = contents.lines().collect();
    assert_eq!(lines.len(), WRITERS * EVENTS, "one line per event");
    for pid in &pids {
        let want = Want::connect(
            10,
            "connector",
            *pid,
            "ARMR:Many|Many|2.11|no egress|Execute Rule|High",
            1,
            "protect",
            " msg=outgoing connection blocked",
            9,
        );
        let mine: Vec<Record> = lines
            .iter()
            .map(|l| Record::from_line(l))
            .filter(|r| r.procid == pid.to_string())
            .collect();
        assert_eq!(mine.len(), EVENTS, "events of {pid}");
        for record in &mine {
            want.check(record, "file");
        }
    }
}

// ------------------------------------------------------------------------------------------------
// A destination that is down

const LOGGED_RULES: &str = "app(\"Down\"):\n requires(version: ARMR/2.11)\n socket(\"no egress\"):\n  connect(\"0.0.0.0:0\")\n  protect(message: \"outgoing connection blocked\", severity: High)\n endsocket\nendapp\n";

/// 1000 logged, refused connects with nobody at the destination: the program is not held up, and
/// at exit standard error counts every event (the report that armr then tries to send is not
/// counted in that line).
fn down_destination(log: &str, rules: &Path) {
    let (_, out, elapsed) = run(armr(
        Command::new(&programs().connector).args(["count", "127.0.0.1", "9", "1000"]),
        rules,
        log,
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "refused=1000 other=0\n");
    assert_eq!(
        text(&out.stderr),
        format!(
            "armr: 1000 events could not be delivered to ARMR_LOG={log}: it was unavailable or too slow\n"
        )
    );
    // A sanity bound, not a benchmark: nothing waits on the dead destination.
    assert!(
        elapsed < Duration::from_secs(5),
        "1000 connects took {elapsed:?} with ARMR_LOG={log}"
    );
}

#[test]
fn a_dead_tcp_destination_drops_and_counts_without_holding_the_program_up() {
    let dir = TempDir::new("logging", "dead-tcp");
    let rules = dir.write("rules.armr", LOGGED_RULES);
    down_destination(&format!("tcp://127.0.0.1:{}", free_tcp_port()), &rules);
}

#[test]
fn a_missing_syslog_socket_drops_and_counts() {
    let dir = TempDir::new("logging", "dead-unix");
    let rules = dir.write("rules.armr", LOGGED_RULES);
    down_destination(
        &format!("syslog:{}", dir.join("nobody.sock").display()),
        &rules,
    );
}

#[test]
fn a_tcp_destination_that_comes_up_gets_the_count_of_what_was_dropped() {
    const BEFORE: u64 = 25;
    const AFTER: usize = 5;
    let dir = TempDir::new("logging", "recovery");
    let rules = dir.write("rules.armr", LOGGED_RULES);
    let port = free_tcp_port();
    let log = format!("tcp://127.0.0.1:{port}");
    let mut child = armr(
        Command::new(&programs().connector).args([
            "pause",
            "127.0.0.1",
            "9",
            &BEFORE.to_string(),
            &AFTER.to_string(),
        ]),
        &rules,
        &log,
    )
    .stdin(Stdio::piped())
    .spawn()
    .unwrap();
    let pid = child.id();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "paused\n");
    let paused = Instant::now();
    // The destination comes up.
    let rsyslog = Rsyslog::start_on(&dir, port);
    // armr tries to reconnect at most once a second.
    std::thread::sleep(Duration::from_millis(1200).saturating_sub(paused.elapsed()));
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        rest,
        format!("refused={} other=0\n", BEFORE as usize + AFTER)
    );
    assert_eq!(
        text(&out.stderr),
        "",
        "every drop was reported to the destination"
    );
    // The first event that gets through, then the report of the ones before it, then the others.
    let event = Want::connect(
        10,
        "connector",
        pid,
        "ARMR:Down|Down|2.11|no egress|Execute Rule|High",
        1,
        "protect",
        " msg=outgoing connection blocked",
        9,
    );
    let mut wants = vec![event.clone(), Want::dropped("connector", pid, BEFORE)];
    wants.extend(std::iter::repeat_n(event, AFTER - 1));
    check_received(&rsyslog, "imtcp", &wants);
}

// ------------------------------------------------------------------------------------------------
// Stack traces, metadata, fork, a program that closes armr's descriptor

#[test]
fn a_full_stacktrace_names_the_programs_frames_and_none_of_armrs() {
    let dir = TempDir::new("logging", "stacktrace");
    let rules = dir.write(
        "rules.armr",
        "app(\"Stack\"):\n requires(version: ARMR/2.11)\n metadata(log: {team: \"red\"})\n socket(\"traced\"):\n  connect(\"0.0.0.0:0\")\n  protect(message: \"traced\", severity: High, stacktrace: \"full\")\n endsocket\nendapp\n",
    );
    let log = dir.join("events.log");
    let (pid, out, _) = run(armr(
        Command::new(&programs().connector).args(["count", "127.0.0.1", "9", "1"]),
        &rules,
        &format!("file:{}", log.display()),
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let contents = fs::read_to_string(&log).unwrap();
    assert_eq!(
        contents.matches('\n').count(),
        1,
        "the stack trace stays on the event's line: {contents}"
    );
    let record = Record::from_line(contents.trim_end());
    let fields = format!(
        " dvchost={} procid={pid} appVersion=1 ruleType=socket securityFeature=socket connect act=protect msg=traced stacktrace=",
        hostname()
    );
    let after = record
        .msg
        .split_once(&fields)
        .unwrap_or_else(|| panic!("{}", record.msg))
        .1;
    // Metadata and the address come after the stack trace.
    let (trace, end) = after
        .split_once(" team=")
        .unwrap_or_else(|| panic!("{after}"));
    assert_eq!(end, "red remoteIpAddress=127.0.0.1 remotePort=9");
    // Frames, innermost first, joined by the two characters `\n`.
    assert!(!trace.contains('\n'));
    let frames: Vec<&str> = trace.split("\\n").collect();
    for frame in &frames {
        let (name, place) = frame
            .split_once(" (")
            .unwrap_or_else(|| panic!("frame {frame:?} in {trace}"));
        assert!(!name.is_empty() && !name.contains(' '), "frame {frame:?}");
        let place = place
            .strip_suffix(')')
            .unwrap_or_else(|| panic!("frame {frame:?}"));
        let offset = match place.rsplit_once("+0x") {
            Some((module, offset)) => {
                assert!(!module.is_empty(), "frame {frame:?}");
                offset
            }
            None => place
                .strip_prefix("0x")
                .unwrap_or_else(|| panic!("frame {frame:?}")),
        };
        assert!(
            !offset.is_empty() && offset.bytes().all(|b| b.is_ascii_hexdigit()),
            "frame {frame:?}"
        );
        assert!(
            !frame.contains("libarmr"),
            "a frame of armr itself: {frame:?} in {trace}"
        );
    }
    let names: Vec<&str> = frames
        .iter()
        .map(|f| f.split_once(" (").unwrap().0)
        .collect();
    assert_eq!(
        &names[..3],
        ["connect_once", "connect_many", "main"],
        "{trace}"
    );
    for frame in &frames[..3] {
        assert!(frame.contains(" (connector+0x"), "{frame:?}");
    }
}

#[test]
fn a_forked_child_logs_its_own_pid() {
    let dir = TempDir::new("logging", "fork");
    let rules = dir.write("rules.armr", LOGGED_RULES);
    let rsyslog = Rsyslog::start(&dir);
    // Over TCP the child shares the parent's connection; each frame still arrives whole.
    let log = format!("tcp://127.0.0.1:{}", rsyslog.tcp);
    let (_, out, _) = run(armr(
        &mut python_program("fork_pid.py", &["9"]),
        &rules,
        &log,
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let stdout = text(&out.stdout);
    let f: Vec<&str> = stdout.split_whitespace().collect();
    let (parent, child, comm): (u32, u32, &str) =
        (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2]);
    assert_ne!(parent, child);
    for (pid, count) in [(parent, 2), (child, 2)] {
        let event = Want::connect(
            10,
            comm,
            pid,
            "ARMR:Down|Down|2.11|no egress|Execute Rule|High",
            1,
            "protect",
            " msg=outgoing connection blocked",
            9,
        );
        check_received(&rsyslog, "imtcp", &vec![event; count]);
    }
}

/// The sum of the counts of armr's "N events could not be delivered" lines.
fn undelivered(stderr: &[u8]) -> u64 {
    text(stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("armr: "))
        .filter(|l| l.contains(" could not be delivered to ARMR_LOG="))
        .map(|l| l.split(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

/// Ten events dropped by the parent, then a fork: the child drops nothing of its own, yet
/// `Sink::after_fork` (sink/src/sink.rs) leaves it the parent's count, which both processes
/// then report at exit (and the child would report in its first recovery line).
#[test]
fn dropped_events_are_counted_once_across_fork() {
    let dir = TempDir::new("logging", "fork-drops");
    let rules = dir.write("rules.armr", LOGGED_RULES);
    let log = format!("tcp://127.0.0.1:{}", free_tcp_port());
    let (_, out, _) = run(armr(
        &mut python_program("fork_drops.py", &["9"]),
        &rules,
        &log,
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(undelivered(&out.stderr), 10, "{}", text(&out.stderr));
}

/// A program that closes every descriptor it did not open and reuses the numbers: armr never
/// writes into the program's file `own`, and its events still arrive.
fn closed_descriptor(dir: &TempDir, log: &str, own: &Path) -> u32 {
    let rules = dir.write("rules.armr", LOGGED_RULES);
    let (pid, out, _) = run(armr(
        Command::new(&programs().connector).args([
            "closefds",
            "127.0.0.1",
            "9",
            own.to_str().unwrap(),
        ]),
        &rules,
        log,
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "refused=2 other=0\n");
    assert_eq!(text(&out.stderr), "");
    assert_eq!(
        fs::read_to_string(own).unwrap(),
        "program data\nmore program data\n",
        "ARMR_LOG={log}"
    );
    pid
}

fn closed_descriptor_event(pid: u32) -> Want {
    Want::connect(
        10,
        "connector",
        pid,
        "ARMR:Down|Down|2.11|no egress|Execute Rule|High",
        1,
        "protect",
        " msg=outgoing connection blocked",
        9,
    )
}

/// A new empty file in `dir` whose inode number `wanted` accepts.
fn file_whose_inode(dir: &TempDir, wanted: impl Fn(u64) -> bool) -> PathBuf {
    for i in 0..1000 {
        let path = dir.join(&format!("own-{i}.txt"));
        fs::write(&path, "").unwrap();
        if wanted(fs::metadata(&path).unwrap().ino()) {
            return path;
        }
    }
    panic!("no file in {} got a suitable inode number", dir.0.display());
}

/// The program's file and armr's log file, both existing before the program starts; `pair` says
/// whether their inode numbers differ only in the lowest bit.
fn closed_file_descriptor(test: &str, pair: bool) {
    let dir = TempDir::new("logging", test);
    let log = dir.join("events.log");
    fs::write(&log, "").unwrap();
    let log_inode = fs::metadata(&log).unwrap().ino();
    let own = file_whose_inode(&dir, |ino| {
        (ino ^ log_inode == 1) == pair && ino != log_inode
    });
    let pid = closed_descriptor(&dir, &format!("file:{}", log.display()), &own);
    let records: Vec<Record> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(Record::from_line)
        .collect();
    assert_eq!(records.len(), 2, "{records:#?}");
    for record in &records {
        closed_descriptor_event(pid).check(record, "file");
    }
}

#[test]
fn a_program_closing_armrs_file_descriptor() {
    closed_file_descriptor("closefds-file", false);
}

/// armr tells its descriptor from the program's by device and inode, but its identity value
/// (sink/src/sink.rs `identity_of`: `dev.rotate_left(40) ^ ino | 1`) loses the lowest bit of
/// the inode number: a program file whose inode differs from the log's only there passes for
/// armr's log, and armr writes its events into the program's file.

#[test]
fn a_program_closing_armrs_tcp_connection() {
    let dir = TempDir::new("logging", "closefds-tcp");
    let rsyslog = Rsyslog::start(&dir);
    let pid = closed_descriptor(
        &dir,
        &format!("tcp://127.0.0.1:{}", rsyslog.tcp),
        &dir.join("own.txt"),
    );
    check_received(
        &rsyslog,
        "imtcp",
        &[closed_descriptor_event(pid), closed_descriptor_event(pid)],
    );
}

// ------------------------------------------------------------------------------------------------
// A destination name with several addresses

/// The octet-counted frames (RFC 6587) of a TCP stream.
fn octet_frames(mut stream: &[u8]) -> Vec<String> {
    let mut frames = Vec::new();
    while let Some(space) = stream.iter().position(|&b| b == b' ') {
        let len: usize = text(&stream[..space]).parse().expect("a frame length");
        frames.push(text(&stream[space + 1..space + 1 + len]));
        stream = &stream[space + 1 + len..];
    }
    assert!(stream.is_empty(), "a cut frame: {:?}", text(stream));
    frames
}

/// `tcp://localhost:PORT` where `localhost` is `::1` and then `127.0.0.1`, and the collector
/// listens on 127.0.0.1 only: armr tries each address in order, as a TCP client does, and the
/// events arrive (the first address alone would lose every one).
#[test]
fn a_tcp_destination_name_is_tried_at_each_of_its_addresses() {
    let dir = TempDir::new("logging", "every-address");
    let rules = dir.write("rules.armr", LOGGED_RULES);
    let shim = c_library("dual_stack_localhost");
    let (collector, port) = tcp_listener("127.0.0.1:0");
    let received = std::thread::spawn(move || {
        let (mut stream, _) = collector.accept().unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut stream, &mut bytes).unwrap();
        bytes
    });
    let log = format!("tcp://localhost:{port}");
    let (pid, out, _) = run(armr(
        Command::new(&programs().connector).args(["count", "127.0.0.1", "9", "3"]),
        &rules,
        &log,
    )
    .env(
        "LD_PRELOAD",
        format!("{}:{}", library().display(), shim.display()),
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "refused=3 other=0\n");
    assert_eq!(text(&out.stderr), "", "no event was lost");
    if !received.is_finished() {
        // Nothing connected: end the accept with a connection of our own.
        let _ = TcpStream::connect(("127.0.0.1", port));
    }
    let frames = octet_frames(&received.join().unwrap());
    assert_eq!(frames.len(), 3, "{frames:#?}");
    let want = Want::connect(
        10,
        "connector",
        pid,
        "ARMR:Down|Down|2.11|no egress|Execute Rule|High",
        1,
        "protect",
        " msg=outgoing connection blocked",
        9,
    );
    for frame in &frames {
        // A frame holds the line as armr writes it to a file.
        want.check(&Record::from_line(frame), "file");
    }
}

/// The same for `udp://`: connecting a UDP socket succeeds at any address the kernel can route
/// (`::1` first), so armr learns that nobody listens there only when the kernel reports a send
/// refused (ICMP port unreachable). It then moves to the next address, `127.0.0.1`, at its next
/// reconnection (at most once a second): the events after it arrive, with the count of those lost.
#[test]
fn a_udp_destination_moves_to_the_next_address_when_one_refuses() {
    const BEFORE: u64 = 20;
    const AFTER: usize = 5;
    let dir = TempDir::new("logging", "udp-next-address");
    let rules = dir.write("rules.armr", LOGGED_RULES);
    let shim = c_library("dual_stack_localhost");
    let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = collector.local_addr().unwrap().port();
    collector.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut child = armr(
        Command::new(&programs().connector).args([
            "pause",
            "127.0.0.1",
            "9",
            &BEFORE.to_string(),
            &AFTER.to_string(),
        ]),
        &rules,
        &format!("udp://localhost:{port}"),
    )
    .env(
        "LD_PRELOAD",
        format!("{}:{}", library().display(), shim.display()),
    )
    .stdin(Stdio::piped())
    .spawn()
    .unwrap();
    let pid = child.id();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "paused\n");
    // armr reconnects at most once a second.
    std::thread::sleep(Duration::from_millis(1200));
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "",
        "every loss was reported to the collector"
    );
    let mut datagrams = Vec::new();
    let mut buf = [0u8; 65536];
    while datagrams.len() < AFTER + 1 {
        let n = collector
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("{e}: received {datagrams:#?}"));
        datagrams.push(text(&buf[..n]));
    }
    let event = Want::connect(
        10,
        "connector",
        pid,
        "ARMR:Down|Down|2.11|no egress|Execute Rule|High",
        1,
        "protect",
        " msg=outgoing connection blocked",
        9,
    );
    // The first event at 127.0.0.1, the report of those lost at ::1 (sent there, or refused:
    // the one whose refusal was reported is lost uncounted, as logging.md says), the others.
    event.check(&Record::from_line(&datagrams[0]), "file");
    let report = Record::from_line(&datagrams[1]);
    let lost: u64 = report
        .msg
        .split_once(" cnt=")
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{report:#?}"));
    assert!((1..=BEFORE).contains(&lost), "{report:#?}");
    Want::dropped("connector", pid, lost).check(&report, "file");
    for datagram in &datagrams[2..] {
        event.check(&Record::from_line(datagram), "file");
    }
}

// ------------------------------------------------------------------------------------------------
// A message longer than an event line

/// Undoes CEF extension escaping; `None` for a backslash that escapes nothing (a cut escape).
fn cef_unescape(value: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            c @ ('\\' | '=') => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

/// A rule message of 9000 characters does not fit in an event line (8 KiB): the message is cut,
/// ending with `[truncated]`, and every field after it is kept (metadata, the address). The cut
/// leaves no half escape and no half character, and the line is as long as the limit allows.
#[test]
fn a_message_longer_than_the_line_is_truncated_and_the_fields_after_it_kept() {
    let dir = TempDir::new("logging", "long-message");
    // `=` and `\` are escaped (two bytes each), `é` and `日本` are several bytes each.
    let message: String = "a=é\\ 日本 ".chars().cycle().take(9000).collect();
    let written = message.replace('\\', "\\\\");
    let rules = dir.write(
        "rules.armr",
        &format!(
            "app(\"Long\"):\n requires(version: ARMR/2.11)\n metadata(log: {{team: \"red\"}})\n socket(\"long\"):\n  connect(\"0.0.0.0:0\")\n  protect(message: \"{written}\", severity: High)\n endsocket\nendapp\n"
        ),
    );
    let log = dir.join("events.log");
    let (pid, out, _) = run(armr(
        Command::new(&programs().connector).args(["count", "127.0.0.1", "9", "1"]),
        &rules,
        &format!("file:{}", log.display()),
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let contents = fs::read_to_string(&log).expect("the log is UTF-8 text");
    assert_eq!(contents.matches('\n').count(), 1, "one line: {contents}");
    assert!(
        (8192 - 3..=8192).contains(&contents.len()),
        "as long as the limit allows: {} bytes",
        contents.len()
    );
    let head = format!(
        " dvchost={} procid={pid} appVersion=1 ruleType=socket securityFeature=socket connect act=protect msg=",
        hostname()
    );
    let (_, after) = contents
        .split_once(&head)
        .unwrap_or_else(|| panic!("{contents}"));
    let (cut, fields) = after
        .split_once("[truncated]")
        .unwrap_or_else(|| panic!("no truncation marker: {after}"));
    assert_eq!(
        fields, " team=red remoteIpAddress=127.0.0.1 remotePort=9\n",
        "every field after msg is kept, exactly"
    );
    let kept = cef_unescape(cut).unwrap_or_else(|| panic!("a cut escape: {cut:?}"));
    assert!(cut.len() > 7500, "{} bytes of the message kept", cut.len());
    assert!(
        message.starts_with(&kept),
        "the message's beginning, whole characters: {kept:?}"
    );
}

/// `syslog:SOCKET` with a path too long for a unix socket address stops the program (closed)
/// with an error that says the limit and what to do, not only "too long".
#[test]
fn a_syslog_socket_path_too_long_says_the_limit_and_the_fix() {
    let dir = TempDir::new("logging", "long-socket-path");
    let rules = manifest().join("rules/demo.armr");
    let long = format!("/tmp/{}.sock", "x".repeat(120));
    let mut command = Command::new("true");
    support::without_armr_env(&mut command)
        .env("LD_PRELOAD", library())
        .env("ARMR_RULES", &rules)
        .env("ARMR_LOG", format!("syslog:{long}"))
        .current_dir(&dir.0);
    let out = command.output().expect("run true");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).starts_with(&format!(
            "armr: error: ARMR_LOG: {long}: the socket path is 130 bytes, more than the 107 a unix \
             socket address holds: give the daemon's socket a shorter path (such as \
             /run/armr/log.sock)\n"
        )),
        "{}",
        text(&out.stderr)
    );
}
