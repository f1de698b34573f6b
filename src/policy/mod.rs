//! ARMR rule selection, compiled once into an immutable index.
//!
//! A [`Policy`] is built from a loaded [`RuleSet`] and then only read: it is `Send + Sync`, shared
//! by every thread without a lock, and a decision allocates nothing (but for the one-time
//! resolution of hostnames, on the first decision that needs them). `docs/semantics.md` states
//! the semantics this module implements, with examples.

mod blocks;
pub mod explain;
mod index;
mod ports;
mod rank;
mod resolve;
pub mod shadow;

pub use explain::{Candidate, Explanation};
pub use index::normalize_ip;
pub use rank::Rank;
pub use resolve::{Resolve, SystemResolver, Unresolved, is_localhost, warning};

use crate::language::{Action, AddressPattern, App, Condition, RuleSet, SocketRule};
use index::{Entry, KindIndex, loopback_of, normalize_host, port_interval};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

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
    rules: RuleSet,
    /// `(app, rule)` index of each rule, in definition order: a rank's order indexes this.
    order: Vec<(u32, u32)>,
    kinds: [KindIndex; 4],
    mode: Mode,
    resolver: Box<dyn Resolve>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("rules", &self.order.len())
            .field("mode", &self.mode)
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
            rules,
            order,
            kinds,
            mode,
            resolver,
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The number of socket rules.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// True when some rule has this kind's condition: without one, every event of the kind is
    /// allowed unlogged, and a caller may skip decoding the event at all.
    #[inline]
    pub fn has_rules(&self, kind: EventKind) -> bool {
        !self.kinds[kind.index()].is_empty()
    }

    /// True when some rule of this kind names a host (other than `localhost` and the names under
    /// it, which are the loopback addresses), so that a decision may resolve names (the first
    /// time) through the system resolver.
    pub fn has_hostnames(&self, kind: EventKind) -> bool {
        self.kinds[kind.index()].has_hostnames()
    }

    /// True when every hostname of this kind's rules is resolved (or there is none): a decision
    /// of the kind makes no call to the resolver.
    pub fn hostnames_resolved(&self, kind: EventKind) -> bool {
        self.kinds[kind.index()].hostnames_resolved()
    }

    /// The app and rule at `order` (a [`Decision::rule`]).
    pub fn rule(&self, order: u32) -> (&App, &SocketRule) {
        let (a, r) = self.order[order as usize];
        let app = &self.rules.apps[a as usize];
        (app, &app.rules[r as usize])
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
        let index = &self.kinds[kind.index()];
        if index.is_empty() {
            return Rank::NONE;
        }
        if ip == 0 {
            return self.best_rank_other(kind, SocketAddr::from(([0u8; 4], port)));
        }
        index.best_v4(ip, port, self.resolver.as_ref())
    }

    /// [`Policy::best_rank_v4`] for the common lookup, which makes no call (so that it can be
    /// inlined into a caller without costing it registers): `None` when the address needs more
    /// (a hostname rule of the kind, nested blocks, the unspecified address); then call
    /// `best_rank_v4`. Cannot panic: the hooks call it without `catch_unwind`.
    #[inline(always)]
    pub fn quick_rank_v4(&self, kind: EventKind, ip: u32, port: u16) -> Option<Rank> {
        self.kinds.get(kind.index())?.quick_v4(ip, port)
    }

    /// What the IPv4 path leaves: IPv6 addresses, and the unspecified address (normalised).
    #[inline(never)]
    fn best_rank_other(&self, kind: EventKind, address: SocketAddr) -> Rank {
        let index = &self.kinds[kind.index()];
        if index.is_empty() {
            return Rank::NONE;
        }
        match Target::of(kind, address) {
            Target::Address(ip, port) => index.best(ip, port, self.resolver.as_ref()),
            Target::AllLocal { ipv6, port } => index.best_unspecified(ipv6, port),
        }
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
        self.kinds[kind.index()].resolved_names(self.resolver.as_ref())
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
