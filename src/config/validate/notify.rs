//! `notify:`: the webhooks change events are posted to, the event kinds
//! each asks for, and their retry and timeout settings.

use std::path::Path;
use std::time::Duration;

use super::probe::header_value;
use crate::config::model::HeaderValue;
use crate::config::tree::{Diag, Field};

/// Event kinds a `notify` webhook may ask for (`events:`).
pub(crate) const EVENT_KINDS: [&str; 6] = [
    "endpoint_health",
    "pool_availability",
    "region_state",
    "override_set",
    "override_lapsed",
    "reload",
];

/// `notify:`: a list of webhooks change events are posted to.
pub(super) fn notify(f: &Field<'_>, base: &Path, diag: &mut Diag) -> Vec<crate::config::Notify> {
    let mut out = Vec::new();
    for item in f.seq(diag).unwrap_or_default() {
        let Some(m) = item.map(
            diag,
            &["url", "headers", "events", "timeout", "retries", "backoff"],
        ) else {
            continue;
        };
        let url = m.require(diag, "url").and_then(|f| {
            let text = f.nonempty_string(diag)?;
            match reqwest::Url::parse(&text) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                    Some(text)
                }
                _ => {
                    f.error(diag, format!("{text:?} is not an http:// or https:// URL"));
                    None
                }
            }
        });
        let mut headers = Vec::new();
        if let Some(f) = m.get("headers") {
            for (key, f) in f.entries(diag).unwrap_or_default() {
                if reqwest::header::HeaderName::from_bytes(key.name.as_bytes()).is_err() {
                    diag.error(
                        key.loc(),
                        &f.path(),
                        format!("{:?} is not a valid HTTP header name", key.name),
                    );
                    continue;
                }
                if let Some(value) = header_value(&f, base, diag) {
                    headers.push((key.name.to_string(), HeaderValue(value)));
                }
            }
        }
        let mut events = Vec::new();
        if let Some(f) = m.get("events") {
            for e in f.seq(diag).unwrap_or_default() {
                let Some(kind) = e.string(diag) else { continue };
                if EVENT_KINDS.contains(&kind.as_str()) {
                    events.push(kind);
                } else {
                    e.error(
                        diag,
                        format!(
                            "unknown event kind {kind:?} (kinds: {})",
                            EVENT_KINDS.join(", ")
                        ),
                    );
                }
            }
        }
        let timeout = m
            .get("timeout")
            .and_then(|f| f.duration(diag, false))
            .unwrap_or(Duration::from_secs(5));
        let backoff = m
            .get("backoff")
            .and_then(|f| f.duration(diag, false))
            .unwrap_or(Duration::from_secs(1));
        let retries = m
            .get("retries")
            .and_then(|f| f.int_in::<u32>(diag, 0..=100))
            .unwrap_or(5);
        if let Some(url) = url {
            out.push(crate::config::Notify {
                url,
                headers,
                events,
                timeout,
                retries,
                backoff,
            });
        }
    }
    out
}
