//! Gives the syntax tree its meaning: apps, socket rules, conditions and actions, with every
//! rule of the language checked and each violation reported once, where it was written.

use super::address::{AddressContext, parse_address};
use super::diagnostic::{Diagnostic, DiagnosticKind, Span};
use super::model::*;
use super::source::{Lines, SourceFile};
use super::spelling;
use super::syntax::{Arg, Body, Node, Nodes, Value, ValueKind};
use super::vocabulary::{self, MetadataShape};
use crate::hash::{FxMap, FxSet};
use std::borrow::Cow;
use std::sync::Arc;

/// The newest language version armr knows; also assumed when `requires` is missing or broken,
/// so that one mistake there does not turn every feature of the app into an error.
pub const LATEST: LanguageVersion = LanguageVersion::armr(2, 11);

/// An app read from a file, with where its name was written (for duplicate-app messages).
#[derive(Debug)]
pub struct ValidatedApp {
    pub app: App,
    pub name_span: Span,
}

/// What one file yields.
#[derive(Debug, Default)]
pub struct FileContents {
    pub apps: Vec<ValidatedApp>,
    pub diagnostics: Vec<Diagnostic>,
    /// Rules of other kinds, and rules whose `os` leaves Linux out.
    pub skipped_rules: usize,
}

/// Checks a file's top-level nodes one at a time (see `syntax::parse_each`).
pub struct Validator<'f> {
    file: &'f SourceFile,
    out: FileContents,
    /// Errors reported so far, so that a rule with any error yields no model.
    errors: usize,
    lines: Lines,
}

/// What an app's rules need to know of the app.
struct AppContext {
    language: LanguageVersion,
    /// Shared by the app and its rules (stored once).
    log_metadata: Arc<[(String, String)]>,
    /// The place of each key in `log_metadata`, for the rules' overlays.
    log_index: FxMap<Box<str>, usize>,
}

impl<'f> Validator<'f> {
    pub fn new(file: &'f SourceFile) -> Self {
        Validator {
            file,
            out: FileContents::default(),
            errors: 0,
            lines: Lines::default(),
        }
    }

    pub fn finish(self) -> FileContents {
        self.out
    }

    fn span(&self, text: &str) -> Span {
        let start = text.as_ptr() as usize - self.file.text.as_ptr() as usize;
        Span::new(start, start + text.len())
    }

    fn error(&mut self, kind: DiagnosticKind, text: &str) {
        let span = self.span(text);
        self.errors += 1;
        self.out.diagnostics.push(Diagnostic::error(kind, span));
    }

    fn location(&mut self, text: &str) -> Location {
        let start = self.span(text).start;
        let (line, column) = self.lines.line_column(self.file, start);
        Location {
            file: self.file.name.clone(),
            line,
            column,
        }
    }

    /// Reports a feature that the app's language version is too old for.
    fn needs(&mut self, language: LanguageVersion, feature: &'static str, minor: u8, text: &str) {
        if !language.at_least(2, minor) {
            let needs = LanguageVersion {
                minor,
                major: 2,
                ..language
            }
            .to_string();
            let kind = DiagnosticKind::FeatureNeedsVersion {
                feature,
                needs,
                have: language.to_string(),
            };
            self.error(kind, text);
        }
    }

    /// Reports a word that is a keyword in another case, or near one (`suggestion`, returned), or
    /// else `otherwise`.
    fn unknown_word(
        &mut self,
        word: &str,
        keywords: &[&str],
        suggestion: Option<&'static str>,
        what: &'static str,
        otherwise: DiagnosticKind,
    ) -> Option<&'static str> {
        let lower = word.to_ascii_lowercase();
        let mut guessed = None;
        let kind = if lower != word && keywords.contains(&lower.as_str()) {
            DiagnosticKind::KeywordCase {
                found: word.into(),
                keyword: lower,
            }
        } else if let Some(keyword) = suggestion {
            guessed = Some(keyword);
            DiagnosticKind::Misspelt {
                found: word.into(),
                keyword: keyword.into(),
                what,
            }
        } else {
            otherwise
        };
        self.error(kind, word);
        guessed
    }

    /// Reports a word near a keyword (`conect`), when it is near one, and returns the keyword.
    fn misspelt(
        &mut self,
        word: &str,
        keywords: &[&'static str],
        what: &'static str,
    ) -> Option<&'static str> {
        let keyword = spelling::suggest(word, keywords)?;
        let kind = DiagnosticKind::Misspelt {
            found: word.into(),
            keyword: keyword.into(),
            what,
        };
        self.error(kind, word);
        Some(keyword)
    }

    pub fn top_level(&mut self, node: &Node<'_, '_>) {
        match (node.name, &node.body) {
            ("app", Some(Body::Nodes { nodes, broken })) => self.app(node, *nodes, *broken),
            ("app", _) => {} // a missing colon is reported by the syntax reader
            (name, body) => {
                let found = super::diagnostic::quoted(&format!("{name}(...)"));
                let guess = spelling::suggest(name, &[vocabulary::APP]);
                let meant = self.unknown_word(
                    name,
                    &[vocabulary::APP],
                    guess,
                    "a keyword",
                    DiagnosticKind::ExpectedApp { found },
                );
                // `ap("A"): ...`: one mistake; the app is checked as the app it means to be.
                if let (Some(_), Some(Body::Nodes { nodes, broken })) = (meant, body) {
                    self.app(node, *nodes, *broken);
                }
            }
        }
    }

    /// The first positional string of a rule or app header: its name. Reports what is wrong with
    /// the arguments it does not know (`os` is left to the caller).
    fn header_name<'t>(
        &mut self,
        node: &Node<'t, '_>,
        missing: impl Fn() -> DiagnosticKind,
        what: &'static str,
    ) -> Option<&'t str> {
        let mut name = None;
        let mut seen_positional = false;
        for arg in node.args {
            match arg.key {
                None if !seen_positional => {
                    seen_positional = true;
                    match arg.value.as_str() {
                        // An empty name is no name, as in the reference parser.
                        Some("") => self.error(missing(), arg.value.text),
                        Some(s) => name = Some(s),
                        None => self.error(DiagnosticKind::ExpectedString { what }, arg.value.text),
                    }
                }
                None => self.error(
                    DiagnosticKind::UnexpectedArgument {
                        statement: node.name.into(),
                    },
                    arg.value.text,
                ),
                Some(_) => {}
            }
        }
        if !seen_positional && !node.broken_header {
            self.error(missing(), node.args_text);
        }
        name
    }

    fn app(&mut self, node: &Node<'_, '_>, body: Nodes<'_, '_>, broken: bool) {
        // Before the rules, so that locations come in file order (see `Lines`).
        let location = self.location(node.name);
        let name = self.header_name(node, || DiagnosticKind::MissingAppName, "an app name");
        for arg in node.args.iter().filter(|a| a.key.is_some()) {
            let key = arg.key.unwrap_or_default();
            self.error(
                DiagnosticKind::UnexpectedArgument {
                    statement: "app".into(),
                },
                key,
            );
        }
        let name_text = node.args.first().map_or(node.name, |a| a.value.text);

        // `requires` first: every feature check below depends on the version it gives.
        let mut language = None;
        let mut requires_seen: Option<&str> = None;
        let mut rule_seen = false;
        let mut blocks = 0;
        for n in body.iter() {
            if n.body.is_some() {
                rule_seen = true;
                blocks += 1;
            } else if n.name == "requires" {
                if requires_seen.is_some() {
                    self.error(
                        DiagnosticKind::DuplicateStatement {
                            name: "requires".into(),
                        },
                        n.name,
                    );
                    continue;
                }
                requires_seen = Some(n.name);
                if rule_seen {
                    self.error(DiagnosticKind::RequiresAfterRule, n.name);
                }
                language = self.requires(&n);
            }
        }
        // A misspelt `requires` is reported as such, not also as missing.
        let requires_misspelt = body.iter().any(|n| {
            n.body.is_none()
                && spelling::suggest(n.name, vocabulary::APP_DECLARATIONS) == Some("requires")
        });
        if requires_seen.is_none() && !broken && !requires_misspelt {
            let app = name.unwrap_or_default().to_string();
            self.error(DiagnosticKind::MissingRequires { app }, name_text);
        }
        let lang = language.unwrap_or(LATEST);

        let mut version: Option<u32> = None;
        let mut version_seen = false;
        let mut ctx = AppContext {
            language: lang,
            log_metadata: Arc::from([]),
            log_index: FxMap::default(),
        };
        let mut metadata_seen = false;
        let mut rules = Vec::with_capacity(blocks);
        let mut rule_names: FxSet<&str> =
            FxSet::with_capacity_and_hasher(body.len(), Default::default());
        let mut rule_count = 0;
        for n in body.iter() {
            match (&n.body, n.name) {
                (None, "requires") => {}
                (None, "version") => {
                    if std::mem::replace(&mut version_seen, true) {
                        self.error(
                            DiagnosticKind::DuplicateStatement {
                                name: "version".into(),
                            },
                            n.name,
                        );
                        continue;
                    }
                    self.needs(lang, "`version(...)` declarations", 3, n.name);
                    version = self.app_version(&n);
                }
                (None, "metadata") => {
                    if std::mem::replace(&mut metadata_seen, true) {
                        self.error(
                            DiagnosticKind::DuplicateStatement {
                                name: "metadata".into(),
                            },
                            n.name,
                        );
                        continue;
                    }
                    self.needs(lang, "`metadata(...)` declarations", 6, n.name);
                    let log = self.metadata(&n);
                    ctx.log_index = log
                        .iter()
                        .enumerate()
                        .map(|(i, (key, _))| (key.as_str().into(), i))
                        .collect();
                    ctx.log_metadata = log.into();
                }
                (None, "input" | "api") => self.unsupported(n.name),
                (None, other) => {
                    let guess = spelling::suggest(other, vocabulary::APP_DECLARATIONS);
                    self.unknown_word(
                        other,
                        vocabulary::APP_DECLARATIONS,
                        guess,
                        "a declaration of an app",
                        DiagnosticKind::UnknownDeclaration { name: other.into() },
                    );
                }
                (Some(rule_body), written_kind) => {
                    // A kind in the wrong case is reported, then read as the kind it spells.
                    let miscased = written_kind.bytes().any(|b| b.is_ascii_uppercase());
                    let spelled = miscased
                        .then(|| {
                            vocabulary::RULE_KINDS
                                .iter()
                                .find(|k| k.eq_ignore_ascii_case(written_kind))
                        })
                        .flatten();
                    let kind = match spelled {
                        Some(&k) => {
                            let kind = DiagnosticKind::KeywordCase {
                                found: written_kind.into(),
                                keyword: k.into(),
                            };
                            self.error(kind, written_kind);
                            k
                        }
                        // `soket(...)`: reported, then read as the kind it misspells.
                        None if !vocabulary::RULE_KINDS.contains(&written_kind) => self
                            .misspelt(written_kind, vocabulary::RULE_KINDS, "a rule kind")
                            .unwrap_or(written_kind),
                        None => written_kind,
                    };
                    if !vocabulary::RULE_KINDS.contains(&kind) {
                        // A skipped one is no rule of the app; a misspelt socket rule is.
                        if self.unknown_rule_kind(&n, kind, rule_body) {
                            rule_count += 1;
                        }
                        continue;
                    }
                    rule_count += 1;
                    let rule_name = self.rule_header(&n, kind);
                    if let Some(rule_name) = rule_name
                        && !rule_names.insert(rule_name)
                    {
                        let text = n.args.first().map_or(n.name, |a| a.value.text);
                        self.error(
                            DiagnosticKind::DuplicateRule {
                                rule: rule_name.into(),
                            },
                            text,
                        );
                    }
                    let applies = self.os_applies(&n);
                    let rule_name = rule_name.unwrap_or_default();
                    match (kind, rule_body) {
                        ("socket", Body::Nodes { nodes, broken }) => {
                            let rule = self.socket_rule(&n, rule_name, *nodes, *broken, &ctx);
                            if !applies {
                                let span = self.span(n.name);
                                self.out.diagnostics.push(Diagnostic::note(
                                    DiagnosticKind::SkippedForOs {
                                        rule: rule_name.into(),
                                    },
                                    span,
                                ));
                                self.out.skipped_rules += 1;
                            } else if let Some(rule) = rule {
                                rules.push(rule);
                            }
                        }
                        (k, _) if vocabulary::other_rule_kinds().contains(&k) => {
                            self.other_rule_metadata(rule_body, lang);
                            let span = self.span(n.name);
                            self.out.diagnostics.push(Diagnostic::warning(
                                DiagnosticKind::SkippedRuleKind {
                                    kind: k.into(),
                                    rule: rule_name.into(),
                                },
                                span,
                            ));
                            self.out.skipped_rules += 1;
                        }
                        (k, _) => {
                            self.error(DiagnosticKind::UnknownRuleKind { kind: k.into() }, n.name)
                        }
                    }
                }
            }
        }
        if rule_count == 0 && !broken {
            let app = name.unwrap_or_default().to_string();
            self.error(DiagnosticKind::EmptyApp { app }, name_text);
        }
        rules.shrink_to_fit();
        if let Some(name) = name {
            let app = App {
                name: name.to_string(),
                language: lang,
                version: version.unwrap_or(1),
                log_metadata: ctx.log_metadata,
                rules,
                location,
            };
            let name_span = self.span(name_text);
            self.out.apps.push(ValidatedApp { app, name_span });
        }
    }

    fn unsupported(&mut self, word: &str) {
        let feature = match word {
            "input" => "the API Protect statement `input()`",
            _ => "the API Protect statement `api()`",
        };
        self.error(DiagnosticKind::Unsupported { feature }, word);
    }

    /// `requires(version: ARMR/X.Y)` or `requires(version: "ARMR/X.Y")`.
    fn requires(&mut self, node: &Node<'_, '_>) -> Option<LanguageVersion> {
        let mut found = None;
        let mut seen = false;
        for arg in node.args {
            match arg.key {
                Some("version") if !seen => {
                    seen = true;
                    found = self.language_version(&arg.value);
                }
                Some("version") => self.error(
                    DiagnosticKind::DuplicateParameter {
                        name: "version".into(),
                    },
                    arg.value.text,
                ),
                Some(key) => {
                    if self
                        .misspelt(key, vocabulary::REQUIRES_KEYS, "a parameter of `requires`")
                        .is_some()
                    {
                        // Reported as misspelt: not also as missing.
                        seen = true;
                    } else {
                        self.error(DiagnosticKind::UnknownRequiresKey { key: key.into() }, key)
                    }
                }
                None => self.error(
                    DiagnosticKind::UnexpectedArgument {
                        statement: "requires".into(),
                    },
                    arg.value.text,
                ),
            }
        }
        if !seen {
            self.error(DiagnosticKind::RequiresWithoutVersion, node.args_text);
        }
        found
    }

    fn language_version(&mut self, value: &Value<'_>) -> Option<LanguageVersion> {
        let unknown = |text: &str| DiagnosticKind::UnknownLanguage { text: text.into() };
        let Some(text) = value.as_str_or_const() else {
            self.error(unknown(value.text), value.text);
            return None;
        };
        let parsed = text.split_once('/').and_then(|(prefix, number)| {
            // The prefix in any case: the reference parser writes `RAMPART/`, the specification
            // `Rampart/`.
            let dialect = if prefix.eq_ignore_ascii_case(vocabulary::ARMR_PREFIX) {
                Dialect::Armr
            } else if prefix.eq_ignore_ascii_case(vocabulary::RAMPART_PREFIX) {
                Dialect::Rampart
            } else {
                return None;
            };
            let (major, minor) = number.split_once('.')?;
            let digits =
                |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
            if !digits(major) || !digits(minor) {
                return None;
            }
            Some(LanguageVersion {
                dialect,
                major: major.parse().ok()?,
                minor: minor.parse().ok()?,
            })
        });
        let Some(version) = parsed else {
            self.error(unknown(text), value.text);
            return None;
        };
        if version.major != 2 || version.minor > LATEST.minor {
            self.error(
                DiagnosticKind::UnsupportedVersion {
                    version: text.into(),
                },
                value.text,
            );
            return None;
        }
        Some(version)
    }

    /// `version(N)`: a positive whole number.
    fn app_version(&mut self, node: &Node<'_, '_>) -> Option<u32> {
        let mut result = None;
        for (i, arg) in node.args.iter().enumerate() {
            if i > 0 || arg.key.is_some() {
                let text = arg.key.unwrap_or(arg.value.text);
                self.error(
                    DiagnosticKind::UnexpectedArgument {
                        statement: "version".into(),
                    },
                    text,
                );
                continue;
            }
            match arg.value.kind {
                ValueKind::Int(n) if n >= 1 && n <= i64::from(u32::MAX) => result = Some(n as u32),
                _ => self.error(
                    DiagnosticKind::BadAppVersion {
                        text: arg.value.text.into(),
                    },
                    arg.value.text,
                ),
            }
        }
        if node.args.is_empty() {
            self.error(
                DiagnosticKind::BadAppVersion {
                    text: String::new(),
                },
                node.args_text,
            );
        }
        result
    }

    /// `metadata(KEY: VALUE, ..., log: {KEY: VALUE, ...}, ...)`: returns the `log` entries, several
    /// `log` dictionaries merged in written order. Keys are one namespace, in `log` or not: a key
    /// given twice is an error. Standardized keys (`cve`, `cvss`, ...) must have their shape; the
    /// others may hold anything.
    fn metadata(&mut self, node: &Node<'_, '_>) -> Vec<(String, String)> {
        let mut seen: FxSet<&str> = FxSet::default();
        let mut log = Vec::new();
        let mut entries = 0;
        for arg in node.args {
            let Some(key) = arg.key else {
                self.error(
                    DiagnosticKind::UnexpectedArgument {
                        statement: vocabulary::METADATA.into(),
                    },
                    arg.value.text,
                );
                continue;
            };
            if key != vocabulary::LOG {
                entries += 1;
                if !seen.insert(key) {
                    let kind = DiagnosticKind::DuplicateMetadataKey { key: key.into() };
                    self.error(kind, key);
                } else {
                    self.standard_metadata(node, key, &arg.value);
                }
                continue;
            }
            let ValueKind::Dict(items) = &arg.value.kind else {
                entries += 1; // not also "holds no entry"
                self.error(DiagnosticKind::MetadataLogNotDictionary, arg.value.text);
                continue;
            };
            for (k, v) in node.dict(*items) {
                entries += 1;
                let name = k.name.as_ref();
                if !seen.insert(name) {
                    let kind = DiagnosticKind::DuplicateMetadataKey { key: name.into() };
                    self.error(kind, k.text);
                    continue;
                }
                if !is_log_key(name) {
                    self.error(DiagnosticKind::BadMetadataKey { key: name.into() }, k.text);
                } else if vocabulary::is_reserved_log_key(name) {
                    let kind = DiagnosticKind::ReservedMetadataKey { key: name.into() };
                    self.error(kind, k.text);
                } else if self.standard_metadata(node, name, v)
                    && let Some(text) = self.log_value(node, name, v)
                {
                    log.push((name.to_string(), text));
                }
            }
        }
        if entries == 0 && !node.broken_header {
            self.error(DiagnosticKind::EmptyMetadata, node.args_text);
        }
        log
    }

    /// The text a metadata `log` value is written as in events. A list of strings (a
    /// standardized `cve`, `cwe` or `affected-os`) is written joined by `,`.
    fn log_value(&mut self, node: &Node<'_, '_>, key: &str, v: &Value<'_>) -> Option<String> {
        Some(match &v.kind {
            ValueKind::Str(s) => s.to_string(),
            ValueKind::Int(n) => n.to_string(),
            ValueKind::Float(f) => f.to_string(),
            ValueKind::Bool(b) => b.to_string(),
            ValueKind::Const(c) => c.to_string(),
            ValueKind::List(items)
                if vocabulary::standard_metadata_shape(key)
                    == Some(MetadataShape::StringOrList) =>
            {
                let items = node.list(*items);
                let strings: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
                strings.join(",")
            }
            ValueKind::List(_) | ValueKind::Dict(_) => {
                self.error(DiagnosticKind::BadMetadataValue { key: key.into() }, v.text);
                return None;
            }
        })
    }

    /// Checks the value of a standardized metadata key as the reference parser does; false (and
    /// reported) when it does not have its shape. Any other key is left alone.
    fn standard_metadata(&mut self, node: &Node<'_, '_>, key: &str, value: &Value<'_>) -> bool {
        let Some(shape) = vocabulary::standard_metadata_shape(key) else {
            return true;
        };
        let non_empty_string =
            |v: &Value<'_>| matches!(&v.kind, ValueKind::Str(s) if !s.is_empty());
        let dict = |v: &Value<'_>| match v.kind {
            ValueKind::Dict(items) => Some(node.dict(items)),
            _ => None,
        };
        let ok = match shape {
            MetadataShape::String => non_empty_string(value),
            MetadataShape::Integer => matches!(value.kind, ValueKind::Int(_)),
            MetadataShape::StringOrList => {
                non_empty_string(value)
                    || matches!(value.kind, ValueKind::List(items)
                        if !node.list(items).is_empty() && node.list(items).iter().all(non_empty_string))
            }
            MetadataShape::Cvss => dict(value).is_some_and(|entries| {
                let has = |name: &str, float: bool| {
                    entries.iter().filter(|(k, _)| k.name == name).count() == 1
                        && entries.iter().any(|(k, v)| {
                            k.name == name
                                && if float {
                                    matches!(v.kind, ValueKind::Float(_))
                                } else {
                                    matches!(v.kind, ValueKind::Str(_))
                                }
                        })
                };
                entries.len() == 3
                    && has("score", true)
                    && has("version", true)
                    && has("vector", false)
            }),
            MetadataShape::ProductVersion => {
                matches!(value.kind, ValueKind::Str(_))
                    || dict(value).is_some_and(|ranges| {
                        ranges.iter().all(|(k, range)| {
                            k.name == "range"
                                && dict(range).is_some_and(|limits| {
                                    limits.len() == 2
                                        && ["from", "to"].iter().all(|limit| {
                                            limits.iter().any(|(k, v)| {
                                                k.name == *limit
                                                    && matches!(v.kind, ValueKind::Str(_))
                                            })
                                        })
                                })
                        })
                    })
            }
        };
        if !ok {
            let kind = DiagnosticKind::BadStandardMetadata {
                key: key.into(),
                expected: shape.expected(),
            };
            self.error(kind, value.text);
        }
        ok
    }

    /// A well-formed block of a rule kind the language does not have (the specification's
    /// `foo("a foo rule"): endfoo`): skipped with a warning, as the specification says. One that
    /// holds a socket condition is surely a misspelt `socket` rule, and stays an error.
    /// Returns true when it is reported as an error.
    fn unknown_rule_kind(&mut self, node: &Node<'_, '_>, kind: &str, body: &Body<'_, '_>) -> bool {
        let socket_like = match body {
            Body::Nodes { nodes, .. } => nodes
                .iter()
                .any(|s| vocabulary::CONDITIONS.contains(&s.name)),
            Body::Raw(_) => false,
        };
        if socket_like {
            self.error(
                DiagnosticKind::UnknownRuleKind { kind: kind.into() },
                node.name,
            );
            return true;
        }
        let rule = node
            .args
            .iter()
            .find(|a| a.key.is_none())
            .and_then(|a| a.value.as_str())
            .unwrap_or_default();
        let span = self.span(node.name);
        self.out.diagnostics.push(Diagnostic::warning(
            DiagnosticKind::UnknownRuleKindSkipped {
                kind: kind.into(),
                rule: rule.into(),
            },
            span,
        ));
        self.out.skipped_rules += 1;
        false
    }

    /// The `metadata(...)` of a rule of a kind armr skips is checked all the same: metadata is
    /// common to every rule kind, and the reference parser rejects a rule whose metadata is wrong.
    fn other_rule_metadata(&mut self, body: &Body<'_, '_>, lang: LanguageVersion) {
        let Body::Nodes { nodes, .. } = body else {
            return;
        };
        for statement in nodes.iter() {
            if statement.name == vocabulary::METADATA && statement.body.is_none() {
                self.needs(lang, "`metadata(...)` declarations", 6, statement.name);
                self.metadata(&statement);
            }
        }
    }

    /// The rule's name (reported when missing), and its parameters other than `os` checked.
    fn rule_header<'t>(&mut self, node: &Node<'t, '_>, kind: &str) -> Option<&'t str> {
        let name = self.header_name(
            node,
            || DiagnosticKind::MissingRuleName { kind: kind.into() },
            "a rule name",
        );
        let mut os_seen = false;
        for arg in node.args {
            match arg.key {
                Some(key @ "os") if std::mem::replace(&mut os_seen, true) => self.error(
                    DiagnosticKind::DuplicateParameter { name: "os".into() },
                    key,
                ),
                Some("os") | None => {}
                Some(key) if kind == "socket" => self.error(
                    DiagnosticKind::UnknownRuleParameter { name: key.into() },
                    key,
                ),
                Some(_) => {} // other rule kinds have parameters of their own
            }
        }
        name
    }

    /// False when the rule's `os:` list names neither linux nor any. Its entries are lower-case
    /// constants, as in the reference parser; an empty list is an error.
    fn os_applies(&mut self, node: &Node<'_, '_>) -> bool {
        let Some(arg) = node.args.iter().find(|a| a.key == Some(vocabulary::OS)) else {
            return true;
        };
        let values = match &arg.value.kind {
            ValueKind::List(items) => node.list(*items),
            _ => std::slice::from_ref(&arg.value),
        };
        if values.is_empty() {
            self.error(DiagnosticKind::EmptyOsList, arg.value.text);
            return true; // not also "skipped"
        }
        let mut applies = false;
        let mut valid = true;
        for value in values {
            let kind = match &value.kind {
                ValueKind::Const(os) if vocabulary::OPERATING_SYSTEMS.contains(os) => {
                    applies |= *os == vocabulary::LINUX || *os == vocabulary::ANY_OS;
                    continue;
                }
                ValueKind::Const(os)
                    if vocabulary::OPERATING_SYSTEMS
                        .iter()
                        .any(|k| k.eq_ignore_ascii_case(os)) =>
                {
                    DiagnosticKind::KeywordCase {
                        found: (*os).into(),
                        keyword: os.to_ascii_lowercase(),
                    }
                }
                ValueKind::Str(_) => DiagnosticKind::QuotedOs {
                    text: value.text.into(),
                },
                _ => DiagnosticKind::UnknownOs {
                    name: value.text.into(),
                },
            };
            valid = false;
            self.error(kind, value.text);
        }
        applies || !valid
    }

    fn socket_rule(
        &mut self,
        node: &Node<'_, '_>,
        name: &str,
        body: Nodes<'_, '_>,
        broken: bool,
        app: &AppContext,
    ) -> Option<SocketRule> {
        let lang = app.language;
        self.needs(lang, "socket rules", 1, node.name);
        let errors_before = self.errors;
        // The known statements met so far, by their place in KNOWN.
        const KNOWN: &[&str] = vocabulary::SOCKET_STATEMENTS;
        let mut seen = 0u8;
        // What misspelt statements meant (`conect`): not reported again as missing.
        let mut meant: Vec<&str> = Vec::new();
        let mut condition: Option<(&str, Option<Condition>)> = None;
        let mut action: Option<(&str, ActionParams)> = None;
        let mut rule_metadata: Option<Vec<(String, String)>> = None;
        for statement in body.iter() {
            let word = statement.name;
            if statement.body.is_some() {
                self.error(DiagnosticKind::UnexpectedBlock { name: word.into() }, word);
            }
            let bit = KNOWN
                .iter()
                .position(|k| *k == word)
                .map_or(0, |k| 1u8 << k);
            if seen & bit != 0 {
                self.error(
                    DiagnosticKind::DuplicateStatement { name: word.into() },
                    word,
                );
                continue;
            }
            match word {
                w if vocabulary::CONDITIONS.contains(&w) => {
                    seen |= bit;
                    if let Some((first, _)) = condition {
                        let kind = DiagnosticKind::TwoConditions {
                            first: first.into(),
                            second: word.into(),
                        };
                        self.error(kind, word);
                        continue;
                    }
                    condition = Some((word, self.condition(&statement, lang)));
                }
                w if Action::from_word(w).is_some() => {
                    seen |= bit;
                    if let Some((first, _)) = action {
                        let kind = DiagnosticKind::TwoActions {
                            first: first.into(),
                            second: word.into(),
                        };
                        self.error(kind, word);
                        continue;
                    }
                    action = Some((word, self.action(&statement, lang)));
                }
                "metadata" => {
                    seen |= bit;
                    self.needs(lang, "`metadata(...)` declarations", 6, word);
                    rule_metadata = Some(self.metadata(&statement));
                }
                "input" | "api" => self.unsupported(word),
                other => {
                    let guess = spelling::suggest_statement(other);
                    meant.extend(self.unknown_word(
                        other,
                        KNOWN,
                        guess,
                        "a statement of a socket rule",
                        DiagnosticKind::UnknownStatement { name: other.into() },
                    ));
                }
            }
        }
        let meant_any = |list: &[&str]| meant.iter().any(|m| list.contains(m));
        if !broken {
            if condition.is_none() && !meant_any(vocabulary::CONDITIONS) {
                self.error(DiagnosticKind::NoCondition { rule: name.into() }, node.name);
            }
            if action.is_none() && !meant_any(vocabulary::ACTIONS) {
                self.error(DiagnosticKind::NoAction { rule: name.into() }, node.name);
            }
        }
        if let Some(("detect", params)) = &action
            && params.message.is_none()
            && !params.message_misspelt
        {
            let word = body
                .iter()
                .find(|s| s.name == "detect")
                .map_or(node.name, |s| s.name);
            self.error(DiagnosticKind::DetectWithoutMessage, word);
        }
        let errors = self.errors - errors_before;
        let (Some((_, Some(condition))), Some((word, params))) = (condition, action) else {
            return None;
        };
        if errors > 0 || name.is_empty() {
            return None;
        }
        let log_metadata = LogMetadata::overlay_at(
            app.log_metadata.clone(),
            rule_metadata.unwrap_or_default(),
            |_, key| app.log_index.get(key).copied(),
        );
        Some(SocketRule {
            name: name.into(),
            condition,
            action: Action::from_word(word).unwrap_or(Action::Detect),
            message: params.message.map(String::into_boxed_str),
            severity: params.severity,
            stacktrace: params.stacktrace,
            log_metadata,
            location: self.location(node.name),
        })
    }

    /// `accept("ADDR")`, `connect("ADDR")`, `bind(client: "ADDR", server: "ADDR")`.
    fn condition(&mut self, node: &Node<'_, '_>, lang: LanguageVersion) -> Option<Condition> {
        if node.name != "bind" {
            let mut address = None;
            for (i, arg) in node.args.iter().enumerate() {
                if i > 0 || arg.key.is_some() {
                    let text = arg.key.unwrap_or(arg.value.text);
                    self.error(
                        DiagnosticKind::UnexpectedArgument {
                            statement: node.name.into(),
                        },
                        text,
                    );
                } else {
                    address = self.address(&arg.value, AddressContext::Remote, lang);
                }
            }
            if node.args.is_empty() {
                self.error(
                    DiagnosticKind::ExpectedString { what: "an address" },
                    node.args_text,
                );
            }
            let address = address?;
            return Some(if node.name == "accept" {
                Condition::Accept(address)
            } else {
                Condition::Connect(address)
            });
        }
        let (mut client, mut server) = (None, None);
        let mut ok = true;
        for arg in node.args {
            let slot = match arg.key {
                Some("client") => &mut client,
                Some("server") => &mut server,
                Some(key) => {
                    if self
                        .misspelt(key, vocabulary::BIND_KEYS, "a parameter of `bind`")
                        .is_none()
                    {
                        self.error(DiagnosticKind::UnknownBindKey { key: key.into() }, key);
                    }
                    ok = false;
                    continue;
                }
                None => {
                    self.error(DiagnosticKind::BindWithoutKey, arg.value.text);
                    ok = false;
                    continue;
                }
            };
            let key = arg.key.unwrap_or_default();
            if slot.is_some() {
                self.error(DiagnosticKind::DuplicateParameter { name: key.into() }, key);
                ok = false;
                continue;
            }
            let parsed = self.address(&arg.value, AddressContext::Bind, lang);
            ok &= parsed.is_some();
            *slot = Some(parsed);
        }
        if node.args.is_empty() {
            self.error(DiagnosticKind::BindWithoutKey, node.args_text);
            ok = false;
        }
        ok.then(|| Condition::Bind {
            client: client.flatten(),
            server: server.flatten(),
        })
    }

    fn address(
        &mut self,
        value: &Value<'_>,
        context: AddressContext,
        lang: LanguageVersion,
    ) -> Option<AddressPattern> {
        let Some(text) = value.as_str() else {
            self.error(
                DiagnosticKind::ExpectedString { what: "an address" },
                value.text,
            );
            return None;
        };
        // Inside a string without escapes, byte k of the content is byte k + 1 of the source.
        let borrowed = matches!(value.kind, ValueKind::Str(Cow::Borrowed(_)));
        let part = |range: std::ops::Range<usize>| -> &str {
            if borrowed {
                &value.text[1 + range.start..1 + range.end]
            } else {
                value.text
            }
        };
        match parse_address(text, context) {
            Ok(parsed) => {
                if matches!(parsed.pattern.port, PortPattern::Range(..)) {
                    self.needs(lang, "port ranges", 2, part(parsed.port.clone()));
                }
                if matches!(parsed.pattern.host, HostPattern::Cidr { .. }) {
                    self.needs(lang, "CIDR blocks", 10, part(parsed.host.clone()));
                }
                self.dotless_hostname(&parsed.pattern.host, part(parsed.host.clone()));
                Some(parsed.pattern)
            }
            Err(e) => {
                let at = if e.at.is_empty() {
                    e.at.start..e.at.start + 1
                } else {
                    e.at
                };
                let at =
                    at.start.min(text.len())..at.end.min(text.len()).max(at.start.min(text.len()));
                let spot = if at.is_empty() { value.text } else { part(at) };
                self.error(e.kind, spot);
                None
            }
        }
    }

    /// Warns about a hostname of one label other than `localhost` (`any:0`, meant as any
    /// address): it reaches a host of the local network, if any, through the search domains.
    fn dotless_hostname(&mut self, host: &HostPattern, text: &str) {
        if let HostPattern::Name(name) = host
            && !name.contains('.')
            && name != "localhost"
        {
            let span = self.span(text);
            let kind = DiagnosticKind::DotlessHostname { name: name.clone() };
            self.out.diagnostics.push(Diagnostic::warning(kind, span));
        }
    }

    /// The action's valid parameters; the others are reported.
    fn action(&mut self, node: &Node<'_, '_>, lang: LanguageVersion) -> ActionParams {
        let mut params = ActionParams {
            message: None,
            severity: Severity::Unknown,
            stacktrace: false,
            message_misspelt: false,
        };
        for (index, Arg { key, value }) in node.args.iter().enumerate() {
            let Some(key) = *key else {
                self.error(
                    DiagnosticKind::UnexpectedArgument {
                        statement: node.name.into(),
                    },
                    value.text,
                );
                continue;
            };
            if node.args[..index].iter().any(|a| a.key == Some(key)) {
                self.error(DiagnosticKind::DuplicateParameter { name: key.into() }, key);
                continue;
            }
            match key {
                "message" => match value.as_str() {
                    Some(m) => params.message = Some(m.to_string()),
                    None => {
                        self.error(
                            DiagnosticKind::ExpectedString { what: "a message" },
                            value.text,
                        );
                    }
                },
                "severity" => {
                    let severity = match &value.kind {
                        ValueKind::Int(n) => Severity::from_number(*n),
                        ValueKind::Str(s) => Severity::from_name(s),
                        ValueKind::Const(c) => Severity::from_name(c),
                        _ => None,
                    };
                    let written = value.as_str_or_const().unwrap_or_default();
                    match severity {
                        Some(s) => params.severity = s,
                        None if spelling::suggest(written, vocabulary::SEVERITY_NAMES)
                            .is_some() =>
                        {
                            let keyword = spelling::suggest(written, vocabulary::SEVERITY_NAMES);
                            let kind = DiagnosticKind::Misspelt {
                                found: written.into(),
                                keyword: keyword.unwrap_or_default().into(),
                                what: "a severity",
                            };
                            self.error(kind, value.text);
                        }
                        None => {
                            self.error(
                                DiagnosticKind::BadSeverity {
                                    text: value.text.into(),
                                },
                                value.text,
                            );
                        }
                    }
                }
                "stacktrace" => {
                    self.needs(lang, "stack traces", 3, key);
                    if value.as_str_or_const() == Some("full") {
                        params.stacktrace = true;
                    } else {
                        self.error(
                            DiagnosticKind::BadStacktrace {
                                text: value.text.into(),
                            },
                            value.text,
                        );
                    }
                }
                vocabulary::TLS_ACTION_PARAMETER => {
                    self.error(
                        DiagnosticKind::Unsupported {
                            feature: "the TLS parameter `connection:`",
                        },
                        key,
                    );
                }
                other => {
                    match self.misspelt(
                        other,
                        vocabulary::ACTION_PARAMETERS,
                        "a parameter of an action",
                    ) {
                        Some("message") => params.message_misspelt = true,
                        Some(_) => {}
                        None => self.error(
                            DiagnosticKind::UnknownActionParameter { name: other.into() },
                            other,
                        ),
                    }
                }
            }
        }
        params
    }
}

/// A metadata `log` key is written into events as it stands: letters, digits, `_` and `-` (the
/// specification's keys such as `creation-time`), not starting with `-`.
fn is_log_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('-')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

struct ActionParams {
    message: Option<String>,
    severity: Severity,
    stacktrace: bool,
    /// A `message` was written misspelt (`mesage:`), and reported: not also missing.
    message_misspelt: bool,
}

#[cfg(test)]
mod tests {
    use crate::language::{SourceFile, load};
    use std::sync::Arc;

    /// An app's metadata is stored once: every rule shares the app's entries, and a rule's own
    /// entries overlay them (replacing in place, new keys after) as events write them.
    #[test]
    fn the_apps_metadata_is_stored_once_and_shared_by_its_rules() {
        let text = r#"app("A"):
    requires(version: ARMR/2.11)
    metadata(log: {team: "blue", env: "test"})
    socket("one"):
        connect("10.0.0.1:80")
        protect(message: "m")
    endsocket
    socket("two"):
        connect("10.0.0.2:80")
        metadata(log: {env: "prod", owner: "secops"})
        protect(message: "m")
    endsocket
endapp
"#;
        let loaded = load(vec![SourceFile::new("t.armr", text)]);
        assert_eq!(loaded.errors(), 0, "{}", loaded.files[0].render());
        let app = &loaded.rules.apps[0];
        for rule in &app.rules {
            assert!(Arc::ptr_eq(
                rule.log_metadata.app_entries(),
                &app.log_metadata
            ));
            // The very bytes of the app's value, not a copy of them.
            let (_, team) = rule.log_metadata.get(0).unwrap();
            assert!(std::ptr::eq(team.as_ptr(), app.log_metadata[0].1.as_ptr()));
        }
        let written = |i: usize| app.rules[i].log_metadata.iter().collect::<Vec<_>>();
        assert_eq!(written(0), [("team", "blue"), ("env", "test")]);
        assert_eq!(
            written(1),
            [("team", "blue"), ("env", "prod"), ("owner", "secops")]
        );
    }

    /// 10,000 metadata keys, one given twice at the end: reported once, where it was written.
    #[test]
    fn a_duplicate_among_ten_thousand_metadata_keys_is_reported_once() {
        let mut keys: Vec<String> = (0..10_000).map(|i| format!("k{i}: \"v\"")).collect();
        keys.push("k1234: \"again\"".into());
        let text = format!(
            "app(\"A\"):\n    requires(version: ARMR/2.11)\n    metadata(log: {{{}}})\n    socket(\"r\"):\n        connect(\"10.0.0.1:80\")\n        protect()\n    endsocket\nendapp\n",
            keys.join(", ")
        );
        let loaded = load(vec![SourceFile::new("t.armr", text.as_str())]);
        let rendered = loaded.files[0].render();
        assert_eq!(loaded.errors(), 1, "{rendered}");
        assert!(rendered.contains("k1234"), "{rendered}");
    }
}
