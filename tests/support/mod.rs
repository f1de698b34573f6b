//! Helpers shared by the integration tests that run programs under armr.

#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;

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
