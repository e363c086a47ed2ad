//! Warnings about zone data that loads and serves but that resolvers will
//! trip on, of the kind `named-checkzone` and `kzonecheck` print: an NS
//! target inside the zone without address records, a delegation to a name
//! below it without glue, an NS or MX target that is a CNAME. Errors (what
//! cannot be served, a CNAME beside other data included) stay in
//! `ZoneData::build`; this module only reads and never refuses a zone.

use std::collections::HashSet;

use hickory_proto::rr::{LowerName, Name, RData, RecordType};

use super::load::{LoadedZone, ZoneFileError, load_zone_file};
use crate::config::Config;

/// Lint the records of `zone`, loaded for `origin`: one warning per
/// problem, each with the file, line and column of the record it is about.
pub fn lint(zone: &LoadedZone, origin: &Name) -> Vec<ZoneFileError> {
    let origin = LowerName::new(origin);
    let mut addressed: HashSet<LowerName> = HashSet::new();
    let mut cnames: HashSet<LowerName> = HashSet::new();
    let mut cuts: Vec<LowerName> = Vec::new();
    for record in &zone.records {
        let owner = LowerName::new(&record.name);
        match record.record_type() {
            RecordType::A | RecordType::AAAA => {
                addressed.insert(owner);
            }
            RecordType::CNAME => {
                cnames.insert(owner);
            }
            RecordType::NS if owner != origin => cuts.push(owner),
            _ => {}
        }
    }
    let below_cut = |name: &LowerName| cuts.iter().find(|cut| cut.zone_of(name));

    let mut warnings = Vec::new();
    let mut seen: HashSet<(LowerName, LowerName)> = HashSet::new();
    for (index, record) in zone.records.iter().enumerate() {
        let owner = LowerName::new(&record.name);
        let (target, what) = match &record.data {
            RData::NS(ns) => (LowerName::new(&ns.0), "NS"),
            RData::MX(mx) => (LowerName::new(&mx.exchange), "MX"),
            _ => continue,
        };
        // Out of zone: another zone's business (named-checkzone checks
        // those only with -i full and a resolver).
        if !origin.zone_of(&target) || !seen.insert((owner.clone(), target.clone())) {
            continue;
        }
        if cnames.contains(&target) {
            warnings.push(zone.error_at(
                index,
                format!(
                    "{} {what} {}: the target is a CNAME, which an {what} record must not \
                     name (RFC 2181 10.3); name the host itself",
                    record.name, target
                ),
            ));
            continue;
        }
        if addressed.contains(&target) {
            continue;
        }
        let message = match (what, below_cut(&target)) {
            // The target is in the child zone: only glue from us lets a
            // resolver reach it (RFC 1034 4.2.1).
            ("NS", Some(cut)) if owner == *cut => format!(
                "{} NS {target}: missing glue: the target is inside the delegated zone and \
                 has no A or AAAA record here; add its address",
                record.name
            ),
            ("NS", Some(cut)) => format!(
                "{} NS {target}: the target is below the delegation {cut} and has no A or \
                 AAAA glue record here; add its address",
                record.name
            ),
            (_, Some(_)) => continue,
            (what, None) => format!(
                "{} {what} {target}: the target is in this zone but has no A or AAAA record; \
                 add its address",
                record.name
            ),
        };
        warnings.push(zone.error_at(index, message));
    }
    warnings
}

/// Warnings for the zone files of the configuration at `path`; none when
/// it does not load (its errors come from the load itself). Called before
/// the snapshot is built, so that the zones are not held twice at once.
pub fn file_warnings(path: &std::path::Path) -> Vec<String> {
    crate::config::load(path)
        .map(|c| config_warnings(&c))
        .unwrap_or_default()
}

/// Warnings for every zone file `config` names, as `file:line:col: text`
/// lines. Files that do not load give none here: their errors come from
/// the load itself.
pub fn config_warnings(config: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for zone in &config.zones {
        if let Ok(loaded) = load_zone_file(&zone.file, &zone.origin) {
            out.extend(lint(&loaded, &zone.origin).iter().map(ToString::to_string));
        }
    }
    out
}
