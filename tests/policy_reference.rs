//! The policy engine checked against a naive reference written straight from the semantics of rule
//! selection (`docs/semantics.md`), not from the engine's code:
//!
//! - an event is `(kind, address)`; its candidates are the socket rules of that kind whose address
//!   matches it;
//! - among the candidates, a rule whose address has no wildcard (any-address, CIDR block, port 0;
//!   a port range is not one) beats one with a wildcard, then allow beats protect beats detect,
//!   then the rule defined first wins;
//! - IPv4-mapped IPv6 addresses (in events and in rule hosts) are the IPv4 address; the
//!   any-address matches both families; an IPv6 CIDR block also matches IPv4 addresses whose
//!   mapped form it contains; a hostname matches what it resolves to;
//! - a connect to the unspecified address is judged as loopback of its family;
//! - a bind to `0.0.0.0` covers every local IPv4 address and a bind to `::` every address of both
//!   families: its candidates are the any-address rules plus the protect/detect rules naming one
//!   address (IPv4 only for `0.0.0.0`), never allow rules naming one address;
//! - detect-only mode turns a selected protect into detect.
//!
//! The reference is a linear scan over `RuleSet::socket_rules()` taking the minimum of
//! `(wildcard, action priority, order)`. A property test compares it with `Policy::decide` and
//! `Policy::explain` on random policies over a small address and port space; unit tests check
//! each example of the semantics on rules parsed from ARMR text.

use armr::language::{
    self, Action, AddressPattern, App, Condition, HostPattern, IpFamily, LanguageVersion, Location,
    PortPattern, RuleSet, Severity, SocketRule,
};
use armr::policy::{Decision, EventKind, Mode, Policy};
use armr::verdict;
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

mod support;
use support::resolvers::Table;
use support::rules;

// ---------------------------------------------------------------------------------------------
// The fake resolver: a fixed table, the same for the engine and the reference.

/// `db.test` and `web.test` resolve; any other name (such as `gone.test`) does not.
fn fake_table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        Table::new(&[
            ("db.test", &["10.0.0.5", "::1"]),
            ("web.test", &["10.0.0.1", "fd00::1"]),
        ])
    })
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn sa(text: &str) -> SocketAddr {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// The reference.

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the IPv4 address `a.b.c.d`.
fn ref_normalize(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => {
            let o = v6.octets();
            if o[..10].iter().all(|&b| b == 0) && o[10] == 0xff && o[11] == 0xff {
                IpAddr::V4(Ipv4Addr::new(o[12], o[13], o[14], o[15]))
            } else {
                addr
            }
        }
        v4 => v4,
    }
}

fn ref_is_unspecified(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a.octets() == [0; 4],
        IpAddr::V6(a) => a.octets() == [0; 16],
    }
}

/// The address as 128 bits: IPv6 as is, IPv4 in its mapped form.
fn as_v6_bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => (0xffffu128 << 32) | u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// True when the first `len` bits of `a` and `b` (both `width` bits wide) are equal.
fn same_prefix(a: u128, b: u128, len: u32, width: u32) -> bool {
    (0..len).all(|i| {
        let bit = width - 1 - i;
        (a >> bit) & 1 == (b >> bit) & 1
    })
}

fn ref_port_matches(pattern: PortPattern, port: u16) -> bool {
    match pattern {
        PortPattern::Any => true,
        PortPattern::Exact(p) => p == port,
        PortPattern::Range(lo, hi) => lo <= port && port <= hi,
    }
}

/// `ip` is already normalised.
fn ref_host_matches(host: &HostPattern, ip: IpAddr) -> bool {
    match host {
        HostPattern::Any(_) => true,
        HostPattern::Ip(h) => ref_normalize(*h) == ip,
        HostPattern::Cidr {
            network: IpAddr::V4(n),
            prefix_len,
        } => match ip {
            IpAddr::V4(a) => same_prefix(
                u128::from(u32::from(*n)),
                u128::from(u32::from(a)),
                u32::from(*prefix_len),
                32,
            ),
            IpAddr::V6(_) => false,
        },
        HostPattern::Cidr {
            network: IpAddr::V6(n),
            prefix_len,
        } => same_prefix(u128::from(*n), as_v6_bits(ip), u32::from(*prefix_len), 128),
        HostPattern::Name(name) => match fake_table().lookup(name) {
            Some(ips) => ips.into_iter().any(|r| ref_normalize(r) == ip),
            None => false,
        },
    }
}

fn ref_wildcard(a: &AddressPattern) -> bool {
    matches!(a.host, HostPattern::Any(_) | HostPattern::Cidr { .. }) || a.port == PortPattern::Any
}

fn ref_priority(action: Action) -> u8 {
    match action {
        Action::Allow => 0,
        Action::Protect => 1,
        Action::Detect => 2,
    }
}

/// The address of `condition` that events of `kind` are matched against.
fn ref_address(condition: &Condition, kind: EventKind) -> Option<&AddressPattern> {
    match (condition, kind) {
        (Condition::Accept(a), EventKind::Accept) => Some(a),
        (Condition::Connect(a), EventKind::Connect) => Some(a),
        (
            Condition::Bind {
                server: Some(a), ..
            },
            EventKind::BindServer,
        ) => Some(a),
        (
            Condition::Bind {
                client: Some(a), ..
            },
            EventKind::BindClient,
        ) => Some(a),
        _ => None,
    }
}

/// `(wildcard, action priority, order)`: the smallest key wins.
type Key = (bool, u8, u32);

/// Every matching rule of the event as `(key, action)`, best first.
fn ref_candidates(rules: &RuleSet, kind: EventKind, address: SocketAddr) -> Vec<(Key, Action)> {
    let mut ip = ref_normalize(address.ip());
    let port = address.port();
    // A bind to the unspecified address: `Some(true)` for `::`, `Some(false)` for `0.0.0.0`.
    let mut all_local: Option<bool> = None;
    if ref_is_unspecified(ip) {
        match kind {
            EventKind::Connect => {
                ip = match ip {
                    IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
                    IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1)),
                }
            }
            EventKind::BindServer | EventKind::BindClient => all_local = Some(ip.is_ipv6()),
            EventKind::Accept => {}
        }
    }
    let mut out = Vec::new();
    for (order, (_, rule)) in rules.socket_rules().enumerate() {
        let Some(a) = ref_address(&rule.condition, kind) else {
            continue;
        };
        if !ref_port_matches(a.port, port) {
            continue;
        }
        let host_ok = match all_local {
            None => ref_host_matches(&a.host, ip),
            Some(v6) => match &a.host {
                HostPattern::Any(_) => true,
                HostPattern::Ip(h) => {
                    rule.action != Action::Allow && (v6 || ref_normalize(*h).is_ipv4())
                }
                HostPattern::Cidr { .. } | HostPattern::Name(_) => false,
            },
        };
        if host_ok {
            out.push((
                (ref_wildcard(a), ref_priority(rule.action), order as u32),
                rule.action,
            ));
        }
    }
    out.sort_by_key(|(key, _)| *key);
    out
}

fn ref_decide(
    rules: &RuleSet,
    mode: Mode,
    kind: EventKind,
    address: SocketAddr,
) -> Option<Decision> {
    let ((_, _, order), selected) = *ref_candidates(rules, kind, address).first()?;
    let action = if mode == Mode::DetectOnly && selected == Action::Protect {
        Action::Detect
    } else {
        selected
    };
    let (_, rule) = rules.socket_rules().nth(order as usize)?;
    Some(Decision {
        rule: order,
        selected,
        action,
        logged: rule.message.is_some() || action == Action::Detect,
    })
}

/// Compares the engine with the reference on one event; `Err` describes the first difference.
fn compare(
    policy: &Policy,
    mode: Mode,
    kind: EventKind,
    address: SocketAddr,
) -> Result<(), String> {
    let rules = policy.rules();
    let want = ref_decide(rules, mode, kind, address);
    let got = policy.decide(kind, address);
    if got != want {
        return Err(format!(
            "decide({kind}, {address}) in {mode:?}: engine {got:?}, reference {want:?}"
        ));
    }
    fast_paths_agree(policy, kind, address)?;
    let explanation = policy.explain(kind, address);
    if explanation.decision != got {
        return Err(format!(
            "explain({kind}, {address}).decision {:?} differs from decide {got:?}",
            explanation.decision
        ));
    }
    let got_rules: Vec<u32> = explanation.candidates.iter().map(|c| c.rule).collect();
    let want_rules: Vec<u32> = ref_candidates(rules, kind, address)
        .iter()
        .map(|(k, _)| k.2)
        .collect();
    if got_rules != want_rules {
        return Err(format!(
            "explain({kind}, {address}) candidates {got_rules:?}, reference (best first) {want_rules:?}"
        ));
    }
    if explanation.candidates.first().map(|c| c.rule) != got.map(|d| d.rule) {
        return Err(format!(
            "explain({kind}, {address}): first candidate is not the decision {got:?}"
        ));
    }
    if let Some(d) = got {
        let (_, rule) = policy.rule(d.rule);
        if rule.action != d.selected {
            return Err(format!(
                "policy.rule({}) has action {}, decision says {}",
                d.rule, rule.action, d.selected
            ));
        }
    }
    Ok(())
}

/// The lookups the hooks take instead of `decide` give its answer: `quick_rank_v4` (in line,
/// when it answers at all; finished by `finish_rank_v4` when it leaves a chain of blocks to
/// walk) and `best_rank_v4` for an IPv4 or IPv4-mapped address, `best_rank_v6` for an IPv6
/// address neither mapped nor unspecified, `best_rank` for any.
fn fast_paths_agree(policy: &Policy, kind: EventKind, address: SocketAddr) -> Result<(), String> {
    let full = policy.best_rank(kind, address);
    if policy.decision(full) != policy.decide(kind, address) {
        return Err(format!(
            "decision(best_rank({kind}, {address})) differs from decide"
        ));
    }
    let v4 = match address.ip() {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    };
    if let Some(v4) = v4 {
        let (bits, port) = (v4.to_bits(), address.port());
        let by_number = policy.best_rank_v4(kind, bits, port);
        if by_number != full {
            return Err(format!(
                "best_rank_v4({kind}, {v4}, {port}) = {by_number:?}, best_rank = {full:?}"
            ));
        }
        if let Some(quick) = policy.quick_rank_v4(kind, bits, port) {
            // A lookup left to finish is never taken for silent.
            if quick.resumes().is_some() && verdict::is_silent(quick) {
                return Err(format!("quick_rank_v4({kind}, {v4}, {port}) left silent"));
            }
            let finished = policy.finish_rank_v4(kind, quick, port);
            if finished != full {
                return Err(format!(
                    "finish_rank_v4(quick_rank_v4({kind}, {v4}, {port})) = {finished:?} \
                     ({quick:?}), best_rank = {full:?}"
                ));
            }
        }
    }
    if let IpAddr::V6(v6) = address.ip()
        && v6.to_ipv4_mapped().is_none()
        && !v6.is_unspecified()
        && !policy.has_hostnames(kind)
    {
        let by_number = policy.best_rank_v6(kind, v6.to_bits(), address.port());
        if by_number != full {
            return Err(format!(
                "best_rank_v6({kind}, {address}) = {by_number:?}, best_rank = {full:?}"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Random policies over a small address and port space.

/// Specific rule hosts: IPv4, IPv6 (one IPv4-compatible, which is not mapped) and IPv4-mapped.
const RULE_IPS: &[&str] = &[
    "10.0.0.1",
    "10.0.0.5",
    "10.0.1.1",
    "127.0.0.1",
    "192.168.1.1",
    "::1",
    "fd00::1",
    "fd00::2",
    "2001:db8::1",
    "::10.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:10.0.0.5",
    "::ffff:127.0.0.1",
    "::ffff:0.0.0.0",
];

/// Event addresses: the rule hosts, the unspecified addresses, and a few more.
const EVENT_IPS: &[&str] = &[
    "10.0.0.1",
    "10.0.0.5",
    "10.0.1.1",
    "10.255.0.1",
    "11.0.0.1",
    "127.0.0.1",
    "192.168.1.1",
    "0.0.0.0",
    "::",
    "::1",
    "fd00::1",
    "fd00::2",
    "fd00::ffff",
    "2001:db8::1",
    "2001:db8:1::5",
    "::10.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:10.0.0.5",
    "::ffff:10.0.1.1",
    "::ffff:127.0.0.1",
    "::ffff:0.0.0.0",
];

const RULE_PORTS: &[u16] = &[1, 80, 443, 5000, 65535];
const EVENT_PORTS: &[u16] = &[0, 1, 79, 80, 81, 443, 5000, 5001, 65535];
const NAMES: &[&str] = &["db.test", "web.test", "gone.test"];

fn pick(list: &'static [&'static str]) -> impl Strategy<Value = IpAddr> {
    prop::sample::select(list).prop_map(ip)
}

fn port_pattern() -> impl Strategy<Value = PortPattern> {
    prop_oneof![
        2 => Just(PortPattern::Any),
        3 => prop::sample::select(RULE_PORTS).prop_map(PortPattern::Exact),
        2 => (prop::sample::select(RULE_PORTS), prop::sample::select(RULE_PORTS))
            .prop_map(|(a, b)| PortPattern::Range(a.min(b), a.max(b))),
    ]
}

/// A CIDR block around one of the addresses, with its host bits cleared.
fn cidr() -> impl Strategy<Value = HostPattern> {
    let v4 = (
        pick(RULE_IPS).prop_filter("IPv4", IpAddr::is_ipv4),
        prop::sample::select(&[0u8, 8, 16, 24, 31, 32][..]),
    );
    let v6 = (
        pick(RULE_IPS).prop_filter("IPv6", IpAddr::is_ipv6),
        prop::sample::select(&[0u8, 8, 16, 64, 95, 96, 104, 112, 120, 127, 128][..]),
    );
    prop_oneof![v4, v6].prop_map(|(addr, prefix_len)| HostPattern::Cidr {
        network: language::address::mask(addr, prefix_len),
        prefix_len,
    })
}

/// A host valid in `bind`: the any-address or one address.
fn bind_host() -> impl Strategy<Value = HostPattern> {
    prop_oneof![
        1 => Just(HostPattern::Any(IpFamily::V4)),
        1 => Just(HostPattern::Any(IpFamily::V6)),
        4 => pick(RULE_IPS).prop_map(HostPattern::Ip),
    ]
}

/// A host valid in `accept` and `connect`: also CIDR blocks and hostnames.
fn remote_host() -> impl Strategy<Value = HostPattern> {
    prop_oneof![
        1 => Just(HostPattern::Any(IpFamily::V4)),
        1 => Just(HostPattern::Any(IpFamily::V6)),
        4 => pick(RULE_IPS).prop_map(HostPattern::Ip),
        3 => cidr(),
        3 => prop::sample::select(NAMES).prop_map(|n| HostPattern::Name(n.to_string())),
    ]
}

fn bind_address() -> impl Strategy<Value = AddressPattern> {
    (bind_host(), port_pattern()).prop_map(|(host, port)| AddressPattern { host, port })
}

fn remote_address() -> impl Strategy<Value = AddressPattern> {
    (remote_host(), port_pattern()).prop_map(|(host, port)| AddressPattern { host, port })
}

fn condition() -> impl Strategy<Value = Condition> {
    prop_oneof![
        remote_address().prop_map(Condition::Accept),
        remote_address().prop_map(Condition::Connect),
        bind_address().prop_map(|a| Condition::Bind {
            client: Some(a),
            server: None
        }),
        bind_address().prop_map(|a| Condition::Bind {
            client: None,
            server: Some(a)
        }),
        (bind_address(), bind_address()).prop_map(|(c, s)| Condition::Bind {
            client: Some(c),
            server: Some(s)
        }),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Allow),
        Just(Action::Protect),
        Just(Action::Detect)
    ]
}

fn location(line: u32) -> Location {
    Location {
        file: "t.armr".into(),
        line,
        column: 5,
    }
}

/// 1 to 3 apps of 0 to 13 rules each: 0 to 39 rules.
fn rule_set() -> impl Strategy<Value = RuleSet> {
    prop::collection::vec(prop::collection::vec((condition(), action()), 0..14), 1..4)
        .prop_map(to_rule_set)
}

/// Addresses the deeply nested blocks of [`nested_rule_set`] are around.
const CHAIN_IPS: &[&str] = &["10.0.0.1", "::1"];

/// A CIDR block of any prefix length around one of [`CHAIN_IPS`]: blocks nest into long chains.
fn chain_block() -> impl Strategy<Value = HostPattern> {
    (pick(CHAIN_IPS), 0u8..=128).prop_map(|(addr, len)| {
        let prefix_len = if addr.is_ipv4() { len % 33 } else { len };
        HostPattern::Cidr {
            network: language::address::mask(addr, prefix_len),
            prefix_len,
        }
    })
}

/// Port ranges with bounds at and around the events' ports: each block of a chain has its own.
fn chain_ports() -> impl Strategy<Value = PortPattern> {
    prop_oneof![
        1 => Just(PortPattern::Any),
        2 => prop::sample::select(EVENT_PORTS).prop_map(PortPattern::Exact),
        4 => (prop::sample::select(EVENT_PORTS), prop::sample::select(EVENT_PORTS))
            .prop_map(|(a, b)| PortPattern::Range(a.min(b), a.max(b))),
    ]
}

/// Mostly `connect` and `accept` rules on [`chain_block`]s, some of any kind: up to 477 rules,
/// so that a chain holds more rules than a whole-chain port table takes (the lookup then
/// searches tables cut by depth).
fn nested_rule_set() -> impl Strategy<Value = RuleSet> {
    let nested = prop_oneof![
        6 => (chain_block(), chain_ports())
            .prop_map(|(host, port)| Condition::Connect(AddressPattern { host, port })),
        2 => (chain_block(), chain_ports())
            .prop_map(|(host, port)| Condition::Accept(AddressPattern { host, port })),
        1 => condition(),
    ];
    prop::collection::vec(prop::collection::vec((nested, action()), 40..160), 1..4)
        .prop_map(to_rule_set)
}

fn to_rule_set(apps: Vec<Vec<(Condition, Action)>>) -> RuleSet {
    let mut line = 1;
    let apps = apps
        .into_iter()
        .enumerate()
        .map(|(a, rules)| {
            let app_line = line;
            let rules = rules
                .into_iter()
                .enumerate()
                .map(|(r, (condition, action))| {
                    line += 1;
                    SocketRule {
                        name: format!("app {a} rule {r}").into(),
                        condition,
                        action,
                        message: (action == Action::Detect).then(|| "seen".into()),
                        severity: Severity::Unknown,
                        stacktrace: false,
                        log_metadata: Default::default(),
                        location: location(line),
                    }
                })
                .collect();
            line += 1;
            App {
                name: format!("app {a}"),
                language: LanguageVersion::armr(2, 11),
                version: 1,
                log_metadata: Default::default(),
                rules,
                location: location(app_line),
            }
        })
        .collect();
    RuleSet { apps }
}

fn event() -> impl Strategy<Value = (EventKind, SocketAddr)> {
    (
        prop::sample::select(&EventKind::ALL[..]),
        pick(EVENT_IPS),
        prop_oneof![
            3 => prop::sample::select(RULE_PORTS),
            1 => prop::sample::select(EVENT_PORTS),
        ],
    )
        .prop_map(|(kind, ip, port)| (kind, SocketAddr::new(ip, port)))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 3000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn engine_agrees_with_the_reference(rules in rule_set(), events in prop::collection::vec(event(), 1..24)) {
        for mode in [Mode::Enforce, Mode::DetectOnly] {
            let policy = Policy::with_resolver(rules.clone(), mode, Box::new(fake_table().clone()));
            for kind in EventKind::ALL {
                let any = rules.socket_rules().any(|(_, r)| ref_address(&r.condition, kind).is_some());
                prop_assert_eq!(policy.has_rules(kind), any, "has_rules({})", kind);
            }
            for &(kind, address) in &events {
                if let Err(e) = compare(&policy, mode, kind, address) {
                    return Err(TestCaseError::fail(e));
                }
            }
        }
    }

    /// Every address of the small space, every port and kind, on one random policy: exhaustive
    /// events, fewer policies. Also judged by the same rules compiled, written and read back
    /// (below, with fewer cases).
    #[test]
    fn engine_agrees_with_the_reference_on_every_event(rules in rule_set()) {
        let policy = Policy::with_resolver(rules, Mode::Enforce, Box::new(fake_table().clone()));
        for kind in EventKind::ALL {
            for addr in EVENT_IPS {
                for &port in EVENT_PORTS {
                    if let Err(e) = compare(&policy, Mode::Enforce, kind, SocketAddr::new(ip(addr), port)) {
                        return Err(TestCaseError::fail(e));
                    }
                }
            }
        }
    }
}

/// The policy of `rules` compiled, written to a file and read back: its decisions come from the
/// file's bytes, through the lookups the library runs on a mapped file.
fn compiled_twin(rules: &RuleSet, mode: Mode) -> Policy {
    use armr::policy::compiled::{self, Provenance};
    static DIR: OnceLock<support::TempDir> = OnceLock::new();
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = DIR.get_or_init(|| support::TempDir::new("policy_reference", "compiled"));
    let source = Policy::with_resolver(rules.clone(), mode, Box::new(fake_table().clone()));
    let provenance = Provenance {
        version: "test".into(),
        built: 0,
        sources: vec![("t.armr".into(), "0".repeat(64))],
    };
    let bytes = source
        .compile(&provenance)
        .expect("a policy from rules compiles");
    let path = dir.path(&format!(
        "p{}.armrc",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    compiled::write_file(&path, &bytes).expect("written");
    let mapped = compiled::read_file(&path).expect("read back");
    let _ = std::fs::remove_file(&path);
    compiled::verify(mapped).expect("its digest");
    let twin = Policy::from_compiled(mapped, mode, Box::new(fake_table().clone()))
        .expect("a compiled policy loads");
    assert_eq!(twin.provenance(), Some(provenance));
    twin
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The property test above, on the compiled twin: the same decisions, candidates and rules
    /// (the rules read back from the file equal the rules compiled).
    #[test]
    fn compiled_policy_agrees_with_the_reference(rules in rule_set(), events in prop::collection::vec(event(), 1..24)) {
        for mode in [Mode::Enforce, Mode::DetectOnly] {
            let twin = compiled_twin(&rules, mode);
            prop_assert_eq!(twin.rules(), &rules);
            prop_assert_eq!(twin.len(), rules.socket_rules().count());
            for kind in EventKind::ALL {
                let any = rules.socket_rules().any(|(_, r)| ref_address(&r.condition, kind).is_some());
                prop_assert_eq!(twin.has_rules(kind), any, "has_rules({})", kind);
            }
            for &(kind, address) in &events {
                if let Err(e) = compare(&twin, mode, kind, address) {
                    return Err(TestCaseError::fail(format!("compiled: {e}")));
                }
            }
        }
    }

    #[test]
    fn compiled_policy_agrees_with_the_reference_on_every_event(rules in rule_set()) {
        let twin = compiled_twin(&rules, Mode::Enforce);
        for kind in EventKind::ALL {
            for addr in EVENT_IPS {
                for &port in EVENT_PORTS {
                    if let Err(e) = compare(&twin, Mode::Enforce, kind, SocketAddr::new(ip(addr), port)) {
                        return Err(TestCaseError::fail(format!("compiled: {e}")));
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 150,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Long chains of nested blocks with many port ranges, on the policy built from the rules and
    /// on its compiled twin: every event of the small space.
    #[test]
    fn nested_blocks_agree_with_the_reference(rules in nested_rule_set()) {
        let policy = Policy::with_resolver(rules.clone(), Mode::Enforce, Box::new(fake_table().clone()));
        let twin = compiled_twin(&rules, Mode::Enforce);
        for kind in EventKind::ALL {
            for addr in EVENT_IPS {
                for &port in EVENT_PORTS {
                    let address = SocketAddr::new(ip(addr), port);
                    if let Err(e) = compare(&policy, Mode::Enforce, kind, address) {
                        return Err(TestCaseError::fail(e));
                    }
                    if let Err(e) = compare(&twin, Mode::Enforce, kind, address) {
                        return Err(TestCaseError::fail(format!("compiled: {e}")));
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The examples of the semantics, on rules parsed from ARMR text.

/// One app holding `rules` `r0`, `r1`..., each `(condition, action)` as written in ARMR.
fn armr(rules: &[(&str, &str)]) -> String {
    let named: Vec<(String, &str, &str)> = rules
        .iter()
        .enumerate()
        .map(|(i, (condition, action))| (format!("r{i}"), *condition, *action))
        .collect();
    rules::policy("t", &named)
}

fn load(text: &str, mode: Mode) -> Policy {
    rules::load_policy(text, mode, fake_table().clone())
}

fn policy(rules: &[(&str, &str)]) -> Policy {
    load(&armr(rules), Mode::Enforce)
}

/// The decision for an event as `(rule name, effective action)`, after checking that the engine
/// and the reference agree on it.
fn judge(policy: &Policy, kind: EventKind, address: &str) -> Option<(String, Action)> {
    let address = sa(address);
    if let Err(e) = compare(policy, policy.mode(), kind, address) {
        panic!("{e}");
    }
    policy
        .decide(kind, address)
        .map(|d| (policy.rule(d.rule).1.name.to_string(), d.action))
}

fn is(name: &str, action: Action) -> Option<(String, Action)> {
    Some((name.to_string(), action))
}

use Action::{Allow, Detect, Protect};
use EventKind::{Accept, BindClient, BindServer, Connect};

const PROTECT: &str = "protect()";
const ALLOW: &str = "allow()";
const DETECT: &str = "detect(message: \"seen\")";

#[test]
fn reference_page_block_client_binds_but_allow_one() {
    let text = "\
app(\"Socket Client Bind Mod Multiple Rules\"):
    requires(version: ARMR/2.8)
    socket(\"Socket bind protect all\"):
        bind(client: \"0.0.0.0:0\")
        protect(message: \"Socket rule protect 0.0.0.0:0\", severity: High)
    endsocket
    socket(\"Socket bind allow specific\"):
        bind(client: \"127.0.0.1:5000\")
        allow(message: \"Socket rule allow 127.0.0.1:5000\", severity: Medium)
    endsocket
endapp
";
    let p = load(text, Mode::Enforce);
    assert_eq!(
        judge(&p, BindClient, "127.0.0.1:5000"),
        is("Socket bind allow specific", Allow)
    );
    assert_eq!(
        judge(&p, BindClient, "127.0.0.1:5001"),
        is("Socket bind protect all", Protect)
    );
    // An allow for one address does not permit binding every address.
    assert_eq!(
        judge(&p, BindClient, "0.0.0.0:5000"),
        is("Socket bind protect all", Protect)
    );
    assert_eq!(
        judge(&p, BindClient, "[::]:5000"),
        is("Socket bind protect all", Protect)
    );
    // The rules are client binds only.
    assert_eq!(judge(&p, BindServer, "127.0.0.1:5001"), None);
}

#[test]
fn bind_to_all_addresses_meets_a_protect_rule_for_one_of_them() {
    let p = policy(&[("bind(server: \"127.0.0.1:5001\")", PROTECT)]);
    assert_eq!(judge(&p, BindServer, "0.0.0.0:5001"), is("r0", Protect));
    assert_eq!(judge(&p, BindServer, "0.0.0.0:5002"), None);
    // `::` covers both families; `::ffff:0.0.0.0` is 0.0.0.0.
    assert_eq!(judge(&p, BindServer, "[::]:5001"), is("r0", Protect));
    assert_eq!(
        judge(&p, BindServer, "[::ffff:0.0.0.0]:5001"),
        is("r0", Protect)
    );
    assert_eq!(judge(&p, BindServer, "127.0.0.1:5001"), is("r0", Protect));
    assert_eq!(judge(&p, BindServer, "127.0.0.2:5001"), None);
    assert_eq!(judge(&p, BindClient, "0.0.0.0:5001"), None);
}

#[test]
fn bind_to_ipv4_all_addresses_ignores_ipv6_rules_but_ipv6_all_addresses_does_not() {
    let p = policy(&[
        ("bind(server: \"[::1]:80\")", DETECT),
        ("bind(server: \"[::ffff:127.0.0.1]:80\")", PROTECT),
    ]);
    // The mapped rule is the IPv4 address 127.0.0.1.
    assert_eq!(judge(&p, BindServer, "0.0.0.0:80"), is("r1", Protect));
    assert_eq!(judge(&p, BindServer, "[::]:80"), is("r1", Protect));
    let p = policy(&[("bind(server: \"[::1]:80\")", DETECT)]);
    assert_eq!(judge(&p, BindServer, "0.0.0.0:80"), None);
    assert_eq!(judge(&p, BindServer, "[::]:80"), is("r0", Detect));
}

#[test]
fn bind_to_all_addresses_prefers_a_specific_protect_over_an_any_address_allow() {
    let p = policy(&[
        ("bind(server: \"0.0.0.0:0\")", ALLOW),
        ("bind(server: \"10.0.0.1:80\")", PROTECT),
    ]);
    assert_eq!(judge(&p, BindServer, "0.0.0.0:80"), is("r1", Protect));
    assert_eq!(judge(&p, BindServer, "0.0.0.0:81"), is("r0", Allow));
    assert_eq!(judge(&p, BindServer, "10.0.0.2:80"), is("r0", Allow));
}

#[test]
fn bind_with_both_keys_belongs_to_both_kinds() {
    let p = policy(&[(
        "bind(client: \"127.0.0.1:0\", server: \"0.0.0.0:443\")",
        PROTECT,
    )]);
    assert_eq!(judge(&p, BindClient, "127.0.0.1:9999"), is("r0", Protect));
    assert_eq!(judge(&p, BindClient, "10.0.0.1:443"), None);
    assert_eq!(judge(&p, BindServer, "10.0.0.1:443"), is("r0", Protect));
    assert_eq!(judge(&p, BindServer, "127.0.0.1:9999"), None);
    assert_eq!(judge(&p, Connect, "127.0.0.1:443"), None);
}

#[test]
fn mapped_event_address_is_the_ipv4_address() {
    let p = policy(&[("connect(\"10.1.2.3:80\")", PROTECT)]);
    assert_eq!(
        judge(&p, Connect, "[::ffff:10.1.2.3]:80"),
        is("r0", Protect)
    );
    assert_eq!(judge(&p, Connect, "10.1.2.3:80"), is("r0", Protect));
    // IPv4-compatible (`::10.1.2.3`) is not mapped.
    assert_eq!(judge(&p, Connect, "[::10.1.2.3]:80"), None);
    assert_eq!(judge(&p, Accept, "[::ffff:10.1.2.3]:80"), None);
}

#[test]
fn mapped_rule_address_is_the_ipv4_address() {
    let p = policy(&[("accept(\"[::ffff:10.1.2.3]:80\")", PROTECT)]);
    assert_eq!(judge(&p, Accept, "10.1.2.3:80"), is("r0", Protect));
    assert_eq!(judge(&p, Accept, "[::ffff:10.1.2.3]:80"), is("r0", Protect));
    assert_eq!(judge(&p, Accept, "10.1.2.4:80"), None);
}

#[test]
fn any_address_matches_both_families() {
    let p = policy(&[("connect(\"0.0.0.0:0\")", PROTECT)]);
    assert_eq!(judge(&p, Connect, "[2001:db8::1]:80"), is("r0", Protect));
    assert_eq!(judge(&p, Connect, "10.0.0.1:0"), is("r0", Protect));
    let p = policy(&[("accept(\":::0\")", DETECT)]);
    assert_eq!(judge(&p, Accept, "10.0.0.1:80"), is("r0", Detect));
    assert_eq!(judge(&p, Accept, "[::ffff:10.0.0.1]:80"), is("r0", Detect));
}

#[test]
fn connect_to_the_unspecified_address_is_loopback() {
    let p = policy(&[
        ("connect(\"127.0.0.1:8080\")", PROTECT),
        ("connect(\"[::1]:8080\")", DETECT),
    ]);
    assert_eq!(judge(&p, Connect, "0.0.0.0:8080"), is("r0", Protect));
    assert_eq!(
        judge(&p, Connect, "[::ffff:0.0.0.0]:8080"),
        is("r0", Protect)
    );
    assert_eq!(judge(&p, Connect, "[::]:8080"), is("r1", Detect));
    assert_eq!(judge(&p, Connect, "0.0.0.0:8081"), None);
    // Only connects: an accept from 0.0.0.0 is not loopback.
    let p = policy(&[("accept(\"127.0.0.1:8080\")", PROTECT)]);
    assert_eq!(judge(&p, Accept, "0.0.0.0:8080"), None);
}

#[test]
fn exact_beats_wildcard_even_when_the_wildcard_allows() {
    let p = policy(&[
        ("connect(\"0.0.0.0:0\")", ALLOW),
        ("connect(\"10.0.0.1:443\")", DETECT),
    ]);
    assert_eq!(judge(&p, Connect, "10.0.0.1:443"), is("r1", Detect));
    assert_eq!(judge(&p, Connect, "10.0.0.1:444"), is("r0", Allow));
    // A CIDR block is a wildcard.
    let p = policy(&[
        ("connect(\"10.0.0.0/8:443\")", ALLOW),
        ("connect(\"10.0.0.1:443\")", PROTECT),
    ]);
    assert_eq!(judge(&p, Connect, "10.0.0.1:443"), is("r1", Protect));
    // Port 0 is a wildcard.
    let p = policy(&[
        ("connect(\"10.0.0.1:0\")", ALLOW),
        ("connect(\"10.0.0.1:443\")", DETECT),
    ]);
    assert_eq!(judge(&p, Connect, "10.0.0.1:443"), is("r1", Detect));
}

#[test]
fn allow_beats_protect_beats_detect_at_equal_specificity() {
    let p = policy(&[
        ("connect(\"10.0.0.1:443\")", DETECT),
        ("connect(\"10.0.0.1:443\")", PROTECT),
        ("connect(\"10.0.0.1:443\")", ALLOW),
    ]);
    assert_eq!(judge(&p, Connect, "10.0.0.1:443"), is("r2", Allow));
    let p = policy(&[
        ("connect(\"10.0.0.1:443\")", DETECT),
        ("connect(\"10.0.0.1:443\")", PROTECT),
    ]);
    assert_eq!(judge(&p, Connect, "10.0.0.1:443"), is("r1", Protect));
    // Both wildcards: the action decides.
    let p = policy(&[
        ("connect(\"0.0.0.0:0\")", PROTECT),
        ("connect(\"10.0.0.0/8:0\")", ALLOW),
    ]);
    assert_eq!(judge(&p, Connect, "10.0.0.1:443"), is("r1", Allow));
    assert_eq!(judge(&p, Connect, "11.0.0.1:443"), is("r0", Protect));
}

#[test]
fn first_defined_wins_at_a_full_tie() {
    let p = policy(&[
        ("connect(\"10.0.0.1:443\")", PROTECT),
        ("connect(\"10.0.0.1:400-500\")", PROTECT),
    ]);
    assert_eq!(judge(&p, Connect, "10.0.0.1:443"), is("r0", Protect));
    let p = policy(&[
        ("connect(\"10.0.0.1:400-500\")", PROTECT),
        ("connect(\"10.0.0.1:443\")", PROTECT),
    ]);
    assert_eq!(judge(&p, Connect, "10.0.0.1:443"), is("r0", Protect));
    // Across apps: the app loaded first.
    let text = format!(
        "{}{}",
        armr(&[("accept(\"0.0.0.0:0\")", DETECT)]),
        armr(&[("accept(\":::0\")", DETECT)]).replace("app(\"t\")", "app(\"u\")")
    );
    let p = load(&text, Mode::Enforce);
    let d = p.decide(Accept, sa("10.0.0.1:1")).unwrap();
    assert_eq!((d.rule, p.rule(d.rule).0.name.as_str()), (0, "t"));
    compare(&p, Mode::Enforce, Accept, sa("10.0.0.1:1")).unwrap();
}

#[test]
fn port_range_is_not_a_wildcard() {
    let p = policy(&[
        ("connect(\"10.0.0.1:0\")", ALLOW),
        ("connect(\"10.0.0.1:400-500\")", PROTECT),
    ]);
    assert_eq!(judge(&p, Connect, "10.0.0.1:443"), is("r1", Protect));
    assert_eq!(judge(&p, Connect, "10.0.0.1:399"), is("r0", Allow));
    assert_eq!(judge(&p, Connect, "10.0.0.1:500"), is("r1", Protect));
    assert_eq!(judge(&p, Connect, "10.0.0.1:501"), is("r0", Allow));
    // A range is as specific as one port: the action decides.
    let p = policy(&[
        ("connect(\"10.0.0.1:443\")", PROTECT),
        ("connect(\"10.0.0.1:1-65535\")", ALLOW),
    ]);
    assert_eq!(judge(&p, Connect, "10.0.0.1:443"), is("r1", Allow));
    assert_eq!(judge(&p, Connect, "10.0.0.1:0"), None);
}

#[test]
fn hostname_rules_match_what_the_name_resolves_to() {
    let p = policy(&[
        ("connect(\"0.0.0.0:0\")", ALLOW),
        ("connect(\"db.test:5432\")", PROTECT),
        ("connect(\"gone.test:5432\")", PROTECT),
    ]);
    assert_eq!(judge(&p, Connect, "10.0.0.5:5432"), is("r1", Protect));
    assert_eq!(judge(&p, Connect, "[::1]:5432"), is("r1", Protect));
    assert_eq!(
        judge(&p, Connect, "[::ffff:10.0.0.5]:5432"),
        is("r1", Protect)
    );
    // Connect to :: is ::1, which db.test resolves to.
    assert_eq!(judge(&p, Connect, "[::]:5432"), is("r1", Protect));
    assert_eq!(judge(&p, Connect, "10.0.0.6:5432"), is("r0", Allow));
    assert_eq!(judge(&p, Connect, "10.0.0.5:5433"), is("r0", Allow));
    // A name that does not resolve matches nothing.
    let p = policy(&[("accept(\"gone.test:0\")", PROTECT)]);
    assert_eq!(judge(&p, Accept, "10.0.0.5:1"), None);
    assert_eq!(judge(&p, Accept, "0.0.0.0:1"), None);
}

#[test]
fn detect_only_turns_protect_into_detect() {
    let text = armr(&[
        ("connect(\"10.0.0.1:443\")", PROTECT),
        ("connect(\"10.0.0.2:443\")", ALLOW),
        ("connect(\"10.0.0.3:443\")", DETECT),
    ]);
    let p = load(&text, Mode::DetectOnly);
    assert_eq!(
        p.decide(Connect, sa("10.0.0.1:443")),
        Some(Decision {
            rule: 0,
            selected: Protect,
            action: Detect,
            logged: true,
        })
    );
    assert_eq!(judge(&p, Connect, "10.0.0.2:443"), is("r1", Allow));
    assert_eq!(judge(&p, Connect, "10.0.0.3:443"), is("r2", Detect));
    assert_eq!(judge(&p, Connect, "10.0.0.1:443"), is("r0", Detect));
    let p = load(&text, Mode::Enforce);
    assert_eq!(
        p.decide(Connect, sa("10.0.0.1:443")),
        Some(Decision {
            rule: 0,
            selected: Protect,
            action: Protect,
            logged: false,
        })
    );
}

#[test]
fn cidr_blocks() {
    let p = policy(&[("connect(\"10.0.0.0/8:0\")", PROTECT)]);
    assert_eq!(judge(&p, Connect, "10.255.0.1:80"), is("r0", Protect));
    assert_eq!(
        judge(&p, Connect, "[::ffff:10.255.0.1]:80"),
        is("r0", Protect)
    );
    assert_eq!(judge(&p, Connect, "11.0.0.1:80"), None);
    assert_eq!(judge(&p, Connect, "[fd00::1]:80"), None);
    // An IPv6 block matches IPv4 addresses whose mapped form it contains.
    let p = policy(&[
        ("accept(\"[::ffff:0:0/96]:0\")", PROTECT),
        ("accept(\"[fd00::/8]:0\")", DETECT),
    ]);
    assert_eq!(judge(&p, Accept, "11.0.0.1:80"), is("r0", Protect));
    assert_eq!(judge(&p, Accept, "[fd12::1]:80"), is("r1", Detect));
    assert_eq!(judge(&p, Accept, "[2001:db8::1]:80"), None);
    let p = policy(&[
        ("accept(\"[::ffff:10.0.0.0/104]:0\")", PROTECT),
        ("accept(\"[::/0]:443\")", DETECT),
    ]);
    assert_eq!(judge(&p, Accept, "10.1.2.3:80"), is("r0", Protect));
    assert_eq!(judge(&p, Accept, "11.1.2.3:80"), None);
    assert_eq!(judge(&p, Accept, "11.1.2.3:443"), is("r1", Detect));
}

#[test]
fn no_matching_rule_is_none() {
    let empty = Policy::with_resolver(
        RuleSet::default(),
        Mode::Enforce,
        Box::new(fake_table().clone()),
    );
    let p = policy(&[("accept(\"10.0.0.2:81\")", PROTECT)]);
    for kind in EventKind::ALL {
        for p in [&empty, &p] {
            assert_eq!(judge(p, kind, "10.0.0.1:80"), None);
            assert_eq!(judge(p, kind, "0.0.0.0:80"), None);
            assert_eq!(judge(p, kind, "[::]:80"), None);
        }
    }
}

/// The generators make the cases the property tests are about frequent: decisions of every
/// action, binds to all addresses that meet a rule, hostname and CIDR matches, mapped addresses.
#[test]
fn generated_cases_cover_the_semantics() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut events, mut decided, mut all_local, mut names, mut cidrs, mut mapped, mut ties) =
        (0, 0, 0, 0, 0, 0, 0);
    let mut actions = [0; 3];
    for _ in 0..300 {
        let rules = rule_set().new_tree(&mut runner).unwrap().current();
        let evs = prop::collection::vec(event(), 16)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        for (kind, address) in evs {
            events += 1;
            let candidates = ref_candidates(&rules, kind, address);
            let Some(&((wildcard, priority, order), action)) = candidates.first() else {
                continue;
            };
            decided += 1;
            actions[ref_priority(action) as usize] += 1;
            if candidates
                .get(1)
                .is_some_and(|((w, p, _), _)| (*w, *p) == (wildcard, priority))
            {
                ties += 1;
            }
            if matches!(kind, BindServer | BindClient)
                && ref_is_unspecified(ref_normalize(address.ip()))
            {
                all_local += 1;
            }
            if ref_normalize(address.ip()) != address.ip() {
                mapped += 1;
            }
            let (_, rule) = rules.socket_rules().nth(order as usize).unwrap();
            match ref_address(&rule.condition, kind).unwrap().host {
                HostPattern::Name(_) => names += 1,
                HostPattern::Cidr { .. } => cidrs += 1,
                _ => {}
            }
        }
    }
    let report = format!(
        "{events} events: {decided} decided, actions {actions:?}, {all_local} binds to all addresses, \
         {names} by hostname, {cidrs} by CIDR, {mapped} mapped, {ties} ties"
    );
    assert!(decided * 10 > events * 4, "{report}");
    for n in [all_local, names, cidrs, mapped, ties]
        .into_iter()
        .chain(actions)
    {
        assert!(n * 100 > decided, "{report}");
    }
    println!("{report}");
}

// ---------------------------------------------------------------------------------------------
// Rules that can never win (`armr check`'s warning, src/policy/shadow.rs).

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// A rule reported as never winning events of a kind decides no event of that kind, over
    /// every address and port of the small space, and the rule named as covering it matches every
    /// event it matches: the warning is never wrong.
    #[test]
    fn a_rule_that_can_never_win_decides_no_event(rules in rule_set()) {
        let shadowed = armr::policy::shadow::shadowed(&rules);
        if shadowed.is_empty() {
            return Ok(());
        }
        let policy = Policy::with_resolver(rules, Mode::Enforce, Box::new(fake_table().clone()));
        for shadow in shadowed {
            for addr in EVENT_IPS {
                for &port in EVENT_PORTS {
                    let address = SocketAddr::new(ip(addr), port);
                    let explanation = policy.explain(shadow.kind, address);
                    let matching: Vec<u32> =
                        explanation.candidates.iter().map(|c| c.rule).collect();
                    prop_assert_ne!(
                        explanation.decision.map(|d| d.rule),
                        Some(shadow.rule),
                        "{:?} decides {} {}", shadow, shadow.kind, address
                    );
                    prop_assert!(
                        !matching.contains(&shadow.rule) || matching.contains(&shadow.by),
                        "{:?}: {} {} matches the rule, not the one said to cover it",
                        shadow, shadow.kind, address
                    );
                }
            }
        }
    }
}

/// The log metadata of events survives compiling: the app's entries once in the app's record,
/// each rule's own (a replaced value, an added key) in its record, and a rule written before the
/// app's `metadata` keeps none of the app's entries, as from the source.
#[test]
fn compiled_policy_keeps_app_and_rule_log_metadata() {
    let text = "app(\"m\"):\n  requires(version: ARMR/2.11)\n  socket(\"early\"): connect(\"10.0.0.1:1\") protect() endsocket\n  metadata(log: {team: \"red\", owner: \"ops\"})\n  socket(\"plain\"): connect(\"10.0.0.2:1\") protect() endsocket\n  socket(\"own\"):\n    connect(\"10.0.0.3:1\")\n    protect()\n    metadata(log: {owner: \"db\", ticket: \"T-1\"})\n  endsocket\nendapp\n";
    let loaded = language::load(vec![language::SourceFile::new("t.armr", text)]);
    assert!(loaded.is_ok(), "{}", loaded.files[0].render());
    let twin = compiled_twin(&loaded.rules, Mode::Enforce);
    let source = Policy::with_resolver(loaded.rules, Mode::Enforce, Box::new(fake_table().clone()));
    let entries = |policy: &Policy, order: u32| -> Vec<(String, String)> {
        let (_, rule) = policy.rule(order);
        rule.log_metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(entries(&source, 0), pairs(&[]));
    assert_eq!(
        entries(&source, 1),
        pairs(&[("team", "red"), ("owner", "ops")])
    );
    assert_eq!(
        entries(&source, 2),
        pairs(&[("team", "red"), ("owner", "db"), ("ticket", "T-1")])
    );
    for order in 0..3 {
        assert_eq!(
            entries(&twin, order),
            entries(&source, order),
            "rule {order}"
        );
        assert_eq!(
            twin.rule(order).0.log_metadata,
            source.rule(order).0.log_metadata
        );
        // What events write, read in place from the compiled records (no allocation): the same
        // entries, count and `i`th entry as the source's rule.
        let (mut a, mut b) = ([0; 32], [0; 32]);
        let (view, model) = (
            twin.event_rule(order, &mut a).log_metadata,
            source.event_rule(order, &mut b).log_metadata,
        );
        let listed = |m: &armr::event::Metadata<'_>| -> Vec<(String, String)> {
            m.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(listed(&view), entries(&source, order), "rule {order}");
        assert_eq!(listed(&model), entries(&source, order), "rule {order}");
        assert_eq!(view.len(), model.len(), "rule {order}");
        for i in 0..=model.len() {
            assert_eq!(view.get(i), model.get(i), "rule {order} entry {i}");
        }
    }
}
