//! The settings of a `type: prometheus` monitor: the server, the PromQL
//! query, the threshold and what no data means.

use crate::config::model::{NoData, PromCheck, Threshold};
use crate::config::tree::{Diag, MapWalker, key_path};

/// `url`, `query`, the threshold and `on_no_data` of a prometheus monitor.
pub(super) fn prometheus(m: &MapWalker<'_>, diag: &mut Diag) -> Option<PromCheck> {
    let url = m.require(diag, "url").and_then(|f| {
        let text = f.nonempty_string(diag)?;
        match reqwest::Url::parse(&text) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                Some(text.trim_end_matches('/').to_owned())
            }
            _ => {
                f.error(
                    diag,
                    format!(
                        "{text:?} is not an http:// or https:// URL, e.g. http://127.0.0.1:9090"
                    ),
                );
                None
            }
        }
    });
    let query = m.require(diag, "query").and_then(|f| {
        let text = f.nonempty_string(diag)?;
        Some((text, f.loc()))
    });
    let above = m
        .get("unhealthy_above")
        .and_then(|f| f.float_in(diag, f64::MIN..=f64::MAX));
    let below = m
        .get("unhealthy_below")
        .and_then(|f| f.float_in(diag, f64::MIN..=f64::MAX));
    let threshold = match (above, below) {
        (Some(a), None) => Some(Threshold::Above(a)),
        (None, Some(b)) => Some(Threshold::Below(b)),
        (Some(_), Some(_)) => {
            if let Some(loc) = m.key_loc("unhealthy_below") {
                diag.error(
                    loc,
                    &key_path(&m.path(), "unhealthy_below"),
                    "set unhealthy_above or unhealthy_below, not both",
                );
            }
            None
        }
        (None, None) => {
            if m.get("unhealthy_above").is_none() && m.get("unhealthy_below").is_none() {
                diag.error(
                    m.anchor(),
                    &m.path(),
                    "missing required key \"unhealthy_above\" or \"unhealthy_below\" (the threshold the expression's value is judged by)",
                );
            }
            None
        }
    };
    let mut on_no_data = NoData::default();
    if let Some(f) = m.get("on_no_data")
        && let Some(text) = f.string(diag)
    {
        on_no_data = match text.as_str() {
            "healthy" => NoData::Healthy,
            "unhealthy" => NoData::Unhealthy,
            "last_known" => NoData::LastKnown,
            _ => {
                f.error(
                    diag,
                    format!("unknown value {text:?} (values: healthy, unhealthy, last_known)"),
                );
                NoData::default()
            }
        };
    }
    let (query, query_loc) = query?;
    Some(PromCheck {
        url: url?,
        query,
        threshold: threshold?,
        on_no_data,
        query_loc,
    })
}
