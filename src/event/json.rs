//! The `json` format: one JSON object per line, with Elastic Common Schema field names
//! (docs/logging.md lists each). Written into the caller's buffer like the CEF line: no
//! allocation, values cut to fit in the same order (message, stack trace, metadata values).

use super::{
    Event, LineBuffer, TRUNCATED, UtcTime, address_is_source, cuts, escaped_prefix, fixed, outcome,
    push_ip, room, security_feature, syslog_severity,
};
use crate::language::Action;
use crate::policy::EventKind;

/// `\u00XX` for each control byte, as JSON requires.
static CONTROL: [[u8; 6]; 32] = {
    let mut table = [[0u8; 6]; 32];
    let hex = b"0123456789abcdef";
    let mut i = 0;
    while i < 32 {
        table[i] = [b'\\', b'u', b'0', b'0', hex[i >> 4], hex[i & 15]];
        i += 1;
    }
    table
};

/// JSON string escapes: `"` and `\`, control bytes as `\n`, `\r`, `\t` or `\u00XX`.
pub(super) fn json_escape(b: u8) -> Option<&'static [u8]> {
    match b {
        b'"' => Some(b"\\\""),
        b'\\' => Some(b"\\\\"),
        b'\n' => Some(b"\\n"),
        b'\r' => Some(b"\\r"),
        b'\t' => Some(b"\\t"),
        0..=31 => Some(&CONTROL[b as usize]),
        _ => None,
    }
}

/// `"s"`, escaped.
fn string(out: &mut LineBuffer<'_>, s: &str) {
    out.push_bytes(b"\"");
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if (b < 32 || b == b'"' || b == b'\\')
            && let Some(replacement) = json_escape(b)
        {
            out.push_bytes(&bytes[run..i]);
            out.push_bytes(replacement);
            run = i + 1;
        }
    }
    out.push_bytes(&bytes[run..]);
    out.push_bytes(b"\"");
}

/// `"s"`, in at most `room` escaped bytes when given, then [`TRUNCATED`].
fn string_within(out: &mut LineBuffer<'_>, s: &str, room: Option<usize>) {
    match room {
        None => string(out, s),
        Some(room) => {
            let kept = escaped_prefix(s, room, json_escape);
            out.push_bytes(b"\"");
            // `kept` is escaped by `string` without its quotes: write it through a copy of the
            // loop, quotes added here.
            let bytes = kept.as_bytes();
            let mut run = 0;
            for (i, &b) in bytes.iter().enumerate() {
                if let Some(replacement) = json_escape(b) {
                    out.push_bytes(&bytes[run..i]);
                    out.push_bytes(replacement);
                    run = i + 1;
                }
            }
            out.push_bytes(&bytes[run..]);
            out.push_bytes(TRUNCATED.as_bytes());
            out.push_bytes(b"\"");
        }
    }
}

/// `,"name":`
fn key(out: &mut LineBuffer<'_>, name: &str) {
    out.push_bytes(b",\"");
    out.push_bytes(name.as_bytes());
    out.push_bytes(b"\":");
}

/// ECS `event.action`: what the program did.
pub fn action(kind: EventKind) -> &'static str {
    match kind {
        EventKind::BindServer => "bind-server",
        EventKind::BindClient => "bind-client",
        EventKind::Connect => "connect",
        EventKind::Accept => "accept",
    }
}

pub(super) fn format(event: &Event<'_>, buf: &mut [u8]) -> usize {
    let (len, wanted) = write(event, buf, None);
    if wanted < buf.len() {
        return len;
    }
    let cut = cuts(event, wanted + 1 - buf.len(), json_escape);
    write(event, buf, Some(cut)).0
}

fn write(event: &Event<'_>, buf: &mut [u8], cut: Option<(usize, usize)>) -> (usize, usize) {
    let value_room = |i: usize, value: &str| {
        cut.and_then(|_| room(cut, i, super::escaped_len(value, json_escape)))
    };
    let mut out = LineBuffer::new(buf);
    let t = UtcTime::from_unix_millis(event.unix_millis);
    out.push_bytes(b"{\"@timestamp\":\"");
    out.push_bytes(&fixed::<4>(t.year.clamp(0, 9999) as u32));
    let [m0, m1] = fixed::<2>(t.month);
    let [d0, d1] = fixed::<2>(t.day);
    out.push_bytes(&[b'-', m0, m1, b'-', d0, d1, b'T']);
    out.push_bytes(&t.clock);
    out.push_bytes(
        b"Z\",\"event\":{\"kind\":\"event\",\"module\":\"armr\",\"category\":[\"network\"]",
    );
    key(&mut out, "type");
    out.push_bytes(match event.action {
        Action::Protect => b"[\"connection\",\"denied\"]".as_slice(),
        Action::Allow | Action::Detect => b"[\"connection\",\"allowed\"]".as_slice(),
    });
    key(&mut out, "action");
    string(&mut out, action(event.kind));
    key(&mut out, "outcome");
    string(&mut out, outcome(event.action));
    key(&mut out, "severity");
    out.push_uint(u64::from(syslog_severity(event.rule.severity)), 1);
    if let Some(count) = event.count {
        key(&mut out, "count");
        out.push_uint(count, 1);
    }
    out.push_bytes(b"}");
    key(
        &mut out,
        if address_is_source(event.kind) {
            "source"
        } else {
            "destination"
        },
    );
    out.push_bytes(b"{\"ip\":\"");
    push_ip(&mut out, event.address.ip());
    out.push_bytes(b"\",\"port\":");
    out.push_uint(u64::from(event.address.port()), 1);
    out.push_bytes(b"}");
    if let Some(transport) = event.transport {
        key(&mut out, "network");
        out.push_bytes(match transport {
            crate::verdict::Transport::Tcp => b"{\"transport\":\"tcp\"}",
            crate::verdict::Transport::Udp => b"{\"transport\":\"udp\"}",
        });
    }
    key(&mut out, "process");
    out.push_bytes(b"{\"pid\":");
    out.push_uint(u64::from(event.pid), 1);
    key(&mut out, "name");
    string(&mut out, event.process);
    out.push_bytes(b"}");
    key(&mut out, "rule");
    out.push_bytes(b"{\"name\":");
    string(&mut out, event.rule.name);
    key(&mut out, "ruleset");
    string(&mut out, event.rule.app_name);
    key(&mut out, "version");
    out.push_bytes(b"\"");
    out.push_uint(u64::from(event.rule.app_version), 1);
    out.push_bytes(b"\"}");
    key(&mut out, "host");
    out.push_bytes(b"{\"hostname\":");
    string(&mut out, event.hostname);
    out.push_bytes(b"}");
    if let Some(message) = event.rule.message {
        key(&mut out, "message");
        string_within(&mut out, message, value_room(0, message));
    }
    if !event.rule.log_metadata.is_empty() {
        key(&mut out, "labels");
        for (i, (name, value)) in event.rule.log_metadata.iter().enumerate() {
            out.push_bytes(if i == 0 { b"{" } else { b"," });
            string(&mut out, name);
            out.push_bytes(b":");
            string_within(&mut out, value, value_room(2 + i, value));
        }
        out.push_bytes(b"}");
    }
    key(&mut out, "armr");
    out.push_bytes(b"{\"act\":");
    string(&mut out, event.action.as_str());
    key(&mut out, "security_feature");
    string(&mut out, security_feature(event.kind));
    key(&mut out, "severity");
    string(&mut out, event.rule.severity.name());
    key(&mut out, "language");
    out.push_bytes(b"\"");
    out.push_uint(u64::from(event.rule.language.major), 1);
    out.push_bytes(b".");
    out.push_uint(u64::from(event.rule.language.minor), 1);
    out.push_bytes(b"\"");
    if let Some(frames) = event.stacktrace {
        key(&mut out, "stacktrace");
        string_within(&mut out, frames, value_room(1, frames));
    }
    out.push_bytes(b"}}");
    let wanted = out.wanted;
    out.end_line();
    (out.len, wanted)
}

/// A line that is not a rule's event (lifecycle, dropped counts, unresolved names), for a `json`
/// destination: `{"event":{"kind":"event","module":"armr"},"message":LINE}`, LINE without its
/// `\n`, cut to fit.
pub fn format_message(line: &[u8], buf: &mut [u8]) -> usize {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let text = std::str::from_utf8(line).unwrap_or("");
    let mut out = LineBuffer::new(buf);
    let head = b"{\"event\":{\"kind\":\"event\",\"module\":\"armr\"},\"message\":";
    out.push_bytes(head);
    let room = out
        .buf
        .len()
        .saturating_sub(head.len() + 2 + TRUNCATED.len() + 2);
    let fits = super::escaped_len(text, json_escape) <= room;
    string_within(&mut out, text, (!fits).then_some(room));
    out.push_bytes(b"}");
    out.end_line();
    out.len
}
