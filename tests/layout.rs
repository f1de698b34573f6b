//! The file shapes users actually write: free-form layout, every kind of comment, escapes, CRLF
//! line endings, a byte order mark, both language names, files that mix rule kinds, and very large
//! or hostile files.

use armr::language::{
    self, Action, AddressPattern, Condition, Dialect, HostPattern, IpFamily, Level, PortPattern,
    RuleSet, Severity, SourceFile,
};

fn load_ok(text: &str) -> RuleSet {
    let load = language::load(vec![SourceFile::new("t.armr", text)]);
    assert!(load.is_ok(), "{}", load.files[0].render());
    load.rules
}

const ONE_RULE: &str = "app(\"A\"):\n  requires(version: ARMR/2.11)\n  socket(\"r\"):\n    connect(\"10.0.0.1:443\")\n    protect(message: \"m\", severity: 8)\n  endsocket\nendapp\n";

fn any_port_any_host() -> AddressPattern {
    AddressPattern {
        host: HostPattern::Any(IpFamily::V4),
        port: PortPattern::Any,
    }
}

#[test]
fn a_whole_app_on_one_line_is_the_same_app() {
    let spread = load_ok(ONE_RULE);
    let one_line = load_ok(
        "app(\"A\"): requires(version: ARMR/2.11) socket(\"r\"): connect(\"10.0.0.1:443\") protect(message: \"m\", severity: 8) endsocket endapp",
    );
    assert_eq!(
        one_line.apps[0].rules[0].condition,
        spread.apps[0].rules[0].condition
    );
    assert_eq!(
        one_line.apps[0].rules[0].message,
        spread.apps[0].rules[0].message
    );
    assert_eq!(one_line.apps[0].rules[0].location.line, 1);
    assert_eq!(one_line.apps[0].rules[0].location.column, 40);
}

#[test]
fn statements_in_any_order_and_arguments_in_any_order() {
    let rules = load_ok(
        "app(\"A\"): requires(version: ARMR/2.11) socket(\"r\"): protect(severity: Very-High, message: \"m\") bind(server: \"0.0.0.0:0\", client: \"127.0.0.1:80\") endsocket endapp",
    );
    let rule = &rules.apps[0].rules[0];
    assert_eq!(rule.severity, Severity::VeryHigh);
    assert_eq!(
        rule.condition,
        Condition::Bind {
            client: Some(AddressPattern {
                host: HostPattern::Ip("127.0.0.1".parse().unwrap()),
                port: PortPattern::Exact(80)
            }),
            server: Some(any_port_any_host()),
        }
    );
}

#[test]
fn comments_of_all_three_kinds_anywhere() {
    let text = "# file comment\napp(\"A\"): # after the header\n  // a line comment\n  requires(version: /* inline */ ARMR/2.11)\n  /* a block\n     over lines */ socket(\"r\"):\n    connect(\"10.0.0.1:443\")//no space before it\n    protect(message: \"# not a comment\", severity: 8) # trailing\n  endsocket\nendapp# last line, no newline";
    let rules = load_ok(text);
    assert_eq!(
        rules.apps[0].rules[0].message.as_deref(),
        Some("# not a comment")
    );
    assert!(load_ok("app(\"A\"): requires(version: ARMR/2.11) socket(\"r\"): connect(\"10.0.0.1:443\") protect() endsocket endapp // last").apps.len() == 1);
}

#[test]
fn escapes_in_strings() {
    let rules = load_ok(
        r#"app("say \"hi\""): requires(version: ARMR/2.11) socket("back\\slash"): connect("10.0.0.1:1") detect(message: "a \"quoted\" \\ path") endsocket endapp"#,
    );
    assert_eq!(rules.apps[0].name, "say \"hi\"");
    assert_eq!(rules.apps[0].rules[0].name.as_ref(), "back\\slash");
    assert_eq!(
        rules.apps[0].rules[0].message.as_deref(),
        Some("a \"quoted\" \\ path")
    );
}

#[test]
fn crlf_line_endings_load_and_report_the_right_columns() {
    let crlf = ONE_RULE.replace('\n', "\r\n");
    let rules = load_ok(&crlf);
    assert_eq!(rules.apps[0].rules[0].location.line, 3);
    let broken = crlf.replace("10.0.0.1:443", "10.0.0.1:99999");
    let load = language::load(vec![SourceFile::new("t.armr", broken)]);
    let file = &load.files[0];
    assert_eq!(
        file.diagnostics[0].headline(&file.source),
        "t.armr:4:23: error: port `99999` is above 65535"
    );
    assert!(
        file.render()
            .contains("  4 |     connect(\"10.0.0.1:99999\")\n"),
        "{}",
        file.render()
    );
}

#[test]
fn a_byte_order_mark_is_ignored() {
    let with_bom = format!("\u{feff}{ONE_RULE}");
    let rules = load_ok(&with_bom);
    assert_eq!(rules.apps[0].location.column, 1);
    let from_bytes = SourceFile::from_bytes("t.armr".into(), with_bom.into_bytes()).unwrap();
    assert!(language::load(vec![from_bytes]).is_ok());
}

#[test]
fn both_language_names_and_a_quoted_version() {
    for (requires, dialect, minor) in [
        ("ARMR/2.8", Dialect::Armr, 8),
        ("Rampart/2.10", Dialect::Rampart, 10),
        ("\"ARMR/2.11\"", Dialect::Armr, 11),
        ("\"Rampart/2.2\"", Dialect::Rampart, 2),
    ] {
        let text = ONE_RULE.replace("ARMR/2.11", requires);
        let rules = load_ok(&text);
        assert_eq!(
            (rules.apps[0].language.dialect, rules.apps[0].language.minor),
            (dialect, minor)
        );
    }
}

#[test]
fn severity_numbers_map_to_names_and_names_ignore_case() {
    for (written, expected) in [
        ("0", Severity::Low),
        ("3", Severity::Low),
        ("4", Severity::Medium),
        ("6", Severity::Medium),
        ("7", Severity::High),
        ("8", Severity::High),
        ("9", Severity::VeryHigh),
        ("10", Severity::VeryHigh),
        ("low", Severity::Low),
        ("\"Medium\"", Severity::Medium),
        ("very-high", Severity::VeryHigh),
        ("UNKNOWN", Severity::Unknown),
    ] {
        let rules = load_ok(&ONE_RULE.replace("severity: 8", &format!("severity: {written}")));
        assert_eq!(rules.apps[0].rules[0].severity, expected, "{written}");
    }
    let rules = load_ok(&ONE_RULE.replace(", severity: 8", ""));
    assert_eq!(rules.apps[0].rules[0].severity, Severity::Unknown);
}

/// A real rules file written for a fuller agent: other rule kinds, a patch with Java code, rules
/// for other systems. armr loads its socket rules and says what it skipped.
#[test]
fn a_file_that_mixes_rule_kinds_loads_its_socket_rules() {
    let text = r#"
app("Mixed"):
    requires(version: ARMR/2.9)
    version(3)
    metadata(log: {owner: "payments", tier: 1})

    http("xss"):
        request()
        xss(html, options: {policy: loose})
        protect(message: "xss blocked", severity: 7)
    endhttp

    sql("injection"):
        vendor(mysql)
        injection(successful-attempt)
        protect(message: "", severity: Very-High)
    endsql

    patch("hotfix"):
        function("com/acme/Foo.bar()V")
        location(entry)
        code(language: java):
            public void patch(JavaFrame frame) { if (x) { return; } } // endpatch is not here
        endcode
    endpatch

    socket("windows only", os: [windows]):
        connect("0.0.0.0:0")
        protect(message: "windows")
    endsocket

    socket("no egress", os: [linux, windows]):
        connect("0.0.0.0:0")
        protect(message: "blocked", severity: 9)
        metadata(log: {tier: 0, rule: "egress"})
    endsocket
endapp
"#;
    let load = language::load(vec![SourceFile::new("mixed.armr", text)]);
    let file = &load.files[0];
    assert!(load.is_ok(), "{}", file.render());
    let levels: Vec<(Level, u32)> = file
        .diagnostics
        .iter()
        .map(|d| (d.level, file.source.line_column(d.span.unwrap().start).0))
        .collect();
    assert_eq!(
        levels,
        [
            (Level::Warning, 7),
            (Level::Warning, 13),
            (Level::Warning, 19),
            (Level::Note, 27)
        ]
    );
    assert_eq!(
        file.summary(),
        "mixed.armr: 1 app, 1 socket rule, 4 rules skipped"
    );
    let app = &load.rules.apps[0];
    assert_eq!(app.version, 3);
    let rule = &app.rules[0];
    assert_eq!(rule.name.as_ref(), "no egress");
    assert_eq!(rule.action, Action::Protect);
    assert_eq!(rule.condition, Condition::Connect(any_port_any_host()));
    assert_eq!(
        rule.log_metadata,
        armr::language::LogMetadata::from(vec![
            ("owner".to_string(), "payments".to_string()),
            ("tier".into(), "0".into()),
            ("rule".into(), "egress".into())
        ])
    );
}

#[test]
fn a_higher_app_version_in_another_file_replaces_the_lower() {
    let v1 = SourceFile::new(
        "a.armr",
        ONE_RULE.replace(
            "requires(version: ARMR/2.11)",
            "requires(version: ARMR/2.11) version(1)",
        ),
    );
    let v2 = SourceFile::new(
        "b.armr",
        ONE_RULE
            .replace(
                "requires(version: ARMR/2.11)",
                "requires(version: ARMR/2.11) version(2)",
            )
            .replace("10.0.0.1", "10.0.0.2"),
    );
    let load = language::load(vec![v1, v2]);
    assert!(load.is_ok());
    assert_eq!(load.rules.apps.len(), 1);
    assert_eq!(load.rules.apps[0].version, 2);
    assert_eq!(&*load.rules.apps[0].location.file, "b.armr");
    assert_eq!(
        load.files[0].summary(),
        "a.armr: 1 app, 0 socket rules, 0 rules skipped"
    );
    assert_eq!(
        load.files[1].summary(),
        "b.armr: 1 app, 1 socket rule, 0 rules skipped"
    );
    assert_eq!(load.files[0].diagnostics[0].level, Level::Warning);
}

/// Ten megabytes of rules load, with every rule in the model; ten megabytes of one broken
/// construct give a bounded number of errors and no crash.
#[test]
fn ten_megabyte_files() {
    let mut text = String::with_capacity(10 << 20);
    let mut n = 0;
    while text.len() < 10 << 20 {
        text.push_str(&format!(
            "app(\"app {n}\"):\n  requires(version: ARMR/2.11)\n"
        ));
        for r in 0..100 {
            text.push_str(&format!(
                "  socket(\"rule {r}\"):\n    connect(\"10.{}.{}.1:{}\")\n    protect(message: \"blocked\", severity: 8)\n  endsocket\n",
                n % 256,
                r,
                r + 1
            ));
        }
        text.push_str("endapp\n");
        n += 1;
    }
    let rules = load_ok(&text);
    assert_eq!(rules.socket_rules().count(), n * 100);

    for hostile in [
        "[".repeat(10 << 20),
        "\"".repeat(10 << 20),
        "app(".repeat(2 << 20),
        "/*".repeat(5 << 20),
    ] {
        let load = language::load(vec![SourceFile::new("h.armr", hostile)]);
        assert!(!load.is_ok());
        assert!(
            load.files[0].diagnostics.len() < 1000,
            "{}",
            load.files[0].diagnostics.len()
        );
    }
}

/// Inputs the fuzzer found (fuzz/regressions/): each gives its diagnostics, rendered, without a
/// panic, and a comment ended by a lone `\r` does not swallow the rest of the file.
#[test]
fn fuzzer_findings_stay_fixed() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/regressions");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("fuzz/regressions") {
        let path = entry.unwrap().path();
        let load = language::load_paths(&[&path]);
        for file in &load.files {
            let _ = file.render();
            for d in &file.diagnostics {
                if let Some(span) = d.span {
                    assert!(
                        span.start <= span.end && span.end <= file.source.text.len(),
                        "{path:?}"
                    );
                }
            }
        }
        seen += 1;
    }
    assert!(seen >= 3);
    let rules = load_ok(
        "# note\rapp(\"A\"): requires(version: ARMR/2.11) socket(\"r\"): connect(\"10.0.0.1:1\") protect() endsocket endapp",
    );
    assert_eq!(rules.socket_rules().count(), 1);
}
