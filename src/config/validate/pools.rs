//! A service's `pools:`: one per region, with weight, monitors, health
//! thresholds, slow start, spill, endpoint discovery from etcd, and the
//! endpoints of each (none twice; addresses or a single name).

use std::time::Duration;

use super::common::{Names, resolve};
use super::endpoints::{DEFAULT_WEIGHT, MAX_WEIGHT, endpoint, show_target};
use crate::config::model::{
    Discover, Endpoint, MonitorId, MonitorMode, Pool, PoolMonitor, RegionId, SlowStart, Target,
};
use crate::config::tree::{Diag, Field, Kind, MapWalker};

pub(super) fn pool(
    f: &Field<'_>,
    region: Option<RegionId>,
    names: &Names<'_>,
    diag: &mut Diag,
) -> Option<Pool> {
    let m = f.map(
        diag,
        &[
            "weight",
            "monitor",
            "min_healthy",
            "endpoints",
            "discover",
            "spill",
            "slow_start",
            "monitors",
        ],
    )?;
    let weight = m
        .get("weight")
        .map_or(Some(DEFAULT_WEIGHT), |f| f.int_in(diag, 0..=MAX_WEIGHT));
    let monitor: Option<Option<MonitorId>> = match m.get("monitor") {
        None => Some(None),
        Some(f) => f
            .string(diag)
            .and_then(|name| {
                resolve(
                    diag,
                    f.loc(),
                    &f,
                    &name,
                    "monitor",
                    "monitors",
                    &names.monitors,
                )
            })
            .map(Some),
    };
    let monitors = pool_monitors(&m, monitor, names, diag);
    let min_healthy_field = m.get("min_healthy");
    let min_healthy = min_healthy_field.as_ref().map_or(Some(1), |f| {
        f.int_in::<usize>(diag, 1..=i128::from(u32::MAX))
    });
    let discover = match m.get("discover") {
        None => Some(None),
        Some(f) => discover(&f, names.etcd, diag).map(|d| Some(Box::new(d))),
    };
    let spill = m.get("spill").map_or(Some(0), |f| {
        let s = f.map(diag, &["percent"])?;
        s.require(diag, "percent")?.int_in::<u8>(diag, 0..=100)
    });
    let slow_start = match m.get("slow_start") {
        None => Some(None),
        Some(f) => (|| {
            let s = f.map(diag, &["window", "floor"])?;
            let window = s.require(diag, "window")?.duration(diag, false)?;
            let floor = s.get("floor").map_or(Some(0.1), |f| share(&f, diag))?;
            Some(Some(SlowStart { window, floor }))
        })(),
    };
    let mut endpoints = Vec::new();
    let mut count = None;
    let listed = if matches!(discover, Some(Some(_))) {
        m.get("endpoints")
    } else {
        m.require(diag, "endpoints")
    };
    if let Some(f) = listed
        && let Some(items) = f.seq(diag)
    {
        if items.is_empty() && m.get("discover").is_none() {
            f.error(diag, "a pool needs at least one endpoint");
        }
        count = Some(items.len());
        endpoints = pool_endpoints(&items, diag);
    }
    if let (Some(min), Some(count), Some(f)) = (min_healthy, count, &min_healthy_field)
        && min > count
        && count > 0
        && matches!(discover, Some(None))
    {
        f.error(
            diag,
            format!("min_healthy {min} is more than the pool's {count} endpoints"),
        );
    }
    let monitors = monitors?;
    // An invalid `monitor:` makes no pool; a valid one is in `monitors`.
    monitor?;
    Some(Pool {
        region: region?,
        weight: weight?,
        monitors: monitors.into(),
        min_healthy: min_healthy?,
        endpoints: endpoints.into(),
        discover: discover?,
        spill: spill?,
        slow_start: slow_start?,
    })
}

/// A pool's `monitors:` list (each a name or `{name, mode}`), or its
/// single `monitor:` as a one-entry list; not both.
fn pool_monitors(
    m: &MapWalker<'_>,
    single: Option<Option<MonitorId>>,
    names: &Names<'_>,
    diag: &mut Diag,
) -> Option<Vec<PoolMonitor>> {
    let Some(f) = m.get("monitors") else {
        return Some(
            single?
                .map(|monitor| PoolMonitor {
                    monitor,
                    mode: MonitorMode::MustBeHealthy,
                })
                .into_iter()
                .collect(),
        );
    };
    if m.get("monitor").is_some() {
        f.error(diag, "set monitor or monitors, not both");
        return None;
    }
    let mut out: Vec<PoolMonitor> = Vec::new();
    let mut ok = true;
    for item in f.seq(diag)? {
        let (name_field, mode) = if matches!(item.node.kind, Kind::Map(_)) {
            let Some(e) = item.map(diag, &["name", "mode"]) else {
                ok = false;
                continue;
            };
            let mode = match e.get("mode") {
                None => Some(MonitorMode::MustBeHealthy),
                Some(mf) => match mf.string(diag).as_deref() {
                    Some("must_be_healthy") => Some(MonitorMode::MustBeHealthy),
                    Some("monitoring_only") => Some(MonitorMode::MonitoringOnly),
                    Some(other) => {
                        mf.error(
                            diag,
                            format!(
                                "unknown mode {other:?} (modes: must_be_healthy, monitoring_only)"
                            ),
                        );
                        None
                    }
                    None => None,
                },
            };
            (e.require(diag, "name"), mode)
        } else {
            (Some(item.clone()), Some(MonitorMode::MustBeHealthy))
        };
        let monitor = name_field.as_ref().and_then(|nf| {
            let name = nf.string(diag)?;
            resolve(
                diag,
                nf.loc(),
                nf,
                &name,
                "monitor",
                "monitors",
                &names.monitors,
            )
        });
        let (Some(monitor), Some(mode)) = (monitor, mode) else {
            ok = false;
            continue;
        };
        if out.iter().any(|pm| pm.monitor == monitor) {
            if let Some(nf) = &name_field {
                nf.error(diag, "this monitor is already listed for the pool");
            }
            ok = false;
            continue;
        }
        out.push(PoolMonitor { monitor, mode });
    }
    ok.then_some(out)
}

/// A share written `"20%"`, `20%` as a string, or a fraction `0.2`.
fn share(f: &Field<'_>, diag: &mut Diag) -> Option<f64> {
    let text = match &f.node.kind {
        Kind::Str(s) => s.trim().to_owned(),
        Kind::Int(i) => format!("{i}"),
        Kind::Float(x) => format!("{x}"),
        other => {
            f.error(
                diag,
                format!(
                    "expected a share like \"50%\" or 0.5, found {}",
                    other.describe()
                ),
            );
            return None;
        }
    };
    let value = match text.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().ok().map(|p| p / 100.0),
        None => text.parse::<f64>().ok(),
    };
    match value {
        Some(v) if (0.0..=1.0).contains(&v) => Some(v),
        _ => {
            f.error(
                diag,
                format!("{text:?} is not a share of 0%..=100% (write \"50%\" or 0.5)"),
            );
            None
        }
    }
}

const DEFAULT_MAX_REMOVAL: f64 = 0.5;

const DEFAULT_HOLD: Duration = Duration::from_secs(30);

/// `discover: {etcd: {prefix, max_removal, hold}}`.
fn discover(f: &Field<'_>, etcd: bool, diag: &mut Diag) -> Option<Discover> {
    let top = f.map(diag, &["etcd"])?;
    let f = top.require(diag, "etcd")?;
    let m = f.map(diag, &["prefix", "max_removal", "hold"])?;
    let prefix = m.require(diag, "prefix").and_then(|f| {
        let p = f.nonempty_string(diag)?;
        if p.len() < 2 || !p.starts_with('/') {
            f.error(
                diag,
                format!("{p:?} is not a key prefix; write one that starts with '/', e.g. \"/services/www/eu-west/\""),
            );
            return None;
        }
        Some(p)
    });
    let max_removal = m
        .get("max_removal")
        .map_or(Some(DEFAULT_MAX_REMOVAL), |f| share(&f, diag));
    let hold = m
        .get("hold")
        .map_or(Some(DEFAULT_HOLD), |f| f.duration(diag, true));
    if !etcd {
        f.error(
            diag,
            "discover needs an etcd: add a `cluster` section or `discovery: {etcd: {endpoints: [...]}}`",
        );
        return None;
    }
    Some(Discover {
        prefix: prefix?,
        max_removal: max_removal?,
        hold: hold?,
    })
}

/// The endpoints of one pool: each valid, none twice, and either addresses
/// or a single name.
fn pool_endpoints(items: &[Field<'_>], diag: &mut Diag) -> Vec<Endpoint> {
    // Sized to the list: a pool's two or three endpoints left a Vec grown
    // by doubling a quarter to half empty, the largest part of a 100,000-
    // service model (issue 19).
    let mut out: Vec<Endpoint> = Vec::with_capacity(items.len());
    let mut first_addr: Option<usize> = None;
    let mut first_name: Option<usize> = None;
    for (i, item) in items.iter().enumerate() {
        let Some(ep) = endpoint(item, diag) else {
            continue;
        };
        if out.iter().any(|e| e.target == ep.target) {
            item.error(
                diag,
                format!(
                    "endpoint {} is listed twice in this pool",
                    show_target(&ep.target)
                ),
            );
            continue;
        }
        match ep.target {
            Target::Name(_) => {
                if let Some(j) = first_name {
                    item.error(
                        diag,
                        format!(
                            "a pool holds at most one name endpoint (answered as CNAME); \
                             endpoints[{j}] is one already"
                        ),
                    );
                    continue;
                }
                if let Some(j) = first_addr {
                    item.error(
                        diag,
                        format!(
                            "a name endpoint (answered as CNAME) cannot share a pool with \
                             addresses (endpoints[{j}] is an address)"
                        ),
                    );
                    continue;
                }
                first_name = Some(i);
            }
            Target::V4(_) | Target::V6(_) => {
                if let Some(j) = first_name {
                    item.error(
                        diag,
                        format!(
                            "an address cannot share a pool with a name endpoint \
                             (endpoints[{j}] is answered as CNAME)"
                        ),
                    );
                    continue;
                }
                first_addr.get_or_insert(i);
            }
        }
        out.push(ep);
    }
    out
}
