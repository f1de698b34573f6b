//! Name lookups under armr: glibc's resolver sends its queries with libc's internal socket calls,
//! which no hook sees, so armr judges each lookup as the connect to the name server it is
//! (docs/enforcement.md, "Name lookups").
//!
//! Each test runs a fake DNS server on its own loopback address, port 53 (UDP and TCP), in this
//! process, and runs tests/programs/lookups.py in a private mount namespace (`unshare --mount`)
//! where /etc/resolv.conf, /etc/hosts and /etc/nsswitch.conf are bind-mounted from the test's
//! directory: the program resolves exactly as users' programs do, through the real resolv.conf.
//! Needs root (binding port 53, mounting), as the test machine runs them. Every address is on
//! 127.0.0.0/8.

use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

mod support;
use support::dns::{FakeDns, with_private_etc};
use support::programs::{c_program, path};
use support::rules::app;
use support::{TempDir, library, python, text};

/// Held by the test serving on [::1]:53 (one address for every test).
static SERVING_ON_V6_LOOPBACK: Mutex<()> = Mutex::new(());

// =============================================================================================
// Programs in a mount namespace with the test's resolv.conf

/// One test's files: rules, log, and the resolver configuration the program sees.
struct Setup {
    dir: TempDir,
}

/// The outcome of lookups.py: each lookup's line, and the log's lines.
struct Run {
    stdout: String,
    stderr: String,
    log: Vec<String>,
}

impl Run {
    /// The outcome printed for `lookup` (`CALL:NAME`).
    fn outcome(&self, lookup: &str) -> String {
        let prefix = format!("{lookup}: ");
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| {
                panic!(
                    "no outcome for {lookup}\nstdout:\n{}\nstderr:\n{}",
                    self.stdout, self.stderr
                )
            })
            .to_string()
    }

    /// The log lines that say a connect to `server`:53 with `act`.
    fn events_for(&self, server: IpAddr, act: &str) -> Vec<&String> {
        self.log
            .iter()
            .filter(|l| {
                l.contains(" connect act=")
                    && l.contains(&format!("act={act} "))
                    && l.contains(&format!("remoteIpAddress={server} remotePort=53"))
            })
            .collect()
    }
}

impl Setup {
    /// `resolv` is the resolv.conf text; /etc/hosts names `armr-hosts-name` (127.0.0.42) and
    /// localhost; nsswitch says `hosts: files dns`.
    fn new(test: &str, rules: &str, resolv: &str) -> Setup {
        let dir = TempDir::new("resolver", test);
        dir.write("rules.armr", rules);
        dir.write("resolv.conf", resolv);
        dir.write(
            "hosts",
            "127.0.0.1 localhost\n::1 localhost ip6-localhost\n127.0.0.42 armr-hosts-name\n\
             127.0.53.10 armr-dns-server\n",
        );
        dir.write(
            "nsswitch.conf",
            "passwd: files\ngroup: files\nhosts: files dns\nnetworks: files dns\n",
        );
        Setup { dir }
    }

    /// Runs `program` (with `args`) under armr (`ARMR_LOG=file:`) in a mount namespace where
    /// /etc/resolv.conf, /etc/hosts and /etc/nsswitch.conf are the test's.
    fn command(&self, program: &[&str], armr: bool) -> Command {
        self.command_with(program, armr, &[])
    }

    /// [`Setup::command`] with more `NAME=VALUE` settings for the program.
    fn command_with(&self, program: &[&str], armr: bool, env: &[&str]) -> Command {
        let mut command = with_private_etc(
            &self.dir.join("hosts"),
            &self.dir.join("resolv.conf"),
            &self.dir.join("nsswitch.conf"),
        );
        command.arg("env");
        if armr {
            command.arg(format!("LD_PRELOAD={}", library().display()));
            command.arg(format!(
                "ARMR_RULES={}",
                self.dir.join("rules.armr").display()
            ));
            command.arg(format!("ARMR_LOG=file:{}", self.dir.join("log").display()));
        }
        command.args(env);
        command.args(program);
        command.stdin(Stdio::null());
        command
    }

    /// Runs a program of the test's under armr; returns what it printed and the log.
    fn run(&self, program: &[&str]) -> Run {
        let out = self.command(program, true).output().unwrap();
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(
            out.status.success(),
            "{program:?}: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        );
        let log = fs::read_to_string(self.dir.join("log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        Run {
            stdout,
            stderr,
            log,
        }
    }

    fn lookups(&self, lookups: &[&str]) -> Run {
        self.lookups_with(lookups, true)
    }

    fn lookups_with(&self, lookups: &[&str], armr: bool) -> Run {
        self.lookups_env(lookups, armr, &[])
    }

    fn lookups_env(&self, lookups: &[&str], armr: bool, env: &[&str]) -> Run {
        let script = path("lookups.py");
        let python = python().display().to_string();
        let script = script.display().to_string();
        let mut program = vec![python.as_str(), script.as_str()];
        program.extend_from_slice(lookups);
        let out = self.command_with(&program, armr, env).output().unwrap();
        let stdout = text(&out.stdout);
        let stderr = text(&out.stderr);
        assert!(
            out.status.success(),
            "lookups.py failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status
        );
        let log = fs::read_to_string(self.dir.join("log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        Run {
            stdout,
            stderr,
            log,
        }
    }
}

/// A policy of `rules`, each `(name, body)`: a `socket(...)` block's condition and action.
fn policy(rules: &[(&str, &str)]) -> String {
    let rules: String = rules
        .iter()
        .map(|(name, body)| format!("    socket(\"{name}\"):\n        {body}\n    endsocket\n"))
        .collect();
    app("resolver test", &rules)
}

/// The rule every policy here ends with: no connection anywhere, logged.
const DENY_ALL: (&str, &str) = (
    "deny all",
    "connect(\"0.0.0.0:0\")\n        protect(message: \"outgoing connection blocked\", severity: High)",
);

fn deny_all() -> String {
    policy(&[DENY_ALL])
}

/// resolv.conf for `servers`, failing fast: one second, one attempt.
fn resolv_conf(servers: &[IpAddr], options: &str) -> String {
    let mut text: String = servers
        .iter()
        .map(|s| format!("nameserver {s}\n"))
        .collect();
    text.push_str(&format!("options timeout:1 attempts:1 {options}\n"));
    text
}

/// Checks the refused outcome of every lookup in `lookups` (`CALL:NAME`, expected outcome), that
/// `server` got no query, and that the log has `act=protect` connect events for `server`:53.
fn assert_refused(run: &Run, dns: &FakeDns, lookups: &[(&str, &str)]) {
    for (lookup, expected) in lookups {
        assert_eq!(
            run.outcome(lookup),
            *expected,
            "{lookup}\nstdout:\n{}\nstderr:\n{}",
            run.stdout,
            run.stderr
        );
    }
    assert_eq!(
        dns.queries(),
        Vec::<String>::new(),
        "the name server received queries: the lookup went out"
    );
    let events = run.events_for(dns.ip, "protect");
    assert!(
        !events.is_empty(),
        "no connect event for {}:53 in the log:\n{}",
        dns.ip,
        run.log.join("\n")
    );
    for event in events {
        assert!(
            event.contains("|resolver test|") && event.contains("msg=outgoing connection blocked"),
            "{event}"
        );
    }
}

// =============================================================================================
// The tests

/// The lookups of every kind: each must fail as when the name server cannot be reached (the
/// outcomes glibc gives, without armr, for a server where nothing listens).
const EVERY_LOOKUP: &[(&str, &str)] = &[
    ("getaddrinfo:exfil.example", "EAI_AGAIN"),
    ("gethostbyname:exfil.example", "null h_errno=2"),
    ("gethostbyname2:exfil.example", "null h_errno=2"),
    ("gethostbyname_r:exfil.example", "EAI_AGAIN"),
    ("gethostbyaddr:127.1.2.3", "null h_errno=2"),
    ("gethostbyaddr_r:127.1.2.3", "herror 2"),
    ("getnameinfo:127.1.2.3", "EAI_AGAIN"),
    ("getnetbyname:exfil.example", "null h_errno=1"),
    ("getnetbyaddr:127.1.2.0", "null h_errno=1"),
    ("res_query:exfil.example", "-1 h_errno=2"),
    ("res_search:exfil", "-1 h_errno=2"),
    ("res_querydomain:exfil.example", "-1 h_errno=2"),
    ("res_send:exfil.example", "-1 errno=111"),
    ("res_nquery:exfil.example", "-1 h_errno=2"),
    ("res_nsearch:exfil", "-1 h_errno=2"),
    ("res_nquerydomain:exfil.example", "-1 h_errno=2"),
    ("res_nsend:exfil.example", "-1 errno=111"),
    ("__res_query:exfil.example", "-1 h_errno=2"),
    ("__res_nsend:exfil.example", "-1 errno=111"),
];

#[test]
fn getaddrinfo_under_a_deny_all_policy_fails_with_eai_again_and_sends_nothing() {
    let dns = FakeDns::start(Ipv4Addr::new(127, 0, 53, 1));
    let setup = Setup::new(
        "getaddrinfo",
        &deny_all(),
        &resolv_conf(&[dns.ip], "search example"),
    );
    let run = setup.lookups(&["getaddrinfo:exfil.example"]);
    assert_refused(&run, &dns, &[("getaddrinfo:exfil.example", "EAI_AGAIN")]);
    // One event per lookup that asked the server (getaddrinfo asks once: A and AAAA together):
    // the event of a refused connect to the server, from the program that looked up.
    assert_eq!(run.log.len(), 1, "{:?}", run.log);
    let event = &run.log[0];
    let (header, cef) = event.split_once(" - - ").expect("RFC 5424 header");
    assert!(
        header.starts_with("<10>1 ") && header.contains(" python3 "),
        "{event}"
    );
    let fields = cef.split_once("|rt=").map(|(f, _)| f).expect("CEF fields");
    assert_eq!(
        fields,
        "CEF:0|ARMR:resolver test|resolver test|2.11|deny all|Execute Rule|High"
    );
    assert!(
        event.ends_with(
            " ruleType=socket securityFeature=socket connect act=protect \
             msg=outgoing connection blocked remoteIpAddress=127.0.53.1 remotePort=53"
        ),
        "{event}"
    );
}

#[test]
fn every_resolver_call_under_a_deny_all_policy_fails_as_unreachable_and_sends_nothing() {
    let dns = FakeDns::start(Ipv4Addr::new(127, 0, 53, 2));
    let setup = Setup::new(
        "every-call",
        &deny_all(),
        &resolv_conf(&[dns.ip], "search example"),
    );
    let lookups: Vec<&str> = EVERY_LOOKUP.iter().map(|(l, _)| *l).collect();
    let run = setup.lookups(&lookups);
    assert_refused(&run, &dns, EVERY_LOOKUP);
}

#[test]
fn rcmd_and_rexec_look_their_host_up_only_through_allowed_name_servers() {
    // libc's rcmd and rexec resolve the host with its internal getaddrinfo, past the hooks.
    let dns = FakeDns::start(Ipv4Addr::new(127, 0, 53, 10));
    let setup = Setup::new(
        "remote",
        &deny_all(),
        &resolv_conf(&[dns.ip], "search example"),
    );
    let run = setup.lookups(&["rcmd:exfil.example", "rexec:exfil.example"]);
    assert_refused(
        &run,
        &dns,
        &[("rcmd:exfil.example", "-1"), ("rexec:exfil.example", "-1")],
    );
}

#[test]
fn gethostid_and_ruserok_look_names_up_only_through_allowed_name_servers() {
    // gethostid looks the host's own name up (without /etc/hostid), ruserok the remote host's,
    // both with libc's internal gethostbyname_r/getaddrinfo, past the resolver hooks; glibc's
    // private DNS module functions ask the name servers directly.
    let dns = FakeDns::start(Ipv4Addr::new(127, 0, 53, 11));
    let setup = Setup::new(
        "indirect",
        &deny_all(),
        &resolv_conf(&[dns.ip], "search example"),
    );
    let lookups = [
        ("gethostid:", "0"),
        ("ruserok:exfil.example", "-1"),
        ("ruserok_af:exfil6.example", "-1"),
        // glibc's private DNS module, found by dlsym: NSS_STATUS_TRYAGAIN (UNAVAIL for an
        // address and a canonical name), TRY_AGAIN.
        (
            "_nss_dns_gethostbyname_r:exfil.example",
            "status=-2 h_errno=2",
        ),
        (
            "_nss_dns_gethostbyname4_r:exfil.example",
            "status=-2 h_errno=2",
        ),
        ("_nss_dns_gethostbyaddr_r:127.1.2.3", "status=-1 h_errno=2"),
        (
            "_nss_dns_getcanonname_r:exfil.example",
            "status=-1 h_errno=2",
        ),
    ];
    let names: Vec<&str> = lookups.iter().map(|(l, _)| *l).collect();
    let run = setup.lookups(&names);
    let hostid = std::path::Path::new("/etc/hostid").exists();
    // With /etc/hostid, gethostid reads it and asks no one: its value is not checked.
    assert_refused(&run, &dns, &lookups[usize::from(hostid)..]);
}

#[test]
fn lookups_over_tcp_use_vc_under_a_deny_all_policy_fail_and_send_nothing() {
    let dns = FakeDns::start(Ipv4Addr::new(127, 0, 53, 3));
    let setup = Setup::new(
        "use-vc",
        &deny_all(),
        &resolv_conf(&[dns.ip], "use-vc search example"),
    );
    let lookups = [
        ("getaddrinfo:exfil.example", "EAI_AGAIN"),
        ("gethostbyname:exfil.example", "null h_errno=2"),
        ("res_query:exfil.example", "-1 h_errno=2"),
        ("res_nsend:exfil.example", "-1 errno=111"),
    ];
    let names: Vec<&str> = lookups.iter().map(|(l, _)| *l).collect();
    let run = setup.lookups(&names);
    assert_refused(&run, &dns, &lookups);
}

#[test]
fn a_policy_allowing_the_name_server_keeps_every_lookup_working() {
    let dns = FakeDns::start(Ipv4Addr::new(127, 0, 53, 4));
    let rules = policy(&[
        (
            "dns",
            "connect(\"127.0.53.4:53\")\n        allow(message: \"dns allowed\", severity: Low)",
        ),
        DENY_ALL,
    ]);
    let setup = Setup::new("allowed", &rules, &resolv_conf(&[dns.ip], ""));
    let run = setup.lookups(&[
        "getaddrinfo:allowed.example",
        "gethostbyname:allowed2.example",
        "gethostbyaddr_r:127.1.2.3",
        "res_query:allowed3.example",
        "res_nsend:allowed4.example",
    ]);
    assert_eq!(run.outcome("getaddrinfo:allowed.example"), "ok 127.0.0.99");
    assert_eq!(
        run.outcome("gethostbyname:allowed2.example"),
        "ok 127.0.0.99"
    );
    assert_eq!(
        run.outcome("gethostbyaddr_r:127.1.2.3"),
        "ok ptr-answer.test"
    );
    assert!(run.outcome("res_query:allowed3.example").starts_with("ok "));
    assert!(run.outcome("res_nsend:allowed4.example").starts_with("ok "));
    let queries = dns.queries();
    for name in [
        "udp allowed.example A",
        "udp allowed2.example A",
        "udp 3.2.1.127.in-addr.arpa PTR",
        "udp allowed3.example A",
        "udp allowed4.example A",
    ] {
        assert!(queries.contains(&name.to_string()), "{name}: {queries:?}");
    }
    // Allowed with a message: each lookup that asked the server is logged as its connect.
    assert_eq!(
        run.events_for(dns.ip, "allow").len(),
        5,
        "{}",
        run.log.join("\n")
    );
    assert!(run.events_for(dns.ip, "protect").is_empty());
}

#[test]
fn a_refused_name_server_is_skipped_and_an_allowed_one_answers() {
    // Two name servers: glibc asks the first one first. The rules refuse it and allow the second.
    let refused = FakeDns::start(Ipv4Addr::new(127, 0, 53, 5));
    let allowed = FakeDns::start(Ipv4Addr::new(127, 0, 53, 6));
    let rules = policy(&[
        ("dns", "connect(\"127.0.53.6:53\")\n        allow()"),
        DENY_ALL,
    ]);
    let setup = Setup::new(
        "partial",
        &rules,
        &resolv_conf(&[refused.ip, allowed.ip], ""),
    );
    let run = setup.lookups(&[
        "getaddrinfo:one.example",
        "res_query:two.example",
        "res_nquery:three.example",
        "getaddrinfo:four.example",
    ]);
    assert_eq!(run.outcome("getaddrinfo:one.example"), "ok 127.0.0.99");
    assert!(run.outcome("res_query:two.example").starts_with("ok "));
    assert!(run.outcome("res_nquery:three.example").starts_with("ok "));
    assert_eq!(run.outcome("getaddrinfo:four.example"), "ok 127.0.0.99");
    assert_eq!(refused.queries(), Vec::<String>::new());
    let queries = allowed.queries();
    for name in [
        "one.example",
        "two.example",
        "three.example",
        "four.example",
    ] {
        assert!(
            queries.contains(&format!("udp {name} A")),
            "{name}: {queries:?}"
        );
    }
    assert_eq!(
        run.events_for(refused.ip, "protect").len(),
        4,
        "{}",
        run.log.join("\n")
    );
}

#[test]
fn lookups_that_need_no_name_server_still_work_under_a_deny_all_policy() {
    let dns = FakeDns::start(Ipv4Addr::new(127, 0, 53, 7));
    let setup = Setup::new(
        "no-dns-needed",
        &deny_all(),
        &resolv_conf(&[dns.ip], "search example"),
    );
    let run = setup.lookups(&[
        "getaddrinfo:localhost",
        "getaddrinfo:armr-hosts-name",
        "getaddrinfo:127.0.0.1",
        "gethostbyname:armr-hosts-name",
        "gethostbyname:127.0.0.5",
        "gethostbyaddr:127.0.0.42",
        "getnameinfo:127.0.0.1",
        "getaddrinfo:exfil.example",
    ]);
    assert_eq!(run.outcome("getaddrinfo:localhost"), "ok 127.0.0.1");
    assert_eq!(run.outcome("getaddrinfo:armr-hosts-name"), "ok 127.0.0.42");
    assert_eq!(run.outcome("getaddrinfo:127.0.0.1"), "ok 127.0.0.1");
    assert_eq!(
        run.outcome("gethostbyname:armr-hosts-name"),
        "ok 127.0.0.42"
    );
    assert_eq!(run.outcome("gethostbyname:127.0.0.5"), "ok 127.0.0.5");
    assert_eq!(
        run.outcome("gethostbyaddr:127.0.0.42"),
        "ok armr-hosts-name"
    );
    assert_eq!(run.outcome("getnameinfo:127.0.0.1"), "ok localhost");
    // In the same process, a name only DNS knows is refused, and is the only event.
    assert_eq!(run.outcome("getaddrinfo:exfil.example"), "EAI_AGAIN");
    assert_eq!(dns.queries(), Vec::<String>::new());
    assert_eq!(
        run.events_for(dns.ip, "protect").len(),
        1,
        "only the lookup that needed the name server is logged:\n{}",
        run.log.join("\n")
    );
}

#[test]
fn nc_to_a_numeric_address_works_under_a_policy_allowing_only_that_port_and_dns_does_not() {
    let dns = FakeDns::start(Ipv4Addr::new(127, 0, 53, 8));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let rules = policy(&[
        (
            "the service",
            &format!("connect(\"127.0.0.1:{port}\")\n        allow()"),
        ),
        DENY_ALL,
    ]);
    let setup = Setup::new("nc", &rules, &resolv_conf(&[dns.ip], ""));
    let server = thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut got = String::new();
        conn.read_to_string(&mut got).unwrap();
        got
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut child = setup
        .command(&["nc", "-N", "127.0.0.1", &port.to_string()], true)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello over nc\n")
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("nc did not finish");
        }
        sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "nc: {status}: {stderr}");
    assert_eq!(server.join().unwrap(), "hello over nc\n");
    // And a name under the same policy is refused: the name server is not allowed.
    let run = setup.lookups(&["getaddrinfo:exfil.example"]);
    assert_refused(&run, &dns, &[("getaddrinfo:exfil.example", "EAI_AGAIN")]);
}

#[test]
fn without_armr_the_fake_name_server_answers_every_lookup() {
    // The harness itself: the same lookups, without armr, reach the server and are answered.
    let dns = FakeDns::start(Ipv4Addr::new(127, 0, 53, 9));
    let setup = Setup::new(
        "baseline",
        &deny_all(),
        &resolv_conf(&[dns.ip], "search example"),
    );
    let run = setup.lookups_with(
        &["getaddrinfo:exfil.example", "res_query:exfil.example"],
        false,
    );
    assert_eq!(run.outcome("getaddrinfo:exfil.example"), "ok 127.0.0.99");
    assert!(run.outcome("res_query:exfil.example").starts_with("ok "));
    assert!(dns.queries().contains(&"udp exfil.example A".to_string()));
}

#[test]
fn detect_only_mode_lets_every_lookup_through_and_logs_each_as_a_detected_connect() {
    let dns = FakeDns::start(Ipv4Addr::new(127, 0, 53, 11));
    let setup = Setup::new("detect", &deny_all(), &resolv_conf(&[dns.ip], ""));
    let run = setup.lookups_env(
        &[
            "getaddrinfo:seen.example",
            "gethostbyaddr_r:127.1.2.3",
            "getaddrinfo:armr-hosts-name",
        ],
        true,
        &["ARMR_MODE=detect-only"],
    );
    assert_eq!(run.outcome("getaddrinfo:seen.example"), "ok 127.0.0.99");
    assert_eq!(
        run.outcome("gethostbyaddr_r:127.1.2.3"),
        "ok ptr-answer.test"
    );
    assert_eq!(run.outcome("getaddrinfo:armr-hosts-name"), "ok 127.0.0.42");
    let queries = dns.queries();
    assert!(
        queries.contains(&"udp seen.example A".to_string()),
        "{queries:?}"
    );
    // The two lookups that asked the server; the name from /etc/hosts asked nobody.
    assert_eq!(
        run.events_for(dns.ip, "detect").len(),
        2,
        "{}",
        run.log.join("\n")
    );
}

#[test]
fn a_hostname_rule_naming_the_name_server_is_resolved_by_armr_and_allows_it() {
    // armr resolves the rule's hostname with the resolver too (from /etc/hosts here): its own
    // lookup is not judged, and the program's lookup is judged by the resolved rule.
    let dns = FakeDns::start(Ipv4Addr::new(127, 0, 53, 10));
    let rules = policy(&[
        (
            "dns by name",
            "connect(\"armr-dns-server:53\")\n        allow(message: \"dns allowed\", severity: Low)",
        ),
        DENY_ALL,
    ]);
    let setup = Setup::new("hostname-rule", &rules, &resolv_conf(&[dns.ip], ""));
    let run = setup.lookups(&["getaddrinfo:named.example", "res_query:named2.example"]);
    assert_eq!(run.outcome("getaddrinfo:named.example"), "ok 127.0.0.99");
    assert!(run.outcome("res_query:named2.example").starts_with("ok "));
    let queries = dns.queries();
    assert!(
        queries.contains(&"udp named.example A".to_string()),
        "{queries:?}"
    );
    assert!(
        queries.contains(&"udp named2.example A".to_string()),
        "{queries:?}"
    );
    assert_eq!(
        run.events_for(dns.ip, "allow").len(),
        2,
        "{}",
        run.log.join("\n")
    );
}

#[test]
fn an_ipv6_name_server_is_judged_refused_or_allowed_like_an_ipv4_one() {
    let _v6 = SERVING_ON_V6_LOOPBACK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let v6 = FakeDns::start(Ipv6Addr::LOCALHOST);
    let v4 = FakeDns::start(Ipv4Addr::new(127, 0, 53, 12));
    // Deny-all: the IPv6 server is refused too.
    let setup = Setup::new("ipv6-refused", &deny_all(), &resolv_conf(&[v6.ip], ""));
    let run = setup.lookups(&["getaddrinfo:six.example", "res_query:six.example"]);
    assert_refused(
        &run,
        &v6,
        &[
            ("getaddrinfo:six.example", "EAI_AGAIN"),
            ("res_query:six.example", "-1 h_errno=2"),
        ],
    );
    // The IPv4 server is refused and the IPv6 one allowed: the lookups go to ::1 only.
    let rules = policy(&[
        ("dns over ipv6", "connect(\"[::1]:53\")\n        allow()"),
        DENY_ALL,
    ]);
    let setup = Setup::new("ipv6-allowed", &rules, &resolv_conf(&[v4.ip, v6.ip], ""));
    let run = setup.lookups(&[
        "getaddrinfo:seven.example",
        "res_nquery:eight.example",
        "getaddrinfo:nine.example",
    ]);
    assert_eq!(run.outcome("getaddrinfo:seven.example"), "ok 127.0.0.99");
    assert!(run.outcome("res_nquery:eight.example").starts_with("ok "));
    assert_eq!(run.outcome("getaddrinfo:nine.example"), "ok 127.0.0.99");
    assert_eq!(v4.queries(), Vec::<String>::new());
    let queries = v6.queries();
    for name in ["seven.example", "eight.example", "nine.example"] {
        assert!(
            queries.contains(&format!("udp {name} A")),
            "{name}: {queries:?}"
        );
    }
    assert_eq!(
        run.events_for(v4.ip, "protect").len(),
        3,
        "{}",
        run.log.join("\n")
    );
}

#[test]
fn threads_looking_up_while_resolv_conf_changes_lose_nothing_under_memcheck() {
    // Each lookup moves refused servers (IPv4 and IPv6: glibc allocates the IPv6 addresses) out
    // of the way and back; res_init and a rewritten resolv.conf make glibc reload meanwhile.
    // valgrind fails the run on any invalid read, write or free.
    let _v6 = SERVING_ON_V6_LOOPBACK
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let v6 = FakeDns::start(Ipv6Addr::LOCALHOST);
    let refused = FakeDns::start(Ipv4Addr::new(127, 0, 53, 13));
    let allowed = FakeDns::start(Ipv4Addr::new(127, 0, 53, 14));
    let rules = policy(&[
        ("dns", "connect(\"127.0.53.14:53\")\n        allow()"),
        DENY_ALL,
    ]);
    let conf_a = resolv_conf(&[refused.ip, v6.ip, allowed.ip], "");
    let conf_b = resolv_conf(&[v6.ip, allowed.ip, refused.ip], "");
    let setup = Setup::new("stress", &rules, &conf_a);
    let binary = c_program("lookup_stress", &["-pthread"])
        .display()
        .to_string();
    let out = setup
        .command(
            &[
                "valgrind",
                "--quiet",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite",
                "--error-exitcode=99",
                "--trace-children=no",
                &binary,
                "20",
                "3",
                &conf_a,
                &conf_b,
            ],
            true,
        )
        .output()
        .expect("valgrind: this test runs the program under memcheck (install-test-deps)");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        out.status.success(),
        "{}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    for thread in 0..3 {
        assert!(
            stdout.contains(&format!("thread {thread} ok 60 bad 0")),
            "every lookup answered by the allowed server:\n{stdout}\n{stderr}"
        );
    }
    assert_eq!(refused.queries(), Vec::<String>::new());
    assert_eq!(v6.queries(), Vec::<String>::new());
    assert_eq!(allowed.queries().len(), 180, "{:?}", allowed.queries());
}

#[test]
fn over_tcp_a_refused_name_server_is_skipped_and_an_allowed_one_answers() {
    let refused = FakeDns::start(Ipv4Addr::new(127, 0, 53, 15));
    let allowed = FakeDns::start(Ipv4Addr::new(127, 0, 53, 16));
    let rules = policy(&[
        ("dns", "connect(\"127.0.53.16:53\")\n        allow()"),
        DENY_ALL,
    ]);
    let setup = Setup::new(
        "partial-tcp",
        &rules,
        &resolv_conf(&[refused.ip, allowed.ip], "use-vc"),
    );
    let run = setup.lookups(&[
        "getaddrinfo:one.example",
        "res_query:two.example",
        "res_nsend:three.example",
    ]);
    assert_eq!(run.outcome("getaddrinfo:one.example"), "ok 127.0.0.99");
    assert!(run.outcome("res_query:two.example").starts_with("ok "));
    assert!(run.outcome("res_nsend:three.example").starts_with("ok "));
    assert_eq!(refused.queries(), Vec::<String>::new());
    let queries = allowed.queries();
    for name in ["one.example A", "two.example A", "three.example A"] {
        assert!(
            queries.contains(&format!("tcp {name}")),
            "{name}: {queries:?}"
        );
    }
    assert_eq!(
        run.events_for(refused.ip, "protect").len(),
        3,
        "{}",
        run.log.join("\n")
    );
}

#[test]
fn getaddrinfo_a_requests_are_judged_waiting_or_notified_by_a_thread() {
    // glibc runs getaddrinfo_a's requests on a thread of its own through its internal
    // getaddrinfo: armr runs them through the judged one instead.
    let dns = FakeDns::start(Ipv4Addr::new(127, 0, 53, 17));
    let setup = Setup::new("gai-async", &deny_all(), &resolv_conf(&[dns.ip], ""));
    let binary = c_program("gai_async", &["-pthread"]).display().to_string();
    for mode in ["wait", "thread"] {
        let run = setup.run(&[
            &binary,
            mode,
            "exfil.example",
            "armr-hosts-name",
            "127.0.0.1",
        ]);
        assert_eq!(run.outcome("exfil.example"), "EAI_AGAIN", "{mode}");
        assert_eq!(run.outcome("armr-hosts-name"), "ok 127.0.0.42", "{mode}");
        assert_eq!(run.outcome("127.0.0.1"), "ok 127.0.0.1", "{mode}");
        if mode == "thread" {
            assert!(run.stdout.contains("notified\n"), "{}", run.stdout);
        }
    }
    assert_eq!(dns.queries(), Vec::<String>::new());
    let run = setup.run(&[&binary, "wait", "exfil.example"]);
    // Three runs, one lookup asking the server each.
    assert_eq!(
        run.events_for(dns.ip, "protect").len(),
        3,
        "{}",
        run.log.join("\n")
    );
    // Allowed: answered by the server, and logged as the connect.
    let rules = policy(&[(
        "dns",
        "connect(\"127.0.53.17:53\")\n        allow(message: \"dns allowed\", severity: Low)",
    )]);
    let setup = Setup::new("gai-async-allowed", &rules, &resolv_conf(&[dns.ip], ""));
    let binary = c_program("gai_async", &["-pthread"]).display().to_string();
    let run = setup.run(&[&binary, "thread", "allowed.example"]);
    assert_eq!(run.outcome("allowed.example"), "ok 127.0.0.99");
    assert!(dns.queries().contains(&"udp allowed.example A".to_string()));
    assert_eq!(
        run.events_for(dns.ip, "allow").len(),
        1,
        "{}",
        run.log.join("\n")
    );
}
