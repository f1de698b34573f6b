//! `armr`: the command-line tool. `armr check FILE...` validates rules files.

use armr::language;
use std::io::Write;
use std::process::ExitCode;

const USAGE: &str = "\
usage: armr check FILE...

Commands:
  check FILE...   Read ARMR rules files and report every error, warning and note, compiler
                  style. Prints one summary line per file on stdout. Exits 0 when every file is
                  valid (warnings never fail), 1 when any file has an error, 2 on a usage error.

Options:
  -h, --help      Show this help.
  -V, --version   Show armr's version.

The files are loaded together, as ARMR_RULES loads a directory: an app name may appear once
(or with distinct version(N), the highest winning). See docs/rules.md for the language.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check") => check(&args[1..]),
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
    let load = language::load_paths(files);
    let mut stderr = std::io::stderr().lock();
    let mut stdout = std::io::stdout().lock();
    for file in &load.files {
        let _ = stderr.write_all(file.render().as_bytes());
    }
    for file in &load.files {
        let _ = writeln!(stdout, "{}", file.summary());
    }
    let errors = load.errors();
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
