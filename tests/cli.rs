//! `armr check` as a user runs it: exit codes, the summary on stdout, diagnostics on stderr.

mod support;

use std::io::Write;
use std::process::{Command, Output};

fn armr(args: &[&str]) -> Output {
    Command::new(support::armr_command())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run armr")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temp_file(name: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("armr-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(contents.as_bytes())
        .unwrap();
    path
}

#[test]
fn valid_files_exit_0_with_one_summary_line_each() {
    let out = armr(&[
        "check",
        "rules/web.armr",
        // Not block-connects.armr: loaded with web.armr, its catch-all protect repeats web's,
        // which `armr check` warns can never win.
        "rules/reference/block-accept-port-range.armr",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "rules/web.armr: 1 app, 5 socket rules, 0 rules skipped\n\
         rules/reference/block-accept-port-range.armr: 1 app, 1 socket rule, 0 rules skipped\n"
    );
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn errors_exit_1_with_compiler_style_diagnostics_on_stderr() {
    let path = temp_file(
        "bad.armr",
        "app(\"A\"):\n  requires(version: ARMR/2.11)\n  socket(\"r\"):\n    connect(\"10.0.0.1:70000\")\n    detect(severity: 3)\n  endsocket\nendapp\n",
    );
    let path = path.to_str().unwrap();
    let out = armr(&["check", path]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{path}:4:23: error: port `70000` is above 65535\n\
             \x20 4 |     connect(\"10.0.0.1:70000\")\n\
             \x20   |                       ^^^^^\n\
             \x20 = hint: a port is 0 (any port), a number from 1 to 65535, or a range `N-M`\n\
             {path}:5:5: error: `detect` needs a `message`\n\
             \x20 5 |     detect(severity: 3)\n\
             \x20   |     ^^^^^^\n\
             \x20 = hint: detect only logs, so it must say what: `detect(message: \"...\")`\n\
             armr: 2 errors found\n"
        )
    );
    assert_eq!(
        text(&out.stdout),
        format!("{path}: 1 app, 0 socket rules, 0 rules skipped\n")
    );
}

#[test]
fn warnings_never_fail_a_check() {
    let path = temp_file(
        "mixed.armr",
        "app(\"A\"): requires(version: ARMR/2.11)\n  http(\"h\"): request() endhttp\n  socket(\"r\"): connect(\"10.0.0.1:1\") protect() endsocket\nendapp\n",
    );
    let out = armr(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains(":2:3: warning: `http` rule `h` skipped"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).ends_with(": 1 app, 1 socket rule, 1 rule skipped\n"));
}

#[test]
fn a_missing_file_is_an_error() {
    let out = armr(&["check", "rules/does-not-exist.armr"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with(
        "rules/does-not-exist.armr: error: cannot read the rules file: no such file\n"
    ));
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["check"][..],
        &["frobnicate"][..],
        &["check", "--strict", "x"][..],
    ] {
        let out = armr(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains("Usage: armr"), "{args:?}");
    }
    let help = armr(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(text(&help.stdout).contains("\n  check "));
}

/// The `armr` binary is built without the LD_PRELOAD hooks, so its own socket calls are never
/// judged: it defines none of the intercepted functions.
#[test]
fn the_armr_binary_does_not_define_socket_functions() {
    let out = Command::new("nm")
        .arg("--defined-only")
        .arg(support::armr_command())
        .output()
        .expect("nm (binutils) is installed");
    assert!(out.status.success());
    let symbols = text(&out.stdout);
    assert!(symbols.lines().count() > 100, "nm read the symbol table");
    for hooked in [
        "connect",
        "bind",
        "listen",
        "accept",
        "accept4",
        "sendto",
        "sendmsg",
        "getaddrinfo",
        "gethostbyname",
        "res_query",
    ] {
        let defined = symbols
            .lines()
            .any(|l| l.split_whitespace().last() == Some(hooked));
        assert!(!defined, "armr defines {hooked}");
    }
}

#[test]
fn explain_names_the_winner_and_why_the_others_lose() {
    let out = armr(&["explain", "rules/web.armr", "connect", "127.0.0.1:5432"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "connect 127.0.0.1:5432: allow\n\
         rule: \"database\" in app \"Web Server\" (rules/web.armr:40)\n\
         matching rules, best first:\n\
         \x20 allow \"database\" (rules/web.armr:40, app \"Web Server\"): wins\n\
         \x20 protect \"no other outgoing connections\" (rules/web.armr:47, app \"Web Server\"): it has a wildcard (any-address, CIDR block or port 0) and the winner does not\n"
    );
}

#[test]
fn explain_json_is_one_object() {
    let out = armr(&[
        "explain",
        "--json",
        "--detect-only",
        "rules/web.armr",
        "connect",
        "[::ffff:10.9.9.9]:80",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "{\"decision\": \"detect\", \"rule\": \"no other outgoing connections\", \"app\": \"Web Server\", \
         \"location\": \"rules/web.armr:47\", \"event\": {\"kind\": \"connect\", \"address\": \"[::ffff:10.9.9.9]:80\"}, \
         \"candidates\": [{\"rule\": \"no other outgoing connections\", \"app\": \"Web Server\", \"location\": \"rules/web.armr:47\", \
         \"action\": \"protect\", \"wildcard\": true, \"wins\": true, \"lost_because\": null}], \
         \"notes\": [\"::ffff:10.9.9.9 is an IPv4-mapped IPv6 address: judged as 10.9.9.9\", \
         \"detect-only mode: the protect rule acts as detect (logged, not refused)\"]}\n"
    );
    let none = armr(&[
        "explain",
        "--json",
        "rules/reference/block-connects.armr",
        "accept",
        "10.0.0.1:80",
    ]);
    assert_eq!(
        text(&none.stdout),
        "{\"decision\": \"none\", \"rule\": null, \"app\": null, \"location\": null, \
         \"event\": {\"kind\": \"accept\", \"address\": \"10.0.0.1:80\"}, \"candidates\": [], \"notes\": []}\n"
    );
}

#[test]
fn explain_refuses_bad_input_clearly() {
    let out = armr(&["explain", "rules/web.armr", "listen", "10.0.0.1:80"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "unknown event kind `listen`: use bind-server, bind-client, connect or accept"
        )
    );
    let out = armr(&["explain", "rules/web.armr", "connect", "::1:80"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("`::1:80` is not an address: write 10.0.0.1:443 or [::1]:443")
    );
    let out = armr(&[
        "explain",
        "rules/does-not-exist.armr",
        "connect",
        "10.0.0.1:80",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read the rules file"));
    assert_eq!(text(&out.stdout), "");
}

/// `armr check DIR` checks what `ARMR_RULES=DIR` loads (every `*.armr` file in it, in name
/// order), as a user with `/etc/armr/rules.d` tries it; `armr explain DIR` judges with them. It
/// used to fail with "cannot read the rules file: it is a directory".
#[test]
fn a_directory_is_checked_and_explained_as_armr_rules_loads_it() {
    let dir = std::env::temp_dir().join(format!("armr-cli-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub.armr")).unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    std::fs::copy(format!("{root}/rules/web.armr"), dir.join("20-web.armr")).unwrap();
    std::fs::copy(format!("{root}/rules/demo.armr"), dir.join("10-demo.armr")).unwrap();
    std::fs::write(dir.join("README"), "not rules").unwrap();
    let d = dir.to_str().unwrap();
    let out = armr(&["check", d]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{d}/10-demo.armr: 1 app, 2 socket rules, 0 rules skipped\n\
             {d}/20-web.armr: 1 app, 5 socket rules, 0 rules skipped\n"
        )
    );
    let out = armr(&["explain", d, "connect", "127.0.0.1:5432"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("connect 127.0.0.1:5432: allow\n"),
        "{}",
        text(&out.stdout)
    );
    // An error in one of its files names that file.
    std::fs::write(dir.join("30-bad.armr"), "app(\"B\"):\nendapp\n").unwrap();
    let out = armr(&["check", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with(&format!("{d}/30-bad.armr:1:5: error: ")),
        "{}",
        text(&out.stderr)
    );
    // A directory without rules is an error, as for ARMR_RULES.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = armr(&["check", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{}: error: the directory holds no *.armr file\n\
             \x20 = hint: name a rules file, or a directory holding *.armr files\n\
             armr: 1 error found\n",
            empty.display()
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `make demo` on a machine without python3 (its demo service) says what to install, before
/// anything runs, instead of failing midway with "python3: command not found".
#[test]
fn the_demo_without_python3_says_what_to_install() {
    let bin = std::env::temp_dir().join(format!("armr-cli-nopython-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&bin);
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["bash", "dirname"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        let path = text(&found.stdout).trim().to_string();
        std::os::unix::fs::symlink(path, bin.join(tool)).unwrap();
    }
    let out = Command::new(bin.join("bash"))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo"))
        .env("PATH", &bin)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        "make demo: python3 is needed (it plays the demo service): install it (apt-get install \
         python3), or run make test, which installs it\n"
    );
    assert_eq!(text(&out.stdout), "");
    let _ = std::fs::remove_dir_all(&bin);
}

/// `--help`, `-h` anywhere before the files, and `armr help COMMAND` show a command's help on
/// stdout and exit 0, as in every command-line tool (issue 13: `armr check --help` was a usage
/// error about an unknown option, `-h` a file name).
#[test]
fn help_works_everywhere_a_user_asks_for_it() {
    for (args, usage) in [
        (&["check", "--help"][..], "Usage: armr check <FILE>..."),
        (&["check", "-h"][..], "Usage: armr check <FILE>..."),
        (
            &["check", "rules/web.armr", "-h"][..],
            "Usage: armr check <FILE>...",
        ),
        (&["help", "check"][..], "Usage: armr check <FILE>..."),
        (
            &["explain", "--help"][..],
            "Usage: armr explain [--json] [--detect-only] <FILE>... <KIND> <ADDRESS>",
        ),
        (
            &["explain", "rules/web.armr", "-h"][..],
            "Usage: armr explain [--json] [--detect-only] <FILE>... <KIND> <ADDRESS>",
        ),
        (
            &["run", "--help"][..],
            "Usage: armr run [-r RULES] [-l LOG] [--detect-only] [--force] [--engine ENGINE] [--] COMMAND [ARGS...]",
        ),
        (&["help", "run"][..], "Usage: armr run [-r RULES]"),
        (&["--help"][..], "Usage: armr <COMMAND>"),
        (&["-h"][..], "Usage: armr <COMMAND>"),
        (&["help"][..], "Usage: armr <COMMAND>"),
    ] {
        let out = armr(args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stdout).contains(usage),
            "{args:?}: {}",
            text(&out.stdout)
        );
        assert_eq!(text(&out.stderr), "", "{args:?}");
    }
    assert_eq!(
        armr(&["help", "check"]).stdout,
        armr(&["check", "--help"]).stdout
    );
    let version = armr(&["-V"]);
    assert_eq!(
        text(&version.stdout),
        format!("armr {}\n", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(armr(&["--version"]).stdout, version.stdout);
}

/// Unknown options, missing arguments and unknown commands: the error and the usage on stderr,
/// nothing on stdout, exit 2, and a pointer to --help.
#[test]
fn option_errors_are_usage_errors_on_stderr() {
    for (args, error) in [
        (
            &["check", "--strict", "rules/web.armr"][..],
            "error: unexpected argument '--strict' found",
        ),
        (
            &["check"][..],
            "error: the following required arguments were not provided",
        ),
        (
            &["frobnicate"][..],
            "error: unrecognized subcommand 'frobnicate'",
        ),
        (
            &[
                "explain",
                "--jsno",
                "rules/web.armr",
                "connect",
                "10.0.0.1:1",
            ][..],
            "error: unexpected argument '--jsno' found",
        ),
        (
            &["explain", "rules/web.armr", "connect"][..],
            "error: `armr explain` needs rules files, an event kind and an address",
        ),
        (
            &["run", "-r"][..],
            "error: a value is required for '-r <RULES>'",
        ),
        (
            &["run", "-r", "rules/web.armr"][..],
            "error: the following required arguments were not provided",
        ),
        (
            &["run", "--frobnicate", "true"][..],
            "error: unexpected argument '--frobnicate' found",
        ),
        (
            &["run", "-r", "", "true"][..],
            "error: a value is required for '-r <RULES>'",
        ),
    ] {
        let out = armr(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with(error), "{args:?}: {stderr}");
        // (clap leaves the usage out after a missing option value)
        assert!(
            stderr.contains("\nUsage: armr ") || error.starts_with("error: a value is required"),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains("For more information, try '--help'."),
            "{args:?}: {stderr}"
        );
        assert_eq!(text(&out.stdout), "", "{args:?}");
    }
    // A close misspelling gets a suggestion.
    let out = armr(&["chekc", "rules/web.armr"]);
    assert!(
        text(&out.stderr).contains("tip: a similar subcommand exists: 'check'"),
        "{}",
        text(&out.stderr)
    );
}

/// `armr check` warns, without failing, about a rule that can never win (naming the rule that
/// wins its events and where), a hostname without a dot, and a rules file or directory that its
/// group or others may write (with the chmod that fixes it). Before: none of them was reported.
#[test]
fn check_warns_about_rules_that_never_win_dotless_hostnames_and_writable_files() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("armr-cli-shared-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("shared.armr");
    std::fs::write(
        &path,
        "app(\"A\"):\n  requires(version: ARMR/2.11)\n  socket(\"everything\"):\n    connect(\"0.0.0.0:0\")\n    allow()\n  endsocket\n  socket(\"one host\"):\n    connect(\"10.0.0.9:0\")\n    protect(message: \"blocked\")\n  endsocket\n  socket(\"typo\"):\n    accept(\"any:443\")\n    protect()\n  endsocket\nendapp\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o775)).unwrap();
    let out = armr(&["check", path.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    let (file, dir) = (path.display(), dir.display());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{file}: warning: the rules file `{file}` is writable by its group or others (mode \
             664): whoever can write it decides the rules\n\
             \x20 = hint: chmod go-w {file}\n\
             {file}: warning: the directory `{dir}` is writable by its group or others (mode \
             775): whoever can write it decides the rules\n\
             \x20 = hint: chmod go-w {dir}\n\
             {file}:7:3: warning: rule `one host` can never win: rule `everything` ({file}:3:3) \
             matches every `connect` it matches and is chosen before it\n\
             \x20 7 |   socket(\"one host\"):\n\
             \x20   |   ^^^^^^\n\
             \x20 = hint: between rules that both have a wildcard, or neither, allow is chosen \
             before protect, and protect before detect; remove this rule, or change one of the \
             two\n\
             {file}:12:13: warning: hostname `any` has no dot: a name of one label is a host of \
             the local network, if any\n\
             \x20 12 |     accept(\"any:443\")\n\
             \x20    |             ^^^\n\
             \x20 = hint: for any address write `0.0.0.0` (it matches IPv4 and IPv6); for this \
             host, `localhost`\n"
        )
    );
    assert_eq!(
        text(&out.stdout),
        format!("{file}: 1 app, 3 socket rules, 0 rules skipped\n")
    );
}
