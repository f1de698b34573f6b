//! The library's settings, read from the environment when a process starts.
//!
//! | variable | values | default |
//! | --- | --- | --- |
//! | `ARMR_RULES` | a rules file, or a directory (its `*.armr` files in name order) | unset: armr does nothing |
//! | `ARMR_LOG` | `stderr`, `file:PATH`, `syslog`, `syslog:SOCKET`, `udp://HOST:PORT`, `tcp://HOST:PORT` | `stderr` |
//! | `ARMR_MODE` | `enforce`, `detect-only` | `enforce` |
//! | `ARMR_ON_ERROR` | `closed`, `open` | `closed` |

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
}

impl LogTarget {
    /// Parses an `ARMR_LOG` value.
    pub fn parse(value: &str) -> Result<LogTarget, String> {
        let bad = |why: &str| {
            Err(format!(
                "ARMR_LOG={}: {why}; expected `stderr`, `file:PATH`, `syslog`, `syslog:SOCKET`, \
                 `udp://HOST:PORT` or `tcp://HOST:PORT`",
                value.escape_debug()
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

/// The files `ARMR_RULES` names: the file itself, or a directory's `*.armr` files in name order.
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
                 `syslog:SOCKET`, `udp://HOST:PORT` or `tcp://HOST:PORT`",
            ]
        );
        let (on_error, errors) =
            from_env(env(&[("ARMR_RULES", "r"), ("ARMR_ON_ERROR", "maybe")])).unwrap_err();
        assert_eq!(on_error, OnError::Closed);
        assert!(errors[0].starts_with("ARMR_ON_ERROR=maybe: expected `closed`"));
    }
}
