//! ARMR rule selection, compiled once into an immutable index.
//!
//! A [`Policy`] is built from a loaded [`RuleSet`] and then only read: it is `Send + Sync`, shared
//! by every thread without a lock, and a decision allocates nothing (but for the one-time
//! resolution of hostnames, on the first decision that needs them). `docs/semantics.md` states
//! the semantics this module implements, with examples.

mod blocks;
pub mod compiled;
pub mod explain;
mod index;
mod ports;
mod rank;
mod resolve;
pub mod shadow;
mod store;

pub use explain::{Candidate, Explanation};
pub use index::normalize_ip;
pub use rank::Rank;
pub use resolve::{Resolve, SystemResolver, Unresolved, is_localhost, warning};

use crate::event::{EventRule, Metadata};
use crate::language::{Action, AddressPattern, App, Condition, Location, RuleSet, SocketRule};
use compiled::{Provenance, Records};
use index::{Entry, KindIndex, loopback_of, normalize_host, port_interval};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::OnceLock;
use store::{Mapped, Owned};

/// What a socket call asks for, in the terms of the rule conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A socket bound to a local address in order to listen (`bind(server:)` rules).
    BindServer,
    /// A socket bound to a local address before it connects (`bind(client:)` rules).
    BindClient,
    /// A connection (or datagram) to a remote address (`connect` rules).
    Connect,
    /// A connection accepted from a remote peer (`accept` rules).
    Accept,
}

impl EventKind {
    pub const ALL: [EventKind; 4] = [
        EventKind::BindServer,
        EventKind::BindClient,
        EventKind::Connect,
        EventKind::Accept,
    ];

    /// The name `armr explain` takes: `bind-server`, `bind-client`, `connect`, `accept`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::BindServer => "bind-server",
            EventKind::BindClient => "bind-client",
            EventKind::Connect => "connect",
            EventKind::Accept => "accept",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl FromStr for EventKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown event kind `{s}`: use bind-server, bind-client, connect or accept")
            })
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `ARMR_MODE`: enforce the rules, or only log what protect rules would refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Enforce,
    /// Every protect acts as detect: logged, not refused. For rolling out a policy safely.
    DetectOnly,
}

/// The rule chosen for an event, and what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The winning rule's place in the policy (see [`Policy::rule`]).
    pub rule: u32,
    /// The rule's action as written.
    pub selected: Action,
    /// What to do: the rule's action, except that detect-only mode turns protect into detect.
    pub action: Action,
    /// True when the event is logged: the rule has a message, or the action is detect (detect-only
    /// mode logs every call a protect rule would refuse).
    pub logged: bool,
}

/// The address an event is judged on, after the normalisations of the semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// One address (IPv4-mapped IPv6 already turned into IPv4) and port.
    Address(IpAddr, u16),
    /// A bind to the unspecified address of a family: every local address of it.
    AllLocal { ipv6: bool, port: u16 },
}

impl Target {
    /// Normalises an event's address: mapped IPv6 is IPv4; a connect to the unspecified address
    /// reaches this host, so it is judged as loopback; a bind to it covers every local address.
    /// Loopback is where the kernel sends a connect from a socket bound to no address: a caller
    /// that knows the socket (the preload library) passes the destination the kernel uses
    /// instead (the socket's bound IPv4 address, say), and only `armr explain`, which has no
    /// socket, relies on this.
    pub fn of(kind: EventKind, address: SocketAddr) -> Target {
        let ip = normalize_ip(address.ip());
        let port = address.port();
        if !ip.is_unspecified() {
            return Target::Address(ip, port);
        }
        match kind {
            EventKind::Connect => Target::Address(loopback_of(ip), port),
            EventKind::BindServer | EventKind::BindClient => Target::AllLocal {
                ipv6: ip.is_ipv6(),
                port,
            },
            EventKind::Accept => Target::Address(ip, port),
        }
    }
}

/// The compiled policy.
pub struct Policy {
    rules: Rules,
    kinds: Kinds,
    mode: Mode,
    resolver: Box<dyn Resolve>,
}

/// The per-kind indexes, built from rules or mapped from a compiled file: the same lookup code,
/// compiled for each storage.
enum Kinds {
    Owned([KindIndex<Owned>; 4]),
    Mapped([KindIndex<Mapped>; 4]),
}

/// Runs `$body` with `$index` the index of `$kind`, whatever its storage.
macro_rules! with_index {
    ($self:expr, $kind:expr, |$index:ident| $body:expr) => {
        match &$self.kinds {
            Kinds::Owned(kinds) => {
                let $index = &kinds[$kind.index()];
                $body
            }
            Kinds::Mapped(kinds) => {
                let $index = &kinds[$kind.index()];
                $body
            }
        }
    };
}

/// Rules decoded from a compiled file, per block of this many, when first asked for.
const CHUNK: usize = 1024;

/// A rule with its app (the app without its rules), decoded from a compiled file.
type Decoded = (App, SocketRule);

/// The decoded rules of one block of [`CHUNK`].
type Chunk = Box<[OnceLock<Box<Decoded>>]>;

/// The rules themselves: what events and `armr explain` read.
enum Rules {
    Source {
        rules: RuleSet,
        /// `(app, rule)` index of each rule, in definition order: a rank's order indexes this.
        order: Vec<(u32, u32)>,
    },
    Compiled {
        records: Records,
        len: u32,
        apps: u32,
        stacktrace: bool,
        /// The rules decoded for events: a table of blocks of [`CHUNK`] rules, each block
        /// allocated on the first event of one of its rules. Nothing is decoded at load.
        decoded: OnceLock<Box<[OnceLock<Chunk>]>>,
        /// Every rule, for `armr explain` and [`Policy::rules`].
        all: OnceLock<RuleSet>,
    },
}

/// What stands for a rule whose record in a compiled file cannot be read: it judges nothing.
fn unreadable(order: u32) -> Decoded {
    let location = Location {
        file: "(compiled policy)".into(),
        line: 0,
        column: 0,
    };
    (
        App {
            name: "(unreadable)".into(),
            language: crate::language::LanguageVersion::armr(2, 0),
            version: 1,
            log_metadata: std::sync::Arc::from(Vec::new()),
            rules: Vec::new(),
            location: location.clone(),
        },
        SocketRule {
            name: format!("(unreadable rule {order})").into(),
            condition: Condition::Bind {
                client: None,
                server: None,
            },
            action: Action::Detect,
            message: None,
            severity: crate::language::Severity::Unknown,
            stacktrace: false,
            log_metadata: Default::default(),
            location,
        },
    )
}

/// Room for `(unreadable rule 4294967295)`.
pub type UnreadableName = [u8; 32];

/// The event view of [`unreadable`], its name written into `name`.
fn unreadable_event(order: u32, name: &mut UnreadableName) -> EventRule<'_> {
    use std::io::Write;
    let mut cursor = std::io::Cursor::new(&mut name[..]);
    let _ = write!(cursor, "(unreadable rule {order})");
    let len = cursor.position() as usize;
    EventRule {
        app_name: "(unreadable)",
        language: crate::language::LanguageVersion::armr(2, 0),
        app_version: 1,
        name: std::str::from_utf8(&name[..len]).unwrap_or("(unreadable rule)"),
        message: None,
        severity: crate::language::Severity::Unknown,
        stacktrace: false,
        log_metadata: Metadata::Record {
            app: compiled::Pairs::EMPTY,
            own: compiled::Pairs::EMPTY,
        },
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("rules", &self.len())
            .field("mode", &self.mode)
            .field("compiled", &matches!(self.kinds, Kinds::Mapped(_)))
            .finish()
    }
}

/// The entries of one kind, in definition order, each with its order number.
pub(crate) fn entries(rules: &RuleSet, kind: EventKind) -> Vec<(u32, Entry)> {
    let mut out = Vec::new();
    for (order, (_, rule)) in rules.socket_rules().enumerate() {
        let address: Option<&AddressPattern> = match (&rule.condition, kind) {
            (Condition::Accept(a), EventKind::Accept)
            | (Condition::Connect(a), EventKind::Connect) => Some(a),
            (Condition::Bind { client, .. }, EventKind::BindClient) => client.as_ref(),
            (Condition::Bind { server, .. }, EventKind::BindServer) => server.as_ref(),
            _ => None,
        };
        if let Some(address) = address {
            let order = order as u32;
            out.push((
                order,
                Entry {
                    host: normalize_host(&address.host),
                    ports: port_interval(address.port),
                    rank: Rank::of(address, rule.action, order, rule.message.is_some()),
                    allow: rule.action == Action::Allow,
                },
            ));
        }
    }
    out
}

impl Policy {
    /// Compiles `rules`, resolving hostnames through the system resolver when first needed.
    pub fn new(rules: RuleSet, mode: Mode) -> Policy {
        Policy::with_resolver(rules, mode, Box::new(SystemResolver::default()))
    }

    pub fn with_resolver(rules: RuleSet, mode: Mode, resolver: Box<dyn Resolve>) -> Policy {
        let mut order = Vec::with_capacity(rules.apps.iter().map(|a| a.rules.len()).sum());
        for (a, app) in rules.apps.iter().enumerate() {
            for r in 0..app.rules.len() {
                order.push((a as u32, r as u32));
            }
        }
        let kinds = EventKind::ALL
            .map(|kind| KindIndex::build(entries(&rules, kind).into_iter().map(|(_, e)| e), kind));
        Policy {
            rules: Rules::Source { rules, order },
            kinds: Kinds::Owned(kinds),
            mode,
            resolver,
        }
    }

    /// A policy from a compiled file's bytes (mapped by the library, read by `armr`): checks its
    /// header and section table, in time that does not grow with the rules, and looks up in the
    /// bytes themselves. `Err` says what is wrong with the file.
    pub fn from_compiled(
        bytes: &'static [u8],
        mode: Mode,
        resolver: Box<dyn Resolve>,
    ) -> Result<Policy, String> {
        let mut opened = compiled::open(bytes)?;
        let mut kinds = Vec::with_capacity(4);
        for kind in EventKind::ALL {
            kinds.push(KindIndex::read(&mut opened.reader, kind)?);
        }
        let records = Records::read(&mut opened.reader)?;
        if !records.counts(opened.rules, opened.apps) {
            return Err("its counts of rules and apps disagree with its records".into());
        }
        let Ok(kinds) = <[KindIndex<Mapped>; 4]>::try_from(kinds) else {
            return Err("an event kind is missing".into());
        };
        Ok(Policy {
            rules: Rules::Compiled {
                records,
                len: opened.rules,
                apps: opened.apps,
                stacktrace: opened.stacktrace,
                decoded: OnceLock::new(),
                all: OnceLock::new(),
            },
            kinds: Kinds::Mapped(kinds),
            mode,
            resolver,
        })
    }

    /// The compiled file of this policy (built from rules), carrying `provenance`. `None` for a
    /// policy that was itself loaded from a compiled file.
    pub fn compile(&self, provenance: &Provenance) -> Option<Vec<u8>> {
        let (Kinds::Owned(kinds), Rules::Source { rules, order }) = (&self.kinds, &self.rules)
        else {
            return None;
        };
        let mut writer = compiled::Writer::default();
        for index in kinds {
            index.write(&mut writer);
        }
        Some(compiled::finish(writer, &rules.apps, order, provenance))
    }

    /// What a compiled policy was built from; `None` for one built from rules.
    pub fn provenance(&self) -> Option<Provenance> {
        match &self.rules {
            Rules::Source { .. } => None,
            Rules::Compiled { records, .. } => records.provenance(),
        }
    }

    /// True when some rule asks for a stack trace in its events.
    pub fn has_stacktraces(&self) -> bool {
        match &self.rules {
            Rules::Source { rules, .. } => rules.socket_rules().any(|(_, r)| r.stacktrace),
            Rules::Compiled { stacktrace, .. } => *stacktrace,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The rules. For a compiled policy they are decoded from the file on the first call.
    pub fn rules(&self) -> &RuleSet {
        match &self.rules {
            Rules::Source { rules, .. } => rules,
            Rules::Compiled {
                records,
                len,
                apps,
                all,
                ..
            } => all.get_or_init(|| {
                let mut set = RuleSet {
                    apps: (0..*apps)
                        .map(|a| records.app(a).unwrap_or_else(|| unreadable(0).0))
                        .collect(),
                };
                for order in 0..*len {
                    // A rule keeps its place (ranks name it by order) even when unreadable.
                    let (a, rule) = records
                        .rule(order)
                        .and_then(|r| {
                            let app = set.apps.get(r.app as usize)?;
                            Some((r.app, r.with_app(app)))
                        })
                        .unwrap_or_else(|| {
                            (set.apps.len().saturating_sub(1) as u32, unreadable(order).1)
                        });
                    if set.apps.is_empty() {
                        set.apps.push(unreadable(order).0);
                    }
                    set.apps[a as usize].rules.push(rule);
                }
                set
            }),
        }
    }

    /// The number of socket rules.
    pub fn len(&self) -> usize {
        match &self.rules {
            Rules::Source { order, .. } => order.len(),
            Rules::Compiled { len, .. } => *len as usize,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when some rule has this kind's condition: without one, every event of the kind is
    /// allowed unlogged, and a caller may skip decoding the event at all.
    #[inline]
    pub fn has_rules(&self, kind: EventKind) -> bool {
        with_index!(self, kind, |index| !index.is_empty())
    }

    /// True when some rule of this kind names a host (other than `localhost` and the names under
    /// it, which are the loopback addresses), so that a decision may resolve names (the first
    /// time) through the system resolver.
    pub fn has_hostnames(&self, kind: EventKind) -> bool {
        with_index!(self, kind, |index| index.has_hostnames())
    }

    /// True when every hostname of this kind's rules is resolved (or there is none): a decision
    /// of the kind makes no call to the resolver.
    pub fn hostnames_resolved(&self, kind: EventKind) -> bool {
        with_index!(self, kind, |index| index.hostnames_resolved())
    }

    /// The app and rule at `order` (a [`Decision::rule`]). Of a compiled policy, the rule is
    /// decoded from the file the first time (an allocation, once per rule); a rule that cannot
    /// be read (a corrupt file) is named `(unreadable rule N)`.
    pub fn rule(&self, order: u32) -> (&App, &SocketRule) {
        match &self.rules {
            Rules::Source { rules, order: of } => {
                let (a, r) = of[order as usize];
                let app = &rules.apps[a as usize];
                (app, &app.rules[r as usize])
            }
            Rules::Compiled {
                records,
                len,
                decoded,
                ..
            } => {
                let table = decoded.get_or_init(|| {
                    (0..(*len as usize).div_ceil(CHUNK))
                        .map(|_| OnceLock::new())
                        .collect()
                });
                let i = order as usize;
                let Some(chunk) = table.get(i / CHUNK) else {
                    static OUTSIDE: OnceLock<Decoded> = OnceLock::new();
                    let (app, rule) = OUTSIDE.get_or_init(|| unreadable(u32::MAX));
                    return (app, rule);
                };
                let chunk = chunk.get_or_init(|| (0..CHUNK).map(|_| OnceLock::new()).collect());
                let decoded = chunk[i % CHUNK].get_or_init(|| {
                    Box::new(
                        records
                            .rule(order)
                            .and_then(|r| {
                                let app = records.app(r.app)?;
                                let rule = r.with_app(&app);
                                Some((app, rule))
                            })
                            .unwrap_or_else(|| unreadable(order)),
                    )
                });
                (&decoded.0, &decoded.1)
            }
        }
    }

    /// What the events of rule `order` (a [`Decision::rule`]) say of it and its app, borrowed:
    /// no allocation, whatever the policy (a compiled one's records are read in place), so
    /// that a hook may log in a signal handler that interrupted `malloc`. A rule that cannot be
    /// read is named `(unreadable rule N)`, written into `name`.
    pub fn event_rule<'a>(&'a self, order: u32, name: &'a mut UnreadableName) -> EventRule<'a> {
        match &self.rules {
            Rules::Source { rules, order: of } => match of.get(order as usize) {
                Some(&(a, r)) => {
                    let app = &rules.apps[a as usize];
                    EventRule::of(app, &app.rules[r as usize])
                }
                None => unreadable_event(order, name),
            },
            Rules::Compiled { records, .. } => records
                .event_rule(order)
                .unwrap_or_else(|| unreadable_event(order, name)),
        }
    }

    /// The best rank among the rules matching an event.
    #[inline]
    pub fn best_rank(&self, kind: EventKind, address: SocketAddr) -> Rank {
        match address {
            SocketAddr::V4(a) => self.best_rank_v4(kind, a.ip().to_bits(), a.port()),
            SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
                Some(v4) => self.best_rank_v4(kind, v4.to_bits(), a.port()),
                None => self.best_rank_other(kind, address),
            },
        }
    }

    /// [`Policy::best_rank`] of an IPv4 address (or an IPv4-mapped one), given as a number: the
    /// common case, with no `IpAddr` to build or normalise.
    #[inline(never)]
    pub fn best_rank_v4(&self, kind: EventKind, ip: u32, port: u16) -> Rank {
        if ip == 0 {
            return self.best_rank_other(kind, SocketAddr::from(([0u8; 4], port)));
        }
        with_index!(self, kind, |index| if index.is_empty() {
            Rank::NONE
        } else {
            index.best_v4(ip, port, self.resolver.as_ref())
        })
    }

    /// [`Policy::best_rank_v4`] for the common lookup, which makes no call (so that it can be
    /// inlined into a caller without costing it registers): `None` when the address needs more
    /// (a hostname rule of the kind, the unspecified address); then call `best_rank_v4`. For an
    /// address in a chain of blocks (or a block of several rules) the answer is a lookup to
    /// finish, [`Rank::resumes`]: neither no rule nor a silent `allow()`, so that a caller which
    /// forwards those at once finishes it ([`Policy::finish_rank_v4`]) on its other path only,
    /// and the common path pays nothing for it. Cannot panic: the hooks call it without
    /// `catch_unwind`.
    #[inline(always)]
    pub fn quick_rank_v4(&self, kind: EventKind, ip: u32, port: u16) -> Option<Rank> {
        match &self.kinds {
            Kinds::Owned(kinds) => kinds.get(kind.index())?.quick_v4(ip, port),
            Kinds::Mapped(kinds) => kinds.get(kind.index())?.quick_v4(ip, port),
        }
    }

    /// The rank a [`Policy::quick_rank_v4`] answer stands for: `rank` itself, or the end of the
    /// lookup it left ([`Rank::resumes`]), from its innermost block: the second address search
    /// of [`Policy::best_rank_v4`] is not made again. Cannot panic.
    #[inline]
    pub fn finish_rank_v4(&self, kind: EventKind, rank: Rank, port: u16) -> Rank {
        match rank.resumes() {
            Some(block) => self.resume_rank_v4(kind, block, port),
            None => rank,
        }
    }

    #[inline(always)]
    fn resume_rank_v4(&self, kind: EventKind, block: u32, port: u16) -> Rank {
        match &self.kinds {
            Kinds::Owned(kinds) => kinds
                .get(kind.index())
                .map_or(Rank::NONE, |index| index.resume_v4(block, port)),
            Kinds::Mapped(kinds) => kinds
                .get(kind.index())
                .map_or(Rank::NONE, |index| index.resume_v4(block, port)),
        }
    }

    /// [`Policy::best_rank`] of an IPv6 address that is neither IPv4-mapped nor unspecified
    /// (a caller checks), given as a number: no `IpAddr` to build or normalise. Cannot panic
    /// when the kind names no host (then it may resolve names: see `best_rank`).
    #[inline(never)]
    pub fn best_rank_v6(&self, kind: EventKind, ip: u128, port: u16) -> Rank {
        match &self.kinds {
            Kinds::Owned(kinds) => kinds.get(kind.index()).map_or(Rank::NONE, |index| {
                index.best_v6(ip, port, self.resolver.as_ref())
            }),
            Kinds::Mapped(kinds) => kinds.get(kind.index()).map_or(Rank::NONE, |index| {
                index.best_v6(ip, port, self.resolver.as_ref())
            }),
        }
    }

    /// [`Policy::best_rank_v6`] when the kind names no host (`None`: it does; ask
    /// `best_rank_v6`, which may resolve them): the test and the lookup under one dispatch.
    /// Cannot panic.
    #[inline(always)]
    pub fn quick_rank_v6(&self, kind: EventKind, ip: u128, port: u16) -> Option<Rank> {
        match &self.kinds {
            Kinds::Owned(kinds) => kinds.get(kind.index())?.quick_v6(ip, port),
            Kinds::Mapped(kinds) => kinds.get(kind.index())?.quick_v6(ip, port),
        }
    }

    /// What the IPv4 path leaves: IPv6 addresses, and the unspecified address (normalised).
    #[inline(never)]
    fn best_rank_other(&self, kind: EventKind, address: SocketAddr) -> Rank {
        let target = Target::of(kind, address);
        with_index!(self, kind, |index| match target {
            _ if index.is_empty() => Rank::NONE,
            Target::Address(ip, port) => index.best(ip, port, self.resolver.as_ref()),
            Target::AllLocal { ipv6, port } => index.best_unspecified(ipv6, port),
        })
    }

    /// The decision a rank makes, or `None` for no rule. Reads the rank alone, not the rule.
    #[inline]
    pub fn decision(&self, rank: Rank) -> Option<Decision> {
        let rule = rank.order()?;
        let selected = rank.action();
        let action = match (selected, self.mode) {
            (Action::Protect, Mode::DetectOnly) => Action::Detect,
            (action, _) => action,
        };
        Some(Decision {
            rule,
            selected,
            action,
            logged: rank.has_message() || action == Action::Detect,
        })
    }

    /// The rule that decides an event, or `None` when no rule matches (the call proceeds and
    /// nothing is logged). Allocates nothing.
    #[inline]
    pub fn decide(&self, kind: EventKind, address: SocketAddr) -> Option<Decision> {
        self.decision(self.best_rank(kind, address))
    }

    /// What each hostname of a kind's rules resolved to (resolving them now if needed).
    pub fn resolved_names(&self, kind: EventKind) -> &[(String, Vec<IpAddr>)] {
        with_index!(self, kind, |index| index
            .resolved_names(self.resolver.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn policy_is_shared_by_threads_without_locks() {
        assert_send_sync::<Policy>();
    }
}
