//! Fuzz target `address`: arbitrary UTF-8 text through `address::parse_address`, in both
//! contexts (`Bind` and `Remote`). See docs/fuzzing.md. For every input and context:
//!
//! - nothing panics;
//! - on `Ok`, the host and port byte ranges are in order, lie within the text and start and end
//!   on character boundaries (they must be usable to slice the text for a diagnostic), and the
//!   port range reaches the end of the text (the port is what follows the last colon);
//! - on `Err`, the `at` range is in order, lies within the text and is on character boundaries;
//! - on `Ok`, the pattern written in its canonical form (`Display`) parses again, in the same
//!   context, to an equal pattern, and writing that one gives the same text (the canonical form
//!   is a fixed point).
//!
//! Input that is not UTF-8 is skipped: `parse_address` takes a `&str`, and the rules file is
//! checked for UTF-8 before any address is read from it.

#![no_main]

use armr::language::address::{AddressContext, parse_address};
use libfuzzer_sys::fuzz_target;
use std::ops::Range;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for context in [AddressContext::Bind, AddressContext::Remote] {
        check(text, context);
    }
});

fn check(text: &str, context: AddressContext) {
    match parse_address(text, context) {
        Ok(parsed) => {
            in_text(text, &parsed.host, "host");
            in_text(text, &parsed.port, "port");
            assert!(
                parsed.host.end <= parsed.port.start,
                "{text:?} ({context:?}): host {:?} overlaps port {:?}",
                parsed.host,
                parsed.port
            );
            assert_eq!(
                parsed.port.end,
                text.len(),
                "{text:?} ({context:?}): port does not reach the end"
            );
            let written = parsed.pattern.to_string();
            match parse_address(&written, context) {
                Ok(again) => {
                    assert_eq!(
                        again.pattern, parsed.pattern,
                        "{text:?} ({context:?}) written as {written:?} reads back differently"
                    );
                    assert_eq!(
                        again.pattern.to_string(),
                        written,
                        "{text:?} ({context:?}): canonical form is not stable"
                    );
                }
                Err(e) => panic!(
                    "{text:?} ({context:?}) gave {:?}, written as {written:?}, which does not \
                     read back: {:?} at {:?}",
                    parsed.pattern, e.kind, e.at
                ),
            }
        }
        Err(e) => in_text(text, &e.at, "error"),
    }
}

fn in_text(text: &str, range: &Range<usize>, what: &str) {
    assert!(
        range.start <= range.end && range.end <= text.len(),
        "{text:?}: {what} range {range:?} outside 0..{}",
        text.len()
    );
    assert!(
        text.is_char_boundary(range.start) && text.is_char_boundary(range.end),
        "{text:?}: {what} range {range:?} splits a character"
    );
}
