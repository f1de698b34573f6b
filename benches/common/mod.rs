//! A generator of large, valid rules files for the benchmarks.
//!
//! `rules_file(n)` writes `n` socket rules spread over apps of [`RULES_PER_APP`] rules each, every
//! app declaring `requires(version: ARMR/2.11)`. The rules cycle through every condition shape the
//! language has (accept, connect, `bind(server:)`, `bind(client:)`, both bind keys at once) and
//! every address shape that is legal where it stands: exact IPv4, bracketed IPv6, CIDR blocks and
//! hostnames (accept/connect only), port ranges, the `0.0.0.0` / port 0 wildcards. Actions cycle
//! through protect, allow and detect (detect always with a message, a third of the protect rules
//! without one); some rules carry a severity (a number, a name or a quoted name) and
//! `stacktrace: "full"`. Rule names are unique within their app; every other app has `version(N)`.

use std::fmt::Write as _;

/// Socket rules per app (the last app takes what is left).
pub const RULES_PER_APP: usize = 100;

/// The condition of rule `i` (global index) of app `a`.
fn condition(out: &mut String, a: usize, i: usize) {
    let b2 = (i / 256) % 256;
    let b3 = i % 256;
    let port = 1 + (i * 7919) % 65_000;
    match i % 10 {
        0 => write!(out, r#"connect("10.{}.{b2}.{b3}:{port}")"#, a % 256),
        1 => write!(
            out,
            r#"accept("[fd00::{a:x}:{:x}:{:x}]:{port}")"#,
            i >> 16,
            i & 0xffff
        ),
        2 => write!(out, r#"connect("10.{}.0.0/16:443")"#, i % 256),
        3 => write!(out, r#"accept("192.168.{b2}.{b3}:5000-5100")"#),
        4 => write!(out, r#"connect("svc-{i}.app{a}.internal:5432")"#),
        5 => write!(out, r#"bind(server: "0.0.0.0:{port}")"#),
        6 => write!(out, r#"bind(client: "127.0.0.{}:0")"#, 1 + i % 254),
        7 => write!(
            out,
            r#"bind(server: "[::1]:9000-9100", client: "0.0.0.0:0")"#
        ),
        8 => write!(out, r#"accept("[fd00:{:x}::/32]:0")"#, i % 0xffff),
        _ => write!(out, r#"connect("0.0.0.0:8080-8090")"#),
    }
    .unwrap();
}

/// The action of rule `i`: protect, allow or detect, with or without severity and stack trace.
fn action(out: &mut String, i: usize) {
    let kind = ["protect", "allow", "detect"][i % 3];
    let mut params: Vec<String> = Vec::new();
    // detect must have a message; one protect rule in three logs nothing.
    if kind != "protect" || !i.is_multiple_of(9) {
        params.push(format!(r#"message: "rule {i}: {kind} by the benchmark""#));
    }
    match i % 5 {
        0 => params.push(format!("severity: {}", i % 11)),
        1 => params.push("severity: High".into()),
        2 => params.push(r#"severity: "Very-High""#.into()),
        _ => {}
    }
    if i.is_multiple_of(4) {
        params.push(r#"stacktrace: "full""#.into());
    }
    write!(out, "{kind}({})", params.join(", ")).unwrap();
}

/// A rules file of exactly `n` valid socket rules.
pub fn rules_file(n: usize) -> String {
    let mut out = String::with_capacity(n * 200);
    let apps = n.div_ceil(RULES_PER_APP);
    for a in 0..apps {
        let first = a * RULES_PER_APP;
        let last = n.min(first + RULES_PER_APP);
        writeln!(out, "# app {a}: rules {first}..{last}").unwrap();
        writeln!(out, r#"app("Benchmark app {a}"):"#).unwrap();
        writeln!(out, "    requires(version: ARMR/2.11)").unwrap();
        if a % 2 == 1 {
            writeln!(out, "    version({})", 1 + a % 7).unwrap();
        }
        for i in first..last {
            writeln!(out, r#"    socket("rule {i} of app {a}"):"#).unwrap();
            out.push_str("        ");
            condition(&mut out, a, i);
            out.push_str("\n        ");
            action(&mut out, i);
            out.push_str("\n    endsocket\n");
        }
        out.push_str("endapp\n\n");
    }
    out
}
