//! `armr explain`'s output: the core library computes the [`Explanation`] (data); this module
//! renders it for a person ([`text`]) or as one JSON object ([`json`]), so that the JSON crates
//! stay in the command and never reach the library libarmr.so links.

use armr::policy::{Explanation, Policy};
use serde::Serialize;
use std::fmt::Write as _;
use std::io;

/// The explanation as text for a person.
pub fn text(policy: &Policy, e: &Explanation) -> String {
    let mut out = String::new();
    let verdict = e.decision.map_or("none", |d| d.action.as_str());
    let _ = writeln!(out, "{} {}: {verdict}", e.kind, e.address);
    match e.decision {
        None => {
            let _ = writeln!(
                out,
                "no rule matches: the call proceeds and nothing is logged"
            );
        }
        Some(d) => {
            let (app, rule) = policy.rule(d.rule);
            let _ = writeln!(
                out,
                "rule: \"{}\" in app \"{}\" ({}:{})",
                rule.name.escape_debug(),
                app.name.escape_debug(),
                rule.location.file,
                rule.location.line
            );
        }
    }
    for note in &e.notes {
        let _ = writeln!(out, "note: {note}");
    }
    if !e.candidates.is_empty() {
        let _ = writeln!(out, "matching rules, best first:");
        for c in &e.candidates {
            let (app, rule) = policy.rule(c.rule);
            let _ = writeln!(
                out,
                "  {} \"{}\" ({}:{}, app \"{}\"): {}",
                rule.action,
                rule.name.escape_debug(),
                rule.location.file,
                rule.location.line,
                app.name.escape_debug(),
                c.lost_because.as_deref().unwrap_or("wins")
            );
        }
    }
    out
}

/// The JSON object: its keys, in this order, are the documented output (docs/semantics.md).
#[derive(Serialize)]
struct Object<'a> {
    decision: &'static str,
    rule: Option<&'a str>,
    app: Option<&'a str>,
    location: Option<String>,
    event: Event,
    candidates: Vec<Candidate<'a>>,
    notes: &'a [String],
}

#[derive(Serialize)]
struct Event {
    kind: &'static str,
    address: String,
}

#[derive(Serialize)]
struct Candidate<'a> {
    rule: &'a str,
    app: &'a str,
    location: String,
    action: &'static str,
    wildcard: bool,
    wins: bool,
    lost_because: Option<&'a str>,
}

/// The explanation as one JSON object on one line.
pub fn json(policy: &Policy, e: &Explanation) -> String {
    let located = |order: u32| {
        let (app, rule) = policy.rule(order);
        (
            &*rule.name,
            &*app.name,
            format!("{}:{}", rule.location.file, rule.location.line),
            rule.action.as_str(),
        )
    };
    let winner = e.decision.map(|d| located(d.rule));
    let object = Object {
        decision: e.decision.map_or("none", |d| d.action.as_str()),
        rule: winner.as_ref().map(|w| w.0),
        app: winner.as_ref().map(|w| w.1),
        location: winner.as_ref().map(|w| w.2.clone()),
        event: Event {
            kind: e.kind.as_str(),
            address: e.address.to_string(),
        },
        candidates: e
            .candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (rule, app, location, action) = located(c.rule);
                Candidate {
                    rule,
                    app,
                    location,
                    action,
                    wildcard: c.rank.wildcard(),
                    wins: i == 0,
                    lost_because: c.lost_because.as_deref(),
                }
            })
            .collect(),
        notes: &e.notes,
    };
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, Spaced);
    // Serializing owned strings, bools and options into a Vec cannot fail.
    object.serialize(&mut serializer).expect("JSON into memory");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// serde_json's compact output with a space after each `,` and `:` (`{"a": 1, "b": 2}`), the
/// form `armr explain --json` has always printed: one line, readable in a terminal.
struct Spaced;

impl serde_json::ser::Formatter for Spaced {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use armr::language::{self, SourceFile};
    use armr::policy::{EventKind, Mode};
    use serde_json::{Value, json as value};

    const RULES: &str = "app(\"Web \\\"One\\\"\"):\n  requires(version: ARMR/2.11)\n  \
        socket(\"db\"): connect(\"127.0.0.1:5432\") allow() endsocket\n  \
        socket(\"no\\\\egress\"): connect(\"0.0.0.0:0\") protect(message: \"m\") endsocket\n  \
        socket(\"local\"): accept(\"localhost:443\") detect(message: \"d\") endsocket\n\
        endapp\n";

    fn policy(mode: Mode) -> Policy {
        let load = language::load(vec![SourceFile::new("t.armr", RULES)]);
        assert!(load.is_ok(), "{}", load.files[0].render());
        Policy::new(load.rules, mode)
    }

    fn explain(mode: Mode, kind: EventKind, address: &str) -> (Policy, Explanation) {
        let p = policy(mode);
        let e = p.explain(kind, address.parse().unwrap());
        (p, e)
    }

    #[test]
    fn text_names_the_winner_and_why_each_other_rule_loses() {
        let (p, e) = explain(Mode::Enforce, EventKind::Connect, "127.0.0.1:5432");
        assert_eq!(
            text(&p, &e),
            "connect 127.0.0.1:5432: allow\n\
             rule: \"db\" in app \"Web \\\"One\\\"\" (t.armr:3)\n\
             matching rules, best first:\n\
             \x20 allow \"db\" (t.armr:3, app \"Web \\\"One\\\"\"): wins\n\
             \x20 protect \"no\\\\egress\" (t.armr:4, app \"Web \\\"One\\\"\"): it has a wildcard \
             (any-address, CIDR block or port 0) and the winner does not\n"
        );
    }

    #[test]
    fn text_shows_the_notes_and_says_when_no_rule_matches() {
        let (p, e) = explain(Mode::Enforce, EventKind::Accept, "[::1]:443");
        let shown = text(&p, &e);
        assert!(
            shown.starts_with("accept [::1]:443: detect\nrule: \"local\"")
                && shown.contains(
                    "note: hostname localhost is the loopback addresses 127.0.0.0/8 and ::1 \
                     (RFC 6761), whatever the hosts file and the resolver say: it is not resolved\n"
                ),
            "{shown}"
        );
        let (p, e) = explain(Mode::Enforce, EventKind::BindServer, "10.0.0.1:80");
        assert_eq!(
            text(&p, &e),
            "bind-server 10.0.0.1:80: none\nno rule matches: the call proceeds and nothing is logged\n"
        );
    }

    #[test]
    fn json_is_one_line_with_the_documented_keys_and_spacing() {
        let (p, e) = explain(Mode::Enforce, EventKind::BindServer, "10.0.0.1:80");
        assert_eq!(
            json(&p, &e),
            "{\"decision\": \"none\", \"rule\": null, \"app\": null, \"location\": null, \
             \"event\": {\"kind\": \"bind-server\", \"address\": \"10.0.0.1:80\"}, \"candidates\": [], \
             \"notes\": []}"
        );
    }

    #[test]
    fn json_parses_to_the_explanation_with_names_escaped() {
        let (p, e) = explain(
            Mode::DetectOnly,
            EventKind::Connect,
            "[::ffff:10.9.9.9]:5432",
        );
        let out = json(&p, &e);
        assert!(!out.contains('\n'), "{out}");
        let parsed: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            parsed,
            value!({
                "decision": "detect",
                "rule": "no\\egress",
                "app": "Web \"One\"",
                "location": "t.armr:4",
                "event": {"kind": "connect", "address": "[::ffff:10.9.9.9]:5432"},
                "candidates": [{
                    "rule": "no\\egress",
                    "app": "Web \"One\"",
                    "location": "t.armr:4",
                    "action": "protect",
                    "wildcard": true,
                    "wins": true,
                    "lost_because": null
                }],
                "notes": [
                    "::ffff:10.9.9.9 is an IPv4-mapped IPv6 address: judged as 10.9.9.9",
                    "detect-only mode: the protect rule acts as detect (logged, not refused)"
                ]
            })
        );
    }

    #[test]
    fn json_losers_say_why() {
        let (p, e) = explain(Mode::Enforce, EventKind::Connect, "127.0.0.1:5432");
        let parsed: Value = serde_json::from_str(&json(&p, &e)).unwrap();
        let candidates = parsed["candidates"].as_array().unwrap();
        assert_eq!(candidates.len(), 2);
        assert_eq!(candidates[0]["wins"], true);
        assert_eq!(candidates[0]["lost_because"], Value::Null);
        assert_eq!(candidates[1]["wins"], false);
        assert_eq!(
            candidates[1]["lost_because"],
            "it has a wildcard (any-address, CIDR block or port 0) and the winner does not"
        );
    }
}
