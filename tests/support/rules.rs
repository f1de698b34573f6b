//! ARMR rules text for the tests.

/// One app, `name`, holding `rules` written out in full (see [`rule`]).
pub fn app(name: &str, rules: &str) -> String {
    format!("app(\"{name}\"):\n    requires(version: ARMR/2.11)\n{rules}endapp\n")
}

/// One socket rule: `condition` such as `connect("0.0.0.0:0")`, `action` such as
/// `protect(message: "m", severity: High)`.
pub fn rule(name: &str, condition: &str, action: &str) -> String {
    format!("    socket(\"{name}\"):\n        {condition}\n        {action}\n    endsocket\n")
}

/// One app, `name`, holding `rules`, each `(rule name, condition, action)`.
pub fn policy<N, C, A>(name: &str, rules: &[(N, C, A)]) -> String
where
    N: AsRef<str>,
    C: AsRef<str>,
    A: AsRef<str>,
{
    let rules: String = rules
        .iter()
        .map(|(n, c, a)| rule(n.as_ref(), c.as_ref(), a.as_ref()))
        .collect();
    app(name, &rules)
}

/// A policy of the rules `text` (one file, `t.armr`), which must load without error, with
/// `resolver` for its hostnames.
pub fn load_policy(
    text: &str,
    mode: armr::policy::Mode,
    resolver: impl armr::policy::Resolve + 'static,
) -> armr::policy::Policy {
    let loaded = armr::language::load(vec![armr::language::SourceFile::new("t.armr", text)]);
    assert!(
        loaded.is_ok(),
        "rules do not load:\n{}\n{}",
        text,
        loaded.files.iter().map(|f| f.render()).collect::<String>()
    );
    armr::policy::Policy::with_resolver(loaded.rules, mode, Box::new(resolver))
}
