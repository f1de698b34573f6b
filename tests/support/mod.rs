//! Helpers shared by the integration tests that run programs under armr.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The repository root.
pub fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `target/release/libarmr.so`, which must be built and newer than its sources (`make test`
/// builds it): `cargo test` alone does not rebuild it, and a test must never run a stale one.
pub fn library() -> PathBuf {
    static CHECKED: OnceLock<PathBuf> = OnceLock::new();
    CHECKED
        .get_or_init(|| fresh_build("target/release/libarmr.so", LIBRARY_SOURCES))
        .clone()
}

/// `target/release/armr`, checked as [`library`] is, against the core crate it is built from.
pub fn armr_command() -> PathBuf {
    static CHECKED: OnceLock<PathBuf> = OnceLock::new();
    CHECKED
        .get_or_init(|| {
            fresh_build(
                "target/release/armr",
                &[
                    "src",
                    "cli",
                    "sink",
                    "supervisor",
                    "Cargo.toml",
                    "Cargo.lock",
                ],
            )
        })
        .clone()
}

/// The Rust sources the library is built from: the core crate's library (all of `src/`; the
/// command is `cli/`), the event writer (`sink/`) and the preload package. (Not the manifests: an edit of one that changes
/// nothing for the library does not relink it.)
const LIBRARY_SOURCES: &[&str] = &["src", "sink/src", "preload/src", "preload/build.rs"];

/// `output` (relative to the repository) when it exists and is newer than every file of
/// `sources`; otherwise the test stops and says how to build it.
fn fresh_build(output: &str, sources: &[&str]) -> PathBuf {
    let path = manifest().join(output);
    assert!(
        path.is_file(),
        "{} does not exist: run `cargo build --release` first (`make test` does)",
        path.display()
    );
    let sources: Vec<PathBuf> = sources.iter().map(|s| manifest().join(s)).collect();
    if let Some(newer) = newer_source(&path, &sources) {
        panic!(
            "{} is older than {}, changed since it was built: run `cargo build --release` first \
             (`make test` does), so that the tests do not run a stale build",
            path.display(),
            newer.display()
        );
    }
    path
}

/// A file among `sources` (files, or directories walked) modified after `output`, if any.
pub fn newer_source(output: &Path, sources: &[PathBuf]) -> Option<PathBuf> {
    let built = fs::metadata(output).and_then(|m| m.modified()).ok()?;
    fn walk(path: &Path, built: std::time::SystemTime) -> Option<PathBuf> {
        let meta = fs::metadata(path).ok()?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = fs::read_dir(path)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .collect();
            entries.sort();
            return entries.iter().find_map(|entry| walk(entry, built));
        }
        (meta.modified().ok()? > built).then(|| path.to_path_buf())
    }
    sources.iter().find_map(|source| walk(source, built))
}

/// python3's real executable (not a pyenv shim that would run other programs first), so that the
/// process a test starts is Python itself.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .env_remove("LD_PRELOAD")
            .env_remove("ARMR_RULES")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run python3 ({e}): `make test` installs it"));
        assert!(
            out.status.success(),
            "python3 failed: {}",
            text(&out.stderr)
        );
        let path = PathBuf::from(text(&out.stdout).trim());
        assert!(
            path.is_file(),
            "python3 reports sys.executable={}",
            path.display()
        );
        path
    })
}

/// Removes everything of armr's from a command's environment (its settings, the launcher's
/// overrides, `LD_PRELOAD`), so that a test sets exactly what it means to.
pub fn without_armr_env(command: &mut Command) -> &mut Command {
    for var in [
        "ARMR_RULES",
        "ARMR_LOG",
        "ARMR_MODE",
        "ARMR_ON_ERROR",
        "ARMR_RELOAD",
        "ARMR_LOG_LIFECYCLE",
        "ARMR_SOURCE",
        "ARMR_ENGINE",
        "ARMR_BIN",
        "ARMR_LIB",
        "LD_PRELOAD",
    ] {
        command.env_remove(var);
    }
    command
}

/// Bytes a program wrote, as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh directory for one test: its rules, logs and captured output. Removed when the test
/// passes, kept (for reading) when it fails. Under /tmp: a unix socket path must stay short.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `/tmp/armr-SUITE-PID-TEST`.
    pub fn new(suite: &str, test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("armr-{suite}-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// The path of `name` in the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The same as [`TempDir::join`].
    pub fn path(&self, name: &str) -> PathBuf {
        self.join(name)
    }

    /// Writes `contents` to `name` in the directory; returns its path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.join(name);
        fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

pub mod dns;
pub mod engines;
pub mod events;
pub mod net;
pub mod programs;
pub mod resolvers;
pub mod rsyslog;
pub mod rules;
pub mod run;
