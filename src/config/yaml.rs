//! Reads YAML text into the located tree ([`Node`]): every node and key with
//! the line and column where it starts. Owns YAML syntax and how plain
//! scalars are typed; knows nothing about what the keys mean.

use std::fmt;

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
    parse_serde(text)
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
