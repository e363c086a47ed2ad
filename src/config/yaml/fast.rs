//! The fast reader: a scanner of our own for the YAML a configuration is
//! written in, building the same located tree as the parser-event reader
//! with the same positions. It owns only the common shapes (issue 19):
//! block maps and lists, flow lists and maps, plain scalars on one line,
//! single- and double-quoted scalars on one line (with their escapes),
//! comments and blank lines, in ASCII text without tabs or carriage
//! returns. On anything else (anchors, aliases, tags, block scalars `|` and
//! `>`, multi-line scalars, complex keys, directives and document markers,
//! empty list items, odd indentation, a plain scalar whose typing the
//! event reader leaves to serde_saphyr, a key written twice in one map,
//! anything near the limits, any error) it answers `None` and the file is read by the slower readers, so
//! every message and every rarely used rule stays theirs.
//!
//! A key, a list or a map starts where the parser says it does: a block
//! map at its first key, a block list at its first `-`, a flow collection
//! at its bracket, a quoted scalar at its opening quote, and an empty
//! value (`key:` with nothing after it) at its key's colon.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::BuildHasher;

use super::{
    COMMENTS_BUFFERED, MAX_DEPTH, MAX_INPUT_BYTES, MAX_NODES, Plain, is_null, plain_scalar,
};
use crate::config::tree::{Int, Key, Kind, Node, Pos};

/// The tree of `text`, or `None` for anything left to the other readers.
pub(super) fn parse(text: &str) -> Option<Node<'_>> {
    if !ours(text) {
        return None;
    }
    let mut reader = Reader::new(text);
    reader.document()
}

/// [`parse`], except that each zone's `services:` map, when written as a
/// block map on the lines below its key, is only skipped over (its lines
/// and their indentation, nothing else), not read: the tree holds an empty
/// map in its place, and [`Deferred::services`] reads its entries one at a
/// time when the zone's services are validated, so that the tree of a
/// large file is never whole (issue 19: at a reload the whole tree, about
/// 1.2 KB a service, stood next to the answering snapshot). Whatever
/// [`parse`] declines, this declines too, here or when the map is read.
pub(super) fn parse_deferring(text: &str) -> Option<(Node<'_>, Deferred<'_>)> {
    if !ours(text) {
        return None;
    }
    let mut reader = Reader::new(text);
    reader.defer = true;
    let root = reader.document()?;
    Some((
        root,
        Deferred {
            text,
            maps: std::mem::take(&mut reader.deferred),
            nodes: reader.nodes,
            declined: false,
        },
    ))
}

/// Whether the text as a whole may be ours: no odd bytes, no long runs of
/// comments (see `parse`).
fn ours(text: &str) -> bool {
    if text.len() > MAX_INPUT_BYTES {
        return false;
    }
    let bytes = text.as_bytes();
    // A tab, a carriage return, a control character or UTF-8: columns,
    // indentation and line breaks are the parser's business. (Written as
    // two folds without early exits, which the compiler vectorises.)
    let odd = bytes.iter().fold(false, |odd, &b| {
        odd | (b != b'\n' && !(b' '..=b'~').contains(&b))
    });
    if odd {
        return false;
    }
    let hashes = bytes.iter().filter(|&&b| b == b'#').count();
    // With many comments the parser reads them as events and fails long
    // runs of them (see `COMMENTS_BUFFERED`): only short runs are ours.
    hashes < COMMENTS_BUFFERED || comment_runs_are_short(text)
}

/// A zone's `services:` map skipped over by [`parse_deferring`]: where its
/// first key is, and the reader's state there.
#[derive(Debug)]
struct Skipped {
    /// The zone's index in `zones:`.
    zone: usize,
    i: usize,
    line: u32,
    line_start: usize,
    /// The column of its keys.
    indent: usize,
    /// How deep the map is (as `Reader::depth` counts).
    depth: usize,
    /// Where the text after the map starts (the start of the next line
    /// with content less indented, or the end).
    end: usize,
    /// How many lines start at its keys' column: its entries.
    entries: usize,
}

/// The zones' `services:` maps a [`parse_deferring`] skipped, to be read
/// entry by entry ([`Deferred::services`]).
#[derive(Debug)]
pub(crate) struct Deferred<'a> {
    text: &'a str,
    maps: Vec<Skipped>,
    /// Nodes counted so far (the limit is on the whole file).
    nodes: usize,
    declined: bool,
}

impl<'a> Deferred<'a> {
    /// None skipped (for a tree read another way).
    pub(crate) const fn none() -> Self {
        Self {
            text: "",
            maps: Vec::new(),
            nodes: 0,
            declined: false,
        }
    }

    /// The entries of zone `zone`'s skipped `services:` map, if it was
    /// skipped (once: a second call answers `None`).
    pub(crate) fn services(&mut self, zone: usize) -> Option<Services<'a, '_>> {
        let at = self.maps.iter().position(|m| m.zone == zone)?;
        let map = self.maps.swap_remove(at);
        let text: &'a str = self.text;
        let mut reader = Reader::new(&text[..map.end]);
        reader.i = map.i;
        reader.line = map.line;
        reader.line_start = map.line_start;
        reader.indent = map.indent;
        reader.depth = map.depth;
        reader.nodes = self.nodes;
        let mut services = Services {
            reader,
            n: map.indent,
            entries: map.entries,
            seen: HashSet::with_capacity_and_hasher(map.entries, Default::default()),
            done: self.declined,
            owner: self,
        };
        // The map itself, as `block_map` counts it.
        if !services.done && services.reader.enter().is_none() {
            services.decline();
        }
        Some(services)
    }

    /// Reads what was not read (a zone the validation did not reach), and
    /// says whether every skipped map was read as [`parse`] reads it: when
    /// not, the file is the other readers' after all.
    pub(crate) fn finish(mut self) -> bool {
        while let Some(zone) = self.maps.first().map(|m| m.zone) {
            drop(self.services(zone));
        }
        !self.declined
    }
}

/// The entries of one skipped `services:` map, read one at a time
/// ([`Services::next`]); a map not read to its end is when dropped.
pub(crate) struct Services<'a, 'd> {
    reader: Reader<'a>,
    /// The column of the keys.
    n: usize,
    entries: usize,
    /// The hashes of the keys read: a key written twice (or, rarely, two
    /// keys of one hash) is declined, as `end_map` declines it.
    seen: HashSet<u64, foldhash::fast::RandomState>,
    done: bool,
    owner: &'d mut Deferred<'a>,
}

impl<'a> Services<'a, '_> {
    /// About how many entries the map holds (for reserving room).
    pub(crate) const fn len_hint(&self) -> usize {
        self.entries
    }

    fn decline(&mut self) {
        self.done = true;
        self.owner.declined = true;
    }

    /// The next entry, `None` at the end of the map or once it declined
    /// (see [`Deferred::finish`]).
    pub(crate) fn next(&mut self) -> Option<(Key<'a>, Node<'a>)> {
        if self.done {
            return None;
        }
        let n = self.n;
        let r = &mut self.reader;
        let entry = (|| {
            let scalar = r.block_scalar()?;
            let key = r.key(scalar)?;
            let colon = r.pos();
            r.i += 1;
            let value = r.block_value(n, colon)?;
            // `block_map`'s checks after an entry; the text ends where
            // a less indented line starts.
            if !r.eof && r.indent != n {
                return None;
            }
            Some((key, value))
        })();
        let Some((key, value)) = entry else {
            self.decline();
            return None;
        };
        if !self.seen.insert(self.seen.hasher().hash_one(&*key.name)) {
            self.decline();
            return None;
        }
        if self.reader.eof {
            self.done = true;
            self.reader.depth -= 1;
            self.owner.nodes = self.reader.nodes;
        }
        Some((key, value))
    }
}

impl Drop for Services<'_, '_> {
    fn drop(&mut self) {
        while self.next().is_some() {}
    }
}

/// Whether no line of `text` is inside a run of more than a few comments
/// with no YAML between them (counted generously: a line holding `#`
/// anywhere counts as a comment).
fn comment_runs_are_short(text: &str) -> bool {
    const SHORT: usize = COMMENTS_BUFFERED / 3;
    let mut run = 0;
    for line in text.lines() {
        let content = line.trim_start_matches(' ');
        if content.starts_with('#') {
            run += 1;
        } else if content.contains('#') {
            run = 1;
        } else if !content.is_empty() {
            run = 0;
        }
        if run >= SHORT {
            return false;
        }
    }
    true
}

/// How deep lists and maps may nest here: well inside the other readers'
/// limit, so that a breach is always theirs to word.
const DEPTH: usize = MAX_DEPTH - 12;

/// Maps up to this many keys are checked for a key written twice by
/// scanning; larger ones through a hash of the names.
const SCAN_KEYS: usize = 16;

/// The longest implicit key YAML allows is 1024 characters; longer ones are
/// the parser's to refuse.
const KEY_BYTES: usize = 1000;

struct Reader<'a> {
    text: &'a str,
    b: &'a [u8],
    /// The cursor (a byte offset into `text`).
    i: usize,
    /// The cursor's line (1-based) and where that line starts.
    line: u32,
    line_start: usize,
    /// The indentation of the line whose content the cursor is at, between
    /// block items (see `next_content`).
    indent: usize,
    /// Set when `next_content` met the end of the text.
    eof: bool,
    /// The items and entries of every open list and map: each is allocated
    /// once, at its end, to its size.
    items: Vec<Node<'a>>,
    entries: Vec<(Key<'a>, Node<'a>)>,
    nodes: usize,
    depth: usize,
    /// Whether zones' `services:` maps are skipped (`parse_deferring`).
    defer: bool,
    /// Where the cursor is, for finding those maps.
    at: Within,
    /// The maps skipped.
    deferred: Vec<Skipped>,
}

/// Where a collection being read sits in the document, as far as
/// `parse_deferring` cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Within {
    Other,
    /// The document's map.
    Top,
    /// The value of the document's `zones:`.
    Zones,
    /// The zone of this index.
    Zone(usize),
    /// That zone's `services:`.
    Services(usize),
}

/// A scalar as written: its text (escapes resolved), whether it was plain,
/// and where it starts.
struct Scalar<'a> {
    text: Cow<'a, str>,
    plain: bool,
    pos: Pos,
    /// Where its text starts (for the implicit key's length).
    start: usize,
}

impl<'a> Reader<'a> {
    const fn new(text: &'a str) -> Self {
        Reader {
            text,
            b: text.as_bytes(),
            i: 0,
            line: 1,
            line_start: 0,
            indent: 0,
            eof: false,
            items: Vec::new(),
            entries: Vec::new(),
            nodes: 0,
            depth: 0,
            defer: false,
            at: Within::Other,
            deferred: Vec::new(),
        }
    }

    /// The byte `k` places after the cursor; 0 past the end (the text holds
    /// no NUL, see `parse`).
    fn at(&self, k: usize) -> u8 {
        self.b.get(self.i + k).copied().unwrap_or(0)
    }

    fn pos(&self) -> Pos {
        // The text is at most `MAX_INPUT_BYTES`, so both fit.
        Pos {
            line: self.line,
            column: (self.i - self.line_start + 1) as u32,
        }
    }

    fn count(&mut self) -> Option<()> {
        self.nodes += 1;
        (self.nodes <= MAX_NODES).then_some(())
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        self.count()?;
        (self.depth < DEPTH).then_some(())
    }

    fn skip_spaces(&mut self) {
        while self.at(0) == b' ' {
            self.i += 1;
        }
    }

    /// Past the end of the line (the cursor is at a line break or the end).
    fn skip_to_line_end(&mut self) {
        while !matches!(self.at(0), b'\n' | 0) {
            self.i += 1;
        }
    }

    fn new_line(&mut self) {
        self.i += 1;
        self.line += 1;
        self.line_start = self.i;
    }

    /// From the start of a line to the first content of the next line that
    /// has some (past blank and comment lines), setting `indent`, or to the
    /// end (`eof`). Document markers and directives are not ours.
    fn next_content(&mut self) -> Option<()> {
        loop {
            let start = self.i;
            self.skip_spaces();
            match self.at(0) {
                b'\n' => self.new_line(),
                b'#' => {
                    self.skip_to_line_end();
                    if self.at(0) == 0 {
                        self.eof = true;
                        return Some(());
                    }
                    self.new_line();
                }
                0 => {
                    self.eof = true;
                    return Some(());
                }
                c => {
                    self.indent = self.i - start;
                    let marker = self.b[self.i..].starts_with(b"---")
                        || self.b[self.i..].starts_with(b"...");
                    if self.indent == 0 && (marker || c == b'%') {
                        return None;
                    }
                    return Some(());
                }
            }
        }
    }

    /// After a value: trailing spaces and comment, the line break, then on
    /// to the next content (`next_content`).
    fn end_line(&mut self) -> Option<()> {
        self.skip_spaces();
        if self.at(0) == b'#' {
            if self.b[self.i - 1] != b' ' {
                return None;
            }
            self.skip_to_line_end();
        }
        match self.at(0) {
            b'\n' => {
                self.new_line();
                self.next_content()
            }
            0 => {
                self.eof = true;
                Some(())
            }
            _ => None,
        }
    }

    fn document(&mut self) -> Option<Node<'a>> {
        self.next_content()?;
        if self.eof || self.indent != 0 || self.at_seq_entry() {
            // Empty, indented as a whole, or a list: not a configuration's
            // shape, and rare.
            return None;
        }
        self.at = Within::Top;
        let root = self.block_map(0, None)?;
        self.eof.then_some(root)
    }

    /// Whether the cursor is at a block list's `-`.
    fn at_seq_entry(&self) -> bool {
        self.at(0) == b'-' && matches!(self.at(1), b' ' | b'\n' | 0)
    }

    /// A block map whose keys are at column `n` (0-based); the cursor is at
    /// its first key, or past it when `first` was read by a list item.
    fn block_map(&mut self, n: usize, mut first: Option<Key<'a>>) -> Option<Node<'a>> {
        self.enter()?;
        let start = self.entries.len();
        let pos = first.as_ref().map_or_else(|| self.pos(), |k| k.pos);
        let here = self.at;
        loop {
            let key = match first.take() {
                Some(key) => key,
                None => {
                    let scalar = self.block_scalar()?;
                    self.key(scalar)?
                }
            };
            let colon = self.pos();
            self.i += 1;
            self.at = match here {
                Within::Top if key.name == "zones" => Within::Zones,
                Within::Zone(z) if key.name == "services" => Within::Services(z),
                _ => Within::Other,
            };
            let value = self.block_value(n, colon)?;
            self.entries.push((key, value));
            if self.eof || self.indent < n {
                break;
            }
            if self.indent > n {
                return None;
            }
        }
        self.depth -= 1;
        self.end_map(start, pos)
    }

    /// The map whose entries are on the stack from `start`, unless a key
    /// is in it twice: duplicates are reported by `tree`, after the other
    /// readers.
    fn end_map(&mut self, start: usize, pos: Pos) -> Option<Node<'a>> {
        let entries = &self.entries[start..];
        if entries.len() <= SCAN_KEYS {
            for (i, (key, _)) in entries.iter().enumerate() {
                if entries[..i].iter().any(|(k, _)| k.name == key.name) {
                    return None;
                }
            }
        } else {
            let mut seen: HashSet<&str, foldhash::fast::RandomState> =
                HashSet::with_capacity_and_hasher(entries.len(), Default::default());
            if !entries.iter().all(|(key, _)| seen.insert(&key.name)) {
                return None;
            }
        }
        Some(Node {
            kind: Kind::Map(self.entries.drain(start..).collect()),
            pos,
        })
    }

    /// A scalar read as a key: the cursor must be at its colon, followed by
    /// a space or the line's end.
    fn key(&mut self, scalar: Scalar<'a>) -> Option<Key<'a>> {
        let colon_follows = self.at(0) == b':' && matches!(self.at(1), b' ' | b'\n' | 0);
        // serde_saphyr refuses a null key and merges `<<`.
        let refused = scalar.plain && (is_null(&scalar.text) || scalar.text == "<<");
        if !colon_follows || refused || self.i - scalar.start > KEY_BYTES {
            return None;
        }
        self.count()?;
        Some(Key {
            name: scalar.text,
            pos: scalar.pos,
        })
    }

    /// The value after a block map's colon (the cursor is past it): on the
    /// same line, or on the lines below, or nothing.
    fn block_value(&mut self, n: usize, colon: Pos) -> Option<Node<'a>> {
        self.skip_spaces();
        if matches!(self.at(0), b'\n' | 0 | b'#') {
            self.end_line()?;
            return if !self.eof && self.indent > n {
                match self.at {
                    Within::Services(zone) if self.defer && !self.at_seq_entry() => {
                        self.skip_map(zone)
                    }
                    _ => self.block_node(),
                }
            } else if !self.eof && self.indent == n && self.at_seq_entry() {
                self.block_seq(n, true)
            } else {
                self.count()?;
                Some(Node {
                    kind: Kind::Null,
                    pos: colon,
                })
            };
        }
        let value = self.inline_value(n)?;
        self.end_line()?;
        // A deeper line after a value continues a plain scalar, or is an
        // error: either way not ours.
        if !self.eof && self.indent > n {
            return None;
        }
        Some(value)
    }

    /// Skips over the block map at the cursor (its first key), the
    /// `services:` of zone `zone`: line by line to the first line with
    /// content less indented than its keys, counting the lines at their
    /// column. What `block_map` would make of those lines is left to
    /// [`Deferred::services`]: here the map stands as an empty one.
    fn skip_map(&mut self, zone: usize) -> Option<Node<'a>> {
        let n = self.indent;
        let pos = self.pos();
        let mut skipped = Skipped {
            zone,
            i: self.i,
            line: self.line,
            line_start: self.line_start,
            indent: n,
            depth: self.depth,
            end: self.b.len(),
            entries: 0,
        };
        loop {
            skipped.entries += usize::from(self.indent == n);
            self.skip_to_line_end();
            if self.at(0) == 0 {
                self.eof = true;
                break;
            }
            self.new_line();
            self.next_content()?;
            if self.eof {
                break;
            }
            if self.indent < n {
                skipped.end = self.line_start;
                break;
            }
        }
        self.deferred.push(skipped);
        Some(Node {
            kind: Kind::Map(Vec::new()),
            pos,
        })
    }

    /// A value that starts on its own line: a block list or map.
    fn block_node(&mut self) -> Option<Node<'a>> {
        let m = self.indent;
        if self.at_seq_entry() {
            self.block_seq(m, false)
        } else {
            self.block_map(m, None)
        }
    }

    /// A value on the line of its key: a flow collection or a scalar.
    fn inline_value(&mut self, n: usize) -> Option<Node<'a>> {
        self.at = Within::Other;
        match self.at(0) {
            b'[' | b'{' => self.flow_value(n),
            _ => {
                let scalar = self.block_scalar()?;
                self.scalar_node(scalar)
            }
        }
    }

    /// A block list whose `-` are at column `n`; the cursor is at the first.
    /// An `indentless` list (at its key's column) starts, to the parser, at
    /// its first item.
    fn block_seq(&mut self, n: usize, indentless: bool) -> Option<Node<'a>> {
        self.enter()?;
        let start = self.items.len();
        let mut pos = self.pos();
        let here = self.at;
        loop {
            self.at = match here {
                Within::Zones => Within::Zone(self.items.len() - start),
                _ => Within::Other,
            };
            self.i += 1;
            let before = self.i;
            self.skip_spaces();
            let item = match self.at(0) {
                b'\n' | 0 | b'#' => {
                    if self.at(0) == b'#' && self.i == before {
                        return None;
                    }
                    self.end_line()?;
                    // An empty item is the parser's, and so is where an
                    // indentless list starts when its first item is below.
                    if self.eof || self.indent <= n || (indentless && self.items.len() == start) {
                        return None;
                    }
                    self.block_node()?
                }
                b'[' | b'{' => {
                    self.at = Within::Other;
                    let value = self.flow_value(n)?;
                    self.end_line()?;
                    value
                }
                // A list in a list (`- - x`) is the parser's.
                b'-' if self.at_seq_entry() => return None,
                _ => {
                    let scalar = self.block_scalar()?;
                    if self.at(0) == b':' {
                        // The first key of a map in the item.
                        let column = scalar.pos.column as usize - 1;
                        let key = self.key(scalar)?;
                        self.block_map(column, Some(key))?
                    } else {
                        let value = self.scalar_node(scalar)?;
                        self.end_line()?;
                        value
                    }
                }
            };
            if indentless && self.items.len() == start {
                pos = item.pos;
            }
            self.items.push(item);
            if self.eof || self.indent < n {
                break;
            }
            if self.indent > n {
                return None;
            }
            if !self.at_seq_entry() {
                // The map this list is the value of goes on.
                break;
            }
        }
        self.depth -= 1;
        Some(Node {
            kind: Kind::Seq(self.items.drain(start..).collect()),
            pos,
        })
    }

    /// A scalar in block context, and the spaces after it.
    fn block_scalar(&mut self) -> Option<Scalar<'a>> {
        let scalar = self.scalar(false)?;
        // A quoted scalar ends at a space, a colon or the line's end.
        if !scalar.plain && !matches!(self.at(0), b' ' | b'\n' | 0 | b':') {
            return None;
        }
        self.skip_spaces();
        Some(scalar)
    }

    /// A scalar at the cursor: quoted, or plain in block or flow context.
    fn scalar(&mut self, flow: bool) -> Option<Scalar<'a>> {
        let pos = self.pos();
        let start = self.i;
        let text = match self.at(0) {
            q @ (b'\'' | b'"') => self.quoted(q)?,
            c if plain_start(c, self.at(1)) => {
                return Some(Scalar {
                    text: Cow::Borrowed(self.plain(flow)),
                    plain: true,
                    pos,
                    start,
                });
            }
            _ => return None,
        };
        Some(Scalar {
            text,
            plain: false,
            pos,
            start,
        })
    }

    /// A plain scalar on one line, its trailing spaces left unread.
    fn plain(&mut self, flow: bool) -> &'a str {
        let start = self.i;
        let mut end = start;
        loop {
            match self.at(0) {
                b'\n' | 0 => break,
                b',' | b'[' | b']' | b'{' | b'}' if flow => break,
                b':' => {
                    let next = self.at(1);
                    let ends = matches!(next, b' ' | b'\n' | 0)
                        || (flow && matches!(next, b',' | b'[' | b']' | b'{' | b'}'));
                    if ends {
                        break;
                    }
                }
                b'#' if self.b[self.i - 1] == b' ' => break,
                _ => {}
            }
            self.i += 1;
            if self.b[self.i - 1] != b' ' {
                end = self.i;
            }
        }
        self.i = end;
        &self.text[start..end]
    }

    /// A quoted scalar on one line: single-quoted (`''` is a quote) or
    /// double-quoted (its escapes resolved), by the `quote` it opens with.
    fn quoted(&mut self, quote: u8) -> Option<Cow<'a, str>> {
        self.i += 1;
        let start = self.i;
        let mut owned: Option<String> = None;
        let mut piece = start;
        loop {
            match self.at(0) {
                b'\n' | 0 => return None,
                b'\'' if quote == b'\'' && self.at(1) == b'\'' => {
                    owned
                        .get_or_insert_with(String::new)
                        .push_str(&self.text[piece..=self.i]);
                    self.i += 2;
                    piece = self.i;
                }
                c if c == quote => break,
                b'\\' if quote == b'"' => {
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(&self.text[piece..self.i]);
                    let (c, len) = escape(&self.b[self.i + 1..])?;
                    s.push(c);
                    self.i += 1 + len;
                    piece = self.i;
                }
                _ => self.i += 1,
            }
        }
        let text = match owned {
            None => Cow::Borrowed(&self.text[start..self.i]),
            Some(mut s) => {
                s.push_str(&self.text[piece..self.i]);
                Cow::Owned(s)
            }
        };
        self.i += 1;
        Some(text)
    }

    /// A scalar value typed as the event reader types it.
    fn scalar_node(&mut self, scalar: Scalar<'a>) -> Option<Node<'a>> {
        self.count()?;
        let kind = if scalar.plain {
            match plain_scalar(&scalar.text)? {
                Plain::Null => Kind::Null,
                Plain::Bool(b) => Kind::Bool(b),
                Plain::Int(i) => Kind::Int(Int::from(i)),
                Plain::Float(x) => Kind::Float(x),
                Plain::Str => Kind::Str(scalar.text),
            }
        } else {
            Kind::Str(scalar.text)
        };
        Some(Node {
            kind,
            pos: scalar.pos,
        })
    }

    /// Spaces, line breaks and comments inside a flow collection; a line
    /// with content must be indented past the block column `n`.
    fn flow_space(&mut self, n: usize) -> Option<()> {
        loop {
            match self.at(0) {
                b' ' => self.i += 1,
                b'\n' => {
                    self.new_line();
                    self.skip_spaces();
                    if !matches!(self.at(0), b'\n' | b'#' | 0) && self.i - self.line_start <= n {
                        return None;
                    }
                }
                b'#' if matches!(self.b[self.i - 1], b' ' | b'\n') => self.skip_to_line_end(),
                0 => return None,
                _ => return Some(()),
            }
        }
    }

    /// A flow list, map or scalar at the cursor, inside a block at column `n`.
    fn flow_value(&mut self, n: usize) -> Option<Node<'a>> {
        match self.at(0) {
            b'[' => self.flow_seq(n),
            b'{' => self.flow_map(n),
            _ => {
                let scalar = self.flow_scalar()?;
                self.scalar_node(scalar)
            }
        }
    }

    /// A scalar in flow context: a quoted one must end at a space, a line
    /// break or an indicator.
    fn flow_scalar(&mut self) -> Option<Scalar<'a>> {
        let scalar = self.scalar(true)?;
        if !scalar.plain && !matches!(self.at(0), b' ' | b'\n' | b',' | b']' | b'}' | b':') {
            return None;
        }
        Some(scalar)
    }

    fn flow_seq(&mut self, n: usize) -> Option<Node<'a>> {
        self.at = Within::Other;
        self.enter()?;
        let start = self.items.len();
        let pos = self.pos();
        self.i += 1;
        loop {
            self.flow_space(n)?;
            if self.at(0) == b']' {
                break;
            }
            let item = self.flow_value(n)?;
            self.items.push(item);
            self.flow_space(n)?;
            match self.at(0) {
                b',' => self.i += 1,
                b']' => break,
                // `[a: b]` and the like are the parser's.
                _ => return None,
            }
        }
        self.i += 1;
        self.depth -= 1;
        Some(Node {
            kind: Kind::Seq(self.items.drain(start..).collect()),
            pos,
        })
    }

    fn flow_map(&mut self, n: usize) -> Option<Node<'a>> {
        self.at = Within::Other;
        self.enter()?;
        let start = self.entries.len();
        let pos = self.pos();
        self.i += 1;
        loop {
            self.flow_space(n)?;
            if self.at(0) == b'}' {
                break;
            }
            let scalar = self.flow_scalar()?;
            self.skip_spaces();
            let key = self.key(scalar)?;
            let colon = self.pos();
            self.i += 1;
            if self.at(0) != b' ' {
                return None;
            }
            self.skip_spaces();
            let value = match self.at(0) {
                b',' | b'}' => {
                    self.count()?;
                    Node {
                        kind: Kind::Null,
                        pos: colon,
                    }
                }
                _ => self.flow_value(n)?,
            };
            self.entries.push((key, value));
            self.flow_space(n)?;
            match self.at(0) {
                b',' => self.i += 1,
                b'}' => break,
                _ => return None,
            }
        }
        self.i += 1;
        self.depth -= 1;
        self.end_map(start, pos)
    }
}

/// Whether a plain scalar may start with `c` (followed by `next`) here: the
/// common starts only; an indicator, `?` or `:` is the parser's.
fn plain_start(c: u8, next: u8) -> bool {
    match c {
        b'-' => next.is_ascii_alphanumeric() || next == b'.',
        b'.' | b'/' | b'_' | b'~' | b'+' | b'$' | b'(' | b'=' | b'^' | b';' | b'<' | b')' => true,
        _ => c.is_ascii_alphanumeric(),
    }
}

/// The character a double-quoted escape stands for, and how many bytes
/// after the backslash it takes; `None` for a line continuation or an
/// unknown escape.
fn escape(after: &[u8]) -> Option<(char, usize)> {
    let simple = match *after.first()? {
        b'0' => '\0',
        b'a' => '\x07',
        b'b' => '\x08',
        b't' => '\t',
        b'n' => '\n',
        b'v' => '\x0b',
        b'f' => '\x0c',
        b'r' => '\r',
        b'e' => '\x1b',
        b' ' => ' ',
        b'"' => '"',
        b'/' => '/',
        b'\\' => '\\',
        b'N' => '\u{85}',
        b'_' => '\u{a0}',
        b'L' => '\u{2028}',
        b'P' => '\u{2029}',
        b'x' => return hex_char(after, 2),
        b'u' => return hex_char(after, 4),
        b'U' => return hex_char(after, 8),
        _ => return None,
    };
    Some((simple, 1))
}

/// `\xHH`, `\uHHHH`, `\UHHHHHHHH`: the character of `digits` hex digits.
fn hex_char(after: &[u8], digits: usize) -> Option<(char, usize)> {
    let hex = after.get(1..=digits)?;
    let mut code = 0u32;
    for &h in hex {
        code = code * 16 + char::from(h).to_digit(16)?;
    }
    Some((char::from_u32(code)?, 1 + digits))
}
