//! Rules that can never win: another rule matches every event the rule matches and beats it by
//! ARMR's selection (no wildcard first, then allow, protect, detect, then the first defined), so
//! the rule never decides anything. `armr check` warns about each, naming the rule that wins.
//!
//! Conservative: a rule is reported only when one other rule covers it whole, judged from the
//! rules alone (a hostname is covered only by the same name or the any-address, whatever it
//! resolves to), with the matching of `docs/semantics.md` (the scan `armr explain` uses): a bind
//! to the unspecified address is matched by the any-address rules and by the protect and detect
//! rules naming one address, so an allow rule naming one address does not cover a protect rule
//! naming the same one.
//!
//! Each event kind is one pass over its rules in rank order, best first: a rule is covered when a
//! rule already passed (so ranked better) has a host covering its host and a port interval
//! holding its interval. The better rules of each host are kept as a staircase of port intervals
//! (none inside another), so that the question is one ordered-map lookup: the whole is
//! `O(n log n)` with at most 129 host lookups per rule, not a comparison of every pair.

use super::rank::action_priority;
use super::{EventKind, Rank, entries, is_localhost};
use crate::language::{
    Diagnostic, DiagnosticKind, HostPattern, Level, Load, RuleSet, SocketRule, Span,
    diagnostic::Shadowing,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

/// One rule that can never win events of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shadowed {
    /// The rule's place in definition order (as [`super::Policy::rule`] takes it).
    pub rule: u32,
    pub kind: EventKind,
    /// The rule that matches everything it matches and is chosen before it.
    pub by: u32,
    pub reason: Reason,
}

/// Why the covering rule is chosen: the first step of the selection that separates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// It has no wildcard, the shadowed rule has one.
    NoWildcard,
    /// Allow before protect before detect.
    Action,
    /// Same wildcard and action: it is defined first.
    DefinedFirst,
}

/// A host as a set of addresses: a block of the IPv6 space, IPv4 as IPv4-mapped (as events are
/// matched), the loopback addresses of `localhost`, or a name whose addresses are not known.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum HostSet {
    Block { network: u128, prefix: u8 },
    Loopback,
    Name(String),
}

const MAPPED_LOOPBACK: u128 = 0xffff_7f00_0000; // ::ffff:127.0.0.0/104

fn mask(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

fn as_v6(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The host as a set (`host` normalised as the index holds it).
fn host_set(host: &HostPattern) -> HostSet {
    match host {
        HostPattern::Any(_) => HostSet::Block {
            network: 0,
            prefix: 0,
        },
        HostPattern::Ip(ip) => HostSet::Block {
            network: as_v6(*ip),
            prefix: 128,
        },
        HostPattern::Cidr {
            network,
            prefix_len,
        } => {
            let prefix = match network {
                IpAddr::V4(_) => prefix_len + 96,
                IpAddr::V6(_) => *prefix_len,
            };
            HostSet::Block {
                network: as_v6(*network) & mask(prefix),
                prefix,
            }
        }
        HostPattern::Name(name) if is_localhost(name) => HostSet::Loopback,
        HostPattern::Name(name) => HostSet::Name(name.clone()),
    }
}

/// Port intervals, none inside another: sorted by start, so also by end.
#[derive(Debug, Default)]
struct Staircase(BTreeMap<u16, (u16, u32)>);

impl Staircase {
    /// A rule whose interval holds `lo..=hi`.
    fn covering(&self, lo: u16, hi: u16) -> Option<u32> {
        let (_, &(end, rule)) = self.0.range(..=lo).next_back()?;
        (end >= hi).then_some(rule)
    }

    fn insert(&mut self, lo: u16, hi: u16, rule: u32) {
        if self.covering(lo, hi).is_some() {
            return;
        }
        let inside: Vec<u16> = self
            .0
            .range(lo..)
            .take_while(|(_, (end, _))| *end <= hi)
            .map(|(start, _)| *start)
            .collect();
        for start in inside {
            self.0.remove(&start);
        }
        self.0.insert(lo, (hi, rule));
    }
}

/// The better rules of one host: all of them, and those that match binds to the unspecified
/// address (not allow rules naming one address).
#[derive(Debug, Default)]
struct Group {
    all: Staircase,
    unspecified: Staircase,
}

/// Every rule that can never win, by kind, in definition order of the shadowed rules.
pub fn shadowed(rules: &RuleSet) -> Vec<Shadowed> {
    let mut found = Vec::new();
    for kind in EventKind::ALL {
        let bind = matches!(kind, EventKind::BindServer | EventKind::BindClient);
        let mut ranked = entries(rules, kind);
        ranked.sort_by_key(|(_, entry)| entry.rank);
        let rank_of: HashMap<u32, Rank> = ranked.iter().map(|(o, e)| (*o, e.rank)).collect();
        let mut groups: HashMap<HostSet, Group> = HashMap::new();
        let mut prefixes: BTreeSet<u8> = BTreeSet::new();
        for (order, entry) in &ranked {
            let host = host_set(&entry.host);
            let (lo, hi) = entry.ports;
            // One address in a bind: a protect or detect rule also matches a bind to the
            // unspecified address, and only a rule that does too covers it.
            let one_address = matches!(host, HostSet::Block { prefix: 128, .. });
            let strict = bind && one_address && !entry.allow;
            let candidates = covering_hosts(&host, &prefixes);
            // Of the covering rules found, the best ranked: the one that wins the events.
            let by = candidates.iter().filter_map(|candidate| {
                let group = groups.get(candidate)?;
                let needs_unspecified = strict && candidate == &host;
                let stairs = if needs_unspecified {
                    &group.unspecified
                } else {
                    &group.all
                };
                stairs.covering(lo, hi)
            });
            let best = by.filter_map(|by| Some((*rank_of.get(&by)?, by))).min();
            if let Some((winner, by)) = best {
                found.push(Shadowed {
                    rule: *order,
                    kind,
                    by,
                    reason: reason(winner, entry.rank),
                });
            }
            if let HostSet::Block { prefix, .. } = host {
                prefixes.insert(prefix);
            }
            let group = groups.entry(host).or_default();
            group.all.insert(lo, hi, *order);
            if !(one_address && entry.allow) {
                group.unspecified.insert(lo, hi, *order);
            }
        }
    }
    found.sort_by_key(|s| (s.rule, s.kind as u8));
    found
}

/// The hosts whose rules match every address `host` names: the blocks around it (of the prefix
/// lengths some rule has), `localhost` for loopback addresses, the same name.
fn covering_hosts(host: &HostSet, prefixes: &BTreeSet<u8>) -> Vec<HostSet> {
    let block = |network: u128, prefix: u8| HostSet::Block {
        network: network & mask(prefix),
        prefix,
    };
    match host {
        HostSet::Block { network, prefix } => {
            let mut out: Vec<HostSet> = prefixes
                .range(..=*prefix)
                .map(|&p| block(*network, p))
                .collect();
            let loopback = (*prefix >= 104 && network & mask(104) == MAPPED_LOOPBACK)
                || (*prefix == 128 && *network == 1);
            if loopback {
                out.push(HostSet::Loopback);
            }
            out
        }
        // 127.0.0.0/8 and ::1 share their first 80 bits (all zero).
        HostSet::Loopback => prefixes
            .range(..=80)
            .map(|&p| block(0, p))
            .chain([HostSet::Loopback])
            .collect(),
        HostSet::Name(_) => prefixes
            .range(..=0)
            .map(|&p| block(0, p))
            .chain([host.clone()])
            .collect(),
    }
}

fn reason(winner: Rank, loser: Rank) -> Reason {
    if !winner.wildcard() && loser.wildcard() {
        Reason::NoWildcard
    } else if action_priority(winner.action()) < action_priority(loser.action()) {
        Reason::Action
    } else {
        Reason::DefinedFirst
    }
}

/// The condition a kind is judged by, as a rule writes it.
fn condition(kind: EventKind) -> &'static str {
    match kind {
        EventKind::BindServer => "bind(server:)",
        EventKind::BindClient => "bind(client:)",
        EventKind::Connect => "connect",
        EventKind::Accept => "accept",
    }
}

/// Adds a warning for every rule of `load` that can never win, to the file that holds it, at
/// the rule. For `armr check`: the library does not pay for it when it loads rules to enforce.
pub fn warn(load: &mut Load) {
    if !load.is_ok() {
        return; // the rule set of a file with errors is incomplete
    }
    let rules: Vec<&SocketRule> = load.rules.socket_rules().map(|(_, rule)| rule).collect();
    let mut warnings = Vec::new();
    for shadow in shadowed(&load.rules) {
        let (Some(rule), Some(by)) = (
            rules.get(shadow.rule as usize),
            rules.get(shadow.by as usize),
        ) else {
            continue;
        };
        let shadow = Shadowing {
            rule: rule.name.to_string(),
            condition: condition(shadow.kind),
            by: by.name.to_string(),
            at: by.location.to_string(),
            reason: match shadow.reason {
                Reason::NoWildcard => "no wildcard",
                Reason::Action => "action",
                Reason::DefinedFirst => "defined first",
            },
        };
        let kind = DiagnosticKind::ShadowedRule {
            shadow: Box::new(shadow),
        };
        warnings.push((rule.location.clone(), kind));
    }
    for (location, kind) in warnings {
        let Some(file) = load
            .files
            .iter_mut()
            .find(|f| f.source.name == location.file)
        else {
            continue;
        };
        let start = file.source.offset_of(location.line, location.column);
        file.diagnostics.push(Diagnostic {
            level: Level::Warning,
            kind,
            span: Some(Span::new(start, start + "socket".len())),
        });
    }
    for file in &mut load.files {
        file.diagnostics
            .sort_by_key(|d| d.span.map_or(0, |s| s.start));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::{SourceFile, load};

    /// `(rule, by, reason)` by rule name, for a file of socket rules given as
    /// `(name, condition, action)`.
    fn shadows(rules: &[(&str, &str, &str)]) -> Vec<(String, String, Reason)> {
        let body: String = rules
            .iter()
            .map(|(name, condition, action)| {
                format!("socket(\"{name}\"): {condition} {action} endsocket\n")
            })
            .collect();
        let text = format!("app(\"A\"):\nrequires(version: ARMR/2.11)\n{body}endapp\n");
        let loaded = load(vec![SourceFile::new("t.armr", text)]);
        assert!(loaded.is_ok(), "{}", loaded.files[0].render());
        let names: Vec<String> = loaded
            .rules
            .socket_rules()
            .map(|(_, r)| r.name.to_string())
            .collect();
        shadowed(&loaded.rules)
            .into_iter()
            .map(|s| {
                (
                    names[s.rule as usize].clone(),
                    names[s.by as usize].clone(),
                    s.reason,
                )
            })
            .collect()
    }

    fn by(rule: &str, winner: &str, reason: Reason) -> (String, String, Reason) {
        (rule.into(), winner.into(), reason)
    }

    #[test]
    fn a_wildcard_allow_shadows_a_wildcard_protect_inside_it() {
        // The example: both have a wildcard (port 0), so allow is chosen.
        assert_eq!(
            shadows(&[
                ("p", "connect(\"10.0.0.9:0\")", "protect()"),
                ("a", "connect(\"0.0.0.0:0\")", "allow()"),
            ]),
            [by("p", "a", Reason::Action)]
        );
    }

    #[test]
    fn an_exact_rule_inside_a_wildcard_one_is_not_shadowed() {
        // The exact protect beats the wildcard allow: each wins some events.
        assert_eq!(
            shadows(&[
                ("p", "connect(\"10.0.0.9:80\")", "protect()"),
                ("a", "connect(\"0.0.0.0:0\")", "allow()"),
            ]),
            []
        );
        // A port range is not a wildcard either.
        assert_eq!(
            shadows(&[
                ("p", "connect(\"10.0.0.9:80-90\")", "protect()"),
                ("a", "connect(\"0.0.0.0:0\")", "allow()"),
            ]),
            []
        );
    }

    #[test]
    fn an_exact_rule_shadows_a_wildcard_inside_it() {
        assert_eq!(
            shadows(&[
                ("block", "connect(\"10.0.0.1/32:80\")", "allow()"),
                (
                    "exact",
                    "connect(\"10.0.0.1:80\")",
                    "detect(message: \"m\")"
                ),
            ]),
            [by("block", "exact", Reason::NoWildcard)]
        );
    }

    #[test]
    fn the_same_rule_twice_loses_to_the_first() {
        assert_eq!(
            shadows(&[
                ("one", "connect(\"10.0.0.1:80\")", "protect()"),
                ("two", "connect(\"10.0.0.1:80\")", "protect()"),
            ]),
            [by("two", "one", Reason::DefinedFirst)]
        );
    }

    #[test]
    fn a_wider_rule_that_loses_is_not_shadowed() {
        assert_eq!(
            shadows(&[
                ("narrow", "connect(\"10.0.0.1:80-90\")", "allow()"),
                ("wide", "connect(\"10.0.0.1:1-1000\")", "protect()"),
            ]),
            []
        );
        // Partly overlapping ports: each matches events the other does not.
        assert_eq!(
            shadows(&[
                ("a", "connect(\"10.0.0.1:80-90\")", "allow()"),
                ("b", "connect(\"10.0.0.1:85-95\")", "protect()"),
            ]),
            []
        );
    }

    #[test]
    fn cidr_blocks_cover_the_addresses_and_blocks_inside_them() {
        assert_eq!(
            shadows(&[
                ("eight", "connect(\"10.0.0.0/8:0\")", "allow()"),
                ("sixteen", "connect(\"10.1.0.0/16:0\")", "protect()"),
                ("one", "connect(\"10.1.2.3:0\")", "detect(message: \"m\")"),
                ("outside", "connect(\"11.0.0.1:0\")", "protect()"),
                ("wider", "connect(\"0.0.0.0/4:0\")", "protect()"),
            ]),
            [
                by("sixteen", "eight", Reason::Action),
                by("one", "eight", Reason::Action)
            ]
        );
        // An IPv6 block covers the IPv4 addresses whose mapped form it holds.
        assert_eq!(
            shadows(&[
                ("mapped", "connect(\"[::ffff:0:0/96]:0\")", "allow()"),
                ("v4", "connect(\"192.168.0.0/16:0\")", "protect()"),
            ]),
            [by("v4", "mapped", Reason::Action)]
        );
    }

    #[test]
    fn hostnames_are_covered_by_the_same_name_or_the_any_address_only() {
        assert_eq!(
            shadows(&[
                ("all", "connect(\"0.0.0.0:0\")", "allow()"),
                ("db", "connect(\"db.internal:0\")", "protect()"),
                (
                    "db again",
                    "connect(\"DB.internal.:0\")",
                    "detect(message: \"m\")"
                ),
            ]),
            [
                by("db", "all", Reason::Action),
                by("db again", "all", Reason::Action)
            ]
        );
        // Whatever db.internal resolves to, a block does not cover it for certain.
        assert_eq!(
            shadows(&[
                ("ten", "connect(\"10.0.0.0/8:0\")", "allow()"),
                ("db", "connect(\"db.internal:0\")", "protect()"),
            ]),
            []
        );
    }

    #[test]
    fn localhost_is_the_loopback_addresses() {
        assert_eq!(
            shadows(&[
                ("localhost", "connect(\"localhost:0\")", "allow()"),
                ("127.0.0.2", "connect(\"127.0.0.2:0\")", "protect()"),
                ("::1", "connect(\"[::1]:0\")", "protect()"),
                ("app.localhost", "connect(\"app.localhost:0\")", "protect()"),
                ("10.0.0.1", "connect(\"10.0.0.1:0\")", "protect()"),
            ]),
            [
                by("127.0.0.2", "localhost", Reason::Action),
                by("::1", "localhost", Reason::Action),
                by("app.localhost", "localhost", Reason::Action)
            ]
        );
        // 127.0.0.0/8 alone does not hold ::1, which localhost names too.
        assert_eq!(
            shadows(&[
                ("loopback4", "connect(\"127.0.0.0/8:0\")", "allow()"),
                ("localhost", "connect(\"localhost:0\")", "protect()"),
            ]),
            []
        );
    }

    #[test]
    fn an_allow_naming_one_address_does_not_cover_a_bind_to_the_unspecified_address() {
        // A server binding 0.0.0.0:5001 is refused by the protect rule, which the allow rule does
        // not match (docs/semantics.md): the protect rule wins that event.
        assert_eq!(
            shadows(&[
                ("allow", "bind(server: \"127.0.0.1:5001\")", "allow()"),
                ("protect", "bind(server: \"127.0.0.1:5001\")", "protect()"),
            ]),
            []
        );
        // Without an allow in between, the second protect never wins.
        assert_eq!(
            shadows(&[
                ("first", "bind(server: \"127.0.0.1:5001\")", "protect()"),
                (
                    "second",
                    "bind(server: \"127.0.0.1:5001\")",
                    "detect(message: \"m\")"
                ),
                ("any", "bind(server: \"0.0.0.0:0\")", "allow()"),
                ("client", "bind(client: \"127.0.0.1:0\")", "protect()"),
            ]),
            [by("second", "first", Reason::Action)]
        );
    }

    #[test]
    fn a_bind_rule_with_both_keys_is_judged_per_kind() {
        assert_eq!(
            shadows(&[
                ("any", "bind(server: \"0.0.0.0:0\")", "allow()"),
                (
                    "both",
                    "bind(server: \"0.0.0.0:8080\", client: \"0.0.0.0:0\")",
                    "protect()"
                ),
            ]),
            [by("both", "any", Reason::Action)]
        );
    }

    #[test]
    fn the_staircase_finds_a_covering_interval_among_many() {
        let mut stairs = Staircase::default();
        for (i, (lo, hi)) in [(10, 20), (15, 30), (12, 18), (40, 50), (0, 5)]
            .into_iter()
            .enumerate()
        {
            stairs.insert(lo, hi, i as u32);
        }
        assert_eq!(stairs.covering(12, 18), Some(0));
        assert_eq!(stairs.covering(16, 30), Some(1));
        assert_eq!(stairs.covering(10, 30), None);
        assert_eq!(stairs.covering(41, 41), Some(3));
        stairs.insert(0, 100, 9);
        assert_eq!(stairs.0.len(), 1);
        assert_eq!(stairs.covering(1, 99), Some(9));
    }
}
