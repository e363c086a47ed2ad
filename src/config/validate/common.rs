//! What every room of the configuration uses: the names declared so far
//! (regions, monitors, maps) and how a reference to one is resolved, the
//! rules for names and host-name labels, paths joined to the config file's
//! directory, environment variable names, and which of two exclusive keys
//! to blame. The lowest room: it uses no other.

use std::path::{Path, PathBuf};

use crate::config::model::{Loc, RegionId};
use crate::config::tree::{Diag, Field, Key, MapWalker, key_path};

/// The names declared so far, for resolving references.
pub(super) struct Names<'c> {
    pub(super) regions: Vec<&'c str>,
    pub(super) monitors: Vec<&'c str>,
    pub(super) maps: Vec<&'c str>,
    /// Whether an etcd is configured (`cluster` or `discovery.etcd`), for
    /// pools that `discover` their endpoints.
    pub(super) etcd: bool,
}

impl Names<'_> {
    pub(super) fn region(
        &self,
        diag: &mut Diag,
        loc: Loc,
        at: &Field<'_>,
        name: &str,
    ) -> Option<RegionId> {
        resolve(diag, loc, at, name, "region", "regions", &self.regions)
    }
}

/// Looks `name` up in `known`, reporting `unknown region "x" (regions: a, b)`
/// at `loc` with the path of `at` (written only then).
pub(super) fn resolve(
    diag: &mut Diag,
    loc: Loc,
    at: &Field<'_>,
    name: &str,
    what: &str,
    plural: &str,
    known: &[&str],
) -> Option<usize> {
    let found = known.iter().position(|k| *k == name);
    if found.is_none() {
        let list = if known.is_empty() {
            format!("no {plural} are defined")
        } else {
            format!("{plural}: {}", known.join(", "))
        };
        diag.error(loc, &at.path(), format!("unknown {what} {name:?} ({list})"));
    }
    found
}

/// Region, monitor and map names: non-empty, `[A-Za-z0-9_-]`.
pub(super) fn check_name(diag: &mut Diag, key: &Key<'_>, path: &str, what: &str) {
    let ok = !key.name.is_empty()
        && key
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        diag.error(
            key.loc(),
            path,
            format!(
                "{what} name {:?} must be non-empty and hold only letters, digits, '-' and '_'",
                key.name
            ),
        );
    }
}

/// A path, joined to the config file's directory unless absolute.
pub(super) fn file_path(f: &Field<'_>, base: &Path, diag: &mut Diag) -> Option<PathBuf> {
    let text = f.nonempty_string(diag)?;
    Some(base.join(text))
}

/// An environment variable's name.
pub(super) fn env_name(f: &Field<'_>, diag: &mut Diag) -> Option<String> {
    let name = f.nonempty_string(diag)?;
    let valid = name
        .bytes()
        .enumerate()
        .all(|(i, b)| b == b'_' || b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()));
    if !valid {
        f.error(
            diag,
            format!(
                "{name:?} is not an environment variable name \
                 (letters, digits and '_', not starting with a digit)"
            ),
        );
    }
    Some(name)
}

/// Blame whichever of two keys of `m` is written second.
pub(super) fn second_of(m: &MapWalker<'_>, a: &str, b: &str) -> (Loc, String) {
    let (la, lb) = (m.key_loc(a), m.key_loc(b));
    let pos = |l: Option<Loc>| l.map(|l| (l.line, l.column));
    let (loc, key) = if pos(la) > pos(lb) { (la, a) } else { (lb, b) };
    (loc.unwrap_or_default(), key_path(&m.path(), key))
}

/// Checks dot-separated host-name labels: 1..=63 of `[A-Za-z0-9_-]` each.
pub(super) fn check_labels(text: &str) -> Result<(), String> {
    for label in text.split('.') {
        if label.is_empty() {
            return Err("it has an empty label".to_owned());
        }
        if label.len() > 63 {
            return Err(format!("label {label:?} is longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "{c:?} is not allowed (letters, digits, '-' and '_' only)"
            ));
        }
    }
    Ok(())
}
