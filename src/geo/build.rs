//! `meridian geoip build`: the GeoIP CSV of SPEC 2.5 → a MaxMind DB file.
//!
//! This module owns the CSV format (header, comments, field validation,
//! duplicate detection), the GeoIP2-City record layout we write, the
//! metadata we stamp and the atomic write of the output file. The binary
//! format itself is `mmdb_writer`'s job. It never stops at the first bad
//! row: every problem is collected and reported as `file:line: message`.
//!
//! Decisions (also in `geoip/README.md`):
//! - **Records** are shaped like GeoIP2-City so every MaxMind reader can use
//!   them: `country.iso_code`, `continent.code`, `location.latitude`,
//!   `location.longitude`, optional `subdivisions[0].iso_code`, optional
//!   `autonomous_system_number`.
//! - **Subdivisions** are accepted as `CA` or `US-CA` and stored, as GeoIP2
//!   does, without the country prefix (`CA`). A prefix must name the row's
//!   own country.
//! - **database_type** is `Meridian-GeoIP2-City`: names starting with
//!   "GeoIP" are MaxMind's, and MaxMind's client libraries accept a City
//!   lookup when the type contains "City".
//! - **build_epoch** is `SOURCE_DATE_EPOCH` when set (reproducible builds;
//!   a malformed value is an error, as reproducible-builds.org asks), else
//!   the current time. Not the CSV's mtime: git checkouts reset it, and
//!   [`build_bytes`] has no file.
//! - The output depends only on the set of rows (not their order), the CSV's
//!   file name and the epoch.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ipnet::IpNet;

use super::mmdb_writer::{self, Metadata, Value, Writer};

/// `database_type` in the metadata of every file we write.
pub const DATABASE_TYPE: &str = "Meridian-GeoIP2-City";

/// The header columns, in order; the last two are optional.
const COLUMNS: [&str; 7] = [
    "network",
    "country",
    "continent",
    "latitude",
    "longitude",
    "subdivision",
    "asn",
];
/// How many columns every row must have.
const REQUIRED_COLUMNS: usize = 5;
const HEADER_HELP: &str = "network,country,continent,latitude,longitude[,subdivision,asn]";
const CONTINENTS: [&str; 7] = ["AF", "AN", "AS", "EU", "NA", "OC", "SA"];

/// What a build wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildSummary {
    /// IPv4 rows in the CSV.
    pub networks_v4: usize,
    /// IPv6 rows in the CSV.
    pub networks_v6: usize,
    /// Nodes in the search tree.
    pub node_count: u32,
    /// Size of the database file.
    pub bytes: usize,
}

impl fmt::Display for BuildSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} IPv4 and {} IPv6 networks, {} nodes, {} bytes",
            self.networks_v4, self.networks_v6, self.node_count, self.bytes
        )
    }
}

/// One problem in one line of the CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// Why `geoip build` failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Every bad row, in line order; displayed one per line.
    #[error("{}", RowList(.0))]
    Rows(Vec<RowError>),
    /// A valid header and no rows.
    #[error("{}: no networks to write", .0.display())]
    Empty(PathBuf),
    #[error("{}: cannot read: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: cannot write: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    /// The rows are valid but the database can't be laid out (too large).
    #[error("{}: {message}", file.display())]
    Database { file: PathBuf, message: String },
    #[error("SOURCE_DATE_EPOCH={0:?} is not a Unix timestamp (whole seconds)")]
    SourceDateEpoch(String),
}

impl BuildError {
    /// The row errors, if that is what this is (empty otherwise).
    pub fn rows(&self) -> &[RowError] {
        match self {
            Self::Rows(rows) => rows,
            _ => &[],
        }
    }
}

struct RowList<'a>(&'a [RowError]);

impl fmt::Display for RowList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, row) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{row}")?;
        }
        Ok(())
    }
}

/// Compiles `csv` into a MaxMind DB at `out`. The file is written to a
/// temporary name in the same directory, synced, then renamed over `out`,
/// so a reader never sees a half-written database.
pub fn build_file(csv: &Path, out: &Path) -> Result<BuildSummary, BuildError> {
    let text = fs::read_to_string(csv).map_err(|source| BuildError::Read {
        path: csv.to_path_buf(),
        source,
    })?;
    let (bytes, summary) = build_bytes(&text, csv)?;
    write_atomically(out, &bytes).map_err(|source| BuildError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(summary)
}

/// Compiles CSV text into the bytes of a MaxMind DB. `csv_name` is used in
/// error messages and (its file name only) in the description.
pub fn build_bytes(csv_text: &str, csv_name: &Path) -> Result<(Vec<u8>, BuildSummary), BuildError> {
    build_bytes_at(csv_text, csv_name, build_epoch()?)
}

/// [`build_bytes`] with a fixed `build_epoch`.
pub(crate) fn build_bytes_at(
    csv_text: &str,
    csv_name: &Path,
    build_epoch: u64,
) -> Result<(Vec<u8>, BuildSummary), BuildError> {
    let rows = parse(csv_text, csv_name)?;
    if rows.is_empty() {
        return Err(BuildError::Empty(csv_name.to_path_buf()));
    }
    let database = |e: mmdb_writer::WriteError| BuildError::Database {
        file: csv_name.to_path_buf(),
        message: e.to_string(),
    };

    let mut writer = Writer::new();
    let (mut networks_v4, mut networks_v6) = (0, 0);
    for row in rows {
        match row.network {
            IpNet::V4(_) => networks_v4 += 1,
            IpNet::V6(_) => networks_v6 += 1,
        }
        writer
            .insert(row.network, row.record.to_value())
            .map_err(database)?;
    }

    let name = csv_name.file_name().map_or_else(
        || csv_name.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let meta = Metadata {
        database_type: DATABASE_TYPE.to_owned(),
        languages: vec!["en".to_owned()],
        description: vec![(
            "en".to_owned(),
            format!("meridian GeoIP database built from {name}"),
        )],
        build_epoch,
    };
    let (bytes, stats) = writer.to_bytes(&meta).map_err(database)?;
    let summary = BuildSummary {
        networks_v4,
        networks_v6,
        node_count: stats.node_count,
        bytes: bytes.len(),
    };
    Ok((bytes, summary))
}

/// `SOURCE_DATE_EPOCH` if set and not empty, else now.
fn build_epoch() -> Result<u64, BuildError> {
    epoch_from(std::env::var("SOURCE_DATE_EPOCH"))
}

pub(crate) fn epoch_from(var: Result<String, std::env::VarError>) -> Result<u64, BuildError> {
    match var {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<u64>()
            .map_err(|_| BuildError::SourceDateEpoch(v)),
        // Unset, or set to nothing (as some CI templates do): now.
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())),
        Err(std::env::VarError::NotUnicode(v)) => Err(BuildError::SourceDateEpoch(
            v.to_string_lossy().into_owned(),
        )),
    }
}

fn write_atomically(out: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // Unique per process and per call, so concurrent builds never share it.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut tmp_name = OsString::from(".");
    tmp_name.push(out.file_name().unwrap_or_else(|| "geoip.mmdb".as_ref()));
    tmp_name.push(format!(
        ".{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = dir.join(tmp_name);

    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, out)
    })();
    if result.is_err() {
        // Best effort: the error that matters is the one we return.
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Make the rename itself durable; not every platform can sync a directory.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// CSV

/// A valid data row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub(crate) line: usize,
    pub(crate) network: IpNet,
    pub(crate) record: Record,
}

/// What one network maps to.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub(crate) country: String,
    pub(crate) continent: String,
    pub(crate) latitude: f64,
    pub(crate) longitude: f64,
    /// Without the country prefix (`CA`, not `US-CA`).
    pub(crate) subdivision: Option<String>,
    pub(crate) asn: Option<u32>,
}

impl Record {
    /// The GeoIP2-City shaped map. Keys in a fixed order, so equal records
    /// encode to equal bytes and are stored once.
    pub(crate) fn to_value(&self) -> Value {
        let iso = |code: &str| Value::map([("iso_code", Value::string(code))]);
        let mut pairs = Vec::with_capacity(5);
        if let Some(asn) = self.asn {
            pairs.push(("autonomous_system_number", Value::U32(asn)));
        }
        pairs.push((
            "continent",
            Value::map([("code", Value::string(&self.continent))]),
        ));
        pairs.push(("country", iso(&self.country)));
        pairs.push((
            "location",
            Value::map([
                ("latitude", Value::Double(self.latitude)),
                ("longitude", Value::Double(self.longitude)),
            ]),
        ));
        if let Some(sub) = &self.subdivision {
            pairs.push(("subdivisions", Value::Array(vec![iso(sub)])));
        }
        Value::map(pairs)
    }
}

/// Parses and validates the whole CSV, collecting every error.
pub(crate) fn parse(text: &str, file: &Path) -> Result<Vec<Row>, BuildError> {
    let mut errors = Vec::new();
    let mut error = |line: usize, message: String| {
        errors.push(RowError {
            file: file.to_path_buf(),
            line,
            message,
        });
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);

    let mut columns = None;
    let mut rows = Vec::new();
    let mut seen: HashMap<IpNet, usize> = HashMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = trimmed.split(',').map(str::trim).collect();
        if columns.is_none() {
            match check_header(&fields) {
                Ok(n) => {
                    columns = Some(n);
                    continue;
                }
                Err(message) => {
                    error(line, message);
                    columns = Some(COLUMNS.len());
                    // Keep checking the rows. If this line looks like a row,
                    // the header is just missing: check it as one.
                    if fields.first().is_none_or(|f| f.parse::<IpNet>().is_err()) {
                        continue;
                    }
                }
            }
        }
        let allowed = columns.unwrap_or(COLUMNS.len());
        let Some(row) = parse_row(&fields, allowed, line, &mut error) else {
            continue;
        };
        if let Some(first) = seen.insert(row.network, line) {
            error(
                line,
                format!("network {} is already on line {first}", row.network),
            );
            seen.insert(row.network, first);
            continue;
        }
        rows.push(row);
    }
    if columns.is_none() {
        error(1, format!("missing header line \"{HEADER_HELP}\""));
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(BuildError::Rows(errors))
    }
}

/// The number of columns the header declares (5 to 7), or what is wrong.
fn check_header(fields: &[&str]) -> Result<usize, String> {
    let ok = (REQUIRED_COLUMNS..=COLUMNS.len()).contains(&fields.len())
        && fields
            .iter()
            .zip(COLUMNS)
            .all(|(f, c)| f.eq_ignore_ascii_case(c));
    if ok {
        Ok(fields.len())
    } else {
        Err(format!(
            "expected the header \"{HEADER_HELP}\", found \"{}\"",
            fields.join(",")
        ))
    }
}

/// Validates one row; reports each bad field separately.
fn parse_row(
    fields: &[&str],
    allowed: usize,
    line: usize,
    error: &mut impl FnMut(usize, String),
) -> Option<Row> {
    if fields.len() < REQUIRED_COLUMNS || fields.len() > allowed {
        let want = if allowed == REQUIRED_COLUMNS {
            format!("{REQUIRED_COLUMNS}")
        } else {
            format!("{REQUIRED_COLUMNS} to {allowed}")
        };
        error(
            line,
            format!(
                "expected {want} fields ({}), found {}",
                COLUMNS[..allowed].join(","),
                fields.len()
            ),
        );
        return None;
    }
    let get = |i: usize| fields.get(i).copied().unwrap_or("");
    // Every field is checked before giving up, so one line can report
    // several problems.
    let network = field(parse_network(get(0)), line, error);
    let country_ok = field(check_country(get(1)), line, error);
    let continent = field(check_continent(get(2)), line, error);
    let latitude = field(parse_coordinate(get(3), "latitude", 90.0), line, error);
    let longitude = field(parse_coordinate(get(4), "longitude", 180.0), line, error);
    let subdivision = field(
        parse_subdivision(get(5), country_ok.as_deref()),
        line,
        error,
    );
    let asn = field(parse_asn(get(6)), line, error);
    Some(Row {
        line,
        network: network?,
        record: Record {
            country: country_ok?,
            continent: continent?,
            latitude: latitude?,
            longitude: longitude?,
            subdivision: subdivision?,
            asn: asn?,
        },
    })
}

/// Reports the error of a field check, if any.
fn field<T>(r: Result<T, String>, line: usize, error: &mut impl FnMut(usize, String)) -> Option<T> {
    r.map_err(|message| error(line, message)).ok()
}

fn parse_network(s: &str) -> Result<IpNet, String> {
    let net: IpNet = s
        .parse()
        .map_err(|_| format!("\"{s}\" is not a CIDR network"))?;
    if net.trunc() != net {
        return Err(format!(
            "\"{s}\" has host bits set (the network is {})",
            net.trunc()
        ));
    }
    if let IpNet::V6(v6) = net
        && let Some(range) = mmdb_writer::aliased_range(&v6)
    {
        return Err(format!(
            "\"{s}\" is inside {range}; write IPv4 networks in dotted form"
        ));
    }
    Ok(net)
}

fn check_country(s: &str) -> Result<String, String> {
    if s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "country \"{s}\" is not two uppercase letters (ISO 3166-1 alpha-2, e.g. GB)"
        ))
    }
}

fn check_continent(s: &str) -> Result<String, String> {
    if CONTINENTS.contains(&s) {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "continent \"{s}\" is not one of {}",
            CONTINENTS.join(" ")
        ))
    }
}

fn parse_coordinate(s: &str, name: &str, limit: f64) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (-limit..=limit).contains(&v) => Ok(v),
        _ => Err(format!(
            "{name} \"{s}\" is not a number from -{limit} to {limit}"
        )),
    }
}

/// `CA` or `US-CA` → `Some("CA")`; empty → `None`. `country` is the row's
/// country if it is valid (else the prefix is not compared with it).
fn parse_subdivision(s: &str, country: Option<&str>) -> Result<Option<String>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let code = match s.split_once('-') {
        Some((prefix, code)) => {
            if let Some(country) = country
                && prefix != country
            {
                return Err(format!(
                    "subdivision \"{s}\" belongs to {prefix}, not to the row's country {country}"
                ));
            }
            code
        }
        None => s,
    };
    let valid = (1..=3).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if valid {
        Ok(Some(code.to_owned()))
    } else {
        Err(format!(
            "subdivision \"{s}\" is not an ISO 3166-2 code such as CA or US-CA"
        ))
    }
}

fn parse_asn(s: &str) -> Result<Option<u32>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<u32>() {
        Ok(n) if n > 0 && s.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(n)),
        _ => Err(format!(
            "asn \"{s}\" is not an AS number from 1 to 4294967295"
        )),
    }
}
