//! Turns the located YAML tree into the validated [`Config`]: applies every
//! default, checks every value and cross-reference, resolves names to
//! indices and joins paths to the config file's directory. Every problem is
//! pushed into a [`Diag`] and the walk goes on, so one run reports them all.
//! Never reads the files the configuration names (zone files, GeoIP
//! databases, token files), except the small ones a monitor sends (header
//! values from a file, TLS certificates and keys): those are read and
//! checked here, so that an unreadable one is an error at its line.
//!
//! One room per section of the file, each owning its raw-to-model step and
//! its checks. The rooms, lowest first: `common`, `dns`, `admin`, `geoip`,
//! `cluster`, `regions`, `probe`, `prometheus`, `monitors`, `notify`,
//! `geo_maps`, `endpoints`, `pools`, `services`, `zones`, and this `build`
//! on top. A room uses only rooms below it (`rooms_use_only_rooms_below_them`
//! in the configuration's tests checks every `use super::`).

mod admin;
mod cluster;
mod common;
mod dns;
mod endpoints;
mod geo_maps;
mod geoip;
mod monitors;
mod notify;
mod pools;
mod probe;
mod prometheus;
mod regions;
mod services;
mod zones;

use std::path::Path;

use crate::config::model::Config;
use crate::config::tree::{Diag, Field, Node};
use crate::config::yaml::Deferred;
use admin::admin;
use cluster::{cluster, discovery};
use common::{Names, file_path};
use dns::{default_dns, dns};
use geo_maps::geo_maps;
use geoip::geoip;
use monitors::monitors;
use notify::notify;
use regions::regions;
use zones::{detach_services, zones};

/// Builds the model from the tree rooted at `root`, consuming it (each
/// service's subtree is freed as soon as it is read). Returns a `Config`
/// even when errors were found (with placeholders where values were bad);
/// the caller must check `diag` first.
///
/// Each zone's services are read from `deferred` when the reader left them
/// there (entry by entry, see `yaml::read_deferring`), else from the tree;
/// each one equal to `previous`'s at the same place takes that one's pools
/// at once ([`Config::share_unchanged`]).
pub(crate) fn build<'a>(
    mut root: Node<'a>,
    deferred: &mut Deferred<'a>,
    previous: Option<&Config>,
    source: &Path,
    diag: &mut Diag,
) -> Config {
    let detached = detach_services(&mut root);
    let root = &Field::root(&root);
    let base = source
        .parent()
        .unwrap_or_else(|| Path::new(""))
        .to_path_buf();
    let mut config = Config {
        source: source.to_path_buf(),
        dns: default_dns(),
        admin: None,
        state_file: None,
        geoip: None,
        cluster: None,
        discovery: None,
        regions: Vec::new(),
        monitors: Vec::new(),
        geo_maps: Vec::new(),
        zones: Vec::new(),
        notify: Vec::new(),
    };
    let Some(top) = root.map(
        diag,
        &[
            "dns",
            "admin",
            "state_file",
            "geoip",
            "cluster",
            "discovery",
            "regions",
            "monitors",
            "geo_maps",
            "zones",
            "notify",
        ],
    ) else {
        return config;
    };
    if let Some(f) = top.get("dns") {
        config.dns = dns(&f, diag);
    }
    config.admin = top.get("admin").and_then(|f| admin(&f, &base, diag));
    config.state_file = top
        .get("state_file")
        .and_then(|f| file_path(&f, &base, diag));
    config.geoip = top.get("geoip").and_then(|f| geoip(&f, &base, diag));
    config.cluster = top.get("cluster").and_then(|f| cluster(&f, &base, diag));
    config.discovery = top
        .get("discovery")
        .and_then(|f| discovery(&f, &base, diag));
    if let Some(f) = top.get("regions") {
        config.regions = regions(&f, diag);
    }
    if let Some(f) = top.get("monitors") {
        config.monitors = monitors(&f, &base, diag);
    }
    if let Some(f) = top.get("notify") {
        config.notify = notify(&f, &base, diag);
    }
    let names = Names {
        regions: config.regions.iter().map(|r| r.name.as_str()).collect(),
        monitors: config.monitors.iter().map(|m| m.name.as_str()).collect(),
        maps: Vec::new(),
        etcd: config.cluster.is_some() || config.discovery.is_some(),
    };
    if let Some(f) = top.get("geo_maps") {
        config.geo_maps = geo_maps(&f, &names, diag);
    }
    let names = Names {
        maps: config.geo_maps.iter().map(|m| m.name.as_str()).collect(),
        ..names
    };
    if let Some(f) = top.require(diag, "zones") {
        let read = zones::Read {
            detached,
            deferred,
            previous,
        };
        config.zones = zones(&f, &base, &names, &config, read, diag);
    }
    config
}
