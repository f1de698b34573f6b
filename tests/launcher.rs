//! `scripts/armr-run` (which runs `armr run`) as a user runs it: the environment it hands the
//! program, the checks it makes before anything runs (the rules, the command, whether LD_PRELOAD
//! can reach it), its exit codes, and the log destinations.
//!
//! The real `libarmr.so` is needed only by the log tests: elsewhere `ARMR_LIB` points at an empty
//! shared object built here with `cc`, which the loader preloads harmlessly. The `armr` command is
//! the real one, at its default place `target/release/armr` (so `cargo build --release` first, as
//! `make test` does).

mod support;

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use support::{armr_command, manifest, text, without_armr_env};

const SCRIPT: &str = "scripts/armr-run";
const VALID: &str = "app(\"A\"):\n  requires(version: ARMR/2.11)\n  socket(\"r\"):\n    connect(\"10.0.0.1:443\")\n    protect(message: \"m\", severity: 8)\n  endsocket\nendapp\n";
const BROKEN: &str = "app(\"A\"):\n  requires(version: ARMR/2.11)\n  socket(\"r\"):\n    connect(\"10.0.0.1:70000\")\n    protect()\n  endsocket\nendapp\n";

/// A fresh directory for one test.
fn temp_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("armr-launcher-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, contents: &str) -> PathBuf {
    fs::write(path, contents).unwrap();
    path.to_path_buf()
}

fn write_executable(path: &Path, contents: &str) -> PathBuf {
    write(path, contents);
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

/// Runs `cc` with `args`, failing the test with a clear message when it cannot.
fn cc(args: &[&str]) {
    let out = Command::new("cc")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `cc` ({e}): the launcher tests build stand-in binaries with a C compiler (gcc)"));
    assert!(
        out.status.success(),
        "cc {args:?} failed:\n{}",
        text(&out.stderr)
    );
}

/// Shared objects built once: an empty library that stands in for libarmr.so, and two more to put
/// in an existing LD_PRELOAD.
struct Stubs {
    lib: PathBuf,
    other: PathBuf,
    other2: PathBuf,
}

fn stubs() -> &'static Stubs {
    static STUBS: OnceLock<Stubs> = OnceLock::new();
    STUBS.get_or_init(|| {
        let dir = temp_dir("stubs");
        let build = |name: &str| {
            let path = dir.join(name);
            cc(&[
                "-shared",
                "-o",
                path.to_str().unwrap(),
                "-x",
                "c",
                "/dev/null",
            ]);
            path
        };
        Stubs {
            lib: build("libstub.so"),
            other: build("libother.so"),
            other2: build("libother2.so"),
        }
    })
}

/// The launcher with a clean armr environment, the stand-in library and the default armr command.
fn launcher(args: &[&str]) -> Command {
    let mut command = Command::new(SCRIPT);
    command.args(args);
    clean(&mut command);
    command
}

/// The launcher's working directory and a clean armr environment. The preload engine: these
/// tests are about what it checks and sets (`auto` sends static and Go programs to the seccomp
/// engine instead: tests/seccomp_engine.rs).
fn clean(command: &mut Command) {
    armr_command();
    without_armr_env(command)
        .env("ARMR_ENGINE", "preload")
        .current_dir(manifest())
        .env("ARMR_LIB", &stubs().lib)
        .env("XDG_RUNTIME_DIR", runtime());
}

/// The XDG_RUNTIME_DIR of this test process's launcher runs: armr-run's private directories go
/// there, not in the user's own.
fn runtime() -> &'static Path {
    static RUNTIME: OnceLock<PathBuf> = OnceLock::new();
    RUNTIME.get_or_init(|| temp_dir("runtime"))
}

/// This user's id (the owner of a directory just created).
fn uid() -> u32 {
    fs::metadata(runtime()).unwrap().uid()
}

/// The library armr-run preloads, from `LD_PRELOAD`'s first entry: a link in its private directory
/// `RUNTIME/armr-UID/HASH/` to `target`, with `armr.env` beside it. Returns that directory.
fn private_link(ld_preload: &str, runtime: &Path, target: &Path) -> PathBuf {
    let first = ld_preload.split(' ').next().unwrap();
    let link = Path::new(first);
    assert_eq!(link.file_name().unwrap(), "libarmr.so", "{ld_preload}");
    let dir = link.parent().unwrap();
    assert_eq!(
        dir.parent().unwrap(),
        runtime.join(format!("armr-{}", uid())),
        "{ld_preload}"
    );
    assert_eq!(fs::read_link(link).unwrap(), target, "{ld_preload}");
    assert!(dir.join("armr.env").is_file(), "no armr.env beside {first}");
    dir.to_path_buf()
}

fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/armr-run")
}

/// The environment `env` printed.
fn env_of(out: &Output) -> HashMap<String, String> {
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn same_file(a: &str, b: &Path) -> bool {
    fs::canonicalize(a).ok() == fs::canonicalize(b).ok()
}

#[test]
fn sets_absolute_rules_and_preloads_the_library() {
    let out = run(launcher(&["-r", "rules/web.armr", "--", "env"]).env("ARMR_MODE", "enforce"));
    let env = env_of(&out);
    let rules = &env["ARMR_RULES"];
    assert!(rules.starts_with('/'), "ARMR_RULES is absolute: {rules}");
    assert!(rules.ends_with("/rules/web.armr"), "{rules}");
    assert!(
        same_file(rules, &manifest().join("rules/web.armr")),
        "{rules}"
    );
    let dir = private_link(&env["LD_PRELOAD"], runtime(), &stubs().lib);
    // The link, then the library itself: used only when the link is gone.
    assert_eq!(
        env["LD_PRELOAD"],
        format!(
            "{} {}",
            dir.join("libarmr.so").display(),
            stubs().lib.display()
        )
    );
    // The sidecar says what the environment says, with every default written out, but for the
    // rules: the policy armr run compiled from them beside it (docs/compiled.md).
    let compiled = dir.join("policy.armrc");
    assert!(
        armr::policy::compiled::is_compiled(&compiled),
        "{}",
        compiled.display()
    );
    assert_eq!(
        fs::read_to_string(dir.join("armr.env")).unwrap(),
        format!(
            "# Written by armr run: the settings of every process that preloads the libarmr.so \
             beside it.\nARMR_RULES={}\nARMR_LOG=stderr\nARMR_MODE=enforce\n\
             ARMR_ON_ERROR=closed\n",
            compiled.display()
        )
    );
    assert!(!env.contains_key("ARMR_LOG"), "no -l, no ARMR_LOG");
    assert_eq!(
        env["ARMR_MODE"], "enforce",
        "an existing ARMR_MODE is kept without --detect-only"
    );
    // Nothing of armr check's summary reaches the program's stdout, and a valid file warns nothing.
    assert!(
        !text(&out.stdout).contains("web.armr: 1 app"),
        "armr check's summary leaked"
    );
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn the_library_really_is_loaded_into_the_program() {
    let out = run(&mut launcher(&[
        "-r",
        "rules/web.armr",
        "cat",
        "/proc/self/maps",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(stubs().lib.to_str().unwrap()),
        "{}",
        text(&out.stdout)
    );
    // Once, though LD_PRELOAD names it twice (its link, then itself): the loader knows the file.
    let loads = text(&out.stdout)
        .lines()
        .filter(|l| {
            l.ends_with(stubs().lib.to_str().unwrap())
                && l.split_whitespace().nth(2) == Some("00000000")
        })
        .count();
    assert_eq!(loads, 1, "{}", text(&out.stdout));
}

#[test]
fn an_existing_ld_preload_is_kept_after_armrs_library() {
    let s = stubs();
    let existing = format!("{}:{}", s.other.display(), s.other2.display());
    let out = run(launcher(&["-r", "rules/web.armr", "env"]).env("LD_PRELOAD", &existing));
    let preload = &env_of(&out)["LD_PRELOAD"];
    let dir = private_link(preload, runtime(), &s.lib);
    assert_eq!(
        *preload,
        format!(
            "{} {} {existing}",
            dir.join("libarmr.so").display(),
            s.lib.display()
        )
    );
    assert!(
        !text(&out.stderr).contains("cannot be preloaded"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn detect_only_and_log() {
    let out = run(&mut launcher(&[
        "-r",
        "rules/web.armr",
        "-l",
        "/var/log/armr.log",
        "--detect-only",
        "env",
    ]));
    let env = env_of(&out);
    assert_eq!(env["ARMR_MODE"], "detect-only");
    assert_eq!(
        env["ARMR_LOG"], "file:/var/log/armr.log",
        "a path is the library's `file:PATH`"
    );
    // A relative path is made absolute; `file:PATH` is accepted too; `stderr` is kept.
    let here = manifest().to_str().unwrap();
    for (given, expected) in [
        ("new.log", format!("file:{here}/new.log")),
        ("./logs/x.log", format!("file:{here}/logs/x.log")),
        ("file:y.log", format!("file:{here}/y.log")),
        ("file:/abs/z.log", "file:/abs/z.log".to_string()),
        ("stderr", "stderr".to_string()),
    ] {
        // -l replaces an ARMR_LOG given by the environment.
        let out = run(launcher(&["-r", "rules/web.armr", "-l", given, "env"])
            .env("ARMR_LOG", "file:/old.log"));
        assert_eq!(env_of(&out)["ARMR_LOG"], expected, "-l {given}");
    }
    // Without -l, the environment's ARMR_LOG is kept.
    let out = run(launcher(&["-r", "rules/web.armr", "env"]).env("ARMR_LOG", "file:/old.log"));
    assert_eq!(env_of(&out)["ARMR_LOG"], "file:/old.log");
    // ... made absolute, as armr.env needs it.
    let out = run(launcher(&["-r", "rules/web.armr", "env"]).env("ARMR_LOG", "file:rel.log"));
    assert_eq!(env_of(&out)["ARMR_LOG"], format!("file:{here}/rel.log"));
}

#[test]
fn settings_the_library_would_reject_stop_early() {
    for (var, value) in [
        ("ARMR_MODE", "audit"),
        ("ARMR_ON_ERROR", "maybe"),
        ("ARMR_LOG", "/var/log/x.log"),
    ] {
        let out = run(launcher(&["-r", "rules/web.armr", "true"]).env(var, value));
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        // The library's own message (src/config.rs), naming the variable and what it takes.
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("{var}={value}: ")) && stderr.contains("expected `"),
            "{stderr}"
        );
    }
    // --detect-only overrides whatever ARMR_MODE was.
    let out =
        run(launcher(&["-r", "rules/web.armr", "--detect-only", "env"]).env("ARMR_MODE", "audit"));
    assert_eq!(env_of(&out)["ARMR_MODE"], "detect-only");
    let out = run(launcher(&["-r", "rules/web.armr", "env"]).env("ARMR_ON_ERROR", "open"));
    assert_eq!(env_of(&out)["ARMR_ON_ERROR"], "open", "passed through");
}

#[test]
fn the_program_keeps_the_pid_and_its_exit_status_is_returned() {
    let child = launcher(&["-r", "rules/web.armr", "sh", "-c", "echo $$; exit 7"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        pid.to_string(),
        "exec: the program is the launcher's process"
    );
}

#[test]
fn arguments_after_the_command_are_the_commands() {
    let out = run(&mut launcher(&[
        "-r",
        "rules/web.armr",
        "sh",
        "-c",
        "printf '%s|' \"$@\"; printf '%s' \"${ARMR_MODE-unset}\"",
        "sh",
        "--detect-only",
        "-l",
        "x",
        "--",
        "-h",
        "--help",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "--detect-only|-l|x|--|-h|--help|unset");
}

#[test]
fn rules_with_errors_stop_before_the_program_runs() {
    let dir = temp_dir("broken");
    let rules = write(&dir.join("broken.armr"), BROKEN);
    let marker = dir.join("ran");
    let out = run(&mut launcher(&[
        "-r",
        rules.to_str().unwrap(),
        "touch",
        marker.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("broken.armr:4:23: error: port `70000` is above 65535"),
        "{stderr}"
    );
    assert!(
        stderr.contains("armr run: the rules have errors"),
        "{stderr}"
    );
    assert!(!marker.exists(), "the command ran");
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn a_missing_rules_file_stops_too() {
    let out = run(&mut launcher(&["-r", "rules/no-such.armr", "true"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("rules/no-such.armr"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn warnings_are_shown_and_do_not_stop() {
    let dir = temp_dir("warnings");
    let rules = write(
        &dir.join("w.armr"),
        "app(\"A\"): requires(version: ARMR/2.11)\n  http(\"h\"): request() endhttp\n  socket(\"r\"): connect(\"10.0.0.1:1\") protect() endsocket\nendapp\n",
    );
    let out = run(&mut launcher(&[
        "-r",
        rules.to_str().unwrap(),
        "echo",
        "ran",
    ]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "ran\n");
    assert!(
        text(&out.stderr).contains("warning: `http` rule `h` skipped"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_directory_of_rules() {
    let dir = temp_dir("directory");
    for name in ["b.armr", "a.armr", "B.armr"] {
        write(
            &dir.join(name),
            &VALID.replace("\"A\"", &format!("\"{name}\"")),
        );
    }
    write(&dir.join("notes.txt"), "not rules at all");
    let out = run(&mut launcher(&["-r", dir.to_str().unwrap(), "env"]));
    let env = env_of(&out);
    assert!(same_file(&env["ARMR_RULES"], &dir));
    assert!(env["ARMR_RULES"].starts_with('/'));

    // One broken *.armr file in it stops the program.
    write(&dir.join("c.armr"), BROKEN);
    let out = run(&mut launcher(&["-r", dir.to_str().unwrap(), "true"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("c.armr:4:23: error"),
        "{}",
        text(&out.stderr)
    );

    // A relative directory becomes absolute.
    let out = run(&mut launcher(&["-r", "rules", "env"]));
    assert_eq!(
        env_of(&out)["ARMR_RULES"],
        manifest().join("rules").to_str().unwrap()
    );
}

#[test]
fn a_directory_is_checked_file_by_file_in_name_order() {
    // The files the library loads (src/config.rs), in its order: every entry with the extension
    // `armr`, hidden ones too, but not directories nor a file named just `.armr` (no extension),
    // sorted by bytes. Each is broken, so that its diagnostic shows it was read, and when.
    let dir = temp_dir("order");
    let rules = dir.join("rules");
    fs::create_dir(&rules).unwrap();
    for name in [
        "b.armr",
        "a.armr",
        "B.armr",
        "9.armr",
        "10.armr",
        ".hidden.armr",
        ".armr",
        "notes.txt",
        "x.armr.bak",
    ] {
        write(&rules.join(name), BROKEN);
    }
    fs::create_dir(rules.join("sub.armr")).unwrap();
    let out = run(&mut launcher(&["-r", rules.to_str().unwrap(), "true"]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let read: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_suffix(":4:23: error: port `70000` is above 65535"))
        .collect();
    let given = |name: &str| format!("{}/{name}", rules.display());
    assert_eq!(
        read,
        [
            ".hidden.armr",
            "10.armr",
            "9.armr",
            "B.armr",
            "a.armr",
            "b.armr",
        ]
        .map(given),
        "{stderr}"
    );
}

#[test]
fn an_empty_rules_directory_is_an_error() {
    let dir = temp_dir("empty");
    write(&dir.join("README"), "no rules here");
    let out = run(&mut launcher(&["-r", dir.to_str().unwrap(), "true"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("holds no *.armr file"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn without_rules_it_is_a_usage_error_and_armr_rules_is_the_default() {
    let out = run(&mut launcher(&["true"]));
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no rules") && stderr.contains("-r RULES") && stderr.contains("ARMR_RULES"),
        "{stderr}"
    );

    let out = run(launcher(&["env"]).env("ARMR_RULES", "rules/web.armr"));
    assert_eq!(
        env_of(&out)["ARMR_RULES"],
        manifest().join("rules/web.armr").to_str().unwrap()
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["-r", "rules/web.armr", "--frobnicate", "true"][..],
        &["-r", "rules/web.armr"][..],
        &["-r"][..],
        &[][..],
    ] {
        let out = run(&mut launcher(args));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains("try '--help'"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_missing_build_says_how_to_build() {
    let out =
        run(launcher(&["-r", "rules/web.armr", "true"]).env("ARMR_LIB", "/nonexistent/libarmr.so"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("build armr first: cargo build --release (or make build)"),
        "{}",
        text(&out.stderr)
    );
    let out = run(launcher(&["-r", "rules/web.armr", "true"]).env("ARMR_BIN", "/nonexistent/armr"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("build armr first: cargo build --release (or make build)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_unknown_command_exits_127() {
    let out = run(&mut launcher(&[
        "-r",
        "rules/web.armr",
        "armr-no-such-command",
    ]));
    assert_eq!(out.status.code(), Some(127));
    assert!(
        text(&out.stderr).contains("armr-no-such-command: command not found"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&mut launcher(&[
        "-r",
        "rules/web.armr",
        "./no/such/program",
    ]));
    assert_eq!(out.status.code(), Some(127));
    let out = run(&mut launcher(&["-r", "rules/web.armr", "README.md"]));
    assert_eq!(out.status.code(), Some(127), "not in PATH");
    let out = run(&mut launcher(&["-r", "rules/web.armr", "./README.md"]));
    assert_eq!(out.status.code(), Some(126), "not executable");
}

/// A statically linked program that exits 42, built with `cc -static`.
fn static_program(dir: &Path) -> PathBuf {
    assert!(
        Path::new("/usr/lib/x86_64-linux-gnu/libc.a").exists() || !cfg!(target_arch = "x86_64"),
        "/usr/lib/x86_64-linux-gnu/libc.a is missing: install libc6-dev (scripts/install-test-deps) to build a static test program"
    );
    let source = write(&dir.join("static.c"), "int main(void) { return 42; }\n");
    let program = dir.join("static-program");
    cc(&[
        "-static",
        "-o",
        program.to_str().unwrap(),
        source.to_str().unwrap(),
    ]);
    program
}

#[test]
fn a_static_program_is_refused_unless_forced() {
    let dir = temp_dir("static");
    let program = static_program(&dir);
    let program = program.to_str().unwrap();
    let out = run(&mut launcher(&["-r", "rules/web.armr", program]));
    assert_eq!(
        out.status.code(),
        Some(1),
        "refused, not run (it would exit 42)"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("is statically linked") && stderr.contains("no dynamic loader"),
        "{stderr}"
    );
    assert!(stderr.contains("--force"), "{stderr}");

    let out = run(&mut launcher(&["-r", "rules/web.armr", "--force", program]));
    assert_eq!(out.status.code(), Some(42), "forced: it ran");
    assert!(
        text(&out.stderr).contains("is statically linked"),
        "still warned"
    );
}

/// A Go program that dials its first argument and prints "connected", built with the Go toolchain
/// as a user builds one: `plain` is a normal dynamically linked (cgo) build, `stripped` one built
/// with `-ldflags=-s -w`.
fn go_program(dir: &Path, name: &str, flags: &[&str]) -> PathBuf {
    let source = write(
        &dir.join("dial.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\t\"net\"\n\t\"os\"\n)\n\nfunc main() {\n\
         \tc, err := net.Dial(\"tcp\", os.Args[1])\n\tif err != nil {\n\t\tfmt.Println(\"error:\", err)\n\
         \t\tos.Exit(3)\n\t}\n\tfmt.Println(\"connected\")\n\tc.Close()\n}\n",
    );
    let program = dir.join(name);
    let out = Command::new("go")
        .arg("build")
        .args(flags)
        .arg("-o")
        .arg(&program)
        .arg(&source)
        .env("GOCACHE", dir.join("gocache"))
        .env("GOPATH", dir.join("gopath"))
        .env("GO111MODULE", "off")
        .env_remove("LD_PRELOAD")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run go ({e}): `make test` installs it (scripts/install-test-deps)")
        });
    assert!(out.status.success(), "go build: {}", text(&out.stderr));
    program
}

#[test]
fn a_go_program_is_refused_unless_forced() {
    let dir = temp_dir("go");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap().to_string();
    for (name, flags) in [("plain", &[][..]), ("stripped", &["-ldflags=-s -w"][..])] {
        let program = go_program(&dir, name, flags);
        let program = program.to_str().unwrap();
        // Dynamically linked: the loader would preload armr into it, and armr would see nothing.
        let headers = Command::new("readelf")
            .args(["-lW", program])
            .output()
            .unwrap();
        assert!(
            text(&headers.stdout).contains("INTERP"),
            "{name}: a dynamically linked build"
        );
        let out = run(&mut launcher(&["-r", "rules/web.armr", program, &target]));
        assert_eq!(out.status.code(), Some(1), "{name}: refused, not run");
        assert!(text(&out.stdout).is_empty(), "{name}: it did not run");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "warning: {program} is a Go program: Go's runtime makes its network system calls \
                 directly, not through libc (with or without cgo)"
            )),
            "{name}: {stderr}"
        );
        assert!(stderr.contains("Use --force"), "{stderr}");

        let out = run(&mut launcher(&[
            "-r",
            "rules/web.armr",
            "--force",
            program,
            &target,
        ]));
        assert_eq!(text(&out.stdout), "connected\n", "{name}: forced, it ran");
        assert!(
            text(&out.stderr).contains("is a Go program"),
            "still warned"
        );
        assert!(
            text(&out.stderr).contains("armr is probably NOT protecting it"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_script_whose_interpreter_is_static_is_refused() {
    let dir = temp_dir("script");
    let program = static_program(&dir);
    let script = write_executable(&dir.join("script"), &format!("#!{}\n", program.display()));
    let out = run(&mut launcher(&[
        "-r",
        "rules/web.armr",
        script.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("(the interpreter of"),
        "{}",
        text(&out.stderr)
    );

    // A script run by a dynamically linked shell is fine.
    let script = write_executable(&dir.join("ok"), "#!/bin/sh\nexit 5\n");
    let out = run(&mut launcher(&[
        "-r",
        "rules/web.armr",
        script.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
}

/// The ELF checks read the headers themselves (cli/src/elf.rs): with nothing at all in PATH (no
/// readelf, od, getcap), static and Go programs are still refused and a dynamic one runs.
#[test]
fn the_elf_checks_need_no_tools_in_path() {
    let dir = temp_dir("no-tools");
    let empty = dir.join("bin");
    fs::create_dir(&empty).unwrap();
    let launch = |target: &Path| {
        let mut command = Command::new(armr_command());
        command.args(["run", "-r", "rules/web.armr"]).arg(target);
        clean(&mut command);
        run(command.env("PATH", &empty))
    };
    let out = launch(&static_program(&dir));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is statically linked"),
        "{}",
        text(&out.stderr)
    );
    let out = launch(&fs::canonicalize("/bin/true").unwrap());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = launch(&go_program(&dir, "go-program", &[]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is a Go program"),
        "{}",
        text(&out.stderr)
    );
}

/// File capabilities (the `security.capability` attribute, as `setcap cap_net_raw+ep` writes it)
/// put a program in secure-execution mode too. Setting them needs root.
#[test]
fn a_program_with_file_capabilities_is_refused_unless_forced() {
    let dir = temp_dir("capabilities");
    let program = dir.join("capable-true");
    fs::copy(fs::canonicalize("/bin/true").unwrap(), &program).unwrap();
    // VFS_CAP_REVISION_2 with the effective flag; permitted: cap_net_raw (bit 13).
    let value: Vec<u8> = [0x0200_0001u32, 1 << 13, 0, 0, 0]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    let path = std::ffi::CString::new(program.to_str().unwrap()).unwrap();
    // SAFETY: valid C strings and a buffer of the length given.
    let set = unsafe {
        libc::setxattr(
            path.as_ptr(),
            c"security.capability".as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if set != 0 {
        let error = std::io::Error::last_os_error();
        assert!(uid() != 0, "setting file capabilities as root: {error}");
        eprintln!("not root ({error}): file capabilities cannot be set, skipped");
        return;
    }
    let program = program.to_str().unwrap();
    let out = run(&mut launcher(&["-r", "rules/web.armr", program]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains(&format!(
            "warning: {program} has file capabilities (cap_net_raw=ep): the loader runs it in \
             secure-execution mode, which ignores LD_PRELOAD"
        )),
        "{}",
        text(&out.stderr)
    );
    let out = run(&mut launcher(&["-r", "rules/web.armr", "--force", program]));
    assert_eq!(out.status.code(), Some(0), "forced: {}", text(&out.stderr));
}

/// `#!/usr/bin/env NAME` (and `env -S NAME ...`): env is dynamically linked, but what it runs is
/// NAME, found in PATH, and that is checked too.
#[test]
fn a_script_run_through_env_is_judged_by_the_program_env_runs() {
    let dir = temp_dir("env-script");
    let bin = dir.join("bin");
    fs::create_dir(&bin).unwrap();
    fs::rename(static_program(&dir), bin.join("static-tool")).unwrap();
    let env = fs::canonicalize("/usr/bin/env").unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for line in ["static-tool", "-S static-tool --flag"] {
        let script = write_executable(
            &dir.join("script"),
            &format!("#!{} {line}\n", env.display()),
        );
        let out =
            run(launcher(&["-r", "rules/web.armr", script.to_str().unwrap()]).env("PATH", &path));
        assert_eq!(out.status.code(), Some(1), "{line}");
        assert!(
            text(&out.stderr).contains(&format!(
                "warning: {} (run by {} from {}) is statically linked",
                bin.join("static-tool").display(),
                env.display(),
                script.display()
            )),
            "{line}: {}",
            text(&out.stderr)
        );
    }
    // env running a dynamically linked program is fine.
    let script = write_executable(
        &dir.join("fine"),
        &format!("#!{} sh\nexit 6\n", env.display()),
    );
    let out = run(launcher(&["-r", "rules/web.armr", script.to_str().unwrap()]).env("PATH", &path));
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
}

#[test]
fn a_setuid_program_is_refused_unless_forced() {
    let dir = temp_dir("setuid");
    let program = dir.join("setuid-sh");
    fs::copy(fs::canonicalize("/bin/sh").unwrap(), &program).unwrap();
    fs::set_permissions(&program, fs::Permissions::from_mode(0o4755)).unwrap();
    let program = program.to_str().unwrap();
    let out = run(&mut launcher(&[
        "-r",
        "rules/web.armr",
        program,
        "-c",
        "exit 5",
    ]));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("is setuid")
            && stderr.contains("secure-execution")
            && stderr.contains("ignores LD_PRELOAD"),
        "{stderr}"
    );

    let out = run(&mut launcher(&[
        "-r",
        "rules/web.armr",
        "--force",
        program,
        "-c",
        "exit 5",
    ]));
    assert_eq!(
        out.status.code(),
        Some(5),
        "forced: it ran: {}",
        text(&out.stderr)
    );

    let group = dir.join("setgid-true");
    fs::copy(fs::canonicalize("/bin/true").unwrap(), &group).unwrap();
    fs::set_permissions(&group, fs::Permissions::from_mode(0o2755)).unwrap();
    let out = run(&mut launcher(&[
        "-r",
        "rules/web.armr",
        group.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("is setgid"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_program_for_another_machine_than_the_library_is_refused() {
    // The stand-in library relabelled as AArch64 (e_machine 183): the loader would skip it.
    let dir = temp_dir("machine");
    let mut bytes = fs::read(&stubs().lib).unwrap();
    let machine = if cfg!(target_arch = "aarch64") {
        62u16
    } else {
        183u16
    };
    bytes[18..20].copy_from_slice(&machine.to_le_bytes());
    let lib = dir.join("libforeign.so");
    fs::write(&lib, bytes).unwrap();
    let out = run(launcher(&["-r", "rules/web.armr", "true"]).env("ARMR_LIB", &lib));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("wrong ELF class"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn help_explains_everything() {
    let out = run(&mut launcher(&["--help"]));
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for needle in [
        "Usage: armr run [-r RULES] [-l LOG] [--detect-only] [--force] [--engine ENGINE] [--] COMMAND [ARGS...]",
        "--engine",
        "seccomp",
        "ARMR_RULES",
        "ARMR_LOG",
        "stderr",
        "file:PATH",
        "ARMR_MODE",
        "enforce",
        "detect-only",
        "ARMR_ON_ERROR",
        "closed",
        "open",
        "LD_PRELOAD",
        "ARMR_BIN",
        "ARMR_LIB",
        "--force",
        "*.armr",
        "statically linked",
        "PT_INTERP",
        "a Go program",
        "system calls directly",
        "io_uring",
        "setuid",
        "secure-execution",
        "127",
        "armr.env",
        "XDG_RUNTIME_DIR",
        "0700",
    ] {
        assert!(help.contains(needle), "--help does not mention {needle}");
    }
    assert_eq!(run(&mut launcher(&["-h"])).stdout, out.stdout);
    // The script shows `armr run`'s own help.
    let own = Command::new(armr_command())
        .args(["run", "--help"])
        .output()
        .unwrap();
    assert_eq!(text(&own.stdout), help);
}

#[test]
fn armr_and_the_library_are_found_next_to_the_script_by_default() {
    // A repository of its own: scripts/armr-run, and target/release/ with armr and the library.
    let repo = fs::canonicalize(temp_dir("default-build")).unwrap(); // readlink -f resolves symlinks
    fs::create_dir_all(repo.join("scripts")).unwrap();
    fs::copy(manifest().join(SCRIPT), repo.join("scripts/armr-run")).unwrap();
    let script = repo.join("scripts/armr-run");
    let launch = |script: &Path| {
        let mut command = Command::new(script);
        command.args(["-r", "rules/web.armr", "env"]);
        clean(&mut command);
        run(command.env_remove("ARMR_LIB"))
    };
    let out = launch(&script);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "no armr command at {}/target/release/armr",
            repo.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("build armr first: cargo build --release (or make build)"),
        "{stderr}"
    );

    let release = repo.join("target/release");
    fs::create_dir_all(&release).unwrap();
    // A copy: armr looks for the library beside itself, not beside what links to it.
    fs::copy(armr_command(), release.join("armr")).unwrap();
    let out = launch(&script);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(&format!(
        "no armr library at {}/target/release/libarmr.so",
        repo.display()
    )));

    fs::copy(&stubs().lib, release.join("libarmr.so")).unwrap();
    let out = launch(&script);
    let lib = repo.join("target/release/libarmr.so");
    private_link(&env_of(&out)["LD_PRELOAD"], runtime(), &lib);

    // Through a symlink to the script (an install in a bin directory), the same repository.
    let link = temp_dir("default-build-link").join("armr-run");
    std::os::unix::fs::symlink(&script, &link).unwrap();
    let out = launch(&link);
    private_link(&env_of(&out)["LD_PRELOAD"], runtime(), &lib);
}

// --- the private directory of the sidecar

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

#[test]
fn the_private_directory_is_created_0700_and_reused_for_the_same_settings() {
    let runtime = temp_dir("private-created");
    let launch = |args: &[&str]| {
        let out = run(launcher(args).env("XDG_RUNTIME_DIR", &runtime));
        assert_eq!(text(&out.stderr), "", "{args:?}");
        private_link(&env_of(&out)["LD_PRELOAD"], &runtime, &stubs().lib)
    };
    let dir = launch(&["-r", "rules/web.armr", "env"]);
    let private = runtime.join(format!("armr-{}", uid()));
    assert_eq!(mode(&private), 0o700, "{}", private.display());
    assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    let sidecar = dir.join("armr.env");
    let inode = fs::metadata(&sidecar).unwrap().ino();

    // The same settings: the same directory, the file left as it was.
    assert_eq!(launch(&["-r", "rules/web.armr", "env"]), dir);
    assert_eq!(
        fs::metadata(&sidecar).unwrap().ino(),
        inode,
        "armr.env rewritten"
    );
    // Other settings: a directory of their own, beside it.
    let other = launch(&["-r", "rules/web.armr", "--detect-only", "env"]);
    assert_ne!(other, dir);
    assert!(
        fs::read_to_string(other.join("armr.env"))
            .unwrap()
            .contains("\nARMR_MODE=detect-only\n")
    );
    let entries = fs::read_dir(&private).unwrap().count();
    assert_eq!(entries, 2, "one directory per configuration, no leftovers");
    // A settings file damaged since is put back whole, by rename.
    fs::write(&sidecar, "garbage").unwrap();
    assert_eq!(launch(&["-r", "rules/web.armr", "env"]), dir);
    assert!(
        fs::read_to_string(&sidecar)
            .unwrap()
            .contains("ARMR_RULES=")
    );
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        3,
        "the link, armr.env and the compiled policy: no temporary file left"
    );
    // Once the link is gone (a logout empties XDG_RUNTIME_DIR), the programs started later still
    // load the library, through the second entry of LD_PRELOAD.
    let out = run(launcher(&[
        "-r",
        "rules/web.armr",
        "sh",
        "-c",
        "rm -r \"${LD_PRELOAD%% *}\" && exec cat /proc/self/maps",
    ])
    .env("XDG_RUNTIME_DIR", &runtime));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let maps = text(&out.stdout);
    let mapped: Vec<&str> = maps
        .lines()
        .filter(|l| l.ends_with(stubs().lib.to_str().unwrap()))
        .collect();
    assert!(!mapped.is_empty(), "{maps}");
    assert!(
        text(&out.stderr).contains("cannot be preloaded"),
        "the loader says the link is gone: {}",
        text(&out.stderr)
    );
    // TMPDIR when XDG_RUNTIME_DIR is unset.
    let tmp = temp_dir("private-tmpdir");
    let out = run(launcher(&["-r", "rules/web.armr", "env"])
        .env_remove("XDG_RUNTIME_DIR")
        .env("TMPDIR", &tmp));
    private_link(&env_of(&out)["LD_PRELOAD"], &tmp, &stubs().lib);
}

#[test]
fn an_unsafe_private_directory_is_refused() {
    let marker_of = |runtime: &Path| runtime.join("ran");
    let refused = |runtime: &Path, why: &str| {
        let marker = marker_of(runtime);
        let out = run(
            launcher(&["-r", "rules/web.armr", "touch", marker.to_str().unwrap()])
                .env("XDG_RUNTIME_DIR", runtime),
        );
        assert_eq!(out.status.code(), Some(1), "{why}: {}", text(&out.stderr));
        assert!(!marker.exists(), "{why}: the command ran");
        text(&out.stderr)
    };

    // Writable by the group, or by others.
    for (name, bits) in [
        ("group-writable", 0o770),
        ("other-writable", 0o707),
        ("sticky", 0o1777),
    ] {
        let runtime = temp_dir(&format!("private-{name}"));
        let private = runtime.join(format!("armr-{}", uid()));
        fs::create_dir(&private).unwrap();
        fs::set_permissions(&private, fs::Permissions::from_mode(bits)).unwrap();
        let stderr = refused(&runtime, name);
        assert!(
            stderr.contains(&format!(
                "{} is writable by its group or others",
                private.display()
            )),
            "{stderr}"
        );
        fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
        let out = run(launcher(&["-r", "rules/web.armr", "env"]).env("XDG_RUNTIME_DIR", &runtime));
        private_link(&env_of(&out)["LD_PRELOAD"], &runtime, &stubs().lib);
    }

    // A symlink, even to a directory of the user's own.
    let runtime = temp_dir("private-symlink");
    let real = runtime.join("elsewhere");
    fs::create_dir(&real).unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o700)).unwrap();
    let private = runtime.join(format!("armr-{}", uid()));
    std::os::unix::fs::symlink(&real, &private).unwrap();
    let stderr = refused(&runtime, "symlink");
    assert!(
        stderr.contains(&format!("{} is a symlink", private.display())),
        "{stderr}"
    );
    assert_eq!(
        fs::read_dir(&real).unwrap().count(),
        0,
        "written through the symlink"
    );

    // A file where the directory should be.
    let runtime = temp_dir("private-file");
    fs::write(runtime.join(format!("armr-{}", uid())), "").unwrap();
    let stderr = refused(&runtime, "file");
    assert!(stderr.contains("cannot create the directory"), "{stderr}");

    // Owned by another user: only root can set that up.
    if uid() == 0 {
        let runtime = temp_dir("private-other-owner");
        let private = runtime.join("armr-0");
        fs::create_dir(&private).unwrap();
        fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::chown(&private, Some(65534), Some(65534)).unwrap();
        let stderr = refused(&runtime, "other owner");
        assert!(
            stderr.contains(&format!(
                "{} is not owned by you (uid 0)",
                private.display()
            )),
            "{stderr}"
        );
    } else {
        eprintln!("not root: the other-owner case needs chown, skipped");
    }
}

// --- the log destinations: every form the library takes, through the launcher

/// Rules that refuse and log a connect to 127.0.0.1:`port`.
fn refusing_rules(dir: &Path, port: u16) -> PathBuf {
    write(
        &dir.join("refuse.armr"),
        &format!(
            "app(\"Launcher log\"):\n  requires(version: ARMR/2.11)\n  socket(\"no {port}\"):\n    \
             connect(\"127.0.0.1:{port}\")\n    protect(message: \"refused by the launcher test\", \
             severity: 8)\n  endsocket\nendapp\n"
        ),
    )
}

/// The launcher with the real library, running bash to connect to 127.0.0.1:`port` (refused by
/// [`refusing_rules`]), its events sent to `log` (by `-l`, or by `ARMR_LOG` when `by_option` is
/// false). `wrap` runs before the launcher, in the same process (the PID stays the program's).
fn log_run(
    rules: &Path,
    port: u16,
    log: &str,
    by_option: bool,
    wrap: &[&str],
    cwd: &Path,
) -> (u32, Output) {
    let connect = format!("exec 3<>/dev/tcp/127.0.0.1/{port}");
    let mut args: Vec<&str> = vec!["-r", rules.to_str().unwrap()];
    if by_option {
        args.extend(["-l", log]);
    }
    args.extend(["bash", "-c", &connect]);
    let script = manifest().join(SCRIPT);
    let mut command = Command::new(wrap.first().map_or(script.as_path(), Path::new));
    if wrap.is_empty() {
        command.args(&args);
    } else {
        command.args(&wrap[1..]).arg(&script).args(&args);
    }
    clean(&mut command);
    command
        .current_dir(cwd)
        .env("ARMR_LIB", support::library())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !by_option {
        command.env("ARMR_LOG", log);
    }
    let child = command.spawn().expect("run scripts/armr-run");
    let pid = child.id();
    (pid, child.wait_with_output().unwrap())
}

/// Runs the launcher in a private mount namespace whose `/dev/log` is `socket` (the rest of
/// `/dev` as it is): `syslog` means the system's `/dev/log`, which must not be the machine's.
fn with_dev_log(dir: &Path, socket: &Path) -> Vec<String> {
    let fresh = |name: &str| {
        (0..)
            .map(|n| dir.join(format!("{name}-{n}")))
            .find(|d| !d.exists())
    };
    let (real, fake) = (fresh("real-dev").unwrap(), fresh("fake-dev").unwrap());
    fs::create_dir_all(&real).unwrap();
    fs::create_dir_all(&fake).unwrap();
    let setup = "set -e; real=$1 fake=$2 socket=$3; shift 3; mount --bind /dev \"$real\"; \
                 for entry in \"$real\"/* \"$real\"/.[!.]*; do \
                 [ -e \"$entry\" ] || [ -L \"$entry\" ] || continue; \
                 ln -s \"$entry\" \"$fake/${entry##*/}\"; done; \
                 ln -sfn \"$socket\" \"$fake/log\"; mount --bind \"$fake\" /dev; exec \"$@\"";
    [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        setup,
        "sh",
        real.to_str().unwrap(),
        fake.to_str().unwrap(),
        socket.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

/// Every `ARMR_LOG` form the library takes (`armr::config::LOG_FORMS`, filled in), and a bare
/// path, given to `-l` or in `ARMR_LOG`: the event reaches the destination, a real rsyslogd for
/// syslog, UDP and TCP (issue 13: the shell launcher refused all three), and nothing is created
/// in the working directory.
#[test]
fn every_log_destination_the_library_takes_works_through_the_launcher() {
    let dir = support::TempDir::new("launcher", "log-forms");
    let rsyslog = support::rsyslog::Rsyslog::start(&dir);
    let cwd = dir.join("cwd");
    fs::create_dir(&cwd).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let rules = refusing_rules(&dir.0, port);
    let mut forms: Vec<&str> = armr::config::LOG_FORMS.to_vec();
    forms.push("PATH"); // -l takes a bare path too
    for (n, form) in forms.into_iter().enumerate() {
        for by_option in [true, false] {
            if form == "PATH" && !by_option {
                continue; // ARMR_LOG takes `file:PATH` only: tested as a usage error elsewhere
            }
            let file = dir.join(&format!("events-{n}-{by_option}.log"));
            let value = form
                .replace("PATH", file.to_str().unwrap())
                .replace("SOCKET", rsyslog.socket.to_str().unwrap())
                .replace(
                    "HOST:PORT",
                    &format!(
                        "127.0.0.1:{}",
                        if form.starts_with("udp") {
                            rsyslog.udp
                        } else {
                            rsyslog.tcp
                        }
                    ),
                );
            let wrap = if value == "syslog" {
                with_dev_log(&dir.0, &rsyslog.socket)
            } else {
                Vec::new()
            };
            let wrap: Vec<&str> = wrap.iter().map(String::as_str).collect();
            let how = if by_option { "-l" } else { "ARMR_LOG=" };
            let (pid, out) = log_run(&rules, port, &value, by_option, &wrap, &cwd);
            let stderr = text(&out.stderr);
            // bash ran, and its connect was refused.
            assert_eq!(out.status.code(), Some(1), "{how}{value}: {stderr}");
            assert!(
                stderr.contains("bash: connect:") && !stderr.contains("armr run:"),
                "{how}{value}: {stderr}"
            );
            let wanted = format!("remotePort={port}");
            match form {
                "stderr" => assert!(
                    stderr
                        .lines()
                        .any(|l| l.starts_with('<') && l.contains(&wanted)),
                    "{how}{value}: {stderr}"
                ),
                "file:PATH" | "PATH" => {
                    let events = fs::read_to_string(&file).unwrap_or_default();
                    assert!(
                        events.contains(&wanted),
                        "{how}{value}: {events:?} {stderr}"
                    );
                }
                _ => {
                    let records = rsyslog.wait_for(pid, 1);
                    assert!(
                        records[0].msg.contains(&wanted),
                        "{how}{value}: {records:?}"
                    );
                    let input = match form {
                        "udp://HOST:PORT" => "imudp",
                        "tcp://HOST:PORT" => "imtcp",
                        _ => "imuxsock",
                    };
                    assert_eq!(records[0].input, input, "{how}{value}");
                }
            }
            assert_eq!(
                fs::read_dir(&cwd).unwrap().count(),
                0,
                "{how}{value} made a file in the working directory"
            );
        }
    }
}
