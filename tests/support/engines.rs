//! Programs under `armr run --engine ENGINE` (tests/seccomp.rs): the command line, Go programs
//! built offline, servers started in the background and read line by line, and what a run left
//! behind.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::programs::path;
use super::run::{is_zombie, kill_group};
use super::{manifest, newer_source, text, without_armr_env};

/// `target/release/armr`, which must exist and be newer than every source it is built from:
/// the core crate, the command and, when they exist, the engine's crates (`supervisor/`,
/// `sink/`), so that a test never runs a stale engine.
pub fn armr_engine_command() -> PathBuf {
    static CHECKED: OnceLock<PathBuf> = OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let armr = manifest().join("target/release/armr");
            assert!(
                armr.is_file(),
                "{} does not exist: run `cargo build --release` first (`make test` does)",
                armr.display()
            );
            let sources: Vec<PathBuf> = [
                "src",
                "cli",
                "supervisor",
                "sink",
                "Cargo.toml",
                "Cargo.lock",
            ]
            .iter()
            .map(|s| manifest().join(s))
            .filter(|p| p.exists())
            .collect();
            if let Some(newer) = newer_source(&armr, &sources) {
                panic!(
                    "{} is older than {}: run `cargo build --release` first (`make test` does)",
                    armr.display(),
                    newer.display()
                );
            }
            armr
        })
        .clone()
}

/// `armr run --engine ENGINE -r RULES -l LOG OPTIONS -- PROGRAM ARGS`, with nothing of armr's in
/// its environment.
pub fn armr_run(
    engine: &str,
    rules: &Path,
    log: &Path,
    options: &[&str],
    program: &Path,
    args: &[&str],
) -> Command {
    let mut command = Command::new(armr_engine_command());
    without_armr_env(&mut command);
    command
        .args(["run", "--engine", engine, "-r"])
        .arg(rules)
        .arg("-l")
        .arg(log)
        .args(options)
        .arg("--")
        .arg(program)
        .args(args);
    command
}

/// `tests/programs/NAME.go` built by the Go toolchain as a user builds it, once per test binary
/// and `cgo` setting, into Cargo's test scratch space: `cgo` false is `CGO_ENABLED=0` (a static
/// binary), true is `CGO_ENABLED=1 -tags netcgo` (dynamically linked, name lookups by libc).
/// Offline, with the standard library only: GOPATH mode, its cache and GOPATH in the scratch
/// space, no proxy.
pub fn go_program(name: &str, cgo: bool) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<(String, bool), PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(binary) = built.get(&(name.to_string(), cgo)) {
        return binary.clone();
    }
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go");
    let dir = scratch
        .join(env!("CARGO_CRATE_NAME"))
        .join(if cgo { "cgo" } else { "nocgo" });
    fs::create_dir_all(&dir).unwrap();
    let binary = dir.join(name);
    let partial = dir.join(format!(".{name}.{}", std::process::id()));
    let mut command = Command::new("go");
    without_armr_env(&mut command);
    command
        .arg("build")
        .args(if cgo { &["-tags", "netcgo"][..] } else { &[] })
        .arg("-o")
        .arg(&partial)
        .arg(path(&format!("{name}.go")))
        .env("CGO_ENABLED", if cgo { "1" } else { "0" })
        .env("GOCACHE", scratch.join("cache"))
        .env("GOPATH", scratch.join("gopath"))
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local");
    let out = command.output().unwrap_or_else(|e| {
        panic!("cannot run go ({e}): `make test` installs it (scripts/install-test-deps)")
    });
    assert!(
        out.status.success(),
        "go build {name}.go (cgo: {cgo}) failed:\n{}",
        text(&out.stderr)
    );
    fs::rename(&partial, &binary).unwrap();
    built.insert((name.to_string(), cgo), binary.clone());
    binary
}

/// A program started in the background in a process group of its own, its standard output read
/// line by line as it comes (and kept), its standard error in a file.
pub struct Started {
    pub tag: String,
    pub child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    reader: Option<JoinHandle<()>>,
    stderr_path: PathBuf,
}

/// Starts `command` (no standard input; standard error in `dir/TAG.stderr`).
pub fn start(command: &mut Command, dir: &Path, tag: &str) -> Started {
    let stderr_path = dir.join(format!("{tag}.stderr"));
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(fs::File::create(&stderr_path).unwrap())
        .process_group(0);
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("{tag}: cannot start {:?}: {e}", command.get_program()));
    let stdout = child.stdout.take().unwrap();
    let (send, lines) = channel();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    Started {
        tag: tag.to_string(),
        child,
        lines,
        seen: Vec::new(),
        reader: Some(reader),
        stderr_path,
    }
}

impl Started {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for a line starting with `prefix`; returns it. The test fails
    /// (showing what the program wrote) if it does not come.
    pub fn wait_line(&mut self, prefix: &str, timeout: Duration) -> String {
        match self.line_or_end(prefix, timeout) {
            Some(line) => line,
            None => {
                let context = self.context();
                panic!("ended without a line `{prefix}...`\n{context}")
            }
        }
    }

    /// Waits up to `timeout` for a line starting with `prefix`: the line, or None when the
    /// program's standard output closed first (every process holding it ended). The test fails
    /// if neither happens in time.
    pub fn line_or_end(&mut self, prefix: &str, timeout: Duration) -> Option<String> {
        if let Some(line) = self.seen.iter().find(|l| l.starts_with(prefix)) {
            return Some(line.clone());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return Some(line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let context = self.context();
                    panic!("no line `{prefix}...` within {timeout:?}\n{context}")
                }
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// The lines read so far (and any waiting).
    pub fn lines(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        &self.seen
    }

    /// The values of the `KEY: VALUE` lines read so far for `key`.
    pub fn values(&mut self, key: &str) -> Vec<String> {
        let prefix = format!("{key}: ");
        self.lines()
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix).map(str::to_string))
            .collect()
    }

    /// What the program wrote, for a failing assertion's message.
    pub fn context(&mut self) -> String {
        let stderr = fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let tag = self.tag.clone();
        let pid = self.pid();
        format!(
            "--- {tag} (pid {pid})\n--- stdout\n{}\n--- stderr\n{stderr}",
            self.lines().join("\n")
        )
    }

    /// Sends `signal` to the program (the process the test started, not its group).
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our child, not yet reaped.
        unsafe { libc::kill(self.pid() as i32, signal) };
    }

    /// Waits up to `timeout` for the program to end, then kills whatever is left of its group;
    /// returns its status and whether processes of its group were still running when it ended
    /// (their pids and command lines). The test fails if the program itself did not end.
    pub fn finish(&mut self, timeout: Duration) -> (ExitStatus, Vec<String>) {
        let pid = self.pid();
        let started = Instant::now();
        while !is_zombie(pid) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            if started.elapsed() >= timeout {
                kill_group(pid);
                let _ = self.child.wait();
                let context = self.context();
                panic!("still running after {timeout:?}, killed\n{context}");
            }
            thread::sleep(Duration::from_millis(5));
        }
        // The leader is a zombie: its group id cannot be reused, so this lists only its own.
        let left = group_members(pid);
        kill_group(pid);
        let status = self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        (status, left)
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        if self.reader.is_some() {
            kill_group(self.pid());
            let _ = self.child.wait();
        }
    }
}

/// The processes of process group `pgid` other than its (exited) leader, as `PID COMMAND LINE`.
pub fn group_members(pgid: u32) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == pgid {
            continue;
        }
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...: the fields after the command name's parenthesis.
        let Some((_, after)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        if fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid) && fields[0] != "Z" {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            found.push(format!("{pid} {}", text(&cmdline).replace('\0', " ")));
        }
    }
    found
}

/// A status as a shell shows it: the exit code, or 128 + the signal.
pub fn shell_status(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}
