//! `POST /v1/alerts`: Alertmanager's webhook receiver. Behind the same
//! gates as every change (Host, bearer token, `Content-Type: application/
//! json`). Each alert of the payload is read on its own: a firing one whose
//! labels name a region, pool or endpoint is stored as an override of its
//! own kind (`source: alertmanager`, keyed by its fingerprint) and marks
//! that down; a resolved one lifts it. An alert that would take a service
//! below its `guards.min_available_pools` is held (not applied, logged),
//! and tried again when Alertmanager repeats it.
//!
//! Alertmanager retries a notification until it gets a 2xx, so only a
//! payload that is not Alertmanager's JSON is a 400; alerts meridian cannot
//! use (no `meridian_*` label, a name the configuration lacks) are listed
//! as ignored in a 200.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::{ApiError, Rt};
use crate::state::alerts::AlertOverride;
use crate::state::overrides::{endpoint_key, unix_now_ms};

/// Alertmanager's webhook body (version 4); fields meridian does not use
/// are accepted and ignored, as Alertmanager adds some over time.
#[derive(Debug, Deserialize)]
pub(super) struct Webhook {
    pub(super) alerts: Vec<Alert>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Alert {
    /// `firing` or `resolved`.
    pub(super) status: String,
    #[serde(default)]
    pub(super) labels: BTreeMap<String, String>,
    /// Alertmanager's identity of the alert (its label set's hash).
    #[serde(default)]
    pub(super) fingerprint: Option<String>,
}

/// What happened to each alert of a payload.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Received {
    /// Firing alerts now marking something down.
    pub(super) applied: Vec<AlertOutcome>,
    /// Resolved alerts whose override was lifted.
    pub(super) resolved: Vec<AlertOutcome>,
    /// Firing alerts not applied because of a guard.
    pub(super) held: Vec<AlertOutcome>,
    /// Alerts meridian has no use for.
    pub(super) ignored: Vec<AlertOutcome>,
    pub(super) revision: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct AlertOutcome {
    pub(super) alert: String,
    /// What it marks down (`region eu-west`), or why it was held or ignored.
    pub(super) detail: String,
}

/// The override an alert's labels ask for, or why there is none.
fn wanted(a: &Alert, name: &str, since: u64) -> Result<AlertOverride, String> {
    let label = |k: &str| a.labels.get(k).map(|v| v.trim().to_owned());
    let region = match (label("meridian_region"), label("meridian_pool")) {
        (Some(r), Some(p)) if r != p => {
            return Err(format!(
                "meridian_region {r:?} and meridian_pool {p:?} disagree (a pool is named by its region)"
            ));
        }
        (r, p) => r.or(p),
    };
    let service = label("meridian_service").map(|s| s.trim_end_matches('.').to_ascii_lowercase());
    let endpoint = match label("meridian_endpoint") {
        Some(text) => Some(match text.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => match hickory_proto::rr::Name::from_ascii(&text) {
                Ok(n) => endpoint_key(&crate::config::Target::Name(Box::new(n))),
                Err(_) => return Err(format!("meridian_endpoint {text:?} is not an address")),
            },
        }),
        None => None,
    };
    if region.is_none() && service.is_none() && endpoint.is_none() {
        return Err(
            "no meridian_region, meridian_pool, meridian_service or meridian_endpoint label".into(),
        );
    }
    if region.is_none() && endpoint.is_none() {
        return Err("meridian_service needs meridian_pool (a region) or meridian_endpoint".into());
    }
    Ok(AlertOverride {
        alert: name.to_owned(),
        region,
        service,
        endpoint,
        since,
    })
}

/// The key an alert is stored under: its fingerprint, else its labels.
fn key(a: &Alert) -> String {
    a.fingerprint
        .clone()
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| {
            a.labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
}

/// `POST /v1/alerts`.
pub(super) async fn receive(
    State(rt): State<Rt>,
    bytes: Bytes,
) -> Result<Json<Received>, ApiError> {
    let hook: Webhook = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "request body is not Alertmanager's webhook JSON: {e}"
        ))
    })?;
    let now = unix_now_ms();
    let view = rt.health.view().load_full();
    let mut out = rt
        .change(None, |set, snap| {
            let mut out = Received::default();
            for a in &hook.alerts {
                let name = a
                    .labels
                    .get("alertname")
                    .cloned()
                    .unwrap_or_else(|| "(no alertname)".into());
                let key = key(a);
                match a.status.as_str() {
                    "resolved" => {
                        if let Some(o) = set.alerts.remove(&key) {
                            out.resolved.push(AlertOutcome {
                                alert: name,
                                detail: o.target(),
                            });
                        }
                    }
                    "firing" => {
                        let since = set.alerts.get(&key).map_or(now, |o| o.since);
                        let o = match wanted(a, &name, since) {
                            Ok(o) => o,
                            Err(why) => {
                                out.ignored.push(AlertOutcome {
                                    alert: name,
                                    detail: why,
                                });
                                continue;
                            }
                        };
                        if let Some(why) = o.unknown_in(&snap.config) {
                            out.ignored.push(AlertOutcome {
                                alert: name,
                                detail: why,
                            });
                            continue;
                        }
                        let before = set.clone();
                        let target = o.target();
                        set.alerts.insert(key, o);
                        if let Some(why) = super::guard::violation(snap, &view, &before, set) {
                            *set = before;
                            out.held.push(AlertOutcome {
                                alert: name,
                                detail: why,
                            });
                            continue;
                        }
                        out.applied.push(AlertOutcome {
                            alert: name,
                            detail: target,
                        });
                    }
                    other => out.ignored.push(AlertOutcome {
                        alert: name,
                        detail: format!("status {other:?} is neither firing nor resolved"),
                    }),
                }
            }
            Ok(out)
        })
        .await?;
    for a in &out.applied {
        info!(alert = %a.alert, source = "alertmanager", "alert {} marks {} down", a.alert, a.detail);
    }
    for a in &out.resolved {
        info!(alert = %a.alert, source = "alertmanager", "alert {} resolved: {} is back to auto", a.alert, a.detail);
    }
    for a in &out.held {
        warn!(alert = %a.alert, source = "alertmanager", "alert {} held: {}", a.alert, a.detail);
    }
    for a in &out.ignored {
        info!(alert = %a.alert, source = "alertmanager", "alert {} ignored: {}", a.alert, a.detail);
    }
    out.revision = rt.revision();
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(labels: &[(&str, &str)]) -> Alert {
        Alert {
            status: "firing".into(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            fingerprint: None,
        }
    }

    #[test]
    fn labels_name_a_region_a_pool_or_an_endpoint() {
        let r = wanted(&alert(&[("meridian_region", "eu-west")]), "A", 1).expect("region");
        assert!(r.is_region());
        assert_eq!(r.target(), "region eu-west");
        let p = wanted(
            &alert(&[
                ("meridian_pool", "eu-west"),
                ("meridian_service", "WWW.gslb.example."),
            ]),
            "A",
            1,
        )
        .expect("pool");
        assert_eq!(p.target(), "www.gslb.example pool eu-west");
        let e = wanted(&alert(&[("meridian_endpoint", "2001:db8:0::1")]), "A", 1).expect("ep");
        assert_eq!(e.endpoint.as_deref(), Some("2001:db8::1"));
        assert!(wanted(&alert(&[("severity", "page")]), "A", 1).is_err());
        assert!(wanted(&alert(&[("meridian_service", "www.gslb.example")]), "A", 1).is_err());
        assert!(
            wanted(
                &alert(&[("meridian_region", "a"), ("meridian_pool", "b")]),
                "A",
                1
            )
            .is_err()
        );
    }
}
