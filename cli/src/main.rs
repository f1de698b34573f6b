//! `armr`: the command-line tool. `armr check FILE...` validates rules files; `armr explain`
//! shows which rule decides an event, and why; `armr run` starts a program under the rules.
//!
//! The arguments are parsed by clap, so that `--help`, `-h`, `armr help COMMAND` and option errors
//! behave as in every other command-line tool (usage errors on stderr, exit status 2).

mod elf;
mod explain;
mod install;
mod learn;
mod run;
mod status;

use armr::language::Load;
use armr::policy::{EventKind, Mode, Policy};
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "armr",
    version,
    about = "ARMR socket rules: check them, explain their decisions, run a program under them",
    subcommand_required = true,
    arg_required_else_help = true,
    after_help = "A FILE may be a directory: its *.armr files, in name order, as ARMR_RULES loads \
                  it. The files are loaded together, as ARMR_RULES loads a directory: an app name \
                  may appear once (or with distinct version(N), the highest winning). See \
                  docs/rules.md for the language, docs/launcher.md for `armr run`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read ARMR rules files and report every error, warning and note, compiler style
    #[command(
        long_about = "Read ARMR rules files and report every error, warning and note, compiler \
                      style. Prints one summary line per file on stdout. A compiled policy \
                      (armr compile) is checked whole: its header, its sections and its digest. Exits 0 when every file \
                      is valid (warnings never fail), 1 when any file has an error, 2 on a usage \
                      error."
    )]
    Check {
        /// Rules files, or directories (their *.armr files, in name order, as ARMR_RULES loads
        /// one)
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
    /// Load the rules and show the decision for one event, and why
    #[command(
        long_about = "Load the rules and show the decision for one event: the winning rule (name, \
                      app, file:line) and every other matching rule with the reason it lost.",
        override_usage = "armr explain [--json] [--detect-only] <FILE>... <KIND> <ADDRESS>",
        help_template = "{about-with-newline}\n{usage-heading} {usage}\n\n\
                         Arguments:\n  \
                         <FILE>...  Rules files, or directories (their *.armr files, in name order)\n  \
                         <KIND>     The event: bind-server, bind-client, connect or accept\n  \
                         <ADDRESS>  Its address: 10.0.0.1:443 or [::1]:443\n\n\
                         {options}{after-help}"
    )]
    Explain {
        /// Print one JSON object
        #[arg(long)]
        json: bool,
        /// Judge as ARMR_MODE=detect-only does (protect acts as detect)
        #[arg(long)]
        detect_only: bool,
        /// FILE... KIND ADDRESS
        #[arg(value_name = "ARG", required = true, hide = true)]
        args: Vec<String>,
    },
    /// Check rules and write them as a compiled policy file, which ARMR_RULES accepts
    #[command(
        long_about = "Check rules and write them as a compiled policy file, which ARMR_RULES \
                      accepts: the library maps it read-only at start, without parsing, so start-up \
                      does not grow with the number of rules and every process shares its pages. \
                      Errors in the rules are reported as `armr check` reports them, and stop it \
                      (exit status 1). The file is written beside its final name and renamed into \
                      place, so that a process never maps a half-written one (docs/compiled.md)."
    )]
    Compile {
        /// Rules files, or directories (their *.armr files, in name order)
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        /// The compiled policy file to write
        #[arg(short, long, value_name = "OUTPUT")]
        output: PathBuf,
    },
    /// Run a program under the rules (LD_PRELOAD=libarmr.so, or the seccomp supervisor)
    Run(run::RunArgs),
    /// Check, compile and install the system-wide policy (the one used without ARMR_RULES)
    Install(install::InstallArgs),
    /// Remove the system-wide policy
    Uninstall(install::UninstallArgs),
    /// Write a rules file that allows the socket calls armr's events show and protects the rest
    #[command(
        long_about = "Read armr's events (typically of a run under rules/monitor-everything.armr \
                      or --detect-only) and write a minimal rules file: an allow rule for each \
                      kind, address and port seen (ranges and CIDR blocks only as far as \
                      --widen-ports and --widen-prefix allow), and a protect rule for every other \
                      call of each kind. An accept rule names the client's address with any port: \
                      a client's port is chosen by its kernel. See docs/cli.md."
    )]
    Learn(learn::LearnArgs),
    /// List the processes of this machine running under armr, with the policy each holds
    #[command(
        long_about = "List the processes of this machine running under armr (either engine), with \
                      the policy each holds (its source, digest and load time) and the mode. An \
                      unprivileged user sees their own processes. See docs/cli.md."
    )]
    Status(status::StatusArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell)
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print armr's man page, or write one per subcommand into a directory
    Man {
        /// Write armr.1 and armr-SUBCOMMAND.1 into this directory
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check { files } => check(&files),
        Command::Explain {
            json,
            detect_only,
            args,
        } => explain(json, detect_only, &args),
        Command::Compile { files, output } => compile(&files, &output),
        Command::Run(args) => run::run(args),
        Command::Install(args) => install::install(args),
        Command::Uninstall(args) => install::uninstall(args),
        Command::Learn(args) => learn::learn(args),
        Command::Status(args) => status::status(args),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "armr", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man { dir } => man(dir.as_deref()),
    }
}

/// `armr man`: the page of armr on stdout, or every page (armr.1, armr-SUBCOMMAND.1) into `dir`.
fn man(dir: Option<&Path>) -> ExitCode {
    let command = Cli::command();
    let written = match dir {
        None => clap_mangen::Man::new(command).render(&mut std::io::stdout()),
        Some(dir) => {
            std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(command, dir))
        }
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("armr: error: man page: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A usage error of subcommand `name`, as clap prints its own (exit status 2).
fn usage_error(name: &str, kind: ErrorKind, message: &str) -> ! {
    let mut command = Cli::command();
    command.build();
    let sub = command
        .find_subcommand_mut(name)
        .expect("a subcommand of armr");
    sub.error(kind, message).exit()
}

/// `armr: N errors found`.
pub(crate) fn errors_found(errors: usize) -> String {
    format!(
        "armr: {errors} error{} found",
        if errors == 1 { "" } else { "s" }
    )
}

fn check(args: &[PathBuf]) -> ExitCode {
    // Compiled policies are checked whole (header, sections, digest), apart from rules files.
    let (compiled, sources): (Vec<&PathBuf>, Vec<&PathBuf>) = args
        .iter()
        .partition(|a| armr::policy::compiled::is_compiled(a));
    let mut errors = 0;
    for path in compiled {
        match load_compiled(path, Mode::Enforce) {
            Ok((policy, _)) => println!(
                "{}: compiled policy, {} socket rules, digest verified",
                path.display(),
                policy.len()
            ),
            Err(e) => {
                eprintln!("armr: error: {e}");
                errors += 1;
            }
        }
    }
    if !sources.is_empty() {
        let (load, source_errors) = load_reporting(&sources);
        let mut stdout = std::io::stdout().lock();
        for file in &load.files {
            let _ = writeln!(stdout, "{}", file.summary());
        }
        errors += source_errors;
    }
    if errors == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{}", errors_found(errors));
        ExitCode::FAILURE
    }
}

fn compile(args: &[PathBuf], output: &Path) -> ExitCode {
    let (load, errors) = load_reporting(args);
    if errors > 0 {
        eprintln!("{}", errors_found(errors));
        return ExitCode::FAILURE;
    }
    // Without errors, every directory holds rules files: this reports nothing again.
    let (files, _) = expand_directories(args);
    match compile_to(load, &files, output) {
        Ok(rules) => {
            println!(
                "{}: {rules} rule{} compiled from {} file{}",
                output.display(),
                if rules == 1 { "" } else { "s" },
                files.len(),
                if files.len() == 1 { "" } else { "s" }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("armr: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Compiles checked rules loaded from `files` into `output`; the number of rules.
pub fn compile_to(load: Load, files: &[PathBuf], output: &Path) -> Result<usize, String> {
    let policy = Policy::new(load.rules, Mode::Enforce);
    let provenance = armr::policy::compiled::Provenance::of_files(files);
    let bytes = policy
        .compile(&provenance)
        .ok_or("a policy built from rules compiles")?;
    armr::policy::compiled::write_file(output, &bytes)
        .map_err(|e| format!("{}: cannot write: {e}", output.display()))?;
    Ok(policy.len())
}

/// The policy in a compiled file, its digest verified, and notes on where it comes from.
fn load_compiled(path: &Path, mode: Mode) -> Result<(Policy, Vec<String>), String> {
    use armr::policy::compiled;
    let bytes = compiled::read_file(path)?;
    compiled::verify(bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let policy = Policy::from_compiled(
        bytes,
        mode,
        Box::new(armr::policy::SystemResolver::default()),
    )
    .map_err(|e| format!("{}: compiled policy: {e}", path.display()))?;
    let mut notes = Vec::new();
    if let Some(p) = policy.provenance() {
        notes.push(format!(
            "compiled policy {} (digest verified): by armr {}, at {} (Unix time), from {} file{}",
            path.display(),
            p.version,
            p.built,
            p.sources.len(),
            if p.sources.len() == 1 { "" } else { "s" }
        ));
        for (source, digest) in &p.sources {
            let now = std::fs::read(source)
                .map(|b| armr::digest::hex(&armr::digest::sha256(&b)))
                .ok();
            let state = match now {
                Some(now) if now == *digest => "unchanged since it was compiled",
                Some(_) => "CHANGED since it was compiled: compile it again",
                None => "no longer readable",
            };
            notes.push(format!("source {source} (sha256 {digest}): {state}"));
        }
    }
    Ok((policy, notes))
}

fn explain(json: bool, detect_only: bool, args: &[String]) -> ExitCode {
    let mode = if detect_only {
        Mode::DetectOnly
    } else {
        Mode::Enforce
    };
    let [files @ .., kind, address] = args else {
        unreachable!("clap requires an argument")
    };
    if files.is_empty() {
        usage_error(
            "explain",
            ErrorKind::MissingRequiredArgument,
            "`armr explain` needs rules files, an event kind and an address",
        );
    }
    let kind: EventKind = match kind.parse() {
        Ok(kind) => kind,
        Err(message) => usage_error("explain", ErrorKind::InvalidValue, &message),
    };
    let Ok(address) = address.parse() else {
        usage_error(
            "explain",
            ErrorKind::InvalidValue,
            &format!("`{address}` is not an address: write 10.0.0.1:443 or [::1]:443"),
        )
    };
    // A compiled file mixed with rules files would be read as rules text ("not UTF-8"): say
    // what is wrong instead.
    if files.len() > 1
        && let Some(compiled) = files
            .iter()
            .find(|f| armr::policy::compiled::is_compiled(Path::new(f)))
    {
        eprintln!(
            "armr: error: {}: a compiled policy must be given alone, without rules files: it holds every rule it was compiled from",
            Path::new(compiled).display()
        );
        return ExitCode::FAILURE;
    }
    let (policy, provenance) = match files {
        [one] if armr::policy::compiled::is_compiled(Path::new(one)) => {
            match load_compiled(Path::new(one), mode) {
                Ok(loaded) => loaded,
                Err(e) => {
                    eprintln!("armr: error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => {
            let (load, errors) = load_reporting(files);
            if errors > 0 {
                eprintln!("{}", errors_found(errors));
                return ExitCode::FAILURE;
            }
            (Policy::new(load.rules, mode), Vec::new())
        }
    };
    let mut explanation = policy.explain(kind, address);
    explanation.notes.splice(0..0, provenance);
    if json {
        println!("{}", explain::json(&policy, &explanation));
    } else {
        print!("{}", explain::text(&policy, &explanation));
    }
    ExitCode::SUCCESS
}

/// Loads the rules `args` name (files, or directories as `ARMR_RULES` loads one) and prints
/// their diagnostics, with `armr check`'s warnings about the rules together, on stderr, naming the files as the arguments do. Returns the load and its
/// count of errors, a directory without rules counted as one.
pub(crate) fn load_reporting<P: AsRef<Path>>(args: &[P]) -> (Load, usize) {
    let (files, dir_errors) = expand_directories(args);
    let load = armr::check::check_paths(&files);
    let mut stderr = std::io::stderr().lock();
    for file in &load.files {
        let _ = stderr.write_all(file.render().as_bytes());
    }
    let errors = load.errors() + dir_errors;
    (load, errors)
}

/// The files to load: each argument, or a directory's `*.armr` files in name order, as
/// `ARMR_RULES` loads a directory. A directory that holds none is reported here (and counted).
pub(crate) fn expand_directories<P: AsRef<Path>>(args: &[P]) -> (Vec<PathBuf>, usize) {
    let (mut files, mut errors) = (Vec::new(), 0);
    for arg in args {
        let arg = arg.as_ref();
        match armr::config::rule_files(arg) {
            Ok(found) => files.extend(found),
            Err(message) => {
                errors += 1;
                let arg = arg.display();
                let what = message
                    .strip_prefix(&format!("{arg}: "))
                    .unwrap_or(&message);
                eprintln!(
                    "{arg}: error: {what}\n  = hint: name a rules file, or a directory holding \
                     *.armr files"
                );
            }
        }
    }
    (files, errors)
}
