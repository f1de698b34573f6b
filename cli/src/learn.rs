//! `armr learn`: a minimal rules file from armr's events. Each observed socket call (kind,
//! address, port) becomes an allow rule, grouped into port ranges and CIDR blocks only as far as
//! `--widen-ports`/`--widen-prefix` allow; a protect catch-all per kind refuses the rest.
//!
//! Reading is one function per log format (`Format::parse`), each turning one line into an
//! [`Observation`] or nothing (a lifecycle event, a dropped-events report, another program's line).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct LearnArgs {
    /// Logs of armr events to read (`-` or none: standard input)
    #[arg(long = "from", value_name = "LOG")]
    from: Vec<PathBuf>,
    /// Write the rules here (default: standard output)
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The format of the events
    #[arg(long, value_enum, default_value_t = Format::Armr)]
    format: Format,
    /// The app's name in the rules written
    #[arg(long, value_name = "NAME", default_value = "Learned")]
    app: String,
    /// Merge the ports seen for one kind and address into one range when it spans at most N
    /// ports (1: exact ports only)
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=65535))]
    widen_ports: u32,
    /// Merge the IPv4 addresses seen for one kind and port into a CIDR block of prefix length
    /// at least N (32: exact addresses only; connect and accept, which alone take blocks)
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u8).range(0..=32))]
    widen_prefix: u8,
    /// The same for IPv6 addresses (128: exact addresses only)
    #[arg(long, value_name = "N", default_value_t = 128, value_parser = clap::value_parser!(u8).range(0..=128))]
    widen_prefix6: u8,
}

/// The formats `armr learn` reads: one parsing function each.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// armr's default line: RFC 5424 syslog with the vendor's CEF record (docs/logging.md)
    Armr,
    /// The `cef` format: the address from the ArcSight keys (src/spt, dst/dpt)
    Cef,
    /// The `json` format: one ECS object per line (event.action, source.*/destination.*)
    Json,
}

impl Format {
    fn parse(self, line: &str) -> Option<Observation> {
        match self {
            Format::Armr => parse_armr(line),
            Format::Cef => parse_cef(line),
            Format::Json => parse_json(line),
        }
    }
}

/// The four kinds of socket call a rule judges.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Kind {
    ServerBind,
    ClientBind,
    Connect,
    Accept,
}

impl Kind {
    fn condition(self, address: &str) -> String {
        match self {
            Kind::ServerBind => format!("bind(server: \"{address}\")"),
            Kind::ClientBind => format!("bind(client: \"{address}\")"),
            Kind::Connect => format!("connect(\"{address}\")"),
            Kind::Accept => format!("accept(\"{address}\")"),
        }
    }

    fn word(self) -> &'static str {
        match self {
            Kind::ServerBind => "server bind",
            Kind::ClientBind => "client bind",
            Kind::Connect => "connect",
            Kind::Accept => "accept",
        }
    }

    /// Only connect and accept take CIDR blocks.
    fn takes_blocks(self) -> bool {
        matches!(self, Kind::Connect | Kind::Accept)
    }
}

/// One socket call an event reports.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct Observation {
    pub kind: Kind,
    pub ip: IpAddr,
    pub port: u16,
}

/// One line of armr's default format: the CEF record's `securityFeature` and its address
/// fields. Lines that are not socket events (lifecycle, dropped reports) give nothing.
pub fn parse_armr(line: &str) -> Option<Observation> {
    let extension = cef_extension(line)?;
    let (kind, ip, port) = match kind_of(extension_value(extension, "securityFeature")?)? {
        kind @ (Kind::Connect | Kind::Accept) => (kind, "remoteIpAddress", "remotePort"),
        kind => (kind, "localIpAddress", "localPort"),
    };
    Some(Observation {
        kind,
        ip: last_value(extension, ip)?.parse().ok()?,
        port: last_value(extension, port)?.parse().ok()?,
    })
}

/// One line of the `cef` format: the kind from `securityFeature`, the address from the ArcSight
/// dictionary's keys, which a SIEM keeps when it keeps nothing else: `src`/`spt` for the
/// addresses that are the traffic's source (accept: the client; a client's bind: its own), else
/// `dst`/`dpt`.
pub fn parse_cef(line: &str) -> Option<Observation> {
    let extension = cef_extension(line)?;
    let kind = kind_of(extension_value(extension, "securityFeature")?)?;
    let (ip, port) = match kind {
        Kind::Accept | Kind::ClientBind => ("src", "spt"),
        Kind::Connect | Kind::ServerBind => ("dst", "dpt"),
    };
    Some(Observation {
        kind,
        ip: last_value(extension, ip)?.parse().ok()?,
        port: last_value(extension, port)?.parse().ok()?,
    })
}

/// One line of the `json` format (after a syslog header, when there is one): `event.action` and
/// `source` or `destination`. Lines of armr's own events (no `event.action`) give nothing.
pub fn parse_json(line: &str) -> Option<Observation> {
    let value: serde_json::Value = serde_json::from_str(&line[line.find('{')?..]).ok()?;
    let kind = match value["event"]["action"].as_str()? {
        "bind-server" => Kind::ServerBind,
        "bind-client" => Kind::ClientBind,
        "connect" => Kind::Connect,
        "accept" => Kind::Accept,
        _ => return None,
    };
    let address = match kind {
        Kind::Accept | Kind::ClientBind => &value["source"],
        Kind::Connect | Kind::ServerBind => &value["destination"],
    };
    Some(Observation {
        kind,
        ip: address["ip"].as_str()?.parse().ok()?,
        port: u16::try_from(address["port"].as_u64()?).ok()?,
    })
}

/// The kind a CEF record's `securityFeature` names.
fn kind_of(feature: &str) -> Option<Kind> {
    Some(match feature {
        "socket connect" => Kind::Connect,
        "socket accept" => Kind::Accept,
        "socket bind" => Kind::ClientBind,
        "socket serverbind" => Kind::ServerBind,
        _ => return None,
    })
}

/// The extension of the CEF record in `line` (after its seven header fields).
fn cef_extension(line: &str) -> Option<&str> {
    let cef = &line[line.find("CEF:0|")?..];
    // Seven header fields separated by `|` (a `|` inside one is written `\|`), then the extension.
    let mut fields = 0;
    let mut escaped = false;
    let mut start = None;
    for (i, c) in cef.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => {
                fields += 1;
                if fields == 7 {
                    start = Some(i + 1);
                    break;
                }
            }
            _ => escaped = false,
        }
    }
    Some(&cef[start?..])
}

/// The value of the last `key` in a CEF extension: the address keys come after the metadata
/// keys, which a rules file may name as it likes.
fn last_value<'a>(extension: &'a str, key: &str) -> Option<&'a str> {
    let pattern = format!(" {key}=");
    let at = extension.rfind(&pattern)?;
    extension_value(&extension[at + 1..], key)
}

/// The value of `key` in a CEF extension: from after `key=` to the next ` KEY=` (a key is
/// letters, digits, `_` and `-`; an `=` inside a value is written `\=`).
fn extension_value<'a>(extension: &'a str, key: &str) -> Option<&'a str> {
    let mut at = 0;
    let start = loop {
        let found = at + extension[at..].find(&format!("{key}="))?;
        if found == 0 || extension.as_bytes()[found - 1] == b' ' {
            break found + key.len() + 1;
        }
        at = found + 1;
    };
    let rest = &extension[start..];
    let bytes = rest.as_bytes();
    let mut end = rest.len();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'=' && (i == 0 || bytes[i - 1] != b'\\') {
            // The key before this `=` starts after the last space.
            end = rest[..i].rfind(' ').unwrap_or(0);
            break;
        }
    }
    Some(rest[..end].trim_end())
}

/// A rule's address and port: one address or a block, one port or a range (port 0: any).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Allowed {
    kind: Kind,
    ip: IpAddr,
    prefix: u8,
    ports: (u16, u16),
}

impl Allowed {
    fn covers_all(&self) -> bool {
        self.ip.is_unspecified() && self.ports == (0, 0)
    }

    fn address(&self) -> String {
        let full = if self.ip.is_ipv4() { 32 } else { 128 };
        let host = if self.prefix == full {
            self.ip.to_string()
        } else {
            format!("{}/{}", self.ip, self.prefix)
        };
        let host = if self.ip.is_ipv6() {
            format!("[{host}]")
        } else {
            host
        };
        match self.ports {
            (a, b) if a == b => format!("{host}:{a}"),
            (a, b) => format!("{host}:{a}-{b}"),
        }
    }
}

/// The allow rules for `seen`: ports merged per kind and address, then addresses merged per kind
/// and ports, never past the limits given.
fn group(seen: &BTreeSet<Observation>, widen_ports: u32, prefix4: u8, prefix6: u8) -> Vec<Allowed> {
    // A call on the any-address with any port (a listen on an unbound socket) matches only a rule
    // that covers every call of its kind: that rule alone, then.
    let everything: BTreeSet<Kind> = seen
        .iter()
        .filter(|o| o.ip.is_unspecified() && o.port == 0)
        .map(|o| o.kind)
        .collect();
    // Ports per (kind, address). Port 0 (any port) stands alone: it already covers the rest.
    let mut ports: BTreeMap<(Kind, IpAddr), Vec<u16>> = BTreeMap::new();
    for o in seen.iter().filter(|o| !everything.contains(&o.kind)) {
        ports.entry((o.kind, o.ip)).or_default().push(o.port);
    }
    let mut by_ports: BTreeMap<(Kind, (u16, u16)), Vec<IpAddr>> = BTreeMap::new();
    for ((kind, ip), mut list) in ports {
        list.sort_unstable();
        let ranges: Vec<(u16, u16)> = if list.contains(&0) {
            vec![(0, 0)]
        } else {
            let mut ranges: Vec<(u16, u16)> = Vec::new();
            for port in list {
                match ranges.last_mut() {
                    Some((first, last)) if u32::from(port - *first) < widen_ports => *last = port,
                    _ => ranges.push((port, port)),
                }
            }
            ranges
        };
        for range in ranges {
            by_ports.entry((kind, range)).or_default().push(ip);
        }
    }
    let mut rules: Vec<Allowed> = everything
        .into_iter()
        .map(|kind| Allowed {
            kind,
            ip: IpAddr::from([0, 0, 0, 0]),
            prefix: 32,
            ports: (0, 0),
        })
        .collect();
    for ((kind, ports), ips) in by_ports {
        for (ip, prefix) in blocks(&ips, kind.takes_blocks(), prefix4, prefix6) {
            rules.push(Allowed {
                kind,
                ip,
                prefix,
                ports,
            });
        }
    }
    rules
}

/// The addresses `ips` as blocks: those sharing their first `prefix` bits (per family) become the
/// smallest block holding them; each stays alone when blocks are not taken. The unspecified
/// address (a bind's any-address) always stays alone.
fn blocks(ips: &[IpAddr], take: bool, prefix4: u8, prefix6: u8) -> Vec<(IpAddr, u8)> {
    let bits = |ip: &IpAddr| -> (u128, u8) {
        match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(*v4)) << 96, 32),
            IpAddr::V6(v6) => (u128::from(*v6), 128),
        }
    };
    let mask = |len: u8| -> u128 {
        if len == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(len))
        }
    };
    let mut groups: BTreeMap<(bool, u128), Vec<u128>> = BTreeMap::new();
    let mut out = Vec::new();
    for ip in ips {
        let (value, full) = bits(ip);
        let limit = if full == 32 { prefix4 } else { prefix6 };
        if !take || limit == full || ip.is_unspecified() {
            out.push((*ip, full));
            continue;
        }
        groups
            .entry((full == 32, value & mask(limit)))
            .or_default()
            .push(value);
    }
    for ((v4, _), values) in groups {
        let first = values[0];
        let common = values
            .iter()
            .map(|v| (v ^ first).leading_zeros() as u8)
            .min()
            .unwrap_or(128);
        let full = if v4 { 32 } else { 128 };
        let len = common.min(full);
        let network = first & mask(len);
        let ip = if v4 {
            IpAddr::V4(((network >> 96) as u32).into())
        } else {
            IpAddr::V6(network.into())
        };
        out.push((ip, len));
    }
    out.sort();
    out
}

/// The rules file: the allow rules, then a protect catch-all per kind.
fn render(app: &str, rules: &[Allowed], sources: &str, events: usize) -> String {
    let mut text = format!(
        "# Learned by `armr learn` from {events} event{} ({sources}): allows what was seen,\n\
         # protects every other socket call of the four kinds. Review before enforcing.\n\n\
         app(\"{app}\"):\n    requires(version: ARMR/2.11)\n",
        if events == 1 { "" } else { "s" }
    );
    for rule in rules {
        let address = rule.address();
        text.push_str(&format!(
            "\n    socket(\"{} {address}\"):\n        {}\n        allow()\n    endsocket\n",
            rule.kind.word(),
            rule.kind.condition(&address)
        ));
    }
    for kind in [
        Kind::ServerBind,
        Kind::ClientBind,
        Kind::Connect,
        Kind::Accept,
    ] {
        if rules.iter().any(|r| r.kind == kind && r.covers_all()) {
            text.push_str(&format!(
                "\n    # No catch-all for {0}: a {0} on the any-address with any port was seen, \
                 which only a rule allowing every {0} lets through.\n",
                kind.word()
            ));
            continue;
        }
        text.push_str(&format!(
            "\n    socket(\"no other {}\"):\n        {}\n        protect(message: \"{} not seen while learning\", severity: High)\n    endsocket\n",
            kind.word(),
            kind.condition("0.0.0.0:0"),
            kind.word()
        ));
    }
    text.push_str("endapp\n");
    text
}

pub fn learn(args: LearnArgs) -> ExitCode {
    let mut seen = BTreeSet::new();
    let mut events = 0;
    let mut read = |reader: &mut dyn BufRead, name: &str| -> Result<(), String> {
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => return Ok(()),
                Ok(_) => {
                    if let Some(mut o) = args.format.parse(&String::from_utf8_lossy(&line)) {
                        // A client's port is chosen by its kernel: the next one differs.
                        if o.kind == Kind::Accept {
                            o.port = 0;
                        }
                        events += 1;
                        seen.insert(o);
                    }
                }
                Err(e) => return Err(format!("{name}: cannot read: {e}")),
            }
        }
    };
    let stdin = args.from.is_empty() || args.from.iter().any(|p| p.as_os_str() == "-");
    let mut names = Vec::new();
    for path in &args.from {
        if path.as_os_str() == "-" {
            continue;
        }
        let result = std::fs::File::open(path)
            .map_err(|e| format!("{}: cannot open: {e}", path.display()))
            .and_then(|f| read(&mut std::io::BufReader::new(f), &path.display().to_string()));
        if let Err(e) = result {
            eprintln!("armr: error: {e}");
            return ExitCode::FAILURE;
        }
        names.push(path.display().to_string());
    }
    if stdin {
        if let Err(e) = read(&mut std::io::stdin().lock(), "standard input") {
            eprintln!("armr: error: {e}");
            return ExitCode::FAILURE;
        }
        names.push("standard input".into());
    }
    if events == 0 {
        eprintln!(
            "armr: warning: no socket events read: the rules written protect every socket call"
        );
    }
    let rules = group(
        &seen,
        args.widen_ports,
        args.widen_prefix,
        args.widen_prefix6,
    );
    let text = render(
        &args.app.replace(['"', '\\'], "_"),
        &rules,
        &names.join(", "),
        events,
    );
    let written = match &args.output {
        Some(path) => std::fs::write(path, &text)
            .map_err(|e| format!("{}: cannot write: {e}", path.display())),
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| format!("standard output: {e}")),
    };
    if let Err(e) = written {
        eprintln!("armr: error: {e}");
        return ExitCode::FAILURE;
    }
    if let Some(path) = &args.output {
        eprintln!(
            "{}: {} allow rule{} from {events} event{}",
            path.display(),
            rules.len(),
            if rules.len() == 1 { "" } else { "s" },
            if events == 1 { "" } else { "s" }
        );
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(kind: Kind, ip: &str, port: u16) -> Observation {
        Observation {
            kind,
            ip: ip.parse().unwrap(),
            port,
        }
    }

    #[test]
    fn parses_the_default_line() {
        let line = "<10>1 2026-11-25T11:40:53.802Z vm bash 9885 - - CEF:0|ARMR:Demo|Demo|2.11|no egress|Execute Rule|High|rt=Nov 25 2026 11:40:53.802 +0000 dvchost=vm procid=9885 appVersion=1 ruleType=socket securityFeature=socket connect act=protect msg=outgoing connection blocked remoteIpAddress=127.0.0.1 remotePort=9";
        assert_eq!(parse_armr(line), Some(o(Kind::Connect, "127.0.0.1", 9)));
        let bind = "<12>1 t vm p 1 - - CEF:0|ARMR:A\\|B|A|2.11|r|Execute Rule|Medium|rt=x dvchost=vm procid=1 appVersion=1 ruleType=socket securityFeature=socket serverbind act=detect msg=a\\=b team=x localIpAddress=:: localPort=8080";
        assert_eq!(parse_armr(bind), Some(o(Kind::ServerBind, "::", 8080)));
        assert_eq!(parse_armr("not an event"), None);
    }

    #[test]
    fn parses_the_cef_and_json_lines() {
        // A metadata key named as an address key does not stand for the address: the address
        // keys are written last.
        let cef = "<14>1 2026-11-30T17:27:36.316Z vm python3 7030 - - CEF:0|ARMR:M|M|2.11|watch accepts|Execute Rule|Low|rt=1796059656316 dvchost=vm procid=7030 appVersion=1 ruleType=socket securityFeature=socket accept act=detect src=10.9.9.9 remoteIpAddress=127.0.0.1 remotePort=5 src=127.0.0.2 spt=40000 outcome=success dvcpid=7030 deviceProcessName=python3 cs1Label=ruleName cs1=watch accepts cs2Label=appName cs2=M";
        assert_eq!(parse_cef(cef), Some(o(Kind::Accept, "127.0.0.2", 40000)));
        assert_eq!(parse_armr(cef), Some(o(Kind::Accept, "127.0.0.1", 5)));
        let json = r#"{"@timestamp":"2026-11-30T17:27:36.316Z","event":{"kind":"event","module":"armr","action":"bind-server","outcome":"success","severity":4},"destination":{"ip":"::1","port":40781},"process":{"pid":7030,"name":"python3"}}"#;
        assert_eq!(parse_json(json), Some(o(Kind::ServerBind, "::1", 40781)));
        let own = r#"{"event":{"kind":"event","module":"armr"},"message":"<12>1 ... Load Rule"}"#;
        assert_eq!(parse_json(own), None);
    }

    #[test]
    fn widens_only_as_far_as_asked() {
        let seen: BTreeSet<_> = [
            o(Kind::Connect, "10.0.0.1", 80),
            o(Kind::Connect, "10.0.0.1", 81),
            o(Kind::Connect, "10.0.0.9", 80),
            o(Kind::ServerBind, "0.0.0.0", 8080),
        ]
        .into_iter()
        .collect();
        let exact: Vec<String> = group(&seen, 1, 32, 128)
            .iter()
            .map(Allowed::address)
            .collect();
        assert_eq!(
            exact,
            ["0.0.0.0:8080", "10.0.0.1:80", "10.0.0.9:80", "10.0.0.1:81"]
        );
        let seen: BTreeSet<_> = [
            o(Kind::Connect, "10.0.0.1", 80),
            o(Kind::Connect, "10.0.0.1", 81),
            o(Kind::Connect, "10.0.0.9", 80),
            o(Kind::Connect, "10.0.0.9", 81),
            o(Kind::Connect, "10.0.1.5", 80),
            o(Kind::Connect, "10.0.1.5", 82),
            o(Kind::ServerBind, "127.0.0.1", 80),
            o(Kind::ServerBind, "127.0.0.2", 80),
        ]
        .into_iter()
        .collect();
        let wide = |ports, prefix| -> Vec<String> {
            group(&seen, ports, prefix, 128)
                .iter()
                .map(Allowed::address)
                .collect()
        };
        // 80 and 82 span 3 ports; 10.0.1.5 is outside 10.0.0.0/24; binds take no blocks.
        assert_eq!(
            wide(2, 24),
            [
                "127.0.0.1:80",
                "127.0.0.2:80",
                "10.0.1.5:80",
                "10.0.0.0/28:80-81",
                "10.0.1.5:82"
            ]
        );
        assert_eq!(
            wide(3, 16),
            [
                "127.0.0.1:80",
                "127.0.0.2:80",
                "10.0.0.0/28:80-81",
                "10.0.1.5:80-82"
            ]
        );
        assert_eq!(wide(2, 32).len(), 6);
    }
}
