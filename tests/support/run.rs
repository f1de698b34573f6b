//! Running a program to its end under armr: its settings, a deadline, and what it showed
//! (status, standard output and error, the events armr logged).

use std::fs;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{library, without_armr_env};

/// `command` under libarmr.so with `ARMR_RULES=rules` and `ARMR_LOG=file:log`, and nothing else
/// of armr's environment.
pub fn under_armr<'c>(command: &'c mut Command, rules: &Path, log: &Path) -> &'c mut Command {
    without_armr_env(command)
        .env("LD_PRELOAD", library())
        .env("ARMR_RULES", rules)
        .env("ARMR_LOG", format!("file:{}", log.display()))
}

/// What a user sees of one run.
pub struct Ran {
    /// What the run was called (its output files are `TAG.stdout` and `TAG.stderr` in `dir`).
    pub tag: String,
    pub dir: PathBuf,
    pub pid: u32,
    pub status: ExitStatus,
    pub elapsed: Duration,
    pub stdout: String,
    pub stderr: String,
    /// The log file's contents (see [`Ran::with_log`]); empty when there is none.
    pub log: String,
}

/// Runs `command` to its end, in a process group of its own, its standard output and error in
/// `dir/TAG.stdout` and `dir/TAG.stderr` (read back, and kept there when the test fails) and no
/// standard input. After `timeout` the group is killed and the test fails, showing the output.
/// When the program ends, whatever it left running in its group is killed too.
pub fn run(command: &mut Command, dir: &Path, tag: &str, timeout: Duration) -> Ran {
    let stdout_path = dir.join(format!("{tag}.stdout"));
    let stderr_path = dir.join(format!("{tag}.stderr"));
    command
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path).unwrap())
        .stderr(fs::File::create(&stderr_path).unwrap())
        .process_group(0);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("{tag}: cannot start {:?}: {e}", command.get_program()));
    let pid = child.id();
    // Waits for the program to exit without reaping it: while it is a zombie its pid (its process
    // group's id) cannot be reused, so that killing the group can hit nothing else.
    let timed_out = loop {
        if is_zombie(pid) {
            break false;
        }
        if let Ok(Some(_)) = child.try_wait() {
            break false; // already reaped (no /proc?): do not kill a group that may be gone
        }
        if started.elapsed() >= timeout {
            break true;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    kill_group(pid);
    let status = child.wait().unwrap();
    let ran = Ran {
        tag: tag.to_string(),
        dir: dir.to_path_buf(),
        pid,
        status,
        elapsed: started.elapsed(),
        stdout: fs::read_to_string(&stdout_path).unwrap_or_default(),
        stderr: fs::read_to_string(&stderr_path).unwrap_or_default(),
        log: String::new(),
    };
    assert!(
        !timed_out,
        "{tag}: still running after {timeout:?}, killed\n{}",
        ran.context()
    );
    ran
}

/// True when `pid` has exited and is not reaped yet.
pub fn is_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the command name, which is in parentheses and may hold spaces.
            let after = stat.rsplit_once(')')?.1;
            after.split_whitespace().next().map(|state| state == "Z")
        })
        .unwrap_or(false)
}

/// SIGKILL to the process group `pgid` (a group a test started).
pub fn kill_group(pgid: u32) {
    // SAFETY: kill has no memory-safety preconditions; -pgid names the group the test started.
    unsafe { libc::kill(-(pgid as i32), libc::SIGKILL) };
}

impl Ran {
    /// The same run with `log` (the file `ARMR_LOG` named) read in.
    pub fn with_log(mut self, log: &Path) -> Ran {
        self.log = fs::read_to_string(log).unwrap_or_default();
        self
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    /// Everything the run showed, for a failing assertion's message (a long log cut to its first
    /// lines).
    pub fn context(&self) -> String {
        let lines = self.log.lines().count();
        let log: String = if lines <= 100 {
            self.log.clone()
        } else {
            self.log
                .lines()
                .take(40)
                .map(|l| format!("{l}\n"))
                .chain(std::iter::once(format!("... ({lines} lines)\n")))
                .collect()
        };
        format!(
            "--- {} (pid {}, {}, after {:?}; files in {})\n--- stdout\n{}--- stderr\n{}--- log\n{}",
            self.tag,
            self.pid,
            self.status,
            self.elapsed,
            self.dir.display(),
            self.stdout,
            self.stderr,
            log
        )
    }

    /// The values of the program's `KEY: VALUE` lines for `key`, in order.
    pub fn values(&self, key: &str) -> Vec<&str> {
        self.stdout
            .lines()
            .filter_map(|l| l.split_once(": "))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .collect()
    }

    /// The value of the first `KEY: VALUE` line for `key`.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.values(key).first().copied()
    }

    /// The value of the one `KEY: VALUE` line for `key` (the test fails if there are more or none).
    pub fn get(&self, key: &str) -> &str {
        let values = self.values(key);
        assert_eq!(
            values.len(),
            1,
            "expected one `{key}:` line\n{}",
            self.context()
        );
        values[0]
    }

    /// Asserts that the program printed one `KEY: VALUE` line for each `(key, value)`, with that
    /// value, reporting every mismatch at once.
    pub fn expect(&self, expected: &[(&str, &str)]) {
        let wrong: Vec<String> = expected
            .iter()
            .filter_map(|(key, want)| {
                let got = self.values(key);
                (got != [*want]).then(|| format!("  {key}: expected `{want}`, got {got:?}"))
            })
            .collect();
        assert!(
            wrong.is_empty(),
            "{} mismatches:\n{}\n{}",
            wrong.len(),
            wrong.join("\n"),
            self.context()
        );
    }
}
