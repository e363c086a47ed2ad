//! Gauges of what answers follow now, for `/metrics` (issue 18): each
//! region's state and override, each pool's availability, effective weight
//! and weight override, how many overrides of each kind are in force, and
//! whether this instance is in touch with etcd. Built from the same view
//! as `GET /v1/regions`, at scrape time; one series per configured region
//! or pool (bounded by the configuration, never by traffic).

use std::fmt::Write as _;

use super::{Rt, api, views};
use crate::metrics::escape;
use crate::state::overrides::unix_now;

/// The region states `/v1/regions` reports.
const REGION_STATES: [&str; 3] = ["healthy", "degraded", "down"];
/// A region override: none, or the state it forces.
const OVERRIDE_STATES: [&str; 3] = ["none", "up", "down"];

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Render the state gauges into `out`.
pub(super) async fn render(rt: &Rt, out: &mut String) {
    let regions: api::Regions = views::regions(rt).await;
    header(
        out,
        "meridian_region_state",
        "gauge",
        "Each region's state as GET /v1/regions shows it (one-hot over healthy, degraded, down).",
    );
    for r in &regions.regions {
        for state in REGION_STATES {
            let _ = writeln!(
                out,
                "meridian_region_state{{region=\"{}\",state=\"{state}\"}} {}",
                escape(&r.name),
                u8::from(r.state == state)
            );
        }
    }
    header(
        out,
        "meridian_region_override",
        "gauge",
        "The operator override of each region (one-hot over none, up, down).",
    );
    for r in &regions.regions {
        let forced = r.override_.as_ref().map_or("none", |o| o.state.as_str());
        for state in OVERRIDE_STATES {
            let _ = writeln!(
                out,
                "meridian_region_override{{region=\"{}\",state=\"{state}\"}} {}",
                escape(&r.name),
                u8::from(forced == state)
            );
        }
    }
    header(
        out,
        "meridian_pool_available",
        "gauge",
        "Whether answers may use a service's pool in a region (1) or not (0).",
    );
    for r in &regions.regions {
        for p in &r.pools {
            let _ = writeln!(
                out,
                "meridian_pool_available{{service=\"{}\",region=\"{}\"}} {}",
                escape(&p.service),
                escape(&r.name),
                u8::from(p.available)
            );
        }
    }
    header(
        out,
        "meridian_pool_effective_weight",
        "gauge",
        "The weight answers use for a service's pool in a region (overrides applied).",
    );
    for r in &regions.regions {
        for p in &r.pools {
            let _ = writeln!(
                out,
                "meridian_pool_effective_weight{{service=\"{}\",region=\"{}\"}} {}",
                escape(&p.service),
                escape(&r.name),
                p.effective_weight
            );
        }
    }
    header(
        out,
        "meridian_pool_weight_overridden",
        "gauge",
        "Whether an operator override sets the pool's weight (1) or not (0).",
    );
    for r in &regions.regions {
        for p in &r.pools {
            let _ = writeln!(
                out,
                "meridian_pool_weight_overridden{{service=\"{}\",region=\"{}\"}} {}",
                escape(&p.service),
                escape(&r.name),
                u8::from(p.weight_override.is_some())
            );
        }
    }

    let set = rt.overrides.lock().await.clone();
    let now = unix_now();
    let live = |until: Option<u64>| until.is_none_or(|t| t > now);
    let counts = [
        (
            "region",
            set.regions.values().filter(|o| live(o.until)).count(),
        ),
        (
            "weight",
            set.weights
                .values()
                .flat_map(|p| p.values())
                .filter(|o| live(o.until))
                .count(),
        ),
        (
            "endpoint",
            set.endpoints.values().filter(|o| live(o.until)).count(),
        ),
        (
            "spill",
            set.spills
                .values()
                .flat_map(|p| p.values())
                .filter(|o| live(o.until))
                .count(),
        ),
    ];
    header(
        out,
        "meridian_overrides",
        "gauge",
        "Operator overrides in force, by kind.",
    );
    for (kind, n) in counts {
        let _ = writeln!(out, "meridian_overrides{{kind=\"{kind}\"}} {n}");
    }
    let next = set.next_expiry().filter(|t| *t > now);
    header(
        out,
        "meridian_override_next_expiry_timestamp_seconds",
        "gauge",
        "Unix time at which the next override lapses (0: none has an end).",
    );
    let _ = writeln!(
        out,
        "meridian_override_next_expiry_timestamp_seconds {}",
        next.unwrap_or(0)
    );

    if let Some(cluster) = &rt.cluster {
        header(
            out,
            "meridian_etcd_connected",
            "gauge",
            "Whether this instance is in touch with etcd (1) or not (0).",
        );
        let _ = writeln!(
            out,
            "meridian_etcd_connected {}",
            u8::from(cluster.board().connected)
        );
    }
}
