//! System-wide mode in a chroot: libarmr.so in the chroot's /etc/ld.so.preload (so every program
//! started in it loads armr), the policy installed by `armr install`, root and non-root (nobody,
//! through setpriv) programs. The chroot is assembled from this machine's own programs and the
//! libraries `ldd` lists for them, plus `make install DESTDIR=...` (docs/system-wide.md says why
//! not debootstrap); it takes well under a second to build. Needs root (chroot), as CI runs.

mod support;

use std::fs;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use support::TempDir;

/// The programs the scenarios run inside the chroot.
const PROGRAMS: &[&str] = &[
    "sh", "cat", "rm", "truncate", "setpriv", "nc", "ls", "cp", "chmod", "mkdir", "true", "sleep",
];

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

unsafe extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// Copies `file` (following symlinks) to the same path under `root`.
fn copy_in(root: &Path, file: &Path) {
    let target = root.join(file.strip_prefix("/").unwrap());
    if target.exists() {
        return;
    }
    fs::create_dir_all(target.parent().unwrap()).unwrap();
    fs::copy(file, &target).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
}

/// The shared libraries the loader finds for `file`.
fn copy_libraries(root: &Path, file: &Path) {
    let ldd = Command::new("ldd").arg(file).output().unwrap();
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let path = line
            .split_whitespace()
            .find(|word| word.starts_with('/'))
            .map(PathBuf::from);
        if let Some(path) = path {
            copy_in(root, &path);
        }
    }
}

/// A chroot with the programs, armr installed by `make install` and in /etc/ld.so.preload,
/// `rules` as /etc/armr/rules/main.armr and installed by the chroot's own `armr install`.
struct Chroot {
    dir: TempDir,
}

impl Chroot {
    fn new(test: &str, rules: &str) -> Chroot {
        let dir = TempDir::new("system-wide", test);
        let root = dir.join("root");
        for program in PROGRAMS {
            let path = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
                .iter()
                .map(|d| Path::new(d).join(program))
                .find(|p| p.is_file())
                .unwrap_or_else(|| panic!("{program} is not installed"));
            copy_in(&root, &path);
            copy_libraries(&root, &path);
        }
        // `make install`, with the build the tests check is fresh (CARGO=true: no rebuild here).
        support::library();
        support::armr_command();
        let make = Command::new("make")
            .current_dir(support::manifest())
            .args(["-s", "install", "CARGO=true", "PREFIX=/usr/local"])
            .arg(format!("DESTDIR={}", root.display()))
            .output()
            .unwrap();
        assert!(
            make.status.success(),
            "make install: {}",
            text(&make.stderr)
        );
        for file in ["usr/local/bin/armr", "usr/local/lib/armr/libarmr.so"] {
            copy_libraries(&root, &root.join(file));
        }
        for d in ["tmp", "dev", "var/log", "etc/armr/rules"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
        let null = Command::new("mknod")
            .args(["-m", "666"])
            .arg(root.join("dev/null"))
            .args(["c", "1", "3"])
            .status()
            .unwrap();
        assert!(null.success());
        fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        )
        .unwrap();
        fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        fs::write(root.join("etc/armr/rules/main.armr"), rules).unwrap();
        let chroot = Chroot { dir };
        let installed = chroot.run(&["/usr/local/bin/armr", "install"]);
        assert!(
            installed.status.success(),
            "armr install: {}",
            text(&installed.stderr)
        );
        fs::write(
            chroot.path("etc/ld.so.preload"),
            "/usr/local/lib/armr/libarmr.so\n",
        )
        .unwrap();
        chroot
    }

    fn path(&self, inside: &str) -> PathBuf {
        self.dir.join("root").join(inside)
    }

    /// Runs `command` in the chroot as root, with a clean environment.
    fn run(&self, command: &[&str]) -> Output {
        Command::new("/usr/sbin/chroot")
            .arg(self.dir.join("root"))
            .args(command)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .output()
            .unwrap()
    }

    /// Runs `command` in the chroot as nobody.
    fn run_as_nobody(&self, command: &[&str]) -> Output {
        let mut full = vec![
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ];
        full.extend_from_slice(command);
        self.run(&full)
    }

    /// A syslog daemon's socket at the chroot's /dev/log.
    fn syslog(&self) -> UnixDatagram {
        let socket = UnixDatagram::bind(self.path("dev/log")).unwrap();
        fs::set_permissions(self.path("dev/log"), fs::Permissions::from_mode(0o666)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        socket
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The datagrams waiting on `socket`.
fn received(socket: &UnixDatagram) -> Vec<String> {
    let mut lines = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match socket.recv(&mut buf) {
            Ok(n) => lines.push(text(&buf[..n])),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("{e}"),
        }
    }
    lines
}

/// Rules refusing every connection to `port` on 127.0.0.1 (ECONNREFUSED), logged.
fn refusing(port: u16) -> String {
    format!(
        "app(\"host\"):\n    requires(version: ARMR/2.11)\n    socket(\"no {port}\"):\n        \
         connect(\"127.0.0.1:{port}\")\n        protect(message: \"blocked by the system policy\", \
         severity: High)\n    endsocket\nendapp\n"
    )
}

/// A port with a listener behind it (so that a refusal is armr's, not the kernel's).
fn listening() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// `nc -z -v` (connect, then close) to 127.0.0.1:`port`.
fn nc(port: u16) -> Vec<String> {
    vec![
        "nc".into(),
        "-z".into(),
        "-v".into(),
        "-w".into(),
        "2".into(),
        "127.0.0.1".into(),
        port.to_string(),
    ]
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn assert_refused(output: &Output, port: u16, who: &str) {
    assert_eq!(output.status.code(), Some(1), "{who}: {output:?}");
    assert!(
        text(&output.stderr).contains(&format!(
            "connect to 127.0.0.1 port {port} (tcp) failed: Connection refused"
        )),
        "{who}: nc says the connection was refused; stderr:\n{}",
        text(&output.stderr)
    );
}

macro_rules! needs_root {
    () => {
        if !is_root() {
            eprintln!("skipped: chroot needs root (CI runs as root)");
            return;
        }
    };
}

#[test]
fn root_and_non_root_programs_are_judged_by_the_installed_policy() {
    needs_root!();
    let (_blocked_listener, blocked) = listening();
    let (_open_listener, open) = listening();
    let chroot = Chroot::new("judged", &refusing(blocked));
    // Syslog: the destination every process may write to (a file root created may not be).
    fs::write(chroot.path("etc/armr/armr.env"), "ARMR_LOG=syslog\n").unwrap();
    let syslog = chroot.syslog();
    assert_refused(&chroot.run(&args(&nc(blocked))), blocked, "root");
    assert_refused(
        &chroot.run_as_nobody(&args(&nc(blocked))),
        blocked,
        "nobody",
    );
    // Another port: no rule, the connection is made.
    let allowed = chroot.run_as_nobody(&args(&nc(open)));
    assert!(allowed.status.success(), "{allowed:?}");
    assert!(
        !text(&allowed.stderr).contains("armr"),
        "nothing to report: {allowed:?}"
    );
    let events = received(&syslog);
    assert_eq!(events.len(), 2, "one event per refusal: {events:?}");
    assert!(
        events.iter().all(
            |e| e.contains("act=protect msg=blocked by the system policy")
                && e.ends_with(&format!("remotePort={blocked}"))
        ),
        "{events:?}"
    );
}

#[test]
fn a_broken_edit_is_refused_by_armr_install_and_the_installed_policy_kept() {
    needs_root!();
    let (_listener, blocked) = listening();
    let chroot = Chroot::new("broken-edit", &refusing(blocked));
    let before = fs::read(chroot.path("etc/armr/policy.armrc")).unwrap();
    fs::write(
        chroot.path("etc/armr/rules/main.armr"),
        refusing(blocked).replace("endsocket", "endsock"),
    )
    .unwrap();
    let install = chroot.run(&["armr", "install"]);
    assert_eq!(install.status.code(), Some(1), "{install:?}");
    let stderr = text(&install.stderr);
    assert!(
        stderr.contains("error")
            && stderr.ends_with("armr: nothing installed: /etc/armr/policy.armrc is unchanged\n"),
        "{stderr}"
    );
    assert_eq!(
        fs::read(chroot.path("etc/armr/policy.armrc")).unwrap(),
        before
    );
    assert_refused(
        &chroot.run_as_nobody(&args(&nc(blocked))),
        blocked,
        "nobody",
    );
}

#[test]
fn a_truncated_policy_stops_no_program_and_the_last_good_one_is_enforced() {
    needs_root!();
    let (_listener, blocked) = listening();
    let chroot = Chroot::new("truncated", &refusing(blocked));
    let syslog = chroot.syslog();
    // Truncated by hand, by a program that itself runs under armr.
    let truncate = chroot.run(&["truncate", "-s", "100", "/etc/armr/policy.armrc"]);
    assert!(truncate.status.success(), "{truncate:?}");
    let warning = "armr: warning: system-wide mode: /etc/armr/policy.armrc: compiled policy: \
                   truncated or extended: its header says";
    // rm, cat and sh still run; each process reports the problem once, and still enforces.
    fs::write(chroot.path("tmp/x"), "x").unwrap();
    let shell = chroot.run(&["sh", "-c", "cat /etc/group && rm /tmp/x && echo done"]);
    assert!(shell.status.success(), "{shell:?}");
    assert_eq!(text(&shell.stdout), "root:x:0:\nnogroup:x:65534:\ndone\n");
    let stderr = text(&shell.stderr);
    // sh, cat, rm: one report each.
    assert_eq!(stderr.matches(warning).count(), 3, "{stderr}");
    assert!(
        stderr.contains("enforcing the last good policy, /etc/armr/policy.armrc.last-good"),
        "{stderr}"
    );
    let reported = received(&syslog);
    assert_eq!(reported.len(), 3, "{reported:?}");
    assert!(
        reported.iter().all(|r| r.starts_with("<12>armr[")
            && r.contains("system-wide mode, in ")
            && r.contains("enforcing the last good policy")),
        "{reported:?}"
    );
    assert_refused(
        &chroot.run_as_nobody(&args(&nc(blocked))),
        blocked,
        "nobody",
    );
    // A huge file in its place (sparse here) is not read whole by every process.
    let huge = chroot.run(&["truncate", "-s", "100M", "/etc/armr/policy.armrc"]);
    assert!(huge.status.success(), "{huge:?}");
    let cat = chroot.run(&["cat", "/etc/group"]);
    assert!(cat.status.success(), "{cat:?}");
    assert_eq!(
        text(&cat.stderr),
        "armr: warning: system-wide mode: /etc/armr/policy.armrc: 104857600 bytes, more than a \
         compiled policy's 67108864: enforcing the last good policy, \
         /etc/armr/policy.armrc.last-good\n"
    );
    // The last good copy broken too: programs still run, unprotected, and say so.
    let both = chroot.run(&["sh", "-c", ": > /etc/armr/policy.armrc.last-good && true"]);
    assert!(both.status.success(), "{both:?}");
    let unprotected = chroot.run(&["cat", "/etc/group"]);
    assert!(unprotected.status.success(), "{unprotected:?}");
    assert!(
        text(&unprotected.stderr).ends_with("this process runs WITHOUT armr's protection\n"),
        "{unprotected:?}"
    );
    // `armr install` repairs both.
    let install = chroot.run(&["armr", "install"]);
    assert!(install.status.success(), "{install:?}");
    let repaired = chroot.run(&["cat", "/etc/group"]);
    assert_eq!(text(&repaired.stderr), "");
    assert_refused(&chroot.run(&args(&nc(blocked))), blocked, "root");
}

#[test]
fn an_unwritable_log_and_unreadable_settings_leave_non_root_programs_running_and_enforced() {
    needs_root!();
    let (_listener, blocked) = listening();
    let chroot = Chroot::new("log", &refusing(blocked));
    let syslog = chroot.syslog();
    fs::write(
        chroot.path("etc/armr/armr.env"),
        "ARMR_LOG=file:/var/log/armr.log\n",
    )
    .unwrap();
    // The log root created, mode 0640: a non-root process cannot open it.
    fs::write(chroot.path("var/log/armr.log"), "").unwrap();
    fs::set_permissions(
        chroot.path("var/log/armr.log"),
        fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    let refused = chroot.run_as_nobody(&args(&nc(blocked)));
    assert_refused(&refused, blocked, "nobody");
    assert!(
        text(&refused.stderr).starts_with(
            "armr: warning: system-wide mode: ARMR_LOG: /var/log/armr.log: cannot open: \
             Permission denied (os error 13): events go to syslog instead; the rules are enforced\n"
        ),
        "{refused:?}"
    );
    let reported = received(&syslog);
    assert!(
        reported
            .iter()
            .any(|r| r.contains("events go to syslog instead")),
        "{reported:?}"
    );
    assert!(
        reported
            .iter()
            .any(|r| r.contains("blocked by the system policy")),
        "the event itself reaches syslog: {reported:?}"
    );
    // Settings only root can read: a non-root process uses the defaults, and still enforces.
    fs::set_permissions(
        chroot.path("etc/armr/armr.env"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let refused = chroot.run_as_nobody(&args(&nc(blocked)));
    assert_refused(&refused, blocked, "nobody");
    assert!(
        text(&refused.stderr).starts_with(
            "armr: warning: system-wide mode: /etc/armr/armr.env: cannot open: Permission denied \
             (os error 13): the default settings apply\n"
        ),
        "{refused:?}"
    );
    // Root still logs to the file.
    assert_refused(&chroot.run(&args(&nc(blocked))), blocked, "root");
    assert!(
        fs::read_to_string(chroot.path("var/log/armr.log"))
            .unwrap()
            .contains("blocked by the system policy")
    );
}

#[test]
fn make_install_honours_prefix_and_destdir_strips_keeps_debug_info_apart_and_uninstalls() {
    let dir = TempDir::new("system-wide", "make-install");
    support::library();
    support::armr_command();
    let destdir = dir.join("dest");
    let make = |target: &str| {
        Command::new("make")
            .current_dir(support::manifest())
            .args(["-s", target, "CARGO=true", "PREFIX=/opt/armr"])
            .arg(format!("DESTDIR={}", destdir.display()))
            .output()
            .unwrap()
    };
    let installed = make("install");
    assert!(installed.status.success(), "{installed:?}");
    let armr = destdir.join("opt/armr/bin/armr");
    let library = destdir.join("opt/armr/lib/armr/libarmr.so");
    let sections = |file: &Path| {
        text(
            &Command::new("readelf")
                .args(["-S", "-W"])
                .arg(file)
                .output()
                .unwrap()
                .stdout,
        )
    };
    for (file, debug) in [
        (&armr, "opt/armr/lib/debug/opt/armr/bin/armr.debug"),
        (
            &library,
            "opt/armr/lib/debug/opt/armr/lib/armr/libarmr.so.debug",
        ),
    ] {
        let stripped = sections(file);
        assert!(
            !stripped.contains(".debug_info"),
            "{}: stripped",
            file.display()
        );
        assert!(
            !stripped.contains(" .symtab"),
            "{}: stripped",
            file.display()
        );
        assert!(
            stripped.contains(".gnu_debuglink"),
            "{}: linked",
            file.display()
        );
        assert!(
            sections(&destdir.join(debug)).contains(".debug_info"),
            "{debug}"
        );
    }
    assert!(
        destdir
            .join("opt/armr/share/doc/armr/system-wide.md")
            .is_file()
    );
    // The installed armr finds the installed library, without ARMR_LIB.
    let (_listener, blocked) = listening();
    let rules = dir.write("rules.armr", &refusing(blocked));
    let mut run = Command::new(&armr);
    support::without_armr_env(&mut run);
    let output = run
        .arg("run")
        .arg("-r")
        .arg(&rules)
        .arg("--")
        .args(nc(blocked))
        .output()
        .unwrap();
    assert_refused(&output, blocked, "armr run");
    let uninstalled = make("uninstall");
    assert!(uninstalled.status.success(), "{uninstalled:?}");
    let left = Command::new("find")
        .arg(&destdir)
        .args(["-type", "f"])
        .output()
        .unwrap();
    assert_eq!(text(&left.stdout), "", "make uninstall removes every file");
}

#[test]
fn armr_install_replaces_the_policy_under_a_prefix_and_uninstall_removes_it() {
    let dir = TempDir::new("system-wide", "armr-install");
    let prefix = dir.join("root");
    let rules = dir.write("rules.armr", &refusing(9));
    let armr = |args: &[&str]| {
        Command::new(support::armr_command())
            .args(args)
            .arg("--prefix")
            .arg(&prefix)
            .output()
            .unwrap()
    };
    let install = armr(&["install", "-r", rules.to_str().unwrap()]);
    assert!(install.status.success(), "{install:?}");
    let policy = prefix.join("etc/armr/policy.armrc");
    assert_eq!(
        text(&install.stdout),
        format!(
            "{}: 1 rule installed from 1 file (last good copy: {}.last-good)\n",
            policy.display(),
            policy.display()
        )
    );
    for file in [
        policy.clone(),
        prefix.join("etc/armr/policy.armrc.last-good"),
    ] {
        let meta = fs::metadata(&file).unwrap();
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o444,
            "{}",
            file.display()
        );
    }
    let check = Command::new(support::armr_command())
        .arg("check")
        .arg(&policy)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    let uninstall = armr(&["uninstall"]);
    assert_eq!(
        text(&uninstall.stdout),
        format!(
            "{}.last-good: removed\n{}: removed\n",
            policy.display(),
            policy.display()
        )
    );
    assert!(!policy.exists());
    let again = armr(&["uninstall"]);
    assert!(again.status.success());
    assert_eq!(
        text(&again.stdout),
        format!("{}: no policy installed\n", policy.display())
    );
}

/// The two systemd drop-ins of docs/system-wide.md, as far as they can run here (no systemd in
/// the chroot): the drop-in's `ExecStart=armr run -r RULES -- PROGRAM` command line, and a
/// program started with the drop-in's `Environment=LD_PRELOAD=...` and no ARMR_RULES, which the
/// installed policy then judges. /etc/ld.so.preload is removed first: neither relies on it.
#[test]
fn the_systemd_drop_ins_commands_enforce_the_rules_in_the_chroot() {
    needs_root!();
    let (_listener, blocked) = listening();
    let chroot = Chroot::new("systemd", &refusing(blocked));
    fs::remove_file(chroot.path("etc/ld.so.preload")).unwrap();
    let doc = fs::read_to_string(support::manifest().join("docs/system-wide.md")).unwrap();
    let preload = "Environment=LD_PRELOAD=/usr/local/lib/armr/libarmr.so";
    assert!(doc.contains(preload), "the drop-in in the doc");
    assert!(doc.contains("ExecStart=/usr/local/bin/armr run -r /etc/armr/rules -- "));
    // Without armr: the connection is made (a listener is there).
    let plain = chroot.run(&args(&nc(blocked)));
    assert!(plain.status.success(), "{plain:?}");
    let mut exec_start = vec![
        "/usr/local/bin/armr".to_string(),
        "run".into(),
        "-r".into(),
        "/etc/armr/rules".into(),
        "--".into(),
    ];
    exec_start.extend(nc(blocked));
    // A service has /proc (armr run finds itself there): mounted in a mount namespace of the
    // command's own, gone with it.
    fs::create_dir_all(chroot.path("proc")).unwrap();
    let with_proc = Command::new("unshare")
        .arg(format!("--mount-proc={}", chroot.path("proc").display()))
        .arg("/usr/sbin/chroot")
        .arg(chroot.path(""))
        .args(&exec_start)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .output()
        .unwrap();
    assert_refused(&with_proc, blocked, "ExecStart=armr run");
    let mut environment = Command::new("/usr/sbin/chroot");
    environment
        .arg(chroot.path(""))
        .args(nc(blocked))
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LD_PRELOAD", "/usr/local/lib/armr/libarmr.so");
    assert_refused(
        &environment.output().unwrap(),
        blocked,
        "Environment=LD_PRELOAD",
    );
}

#[test]
fn running_programs_pick_up_the_policy_armr_install_replaces() {
    needs_root!();
    let (_first_listener, first) = listening();
    let (_second_listener, second) = listening();
    let chroot = Chroot::new("live", &refusing(first));
    fs::write(
        chroot.path("etc/armr/armr.env"),
        "ARMR_LOG=syslog\nARMR_LOG_LIFECYCLE=on\n",
    )
    .unwrap();
    let syslog = chroot.syslog();
    let connector = support::programs::c_program("connector", &[]);
    copy_in(&chroot.path(""), &connector);
    copy_libraries(&chroot.path(""), &connector);
    let inside = connector.to_str().unwrap();
    // One program, running throughout: a connect to each port, a pause, and again.
    let start = |port: u16| {
        Command::new("/usr/sbin/chroot")
            .arg(chroot.path(""))
            .args([inside, "pause", "127.0.0.1", &port.to_string(), "1", "1"])
            .env_clear()
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut on_first = start(first);
    let mut on_second = start(second);
    let wait_paused = |child: &mut std::process::Child| {
        let mut line = [0u8; 7];
        std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut line).unwrap();
        assert_eq!(&line, b"paused\n");
    };
    wait_paused(&mut on_first);
    wait_paused(&mut on_second);
    // The rules now refuse the second port, not the first; then a broken edit, refused.
    fs::write(chroot.path("etc/armr/rules/main.armr"), refusing(second)).unwrap();
    let install = chroot.run(&["armr", "install"]);
    assert!(install.status.success(), "{install:?}");
    std::thread::sleep(Duration::from_millis(2500));
    let finish = |mut child: std::process::Child| {
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"go\n").unwrap();
        let out = child.wait_with_output().unwrap();
        text(&out.stdout)
    };
    // Each had one connect before and one after: refused then made, made then refused.
    assert_eq!(finish(on_first), "refused=1 other=1\n");
    assert_eq!(finish(on_second), "refused=1 other=1\n");
    let events = received(&syslog);
    let reloaded = events
        .iter()
        .filter(|e| e.contains("|Reload Rules|") && e.contains("outcome=success"))
        .count();
    assert_eq!(reloaded, 2, "one reload per running program: {events:?}");
}
