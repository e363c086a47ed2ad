//! Reads YAML text into the located tree ([`Node`]): every node and key with
//! the line and column where it starts. Owns YAML syntax and how plain
//! scalars are typed; knows nothing about what the keys mean.
//!
//! Two readers give the same tree. The tree is built straight from the
//! events of `granit_parser` (the parser under serde_saphyr): one pass, no
//! serde, no `Spanned` wrapper per value. What that reader does not handle
//! itself (a syntax error, anchors and aliases, merge keys, tags, several
//! documents, a scalar whose typing it is not sure of, limits) it hands to
//! serde_saphyr, the reader the configuration always had, so that every
//! message and every rarely used YAML rule stays exactly as it was. The
//! tests compare the two on every case and fixture.

use std::fmt;

use granit_parser::{Event, Parser, ScalarStyle, Span};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DuplicateKeyPolicy, MessageFormatter, Spanned, UserMessageFormatter};

use super::model::Loc;
use super::tree::{Key, Kind, Node};

#[cfg(test)]
mod tests;

/// Parses `text` into a located tree. A YAML syntax error is the one error
/// returned: nothing after it can be trusted. Duplicate keys are passed
/// through here and reported by `tree::report_duplicate_keys`.
pub(crate) fn parse_yaml(text: &str) -> Result<Node, (Loc, String)> {
    match parse_events(text) {
        Some(root) => Ok(root),
        None => parse_serde(text),
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

/// A list or map being read.
enum Open {
    Seq(Vec<Node>, Loc),
    /// A map, with the key whose value is being read.
    Map(Vec<(Key, Node)>, Loc, Option<Key>),
}

/// The tree from parser events, or `None` for anything this reader leaves
/// to serde_saphyr (see the module's documentation).
fn parse_events(text: &str) -> Option<Node> {
    if text.len() > MAX_INPUT_BYTES {
        return None;
    }
    // serde_saphyr's parser options for our budget are granit's defaults.
    let mut parser = Parser::new_from_str(text);
    let mut open: Vec<Open> = Vec::new();
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
                let loc = loc_of_span(&span);
                if let Some(Open::Map(_, _, pending @ None)) = open.last_mut() {
                    // A key: the text as written (serde_saphyr refuses a null
                    // one and merges `<<`).
                    if style == ScalarStyle::Plain && (is_null(&value) || value == "<<") {
                        return None;
                    }
                    *pending = Some(Key {
                        name: value.into_owned(),
                        loc,
                    });
                    continue;
                }
                let kind = if style == ScalarStyle::Plain {
                    plain_scalar(&value)?
                } else {
                    Kind::Str(value.into_owned())
                };
                Node { kind, loc }
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
                let loc = loc_of_span(&span);
                open.push(if matches!(event, Event::SequenceStart(..)) {
                    Open::Seq(Vec::new(), loc)
                } else {
                    Open::Map(Vec::new(), loc, None)
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match open.pop()? {
                Open::Seq(mut items, loc) => {
                    // The tree of a large file is mostly small lists and
                    // maps: no room left over from growing them.
                    items.shrink_to_fit();
                    Node {
                        kind: Kind::Seq(items),
                        loc,
                    }
                }
                Open::Map(mut entries, loc, None) => {
                    entries.shrink_to_fit();
                    Node {
                        kind: Kind::Map(entries),
                        loc,
                    }
                }
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
            Some(Open::Seq(items, _)) => items.push(node),
            Some(Open::Map(entries, _, pending)) => entries.push((pending.take()?, node)),
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

/// Where an event starts, as serde_saphyr reports it (column 1-based).
fn loc_of_span(span: &Span) -> Loc {
    Loc {
        line: span.start.line() as u64,
        column: span.start.col() as u64 + 1,
    }
}

/// The plain scalars serde_saphyr reads as null.
fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// A plain scalar typed as serde_saphyr types it with our options (YAML 1.2
/// booleans, `007` and `1_000` kept as strings), or `None` for the rare
/// spellings left to it: a leading `+`, `-0`, `.inf` and `.nan`, `0x`, `0o`
/// and `0b` numbers, integers past 18 digits, numbers that overflow.
fn plain_scalar(text: &str) -> Option<Kind> {
    match text {
        "true" | "True" | "TRUE" => return Some(Kind::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Kind::Bool(false)),
        _ if is_null(text) => return Some(Kind::Null),
        _ => {}
    }
    let string = || Some(Kind::Str(text.to_owned()));
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
            [b'0'] if !negative => Some(Kind::Int(0)),
            // `007`, `-007`: kept as written.
            [b'0', _, ..] => string(),
            [b'1'..=b'9', ..] if unsigned.len() <= 18 => {
                let magnitude: i128 = text.trim_start_matches('-').parse().ok()?;
                Some(Kind::Int(if negative { -magnitude } else { magnitude }))
            }
            _ => None,
        };
    }
    if float_shaped(unsigned) {
        return match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Some(Kind::Float(x)),
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

fn loc_of(location: serde_saphyr::Location) -> Loc {
    Loc {
        line: location.line(),
        column: location.column(),
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }

    fn visit_none<E>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Kind, D::Error> {
        Kind::deserialize(deserializer)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::Int(v.into()))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Kind, E> {
        Ok(Kind::Int(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Kind>>()? {
            items.push(Node {
                kind: item.value,
                loc: loc_of(item.referenced),
            });
        }
        // The tree of a large file is mostly small lists and maps: no room
        // left over from growing them.
        items.shrink_to_fit();
        Ok(Kind::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<Kind>>()?;
            entries.push((
                Key {
                    name: key.value,
                    loc: loc_of(key.referenced),
                },
                Node {
                    kind: value.value,
                    loc: loc_of(value.referenced),
                },
            ));
        }
        entries.shrink_to_fit();
        Ok(Kind::Map(entries))
    }

    fn visit_bytes<E: de::Error>(self, _v: &[u8]) -> Result<Kind, E> {
        Err(E::custom("binary values are not supported"))
    }
}

/// The tree through serde_saphyr's `Spanned` values.
fn parse_serde(text: &str) -> Result<Node, (Loc, String)> {
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
    match serde_saphyr::from_str_with_options::<Spanned<Kind>>(text, options) {
        Ok(root) => Ok(Node {
            kind: root.value,
            loc: loc_of(root.referenced),
        }),
        Err(e) => {
            let loc = e.location().map(loc_of).unwrap_or_default();
            let message = UserMessageFormatter.format_message(e.without_snippet());
            Err((loc, format!("invalid YAML: {message}")))
        }
    }
}
