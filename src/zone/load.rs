//! Reading RFC 1035 master files (zone files) the way BIND and Knot read
//! them: every record in the file is loaded or is an error that names
//! file:line:column. Never dropped.
//!
//! The lexer and the entry parser are ours (one pass, positions kept,
//! RFC 1035 5.1 escapes in names and strings, parentheses across lines,
//! comments, `$ORIGIN`, `$TTL`, `$INCLUDE`, TTL units such as `1h30m`,
//! RFC 3597 `TYPEnnn`/`CLASSn`/`\#` generic data). The record data of the
//! common types is parsed here too; rarer types with a text form (CAA,
//! TLSA, SSHFP, SVCB, ...) are handed to hickory's parser one record at a
//! time. Records come out as hickory `Record`s, as the wire format is
//! hickory's. `docs/design.md` ("Zone files and differences from Knot")
//! says why neither hickory's nor `domain`'s reader is used whole.
//!
//! This module never answers queries and never checks zone consistency
//! (apex SOA, CNAME alone, ...): `ZoneData::build` does, and reports
//! through the positions kept here.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, NULL, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable};
use hickory_proto::serialize::txt::{Parser, parse_ttl};

/// Nested `$INCLUDE`s followed at most (a loop stops here).
const MAX_INCLUDE_DEPTH: usize = 16;
/// Errors reported per zone file before giving up on it.
const MAX_ERRORS: usize = 50;

/// A zone file that could not be read or parsed, or a record in it that
/// cannot be served, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ZoneFileError {
    pub file: PathBuf,
    /// 1-based line of the problem, when known.
    pub line: Option<u64>,
    /// 1-based column (in bytes) of the problem, when known.
    pub column: Option<u64>,
    pub message: String,
}

impl fmt::Display for ZoneFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// Where a record was read: file (index into `LoadedZone::files`), line and
/// column of its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    file: u16,
    line: u32,
    column: u32,
}

/// The records of a zone file (and the files it includes), each with the
/// position of its entry.
#[derive(Debug, Default)]
pub struct LoadedZone {
    pub records: Vec<Record>,
    positions: Vec<Position>,
    files: Vec<PathBuf>,
}

impl LoadedZone {
    /// An error about record `index` (an index into `records`).
    pub fn error_at(&self, index: usize, message: String) -> ZoneFileError {
        match self.positions.get(index) {
            Some(p) => ZoneFileError {
                file: self.files[usize::from(p.file)].clone(),
                line: Some(u64::from(p.line)),
                column: Some(u64::from(p.column)),
                message,
            },
            None => ZoneFileError {
                file: self.files.first().cloned().unwrap_or_default(),
                line: None,
                column: None,
                message,
            },
        }
    }
}

/// Read and parse the zone file at `path` for `origin`, with the files it
/// includes. Returns every error found (up to a bound).
pub fn load_zone_file(path: &Path, origin: &Name) -> Result<LoadedZone, Vec<ZoneFileError>> {
    let mut loader = Loader::default();
    loader.load(path, origin.clone(), 0, None);
    loader.finish()
}

/// Parse master-file `text` (read from `path`, which names it in errors and
/// anchors relative `$INCLUDE`s) for `origin`.
pub fn parse_zone_text(
    text: &str,
    path: &Path,
    origin: &Name,
) -> Result<Vec<Record>, ZoneFileError> {
    let mut loader = Loader::default();
    let file = loader.add_file(path);
    loader.parse(text.as_bytes(), file, origin.clone(), 0, Ttls::default());
    match loader.finish() {
        Ok(zone) => Ok(zone.records),
        Err(mut errors) => Err(errors.swap_remove(0)),
    }
}

#[derive(Default)]
struct Loader {
    zone: LoadedZone,
    errors: Vec<ZoneFileError>,
    /// Reused wire buffer for names.
    wire: Vec<u8>,
    /// The last origin appended to a relative name, and its wire form.
    origin_wire: Option<(Name, Vec<u8>)>,
}

/// A problem at a place in the file being read.
struct Problem {
    line: u32,
    column: u32,
    message: String,
}

impl Problem {
    fn at(tok: &Tok<'_>, message: impl Into<String>) -> Self {
        Self {
            line: tok.line,
            column: tok.column,
            message: message.into(),
        }
    }
}

/// The TTLs an included file starts with.
#[derive(Debug, Clone, Copy, Default)]
struct Ttls {
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
}

/// What the parser carries from one entry to the next in one file.
struct FileState {
    file: u16,
    origin: Name,
    /// `$TTL` (RFC 2308 4).
    default_ttl: Option<u32>,
    /// The last TTL given explicitly (RFC 1035 5.1).
    last_ttl: Option<u32>,
    last_owner: Option<Name>,
}

impl Loader {
    fn add_file(&mut self, path: &Path) -> u16 {
        self.zone.files.push(path.to_path_buf());
        u16::try_from(self.zone.files.len() - 1).unwrap_or(u16::MAX)
    }

    fn finish(self) -> Result<LoadedZone, Vec<ZoneFileError>> {
        if self.errors.is_empty() {
            Ok(self.zone)
        } else {
            Err(self.errors)
        }
    }

    fn error(&mut self, file: u16, problem: Problem) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(ZoneFileError {
                file: self.zone.files[usize::from(file)].clone(),
                line: Some(u64::from(problem.line)),
                column: Some(u64::from(problem.column)),
                message: problem.message,
            });
        }
    }

    /// Read the file at `path`; `from` is the `$INCLUDE` entry that names it
    /// and the TTLs in effect there (an included file inherits them, as
    /// in BIND and Knot).
    fn load(
        &mut self,
        path: &Path,
        origin: Name,
        depth: usize,
        from: Option<(u16, Problem, Ttls)>,
    ) {
        match std::fs::read(path) {
            Ok(bytes) => {
                let file = self.add_file(path);
                let ttls = from.as_ref().map(|f| f.2).unwrap_or_default();
                self.parse(&bytes, file, origin, depth, ttls);
            }
            Err(e) => match from {
                Some((file, mut at, _)) => {
                    at.message = format!("cannot read included file {}: {e}", path.display());
                    self.error(file, at);
                }
                None => self.errors.push(ZoneFileError {
                    file: path.to_path_buf(),
                    line: None,
                    column: None,
                    message: format!("cannot read zone file: {e}"),
                }),
            },
        }
    }

    fn parse(&mut self, text: &[u8], file: u16, origin: Name, depth: usize, ttls: Ttls) {
        let mut state = FileState {
            file,
            origin,
            default_ttl: ttls.default_ttl,
            last_ttl: ttls.last_ttl,
            last_owner: None,
        };
        let mut lexer = Lexer::new(text);
        let mut toks = Vec::new();
        loop {
            if self.errors.len() >= MAX_ERRORS {
                return;
            }
            match lexer.entry(&mut toks) {
                Ok(None) => return,
                Ok(Some(blank_start)) => {
                    if let Err(p) = self.entry(&toks, blank_start, &mut state, depth) {
                        self.error(file, p);
                    }
                }
                Err(p) => {
                    self.error(file, p);
                    // The lexer cannot resynchronise after an unbalanced
                    // parenthesis or an open quote.
                    return;
                }
            }
        }
    }

    /// One entry: a directive or a record.
    fn entry(
        &mut self,
        toks: &[Tok<'_>],
        blank_start: bool,
        state: &mut FileState,
        depth: usize,
    ) -> Result<(), Problem> {
        let first = &toks[0];
        if !blank_start && !first.quoted && first.raw.first() == Some(&b'$') {
            return self.directive(toks, state, depth);
        }
        let mut rest = toks;
        let owner = if blank_start {
            state.last_owner.clone().ok_or_else(|| {
                Problem::at(first, "no owner name: the first record starts with a blank")
            })?
        } else {
            rest = &toks[1..];
            let name = self.name(first, &state.origin)?;
            state.last_owner = Some(name.clone());
            name
        };
        let entry_tok = first;

        // [TTL] [class] type, or [class] [TTL] type (RFC 1035 5.1).
        let mut ttl = None;
        let mut class_seen = false;
        let rtype = loop {
            let Some((tok, tail)) = rest.split_first() else {
                return Err(Problem::at(
                    toks.last().unwrap_or(first),
                    "missing record type",
                ));
            };
            rest = tail;
            let text = tok.text();
            if ttl.is_none() && tok.raw.first().is_some_and(u8::is_ascii_digit) {
                ttl = Some(
                    parse_ttl(&text).map_err(|_| Problem::at(tok, format!("bad TTL {text:?}")))?,
                );
                continue;
            }
            if !class_seen && let Some(class) = class_code(&text) {
                if class != 1 {
                    return Err(Problem::at(
                        tok,
                        format!("class {text}: only IN (CLASS1) is served"),
                    ));
                }
                class_seen = true;
                continue;
            }
            break record_type(&text)
                .ok_or_else(|| Problem::at(tok, format!("unknown record type {text:?}")))?;
        };
        let data = self.rdata(rtype, rest, entry_tok, toks, state)?;
        let ttl = match ttl {
            Some(t) => {
                state.last_ttl = Some(t);
                t
            }
            None => match (state.default_ttl, state.last_ttl, &data) {
                (Some(t), _, _) | (None, Some(t), _) => t,
                // BIND: the SOA minimum when nothing else is known.
                (None, None, RData::SOA(soa)) => {
                    state.last_ttl = Some(soa.minimum);
                    soa.minimum
                }
                (None, None, _) => {
                    return Err(Problem::at(
                        entry_tok,
                        "no TTL: give one on the record or set $TTL before it",
                    ));
                }
            },
        };
        self.zone.records.push(Record::from_rdata(owner, ttl, data));
        self.zone.positions.push(Position {
            file: state.file,
            line: entry_tok.line,
            column: entry_tok.column,
        });
        Ok(())
    }

    fn directive(
        &mut self,
        toks: &[Tok<'_>],
        state: &mut FileState,
        depth: usize,
    ) -> Result<(), Problem> {
        let first = &toks[0];
        let word = first.text().to_ascii_uppercase();
        let arg = |i: usize| {
            toks.get(i)
                .ok_or_else(|| Problem::at(first, format!("{word} needs an argument")))
        };
        let max_args = if word == "$INCLUDE" { 3 } else { 2 };
        if let Some(extra) = toks.get(max_args) {
            return Err(Problem::at(
                extra,
                format!("unexpected {:?} after {word}", extra.text()),
            ));
        }
        match word.as_str() {
            "$ORIGIN" => {
                let name = self.name(arg(1)?, &state.origin)?;
                state.origin = name;
            }
            "$TTL" => {
                let tok = arg(1)?;
                let ttl = parse_ttl(&tok.text())
                    .map_err(|_| Problem::at(tok, format!("bad TTL {:?}", tok.text())))?;
                state.default_ttl = Some(ttl);
            }
            "$INCLUDE" => {
                let tok = arg(1)?;
                if depth + 1 >= MAX_INCLUDE_DEPTH {
                    return Err(Problem::at(
                        tok,
                        format!("$INCLUDE nested more than {MAX_INCLUDE_DEPTH} deep"),
                    ));
                }
                let origin = match toks.get(2) {
                    Some(o) => self.name(o, &state.origin)?,
                    None => state.origin.clone(),
                };
                let name = PathBuf::from(String::from_utf8_lossy(&unescape(tok.raw)).as_ref());
                let base = self.zone.files[usize::from(state.file)]
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                let path = base.join(name);
                let at = Problem::at(tok, String::new());
                let ttls = Ttls {
                    default_ttl: state.default_ttl,
                    last_ttl: state.last_ttl,
                };
                self.load(&path, origin, depth + 1, Some((state.file, at, ttls)));
            }
            _ => {
                return Err(Problem::at(
                    first,
                    format!("unknown directive {word} (known: $ORIGIN, $TTL, $INCLUDE)"),
                ));
            }
        }
        Ok(())
    }

    /// A domain name token: `@`, absolute, or relative to `origin`.
    fn name(&mut self, tok: &Tok<'_>, origin: &Name) -> Result<Name, Problem> {
        if tok.raw == b"@" && !tok.quoted {
            return Ok(origin.clone());
        }
        self.wire.clear();
        let absolute = name_to_wire(tok.raw, &mut self.wire).map_err(|m| Problem::at(tok, m))?;
        if absolute {
            self.wire.push(0);
        } else {
            // The origin's wire form, kept while the origin stays the same
            // (compared byte for byte: hickory's `==` ignores case).
            let cached = self
                .origin_wire
                .as_ref()
                .is_some_and(|(name, _)| name.iter().eq(origin.iter()));
            if !cached {
                let wire = origin
                    .to_bytes()
                    .map_err(|e| Problem::at(tok, format!("bad origin {origin}: {e}")))?;
                self.origin_wire = Some((origin.clone(), wire));
            }
            if let Some((_, wire)) = &self.origin_wire {
                self.wire.extend_from_slice(wire);
            }
        }
        if self.wire.len() > 255 {
            return Err(Problem::at(
                tok,
                format!("name {:?} is longer than 255 bytes", tok.text()),
            ));
        }
        Name::read(&mut BinDecoder::new(&self.wire))
            .map_err(|e| Problem::at(tok, format!("bad name {:?}: {e}", tok.text())))
    }

    /// The record data of type `rtype` from `rest`.
    fn rdata(
        &mut self,
        rtype: RecordType,
        rest: &[Tok<'_>],
        entry: &Tok<'_>,
        all: &[Tok<'_>],
        state: &FileState,
    ) -> Result<RData, Problem> {
        let last = all.last().unwrap_or(entry);
        if rest.first().is_some_and(|t| t.raw == b"\\#" && !t.quoted) {
            return generic(rtype, rest, last);
        }
        let mut it = rest.iter();
        let mut next = |what: &str| {
            it.next()
                .ok_or_else(|| Problem::at(last, format!("{rtype}: missing {what}")))
        };
        let data = match rtype {
            RecordType::A => {
                let t = next("address")?;
                RData::A(A(parse_num::<Ipv4Addr>(t, "IPv4 address")?))
            }
            RecordType::AAAA => {
                let t = next("address")?;
                RData::AAAA(AAAA(parse_num::<Ipv6Addr>(t, "IPv6 address")?))
            }
            RecordType::NS => RData::NS(NS(self.name(next("name")?, &state.origin)?)),
            RecordType::CNAME => RData::CNAME(CNAME(self.name(next("name")?, &state.origin)?)),
            RecordType::PTR => RData::PTR(PTR(self.name(next("name")?, &state.origin)?)),
            RecordType::DNAME => {
                // hickory has no DNAME type: it reads one as opaque data, so
                // it is built the same way (the target is never compressed,
                // RFC 6672 2.5).
                let target = self.name(next("target")?, &state.origin)?;
                let wire = target
                    .to_bytes()
                    .map_err(|e| Problem::at(entry, format!("DNAME: {e}")))?;
                RData::Unknown {
                    code: RecordType::DNAME,
                    rdata: NULL::with(wire),
                }
            }
            RecordType::MX => {
                let pref = parse_num::<u16>(next("preference")?, "preference")?;
                RData::MX(MX::new(pref, self.name(next("exchange")?, &state.origin)?))
            }
            RecordType::SRV => {
                let priority = parse_num::<u16>(next("priority")?, "priority")?;
                let weight = parse_num::<u16>(next("weight")?, "weight")?;
                let port = parse_num::<u16>(next("port")?, "port")?;
                RData::SRV(SRV::new(
                    priority,
                    weight,
                    port,
                    self.name(next("target")?, &state.origin)?,
                ))
            }
            RecordType::SOA => {
                let mname = self.name(next("MNAME")?, &state.origin)?;
                let rname = self.name(next("RNAME")?, &state.origin)?;
                let serial = parse_num::<u32>(next("serial")?, "serial")?;
                let mut timer = |what: &str| -> Result<u32, Problem> {
                    let t = next(what)?;
                    parse_ttl(&t.text())
                        .map_err(|_| Problem::at(t, format!("SOA: bad {what} {:?}", t.text())))
                };
                let refresh = timer("refresh")?;
                let retry = timer("retry")?;
                let expire = timer("expire")?;
                let minimum = timer("minimum")?;
                // hickory keeps the three timers as i32; the bits on the
                // wire are the same.
                RData::SOA(SOA::new(
                    mname,
                    rname,
                    serial,
                    refresh as i32,
                    retry as i32,
                    expire as i32,
                    minimum,
                ))
            }
            RecordType::TXT => {
                if rest.is_empty() {
                    return Err(Problem::at(last, "TXT: missing text"));
                }
                let mut strings = Vec::with_capacity(rest.len());
                for t in rest {
                    let s = unescape(t.raw);
                    if s.len() > 255 {
                        return Err(Problem::at(
                            t,
                            format!(
                                "TXT: a string of {} bytes; split it into strings of at most 255 (RFC 1035 3.3)",
                                s.len()
                            ),
                        ));
                    }
                    strings.push(s);
                }
                it = [].iter();
                RData::TXT(TXT::from_bytes(strings.iter().map(Vec::as_slice).collect()))
            }
            RecordType::Unknown(code) => {
                return Err(Problem::at(
                    rest.first().unwrap_or(last),
                    format!("TYPE{code} needs the RFC 3597 form: \\# <length> <hex>"),
                ));
            }
            _ => {
                it = [].iter();
                hickory_text(rtype, rest, last, &state.origin)?
            }
        };
        if let Some(extra) = it.next() {
            return Err(Problem::at(
                extra,
                format!("{rtype}: unexpected {:?}", extra.text()),
            ));
        }
        Ok(data)
    }
}

/// RFC 3597 5: `\# <length> <hex>...` for any type. Known types are decoded
/// into their hickory form (and checked); others stay opaque.
fn generic(rtype: RecordType, rest: &[Tok<'_>], last: &Tok<'_>) -> Result<RData, Problem> {
    let len_tok = rest
        .get(1)
        .ok_or_else(|| Problem::at(last, "\\#: missing length"))?;
    let len: usize = parse_num(len_tok, "length")?;
    let mut hex = Vec::new();
    for t in &rest[2..] {
        hex.extend(t.raw.iter().copied());
    }
    if hex.len() % 2 != 0 {
        return Err(Problem::at(last, "\\#: odd number of hex digits"));
    }
    let mut data = Vec::with_capacity(hex.len() / 2);
    for pair in hex.chunks(2) {
        let byte = std::str::from_utf8(pair)
            .ok()
            .and_then(|s| u8::from_str_radix(s, 16).ok())
            .ok_or_else(|| Problem::at(rest.get(2).unwrap_or(last), "\\#: bad hex"))?;
        data.push(byte);
    }
    if data.len() != len || len > usize::from(u16::MAX) {
        return Err(Problem::at(
            len_tok,
            format!("\\#: length {len} but {} bytes of data", data.len()),
        ));
    }
    // A whole record (root owner, class IN, TTL 0) for hickory's decoder.
    let mut wire = vec![0u8];
    wire.extend_from_slice(&u16::from(rtype).to_be_bytes());
    wire.extend_from_slice(&[0, 1, 0, 0, 0, 0]);
    wire.extend_from_slice(&(len as u16).to_be_bytes());
    wire.extend_from_slice(&data);
    let mut decoder = BinDecoder::new(&wire);
    let record = Record::read(&mut decoder)
        .map_err(|_| Problem::at(len_tok, format!("\\#: not valid {rtype} data")))?;
    if !decoder.is_empty() {
        return Err(Problem::at(len_tok, format!("\\#: not valid {rtype} data")));
    }
    Ok(record.data)
}

/// A type with a text form we do not parse ourselves: one record handed to
/// hickory's parser.
fn hickory_text(
    rtype: RecordType,
    rest: &[Tok<'_>],
    last: &Tok<'_>,
    origin: &Name,
) -> Result<RData, Problem> {
    let mut text = format!("$ORIGIN {origin}\n@ 0 IN {rtype}");
    for t in rest {
        let raw = std::str::from_utf8(t.raw)
            .map_err(|_| Problem::at(t, format!("{rtype}: not UTF-8")))?;
        text.push(' ');
        if t.quoted {
            text.push('"');
            text.push_str(raw);
            text.push('"');
        } else {
            text.push_str(raw);
        }
    }
    text.push('\n');
    let first = rest.first().unwrap_or(last);
    let (_, sets) = Parser::new(text, None, Some(origin.clone()))
        .parse()
        .map_err(|e| {
            let value: Vec<String> = rest.iter().map(|t| t.text().into_owned()).collect();
            Problem::at(
                first,
                format!(
                    "{rtype}: bad data {:?}: {}",
                    value.join(" "),
                    plain(&e.to_string())
                ),
            )
        })?;
    sets.into_values()
        .flat_map(|set| set.records_without_rrsigs().cloned().collect::<Vec<_>>())
        .next()
        .map(|r| r.data)
        .ok_or_else(|| Problem::at(first, format!("{rtype}: no data")))
}

/// A hickory parse error as an operator reads it: without the layer names
/// ("proto error:", "data encoding error:") that say nothing about the
/// zone file.
fn plain(message: &str) -> String {
    let mut rest = message.trim();
    loop {
        let before = rest;
        for layer in [
            "proto error:",
            "decoding error:",
            "data encoding error:",
            "parse error:",
            "error parsing number:",
            "error parsing integer:",
        ] {
            if let Some(r) = rest.strip_prefix(layer) {
                rest = r.trim_start();
            }
        }
        if rest == before {
            break;
        }
    }
    if rest.is_empty() {
        "not valid".into()
    } else {
        rest.to_string()
    }
}

fn parse_num<T: FromStr>(tok: &Tok<'_>, what: &str) -> Result<T, Problem> {
    tok.text()
        .parse()
        .map_err(|_| Problem::at(tok, format!("bad {what} {:?}", tok.text())))
}

/// `IN`, `CH`, `HS`, `NONE`, `ANY` or `CLASSn` (RFC 3597 5) as a number.
fn class_code(text: &str) -> Option<u16> {
    let upper = text.to_ascii_uppercase();
    match upper.as_str() {
        "IN" => Some(1),
        "CH" | "CS" => Some(3),
        "HS" => Some(4),
        _ => upper
            .strip_prefix("CLASS")
            .and_then(|n| n.parse::<u16>().ok()),
    }
}

/// A mnemonic or `TYPEn` (RFC 3597 5).
fn record_type(text: &str) -> Option<RecordType> {
    let upper = text.to_ascii_uppercase();
    if let Some(n) = upper.strip_prefix("TYPE")
        && let Ok(code) = n.parse::<u16>()
    {
        return Some(RecordType::from(code));
    }
    match RecordType::from_str(&upper) {
        Ok(RecordType::Unknown(_)) | Err(_) => None,
        Ok(t) => Some(t),
    }
}

/// Append the labels of `raw` (presentation form, RFC 1035 5.1 escapes) to
/// `wire`; true when the name is absolute (ends with an unescaped dot).
fn name_to_wire(raw: &[u8], wire: &mut Vec<u8>) -> Result<bool, String> {
    if raw == b"." {
        return Ok(true);
    }
    let shown = || String::from_utf8_lossy(raw).into_owned();
    let mut label_at = wire.len();
    wire.push(0);
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'\\' => {
                let (byte, used) =
                    escape(&raw[i..]).ok_or_else(|| format!("bad escape in name {:?}", shown()))?;
                wire.push(byte);
                i += used;
            }
            b'.' => {
                let len = wire.len() - label_at - 1;
                if len == 0 {
                    return Err(format!("empty label in name {:?}", shown()));
                }
                if len > 63 {
                    return Err(format!("label longer than 63 bytes in name {:?}", shown()));
                }
                wire[label_at] = len as u8;
                i += 1;
                if i == raw.len() {
                    return Ok(true);
                }
                label_at = wire.len();
                wire.push(0);
            }
            b => {
                wire.push(b);
                i += 1;
            }
        }
    }
    let len = wire.len() - label_at - 1;
    if len == 0 {
        return Err(format!("empty label in name {:?}", shown()));
    }
    if len > 63 {
        return Err(format!("label longer than 63 bytes in name {:?}", shown()));
    }
    wire[label_at] = len as u8;
    Ok(false)
}

/// One escape at the start of `s` (which begins with a backslash): `\DDD`
/// (decimal, at most 255) or `\X`. The byte and the bytes used.
fn escape(s: &[u8]) -> Option<(u8, usize)> {
    match s.get(1..4) {
        Some(d) if d.iter().all(u8::is_ascii_digit) => {
            let v = d.iter().fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'));
            u8::try_from(v).ok().map(|b| (b, 4))
        }
        _ => match s.get(1) {
            Some(c) if !c.is_ascii_digit() => Some((*c, 2)),
            _ => None,
        },
    }
}

/// A character string with its escapes resolved (a bad escape is kept as
/// written, as BIND does).
fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\'
            && let Some((b, used)) = escape(&raw[i..])
        {
            out.push(b);
            i += used;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

/// A token of the file: its bytes as written (escapes unresolved, quotes
/// removed) and where it starts.
#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    raw: &'a [u8],
    quoted: bool,
    line: u32,
    column: u32,
}

impl Tok<'_> {
    fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.raw)
    }
}

/// Splits a master file into entries of tokens (RFC 1035 5.1).
struct Lexer<'a> {
    text: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
}

impl<'a> Lexer<'a> {
    fn new(text: &'a [u8]) -> Self {
        Self {
            text,
            pos: 0,
            line: 1,
            line_start: 0,
        }
    }

    fn column(&self, at: usize) -> u32 {
        u32::try_from(at - self.line_start + 1).unwrap_or(u32::MAX)
    }

    fn newline(&mut self) {
        self.pos += 1;
        self.line += 1;
        self.line_start = self.pos;
    }

    /// The next entry's tokens into `toks`; `Some(true)` when it starts with
    /// a blank (the owner is the previous one), `None` at the end.
    fn entry(&mut self, toks: &mut Vec<Tok<'a>>) -> Result<Option<bool>, Problem> {
        toks.clear();
        let mut parens = 0usize;
        let mut open_at = (0, 0);
        let mut blank_start = false;
        loop {
            let Some(&b) = self.text.get(self.pos) else {
                if parens > 0 {
                    return Err(Problem {
                        line: open_at.0,
                        column: open_at.1,
                        message: "unbalanced parenthesis: this ( is never closed".into(),
                    });
                }
                return Ok((!toks.is_empty()).then_some(blank_start));
            };
            match b {
                b'\n' => {
                    self.newline();
                    if parens == 0 {
                        if !toks.is_empty() {
                            return Ok(Some(blank_start));
                        }
                        // A blank or comment-only line: the next line
                        // decides whether its entry starts with a blank.
                        blank_start = false;
                    }
                }
                b' ' | b'\t' | b'\r' => {
                    if self.pos == self.line_start && toks.is_empty() && parens == 0 {
                        blank_start = true;
                    }
                    self.pos += 1;
                }
                b';' => {
                    while self.text.get(self.pos).is_some_and(|&c| c != b'\n') {
                        self.pos += 1;
                    }
                }
                b'(' => {
                    if parens == 0 {
                        open_at = (self.line, self.column(self.pos));
                    }
                    parens += 1;
                    self.pos += 1;
                }
                b')' => {
                    if parens == 0 {
                        return Err(Problem {
                            line: self.line,
                            column: self.column(self.pos),
                            message: "unbalanced parenthesis: ) without (".into(),
                        });
                    }
                    parens -= 1;
                    self.pos += 1;
                }
                b'"' => {
                    let (line, column) = (self.line, self.column(self.pos));
                    self.pos += 1;
                    let start = self.pos;
                    loop {
                        match self.text.get(self.pos) {
                            None => {
                                return Err(Problem {
                                    line,
                                    column,
                                    message: "unterminated quoted string".into(),
                                });
                            }
                            Some(b'"') => break,
                            Some(b'\\') => {
                                self.pos += 1;
                                if self.text.get(self.pos) == Some(&b'\n') {
                                    self.newline();
                                } else {
                                    self.pos += 1;
                                }
                            }
                            Some(b'\n') => self.newline(),
                            Some(_) => self.pos += 1,
                        }
                    }
                    let raw = &self.text[start..self.pos.min(self.text.len())];
                    self.pos += 1;
                    toks.push(Tok {
                        raw,
                        quoted: true,
                        line,
                        column,
                    });
                }
                _ => {
                    let start = self.pos;
                    let column = self.column(start);
                    while let Some(&c) = self.text.get(self.pos) {
                        match c {
                            b'\\' => self.pos = (self.pos + 2).min(self.text.len()),
                            b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                            _ => self.pos += 1,
                        }
                    }
                    toks.push(Tok {
                        raw: &self.text[start..self.pos],
                        quoted: false,
                        line: self.line,
                        column,
                    });
                }
            }
        }
    }
}
