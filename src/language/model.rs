//! The typed model of a rules file: what the parser produces and the policy engine consumes.
//!
//! Plain data, no libc. Every value here has already been validated: an `AddressPattern` holds a
//! legal address for the condition it sits in, a `SocketRule` has exactly one condition and one
//! action, and so on.

use super::vocabulary;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// Everything loaded from one or more rules files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSet {
    pub apps: Vec<App>,
}

impl RuleSet {
    /// All socket rules of all apps, in load order (file order, then app order, then rule order).
    pub fn socket_rules(&self) -> impl Iterator<Item = (&App, &SocketRule)> {
        self.apps
            .iter()
            .flat_map(|app| app.rules.iter().map(move |rule| (app, rule)))
    }
}

/// One `app("NAME"): ... endapp` block.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    pub name: String,
    /// The language version from `requires(version: ...)`.
    pub language: LanguageVersion,
    /// `version(N)`, 1 when absent. Logged as CEF `appVersion`.
    pub version: u32,
    /// The `log` entries of the app's `metadata(...)`, in written order.
    pub log_metadata: Vec<(String, String)>,
    /// The socket rules that apply on Linux, in written order.
    pub rules: Vec<SocketRule>,
    pub location: Location,
}

/// `ARMR/X.Y` or `Rampart/X.Y`: the same language under two names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LanguageVersion {
    pub dialect: Dialect,
    pub major: u8,
    pub minor: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dialect {
    Armr,
    Rampart,
}

impl LanguageVersion {
    pub const fn armr(major: u8, minor: u8) -> Self {
        LanguageVersion {
            dialect: Dialect::Armr,
            major,
            minor,
        }
    }

    /// True when this version is at least `major.minor` (the dialect does not matter).
    pub fn at_least(&self, major: u8, minor: u8) -> bool {
        (self.major, self.minor) >= (major, minor)
    }

    /// The number alone, as logged in the CEF header: `2.8`.
    pub fn number(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }
}

impl fmt::Display for LanguageVersion {
    /// As written in `requires`: `ARMR/2.8` or `Rampart/2.8`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.dialect {
            Dialect::Armr => "ARMR",
            Dialect::Rampart => "Rampart",
        };
        write!(f, "{prefix}/{}.{}", self.major, self.minor)
    }
}

/// One `socket("NAME"): ... endsocket` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketRule {
    pub name: Box<str>,
    pub condition: Condition,
    pub action: Action,
    /// `message: "..."`; a protect or allow rule without one logs nothing.
    pub message: Option<Box<str>>,
    pub severity: Severity,
    /// `stacktrace: "full"`.
    pub stacktrace: bool,
    /// The app's metadata `log` entries overlaid with the rule's own: app order first, a rule value
    /// replacing the app value of the same key in place, then keys only the rule has.
    pub log_metadata: Vec<(String, String)>,
    pub location: Location,
}

/// The "given" part of a socket rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `accept("ADDR")`: the remote client a server accepts a connection from.
    Accept(AddressPattern),
    /// `connect("ADDR")`: the remote address a client connects to.
    Connect(AddressPattern),
    /// `bind(client: "ADDR", server: "ADDR")`: local addresses; at least one of the two is set.
    Bind {
        client: Option<AddressPattern>,
        server: Option<AddressPattern>,
    },
}

/// The "then" part of a socket rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Protect,
    Allow,
    Detect,
}

impl Action {
    /// In the order of [`vocabulary::ACTIONS`], which names them.
    pub const ALL: [Action; 3] = [Action::Protect, Action::Allow, Action::Detect];

    pub fn as_str(&self) -> &'static str {
        vocabulary::ACTIONS[*self as usize]
    }

    /// The action an action statement's word names.
    pub fn from_word(word: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == word)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule's severity. Numbers are mapped to names when parsed: 0-3 Low, 4-6 Medium, 7-8 High,
/// 9-10 Very-High.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Severity {
    Low,
    Medium,
    High,
    VeryHigh,
    #[default]
    Unknown,
}

impl Severity {
    /// In the order of [`vocabulary::SEVERITY_NAMES`], which names them.
    pub const ALL: [Severity; 5] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::VeryHigh,
        Severity::Unknown,
    ];

    /// The name used in the CEF header: `Low`, `Medium`, `High`, `Very-High`, `Unknown`.
    pub fn name(&self) -> &'static str {
        vocabulary::SEVERITY_NAMES[*self as usize]
    }

    /// From a number 0..=10, or `None` outside that range.
    pub fn from_number(n: i64) -> Option<Severity> {
        match n {
            0..=3 => Some(Severity::Low),
            4..=6 => Some(Severity::Medium),
            7..=8 => Some(Severity::High),
            9..=10 => Some(Severity::VeryHigh),
            _ => None,
        }
    }

    /// From a name, ignoring case, or `None` for any other word. `Med` is the open
    /// specification's spelling of `Medium`.
    pub fn from_name(name: &str) -> Option<Severity> {
        if name.eq_ignore_ascii_case("Med") {
            return Some(Severity::Medium);
        }
        Severity::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
    }
}

/// An address as a rule writes it: `HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AddressPattern {
    pub host: HostPattern,
    pub port: PortPattern,
}

impl AddressPattern {
    /// True when the pattern holds a wildcard in the sense of ARMR's rule selection: the
    /// any-address, a CIDR block or port 0. A port range is not a wildcard.
    pub fn has_wildcard(&self) -> bool {
        matches!(self.host, HostPattern::Any(_) | HostPattern::Cidr { .. })
            || self.port == PortPattern::Any
    }
}

impl fmt::Display for AddressPattern {
    /// The canonical text: `10.0.0.1:80`, `[::1]:80`, `10.0.0.0/8:443`, `[fd00::/8]:0`, `db:5432`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            HostPattern::Any(IpFamily::V4) => write!(f, "0.0.0.0")?,
            HostPattern::Any(IpFamily::V6) => write!(f, "[::]")?,
            HostPattern::Ip(IpAddr::V4(a)) => write!(f, "{a}")?,
            HostPattern::Ip(IpAddr::V6(a)) => write!(f, "[{a}]")?,
            HostPattern::Cidr {
                network: IpAddr::V4(a),
                prefix_len,
            } => write!(f, "{a}/{prefix_len}")?,
            HostPattern::Cidr {
                network: IpAddr::V6(a),
                prefix_len,
            } => write!(f, "[{a}/{prefix_len}]")?,
            HostPattern::Name(name) => write!(f, "{name}")?,
        }
        write!(f, ":{}", self.port)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpFamily {
    V4,
    V6,
}

/// The host part of an address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// The any-address as written: `0.0.0.0` (V4) or `::` (V6).
    Any(IpFamily),
    /// One specific address.
    Ip(IpAddr),
    /// A CIDR block (accept and connect only, ARMR 2.10+). Host bits are always zero.
    Cidr { network: IpAddr, prefix_len: u8 },
    /// A hostname (accept and connect only), lower-cased; matched against what it resolves to.
    Name(String),
}

/// The port part of an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortPattern {
    /// Port 0: any port.
    Any,
    /// One port, 1..=65535.
    Exact(u16),
    /// `N-M` with 1 <= N <= M <= 65535 (ARMR 2.2+).
    Range(u16, u16),
}

impl PortPattern {
    pub fn contains(&self, port: u16) -> bool {
        match *self {
            PortPattern::Any => true,
            PortPattern::Exact(p) => p == port,
            PortPattern::Range(lo, hi) => (lo..=hi).contains(&port),
        }
    }
}

impl fmt::Display for PortPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortPattern::Any => write!(f, "0"),
            PortPattern::Exact(p) => write!(f, "{p}"),
            PortPattern::Range(lo, hi) => write!(f, "{lo}-{hi}"),
        }
    }
}

/// Where something was written: file, 1-based line and 1-based column (in characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    pub file: Arc<str>,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}
