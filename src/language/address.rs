//! Addresses as socket rules write them: `HOST:PORT`, the port being what follows the last colon.
//!
//! ```text
//! address ::= "[" IPV6 ("/" PREFIX)? "]" ":" port
//!           | HOST ":" port              -- HOST: IPv4, bare IPv6, CIDR or hostname
//! port    ::= N | N "-" M                -- N 0..=65535 (0: any); range 1 <= N <= M <= 65535
//! ```

use super::diagnostic::DiagnosticKind;
use super::model::{AddressPattern, HostPattern, IpFamily, PortPattern};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

/// Where an address stands: what a host may be depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressContext {
    /// `bind(client:)` / `bind(server:)`: a local IP address only.
    Bind,
    /// `accept` / `connect`: a remote IP address, CIDR block or hostname.
    Remote,
}

/// A parsed address with the places of its parts, for messages about them.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedAddress {
    pub pattern: AddressPattern,
    /// Byte range of the host in the text (inside brackets, when bracketed).
    pub host: Range<usize>,
    /// Byte range of the port in the text.
    pub port: Range<usize>,
}

/// What is wrong with an address, and which bytes of its text are at fault.
#[derive(Debug, Clone, PartialEq)]
pub struct AddressError {
    pub kind: DiagnosticKind,
    pub at: Range<usize>,
}

fn err<T>(kind: DiagnosticKind, at: Range<usize>) -> Result<T, AddressError> {
    Err(AddressError { kind, at })
}

/// Parses `text` as the address of a rule in `context`.
pub fn parse_address(text: &str, context: AddressContext) -> Result<ParsedAddress, AddressError> {
    // Pasted text (`80–90` with an en dash, a non-breaking space): named for what it is.
    if let Some((at, c)) = super::lookalike::first_in(text) {
        return err(
            DiagnosticKind::Lookalike { found: c },
            at..at + c.len_utf8(),
        );
    }
    let (host, port) = if let Some(inner) = text.strip_prefix('[') {
        let Some(close) = inner.bytes().position(|b| b == b']') else {
            return err(DiagnosticKind::BadIpv6 { text: text.into() }, 0..text.len());
        };
        let after = &inner[close + 1..];
        if !after.starts_with(':') {
            return err(
                DiagnosticKind::MissingPort {
                    address: text.into(),
                },
                0..text.len(),
            );
        }
        (1..1 + close, close + 3..text.len())
    } else {
        let Some(colon) = text.bytes().rposition(|b| b == b':') else {
            return err(
                DiagnosticKind::MissingPort {
                    address: text.into(),
                },
                0..text.len(),
            );
        };
        (0..colon, colon + 1..text.len())
    };
    let bracketed = text.starts_with('[');
    let port_pattern = parse_port(&text[port.clone()]).map_err(|kind| AddressError {
        kind,
        at: port.clone(),
    })?;
    let host_text = &text[host.clone()];
    if host_text.is_empty() {
        return err(DiagnosticKind::MissingHost, host);
    }
    let host_pattern = parse_host(host_text, bracketed, context).map_err(|kind| AddressError {
        kind,
        at: host.clone(),
    })?;
    Ok(ParsedAddress {
        pattern: AddressPattern {
            host: host_pattern,
            port: port_pattern,
        },
        host,
        port,
    })
}

fn parse_port(text: &str) -> Result<PortPattern, DiagnosticKind> {
    let number = |s: &str| -> Result<u16, DiagnosticKind> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DiagnosticKind::BadPort { text: text.into() });
        }
        // Leading zeros allowed, as `str::parse` allows them; capped so that no sum overflows.
        let value = s
            .bytes()
            .fold(0u32, |n, b| (n * 10 + u32::from(b - b'0')).min(1 << 16));
        u16::try_from(value).map_err(|_| DiagnosticKind::PortOutOfRange { text: s.into() })
    };
    match split_once_byte(text, b'-') {
        None => Ok(match number(text)? {
            0 => PortPattern::Any,
            p => PortPattern::Exact(p),
        }),
        Some((start, end)) => {
            let (start, end) = (number(start)?, number(end)?);
            if start == 0 || end == 0 {
                Err(DiagnosticKind::PortRangeWithZero)
            } else if end < start {
                Err(DiagnosticKind::PortRangeReversed { start, end })
            } else {
                Ok(PortPattern::Range(start, end))
            }
        }
    }
}

fn parse_host(
    text: &str,
    bracketed: bool,
    context: AddressContext,
) -> Result<HostPattern, DiagnosticKind> {
    if let Some((addr, prefix)) = split_once_byte(text, b'/') {
        if context == AddressContext::Bind {
            return Err(DiagnosticKind::CidrInBind { text: text.into() });
        }
        return parse_cidr(text, addr, prefix, bracketed);
    }
    if bracketed || text.as_bytes().contains(&b':') {
        let ip = parse_ipv6(text).ok_or_else(|| DiagnosticKind::BadIpv6 { text: text.into() })?;
        return Ok(match ip.to_ipv4_mapped() {
            // `::ffff:0.0.0.0` is the IPv4 any-address written as IPv6.
            Some(v4) if v4.is_unspecified() => HostPattern::Any(IpFamily::V4),
            _ if ip.is_unspecified() => HostPattern::Any(IpFamily::V6),
            _ => HostPattern::Ip(ip.into()),
        });
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let ip = parse_ipv4(text).ok_or_else(|| DiagnosticKind::BadIpv4 { text: text.into() })?;
        return Ok(if ip.is_unspecified() {
            HostPattern::Any(IpFamily::V4)
        } else {
            HostPattern::Ip(ip.into())
        });
    }
    if context == AddressContext::Bind {
        return Err(DiagnosticKind::HostnameInBind { text: text.into() });
    }
    if !is_hostname(text) {
        return Err(DiagnosticKind::BadHostname { text: text.into() });
    }
    Ok(HostPattern::Name(
        text.trim_end_matches('.').to_ascii_lowercase(),
    ))
}

fn parse_cidr(
    text: &str,
    addr: &str,
    prefix: &str,
    bracketed: bool,
) -> Result<HostPattern, DiagnosticKind> {
    let network: IpAddr = if bracketed || addr.as_bytes().contains(&b':') {
        IpAddr::V6(parse_ipv6(addr).ok_or_else(|| DiagnosticKind::BadIpv6 { text: addr.into() })?)
    } else {
        IpAddr::V4(parse_ipv4(addr).ok_or_else(|| DiagnosticKind::BadIpv4 { text: addr.into() })?)
    };
    let max: u8 = if network.is_ipv4() { 32 } else { 128 };
    let prefix_len = match prefix.parse::<u8>() {
        Ok(p) if p <= max && prefix.bytes().all(|b| b.is_ascii_digit()) => p,
        _ => {
            return Err(DiagnosticKind::BadCidrPrefix {
                text: prefix.into(),
                max,
            });
        }
    };
    let masked = mask(network, prefix_len);
    if masked != network {
        let suggestion = match masked {
            IpAddr::V4(a) => format!("{a}/{prefix_len}"),
            IpAddr::V6(a) => format!("{a}/{prefix_len}"),
        };
        return Err(DiagnosticKind::CidrHostBits {
            text: text.into(),
            network: suggestion,
        });
    }
    Ok(HostPattern::Cidr {
        network,
        prefix_len,
    })
}

/// `str::split_once` for an ASCII separator, without the generic pattern search.
fn split_once_byte(text: &str, separator: u8) -> Option<(&str, &str)> {
    let at = text.bytes().position(|b| b == separator)?;
    // An ASCII byte is a character boundary on both sides.
    Some((text.get(..at)?, text.get(at + 1..)?))
}

/// What `Ipv4Addr::from_str` accepts, and only that: four decimal parts of one to three
/// digits, without a leading zero, each at most 255. Hand-written because the standard parser
/// is general (and slow) enough to show in the time to load a large policy.
fn parse_ipv4(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut bytes = text.as_bytes().iter();
    for (index, octet) in octets.iter_mut().enumerate() {
        let (mut value, mut digits, mut first) = (0u16, 0, 0u8);
        loop {
            match bytes.next() {
                Some(&b) if b.is_ascii_digit() && digits < 3 => {
                    if digits == 0 {
                        first = b;
                    }
                    value = value * 10 + u16::from(b - b'0');
                    digits += 1;
                }
                Some(b'.') if index < 3 => break,
                None if index == 3 => break,
                _ => return None,
            }
        }
        if digits == 0 || (digits > 1 && first == b'0') {
            return None;
        }
        *octet = u8::try_from(value).ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

/// A position in address text, read the way the standard library's address parser reads it.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn eat(&mut self, b: u8) -> bool {
        let found = self.bytes.get(self.at) == Some(&b);
        self.at += usize::from(found);
        found
    }

    /// One to `max_digits` digits worth at most `max`; a leading zero only when allowed or
    /// alone. Reads nothing when it fails.
    fn number(
        &mut self,
        radix: u32,
        max_digits: usize,
        zero_prefix: bool,
        max: u32,
    ) -> Option<u32> {
        let start = self.at;
        let (mut value, mut digits) = (0u32, 0);
        while digits < max_digits
            && let Some(d) = self
                .bytes
                .get(self.at)
                .and_then(|&b| char::from(b).to_digit(radix))
        {
            value = value * radix + d;
            if value > max {
                self.at = start;
                return None;
            }
            self.at += 1;
            digits += 1;
        }
        let zero_prefixed = digits > 1 && self.bytes[start] == b'0';
        if digits == 0 || (zero_prefixed && !zero_prefix) {
            self.at = start;
            return None;
        }
        Some(value)
    }

    /// An IPv4 address, with text after it allowed (an IPv6 address may end in one).
    fn ipv4(&mut self) -> Option<[u8; 4]> {
        let start = self.at;
        let mut octets = [0u8; 4];
        for (i, octet) in octets.iter_mut().enumerate() {
            match (i == 0 || self.eat(b'.')).then(|| self.number(10, 3, false, 255)) {
                Some(Some(value)) => *octet = value as u8,
                _ => {
                    self.at = start;
                    return None;
                }
            }
        }
        Some(octets)
    }

    /// Up to `groups.len()` colon-separated groups; says how many, and whether the last two
    /// were an embedded IPv4 address.
    fn groups(&mut self, groups: &mut [u16]) -> (usize, bool) {
        let limit = groups.len();
        for i in 0..limit {
            let start = self.at;
            if i + 1 < limit {
                if let Some(Some([a, b, c, d])) = (i == 0 || self.eat(b':')).then(|| self.ipv4()) {
                    groups[i] = u16::from_be_bytes([a, b]);
                    groups[i + 1] = u16::from_be_bytes([c, d]);
                    return (i + 2, true);
                }
                self.at = start;
            }
            match (i == 0 || self.eat(b':')).then(|| self.number(16, 4, true, 0xffff)) {
                Some(Some(group)) => groups[i] = group as u16,
                _ => {
                    self.at = start;
                    return (i, false);
                }
            }
        }
        (limit, false)
    }
}

/// What `Ipv6Addr::from_str` accepts, by the same steps (groups, then `::` and more groups),
/// for the same reason as [`parse_ipv4`].
fn parse_ipv6(text: &str) -> Option<Ipv6Addr> {
    let mut cursor = Cursor {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut head = [0u16; 8];
    let (head_size, head_ipv4) = cursor.groups(&mut head);
    if head_size < 8 {
        if head_ipv4 || !(cursor.eat(b':') && cursor.eat(b':')) {
            return None;
        }
        let mut tail = [0u16; 7];
        let limit = 8 - (head_size + 1);
        let (tail_size, _) = cursor.groups(&mut tail[..limit]);
        head[8 - tail_size..].copy_from_slice(&tail[..tail_size]);
    }
    (cursor.at == text.len()).then(|| Ipv6Addr::from(head))
}

/// `addr` with every bit after the first `prefix_len` cleared.
pub fn mask(addr: IpAddr, prefix_len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = u32::MAX
                .checked_shl(32 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = u128::MAX
                .checked_shl(128 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

/// Letters, digits and `-` in dot-separated labels of 1 to 63 characters, none starting or
/// ending with `-`, at most 253 characters in all (a final `.` allowed).
fn is_hostname(text: &str) -> bool {
    let name = text.strip_suffix('.').unwrap_or(text);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddressContext::*;

    fn ok(text: &str, context: AddressContext) -> AddressPattern {
        parse_address(text, context)
            .unwrap_or_else(|e| panic!("{text}: {e:?}"))
            .pattern
    }

    fn fails(text: &str, context: AddressContext) -> (DiagnosticKind, Range<usize>) {
        let e = parse_address(text, context).unwrap_err();
        (e.kind, e.at)
    }

    #[test]
    fn every_host_form() {
        assert_eq!(ok("0.0.0.0:0", Bind).host, HostPattern::Any(IpFamily::V4));
        assert_eq!(ok(":::0", Remote).host, HostPattern::Any(IpFamily::V6));
        assert_eq!(ok("[::]:80", Remote).host, HostPattern::Any(IpFamily::V6));
        assert_eq!(
            ok("[::ffff:0.0.0.0]:80", Bind).host,
            HostPattern::Any(IpFamily::V4)
        );
        assert_eq!(
            ok("::1:8080", Remote).host,
            HostPattern::Ip("::1".parse().unwrap())
        );
        assert_eq!(ok("::1:8080", Remote).port, PortPattern::Exact(8080));
        assert_eq!(
            ok("[::ffff:10.1.2.3]:1", Remote).host,
            HostPattern::Ip("::ffff:10.1.2.3".parse().unwrap())
        );
        assert_eq!(
            ok("10.0.0.0/8:443", Remote).host,
            HostPattern::Cidr {
                network: "10.0.0.0".parse().unwrap(),
                prefix_len: 8
            }
        );
        assert_eq!(
            ok("[fd00::/8]:0", Remote).host,
            HostPattern::Cidr {
                network: "fd00::".parse().unwrap(),
                prefix_len: 8
            }
        );
        assert_eq!(
            ok("DB.Internal.:5432", Remote).host,
            HostPattern::Name("db.internal".into())
        );
        assert_eq!(
            ok("127.0.0.1:5000-5010", Remote).port,
            PortPattern::Range(5000, 5010)
        );
    }

    #[test]
    fn every_mistake_points_at_its_part() {
        assert_eq!(
            fails("1.2.3.4", Remote),
            (
                DiagnosticKind::MissingPort {
                    address: "1.2.3.4".into()
                },
                0..7
            )
        );
        assert_eq!(fails(":80", Remote), (DiagnosticKind::MissingHost, 0..0));
        assert_eq!(
            fails("1.2.3.4:70000", Remote),
            (
                DiagnosticKind::PortOutOfRange {
                    text: "70000".into()
                },
                8..13
            )
        );
        assert_eq!(
            fails("1.2.3.4:http", Remote).0,
            DiagnosticKind::BadPort {
                text: "http".into()
            }
        );
        assert_eq!(
            fails("1.2.3.4:0-10", Remote).0,
            DiagnosticKind::PortRangeWithZero
        );
        assert_eq!(
            fails("1.2.3.4:9-1", Remote).0,
            DiagnosticKind::PortRangeReversed { start: 9, end: 1 }
        );
        assert_eq!(
            fails("1.2.3.256:1", Remote),
            (
                DiagnosticKind::BadIpv4 {
                    text: "1.2.3.256".into()
                },
                0..9
            )
        );
        assert_eq!(
            fails("010.0.0.1:1", Remote).0,
            DiagnosticKind::BadIpv4 {
                text: "010.0.0.1".into()
            }
        );
        assert_eq!(
            fails("[::g]:1", Remote),
            (DiagnosticKind::BadIpv6 { text: "::g".into() }, 1..4)
        );
        assert_eq!(
            fails("db_1:1", Remote).0,
            DiagnosticKind::BadHostname {
                text: "db_1".into()
            }
        );
        assert_eq!(
            fails("localhost:1", Bind).0,
            DiagnosticKind::HostnameInBind {
                text: "localhost".into()
            }
        );
        assert_eq!(
            fails("10.0.0.0/8:1", Bind).0,
            DiagnosticKind::CidrInBind {
                text: "10.0.0.0/8".into()
            }
        );
        assert_eq!(
            fails("10.0.0.0/33:1", Remote).0,
            DiagnosticKind::BadCidrPrefix {
                text: "33".into(),
                max: 32
            }
        );
        assert_eq!(
            fails("10.1.0.0/8:1", Remote).0,
            DiagnosticKind::CidrHostBits {
                text: "10.1.0.0/8".into(),
                network: "10.0.0.0/8".into()
            }
        );
    }

    #[test]
    fn ipv4_parsing_agrees_with_std() {
        let cases = [
            "0.0.0.0",
            "1.2.3.4",
            "255.255.255.255",
            "256.0.0.1",
            "01.2.3.4",
            "0.00.0.0",
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            ".1.2.3",
            "1.2.3.",
            "",
            "1.2.3.4 ",
            "+1.2.3.4",
            "1.2.3.-4",
            "1000.1.1.1",
            "099.1.1.1",
            "10.0.0.1",
            "a.b.c.d",
            "1.2.3.4\u{0}",
        ];
        for text in cases {
            assert_eq!(parse_ipv4(text), text.parse().ok(), "{text:?}");
        }
        for a in 0..=300u16 {
            let text = format!("{a}.{:03}.{a:02}.7", a % 1000);
            assert_eq!(parse_ipv4(&text), text.parse().ok(), "{text}");
        }
    }

    #[test]
    fn ipv6_parsing_agrees_with_std() {
        let cases = [
            "::",
            "::1",
            "1::",
            "fd00::1:2",
            "fd00::/8",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1::2::3",
            ":::",
            "::ffff:10.1.2.3",
            "::ffff:010.1.2.3",
            "1:2:3:4:5:6:1.2.3.4",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::1.2.3.4:1",
            "1.2.3.4::",
            "12345::",
            "FFFF::fffF",
            "g::",
            ":1",
            "1:",
            "",
            "::1.2.3",
            "::1.2.3.256",
            "1:2:3:4:5:6:7:8::",
            "::0:0:0:0:0:0:0",
            "::0:0:0:0:0:0:0:0",
            "0:0:0:0:0:0:0::",
        ];
        for text in cases {
            assert_eq!(parse_ipv6(text), text.parse().ok(), "{text:?}");
        }
        // Random text over the characters that matter, from a fixed seed.
        let alphabet = b"0123456789abcdefABCDEFg:::..";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 24) as usize;
            let text: String = (0..len)
                .map(|k| {
                    alphabet[((state >> (k % 8 * 8)) as usize + k * 7) % alphabet.len()] as char
                })
                .collect();
            assert_eq!(parse_ipv6(&text), text.parse().ok(), "{text:?}");
        }
        // Random sequences of pieces, so that many are valid or nearly so.
        let pieces = [
            "1", "ffff", "0", "00", "0db8", "12345", ":", ":", "::", ".", "1.2.3.4", "255", "256",
            "01", "A", "10.0.0.1",
        ];
        let mut valid = 0;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 12) as usize;
            let text: String = (0..len)
                .map(|k| pieces[((state >> (k * 5)) % pieces.len() as u64) as usize])
                .collect();
            let parsed = parse_ipv6(&text);
            assert_eq!(parsed, text.parse().ok(), "{text:?}");
            valid += usize::from(parsed.is_some());
        }
        assert!(valid > 1_000, "{valid}");
    }

    #[test]
    fn display_is_canonical() {
        assert_eq!(ok(":::0", Remote).to_string(), "[::]:0");
        assert_eq!(ok("[fd00::/8]:0", Remote).to_string(), "[fd00::/8]:0");
        assert_eq!(
            ok("127.0.0.1:5000-5010", Remote).to_string(),
            "127.0.0.1:5000-5010"
        );
    }
}
