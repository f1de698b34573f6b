//! Fuzz target `parse`: arbitrary bytes through the whole rule-language front end.
//!
//! `SourceFile::from_bytes` -> `load` -> `FileReport::render`, checking on the way what must hold
//! for every input, valid or not (see docs/fuzzing.md):
//!
//! - nothing panics (index out of range, slicing inside a UTF-8 character, overflow, ...);
//! - non-UTF-8 input is refused with a `NotUtf8` diagnostic that has no span and a line and column
//!   from 1; UTF-8 input is accepted, losing at most a leading byte order mark;
//! - every diagnostic span lies within the text, has `start <= end` and both ends on character
//!   boundaries, and diagnostics come sorted by where they start;
//! - every diagnostic renders to non-empty text that names its level and holds no control
//!   character other than line breaks and tabs; the whole report renders;
//! - `is_ok()` agrees with the error count, and when it holds: the file's `socket_rules` count is
//!   the number of rules in the rule set, every app and rule has a location of line >= 1 and
//!   column >= 1 within the file, a non-empty name, and rule names are unique within an app; a
//!   detect rule has a message; every address written back in its canonical form parses again
//!   to the same pattern.

#![no_main]

use armr::language::address::{AddressContext, parse_address};
use armr::language::{
    Action, AddressPattern, Condition, DiagnosticKind, Load, Location, SourceFile, load,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    #[cfg(feature = "mask-lone-cr")]
    let masked = mask_lone_cr(data);
    #[cfg(feature = "mask-lone-cr")]
    let data: &[u8] = &masked;

    let source = match SourceFile::from_bytes("fuzz.armr".into(), data.to_vec()) {
        Ok(source) => source,
        Err(diagnostic) => {
            assert!(std::str::from_utf8(data).is_err(), "valid UTF-8 refused");
            assert!(diagnostic.is_error());
            assert!(diagnostic.span.is_none());
            match diagnostic.kind {
                DiagnosticKind::NotUtf8 { line, column } => assert!(line >= 1 && column >= 1),
                other => panic!("non-UTF-8 input gave {other:?}"),
            }
            return;
        }
    };
    let text = std::str::from_utf8(data).expect("invalid UTF-8 accepted");
    assert_eq!(source.text, text.strip_prefix('\u{feff}').unwrap_or(text));

    let loaded = load(vec![source]);
    check(&loaded);
});

fn check(loaded: &Load) {
    assert_eq!(loaded.files.len(), 1);
    let file = &loaded.files[0];
    let text = &file.source.text;
    let mut previous_start = 0;
    for d in &file.diagnostics {
        if let Some(span) = d.span {
            assert!(span.start <= span.end, "span {span:?} is backwards");
            assert!(
                span.end <= text.len(),
                "span {span:?} past the end ({})",
                text.len()
            );
            assert!(
                text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
                "span {span:?} splits a character"
            );
            assert!(span.start >= previous_start, "diagnostics out of order");
            previous_start = span.start;
        }
        let rendered = d.render(&file.source);
        assert!(!rendered.is_empty());
        assert!(rendered.contains(d.level.as_str()), "{rendered}");
        // No file may write to the terminal through a diagnostic: no control character but the
        // line breaks between lines and the tabs copied to line up the caret.
        assert!(
            !rendered
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "control character in {rendered:?}"
        );
    }
    let report = file.render();
    assert_eq!(report.is_empty(), file.diagnostics.is_empty());
    let _ = file.summary();

    let errors = file.diagnostics.iter().filter(|d| d.is_error()).count();
    assert_eq!(loaded.errors(), errors);
    assert_eq!(loaded.is_ok(), errors == 0);
    if !loaded.is_ok() {
        return;
    }

    let lines = text.split('\n').count() as u32;
    let in_file = |l: &Location| {
        assert!(l.line >= 1 && l.column >= 1, "location {l}");
        assert!(l.line <= lines, "location {l} past line {lines}");
    };
    let rules: usize = loaded.rules.apps.iter().map(|a| a.rules.len()).sum();
    assert_eq!(file.socket_rules, rules);
    for app in &loaded.rules.apps {
        assert!(!app.name.is_empty());
        assert!(app.version >= 1);
        in_file(&app.location);
        let mut names = std::collections::HashSet::new();
        for rule in &app.rules {
            in_file(&rule.location);
            assert!(!rule.name.is_empty());
            assert!(
                names.insert(&*rule.name),
                "duplicate rule {}",
                rule.name
            );
            if rule.action == Action::Detect {
                assert!(rule.message.is_some(), "detect rule without a message");
            }
            match &rule.condition {
                Condition::Accept(a) | Condition::Connect(a) => {
                    round_trip(a, AddressContext::Remote)
                }
                Condition::Bind { client, server } => {
                    assert!(
                        client.is_some() || server.is_some(),
                        "bind without an address"
                    );
                    for a in client.iter().chain(server) {
                        round_trip(a, AddressContext::Bind);
                    }
                }
            }
        }
    }
}

/// An address written in its canonical form reads back as the same pattern.
fn round_trip(pattern: &AddressPattern, context: AddressContext) {
    let written = pattern.to_string();
    match parse_address(&written, context) {
        Ok(parsed) => assert_eq!(
            &parsed.pattern, pattern,
            "`{written}` reads back differently"
        ),
        Err(e) => panic!(
            "`{written}` (from {pattern:?}) does not read back: {:?}",
            e.kind
        ),
    }
}

/// With the `mask-lone-cr` feature: every `\r` that is not followed by `\n` becomes a space, so
/// that a run is not spent rediscovering the two known lone-CR panics (docs/fuzzing.md, findings
/// 1 and 2) and can look for others. CRLF line endings are kept.
#[cfg(feature = "mask-lone-cr")]
fn mask_lone_cr(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    for i in 0..out.len() {
        if out[i] == b'\r' && out.get(i + 1) != Some(&b'\n') {
            out[i] = b' ';
        }
    }
    out
}
