//! `ARMR_LOG`'s formats and destinations (docs/logging.md): each format read by a real consumer
//! (rsyslog for the envelope, pycef for `cef`, python's json module for `json`), several
//! destinations at once (one failing while the others keep receiving), and `ARMR_LOG_LIMIT`.
//!
//! The programs run under `target/release/libarmr.so` (`cargo build --release` first): bash,
//! whose `/dev/tcp` redirections connect through libc.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod support;
use support::net::free_tcp_port;
use support::rsyslog::Rsyslog;
use support::{TempDir, library, manifest, python, text};

/// A rule that refuses connections to 127.0.0.1:9 (no system call made), with metadata, and a
/// detect rule for a closed port `low` (the connect really happens and fails).
fn rules(dir: &TempDir, low: u16) -> PathBuf {
    dir.write(
        "siem.armr",
        &format!(
            r#"app("SIEM Test"):
    requires(version: ARMR/2.11)
    version(3)
    metadata(log: {{team: "blue"}})
    socket("no discard"):
        connect("127.0.0.1:9")
        protect(message: "blocked \"nine\"", severity: High)
    endsocket
    socket("seen low"):
        connect("127.0.0.1:{low}")
        detect(message: "seen", severity: Low)
    endsocket
endapp
"#
        ),
    )
}

/// bash connecting to each port in turn (`sleep` seconds before the last one when given); its
/// pid and output.
fn bash(rules: &Path, log: &str, ports: &[u16], env: &[(&str, &str)]) -> (u32, Output) {
    let script = ports
        .iter()
        .map(|p| format!("echo > /dev/tcp/127.0.0.1/{p}"))
        .collect::<Vec<_>>()
        .join("; ")
        + "; exit 0";
    let mut command = Command::new("bash");
    support::without_armr_env(&mut command)
        .args(["-c", &script])
        .env("LD_PRELOAD", library())
        .env("ARMR_RULES", rules)
        .env("ARMR_LOG", log)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().unwrap();
    let pid = child.id();
    (pid, child.wait_with_output().unwrap())
}

/// Each event of `file` as the consumer of `format` reads it (`tests/programs/siem_consumer.py`).
fn consume(format: &str, file: &Path) -> Vec<BTreeMap<String, String>> {
    let out = Command::new(python())
        .arg(manifest().join("tests/programs/siem_consumer.py"))
        .arg(format)
        .arg(file)
        .env_remove("LD_PRELOAD")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the {format} consumer failed on {}: {}\n{}",
        file.display(),
        text(&out.stderr),
        fs::read_to_string(file).unwrap_or_default()
    );
    text(&out.stdout)
        .split("--\n")
        .filter(|e| !e.is_empty())
        .map(|event| {
            event
                .lines()
                .map(|l| {
                    let (k, v) = l.split_once('=').unwrap();
                    (k.to_string(), v.to_string())
                })
                .collect()
        })
        .collect()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn wait_for_lines(file: &Path, count: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let lines: Vec<String> = fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect();
        if lines.len() >= count || start.elapsed() > Duration::from_secs(5) {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One run writes the same two events to three files, one per format: the armr line is the
/// vendor's, the `cef` line parses with pycef into the ArcSight dictionary's keys, the `json`
/// line parses with python's json module into the Elastic Common Schema's fields.
#[test]
fn each_format_is_read_by_a_real_consumer() {
    let dir = TempDir::new("siem", "formats");
    let low = free_tcp_port();
    let rules = rules(&dir, low);
    let (armr, cef, json) = (dir.join("a.log"), dir.join("a.cef"), dir.join("a.json"));
    let log = format!(
        "file:{},cef+file:{},json+file:{}",
        armr.display(),
        cef.display(),
        json.display()
    );
    let before = now_ms();
    let (pid, out) = bash(&rules, &log, &[9, low], &[]);
    let after = now_ms();
    assert!(
        text(&out.stderr).contains("/dev/tcp/127.0.0.1/9: Connection refused"),
        "{}",
        text(&out.stderr)
    );
    let host = support::net::hostname();

    let lines = wait_for_lines(&armr, 2);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].contains(&format!(
            " bash {pid} - - CEF:0|ARMR:SIEM Test|SIEM Test|2.11|no discard|Execute Rule|High|rt="
        )) && lines[0].ends_with(&format!(
            "dvchost={host} procid={pid} appVersion=3 ruleType=socket securityFeature=socket \
             connect act=protect msg=blocked \"nine\" team=blue remoteIpAddress=127.0.0.1 \
             remotePort=9"
        )),
        "the armr format is the vendor's line: {}",
        lines[0]
    );

    let events = consume("cef", &cef);
    assert_eq!(events.len(), 2, "{events:?}");
    for (event, (rule, port, act, outcome)) in events.iter().zip([
        ("no discard", 9, "protect", "failure"),
        ("seen low", low, "detect", "success"),
    ]) {
        let get = |k: &str| event.get(k).map(String::as_str).unwrap_or("");
        assert_eq!(get("DeviceVendor"), "ARMR:SIEM Test");
        assert_eq!(get("DeviceEventClassID"), rule);
        assert_eq!(get("dst"), "127.0.0.1", "{event:?}");
        assert_eq!(get("dpt"), port.to_string());
        assert_eq!(get("proto"), "TCP", "{event:?}");
        assert_eq!(get("act"), act);
        assert_eq!(get("outcome"), outcome);
        assert_eq!(get("dvcpid"), pid.to_string());
        assert_eq!(get("deviceProcessName"), "bash");
        // pycef names a custom string by its label.
        assert_eq!(get("ruleName"), rule);
        assert_eq!(get("appName"), "SIEM Test");
        assert_eq!(get("team"), "blue");
        let rt: u64 = get("rt").parse().expect("rt in epoch milliseconds");
        assert!(
            before <= rt && rt <= after,
            "rt={rt} not in {before}..{after}"
        );
    }
    assert_eq!(events[0].get("msg").unwrap(), "blocked \"nine\"");

    let events = consume("json", &json);
    assert_eq!(events.len(), 2, "{events:?}");
    for (event, (rule, port, act, outcome)) in events.iter().zip([
        ("no discard", 9, "protect", "failure"),
        ("seen low", low, "detect", "success"),
    ]) {
        let get = |k: &str| event.get(k).map(String::as_str).unwrap_or("");
        let ts = get("@timestamp");
        assert!(ts.ends_with('Z') && ts.len() == 24, "{ts}");
        assert_eq!(get("event.action"), "connect");
        assert_eq!(get("event.outcome"), outcome);
        assert_eq!(get("destination.ip"), "127.0.0.1");
        assert_eq!(get("destination.port"), port.to_string());
        assert_eq!(get("network.transport"), "tcp", "{event:?}");
        assert_eq!(get("process.pid"), pid.to_string());
        assert_eq!(get("process.name"), "bash");
        assert_eq!(get("rule.name"), rule);
        assert_eq!(get("rule.ruleset"), "SIEM Test");
        assert_eq!(get("host.hostname"), host);
        assert_eq!(get("labels.team"), "blue");
        assert_eq!(get("armr.act"), act);
        assert!(!event.contains_key("source.ip"));
    }
    assert_eq!(events[0]["message"], "blocked \"nine\"");
    assert_eq!(events[0]["event.type"], "[\"connection\", \"denied\"]");
}

/// The `cef` and `json` lines through a real syslog daemon: rsyslog parses the RFC 5424 envelope
/// of the `cef` line (PRI, APP-NAME, PROCID) and receives the `json` object whole.
#[test]
fn the_cef_format_keeps_the_syslog_envelope_rsyslog_parses() {
    let dir = TempDir::new("siem", "rsyslog");
    let rsyslog = Rsyslog::start(&dir);
    let rules = rules(&dir, free_tcp_port());
    let log = format!(
        "cef+udp://127.0.0.1:{},json+tcp://127.0.0.1:{}",
        rsyslog.udp, rsyslog.tcp
    );
    let (pid, _) = bash(&rules, &log, &[9], &[]);
    let records = rsyslog.wait_for(pid, 1);
    let r = &records[0];
    assert_eq!((r.pri, r.app.as_str()), (10, "bash"), "{r:?}");
    assert!(
        r.msg.starts_with("CEF:0|ARMR:SIEM Test|") && r.msg.contains(" dst=127.0.0.1 dpt=9 "),
        "{r:?}"
    );
    // The json object has no syslog header: rsyslog keeps it whole as the raw message.
    let start = Instant::now();
    let raw = loop {
        let raw: Vec<String> = rsyslog
            .raw_lines()
            .into_iter()
            .filter(|l| l.contains("\"event\":{"))
            .collect();
        if !raw.is_empty() || start.elapsed() > Duration::from_secs(5) {
            break raw;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(raw.len(), 1, "{raw:?}\n{}", rsyslog.diagnostics());
    assert!(
        raw[0].starts_with("{\"@timestamp\":\"") && raw[0].ends_with("}}"),
        "{}",
        raw[0]
    );
}

/// Two destinations at once, one of them down (a syslog socket nobody listens on): the file
/// receives every event, the other's losses are counted and reported at exit, naming it.
#[test]
fn a_destination_that_fails_does_not_stop_the_others() {
    let dir = TempDir::new("siem", "two");
    let rules = rules(&dir, free_tcp_port());
    let file = dir.join("events.json");
    let down = dir.join("nobody.sock");
    let log = format!("syslog:{},json+file:{}", down.display(), file.display());
    let (_, out) = bash(&rules, &log, &[9, 9, 9], &[]);
    let events = consume("json", &file);
    assert_eq!(events.len(), 3, "{events:?}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "armr: 3 events could not be delivered to ARMR_LOG={log}"
        )),
        "{stderr}"
    );
    // Each destination counts and reports its own losses: the file lost nothing.
    assert!(events.iter().all(|e| e["rule.name"] == "no discard"));
}

/// `ARMR_LOG_LIMIT=2`: of five events of a rule in the same second two are written; the next
/// event, a second later, is written with the count of itself and the three suppressed.
#[test]
fn the_limit_writes_at_most_n_events_per_rule_a_second_and_counts_the_rest() {
    let dir = TempDir::new("siem", "limit");
    let rules = rules(&dir, free_tcp_port());
    let file = dir.join("events.log");
    let json = dir.join("events.json");
    let log = format!("file:{},json+file:{}", file.display(), json.display());
    let script_ports = [9, 9, 9, 9, 9];
    let mut command = Command::new("bash");
    let script = script_ports
        .iter()
        .map(|p| format!("echo > /dev/tcp/127.0.0.1/{p}"))
        .collect::<Vec<_>>()
        .join("; ")
        + "; sleep 1.2; echo > /dev/tcp/127.0.0.1/9; exit 0";
    support::without_armr_env(&mut command)
        .args(["-c", &script])
        .env("LD_PRELOAD", library())
        .env("ARMR_RULES", &rules)
        .env("ARMR_LOG", &log)
        .env("ARMR_LOG_LIMIT", "2")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let lines = wait_for_lines(&file, 3);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(!lines[0].contains(" cnt=") && !lines[1].contains(" cnt="));
    assert!(lines[2].contains(" team=blue cnt=4 "), "{}", lines[2]);
    let events = consume("json", &json);
    assert_eq!(events.len(), 3);
    assert_eq!(events[2]["event.count"], "4");

    // Through the launcher too (it writes the setting into the program's armr.env).
    let launched = dir.join("launched.log");
    let mut command = Command::new(support::manifest().join("scripts/armr-run"));
    support::without_armr_env(&mut command)
        .args(["-r", rules.to_str().unwrap(), "-l"])
        .arg(format!("file:{}", launched.display()))
        .args(["--", "bash", "-c", &script])
        .env("ARMR_LOG_LIMIT", "2")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let lines = wait_for_lines(&launched, 3);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines[2].contains(" team=blue cnt=4 "), "{}", lines[2]);

    // Off by default: all six.
    let (_, _) = bash(
        &rules,
        &format!("file:{}", dir.join("all.log").display()),
        &[9; 6],
        &[],
    );
    assert_eq!(wait_for_lines(&dir.join("all.log"), 6).len(), 6);
    // A wrong value stops the program (ARMR_ON_ERROR=closed), naming the setting.
    let (_, out) = bash(&rules, "stderr", &[9], &[("ARMR_LOG_LIMIT", "many")]);
    assert!(
        text(&out.stderr).contains("ARMR_LOG_LIMIT=many: expected a number"),
        "{}",
        text(&out.stderr)
    );
}

/// The seccomp engine writes through the same formatters: a static program (`tests/engine_programs/
/// net.c`, which `LD_PRELOAD` cannot reach) under `armr run --engine seccomp -l
/// cef+file:A,json+file:B`, its refused connect read back by pycef and python's json module.
#[test]
fn the_seccomp_engine_writes_each_format_too() {
    let dir = TempDir::new("siem", "seccomp");
    let net = dir.join("net");
    let status = Command::new("cc")
        .args(["-static", "-O1", "-o"])
        .arg(&net)
        .arg(manifest().join("tests/engine_programs/net.c"))
        .stderr(Stdio::null())
        .status()
        .expect("cc");
    assert!(
        status.success(),
        "cc -static net.c (libc6-dev installs libc.a)"
    );
    let rules = rules(&dir, free_tcp_port());
    let (cef, json) = (dir.join("s.cef"), dir.join("s.json"));
    let log = format!("cef+file:{},json+file:{}", cef.display(), json.display());
    let mut command = Command::new(support::armr_command());
    let out = support::without_armr_env(&mut command)
        .args(["run", "--engine", "seccomp", "-r"])
        .arg(&rules)
        .args(["-l", &log, "--"])
        .arg(&net)
        .args(["connect", "127.0.0.1", "9"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        stdout.ends_with("connect: ECONNREFUSED\n"),
        "{stdout}{}",
        text(&out.stderr)
    );
    let pid = stdout
        .lines()
        .find_map(|l| l.strip_prefix("pid "))
        .unwrap()
        .to_string();
    let events = consume("cef", &cef);
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(
        (
            e["dst"].as_str(),
            e["dpt"].as_str(),
            e["outcome"].as_str(),
            e["dvcpid"].as_str(),
            e["deviceProcessName"].as_str(),
            e["ruleName"].as_str(),
            e["proto"].as_str()
        ),
        (
            "127.0.0.1",
            "9",
            "failure",
            pid.as_str(),
            "net",
            "no discard",
            "TCP"
        )
    );
    let events = consume("json", &json);
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(
        (
            e["event.action"].as_str(),
            e["destination.port"].as_str(),
            e["process.pid"].as_str(),
            e["process.name"].as_str(),
            e["rule.ruleset"].as_str()
        ),
        ("connect", "9", pid.as_str(), "net", "SIEM Test")
    );
}
