//! Characters that look like ARMR's punctuation or spaces but are not: what text pasted from a
//! word processor, a web page or a chat brings (curly quotes, a non-breaking space, an en dash in
//! a port range, a zero-width space, a full-width colon). An error at one names it, with its code
//! point, and says what to write instead.

/// What a look-alike stands in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Means {
    DoubleQuote,
    SingleQuote,
    Space,
    /// A character that shows as nothing (zero-width space, word joiner, soft hyphen).
    Invisible,
    Hyphen,
    Colon,
    Comma,
    Stop,
    OpenParen,
    CloseParen,
    OpenBracket,
    CloseBracket,
    OpenBrace,
    CloseBrace,
}

/// Each look-alike with its Unicode name.
const TABLE: &[(char, &str, Means)] = &[
    ('\u{201C}', "LEFT DOUBLE QUOTATION MARK", Means::DoubleQuote),
    (
        '\u{201D}',
        "RIGHT DOUBLE QUOTATION MARK",
        Means::DoubleQuote,
    ),
    (
        '\u{201E}',
        "DOUBLE LOW-9 QUOTATION MARK",
        Means::DoubleQuote,
    ),
    (
        '\u{201F}',
        "DOUBLE HIGH-REVERSED-9 QUOTATION MARK",
        Means::DoubleQuote,
    ),
    (
        '\u{00AB}',
        "LEFT-POINTING DOUBLE ANGLE QUOTATION MARK",
        Means::DoubleQuote,
    ),
    (
        '\u{00BB}',
        "RIGHT-POINTING DOUBLE ANGLE QUOTATION MARK",
        Means::DoubleQuote,
    ),
    ('\u{2033}', "DOUBLE PRIME", Means::DoubleQuote),
    ('\u{FF02}', "FULLWIDTH QUOTATION MARK", Means::DoubleQuote),
    ('\'', "APOSTROPHE", Means::SingleQuote),
    ('\u{2018}', "LEFT SINGLE QUOTATION MARK", Means::SingleQuote),
    (
        '\u{2019}',
        "RIGHT SINGLE QUOTATION MARK",
        Means::SingleQuote,
    ),
    (
        '\u{201A}',
        "SINGLE LOW-9 QUOTATION MARK",
        Means::SingleQuote,
    ),
    ('\u{2032}', "PRIME", Means::SingleQuote),
    ('\u{00A0}', "NO-BREAK SPACE", Means::Space),
    ('\u{202F}', "NARROW NO-BREAK SPACE", Means::Space),
    ('\u{2007}', "FIGURE SPACE", Means::Space),
    ('\u{2002}', "EN SPACE", Means::Space),
    ('\u{2003}', "EM SPACE", Means::Space),
    ('\u{2009}', "THIN SPACE", Means::Space),
    ('\u{200A}', "HAIR SPACE", Means::Space),
    ('\u{3000}', "IDEOGRAPHIC SPACE", Means::Space),
    ('\u{200B}', "ZERO WIDTH SPACE", Means::Invisible),
    ('\u{200C}', "ZERO WIDTH NON-JOINER", Means::Invisible),
    ('\u{200D}', "ZERO WIDTH JOINER", Means::Invisible),
    ('\u{2060}', "WORD JOINER", Means::Invisible),
    ('\u{FEFF}', "ZERO WIDTH NO-BREAK SPACE", Means::Invisible),
    ('\u{00AD}', "SOFT HYPHEN", Means::Invisible),
    ('\u{2010}', "HYPHEN", Means::Hyphen),
    ('\u{2011}', "NON-BREAKING HYPHEN", Means::Hyphen),
    ('\u{2012}', "FIGURE DASH", Means::Hyphen),
    ('\u{2013}', "EN DASH", Means::Hyphen),
    ('\u{2014}', "EM DASH", Means::Hyphen),
    ('\u{2015}', "HORIZONTAL BAR", Means::Hyphen),
    ('\u{2212}', "MINUS SIGN", Means::Hyphen),
    ('\u{FF0D}', "FULLWIDTH HYPHEN-MINUS", Means::Hyphen),
    ('\u{FF1A}', "FULLWIDTH COLON", Means::Colon),
    ('\u{2236}', "RATIO", Means::Colon),
    ('\u{FE55}', "SMALL COLON", Means::Colon),
    ('\u{FF0C}', "FULLWIDTH COMMA", Means::Comma),
    ('\u{3001}', "IDEOGRAPHIC COMMA", Means::Comma),
    ('\u{FF0E}', "FULLWIDTH FULL STOP", Means::Stop),
    ('\u{3002}', "IDEOGRAPHIC FULL STOP", Means::Stop),
    ('\u{FF08}', "FULLWIDTH LEFT PARENTHESIS", Means::OpenParen),
    ('\u{FF09}', "FULLWIDTH RIGHT PARENTHESIS", Means::CloseParen),
    (
        '\u{FF3B}',
        "FULLWIDTH LEFT SQUARE BRACKET",
        Means::OpenBracket,
    ),
    (
        '\u{FF3D}',
        "FULLWIDTH RIGHT SQUARE BRACKET",
        Means::CloseBracket,
    ),
    ('\u{FF5B}', "FULLWIDTH LEFT CURLY BRACKET", Means::OpenBrace),
    (
        '\u{FF5D}',
        "FULLWIDTH RIGHT CURLY BRACKET",
        Means::CloseBrace,
    ),
];

/// The Unicode name of a look-alike and what it stands in for, or `None` for any other character.
pub fn lookup(c: char) -> Option<(&'static str, Means)> {
    TABLE
        .iter()
        .find(|(k, _, _)| *k == c)
        .map(|&(_, name, means)| (name, means))
}

/// True for a look-alike of a space or an invisible one: the reader reports it and reads on as
/// if it were a space, so that one pasted space is one error.
pub fn is_blank(c: char) -> bool {
    matches!(lookup(c), Some((_, Means::Space | Means::Invisible)))
}

/// The byte offset and character of the first look-alike in `text`. The ASCII apostrophe is left
/// out: inside a string it is only an apostrophe.
pub fn first_in(text: &str) -> Option<(usize, char)> {
    if text.is_ascii() {
        return None; // nearly every address: one fast scan
    }
    text.char_indices()
        .find(|&(_, c)| !c.is_ascii() && lookup(c).is_some())
}

/// The character as a message shows it: `“` (U+201C LEFT DOUBLE QUOTATION MARK), or the code
/// point and name alone for one that shows as blank.
pub fn describe(c: char) -> String {
    let (name, means) = lookup(c).unwrap_or(("", Means::Invisible));
    let code = format!("U+{:04X} {name}", u32::from(c));
    match means {
        Means::Space | Means::Invisible => code,
        _ => format!("`{c}` ({code})"),
    }
}

/// What ARMR wants in its place, for the message: `a straight quote`.
pub fn expected(c: char) -> &'static str {
    match lookup(c).map(|(_, means)| means) {
        Some(Means::DoubleQuote | Means::SingleQuote) => "a straight double quote",
        Some(Means::Space) => "a plain space",
        Some(Means::Invisible) | None => "allowed here (it does not show)",
        Some(Means::Hyphen) => "a hyphen-minus `-`",
        Some(Means::Colon) => "a colon `:`",
        Some(Means::Comma) => "a comma `,`",
        Some(Means::Stop) => "a full stop `.`",
        Some(Means::OpenParen) => "`(`",
        Some(Means::CloseParen) => "`)`",
        Some(Means::OpenBracket) => "`[`",
        Some(Means::CloseBracket) => "`]`",
        Some(Means::OpenBrace) => "`{`",
        Some(Means::CloseBrace) => "`}`",
    }
}

/// The fix.
pub fn fix(c: char) -> String {
    let plain = match lookup(c).map(|(_, means)| means) {
        Some(Means::DoubleQuote) => {
            return "write a straight quote `\"`: text pasted from a document or a web page \
                    often brings curly quotes"
                .into();
        }
        Some(Means::SingleQuote) => {
            return "write a straight double quote `\"`: ARMR strings are double-quoted".into();
        }
        Some(Means::Space) => {
            return "write a plain space: text pasted from a document or a web page often brings \
                    non-breaking spaces"
                .into();
        }
        Some(Means::Invisible) | None => {
            return "delete it: it does not show, and pasted text often brings it".into();
        }
        Some(Means::Hyphen) => "-",
        Some(Means::Colon) => ":",
        Some(Means::Comma) => ",",
        Some(Means::Stop) => ".",
        Some(Means::OpenParen) => "(",
        Some(Means::CloseParen) => ")",
        Some(Means::OpenBracket) => "[",
        Some(Means::CloseBracket) => "]",
        Some(Means::OpenBrace) => "{",
        Some(Means::CloseBrace) => "}",
    };
    format!("write `{plain}`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lookalike_is_named_once() {
        for (i, (c, name, _)) in TABLE.iter().enumerate() {
            assert!(!name.is_empty());
            assert!(TABLE[i + 1..].iter().all(|(k, _, _)| k != c), "{c:?} twice");
        }
    }

    #[test]
    fn descriptions_show_visible_characters_and_name_blank_ones() {
        assert_eq!(
            describe('\u{201C}'),
            "`“` (U+201C LEFT DOUBLE QUOTATION MARK)"
        );
        assert_eq!(describe('\u{A0}'), "U+00A0 NO-BREAK SPACE");
        assert_eq!(fix('\u{2013}'), "write `-`");
        assert!(is_blank('\u{200B}') && is_blank('\u{A0}') && !is_blank('\u{2013}'));
        assert_eq!(first_in("80\u{2013}90"), Some((2, '\u{2013}')));
        assert_eq!(first_in("it's"), None);
    }
}
