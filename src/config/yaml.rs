//! Reads YAML text into the located tree ([`Node`]): every node and key with
//! the line and column where it starts. Owns YAML syntax and how plain
//! scalars are typed; knows nothing about what the keys mean.
//!
//! Three readers give the same tree. `fast` is a scanner of our own for
//! the YAML configurations are written in (block and flow collections,
//! one-line plain and quoted scalars, comments) and declines anything
//! else. The tree is otherwise built straight from the events of
//! `granit_parser` (the parser under serde_saphyr): one pass, no serde, no
//! `Spanned` wrapper per value. What that reader does not handle itself (a
//! syntax error, anchors and aliases, merge keys, tags, several documents,
//! a scalar whose typing it is not sure of, limits) it hands to
//! serde_saphyr, the reader the configuration always had, so that every
//! message and every rarely used YAML rule stays exactly as it was. The
//! tests compare the three on every case and fixture, and the fast one
//! with the others on mutated files.

use std::borrow::Cow;
use std::fmt;

use granit_parser::{Event, Options, Parser, ScalarStyle, Span};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DuplicateKeyPolicy, MessageFormatter, Spanned, UserMessageFormatter};

use super::model::Loc;
use super::tree::{Int, Key, Kind, Node, Pos};

mod fast;
#[cfg(test)]
mod tests;

pub(crate) use fast::{Deferred, Services};

/// The fast reader's tree of `text` with each zone's `services:` map left
/// to be read entry by entry ([`Deferred::services`]), or `None` when the
/// fast reader declines the text ([`read`] then reads it the other ways).
/// Every map's keys are known to be unique, as with the fast reader.
pub(crate) fn read_deferring(text: &str) -> Option<(Node<'_>, Deferred<'_>)> {
    fast::parse_deferring(text)
}

/// [`read`] without what it says of duplicate keys (the tests' reader).
#[cfg(test)]
pub(crate) fn parse_yaml(text: &str) -> Result<Node<'_>, (Loc, String)> {
    read(text).map(|(root, _)| root)
}

/// Parses `text` into a located tree. A YAML syntax error is the one error
/// returned: nothing after it can be trusted. Duplicate keys are passed
/// through here and reported by `tree::report_duplicate_keys`; the flag
/// says whether every map's keys are already known to be unique (the fast
/// reader checks them as it reads, and declines a file with a key twice),
/// so that the report need not walk the tree again.
pub(crate) fn read(text: &str) -> Result<(Node<'_>, bool), (Loc, String)> {
    if let Some(root) = fast::parse(text) {
        return Ok((root, true));
    }
    match parse_events(text) {
        Some(root) => Ok((root, false)),
        None => parse_serde(text).map(|root| (root, false)),
    }
}

/// serde_saphyr's budget as `parse_serde` sets it (and its defaults for the
/// rest): the event reader leaves anything near a limit to serde_saphyr,
/// which words the breach.
const MAX_DEPTH: usize = 60;
const MAX_NODES: usize = 19_000_000;
const MAX_EVENTS: usize = 79_000_000;
const MAX_COMMENT_BYTES: usize = 60 << 20;
const MAX_INPUT_BYTES: usize = 250 << 20;

/// A list or map being read: where it starts, and where its items or
/// entries start on the reader's shared stacks.
enum Open<'a> {
    Seq(Pos, usize),
    /// A map, with the key whose value is being read.
    Map(Pos, usize, Option<Key<'a>>),
}

/// serde_saphyr reads with comments as events, and the parser then fails a
/// file with more than this many comments in a row (`TooManyComments`).
/// Reading without them is faster, and the same whenever the text holds
/// fewer `#` than that.
const COMMENTS_BUFFERED: usize = 96;

/// The tree from parser events, or `None` for anything this reader leaves
/// to serde_saphyr (see the module's documentation).
fn parse_events(text: &str) -> Option<Node<'_>> {
    if text.len() > MAX_INPUT_BYTES {
        return None;
    }
    // serde_saphyr's parser options for our budget are granit's defaults.
    let mut options = Options::default();
    if memchr_count(text.as_bytes(), b'#') < COMMENTS_BUFFERED {
        options.emit_comments = false;
    }
    let mut parser = Parser::new_from_str_with_options(text, options);
    let mut open: Vec<Open<'_>> = Vec::new();
    // The items and entries of every open list and map, in one stack each:
    // a list or map is allocated once, at its end, to its size.
    let mut items: Vec<Node<'_>> = Vec::new();
    let mut entries: Vec<(Key<'_>, Node<'_>)> = Vec::new();
    let mut root = None;
    let (mut documents, mut nodes, mut events, mut comment_bytes) = (0, 0, 0, 0);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.ok()?;
        events += 1;
        if events > MAX_EVENTS {
            return None;
        }
        let node = match event {
            Event::StreamStart | Event::DocumentEnd => continue,
            Event::StreamEnd => break,
            Event::DocumentStart(_, version) => {
                documents += 1;
                if documents > 1 || version.is_some() {
                    return None;
                }
                continue;
            }
            Event::Comment(comment, _) => {
                comment_bytes += comment.len();
                if comment_bytes > MAX_COMMENT_BYTES {
                    return None;
                }
                continue;
            }
            Event::Alias(_) | Event::Anchor(..) | Event::UnresolvedAlias(_) => return None,
            Event::Scalar(value, style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    return None;
                }
                nodes += 1;
                let pos = pos_of_span(&span);
                if let Some(Open::Map(_, _, pending @ None)) = open.last_mut() {
                    // A key: the text as written (serde_saphyr refuses a null
                    // one and merges `<<`).
                    if style == ScalarStyle::Plain && (is_null(&value) || value == "<<") {
                        return None;
                    }
                    *pending = Some(Key { name: value, pos });
                    continue;
                }
                let kind = if style == ScalarStyle::Plain {
                    match plain_scalar(&value)? {
                        Plain::Null => Kind::Null,
                        Plain::Bool(b) => Kind::Bool(b),
                        Plain::Int(i) => Kind::Int(Int::from(i)),
                        Plain::Float(x) => Kind::Float(x),
                        Plain::Str => Kind::Str(value),
                    }
                } else {
                    Kind::Str(value)
                };
                Node { kind, pos }
            }
            Event::SequenceStart(_, anchor, ref tag) | Event::MappingStart(_, anchor, ref tag) => {
                if anchor != 0 || tag.is_some() || open.len() >= MAX_DEPTH {
                    return None;
                }
                // A list or map as a key.
                if let Some(Open::Map(_, _, None)) = open.last() {
                    return None;
                }
                nodes += 1;
                let pos = pos_of_span(&span);
                open.push(if matches!(event, Event::SequenceStart(..)) {
                    Open::Seq(pos, items.len())
                } else {
                    Open::Map(pos, entries.len(), None)
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match open.pop()? {
                Open::Seq(pos, start) => Node {
                    kind: Kind::Seq(items.drain(start..).collect()),
                    pos,
                },
                Open::Map(pos, start, None) => Node {
                    kind: Kind::Map(entries.drain(start..).collect()),
                    pos,
                },
                Open::Map(_, _, Some(_)) => return None,
            },
            // Events added to the parser after this was written.
            _ => return None,
        };
        if nodes > MAX_NODES {
            return None;
        }
        match open.last_mut() {
            None if root.is_none() => root = Some(node),
            None => return None,
            Some(Open::Seq(..)) => items.push(node),
            Some(Open::Map(_, _, pending)) => entries.push((pending.take()?, node)),
        }
    }
    // One document whose top is a map, as a configuration is; anything else
    // (an empty file, a list, a lone scalar) is rare and left to serde_saphyr.
    match root {
        Some(root) if documents == 1 && open.is_empty() && matches!(root.kind, Kind::Map(_)) => {
            Some(root)
        }
        _ => None,
    }
}

/// How many times `byte` occurs in `bytes`.
fn memchr_count(bytes: &[u8], byte: u8) -> usize {
    bytes.iter().filter(|b| **b == byte).count()
}

/// Where an event starts, as serde_saphyr reports it (column 1-based).
fn pos_of_span(span: &Span) -> Pos {
    Pos {
        line: saturate(span.start.line()),
        column: saturate(span.start.col().saturating_add(1)),
    }
}

/// A line or column past `u32::MAX` (a 4 GiB line) is shown as the largest.
fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The plain scalars serde_saphyr reads as null.
fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// What a plain scalar is read as; a string is the text itself.
enum Plain {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str,
}

/// A plain scalar typed as serde_saphyr types it with our options (YAML 1.2
/// booleans, `007` and `1_000` kept as strings), or `None` for the rare
/// spellings left to it: a leading `+`, `-0`, `.inf` and `.nan`, `0x`, `0o`
/// and `0b` numbers, integers past 18 digits, numbers that overflow.
fn plain_scalar(text: &str) -> Option<Plain> {
    match text {
        "true" | "True" | "TRUE" => return Some(Plain::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Plain::Bool(false)),
        _ if is_null(text) => return Some(Plain::Null),
        _ => {}
    }
    let string = || Some(Plain::Str);
    let bytes = text.as_bytes();
    let (negative, unsigned) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, bytes),
    };
    match unsigned.first() {
        Some(b'0'..=b'9' | b'.') => {}
        // Neither an integer nor a finite number can start so (`inf` and
        // `nan` are strings to serde_saphyr).
        Some(c) if *c != b'+' && *c != b'-' => return string(),
        _ => return None,
    }
    // Underscores keep the text a string, before any number is tried.
    if text.contains('_') {
        return string();
    }
    match unsigned {
        b".inf" | b".Inf" | b".INF" | b".nan" | b".NaN" | b".NAN" => return None,
        // Upper-case radix prefixes keep the text a string.
        [b'0', b'X' | b'O' | b'B', ..] => return string(),
        [b'0', b'x' | b'o' | b'b', ..] => return None,
        _ => {}
    }
    if unsigned.iter().all(u8::is_ascii_digit) {
        return match unsigned {
            [b'0'] if !negative => Some(Plain::Int(0)),
            // `007`, `-007`: kept as written.
            [b'0', _, ..] => string(),
            [b'1'..=b'9', ..] if unsigned.len() <= 18 => {
                let magnitude: i128 = text.trim_start_matches('-').parse().ok()?;
                Some(Plain::Int(if negative { -magnitude } else { magnitude }))
            }
            _ => None,
        };
    }
    if float_shaped(unsigned) {
        return match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Some(Plain::Float(x)),
            _ => None,
        };
    }
    // Not a number by Rust's or YAML's grammar: `10.0.0.1`, `30s`, `1:2`,
    // `../zone`.
    string()
}

/// `(digits | digits . digits* | digits* . digits) [(e|E) [+|-] digits]`:
/// the numbers Rust's `f64` parser takes, past a sign.
fn float_shaped(bytes: &[u8]) -> bool {
    let digits = |b: &[u8]| b.iter().take_while(|c| c.is_ascii_digit()).count();
    let whole = digits(bytes);
    let mut i = whole;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        let fraction = digits(&bytes[i..]);
        i += fraction;
        if whole + fraction == 0 {
            return false;
        }
    } else if whole == 0 {
        return false;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exponent = digits(&bytes[i..]);
        if exponent == 0 {
            return false;
        }
        i += exponent;
    }
    i == bytes.len()
}

fn pos_of(location: serde_saphyr::Location) -> Pos {
    Pos {
        line: u32::try_from(location.line()).unwrap_or(u32::MAX),
        column: u32::try_from(location.column()).unwrap_or(u32::MAX),
    }
}

impl<'de> Deserialize<'de> for Kind<'static> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind<'static>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Kind<'static>, E> {
        Ok(Kind::Null)
    }

    fn visit_none<E>(self) -> Result<Kind<'static>, E> {
        Ok(Kind::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Kind<'static>, D::Error> {
        Kind::<'static>::deserialize(deserializer)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Kind<'static>, E> {
        Ok(Kind::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Kind<'static>, E> {
        Ok(Kind::Int(Int::from(i128::from(v))))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Kind<'static>, E> {
        Ok(Kind::Int(Int::from(i128::from(v))))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Kind<'static>, E> {
        Ok(Kind::Int(Int::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Kind<'static>, E> {
        Ok(Kind::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Kind<'static>, E> {
        Ok(Kind::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Kind<'static>, E> {
        Ok(Kind::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind<'static>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Kind<'static>>>()? {
            items.push(Node {
                kind: item.value,
                pos: pos_of(item.referenced),
            });
        }
        // The tree of a large file is mostly small lists and maps: no room
        // left over from growing them.
        items.shrink_to_fit();
        Ok(Kind::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind<'static>, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<Kind<'static>>>()?;
            entries.push((
                Key {
                    name: Cow::Owned(key.value),
                    pos: pos_of(key.referenced),
                },
                Node {
                    kind: value.value,
                    pos: pos_of(value.referenced),
                },
            ));
        }
        entries.shrink_to_fit();
        Ok(Kind::Map(entries))
    }

    fn visit_bytes<E: de::Error>(self, _v: &[u8]) -> Result<Kind<'static>, E> {
        Err(E::custom("binary values are not supported"))
    }
}

/// The tree through serde_saphyr's `Spanned` values.
fn parse_serde(text: &str) -> Result<Node<'static>, (Loc, String)> {
    let mut options = serde_saphyr::Options::default();
    // YAML 1.2 booleans: a region or country written `NO` stays a string.
    options.strict_booleans = true;
    // `007` and `1_000` stay as written rather than becoming numbers.
    options.leading_zero_numbers_as_strings = true;
    options.underscored_numbers_as_strings = true;
    // We report duplicates ourselves, with their key path and every one of them.
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    options.with_snippet = false;
    // The default budget (250,000 nodes) stops at about 8,000 services; a
    // GSLB fleet can have 100,000. The file is the operator's own, so the
    // limits only need to stop runaway input, not size a service count.
    let mut budget = serde_saphyr::budget::Budget::default();
    budget.max_nodes = 20_000_000;
    budget.max_events = 80_000_000;
    budget.max_total_scalar_bytes = 1 << 30;
    options.budget = Some(budget);
    match serde_saphyr::from_str_with_options::<Spanned<Kind<'static>>>(text, options) {
        Ok(root) => Ok(Node {
            kind: root.value,
            pos: pos_of(root.referenced),
        }),
        Err(e) => {
            let loc = e.location().map(pos_of).unwrap_or_default().loc();
            let message = UserMessageFormatter.format_message(e.without_snippet());
            Err((loc, format!("invalid YAML: {message}")))
        }
    }
}
