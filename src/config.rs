//! The library's settings, read from the environment when a process starts.
//!
//! | variable | values | default |
//! | --- | --- | --- |
//! | `ARMR_RULES` | a rules file, or a directory (its `*.armr` files in name order); regular files of at most 64 MiB (`language::source::MAX_RULES_FILE`) | unset: the installed policy ([`INSTALLED_POLICY`], system-wide mode) if there is one, else armr does nothing |
//! | `ARMR_LOG` | `stderr`, `file:PATH`, `syslog`, `syslog:SOCKET`, `udp://HOST:PORT`, `tcp://HOST:PORT` ([`LOG_FORMS`]) | `stderr` |
//! | `ARMR_MODE` | `enforce`, `detect-only` | `enforce` |
//! | `ARMR_ON_ERROR` | `closed`, `open` | `closed` |
//!
//! The same settings may instead come from a sidecar file, `armr.env` beside the loaded library
//! ([`Sidecar`]): then the environment is not read at all, so a program that rewrites the
//! environment of what it starts cannot weaken or drop its children's rules.

use crate::language::{self, Load};
use crate::policy::Mode;
use std::path::{Path, PathBuf};

/// Where events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    Stderr,
    /// Appended, one event per line, one `write` per event (safe with several writers).
    File(PathBuf),
    /// A local syslog datagram socket: `/dev/log` for `syslog`, or the path of `syslog:PATH`.
    Syslog(PathBuf),
    /// Syslog over UDP, one event per datagram.
    Udp(String, u16),
    /// Syslog over TCP with RFC 6587 octet-counted framing.
    Tcp(String, u16),
    /// Several destinations (`ARMR_LOG=A,B`), or one in a format other than armr's
    /// (`json+file:PATH`): each with its format; none of them is itself `Many`.
    Many(Vec<(LogFormat, LogTarget)>),
}

/// How a destination writes an event (`FORMAT+` before it in `ARMR_LOG`; docs/logging.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// The vendor's line: RFC 5424 header and CEF record, unchanged (the default).
    Armr,
    /// The same CEF record with `rt` in epoch milliseconds and the ArcSight dictionary's keys.
    Cef,
    /// One JSON object per line, Elastic Common Schema names.
    Json,
}

/// The formats, by their `ARMR_LOG` keyword, in [`LogFormat`]'s order.
pub const LOG_FORMATS: [(&str, LogFormat); 3] = [
    ("armr", LogFormat::Armr),
    ("cef", LogFormat::Cef),
    ("json", LogFormat::Json),
];

impl LogFormat {
    pub fn name(self) -> &'static str {
        LOG_FORMATS[self as usize].0
    }
}

impl LogTarget {
    /// Each destination with its format: one for a single value.
    pub fn destinations(&self) -> Vec<(LogFormat, &LogTarget)> {
        match self {
            LogTarget::Many(list) => list.iter().map(|(f, t)| (*f, t)).collect(),
            one => vec![(LogFormat::Armr, one)],
        }
    }

    /// The paths of its files and sockets (which a sidecar wants absolute).
    pub fn paths(&self) -> Vec<&Path> {
        self.destinations()
            .into_iter()
            .filter_map(|(_, t)| match t {
                LogTarget::File(p) | LogTarget::Syslog(p) => Some(p.as_path()),
                _ => None,
            })
            .collect()
    }
}

/// At most this many destinations in one `ARMR_LOG`.
pub const MAX_LOG_DESTINATIONS: usize = 4;

/// Every form of an `ARMR_LOG` value, as its documentation and errors write it: the parser, the
/// `armr run` launcher and the tests take the list from here. An upper-case word stands for a
/// value the user fills in; the text before it is the form's keyword.
pub const LOG_FORMS: [&str; 6] = [
    "stderr",
    "file:PATH",
    "syslog",
    "syslog:SOCKET",
    "udp://HOST:PORT",
    "tcp://HOST:PORT",
];

/// The form of [`LOG_FORMS`] whose keyword `value` uses (`udp://h` is `udp://HOST:PORT`, even
/// though it lacks a port), or `None` for a value that uses none (such as a bare path).
pub fn log_form_of(value: &str) -> Option<&'static str> {
    // A list: its first destination; a format: the destination after it.
    let value = value.split(',').next().unwrap_or(value);
    let value = LOG_FORMATS
        .iter()
        .find_map(|(name, _)| value.strip_prefix(name)?.strip_prefix('+'))
        .unwrap_or(value);
    LOG_FORMS
        .into_iter()
        .find(|form| match form.find(|c: char| c.is_ascii_uppercase()) {
            Some(at) => value.starts_with(&form[..at]),
            None => value == *form,
        })
}

impl LogTarget {
    /// Parses an `ARMR_LOG` value: one destination, or several separated by commas, each with an
    /// optional `FORMAT+` before it.
    pub fn parse(value: &str) -> Result<LogTarget, String> {
        let mut list = Vec::new();
        for part in value.split(',') {
            let (format, destination) = LOG_FORMATS
                .iter()
                .find_map(|(name, format)| {
                    Some((*format, part.strip_prefix(name)?.strip_prefix('+')?))
                })
                .unwrap_or((LogFormat::Armr, part));
            if value.contains(',') && destination.is_empty() {
                return Err(format!(
                    "ARMR_LOG={}: an empty destination in the list",
                    value.escape_debug()
                ));
            }
            let target = LogTarget::parse_one(destination).map_err(|e| {
                if part == value {
                    e
                } else {
                    format!("ARMR_LOG={}: {e}", value.escape_debug())
                }
            })?;
            list.push((format, target));
        }
        if list.len() > MAX_LOG_DESTINATIONS {
            return Err(format!(
                "ARMR_LOG={}: {} destinations, at most {MAX_LOG_DESTINATIONS}",
                value.escape_debug(),
                list.len()
            ));
        }
        match list.as_slice() {
            [(LogFormat::Armr, _)] => Ok(list.remove(0).1),
            _ => Ok(LogTarget::Many(list)),
        }
    }

    /// Parses one destination, without format.
    fn parse_one(value: &str) -> Result<LogTarget, String> {
        let bad = |why: &str| {
            let (last, others) = LOG_FORMS.split_last().unwrap_or((&"", &[]));
            let others: Vec<String> = others.iter().map(|f| format!("`{f}`")).collect();
            Err(format!(
                "ARMR_LOG={}: {why}; expected {} or `{last}`, each optionally after a format \
                 (`armr+`, `cef+`, `json+`), several separated by commas",
                value.escape_debug(),
                others.join(", ")
            ))
        };
        let host_port = |rest: &str| -> Option<(String, u16)> {
            let (host, port) = rest.rsplit_once(':')?;
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
            (!host.is_empty() && !host.contains(['/', ' '])).then(|| (host.to_string(), port))
        };
        match value {
            "" | "stderr" => Ok(LogTarget::Stderr),
            "syslog" => Ok(LogTarget::Syslog(PathBuf::from("/dev/log"))),
            _ => {
                if let Some(path) = value.strip_prefix("file:") {
                    if path.is_empty() {
                        return bad("no file after `file:`");
                    }
                    Ok(LogTarget::File(PathBuf::from(path)))
                } else if let Some(path) = value.strip_prefix("syslog:") {
                    if path.is_empty() {
                        return bad("no socket after `syslog:`");
                    }
                    Ok(LogTarget::Syslog(PathBuf::from(path)))
                } else if let Some(rest) = value.strip_prefix("udp://") {
                    match host_port(rest) {
                        Some((h, p)) => Ok(LogTarget::Udp(h, p)),
                        None => bad(
                            "a UDP destination is `udp://HOST:PORT` with a port from 1 to 65535",
                        ),
                    }
                } else if let Some(rest) = value.strip_prefix("tcp://") {
                    match host_port(rest) {
                        Some((h, p)) => Ok(LogTarget::Tcp(h, p)),
                        None => bad(
                            "a TCP destination is `tcp://HOST:PORT` with a port from 1 to 65535",
                        ),
                    }
                } else {
                    bad("unknown destination")
                }
            }
        }
    }
}

impl LogTarget {
    /// The `ARMR_LOG` value naming this destination, which [`LogTarget::parse`] reads back as
    /// the same; `None` for a path that is not UTF-8 (a setting is text).
    pub fn value(&self) -> Option<String> {
        let host = |h: &str| {
            if h.contains(':') {
                format!("[{h}]")
            } else {
                h.to_string()
            }
        };
        Some(match self {
            LogTarget::Stderr => "stderr".to_string(),
            LogTarget::File(path) => format!("file:{}", path.to_str()?),
            LogTarget::Syslog(path) if path == Path::new("/dev/log") => "syslog".to_string(),
            LogTarget::Syslog(path) => format!("syslog:{}", path.to_str()?),
            LogTarget::Udp(h, port) => format!("udp://{}:{port}", host(h)),
            LogTarget::Tcp(h, port) => format!("tcp://{}:{port}", host(h)),
            LogTarget::Many(list) => {
                let mut parts = Vec::new();
                for (format, target) in list {
                    let one = target.value()?;
                    parts.push(match format {
                        LogFormat::Armr => one,
                        _ => format!("{}+{one}", format.name()),
                    });
                }
                parts.join(",")
            }
        })
    }
}

/// What to do when the rules cannot be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Print the diagnostics and exit with status 1 before `main` runs.
    Closed,
    /// Print the diagnostics and run the program unprotected.
    Open,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub rules: PathBuf,
    pub log: LogTarget,
    pub mode: Mode,
    pub on_error: OnError,
}

/// Reads the settings through `var` (the environment, or a map in tests).
/// `Ok(None)`: `ARMR_RULES` is unset or empty, so armr stays out of the way. `Err`: the messages
/// for every setting that is wrong; `on_error` still says what to do about them.
pub fn from_env(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<Config>, (OnError, Vec<String>)> {
    let mut errors = Vec::new();
    let on_error = match var("ARMR_ON_ERROR").as_deref() {
        None | Some("") | Some("closed") => OnError::Closed,
        Some("open") => OnError::Open,
        Some(other) => {
            errors.push(format!(
                "ARMR_ON_ERROR={}: expected `closed` (the default: exit when the rules cannot be loaded) or `open` (run unprotected)",
                other.escape_debug()
            ));
            OnError::Closed
        }
    };
    let Some(rules) = var("ARMR_RULES").filter(|r| !r.is_empty()) else {
        return if errors.is_empty() {
            Ok(None)
        } else {
            Err((on_error, errors))
        };
    };
    let mode = match var("ARMR_MODE").as_deref() {
        None | Some("") | Some("enforce") => Mode::Enforce,
        Some("detect-only") => Mode::DetectOnly,
        Some(other) => {
            errors.push(format!(
                "ARMR_MODE={}: expected `enforce` or `detect-only`",
                other.escape_debug()
            ));
            Mode::Enforce
        }
    };
    let log = match LogTarget::parse(var("ARMR_LOG").as_deref().unwrap_or("")) {
        Ok(log) => log,
        Err(e) => {
            errors.push(e);
            LogTarget::Stderr
        }
    };
    if errors.is_empty() {
        Ok(Some(Config {
            rules: PathBuf::from(rules),
            log,
            mode,
            on_error,
        }))
    } else {
        Err((on_error, errors))
    }
}

/// The name of the sidecar file, looked for in the directory of the loaded library.
pub const SIDECAR: &str = "armr.env";

/// The settings a sidecar may hold: the same as the environment's, and `ARMR_SOURCE`, which
/// `armr run` writes: the rules files its compiled `ARMR_RULES` was compiled from, watched for
/// changes (docs/reload.md).
pub const SETTINGS: [&str; 8] = [
    "ARMR_RULES",
    "ARMR_LOG",
    "ARMR_MODE",
    "ARMR_ON_ERROR",
    RELOAD,
    LOG_LIFECYCLE,
    SOURCE,
    LOG_LIMIT,
];

/// `ARMR_LOG_LIMIT=N`: at most N events per rule per second (off by default; docs/logging.md).
pub const LOG_LIMIT: &str = "ARMR_LOG_LIMIT";

/// `ARMR_RELOAD=off`: the rules are read once, at start; changes are not picked up.
pub const RELOAD: &str = "ARMR_RELOAD";
/// `ARMR_LOG_LIFECYCLE=on`: the lifecycle events that are not failures (`Load Rule` per rule at
/// start, `Reload Rules` outcome=success) are logged too; failures always are.
pub const LOG_LIFECYCLE: &str = "ARMR_LOG_LIFECYCLE";
/// In `armr run`'s sidecar: the rules files or directory the compiled `ARMR_RULES` comes from.
pub const SOURCE: &str = "ARMR_SOURCE";

/// Whether changes to the rules are picked up while the process runs (`ARMR_RELOAD`'s value):
/// on unless `off`.
pub fn reload_on(value: Option<&str>) -> bool {
    value != Some("off")
}

/// Whether the lifecycle events that are not failures are logged (`ARMR_LOG_LIFECYCLE`'s
/// value): only with `on`.
pub fn lifecycle_on(value: Option<&str>) -> bool {
    value == Some("on")
}

/// An `armr.env` file: `KEY=VALUE` lines (the value is the rest of the line, verbatim), blank
/// lines and `#` comments. Every mistake is kept, naming the file and line, so that it is reported
/// like an error in the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sidecar {
    file: String,
    /// (key, value, line).
    values: Vec<(&'static str, String, usize)>,
    errors: Vec<String>,
}

impl Sidecar {
    /// Reads a sidecar's bytes; `file` is its path, for messages.
    pub fn parse(file: &str, bytes: &[u8]) -> Sidecar {
        let mut sidecar = Sidecar {
            file: file.to_string(),
            values: Vec::new(),
            errors: Vec::new(),
        };
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                // The lines before the bad one are still read, for a useful ARMR_ON_ERROR; the
                // rest is not text and not guessed at.
                let good = &bytes[..e.valid_up_to()];
                let line = good.iter().filter(|b| **b == b'\n').count() + 1;
                sidecar
                    .errors
                    .push(format!("{file}:{line}: not UTF-8 text"));
                let whole_lines = good.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                std::str::from_utf8(&good[..whole_lines]).unwrap_or("")
            }
        };
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                sidecar.errors.push(format!(
                    "{file}:{n}: expected `KEY=VALUE`, a `#` comment or a blank line"
                ));
                continue;
            };
            let Some(key) = SETTINGS.into_iter().find(|k| *k == key) else {
                sidecar.errors.push(format!(
                    "{file}:{n}: unknown setting `{}`; expected one of {}",
                    key.escape_debug(),
                    SETTINGS.join(", ")
                ));
                continue;
            };
            if let Some((_, _, first)) = sidecar.values.iter().find(|(k, _, _)| *k == key) {
                sidecar.errors.push(format!(
                    "{file}:{n}: {key} is set twice (first on line {first})"
                ));
                continue;
            }
            sidecar.values.push((key, value.to_string(), n));
        }
        sidecar
    }

    /// The value of a setting.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, v, _)| v.as_str())
    }

    /// `FILE:LINE` of a setting (or just `FILE`), for messages about its value.
    pub fn origin(&self, key: &str) -> String {
        match self.values.iter().find(|(k, _, _)| *k == key) {
            Some((_, _, line)) => format!("{}:{line}", self.file),
            None => self.file.clone(),
        }
    }

    /// The settings, checked as [`from_env`] checks the environment's, plus what a file read by
    /// every process needs: `ARMR_RULES` present and paths absolute (processes start anywhere).
    /// Every error names the file and line; `on_error` is the file's, when that line is valid.
    pub fn config(&self) -> Result<Config, (OnError, Vec<String>)> {
        let mut errors = self.errors.clone();
        let checked = from_env(|k| self.get(k).map(str::to_string));
        let on_error = match &checked {
            Ok(Some(config)) => config.on_error,
            Ok(None) => match self.get("ARMR_ON_ERROR") {
                Some("open") => OnError::Open,
                _ => OnError::Closed,
            },
            Err((on_error, _)) => *on_error,
        };
        if let Err((_, value_errors)) = &checked {
            for e in value_errors {
                let key = SETTINGS
                    .into_iter()
                    .find(|k| e.starts_with(&format!("{k}=")))
                    .unwrap_or("");
                errors.push(format!("{}: {e}", self.origin(key)));
            }
        }
        match &checked {
            Ok(None) => errors.push(format!(
                "{}: no `ARMR_RULES=PATH` line: a sidecar must name the rules",
                self.file
            )),
            Ok(Some(config)) => {
                if !config.rules.is_absolute() {
                    errors.push(format!(
                        "{}: ARMR_RULES={}: the path must be absolute in a sidecar (every \
                         process reads it, from any directory)",
                        self.origin("ARMR_RULES"),
                        config.rules.display()
                    ));
                }
                if config.log.paths().iter().any(|path| !path.is_absolute()) {
                    errors.push(format!(
                        "{}: ARMR_LOG={}: the path must be absolute in a sidecar (every \
                         process reads it, from any directory)",
                        self.origin("ARMR_LOG"),
                        self.get("ARMR_LOG").unwrap_or("")
                    ));
                }
            }
            Err(_) => {}
        }
        match checked {
            Ok(Some(config)) if errors.is_empty() => Ok(config),
            _ => Err((on_error, errors)),
        }
    }
}

impl Sidecar {
    /// The text of an `armr.env` that holds `config`, every setting written out (the defaults
    /// too), after `comment` (lines of their own, each starting with `#`). [`Sidecar::config`]
    /// reads it back as `config`, and this is checked: `Err` says why a value cannot be written
    /// (a line break or a path that is not UTF-8, which a line cannot hold, or a relative path).
    pub fn write(comment: &str, config: &Config) -> Result<String, String> {
        let rules = config.rules.to_str().ok_or_else(|| {
            format!(
                "the rules path {} is not UTF-8 text, which {SIDECAR} cannot hold",
                config.rules.display()
            )
        })?;
        let log = config.log.value().ok_or_else(|| {
            format!(
                "the log destination {:?} is not UTF-8 text, which {SIDECAR} cannot hold",
                config.log
            )
        })?;
        for value in [rules, &log] {
            if value.contains(['\n', '\r']) {
                return Err(format!(
                    "`{}` contains a line break, which {SIDECAR} cannot hold",
                    value.escape_debug()
                ));
            }
        }
        let mode = match config.mode {
            Mode::Enforce => "enforce",
            Mode::DetectOnly => "detect-only",
        };
        let on_error = match config.on_error {
            OnError::Closed => "closed",
            OnError::Open => "open",
        };
        let text = format!(
            "{comment}ARMR_RULES={rules}\nARMR_LOG={log}\nARMR_MODE={mode}\nARMR_ON_ERROR={on_error}\n"
        );
        match Sidecar::parse(SIDECAR, text.as_bytes()).config() {
            Ok(read) if read == *config => Ok(text),
            Ok(read) => Err(format!(
                "{SIDECAR} would read back as {read:?}, not {config:?}"
            )),
            Err((_, errors)) => Err(errors.join("; ")),
        }
    }
}

/// System-wide mode (docs/system-wide.md): with no `ARMR_RULES`, the library enforces the compiled
/// policy `armr install` writes here. The one place of this path: the library and `armr install`
/// both take it from here; a packager may build with another (`ARMR_INSTALLED_POLICY`).
pub const INSTALLED_POLICY: &str = match option_env!("ARMR_INSTALLED_POLICY") {
    Some(path) => path,
    None => "/etc/armr/policy.armrc",
};

/// The copy of the installed policy that `armr install` writes beside it: the last good policy,
/// which the library uses when the installed file is missing or does not load (edited by hand).
pub fn last_good(policy: &Path) -> PathBuf {
    let name = policy.file_name().unwrap_or_default().to_string_lossy();
    policy.with_file_name(format!("{name}.last-good"))
}

/// The settings file of system-wide mode, beside the installed policy: `ARMR_LOG` and `ARMR_MODE`
/// lines in the format of a sidecar. The environment is not read in that mode: a user's
/// `ARMR_MODE=detect-only` does not weaken the system's policy.
pub fn installed_settings(policy: &Path) -> PathBuf {
    policy.with_file_name(SIDECAR)
}

/// The settings of system-wide mode, from its settings file (`None`: there is none). Never an
/// error that stops: every problem is a message, and the setting it concerns keeps its default
/// (`stderr`, `enforce`).
pub fn installed_config(policy: &Path, settings: Option<&Sidecar>) -> (Config, Vec<String>) {
    let mut messages = settings.map(|s| s.errors.clone()).unwrap_or_default();
    let rules = policy.to_string_lossy().into_owned();
    let mut config = Config {
        rules: policy.to_path_buf(),
        log: LogTarget::Stderr,
        mode: Mode::Enforce,
        on_error: OnError::Open,
    };
    let Some(settings) = settings else {
        return (config, messages);
    };
    for key in ["ARMR_RULES", "ARMR_ON_ERROR"] {
        if settings.get(key).is_some() {
            messages.push(format!(
                "{}: {key} is ignored here: system-wide mode enforces {} and never stops a process",
                settings.origin(key),
                policy.display()
            ));
        }
    }
    // Each setting checked alone, so that a wrong one leaves the other in force.
    let one = |key: &str| {
        from_env(|k| match k {
            "ARMR_RULES" => Some(rules.clone()),
            k if k == key => settings.get(k).map(str::to_string),
            _ => None,
        })
    };
    match one("ARMR_LOG") {
        Ok(Some(checked)) => match checked.log.paths().iter().find(|p| !p.is_absolute()) {
            Some(path) => messages.push(format!(
                "{}: ARMR_LOG={}: the path must be absolute",
                settings.origin("ARMR_LOG"),
                path.display()
            )),
            None => config.log = checked.log,
        },
        Ok(None) => {}
        Err((_, errors)) => messages.extend(
            errors
                .into_iter()
                .map(|e| format!("{}: {e}", settings.origin("ARMR_LOG"))),
        ),
    }
    match one("ARMR_MODE") {
        Ok(Some(checked)) => config.mode = checked.mode,
        Ok(None) => {}
        Err((_, errors)) => messages.extend(
            errors
                .into_iter()
                .map(|e| format!("{}: {e}", settings.origin("ARMR_MODE"))),
        ),
    }
    (config, messages)
}

/// The files `ARMR_RULES` names: the file itself, or a directory's `*.armr` files in name order.
/// An entry that is not a regular file (a FIFO named `x.armr`) is kept, so that reading it gives
/// its error (`SourceFile::read`); only subdirectories are left out.
pub fn rule_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let entries = std::fs::read_dir(path)
        .map_err(|e| format!("{}: cannot read the directory: {e}", path.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "armr") && !p.is_dir())
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "{}: the directory holds no *.armr file",
            path.display()
        ));
    }
    Ok(files)
}

/// Loads the rules `ARMR_RULES` names.
pub fn load_rules(path: &Path) -> Result<Load, String> {
    rule_files(path).map(|files| language::load_paths(&files))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn system_wide_settings_never_fail_a_wrong_one_keeps_its_default() {
        let policy = Path::new(INSTALLED_POLICY);
        assert_eq!(
            last_good(policy),
            Path::new("/etc/armr/policy.armrc.last-good")
        );
        assert_eq!(installed_settings(policy), Path::new("/etc/armr/armr.env"));
        let (config, messages) = installed_config(policy, None);
        assert_eq!(
            (config.rules.as_path(), config.log, config.mode),
            (policy, LogTarget::Stderr, Mode::Enforce)
        );
        assert!(messages.is_empty());
        let good = Sidecar::parse(
            "/etc/armr/armr.env",
            b"ARMR_LOG=syslog\nARMR_MODE=detect-only\n",
        );
        let (config, messages) = installed_config(policy, Some(&good));
        assert_eq!(
            (config.log, config.mode, messages),
            (
                LogTarget::Syslog("/dev/log".into()),
                Mode::DetectOnly,
                vec![]
            )
        );
        let bad = Sidecar::parse(
            "/etc/armr/armr.env",
            b"ARMR_LOG=file:relative.log\nARMR_MODE=enforce\nARMR_RULES=/x\nBOGUS=1\n",
        );
        let (config, messages) = installed_config(policy, Some(&bad));
        assert_eq!(
            (config.log, config.mode),
            (LogTarget::Stderr, Mode::Enforce)
        );
        assert_eq!(
            messages,
            [
                "/etc/armr/armr.env:4: unknown setting `BOGUS`; expected one of ARMR_RULES, \
                 ARMR_LOG, ARMR_MODE, ARMR_ON_ERROR, ARMR_RELOAD, ARMR_LOG_LIFECYCLE, ARMR_SOURCE, \
                 ARMR_LOG_LIMIT",
                "/etc/armr/armr.env:3: ARMR_RULES is ignored here: system-wide mode enforces \
                 /etc/armr/policy.armrc and never stops a process",
                "/etc/armr/armr.env:1: ARMR_LOG=relative.log: the path must be absolute",
            ]
        );
        let wrong = Sidecar::parse("/etc/armr/armr.env", b"ARMR_MODE=strict\nARMR_LOG=syslog\n");
        let (config, messages) = installed_config(policy, Some(&wrong));
        assert_eq!(
            (config.log, config.mode),
            (LogTarget::Syslog("/dev/log".into()), Mode::Enforce)
        );
        assert_eq!(
            messages,
            ["/etc/armr/armr.env:1: ARMR_MODE=strict: expected `enforce` or `detect-only`"]
        );
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn unset_rules_mean_armr_stays_out_of_the_way() {
        assert_eq!(from_env(env(&[])), Ok(None));
        assert_eq!(
            from_env(env(&[("ARMR_RULES", ""), ("ARMR_MODE", "bogus")])),
            Ok(None)
        );
    }

    #[test]
    fn defaults_and_every_value() {
        let c = from_env(env(&[("ARMR_RULES", "r.armr")])).unwrap().unwrap();
        assert_eq!(
            (c.log, c.mode, c.on_error),
            (LogTarget::Stderr, Mode::Enforce, OnError::Closed)
        );
        let c = from_env(env(&[
            ("ARMR_RULES", "r.armr"),
            ("ARMR_LOG", "file:/var/log/armr.log"),
            ("ARMR_MODE", "detect-only"),
            ("ARMR_ON_ERROR", "open"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.log, LogTarget::File("/var/log/armr.log".into()));
        assert_eq!((c.mode, c.on_error), (Mode::DetectOnly, OnError::Open));
    }

    #[test]
    fn every_log_destination() {
        use LogTarget::*;
        assert_eq!(LogTarget::parse("syslog"), Ok(Syslog("/dev/log".into())));
        assert_eq!(
            LogTarget::parse("syslog:/run/x.sock"),
            Ok(Syslog("/run/x.sock".into()))
        );
        assert_eq!(
            LogTarget::parse("udp://127.0.0.1:514"),
            Ok(Udp("127.0.0.1".into(), 514))
        );
        assert_eq!(
            LogTarget::parse("tcp://[::1]:6514"),
            Ok(Tcp("::1".into(), 6514))
        );
        assert_eq!(
            LogTarget::parse("tcp://loghost:601"),
            Ok(Tcp("loghost".into(), 601))
        );
        for bad in [
            "udp://host",
            "tcp://:514",
            "udp://h:0",
            "udp://h:99999",
            "file:",
            "syslog:",
            "http://x:1",
            "/var/log/x",
        ] {
            assert!(LogTarget::parse(bad).is_err(), "{bad}");
        }
    }

    /// Each form of [`LOG_FORMS`], filled in, is parsed, named by [`log_form_of`], and written
    /// back by [`LogTarget::value`] as a value that parses the same.
    #[test]
    fn every_log_form_parses_and_is_written_back() {
        let fill = |form: &str| {
            form.replace("PATH", "/var/log/armr.log")
                .replace("SOCKET", "/run/armr/log.sock")
                .replace("HOST:PORT", "[::1]:514")
        };
        for form in LOG_FORMS {
            let value = fill(form);
            let target = LogTarget::parse(&value).unwrap_or_else(|e| panic!("{form}: {e}"));
            assert_eq!(log_form_of(&value), Some(form), "{value}");
            let written = target.value().unwrap();
            assert_eq!(LogTarget::parse(&written), Ok(target), "{form}: {written}");
        }
        assert_eq!(log_form_of("udp://nohost"), Some("udp://HOST:PORT"));
        assert_eq!(log_form_of("syslog:"), Some("syslog:SOCKET"));
        for path in ["/var/log/x", "./syslog", "stderr.log", "udp:/x", ""] {
            assert_eq!(log_form_of(path), None, "{path}");
        }
        assert_eq!(
            LogTarget::Udp("10.0.0.1".into(), 514).value().as_deref(),
            Some("udp://10.0.0.1:514")
        );
    }

    /// Several destinations, each with its format, parse and are written back the same; a
    /// format's prefix does not hide the destination's form.
    #[test]
    fn several_destinations_each_with_its_format() {
        let value = "json+file:/var/log/armr.json,syslog,cef+udp://127.0.0.1:514";
        let target = LogTarget::parse(value).unwrap();
        assert_eq!(
            target,
            LogTarget::Many(vec![
                (
                    LogFormat::Json,
                    LogTarget::File("/var/log/armr.json".into())
                ),
                (LogFormat::Armr, LogTarget::Syslog("/dev/log".into())),
                (LogFormat::Cef, LogTarget::Udp("127.0.0.1".into(), 514)),
            ])
        );
        assert_eq!(target.value().as_deref(), Some(value));
        assert_eq!(log_form_of(value), Some("file:PATH"));
        assert_eq!(
            LogTarget::parse("armr+stderr"),
            Ok(LogTarget::Stderr),
            "armr+ is the default"
        );
        for form in LOG_FORMS {
            for (name, format) in LOG_FORMATS {
                let value = format!(
                    "{name}+{}",
                    form.replace("PATH", "/x")
                        .replace("SOCKET", "/s")
                        .replace("HOST:PORT", "h:1")
                );
                let parsed = LogTarget::parse(&value).unwrap_or_else(|e| panic!("{value}: {e}"));
                assert_eq!(parsed.destinations()[0].0, format, "{value}");
                assert_eq!(log_form_of(&value), Some(form), "{value}");
            }
        }
        assert_eq!(
            LogTarget::parse("file:/a,,syslog"),
            Err("ARMR_LOG=file:/a,,syslog: an empty destination in the list".into())
        );
        assert!(LogTarget::parse("xml+file:/a").is_err());
        assert!(LogTarget::parse("stderr,stderr,stderr,stderr,stderr").is_err());
        let relative = "json+file:/a,file:rel.log";
        let (_, errors) =
            sidecar(&format!("ARMR_RULES=/r.armr\nARMR_LOG={relative}\n")).unwrap_err();
        assert!(errors[0].contains("must be absolute"), "{errors:?}");
    }

    #[test]
    fn a_written_sidecar_reads_back_as_the_same_settings() {
        let config = Config {
            rules: "/etc/armr/web rules.armr".into(),
            log: LogTarget::Tcp("::1".into(), 6514),
            mode: Mode::DetectOnly,
            on_error: OnError::Open,
        };
        let text = Sidecar::write("# comment\n", &config).unwrap();
        assert_eq!(
            text,
            "# comment\nARMR_RULES=/etc/armr/web rules.armr\nARMR_LOG=tcp://[::1]:6514\n\
             ARMR_MODE=detect-only\nARMR_ON_ERROR=open\n"
        );
        let line_break = Config {
            log: LogTarget::File("/tmp/a\nARMR_MODE=enforce".into()),
            ..config.clone()
        };
        assert!(
            Sidecar::write("", &line_break)
                .unwrap_err()
                .contains("contains a line break")
        );
        let relative = Config {
            rules: "rules.armr".into(),
            ..config
        };
        assert!(
            Sidecar::write("", &relative)
                .unwrap_err()
                .contains("the path must be absolute")
        );
    }

    #[test]
    fn bad_values_are_errors_that_name_the_variable() {
        let (on_error, errors) = from_env(env(&[
            ("ARMR_RULES", "r.armr"),
            ("ARMR_LOG", "journald"),
            ("ARMR_MODE", "audit"),
            ("ARMR_ON_ERROR", "open"),
        ]))
        .unwrap_err();
        assert_eq!(on_error, OnError::Open);
        assert_eq!(
            errors,
            [
                "ARMR_MODE=audit: expected `enforce` or `detect-only`",
                "ARMR_LOG=journald: unknown destination; expected `stderr`, `file:PATH`, `syslog`, \
                 `syslog:SOCKET`, `udp://HOST:PORT` or `tcp://HOST:PORT`, each optionally after \
                 a format (`armr+`, `cef+`, `json+`), several separated by commas",
            ]
        );
        let (on_error, errors) =
            from_env(env(&[("ARMR_RULES", "r"), ("ARMR_ON_ERROR", "maybe")])).unwrap_err();
        assert_eq!(on_error, OnError::Closed);
        assert!(errors[0].starts_with("ARMR_ON_ERROR=maybe: expected `closed`"));
    }

    fn sidecar(text: &str) -> Result<Config, (OnError, Vec<String>)> {
        Sidecar::parse("/run/armr/armr.env", text.as_bytes()).config()
    }

    #[test]
    fn a_sidecar_holds_the_same_settings_as_the_environment() {
        let c = sidecar(
            "# written by armr-run\n\nARMR_RULES=/etc/armr/web rules.armr\n  # indented comment\n\
             ARMR_LOG=file:/var/log/a=b.log\nARMR_MODE=detect-only\nARMR_ON_ERROR=open\n",
        )
        .unwrap();
        assert_eq!(c.rules, PathBuf::from("/etc/armr/web rules.armr"));
        assert_eq!(c.log, LogTarget::File("/var/log/a=b.log".into()));
        assert_eq!((c.mode, c.on_error), (Mode::DetectOnly, OnError::Open));
        let c = sidecar("ARMR_RULES=/r.armr").unwrap();
        assert_eq!(
            (c.log, c.mode, c.on_error),
            (LogTarget::Stderr, Mode::Enforce, OnError::Closed)
        );
        let s = Sidecar::parse("f", b"ARMR_LOG=stderr\nARMR_RULES=/r\n");
        assert_eq!(
            (s.get("ARMR_LOG"), s.origin("ARMR_RULES")),
            (Some("stderr"), "f:2".into())
        );
    }

    #[test]
    fn sidecar_errors_name_the_file_and_line() {
        let (on_error, errors) = sidecar(
            "ARMR_RULES=/r.armr\nARMR_RULE=/x\njust words\n ARMR_MODE=enforce\nARMR_RULES=/other\n\
             ARMR_MODE=audit\nARMR_LOG=journald\n",
        )
        .unwrap_err();
        assert_eq!(on_error, OnError::Closed);
        assert_eq!(
            errors,
            [
                "/run/armr/armr.env:2: unknown setting `ARMR_RULE`; expected one of ARMR_RULES, \
                 ARMR_LOG, ARMR_MODE, ARMR_ON_ERROR, ARMR_RELOAD, ARMR_LOG_LIFECYCLE, ARMR_SOURCE, \
                 ARMR_LOG_LIMIT",
                "/run/armr/armr.env:3: expected `KEY=VALUE`, a `#` comment or a blank line",
                "/run/armr/armr.env:4: unknown setting ` ARMR_MODE`; expected one of ARMR_RULES, \
                 ARMR_LOG, ARMR_MODE, ARMR_ON_ERROR, ARMR_RELOAD, ARMR_LOG_LIFECYCLE, ARMR_SOURCE, \
                 ARMR_LOG_LIMIT",
                "/run/armr/armr.env:5: ARMR_RULES is set twice (first on line 1)",
                "/run/armr/armr.env:6: ARMR_MODE=audit: expected `enforce` or `detect-only`",
                "/run/armr/armr.env:7: ARMR_LOG=journald: unknown destination; expected \
                 `stderr`, `file:PATH`, `syslog`, `syslog:SOCKET`, `udp://HOST:PORT` or \
                 `tcp://HOST:PORT`, each optionally after a format (`armr+`, `cef+`, `json+`), \
                 several separated by commas",
            ]
        );
    }

    #[test]
    fn a_broken_sidecar_uses_its_own_on_error_when_that_line_is_valid() {
        let (on_error, errors) = sidecar("ARMR_ON_ERROR=open\nARMR_RULES=/r\nbogus\n").unwrap_err();
        assert_eq!((on_error, errors.len()), (OnError::Open, 1));
        let (on_error, errors) = sidecar("ARMR_ON_ERROR=open\n").unwrap_err();
        assert_eq!(on_error, OnError::Open);
        assert_eq!(
            errors,
            ["/run/armr/armr.env: no `ARMR_RULES=PATH` line: a sidecar must name the rules"]
        );
        let (on_error, errors) = sidecar("ARMR_ON_ERROR=sometimes\nARMR_RULES=/r\n").unwrap_err();
        assert_eq!(on_error, OnError::Closed);
        assert!(errors[0].starts_with("/run/armr/armr.env:1: ARMR_ON_ERROR=sometimes: expected"));
    }

    #[test]
    fn a_sidecar_that_names_no_rules_or_relative_paths_is_an_error() {
        for text in ["", "# nothing\n", "ARMR_RULES=\n", "ARMR_MODE=enforce\n"] {
            let (on_error, errors) = sidecar(text).unwrap_err();
            assert_eq!(on_error, OnError::Closed, "{text:?}");
            assert!(
                errors[0].contains("no `ARMR_RULES=PATH` line"),
                "{text:?}: {errors:?}"
            );
        }
        let (_, errors) = sidecar("ARMR_RULES=rules.armr\nARMR_LOG=file:armr.log\n").unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with(
                "/run/armr/armr.env:1: ARMR_RULES=rules.armr: the path must be absolute"
            )
        );
        assert!(errors[1].starts_with(
            "/run/armr/armr.env:2: ARMR_LOG=file:armr.log: the path must be absolute"
        ));
    }

    #[test]
    fn a_sidecar_that_is_not_text_is_an_error_at_its_first_bad_line() {
        let s = Sidecar::parse("f", b"ARMR_RULES=/r\n# ok\nARMR_LOG=\xff\n");
        let (on_error, errors) = s.config().unwrap_err();
        assert_eq!(
            (on_error, errors),
            (OnError::Closed, vec!["f:3: not UTF-8 text".to_string()])
        );
        // Windows line ends are line ends (`str::lines`), not part of the value.
        let c = sidecar("ARMR_RULES=/r\r\nARMR_MODE=detect-only\r\n").unwrap();
        assert_eq!((c.rules, c.mode), (PathBuf::from("/r"), Mode::DetectOnly));
    }
}
