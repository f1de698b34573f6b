//! The words of the ARMR language, each list written once: the rule kinds, the statements of an
//! app and of a socket rule, the operating systems of `os:`, the CEF fields armr writes itself
//! (which a metadata `log` key may not reuse) and the standardized metadata keys of the open
//! Rampart specification with the shape of their values.
//!
//! The syntax reader, the validator, the diagnostics' hints and the event writer's tests all read
//! these lists, so that a word added here is known everywhere at once.

/// The block that holds a rules file's declarations and rules.
pub const APP: &str = "app";

/// The rule kind armr enforces.
pub const SOCKET: &str = "socket";

/// Every rule kind of the language, socket first. armr enforces socket rules; a well-formed rule
/// of another kind is skipped with a warning.
pub const RULE_KINDS: &[&str] = &[
    SOCKET,
    "dns",
    "filesystem",
    "http",
    "library",
    "marshal",
    "patch",
    "process",
    "sanitization",
    "sql",
    "api",
];

/// True when `word`, inside an app, always opens a rule block, so that a header without its `:`
/// is reported and read as a block anyway. `api` is also a statement, so it does not count.
pub fn opens_rule_block(word: &str) -> bool {
    RULE_KINDS.contains(&word) && !API_PROTECT_STATEMENTS.contains(&word)
}

/// The rule kinds armr reads but does not enforce.
pub fn other_rule_kinds() -> &'static [&'static str] {
    &RULE_KINDS[1..]
}

pub const REQUIRES: &str = "requires";
pub const VERSION: &str = "version";
pub const METADATA: &str = "metadata";

/// The declarations of an app besides its rules.
pub const APP_DECLARATIONS: &[&str] = &[REQUIRES, VERSION, METADATA];

/// The conditions of a socket rule: exactly one per rule.
pub const CONDITIONS: &[&str] = &["accept", "connect", "bind"];

/// The actions of a rule: exactly one per rule.
pub const ACTIONS: &[&str] = &["protect", "allow", "detect"];

/// Every statement of a socket rule: its conditions, its actions and `metadata`.
pub const SOCKET_STATEMENTS: &[&str] = &[
    "accept", "connect", "bind", "protect", "allow", "detect", METADATA,
];

/// API Protect statements: in the language, not supported by armr (rejected, never misread).
pub const API_PROTECT_STATEMENTS: &[&str] = &["input", "api"];

/// The keys of `bind(...)`.
pub const BIND_KEYS: &[&str] = &["client", "server"];

/// The keys of `requires(...)`.
pub const REQUIRES_KEYS: &[&str] = &[VERSION];

/// Severity names (any case), as the CEF header writes them.
pub const SEVERITY_NAMES: &[&str] = &["Low", "Medium", "High", "Very-High", "Unknown"];

/// Words that open a block: `app`, and every rule kind that [`opens_rule_block`].
pub fn block_keywords() -> impl Iterator<Item = &'static str> {
    std::iter::once(APP).chain(RULE_KINDS.iter().copied().filter(|k| opens_rule_block(k)))
}

/// The parameters of an action, and the TLS one armr rejects as unsupported.
pub const ACTION_PARAMETERS: &[&str] = &["message", "severity", "stacktrace"];
pub const TLS_ACTION_PARAMETER: &str = "connection";

/// The rule parameter that names the operating systems a rule applies on.
pub const OS: &str = "os";

/// The values of `os: [...]`, lower-case constants. A rule applies on Linux when its list holds
/// [`LINUX`] or [`ANY_OS`].
pub const OPERATING_SYSTEMS: &[&str] = &["linux", "windows", "aix", "solaris", "any"];
pub const LINUX: &str = "linux";
pub const ANY_OS: &str = "any";

/// The version prefixes of `requires(version: PREFIX/X.Y)`, matched in any case: the vendor's
/// name and the open specification's.
pub const ARMR_PREFIX: &str = "ARMR";
pub const RAMPART_PREFIX: &str = "Rampart";

/// The names of the CEF extension fields armr writes itself: the event writer writes these names.
pub mod event_field {
    pub const RT: &str = "rt";
    pub const DVCHOST: &str = "dvchost";
    pub const PROCID: &str = "procid";
    pub const APP_VERSION: &str = "appVersion";
    pub const RULE_TYPE: &str = "ruleType";
    pub const SECURITY_FEATURE: &str = "securityFeature";
    pub const ACT: &str = "act";
    pub const MSG: &str = "msg";
    pub const STACKTRACE: &str = "stacktrace";
    pub const CNT: &str = "cnt";
    pub const LOCAL_IP_ADDRESS: &str = "localIpAddress";
    pub const LOCAL_PORT: &str = "localPort";
    pub const REMOTE_IP_ADDRESS: &str = "remoteIpAddress";
    pub const REMOTE_PORT: &str = "remotePort";
}

/// The CEF extension fields of an `Execute Rule` event that armr writes itself, in the order it
/// writes them (the metadata `log` entries go between `stacktrace` and `cnt`). A metadata `log`
/// key may not be one of them, in any case.
pub const EVENT_FIELDS: &[&str] = {
    use event_field::*;
    &[
        RT,
        DVCHOST,
        PROCID,
        APP_VERSION,
        RULE_TYPE,
        SECURITY_FEATURE,
        ACT,
        MSG,
        STACKTRACE,
        CNT,
        LOCAL_IP_ADDRESS,
        LOCAL_PORT,
        REMOTE_IP_ADDRESS,
        REMOTE_PORT,
    ]
};

/// True when a metadata `log` key would reuse a field armr writes.
pub fn is_reserved_log_key(key: &str) -> bool {
    EVENT_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(key))
}

/// The metadata key whose dictionary is copied into every event of the app's rules.
pub const LOG: &str = "log";

/// The value a standardized metadata key must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataShape {
    /// A non-empty string, or a non-empty list of non-empty strings (`cve`, `cwe`, `affected-os`).
    StringOrList,
    /// A non-empty string.
    String,
    /// A whole number.
    Integer,
    /// `{score: FLOAT, version: FLOAT, vector: "STRING"}`, all three and nothing else.
    Cvss,
    /// A string, or `{range: {from: "V", to: "V"}, ...}`.
    ProductVersion,
}

impl MetadataShape {
    /// What the value must be, for a diagnostic: "must be ...".
    pub fn expected(self) -> &'static str {
        match self {
            MetadataShape::StringOrList => {
                "a non-empty string or a non-empty list of non-empty strings"
            }
            MetadataShape::String => "a non-empty string",
            MetadataShape::Integer => "a whole number",
            MetadataShape::Cvss => {
                "`{score: N.N, version: N.N, vector: \"...\"}` with those three keys only"
            }
            MetadataShape::ProductVersion => "a string or `{range: {from: \"V\", to: \"V\"}, ...}`",
        }
    }
}

/// The standardized metadata keys of the open Rampart specification (as its reference parser
/// validates them), at app and rule level and inside `log`.
pub const STANDARD_METADATA_KEYS: &[(&str, MetadataShape)] = &[
    ("cve", MetadataShape::StringOrList),
    ("cwe", MetadataShape::StringOrList),
    ("cvss", MetadataShape::Cvss),
    ("description", MetadataShape::String),
    ("affected-os", MetadataShape::StringOrList),
    ("affected-product-name", MetadataShape::String),
    ("affected-product-version", MetadataShape::ProductVersion),
    ("creation-time", MetadataShape::String),
    (VERSION, MetadataShape::Integer),
];

/// The shape a standardized metadata key's value must have, or `None` for any other key.
pub fn standard_metadata_shape(key: &str) -> Option<MetadataShape> {
    STANDARD_METADATA_KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|&(_, shape)| shape)
}

/// `a, b and c`, for hints that list words.
pub fn and_list(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// `a, b or c`, for hints that list alternatives.
pub fn or_list(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_have_no_duplicates_and_socket_comes_first() {
        for list in [
            RULE_KINDS,
            SOCKET_STATEMENTS,
            OPERATING_SYSTEMS,
            EVENT_FIELDS,
            APP_DECLARATIONS,
        ] {
            let mut seen = std::collections::HashSet::new();
            assert!(list.iter().all(|w| seen.insert(*w)), "{list:?}");
        }
        assert_eq!(RULE_KINDS[0], SOCKET);
        assert!(!other_rule_kinds().contains(&SOCKET));
        assert!(
            CONDITIONS
                .iter()
                .chain(ACTIONS)
                .all(|w| SOCKET_STATEMENTS.contains(w))
        );
        assert!(OPERATING_SYSTEMS.contains(&LINUX) && OPERATING_SYSTEMS.contains(&ANY_OS));
    }

    /// Every word of the lists is understood where the validator dispatches on it: a file that
    /// uses each one loads without an "unknown ..." diagnostic.
    #[test]
    fn the_validator_understands_every_listed_word() {
        use crate::language::{DiagnosticKind, SourceFile, load};
        let mut text = String::from("app(\"A\"):\n requires(version: ARMR/2.11)\n version(2)\n");
        let standard: Vec<String> = STANDARD_METADATA_KEYS
            .iter()
            .map(|(key, shape)| {
                let value = match shape {
                    MetadataShape::StringOrList | MetadataShape::String => "\"x\"",
                    MetadataShape::Integer => "1",
                    MetadataShape::Cvss => "{score: 1.0, version: 3.1, vector: \"v\"}",
                    MetadataShape::ProductVersion => "{range: {from: \"1\", to: \"2\"}}",
                };
                format!("{key}: {value}")
            })
            .collect();
        text += &format!(
            " {METADATA}({}, {LOG}: {{k: \"v\"}})\n",
            standard.join(", ")
        );
        for (i, condition) in CONDITIONS.iter().enumerate() {
            for action in ACTIONS {
                let address = if *condition == "bind" {
                    format!("{}: \"0.0.0.0:0\"", BIND_KEYS[i % 2])
                } else {
                    "\"0.0.0.0:0\"".to_string()
                };
                let parameters: Vec<String> = ACTION_PARAMETERS
                    .iter()
                    .map(|p| match *p {
                        "severity" => "severity: 1".to_string(),
                        "stacktrace" => "stacktrace: \"full\"".to_string(),
                        other => format!("{other}: \"m\""),
                    })
                    .collect();
                text += &format!(
                    " {SOCKET}(\"{condition} {action}\", {OS}: [{}]): {condition}({address}) {action}({}) {METADATA}({LOG}: {{k: \"w\"}}) end{SOCKET}\n",
                    OPERATING_SYSTEMS.join(", "),
                    parameters.join(", ")
                );
            }
        }
        for kind in other_rule_kinds() {
            text += &format!(" {kind}(\"{kind} rule\"): end{kind}\n");
        }
        text += "endapp\n";
        let loaded = load(vec![SourceFile::new("t.armr", text.clone())]);
        let file = &loaded.files[0];
        assert!(loaded.is_ok(), "{text}\n{}", file.render());
        let unknown = file.diagnostics.iter().any(|d| {
            matches!(
                d.kind,
                DiagnosticKind::UnknownRuleKind { .. }
                    | DiagnosticKind::UnknownRuleKindSkipped { .. }
                    | DiagnosticKind::UnknownStatement { .. }
                    | DiagnosticKind::UnknownDeclaration { .. }
                    | DiagnosticKind::UnknownOs { .. }
            )
        });
        assert!(!unknown, "{}", file.render());
        assert_eq!(
            file.summary(),
            format!(
                "t.armr: 1 app, {} socket rules, {} rules skipped",
                CONDITIONS.len() * ACTIONS.len(),
                other_rule_kinds().len()
            )
        );
    }

    #[test]
    fn word_lists_read_as_english() {
        assert_eq!(and_list(&["a", "b", "c"]), "a, b and c");
        assert_eq!(or_list(&["a", "b"]), "a or b");
        assert_eq!(or_list(&["a"]), "a");
    }
}
