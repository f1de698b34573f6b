//! The examples of docs/semantics.md, each as a test: rules in ARMR text, events, and the action
//! a user sees (or none).

mod support;

use armr::language::{self, Action, SourceFile};
use armr::policy::{EventKind, Mode, Policy};
use support::resolvers::Table;
use support::rules;

/// `db.internal` resolves to 10.0.0.5 and fd00::5; no other name resolves.
fn resolver() -> Table {
    Table::new(&[("db.internal", &["10.0.0.5", "fd00::5"])])
}

/// A policy of one app holding `rules`, each `(action, condition)`, rule `rI` logging `mI`.
fn policy(rules: &[(&str, &str)], mode: Mode) -> Policy {
    let named: Vec<(String, &str, String)> = rules
        .iter()
        .enumerate()
        .map(|(i, (action, condition))| {
            (
                format!("r{i}"),
                *condition,
                format!("{action}(message: \"m{i}\")"),
            )
        })
        .collect();
    rules::load_policy(&rules::policy("A", &named), mode, resolver())
}

/// The effective action and the winning rule's name.
fn judge(policy: &Policy, kind: EventKind, address: &str) -> Option<(Action, String)> {
    let d = policy.decide(kind, address.parse().unwrap())?;
    Some((d.action, policy.rule(d.rule).1.name.to_string()))
}

fn action(policy: &Policy, kind: EventKind, address: &str) -> Option<Action> {
    judge(policy, kind, address).map(|(a, _)| a)
}

use Action::*;
use EventKind::*;

#[test]
fn exact_beats_wildcard() {
    let p = policy(
        &[
            ("protect", "connect(\"0.0.0.0:0\")"),
            ("allow", "connect(\"127.0.0.1:5432\")"),
        ],
        Mode::Enforce,
    );
    assert_eq!(action(&p, Connect, "127.0.0.1:5432"), Some(Allow));
    assert_eq!(action(&p, Connect, "127.0.0.1:5433"), Some(Protect));
}

#[test]
fn exact_protect_beats_wildcard_allow() {
    let p = policy(
        &[
            ("allow", "connect(\"0.0.0.0:443\")"),
            ("protect", "connect(\"10.0.0.1:443\")"),
        ],
        Mode::Enforce,
    );
    assert_eq!(action(&p, Connect, "10.0.0.1:443"), Some(Protect));
    assert_eq!(action(&p, Connect, "10.0.0.2:443"), Some(Allow));
}

#[test]
fn allow_beats_protect_beats_detect_at_equal_specificity() {
    let p = policy(
        &[
            ("detect", "connect(\"10.0.0.1:80\")"),
            ("protect", "connect(\"10.0.0.1:80\")"),
            ("allow", "connect(\"10.0.0.1:80\")"),
        ],
        Mode::Enforce,
    );
    assert_eq!(
        judge(&p, Connect, "10.0.0.1:80"),
        Some((Allow, "r2".into()))
    );
    let p = policy(
        &[
            ("detect", "connect(\"10.0.0.1:80\")"),
            ("protect", "connect(\"10.0.0.1:80\")"),
        ],
        Mode::Enforce,
    );
    assert_eq!(
        judge(&p, Connect, "10.0.0.1:80"),
        Some((Protect, "r1".into()))
    );
}

#[test]
fn the_rule_defined_first_wins_a_full_tie() {
    let p = policy(
        &[
            ("protect", "connect(\"10.0.0.0/8:0\")"),
            ("protect", "connect(\"0.0.0.0:0\")"),
        ],
        Mode::Enforce,
    );
    assert_eq!(
        judge(&p, Connect, "10.1.1.1:1"),
        Some((Protect, "r0".into()))
    );
    assert_eq!(
        judge(&p, Connect, "11.1.1.1:1"),
        Some((Protect, "r1".into()))
    );
}

#[test]
fn a_port_range_is_not_a_wildcard() {
    let p = policy(
        &[
            ("allow", "connect(\"10.0.0.0/8:0\")"),
            ("protect", "connect(\"10.0.0.1:8000-9000\")"),
        ],
        Mode::Enforce,
    );
    assert_eq!(action(&p, Connect, "10.0.0.1:8080"), Some(Protect));
    assert_eq!(action(&p, Connect, "10.0.0.1:9001"), Some(Allow));
    assert_eq!(action(&p, Connect, "10.0.0.2:8080"), Some(Allow));
}

#[test]
fn no_match_means_no_decision() {
    let p = policy(&[("protect", "connect(\"10.0.0.1:80\")")], Mode::Enforce);
    assert_eq!(action(&p, Connect, "10.0.0.1:81"), None);
    assert_eq!(
        action(&p, Accept, "10.0.0.1:80"),
        None,
        "other kinds are not judged by connect rules"
    );
}

#[test]
fn ipv4_mapped_ipv6_is_the_ipv4_address() {
    let p = policy(
        &[
            ("protect", "connect(\"10.1.2.3:80\")"),
            ("protect", "accept(\"[::ffff:192.168.1.1]:0\")"),
        ],
        Mode::Enforce,
    );
    assert_eq!(action(&p, Connect, "[::ffff:10.1.2.3]:80"), Some(Protect));
    assert_eq!(action(&p, Accept, "192.168.1.1:5555"), Some(Protect));
    assert_eq!(
        action(&p, Accept, "[::ffff:192.168.1.1]:5555"),
        Some(Protect)
    );
}

#[test]
fn the_ipv4_any_address_cannot_be_escaped_with_ipv6() {
    let p = policy(&[("protect", "connect(\"0.0.0.0:0\")")], Mode::Enforce);
    assert_eq!(action(&p, Connect, "[2001:db8::1]:80"), Some(Protect));
    assert_eq!(action(&p, Connect, "[::1]:80"), Some(Protect));
    let p = policy(&[("protect", "accept(\":::0\")")], Mode::Enforce);
    assert_eq!(action(&p, Accept, "10.0.0.1:80"), Some(Protect));
}

#[test]
fn an_ipv6_cidr_block_holds_mapped_ipv4_addresses() {
    let p = policy(
        &[("protect", "connect(\"[::ffff:10.0.0.0/104]:0\")")],
        Mode::Enforce,
    );
    assert_eq!(action(&p, Connect, "10.200.0.1:80"), Some(Protect));
    assert_eq!(action(&p, Connect, "11.0.0.1:80"), None);
}

#[test]
fn hostnames_match_what_they_resolve_to() {
    let p = policy(
        &[
            ("allow", "connect(\"db.internal:5432\")"),
            ("protect", "connect(\"0.0.0.0:0\")"),
            ("protect", "connect(\"nowhere.invalid:80\")"),
        ],
        Mode::Enforce,
    );
    assert_eq!(action(&p, Connect, "10.0.0.5:5432"), Some(Allow));
    assert_eq!(action(&p, Connect, "[fd00::5]:5432"), Some(Allow));
    assert_eq!(action(&p, Connect, "10.0.0.6:5432"), Some(Protect));
    assert_eq!(
        p.resolved_names(Connect),
        [
            (
                "db.internal".to_string(),
                vec!["10.0.0.5".parse().unwrap(), "fd00::5".parse().unwrap()]
            ),
            ("nowhere.invalid".to_string(), vec![])
        ]
    );
}

#[test]
fn hostnames_are_not_resolved_before_the_first_event_of_their_kind() {
    let calls = Table::answering_all(&["10.0.0.5"]);
    let text = "app(\"A\"): requires(version: ARMR/2.11) socket(\"r\"): connect(\"db.internal:0\") protect() endsocket endapp";
    let load = language::load(vec![SourceFile::new("t.armr", text)]);
    let p = Policy::with_resolver(load.rules, Mode::Enforce, Box::new(calls.clone()));
    assert_eq!(calls.asked(), 0);
    assert_eq!(action(&p, Accept, "10.0.0.5:1"), None);
    assert_eq!(calls.asked(), 0);
    assert_eq!(action(&p, Connect, "10.0.0.5:1"), Some(Protect));
    assert_eq!(action(&p, Connect, "10.0.0.5:2"), Some(Protect));
    assert_eq!(calls.asked(), 1);
}

#[test]
fn a_connect_to_the_unspecified_address_is_judged_as_loopback() {
    let p = policy(
        &[
            ("protect", "connect(\"127.0.0.1:8080\")"),
            ("protect", "connect(\"[::1]:9090\")"),
        ],
        Mode::Enforce,
    );
    assert_eq!(action(&p, Connect, "0.0.0.0:8080"), Some(Protect));
    assert_eq!(action(&p, Connect, "[::ffff:0.0.0.0]:8080"), Some(Protect));
    assert_eq!(action(&p, Connect, "[::]:9090"), Some(Protect));
    assert_eq!(action(&p, Connect, "0.0.0.0:9090"), None);
}

#[test]
fn a_server_bind_to_all_addresses_cannot_escape_a_rule_for_one() {
    let p = policy(
        &[("protect", "bind(server: \"127.0.0.1:5001\")")],
        Mode::Enforce,
    );
    assert_eq!(action(&p, BindServer, "0.0.0.0:5001"), Some(Protect));
    assert_eq!(action(&p, BindServer, "[::]:5001"), Some(Protect));
    assert_eq!(action(&p, BindServer, "0.0.0.0:5002"), None);
    assert_eq!(action(&p, BindServer, "127.0.0.2:5001"), None);
    assert_eq!(
        action(&p, BindClient, "0.0.0.0:5001"),
        None,
        "server rules never judge clients"
    );
}

#[test]
fn an_allow_for_one_address_does_not_permit_binding_all() {
    // The reference page's "allowing them on a specific interface" example.
    let p = policy(
        &[
            ("protect", "bind(client: \"0.0.0.0:0\")"),
            ("allow", "bind(client: \"127.0.0.1:5000\")"),
        ],
        Mode::Enforce,
    );
    assert_eq!(action(&p, BindClient, "127.0.0.1:5000"), Some(Allow));
    assert_eq!(action(&p, BindClient, "127.0.0.1:5001"), Some(Protect));
    assert_eq!(action(&p, BindClient, "0.0.0.0:5000"), Some(Protect));
    assert_eq!(
        action(&p, BindServer, "127.0.0.1:5001"),
        None,
        "client rules never judge servers"
    );
}

#[test]
fn binding_0_0_0_0_covers_ipv4_only_and_binding_colons_covers_both() {
    let p = policy(
        &[("protect", "bind(server: \"[::1]:7000\")")],
        Mode::Enforce,
    );
    assert_eq!(action(&p, BindServer, "0.0.0.0:7000"), None);
    assert_eq!(action(&p, BindServer, "[::]:7000"), Some(Protect));
}

#[test]
fn detect_only_logs_what_protect_would_refuse() {
    let p = policy(
        &[
            ("protect", "connect(\"0.0.0.0:0\")"),
            ("allow", "connect(\"127.0.0.1:5432\")"),
        ],
        Mode::DetectOnly,
    );
    let d = p.decide(Connect, "10.0.0.1:80".parse().unwrap()).unwrap();
    assert_eq!((d.selected, d.action), (Protect, Detect));
    assert_eq!(action(&p, Connect, "127.0.0.1:5432"), Some(Allow));
}
