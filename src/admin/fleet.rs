//! Per-endpoint control and drain reports (the fleets issue): force an
//! endpoint up, down or `drain` or change its weight, by address or by
//! labels; list drains and wait for one to be done.
//!
//! Endpoint overrides are keyed by address and apply in every pool that
//! holds it; a label selector is expanded to the addresses it matches when
//! the change is made (the selector is kept with each for display).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use tracing::info;

use super::views::{endpoint_override_shown, rfc3339, rfc3339_ms};
use super::{ApiError, Rt, api, body, expiry, if_match};
use crate::config::{Config, Target, parse_duration};
use crate::state::drains::{Drain, Seen};
use crate::state::overrides::{EndpointOverride, EndpointState, endpoint_key, unix_now_ms};

/// The longest `?wait=` honoured.
const MAX_WAIT: Duration = Duration::from_secs(600);
/// How often a waiting request looks again.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// Every endpoint address in `config` with the labels it has (the union
/// over pools, for an address listed in several).
fn endpoints(config: &Config) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for zone in &config.zones {
        for svc in &zone.services {
            for pool in svc.pools.iter() {
                for ep in &pool.endpoints {
                    out.entry(endpoint_key(&ep.target))
                        .or_default()
                        .extend(ep.labels().clone());
                }
            }
        }
    }
    out
}

/// An address as the overrides key it: a canonical IP, or a name without
/// its final dot.
fn canonical_address(text: &str) -> Result<String, ApiError> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(ip.to_string());
    }
    match hickory_proto::rr::Name::from_ascii(text) {
        Ok(name) if text.contains('.') && !text.contains('/') => {
            Ok(endpoint_key(&Target::Name(Box::new(name))))
        }
        _ => Err(ApiError::bad_request(format!(
            "{text:?} is not an endpoint address (an IPv4 or IPv6 address, or the name of a CNAME endpoint)"
        ))),
    }
}

/// What a request asks to set: the state (`None` = keep, `Some(None)` =
/// auto), the weight (same), and the expiry.
struct Wanted {
    state: Option<Option<EndpointState>>,
    weight: Option<Option<u16>>,
    until: Option<u64>,
    /// Past the services' guards.
    force: bool,
}

fn wanted(req: &api::EndpointRequest) -> Result<Wanted, ApiError> {
    let state = match req.state.as_deref() {
        None => None,
        Some("up") => Some(Some(EndpointState::Up)),
        Some("down") => Some(Some(EndpointState::Down)),
        Some("drain") => Some(Some(EndpointState::Drain)),
        Some("auto") => Some(None),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "state {other:?}: expected \"up\", \"down\", \"drain\" or \"auto\""
            )));
        }
    };
    let weight = match req.weight {
        None => None,
        Some(None) => Some(None),
        Some(Some(w)) => Some(Some(
            u16::try_from(w)
                .ok()
                .filter(|w| *w <= 1000)
                .ok_or_else(|| ApiError::bad_request(format!("weight {w} is outside 0..=1000")))?,
        )),
    };
    if state.is_none() && weight.is_none() {
        return Err(ApiError::bad_request(
            "nothing to change: give \"state\" (up, down, drain, auto) and/or \"weight\"",
        ));
    }
    Ok(Wanted {
        state,
        weight,
        until: expiry(req.for_.as_deref())?,
        force: req.force,
    })
}

/// Apply `w` to the overrides of `addresses`; returns what each holds now.
async fn apply(
    rt: &Rt,
    headers: &HeaderMap,
    addresses: Vec<String>,
    w: Wanted,
    selector: BTreeMap<String, String>,
) -> Result<Json<api::EndpointsChanged>, ApiError> {
    let expect = if_match(headers)?;
    let now = unix_now_ms();
    let what = format!("change endpoint(s) {}", addresses.join(", "));
    let after = rt
        .change(
            expect,
            super::guard::guarded(rt.health.view().load_full(), w.force, what, |set, _| {
                let mut after = BTreeMap::new();
                for addr in &addresses {
                    let mut o = set
                        .endpoints
                        .get(addr)
                        .cloned()
                        .unwrap_or(EndpointOverride {
                            state: None,
                            weight: None,
                            until: None,
                            since: None,
                            selector: BTreeMap::new(),
                        });
                    if let Some(state) = w.state {
                        if state != o.state {
                            o.since = state.map(|_| now);
                        }
                        o.state = state;
                    }
                    if let Some(weight) = w.weight {
                        o.weight = weight;
                    }
                    o.until = w.until;
                    o.selector.clone_from(&selector);
                    if o.state.is_none() && o.weight.is_none() {
                        set.endpoints.remove(addr);
                        after.insert(addr.clone(), None);
                    } else {
                        set.endpoints.insert(addr.clone(), o.clone());
                        after.insert(addr.clone(), Some(o));
                    }
                }
                Ok(after)
            }),
        )
        .await?;
    for (addr, o) in &after {
        let state = o
            .as_ref()
            .and_then(|o| o.state)
            .map_or("auto", EndpointState::as_str);
        let weight = o.as_ref().and_then(|o| o.weight);
        let until = o.as_ref().and_then(|o| o.until).map_or_else(
            || "until removed".into(),
            |t| format!("until {}", rfc3339(t)),
        );
        let weight_text = weight.map_or_else(String::new, |w| format!(", weight {w}"));
        info!(endpoint = %addr, state, ?weight, %until, "admin: endpoint {addr} set {state}{weight_text} {until}");
    }
    Ok(Json(api::EndpointsChanged {
        endpoints: after
            .into_iter()
            .map(|(a, o)| (a, o.as_ref().map(endpoint_override_shown)))
            .collect(),
        revision: rt.revision(),
    }))
}

/// `PUT /v1/endpoints/{address}/override`.
pub(super) async fn put_endpoint(
    State(rt): State<Rt>,
    Path(address): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<api::EndpointsChanged>, ApiError> {
    let req: api::EndpointRequest = body(&bytes)?;
    if req.labels.is_some() {
        return Err(ApiError::bad_request(
            "labels select endpoints on PUT /v1/endpoints/override, not on one address",
        ));
    }
    let w = wanted(&req)?;
    let addr = canonical_address(&address)?;
    let known = endpoints(&rt.snapshot.load().config).contains_key(&addr);
    let held = rt.overrides.lock().await.endpoints.contains_key(&addr);
    if !known && !held {
        return Err(ApiError::not_found(format!(
            "no endpoint {addr} in any pool (GET /v1/regions lists them)"
        )));
    }
    apply(&rt, &headers, vec![addr], w, BTreeMap::new()).await
}

/// `PUT /v1/endpoints/override` with `labels`: every endpoint whose labels
/// hold all of them.
pub(super) async fn put_by_labels(
    State(rt): State<Rt>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<api::EndpointsChanged>, ApiError> {
    let req: api::EndpointRequest = body(&bytes)?;
    let Some(selector) = req.labels.clone().filter(|l| !l.is_empty()) else {
        return Err(ApiError::bad_request(
            "labels is required, e.g. {\"labels\": {\"rack\": \"r7\"}, \"state\": \"drain\"}",
        ));
    };
    let w = wanted(&req)?;
    let matched: Vec<String> = endpoints(&rt.snapshot.load().config)
        .into_iter()
        .filter(|(_, labels)| selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
        .map(|(addr, _)| addr)
        .collect();
    if matched.is_empty() {
        let shown: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
        return Err(ApiError::bad_request(format!(
            "no endpoint has the labels {}; nothing was changed",
            shown.join(", ")
        )));
    }
    apply(&rt, &headers, matched, w, selector).await
}

/// `DELETE /v1/endpoints/{address}/override`: back to health checks and
/// the configured weight.
pub(super) async fn delete_endpoint(
    State(rt): State<Rt>,
    Path(address): Path<String>,
    headers: HeaderMap,
) -> Result<Json<api::EndpointsChanged>, ApiError> {
    let addr = canonical_address(&address)?;
    let held = rt.overrides.lock().await.endpoints.contains_key(&addr);
    if !held && !endpoints(&rt.snapshot.load().config).contains_key(&addr) {
        return Err(ApiError::not_found(format!(
            "no endpoint {addr} in any pool, and no override of it"
        )));
    }
    let w = Wanted {
        state: Some(None),
        weight: Some(None),
        until: None,
        force: false,
    };
    apply(&rt, &headers, vec![addr], w, BTreeMap::new()).await
}

/// Query string of `GET /v1/drains/{id}`.
#[derive(Debug, serde::Deserialize)]
pub(super) struct WaitQuery {
    wait: Option<String>,
}

/// This instance's drains, with the other live instances' figures merged
/// in (in a cluster).
async fn report(rt: &Rt) -> api::Drains {
    let local = rt.drains().await;
    let now = unix_now_ms();
    let board = rt.cluster.as_ref().map(|c| c.drain_board());
    let me = rt
        .cluster
        .as_ref()
        .map(|c| c.config.instance.clone())
        .unwrap_or_default();
    let drains = local
        .into_iter()
        .map(|d| info_of(&d, &me, board.as_ref(), now))
        .collect();
    api::Drains {
        drains,
        cluster_connected: board.map(|b| b.connected),
    }
}

fn info_of(
    d: &Drain,
    me: &str,
    board: Option<&crate::cluster::drains::DrainBoard>,
    now: u64,
) -> api::DrainInfo {
    let seconds = |ms: u64| {
        #[allow(clippy::cast_precision_loss)]
        let s = ms as f64 / 1000.0;
        s
    };
    let shown = |seen: &Seen| api::DrainSeen {
        answers_since: seen.answers_since,
        last_handed_out: (seen.last_ms > 0).then(|| rfc3339_ms(seen.last_ms)),
        remaining_seconds: seconds(seen.remaining_ms(now)),
    };
    let mut total = d.seen;
    let mut waiting_for = Vec::new();
    let mut instances = BTreeMap::new();
    if let Some(board) = board {
        instances.insert(me.to_string(), shown(&d.seen));
        for (name, figures) in &board.others {
            match figures.get(&d.id) {
                Some(seen) => {
                    total = total.merge(*seen);
                    instances.insert(name.clone(), shown(seen));
                }
                None => waiting_for.push(name.clone()),
            }
        }
    }
    let remaining = total.remaining_ms(now);
    let drained = remaining == 0 && waiting_for.is_empty();
    api::DrainInfo {
        id: d.id.clone(),
        kind: d.kind.into(),
        target: d.target.clone(),
        cause: d.cause.clone(),
        since: (d.since_ms > 0).then(|| rfc3339_ms(d.since_ms)),
        until: d.until.map(super::rfc3339),
        state: if drained { "drained" } else { "draining" }.into(),
        answers_since: total.answers_since,
        last_handed_out: (total.last_ms > 0).then(|| rfc3339_ms(total.last_ms)),
        max_ttl: total.max_ttl,
        drained_at: (total.expires_ms > 0).then(|| rfc3339_ms(total.expires_ms)),
        remaining_seconds: seconds(remaining),
        waiting_for,
        instances,
    }
}

/// `GET /v1/drains`.
pub(super) async fn list(State(rt): State<Rt>) -> Json<api::Drains> {
    Json(report(&rt).await)
}

/// `GET /v1/drains/{id}?wait=120s`: one drain; with `wait`, held until it
/// is drained or the wait ends (a deploy pipeline's "may I stop it now").
pub(super) async fn get(
    State(rt): State<Rt>,
    Path(id): Path<String>,
    Query(q): Query<WaitQuery>,
) -> Result<Json<api::DrainInfo>, ApiError> {
    let wait = match q.wait.as_deref() {
        None => Duration::ZERO,
        Some(text) => parse_duration(text)
            .map_err(|e| ApiError::bad_request(format!("wait: {e}")))?
            .min(MAX_WAIT),
    };
    let deadline = Instant::now() + wait;
    loop {
        let report = report(&rt).await;
        let Some(info) = report.drains.into_iter().find(|d| d.id == id) else {
            return Err(ApiError::not_found(format!(
                "no drain {id:?} (it ended, or never began; GET /v1/drains lists them)"
            )));
        };
        if info.state == "drained" || Instant::now() >= deadline {
            return Ok(Json(info));
        }
        tokio::time::sleep(WAIT_POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

/// `meridian_drain_remaining_seconds` and the registry's series.
pub(super) async fn render_metrics(rt: &Rt, out: &mut String) {
    use std::fmt::Write as _;
    let report = report(rt).await;
    let _ = writeln!(
        out,
        "# HELP meridian_drain_remaining_seconds Seconds until the last answer naming a drained region, pool or endpoint expires from caches (0: drained)."
    );
    let _ = writeln!(out, "# TYPE meridian_drain_remaining_seconds gauge");
    for d in &report.drains {
        let _ = writeln!(
            out,
            "meridian_drain_remaining_seconds{{drain=\"{}\"}} {}",
            crate::metrics::escape(&d.id),
            d.remaining_seconds
        );
    }
    let registry = rt
        .registry
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let _ = writeln!(
        out,
        "# HELP meridian_registry_endpoints Registered endpoints in effect, by registry prefix."
    );
    let _ = writeln!(out, "# TYPE meridian_registry_endpoints gauge");
    for (prefix, p) in &registry {
        let _ = writeln!(
            out,
            "meridian_registry_endpoints{{prefix=\"{}\"}} {}",
            crate::metrics::escape(prefix),
            p.applied.len()
        );
    }
    let _ = writeln!(
        out,
        "# HELP meridian_registry_stale Whether a registry prefix is out of reach and its last good set is kept (1) or current (0)."
    );
    let _ = writeln!(out, "# TYPE meridian_registry_stale gauge");
    for (prefix, p) in &registry {
        let _ = writeln!(
            out,
            "meridian_registry_stale{{prefix=\"{}\"}} {}",
            crate::metrics::escape(prefix),
            u8::from(p.stale)
        );
    }
}
