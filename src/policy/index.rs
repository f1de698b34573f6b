//! The compiled index of one condition kind: every lookup is a few binary searches, whatever the
//! number of rules.
//!
//! Rules are split by the shape of their host:
//! - one address or a CIDR block: [`Blocks`] per family (a single address is a block of one);
//! - the any-address: one [`PortSegments`] per family (for IPv4 it also holds the IPv6 blocks
//!   wide enough to hold every IPv4-mapped address);
//! - hostnames: resolved on first use into a map from address to [`PortSegments`]; but
//!   `localhost` and `*.localhost`, which are the loopback blocks 127.0.0.0/8 and ::1 (RFC 6761),
//!   never resolved.
//!
//! Each part yields the best [`Rank`] it holds for the port; the smallest rank wins.

use super::EventKind;
use super::blocks::Blocks;
use super::compiled::{Reader, Writer};
use super::ports::PortSegments;
use super::rank::Rank;
use super::resolve::{Resolve, Unresolved, is_localhost};
use super::store::{Mapped, Owned, Store};
use crate::hash::FxMap;
use crate::language::{HostPattern, PortPattern};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// One rule of this kind, its host normalised (see [`normalize_host`]).
#[derive(Debug, Clone)]
pub struct Entry {
    pub host: HostPattern,
    pub ports: (u16, u16),
    pub rank: Rank,
    pub allow: bool,
}

pub fn port_interval(port: PortPattern) -> (u16, u16) {
    match port {
        PortPattern::Any => (0, u16::MAX),
        PortPattern::Exact(p) => (p, p),
        PortPattern::Range(lo, hi) => (lo, hi),
    }
}

/// An IPv4-mapped IPv6 address is the IPv4 address.
pub fn normalize_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Rule hosts in the same terms as event addresses: mapped addresses and mapped CIDR blocks
/// (`::ffff:10.0.0.0/104`) become IPv4.
pub fn normalize_host(host: &HostPattern) -> HostPattern {
    match host {
        HostPattern::Ip(ip) => HostPattern::Ip(normalize_ip(*ip)),
        HostPattern::Cidr {
            network: IpAddr::V6(v6),
            prefix_len,
        } if *prefix_len >= 96 => match v6.to_ipv4_mapped() {
            Some(v4) => HostPattern::Cidr {
                network: IpAddr::V4(v4),
                prefix_len: prefix_len - 96,
            },
            None => host.clone(),
        },
        other => other.clone(),
    }
}

/// A map from key to the port intervals of its rules, compiled into segments.
fn compile<K: std::hash::Hash + Eq>(
    groups: FxMap<K, Vec<(u16, u16, Rank)>>,
) -> FxMap<K, PortSegments> {
    groups
        .into_iter()
        .map(|(k, v)| (k, PortSegments::build(&v)))
        .collect()
}

fn mask_v6(a: u128, len: u8) -> u128 {
    a & u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

/// A hostname rule: its name is `text[start..start + len]`.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct NameRule {
    start: u32,
    len: u32,
    lo: u16,
    hi: u16,
    /// Zero: keeps `rank` aligned without padding bytes.
    reserved: u32,
    rank: Rank,
}

/// Hostname rules, before and after resolution.
#[derive(Debug)]
struct Names<S: Store> {
    kind: EventKind,
    rules: S::Slice<NameRule>,
    text: S::Slice<u8>,
    resolved: OnceLock<Resolved>,
}

impl<S: Store> Names<S> {
    /// Out of line: resolving is rare, and keeps the common lookup small.
    #[inline(never)]
    fn best(&self, ip: IpAddr, port: u16, resolver: &dyn Resolve) -> Rank {
        self.resolved(resolver)
            .by_ip
            .get(&ip)
            .map_or(Rank::NONE, |s| s.best(port))
    }

    fn resolved(&self, resolver: &dyn Resolve) -> &Resolved {
        self.resolved.get_or_init(|| {
            // A name that is not text (a corrupt compiled file) is asked as the empty name,
            // which resolves to nothing: its rules match nothing.
            let rules: Vec<(&str, (u16, u16), Rank)> = self
                .rules
                .iter()
                .map(|r| {
                    let start = r.start as usize;
                    let name = self
                        .text
                        .get(start..start.saturating_add(r.len as usize))
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .unwrap_or("");
                    (name, (r.lo, r.hi), r.rank)
                })
                .collect();
            resolve_names(self.kind, &rules, resolver)
        })
    }
}

#[derive(Debug)]
pub struct KindIndex<S: Store = Owned> {
    v4: Blocks<u32, S>,
    v6: Blocks<u128, S>,
    /// The any-address rules, and the IPv6 blocks that hold every IPv4-mapped address (`::/0`,
    /// `::/64`, ...): every IPv4 address matches them.
    any_v4: PortSegments<S>,
    any_v6: PortSegments<S>,
    names: Option<Names<S>>,
    /// For binds to 0.0.0.0 and `::`: every rule whose port matches, except allow rules naming
    /// one address (an allow for one address does not permit listening on all of them).
    unspecified_v4: PortSegments<S>,
    unspecified_v6: PortSegments<S>,
    empty: bool,
}

impl KindIndex<Owned> {
    /// Compiles the entries of one kind (binds add the structures for unspecified binds).
    pub fn build(entries: impl IntoIterator<Item = Entry>, kind: EventKind) -> KindIndex {
        let binds = matches!(kind, EventKind::BindServer | EventKind::BindClient);
        let mut empty = true;
        let mut v4: Vec<(u32, u8, (u16, u16, Rank))> = Vec::new();
        let mut v6: Vec<(u128, u8, (u16, u16, Rank))> = Vec::new();
        let (mut any_v4, mut any_v6) = (Vec::new(), Vec::new());
        let mut names = Vec::new();
        let mut text = Vec::new();
        let (mut unspecified_v4, mut unspecified_v6) = (Vec::new(), Vec::new());
        for e in entries {
            empty = false;
            let interval = (e.ports.0, e.ports.1, e.rank);
            match e.host {
                HostPattern::Any(_) => {
                    any_v4.push(interval);
                    any_v6.push(interval);
                    unspecified_v4.push(interval);
                    unspecified_v6.push(interval);
                }
                HostPattern::Ip(ip) => {
                    match ip {
                        IpAddr::V4(a) => v4.push((u32::from(a), 32, interval)),
                        IpAddr::V6(a) => v6.push((u128::from(a), 128, interval)),
                    }
                    if !e.allow {
                        unspecified_v6.push(interval);
                        if ip.is_ipv4() {
                            unspecified_v4.push(interval);
                        }
                    }
                }
                HostPattern::Cidr {
                    network: IpAddr::V4(n),
                    prefix_len,
                } => v4.push((u32::from(n), prefix_len, interval)),
                HostPattern::Cidr {
                    network: IpAddr::V6(n),
                    prefix_len,
                } => {
                    let mapped_space = u128::from(Ipv4Addr::UNSPECIFIED.to_ipv6_mapped());
                    if prefix_len < 96 && mask_v6(mapped_space, prefix_len) == u128::from(n) {
                        any_v4.push(interval);
                    }
                    v6.push((u128::from(n), prefix_len, interval))
                }
                // The loopback addresses, whatever the hosts file says: a rule is not escaped
                // through ::1 or 127.0.0.2 on a host whose hosts file lists only 127.0.0.1.
                HostPattern::Name(name) if is_localhost(&name) => {
                    v4.push((u32::from(Ipv4Addr::LOCALHOST) & 0xff00_0000, 8, interval));
                    v6.push((u128::from(Ipv6Addr::LOCALHOST), 128, interval));
                }
                HostPattern::Name(name) => {
                    let start = text.len() as u32;
                    text.extend_from_slice(name.as_bytes());
                    names.push(NameRule {
                        start,
                        len: name.len() as u32,
                        lo: e.ports.0,
                        hi: e.ports.1,
                        reserved: 0,
                        rank: e.rank,
                    });
                }
            }
        }
        let (unspecified_v4, unspecified_v6) = if binds {
            (
                PortSegments::build(&unspecified_v4),
                PortSegments::build(&unspecified_v6),
            )
        } else {
            Default::default()
        };
        KindIndex {
            v4: Blocks::build(v4, true),
            v6: Blocks::build(v6, false),
            any_v4: PortSegments::build(&any_v4),
            any_v6: PortSegments::build(&any_v6),
            names: (!names.is_empty()).then(|| Names {
                kind,
                rules: names.into(),
                text: text.into(),
                resolved: OnceLock::new(),
            }),
            unspecified_v4,
            unspecified_v6,
            empty,
        }
    }

    /// Writes the index as sections of a compiled file.
    pub(super) fn write(&self, out: &mut Writer) {
        out.section(&[u32::from(!self.empty)]);
        self.v4.write(out);
        self.v6.write(out);
        for segments in [
            &self.any_v4,
            &self.any_v6,
            &self.unspecified_v4,
            &self.unspecified_v6,
        ] {
            segments.write(out);
        }
        match &self.names {
            Some(names) => {
                out.section(&names.rules);
                out.section(&names.text);
            }
            None => {
                out.section::<NameRule>(&[]);
                out.section::<u8>(&[]);
            }
        }
    }
}

impl KindIndex<Mapped> {
    /// Reads the sections [`KindIndex::write`] wrote.
    pub(super) fn read(input: &mut Reader, kind: EventKind) -> Result<Self, String> {
        let flags: &[u32] = input.section()?;
        let &[flags] = flags else {
            return Err("an index without its flags".into());
        };
        let v4 = Blocks::read(input)?;
        let v6 = Blocks::read(input)?;
        let any_v4 = PortSegments::read(input)?;
        let any_v6 = PortSegments::read(input)?;
        let unspecified_v4 = PortSegments::read(input)?;
        let unspecified_v6 = PortSegments::read(input)?;
        let rules: &[NameRule] = input.section()?;
        let text: &[u8] = input.section()?;
        Ok(KindIndex {
            v4,
            v6,
            any_v4,
            any_v6,
            names: (!rules.is_empty()).then(|| Names {
                kind,
                rules,
                text,
                resolved: OnceLock::new(),
            }),
            unspecified_v4,
            unspecified_v6,
            empty: flags & 1 == 0,
        })
    }
}

impl<S: Store> KindIndex<S> {
    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// True when some rule of this kind names a host: a lookup may resolve it.
    pub fn has_hostnames(&self) -> bool {
        self.names.is_some()
    }

    /// True when this kind's hostnames are resolved (or it names none): a lookup resolves nothing.
    pub fn hostnames_resolved(&self) -> bool {
        self.names
            .as_ref()
            .is_none_or(|names| names.resolved.get().is_some())
    }

    /// The best rank among rules matching a remote or specific local address. `ip` is normalised.
    #[inline]
    pub fn best(&self, ip: IpAddr, port: u16, resolver: &dyn Resolve) -> Rank {
        match ip {
            IpAddr::V4(v4) => self.best_v4(v4.to_bits(), port, resolver),
            IpAddr::V6(v6) => {
                let best = self
                    .any_v6
                    .best(port)
                    .min(self.v6.best(u128::from(v6), port));
                match &self.names {
                    Some(names) => best.min(names.best(ip, port, resolver)),
                    None => best,
                }
            }
        }
    }

    /// [`KindIndex::best`] for an IPv4 address given as a number.
    #[inline(always)]
    pub fn best_v4(&self, ip: u32, port: u16, resolver: &dyn Resolve) -> Rank {
        let best = self.any_v4.best(port).min(self.v4.best(ip, port));
        match &self.names {
            Some(names) => {
                best.min(names.best(IpAddr::V4(Ipv4Addr::from_bits(ip)), port, resolver))
            }
            None => best,
        }
    }

    /// [`KindIndex::best_v4`] as far as it goes without a call (no hostname rule, not the
    /// unspecified address): the rank, or for an address in a chain of blocks (or in a block of
    /// several rules) a [`Rank::resume`] at its innermost block, for [`KindIndex::resume_v4`].
    /// `None`: use `best_v4`. Cannot panic.
    #[inline(always)]
    pub fn quick_v4(&self, ip: u32, port: u16) -> Option<Rank> {
        if ip == 0 || self.names.is_some() {
            return None;
        }
        let rank = self.v4.lookup(ip, port);
        // A lookup to finish takes the any-address rules with it (`resume_v4`).
        if rank.resumes().is_some() {
            return Some(rank);
        }
        Some(rank.min(self.any_v4.best(port)))
    }

    /// Finishes a lookup [`KindIndex::quick_v4`] left at `block`: the tables of its chain, and
    /// the any-address rules. Cannot panic.
    pub fn resume_v4(&self, block: u32, port: u16) -> Rank {
        self.any_v4.best(port).min(self.v4.walk(block, port))
    }

    /// [`KindIndex::best`] of an IPv6 address that is neither IPv4-mapped nor unspecified, as a
    /// number. Cannot panic when the kind names no host.
    #[inline(always)]
    pub fn best_v6(&self, ip: u128, port: u16, resolver: &dyn Resolve) -> Rank {
        let best = self.any_v6.best(port).min(self.v6.best(ip, port));
        match &self.names {
            Some(names) => {
                best.min(names.best(IpAddr::V6(Ipv6Addr::from_bits(ip)), port, resolver))
            }
            None => best,
        }
    }

    /// [`KindIndex::best_v6`] when the kind names no host (`None` otherwise).
    #[inline(always)]
    pub fn quick_v6(&self, ip: u128, port: u16) -> Option<Rank> {
        if self.names.is_some() {
            return None;
        }
        Some(self.any_v6.best(port).min(self.v6.best_in_line(ip, port)))
    }

    /// The best rank for a bind to the unspecified address of a family.
    pub fn best_unspecified(&self, ipv6: bool, port: u16) -> Rank {
        if ipv6 {
            self.unspecified_v6.best(port)
        } else {
            self.unspecified_v4.best(port)
        }
    }

    /// What each hostname resolved to (empty when it did not), resolving now if no lookup has.
    pub fn resolved_names(&self, resolver: &dyn Resolve) -> &[(String, Vec<IpAddr>)] {
        match &self.names {
            Some(names) => &names.resolved(resolver).names,
            None => &[],
        }
    }
}

/// Hostname rules once resolved.
#[derive(Debug)]
struct Resolved {
    by_ip: FxMap<IpAddr, PortSegments>,
    names: Vec<(String, Vec<IpAddr>)>,
}

/// Resolves every name of a kind's rules at once, then builds the map: linear in the rules.
fn resolve_names(
    kind: EventKind,
    rules: &[(&str, (u16, u16), Rank)],
    resolver: &dyn Resolve,
) -> Resolved {
    // Each name once, in the order of its first rule, with how many rules name it.
    let mut seen: FxMap<&str, usize> = FxMap::default();
    let mut unique: Vec<(&str, usize)> = Vec::new();
    let of_rule: Vec<usize> = rules
        .iter()
        .map(|(name, _, _)| {
            let i = *seen.entry(name).or_insert_with(|| {
                unique.push((name, 0));
                unique.len() - 1
            });
            unique[i].1 += 1;
            i
        })
        .collect();
    let queried: Vec<&str> = unique.iter().map(|(name, _)| *name).collect();
    let mut answers = resolver.resolve_all(&queried).into_iter();
    let names: Vec<(String, Vec<IpAddr>)> = unique
        .iter()
        .map(|&(name, count)| {
            let answer = answers
                .next()
                .unwrap_or_else(|| Err("the resolver gave no answer".into()));
            let ips = match answer {
                Ok(ips) => ips.into_iter().map(normalize_ip).collect(),
                Err(reason) => {
                    resolver.report_unresolved(&Unresolved {
                        kind,
                        name,
                        reason: &reason,
                        rules: count,
                    });
                    Vec::new()
                }
            };
            (name.to_string(), ips)
        })
        .collect();
    let mut by_ip: FxMap<IpAddr, Vec<(u16, u16, Rank)>> = FxMap::default();
    for ((_, (lo, hi), rank), &i) in rules.iter().zip(&of_rule) {
        for ip in &names[i].1 {
            by_ip.entry(*ip).or_default().push((*lo, *hi, *rank));
        }
    }
    Resolved {
        by_ip: compile(by_ip),
        names,
    }
}

/// The loopback address of the same family: what a connect to the unspecified address reaches.
pub fn loopback_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}
