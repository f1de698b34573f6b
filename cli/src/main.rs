//! `armr`: the command-line tool. `armr check FILE...` validates rules files; `armr explain`
//! shows which rule decides an event, and why.

use armr::language;
use armr::policy::{EventKind, Mode, Policy};
use std::io::Write;
use std::process::ExitCode;

const USAGE: &str = "\
usage: armr check FILE...
       armr explain [--json] [--detect-only] FILE... KIND ADDRESS

Commands:
  check FILE...   Read ARMR rules files and report every error, warning and note, compiler
                  style. Prints one summary line per file on stdout. Exits 0 when every file is
                  valid (warnings never fail), 1 when any file has an error, 2 on a usage error.
  explain FILE... KIND ADDRESS
                  Load the rules and show the decision for one event: the winning rule (name,
                  app, file:line) and every other matching rule with the reason it lost.
                  KIND is bind-server, bind-client, connect or accept; ADDRESS is 10.0.0.1:443
                  or [::1]:443. --json prints one JSON object; --detect-only judges as
                  ARMR_MODE=detect-only does (protect acts as detect).

Options:
  -h, --help      Show this help.
  -V, --version   Show armr's version.

A FILE may be a directory: its *.armr files, in name order, as ARMR_RULES loads it.
The files are loaded together, as ARMR_RULES loads a directory: an app name may appear once
(or with distinct version(N), the highest winning). See docs/rules.md for the language.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check") => check(&args[1..]),
        Some("explain") => explain(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some("-V" | "--version") => {
            println!("armr {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(other) => usage_error(&format!("unknown command `{other}`")),
        None => usage_error("no command given"),
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("armr: {message}\n\n{USAGE}");
    ExitCode::from(2)
}

fn check(files: &[String]) -> ExitCode {
    if files.is_empty() {
        return usage_error("`armr check` needs at least one rules file");
    }
    if let Some(option) = files
        .iter()
        .find(|f| f.starts_with('-') && f.as_str() != "-")
    {
        return usage_error(&format!("unknown option `{option}` for `armr check`"));
    }
    let (files, dir_errors) = expand_directories(files);
    let load = armr::check::check_paths(&files);
    let mut stderr = std::io::stderr().lock();
    let mut stdout = std::io::stdout().lock();
    for file in &load.files {
        let _ = stderr.write_all(file.render().as_bytes());
    }
    for file in &load.files {
        let _ = writeln!(stdout, "{}", file.summary());
    }
    let errors = load.errors() + dir_errors;
    if errors == 0 {
        ExitCode::SUCCESS
    } else {
        let _ = writeln!(
            stderr,
            "armr: {errors} error{} found",
            if errors == 1 { "" } else { "s" }
        );
        ExitCode::FAILURE
    }
}

fn explain(args: &[String]) -> ExitCode {
    let (mut json, mut mode) = (false, Mode::Enforce);
    let mut positional = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--json" => json = true,
            "--detect-only" => mode = Mode::DetectOnly,
            option if option.starts_with("--") => {
                return usage_error(&format!("unknown option `{option}` for `armr explain`"));
            }
            _ => positional.push(arg.as_str()),
        }
    }
    let [files @ .., kind, address] = positional.as_slice() else {
        return usage_error("`armr explain` needs rules files, an event kind and an address");
    };
    if files.is_empty() {
        return usage_error("`armr explain` needs at least one rules file");
    }
    let kind: EventKind = match kind.parse() {
        Ok(kind) => kind,
        Err(message) => return usage_error(&message),
    };
    let Ok(address) = address.parse() else {
        return usage_error(&format!(
            "`{address}` is not an address: write 10.0.0.1:443 or [::1]:443"
        ));
    };
    let (files, dir_errors) = expand_directories(files);
    let load = language::load_paths(&files);
    let mut stderr = std::io::stderr().lock();
    for file in &load.files {
        let _ = stderr.write_all(file.render().as_bytes());
    }
    if !load.is_ok() || dir_errors > 0 {
        let errors = load.errors() + dir_errors;
        let _ = writeln!(
            stderr,
            "armr: {errors} error{} found",
            if errors == 1 { "" } else { "s" }
        );
        return ExitCode::FAILURE;
    }
    let policy = Policy::new(load.rules, mode);
    let explanation = policy.explain(kind, address);
    if json {
        println!("{}", policy.explain_json(&explanation));
    } else {
        print!("{}", policy.explain_text(&explanation));
    }
    ExitCode::SUCCESS
}

/// The files to load: each argument, or a directory's `*.armr` files in name order, as
/// `ARMR_RULES` loads a directory. A directory that holds none is reported here (and counted).
fn expand_directories<S: AsRef<str>>(args: &[S]) -> (Vec<String>, usize) {
    let (mut files, mut errors) = (Vec::new(), 0);
    for arg in args {
        let arg = arg.as_ref();
        match armr::config::rule_files(std::path::Path::new(arg)) {
            Ok(found) => files.extend(found.iter().map(|f| f.display().to_string())),
            Err(message) => {
                errors += 1;
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
