//! The lookups of issue 14's policy shapes under the library: an address in a chain of nested CIDR
//! blocks, or in a block of many port rules, is answered by the quick IPv4 path as a lookup to
//! finish (`Rank::resume`), which the hooks finish only when the rank is not silent; IPv6 is
//! judged as numbers (`Policy::best_rank_v6`); a block of many port rules is searched through its
//! port index. Each test runs `tests/programs/addresses.c` under
//! `LD_PRELOAD=target/release/libarmr.so` and asserts what the program sees (`LABEL: RESULT`),
//! the listeners it did not reach and the events logged. Needs `cargo build --release` first and
//! `cc`. Only loopback addresses, ports chosen by the kernel, a deadline per run.

mod support;

use std::fs;
use std::io::ErrorKind;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use support::net::{assert_untouched, free_tcp_port, tcp_listener};
use support::programs::c_program;
use support::rules;
use support::run::Ran;
use support::{TempDir, library};

const PROTECT: &str = "protect(message: \"blocked\", severity: High)";

fn program() -> PathBuf {
    c_program("addresses", &[])
}

/// Runs the program's `steps` under libarmr.so with `rules`, logging to a file.
fn run(dir: &TempDir, rules: &str, steps: &[String]) -> Ran {
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

/// A step of the program: `label/op/socket/-/form/ip/port`.
fn step(label: &str, op: &str, sock: &str, ip: &str, port: u16) -> String {
    let form = if sock.contains('6') { "in6" } else { "in" };
    format!("{label}/{op}/{sock}/-/{form}/{ip}/{port}")
}

fn udp(address: &str) -> (UdpSocket, u16) {
    let s = UdpSocket::bind(address).unwrap_or_else(|e| panic!("bind {address}: {e}"));
    s.set_nonblocking(true).unwrap();
    let port = s.local_addr().unwrap().port();
    (s, port)
}

fn assert_nothing_received(receiver: &UdpSocket, run: &Ran) {
    let mut buf = [0u8; 16];
    match receiver.recv_from(&mut buf) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        Ok((_, from)) => panic!("a datagram from {from} arrived\n{}", run.context()),
        Err(e) => panic!("recv: {e}"),
    }
}

/// Ports no step uses, for the rules that make a block of many rules (none of them matches).
fn other_ports(used: &[u16], n: usize) -> Vec<u16> {
    (1000..)
        .step_by(7)
        .filter(|p| !used.contains(p))
        .take(n)
        .collect()
}

#[test]
fn chains_of_blocks_and_blocks_of_many_rules_decide_every_call() {
    let dir = TempDir::new("flat", "shapes");
    // Refused: reached through a rule of an outer block (IPv4, IPv6), or a rule among many of one
    // address; allowed: the same addresses on ports no rule names.
    let (chain_v4, p4) = tcp_listener("127.0.0.1:0");
    let (chain_v6, p6) = tcp_listener("[::1]:0");
    let (many_v4, m4) = tcp_listener("127.0.0.2:0");
    let (_open_v4, ok4) = tcp_listener("127.0.0.1:0");
    let (_open_v6, ok6) = tcp_listener("[::1]:0");
    let (_open_many, okm) = tcp_listener("127.0.0.2:0");
    let (receiver, q) = udp("127.0.0.1:0");
    let (receiver6, q6) = udp("[::1]:0");
    let (server, server_ok) = (free_tcp_port(), free_tcp_port());
    let used = [p4, p6, m4, ok4, ok6, okm, q, q6, server, server_ok];
    let mut conditions = vec![
        // Nested blocks around 127.0.0.1 and ::1: the addresses lie in chains.
        format!("connect(\"127.0.0.0/8:{p4}\")"),
        format!("connect(\"127.0.0.0/8:{q}\")"),
        format!("connect(\"[::/64]:{p6}\")"),
        format!("connect(\"[::/64]:{q6}\")"),
        format!("connect(\"[::/120]:{}\")", other_ports(&used, 1)[0]),
        format!("connect(\"127.0.0.0/16:{}\")", other_ports(&used, 1)[0]),
    ];
    // A block of many rules (a port table with an index): 127.0.0.1, 127.0.0.2, ::1 and the
    // server binds of 127.0.0.1.
    for port in other_ports(&used, 40) {
        conditions.push(format!("connect(\"127.0.0.1:{port}\")"));
        conditions.push(format!("connect(\"127.0.0.2:{port}\")"));
        conditions.push(format!("connect(\"[::1]:{port}\")"));
        conditions.push(format!("bind(server: \"127.0.0.1:{port}\")"));
    }
    conditions.push(format!("connect(\"127.0.0.2:{m4}\")"));
    conditions.push(format!("bind(server: \"127.0.0.1:{server}\")"));
    let named: Vec<(String, &str, &str)> = conditions
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("rule{i}"), c.as_str(), PROTECT))
        .collect();
    let rules = rules::policy("Shapes", &named);
    let run = run(
        &dir,
        &rules,
        &[
            step("chain_v4", "connect", "tcp4", "127.0.0.1", p4),
            step("chain_v4_open", "connect", "tcp4", "127.0.0.1", ok4),
            step("chain_v4_sendto", "sendto", "udp4", "127.0.0.1", q),
            step("chain_v4_sendmsg", "sendmsg", "udp4", "127.0.0.1", q),
            step("chain_v4_udp_connect", "connect", "udp4", "127.0.0.1", q),
            step("chain_v6", "connect", "tcp6", "::1", p6),
            step("chain_v6_open", "connect", "tcp6", "::1", ok6),
            step("chain_v6_sendto", "sendto", "udp6", "::1", q6),
            step("many_v4", "connect", "tcp4", "127.0.0.2", m4),
            step("many_v4_open", "connect", "tcp4", "127.0.0.2", okm),
            step("server", "bindlisten", "tcp4", "127.0.0.1", server),
            step("server_open", "bindlisten", "tcp4", "127.0.0.1", server_ok),
        ],
    );
    run.expect(&[
        ("chain_v4", "ECONNREFUSED"),
        ("chain_v4_open", "ok"),
        ("chain_v4_sendto", "EACCES"),
        ("chain_v4_sendmsg", "EACCES"),
        ("chain_v4_udp_connect", "ECONNREFUSED"),
        ("chain_v6", "ECONNREFUSED"),
        ("chain_v6_open", "ok"),
        ("chain_v6_sendto", "EACCES"),
        ("many_v4", "ECONNREFUSED"),
        ("many_v4_open", "ok"),
        ("server", "EACCES"),
        ("server_open", "ok"),
        ("done", "yes"),
    ]);
    for (ip, port) in [("127.0.0.1", p4), ("::1", p6), ("127.0.0.2", m4)] {
        let (ip_field, port_field) = (
            format!("remoteIpAddress={ip}"),
            format!("remotePort={port}"),
        );
        assert!(
            run.log.lines().any(|line| {
                line.split(' ').any(|w| w == ip_field) && line.split(' ').any(|w| w == port_field)
            }),
            "no event for {ip}:{port}\n{}",
            run.context()
        );
    }
    assert_untouched(&chain_v4, &run.context());
    assert_untouched(&chain_v6, &run.context());
    assert_untouched(&many_v4, &run.context());
    assert_nothing_received(&receiver, &run);
    assert_nothing_received(&receiver6, &run);
}

/// The hooks answer IPv6 (and accept's and listen's IPv4) from the address as numbers, and judge
/// in full only when a rule has something to do: every such rule still acts (refused, or allowed
/// and logged), among many rules of the same address.
#[test]
fn rules_on_ipv6_and_accepted_peers_act_through_the_quick_answers() {
    let dir = TempDir::new("flat", "numbers");
    let (refused_v6, r6) = tcp_listener("[::1]:0");
    let (_logged_v6, l6) = tcp_listener("[::1]:0");
    let (_open_v6, o6) = tcp_listener("[::1]:0");
    let (receiver6, q6) = udp("[::1]:0");
    let (server6, server6_ok) = (free_tcp_port(), free_tcp_port());
    let used = [r6, l6, o6, q6, server6, server6_ok];
    let mut named: Vec<(String, String, &str)> = vec![
        (
            "refuse_v6".into(),
            format!("connect(\"[::1]:{r6}\")"),
            PROTECT,
        ),
        (
            "send_v6".into(),
            format!("connect(\"[::/64]:{q6}\")"),
            PROTECT,
        ),
        (
            "server_v6".into(),
            format!("bind(server: \"[::1]:{server6}\")"),
            PROTECT,
        ),
        ("peer_v4".into(), "accept(\"127.0.0.3:0\")".into(), PROTECT),
        ("peer_v6".into(), "accept(\"[::1]:0\")".into(), PROTECT),
        (
            "logged_v6".into(),
            format!("connect(\"[::1]:{l6}\")"),
            "allow(message: \"seen\", severity: Low)",
        ),
    ];
    // Blocks of many rules on the same addresses, none of them matching a step.
    for port in other_ports(&used, 40) {
        for c in [
            format!("connect(\"[::1]:{port}\")"),
            format!("bind(server: \"[::1]:{port}\")"),
            format!("accept(\"127.0.0.1:{port}\")"),
            format!("accept(\"127.0.0.3:{port}\")"),
        ] {
            named.push((format!("other{}", named.len()), c, PROTECT));
        }
    }
    let named: Vec<(String, &str, &str)> = named
        .iter()
        .map(|(n, c, a)| (n.clone(), c.as_str(), *a))
        .collect();
    let rules = rules::policy("Numbers", &named);
    let ran = run(
        &dir,
        &rules,
        &[
            step("refused_v6", "connect", "tcp6", "::1", r6),
            step("logged_v6", "connect", "tcp6", "::1", l6),
            step("open_v6", "connect", "tcp6", "::1", o6),
            step("sendto_v6", "sendto", "udp6", "::1", q6),
            step("sendmsg_v6", "sendmsg", "udp6", "::1", q6),
            step("server_v6", "bindlisten", "tcp6", "::1", server6),
            step("server_v6_open", "bindlisten", "tcp6", "::1", server6_ok),
        ],
    );
    ran.expect(&[
        ("refused_v6", "ECONNREFUSED"),
        ("logged_v6", "ok"),
        ("open_v6", "ok"),
        ("sendto_v6", "EACCES"),
        ("sendmsg_v6", "EACCES"),
        ("server_v6", "EACCES"),
        ("server_v6_open", "ok"),
        ("done", "yes"),
    ]);
    let port_field = format!("remotePort={l6}");
    assert!(
        ran.log
            .lines()
            .any(|line| line.contains("seen") && line.split(' ').any(|w| w == port_field)),
        "no event for the allowed connect\n{}",
        ran.context()
    );
    assert_untouched(&refused_v6, &ran.context());
    assert_nothing_received(&receiver6, &ran);

    // accept: a refused peer is reset and never returned, IPv4 and IPv6.
    let rules_path = dir.write("accept.armr", &rules);
    let log = dir.join("accept.log");
    let mut command = support::programs::python_program("accept_quick.py", &[]);
    support::run::under_armr(&mut command, &rules_path, &log);
    let accepted =
        support::run::run(&mut command, &dir.0, "accept", Duration::from_secs(60)).with_log(&log);
    accepted.expect(&[
        ("refused_v4", "BlockingIOError errno=11"),
        ("open_v4", "accepted 127.0.0.1"),
        ("refused_v6", "BlockingIOError errno=11"),
        ("done", "yes"),
    ]);
}
