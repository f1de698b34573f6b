//! `armr run`: starts a program with armr's LD_PRELOAD library loaded into it. Checks the settings
//! and the rules with the library's own parser and loader, refuses programs LD_PRELOAD cannot
//! protect, writes the settings file (`armr.env`) beside a link to the library, then execs the
//! program, so that the PID and the exit status are the program's.

use crate::elf::{self, Elf, Linking};
use armr::config::{self, Config, LogTarget, OnError, Sidecar};
use armr::policy::compiled;
use armr::policy::{Mode, Policy, SystemResolver};
use clap::builder::TypedValueParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

const PROG: &str = "armr run";
const BUILD_HINT: &str = "build armr first: cargo build --release (or make build)";
/// The first line of every `armr.env` this writes.
const SIDECAR_COMMENT: &str = "# Written by armr run: the settings of every process that preloads the libarmr.so beside it.\n";

#[derive(clap::Args)]
#[command(
    override_usage = "armr run [-r RULES] [-l LOG] [--detect-only] [--force] [--engine ENGINE] [--] COMMAND [ARGS...]",
    after_help = after_help()
)]
pub struct RunArgs {
    /// The rules: a rules file or a directory of *.armr files [default: $ARMR_RULES]
    #[arg(short = 'r', value_name = "RULES", value_parser = NonEmpty)]
    rules: Option<OsString>,
    /// Where events go: a file, or an ARMR_LOG value (below) [default: $ARMR_LOG, else stderr]
    #[arg(short = 'l', value_name = "LOG", value_parser = NonEmpty)]
    log: Option<OsString>,
    /// Log what protect rules would refuse, refuse nothing (ARMR_MODE=detect-only)
    #[arg(long)]
    detect_only: bool,
    /// Run COMMAND even when LD_PRELOAD cannot protect it: it then runs WITHOUT armr
    #[arg(long)]
    force: bool,
    /// Which engine enforces the rules [default: $ARMR_ENGINE, else auto]
    #[arg(long, value_name = "ENGINE", value_enum)]
    engine: Option<Engine>,
    /// The program to run, and its arguments: everything after COMMAND is COMMAND's
    #[arg(
        value_name = "COMMAND",
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    command: Vec<OsString>,
}

impl RunArgs {
    /// `-r RULES`, for `armr status` reading a supervisor's command line.
    pub(crate) fn rules(&self) -> Option<&OsString> {
        self.rules.as_ref()
    }

    /// `--detect-only`, for `armr status`.
    pub(crate) fn detect_only(&self) -> bool {
        self.detect_only
    }
}

const AFTER_HELP: &str = "\
Runs COMMAND under armr, so that every bind, listen, connect, accept and send to an address the
program makes is judged by the ARMR socket rules. It checks the rules and COMMAND first, then
starts COMMAND under one of two engines (docs/engines.md). Options end at COMMAND (or at --):
what follows is COMMAND's.

--engine ENGINE (or ARMR_ENGINE):
  preload  armr's LD_PRELOAD library, loaded into COMMAND: armr run executes COMMAND in its own
           place (same PID, COMMAND's exit status). Dynamically linked programs only.
  seccomp  a supervisor: armr run starts COMMAND under a seccomp filter (no root needed) that
           sends its socket system calls to armr run, which judges each one and makes it on the
           program's behalf. Reaches static and Go programs, direct system calls and every
           program COMMAND starts, whatever its environment. armr run stays COMMAND's parent and
           exits with its status (128+N if killed by signal N) when the last program it guards
           ends; it forwards SIGTERM, SIGHUP, SIGUSR1, SIGUSR2 and SIGWINCH, ignores SIGINT and
           SIGQUIT (the terminal sends them to COMMAND too). io_uring and 32-bit (i386, x32)
           socket calls fail with ENOSYS. Needs Linux 5.14 or later.
  auto     (the default) preload for dynamically linked programs, seccomp for statically linked
           ones, Go programs and programs for another ELF class or machine.

-l LOG: a path (events are appended, one per line; made absolute) or any value ARMR_LOG takes:
  @LOG_FORMS@
  syslog is the system's /dev/log; udp:// and tcp:// send syslog over the network (RFC 5424;
  TCP with RFC 6587 octet counting). Write ./syslog for a file named syslog.
  A format may come first, FORMAT+VALUE: armr (the default), cef (with ArcSight's keys) or
  json (Elastic Common Schema); up to four comma-separated, e.g. file:/var/log/armr.log,json+syslog
  (each path in a list is made absolute).

What it checks, before anything runs:
  1. The settings: a value of ARMR_MODE, ARMR_ON_ERROR, ARMR_LOG or ARMR_ENGINE that armr
     would reject is a usage error (exit 2).
  2. The rules, as `armr check` does (a directory: all its *.armr files, sorted by name; an
     empty directory is an error). Any error: the diagnostics are shown and it exits 1.
     Warnings are shown and do not stop it.
  3. COMMAND, found through PATH like a shell does. Not found: exit 127; not executable: 126.
  4. What LD_PRELOAD can reach. A program that is
       - statically linked (an ELF file without a PT_INTERP program header): there is no
         dynamic loader to preload into;
       - built for another ELF class or machine than libarmr.so (a 32-bit program with a 64-bit
         library): the loader would skip the library;
       - a Go program (Go's build ID note or build information), dynamically linked or not:
         Go's runtime makes its socket system calls itself, never through libc;
     runs under the seccomp engine (auto), or is refused under --engine preload (exit 1,
     unless --force, which runs it WITHOUT armr). A program that is setuid or setgid, or has
     file capabilities (the loader runs it in secure-execution mode, which ignores LD_PRELOAD)
     is refused under preload and auto (exit 1, unless --force); under --engine seccomp it
     runs without its privileges (no_new_privs), with a warning.
     For a script (#!), the interpreter is checked the same way (and, for #!/usr/bin/env NAME,
     the program NAME). Dynamically linked programs and scripts run by them are fine.
  Then, under preload, it sets the environment below and executes COMMAND: same PID,
  COMMAND's exit status. Under seccomp, COMMAND gets the environment armr run was given.

Environment it sets for COMMAND under preload (and every program COMMAND starts):
  ARMR_RULES      The ABSOLUTE path of the rules file or directory (from -r, or ARMR_RULES
                  made absolute).
  ARMR_LOG        From -l (a path becomes file:PATH), or kept from the environment; file and
                  socket paths made absolute (so a program that changes directory, and the
                  programs it starts, log to the same place). Unset: events go to stderr.
  ARMR_MODE       enforce (the default, when unset) or detect-only. Set to detect-only by
                  --detect-only; an existing value is kept without it.
  ARMR_ON_ERROR   Not set, passed through. closed (the default): a process whose rules cannot
                  be loaded prints the diagnostics and exits 1 before main runs. open: it
                  prints them and runs unprotected. (Under seccomp: a log destination that
                  cannot work stops armr run (closed) or runs COMMAND unprotected (open).)
  LD_PRELOAD      A link to libarmr.so in a private directory (below), then the absolute path
                  of libarmr.so itself, then any LD_PRELOAD already set (separated by spaces).

The settings file (armr.env, preload): the same four settings, with every default written out,
are also written to ${XDG_RUNTIME_DIR:-${TMPDIR:-/tmp}}/armr-$UID/HASH/armr.env, beside the link
to libarmr.so that LD_PRELOAD names (HASH: of the settings, the library and the rules files'
contents, so the same settings reuse the same directory). Rules files are compiled there
(policy.armrc, docs/compiled.md) and armr.env's ARMR_RULES names the compiled file. The library
reads armr.env beside itself INSTEAD of the environment: a program that starts another with a
rewritten environment (env -i, unsetenv + system) but keeps LD_PRELOAD cannot drop or weaken its
rules. armr-$UID is created with mode 0700; one that is a symlink, is not yours, or is writable
by its group or others is refused (exit 1).

The library: ARMR_LIB, else libarmr.so in the directory of this armr command (cargo build
--release builds both in target/release), else ../lib/armr/libarmr.so from it (make install).
scripts/armr-run runs the armr of ARMR_BIN, else <repo>/target/release/armr.

Limits: the preload engine works inside the process and cannot reach statically linked
binaries, Go programs, programs that make system calls directly (syscall(SYS_connect)), sockets
driven through io_uring, or setuid/setgid (and file-capability) programs run by another user;
auto sends the ones it can see (static, Go) to the seccomp engine. The seccomp engine does not
judge read() of a UDP socket, and lets the kernel make the calls of non-IP sockets (AF_UNIX,
netlink): see docs/engines.md.

Exit status: COMMAND's own, once it runs. Before that: 2 usage error; 1 rules with errors, no
library, a refused program, an unsafe private directory or a seccomp filter that cannot be
installed; 126 COMMAND not executable; 127 COMMAND not found. See docs/launcher.md.";

/// The text after the options, with the log forms the library takes.
fn after_help() -> String {
    AFTER_HELP.replace("@LOG_FORMS@", &config::LOG_FORMS.join(", "))
}

/// A value that must not be empty (`-r ''` is a mistake, not "the current directory").
#[derive(Clone)]
struct NonEmpty;

impl TypedValueParser for NonEmpty {
    type Value = OsString;

    fn parse_ref(
        &self,
        command: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<OsString, clap::Error> {
        if !value.is_empty() {
            return Ok(value.to_owned());
        }
        let mut error = clap::Error::new(ErrorKind::InvalidValue).with_cmd(command);
        if let Some(arg) = arg {
            error.insert(
                ContextKind::InvalidArg,
                ContextValue::String(arg.to_string()),
            );
        }
        error.insert(
            ContextKind::InvalidValue,
            ContextValue::String(String::new()),
        );
        Err(error)
    }
}

/// Why `armr run` stops before the program runs.
enum Stop {
    /// A usage error, printed as clap prints its own (exit 2).
    Usage(String),
    /// A failure with its exit status.
    Fail(u8, String),
}

fn fail(status: u8, message: impl Into<String>) -> Stop {
    Stop::Fail(status, message.into())
}

fn warn(message: &str) {
    eprintln!("{PROG}: warning: {message}");
}

/// Runs `armr run`: returns only when the program could not be started.
pub fn run(args: RunArgs) -> ExitCode {
    match prepare_and_exec(args) {
        Ok(Started::Exited(status)) => ExitCode::from(status),
        Err(Stop::Usage(message)) => crate::usage_error("run", ErrorKind::InvalidValue, &message),
        Err(Stop::Fail(status, message)) => {
            eprintln!("{PROG}: {message}");
            ExitCode::from(status)
        }
    }
}

/// How `armr run` ends when the program ran: the preload engine execs it (and never returns);
/// the seccomp engine supervises it and returns its exit status.
enum Started {
    Exited(u8),
}

/// The engine that enforces the rules (docs/engines.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    // preload for dynamically linked programs, seccomp for the rest (static, Go): the help
    // text says it (plain comments: a documented variant makes -h and --help differ).
    Auto,
    // armr's LD_PRELOAD library, inside the program.
    Preload,
    // A supervisor judging the socket system calls (seccomp user notification).
    Seccomp,
}

/// `--engine`, else `ARMR_ENGINE`, else auto.
fn engine(given: Option<Engine>) -> Result<Engine, Stop> {
    if let Some(engine) = given {
        return Ok(engine);
    }
    match std::env::var("ARMR_ENGINE").ok().filter(|v| !v.is_empty()) {
        None => Ok(Engine::Auto),
        Some(value) => <Engine as clap::ValueEnum>::from_str(&value, false).map_err(|_| {
            Stop::Usage(format!(
                "ARMR_ENGINE={value}: not an engine (auto, preload or seccomp)"
            ))
        }),
    }
}

/// What LD_PRELOAD cannot do for a program, and whether the seccomp engine can.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// LD_PRELOAD cannot reach the program's socket calls; the seccomp engine judges them.
    Preload,
    /// The program runs privileged (setuid, setgid, file capabilities): the loader ignores
    /// LD_PRELOAD; under the seccomp engine it runs without its privileges.
    Privileges,
}

struct Problem {
    text: String,
    reach: Reach,
}

fn prepare_and_exec(args: RunArgs) -> Result<Started, Stop> {
    let mut command = args.command.into_iter();
    let name = command.next().expect("clap requires COMMAND");
    let arguments: Vec<OsString> = command.collect();
    let shown = name.to_string_lossy().into_owned();

    // ---- the settings, as the library reads them: wrong values stop here, before the library
    // would (or, with ARMR_ON_ERROR=open, would run the program unprotected).
    let env = |key: &str| std::env::var_os(key).filter(|v| !v.is_empty());
    let env_text = |key: &str| -> Result<Option<String>, Stop> {
        env(key)
            .map(|v| {
                v.into_string().map_err(|v| {
                    Stop::Usage(format!("{key}={}: not UTF-8 text", v.to_string_lossy()))
                })
            })
            .transpose()
    };
    let (mode, on_error, log_env) = (
        env_text("ARMR_MODE")?,
        env_text("ARMR_ON_ERROR")?,
        env_text("ARMR_LOG")?,
    );
    let settings = config::from_env(|key| match key {
        // Any value: the rules are checked below, by the loader.
        "ARMR_RULES" => Some("-".to_string()),
        "ARMR_MODE" if args.detect_only => Some("detect-only".to_string()),
        "ARMR_MODE" => mode.clone(),
        "ARMR_ON_ERROR" => on_error.clone(),
        "ARMR_LOG" if args.log.is_some() => None,
        "ARMR_LOG" => log_env.clone(),
        _ => None,
    });
    let settings = match settings {
        Ok(Some(settings)) => settings,
        Ok(None) => unreachable!("ARMR_RULES is given"),
        Err((_, errors)) => return Err(Stop::Usage(errors.join("\n"))),
    };
    let requested = engine(args.engine)?;
    let cwd = working_directory();
    let log = match &args.log {
        Some(value) => Some(log_option(value, &cwd)?),
        None if log_env.is_some() => Some(absolute_log(settings.log.clone(), &cwd)),
        None => None,
    };

    let rules = match args.rules.or_else(|| env("ARMR_RULES")) {
        Some(rules) => PathBuf::from(rules),
        None => {
            return Err(Stop::Usage(
                "no rules: give -r RULES (a rules file or a directory of *.armr files) or set \
                 ARMR_RULES"
                    .to_string(),
            ));
        }
    };

    // ---- the library (the preload engine's; the seccomp engine needs none)
    let library = library();

    // ---- the rules: loaded as the library loads them, diagnostics naming the files as given.
    if !rules.exists() {
        return Err(fail(
            1,
            format!("rules `{}': no such file or directory", rules.display()),
        ));
    }
    let rules_absolute = absolute(&rules, &cwd);
    let source = if compiled::is_compiled(&rules) {
        // Already compiled: checked as the library will check it, and used as it is.
        compiled::read_file(&rules)
            .and_then(|bytes| {
                Policy::from_compiled(bytes, Mode::Enforce, Box::new(SystemResolver::default()))
            })
            .map_err(|e| {
                fail(
                    1,
                    format!(
                        "{}: compiled policy: {e}: not starting {shown}",
                        rules.display()
                    ),
                )
            })?;
        None
    } else {
        let (load, errors) = crate::load_reporting(&[&rules]);
        if errors > 0 {
            return Err(fail(
                1,
                format!(
                    "the rules have errors ({}): not starting {shown}",
                    crate::errors_found(errors).trim_start_matches("armr: ")
                ),
            ));
        }
        Some(load)
    };

    // ---- the command
    let path = find_command(&name)?;
    let library_elf = library
        .as_ref()
        .ok()
        .and_then(|library| File::open(library).ok())
        .and_then(|f| elf::parse(&f));
    let mut problems = Vec::new();
    let reference = match (&library, &library_elf) {
        (Ok(library), Some(elf)) => Some((library.as_path(), elf)),
        _ => None,
    };
    check_program(&path, 0, "", reference, &mut problems);
    // auto: the seccomp engine for what LD_PRELOAD cannot reach (static, Go, another ELF class).
    let engine = match requested {
        Engine::Auto if problems.iter().any(|p| p.reach == Reach::Preload) => Engine::Seccomp,
        Engine::Auto => Engine::Preload,
        engine => engine,
    };
    let mode = if args.detect_only {
        Mode::DetectOnly
    } else {
        settings.mode
    };
    if let Some(load) = &source {
        log_rules_left_out(load, log.as_ref(), &name, engine);
    }
    if engine == Engine::Seccomp {
        // What the seccomp engine covers is no problem; a program that runs privileged
        // (setuid, setgid, file capabilities) runs without its privileges (NO_NEW_PRIVS).
        for problem in problems.iter().filter(|p| p.reach == Reach::Privileges) {
            warn(&format!(
                "{}; under the seccomp engine it runs without them (no_new_privs)",
                problem
                    .text
                    .split(": the loader")
                    .next()
                    .unwrap_or(&problem.text)
            ));
        }
        // Changes to the rules are picked up by a thread of the supervisor (docs/reload.md).
        let lifecycle = config::lifecycle_on(env_text(config::LOG_LIFECYCLE)?.as_deref());
        let watch = config::reload_on(env_text(config::RELOAD)?.as_deref())
            .then(|| armr_supervisor::reload::Watch::new(&rules_absolute, mode, lifecycle));
        let policy = match source {
            Some(load) => {
                Policy::with_resolver(load.rules, mode, Box::new(SystemResolver::default()))
            }
            None => compiled::read_file(&rules)
                .and_then(|bytes| {
                    Policy::from_compiled(bytes, mode, Box::new(SystemResolver::default()))
                })
                .map_err(|e| fail(1, format!("{}: compiled policy: {e}", rules.display())))?,
        };
        let mut argv = vec![name.clone()];
        argv.extend(arguments.iter().cloned());
        let log = log.clone().unwrap_or(LogTarget::Stderr);
        return match armr_supervisor::run(&path, &argv, policy, &log, settings.on_error, watch) {
            Ok(status) => Ok(Started::Exited(status)),
            Err(e) if settings.on_error == OnError::Open => {
                warn(&format!(
                    "{e}: {shown} runs WITHOUT armr's protection (ARMR_ON_ERROR=open)"
                ));
                let error = std::process::Command::new(&path)
                    .arg0(&name)
                    .args(&arguments)
                    .exec();
                Err(fail(126, format!("cannot run {shown}: {error}")))
            }
            Err(e) => Err(fail(1, format!("{e}: not starting {shown}"))),
        };
    }
    let library = library?;
    let library_text = library.to_string_lossy();
    if library_text.contains(|c: char| c.is_whitespace() || c == ':') {
        return Err(fail(
            1,
            format!(
                "the library path `{library_text}' contains a space or a colon, which \
                 LD_PRELOAD cannot hold (they separate its entries): move the build, or set \
                 ARMR_LIB to a path without them"
            ),
        ));
    }
    if library_elf.is_none() {
        return Err(fail(
            1,
            format!(
                "{} is not an ELF shared library: {BUILD_HINT}",
                library.display()
            ),
        ));
    }
    if !problems.is_empty() {
        for problem in &problems {
            warn(&format!("{}.", problem.text));
        }
        if !args.force {
            return Err(fail(
                1,
                format!(
                    "not starting {shown}: LD_PRELOAD cannot protect it. Use --force to run it \
                     anyway, without armr's protection"
                ),
            ));
        }
        warn(&format!(
            "--force: starting {shown} anyway; armr is probably NOT protecting it"
        ));
    }

    // ---- the settings file
    let config = Config {
        rules: rules_absolute.clone(),
        log: log.clone().unwrap_or(LogTarget::Stderr),
        mode,
        on_error: settings.on_error,
    };
    // Settings from the environment the library reads from the sidecar instead of it.
    let mut extra = String::new();
    for key in [config::RELOAD, config::LOG_LIFECYCLE, config::LOG_LIMIT] {
        if let Some(value) = env_text(key)? {
            if value.contains(['\n', '\r']) {
                return Err(Stop::Usage(format!("{key}: a line break is not a value")));
            }
            extra.push_str(&format!("{key}={value}\n"));
        }
    }
    let sidecar = Sidecar::write(SIDECAR_COMMENT, &config).map_err(|e| fail(1, e))? + &extra;
    let link = match source {
        None => write_private_directory(&library, &sidecar, |_| Ok(sidecar.clone()))?,
        // Rules files: compiled into the private directory, whose name also hashes the files'
        // contents, and the library pointed at the compiled file: a process maps it instead of
        // parsing the rules.
        Some(load) => {
            let files = armr::config::rule_files(&rules_absolute).map_err(|e| fail(1, e))?;
            let mut key = sidecar.clone();
            for file in &files {
                let bytes = fs::read(file).unwrap_or_default();
                key.push_str(&format!(
                    "\n{} {}",
                    file.display(),
                    armr::digest::hex(&armr::digest::sha256(&bytes))
                ));
            }
            write_private_directory(&library, &key, |directory| {
                let policy = directory.join(COMPILED);
                // A process that reloaded rewrote it (docs/reload.md): compiled again unless it
                // holds these very files.
                if !compiled_from(&policy, &files) {
                    crate::compile_to(load, &files, &policy).map_err(|e| fail(1, e))?;
                }
                let config = Config {
                    rules: policy,
                    ..config.clone()
                };
                // ARMR_SOURCE: the files the library watches, and reloads from (docs/reload.md).
                let source = format!("{}={}\n", config::SOURCE, rules_absolute.display());
                Sidecar::write(SIDECAR_COMMENT, &config)
                    .map(|text| text + &extra + &source)
                    .map_err(|e| fail(1, e))
            })?
        }
    };

    // ---- run: the environment says what the settings file says, for programs that read it.
    let mut exec = std::process::Command::new(&path);
    exec.arg0(&name).args(&arguments);
    exec.env("ARMR_RULES", &rules_absolute);
    if let Some(log) = &log {
        exec.env("ARMR_LOG", log.value().expect("checked by Sidecar::write"));
    }
    if args.detect_only {
        exec.env("ARMR_MODE", "detect-only");
    }
    // The library itself follows its link: when the link is there the loader finds the same
    // file again and skips it; when the private directory is gone (XDG_RUNTIME_DIR is removed at
    // logout), programs started later still load armr, with the settings of their environment.
    let mut preload = OsString::from(&link);
    preload.push(" ");
    preload.push(&library);
    if let Some(existing) = std::env::var_os("LD_PRELOAD")
        && existing
            .as_bytes()
            .iter()
            .any(|b| !b.is_ascii_whitespace() && *b != b':')
    {
        preload.push(" ");
        preload.push(existing);
    }
    exec.env("LD_PRELOAD", preload);
    let error = exec.exec();
    let status = if error.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    Err(fail(status, format!("cannot run {shown}: {error}")))
}

/// The working directory as a shell names it: `$PWD` when it is this directory (so that a path
/// through a symlink keeps its name), else the kernel's.
fn working_directory() -> PathBuf {
    let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let same = |a: &Path, b: &Path| match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    };
    match std::env::var_os("PWD").map(PathBuf::from) {
        Some(pwd) if pwd.is_absolute() && same(&pwd, &here) => pwd,
        _ => here,
    }
}

/// `path` made absolute against `cwd`, `.` and `..` resolved by name as `cd` does, symlinks
/// kept (a rules symlink swapped later still points where the user meant).
fn absolute(path: &Path, cwd: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in cwd.join(path).components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// A file or socket destination with its path made absolute, as `armr.env` needs it.
fn absolute_log(log: LogTarget, cwd: &Path) -> LogTarget {
    match log {
        LogTarget::File(path) => LogTarget::File(absolute(&path, cwd)),
        LogTarget::Syslog(path) => LogTarget::Syslog(absolute(&path, cwd)),
        LogTarget::Many(list) => LogTarget::Many(
            list.into_iter()
                .map(|(format, target)| (format, absolute_log(target, cwd)))
                .collect(),
        ),
        other => other,
    }
}

/// `-l VALUE`: any `ARMR_LOG` value, or else a path (`./syslog` is a file named syslog).
fn log_option(value: &OsStr, cwd: &Path) -> Result<LogTarget, Stop> {
    let text = value.to_string_lossy();
    let target = match config::log_form_of(&text) {
        Some(_) => {
            let text = value
                .to_str()
                .ok_or_else(|| Stop::Usage(format!("-l {text}: not UTF-8 text")))?;
            LogTarget::parse(text).map_err(|e| {
                let why = e
                    .strip_prefix(&format!("ARMR_LOG={}: ", text.escape_debug()))
                    .unwrap_or(&e);
                Stop::Usage(format!("-l {text}: {why}"))
            })?
        }
        None => LogTarget::File(PathBuf::from(value)),
    };
    Ok(absolute_log(target, cwd))
}

/// The library to preload: `ARMR_LIB`, else `libarmr.so` beside this armr command.
fn library() -> Result<PathBuf, Stop> {
    let (library, from) = match std::env::var_os("ARMR_LIB").filter(|v| !v.is_empty()) {
        Some(library) => (PathBuf::from(library), " (from ARMR_LIB)"),
        None => {
            let me = std::env::current_exe().map_err(|e| {
                fail(
                    1,
                    format!(
                        "cannot find the directory of the armr command ({e}) to find libarmr.so \
                         beside it: set ARMR_LIB to the library"
                    ),
                )
            })?;
            // Beside the command (a build tree), else where `make install` puts it.
            let beside = me.with_file_name("libarmr.so");
            let installed = me
                .parent()
                .and_then(Path::parent)
                .map(|prefix| prefix.join("lib/armr/libarmr.so"));
            match installed {
                Some(installed) if !beside.exists() && installed.exists() => (installed, ""),
                _ => (beside, ""),
            }
        }
    };
    let readable =
        fs::metadata(&library).is_ok_and(|m| m.is_file()) && File::open(&library).is_ok();
    if !readable {
        return Err(fail(
            1,
            format!(
                "no armr library at {}{from}: {BUILD_HINT}",
                library.display()
            ),
        ));
    }
    Ok(absolute(&library, &working_directory()))
}

/// Whether this process may execute `path` (`access(X_OK)`, as a shell's `[ -x ]`).
fn executable(path: &Path) -> bool {
    let Ok(path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid C string; access only reads it.
    unsafe { libc::access(path.as_ptr(), libc::X_OK) == 0 }
}

/// The first executable regular file named `name` in `PATH`, as a shell's `type -P` finds it
/// (an empty entry is the working directory).
fn search_path(name: &OsStr) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path).find_map(|dir| {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(name);
        (candidate.is_file() && executable(&candidate)).then_some(candidate)
    })
}

/// The file `name` runs: a path as given, or found through `PATH`.
fn find_command(name: &OsStr) -> Result<PathBuf, Stop> {
    let shown = name.to_string_lossy();
    if !name.as_bytes().contains(&b'/') {
        return search_path(name)
            .ok_or_else(|| fail(127, format!("{shown}: command not found (searched PATH)")));
    }
    let path = PathBuf::from(name);
    if !path.exists() {
        return Err(fail(127, format!("{shown}: no such file or directory")));
    }
    if path.is_dir() {
        return Err(fail(126, format!("{shown}: is a directory")));
    }
    if !executable(&path) {
        return Err(fail(
            126,
            format!("{shown}: permission denied (not executable)"),
        ));
    }
    Ok(path)
}

/// Adds to `problems` why LD_PRELOAD cannot protect what the kernel runs for `file`: the file
/// itself, or for a script, its interpreter (the kernel follows at most 4 levels of `#!`).
fn check_program(
    file: &Path,
    depth: u32,
    role: &str,
    library: Option<(&Path, &Elf)>,
    problems: &mut Vec<Problem>,
) {
    let mut push = |reach, text| problems.push(Problem { text, reach });
    let what = format!("{}{role}", file.display());
    let Ok(opened) = File::open(file) else {
        return; // exec will say why
    };
    if let Some(elf) = elf::parse(&opened) {
        match elf.linking {
            Linking::Dynamic => {}
            Linking::Static => push(
                Reach::Preload,
                format!(
                    "{what} is statically linked (its ELF has no PT_INTERP program header): there is \
                 no dynamic loader in it to preload armr's library into, so its sockets would \
                 not be checked"
                ),
            ),
            Linking::Unknown => push(
                Reach::Preload,
                format!(
                    "{what} is ELF, but its program headers cannot be read to tell whether it is \
                 dynamically linked (it may be static, and then LD_PRELOAD cannot reach it)"
                ),
            ),
        }
        if elf.go {
            push(
                Reach::Preload,
                format!(
                    "{what} is a Go program: Go's runtime makes its network system calls directly, \
                 not through libc (with or without cgo), so armr's library would not see its \
                 sockets"
                ),
            );
        }
        if let Some((library, library_elf)) = library
            && !elf.same_kind(library_elf)
        {
            push(
                Reach::Preload,
                format!(
                    "{what} is a {} program but {} is {}: the loader would skip the library \
                 (\"wrong ELF class\") and run the program unprotected",
                    elf.kind(),
                    library.display(),
                    library_elf.kind()
                ),
            );
        }
        let mode = opened.metadata().map(|m| m.mode()).unwrap_or(0);
        let bits: Vec<&str> = [(0o4000, "setuid"), (0o2000, "setgid")]
            .into_iter()
            .filter(|(bit, _)| mode & bit != 0)
            .map(|(_, name)| name)
            .collect();
        if !bits.is_empty() {
            push(
                Reach::Privileges,
                format!(
                    "{what} is {}: the loader runs such programs in secure-execution mode, which \
                 ignores LD_PRELOAD (for every user but the one it switches to), so armr's \
                 library would not be loaded",
                    bits.join(" and ")
                ),
            );
        } else if let Some(capabilities) = file_capabilities(file) {
            push(
                Reach::Privileges,
                format!(
                    "{what} has file capabilities ({capabilities}): the loader runs it in \
                 secure-execution mode, which ignores LD_PRELOAD, so armr's library would not \
                 be loaded"
                ),
            );
        }
        return;
    }
    // A script: `#!INTERPRETER [ARGUMENT]`, read as the kernel reads it (its first 256 bytes;
    // the rest of the line is one argument). The setuid bit of a script is ignored by Linux.
    let mut head = Vec::with_capacity(256);
    if (&opened).take(256).read_to_end(&mut head).is_err() || !head.starts_with(b"#!") {
        return; // not "#!": the shell runs it, nothing to say
    }
    let line = &head[2..];
    let line = &line[..line.iter().position(|b| *b == b'\n').unwrap_or(line.len())];
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let line = trim(line, blank);
    let (interpreter, argument) = match line.iter().position(blank) {
        Some(at) => (&line[..at], trim(&line[at..], blank)),
        None => (line, &b""[..]),
    };
    if interpreter.is_empty() {
        return;
    }
    if depth >= 4 {
        push(
            Reach::Preload,
            format!("{what}: too many levels of #! interpreters to check"),
        );
        return;
    }
    let interpreter = Path::new(OsStr::from_bytes(interpreter));
    if !interpreter.is_file() {
        return; // exec will report it
    }
    check_program(
        interpreter,
        depth + 1,
        &format!(" (the interpreter of {})", file.display()),
        library,
        problems,
    );
    // #!/usr/bin/env NAME: env is dynamically linked, but it execs NAME, which must be too.
    if interpreter.file_name() == Some(OsStr::new("env")) && !argument.is_empty() {
        let argument = argument.strip_prefix(b"-S ").unwrap_or(argument);
        let argument = trim(argument, blank);
        let name = &argument[..argument.iter().position(blank).unwrap_or(argument.len())];
        // Other env options or assignments: too many forms to follow.
        if name.is_empty() || name.starts_with(b"-") || name.contains(&b'=') {
            return;
        }
        if let Some(target) = search_path(OsStr::from_bytes(name)) {
            check_program(
                &target,
                depth + 1,
                &format!(
                    " (run by {} from {})",
                    interpreter.display(),
                    file.display()
                ),
                library,
                problems,
            );
        }
    }
}

fn trim(bytes: &[u8], blank: impl Fn(&u8) -> bool) -> &[u8] {
    let start = bytes.iter().position(|b| !blank(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// The file capabilities of `path` (its `security.capability` attribute) in getcap's words
/// (`cap_net_raw=ep`), or `None` when it has none.
fn file_capabilities(path: &Path) -> Option<String> {
    let name = CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut value = [0u8; 64];
    // SAFETY: valid C strings, and a buffer of the length given.
    let len = unsafe {
        libc::getxattr(
            name.as_ptr(),
            c"security.capability".as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    let len = usize::try_from(len).ok().filter(|n| *n > 0)?;
    Some(describe_capabilities(&value[..len]))
}

/// The names the kernel gives capability bits (linux/capability.h), in bit order.
const CAPABILITIES: [&str; 41] = [
    "cap_chown",
    "cap_dac_override",
    "cap_dac_read_search",
    "cap_fowner",
    "cap_fsetid",
    "cap_kill",
    "cap_setgid",
    "cap_setuid",
    "cap_setpcap",
    "cap_linux_immutable",
    "cap_net_bind_service",
    "cap_net_broadcast",
    "cap_net_admin",
    "cap_net_raw",
    "cap_ipc_lock",
    "cap_ipc_owner",
    "cap_sys_module",
    "cap_sys_rawio",
    "cap_sys_chroot",
    "cap_sys_ptrace",
    "cap_sys_pacct",
    "cap_sys_admin",
    "cap_sys_boot",
    "cap_sys_nice",
    "cap_sys_resource",
    "cap_sys_time",
    "cap_sys_tty_config",
    "cap_mknod",
    "cap_lease",
    "cap_audit_write",
    "cap_audit_control",
    "cap_setfcap",
    "cap_mac_override",
    "cap_mac_admin",
    "cap_syslog",
    "cap_wake_alarm",
    "cap_block_suspend",
    "cap_audit_read",
    "cap_perfmon",
    "cap_bpf",
    "cap_checkpoint_restore",
];

/// A `vfs_cap_data` value (little-endian `magic_etc`, then permitted and inheritable words) as
/// `NAMES=FLAGS`: the capabilities in either set, `e` when effective, `i` and `p` when any is
/// inheritable or permitted.
fn describe_capabilities(value: &[u8]) -> String {
    let word = |i: usize| {
        value
            .get(i * 4..i * 4 + 4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
    };
    let Some(magic) = word(0) else {
        return "unreadable".to_string();
    };
    let words = if magic >> 24 == 1 { 1 } else { 2 };
    let (mut permitted, mut inheritable) = (0u64, 0u64);
    for i in 0..words {
        permitted |= u64::from(word(1 + 2 * i).unwrap_or(0)) << (32 * i);
        inheritable |= u64::from(word(2 + 2 * i).unwrap_or(0)) << (32 * i);
    }
    let names: Vec<String> = (0..64)
        .filter(|bit| (permitted | inheritable) >> bit & 1 == 1)
        .map(|bit| {
            CAPABILITIES
                .get(bit)
                .map_or_else(|| bit.to_string(), |n| n.to_string())
        })
        .collect();
    let mut flags = String::new();
    if magic & 1 != 0 {
        flags.push('e');
    }
    if inheritable != 0 {
        flags.push('i');
    }
    if permitted != 0 {
        flags.push('p');
    }
    format!("{}={flags}", names.join(","))
}

/// True when `policy` is a compiled file made from exactly `files` as they are now.
fn compiled_from(policy: &Path, files: &[PathBuf]) -> bool {
    if !compiled::is_compiled(policy) {
        return false;
    }
    let Ok(compiled) = compiled::read_file(policy).and_then(|bytes| {
        Policy::from_compiled(bytes, Mode::Enforce, Box::new(SystemResolver::default()))
    }) else {
        return false;
    };
    compiled
        .provenance()
        .is_some_and(|p| p.sources == compiled::Provenance::of_files(files).sources)
}

/// The compiled policy in the private directory, when the rules are rules files.
pub const COMPILED: &str = "policy.armrc";

/// Writes the private directory `RUNTIME/armr-UID/HASH/` (HASH: of the library and `key`) with
/// the link to the library and `armr.env`, whose text `sidecar` gives (after writing what else
/// the directory holds); returns the link, for LD_PRELOAD.
/// The `Load Rule` `outcome=failure` events of the rules left out by their `os` list, which no
/// process would log otherwise: the program loads the policy compiled here (or the supervisor
/// the rules as loaded here), where they are already left out. Written as the program's own
/// (its name; the pid the preload engine's program keeps across `exec`, the supervisor's under
/// seccomp); a destination that does not work is reported when the program starts.
fn log_rules_left_out(
    load: &armr::language::Load,
    log: Option<&LogTarget>,
    name: &OsStr,
    engine: Engine,
) {
    let skipped: Vec<&str> = load.skipped_for_os().collect();
    if skipped.is_empty() {
        return;
    }
    let Ok(events) = armr_supervisor::events::Events::open(log.unwrap_or(&LogTarget::Stderr))
    else {
        return;
    };
    let process = match engine {
        Engine::Seccomp => "armr".to_string(),
        _ => Path::new(name)
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
    };
    for rule in skipped {
        events.lifecycle_of(
            &process,
            std::process::id(),
            &armr::event::Lifecycle::Skipped {
                rule,
                reason: armr::event::NOT_THIS_OS,
            },
        );
    }
}

fn write_private_directory(
    library: &Path,
    key: &str,
    sidecar: impl FnOnce(&Path) -> Result<String, Stop>,
) -> Result<PathBuf, Stop> {
    let runtime = ["XDG_RUNTIME_DIR", "TMPDIR"]
        .into_iter()
        .find_map(|key| std::env::var_os(key).filter(|v| !v.is_empty()))
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    if !runtime.is_absolute() {
        return Err(fail(
            1,
            format!(
                "the runtime directory `{}' (XDG_RUNTIME_DIR, else TMPDIR, else /tmp) is not an \
                 absolute path",
                runtime.display()
            ),
        ));
    }
    // SAFETY: getuid and geteuid cannot fail.
    let (uid, euid) = unsafe { (libc::getuid(), libc::geteuid()) };
    let private = runtime.join(format!("armr-{uid}"));
    let shown = private.display();
    // Like ssh's ControlPath checks: whoever could write here could choose the rules of the
    // programs run under armr.
    if fs::symlink_metadata(&private).is_err()
        && fs::DirBuilder::new().mode(0o700).create(&private).is_ok()
    {
        // Exactly 0700, whatever the umask.
        let _ = fs::set_permissions(&private, fs::Permissions::from_mode(0o700));
    }
    let meta = fs::symlink_metadata(&private);
    if meta.as_ref().is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(fail(
            1,
            format!(
                "{shown} is a symlink: refusing to keep armr's settings there (remove it, or set \
                 XDG_RUNTIME_DIR or TMPDIR to a directory of your own)"
            ),
        ));
    }
    let Ok(meta) = meta.and_then(|m| {
        m.is_dir()
            .then_some(m)
            .ok_or_else(|| std::io::Error::other("not a directory"))
    }) else {
        return Err(fail(
            1,
            format!(
                "cannot create the directory {shown} for armr's settings (set XDG_RUNTIME_DIR or \
                 TMPDIR to a directory of your own)"
            ),
        ));
    };
    if meta.uid() != euid {
        return Err(fail(
            1,
            format!(
                "{shown} is not owned by you (uid {uid}): refusing to keep armr's settings there"
            ),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(fail(
            1,
            format!(
                "{shown} is writable by its group or others (mode {:o}): refusing to keep \
                 armr's settings there (chmod 700 it)",
                meta.mode() & 0o7777
            ),
        ));
    }

    // One directory per configuration, named by a hash of the library and the settings: the
    // same settings reuse it.
    let mut hasher = std::hash::DefaultHasher::new();
    library.hash(&mut hasher);
    key.hash(&mut hasher);
    let directory = private.join(format!("{:016x}", hasher.finish()));
    let _ = fs::DirBuilder::new().mode(0o700).create(&directory);
    let is_directory = fs::symlink_metadata(&directory).is_ok_and(|m| m.is_dir());
    if !is_directory {
        return Err(fail(
            1,
            format!(
                "cannot create the directory {} for armr's settings",
                directory.display()
            ),
        ));
    }
    let link = directory.join("libarmr.so");
    if link
        .to_string_lossy()
        .contains(|c: char| c.is_whitespace() || c == ':')
    {
        return Err(fail(
            1,
            format!(
                "the path `{}' contains a space or a colon, which LD_PRELOAD cannot hold: set \
                 XDG_RUNTIME_DIR or TMPDIR to a directory without them",
                link.display()
            ),
        ));
    }
    // Each replaced by rename, so that a process starting meanwhile sees the old file or the
    // new, whole.
    let pid = std::process::id();
    if fs::read_link(&link).ok().as_deref() != Some(library) {
        let temporary = directory.join(format!(".libarmr.so.{pid}"));
        let _ = fs::remove_file(&temporary);
        std::os::unix::fs::symlink(library, &temporary)
            .and_then(|()| fs::rename(&temporary, &link))
            .map_err(|e| {
                fail(
                    1,
                    format!(
                        "cannot link {} to {}: {e}",
                        link.display(),
                        library.display()
                    ),
                )
            })?;
    }
    let sidecar = sidecar(&directory)?;
    let settings = directory.join(config::SIDECAR);
    if fs::read(&settings).ok().as_deref() != Some(sidecar.as_bytes()) {
        let temporary = directory.join(format!(".{}.{pid}", config::SIDECAR));
        let written = fs::write(&temporary, sidecar)
            .and_then(|()| fs::set_permissions(&temporary, fs::Permissions::from_mode(0o644)))
            .and_then(|()| fs::rename(&temporary, &settings));
        if let Err(e) = written {
            let _ = fs::remove_file(&temporary);
            return Err(fail(1, format!("cannot write {}: {e}", settings.display())));
        }
    }
    Ok(link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_made_absolute_by_name() {
        let cwd = Path::new("/home/u/work");
        for (given, expected) in [
            ("rules", "/home/u/work/rules"),
            ("./logs/x.log", "/home/u/work/logs/x.log"),
            ("../r.armr", "/home/u/r.armr"),
            ("/etc/armr/", "/etc/armr"),
            ("/a/./b/../c", "/a/c"),
            ("../../../..", "/"),
        ] {
            assert_eq!(
                absolute(Path::new(given), cwd),
                Path::new(expected),
                "{given}"
            );
        }
    }

    #[test]
    fn every_path_of_a_list_of_log_destinations_is_made_absolute() {
        let cwd = Path::new("/home/u/work");
        let given = LogTarget::parse("file:a.log,json+file:logs/b.json,syslog").unwrap();
        assert_eq!(
            absolute_log(given, cwd).value().unwrap(),
            "file:/home/u/work/a.log,json+file:/home/u/work/logs/b.json,syslog"
        );
    }

    #[test]
    fn capabilities_read_as_getcap_writes_them() {
        // VFS_CAP_REVISION_2 | effective, permitted = cap_net_bind_service | cap_net_raw.
        let mut value = Vec::new();
        for word in [0x0200_0001u32, (1 << 10) | (1 << 13), 0, 0, 0] {
            value.extend_from_slice(&word.to_le_bytes());
        }
        assert_eq!(
            describe_capabilities(&value),
            "cap_net_bind_service,cap_net_raw=ep"
        );
        assert_eq!(describe_capabilities(&[1, 2]), "unreadable");
    }
}
