//! Every rules file shipped under `rules/` loads without a diagnostic and yields exactly the model
//! written here. `every_rules_file_is_checked` fails when a file exists that no test checks, so a
//! new example cannot go untested.
//!
//! Paths are relative to the package root, which is where `cargo test` runs integration tests;
//! a rule's `Location.file` is the path exactly as it was passed to `load_paths`.

use armr::language::{
    Action, AddressPattern, App, Condition, HostPattern, IpFamily, LanguageVersion, Location,
    PortPattern, SocketRule, load_paths,
};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use Action::{Allow, Detect, Protect};
use PortPattern::{Any, Exact, Range};
use armr::language::Severity::{High, Low, Medium, VeryHigh};

// ---------------------------------------------------------------------------------------------
// The files, each with its summary line and the function that builds its expected model. The macro
// makes one #[test] per file and the list that `every_rules_file_is_checked` compares with the disk.

macro_rules! examples {
    ($($name:ident: $path:literal, $summary:literal;)*) => {
        const CHECKED: &[&str] = &[$($path),*];
        mod each_file {
            $(
                #[test]
                fn $name() {
                    super::check($path, $summary, super::$name);
                }
            )*
        }
    };
}

examples! {
    block_client_binds: "rules/reference/block-client-binds.armr", "1 app, 1 socket rule, 0 rules skipped";
    block_server_binds: "rules/reference/block-server-binds.armr", "1 app, 1 socket rule, 0 rules skipped";
    block_connects: "rules/reference/block-connects.armr", "1 app, 1 socket rule, 0 rules skipped";
    block_accepts: "rules/reference/block-accepts.armr", "1 app, 1 socket rule, 0 rules skipped";
    block_accept_one_address_and_port: "rules/reference/block-accept-one-address-and-port.armr", "1 app, 1 socket rule, 0 rules skipped";
    block_accept_port_range: "rules/reference/block-accept-port-range.armr", "1 app, 1 socket rule, 0 rules skipped";
    block_client_binds_allow_one: "rules/reference/block-client-binds-allow-one.armr", "1 app, 2 socket rules, 0 rules skipped";
    block_server_binds_stacktrace: "rules/reference/block-server-binds-stacktrace.armr", "1 app, 1 socket rule, 0 rules skipped";
    block_connects_stacktrace: "rules/reference/block-connects-stacktrace.armr", "1 app, 1 socket rule, 0 rules skipped";
    block_connect_localhost: "rules/reference/block-connect-localhost.armr", "1 app, 1 socket rule, 0 rules skipped";
    block_accept_localhost: "rules/reference/block-accept-localhost.armr", "1 app, 1 socket rule, 0 rules skipped";
    web: "rules/web.armr", "1 app, 5 socket rules, 0 rules skipped";
    client_one_host: "rules/client-one-host.armr", "1 app, 3 socket rules, 0 rules skipped";
    monitor_everything: "rules/monitor-everything.armr", "1 app, 4 socket rules, 0 rules skipped";
    demo: "rules/demo.armr", "1 app, 2 socket rules, 0 rules skipped";
}

/// Loads `path` on its own and compares everything the loader reports with what is expected.
fn check(path: &str, summary: &str, expected: fn(&In) -> Vec<App>) {
    let load = load_paths(&[path]);
    assert_eq!(load.files.len(), 1, "{path}: one file report");
    let file = &load.files[0];
    assert!(load.is_ok(), "{path} does not load:\n{}", file.render());
    assert!(
        file.diagnostics.is_empty(),
        "{path}: an example should load without warnings or notes:\n{}",
        file.render()
    );
    assert_eq!(file.summary(), format!("{path}: {summary}"));
    let expected = expected(&In { file: path.into() });
    // App by app, then rule by rule, so that a failure names the first value that differs.
    for (got, want) in load.rules.apps.iter().zip(&expected) {
        for (got_rule, want_rule) in got.rules.iter().zip(&want.rules) {
            assert_eq!(got_rule, want_rule, "{path}: rule {:?}", want_rule.name);
        }
        assert_eq!(got, want, "{path}: app {:?}", want.name);
    }
    assert_eq!(load.rules.apps, expected, "{path}: apps");
}

#[test]
fn every_rules_file_is_checked() {
    fn walk(dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else {
                found.push(path.to_str().expect("UTF-8 path").replace('\\', "/"));
            }
        }
    }
    let mut on_disk = Vec::new();
    walk(Path::new("rules"), &mut on_disk);
    on_disk.sort();
    let unchecked: Vec<&String> = on_disk
        .iter()
        .filter(|p| !CHECKED.contains(&p.as_str()))
        .collect();
    let missing: Vec<&&str> = CHECKED
        .iter()
        .filter(|p| !on_disk.iter().any(|d| d == **p))
        .collect();
    assert!(
        unchecked.is_empty(),
        "files under rules/ that no test checks (add them to `examples!`): {unchecked:?}"
    );
    assert!(
        missing.is_empty(),
        "`examples!` entries with no file: {missing:?}"
    );
}

/// The three starting policies use distinct app names, so they load together as one policy.
#[test]
fn starting_policies_load_together() {
    let paths = [
        "rules/web.armr",
        "rules/client-one-host.armr",
        "rules/monitor-everything.armr",
    ];
    let load = load_paths(&paths);
    let rendered: String = load.files.iter().map(|f| f.render()).collect();
    assert!(load.is_ok(), "{rendered}");
    assert!(rendered.is_empty(), "{rendered}");
    let names: Vec<&str> = load.rules.apps.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["Web Server", "Single Host Client", "Monitor Everything"]
    );
    assert_eq!(load.rules.socket_rules().count(), 5 + 3 + 4);
}

// ---------------------------------------------------------------------------------------------
// Helpers to write expected values. Each builds a complete value; the expectations below override
// what differs with struct-update syntax, so every field that matters is visible where it is set.

/// The file the expected values are in.
struct In {
    file: Arc<str>,
}

impl In {
    fn at(&self, line: u32, column: u32) -> Location {
        Location {
            file: self.file.clone(),
            line,
            column,
        }
    }
}

const ARMR_2_8: LanguageVersion = LanguageVersion::armr(2, 8);
const ARMR_2_11: LanguageVersion = LanguageVersion::armr(2, 11);

/// An app with `version` 1 (no `version(N)`), no metadata and no rules.
fn app(name: &str, language: LanguageVersion, location: Location) -> App {
    App {
        name: name.into(),
        language,
        version: 1,
        log_metadata: Default::default(),
        rules: vec![],
        location,
    }
}

/// A rule with no message, severity Unknown, no stacktrace and no metadata.
fn rule(name: &str, condition: Condition, action: Action, location: Location) -> SocketRule {
    SocketRule {
        name: name.into(),
        condition,
        action,
        message: None,
        severity: Default::default(),
        stacktrace: false,
        log_metadata: Default::default(),
        location,
    }
}

fn msg(text: &str) -> Option<Box<str>> {
    Some(text.into())
}

fn any4(port: PortPattern) -> AddressPattern {
    AddressPattern {
        host: HostPattern::Any(IpFamily::V4),
        port,
    }
}

fn ip(addr: &str, port: PortPattern) -> AddressPattern {
    AddressPattern {
        host: HostPattern::Ip(addr.parse::<IpAddr>().unwrap()),
        port,
    }
}

fn host(name: &str, port: PortPattern) -> AddressPattern {
    AddressPattern {
        host: HostPattern::Name(name.into()),
        port,
    }
}

fn connect(a: AddressPattern) -> Condition {
    Condition::Connect(a)
}

fn accept(a: AddressPattern) -> Condition {
    Condition::Accept(a)
}

fn bind_client(a: AddressPattern) -> Condition {
    Condition::Bind {
        client: Some(a),
        server: None,
    }
}

fn bind_server(a: AddressPattern) -> Condition {
    Condition::Bind {
        client: None,
        server: Some(a),
    }
}

fn pairs(entries: &[(&str, &str)]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// rules/reference/: the examples of the vendor's socket-rule page. Every file has a comment on
// line 1 and the app on line 2; rules are indented by four spaces. `severity: 8` is High.

fn block_client_binds(x: &In) -> Vec<App> {
    vec![App {
        rules: vec![SocketRule {
            message: msg("port binding blocked"),
            severity: High,
            ..rule(
                "Blocking client binds on all interfaces and all ports",
                bind_client(any4(Any)),
                Protect,
                x.at(4, 5),
            )
        }],
        ..app("Socket Client Bind Mod", ARMR_2_8, x.at(2, 1))
    }]
}

fn block_server_binds(x: &In) -> Vec<App> {
    vec![App {
        rules: vec![SocketRule {
            message: msg("port binding blocked"),
            severity: High,
            ..rule(
                "Blocking server binds on all interfaces and all ports",
                bind_server(any4(Any)),
                Protect,
                x.at(4, 5),
            )
        }],
        ..app("Socket Server Bind Mod", ARMR_2_8, x.at(2, 1))
    }]
}

fn block_connects(x: &In) -> Vec<App> {
    vec![App {
        rules: vec![SocketRule {
            message: msg("connections blocked"),
            severity: High,
            ..rule(
                "Blocking client connections on all ports",
                connect(any4(Any)),
                Protect,
                x.at(4, 5),
            )
        }],
        ..app("Socket Connect Mod", ARMR_2_8, x.at(2, 1))
    }]
}

fn block_accepts(x: &In) -> Vec<App> {
    vec![App {
        rules: vec![SocketRule {
            message: msg("connections blocked"),
            severity: High,
            ..rule(
                "Blocking server accepting connections on all interfaces and all ports",
                accept(any4(Any)),
                Protect,
                x.at(4, 5),
            )
        }],
        ..app("Socket Accept Mod", ARMR_2_8, x.at(2, 1))
    }]
}

fn block_accept_one_address_and_port(x: &In) -> Vec<App> {
    vec![App {
        rules: vec![SocketRule {
            message: msg("connections blocked"),
            severity: High,
            ..rule(
                "Blocking server accepting connections on IP 127.0.0.1 and specific port 5001",
                accept(ip("127.0.0.1", Exact(5001))),
                Protect,
                x.at(4, 5),
            )
        }],
        ..app("Socket Accept Mod", ARMR_2_8, x.at(2, 1))
    }]
}

fn block_accept_port_range(x: &In) -> Vec<App> {
    vec![App {
        rules: vec![SocketRule {
            message: msg("connections blocked"),
            severity: High,
            ..rule(
                "Blocking server accepting connections on IP 127.0.0.1 and port range 5000-5010",
                accept(ip("127.0.0.1", Range(5000, 5010))),
                Protect,
                x.at(4, 5),
            )
        }],
        ..app("Socket Accept Mod", ARMR_2_8, x.at(2, 1))
    }]
}

fn block_client_binds_allow_one(x: &In) -> Vec<App> {
    vec![App {
        rules: vec![
            SocketRule {
                message: msg("Socket rule protect 0.0.0.0:0"),
                severity: High,
                ..rule(
                    "Socket bind protect all",
                    bind_client(any4(Any)),
                    Protect,
                    x.at(4, 5),
                )
            },
            SocketRule {
                message: msg("Socket rule allow 127.0.0.1:5000"),
                severity: Medium,
                ..rule(
                    "Socket bind allow specific",
                    bind_client(ip("127.0.0.1", Exact(5000))),
                    Allow,
                    x.at(8, 5),
                )
            },
        ],
        ..app(
            "Socket Client Bind Mod Multiple Rules",
            ARMR_2_8,
            x.at(2, 1),
        )
    }]
}

fn block_server_binds_stacktrace(x: &In) -> Vec<App> {
    vec![App {
        rules: vec![SocketRule {
            message: msg("port binding blocked"),
            severity: High,
            stacktrace: true,
            ..rule(
                "Blocking server binds on all interfaces and all ports",
                bind_server(any4(Any)),
                Protect,
                x.at(4, 5),
            )
        }],
        ..app("Socket Server Bind Mod", ARMR_2_8, x.at(2, 1))
    }]
}

fn block_connects_stacktrace(x: &In) -> Vec<App> {
    vec![App {
        rules: vec![SocketRule {
            message: msg("connections blocked"),
            severity: High,
            stacktrace: true,
            ..rule(
                "Blocking client connections on all ports",
                connect(any4(Any)),
                Protect,
                x.at(4, 5),
            )
        }],
        ..app("Socket Connect Mod", ARMR_2_8, x.at(2, 1))
    }]
}

fn block_connect_localhost(x: &In) -> Vec<App> {
    vec![App {
        rules: vec![SocketRule {
            message: msg("coonections blocked"), // sic: the page's typo, kept verbatim
            severity: High,
            ..rule(
                "connect to localhost",
                connect(host("localhost", Any)),
                Protect,
                x.at(4, 5),
            )
        }],
        ..app("Socket Connect Mod", ARMR_2_8, x.at(2, 1))
    }]
}

fn block_accept_localhost(x: &In) -> Vec<App> {
    vec![App {
        rules: vec![SocketRule {
            message: msg("connections blocked"),
            severity: High,
            ..rule(
                "blocking server accepting connections",
                accept(host("localhost", Any)),
                Protect,
                x.at(4, 5),
            )
        }],
        ..app("Socket Accept Mod", ARMR_2_8, x.at(2, 1))
    }]
}

// ---------------------------------------------------------------------------------------------
// rules/: the starting policies.

fn web(x: &In) -> Vec<App> {
    let blocked_listen = "web server tried to listen on an unexpected port";
    let blocked_connect = "outgoing connection blocked: only the database is allowed";
    vec![App {
        rules: vec![
            rule(
                "listen on 8080",
                bind_server(any4(Exact(8080))),
                Allow,
                x.at(19, 5),
            ),
            SocketRule {
                message: msg(blocked_listen),
                severity: High,
                ..rule(
                    "no other listeners",
                    bind_server(any4(Any)),
                    Protect,
                    x.at(26, 5),
                )
            },
            rule(
                "clients from anywhere",
                accept(any4(Any)),
                Allow,
                x.at(33, 5),
            ),
            rule(
                "database",
                connect(ip("127.0.0.1", Exact(5432))),
                Allow,
                x.at(40, 5),
            ),
            SocketRule {
                message: msg(blocked_connect),
                severity: VeryHigh, // written as 9
                ..rule(
                    "no other outgoing connections",
                    connect(any4(Any)),
                    Protect,
                    x.at(47, 5),
                )
            },
        ],
        ..app("Web Server", ARMR_2_11, x.at(13, 1))
    }]
}

fn client_one_host(x: &In) -> Vec<App> {
    let blocked_connect = "connection blocked: this client may only reach 127.0.0.1:8443";
    let blocked_listen = "listening blocked: this program is a client only";
    vec![App {
        rules: vec![
            rule(
                "the service",
                connect(ip("127.0.0.1", Exact(8443))),
                Allow,
                x.at(14, 5),
            ),
            SocketRule {
                message: msg(blocked_connect),
                severity: High,
                ..rule("nowhere else", connect(any4(Any)), Protect, x.at(20, 5))
            },
            SocketRule {
                message: msg(blocked_listen),
                severity: VeryHigh,
                ..rule("no listening", bind_server(any4(Any)), Protect, x.at(26, 5))
            },
        ],
        ..app("Single Host Client", ARMR_2_11, x.at(9, 1))
    }]
}

fn monitor_everything(x: &In) -> Vec<App> {
    // Every rule carries the app's metadata (no rule has metadata of its own).
    let log = pairs(&[("team", "platform-security"), ("environment", "staging")]);
    let watch = |name: &str, condition, message: &str, severity, line| SocketRule {
        message: msg(message),
        severity,
        log_metadata: log.clone().into(),
        ..rule(name, condition, Detect, x.at(line, 5))
    };
    vec![App {
        log_metadata: log.clone().into(),
        rules: vec![
            watch(
                "watch connects",
                connect(any4(Any)),
                "outgoing connection",
                Low,
                17,
            ),
            watch(
                "watch accepts",
                accept(any4(Any)),
                "incoming connection",
                Low,
                23,
            ),
            watch(
                "watch server binds",
                bind_server(any4(Any)),
                "listening socket bound",
                Medium,
                30,
            ),
            watch(
                "watch client binds",
                bind_client(any4(Any)),
                "client socket bound to a local address",
                Low,
                37,
            ),
        ],
        ..app("Monitor Everything", ARMR_2_11, x.at(9, 1))
    }]
}

fn demo(x: &In) -> Vec<App> {
    vec![App {
        rules: vec![
            SocketRule {
                message: msg("connection to the demo service allowed"),
                severity: Low,
                ..rule(
                    "demo service",
                    connect(ip("127.0.0.1", Exact(47100))),
                    Allow,
                    x.at(6, 5),
                )
            },
            SocketRule {
                message: msg("outgoing connection blocked"),
                severity: High,
                ..rule(
                    "no other connections",
                    connect(any4(Any)),
                    Protect,
                    x.at(12, 5),
                )
            },
        ],
        ..app("armr demo", ARMR_2_11, x.at(2, 1))
    }]
}
