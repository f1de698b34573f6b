//! `armr learn`: a real program's traffic recorded under armr (monitor-everything, or a policy in
//! detect-only mode), turned into rules, and replayed under them: the same workload goes
//! through, a destination it never used is refused.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::net::{assert_untouched, free_tcp_port, free_udp_port, tcp_listener};
use support::run::{Ran, run};
use support::{TempDir, armr_command, library, manifest, programs, python, without_armr_env};

/// `armr run -r RULES -l LOG [--detect-only] -- python3 learn_workload.py ARGS`.
fn workload(dir: &TempDir, tag: &str, rules: &Path, detect_only: bool, args: &[String]) -> Ran {
    let log = dir.join(&format!("{tag}.log"));
    workload_logging(dir, tag, rules, detect_only, log.as_os_str(), args).with_log(&log)
}

/// The same, with `-l LOG` any `ARMR_LOG` value.
fn workload_logging(
    dir: &TempDir,
    tag: &str,
    rules: &Path,
    detect_only: bool,
    log: &std::ffi::OsStr,
    args: &[String],
) -> Ran {
    library();
    let mut command = Command::new(armr_command());
    without_armr_env(&mut command)
        .current_dir(manifest())
        .env("XDG_RUNTIME_DIR", &dir.0)
        .args(["run", "-r"])
        .arg(rules)
        .arg("-l")
        .arg(log);
    if detect_only {
        command.arg("--detect-only");
    }
    command
        .arg("--")
        .arg(python())
        .arg(programs::path("learn_workload.py"))
        .args(args);
    run(&mut command, &dir.0, tag, Duration::from_secs(30))
}

fn armr(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(armr_command())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

const WORKLOAD_OK: &str =
    "bind: ok\nlisten: ok\nself_connect: ok\naccept: ok\nconnect: ok\nsendto: ok\n";

/// Learns from `log` into `dir/learned.armr`, checks it with `armr check`, and returns its text.
fn learn_and_check(dir: &TempDir, log: &str) -> String {
    let out = armr(&["learn", "--from", log, "-o", "learned.armr"], &dir.0);
    assert!(out.status.success(), "armr learn: {out:?}");
    let learned = fs::read_to_string(dir.join("learned.armr")).unwrap();
    let check = armr(&["check", "learned.armr"], &dir.0);
    assert!(
        check.status.success() && check.stderr.is_empty(),
        "armr check of the learned rules: {check:?}\n{learned}"
    );
    learned
}

/// Replays the workload under the learned rules, with one destination more (a listener the
/// learning run never reached): the workload passes, the new destination is refused before it
/// is reached, and the log names the catch-all that refused it.
fn replay(dir: &TempDir, args: &[String], learned: &str) {
    let (stranger, stranger_port) = tcp_listener("127.0.0.1:0");
    let mut args = args.to_vec();
    args.push(stranger_port.to_string());
    let replay = workload(dir, "replay", &dir.join("learned.armr"), false, &args);
    let context = format!("{}\n--- learned rules\n{learned}", replay.context());
    assert_eq!(
        replay.stdout,
        format!("{WORKLOAD_OK}extra_{stranger_port}: ConnectionRefusedError errno=111\n"),
        "{context}"
    );
    assert_untouched(&stranger, &context);
    let refusals: Vec<&str> = replay
        .log
        .lines()
        .filter(|l| l.contains("act=protect"))
        .collect();
    assert_eq!(refusals.len(), 1, "{context}");
    assert!(
        refusals[0].contains("|no other connect|")
            && refusals[0].ends_with(&format!(
                "remoteIpAddress=127.0.0.1 remotePort={stranger_port}"
            )),
        "{context}"
    );
}

#[test]
fn a_workload_recorded_under_monitor_everything_replays_under_the_learned_rules() {
    let dir = TempDir::new("learn", "monitor");
    let (_dest, dest_port) = tcp_listener("127.0.0.1:0");
    let args: Vec<String> = [free_tcp_port(), dest_port, free_udp_port()]
        .iter()
        .map(u16::to_string)
        .collect();
    let monitor = manifest().join("rules/monitor-everything.armr");
    let recorded = workload(&dir, "record", &monitor, false, &args);
    assert_eq!(recorded.stdout, WORKLOAD_OK, "{}", recorded.context());
    fs::copy(dir.join("record.log"), dir.join("events.log")).unwrap();
    let learned = learn_and_check(&dir, "events.log");
    for rule in [
        format!("bind(server: \"127.0.0.1:{}\")", args[0]),
        format!("connect(\"127.0.0.1:{}\")", args[0]),
        format!("connect(\"127.0.0.1:{dest_port}\")"),
        format!("connect(\"127.0.0.1:{}\")", args[2]),
        "accept(\"127.0.0.1:0\")".to_string(),
    ] {
        assert!(learned.contains(&rule), "no {rule} in\n{learned}");
    }
    replay(&dir, &args, &learned);
}

#[test]
fn a_workload_recorded_in_detect_only_mode_replays_under_the_learned_rules() {
    // A policy refusing every call of the four kinds: in detect-only mode it logs them instead,
    // and those events are what is learned (from standard input).
    let dir = TempDir::new("learn", "detect");
    let mut strict = String::from("app(\"Nothing\"):\n    requires(version: ARMR/2.11)\n");
    for (i, condition) in [
        "bind(server: \"0.0.0.0:0\")",
        "bind(client: \"0.0.0.0:0\")",
        "connect(\"0.0.0.0:0\")",
        "accept(\"0.0.0.0:0\")",
    ]
    .iter()
    .enumerate()
    {
        strict.push_str(&format!(
            "    socket(\"r{i}\"):\n        {condition}\n        protect(message: \"no\")\n    endsocket\n"
        ));
    }
    strict.push_str("endapp\n");
    let strict = dir.write("nothing.armr", &strict);
    let (_dest, dest_port) = tcp_listener("127.0.0.1:0");
    let args: Vec<String> = [free_tcp_port(), dest_port, free_udp_port()]
        .iter()
        .map(u16::to_string)
        .collect();
    let recorded = workload(&dir, "record", &strict, true, &args);
    assert_eq!(recorded.stdout, WORKLOAD_OK, "{}", recorded.context());
    let out = Command::new(armr_command())
        .args(["learn", "-o", "learned.armr"])
        .current_dir(&dir.0)
        .stdin(fs::File::open(dir.join("record.log")).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "armr learn: {out:?}");
    let learned = learn_and_check(&dir, "record.log");
    replay(&dir, &args, &learned);
}

/// Events of IPv6 and IPv4-mapped addresses, an unbound listen (`0.0.0.0:0`) and neighbouring
/// ports, learned with widening: the rules pass `armr check` without a warning (no rule that can
/// never win), and widen only as far as asked.
#[test]
fn learned_rules_of_unusual_events_check_clean_and_widen_only_as_asked() {
    let dir = TempDir::new("learn", "unusual");
    let head = "<14>1 2026-11-30T17:17:37.448Z vm p 1 - - CEF:0|ARMR:M|M|2.11|r|Execute Rule|Low|rt=Nov 30 2026 17:17:37.448 +0000 dvchost=vm procid=1 appVersion=1 ruleType=socket";
    let events: String = [
        "connect act=detect remoteIpAddress=::ffff:127.0.0.1 remotePort=80",
        "connect act=detect remoteIpAddress=::1 remotePort=81",
        "connect act=detect remoteIpAddress=::1 remotePort=82",
        "connect act=detect remoteIpAddress=::1 remotePort=84",
        "connect act=detect remoteIpAddress=10.1.2.3 remotePort=443",
        "connect act=detect remoteIpAddress=10.1.2.9 remotePort=443",
        "connect act=detect remoteIpAddress=10.1.3.1 remotePort=443",
        "serverbind act=detect localIpAddress=:: localPort=8080",
        "serverbind act=detect localIpAddress=0.0.0.0 localPort=0",
        "accept act=detect remoteIpAddress=fe80::1 remotePort=5",
    ]
    .iter()
    .map(|e| format!("{head} securityFeature=socket {e}\n"))
    .collect();
    dir.write("events.log", &events);
    let out = armr(
        &[
            "learn",
            "--from",
            "events.log",
            "--widen-ports",
            "2",
            "--widen-prefix",
            "24",
            "-o",
            "learned.armr",
        ],
        &dir.0,
    );
    assert!(out.status.success(), "armr learn: {out:?}");
    let learned = fs::read_to_string(dir.join("learned.armr")).unwrap();
    let conditions: Vec<&str> = learned
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("connect(") || l.starts_with("bind(") || l.starts_with("accept("))
        .collect();
    assert_eq!(
        conditions,
        [
            // Every listen is allowed: one was seen on an unbound socket. No catch-all for it.
            "bind(server: \"0.0.0.0:0\")",
            "connect(\"[::ffff:127.0.0.1]:80\")",
            "connect(\"[::1]:81-82\")",
            "connect(\"[::1]:84\")",
            "connect(\"10.1.2.0/28:443\")",
            "connect(\"10.1.3.1:443\")",
            "accept(\"[fe80::1]:0\")",
            "bind(client: \"0.0.0.0:0\")",
            "connect(\"0.0.0.0:0\")",
            "accept(\"0.0.0.0:0\")",
        ],
        "{learned}"
    );
    let check = armr(&["check", "learned.armr"], &dir.0);
    assert!(
        check.status.success() && check.stderr.is_empty(),
        "armr check: {check:?}\n{learned}"
    );
}

/// One run logged in the three formats at once (`armr`, `cef`, `json` destinations): each is
/// learned with its `--format`, the rules are the same, and they replay.
#[test]
fn each_log_format_learns_the_same_rules() {
    let dir = TempDir::new("learn", "formats");
    let (_dest, dest_port) = tcp_listener("127.0.0.1:0");
    let args: Vec<String> = [free_tcp_port(), dest_port, free_udp_port()]
        .iter()
        .map(u16::to_string)
        .collect();
    let log = format!(
        "file:{},cef+file:{},json+file:{}",
        dir.join("armr.log").display(),
        dir.join("cef.log").display(),
        dir.join("json.log").display()
    );
    let monitor = manifest().join("rules/monitor-everything.armr");
    let recorded = workload_logging(&dir, "record", &monitor, false, log.as_ref(), &args);
    assert_eq!(recorded.stdout, WORKLOAD_OK, "{}", recorded.context());
    let mut learned = Vec::new();
    for format in ["armr", "cef", "json"] {
        let out = armr(
            &[
                "learn",
                "--format",
                format,
                "--from",
                &format!("{format}.log"),
            ],
            &dir.0,
        );
        assert!(
            out.status.success(),
            "armr learn --format {format}: {out:?}"
        );
        let text = String::from_utf8(out.stdout).unwrap();
        // The first line names the log read; the rules follow.
        let rules = text.split_once('\n').unwrap().1.to_string();
        assert_eq!(rules.matches("allow()").count(), 5, "{format}:\n{text}");
        learned.push((format, rules));
    }
    assert_eq!(
        learned[0].1, learned[1].1,
        "armr and cef learn different rules"
    );
    assert_eq!(
        learned[0].1, learned[2].1,
        "armr and json learn different rules"
    );
    fs::write(dir.join("learned.armr"), &learned[2].1).unwrap();
    replay(&dir, &args, &learned[2].1);
}
