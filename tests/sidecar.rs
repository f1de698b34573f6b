//! The settings in `armr.env` beside the preloaded library: a program that rewrites the
//! environment of what it starts, but keeps LD_PRELOAD, cannot drop or weaken its children's
//! rules (issue 7, "no bypass"). Real programs (python3, nc, sh, env) run under the real
//! target/release/libarmr.so, through scripts/armr-run or with a library installed beside its own
//! armr.env; the test holds a listener on the protected port, so that a connection armr failed to
//! refuse would succeed.
//!
//! Needs `cargo build --release` first, python3 and OpenBSD or GNU netcat (`make test` installs
//! them).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

mod support;
use support::net::tcp_listener;
use support::programs::path;
use support::rules;
use support::run::{Ran, run};
use support::{TempDir, library, manifest, python, without_armr_env};

const REFUSED: &str = "ConnectionRefusedError errno=111";

fn rules(port: u16) -> String {
    rules::policy(
        "Sidecar",
        &[(
            "no local port",
            format!("connect(\"127.0.0.1:{port}\")"),
            "protect(message: \"sidecar refused\", severity: High)",
        )],
    )
}

/// Allows everything: what a child's own environment would like to use instead.
fn permissive() -> String {
    rules::policy(
        "Permissive",
        &[("all", "connect(\"0.0.0.0:0\")", "allow()")],
    )
}

/// `armr-run` with nothing of armr in the environment, its private directory under `dir`.
fn armr_run(dir: &TempDir) -> Command {
    let mut command = Command::new(manifest().join("scripts/armr-run"));
    without_armr_env(&mut command)
        .current_dir(&dir.0)
        .env("XDG_RUNTIME_DIR", &dir.0)
        .env("ARMR_LIB", library())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .env_remove("PYTHONPATH");
    command
}

/// The event lines of a log: (APP-NAME, line).
fn events(log: &Path) -> Vec<(String, String)> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("CEF:0|"))
        .map(|l| (l.split(' ').nth(3).unwrap_or("").to_string(), l.to_string()))
        .collect()
}

#[test]
fn children_with_a_rewritten_environment_that_keeps_ld_preload_are_still_refused() {
    let (protected, port) = tcp_listener("127.0.0.1:0");
    let dir = TempDir::new("sidecar", "rewritten-env");
    let rules = dir.write("rules.armr", &rules(port));
    let permissive = dir.write("permissive.armr", &permissive());
    let log = dir.join("armr.log");
    let out = run(
        armr_run(&dir)
            .arg("-r")
            .arg(&rules)
            .arg("-l")
            .arg(&log)
            .arg("--")
            .arg(python())
            .arg(path("exec_env.py"))
            .args(["127.0.0.1", &port.to_string()])
            .arg(&permissive),
        &dir.0,
        "armr-run",
        Duration::from_secs(120),
    )
    .with_log(&log);
    let context = out.context();
    assert!(out.status.success(), "{context}");
    assert_eq!(out.value("done"), Some("yes"), "{context}");

    // dladdr names the library as LD_PRELOAD does: armr-run's link, not the file it points to.
    let link = out.value("ld_preload_first").unwrap();
    assert_eq!(out.value("dladdr"), Some(link), "{context}");
    assert_eq!(
        fs::canonicalize(link).unwrap(),
        fs::canonicalize(library()).unwrap()
    );
    assert!(
        Path::new(link).with_file_name("armr.env").is_file(),
        "{context}"
    );

    // Every Python process was refused with ECONNREFUSED; every nc failed (exit 1).
    for label in [
        "parent_connect",
        "python_only_preload",
        "posix_spawn",
        "permissive_env",
    ] {
        let result = out
            .value(label)
            .unwrap_or_else(|| panic!("no {label}\n{context}"));
        assert!(result.ends_with(REFUSED), "{label}: {result}\n{context}");
    }
    for label in ["python_only_preload", "posix_spawn", "permissive_env"] {
        assert_eq!(out.value(&format!("{label}_exit")), Some("0"), "{context}");
    }
    for label in ["nc_only_preload", "env_i", "system"] {
        assert_eq!(
            out.value(&format!("{label}_exit")),
            Some("1"),
            "{label}: nc was not refused\n{context}"
        );
    }
    assert_eq!(
        out.value("system_sees"),
        Some("0 ARMR_ variables"),
        "{context}"
    );

    // One event per refusal, each in the sidecar's log (the children's environment named no
    // log, or stderr): 4 from Python, 3 from nc.
    let events = events(&log);
    assert_eq!(events.len(), 7, "{context}");
    for (_, line) in &events {
        assert!(
            line.contains("act=protect msg=sidecar refused")
                && line.contains(&format!("remotePort={port}")),
            "{line}"
        );
    }
    assert_eq!(
        events.iter().filter(|(app, _)| app == "nc").count(),
        3,
        "{context}"
    );
    assert!(!out.stderr.contains("CEF:0|"), "{context}");

    // No connection reached the listener.
    protected.set_nonblocking(true).unwrap();
    assert!(
        protected.accept().is_err(),
        "a connection got through\n{context}"
    );
}

/// A copy of the library in a directory of its own, as installed for /etc/ld.so.preload.
fn installed(dir: &TempDir, sidecar: Option<&str>) -> PathBuf {
    let lib_dir = dir.join("lib");
    fs::create_dir_all(&lib_dir).unwrap();
    let lib = lib_dir.join("libarmr.so");
    fs::copy(library(), &lib).unwrap();
    if let Some(contents) = sidecar {
        fs::write(lib_dir.join("armr.env"), contents).unwrap();
    }
    lib
}

/// `nc -z` to the port with only LD_PRELOAD (and `extra`) in the environment.
fn nc(dir: &TempDir, lib: &Path, port: u16, extra: &[(&str, &str)]) -> Ran {
    let mut command = Command::new("nc");
    command
        .args(["-z", "-w", "5", "127.0.0.1", &port.to_string()])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LD_PRELOAD", lib)
        .envs(extra.iter().copied());
    run(&mut command, &dir.0, "nc", Duration::from_secs(30))
}

#[test]
fn a_sidecar_beside_an_installed_library_configures_every_program_and_wins_over_the_environment() {
    let (_protected, port) = tcp_listener("127.0.0.1:0");
    let dir = TempDir::new("sidecar", "installed");
    let rules = dir.write("rules.armr", &rules(port));
    let permissive = dir.write("permissive.armr", &permissive());
    let log = dir.join("armr.log");
    let lib = installed(
        &dir,
        Some(&format!(
            "# the settings of every process\nARMR_RULES={}\nARMR_LOG=file:{}\n",
            rules.display(),
            log.display()
        )),
    );
    let permissive = permissive.to_str().unwrap();
    for extra in [
        &[][..],
        &[("ARMR_RULES", permissive), ("ARMR_ON_ERROR", "open")][..],
        &[
            ("ARMR_RULES", ""),
            ("ARMR_MODE", "detect-only"),
            ("ARMR_LOG", "stderr"),
        ][..],
    ] {
        let before = events(&log).len();
        let out = nc(&dir, &lib, port, extra);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{extra:?}: nc was not refused\n{}",
            out.stderr
        );
        assert_eq!(events(&log).len(), before + 1, "{extra:?}: one event");
    }
    // The same library without its sidecar reads the environment, as before.
    fs::remove_file(lib.with_file_name("armr.env")).unwrap();
    let out = nc(&dir, &lib, port, &[("ARMR_RULES", permissive)]);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let out = nc(&dir, &lib, port, &[("ARMR_RULES", rules.to_str().unwrap())]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
}

/// Runs `sh -c 'touch MARKER'` under the installed library: (status, stderr, whether it ran).
fn start_under(lib: &Path, dir: &TempDir, extra: &[(&str, &str)]) -> (Option<i32>, String, bool) {
    let marker = dir.join("ran");
    let _ = fs::remove_file(&marker);
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(format!("touch '{}'", marker.display()))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LD_PRELOAD", lib)
        .envs(extra.iter().copied());
    let out = run(&mut command, &dir.0, "sh", Duration::from_secs(30));
    (out.code(), out.stderr, marker.exists())
}

#[test]
fn a_broken_or_untrusted_sidecar_stops_the_program_before_it_starts() {
    let dir = TempDir::new("sidecar", "broken");
    let rules = dir.write("rules.armr", &rules(9));
    let lib = installed(&dir, None);
    let sidecar = lib.with_file_name("armr.env");
    let shown = sidecar.display().to_string();
    let good = format!("ARMR_RULES={}\n", rules.display());

    // A malformed line; ARMR_ON_ERROR defaults to closed. The environment cannot open it.
    fs::write(
        &sidecar,
        format!("{good}ARMR_MODE=enforce\nnot a setting\n"),
    )
    .unwrap();
    let (status, stderr, ran) = start_under(&lib, &dir, &[("ARMR_ON_ERROR", "open")]);
    assert_eq!((status, ran), (Some(1), false), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "armr: error: {shown}:3: expected `KEY=VALUE`, a `#` comment or a blank line"
        )) && stderr.contains("stopping sh before it starts (ARMR_ON_ERROR=closed in"),
        "{stderr}"
    );

    // An unknown setting, a bad value: each named with its line.
    fs::write(&sidecar, format!("ARMR_RULE=/x\n{good}ARMR_MODE=audit\n")).unwrap();
    let (status, stderr, ran) = start_under(&lib, &dir, &[]);
    assert_eq!((status, ran), (Some(1), false), "{stderr}");
    assert!(
        stderr.contains(&format!("{shown}:1: unknown setting `ARMR_RULE`")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{shown}:3: ARMR_MODE=audit: expected")),
        "{stderr}"
    );

    // Rules that do not exist: named with the sidecar's line.
    fs::write(&sidecar, "ARMR_RULES=/nonexistent/armr/rules.armr\n").unwrap();
    let (status, stderr, ran) = start_under(&lib, &dir, &[]);
    assert_eq!((status, ran), (Some(1), false), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/armr/rules.armr: error: cannot read the rules file")
            && stderr.contains(&format!("armr: the rules are ARMR_RULES at {shown}:1\n")),
        "{stderr}"
    );

    // The sidecar's own ARMR_ON_ERROR=open runs the program, saying it is unprotected.
    fs::write(&sidecar, format!("ARMR_ON_ERROR=open\n{good}bogus\n")).unwrap();
    let (status, stderr, ran) = start_under(&lib, &dir, &[]);
    assert_eq!((status, ran), (Some(0), true), "{stderr}");
    assert!(
        stderr.contains("runs WITHOUT armr's protection (ARMR_ON_ERROR=open in"),
        "{stderr}"
    );

    // Writable by others: whoever can write it could choose the rules. Not trusted.
    fs::write(&sidecar, &good).unwrap();
    fs::set_permissions(&sidecar, fs::Permissions::from_mode(0o666)).unwrap();
    let (status, stderr, ran) = start_under(&lib, &dir, &[]);
    assert_eq!((status, ran), (Some(1), false), "{stderr}");
    assert!(
        stderr.contains(&format!("{shown}: writable by its group or others")),
        "{stderr}"
    );

    // A dangling symlink is a sidecar meant, not an absent one.
    fs::remove_file(&sidecar).unwrap();
    std::os::unix::fs::symlink(dir.join("gone.env"), &sidecar).unwrap();
    let (status, stderr, ran) = start_under(&lib, &dir, &[("ARMR_RULES", rules.to_str().unwrap())]);
    assert_eq!((status, ran), (Some(1), false), "{stderr}");
    assert!(
        stderr.contains(&format!("{shown}: a symlink to a missing file")),
        "{stderr}"
    );

    // A valid one: the program runs, quietly.
    fs::remove_file(&sidecar).unwrap();
    fs::write(&sidecar, &good).unwrap();
    let (status, stderr, ran) = start_under(&lib, &dir, &[]);
    assert_eq!((status, stderr.as_str(), ran), (Some(0), "", true));
}

/// When a sidecar stops the program, the last line says where ARMR_ON_ERROR can be changed: in
/// that file, or nowhere (an untrusted sidecar must be fixed). It used to say "set
/// ARMR_ON_ERROR=open", which the environment cannot do while the sidecar is there.
#[test]
fn a_sidecar_that_stops_the_program_says_where_to_change_on_error() {
    let dir = TempDir::new("sidecar", "on-error-hint");
    let rules = dir.write("rules.armr", &rules(9));
    let lib = installed(&dir, None);
    let sidecar = lib.with_file_name("armr.env");
    let shown = sidecar.display().to_string();
    fs::write(
        &sidecar,
        format!("ARMR_RULES={}\nARMR_MODE=audit\n", rules.display()),
    )
    .unwrap();
    let (status, stderr, ran) = start_under(&lib, &dir, &[("ARMR_ON_ERROR", "open")]);
    assert_eq!((status, ran), (Some(1), false), "{stderr}");
    assert!(
        stderr.ends_with(&format!(
            "stopping sh before it starts (ARMR_ON_ERROR=closed in {shown}; set \
             ARMR_ON_ERROR=open in that file to run it unprotected)\n"
        )),
        "{stderr}"
    );
    fs::write(&sidecar, format!("ARMR_RULES={}\n", rules.display())).unwrap();
    fs::set_permissions(&sidecar, fs::Permissions::from_mode(0o666)).unwrap();
    let (status, stderr, ran) = start_under(&lib, &dir, &[("ARMR_ON_ERROR", "open")]);
    assert_eq!((status, ran), (Some(1), false), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "armr: error: {shown}: writable by its group or others (mode 666): not trusted; \
             chmod go-w {shown}\n"
        )),
        "says how to fix it: {stderr}"
    );
    assert!(
        stderr.ends_with(
            "stopping sh before it starts (ARMR_ON_ERROR=closed, the default, as the sidecar \
             cannot be read; fix the sidecar: the environment's ARMR_ON_ERROR does not apply)\n"
        ),
        "{stderr}"
    );
}
