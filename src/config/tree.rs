//! The YAML document as a generic tree whose every node and key keeps its
//! line and column, and the small toolkit `validate` uses to walk it: typed
//! accessors that report a wrong type instead of failing, a `MapWalker` that
//! hands out known keys and reports unknown ones, and `Diag`, which collects
//! every error. Owns duplicate keys; knows nothing about what the keys
//! mean. The tree is read from YAML text by `yaml`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt::{self, Write as _};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use super::duration::parse_duration;
use super::error::ConfigError;
use super::model::Loc;

/// One YAML node and where it starts. Its strings borrow from the text
/// read wherever the YAML writes them as they are (no escapes, no folded
/// lines): a large file is mostly such keys and scalars, and the tree
/// allocates none of them (40 bytes a node, 72 a map entry).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node<'a> {
    pub(crate) kind: Kind<'a>,
    pub(crate) pos: Pos,
}

/// Where a node or key starts: a [`Loc`] in 8 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pos {
    pub(crate) line: u32,
    pub(crate) column: u32,
}

impl Pos {
    pub(crate) const fn loc(self) -> Loc {
        Loc {
            line: self.line as u64,
            column: self.column as u64,
        }
    }
}

impl Node<'_> {
    pub(crate) const fn loc(&self) -> Loc {
        self.pos.loc()
    }
}

/// A YAML node's value. Plain scalars are typed the YAML 1.2 way (`NO` and
/// `yes` stay strings, `true`/`false` are booleans); quoted scalars are
/// always strings, so `ttl: "30"` is a string.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind<'a> {
    Null,
    Bool(bool),
    Int(Int),
    Float(f64),
    Str(Cow<'a, str>),
    Seq(Vec<Node<'a>>),
    Map(Vec<(Key<'a>, Node<'a>)>),
}

/// The entries of a map.
pub(crate) type Entries<'a> = Vec<(Key<'a>, Node<'a>)>;

/// A mapping key: always read as the text written (`10:` is the key "10").
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Key<'a> {
    pub(crate) name: Cow<'a, str>,
    pub(crate) pos: Pos,
}

impl Key<'_> {
    pub(crate) const fn loc(&self) -> Loc {
        self.pos.loc()
    }
}

/// An integer as YAML reads it (from `i64::MIN` to `u64::MAX`): an `i128`
/// kept in two halves, so that a node is aligned to 8 bytes, not 16.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Int {
    high: i64,
    low: u64,
}

impl Int {
    pub(crate) const fn get(self) -> i128 {
        ((self.high as i128) << 64) | self.low as i128
    }
}

impl From<i128> for Int {
    fn from(v: i128) -> Self {
        Self {
            high: (v >> 64) as i64,
            low: v as u64,
        }
    }
}

impl fmt::Display for Int {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

impl fmt::Debug for Int {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

impl Kind<'_> {
    /// "a string", "an integer", ... for "expected X, found Y" messages.
    pub(crate) const fn describe(&self) -> &'static str {
        match self {
            Self::Null => "nothing (null)",
            Self::Bool(_) => "a boolean",
            Self::Int(_) => "an integer",
            Self::Float(_) => "a number with a fraction",
            Self::Str(_) => "a string",
            Self::Seq(_) => "a list",
            Self::Map(_) => "a map",
        }
    }
}

/// Reports every key that appears twice in one mapping, at the second
/// occurrence, and removes the later copies so that the rest of the checks
/// see the first one only.
pub(crate) fn report_duplicate_keys(node: &mut Node<'_>, path: &str, diag: &mut Diag) {
    let root = PathLink {
        parent: None,
        step: Step::Key(path),
    };
    duplicates_under(node, &root, diag);
}

/// One step of a key path, linked to its parent: the path is written out
/// only for an error, not built for every node of a large file.
struct PathLink<'a> {
    parent: Option<&'a Self>,
    step: Step<'a>,
}

#[derive(Clone, Copy, Debug)]
enum Step<'a> {
    /// The document itself (path "").
    Root,
    Key(&'a str),
    Index(usize),
}

impl Step<'_> {
    /// Appends this step to the path `out` (see [`key_path`], [`index_path`]).
    fn push(self, out: &mut String) {
        match self {
            Self::Root => {}
            Self::Key(key) => push_key(out, key),
            Self::Index(i) => {
                out.push('[');
                push_decimal(out, i);
                out.push(']');
            }
        }
    }
}

impl PathLink<'_> {
    fn render(&self) -> String {
        let parent = self.parent.map(PathLink::render).unwrap_or_default();
        match self.step {
            Step::Key(key) if self.parent.is_none() => key.to_owned(),
            Step::Root => parent,
            Step::Key(key) => key_path(&parent, key),
            Step::Index(i) => index_path(&parent, i),
        }
    }
}

/// Maps up to this many keys are checked by scanning the keys before each
/// one (no allocation); larger ones through a hash of the names.
const SCAN_LIMIT: usize = 16;

fn duplicates_under(node: &mut Node<'_>, path: &PathLink<'_>, diag: &mut Diag) {
    match &mut node.kind {
        Kind::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let link = PathLink {
                    parent: Some(path),
                    step: Step::Index(i),
                };
                duplicates_under(item, &link, diag);
            }
        }
        Kind::Map(entries) => {
            // A list of the names seen, scanned for every key, made a map of
            // 100,000 services quadratic (issue 19).
            let mut hashed: HashMap<&str, Loc, foldhash::fast::RandomState> = HashMap::default();
            let mut repeated = Vec::new();
            for (i, (key, _)) in entries.iter().enumerate() {
                let first = if entries.len() <= SCAN_LIMIT {
                    entries[..i]
                        .iter()
                        .find(|(k, _)| k.name == key.name)
                        .map(|(k, _)| k.loc())
                } else {
                    match hashed.entry(&key.name) {
                        Entry::Occupied(at) => Some(*at.get()),
                        Entry::Vacant(slot) => {
                            slot.insert(key.loc());
                            None
                        }
                    }
                };
                if let Some(first) = first {
                    let link = PathLink {
                        parent: Some(path),
                        step: Step::Key(&key.name),
                    };
                    diag.error(
                        key.loc(),
                        &link.render(),
                        format!(
                            "duplicate key {:?} (first at line {}); each key may appear once",
                            key.name, first.line
                        ),
                    );
                    repeated.push(i);
                }
            }
            drop(hashed);
            if !repeated.is_empty() {
                let mut i = 0;
                entries.retain(|_| {
                    let keep = repeated.binary_search(&i).is_err();
                    i += 1;
                    keep
                });
            }
            for (key, value) in entries.iter_mut() {
                let link = PathLink {
                    parent: Some(path),
                    step: Step::Key(&key.name),
                };
                duplicates_under(value, &link, diag);
            }
        }
        _ => {}
    }
}

/// `parent.key`, with the key quoted when it holds anything but
/// `[A-Za-z0-9_@-]` (`geo_maps.world.nets."10.0.0.0/8"`).
pub(crate) fn key_path(parent: &str, key: &str) -> String {
    let mut path = String::with_capacity(parent.len() + key.len() + 3);
    path.push_str(parent);
    push_key(&mut path, key);
    path
}

/// Appends `n` in decimal (without `fmt`'s machinery, once per path).
fn push_decimal(out: &mut String, n: usize) {
    if n >= 10 {
        push_decimal(out, n / 10);
    }
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// Appends `.key` to `path` (no dot on an empty path), quoted as
/// [`key_path`] says. Written piece by piece: `format!` here was a tenth of
/// validating a large file.
fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'@');
    if !path.is_empty() {
        path.push('.');
    }
    if plain {
        path.push_str(key);
    } else {
        // Writing into a String cannot fail.
        let _ = write!(path, "{key:?}");
    }
}

/// `parent[i]`.
pub(crate) fn index_path(parent: &str, i: usize) -> String {
    let mut path = String::with_capacity(parent.len() + 8);
    path.push_str(parent);
    // Writing into a String cannot fail.
    let _ = write!(path, "[{i}]");
    path
}

/// Collects every error of one load.
#[derive(Debug)]
pub(crate) struct Diag {
    file: PathBuf,
    errors: Vec<ConfigError>,
}

impl Diag {
    pub(crate) fn new(file: PathBuf) -> Self {
        Self {
            file,
            errors: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, loc: Loc, path: &str, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line: loc.line,
            column: loc.column,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The errors in file order (stable for errors at one position).
    pub(crate) fn into_sorted(mut self) -> Vec<ConfigError> {
        self.errors.sort_by_key(|e| (e.line, e.column));
        self.errors
    }
}

/// A node reached by a key path, with the position to blame when something
/// required inside it is missing (its key, or the node itself).
///
/// The key path is written out only when asked ([`Field::path`]), for an
/// error or the model: a large file's fields share their parents' steps
/// (one `Link` per map or list read), where writing a path for every key
/// was the most of validating it (issue 19).
#[derive(Clone, Debug)]
pub(crate) struct Field<'a> {
    pub(crate) node: &'a Node<'a>,
    /// The map or list holding this node (`None` at the top).
    parent: Option<Rc<Link<'a>>>,
    step: Step<'a>,
    pub(crate) anchor: Loc,
}

/// One step of a field's key path, linked to the steps above it.
#[derive(Debug)]
struct Link<'a> {
    parent: Option<Rc<Self>>,
    step: Step<'a>,
}

/// Writes the path of `link` (and the links above it) into `out`.
fn push_link(link: Option<&Link<'_>>, out: &mut String) {
    if let Some(link) = link {
        push_link(link.parent.as_deref(), out);
        link.step.push(out);
    }
}

impl<'a> Field<'a> {
    pub(crate) fn root(node: &'a Node<'a>) -> Self {
        Self {
            node,
            parent: None,
            step: Step::Root,
            anchor: node.loc(),
        }
    }

    /// The key path of this node (`zones[0].services.www`).
    pub(crate) fn path(&self) -> String {
        // Room for a service's path (`zones[0].services.name`) at once.
        let mut path = String::with_capacity(48);
        push_link(self.parent.as_deref(), &mut path);
        self.step.push(&mut path);
        path
    }

    /// This node as the parent of the fields inside it.
    fn link(&self) -> Option<Rc<Link<'a>>> {
        Some(Rc::new(Link {
            parent: self.parent.clone(),
            step: self.step,
        }))
    }

    pub(crate) const fn loc(&self) -> Loc {
        self.node.loc()
    }

    /// Reports `message` at this node's value.
    pub(crate) fn error(&self, diag: &mut Diag, message: impl Into<String>) {
        diag.error(self.node.loc(), &self.path(), message);
    }

    fn wrong_type(&self, diag: &mut Diag, expected: &str) {
        let found = self.node.kind.describe();
        let shown = match &self.node.kind {
            Kind::Str(s) => format!(" ({s:?})"),
            Kind::Int(i) => format!(" ({i})"),
            Kind::Float(x) => format!(" ({x})"),
            Kind::Bool(b) => format!(" ({b})"),
            _ => String::new(),
        };
        self.error(diag, format!("expected {expected}, found {found}{shown}"));
    }

    /// A string. A plain integer is accepted as its decimal text, since
    /// names such as `1` are legal; anything else is a type error.
    pub(crate) fn string(&self, diag: &mut Diag) -> Option<String> {
        match &self.node.kind {
            Kind::Str(s) => Some(s.to_string()),
            Kind::Int(i) => Some(i.to_string()),
            _ => {
                self.wrong_type(diag, "a string");
                None
            }
        }
    }

    /// A non-empty string.
    pub(crate) fn nonempty_string(&self, diag: &mut Diag) -> Option<String> {
        let s = self.string(diag)?;
        if s.trim().is_empty() {
            self.error(diag, "must not be empty");
            return None;
        }
        Some(s)
    }

    pub(crate) fn boolean(&self, diag: &mut Diag) -> Option<bool> {
        if let Kind::Bool(b) = self.node.kind {
            Some(b)
        } else {
            self.wrong_type(diag, "a boolean (true or false)");
            None
        }
    }

    /// An integer within `range`, converted to `T`.
    pub(crate) fn int_in<T: TryFrom<i128>>(
        &self,
        diag: &mut Diag,
        range: RangeInclusive<i128>,
    ) -> Option<T> {
        let Kind::Int(v) = self.node.kind else {
            self.wrong_type(diag, "an integer");
            return None;
        };
        let v = v.get();
        if !range.contains(&v) {
            let (lo, hi) = (*range.start(), *range.end());
            // Ranges that end at a type's maximum are open-ended to operators.
            let message = if hi >= i128::from(u32::MAX) {
                if v < lo {
                    format!("{v} is too small; it must be at least {lo}")
                } else {
                    format!("{v} is too large")
                }
            } else {
                format!("{v} is outside {lo}..={hi}")
            };
            self.error(diag, message);
            return None;
        }
        match T::try_from(v) {
            Ok(t) => Some(t),
            Err(_) => {
                self.error(diag, format!("{v} is out of range"));
                None
            }
        }
    }

    /// A number (integer or with a fraction) within `range`.
    pub(crate) fn float_in(&self, diag: &mut Diag, range: RangeInclusive<f64>) -> Option<f64> {
        let v = match self.node.kind {
            Kind::Int(i) => i.get() as f64,
            Kind::Float(x) => x,
            _ => {
                self.wrong_type(diag, "a number");
                return None;
            }
        };
        if !range.contains(&v) {
            self.error(
                diag,
                format!("{v} is outside {}..={}", range.start(), range.end()),
            );
            return None;
        }
        Some(v)
    }

    /// A duration such as `500ms`, `5s` or `1m30s`; zero is refused unless
    /// `zero_ok`.
    pub(crate) fn duration(&self, diag: &mut Diag, zero_ok: bool) -> Option<Duration> {
        let text = match &self.node.kind {
            Kind::Str(s) => s,
            Kind::Int(i) => {
                self.error(
                    diag,
                    format!(
                        "expected a duration, found the integer {i} with no unit; \
                         write e.g. {i}s or {i}ms (units: ms, s, m, h)"
                    ),
                );
                return None;
            }
            _ => {
                self.wrong_type(diag, "a duration such as 500ms, 5s or 1m");
                return None;
            }
        };
        match parse_duration(text) {
            Ok(d) if d.is_zero() && !zero_ok => {
                self.error(diag, format!("{text:?} is zero; it must be longer than 0"));
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(diag, e.to_string());
                None
            }
        }
    }

    /// The items of a list, each with its indexed path.
    pub(crate) fn seq(&self, diag: &mut Diag) -> Option<Vec<Self>> {
        let Kind::Seq(items) = &self.node.kind else {
            self.wrong_type(diag, "a list");
            return None;
        };
        let link = self.link();
        Some(
            items
                .iter()
                .enumerate()
                .map(|(i, node)| Field {
                    node,
                    parent: link.clone(),
                    step: Step::Index(i),
                    anchor: node.loc(),
                })
                .collect(),
        )
    }

    /// The value of one entry of this map, taken out of the tree (what
    /// [`Field::entries`] hands out for it).
    pub(crate) fn entry<'b>(&self, key: &'b Key<'b>, node: &'b Node<'b>) -> Field<'b>
    where
        'a: 'b,
    {
        Field {
            node,
            parent: self.link(),
            step: Step::Key(&key.name),
            anchor: key.loc(),
        }
    }

    /// The entries of this map, or `None` (reported) when it is not one. A
    /// null value counts as an empty map.
    fn map_entries(&self, diag: &mut Diag) -> Option<&'a [(Key<'a>, Node<'a>)]> {
        match &self.node.kind {
            Kind::Map(entries) => Some(entries),
            Kind::Null => Some(&[]),
            _ => {
                self.wrong_type(diag, "a map");
                None
            }
        }
    }

    /// The entries of a map whose keys are names chosen by the operator
    /// (regions, monitors, services...). A null value counts as an empty map.
    pub(crate) fn entries(&self, diag: &mut Diag) -> Option<Vec<(&'a Key<'a>, Self)>> {
        let entries = self.map_entries(diag)?;
        let link = self.link();
        Some(
            entries
                .iter()
                .map(|(key, node)| {
                    (
                        key,
                        Field {
                            node,
                            parent: link.clone(),
                            step: Step::Key(&key.name),
                            anchor: key.loc(),
                        },
                    )
                })
                .collect(),
        )
    }

    /// A map with a fixed set of keys: unknown keys are reported now, known
    /// ones are handed out by the returned walker. A null value counts as an
    /// empty map.
    pub(crate) fn map(
        &self,
        diag: &mut Diag,
        allowed: &'static [&'static str],
    ) -> Option<MapWalker<'a>> {
        let entries = self.map_entries(diag)?;
        let walker = MapWalker {
            entries,
            allowed,
            link: self.link(),
            anchor: self.anchor,
        };
        for (key, node) in entries {
            if !allowed.contains(&key.name.as_ref()) {
                diag.error(
                    key.loc(),
                    &walker.field(key, node).path(),
                    format!(
                        "unknown key {:?} (allowed: {})",
                        key.name,
                        allowed.join(", ")
                    ),
                );
            }
        }
        Some(walker)
    }
}

/// Hands out the known keys of one map (see [`Field::map`]).
#[derive(Debug)]
pub(crate) struct MapWalker<'a> {
    entries: &'a [(Key<'a>, Node<'a>)],
    allowed: &'static [&'static str],
    /// The map itself, as the parent of its fields.
    link: Option<Rc<Link<'a>>>,
    anchor: Loc,
}

impl<'a> MapWalker<'a> {
    fn field(&self, key: &'a Key<'a>, node: &'a Node<'a>) -> Field<'a> {
        Field {
            node,
            parent: self.link.clone(),
            step: Step::Key(&key.name),
            anchor: key.loc(),
        }
    }

    fn find(&self, key: &str) -> Option<&'a (Key<'a>, Node<'a>)> {
        self.entries.iter().find(|(k, _)| k.name == key)
    }

    /// The value of `key`, or `None` when it is absent or null.
    pub(crate) fn get(&self, key: &str) -> Option<Field<'a>> {
        debug_assert!(self.allowed.contains(&key), "{key} not declared as allowed");
        self.find(key)
            .filter(|(_, node)| node.kind != Kind::Null)
            .map(|(k, node)| self.field(k, node))
    }

    /// The value of `key`, reporting it as missing (at the map's key) when
    /// it is absent. A null value is returned, so that the type check names it.
    pub(crate) fn require(&self, diag: &mut Diag, key: &str) -> Option<Field<'a>> {
        debug_assert!(self.allowed.contains(&key), "{key} not declared as allowed");
        let found = self.find(key).map(|(k, node)| self.field(k, node));
        if found.is_none() {
            diag.error(
                self.anchor,
                &self.path(),
                format!("missing required key {key:?}"),
            );
        }
        found
    }

    /// Where the key of `key` is written, if present.
    pub(crate) fn key_loc(&self, key: &str) -> Option<Loc> {
        self.find(key).map(|(k, _)| k.loc())
    }

    /// The key path of the map (written out when asked).
    pub(crate) fn path(&self) -> String {
        let mut path = String::new();
        push_link(self.link.as_deref(), &mut path);
        path
    }

    pub(crate) const fn anchor(&self) -> Loc {
        self.anchor
    }
}
