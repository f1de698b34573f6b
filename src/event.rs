//! Security events: an RFC 5424 syslog header followed by a CEF record, formatted into a caller's
//! buffer (no allocation), one line per event.
//!
//! ```text
//! <10>1 2021-03-22T11:05:20.332Z host nc 6442 - - CEF:0|ARMR:My App|My App|2.8|Block web|Execute Rule|High|rt=Mar 22 2021 11:05:20.332 +0000 dvchost=host procid=6442 appVersion=1 ruleType=socket securityFeature=socket connect act=protect msg=connections blocked remoteIpAddress=74.125.193.105 remotePort=80
//! ```
//!
//! Every value a rule author or a remote peer controls is escaped so that it cannot end the line
//! or forge a field: in CEF header fields `\` and `|` are escaped, in extension values `\` and `=`
//! are escaped and line breaks written `\n`/`\r`; syslog header fields keep printable ASCII only.

pub use crate::config::LogFormat;
use crate::language::vocabulary::{self, event_field as field};
use crate::language::{Action, App, LanguageVersion, LogMetadata, Severity, SocketRule};
use crate::policy::EventKind;

mod json;
use crate::policy::compiled::{Pairs, PairsIter};
pub use json::action as json_action;
pub use json::format_message as format_json_message;
use std::fmt::{self, Write};
use std::net::{IpAddr, SocketAddr};

/// Everything an event line says.
pub struct Event<'a> {
    /// Milliseconds since the Unix epoch, UTC.
    pub unix_millis: u64,
    /// This host's name (`dvchost` and the syslog HOSTNAME).
    pub hostname: &'a str,
    /// The process's name (syslog APP-NAME).
    pub process: &'a str,
    pub pid: u32,
    /// The rule that decided, with its app: what the line says of them.
    pub rule: EventRule<'a>,
    pub kind: EventKind,
    /// What armr did: the rule's action, or detect for a protect in detect-only mode.
    pub action: Action,
    /// The local address (binds) or the remote address (connect, accept).
    pub address: SocketAddr,
    /// Stack frames, innermost first, one per line, when the rule asks for `stacktrace: "full"`.
    /// The line breaks are written as the CEF escape `\n`.
    pub stacktrace: Option<&'a str>,
    /// How many events of the rule this line stands for (CEF `cnt`), for events logged at most
    /// once a second: datagrams discarded on receipt. `None` for a line per event.
    pub count: Option<u64>,
    /// The socket's transport, when known: the `cef` format's `proto`, the `json` format's
    /// `network.transport` (the vendor's line has no such field).
    pub transport: Option<crate::verdict::Transport>,
}

/// What an event line says of its rule and app, borrowed from where they are kept: the rules
/// parsed ([`EventRule::of`]) or a compiled file's records read in place
/// ([`Records::event_rule`](crate::policy::compiled::Records::event_rule)). Either way writing an
/// event allocates nothing.
#[derive(Clone, Copy)]
pub struct EventRule<'a> {
    pub app_name: &'a str,
    pub language: LanguageVersion,
    pub app_version: u32,
    pub name: &'a str,
    pub message: Option<&'a str>,
    pub severity: Severity,
    pub stacktrace: bool,
    pub log_metadata: Metadata<'a>,
}

impl<'a> EventRule<'a> {
    /// The view of a parsed rule and its app.
    pub fn of(app: &'a App, rule: &'a SocketRule) -> EventRule<'a> {
        EventRule {
            app_name: &app.name,
            language: app.language,
            app_version: app.version,
            name: &rule.name,
            message: rule.message.as_deref(),
            severity: rule.severity,
            stacktrace: rule.stacktrace,
            log_metadata: Metadata::Model(&rule.log_metadata),
        }
    }
}

/// A rule's metadata `log` entries, in the order its events write them ([`LogMetadata`]'s
/// overlay: the app's entries, a rule's value replacing the app's in place, then the rule's new
/// keys).
#[derive(Clone, Copy)]
pub enum Metadata<'a> {
    Model(&'a LogMetadata),
    /// From a compiled file: the app's entries (empty when the rule has none of them) and the
    /// rule's own, scanned in place.
    Record {
        app: Pairs<'a>,
        own: Pairs<'a>,
    },
}

impl<'a> Metadata<'a> {
    /// The number of entries an event writes.
    pub fn len(&self) -> usize {
        match self {
            Metadata::Model(m) => m.len(),
            Metadata::Record { app, own } => {
                app.len() + own.iter().filter(|(k, _)| app.value(k).is_none()).count()
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`th entry an event writes.
    pub fn get(&self, i: usize) -> Option<(&'a str, &'a str)> {
        match *self {
            Metadata::Model(m) => m.get(i),
            Metadata::Record { .. } => self.iter().nth(i),
        }
    }

    /// The entries in the order an event writes them.
    pub fn iter(&self) -> MetadataIter<'a> {
        match *self {
            Metadata::Model(m) => MetadataIter::Model { m, next: 0 },
            Metadata::Record { app, own } => MetadataIter::Record {
                app,
                own,
                app_entries: app.iter(),
                own_entries: own.iter(),
            },
        }
    }
}

/// The entries of a [`Metadata`], in event order.
pub enum MetadataIter<'a> {
    Model {
        m: &'a LogMetadata,
        next: usize,
    },
    Record {
        app: Pairs<'a>,
        own: Pairs<'a>,
        app_entries: PairsIter<'a>,
        own_entries: PairsIter<'a>,
    },
}

impl<'a> Iterator for MetadataIter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            MetadataIter::Model { m, next } => {
                let entry = m.get(*next)?;
                *next += 1;
                Some(entry)
            }
            MetadataIter::Record {
                app,
                own,
                app_entries,
                own_entries,
            } => {
                if let Some((key, value)) = app_entries.next() {
                    return Some((key, own.value(key).unwrap_or(value)));
                }
                own_entries.find(|(key, _)| app.value(key).is_none())
            }
        }
    }
}

/// The syslog severity for a rule severity: Very-High 1, High 2, Medium 4, Unknown 5, Low 6.
pub fn syslog_severity(severity: Severity) -> u8 {
    match severity {
        Severity::VeryHigh => 1,
        Severity::High => 2,
        Severity::Medium => 4,
        Severity::Unknown => 5,
        Severity::Low => 6,
    }
}

/// The CEF `securityFeature` of an event kind.
pub fn security_feature(kind: EventKind) -> &'static str {
    match kind {
        EventKind::BindClient => "socket bind",
        EventKind::BindServer => "socket serverbind",
        EventKind::Connect => "socket connect",
        EventKind::Accept => "socket accept",
    }
}

/// A `fmt::Write` over a byte buffer that keeps what fits and drops the rest.
pub struct LineBuffer<'b> {
    buf: &'b mut [u8],
    len: usize,
    truncated: bool,
    /// Every byte written, kept or dropped: what the text needs.
    wanted: usize,
}

impl<'b> LineBuffer<'b> {
    pub fn new(buf: &'b mut [u8]) -> Self {
        LineBuffer {
            buf,
            len: 0,
            truncated: false,
            wanted: 0,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn truncated(&self) -> bool {
        self.truncated
    }

    #[inline]
    fn push_bytes(&mut self, bytes: &[u8]) {
        self.wanted += bytes.len();
        let room = self.buf.len() - self.len;
        if bytes.len() <= room {
            let n = bytes.len();
            let to = &mut self.buf[self.len..self.len + n];
            // Most pieces are a few bytes: copied in line as two overlapping words, not through
            // a call to memcpy.
            if n > 32 {
                to.copy_from_slice(bytes);
            } else if n >= 16 {
                to[..16].copy_from_slice(&bytes[..16]);
                to[n - 16..].copy_from_slice(&bytes[n - 16..]);
            } else if n >= 8 {
                to[..8].copy_from_slice(&bytes[..8]);
                to[n - 8..].copy_from_slice(&bytes[n - 8..]);
            } else if n >= 4 {
                to[..4].copy_from_slice(&bytes[..4]);
                to[n - 4..].copy_from_slice(&bytes[n - 4..]);
            } else {
                for (d, s) in to.iter_mut().zip(bytes) {
                    *d = *s;
                }
            }
            self.len += bytes.len();
        } else {
            self.push_cut(bytes, room);
        }
    }

    /// The bytes `start..end` written before (`text`, escaped as a CEF header field), written
    /// again; when the line was cut, `text` is escaped anew, so that the line's wanted length
    /// counts it.
    fn push_again(&mut self, start: usize, end: usize, text: &str) {
        let n = end - start;
        if self.truncated || n > self.buf.len() - self.len {
            header_field(self, text);
            return;
        }
        self.buf.copy_within(start..end, self.len);
        self.len += n;
        self.wanted += n;
    }

    /// ` NAME=`, in one step when it fits (every event writes a dozen).
    #[inline(always)]
    fn push_key(&mut self, name: &[u8]) {
        let n = name.len() + 2;
        if n > self.buf.len() - self.len {
            self.push_bytes(b" ");
            self.push_bytes(name);
            self.push_bytes(b"=");
            return;
        }
        self.buf[self.len] = b' ';
        self.len += 1;
        self.wanted += 1;
        self.push_bytes(name);
        self.buf[self.len] = b'=';
        self.len += 1;
        self.wanted += 1;
    }

    /// The rest of `push_bytes`: what fits of `bytes`, cut on a character boundary.
    #[cold]
    #[inline(never)]
    fn push_cut(&mut self, bytes: &[u8], room: usize) {
        self.truncated = true;
        let mut n = room;
        while n > 0 && (bytes[n] & 0xC0) == 0x80 {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    /// Writes `n` in decimal, zero-padded to at least `width` digits (no `fmt` machinery: this
    /// runs for every event). The digits go straight into the line when they fit.
    fn push_uint(&mut self, n: u64, width: usize) {
        let mut digits = 1;
        let mut rest = n / 10;
        while rest > 0 {
            digits += 1;
            rest /= 10;
        }
        let len = digits.max(width.min(20));
        if len > self.buf.len() - self.len {
            return self.push_uint_cut(n, len);
        }
        let to = &mut self.buf[self.len..self.len + len];
        let mut n = n;
        for d in to.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        self.len += len;
        self.wanted += len;
    }

    /// [`push_uint`](Self::push_uint) when the line has no room left for it.
    #[cold]
    #[inline(never)]
    fn push_uint_cut(&mut self, mut n: u64, len: usize) {
        let mut digits = [b'0'; 20];
        for d in digits[20 - len..].iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        self.push_bytes(&digits[20 - len..]);
    }

    /// Ends the line: a newline, replacing the last byte when the buffer is full.
    fn end_line(&mut self) {
        if self.len == self.buf.len() && self.len > 0 {
            self.len -= 1;
            while self.len > 0 && (self.buf[self.len] & 0xC0) == 0x80 {
                self.len -= 1;
            }
        }
        if self.len < self.buf.len() {
            self.buf[self.len] = b'\n';
            self.len += 1;
        }
    }
}

impl Write for LineBuffer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_bytes(s.as_bytes());
        Ok(())
    }
}

/// The bytes some escape maps (CEF header, extension): the others are copied as they are.
static ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    table[b'\\' as usize] = true;
    table[b'|' as usize] = true;
    table[b'=' as usize] = true;
    table[b'\n' as usize] = true;
    table[b'\r' as usize] = true;
    table
};

/// Writes `s`, each byte that `escape` maps replaced by its escape, the runs between copied
/// whole. Every escaped byte is ASCII, so a run never splits a character.
#[inline(always)]
fn escaped(out: &mut LineBuffer<'_>, s: &str, escape: impl Fn(u8) -> Option<&'static [u8]>) {
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        // One load passes every byte no escape maps.
        if ESCAPED[b as usize]
            && let Some(replacement) = escape(b)
        {
            out.push_bytes(&bytes[run..i]);
            out.push_bytes(replacement);
            run = i + 1;
        }
    }
    out.push_bytes(&bytes[run..]);
}

/// The length of `s` once escaped.
fn escaped_len(s: &str, escape: fn(u8) -> Option<&'static [u8]>) -> usize {
    s.bytes().map(|b| escape(b).map_or(1, <[u8]>::len)).sum()
}

/// The longest start of `s` whose escaped form takes at most `room` bytes: whole characters, so
/// that neither a character nor an escape is cut.
fn escaped_prefix(s: &str, room: usize, escape: fn(u8) -> Option<&'static [u8]>) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        let len = if c.is_ascii() {
            escape(c as u8).map_or(1, <[u8]>::len)
        } else {
            c.len_utf8()
        };
        if used + len > room {
            return &s[..i];
        }
        used += len;
    }
    s
}

/// Ends a value cut to fit the line (docs/logging.md).
pub const TRUNCATED: &str = "[truncated]";

/// Writes `s` with CEF header escaping: `\` and `|` escaped; line breaks become spaces.
fn header_field(out: &mut LineBuffer<'_>, s: &str) {
    escaped(out, s, |b| match b {
        b'\\' => Some(b"\\\\"),
        b'|' => Some(b"\\|"),
        b'\n' | b'\r' => Some(b" "),
        _ => None,
    });
}

/// The CEF extension escapes: `\` and `=` escaped, line breaks as `\n` and `\r`.
fn extension_escape(b: u8) -> Option<&'static [u8]> {
    match b {
        b'\\' => Some(b"\\\\"),
        b'=' => Some(b"\\="),
        b'\n' => Some(b"\\n"),
        b'\r' => Some(b"\\r"),
        _ => None,
    }
}

/// Writes `s` with CEF extension escaping.
fn extension_value(out: &mut LineBuffer<'_>, s: &str) {
    escaped(out, s, extension_escape);
}

/// Writes `s` with CEF extension escaping, in at most `room` bytes when given: cut at a
/// character, then [`TRUNCATED`].
fn extension_value_within(out: &mut LineBuffer<'_>, s: &str, room: Option<usize>) {
    match room {
        None => extension_value(out, s),
        Some(room) => {
            extension_value(out, escaped_prefix(s, room, extension_escape));
            out.push_bytes(TRUNCATED.as_bytes());
        }
    }
}

/// Writes `s` as an RFC 5424 header field: printable ASCII without spaces, at most `max` bytes,
/// `-` when empty.
fn syslog_field(out: &mut LineBuffer<'_>, s: &str, max: usize) {
    // The common field: printable already, written whole.
    let field = &s.as_bytes()[..s.len().min(max)];
    if !field.is_empty() && field.iter().all(|b| (33..=126).contains(b)) {
        out.push_bytes(field);
        return;
    }
    let mut written = 0;
    for b in s.bytes().take(max) {
        out.push_bytes(&[if (33..=126).contains(&b) { b } else { b'_' }]);
        written += 1;
    }
    if written == 0 {
        out.push_bytes(b"-");
    }
}

/// Calendar date and time of a Unix time in milliseconds, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
    /// `HH:mm:ss.SSS`, formatted once for the line's two timestamps.
    clock: [u8; 12],
    /// The year's four digits, likewise (years before 0 or after 9999 never come from a real
    /// clock).
    year_digits: [u8; 4],
}

impl UtcTime {
    pub fn from_unix_millis(ms: u64) -> UtcTime {
        let secs = ms / 1000;
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        let (hour, minute, second, millis) = (
            (rem / 3600) as u32,
            (rem % 3600 / 60) as u32,
            (rem % 60) as u32,
            (ms % 1000) as u32,
        );
        UtcTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            millis,
            clock: clock(hour, minute, second, millis),
            year_digits: fixed::<4>(year.clamp(0, 9999) as u32),
        }
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - `: the RFC 5424 header of every line.
fn syslog_header(
    out: &mut LineBuffer<'_>,
    pri: u32,
    t: &UtcTime,
    hostname: &str,
    process: &str,
    pid: u32,
) {
    out.push_bytes(b"<");
    out.push_uint(u64::from(pri), 1);
    out.push_bytes(b">1 ");
    push_year(out, t);
    let [m0, m1] = fixed::<2>(t.month);
    let [d0, d1] = fixed::<2>(t.day);
    out.push_bytes(&[b'-', m0, m1, b'-', d0, d1, b'T']);
    push_clock(out, t);
    out.push_bytes(b"Z ");
    syslog_field(out, hostname, 255);
    out.push_bytes(b" ");
    syslog_field(out, process, 48);
    out.push_bytes(b" ");
    out.push_uint(u64::from(pid), 1);
    out.push_bytes(b" - - ");
}

/// `n` (below 10^N) in exactly N decimal digits: a fixed field of the time, without a loop over
/// digits of unknown count.
#[inline(always)]
fn fixed<const N: usize>(mut n: u32) -> [u8; N] {
    let mut digits = [b'0'; N];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    digits
}

/// The year's four digits, formatted once per line ([`UtcTime::year_digits`]).
fn push_year(out: &mut LineBuffer<'_>, t: &UtcTime) {
    out.push_bytes(&t.year_digits);
}

/// `HH:mm:ss.SSS`, formatted once per line ([`clock`]) and written twice.
fn push_clock(out: &mut LineBuffer<'_>, t: &UtcTime) {
    out.push_bytes(&t.clock);
}

fn clock(hour: u32, minute: u32, second: u32, millis: u32) -> [u8; 12] {
    let [h0, h1] = fixed::<2>(hour);
    let [m0, m1] = fixed::<2>(minute);
    let [s0, s1] = fixed::<2>(second);
    let [f0, f1, f2] = fixed::<3>(millis);
    [h0, h1, b':', m0, m1, b':', s0, s1, b'.', f0, f1, f2]
}

/// ` NAME=`: an extension field's name, before its value. In line, so that each name's length
/// is known where it is written: its copy is then a few fixed moves (a dozen names an event).
#[inline(always)]
fn key(out: &mut LineBuffer<'_>, name: &str) {
    out.push_key(name.as_bytes());
}

/// CEF `rt`: `MMM dd yyyy HH:mm:ss.SSS +0000`, the same instant as the header.
fn cef_time(out: &mut LineBuffer<'_>, t: &UtcTime) {
    out.push_bytes(field::RT.as_bytes());
    out.push_bytes(b"=");
    out.push_bytes(MONTHS[(t.month - 1) as usize].as_bytes());
    let [d0, d1] = fixed::<2>(t.day);
    out.push_bytes(&[b' ', d0, d1, b' ']);
    push_year(out, t);
    out.push_bytes(b" ");
    push_clock(out, t);
    out.push_bytes(b" +0000");
}

/// An upper bound of the bytes `format_event` writes for `event`: escaping at most doubles a
/// value, and the fixed text with numbers and addresses stays under 512 bytes. Lets the caller
/// take a small buffer for the common event and a large one only when needed.
pub fn max_event_len(event: &Event<'_>) -> usize {
    let values = 2 * event.rule.app_name.len()
        + event.rule.name.len()
        + event.rule.message.map_or(0, str::len)
        + event.stacktrace.map_or(0, str::len)
        + event
            .rule
            .log_metadata
            .iter()
            .map(|(key, value)| key.len() + value.len() + 2)
            .sum::<usize>();
    512 + event.hostname.len().min(255)
        + 2 * event.hostname.len()
        + event.process.len().min(48)
        + 2 * values
}

/// Formats one event line, ending in `\n`, into `buf`; returns the bytes written.
///
/// A line longer than the buffer is made to fit by cutting the values that may be long, in this
/// order: the message, the stack trace, the metadata values; each cut value ends with
/// [`TRUNCATED`]. The fields after them, the address above all, are kept. Only when the rest alone
/// does not fit (names of thousands of bytes) is the line cut at the end (still ending in `\n`).
pub fn format_event(event: &Event<'_>, buf: &mut [u8]) -> usize {
    format_cef_line(event, buf, false)
}

/// An event's line in `format` (`ARMR_LOG`'s `FORMAT+`, docs/logging.md): armr's own line
/// ([`format_event`]), the same with the ArcSight dictionary's keys (`cef`), or one JSON object
/// with Elastic Common Schema names (`json`). The same cutting rules as [`format_event`].
pub fn format_event_as(format: LogFormat, event: &Event<'_>, buf: &mut [u8]) -> usize {
    match format {
        LogFormat::Armr => format_cef_line(event, buf, false),
        LogFormat::Cef => format_cef_line(event, buf, true),
        LogFormat::Json => json::format(event, buf),
    }
}

/// An upper bound of the bytes [`format_event_as`] writes for `event` in `format`.
pub fn max_event_len_as(format: LogFormat, event: &Event<'_>) -> usize {
    let base = max_event_len(event);
    match format {
        LogFormat::Armr => base,
        // The standard keys repeat the names (escaped, at most doubled) and the address.
        LogFormat::Cef => {
            base + 256
                + 2 * (event.rule.name.len() + event.rule.app_name.len())
                + event.process.len()
        }
        // JSON's escapes of control bytes take six bytes for one; the fixed text (names, numbers,
        // the address) stays under 700 bytes.
        LogFormat::Json => {
            let values = event.rule.app_name.len()
                + event.rule.name.len()
                + event.rule.message.map_or(0, str::len)
                + event.stacktrace.map_or(0, str::len)
                + event
                    .rule
                    .log_metadata
                    .iter()
                    .map(|(key, value)| key.len() + value.len())
                    .sum::<usize>();
            740 + 6 * (values + event.hostname.len() + event.process.len())
        }
    }
}

fn format_cef_line(event: &Event<'_>, buf: &mut [u8], standard: bool) -> usize {
    let (len, wanted) = write_line(event, buf, None, standard);
    if wanted < buf.len() {
        return len;
    }
    let cut = cuts(event, wanted + 1 - buf.len(), extension_escape);
    write_line(event, buf, Some(cut), standard).0
}

/// The `i`th value that may be cut: 0 the message, 1 the stack trace, then the metadata values.
fn cuttable<'e>(event: &'e Event<'_>, i: usize) -> Option<&'e str> {
    match i {
        0 => event.rule.message,
        1 => event.stacktrace,
        _ => event.rule.log_metadata.get(i - 2).map(|(_, value)| value),
    }
}

/// Where to cut to save `excess` bytes: `(index, keep)`: the cuttable values before `index` keep
/// nothing (a value no longer than the marker stays whole: cutting it saves nothing), the one at
/// `index` keeps `keep` escaped bytes, the others stay whole.
fn cuts(
    event: &Event<'_>,
    mut excess: usize,
    escape: fn(u8) -> Option<&'static [u8]>,
) -> (usize, usize) {
    let count = 2 + event.rule.log_metadata.len();
    for i in 0..count {
        let len = cuttable(event, i).map_or(0, |v| escaped_len(v, escape));
        let saved = len.saturating_sub(TRUNCATED.len());
        if saved >= excess {
            return (i, saved - excess);
        }
        excess -= saved;
    }
    (count, 0)
}

/// The room of the `i`th cuttable value, escaped `len` bytes long, under `cut`.
fn room(cut: Option<(usize, usize)>, i: usize, len: usize) -> Option<usize> {
    let (index, keep) = cut?;
    match i.cmp(&index) {
        std::cmp::Ordering::Less => (len > TRUNCATED.len()).then_some(0),
        std::cmp::Ordering::Equal => Some(keep),
        std::cmp::Ordering::Greater => None,
    }
}

/// Writes the line with the cuttable values cut as `cut` says; returns the bytes written and the
/// bytes the whole line needs (without its `\n`).
/// `standard`: the `cef` format's line: `rt` in epoch milliseconds and the ArcSight dictionary's
/// keys after armr's.
fn write_line(
    event: &Event<'_>,
    buf: &mut [u8],
    cut: Option<(usize, usize)>,
    standard: bool,
) -> (usize, usize) {
    let value_room = |i: usize| {
        cut.and_then(|_| {
            let len = cuttable(event, i).map_or(0, |v| escaped_len(v, extension_escape));
            room(cut, i, len)
        })
    };
    let mut out = LineBuffer::new(buf);
    let t = UtcTime::from_unix_millis(event.unix_millis);
    let pri = 8 + u32::from(syslog_severity(event.rule.severity));
    syslog_header(&mut out, pri, &t, event.hostname, event.process, event.pid);
    out.push_bytes(b"CEF:0|ARMR:");
    let vendor = out.len;
    header_field(&mut out, event.rule.app_name);
    let vendor_end = out.len;
    out.push_bytes(b"|");
    // The product is the vendor's name again: its escaped bytes copied.
    out.push_again(vendor, vendor_end, event.rule.app_name);
    out.push_bytes(b"|");
    out.push_uint(u64::from(event.rule.language.major), 1);
    out.push_bytes(b".");
    out.push_uint(u64::from(event.rule.language.minor), 1);
    out.push_bytes(b"|");
    header_field(&mut out, event.rule.name);
    out.push_bytes(b"|Execute Rule|");
    out.push_bytes(event.rule.severity.name().as_bytes());
    out.push_bytes(b"|");
    if standard {
        out.push_bytes(b"rt=");
        out.push_uint(event.unix_millis, 1);
    } else {
        cef_time(&mut out, &t);
    }
    key(&mut out, field::DVCHOST);
    extension_value(&mut out, event.hostname);
    key(&mut out, field::PROCID);
    out.push_uint(u64::from(event.pid), 1);
    key(&mut out, field::APP_VERSION);
    out.push_uint(u64::from(event.rule.app_version), 1);
    key(&mut out, field::RULE_TYPE);
    out.push_bytes(vocabulary::SOCKET.as_bytes());
    key(&mut out, field::SECURITY_FEATURE);
    out.push_bytes(security_feature(event.kind).as_bytes());
    key(&mut out, field::ACT);
    out.push_bytes(event.action.as_str().as_bytes());
    if let Some(message) = event.rule.message {
        key(&mut out, field::MSG);
        extension_value_within(&mut out, message, value_room(0));
    }
    if let Some(frames) = event.stacktrace {
        key(&mut out, field::STACKTRACE);
        extension_value_within(&mut out, frames, value_room(1));
    }
    for (i, (name, value)) in event.rule.log_metadata.iter().enumerate() {
        key(&mut out, name);
        extension_value_within(&mut out, value, value_room(2 + i));
    }
    if let Some(count) = event.count {
        key(&mut out, field::CNT);
        out.push_uint(count, 1);
    }
    let (ip_key, port_key) = match event.kind {
        EventKind::BindClient | EventKind::BindServer => {
            (field::LOCAL_IP_ADDRESS, field::LOCAL_PORT)
        }
        EventKind::Connect | EventKind::Accept => (field::REMOTE_IP_ADDRESS, field::REMOTE_PORT),
    };
    key(&mut out, ip_key);
    push_ip(&mut out, event.address.ip());
    key(&mut out, port_key);
    out.push_uint(u64::from(event.address.port()), 1);
    if standard {
        standard_keys(&mut out, event);
    }
    let wanted = out.wanted;
    out.end_line();
    (out.len, wanted)
}

/// The address an event names, as text (no allocation).
fn push_ip(out: &mut LineBuffer<'_>, ip: IpAddr) {
    match ip {
        IpAddr::V4(ip) => {
            for (i, octet) in ip.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push_bytes(b".");
                }
                out.push_uint(u64::from(octet), 1);
            }
        }
        IpAddr::V6(ip) => {
            let _ = write!(out, "{ip}");
        }
    }
}

/// Whether the event's address is the source of the traffic (ECS `source.*`, CEF `src`/`spt`):
/// the peer an accepted connection came from, and the local address a client binds before it
/// connects; otherwise it is the destination (`connect`, and a server's bind: where its clients
/// connect to).
pub fn address_is_source(kind: EventKind) -> bool {
    matches!(kind, EventKind::Accept | EventKind::BindClient)
}

/// `success` when the call went on (allow, detect), `failure` when armr refused it (CEF
/// `outcome`, ECS `event.outcome`).
pub fn outcome(action: Action) -> &'static str {
    match action {
        Action::Protect => "failure",
        Action::Allow | Action::Detect => "success",
    }
}

/// The `cef` format's keys of the ArcSight dictionary, after armr's own.
fn standard_keys(out: &mut LineBuffer<'_>, event: &Event<'_>) {
    let (ip_key, port_key) = if address_is_source(event.kind) {
        ("src", "spt")
    } else {
        ("dst", "dpt")
    };
    key(out, ip_key);
    push_ip(out, event.address.ip());
    key(out, port_key);
    out.push_uint(u64::from(event.address.port()), 1);
    if let Some(transport) = event.transport {
        key(out, "proto");
        out.push_bytes(match transport {
            crate::verdict::Transport::Tcp => b"TCP",
            crate::verdict::Transport::Udp => b"UDP",
        });
    }
    key(out, "outcome");
    out.push_bytes(outcome(event.action).as_bytes());
    key(out, "dvcpid");
    out.push_uint(u64::from(event.pid), 1);
    key(out, "deviceProcessName");
    extension_value(out, event.process);
    key(out, "cs1Label");
    out.push_bytes(b"ruleName");
    key(out, "cs1");
    extension_value(out, event.rule.name);
    key(out, "cs2Label");
    out.push_bytes(b"appName");
    key(out, "cs2");
    extension_value(out, event.rule.app_name);
}

/// The line that reports events lost while the destination was down or too slow.
pub fn format_dropped(
    unix_millis: u64,
    hostname: &str,
    process: &str,
    pid: u32,
    count: u64,
    buf: &mut [u8],
) -> usize {
    let mut out = engine_line(
        buf,
        unix_millis,
        hostname,
        process,
        pid,
        "events dropped",
        "Events dropped",
    );
    let _ = write!(
        out,
        " {}={count} {}={count} events were dropped: the log destination was unavailable or too slow",
        field::CNT,
        field::MSG
    );
    out.end_line();
    out.len
}

/// The line that reports a hostname of the rules that does not resolve: the rules of that kind
/// naming it match nothing. `dhost` names it for connect rules, `shost` for accept rules (the
/// peer is the source).
pub fn format_unresolved(
    unix_millis: u64,
    hostname: &str,
    process: &str,
    pid: u32,
    report: &crate::policy::Unresolved<'_>,
    buf: &mut [u8],
) -> usize {
    let mut out = engine_line(
        buf,
        unix_millis,
        hostname,
        process,
        pid,
        "hostname unresolved",
        "Resolve Hostname",
    );
    let _ = write!(
        out,
        " {}={} outcome=failure {}=",
        field::SECURITY_FEATURE,
        security_feature(report.kind),
        if report.kind == EventKind::Accept {
            "shost"
        } else {
            "dhost"
        }
    );
    extension_value(&mut out, report.name);
    let _ = write!(out, " {}={} reason=", field::CNT, report.rules);
    extension_value(&mut out, report.reason);
    key(&mut out, field::MSG);
    out.push_bytes(b"hostname ");
    extension_value(&mut out, report.name);
    out.push_bytes(b" in the rules does not resolve: its rules match nothing");
    out.end_line();
    out.len
}

/// Why a rule of another operating system is left out (`Load Rule` `outcome=failure`), in the
/// words of the Rampart specification's example.
pub const NOT_THIS_OS: &str = "rule is not applicable to the currently running operating system";

/// A step in the life of the policy (armr-language.md, "Lifecycle events"): each rule loaded
/// at start, a rule left out by its `os` list, a reload and its outcome, rules that do not load.
pub enum Lifecycle<'a> {
    /// A rule loaded at start: `Load Rule`, `outcome=success`, under the rule's own app.
    Loaded(&'a EventRule<'a>),
    /// A rule left out, and why: `Load Rule`, `outcome=failure`.
    Skipped { rule: &'a str, reason: &'a str },
    /// The rules changed and were reloaded (or not): `Reload Rules`.
    Reloaded { success: bool, msg: &'a str },
    /// Changed rules that do not load: `Syntax Error`, with the first diagnostic.
    SyntaxError { msg: &'a str },
}

impl Lifecycle<'_> {
    /// True for the failures, which are always logged; the rest only with `ARMR_LOG_LIFECYCLE=on`.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Lifecycle::Skipped { .. }
                | Lifecycle::Reloaded { success: false, .. }
                | Lifecycle::SyntaxError { .. }
        )
    }
}

/// Formats a lifecycle event line, ending in `\n`, into `buf`; returns the bytes written.
pub fn format_lifecycle(
    unix_millis: u64,
    hostname: &str,
    process: &str,
    pid: u32,
    event: &Lifecycle<'_>,
    buf: &mut [u8],
) -> usize {
    let t = UtcTime::from_unix_millis(unix_millis);
    let mut out = match event {
        Lifecycle::Loaded(rule) => {
            let mut out = LineBuffer::new(buf);
            syslog_header(&mut out, 14, &t, hostname, process, pid);
            out.push_bytes(b"CEF:0|ARMR:");
            header_field(&mut out, rule.app_name);
            out.push_bytes(b"|");
            header_field(&mut out, rule.app_name);
            let _ = write!(out, "|{}.{}|", rule.language.major, rule.language.minor);
            header_field(&mut out, rule.name);
            out.push_bytes(b"|Load Rule|Low|");
            cef_time(&mut out, &t);
            key(&mut out, field::DVCHOST);
            extension_value(&mut out, hostname);
            key(&mut out, field::PROCID);
            out.push_uint(u64::from(pid), 1);
            out.push_bytes(b" outcome=success");
            key(&mut out, field::APP_VERSION);
            out.push_uint(u64::from(rule.app_version), 1);
            out
        }
        Lifecycle::Skipped { rule, reason } => {
            let mut out = engine_line_of(
                buf,
                14,
                "Low",
                unix_millis,
                hostname,
                process,
                pid,
                rule,
                "Load Rule",
            );
            out.push_bytes(b" outcome=failure reason=");
            extension_value(&mut out, reason);
            out
        }
        Lifecycle::Reloaded { success, msg } => {
            let (pri, severity, outcome) = if *success {
                (14, "Low", "success")
            } else {
                (10, "High", "failure")
            };
            let mut out = engine_line_of(
                buf,
                pri,
                severity,
                unix_millis,
                hostname,
                process,
                pid,
                "Engine",
                "Reload Rules",
            );
            let _ = write!(out, " outcome={outcome}");
            key(&mut out, field::MSG);
            extension_value(&mut out, msg);
            out
        }
        Lifecycle::SyntaxError { msg } => {
            let mut out = engine_line_of(
                buf,
                9,
                "Very-High",
                unix_millis,
                hostname,
                process,
                pid,
                "Engine",
                "Syntax Error",
            );
            out.push_bytes(b" outcome=failure");
            key(&mut out, field::MSG);
            extension_value(&mut out, msg);
            out
        }
    };
    out.end_line();
    out.len
}

/// The start of a line armr writes about itself rather than about a rule: the syslog header, the
/// CEF header with `signature` and `name`, then `rt`, `dvchost` and `procid`.
fn engine_line<'b>(
    buf: &'b mut [u8],
    unix_millis: u64,
    hostname: &str,
    process: &str,
    pid: u32,
    signature: &str,
    name: &str,
) -> LineBuffer<'b> {
    engine_line_of(
        buf,
        12,
        "Medium",
        unix_millis,
        hostname,
        process,
        pid,
        signature,
        name,
    )
}

/// [`engine_line`] with its syslog PRI and CEF severity given.
#[allow(clippy::too_many_arguments)]
fn engine_line_of<'b>(
    buf: &'b mut [u8],
    pri: u32,
    severity: &str,
    unix_millis: u64,
    hostname: &str,
    process: &str,
    pid: u32,
    signature: &str,
    name: &str,
) -> LineBuffer<'b> {
    let mut out = LineBuffer::new(buf);
    let t = UtcTime::from_unix_millis(unix_millis);
    syslog_header(&mut out, pri, &t, hostname, process, pid);
    let _ = write!(out, "CEF:0|ARMR|armr|{}|", env!("CARGO_PKG_VERSION"));
    header_field(&mut out, signature);
    let _ = write!(out, "|{name}|{severity}|");
    cef_time(&mut out, &t);
    key(&mut out, field::DVCHOST);
    extension_value(&mut out, hostname);
    key(&mut out, field::PROCID);
    out.push_uint(u64::from(pid), 1);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::{Condition, LanguageVersion, Location, LogMetadata};
    use std::sync::Arc;

    fn app_and_rule(message: &str) -> (App, SocketRule) {
        let location = Location {
            file: "t.armr".into(),
            line: 1,
            column: 1,
        };
        let rule = SocketRule {
            name: "Socket rule protect".into(),
            condition: Condition::Bind {
                client: None,
                server: None,
            },
            action: Action::Protect,
            message: Some(message.into()),
            severity: Severity::High,
            stacktrace: false,
            log_metadata: LogMetadata::default(),
            location: location.clone(),
        };
        let app = App {
            name: "Walter".into(),
            language: LanguageVersion::armr(2, 8),
            version: 1,
            log_metadata: Arc::from([]),
            rules: vec![],
            location,
        };
        (app, rule)
    }

    #[test]
    fn the_size_bound_holds_for_the_longest_fields() {
        // Every byte escaped to two, the longest numbers and address, metadata, a stack trace.
        let worst = "\\=|\n".repeat(40);
        let (mut app, mut rule) = app_and_rule(&worst);
        app.name = worst.clone();
        app.version = u32::MAX;
        app.language = LanguageVersion::armr(255, 255);
        rule.name = worst.clone().into();
        rule.severity = Severity::VeryHigh;
        rule.log_metadata =
            vec![("k".repeat(10), worst.clone()), ("x".into(), worst.clone())].into();
        let hostname = format!("h={}", "\\".repeat(150));
        for (address, kind, stack) in [
            (
                "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535",
                EventKind::BindServer,
                None,
            ),
            (
                "255.255.255.255:65535",
                EventKind::Connect,
                Some(worst.as_str()),
            ),
        ] {
            let event = Event {
                unix_millis: 253_402_300_799_999,
                hostname: &hostname,
                process: "p".repeat(60).leak(),
                pid: u32::MAX,
                rule: EventRule::of(&app, &rule),
                kind,
                action: Action::Protect,
                address: address.parse().unwrap(),
                stacktrace: stack,
                count: Some(u64::MAX),
                transport: None,
            };
            let mut buf = vec![0u8; 65536];
            let n = format_event(&event, &mut buf);
            assert!(
                n <= max_event_len(&event),
                "{n} > {}",
                max_event_len(&event)
            );
            // The fixed text alone, with one-byte names and no message: what the 512 covers.
            let (mut short_app, mut short_rule) = app_and_rule("");
            short_app.name = "a".into();
            short_app.version = u32::MAX;
            short_app.language = LanguageVersion::armr(255, 255);
            short_rule.name = "r".into();
            short_rule.message = None;
            short_rule.severity = Severity::VeryHigh;
            let short = Event {
                hostname: "h",
                process: "p",
                rule: EventRule::of(&short_app, &short_rule),
                stacktrace: None,
                ..event
            };
            let n = format_event(&short, &mut buf);
            let values = 2 * (2 + 1) + 3 + 1;
            assert!(n <= max_event_len(&short) - values, "fixed text {n} bytes");
        }
    }

    #[test]
    fn the_reference_pages_connect_event() {
        let (app, rule) = app_and_rule("Socket rule protect 0.0.0.0:80");
        // 2021-03-22T11:05:20.331Z
        let event = Event {
            unix_millis: 1_616_411_120_331,
            hostname: "jenkins-qa-slave-centos.aws.waratek.lan",
            process: "java",
            pid: 6442,
            rule: EventRule::of(&app, &rule),
            kind: EventKind::Connect,
            action: Action::Protect,
            address: "74.125.193.105:80".parse().unwrap(),
            stacktrace: None,
            count: None,
            transport: None,
        };
        let mut buf = [0u8; 1024];
        let n = format_event(&event, &mut buf);
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            "<10>1 2021-03-22T11:05:20.331Z jenkins-qa-slave-centos.aws.waratek.lan java 6442 - - CEF:0|ARMR:Walter|Walter|2.8|Socket rule protect|Execute Rule|High|rt=Mar 22 2021 11:05:20.331 +0000 dvchost=jenkins-qa-slave-centos.aws.waratek.lan procid=6442 appVersion=1 ruleType=socket securityFeature=socket connect act=protect msg=Socket rule protect 0.0.0.0:80 remoteIpAddress=74.125.193.105 remotePort=80\n"
        );
    }

    #[test]
    fn nothing_a_rule_or_peer_controls_can_split_a_line_or_forge_a_field() {
        let (mut app, mut rule) = app_and_rule("a=b\\c\nact=allow\r|x");
        app.name = "My|App\\\nx".into();
        rule.name = "r|1\nr".into();
        rule.log_metadata = vec![("team".into(), "x=y\nz".into())].into();
        let event = Event {
            unix_millis: 0,
            hostname: "h o\nst",
            process: "pro cess\u{e9}",
            pid: 1,
            rule: EventRule::of(&app, &rule),
            kind: EventKind::BindServer,
            action: Action::Detect,
            address: "[::1]:5".parse().unwrap(),
            stacktrace: Some("f (m+0x1)\ng=h"),
            count: Some(3),
            transport: None,
        };
        let mut buf = [0u8; 1024];
        let n = format_event(&event, &mut buf);
        let line = std::str::from_utf8(&buf[..n]).unwrap();
        assert_eq!(line.matches('\n').count(), 1);
        assert_eq!(
            line,
            "<10>1 1970-01-01T00:00:00.000Z h_o_st pro_cess__ 1 - - CEF:0|ARMR:My\\|App\\\\ x|My\\|App\\\\ x|2.8|r\\|1 r|Execute Rule|High|rt=Jan 01 1970 00:00:00.000 +0000 dvchost=h o\\nst procid=1 appVersion=1 ruleType=socket securityFeature=socket serverbind act=detect msg=a\\=b\\\\c\\nact\\=allow\\r|x stacktrace=f (m+0x1)\\ng\\=h team=x\\=y\\nz cnt=3 localIpAddress=::1 localPort=5\n"
        );
    }

    /// The extension keys of a line: each word before an unescaped `=` that follows a space or
    /// the header's last `|`.
    fn extension_keys(line: &str) -> Vec<String> {
        let extension = &line[line.find("|rt=").expect("rt") + 1..];
        let mut keys = Vec::new();
        let bytes = extension.as_bytes();
        for (i, _) in extension.match_indices('=') {
            if i > 0 && bytes[i - 1] == b'\\' {
                continue;
            }
            let start = extension[..i].rfind(' ').map_or(0, |s| s + 1);
            let key = &extension[start..i];
            if !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                keys.push(key.to_string());
            }
        }
        keys
    }

    /// The writer writes the fields of `vocabulary::EVENT_FIELDS`, in that order, and no other
    /// field of its own: the list the validator keeps metadata `log` keys away from.
    #[test]
    fn the_writer_writes_the_vocabularys_event_fields_in_order() {
        use crate::language::vocabulary::EVENT_FIELDS;
        let (app, mut rule) = app_and_rule("m");
        rule.log_metadata = vec![("creation-time".into(), "2022 Dec 03".into())].into();
        let mut written = Vec::new();
        for (kind, address) in [
            (EventKind::BindServer, "127.0.0.1:5"),
            (EventKind::Connect, "[::1]:6"),
        ] {
            let event = Event {
                unix_millis: 0,
                hostname: "h",
                process: "p",
                pid: 1,
                rule: EventRule::of(&app, &rule),
                kind,
                action: Action::Protect,
                address: address.parse().unwrap(),
                stacktrace: Some("f (m+0x1)"),
                count: Some(2),
                transport: None,
            };
            let mut buf = [0u8; 1024];
            let n = format_event(&event, &mut buf);
            let keys = extension_keys(std::str::from_utf8(&buf[..n]).unwrap());
            let own: Vec<&str> = keys
                .iter()
                .map(String::as_str)
                .filter(|k| *k != "creation-time")
                .collect();
            let in_list: Vec<&str> = EVENT_FIELDS
                .iter()
                .copied()
                .filter(|f| own.contains(f))
                .collect();
            assert_eq!(own, in_list, "{keys:?}");
            let metadata_at = keys.iter().position(|k| k == "creation-time").unwrap();
            assert_eq!(keys[metadata_at - 1], "stacktrace");
            assert_eq!(keys[metadata_at + 1], "cnt");
            written.extend(own.iter().map(|k| k.to_string()));
        }
        for field in EVENT_FIELDS {
            assert!(written.iter().any(|w| w == field), "{field} never written");
        }
    }

    /// Lines of the `json` format with values that need every escape, long enough to be cut, are
    /// each one object python's json module reads, with the values back as they were (or cut,
    /// ending in `[truncated]`); every format stays within its size bound.
    #[test]
    fn a_json_line_stays_one_valid_object_whatever_its_values() {
        let worst = "\"\\\n\t\u{1}é=|".repeat(30);
        let (mut app, mut rule) = app_and_rule(&worst);
        app.name = "a\"pp".into();
        rule.name = "r\"\n".into();
        rule.log_metadata = vec![("k\"".into(), worst.clone())].into();
        let mut lines = Vec::new();
        for (size, stack) in [
            (65536, Some(worst.as_str())),
            (700, None),
            (1200, Some("f\"1\nf2")),
        ] {
            let mut event = accept_event(&app, &rule, stack);
            event.hostname = "h\"x";
            event.process = "p\\q";
            event.count = Some(7);
            for format in [LogFormat::Armr, LogFormat::Cef, LogFormat::Json] {
                let mut big = vec![0u8; 65536];
                let n = format_event_as(format, &event, &mut big);
                assert!(n <= max_event_len_as(format, &event), "{format:?}: {n}");
            }
            let mut buf = vec![0u8; size];
            let n = format_event_as(LogFormat::Json, &event, &mut buf);
            assert!(n <= size && buf[n - 1] == b'\n');
            lines.push(String::from_utf8(buf[..n].to_vec()).unwrap());
        }
        let script = "import json,sys\n\
            for l in sys.stdin.read().split('\\n')[:-1]:\n\
            \to=json.loads(l)\n\
            \tprint(repr(o['rule']['name']), o['source']['ip'], o['event']['count'], o['process']['name'], o['host']['hostname'])\n";
        let mut child = std::process::Command::new("python3")
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(lines.concat().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            lines.concat()
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "'r\"\\n' 10.0.0.1 7 p\\q h\"x\n".repeat(3)
        );
        let (full, cut) = (&lines[0], &lines[1]);
        assert!(
            full.contains("\\u0001") && !full.contains(TRUNCATED),
            "{full}"
        );
        assert!(cut.contains("[truncated]\""), "{cut}");
    }

    fn accept_event<'a>(app: &'a App, rule: &'a SocketRule, stack: Option<&'a str>) -> Event<'a> {
        Event {
            unix_millis: 0,
            hostname: "h",
            process: "p",
            pid: 1,
            rule: EventRule::of(app, rule),
            kind: EventKind::Accept,
            action: Action::Protect,
            address: "10.0.0.1:1".parse().unwrap(),
            stacktrace: stack,
            count: None,
            transport: None,
        }
    }

    /// Undoes CEF extension escaping; `None` for a cut escape.
    fn unescape(value: &str) -> Option<String> {
        let mut out = String::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            out.push(match (c, c == '\\') {
                (_, false) => c,
                (_, true) => match chars.next()? {
                    'n' => '\n',
                    'r' => '\r',
                    c @ ('\\' | '=') => c,
                    _ => return None,
                },
            });
        }
        Some(out)
    }

    #[test]
    fn a_long_message_is_cut_and_the_fields_after_it_kept() {
        let (app, rule) = app_and_rule(&"é".repeat(1000));
        let event = accept_event(&app, &rule, None);
        let mut buf = [0u8; 300];
        let n = format_event(&event, &mut buf);
        assert!((299..=300).contains(&n), "{n}");
        let line = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(
            line.ends_with("é[truncated] remoteIpAddress=10.0.0.1 remotePort=1\n"),
            "{line}"
        );
    }

    /// Every place a cut can fall, in a message of escapes and characters of 1 to 4 bytes: the
    /// line is full to within a character, valid UTF-8, no escape cut, the fields after kept.
    #[test]
    fn a_cut_never_splits_a_character_or_an_escape() {
        let message: String = "a=\\é\n日\r🦀 ".repeat(60);
        let (app, mut rule) = app_and_rule(&message);
        rule.log_metadata = vec![("team".into(), "red".into())].into();
        let event = accept_event(&app, &rule, Some("f (m+0x1)"));
        let whole = {
            let mut buf = vec![0u8; 4096];
            let n = format_event(&event, &mut buf);
            buf.truncate(n);
            buf
        };
        let end =
            "[truncated] stacktrace=f (m+0x1) team=red remoteIpAddress=10.0.0.1 remotePort=1\n";
        // From the size where the message keeps nothing but the marker.
        let smallest = whole.len() - escaped_len(&message, extension_escape) + TRUNCATED.len() + 1;
        for size in smallest..whole.len() {
            let mut buf = vec![0u8; size];
            let n = format_event(&event, &mut buf);
            let line = std::str::from_utf8(&buf[..n]).unwrap();
            assert!(n + 4 > size && n <= size, "{size}: {n} bytes");
            let cut = line
                .split_once(" msg=")
                .and_then(|(_, rest)| rest.strip_suffix(end))
                .unwrap_or_else(|| panic!("{size}: {line}"));
            let kept = unescape(cut).unwrap_or_else(|| panic!("{size}: a cut escape in {cut:?}"));
            assert!(message.starts_with(&kept), "{size}: {kept:?}");
        }
        let mut buf = vec![0u8; whole.len()];
        assert_eq!(
            format_event(&event, &mut buf),
            whole.len(),
            "what fits is not cut"
        );
        assert_eq!(buf, whole);
    }

    /// The message goes first, to nothing; then the stack trace, then metadata values.
    #[test]
    fn after_the_message_the_stack_trace_then_the_metadata_are_cut() {
        let (app, mut rule) = app_and_rule("a message to cut");
        rule.log_metadata = vec![("k".into(), "v".repeat(200)), ("x".into(), "y".into())].into();
        let frames = "frame\n".repeat(100);
        let event = accept_event(&app, &rule, Some(&frames));
        let mut buf = [0u8; 600];
        let n = format_event(&event, &mut buf);
        let line = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(n > 596, "{n}: {line}");
        let tail = line.split_once(" act=protect").unwrap().1;
        let (before, after) = tail.split_once(" k=").unwrap();
        assert!(
            before.starts_with(" msg=[truncated] stacktrace=frame\\nframe"),
            "{before}"
        );
        assert!(before.ends_with("[truncated]"), "{before}");
        assert_eq!(
            after,
            format!(
                "{} x=y remoteIpAddress=10.0.0.1 remotePort=1\n",
                "v".repeat(200)
            )
        );
        // Smaller still: the stack trace goes to nothing and the metadata is cut.
        let mut buf = [0u8; 400];
        let n = format_event(&event, &mut buf);
        let line = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(
            line.contains(" msg=[truncated] stacktrace=[truncated] k=vvv"),
            "{line}"
        );
        assert!(
            line.ends_with("v[truncated] x=y remoteIpAddress=10.0.0.1 remotePort=1\n"),
            "{line}"
        );
    }

    /// A rule's metadata overlaid on the app's shared entries writes the same line, whole and cut,
    /// as the same entries held by the rule alone: app order, the rule's value in place, then
    /// the rule's new keys.
    #[test]
    fn metadata_overlaid_on_the_apps_writes_the_same_line_whole_and_cut() {
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let (app, mut flat) = app_and_rule("m");
        let long = "v".repeat(150);
        let shared: Arc<[_]> = pairs(&[("team", "blue"), ("env", &long), ("tier", "0")]).into();
        let mut overlaid = flat.clone();
        overlaid.log_metadata =
            LogMetadata::overlay(shared, pairs(&[("owner", "secops"), ("env", "prod=1")]));
        flat.log_metadata = pairs(&[
            ("team", "blue"),
            ("env", "prod=1"),
            ("tier", "0"),
            ("owner", "secops"),
        ])
        .into();
        for size in [4096, 330, 300] {
            let line = |rule: &SocketRule| {
                let mut buf = vec![0u8; size];
                let n = format_event(&accept_event(&app, rule, Some(&long)), &mut buf);
                String::from_utf8(buf[..n].to_vec()).unwrap()
            };
            assert_eq!(line(&overlaid), line(&flat), "{size}");
            if size == 4096 {
                assert!(
                    line(&overlaid).contains(" team=blue env=prod\\=1 tier=0 owner=secops "),
                    "{}",
                    line(&overlaid)
                );
            }
        }
        let event = accept_event(&app, &overlaid, None);
        assert_eq!(
            max_event_len(&event),
            max_event_len(&accept_event(&app, &flat, None))
        );
    }

    /// Names alone longer than the line: it is cut at the end, and still ends the line.
    #[test]
    fn a_line_whose_names_do_not_fit_is_cut_at_the_end() {
        let (app, mut rule) = app_and_rule("m");
        rule.name = "é".repeat(1000).into();
        let event = accept_event(&app, &rule, None);
        let mut buf = [0u8; 300];
        let n = format_event(&event, &mut buf);
        assert!((298..=300).contains(&n), "{n}");
        assert!(std::str::from_utf8(&buf[..n]).unwrap().ends_with("é\n"));
    }

    #[test]
    fn the_dropped_events_report() {
        let mut buf = [0u8; 512];
        let n = format_dropped(0, "h", "p", 7, 42, &mut buf);
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            format!(
                "<12>1 1970-01-01T00:00:00.000Z h p 7 - - CEF:0|ARMR|armr|{}|events dropped|Events dropped|Medium|rt=Jan 01 1970 00:00:00.000 +0000 dvchost=h procid=7 cnt=42 msg=42 events were dropped: the log destination was unavailable or too slow\n",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn the_unresolved_hostname_report() {
        let mut buf = [0u8; 1024];
        let report = crate::policy::Unresolved {
            kind: EventKind::Connect,
            name: "db.test",
            reason: "no answer within 10 s, the resolver's timeout",
            rules: 2,
        };
        let n = format_unresolved(0, "h", "p", 7, &report, &mut buf);
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            format!(
                "<12>1 1970-01-01T00:00:00.000Z h p 7 - - CEF:0|ARMR|armr|{}|hostname unresolved|Resolve Hostname|Medium|rt=Jan 01 1970 00:00:00.000 +0000 dvchost=h procid=7 securityFeature=socket connect outcome=failure dhost=db.test cnt=2 reason=no answer within 10 s, the resolver's timeout msg=hostname db.test in the rules does not resolve: its rules match nothing\n",
                env!("CARGO_PKG_VERSION")
            )
        );
        let accept = crate::policy::Unresolved {
            kind: EventKind::Accept,
            reason: "a=b",
            ..report
        };
        let n = format_unresolved(0, "h", "p", 7, &accept, &mut buf);
        let line = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(
            line.contains(" securityFeature=socket accept outcome=failure shost=db.test cnt=2 reason=a\\=b msg="),
            "{line}"
        );
    }

    #[test]
    fn the_lifecycle_events() {
        let mut buf = [0u8; 1024];
        let (app, rule) = app_and_rule("m");
        let rule = EventRule::of(&app, &rule);
        let v = env!("CARGO_PKG_VERSION");
        let line = |event: &Lifecycle<'_>, buf: &mut [u8]| {
            let n = format_lifecycle(0, "h", "p", 7, event, buf);
            String::from_utf8(buf[..n].to_vec()).unwrap()
        };
        let t = "1970-01-01T00:00:00.000Z h p 7 - - ";
        let rt = "rt=Jan 01 1970 00:00:00.000 +0000 dvchost=h procid=7";
        assert_eq!(
            line(&Lifecycle::Loaded(&rule), &mut buf),
            format!(
                "<14>1 {t}CEF:0|ARMR:Walter|Walter|2.8|Socket rule protect|Load Rule|Low|{rt} outcome=success appVersion=1\n"
            )
        );
        let skipped = Lifecycle::Skipped {
            rule: "a|b",
            reason: "x=y",
        };
        assert!(skipped.is_failure());
        assert_eq!(
            line(&skipped, &mut buf),
            format!(
                "<14>1 {t}CEF:0|ARMR|armr|{v}|a\\|b|Load Rule|Low|{rt} outcome=failure reason=x\\=y\n"
            )
        );
        let reloaded = Lifecycle::Reloaded {
            success: true,
            msg: "New ARMR policy has been applied",
        };
        assert!(!reloaded.is_failure());
        assert_eq!(
            line(&reloaded, &mut buf),
            format!(
                "<14>1 {t}CEF:0|ARMR|armr|{v}|Engine|Reload Rules|Low|{rt} outcome=success msg=New ARMR policy has been applied\n"
            )
        );
        assert_eq!(
            line(
                &Lifecycle::Reloaded {
                    success: false,
                    msg: "kept"
                },
                &mut buf
            ),
            format!(
                "<10>1 {t}CEF:0|ARMR|armr|{v}|Engine|Reload Rules|High|{rt} outcome=failure msg=kept\n"
            )
        );
        assert_eq!(
            line(
                &Lifecycle::SyntaxError {
                    msg: "r.armr:1:1: error: `app` block is never closed"
                },
                &mut buf
            ),
            format!(
                "<9>1 {t}CEF:0|ARMR|armr|{v}|Engine|Syntax Error|Very-High|{rt} outcome=failure msg=r.armr:1:1: error: `app` block is never closed\n"
            )
        );
    }

    #[test]
    fn dates_across_eras() {
        let t = UtcTime::from_unix_millis(951_782_400_123); // 2000-02-29T00:00:00.123Z
        assert_eq!((t.year, t.month, t.day, t.millis), (2000, 2, 29, 123));
        let t = UtcTime::from_unix_millis(4_102_444_799_999); // 2099-12-31T23:59:59.999Z
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.second),
            (2099, 12, 31, 23, 59, 59)
        );
    }
}
