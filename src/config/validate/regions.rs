//! `regions:`: each region's name and optional `[latitude, longitude]`.

use super::common::check_name;
use crate::config::model::Region;
use crate::config::tree::{Diag, Field};

pub(super) fn regions(f: &Field<'_>, diag: &mut Diag) -> Vec<Region> {
    let mut out = Vec::new();
    for (key, f) in f.entries(diag).unwrap_or_default() {
        check_name(diag, key, &f.path(), "region");
        let location = f
            .map(diag, &["location"])
            .and_then(|m| m.get("location"))
            .and_then(|f| lat_lon(&f, diag));
        out.push(Region {
            name: key.name.to_string(),
            location,
        });
    }
    out
}

/// `[latitude, longitude]` in degrees.
fn lat_lon(f: &Field<'_>, diag: &mut Diag) -> Option<(f64, f64)> {
    let items = f.seq(diag)?;
    let [lat, lon] = items.as_slice() else {
        f.error(
            diag,
            format!(
                "expected [latitude, longitude], found a list of {}",
                items.len()
            ),
        );
        return None;
    };
    let lat = lat.float_in(diag, -90.0..=90.0);
    let lon = lon.float_in(diag, -180.0..=180.0);
    Some((lat?, lon?))
}
