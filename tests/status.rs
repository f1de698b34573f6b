//! `armr status`: real programs under both engines are listed with their policy (source, digest,
//! load time) and mode; an unprivileged user sees their own processes only.

mod support;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::{TempDir, armr_command, library, manifest, without_armr_env};

/// `armr run ARGS -- sleep 20`, started (killed at the end). coreutils' sleep: any user may run it.
fn sleeper(dir: &TempDir, args: &[&str], user: Option<u32>) -> Running {
    library();
    let mut command = match user {
        Some(uid) => {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={uid}"),
                &format!("--regid={uid}"),
                "--clear-groups",
            ])
            .arg(armr_command());
            c
        }
        None => Command::new(armr_command()),
    };
    without_armr_env(&mut command)
        .current_dir(manifest())
        .env("XDG_RUNTIME_DIR", &dir.0)
        .arg("run")
        .args(args)
        .arg("--")
        .args(["sleep", "20"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(&format!("{}.stderr", user.unwrap_or(0)))).unwrap())
        .process_group(0)
        .spawn()
        .map(Running)
        .unwrap()
}

/// `armr status --json`, as `user` when given.
fn status(user: Option<u32>) -> Vec<Value> {
    let mut command = match user {
        Some(uid) => {
            let mut c = Command::new("setpriv");
            c.args([
                &format!("--reuid={uid}"),
                &format!("--regid={uid}"),
                "--clear-groups",
            ])
            .arg(armr_command());
            c
        }
        None => Command::new(armr_command()),
    };
    let out = command.args(["status", "--json"]).output().unwrap();
    assert!(out.status.success(), "armr status --json: {out:?}");
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// The entry of the process guarded for `child` (its own pid under the preload engine, which
/// execs; its supervised child's under seccomp), waited for up to 10 s.
fn entry(dir: &TempDir, child: &Running, user: Option<u32>) -> Value {
    let child = &child.0;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Under the preload engine, once the library has mapped the compiled policy (between
        // exec and its constructor, the process holds the library only).
        let found = status(user).into_iter().find(|e| {
            (e["pid"] == child.id() || e["supervisor"] == child.id())
                && (e["engine"] == "seccomp" || !e["compiled"].is_null())
        });
        if let Some(found) = found {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "pid {} is not listed by armr status: {:?}; its stderr (in {}): {}",
            child.id(),
            status(user),
            dir.0.display(),
            std::fs::read_to_string(dir.join(&format!("{}.stderr", user.unwrap_or(0))))
                .unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn sha256(path: &Path) -> String {
    armr::digest::hex(&armr::digest::sha256(&std::fs::read(path).unwrap()))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A started `armr run`, in a process group of its own: the group (supervisor and program) is
/// killed when the test ends, passed or failed.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        support::run::kill_group(self.0.id());
        let _ = self.0.wait();
    }
}

#[test]
fn status_lists_programs_under_either_engine_with_their_policy() {
    let dir = TempDir::new("status", "engines");
    let rules = manifest().join("rules/web.armr");
    // /proc/stat's boot time is whole seconds: a start computed from it may read 1 s early.
    let before = now() - 1;
    let preload = sleeper(&dir, &["-r", "rules/web.armr", "--engine", "preload"], None);
    let seccomp = sleeper(
        &dir,
        &[
            "-r",
            "rules/web.armr",
            "--engine",
            "seccomp",
            "--detect-only",
        ],
        None,
    );
    let p = entry(&dir, &preload, None);
    let s = entry(&dir, &seccomp, None);
    let after = now();
    drop(preload);
    drop(seccomp);

    // Preload: the process itself (armr run execs), the compiled policy it maps, its sources.
    assert_eq!(p["engine"], "preload", "{p}");
    assert_eq!(p["mode"], "enforce", "{p}");
    assert_eq!(p["command"], "sleep", "{p}");
    assert_eq!(p["source"], rules.display().to_string(), "{p}");
    let compiled = p["compiled"].as_str().expect("a compiled policy mapped");
    assert!(compiled.starts_with(&dir.0.display().to_string()), "{p}");
    assert_eq!(p["digest"], sha256(Path::new(compiled)), "{p}");
    assert_eq!(
        p["sources"],
        serde_json::json!([[rules.display().to_string(), sha256(&rules)]]),
        "{p}"
    );
    let loaded = p["loaded"].as_u64().unwrap();
    assert!(
        (before..=after).contains(&loaded),
        "{p}: not in {before}..={after}"
    );
    assert_eq!(p["dropped"], serde_json::json!(0), "{p}");

    // Seccomp: the supervised program, its supervisor, the rules that supervisor enforces.
    assert_eq!(s["engine"], "seccomp", "{s}");
    assert_eq!(s["mode"], "detect-only", "{s}");
    assert_eq!(s["command"], "sleep", "{s}");
    assert_ne!(s["pid"], s["supervisor"], "{s}");
    assert_eq!(s["source"], rules.display().to_string(), "{s}");
    assert_eq!(s["digest"], sha256(&rules), "{s}");
    let loaded = s["loaded"].as_u64().unwrap();
    assert!(
        (before..=after).contains(&loaded),
        "{s}: not in {before}..={after}"
    );
}

#[test]
fn an_unprivileged_user_sees_their_own_processes_only() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run processes as two users");
        return;
    }
    let dir = TempDir::new("status", "users");
    std::fs::set_permissions(&dir.0, std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    let nobody = 65534;
    let mine = sleeper(&dir, &["-r", "rules/web.armr"], Some(nobody));
    let roots = sleeper(&dir, &["-r", "rules/web.armr", "--detect-only"], None);
    let seen = entry(&dir, &mine, Some(nobody));
    assert_eq!(seen["engine"], "preload", "{seen}");
    // Root's guarded process is listed for root, not for nobody.
    let roots_entry = entry(&dir, &roots, None);
    assert_eq!(roots_entry["mode"], "detect-only", "{roots_entry}");
    let for_nobody = status(Some(nobody));
    drop(mine);
    drop(roots);
    assert!(
        for_nobody.iter().all(|e| e["pid"] != roots_entry["pid"]),
        "nobody sees root's process: {for_nobody:?}"
    );
}

/// The events a process's log destination lost: `armr status` reads the count the process keeps
/// (from its first loss), 0 when it lost none.
#[test]
fn status_shows_the_events_a_process_could_not_log() {
    let dir = TempDir::new("status", "dropped");
    let rules = dir.join("no9.armr");
    std::fs::write(
        &rules,
        "app(\"t\"):\n    requires(version: ARMR/2.11)\n    socket(\"no 9\"):\n        \
         connect(\"127.0.0.1:9\")\n        protect(message: \"blocked\", severity: High)\n    \
         endsocket\nendapp\n",
    )
    .unwrap();
    // A TCP log destination where nothing listens: every event is lost, and counted.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let run = |connects: usize| {
        let script = format!(
            "import socket, time\nfor _ in range({connects}):\n    try:\n        \
             socket.create_connection(('127.0.0.1', 9))\n    except OSError:\n        pass\n\
             print('done', flush=True)\ntime.sleep(20)\n"
        );
        let mut command = Command::new(armr_command());
        without_armr_env(&mut command)
            .env("XDG_RUNTIME_DIR", &dir.0)
            .args(["run", "-r", rules.to_str().unwrap(), "-l"])
            .arg(format!("tcp://127.0.0.1:{port}"))
            .args(["--", "python3", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map(Running)
            .unwrap()
    };
    let mut lossy = run(3);
    let mut quiet = run(0);
    let dropped = |child: &mut Running| {
        let mut line = [0u8; 5];
        std::io::Read::read_exact(child.0.stdout.as_mut().unwrap(), &mut line).unwrap();
        assert_eq!(&line, b"done\n");
        let e = status(None)
            .into_iter()
            .find(|e| e["pid"] == child.0.id())
            .unwrap_or_else(|| panic!("{} not listed", child.0.id()));
        e["dropped"].clone()
    };
    assert_eq!(dropped(&mut lossy), serde_json::json!(3));
    assert_eq!(dropped(&mut quiet), serde_json::json!(0));
}
