//! The helper programs of `tests/programs/`: Python scripts run with the real python3, and C
//! programs and preloadable shims compiled with `cc` at test time (once per test binary).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use super::{manifest, python, text};

/// `tests/programs/NAME`, which must exist.
pub fn path(name: &str) -> PathBuf {
    let path = manifest().join("tests/programs").join(name);
    assert!(path.is_file(), "missing test program {}", path.display());
    path
}

/// `python3 tests/programs/NAME ARGS`, writing no bytecode and importing nothing from the
/// caller's `PYTHONPATH` (the script's directory, with `armrtest.py`, is on its path anyway).
pub fn python_program(name: &str, args: &[&str]) -> Command {
    let mut command = Command::new(python());
    command
        .arg(path(name))
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("PYTHONPATH");
    command
}

/// `tests/programs/NAME.c` compiled as a program with `cc -O2 FLAGS` (`-O2` unless FLAGS has an
/// `-O` of its own); returns the binary.
pub fn c_program(name: &str, flags: &[&str]) -> PathBuf {
    if flags.iter().any(|f| f.starts_with("-O")) {
        compiled(name, "", flags)
    } else {
        compiled(name, "", &[&["-O2"], flags].concat())
    }
}

/// `tests/programs/NAME.c` compiled as a library to preload (`cc -shared -fPIC -O2 ... -ldl`);
/// returns the `.so`.
pub fn c_library(name: &str) -> PathBuf {
    compiled(name, ".so", &["-shared", "-fPIC", "-O2", "-ldl"])
}

/// Compiles `tests/programs/NAME.c` with `flags` into this test binary's directory of Cargo's
/// test scratch space (`target/tmp`, nothing left in /tmp), once per test binary and set of flags:
/// every test of the binary that asks again gets the same file. The binary is written under a
/// temporary name and renamed, so that a run of the same tests at the same time never executes a
/// half-written file.
fn compiled(name: &str, suffix: &str, flags: &[&str]) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<Vec<String>, PathBuf>>> = Mutex::new(None);
    let key: Vec<String> = std::iter::once(name)
        .chain(flags.iter().copied())
        .map(String::from)
        .collect();
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let built = built.get_or_insert_with(HashMap::new);
    if let Some(binary) = built.get(&key) {
        return binary.clone();
    }
    let source = path(&format!("{name}.c"));
    // A directory per set of flags (the same program built two ways keeps both), and the file
    // named as the program: its name is what a log shows.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("programs")
        .join(env!("CARGO_CRATE_NAME"))
        .join(flags_dir(flags));
    fs::create_dir_all(&dir).unwrap();
    let binary = dir.join(format!("{name}{suffix}"));
    let partial = dir.join(format!(".{name}{suffix}.{}", std::process::id()));
    // Libraries (`-l...`) after the source, as the linker reads them in order.
    let (libs, options): (Vec<&str>, Vec<&str>) = flags.iter().partition(|f| f.starts_with("-l"));
    let cc = Command::new("cc")
        .args(&options)
        .arg("-o")
        .arg(&partial)
        .arg(&source)
        .args(&libs)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `cc` ({e}): these tests compile C programs (`make test` installs gcc)"
            )
        });
    assert!(
        cc.status.success(),
        "cc {} failed:\n{}",
        source.display(),
        text(&cc.stderr)
    );
    fs::rename(&partial, &binary).unwrap();
    built.insert(key, binary.clone());
    binary
}

/// `-O2 -rdynamic` as `O2_rdynamic`: a directory name.
fn flags_dir(flags: &[&str]) -> String {
    flags
        .iter()
        .map(|f| {
            f.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '=')
                .map(|c| if c == '=' { '-' } else { c })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("_")
}
