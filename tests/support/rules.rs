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
