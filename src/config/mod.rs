//! The YAML configuration (SPEC section 2): parsing, validation and the
//! validated model. Owns every rule about what a valid configuration is;
//! never opens sockets or reads zone files or GeoIP databases.
//!
//! The YAML is read into a located tree (`tree`), which `validate` walks
//! into the model, collecting every error on the way rather than stopping
//! at the first. The zones' services are read into the tree one at a
//! time as they are validated (`yaml::read_deferring`), so a large file's
//! tree is never whole.

mod duration;
mod error;
pub mod model;
mod tree;
mod validate;
mod yaml;

#[cfg(test)]
mod tests;

pub use duration::{DurationError, format_duration, parse_duration};
pub use error::{ConfigError, ConfigErrors};
pub use model::*;

use std::path::Path;

/// A configuration of regions `a` and `b` and zone `t.` whose `services`
/// block is `services` (indented as the zone's services): for tests.
#[cfg(test)]
pub(crate) fn two_regions(services: &str) -> Config {
    let text = format!(
        "regions:\n  a: {{}}\n  b: {{}}\nzones:\n  - origin: t.\n    file: t.zone\n    services:\n{services}"
    );
    match parse(&text, Path::new("t.yaml")) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

/// Read and validate the configuration at `path`, reporting every error found.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    load_sharing(path, None)
}

/// [`load`], giving each service equal to `previous`'s at the same place
/// that one's pools as soon as it is read ([`Config::share_unchanged`]):
/// at a reload, `previous` is the configuration that answers, and the
/// copies of its unchanged services are freed one by one instead of all
/// standing at once next to it (issue 19).
pub fn load_sharing(path: &Path, previous: Option<&Config>) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        path: String::new(),
        message: format!("cannot read: {e}"),
    })?;
    parse_sharing(&text, path, previous)
}

/// Validate configuration `text` that was read from `source` (used for
/// error positions and to resolve relative paths).
///
/// On failure every error found is returned, in file order. A YAML syntax
/// error is reported alone, since nothing after it can be trusted.
pub fn parse(text: &str, source: &Path) -> Result<Config, ConfigErrors> {
    parse_sharing(text, source, None)
}

/// [`parse`], sharing unchanged services with `previous` (see
/// [`load_sharing`]).
///
/// The fast reader's tree leaves the zones' services to be read one at a
/// time while they are validated, each entry's tree freed once it is in
/// the model, so the whole tree of a large file is never held
/// (`yaml::read_deferring`). Should a skipped map turn out not to be the
/// fast reader's (a YAML error, a key written twice), what was built is
/// dropped and the file is read again the other ways, as [`parse`] always
/// read it: every message stays theirs.
pub fn parse_sharing(
    text: &str,
    source: &Path,
    previous: Option<&Config>,
) -> Result<Config, ConfigErrors> {
    if let Some((root, mut deferred)) = yaml::read_deferring(text) {
        let mut diag = tree::Diag::new(source.to_path_buf());
        let config = validate::build(root, &mut deferred, previous, source, &mut diag);
        if deferred.finish() {
            return if diag.is_empty() {
                Ok(config)
            } else {
                Err(ConfigErrors(diag.into_sorted()))
            };
        }
    }
    let (mut root, unique) = yaml::read(text).map_err(|(loc, message)| ConfigError {
        file: source.to_path_buf(),
        line: loc.line,
        column: loc.column,
        path: String::new(),
        message,
    })?;
    let mut diag = tree::Diag::new(source.to_path_buf());
    if !unique {
        tree::report_duplicate_keys(&mut root, "", &mut diag);
    }
    let config = validate::build(
        root,
        &mut yaml::Deferred::none(),
        previous,
        source,
        &mut diag,
    );
    if diag.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(diag.into_sorted()))
    }
}
