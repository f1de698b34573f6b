//! armr's event lines as the tests read them: `<PRI>1 TIMESTAMP HOST APP-NAME PROCID - - CEF:0|...`
//! (RFC 5424 carrying CEF, docs/logging.md).

use std::fs;
use std::path::Path;

/// One parsed event line.
#[derive(Debug, Clone)]
pub struct EventLine {
    pub raw: String,
    pub pri: u32,
    pub timestamp: String,
    pub host: String,
    pub app_name: String,
    pub procid: u32,
    /// The eight `|`-separated CEF fields (`CEF:0` first), the last one being the extension.
    pub cef: Vec<String>,
    /// The extension's key=value pairs, in order.
    pub ext: Vec<(String, String)>,
}

impl EventLine {
    /// Parses `raw`, or says what is wrong with it.
    pub fn parse(raw: &str) -> Result<EventLine, String> {
        let mut header = raw.splitn(8, ' ');
        let mut next = |what: &str| header.next().ok_or(format!("no {what}"));
        let (pri, version) = next("PRI")?
            .strip_prefix('<')
            .and_then(|s| s.split_once('>'))
            .ok_or("PRI is not <N>")?;
        let pri: u32 = pri.parse().map_err(|_| "PRI is not a number")?;
        if version != "1" {
            return Err("the syslog version is not 1".into());
        }
        let timestamp = next("TIMESTAMP")?.to_string();
        let host = next("HOSTNAME")?.to_string();
        let app_name = next("APP-NAME")?.to_string();
        let procid: u32 = next("PROCID")?
            .parse()
            .map_err(|_| "PROCID is not a number")?;
        if next("MSGID")? != "-" || next("STRUCTURED-DATA")? != "-" {
            return Err("MSGID and STRUCTURED-DATA are not `-`".into());
        }
        let message = next("MSG")?;
        if !message.starts_with("CEF:") {
            return Err("the message is not CEF".into());
        }
        // The tests' names hold no `|` or `\`, so a plain split is exact.
        let cef: Vec<String> = message.splitn(8, '|').map(str::to_string).collect();
        if cef.len() != 8 {
            return Err("not 8 CEF fields".into());
        }
        // Extension: `key=value` pairs separated by spaces; a value may hold spaces, so a word that
        // is not `key=...` (key: letters, digits, `_`) continues the previous value.
        let mut ext: Vec<(String, String)> = Vec::new();
        for word in cef[7].split(' ') {
            match word.split_once('=') {
                Some((key, value))
                    if !key.is_empty()
                        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    ext.push((key.to_string(), value.to_string()))
                }
                _ => match ext.last_mut() {
                    Some((_, value)) => {
                        value.push(' ');
                        value.push_str(word);
                    }
                    None => return Err("the extension does not start with key=value".into()),
                },
            }
        }
        Ok(EventLine {
            raw: raw.to_string(),
            pri,
            timestamp,
            host,
            app_name,
            procid,
            cef,
            ext,
        })
    }

    /// The extension's value for `key`, if the line has it.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.ext
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The extension's value for `key` (the test fails if the line has none).
    pub fn get(&self, key: &str) -> &str {
        self.field(key)
            .unwrap_or_else(|| panic!("no `{key}` in the event line:\n{}", self.raw))
    }
}

/// The lines of a log file (none when it does not exist).
pub fn log_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// `raw` with its two times (the header's TIMESTAMP and the extension's `rt=`) written `TIME`,
/// for comparing whole lines.
pub fn without_times(raw: &str) -> String {
    let mut header: Vec<&str> = raw.splitn(3, ' ').collect();
    if header.len() == 3 {
        header[1] = "TIME";
    }
    let line = header.join(" ");
    match (line.find("|rt="), line.find(" dvchost=")) {
        (Some(start), Some(end)) if start < end => {
            format!("{}|rt=TIME{}", &line[..start], &line[end..])
        }
        _ => line,
    }
}
