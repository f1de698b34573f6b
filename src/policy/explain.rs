//! `armr explain`: which rule wins for an event, and why each other matching rule loses.
//!
//! The decision comes from the compiled index, as in a guarded process; the list of matching rules
//! comes from a plain scan of the rules, and the two are checked against each other. The
//! [`Explanation`] is data: the `armr` command renders it (text or JSON, `cli/src/explain.rs`).

use super::index::Entry;
use super::rank::action_priority;
use super::{Decision, EventKind, Mode, Policy, Rank, Target, entries};
use crate::language::{Action, HostPattern};
use std::net::{IpAddr, SocketAddr};

/// A rule that matches the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub rule: u32,
    pub rank: Rank,
    /// Why it loses to the winner; `None` for the winner itself.
    pub lost_because: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub kind: EventKind,
    pub address: SocketAddr,
    pub decision: Option<Decision>,
    /// Every matching rule, best first: the first is the winner.
    pub candidates: Vec<Candidate>,
    /// How the address was read (normalisations, hostname resolution, the mode).
    pub notes: Vec<String>,
}

fn host_matches(host: &HostPattern, ip: IpAddr, resolved: &[(String, Vec<IpAddr>)]) -> bool {
    match host {
        HostPattern::Any(_) => true,
        HostPattern::Ip(a) => *a == ip,
        HostPattern::Cidr {
            network,
            prefix_len,
        } => {
            let as_v6 = |ip: IpAddr| match ip {
                IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
                IpAddr::V6(v6) => u128::from(v6),
            };
            match (network, ip) {
                (IpAddr::V4(n), IpAddr::V4(a)) => {
                    let shift = 32 - u32::from(*prefix_len);
                    u32::from(*n).checked_shr(shift) == u32::from(a).checked_shr(shift)
                }
                (IpAddr::V6(n), a) => {
                    let shift = 128 - u32::from(*prefix_len);
                    u128::from(*n).checked_shr(shift) == as_v6(a).checked_shr(shift)
                }
                (IpAddr::V4(_), IpAddr::V6(_)) => false,
            }
        }
        HostPattern::Name(name) if super::is_localhost(name) => match ip {
            IpAddr::V4(v4) => v4.is_loopback(),
            IpAddr::V6(v6) => v6.is_loopback(),
        },
        HostPattern::Name(name) => resolved
            .iter()
            .any(|(n, ips)| n == name && ips.contains(&ip)),
    }
}

fn entry_matches(entry: &Entry, target: Target, resolved: &[(String, Vec<IpAddr>)]) -> bool {
    let (lo, hi) = entry.ports;
    match target {
        Target::Address(ip, port) => {
            (lo..=hi).contains(&port) && host_matches(&entry.host, ip, resolved)
        }
        Target::AllLocal { ipv6, port } => {
            (lo..=hi).contains(&port)
                && match &entry.host {
                    HostPattern::Any(_) => true,
                    HostPattern::Ip(a) => !entry.allow && (ipv6 || a.is_ipv4()),
                    _ => false,
                }
        }
    }
}

/// Why `loser` ranks below `winner`.
fn reason(loser: Rank, winner: Rank) -> String {
    let (la, wa) = (loser.action(), winner.action());
    if loser.wildcard() && !winner.wildcard() {
        "it has a wildcard (any-address, CIDR block or port 0) and the winner does not".into()
    } else if action_priority(la) > action_priority(wa) {
        format!("{la} ranks below {wa} (allow, then protect, then detect)")
    } else {
        "the winner is defined before it".into()
    }
}

impl Policy {
    /// Explains the decision for an event.
    pub fn explain(&self, kind: EventKind, address: SocketAddr) -> Explanation {
        let target = Target::of(kind, address);
        let resolved = self.resolved_names(kind);
        let mut candidates: Vec<Candidate> = entries(self.rules(), kind)
            .into_iter()
            .filter(|(_, e)| entry_matches(e, target, resolved))
            .map(|(rule, e)| Candidate {
                rule,
                rank: e.rank,
                lost_because: None,
            })
            .collect();
        candidates.sort_by_key(|c| c.rank);
        if let Some(winner) = candidates.first().map(|c| c.rank) {
            for c in candidates.iter_mut().skip(1) {
                c.lost_because = Some(reason(c.rank, winner));
            }
        }
        let decision = self.decide(kind, address);
        debug_assert_eq!(decision.map(|d| d.rule), candidates.first().map(|c| c.rule));

        let mut notes = Vec::new();
        let ip = address.ip();
        if super::normalize_ip(ip) != ip && !ip.is_unspecified() {
            notes.push(format!(
                "{ip} is an IPv4-mapped IPv6 address: judged as {}",
                super::normalize_ip(ip)
            ));
        }
        match target {
            Target::Address(judged, _) if judged != super::normalize_ip(ip) => notes.push(format!(
                "a connect to the unspecified address {} reaches this host: judged as {judged} \
                 (from a socket bound to no address; the library judges where the kernel sends it)",
                super::normalize_ip(ip)
            )),
            Target::AllLocal { ipv6, .. } => notes.push(format!(
                "a bind to {} listens on every local {} address: rules naming one address with this \
                 port apply too, except allow rules",
                super::normalize_ip(ip),
                if ipv6 { "IPv6 and IPv4" } else { "IPv4" }
            )),
            _ => {}
        }
        let mut loopback_names: Vec<String> = Vec::new();
        for (_, e) in entries(self.rules(), kind) {
            if let HostPattern::Name(name) = e.host
                && super::is_localhost(&name)
                && !loopback_names.contains(&name)
            {
                loopback_names.push(name);
            }
        }
        for name in loopback_names {
            notes.push(format!(
                "hostname {name} is the loopback addresses 127.0.0.0/8 and ::1 (RFC 6761), \
                 whatever the hosts file and the resolver say: it is not resolved"
            ));
        }
        for (name, ips) in resolved {
            let list: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
            notes.push(if ips.is_empty() {
                format!("hostname {name} does not resolve: its rules match nothing")
            } else {
                format!("hostname {name} resolves to {}", list.join(", "))
            });
        }
        if self.mode() == Mode::DetectOnly
            && decision.is_some_and(|d| d.selected == Action::Protect)
        {
            notes.push(
                "detect-only mode: the protect rule acts as detect (logged, not refused)".into(),
            );
        }
        Explanation {
            kind,
            address,
            decision,
            candidates,
            notes,
        }
    }
}
