//! The shape of a rules file, before any meaning is given to it.
//!
//! Every ARMR construct has one syntactic form, a *node*: a word, an argument list, and, when a
//! `:` follows, a body that ends with `end` and the same word. This module reads that tree with
//! `nom`; `validate` then gives the nodes their meaning (apps, rules, conditions, actions).
//!
//! ```text
//! file    ::= trivia (node trivia)* EOF
//! node    ::= WORD trivia args (trivia ":" body)?
//! body    ::= (trivia node)* trivia "end" WORD      -- the node's own WORD
//!           | RAW "endcode"                          -- when WORD is `code`: opaque text
//! args    ::= "(" trivia (arg (trivia "," trivia arg)* (trivia ",")?)? trivia ")"
//! arg     ::= WORD trivia ":" trivia value | value
//! value   ::= STRING | NUMBER | WORD | list | dict   -- WORD true/false (any case) is a boolean,
//!                                                     -- any other WORD a constant
//! list    ::= "[" trivia (value (trivia "," trivia value)* (trivia ",")?)? trivia "]"
//! dict    ::= "{" trivia (key trivia ":" trivia value (trivia "," trivia key ...)*)? trivia "}"
//! key     ::= WORD | STRING
//! WORD    ::= [A-Za-z_] [A-Za-z0-9_./-]*              -- never containing `//` or `/*`
//! STRING  ::= '"' ( [^"\\\r\n] | '\"' | '\\' )* '"'   -- one line; `\"` and `\\` only
//! NUMBER  ::= "-"? [0-9]+ ("." [0-9]+)?
//! trivia  ::= ( whitespace | "#" ... EOL | "//" ... EOL | "/*" ... "*/" )*
//! ```
//!
//! Errors do not stop the parse: the broken statement is reported, skipped up to its closing `)`
//! (or to the next line that starts a statement or an `end...`), and reading goes on, so that one
//! run reports every independent mistake. The containing block is marked `broken` so that checks
//! for missing statements do not pile on. Recursion is bounded by [`MAX_BLOCK_DEPTH`] and
//! [`MAX_VALUE_DEPTH`].

use super::diagnostic::{Diagnostic, DiagnosticKind, Span, quoted};
use super::vocabulary;
use nom::branch::alt;
use nom::bytes::complete::take_until;
use nom::character::complete::{char, digit1};
use nom::combinator::{opt, recognize};
use nom::error::{ErrorKind, ParseError};
use nom::sequence::{pair, preceded};
use nom::{Err as NomErr, IResult, Parser};
use std::borrow::Cow;

/// Blocks nest app > rule > `code`; anything deeper than this is an error, not recursion.
pub const MAX_BLOCK_DEPTH: usize = 8;
/// Lists and dictionaries inside arguments.
pub const MAX_VALUE_DEPTH: usize = 16;

/// A run of items in one of a [`Tree`]'s arenas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Items {
    start: usize,
    end: usize,
}

impl Items {
    fn range(self) -> std::ops::Range<usize> {
        self.start..self.end
    }
}

/// The nodes of one top-level node and everything in it, in flat arenas that the reader reuses
/// from one top-level node to the next: reading a file allocates for its largest app, not for
/// every statement, and nothing is freed node by node.
#[derive(Debug, Default)]
pub struct Tree<'a> {
    nodes: Vec<NodeData<'a>>,
    args: Vec<Arg<'a>>,
    values: Vec<Value<'a>>,
    entries: Vec<(Key<'a>, Value<'a>)>,
}

impl<'a> Tree<'a> {
    fn clear(&mut self) {
        self.nodes.clear();
        self.args.clear();
        self.values.clear();
        self.entries.clear();
    }
}

#[derive(Debug, Clone, Copy)]
struct NodeData<'a> {
    name: &'a str,
    args: Items,
    args_text: &'a str,
    broken_header: bool,
    body: Option<BodyData<'a>>,
}

#[derive(Debug, Clone, Copy)]
enum BodyData<'a> {
    Nodes { nodes: Items, broken: bool },
    Raw(&'a str),
}

/// A node of a [`Tree`] (`'t`), its text borrowed from the source (`'a`).
#[derive(Clone, Copy)]
pub struct Node<'t, 'a> {
    /// The word, a slice of the source.
    pub name: &'a str,
    pub args: &'t [Arg<'a>],
    /// From `(` to `)` inclusive.
    pub args_text: &'a str,
    /// True when the argument list failed to parse (and `args` is empty): the error is reported.
    pub broken_header: bool,
    pub body: Option<Body<'t, 'a>>,
    tree: &'t Tree<'a>,
}

#[derive(Debug, Clone, Copy)]
pub enum Body<'t, 'a> {
    Nodes {
        nodes: Nodes<'t, 'a>,
        /// True when a statement of this block failed to parse and was skipped.
        broken: bool,
    },
    /// The opaque text of a `code(...): ... endcode` block.
    Raw(&'a str),
}

/// The statements of a block, in written order.
#[derive(Clone, Copy)]
pub struct Nodes<'t, 'a> {
    tree: &'t Tree<'a>,
    items: &'t [NodeData<'a>],
}

// By hand, so that a node shows its own contents rather than the whole tree it points into.
impl std::fmt::Debug for Node<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.name)
            .field("args", &self.args)
            .field("args_text", &self.args_text)
            .field("broken_header", &self.broken_header)
            .field("body", &self.body)
            .finish()
    }
}

impl std::fmt::Debug for Nodes<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'t, 'a> Node<'t, 'a> {
    fn new(tree: &'t Tree<'a>, data: &NodeData<'a>) -> Self {
        Node {
            name: data.name,
            args: tree.args.get(data.args.range()).unwrap_or_default(),
            args_text: data.args_text,
            broken_header: data.broken_header,
            body: data.body.map(|body| match body {
                BodyData::Nodes { nodes, broken } => Body::Nodes {
                    nodes: Nodes {
                        tree,
                        items: tree.nodes.get(nodes.range()).unwrap_or_default(),
                    },
                    broken,
                },
                BodyData::Raw(raw) => Body::Raw(raw),
            }),
            tree,
        }
    }

    /// The items of a [`ValueKind::List`] of this node's arguments.
    pub fn list(&self, items: Items) -> &'t [Value<'a>] {
        self.tree.values.get(items.range()).unwrap_or_default()
    }

    /// The entries of a [`ValueKind::Dict`] of this node's arguments.
    pub fn dict(&self, items: Items) -> &'t [(Key<'a>, Value<'a>)] {
        self.tree.entries.get(items.range()).unwrap_or_default()
    }
}

impl<'t, 'a> Nodes<'t, 'a> {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Node<'t, 'a>> + Clone + use<'t, 'a> {
        let tree = self.tree;
        self.items.iter().map(move |data| Node::new(tree, data))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arg<'a> {
    pub key: Option<&'a str>,
    pub value: Value<'a>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Value<'a> {
    pub kind: ValueKind<'a>,
    /// The value as written, a slice of the source (with the quotes, for a string).
    pub text: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind<'a> {
    /// Unescaped content; borrowed when the string holds no escape, so that its characters map
    /// one to one onto the source after the opening quote.
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Const(&'a str),
    /// Items of the tree, see [`Node::list`].
    List(Items),
    /// Entries of the tree, see [`Node::dict`].
    Dict(Items),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key<'a> {
    pub name: Cow<'a, str>,
    pub text: &'a str,
}

impl<'a> Value<'a> {
    /// The text of a string value, or `None` for any other kind.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            ValueKind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a string or constant value.
    pub fn as_str_or_const(&self) -> Option<&str> {
        match &self.kind {
            ValueKind::Str(s) => Some(s),
            ValueKind::Const(c) => Some(c),
            _ => None,
        }
    }
}

/// A syntax error at `at` (a suffix of the source) covering `len` bytes.
#[derive(Debug)]
pub struct SyntaxError<'a> {
    at: &'a str,
    len: usize,
    kind: DiagnosticKind,
}

impl<'a> SyntaxError<'a> {
    fn expected(at: &'a str, expected: &'static str) -> Self {
        let (found, len) = describe(at);
        SyntaxError {
            at,
            len,
            kind: DiagnosticKind::Expected { expected, found },
        }
    }
}

impl<'a> ParseError<&'a str> for SyntaxError<'a> {
    /// Cheap on purpose: nom makes these while trying alternatives, and `describe` itself runs
    /// parsers. Errors that reach the user are rebuilt with [`SyntaxError::expected`].
    fn from_error_kind(input: &'a str, _kind: ErrorKind) -> Self {
        SyntaxError {
            at: input,
            len: 0,
            kind: DiagnosticKind::Expected {
                expected: "a value",
                found: String::new(),
            },
        }
    }

    fn append(_input: &'a str, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

type PResult<'a, T> = IResult<&'a str, T, SyntaxError<'a>>;

/// Replaces a recoverable nom error by "expected WHAT, found ...".
fn expect<'a, T>(
    what: &'static str,
    mut parser: impl Parser<&'a str, Output = T, Error = SyntaxError<'a>>,
) -> impl FnMut(&'a str) -> PResult<'a, T> {
    move |i| match parser.parse(i) {
        Err(NomErr::Error(_)) => Err(NomErr::Failure(SyntaxError::expected(i, what))),
        other => other,
    }
}

/// Names what stands at `at` for an "expected X, found Y" message, with its length in bytes.
fn describe(at: &str) -> (String, usize) {
    if at.is_empty() {
        return ("the end of the file".into(), 0);
    }
    if at.starts_with('"') {
        return ("a string".into(), 1);
    }
    if let Ok((_, w)) = word(at) {
        return (quoted(w), w.len());
    }
    if let Ok((_, n)) = number_text(at) {
        return (quoted(n), n.len());
    }
    let c = at.chars().next().unwrap_or(' ');
    if c == '\n' || c == '\r' {
        return ("the end of the line".into(), 0);
    }
    (quoted(&c.to_string()), c.len_utf8())
}

/// The rest of the text after the current line's content: from its `\n` (or a lone `\r`, an old
/// Mac line break), or the empty end. Always a slice of `i`, so that offsets stay computable.
fn to_line_end(i: &str) -> &str {
    &i[i.find(['\n', '\r']).unwrap_or(i.len())..]
}

/// Whitespace and comments. An unterminated `/*` is a failure.
#[inline]
fn trivia(i: &str) -> PResult<'_, ()> {
    // Called between every two tokens, mostly where there is nothing to skip.
    match i.as_bytes().first() {
        Some(b' ' | b'\t' | b'\n' | b'\r' | b'#' | b'/') => skip_trivia(i),
        _ => Ok((i, ())),
    }
}

fn skip_trivia(i: &str) -> PResult<'_, ()> {
    // Byte by byte: every byte that stops or restarts the scan is ASCII, so each offset used to
    // slice is a character boundary.
    let bytes = i.as_bytes();
    let mut k = 0;
    loop {
        match bytes.get(k) {
            // Indentation, a word at a time.
            Some(b' ') if bytes.get(k..k + 4) == Some(b"    ") => k += 4,
            Some(b' ' | b'\t' | b'\n' | b'\r') => k += 1,
            Some(b'#') => k = line_end(bytes, k + 1),
            Some(b'/') if bytes.get(k + 1) == Some(&b'/') => k = line_end(bytes, k + 2),
            Some(b'/') if bytes.get(k + 1) == Some(&b'*') => {
                let rest = &i[k + 2..];
                match take_until::<_, _, SyntaxError>("*/").parse(rest) {
                    Ok((after, _)) => k = i.len() - after.len() + 2,
                    Err(_) => {
                        return Err(NomErr::Failure(SyntaxError {
                            at: &i[k..],
                            len: 2,
                            kind: DiagnosticKind::UnterminatedComment,
                        }));
                    }
                }
            }
            _ => return Ok((&i[k..], ())),
        }
    }
}

/// The offset of the `\n` or `\r` that ends the line `from` is on, or the length.
fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n' || b == b'\r'))
        .map_or(bytes.len(), |p| from + p)
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

const fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-')
}

/// Bytes that may stand in a word after its first character.
const WORD_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_word_char(b as u8 as char);
        b += 1;
    }
    table
};

/// A word: keyword, key or constant (`ARMR/2.8`, `Very-High`). A `//` or `/*` ends it, since a
/// comment may follow a word without a space.
fn word(i: &str) -> PResult<'_, &str> {
    let bytes = i.as_bytes();
    if !bytes.first().is_some_and(|&b| is_word_start(b as char)) {
        return Err(NomErr::Error(SyntaxError::from_error_kind(
            i,
            ErrorKind::Alpha,
        )));
    }
    // Word characters are ASCII, so a byte index is a character boundary.
    let mut end = 1;
    while end < bytes.len() && WORD_BYTES[bytes[end] as usize] {
        if bytes[end] == b'/' && matches!(bytes.get(end + 1), Some(b'/' | b'*')) {
            break;
        }
        end += 1;
    }
    Ok((&i[end..], &i[..end]))
}

fn number_text(i: &str) -> PResult<'_, &str> {
    recognize((opt(char('-')), digit1, opt(pair(char('.'), digit1)))).parse(i)
}

fn number(i: &str) -> PResult<'_, ValueKind<'_>> {
    let (rest, text) = number_text(i)?;
    let kind = if text.contains('.') {
        text.parse().ok().map(ValueKind::Float)
    } else {
        text.parse().ok().map(ValueKind::Int)
    };
    match kind {
        Some(kind) => Ok((rest, kind)),
        None => Err(NomErr::Failure(SyntaxError {
            at: i,
            len: text.len(),
            kind: DiagnosticKind::NumberOutOfRange {
                text: text.to_string(),
            },
        })),
    }
}

/// The first `"`, `\\`, `\n` or `\r`: where a string's plain run stops. Eight bytes at a time,
/// since strings (messages, names) are much of a rules file.
fn string_stop(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Nonzero when some byte of `x` is zero (may flag a byte after a true zero: only the first
    // flagged word matters, and its bytes are then checked one by one).
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let x = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        let hit = has_zero(x ^ (ONES * u64::from(b'"')))
            | has_zero(x ^ (ONES * u64::from(b'\\')))
            | has_zero(x ^ (ONES * u64::from(b'\n')))
            | has_zero(x ^ (ONES * u64::from(b'\r')));
        if hit != 0 {
            break;
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|b| matches!(b, b'"' | b'\\' | b'\n' | b'\r'))
        .map(|k| at + k)
}

/// A double-quoted string on one line, with `\"` and `\\` as its only escapes.
fn string(i: &str) -> PResult<'_, Cow<'_, str>> {
    let Some(body) = i.strip_prefix('"') else {
        return Err(NomErr::Error(SyntaxError::from_error_kind(
            i,
            ErrorKind::Char,
        )));
    };
    // Most strings hold no escape: find the closing quote bytewise and borrow.
    if let Some(k) = string_stop(body.as_bytes())
        && body.as_bytes()[k] == b'"'
    {
        return Ok((&body[k + 1..], Cow::Borrowed(&body[..k])));
    }
    let mut owned: Option<String> = None;
    let mut chars = body.char_indices();
    let unterminated = || {
        NomErr::Failure(SyntaxError {
            at: i,
            len: 1,
            kind: DiagnosticKind::UnterminatedString,
        })
    };
    loop {
        match chars.next() {
            None | Some((_, '\n' | '\r')) => return Err(unterminated()),
            Some((k, '"')) => {
                let text = owned.map_or(Cow::Borrowed(&body[..k]), Cow::Owned);
                return Ok((&body[k + 1..], text));
            }
            Some((k, '\\')) => match chars.next() {
                Some((_, c @ ('"' | '\\'))) => {
                    owned.get_or_insert_with(|| body[..k].to_string()).push(c)
                }
                Some((_, c)) if c != '\n' && c != '\r' => {
                    return Err(NomErr::Failure(SyntaxError {
                        at: &body[k..],
                        len: 1 + c.len_utf8(),
                        kind: DiagnosticKind::InvalidEscape {
                            escape: format!("\\{c}"),
                        },
                    }));
                }
                _ => return Err(unterminated()),
            },
            Some((_, c)) => {
                if let Some(s) = owned.as_mut() {
                    s.push(c)
                }
            }
        }
    }
}

/// The source text from `start` up to (not including) `rest`.
fn consumed<'a>(start: &'a str, rest: &'a str) -> &'a str {
    &start[..start.len() - rest.len()]
}

fn too_deep(at: &str) -> NomErr<SyntaxError<'_>> {
    NomErr::Failure(SyntaxError {
        at,
        len: 1,
        kind: DiagnosticKind::NestingTooDeep {
            limit: MAX_VALUE_DEPTH,
        },
    })
}

/// Where the reader keeps what it builds (see [`Tree`]). Lists and dictionaries nest, so their
/// items wait on a stack until they close and then move to the tree side by side.
#[derive(Default)]
struct Store<'a> {
    tree: Tree<'a>,
    /// Statements of the open blocks, moved to `tree.nodes` when their block closes.
    nodes: Vec<NodeData<'a>>,
    values: Vec<Value<'a>>,
    entries: Vec<(Key<'a>, Value<'a>)>,
}

/// Moves `pending[mark..]` to the end of `arena`, and says where they are.
fn commit<T>(arena: &mut Vec<T>, pending: &mut Vec<T>, mark: usize) -> Items {
    let start = arena.len();
    arena.extend(pending.drain(mark.min(pending.len())..));
    Items {
        start,
        end: arena.len(),
    }
}

fn value<'a>(i: &'a str, depth: usize, st: &mut Store<'a>) -> PResult<'a, Value<'a>> {
    // The first character decides: no two kinds of value start alike.
    let parsed = match i.as_bytes().first() {
        Some(b'"') => string(i).map(|(r, s)| (r, ValueKind::Str(s))),
        Some(b'-' | b'0'..=b'9') => number(i),
        Some(b'[') => list(i, depth, st),
        Some(b'{') => dict(i, depth, st),
        _ => word(i).map(|(r, w)| {
            let kind = if w.eq_ignore_ascii_case("true") {
                ValueKind::Bool(true)
            } else if w.eq_ignore_ascii_case("false") {
                ValueKind::Bool(false)
            } else {
                ValueKind::Const(w)
            };
            (r, kind)
        }),
    };
    let (rest, kind) = parsed.map_err(|e| match e {
        NomErr::Error(_) => NomErr::Failure(SyntaxError::expected(i, "a value")),
        other => other,
    })?;
    Ok((
        rest,
        Value {
            kind,
            text: consumed(i, rest),
        },
    ))
}

/// `open item (, item)* ,? close`, the shape shared by argument lists, lists and dictionaries.
/// `item` stores what it reads.
fn separated<'a>(
    i: &'a str,
    open: char,
    close: char,
    expected_after_item: &'static str,
    st: &mut Store<'a>,
    mut item: impl FnMut(&'a str, &mut Store<'a>) -> PResult<'a, ()>,
) -> PResult<'a, ()> {
    let Some(mut i) = i.strip_prefix(open) else {
        return Err(NomErr::Error(SyntaxError::from_error_kind(
            i,
            ErrorKind::Char,
        )));
    };
    loop {
        i = trivia(i)?.0;
        if let Some(rest) = i.strip_prefix(close) {
            return Ok((rest, ()));
        }
        let (rest, ()) = item(i, st)?;
        i = trivia(rest)?.0;
        if let Some(rest) = i.strip_prefix(',') {
            i = rest;
        } else if !i.starts_with(close) {
            return Err(NomErr::Failure(SyntaxError::expected(
                i,
                expected_after_item,
            )));
        }
    }
}

fn list<'a>(i: &'a str, depth: usize, st: &mut Store<'a>) -> PResult<'a, ValueKind<'a>> {
    if depth >= MAX_VALUE_DEPTH && i.starts_with('[') {
        return Err(too_deep(i));
    }
    let mark = st.values.len();
    let (rest, ()) = separated(i, '[', ']', "`,` or `]`", st, |i, st| {
        let (rest, v) = value(i, depth + 1, st)?;
        st.values.push(v);
        Ok((rest, ()))
    })?;
    Ok((
        rest,
        ValueKind::List(commit(&mut st.tree.values, &mut st.values, mark)),
    ))
}

fn dict<'a>(i: &'a str, depth: usize, st: &mut Store<'a>) -> PResult<'a, ValueKind<'a>> {
    if depth >= MAX_VALUE_DEPTH && i.starts_with('{') {
        return Err(too_deep(i));
    }
    let mark = st.entries.len();
    let (rest, ()) = separated(i, '{', '}', "`,` or `}`", st, |i, st| {
        let (rest, name) = expect(
            "a key",
            alt((string, |i| word(i).map(|(r, w)| (r, Cow::Borrowed(w))))),
        )(i)?;
        let key = Key {
            name,
            text: consumed(i, rest),
        };
        let (rest, _) = preceded(trivia, expect("`:`", char(':'))).parse(rest)?;
        let (rest, _) = trivia(rest)?;
        let (rest, v) = value(rest, depth + 1, st)?;
        st.entries.push((key, v));
        Ok((rest, ()))
    })?;
    Ok((
        rest,
        ValueKind::Dict(commit(&mut st.tree.entries, &mut st.entries, mark)),
    ))
}

fn arg<'a>(i: &'a str, st: &mut Store<'a>) -> PResult<'a, Arg<'a>> {
    let keyed = |i| -> PResult<'_, &str> {
        let (rest, key) = word(i)?;
        let (rest, _) = trivia(rest)?;
        let (rest, _) = char(':').parse(rest)?;
        let (rest, _) = trivia(rest)?;
        Ok((rest, key))
    };
    let (rest, key) = opt(keyed).parse(i)?;
    let (rest, value) = value(rest, 0, st)?;
    Ok((rest, Arg { key, value }))
}

/// An argument list; argument lists do not nest, so the arguments go to the tree directly.
fn args<'a>(i: &'a str, st: &mut Store<'a>) -> PResult<'a, Items> {
    let start = st.tree.args.len();
    let (rest, ()) = separated(i, '(', ')', "`,` or `)`", st, |i, st| {
        let (rest, a) = arg(i, st)?;
        st.tree.args.push(a);
        Ok((rest, ()))
    })?;
    let end = st.tree.args.len();
    Ok((rest, Items { start, end }))
}

/// A word standing where a statement may start, with what follows it (comments skipped).
fn statement_word(i: &str) -> Option<(&str, &str)> {
    let (rest, w) = word(i).ok()?;
    let after = trivia(rest).map_or(rest, |(r, _)| r);
    Some((w, after))
}

/// An `end...` keyword in any case, when it is not the start of a call such as `endpoint(...)`.
fn end_keyword(i: &str) -> Option<(&str, &str)> {
    if !i
        .as_bytes()
        .get(..3)
        .is_some_and(|b| b.eq_ignore_ascii_case(b"end"))
    {
        return None;
    }
    let (w, after) = statement_word(i)?;
    let is_end = w.len() > 3 && w.as_bytes()[..3].eq_ignore_ascii_case(b"end");
    (is_end && !after.starts_with('(')).then(|| (w, &i[w.len()..]))
}

/// Skips a statement that failed to parse: up to and including the `)` that closes it, but never
/// past a line that starts a new statement or an `end...` keyword.
fn skip_statement(i: &str) -> &str {
    let mut depth = 0usize;
    let mut rest = i;
    let mut line_start = false;
    while let Some(c) = rest.chars().next() {
        if line_start {
            let t = rest.trim_start_matches([' ', '\t', '\r']);
            if let Some((_, after)) = statement_word(t)
                && (after.starts_with('(') || end_keyword(t).is_some())
            {
                return t;
            }
            line_start = false;
        }
        let next = &rest[c.len_utf8()..];
        rest = match c {
            '(' => {
                depth += 1;
                next
            }
            ')' if depth == 0 => return next,
            ')' => {
                depth -= 1;
                next
            }
            '"' => {
                // A string, even a broken one, ends at its quote or at the end of the line.
                let mut s = next;
                loop {
                    match s.chars().next() {
                        None | Some('\n') => break,
                        Some('"') => {
                            s = &s[1..];
                            break;
                        }
                        Some('\\') if s[1..].starts_with(['"', '\\']) => s = &s[2..],
                        Some(c) => s = &s[c.len_utf8()..],
                    }
                }
                s
            }
            '#' => to_line_end(next),
            '/' if next.starts_with('/') => to_line_end(next),
            '/' if next.starts_with('*') => next
                .find("*/")
                .map_or(&next[next.len()..], |k| &next[k + 2..]),
            '\n' => {
                line_start = true;
                next
            }
            _ => next,
        };
    }
    rest
}

/// Finds the `endcode` that closes a raw code block: the word alone, not part of a longer one.
fn raw_code(i: &str) -> Option<(&str, &str)> {
    let mut from = 0;
    while let Some(k) = i[from..].find("endcode") {
        let at = from + k;
        let before_ok = i[..at].chars().next_back().is_none_or(|c| !is_word_char(c));
        let after_ok = i[at + 7..].chars().next().is_none_or(|c| !is_word_char(c));
        if before_ok && after_ok {
            return Some((&i[at + 7..], &i[..at]));
        }
        from = at + 7;
    }
    None
}

/// Reads a file and hands each top-level node to `each` as soon as it is read, so that a caller
/// can check one app while its text is still in the cache; the node's tree is then reused for the
/// next one. Returns the syntax errors.
pub fn parse_each<'a>(src: &'a str, mut each: impl FnMut(Node<'_, 'a>)) -> Vec<Diagnostic> {
    let mut reader = Reader {
        src,
        diagnostics: Vec::new(),
        recovering: false,
        aborted: false,
        st: Store::default(),
    };
    let mut open = Vec::new();
    reader.nodes(src, &mut open, &mut each);
    reader.diagnostics
}

struct Reader<'a> {
    src: &'a str,
    diagnostics: Vec<Diagnostic>,
    /// Set after an error until a statement parses again, so that one mistake reports once.
    recovering: bool,
    /// Set when reading cannot go on (nesting too deep): nothing more is reported.
    aborted: bool,
    st: Store<'a>,
}

/// An error at a look-alike character (`connect(“...`, `80：`) names it instead; an unterminated
/// string whose line holds a curly closing quote is about that quote.
fn lookalike_error(e: SyntaxError<'_>) -> SyntaxError<'_> {
    let at = match e.kind {
        DiagnosticKind::UnterminatedString => {
            let line = &e.at[..e.at.find(['\n', '\r']).unwrap_or(e.at.len())];
            let quote = line.char_indices().skip(1).find(|&(_, c)| {
                matches!(
                    super::lookalike::lookup(c),
                    Some((_, super::lookalike::Means::DoubleQuote))
                )
            });
            match quote {
                Some((k, _)) => &e.at[k..],
                None => return e,
            }
        }
        DiagnosticKind::Expected { .. } => e.at,
        _ => return e,
    };
    match at.chars().next() {
        Some(c) if super::lookalike::lookup(c).is_some() => SyntaxError {
            at,
            len: e.len.max(c.len_utf8()),
            kind: DiagnosticKind::Lookalike { found: c },
        },
        _ => e,
    }
}

/// True when the `end...` word closes a block opened by `keyword`, case aside (a wrong case is
/// reported on its own).
fn closes(end_word: &str, keyword: &str) -> bool {
    end_word.len() == keyword.len() + 3
        && (&end_word[3..] == keyword || end_word[3..].eq_ignore_ascii_case(keyword))
}

/// True when `end_word` ends a block keyword that `opener` misspells (`endsocket` for `soket`).
fn misspelt_opener(end_word: &str, opener: &str) -> bool {
    let Some(kind) = end_word.strip_prefix("end") else {
        return false;
    };
    let blocks: Vec<&'static str> = vocabulary::block_keywords().collect();
    blocks.contains(&kind) && super::spelling::suggest(opener, &blocks) == Some(kind)
}

fn end_of(keyword: &str) -> String {
    format!("end{}", keyword.to_ascii_lowercase())
}

impl<'a> Reader<'a> {
    fn report(&mut self, mut e: SyntaxError<'a>) {
        if let DiagnosticKind::Expected { expected, found } = &e.kind
            && found.is_empty()
        {
            e = SyntaxError::expected(e.at, expected);
        }
        e = lookalike_error(e);
        if !self.recovering && !self.aborted {
            let start = e.at.as_ptr() as usize - self.src.as_ptr() as usize;
            let len = e.len.min(e.at.len());
            self.diagnostics
                .push(Diagnostic::error(e.kind, Span::new(start, start + len)));
        }
        self.recovering = true;
    }

    fn report_at(&mut self, kind: DiagnosticKind, text: &'a str) {
        let e = SyntaxError {
            at: text,
            len: text.len(),
            kind,
        };
        self.report(e);
    }

    /// Reads nodes until the `end...` of the innermost block in `open` (or the end of the file at
    /// the top). A top-level node is handed to `emit`, a nested one left on `st.nodes` for its
    /// block. Returns the rest after that keyword and whether any statement broke.
    fn nodes(
        &mut self,
        mut i: &'a str,
        open: &mut Vec<&'a str>,
        emit: &mut dyn FnMut(Node<'_, 'a>),
    ) -> (&'a str, bool) {
        let mut broken = false;
        loop {
            i = match trivia(i) {
                Ok((rest, _)) => rest,
                Err(NomErr::Failure(e) | NomErr::Error(e)) => {
                    self.report(e);
                    ""
                }
                Err(NomErr::Incomplete(_)) => "",
            };
            if i.is_empty() || self.aborted {
                if let Some(&opener) = open.last() {
                    self.report_at(
                        DiagnosticKind::UnterminatedBlock {
                            keyword: opener.into(),
                        },
                        opener,
                    );
                }
                return ("", broken);
            }
            if let Some((found, rest)) = end_keyword(i) {
                if found.bytes().any(|b| b.is_ascii_uppercase()) {
                    self.report_at(
                        DiagnosticKind::KeywordCase {
                            found: found.into(),
                            keyword: found.to_ascii_lowercase(),
                        },
                        found,
                    );
                    self.recovering = false;
                }
                match open.last() {
                    Some(&kw) if closes(found, kw) => return (rest, broken),
                    // `soket(...): ... endsocket`: the opener is misspelt, not its end (the
                    // validator reports the opener).
                    Some(&kw) if misspelt_opener(found, kw) => return (rest, broken),
                    Some(&kw) if open.iter().any(|k| closes(found, k)) => {
                        // Closes an outer block: this one was left open. Let the outer one close.
                        self.report_at(
                            DiagnosticKind::MismatchedEnd {
                                expected: end_of(kw),
                                found: found.into(),
                            },
                            found,
                        );
                        return (i, true);
                    }
                    // `endsoket`: one mistake, reported once; the block closes as meant.
                    Some(&kw) if super::spelling::is_near(found, &end_of(kw)) => {
                        self.report_at(
                            DiagnosticKind::Misspelt {
                                found: found.into(),
                                keyword: end_of(kw),
                                what: "a keyword",
                            },
                            found,
                        );
                        self.recovering = false;
                        return (rest, broken);
                    }
                    Some(&kw) => {
                        self.report_at(
                            DiagnosticKind::MismatchedEnd {
                                expected: end_of(kw),
                                found: found.into(),
                            },
                            found,
                        );
                        broken = true;
                    }
                    None => self.report_at(
                        DiagnosticKind::StrayEnd {
                            found: found.into(),
                        },
                        found,
                    ),
                }
                i = rest;
                continue;
            }
            match self.node(i, open) {
                Ok((rest, node)) => {
                    if open.is_empty() {
                        emit(Node::new(&self.st.tree, &node));
                        self.st.tree.clear();
                    } else {
                        self.st.nodes.push(node);
                    }
                    i = rest;
                    self.recovering = false;
                }
                Err(e)
                    if e.at.as_ptr() == i.as_ptr() && i.starts_with(super::lookalike::is_blank) =>
                {
                    // A pasted non-breaking or zero-width space where a statement starts: one
                    // error for the run of them, then read on as if they were spaces.
                    let run = i.len() - i.trim_start_matches(super::lookalike::is_blank).len();
                    self.recovering = false;
                    self.report(SyntaxError { len: run, ..e });
                    self.recovering = false;
                    i = &i[run..];
                }
                Err(e) => {
                    let at = e.at;
                    self.report(e);
                    broken = true;
                    let from = if at.as_ptr() == i.as_ptr() {
                        &i[i.chars().next().map_or(0, char::len_utf8)..]
                    } else {
                        at
                    };
                    i = skip_statement(from);
                }
            }
        }
    }

    /// One node: `WORD(args)`, and its body when a `:` follows.
    fn node(
        &mut self,
        i: &'a str,
        open: &mut Vec<&'a str>,
    ) -> Result<(&'a str, NodeData<'a>), SyntaxError<'a>> {
        let fail = |e: NomErr<SyntaxError<'a>>| match e {
            NomErr::Error(e) | NomErr::Failure(e) => e,
            NomErr::Incomplete(_) => SyntaxError::expected("", "more input"),
        };
        let (rest, name) = expect("a statement", word)(i).map_err(fail)?;
        let (rest, _) = trivia(rest).map_err(fail)?;
        // A header of these without its `:` is reported and read as a block anyway.
        let opens_block = (name == vocabulary::APP && open.is_empty())
            || (open.len() == 1 && vocabulary::opens_rule_block(name));
        let args_mark = self.st.tree.args.len();
        let parsed = expect("`(`", |i| args(i, &mut self.st))(rest);
        if parsed.is_err() {
            // Drop what the broken list left half-built.
            self.st.tree.args.truncate(args_mark);
            self.st.values.clear();
            self.st.entries.clear();
        }
        let (after_args, args, broken_header) = match parsed {
            Ok((after_args, args)) => (after_args, args, false),
            Err(e) if opens_block => {
                // A broken app or rule header: report it and read the block all the same, so that
                // its contents are checked and its `end...` is not taken for a stray one.
                let e = fail(e);
                let at = e.at;
                self.report(e);
                self.recovering = false;
                (skip_statement(at), Items::default(), true)
            }
            Err(e) => return Err(fail(e)),
        };
        let args_text = consumed(rest, after_args);
        let (after, _) = trivia(after_args).map_err(fail)?;
        let mut node = NodeData {
            name,
            args,
            args_text,
            broken_header,
            body: None,
        };
        let body_start = if let Some(body) = after.strip_prefix(':') {
            body
        } else if broken_header {
            after
        } else if let Some(c) = after
            .chars()
            .next()
            .filter(|&c| opens_block && c == '\u{FF1A}')
        {
            // `socket("r")：`, a full-width colon: one error, and the block opens as meant.
            let colon = &after[..c.len_utf8()];
            self.report_at(DiagnosticKind::Lookalike { found: c }, colon);
            self.recovering = false;
            &after[colon.len()..]
        } else if opens_block {
            // A rule or app header without its colon: say so, and read the block all the same.
            self.report_at(
                DiagnosticKind::MissingColon {
                    keyword: name.into(),
                },
                name,
            );
            self.recovering = false;
            after_args
        } else {
            return Ok((after_args, node));
        };
        if name == "code" {
            return match raw_code(body_start) {
                Some((rest, raw)) => {
                    node.body = Some(BodyData::Raw(raw));
                    Ok((rest, node))
                }
                None => Err(SyntaxError {
                    at: name,
                    len: name.len(),
                    kind: DiagnosticKind::UnterminatedBlock {
                        keyword: name.into(),
                    },
                }),
            };
        }
        if open.len() >= MAX_BLOCK_DEPTH {
            let e = SyntaxError {
                at: name,
                len: name.len(),
                kind: DiagnosticKind::NestingTooDeep {
                    limit: MAX_BLOCK_DEPTH,
                },
            };
            self.report(e);
            self.aborted = true;
            return Ok(("", node));
        }
        open.push(name);
        let mark = self.st.nodes.len();
        let (rest, broken) = self.nodes(body_start, open, &mut |_| {});
        open.pop();
        node.body = Some(BodyData::Nodes {
            nodes: commit(&mut self.st.tree.nodes, &mut self.st.nodes, mark),
            broken: broken || broken_header,
        });
        Ok((rest, node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the first top-level node of a file without errors.
    fn parse_ok(src: &str, check: impl FnOnce(Node<'_, '_>)) {
        let mut check = Some(check);
        let diags = parse_each(src, |node| {
            if let Some(check) = check.take() {
                check(node)
            }
        });
        assert!(diags.is_empty(), "{diags:?}");
        assert!(check.is_none(), "no node");
    }

    fn parse(src: &str) -> ((), Vec<Diagnostic>) {
        ((), parse_each(src, |_| {}))
    }

    #[test]
    fn strings_unescape_and_stay_borrowed_without_escapes() {
        assert_eq!(
            string(r#""a\"b\\c" x"#).unwrap(),
            (" x", Cow::Owned::<str>("a\"b\\c".into()))
        );
        assert!(matches!(
            string(r#""plain""#).unwrap().1,
            Cow::Borrowed("plain")
        ));
    }

    #[test]
    fn string_stop_finds_the_first_special_byte() {
        let text = "abcdefghijklmnopqrstuvwxyzé0123456789";
        for special in ['"', '\\', '\n', '\r'] {
            for at in 0..text.len() {
                if !text.is_char_boundary(at) {
                    continue;
                }
                let s = format!("{}{special}{}\"", &text[..at], &text[at..]);
                assert_eq!(string_stop(s.as_bytes()), Some(at), "{s:?}");
            }
        }
        assert_eq!(string_stop(text.as_bytes()), None);
        assert_eq!(string_stop(b""), None);
    }

    #[test]
    fn words_stop_at_comments() {
        assert_eq!(word("endapp//x").unwrap(), ("//x", "endapp"));
        assert_eq!(word("ARMR/2.8)").unwrap(), (")", "ARMR/2.8"));
        assert_eq!(word("Very-High,").unwrap(), (",", "Very-High"));
    }

    #[test]
    fn values_of_every_kind() {
        let src =
            r#"f(1, -2, 2.5, TRUE, false, K/1.0, "s", [a, [b, {x: [c]}]], {k: "v", "q": [1]})"#;
        parse_ok(src, |node| {
            let kinds: Vec<_> = node.args.iter().map(|a| a.value.kind.clone()).collect();
            assert_eq!(kinds[0], ValueKind::Int(1));
            assert_eq!(kinds[1], ValueKind::Int(-2));
            assert_eq!(kinds[2], ValueKind::Float(2.5));
            assert_eq!(kinds[3], ValueKind::Bool(true));
            assert_eq!(kinds[4], ValueKind::Bool(false));
            assert_eq!(kinds[5], ValueKind::Const("K/1.0"));
            let ValueKind::List(list) = kinds[7] else {
                panic!()
            };
            let list = node.list(list);
            assert_eq!(list.len(), 2);
            assert_eq!(list[1].text, "[b, {x: [c]}]");
            let ValueKind::List(inner) = list[1].kind else {
                panic!()
            };
            let ValueKind::Dict(x) = node.list(inner)[1].kind else {
                panic!()
            };
            assert_eq!(node.dict(x)[0].1.text, "[c]");
            let ValueKind::Dict(dict) = kinds[8] else {
                panic!()
            };
            let dict = node.dict(dict);
            assert_eq!(dict[1].0.name, "q");
            assert!(
                matches!(dict[1].1.kind, ValueKind::List(v) if node.list(v)[0].kind == ValueKind::Int(1))
            );
        });
    }

    #[test]
    fn code_blocks_are_opaque() {
        parse_ok(
            "patch(\"p\"): code(language: java): if (a) { x(\"endcoder\"); y.endcode2(); } endcode endpatch",
            |node| {
                let Some(Body::Nodes { nodes, .. }) = node.body else {
                    panic!()
                };
                let code = nodes.iter().next().unwrap();
                assert!(matches!(code.body, Some(Body::Raw(r)) if r.contains("y.endcode2()")));
            },
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("f({}{})", "[".repeat(100_000), "]".repeat(100_000));
        let (_, diags) = parse(&deep);
        assert_eq!(
            diags[0].kind,
            DiagnosticKind::NestingTooDeep {
                limit: MAX_VALUE_DEPTH
            }
        );
        let blocks = "a(): ".repeat(10_000);
        let (_, diags) = parse(&blocks);
        assert_eq!(
            diags[0].kind,
            DiagnosticKind::NestingTooDeep {
                limit: MAX_BLOCK_DEPTH
            }
        );
    }
}
