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
    /// The `log` entries of the app's `metadata(...)`, in written order. Stored once: the rules
    /// of the app share this slice ([`LogMetadata::app_entries`]), none holds a copy.
    pub log_metadata: Arc<[(String, String)]>,
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
    /// The metadata `log` entries its events carry: the app's overlaid with the rule's own.
    pub log_metadata: LogMetadata,
    pub location: Location,
}

/// A rule's metadata `log` entries as its events write them: the app's entries overlaid with the
/// rule's own: app order first, a rule value replacing the app value of the same key in place,
/// then the keys only the rule has, in written order.
///
/// The app's entries are shared (an `Arc` of the app's slice, not a copy), so that an app's
/// metadata costs its size once, not once per rule. The entries of the app are those declared
/// before the rule.
#[derive(Clone)]
pub struct LogMetadata {
    app: Arc<[(String, String)]>,
    /// The rule's own entries, out of line: a rule without them costs no more than before.
    own: Option<Box<OwnEntries>>,
}

#[derive(Clone)]
struct OwnEntries {
    /// `(index in app, the rule's value)`, by ascending index.
    replaced: Box<[(u32, String)]>,
    /// The rule's keys the app does not have, in written order.
    added: Box<[(String, String)]>,
}

impl LogMetadata {
    /// The app's entries overlaid with the rule's `own` (keys unique within each list).
    pub fn overlay(app: Arc<[(String, String)]>, own: Vec<(String, String)>) -> LogMetadata {
        if own.is_empty() {
            return LogMetadata::shared(app);
        }
        let index: crate::hash::FxMap<&str, usize> = app
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.as_str(), i))
            .collect();
        let at: Vec<Option<usize>> = own
            .iter()
            .map(|(k, _)| index.get(k.as_str()).copied())
            .collect();
        drop(index);
        LogMetadata::overlay_at(app, own, |i, _| at[i])
    }

    /// As [`overlay`](Self::overlay), with the place of each of `own`'s keys among the app's
    /// entries already known: `position(i, key)` for `own[i]` (the validator keeps one index of
    /// the app's keys for all its rules).
    pub fn overlay_at(
        app: Arc<[(String, String)]>,
        own: Vec<(String, String)>,
        position: impl Fn(usize, &str) -> Option<usize>,
    ) -> LogMetadata {
        let mut replaced = Vec::new();
        let mut added = Vec::new();
        for (i, (key, value)) in own.into_iter().enumerate() {
            match position(i, &key).filter(|&at| at < app.len()) {
                Some(at) => replaced.push((at as u32, value)),
                None => added.push((key, value)),
            }
        }
        replaced.sort_by_key(|&(at, _)| at);
        replaced.dedup_by_key(|&mut (at, _)| at);
        let own = (!replaced.is_empty() || !added.is_empty()).then(|| {
            Box::new(OwnEntries {
                replaced: replaced.into(),
                added: added.into(),
            })
        });
        LogMetadata { app, own }
    }

    fn replaced(&self) -> &[(u32, String)] {
        self.own.as_ref().map_or(&[], |own| &own.replaced)
    }

    fn added(&self) -> &[(String, String)] {
        self.own.as_ref().map_or(&[], |own| &own.added)
    }

    /// The app's entries alone (a rule without `metadata`).
    pub fn shared(app: Arc<[(String, String)]>) -> LogMetadata {
        LogMetadata { app, own: None }
    }

    /// The number of entries an event writes.
    pub fn len(&self) -> usize {
        self.app.len() + self.added().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`th entry an event writes.
    pub fn get(&self, i: usize) -> Option<(&str, &str)> {
        match self.app.get(i) {
            Some((key, value)) => {
                let replaced = self.replaced();
                let value = match replaced.binary_search_by_key(&i, |&(at, _)| at as usize) {
                    Ok(r) => &replaced[r].1,
                    Err(_) => value,
                };
                Some((key, value))
            }
            None => self
                .added()
                .get(i - self.app.len())
                .map(|(k, v)| (k.as_str(), v.as_str())),
        }
    }

    /// The entries in the order an event writes them: `(key, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let mut replaced = self.replaced().iter().peekable();
        let app = self.app.iter().enumerate().map(move |(i, (key, value))| {
            let value = match replaced.next_if(|&&(at, _)| at as usize == i) {
                Some((_, mine)) => mine,
                None => value,
            };
            (key.as_str(), value.as_str())
        });
        app.chain(self.added().iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// The app's entries, shared with the [`App`] and its other rules.
    pub fn app_entries(&self) -> &Arc<[(String, String)]> {
        &self.app
    }

    /// The rule's own entries: those replacing an app value (in the app's order), then those
    /// adding a key. `overlay(app_entries().clone(), own().collect())` rebuilds the same value.
    pub fn own(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let replaced = self.replaced().iter().filter_map(|(at, value)| {
            let (key, _) = self.app.get(*at as usize)?;
            Some((key.as_str(), value.as_str()))
        });
        replaced.chain(self.added().iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

impl Default for LogMetadata {
    fn default() -> Self {
        LogMetadata::shared(Arc::from([]))
    }
}

/// Entries of a rule written without an app's (tests, tools building rules by hand).
impl From<Vec<(String, String)>> for LogMetadata {
    fn from(entries: Vec<(String, String)>) -> Self {
        LogMetadata::shared(entries.into())
    }
}

/// Equal when the events write the same entries, however they are stored.
impl PartialEq for LogMetadata {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for LogMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_rule_value_replaces_the_apps_in_place_and_new_keys_follow() {
        let app: Arc<[_]> = entries(&[("a", "1"), ("b", "2"), ("c", "3")]).into();
        let own = entries(&[("d", "4"), ("c", "rule c"), ("a", "rule a")]);
        let log = LogMetadata::overlay(app.clone(), own);
        let want = [("a", "rule a"), ("b", "2"), ("c", "rule c"), ("d", "4")];
        assert_eq!(log.iter().collect::<Vec<_>>(), want);
        assert_eq!(log.len(), 4);
        let by_index: Vec<_> = (0..=log.len()).map(|i| log.get(i)).collect();
        assert_eq!(
            by_index,
            want.map(Some).into_iter().chain([None]).collect::<Vec<_>>()
        );
        // Shared with the app, not copied; the rule's own entries rebuild the same overlay.
        assert!(Arc::ptr_eq(log.app_entries(), &app));
        let own: Vec<_> = log
            .own()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            own,
            entries(&[("a", "rule a"), ("c", "rule c"), ("d", "4")])
        );
        assert_eq!(LogMetadata::overlay(app, own), log);
        assert_eq!(log, LogMetadata::from(entries(&want)));
    }
}
