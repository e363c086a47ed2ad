//! Reading a zone file with hickory's RFC 1035 master-file parser, and
//! finding the line of a parse error (hickory reports none).

use std::path::{Path, PathBuf};

use hickory_proto::rr::{DNSClass, Name, Record};
use hickory_proto::serialize::txt::Parser;

/// A zone file that could not be read or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ZoneFileError {
    pub file: PathBuf,
    /// 1-based line of the problem, when known.
    pub line: Option<u64>,
    pub message: String,
}

/// Read and parse the zone file at `path` for `origin`.
pub fn load_zone_file(path: &Path, origin: &Name) -> Result<Vec<Record>, ZoneFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| ZoneFileError {
        file: path.to_path_buf(),
        line: None,
        message: format!("cannot read zone file: {e}"),
    })?;
    parse_zone_text(&text, path, origin)
}

/// Parse master-file `text` (read from `path`) for `origin`.
pub fn parse_zone_text(
    text: &str,
    path: &Path,
    origin: &Name,
) -> Result<Vec<Record>, ZoneFileError> {
    let parse = |t: &str| {
        Parser::new(t, Some(path.to_path_buf()), Some(origin.clone()))
            .parse()
            .map(|(_, sets)| sets)
    };
    match parse(text) {
        Ok(sets) => {
            let mut records = Vec::new();
            for set in sets.into_values() {
                for record in set.records_without_rrsigs() {
                    if record.dns_class != DNSClass::IN {
                        return Err(ZoneFileError {
                            file: path.to_path_buf(),
                            line: line_of_owner(text, &record.name, origin),
                            message: format!(
                                "{} has class {}; only IN is served",
                                record.name, record.dns_class
                            ),
                        });
                    }
                    records.push(record.clone());
                }
            }
            Ok(records)
        }
        Err(error) => Err(ZoneFileError {
            file: path.to_path_buf(),
            line: first_bad_line(text, |t| parse(t).is_ok()),
            message: error.to_string(),
        }),
    }
}

/// The first line at which the prefix of `text` stops parsing.
///
/// hickory's parser carries no positions, so we parse growing prefixes that
/// end where no parenthesised record is open, and binary-search for the
/// shortest one that fails. Zone files for a GSLB subdomain are small, and
/// this runs only on the error path.
fn first_bad_line(text: &str, parses: impl Fn(&str) -> bool) -> Option<u64> {
    // Byte offsets just past each line whose end closes every parenthesis.
    let mut ends: Vec<(u64, usize)> = Vec::new();
    let mut depth: i32 = 0;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let mut in_quote = false;
        for c in line.chars() {
            match c {
                '"' => in_quote = !in_quote,
                ';' if !in_quote => break,
                '(' if !in_quote => depth += 1,
                ')' if !in_quote => depth -= 1,
                _ => {}
            }
        }
        offset += line.len();
        if depth <= 0 {
            ends.push((index as u64 + 1, offset));
        }
    }
    // Find the first prefix (by line) that fails.
    let (mut lo, mut hi) = (0usize, ends.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        let (_, end) = ends[mid];
        if parses(&text[..end]) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    ends.get(lo).map(|(line, _)| *line)
}

/// Best-effort line of the first record whose owner is `name`.
fn line_of_owner(text: &str, name: &Name, origin: &Name) -> Option<u64> {
    let full = name.to_ascii().to_ascii_lowercase();
    let relative = full
        .strip_suffix(&origin.to_ascii().to_ascii_lowercase())
        .map(|s| s.trim_end_matches('.').to_string());
    text.lines()
        .position(|line| {
            let first = line
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            !line.starts_with(char::is_whitespace)
                && (first == full || Some(&first) == relative.as_ref())
        })
        .map(|i| i as u64 + 1)
}
