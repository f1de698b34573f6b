//! Errors, warnings and notes about a rules file, and their compiler-style rendering:
//!
//! ```text
//! rules/web.armr:4:23: error: port 70000 is above 65535
//!   4 |     connect("10.0.0.1:70000")
//!     |                       ^^^^^
//!   = hint: a port is 0 (any port) or a number from 1 to 65535
//! ```
//!
//! Every message and hint lives in [`DiagnosticKind::message`] and [`DiagnosticKind::hint`], so
//! that `docs/rules.md` and the tests can list them all.

use super::source::SourceFile;
use super::vocabulary::{self, and_list, or_list};
use std::fmt::Write as _;

/// A byte range in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start,
            end: end.max(start),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warning,
    Note,
}

impl Level {
    pub fn as_str(&self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "note",
        }
    }
}

/// One finding, tied to a place in a file (or to the whole file when `span` is `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub level: Level,
    pub kind: DiagnosticKind,
    pub span: Option<Span>,
}

impl Diagnostic {
    pub fn error(kind: DiagnosticKind, span: Span) -> Diagnostic {
        Diagnostic {
            level: Level::Error,
            kind,
            span: Some(span),
        }
    }

    pub fn warning(kind: DiagnosticKind, span: Span) -> Diagnostic {
        Diagnostic {
            level: Level::Warning,
            kind,
            span: Some(span),
        }
    }

    pub fn note(kind: DiagnosticKind, span: Span) -> Diagnostic {
        Diagnostic {
            level: Level::Note,
            kind,
            span: Some(span),
        }
    }

    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }

    /// The first line alone: `FILE:LINE:COL: error: WHAT` (or `FILE: error: WHAT`).
    pub fn headline(&self, file: &SourceFile) -> String {
        let place = match self.span {
            Some(span) => {
                let (line, column) = file.line_column(span.start);
                format!("{}:{line}:{column}", file.name)
            }
            None => file.name.to_string(),
        };
        format!("{place}: {}: {}", self.level.as_str(), self.kind.message())
    }

    /// The headline, the source line with a caret under the offending text, and the hint.
    pub fn render(&self, file: &SourceFile) -> String {
        let mut out = self.headline(file);
        out.push('\n');
        if let Some(span) = self.span {
            let (line, _) = file.line_column(span.start);
            let text = file.line_text(line);
            let line_start = file.line_start(line);
            let gutter = line.to_string();
            let pad = " ".repeat(gutter.len());
            let _ = writeln!(out, "  {gutter} | {}", printable(text));
            // The span may start after the text shown (at a stripped `\r`, or at the end).
            let line_end = line_start + text.len();
            let (start, end) = (span.start.min(line_end), span.end.min(line_end));
            let before = text.get(..start - line_start).unwrap_or(text);
            let underlined = file.text.get(start..end.max(start)).unwrap_or("");
            let width = display_width(underlined).max(1);
            let _ = writeln!(out, "  {pad} | {}{}", indent(before), "^".repeat(width));
        }
        if let Some(hint) = self.kind.hint() {
            let _ = writeln!(out, "  = hint: {hint}");
        }
        out
    }
}

/// The blank that puts a caret under the character after `before` in a terminal: the source's
/// own tabs (whose width only the terminal knows), and between them as many spaces as the text
/// takes columns. Columns, not characters: a CJK character or an emoji takes two, a combining
/// accent none (`unicode-width` knows each character's width, as rustc's renderer does).
fn indent(before: &str) -> String {
    let mut out = String::new();
    for (i, run) in before.split('\t').enumerate() {
        if i > 0 {
            out.push('\t');
        }
        out.extend(std::iter::repeat_n(' ', display_width(run)));
    }
    out
}

/// Terminal columns that `text` takes as [`printable`] shows it (a control character as `?`).
fn display_width(text: &str) -> usize {
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
    if text.chars().any(|c| c.is_control()) {
        text.chars()
            .map(|c| {
                if c.is_control() {
                    1
                } else {
                    c.width().unwrap_or(0)
                }
            })
            .sum()
    } else {
        text.width()
    }
}

/// A source line made safe for a terminal: control characters other than tab are shown as `?`.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\t' { '?' } else { c })
        .collect()
}

/// A path as a shell command takes it: as it is when it holds only safe characters, else in
/// single quotes (control characters escaped, so that none reaches the terminal).
fn shell_word(path: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c);
    if !path.is_empty() && path.chars().all(safe) {
        return path.into();
    }
    let mut out = String::from("'");
    for c in path.chars() {
        match c {
            '\'' => out.push_str("'\\''"),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Quotes user text for a message: control characters are escaped so that no file can write to
/// the terminal through armr's diagnostics.
pub(crate) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('`');
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.push('`');
    out
}

/// A rule that can never win ([`DiagnosticKind::ShadowedRule`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Shadowing {
    pub rule: String,
    /// `connect`, `accept`, `bind(server:)`, `bind(client:)`.
    pub condition: &'static str,
    /// The rule that matches every event `rule` matches and is chosen first.
    pub by: String,
    /// Where `by` is: `FILE:LINE:COLUMN`.
    pub at: String,
    /// The selection step that decides: `no wildcard`, `action`, `defined first`.
    pub reason: &'static str,
}

/// Defines [`DiagnosticKind`] as written inside it, and with it the list of every kind's name
/// ([`DiagnosticKind::NAMES`]) and [`DiagnosticKind::name`]: generated from the one definition, so
/// that a test can require a pinned case for every kind, including a kind added later.
macro_rules! diagnostic_kinds {
    (
        $(#[$meta:meta])*
        pub enum DiagnosticKind {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident $({
                    $( $(#[$field_meta:meta])* $field:ident : $ty:ty ),* $(,)?
                })?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub enum DiagnosticKind {
            $(
                $(#[$variant_meta])*
                $variant $({ $( $(#[$field_meta])* $field: $ty ),* })?
            ),*
        }

        impl DiagnosticKind {
            /// The name of every kind, in the order of the definition.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($variant)),*];

            /// This kind's name, as in [`DiagnosticKind::NAMES`].
            pub fn name(&self) -> &'static str {
                match self {
                    $(DiagnosticKind::$variant { .. } => stringify!($variant),)*
                }
            }
        }
    };
}

diagnostic_kinds! {
/// What went wrong, or what armr wants the author to know.
#[derive(Debug, Clone, PartialEq)]
pub enum DiagnosticKind {
    // --- reading the file ---
    /// The file could not be read.
    Unreadable {
        reason: String,
    },
    /// The path is not a regular file (a FIFO, a device, a socket): not read, since reading it
    /// may never end (a FIFO waits for a writer, `/dev/zero` never ends).
    NotRegularFile {
        /// `a named pipe (FIFO)`, `a character device`, ...
        what: &'static str,
    },
    /// The file is larger than [`super::source::MAX_RULES_FILE`].
    TooLarge {
        bytes: u64,
    },
    /// The file is not UTF-8 text.
    NotUtf8 {
        line: u32,
        column: u32,
    },
    /// A file without a single app: no rules, surely not what the user meant to enforce.
    NoApps,

    // --- lexical and block structure ---
    UnterminatedString,
    InvalidEscape {
        escape: String,
    },
    UnterminatedComment,
    /// `expected` says what the grammar wanted here, `found` what stands there.
    Expected {
        expected: &'static str,
        found: String,
    },
    NumberOutOfRange {
        text: String,
    },
    NestingTooDeep {
        limit: usize,
    },
    /// A block (`app`, a rule, `code`) that reaches the end of the file without its `end...`.
    UnterminatedBlock {
        keyword: String,
    },
    /// An `end...` that does not close the block it stands in.
    MismatchedEnd {
        expected: String,
        found: String,
    },
    /// An `end...` with no open block of that kind.
    StrayEnd {
        found: String,
    },
    /// A keyword in the wrong case: `ApP`, `Socket`, `EndSocket`.
    KeywordCase {
        found: String,
        keyword: String,
    },
    /// A word near a keyword of its place: `conect`, `endsoket`, `Hihg`, `deny` for `protect`.
    Misspelt {
        found: String,
        /// The keyword it most likely means.
        keyword: String,
        /// What the word is not: `a statement of a socket rule`, `a severity`, ...
        what: &'static str,
    },
    /// A character that looks like ARMR's punctuation or a space but is not: a curly quote, a
    /// non-breaking space, an en dash (see [`super::lookalike`]).
    Lookalike {
        found: char,
    },
    /// Something other than `app(...)` at the top of the file.
    ExpectedApp {
        found: String,
    },
    /// A rule or app header not followed by `:`.
    MissingColon {
        keyword: String,
    },

    // --- app level ---
    MissingAppName,
    MissingRequires {
        app: String,
    },
    RequiresAfterRule,
    UnknownRequiresKey {
        key: String,
    },
    RequiresWithoutVersion,
    UnknownLanguage {
        text: String,
    },
    UnsupportedVersion {
        version: String,
    },
    FeatureNeedsVersion {
        feature: &'static str,
        needs: String,
        have: String,
    },
    UnknownDeclaration {
        name: String,
    },
    /// A rule kind the language does not have, whose block holds a socket condition: surely a
    /// misspelt `socket` rule.
    UnknownRuleKind {
        kind: String,
    },
    /// A well-formed block of a rule kind the language does not have: skipped, as the
    /// specification says.
    UnknownRuleKindSkipped {
        kind: String,
        rule: String,
    },
    EmptyApp {
        app: String,
    },
    DuplicateApp {
        app: String,
        version: u32,
        /// Where the other one is: `FILE:LINE:COLUMN` of its name.
        first: String,
    },
    /// A second app of the same name with a lower version: ignored.
    AppReplaced {
        app: String,
        version: u32,
        winner: u32,
    },
    BadAppVersion {
        text: String,
    },
    DuplicateRule {
        rule: String,
    },
    MissingRuleName {
        kind: String,
    },
    UnknownRuleParameter {
        name: String,
    },
    UnknownOs {
        name: String,
    },
    /// `os: []`.
    EmptyOsList,
    /// `os: ["linux"]`: operating systems are constants.
    QuotedOs {
        text: String,
    },
    /// A well-formed rule of a kind armr does not enforce: skipped.
    SkippedRuleKind {
        kind: String,
        rule: String,
    },
    /// A rule whose `os:` list leaves Linux out: skipped.
    SkippedForOs {
        rule: String,
    },

    // --- socket rules ---
    UnknownStatement {
        name: String,
    },
    DuplicateStatement {
        name: String,
    },
    TwoConditions {
        first: String,
        second: String,
    },
    TwoActions {
        first: String,
        second: String,
    },
    NoCondition {
        rule: String,
    },
    NoAction {
        rule: String,
    },
    UnexpectedBlock {
        name: String,
    },
    DuplicateParameter {
        name: String,
    },
    UnexpectedArgument {
        statement: String,
    },
    ExpectedString {
        what: &'static str,
    },
    BindWithoutKey,
    UnknownBindKey {
        key: String,
    },
    DetectWithoutMessage,
    UnknownActionParameter {
        name: String,
    },
    BadSeverity {
        text: String,
    },
    BadStacktrace {
        text: String,
    },
    Unsupported {
        feature: &'static str,
    },

    // --- metadata ---
    MetadataLogNotDictionary,
    DuplicateMetadataKey {
        key: String,
    },
    ReservedMetadataKey {
        key: String,
    },
    BadMetadataKey {
        key: String,
    },
    BadMetadataValue {
        key: String,
    },
    /// `metadata()`, or one whose only entry is an empty `log: {}`.
    EmptyMetadata,
    /// A standardized metadata key (`cve`, `cvss`, ...) whose value does not have its shape.
    BadStandardMetadata {
        key: String,
        expected: &'static str,
    },

    // --- addresses ---
    MissingPort {
        address: String,
    },
    MissingHost,
    BadPort {
        text: String,
    },
    PortOutOfRange {
        text: String,
    },
    PortRangeWithZero,
    PortRangeReversed {
        start: u16,
        end: u16,
    },
    BadIpv4 {
        text: String,
    },
    BadIpv6 {
        text: String,
    },
    BadHostname {
        text: String,
    },
    BadCidrPrefix {
        text: String,
        max: u8,
    },
    CidrHostBits {
        text: String,
        network: String,
    },
    HostnameInBind {
        text: String,
    },
    /// A hostname of one label other than `localhost` (`any:0`): a typo more often than a name.
    DotlessHostname {
        name: String,
    },

    // --- the rules together (`armr check`) ---
    /// A rule that can never win: another matches every event it matches and is chosen first.
    ShadowedRule {
        /// Boxed: a kind rides in every parser result, so it stays small.
        shadow: Box<Shadowing>,
    },
    /// A rules file, or the directory that holds it, that its group or others may write.
    WritableByOthers {
        /// `rules file` or `directory`.
        what: &'static str,
        path: String,
        mode: u32,
    },
    CidrInBind {
        text: String,
    },
}
}

impl DiagnosticKind {
    /// The one-line message after `error:`.
    pub fn message(&self) -> String {
        use DiagnosticKind::*;
        match self {
            Unreadable { reason } => format!("cannot read the rules file: {reason}"),
            NotRegularFile { what } => {
                format!("cannot read the rules file: it is {what}, not a regular file")
            }
            TooLarge { bytes } => format!(
                "the rules file is {bytes} bytes, more than the {} (64 MiB) armr reads",
                super::source::MAX_RULES_FILE
            ),
            NotUtf8 { line, column } => {
                format!(
                    "the file is not UTF-8 text (first bad byte at line {line}, column {column})"
                )
            }
            NoApps => "the file holds no app, so no rules".into(),
            UnterminatedString => "unterminated string".into(),
            InvalidEscape { escape } => format!("invalid escape {} in a string", quoted(escape)),
            UnterminatedComment => "unterminated block comment".into(),
            Expected { expected, found } => format!("expected {expected}, found {found}"),
            NumberOutOfRange { text } => format!("number {} is too large", quoted(text)),
            NestingTooDeep { limit } => format!("nesting deeper than {limit} levels"),
            UnterminatedBlock { keyword } => {
                format!("{} block is never closed", quoted(keyword))
            }
            MismatchedEnd { expected, found } => {
                format!(
                    "expected {} here, found {}",
                    quoted(expected),
                    quoted(found)
                )
            }
            StrayEnd { found } => format!("{} closes no open block", quoted(found)),
            KeywordCase { found, keyword } => {
                format!(
                    "{} is not a keyword: keywords are lowercase ({})",
                    quoted(found),
                    quoted(keyword)
                )
            }
            Misspelt { found, what, .. } => format!("{} is not {what}", quoted(found)),
            Lookalike { found } => format!(
                "{} is not {}",
                super::lookalike::describe(*found),
                super::lookalike::expected(*found)
            ),
            ExpectedApp { found } => format!("expected `app(...)`, found {found}"),
            MissingColon { keyword } => {
                format!(
                    "expected `:` after {} to open its block",
                    quoted(&format!("{keyword}(...)"))
                )
            }
            MissingAppName => "app has no name".into(),
            MissingRequires { app } => {
                format!(
                    "app {} has no `requires(version: ...)` declaration",
                    quoted(app)
                )
            }
            RequiresAfterRule => "`requires` must come before the first rule of the app".into(),
            UnknownRequiresKey { key } => {
                format!("unknown `requires` parameter {}", quoted(key))
            }
            RequiresWithoutVersion => "`requires` does not say which language version".into(),
            UnknownLanguage { text } => format!("unknown language version {}", quoted(text)),
            UnsupportedVersion { version } => {
                format!("language version {} is not supported", quoted(version))
            }
            FeatureNeedsVersion {
                feature,
                needs,
                have,
            } => {
                format!(
                    "{feature} need {} or later, but the app requires {}",
                    quoted(needs),
                    quoted(have)
                )
            }
            UnknownDeclaration { name } => format!("unrecognised declaration {}", quoted(name)),
            UnknownRuleKind { kind } => format!("unknown rule kind {}", quoted(kind)),
            UnknownRuleKindSkipped { kind, rule } => format!(
                "unknown rule kind {}: rule {} skipped",
                quoted(kind),
                quoted(rule)
            ),
            EmptyApp { app } => format!("app {} holds no rules", quoted(app)),
            DuplicateApp {
                app,
                version,
                first,
            } => {
                format!(
                    "app {} version {version} is defined twice (first at {first})",
                    quoted(app)
                )
            }
            AppReplaced {
                app,
                version,
                winner,
            } => format!(
                "app {} version {version} is ignored: version {winner} of the same app replaces it",
                quoted(app)
            ),
            BadAppVersion { text } => {
                format!(
                    "app version {} is not a positive whole number",
                    quoted(text)
                )
            }
            DuplicateRule { rule } => {
                format!("rule name {} is used twice in this app", quoted(rule))
            }
            MissingRuleName { kind } => format!("{} rule has no name", quoted(kind)),
            UnknownRuleParameter { name } => format!("unknown rule parameter {}", quoted(name)),
            UnknownOs { name } => format!("unknown operating system {}", quoted(name)),
            EmptyOsList => "`os` names no operating system".into(),
            QuotedOs { text } => {
                format!(
                    "operating system {} is written without quotes",
                    quoted(text)
                )
            }
            SkippedRuleKind { kind, rule } => format!(
                "{} rule {} skipped: armr enforces socket rules only",
                quoted(kind),
                quoted(rule)
            ),
            SkippedForOs { rule } => {
                format!(
                    "rule {} skipped: its `os` list does not include linux",
                    quoted(rule)
                )
            }
            UnknownStatement { name } => {
                format!("{} is not a statement of a socket rule", quoted(name))
            }
            DuplicateStatement { name } => {
                format!("{} appears twice in this rule", quoted(name))
            }
            TwoConditions { first, second } => format!(
                "a socket rule has one condition, but this one has {} and {}",
                quoted(first),
                quoted(second)
            ),
            TwoActions { first, second } => format!(
                "a socket rule has one action, but this one has {} and {}",
                quoted(first),
                quoted(second)
            ),
            NoCondition { rule } => format!("socket rule {} has no condition", quoted(rule)),
            NoAction { rule } => format!("socket rule {} has no action", quoted(rule)),
            UnexpectedBlock { name } => {
                format!("{} cannot open a block inside a socket rule", quoted(name))
            }
            DuplicateParameter { name } => format!("parameter {} is given twice", quoted(name)),
            UnexpectedArgument { statement } => {
                format!("unexpected argument to {}", quoted(statement))
            }
            ExpectedString { what } => format!("{what} must be a quoted string"),
            BindWithoutKey => "`bind` needs `client:` or `server:` before its address".into(),
            UnknownBindKey { key } => format!("unknown `bind` parameter {}", quoted(key)),
            DetectWithoutMessage => "`detect` needs a `message`".into(),
            UnknownActionParameter { name } => {
                format!("unknown action parameter {}", quoted(name))
            }
            BadSeverity { text } => format!("invalid severity {}", quoted(text)),
            BadStacktrace { text } => {
                format!(
                    "invalid stacktrace {}: the only value is \"full\"",
                    quoted(text)
                )
            }
            Unsupported { feature } => format!("{feature} is not supported by armr"),
            MetadataLogNotDictionary => {
                "metadata `log` must be a dictionary `{key: value, ...}`".into()
            }
            DuplicateMetadataKey { key } => format!("metadata key {} is given twice", quoted(key)),
            ReservedMetadataKey { key } => format!(
                "metadata log key {} is a field armr writes itself",
                quoted(key)
            ),
            BadMetadataKey { key } => format!("metadata log key {} is not a CEF key", quoted(key)),
            BadMetadataValue { key } => format!(
                "metadata log value of {} must be a string, number, boolean or constant",
                quoted(key)
            ),
            EmptyMetadata => "`metadata(...)` holds no entry".into(),
            BadStandardMetadata { key, expected } => {
                format!("metadata {} must be {expected}", quoted(key))
            }
            MissingPort { address } => format!("address {} has no port", quoted(address)),
            MissingHost => "address has no host before the port".into(),
            BadPort { text } => format!("invalid port {}", quoted(text)),
            PortOutOfRange { text } => format!("port {} is above 65535", quoted(text)),
            PortRangeWithZero => "a port range cannot include port 0".into(),
            PortRangeReversed { start, end } => {
                format!("port range `{start}-{end}` ends below its start")
            }
            BadIpv4 { text } => format!("invalid IPv4 address {}", quoted(text)),
            BadIpv6 { text } => format!("invalid IPv6 address {}", quoted(text)),
            BadHostname { text } => format!("invalid hostname {}", quoted(text)),
            BadCidrPrefix { text, max } => {
                format!(
                    "CIDR prefix length {} is not between 0 and {max}",
                    quoted(text)
                )
            }
            CidrHostBits { text, .. } => {
                format!("CIDR block {} has bits set after the prefix", quoted(text))
            }
            HostnameInBind { text } => {
                format!("hostname {} where `bind` needs an IP address", quoted(text))
            }
            CidrInBind { text } => {
                format!(
                    "CIDR block {} where `bind` needs an IP address",
                    quoted(text)
                )
            }
            DotlessHostname { name } => format!(
                "hostname {} has no dot: a name of one label is a host of the local network, if any",
                quoted(name)
            ),
            ShadowedRule { shadow } => {
                let Shadowing {
                    rule,
                    condition,
                    by,
                    at,
                    ..
                } = shadow.as_ref();
                format!(
                    "rule {} can never win: rule {} ({at}) matches every `{condition}` it matches and is chosen before it",
                    quoted(rule),
                    quoted(by)
                )
            }
            WritableByOthers { what, path, mode } => format!(
                "the {what} {} is writable by its group or others (mode {mode:o}): whoever can write it decides the rules",
                quoted(path)
            ),
        }
    }

    /// How to fix it, where there is something useful to say.
    pub fn hint(&self) -> Option<String> {
        use DiagnosticKind::*;
        Some(match self {
            Unreadable { .. } => "check the path given to armr (ARMR_RULES or the command line)".into(),
            NotRegularFile { .. } => "name a regular file of rules, or a directory of *.armr \
                files: a pipe, device or socket is not read (it may never end); copy the rules \
                into a file"
                .into(),
            TooLarge { .. } => "check that the path names a rules file; split a rule set this \
                large into several *.armr files in a directory"
                .into(),
            NotUtf8 { .. } => "save the rules file as UTF-8 text".into(),
            NoApps => "write `app(\"NAME\"): requires(version: ARMR/2.11) ... endapp`; to run without rules, unset ARMR_RULES".into(),
            UnterminatedString => "close the string with `\"` on the line where it starts".into(),
            InvalidEscape { .. } => {
                "the only escapes are `\\\"` and `\\\\`; write a backslash as `\\\\`".into()
            }
            UnterminatedComment => "close the comment with `*/`".into(),
            NumberOutOfRange { .. } => return None,
            NestingTooDeep { .. } => "flatten the nested lists, dictionaries or blocks".into(),
            UnterminatedBlock { keyword } => {
                format!("close it with {}", quoted(&format!("end{keyword}")))
            }
            MismatchedEnd { expected, .. } => {
                format!("every block ends with `end` and its own keyword: close this one with {}", quoted(expected))
            }
            StrayEnd { .. } => "remove it, or open the block it is meant to close".into(),
            KeywordCase { keyword, .. } => format!("write {}", quoted(keyword)),
            Misspelt { keyword, .. } => format!("did you mean {}?", quoted(keyword)),
            Lookalike { found } => super::lookalike::fix(*found),
            ExpectedApp { .. } => {
                "a rules file holds apps: `app(\"NAME\"): requires(version: ARMR/2.11) ... endapp`".into()
            }
            MissingColon { keyword } => {
                format!("write {}", quoted(&format!("{keyword}(...):")))
            }
            MissingAppName => "name it: `app(\"My service\"):`".into(),
            MissingRequires { .. } => {
                "add `requires(version: ARMR/2.11)` before the first rule".into()
            }
            RequiresAfterRule => "move `requires(...)` to the top of the app".into(),
            UnknownRequiresKey { .. } | RequiresWithoutVersion => {
                "write `requires(version: ARMR/X.Y)`".into()
            }
            UnknownLanguage { .. } => {
                "write `ARMR/X.Y` or `Rampart/X.Y`, with a version from 2.0 to 2.11".into()
            }
            UnsupportedVersion { .. } => "armr supports language versions 2.0 to 2.11".into(),
            FeatureNeedsVersion { needs, .. } => {
                format!("raise the app to `requires(version: {needs})` or later")
            }
            UnknownDeclaration { .. } => {
                "an app holds `requires(...)`, `version(...)`, `metadata(...)` and rules".into()
            }
            UnknownRuleKind { .. } => format!(
                "rule kinds are {}; a rule with `accept`, `connect` or `bind` is a `socket` rule",
                and_list(vocabulary::RULE_KINDS)
            ),
            UnknownRuleKindSkipped { .. } => format!(
                "armr knows the rule kinds {}; check the spelling if this rule is one of them",
                and_list(vocabulary::RULE_KINDS)
            ),
            EmptyApp { .. } => "add a rule, or remove the app".into(),
            DuplicateApp { .. } => {
                "give one of them another name, or a higher `version(N)` to replace the other".into()
            }
            AppReplaced { .. } => return None,
            BadAppVersion { .. } => "write `version(N)` with N of 1 or more".into(),
            DuplicateRule { .. } => "give each rule of an app its own name".into(),
            MissingRuleName { kind } => format!("name it: `{kind}(\"what the rule does\"):`"),
            UnknownRuleParameter { .. } => "a rule takes its name and `os: [...]`".into(),
            UnknownOs { .. } | EmptyOsList | QuotedOs { .. } => format!(
                "write `os: [...]` with one or more of {}, lower-case and unquoted",
                or_list(vocabulary::OPERATING_SYSTEMS)
            ),
            SkippedRuleKind { .. } | SkippedForOs { .. } => return None,
            UnknownStatement { .. } => "a socket rule holds one condition (`accept`, `connect`, \
                `bind`), one action (`protect`, `allow`, `detect`) and optionally `metadata`"
                .into(),
            DuplicateStatement { .. } => "remove one of them".into(),
            TwoConditions { .. } => "write one socket rule for each condition".into(),
            TwoActions { .. } => "keep one of `protect`, `allow` and `detect`".into(),
            NoCondition { .. } => {
                "add `accept(\"ADDR\")`, `connect(\"ADDR\")` or `bind(client: \"ADDR\")`/`bind(server: \"ADDR\")`".into()
            }
            NoAction { .. } => "add `protect(...)`, `allow(...)` or `detect(message: \"...\")`".into(),
            UnexpectedBlock { .. } => "remove the `:` after it".into(),
            DuplicateParameter { .. } => "remove one of them".into(),
            UnexpectedArgument { .. } => "remove it".into(),
            ExpectedString { .. } => "put it in double quotes".into(),
            BindWithoutKey | UnknownBindKey { .. } => {
                "write `bind(client: \"ADDR\")`, `bind(server: \"ADDR\")` or both".into()
            }
            DetectWithoutMessage => {
                "detect only logs, so it must say what: `detect(message: \"...\")`".into()
            }
            UnknownActionParameter { .. } => {
                "an action takes `message`, `severity` and `stacktrace`".into()
            }
            BadSeverity { .. } => {
                "use a number from 0 to 10 or Low, Medium (or Med), High, Very-High or Unknown".into()
            }
            BadStacktrace { .. } => "write `stacktrace: \"full\"` or leave it out".into(),
            Unsupported { .. } => {
                "armr enforces socket rules with protect, allow and detect; remove it".into()
            }
            MetadataLogNotDictionary => "write `metadata(log: {key: \"value\"})`".into(),
            DuplicateMetadataKey { .. } => "remove one of them".into(),
            ReservedMetadataKey { .. } => format!(
                "rename the key: {} are armr's",
                and_list(vocabulary::EVENT_FIELDS)
            ),
            BadMetadataKey { .. } => "use letters, digits, `_` and `-` only".into(),
            BadMetadataValue { .. } => "write the value as a quoted string".into(),
            EmptyMetadata => "write `metadata(KEY: VALUE, ...)`, or leave it out".into(),
            BadStandardMetadata { .. } => "the open Rampart specification defines this key: \
                rename the key to keep a value of another shape"
                .into(),
            MissingPort { .. } => "write `HOST:PORT`; port 0 means any port".into(),
            MissingHost => "write `HOST:PORT`; 0.0.0.0 means any address".into(),
            BadPort { .. } | PortOutOfRange { .. } => {
                "a port is 0 (any port), a number from 1 to 65535, or a range `N-M`".into()
            }
            PortRangeWithZero => "start the range at 1, or use port 0 alone for any port".into(),
            PortRangeReversed { start, end } => format!("write `{end}-{start}`"),
            BadIpv4 { .. } => "an IPv4 address is four numbers from 0 to 255: `10.0.0.1`".into(),
            BadIpv6 { .. } => {
                "write an IPv6 address bare (`::1:80`) or in brackets (`[::1]:80`)".into()
            }
            BadHostname { .. } => {
                "a hostname holds letters, digits, `-` and `.`: `db.internal:5432`".into()
            }
            BadCidrPrefix { .. } => "write the block as `10.0.0.0/8` or `[fd00::/8]`".into(),
            CidrHostBits { network, .. } => format!("did you mean {}?", quoted(network)),
            HostnameInBind { .. } | CidrInBind { .. } => {
                "bind names a local address: an IP address, or 0.0.0.0 for all of them".into()
            }
            DotlessHostname { name } => match name.as_str() {
                "any" | "all" | "anywhere" | "everywhere" | "every" | "anyhost" | "any-host"
                | "star" | "wildcard" => {
                    "for any address write `0.0.0.0` (it matches IPv4 and IPv6); for this host, `localhost`"
                        .into()
                }
                _ => "write the full name (`db.internal`), `localhost`, or an IP address: what a name of one label reaches depends on the resolver's search domains"
                    .into(),
            },
            ShadowedRule { shadow } => {
                let why = match shadow.reason {
                    "no wildcard" => {
                        "a rule without a wildcard (any-address, CIDR block or port 0) is chosen before one with"
                    }
                    "action" => {
                        "between rules that both have a wildcard, or neither, allow is chosen before protect, and protect before detect"
                    }
                    _ => "between rules of the same wildcards and action, the one defined first is chosen",
                };
                format!("{why}; remove this rule, or change one of the two")
            }
            WritableByOthers { path, .. } => format!("chmod go-w {}", shell_word(path)),
            Expected { .. } => return None,
        })
    }
}
