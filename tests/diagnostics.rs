//! Every diagnostic armr can give about a rules file, pinned: its exact message, line and column.
//!
//! Each case is a small file with one mistake and the headline (`FILE:LINE:COL: level: WHAT`) it
//! must produce, and `tests/snapshots/diagnostics.txt` pins each one's whole rendering.
//! `every_kind_is_pinned` fails when a kind of diagnostic the library defines has no case, and
//! `docs_list_every_message` fails when docs/rules.md does not show a case's message.

use armr::language::{self, DiagnosticKind, Level, SourceFile};

/// An app around `body` (which starts on line 3).
fn app(body: &str) -> String {
    format!("app(\"A\"):\n  requires(version: ARMR/2.11)\n  {body}\nendapp\n")
}

/// A socket rule around `statements` (which start on line 4, column 5).
fn rule(statements: &str) -> String {
    app(&format!("socket(\"r\"):\n    {statements}\n  endsocket"))
}

/// A socket rule with a valid action around `condition` (line 4, column 5).
fn condition(condition: &str) -> String {
    rule(&format!("{condition}\n    protect(message: \"m\")"))
}

/// A socket rule with a valid condition around `action` (line 4, column 5).
fn action(action: &str) -> String {
    rule(&format!("{action}\n    connect(\"10.0.0.1:80\")"))
}

/// `text` loaded as the file `t.armr`, with the warnings `armr check` adds about the rules
/// together (rules that can never win).
fn load_checked(text: impl Into<String>) -> language::Load {
    let mut load = language::load(vec![SourceFile::new("t.armr", text.into())]);
    armr::policy::shadow::warn(&mut load);
    load
}

/// Headlines of every diagnostic of `text`, loaded as the file `t.armr`.
fn headlines(text: &str) -> Vec<String> {
    let load = load_checked(text);
    let file = &load.files[0];
    file.diagnostics
        .iter()
        .map(|d| d.headline(&file.source))
        .collect()
}

/// The kind of every diagnostic of `text`.
fn kinds(text: &str) -> Vec<DiagnosticKind> {
    let load = load_checked(text);
    load.files[0]
        .diagnostics
        .iter()
        .map(|d| d.kind.clone())
        .collect()
}

/// Each kind of diagnostic with a file that gives it, and the one headline that file must give.
fn cases() -> Vec<(&'static str, String, &'static str)> {
    vec![
        ("NoApps", "# only a comment\n".into(), "t.armr: error: the file holds no app, so no rules"),
        // --- lexical and block structure ---
        (
            "UnterminatedString",
            "app(\"A):\n  requires(version: ARMR/2.11)\nendapp\n".into(),
            "t.armr:1:5: error: unterminated string",
        ),
        (
            "InvalidEscape",
            action(r#"protect(message: "C:\temp")"#),
            r"t.armr:4:25: error: invalid escape `\t` in a string",
        ),
        (
            "UnterminatedComment",
            app("/* socket(\"r\"): ..."),
            "t.armr:3:3: error: unterminated block comment",
        ),
        (
            "Expected",
            action("protect(message: \"m\" severity: 8)"),
            "t.armr:4:26: error: expected `,` or `)`, found `severity`",
        ),
        (
            "NumberOutOfRange",
            action("protect(severity: 99999999999999999999)"),
            "t.armr:4:23: error: number `99999999999999999999` is too large",
        ),
        (
            "NestingTooDeep",
            action(&format!("protect(message: {}{})", "[".repeat(40), "]".repeat(40))),
            "t.armr:4:38: error: nesting deeper than 16 levels",
        ),
        (
            "UnterminatedBlock",
            "app(\"A\"):\n  requires(version: ARMR/2.11)\n  socket(\"r\"):\n    connect(\"10.0.0.1:80\")\n    protect()\n  endsocket\n".into(),
            "t.armr:1:1: error: `app` block is never closed",
        ),
        (
            "MismatchedEnd",
            app("socket(\"r\"):\n    connect(\"10.0.0.1:80\")\n    protect()\n  endhttp\n  endsocket"),
            "t.armr:6:3: error: expected `endsocket` here, found `endhttp`",
        ),
        (
            "StrayEnd",
            format!("{}endsocket\n", app("socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket")),
            "t.armr:5:1: error: `endsocket` closes no open block",
        ),
        (
            "KeywordCase",
            "ApP(\"A\"):\n  requires(version: ARMR/2.11)\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket\nendapp\n".into(),
            "t.armr:1:1: error: `ApP` is not a keyword: keywords are lowercase (`app`)",
        ),
        (
            "Misspelt",
            rule("conect(\"10.0.0.1:80\")\n    protect()"),
            "t.armr:4:5: error: `conect` is not a statement of a socket rule",
        ),
        (
            "Lookalike",
            condition("connect(\"10.0.0.1:80\u{2013}90\")"),
            "t.armr:4:25: error: `\u{2013}` (U+2013 EN DASH) is not a hyphen-minus `-`",
        ),
        (
            "ExpectedApp",
            "socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket\n".into(),
            "t.armr:1:1: error: expected `app(...)`, found `socket(...)`",
        ),
        (
            "MissingColon",
            app("socket(\"r\")\n    connect(\"10.0.0.1:80\")\n    protect()\n  endsocket"),
            "t.armr:3:3: error: expected `:` after `socket(...)` to open its block",
        ),
        // --- app level ---
        (
            "MissingAppName",
            "app():\n  requires(version: ARMR/2.11)\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket\nendapp\n".into(),
            "t.armr:1:4: error: app has no name",
        ),
        (
            "MissingRequires",
            "app(\"A\"):\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket\nendapp\n".into(),
            "t.armr:1:5: error: app `A` has no `requires(version: ...)` declaration",
        ),
        (
            "RequiresAfterRule",
            "app(\"A\"):\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket\n  requires(version: ARMR/2.11)\nendapp\n".into(),
            "t.armr:3:3: error: `requires` must come before the first rule of the app",
        ),
        (
            "UnknownRequiresKey",
            "app(\"A\"):\n  requires(version: ARMR/2.11, vendor: X)\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket\nendapp\n".into(),
            "t.armr:2:32: error: unknown `requires` parameter `vendor`",
        ),
        (
            "RequiresWithoutVersion",
            "app(\"A\"):\n  requires()\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket\nendapp\n".into(),
            "t.armr:2:11: error: `requires` does not say which language version",
        ),
        (
            "UnknownLanguage",
            "app(\"A\"):\n  requires(version: ARM/2.8)\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket\nendapp\n".into(),
            "t.armr:2:21: error: unknown language version `ARM/2.8`",
        ),
        (
            "UnsupportedVersion",
            "app(\"A\"):\n  requires(version: \"ARMR/2.12\")\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket\nendapp\n".into(),
            "t.armr:2:21: error: language version `ARMR/2.12` is not supported",
        ),
        (
            "FeatureNeedsVersion",
            "app(\"A\"):\n  requires(version: ARMR/2.1)\n  socket(\"r\"): connect(\"10.0.0.1:80-90\") protect() endsocket\nendapp\n".into(),
            "t.armr:3:34: error: port ranges need `ARMR/2.2` or later, but the app requires `ARMR/2.1`",
        ),
        (
            "UnknownDeclaration",
            app("log(\"x\")\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket"),
            "t.armr:3:3: error: unrecognised declaration `log`",
        ),
        (
            "UnknownRuleKind",
            app("firewall(\"r\"): connect(\"10.0.0.1:80\") endfirewall"),
            "t.armr:3:3: error: unknown rule kind `firewall`",
        ),
        (
            "UnknownRuleKindSkipped",
            app("foo(\"a foo rule\"): endfoo\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket"),
            "t.armr:3:3: warning: unknown rule kind `foo`: rule `a foo rule` skipped",
        ),
        (
            "EmptyApp",
            "app(\"A\"):\n  requires(version: ARMR/2.11)\nendapp\n".into(),
            "t.armr:1:5: error: app `A` holds no rules",
        ),
        (
            "DuplicateApp",
            format!("{0}{0}", app("socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket")),
            "t.armr:5:5: error: app `A` version 1 is defined twice (first at t.armr:1:5)",
        ),
        (
            "AppReplaced",
            format!(
                "{}{}",
                app("socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket"),
                app("version(2) socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket")
            ),
            "t.armr:1:5: warning: app `A` version 1 is ignored: version 2 of the same app replaces it",
        ),
        (
            "BadAppVersion",
            app("version(0)\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket"),
            "t.armr:3:11: error: app version `0` is not a positive whole number",
        ),
        (
            "DuplicateRule",
            app("socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket\n  socket(\"r\"): connect(\"10.0.0.2:80\") protect() endsocket"),
            "t.armr:4:10: error: rule name `r` is used twice in this app",
        ),
        (
            "MissingRuleName",
            app("socket(): connect(\"10.0.0.1:80\") protect() endsocket"),
            "t.armr:3:9: error: `socket` rule has no name",
        ),
        (
            "UnknownRuleParameter",
            app("socket(\"r\", level: 2): connect(\"10.0.0.1:80\") protect() endsocket"),
            "t.armr:3:15: error: unknown rule parameter `level`",
        ),
        (
            "UnknownOs",
            app("socket(\"r\", os: [linux, beos]): connect(\"10.0.0.1:80\") protect() endsocket"),
            "t.armr:3:27: error: unknown operating system `beos`",
        ),
        (
            "EmptyOsList",
            app("socket(\"r\", os: []): connect(\"10.0.0.1:80\") protect() endsocket"),
            "t.armr:3:19: error: `os` names no operating system",
        ),
        (
            "QuotedOs",
            app("socket(\"r\", os: [\"linux\"]): connect(\"10.0.0.1:80\") protect() endsocket"),
            "t.armr:3:20: error: operating system `\"linux\"` is written without quotes",
        ),
        (
            "SkippedRuleKind",
            app("http(\"h\"): request() protect(message: \"m\") endhttp"),
            "t.armr:3:3: warning: `http` rule `h` skipped: armr enforces socket rules only",
        ),
        (
            "SkippedForOs",
            app("socket(\"r\", os: windows): connect(\"10.0.0.1:80\") protect() endsocket"),
            "t.armr:3:3: note: rule `r` skipped: its `os` list does not include linux",
        ),
        // --- socket rules ---
        (
            "UnknownStatement",
            rule("connect(\"10.0.0.1:80\")\n    limit()\n    protect()"),
            "t.armr:5:5: error: `limit` is not a statement of a socket rule",
        ),
        (
            "DuplicateStatement",
            rule("connect(\"10.0.0.1:80\")\n    connect(\"10.0.0.2:80\")\n    protect()"),
            "t.armr:5:5: error: `connect` appears twice in this rule",
        ),
        (
            "TwoConditions",
            rule("connect(\"10.0.0.1:80\")\n    accept(\"10.0.0.2:80\")\n    protect()"),
            "t.armr:5:5: error: a socket rule has one condition, but this one has `connect` and `accept`",
        ),
        (
            "TwoActions",
            rule("connect(\"10.0.0.1:80\")\n    protect()\n    allow()"),
            "t.armr:6:5: error: a socket rule has one action, but this one has `protect` and `allow`",
        ),
        ("NoCondition", rule("protect()"), "t.armr:3:3: error: socket rule `r` has no condition"),
        ("NoAction", rule("connect(\"10.0.0.1:80\")"), "t.armr:3:3: error: socket rule `r` has no action"),
        (
            "UnexpectedBlock",
            rule("connect(\"10.0.0.1:80\")\n    protect(): endprotect"),
            "t.armr:5:5: error: `protect` cannot open a block inside a socket rule",
        ),
        (
            "DuplicateParameter",
            action("protect(severity: 1, severity: 2)"),
            "t.armr:4:26: error: parameter `severity` is given twice",
        ),
        (
            "UnexpectedArgument",
            condition("connect(\"10.0.0.1:80\", \"10.0.0.2:80\")"),
            "t.armr:4:28: error: unexpected argument to `connect`",
        ),
        (
            "ExpectedString",
            condition("connect(localhost)"),
            "t.armr:4:13: error: an address must be a quoted string",
        ),
        (
            "BindWithoutKey",
            condition("bind(\"10.0.0.1:80\")"),
            "t.armr:4:10: error: `bind` needs `client:` or `server:` before its address",
        ),
        (
            "UnknownBindKey",
            condition("bind(local: \"10.0.0.1:80\")"),
            "t.armr:4:10: error: unknown `bind` parameter `local`",
        ),
        (
            "DetectWithoutMessage",
            action("detect(severity: High)"),
            "t.armr:4:5: error: `detect` needs a `message`",
        ),
        (
            "UnknownActionParameter",
            action("protect(msg: \"m\")"),
            "t.armr:4:13: error: unknown action parameter `msg`",
        ),
        (
            "BadSeverity",
            action("protect(severity: 11)"),
            "t.armr:4:23: error: invalid severity `11`",
        ),
        (
            "BadStacktrace",
            action("protect(stacktrace: \"short\")"),
            "t.armr:4:25: error: invalid stacktrace `\"short\"`: the only value is \"full\"",
        ),
        (
            "Unsupported",
            action("protect(connection: upgrade-tls)"),
            "t.armr:4:13: error: the TLS parameter `connection:` is not supported by armr",
        ),
        // --- metadata ---
        (
            "MetadataLogNotDictionary",
            app("metadata(log: \"team=web\")\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket"),
            "t.armr:3:17: error: metadata `log` must be a dictionary `{key: value, ...}`",
        ),
        (
            "DuplicateMetadataKey",
            app("metadata(log: {team: \"a\", team: \"b\"})\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket"),
            "t.armr:3:29: error: metadata key `team` is given twice",
        ),
        (
            "ReservedMetadataKey",
            app("metadata(log: {act: \"allow\"})\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket"),
            "t.armr:3:18: error: metadata log key `act` is a field armr writes itself",
        ),
        (
            "BadMetadataKey",
            app("metadata(log: {\"a b\": \"c\"})\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket"),
            "t.armr:3:18: error: metadata log key `a b` is not a CEF key",
        ),
        (
            "BadMetadataValue",
            app("metadata(log: {team: [a, b]})\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket"),
            "t.armr:3:24: error: metadata log value of `team` must be a string, number, boolean or constant",
        ),
        (
            "EmptyMetadata",
            app("metadata()\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket"),
            "t.armr:3:11: error: `metadata(...)` holds no entry",
        ),
        (
            "BadStandardMetadata",
            app("metadata(cve: \"\")\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket"),
            "t.armr:3:17: error: metadata `cve` must be a non-empty string or a non-empty list of non-empty strings",
        ),
        // --- addresses ---
        (
            "MissingPort",
            condition("connect(\"10.0.0.1\")"),
            "t.armr:4:14: error: address `10.0.0.1` has no port",
        ),
        ("MissingHost", condition("connect(\":80\")"), "t.armr:4:14: error: address has no host before the port"),
        ("BadPort", condition("connect(\"10.0.0.1:http\")"), "t.armr:4:23: error: invalid port `http`"),
        (
            "PortOutOfRange",
            condition("connect(\"10.0.0.1:65536\")"),
            "t.armr:4:23: error: port `65536` is above 65535",
        ),
        (
            "PortRangeWithZero",
            condition("connect(\"10.0.0.1:0-80\")"),
            "t.armr:4:23: error: a port range cannot include port 0",
        ),
        (
            "PortRangeReversed",
            condition("connect(\"10.0.0.1:90-80\")"),
            "t.armr:4:23: error: port range `90-80` ends below its start",
        ),
        (
            "BadIpv4",
            condition("connect(\"10.0.0.256:80\")"),
            "t.armr:4:14: error: invalid IPv4 address `10.0.0.256`",
        ),
        (
            "BadIpv6",
            condition("connect(\"[fe80::1%eth0]:80\")"),
            "t.armr:4:15: error: invalid IPv6 address `fe80::1%eth0`",
        ),
        (
            "BadHostname",
            condition("connect(\"db_1.internal:5432\")"),
            "t.armr:4:14: error: invalid hostname `db_1.internal`",
        ),
        (
            "BadCidrPrefix",
            condition("connect(\"10.0.0.0/33:80\")"),
            "t.armr:4:14: error: CIDR prefix length `33` is not between 0 and 32",
        ),
        (
            "CidrHostBits",
            condition("connect(\"10.1.0.0/8:80\")"),
            "t.armr:4:14: error: CIDR block `10.1.0.0/8` has bits set after the prefix",
        ),
        (
            "HostnameInBind",
            condition("bind(server: \"localhost:80\")"),
            "t.armr:4:19: error: hostname `localhost` where `bind` needs an IP address",
        ),
        (
            "DotlessHostname",
            condition("connect(\"any:443\")"),
            "t.armr:4:14: warning: hostname `any` has no dot: a name of one label is a host of the local network, if any",
        ),
        // --- the rules together ---
        (
            "ShadowedRule",
            app("socket(\"all\"): connect(\"0.0.0.0:0\") allow() endsocket\n  socket(\"one\"): connect(\"10.0.0.9:0\") protect() endsocket"),
            "t.armr:4:3: warning: rule `one` can never win: rule `all` (t.armr:3:3) matches every `connect` it matches and is chosen before it",
        ),
        (
            "CidrInBind",
            condition("bind(client: \"10.0.0.0/8:0\")"),
            "t.armr:4:19: error: CIDR block `10.0.0.0/8` where `bind` needs an IP address",
        ),
    ]
}

#[test]
fn each_case_gives_exactly_its_diagnostic() {
    let mut failures = Vec::new();
    for (name, text, expected) in cases() {
        let got = headlines(&text);
        let got_kinds: Vec<&str> = kinds(&text).iter().map(DiagnosticKind::name).collect();
        if got != [expected] || got_kinds != [name] {
            failures.push(format!(
                "{name}:\n  want {expected}\n  got  {got:?} {got_kinds:?}\n{text}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Kinds pinned by tests of their own, not by a case: they are about files (that cannot be read,
/// or that others may write: tests/cli.rs
/// `check_warns_about_rules_that_never_win_dotless_hostnames_and_writable_files`), so no text
/// gives them.
const PINNED_ELSEWHERE: [&str; 5] = [
    "Unreadable",
    "NotUtf8",
    "NotRegularFile",
    "TooLarge",
    "WritableByOthers",
];

/// Every kind the library defines (`DiagnosticKind::NAMES`, generated from the enum's definition)
/// has a case. Before, the list of kinds came from the cases themselves, so that a new kind
/// without a case passed.
#[test]
fn every_kind_is_pinned() {
    let pinned: std::collections::BTreeSet<&str> = cases()
        .iter()
        .map(|(name, _, _)| *name)
        .chain(PINNED_ELSEWHERE)
        .collect();
    let missing: Vec<&str> = DiagnosticKind::NAMES
        .iter()
        .copied()
        .filter(|n| !pinned.contains(n))
        .collect();
    assert!(missing.is_empty(), "kinds without a case: {missing:?}");
    let unknown: Vec<&str> = pinned
        .iter()
        .copied()
        .filter(|n| !DiagnosticKind::NAMES.contains(n))
        .collect();
    assert!(unknown.is_empty(), "cases of no kind: {unknown:?}");
}

/// Where every case's whole rendered output is pinned.
const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/snapshots/diagnostics.txt"
);

/// Each case's rendering, whole (headline, source line, carets, hint), against the snapshot.
/// After a deliberate change, `ARMR_BLESS=1 cargo test --release --test diagnostics` rewrites
/// the snapshot; review its diff like code.
#[test]
fn every_case_renders_as_pinned() {
    let mut rendered = String::new();
    for (name, text, _) in cases() {
        let load = load_checked(text);
        rendered.push_str(&format!("==> {name}\n{}\n", load.files[0].render()));
    }
    if std::env::var_os("ARMR_BLESS").is_some() {
        std::fs::write(SNAPSHOT, &rendered).expect("write the snapshot");
        return;
    }
    let pinned = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    if pinned != rendered {
        let first = pinned
            .lines()
            .zip(rendered.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(pinned.lines().count().min(rendered.lines().count()));
        panic!(
            "rendering differs from {SNAPSHOT} at line {}:\n  pinned: {:?}\n  now:    {:?}\n\
             (ARMR_BLESS=1 rewrites the snapshot after a deliberate change)",
            first + 1,
            pinned.lines().nth(first),
            rendered.lines().nth(first)
        );
    }
}

#[test]
fn docs_list_every_message() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules.md"))
        .expect("docs/rules.md");
    let mut missing = Vec::new();
    for (name, _, expected) in cases() {
        let message = expected.splitn(3, ": ").nth(2).unwrap_or(expected);
        if !docs.contains(message) {
            missing.push(format!("{name}: {message}"));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/rules.md does not show:\n{}",
        missing.join("\n")
    );
}

#[test]
fn unreadable_and_non_utf8_files_are_errors_not_empty_policies() {
    let load = language::load_paths(&["/nonexistent/rules.armr"]);
    assert!(!load.is_ok());
    let file = &load.files[0];
    assert_eq!(
        file.diagnostics[0].headline(&file.source),
        "/nonexistent/rules.armr: error: cannot read the rules file: no such file"
    );
    let err =
        SourceFile::from_bytes("bin.armr".into(), b"app(\"A\"):\n  \xff\xfe".to_vec()).unwrap_err();
    assert_eq!(
        err.headline(&SourceFile::new("bin.armr", "")),
        "bin.armr: error: the file is not UTF-8 text (first bad byte at line 2, column 3)"
    );
}

/// A rules source that is not a regular file, or is larger than 64 MiB, is not read: reading it
/// could wait forever (a FIFO) or never end (`/dev/zero`). tests/faults.rs runs the same cases
/// under libarmr.so and `armr check`.
#[test]
fn special_and_oversized_files_are_errors_that_say_what_they_are() {
    let dir = std::env::temp_dir().join(format!("armr-diagnostics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo.armr");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let big = dir.join("big.armr");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(language::source::MAX_RULES_FILE + 1)
        .unwrap();
    let load = language::load_paths(&[&fifo, std::path::Path::new("/dev/null"), &big]);
    let rendered: Vec<String> = load.files.iter().map(|f| f.render()).collect();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        rendered,
        [
            format!(
                "{}: error: cannot read the rules file: it is a named pipe (FIFO), not a regular file\n\
                 \x20 = hint: name a regular file of rules, or a directory of *.armr files: a pipe, \
                 device or socket is not read (it may never end); copy the rules into a file\n",
                fifo.display()
            ),
            "/dev/null: error: cannot read the rules file: it is a character device, not a regular file\n\
             \x20 = hint: name a regular file of rules, or a directory of *.armr files: a pipe, \
             device or socket is not read (it may never end); copy the rules into a file\n"
                .to_string(),
            format!(
                "{}: error: the rules file is 67108865 bytes, more than the 67108864 (64 MiB) armr \
                 reads\n\x20 = hint: check that the path names a rules file; split a rule set this \
                 large into several *.armr files in a directory\n",
                big.display()
            ),
        ]
    );
}

#[test]
fn rendering_shows_the_line_a_caret_and_the_hint() {
    let text = "app(\"A\"):\n  requires(version: ARMR/2.1)\n\tsocket(\"r\"): connect(\"10.0.0.1:80-90\") protect() endsocket\nendapp\n";
    let load = language::load(vec![SourceFile::new("t.armr", text)]);
    assert_eq!(
        load.files[0].render(),
        "t.armr:3:33: error: port ranges need `ARMR/2.2` or later, but the app requires `ARMR/2.1`\n\
         \x20 3 | \tsocket(\"r\"): connect(\"10.0.0.1:80-90\") protect() endsocket\n\
         \x20   | \t                               ^^^^^\n\
         \x20 = hint: raise the app to `requires(version: ARMR/2.2)` or later\n"
    );
}

#[test]
fn rendering_never_writes_control_characters_to_the_terminal() {
    let text = app(
        "socket(\"\x1b[31mr\"): connect(\"10.0.0.1:80\") protect() endsocket\n  bogus(\"\x1b]0;x\x07\")",
    );
    let load = language::load(vec![SourceFile::new("t.armr", text)]);
    let rendered = load.files[0].render();
    assert!(
        rendered.contains("unrecognised declaration `bogus`"),
        "{rendered}"
    );
    assert!(
        !rendered.contains('\x1b') && !rendered.contains('\x07'),
        "{rendered:?}"
    );
}

#[test]
fn every_independent_error_is_reported() {
    let text = "app(\"A\"):\n  requires(version: ARMR/2.8)\n  socket(\"one\"):\n    connect(\"10.0.0.1:70000\")\n    protect(severity: 11)\n  endsocket\n  socket(\"two\"):\n    bind(server: \"localhost:80\")\n    detect()\n  endsocket\n  socket(\"three\"):\n    accept(\"10.0.0.0/8:0\")\n    allow(message: \"unterminated)\n  endsocket\n  socket(\"four\"):\n    connect(\"[::1]:99999\")\n    protect()\n  endsocket\nendapp\n";
    assert_eq!(
        headlines(text),
        [
            "t.armr:4:23: error: port `70000` is above 65535",
            "t.armr:5:23: error: invalid severity `11`",
            "t.armr:8:19: error: hostname `localhost` where `bind` needs an IP address",
            "t.armr:9:5: error: `detect` needs a `message`",
            "t.armr:12:13: error: CIDR blocks need `ARMR/2.10` or later, but the app requires `ARMR/2.8`",
            "t.armr:13:20: error: unterminated string",
            "t.armr:16:20: error: port `99999` is above 65535",
        ]
    );
}

#[test]
fn warnings_and_notes_do_not_fail_a_load() {
    let text = app(
        "http(\"h\"): request() endhttp\n  socket(\"w\", os: [windows, aix]): connect(\"10.0.0.1:80\") protect() endsocket\n  socket(\"r\", os: [linux]): connect(\"10.0.0.1:80\") protect() endsocket",
    );
    let load = language::load(vec![SourceFile::new("t.armr", text)]);
    assert!(load.is_ok());
    let levels: Vec<Level> = load.files[0].diagnostics.iter().map(|d| d.level).collect();
    assert_eq!(levels, [Level::Warning, Level::Note]);
    assert_eq!(
        load.files[0].summary(),
        "t.armr: 1 app, 1 socket rule, 2 rules skipped"
    );
}

/// Carets stand under the text they mean in a terminal: a CJK character or an emoji takes two
/// columns, a combining accent none, and the source's tabs are copied (their width is the
/// terminal's). Before: one space per character, so carets fell short after wide characters and
/// overshot after combining ones.
#[test]
fn carets_line_up_under_wide_and_combining_characters() {
    let text = "app(\"A\"):\n  requires(version: ARMR/2.11)\n  socket(\"日本語 🔥 e\u{301}\"): connect(\"10.0.0.1:70000\") protect() endsocket\n\tsocket(\"\u{1F469}\u{200D}\u{1F4BB}\"):\tconnect(\"10.0.0.1:70001\") protect() endsocket\n  socket(\"y\"): connect(\"データ_1.internal:80\") protect() endsocket\nendapp\n";
    let load = language::load(vec![SourceFile::new("t.armr", text)]);
    assert_eq!(
        load.files[0].render(),
        "t.armr:3:41: error: port `70000` is above 65535\n\
         \x20 3 |   socket(\"日本語 🔥 e\u{301}\"): connect(\"10.0.0.1:70000\") protect() endsocket\n\
         \x20   |                                            ^^^^^\n\
         \x20 = hint: a port is 0 (any port), a number from 1 to 65535, or a range `N-M`\n\
         t.armr:4:35: error: port `70001` is above 65535\n\
         \x20 4 | \tsocket(\"\u{1F469}\u{200D}\u{1F4BB}\"):\tconnect(\"10.0.0.1:70001\") protect() endsocket\n\
         \x20   | \t             \t                  ^^^^^\n\
         \x20 = hint: a port is 0 (any port), a number from 1 to 65535, or a range `N-M`\n\
         t.armr:5:25: error: invalid hostname `データ_1.internal`\n\
         \x20 5 |   socket(\"y\"): connect(\"データ_1.internal:80\") protect() endsocket\n\
         \x20   |                         ^^^^^^^^^^^^^^^^^\n\
         \x20 = hint: a hostname holds letters, digits, `-` and `.`: `db.internal:5432`\n"
    );
}

/// A misspelt keyword is one error, with the keyword it most likely means, and the rest of the
/// file is read as if it were spelt right: no "missing condition" for a misspelt condition, no
/// "expected `endsoket`" after a misspelt `soket`. Before: none said what was meant, and `conect`
/// was also "has no condition", `soket` and `ap` also a mismatched end, `requries` also "no
/// requires", `mesage` also "detect needs a message".
#[test]
fn misspelt_keywords_are_one_error_each_with_a_guess() {
    let cases: Vec<(String, &str, &str)> = vec![
        (
            rule("conect(\"10.0.0.1:80\")\n    protect()"),
            "t.armr:4:5: error: `conect` is not a statement of a socket rule",
            "did you mean `connect`?",
        ),
        (
            rule("connect(\"10.0.0.1:80\")\n    allwo()"),
            "t.armr:5:5: error: `allwo` is not a statement of a socket rule",
            "did you mean `allow`?",
        ),
        (
            rule("connect(\"10.0.0.1:80\")\n    deny(message: \"m\")"),
            "t.armr:5:5: error: `deny` is not a statement of a socket rule",
            "did you mean `protect`?",
        ),
        (
            app("socket(\"r\"):\n    connect(\"10.0.0.1:80\")\n    protect()\n  endsoket"),
            "t.armr:6:3: error: `endsoket` is not a keyword",
            "did you mean `endsocket`?",
        ),
        (
            app("soket(\"r\"):\n    connect(\"10.0.0.1:80\")\n    protect()\n  endsocket"),
            "t.armr:3:3: error: `soket` is not a rule kind",
            "did you mean `socket`?",
        ),
        (
            action("protect(severity: Hihg)"),
            "t.armr:4:23: error: `Hihg` is not a severity",
            "did you mean `High`?",
        ),
        (
            action("protect(severity: \"hihg\")"),
            "t.armr:4:23: error: `hihg` is not a severity",
            "did you mean `High`?",
        ),
        (
            action("detect(mesage: \"m\")"),
            "t.armr:4:12: error: `mesage` is not a parameter of an action",
            "did you mean `message`?",
        ),
        (
            condition("bind(cleint: \"10.0.0.1:80\")"),
            "t.armr:4:10: error: `cleint` is not a parameter of `bind`",
            "did you mean `client`?",
        ),
        (
            "app(\"A\"):\n  requires(verison: ARMR/2.11)\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket\nendapp\n".into(),
            "t.armr:2:12: error: `verison` is not a parameter of `requires`",
            "did you mean `version`?",
        ),
        (
            "app(\"A\"):\n  requries(version: ARMR/2.11)\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket\nendapp\n".into(),
            "t.armr:2:3: error: `requries` is not a declaration of an app",
            "did you mean `requires`?",
        ),
        (
            "ap(\"A\"):\n  requires(version: ARMR/2.11)\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket\nendapp\n".into(),
            "t.armr:1:1: error: `ap` is not a keyword",
            "did you mean `app`?",
        ),
    ];
    assert_one_error_each(cases);
}

/// After a misspelt keyword the rest of the file is still checked: a mistake in a later rule is
/// reported too, and only once.
#[test]
fn a_misspelling_does_not_hide_the_rest_of_the_file() {
    let text = app(
        "socket(\"one\"):\n    conect(\"10.0.0.1:80\")\n    protect()\n  endsoket\n  socket(\"two\"):\n    connect(\"10.0.0.1:70000\")\n    protect(severity: Hihg)\n  endsocket",
    );
    assert_eq!(
        headlines(&text),
        [
            "t.armr:4:5: error: `conect` is not a statement of a socket rule",
            "t.armr:6:3: error: `endsoket` is not a keyword",
            "t.armr:8:23: error: port `70000` is above 65535",
            "t.armr:9:23: error: `Hihg` is not a severity",
        ]
    );
}

/// Pasted text: each look-alike is named with its code point, at its column, with the fix, as
/// one error (the rest of the rule still read). Before: "expected a value, found `“`", "invalid
/// port `80–90`", "unterminated string", or a cascade after a non-breaking space.
#[test]
fn pasted_lookalikes_are_named_with_the_fix() {
    let quote = "write a straight quote `\"`: text pasted from a document or a web page often brings curly quotes";
    let cases: Vec<(String, &str, &str)> = vec![
        (
            condition("connect(\u{201C}10.0.0.1:80\u{201D})"),
            "t.armr:4:13: error: `\u{201C}` (U+201C LEFT DOUBLE QUOTATION MARK) is not a straight double quote",
            quote,
        ),
        (
            condition("connect(\"10.0.0.1:80\u{201D})"),
            "t.armr:4:25: error: `\u{201D}` (U+201D RIGHT DOUBLE QUOTATION MARK) is not a straight double quote",
            quote,
        ),
        (
            condition("connect('10.0.0.1:80')"),
            "t.armr:4:13: error: `'` (U+0027 APOSTROPHE) is not a straight double quote",
            "write a straight double quote `\"`: ARMR strings are double-quoted",
        ),
        (
            rule("connect(\"10.0.0.1:80\")\n\u{a0}\u{a0}\u{a0}\u{a0}protect()"),
            "t.armr:5:1: error: U+00A0 NO-BREAK SPACE is not a plain space",
            "write a plain space: text pasted from a document or a web page often brings non-breaking spaces",
        ),
        (
            condition("connect(\"10.0.0.1:80\u{2014}90\")"),
            "t.armr:4:25: error: `\u{2014}` (U+2014 EM DASH) is not a hyphen-minus `-`",
            "write `-`",
        ),
        (
            condition("connect(\"10.0.0.1:\u{a0}80\")"),
            "t.armr:4:23: error: U+00A0 NO-BREAK SPACE is not a plain space",
            "write a plain space: text pasted from a document or a web page often brings non-breaking spaces",
        ),
        (
            condition("con\u{200B}nect(\"10.0.0.1:80\")"),
            "t.armr:4:8: error: U+200B ZERO WIDTH SPACE is not allowed here (it does not show)",
            "delete it: it does not show, and pasted text often brings it",
        ),
        (
            rule("\u{200B}connect(\"10.0.0.1:80\")\n    protect()"),
            "t.armr:4:5: error: U+200B ZERO WIDTH SPACE is not allowed here (it does not show)",
            "delete it: it does not show, and pasted text often brings it",
        ),
        (
            app("socket(\"r\")\u{FF1A}\n    connect(\"10.0.0.1:80\")\n    protect()\n  endsocket"),
            "t.armr:3:14: error: `\u{FF1A}` (U+FF1A FULLWIDTH COLON) is not a colon `:`",
            "write `:`",
        ),
        (
            condition("connect(\"10.0.0.1\u{FF1A}80\")"),
            "t.armr:4:22: error: `\u{FF1A}` (U+FF1A FULLWIDTH COLON) is not a colon `:`",
            "write `:`",
        ),
        (
            action("protect(message\u{FF1A} \"m\")"),
            "t.armr:4:20: error: `\u{FF1A}` (U+FF1A FULLWIDTH COLON) is not a colon `:`",
            "write `:`",
        ),
    ];
    assert_one_error_each(cases);
    // The caret stands under the look-alike, the run of pasted spaces underlined whole.
    let load = language::load(vec![SourceFile::new(
        "t.armr",
        rule("connect(\"10.0.0.1:80\")\n\u{a0}\u{a0}\u{a0}\u{a0}protect()"),
    )]);
    assert_eq!(
        load.files[0].render(),
        "t.armr:5:1: error: U+00A0 NO-BREAK SPACE is not a plain space\n\
         \x20 5 | \u{a0}\u{a0}\u{a0}\u{a0}protect()\n\
         \x20   | ^^^^\n\
         \x20 = hint: write a plain space: text pasted from a document or a web page often brings \
         non-breaking spaces\n"
    );
}

/// Files pieced together from keywords, near misses, look-alikes, wide characters and
/// punctuation: loading, checking and rendering never panic, and every rendering is free of
/// control characters but line breaks and tabs.
#[test]
fn pasted_and_misspelt_fragments_never_break_the_reader() {
    use proptest::prelude::*;
    const PIECES: &[&str] = &[
        "app(\"A\"):",
        "ap(\"A\"):",
        "requires(version: ARMR/2.11)",
        "requries(",
        "socket(\"r\"):",
        "soket(\"r\"):",
        "endsocket",
        "endsoket",
        "endapp",
        "endap",
        "connect(",
        "conect(",
        "\"10.0.0.1:80\"",
        "\"10.0.0.1:80\u{2013}90\"",
        "\u{201C}",
        "\u{201D}",
        "\u{a0}",
        "\u{200B}",
        "\u{FF1A}",
        "\u{FF08}",
        "日本",
        "e\u{301}",
        "protect(",
        "deny(",
        "severity:",
        "Hihg",
        ")",
        "(",
        ":",
        ",",
        "\"",
        "\n",
        "\t",
        " ",
        "\r\n",
        "#",
        "/*",
        "*/",
        "'",
        "allow()",
        "bind(server: \"0.0.0.0:0\")",
        "connect(\"any:0\")",
    ];
    let config = proptest::test_runner::Config {
        cases: 3000,
        failure_persistence: None,
        ..Default::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    runner
        .run(
            &prop::collection::vec(prop::sample::select(PIECES), 0..40),
            |pieces| {
                let load = load_checked(pieces.concat());
                for file in &load.files {
                    let rendered = file.render();
                    prop_assert!(
                        !rendered
                            .chars()
                            .any(|c| c.is_control() && c != '\n' && c != '\t'),
                        "{rendered:?}"
                    );
                }
                Ok(())
            },
        )
        .unwrap();
}

/// What the open Rampart specification and its reference parser write is read as they read it
/// (tests/reference_suite.rs has the reference's whole suite): the version prefix in any case,
/// `Med`, an unknown rule kind skipped, several `log:` dictionaries merged.
#[test]
fn the_specifications_forms_are_accepted() {
    let text = "app(\"A\"):\n  requires(version: RAMPART/2.8)\n  metadata(log: {team: \"a\"}, log: {creation-time: \"2022 Dec 03 09:04:55\"}, cve: [\"CVE-2021-44228\"])\n  foo(\"a foo rule\"): endfoo\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect(severity: Med) endsocket\nendapp\napp(\"B\"):\n  requires(version: rampart/2.8)\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect(severity: med) endsocket\nendapp\n";
    let load = language::load(vec![SourceFile::new("t.armr", text)]);
    assert!(load.is_ok(), "{}", load.files[0].render());
    assert_eq!(
        load.files[0].render(),
        "t.armr:4:3: warning: unknown rule kind `foo`: rule `a foo rule` skipped\n\
         \x20 4 |   foo(\"a foo rule\"): endfoo\n\
         \x20   |   ^^^\n\
         \x20 = hint: armr knows the rule kinds socket, dns, filesystem, http, library, marshal, \
         patch, process, sanitization, sql and api; check the spelling if this rule is one of them\n"
    );
    assert_eq!(
        load.files[0].summary(),
        "t.armr: 2 apps, 2 socket rules, 1 rule skipped"
    );
    let (app, rule) = load.rules.socket_rules().next().unwrap();
    assert_eq!(app.language.to_string(), "Rampart/2.8");
    assert_eq!(rule.severity, language::Severity::Medium);
    assert_eq!(
        rule.log_metadata,
        armr::language::LogMetadata::from(vec![
            ("team".to_string(), "a".to_string()),
            (
                "creation-time".to_string(),
                "2022 Dec 03 09:04:55".to_string()
            )
        ])
    );
}

/// Each mistake the reference parser rejects and armr now rejects too, rendered whole.
#[test]
fn what_the_reference_rejects_is_rendered_whole() {
    let render = |text: &str| {
        let load = language::load(vec![SourceFile::new("t.armr", text)]);
        load.files[0].render()
    };
    let rule = |header: &str| {
        app(&format!(
            "socket({header}): connect(\"10.0.0.1:80\") protect() endsocket"
        ))
    };
    let metadata = |entries: &str| {
        app(&format!(
            "metadata({entries})\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket"
        ))
    };
    let os_hint = "  = hint: write `os: [...]` with one or more of linux, windows, aix, solaris or \
                   any, lower-case and unquoted\n";
    let cases: Vec<(String, String)> = vec![
        (
            "app(\"\"):\n  requires(version: ARMR/2.11)\n  socket(\"r\"): connect(\"10.0.0.1:80\") protect() endsocket\nendapp\n".into(),
            "t.armr:1:5: error: app has no name\n\
             \x20 1 | app(\"\"):\n\
             \x20   |     ^^\n\
             \x20 = hint: name it: `app(\"My service\"):`\n"
                .into(),
        ),
        (
            rule("\"\""),
            "t.armr:3:10: error: `socket` rule has no name\n\
             \x20 3 |   socket(\"\"): connect(\"10.0.0.1:80\") protect() endsocket\n\
             \x20   |          ^^\n\
             \x20 = hint: name it: `socket(\"what the rule does\"):`\n"
                .into(),
        ),
        (
            rule("\"r\", os: []"),
            format!(
                "t.armr:3:19: error: `os` names no operating system\n\
                 \x20 3 |   socket(\"r\", os: []): connect(\"10.0.0.1:80\") protect() endsocket\n\
                 \x20   |                   ^^\n{os_hint}"
            ),
        ),
        (
            rule("\"r\", os: \"linux\""),
            format!(
                "t.armr:3:19: error: operating system `\"linux\"` is written without quotes\n\
                 \x20 3 |   socket(\"r\", os: \"linux\"): connect(\"10.0.0.1:80\") protect() endsocket\n\
                 \x20   |                   ^^^^^^^\n{os_hint}"
            ),
        ),
        (
            rule("\"r\", os: [LINUX]"),
            "t.armr:3:20: error: `LINUX` is not a keyword: keywords are lowercase (`linux`)\n\
             \x20 3 |   socket(\"r\", os: [LINUX]): connect(\"10.0.0.1:80\") protect() endsocket\n\
             \x20   |                    ^^^^^\n\
             \x20 = hint: write `linux`\n"
                .into(),
        ),
        (
            metadata("log: {}"),
            "t.armr:3:11: error: `metadata(...)` holds no entry\n\
             \x20 3 |   metadata(log: {})\n\
             \x20   |           ^^^^^^^^^\n\
             \x20 = hint: write `metadata(KEY: VALUE, ...)`, or leave it out\n"
                .into(),
        ),
        (
            metadata("team: \"a\", log: {team: \"b\"}"),
            "t.armr:3:29: error: metadata key `team` is given twice\n\
             \x20 3 |   metadata(team: \"a\", log: {team: \"b\"})\n\
             \x20   |                             ^^^^\n\
             \x20 = hint: remove one of them\n"
                .into(),
        ),
        (
            metadata("cvss: {score: 9, version: 3.1, vector: \"CVSS:3.1/AV:N\"}"),
            "t.armr:3:18: error: metadata `cvss` must be `{score: N.N, version: N.N, vector: \"...\"}` with those three keys only\n\
             \x20 3 |   metadata(cvss: {score: 9, version: 3.1, vector: \"CVSS:3.1/AV:N\"})\n\
             \x20   |                  ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n\
             \x20 = hint: the open Rampart specification defines this key: rename the key to keep a value of another shape\n"
                .into(),
        ),
        (
            metadata("log: {creation-time: \"\"}"),
            "t.armr:3:33: error: metadata `creation-time` must be a non-empty string\n\
             \x20 3 |   metadata(log: {creation-time: \"\"})\n\
             \x20   |                                 ^^\n\
             \x20 = hint: the open Rampart specification defines this key: rename the key to keep a value of another shape\n"
                .into(),
        ),
        (
            metadata("version: \"3\", affected-product-version: {range: {from: \"1\"}}"),
            "t.armr:3:21: error: metadata `version` must be a whole number\n\
             \x20 3 |   metadata(version: \"3\", affected-product-version: {range: {from: \"1\"}})\n\
             \x20   |                     ^^^\n\
             \x20 = hint: the open Rampart specification defines this key: rename the key to keep a value of another shape\n\
             t.armr:3:52: error: metadata `affected-product-version` must be a string or `{range: {from: \"V\", to: \"V\"}, ...}`\n\
             \x20 3 |   metadata(version: \"3\", affected-product-version: {range: {from: \"1\"}})\n\
             \x20   |                                                    ^^^^^^^^^^^^^^^^^^^^\n\
             \x20 = hint: the open Rampart specification defines this key: rename the key to keep a value of another shape\n"
                .into(),
        ),
        (
            app("sokcet(\"r\"): connect(\"10.0.0.1:80\") protect() endsokcet"),
            "t.armr:3:3: error: `sokcet` is not a rule kind\n\
             \x20 3 |   sokcet(\"r\"): connect(\"10.0.0.1:80\") protect() endsokcet\n\
             \x20   |   ^^^^^^\n\
             \x20 = hint: did you mean `socket`?\n"
                .into(),
        ),
    ];
    let mut failures = Vec::new();
    for (text, expected) in cases {
        let got = render(&text);
        if got != expected {
            failures.push(format!("{text}\nwant:\n{expected}\ngot:\n{got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Each case's text has exactly one diagnostic, with this headline and this hint.
fn assert_one_error_each(cases: Vec<(String, &str, &str)>) {
    let mut failures = Vec::new();
    for (text, headline, hint) in cases {
        let load = language::load(vec![SourceFile::new("t.armr", text.as_str())]);
        let file = &load.files[0];
        let got: Vec<String> = file
            .diagnostics
            .iter()
            .map(|d| d.headline(&file.source))
            .collect();
        let rendered = file.render();
        if got != [headline] || !rendered.contains(&format!("= hint: {hint}\n")) {
            failures.push(format!(
                "want {headline} / {hint}\ngot  {got:?}\n{rendered}\n{text}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
