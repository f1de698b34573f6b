//! Compiled policies (docs/compiled.md): `armr compile` writes them, the library maps them
//! (ARMR_RULES), `armr run` compiles into its private directory, `armr explain` shows where one
//! comes from; a corrupt, truncated or foreign file is refused with a message naming it and what
//! is wrong, handled by ARMR_ON_ERROR; and no file, however mangled, crashes the loader or a
//! lookup.
//!
//! Needs `cargo build --release` first (`target/release/libarmr.so` and `target/release/armr`)
//! and netcat-openbsd, as `make test` provides. Everything stays on 127.0.0.0/8.

use armr::event::{Event, EventRule, format_event};
use armr::policy::compiled::{self, Provenance};
use armr::policy::{EventKind, Mode, Policy};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod support;
use support::net::tcp_listener;
use support::rules::{app, rule};
use support::{TempDir, armr_command, text, without_armr_env};

/// Rules of every shape: blocks nested around an address, single addresses, ports, the
/// any-address, IPv6, binds, hostnames (localhost), messages and metadata.
fn rules_text(port: u16) -> String {
    app(
        "web",
        &[
            rule(
                "no-local",
                &format!("connect(\"127.0.0.0/8:{port}\")"),
                "protect(message: \"local port blocked\", severity: High)",
            ),
            rule(
                "one-allowed",
                &format!("connect(\"127.0.0.9:{port}\")"),
                "allow()",
            ),
            rule("db", "connect(\"10.0.0.0/8:5432\")", "protect()"),
            rule(
                "v6",
                "connect(\"[fd00::/8]:0\")",
                "detect(message: \"seen\")",
            ),
            rule("ranges", "connect(\"10.1.2.3:100-200\")", "protect()"),
            rule(
                "any",
                "connect(\"0.0.0.0:6000\")",
                "detect(message: \"seen\")",
            ),
            rule("server", "bind(server: \"0.0.0.0:7000\")", "protect()"),
            rule("client", "bind(client: \"127.0.0.1:7001\")", "protect()"),
            rule("local", "connect(\"localhost:7002\")", "protect()"),
            rule("peers", "accept(\"10.0.0.1:0\")", "protect()"),
        ]
        .concat(),
    )
}

/// Compiles `rules` with `armr compile` into `output`; its output.
fn armr_compile(rules: &Path, output: &Path) -> Output {
    let mut command = Command::new(armr_command());
    without_armr_env(&mut command)
        .arg("compile")
        .arg(rules)
        .arg("-o")
        .arg(output)
        .output()
        .expect("armr runs")
}

fn compiled_file(dir: &TempDir, port: u16) -> PathBuf {
    let rules = dir.write("web.armr", &rules_text(port));
    let output = dir.path("web.armrc");
    let out = armr_compile(&rules, &output);
    assert!(out.status.success(), "armr compile: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("{}: 10 rules compiled from 1 file\n", output.display())
    );
    output
}

/// Runs `program` under the library with `ARMR_RULES=rules` and more settings.
fn under_armr(program: &str, args: &[&str], rules: &Path, more: &[(&str, &str)]) -> Output {
    let mut command = Command::new(program);
    without_armr_env(&mut command)
        .args(args)
        .env("LD_PRELOAD", support::library())
        .env("ARMR_RULES", rules)
        .stdin(Stdio::null());
    for (k, v) in more {
        command.env(k, v);
    }
    command.output().expect("the program runs")
}

// =============================================================================================
// armr compile

#[test]
fn compile_refuses_rules_with_errors_and_writes_nothing() {
    let dir = TempDir::new("compiled", "errors");
    let rules = dir.write("bad.armr", "app(\"a\"):\n    requires(version: ARMR/2.11)\n    socket(\"r\"):\n        connect(\"10.0.0.1:99999\")\n        protect()\n    endsocket\nendapp\n");
    let output = dir.path("bad.armrc");
    let out = armr_compile(&rules, &output);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error:") && stderr.ends_with("armr: 1 error found\n"),
        "{stderr}"
    );
    assert!(!output.exists(), "no compiled file for rules with errors");
}

// =============================================================================================
// The library loads a compiled file: nc under it

#[test]
fn nc_under_a_compiled_policy_is_refused_and_the_event_logged() {
    support::armr_command();
    let dir = TempDir::new("compiled", "nc");
    let (listener, port) = tcp_listener("127.0.0.1:0");
    let policy = compiled_file(&dir, port);
    let log = dir.path("events.log");
    let log_setting = format!("file:{}", log.display());
    let out = under_armr(
        "/usr/bin/nc",
        &["-z", "-w", "2", "127.0.0.1", &port.to_string()],
        &policy,
        &[("ARMR_LOG", &log_setting)],
    );
    assert_eq!(out.status.code(), Some(1), "nc: {}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "",
        "nc -z says nothing of a refused port"
    );
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "no connection reached the server"
    );
    let lines = std::fs::read_to_string(&log).unwrap();
    let line = lines.lines().next().expect("one event");
    assert!(
        line.contains("CEF:0|ARMR:web|web|2.11|no-local|Execute Rule|High|")
            && line.contains("act=protect msg=local port blocked")
            && line.contains(&format!("remoteIpAddress=127.0.0.1 remotePort={port}")),
        "{line}"
    );
}

// =============================================================================================
// Corrupt, truncated and foreign files

/// The file `bytes`, written to `name` in `dir`.
fn write_bytes(dir: &TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.path(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn corrupt_truncated_and_foreign_files_are_refused_with_the_exact_message() {
    support::armr_command();
    let dir = TempDir::new("compiled", "refused");
    let good = std::fs::read(compiled_file(&dir, 9)).unwrap();
    let len = good.len();
    let mut newer = good.clone();
    newer[8..12].copy_from_slice(&4u32.to_ne_bytes());
    let mut swapped = good.clone();
    swapped[12..16].copy_from_slice(&0x0102_0304u32.swap_bytes().to_ne_bytes());
    let mut narrow = good.clone();
    narrow[16..20].copy_from_slice(&32u32.to_ne_bytes());
    let mut outside = good.clone();
    // The first section's offset, past the end of the file.
    outside[80..88].copy_from_slice(&(len as u64 + 16).to_ne_bytes());
    let mut misaligned = good.clone();
    let first = u64::from_ne_bytes(good[80..88].try_into().unwrap());
    misaligned[80..88].copy_from_slice(&(first + 1).to_ne_bytes());
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "truncated",
            good[..len / 2].to_vec(),
            format!(
                "truncated or extended: its header says {len} bytes, the file has {}",
                len / 2
            ),
        ),
        (
            "header-only",
            good[..40].to_vec(),
            "truncated: 40 bytes, shorter than its header".into(),
        ),
        (
            "newer",
            newer,
            "format version 4, this armr reads version 3: compile the rules again with `armr compile`"
                .into(),
        ),
        (
            "other-byte-order",
            swapped,
            "compiled for another architecture (the other byte order; this is 64-bit \
             little-endian): compile the rules again with `armr compile`"
                .into(),
        ),
        (
            "32-bit",
            narrow,
            "compiled for another architecture (32-bit pointers; this is 64-bit little-endian): \
             compile the rules again with `armr compile`"
                .into(),
        ),
        (
            "outside",
            outside,
            "section 0 lies outside the file".into(),
        ),
        (
            "misaligned",
            misaligned,
            "section 0 is misaligned or not a whole number of 4-byte values".into(),
        ),
    ];
    for (name, bytes, what) in cases {
        let path = write_bytes(&dir, &format!("{name}.armrc"), &bytes);
        let closed = under_armr("/bin/true", &[], &path, &[]);
        let message = format!(
            "armr: error: ARMR_RULES={}: compiled policy: {what}\n",
            path.display()
        );
        assert_eq!(closed.status.code(), Some(1), "{name}: stopped");
        assert_eq!(
            text(&closed.stderr),
            format!(
                "{message}armr: the rules could not be loaded: stopping true before it starts \
                 (ARMR_ON_ERROR=closed; set ARMR_ON_ERROR=open to run it unprotected)\n"
            ),
            "{name}"
        );
        let open = under_armr("/bin/true", &[], &path, &[("ARMR_ON_ERROR", "open")]);
        assert_eq!(open.status.code(), Some(0), "{name}: runs unprotected");
        assert_eq!(
            text(&open.stderr),
            format!(
                "{message}armr: the rules could not be loaded: true runs WITHOUT armr's \
                 protection (ARMR_ON_ERROR=open)\n"
            ),
            "{name}"
        );
    }
}

/// A corrupted value that the header check cannot see is caught by the digest `armr explain`
/// verifies.
#[test]
fn explain_verifies_the_digest_and_shows_the_provenance() {
    support::armr_command();
    let dir = TempDir::new("compiled", "explain");
    let policy = compiled_file(&dir, 9);
    let explain = |file: &Path| {
        let mut command = Command::new(armr_command());
        without_armr_env(&mut command)
            .args(["explain".as_ref(), file.as_os_str()])
            .args(["connect", "127.0.0.9:9"])
            .output()
            .unwrap()
    };
    // Mixed with rules files, a compiled file is refused with what to do, before any file is
    // read as rules.
    let source = dir.path("web.armr");
    for files in [[&policy, &source], [&source, &policy]] {
        let mut command = Command::new(armr_command());
        let out = without_armr_env(&mut command)
            .arg("explain")
            .args(files)
            .args(["connect", "127.0.0.9:9"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            text(&out.stderr),
            format!(
                "armr: error: {}: a compiled policy must be given alone, without rules files: it holds every rule it was compiled from\n",
                policy.display()
            )
        );
        assert_eq!(text(&out.stdout), "");
    }
    let out = explain(&policy);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let digest = armr::digest::hex(&armr::digest::sha256(&std::fs::read(&source).unwrap()));
    assert!(
        stdout.starts_with("connect 127.0.0.9:9: allow\nrule: \"one-allowed\" in app \"web\""),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "note: compiled policy {} (digest verified): by armr {}, at ",
            policy.display(),
            env!("CARGO_PKG_VERSION")
        )) && stdout.contains(&format!(
            "note: source {} (sha256 {digest}): unchanged since it was compiled\n",
            source.display()
        )),
        "{stdout}"
    );
    let mut bytes = std::fs::read(&policy).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    let corrupt = write_bytes(&dir, "corrupt.armrc", &bytes);
    let out = explain(&corrupt);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "armr: error: {}: its digest does not match its contents: the file is corrupt\n",
            corrupt.display()
        )
    );
}

/// `armr check` verifies a compiled file whole (its digest included), beside rules files.
#[test]
fn check_verifies_a_compiled_file() {
    support::armr_command();
    let dir = TempDir::new("compiled", "check");
    let policy = compiled_file(&dir, 9);
    let check = |files: &[&Path]| {
        let mut command = Command::new(armr_command());
        without_armr_env(&mut command)
            .arg("check")
            .args(files)
            .output()
            .unwrap()
    };
    let out = check(&[&policy, &dir.path("web.armr")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{}: compiled policy, 10 socket rules, digest verified\n{}: 1 app, 10 socket rules, 0 rules skipped\n",
            policy.display(),
            dir.path("web.armr").display()
        )
    );
    let mut bytes = std::fs::read(&policy).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    let corrupt = write_bytes(&dir, "corrupt.armrc", &bytes);
    let out = check(&[&corrupt]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "armr: error: {}: its digest does not match its contents: the file is corrupt\n\
             armr: 1 error found\n",
            corrupt.display()
        )
    );
}

// =============================================================================================
// Mangled files never crash: every mutation loaded, and when it loads, judged

/// Compiles `rules_text` in memory.
fn compiled_bytes() -> Vec<u8> {
    let policy = support::rules::load_policy(
        &rules_text(9),
        Mode::Enforce,
        support::resolvers::Table::new(&[]),
    );
    policy
        .compile(&Provenance {
            version: "test".into(),
            built: 0,
            sources: vec![("web.armr".into(), "0".repeat(64))],
        })
        .unwrap()
}

/// The event line of `rule` for `kind` at `address` (a fixed time and process).
fn event_line(kind: EventKind, address: SocketAddr, rule: EventRule<'_>) -> String {
    let event = Event {
        unix_millis: 0,
        hostname: "h",
        process: "p",
        pid: 1,
        rule,
        kind,
        action: armr::language::Action::Protect,
        address,
        stacktrace: None,
        count: None,
        transport: None,
    };
    let mut buf = vec![0u8; 1 << 16];
    let n = format_event(&event, &mut buf);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn judge_everything(policy: &Policy) {
    for kind in EventKind::ALL {
        for address in [
            "127.0.0.1:9",
            "127.0.0.9:9",
            "10.1.2.3:150",
            "10.0.0.1:5432",
            "0.0.0.0:7000",
            "[::]:7000",
            "[fd00::1]:80",
            "[::1]:7002",
            "[::ffff:10.0.0.1]:5432",
            "192.0.2.1:6000",
        ] {
            let address: SocketAddr = address.parse().unwrap();
            if let Some(d) = policy.decide(kind, address) {
                let (app, rule) = policy.rule(d.rule);
                let mut name = [0; 32];
                let view = policy.event_rule(d.rule, &mut name);
                // The record read in place writes what the decoded rule writes, unreadable
                // included (beyond the last rule `rule` names no order).
                if (d.rule as usize) < policy.len() {
                    assert_eq!(
                        event_line(kind, address, view),
                        event_line(kind, address, EventRule::of(app, rule)),
                        "rule {}",
                        d.rule
                    );
                }
            }
            if let SocketAddr::V4(v4) = address {
                let _ = policy.quick_rank_v4(kind, v4.ip().to_bits(), v4.port());
                let _ = policy.best_rank_v4(kind, v4.ip().to_bits(), v4.port());
            }
        }
    }
    let _ = policy.rules();
    let _ = policy.provenance();
}

/// Thousands of mangled files (bytes flipped anywhere, the header and table included, truncated,
/// extended): the loader refuses or accepts each without a panic, and an accepted one answers
/// every lookup (bounded: no panic, no endless walk).
#[test]
fn mutated_files_never_crash_the_loader_or_a_lookup() {
    let good = compiled_bytes();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (seed >> 33) as usize % n
    };
    let (mut loaded, mut refused) = (0, 0);
    for round in 0..3000 {
        let mut bytes = good.clone();
        match round % 4 {
            // The header and the section table: what the loader checks.
            0 => {
                let at = next(80 + 113 * 16);
                bytes[at] = next(256) as u8;
            }
            // Anywhere: values the loader does not check.
            1 => {
                for _ in 0..1 + next(16) {
                    let at = next(bytes.len());
                    bytes[at] ^= 1 << next(8);
                }
            }
            2 => bytes.truncate(next(bytes.len())),
            _ => {
                for _ in 0..1 + next(64) {
                    let at = next(bytes.len());
                    bytes[at] = next(256) as u8;
                }
            }
        }
        // Aligned, as a mapping is.
        let mut words = vec![0u128; bytes.len().div_ceil(16)];
        let view: &mut [u8] = zerocopy::IntoBytes::as_mut_bytes(&mut words[..]);
        view[..bytes.len()].copy_from_slice(&bytes);
        let leaked: &'static [u128] = Vec::leak(words);
        let bytes: &'static [u8] = &zerocopy::IntoBytes::as_bytes(leaked)[..bytes.len()];
        let result = std::panic::catch_unwind(|| {
            match Policy::from_compiled(
                bytes,
                Mode::Enforce,
                Box::new(support::resolvers::Table::new(&[])),
            ) {
                Ok(policy) => {
                    judge_everything(&policy);
                    true
                }
                Err(_) => false,
            }
        });
        match result {
            Ok(true) => loaded += 1,
            Ok(false) => refused += 1,
            Err(_) => panic!("round {round}: a mutated file made the loader or a lookup panic"),
        }
    }
    assert!(
        loaded > 500 && refused > 500,
        "loaded {loaded}, refused {refused}"
    );
}

// =============================================================================================
// armr run

#[test]
fn armr_run_compiles_into_its_private_directory_and_the_library_maps_it() {
    support::armr_command();
    let dir = TempDir::new("compiled", "run");
    let (_listener, port) = tcp_listener("127.0.0.1:0");
    let rules = dir.write("web.armr", &rules_text(port));
    let runtime = dir.path("runtime");
    std::fs::create_dir(&runtime).unwrap();
    let run = || {
        let mut command = Command::new(armr_command());
        without_armr_env(&mut command)
            .env("XDG_RUNTIME_DIR", &runtime)
            .args(["run", "-r"])
            .arg(&rules)
            .args([
                "--",
                "/usr/bin/nc",
                "-z",
                "-w",
                "2",
                "127.0.0.1",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = run();
    assert_eq!(out.status.code(), Some(1), "refused: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("|no-local|Execute Rule|High|"),
        "{}",
        text(&out.stderr)
    );
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let private = runtime.join(format!("armr-{uid}"));
    let directories: Vec<PathBuf> = std::fs::read_dir(&private)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let [directory] = directories.as_slice() else {
        panic!("one private directory: {directories:?}")
    };
    let policy = directory.join("policy.armrc");
    assert!(
        compiled::is_compiled(&policy),
        "{} is compiled",
        policy.display()
    );
    let env = std::fs::read_to_string(directory.join("armr.env")).unwrap();
    assert!(
        env.contains(&format!("\nARMR_RULES={}\n", policy.display())),
        "{env}"
    );
    // Same rules, same directory, the compiled file reused; changed rules, a new one.
    let before = std::fs::metadata(&policy).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let _ = run();
    assert_eq!(
        std::fs::metadata(&policy).unwrap().modified().unwrap(),
        before
    );
    std::fs::write(&rules, rules_text(port).replace("High", "Low")).unwrap();
    let out = run();
    assert!(text(&out.stderr).contains("|no-local|Execute Rule|Low|"));
    assert_eq!(std::fs::read_dir(&private).unwrap().count(), 2);
}

// =============================================================================================
// Start-up does not grow with the rules

/// The instructions `/bin/true` executes (callgrind's count, deterministic) with `LD_PRELOAD` set
/// and `ARMR_RULES=rules`.
fn start_up_instructions(rules: &Path) -> u64 {
    let mut command = Command::new("valgrind");
    let out = without_armr_env(&mut command)
        .args([
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            "/bin/true",
        ])
        .env("LD_PRELOAD", support::library())
        .env("ARMR_RULES", rules)
        .stdin(Stdio::null())
        .output()
        .expect("valgrind: this test counts instructions with callgrind (install-test-deps)");
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    stderr
        .lines()
        .find_map(|l| l.split("Collected : ").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no instruction count in:\n{stderr}"))
}

/// A process loading 100,000 compiled rules executes within 2% of the instructions it executes
/// with 100 (and well under a tenth of what parsing 10,000 rules costs it): loading checks the
/// header and the section table, whatever the number of rules.
#[test]
fn start_up_from_a_compiled_policy_is_flat_from_100_to_100000_rules() {
    support::armr_command();
    let dir = TempDir::new("compiled", "flat");
    let mut counts = Vec::new();
    for n in [100, 100_000] {
        let out = Command::new(support::python())
            .arg(support::manifest().join("benches/gen_rules.py"))
            .arg(n.to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "gen_rules.py: {}", text(&out.stderr));
        let rules = dir.path(&format!("r{n}.armr"));
        std::fs::write(&rules, &out.stdout).unwrap();
        let compiled = dir.path(&format!("r{n}.armrc"));
        let out = armr_compile(&rules, &compiled);
        assert!(out.status.success(), "armr compile: {}", text(&out.stderr));
        counts.push(start_up_instructions(&compiled));
    }
    let (small, large) = (counts[0], counts[1]);
    assert!(
        large <= small + small / 50,
        "start-up with 100 compiled rules: {small} instructions; with 100,000: {large}"
    );
}

/// An event from a compiled policy is the event from its rules, field for field (the time and the
/// process id aside): app, rule, severity, message, metadata, address.
#[test]
fn events_from_a_compiled_policy_are_those_of_its_rules() {
    support::armr_command();
    let dir = TempDir::new("compiled", "events");
    let (_listener, port) = tcp_listener("127.0.0.1:0");
    let policy = compiled_file(&dir, port);
    let source = dir.path("web.armr");
    let event = |rules: &Path, name: &str| {
        let log = dir.path(name);
        let setting = format!("file:{}", log.display());
        let out = under_armr(
            "/usr/bin/nc",
            &["-z", "-w", "2", "127.0.0.1", &port.to_string()],
            rules,
            &[("ARMR_LOG", &setting)],
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let line = std::fs::read_to_string(&log).unwrap();
        // Without the syslog header (time, pid) and the CEF time and process id.
        let cef = line.split_once("CEF:").expect("a CEF line").1.to_string();
        cef.split(' ')
            .filter(|f| !f.starts_with("procid="))
            .map(|f| if f.starts_with("rt=") { "rt=" } else { f })
            .collect::<Vec<_>>()
            .join(" ")
            .split("rt=")
            .map(|part| part.to_string())
            .collect::<Vec<_>>()
    };
    let from_source = event(&source, "source.log");
    let from_compiled = event(&policy, "compiled.log");
    assert_eq!(from_compiled[0], from_source[0], "the CEF header");
    // After `rt=`: its date (three words and a zone) differs by the second; the rest is equal.
    let tail = |parts: &[String]| parts[1].split(' ').skip(5).collect::<Vec<_>>().join(" ");
    assert_eq!(tail(&from_compiled), tail(&from_source));
    assert!(
        tail(&from_source).contains("act=protect msg=local port blocked"),
        "{from_source:?}"
    );
}

// =============================================================================================
// Logging allocates nothing in a hook

/// A hook may run in a signal handler that interrupted `malloc`: writing an event allocates
/// nothing, from a compiled policy (its records read in place) as from rules. A shim preloaded
/// before the library counts the allocations made inside `connect` (armr's hook and its event),
/// for two refused, logged connects of `connector`, each the first event of its rule.
#[test]
fn logging_an_event_allocates_nothing_in_the_hook() {
    support::armr_command();
    let dir = TempDir::new("compiled", "allocfree");
    let (listener, port) = tcp_listener("127.0.0.1:0");
    let source = dir.write(
        "alloc.armr",
        &format!(
            r#"app("Alloc Test"):
    requires(version: ARMR/2.11)
    version(3)
    metadata(log: {{team: "blue", env: "test"}})
    socket("first"):
        connect("127.0.0.1:{port}")
        protect(message: "no allocation", severity: High)
        metadata(log: {{env: "prod", owner: "secops"}})
    endsocket
    socket("unused"):
        connect("10.0.0.1:1")
        protect(message: "never")
    endsocket
endapp
"#
        ),
    );
    let policy = dir.path("alloc.armrc");
    let out = armr_compile(&source, &policy);
    assert!(out.status.success(), "armr compile: {}", text(&out.stderr));
    let shim = support::programs::c_library("count_allocations");
    let connector = support::programs::c_program("connector", &[]);
    for (rules, tag) in [(&policy, "compiled"), (&source, "source")] {
        let log = dir.path(&format!("{tag}.log"));
        let mut command = Command::new(&connector);
        support::run::under_armr(
            command.args(["count", "127.0.0.1", &port.to_string(), "2"]),
            rules,
            &log,
        )
        .env(
            "LD_PRELOAD",
            format!("{}:{}", shim.display(), support::library().display()),
        );
        let ran =
            support::run::run(&mut command, &dir.0, tag, Duration::from_secs(20)).with_log(&log);
        assert_eq!(ran.status.code(), Some(0), "{tag}: {}", ran.stderr);
        assert_eq!(ran.stdout, "refused=2 other=0\n", "{tag}");
        assert!(
            ran.stderr
                .ends_with("connects=2 allocations in connect=0\n"),
            "{tag}: {}",
            ran.stderr
        );
        let lines: Vec<&str> = ran.log.lines().collect();
        assert_eq!(lines.len(), 2, "{tag}: {}", ran.log);
        for line in lines {
            assert!(
                line.contains(
                    "|Alloc Test|2.11|first|Execute Rule|High|"
                ) && line.contains(
                    " appVersion=3 ruleType=socket securityFeature=socket connect act=protect msg=no allocation team=blue env=prod owner=secops remoteIpAddress=127.0.0.1 remotePort="
                ),
                "{tag}: {line}"
            );
        }
    }
    support::net::assert_untouched(&listener, "refused connects");
}
