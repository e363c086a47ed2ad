//! `geoip:`: the GeoIP databases (paths only; they are opened when the
//! snapshot is built) and whether EDNS Client Subnet is honoured.

use std::path::Path;

use super::common::file_path;
use crate::config::model::{GeoipConfig, Loc};
use crate::config::tree::{Diag, Field};

pub(super) fn geoip(f: &Field<'_>, base: &Path, diag: &mut Diag) -> Option<GeoipConfig> {
    let m = f.map(diag, &["database", "ecs", "asn_database"])?;
    let database = m.require(diag, "database");
    let ecs = m.get("ecs").and_then(|f| f.boolean(diag)).unwrap_or(true);
    let asn = m.get("asn_database");
    let asn_loc = asn.as_ref().map_or(Loc::default(), Field::loc);
    let asn_database = match asn {
        Some(f) => Some(file_path(&f, base, diag)?),
        None => None,
    };
    let database = database?;
    Some(GeoipConfig {
        database: file_path(&database, base, diag)?,
        asn_database,
        asn_loc,
        ecs,
        loc: database.loc(),
    })
}
