//! Health from Prometheus (`type: prometheus`): one instant query of a
//! target's rendered PromQL expression per check, judged against the
//! monitor's threshold. Owns the query, the reading of Prometheus' JSON
//! reply and the check of expressions at start and reload; never decides
//! state (the writer's rise/fall machine does, as for any check).
//!
//! A reply without a usable sample (an empty vector, NaN), a Prometheus
//! that cannot be reached or answers 5xx, and an expression it rejects are
//! all [`CheckError::NoData`]: the writer applies `on_no_data` to them, so
//! an outage of Prometheus is never a flood of failures.
//!
//! The client keeps its connection to Prometheus alive between checks: all
//! targets of all prometheus monitors ask the same few servers.

use std::time::Duration;

use reqwest::Client;
use serde_json::Value;
use tracing::warn;

use super::prober::{CheckError, CheckResult, Passed};
use super::targets::{QueryVars, endpoint_text, render_query};
use crate::config::{Config, ConfigError, PromCheck, Threshold};

/// The client every prometheus check shares.
pub(super) fn client() -> Result<Client, reqwest::Error> {
    Client::builder()
        .retry(reqwest::retry::never())
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_idle_timeout(Duration::from_secs(90))
        .user_agent(concat!("meridian/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// What one query came to.
#[derive(Debug)]
enum Reply {
    /// The samples' values (NaN dropped).
    Values(Vec<f64>),
    /// Prometheus refused the expression (`bad_data`): its message.
    Rejected(String),
    /// Prometheus could not be asked or did not answer sensibly.
    Unreachable(String),
}

async fn query(client: &Client, url: &str, expr: &str, timeout: Duration) -> Reply {
    let endpoint = format!("{url}/api/v1/query");
    let url = match reqwest::Url::parse_with_params(&endpoint, &[("query", expr)]) {
        Ok(u) => u,
        Err(e) => return Reply::Unreachable(format!("bad URL {endpoint}: {e}")),
    };
    let sent = client.get(url).timeout(timeout).send().await;
    let response = match sent {
        Ok(r) => r,
        Err(e) => {
            let cause = super::prober::describe(&e);
            return Reply::Unreachable(cause);
        }
    };
    let status = response.status().as_u16();
    let body = match response.bytes().await {
        Ok(b) => b,
        Err(e) => return Reply::Unreachable(super::prober::describe(&e)),
    };
    let Ok(json) = serde_json::from_slice::<Value>(&body) else {
        return Reply::Unreachable(format!("HTTP {status}, not Prometheus' JSON"));
    };
    read_reply(status, &json)
}

/// Prometheus' answer (`/api/v1/query`) as values, a rejection or nonsense.
fn read_reply(status: u16, json: &Value) -> Reply {
    if json["status"] == "error" {
        let message = json["error"].as_str().unwrap_or("(no message)").to_owned();
        // 400 bad_data: the expression does not parse or its arguments
        // are wrong; 422 execution: it cannot be evaluated. Both are the
        // expression's fault, not Prometheus'.
        return match json["errorType"].as_str() {
            Some("bad_data" | "execution") => Reply::Rejected(message),
            _ => Reply::Unreachable(format!("HTTP {status}: {message}")),
        };
    }
    if json["status"] != "success" {
        return Reply::Unreachable(format!("HTTP {status}, not Prometheus' JSON"));
    }
    let data = &json["data"];
    let number = |v: &Value| v[1].as_str().and_then(|s| s.parse::<f64>().ok());
    let values: Vec<f64> = match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .map(|r| r.iter().filter_map(|s| number(&s["value"])).collect())
            .unwrap_or_default(),
        Some("scalar") => number(&data["result"]).into_iter().collect(),
        Some(other) => {
            return Reply::Rejected(format!(
                "the expression gives a {other}; it must give an instant vector or a scalar"
            ));
        }
        None => return Reply::Unreachable(format!("HTTP {status}, not Prometheus' JSON")),
    };
    Reply::Values(values.into_iter().filter(|v: &f64| !v.is_nan()).collect())
}

/// One check: ask, then judge the worst sample against the threshold.
pub(super) async fn check(
    client: &Client,
    p: &PromCheck,
    expr: &str,
    timeout: Duration,
) -> CheckResult {
    match query(client, &p.url, expr, timeout).await {
        Reply::Values(values) => judge(p.threshold, &values),
        Reply::Rejected(message) => Err(CheckError::NoData(format!(
            "Prometheus rejects the expression: {message}"
        ))),
        Reply::Unreachable(cause) => Err(CheckError::NoData(format!(
            "Prometheus unreachable: {cause}"
        ))),
    }
}

fn judge(threshold: Threshold, values: &[f64]) -> CheckResult {
    let worst = match threshold {
        Threshold::Above(_) => values.iter().copied().reduce(f64::max),
        Threshold::Below(_) => values.iter().copied().reduce(f64::min),
    };
    let Some(value) = worst else {
        return Err(CheckError::NoData(
            "no data: the expression returned no sample".into(),
        ));
    };
    match threshold {
        Threshold::Above(limit) if value > limit => Err(CheckError::Threshold(format!(
            "value {value} is above {limit}"
        ))),
        Threshold::Below(limit) if value < limit => Err(CheckError::Threshold(format!(
            "value {value} is below {limit}"
        ))),
        _ => Ok(Passed::Value(value)),
    }
}

/// Ask each prometheus monitor's server about its expression (rendered for
/// the first endpoint it probes), at start and at reload: an expression
/// Prometheus rejects is a configuration error at its `query`, naming the
/// monitor. A server that cannot be reached now is only warned about: its
/// checks count `on_no_data` until it answers.
pub async fn check_expressions(config: &Config) -> Vec<ConfigError> {
    let Ok(client) = client() else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    for (id, m) in config.monitors.iter().enumerate() {
        let Some(p) = &m.prometheus else { continue };
        let expr = first_rendering(config, id, p);
        match query(
            &client,
            &p.url,
            &expr,
            m.timeout.max(Duration::from_secs(1)),
        )
        .await
        {
            Reply::Rejected(message) => errors.push(ConfigError {
                file: config.source.clone(),
                line: p.query_loc.line,
                column: p.query_loc.column,
                path: format!("monitors.{}.query", m.name),
                message: format!(
                    "Prometheus at {} rejects the expression of monitor {:?} ({expr}): {message}",
                    p.url, m.name
                ),
            }),
            Reply::Unreachable(cause) => warn!(
                monitor = %m.name,
                "monitor {:?}: cannot check its expression now, Prometheus at {} is unreachable ({cause}); its checks count as on_no_data until it answers",
                m.name,
                p.url
            ),
            Reply::Values(_) => {}
        }
    }
    errors
}

/// The expression as the first endpoint using monitor `id` renders it
/// (placeholders stand for sample names when none does).
fn first_rendering(config: &Config, id: usize, p: &PromCheck) -> String {
    for zone in &config.zones {
        for service in &zone.services {
            for pool in service.pools.iter() {
                if !pool.monitors.iter().any(|pm| pm.monitor == id) {
                    continue;
                }
                if let Some(e) = pool.endpoints.first() {
                    let zone_name = zone.origin.to_ascii();
                    let service_name = service.name.to_ascii();
                    let region = config
                        .regions
                        .get(pool.region)
                        .map_or("", |r| r.name.as_str());
                    return render_query(
                        &p.query,
                        QueryVars {
                            region,
                            endpoint: &endpoint_text(e),
                            service: service_name.trim_end_matches('.'),
                            zone: zone_name.trim_end_matches('.'),
                        },
                    );
                }
            }
        }
    }
    render_query(
        &p.query,
        QueryVars {
            region: "region",
            endpoint: "192.0.2.1",
            service: "service.example",
            zone: "example",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vector_scalar_and_errors_read_as_prometheus_writes_them() {
        let v = json!({"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"a":"1"},"value":[1.0,"0.25"]},
            {"metric":{"a":"2"},"value":[1.0,"NaN"]},
            {"metric":{"a":"3"},"value":[1.0,"0.5"]}]}});
        assert!(matches!(read_reply(200, &v), Reply::Values(x) if x == [0.25, 0.5]));
        let s = json!({"status":"success","data":{"resultType":"scalar","result":[1.0,"3"]}});
        assert!(matches!(read_reply(200, &s), Reply::Values(x) if x == [3.0]));
        let bad = json!({"status":"error","errorType":"bad_data","error":"1:5: parse error"});
        assert!(matches!(read_reply(400, &bad), Reply::Rejected(m) if m == "1:5: parse error"));
        let busy = json!({"status":"error","errorType":"unavailable","error":"overloaded"});
        assert!(matches!(read_reply(503, &busy), Reply::Unreachable(_)));
        let matrix = json!({"status":"success","data":{"resultType":"matrix","result":[]}});
        assert!(matches!(read_reply(200, &matrix), Reply::Rejected(_)));
    }

    #[test]
    fn the_worst_sample_is_judged_and_no_sample_is_no_data() {
        assert_eq!(
            judge(Threshold::Above(0.05), &[0.01, 0.2]),
            Err(CheckError::Threshold("value 0.2 is above 0.05".into()))
        );
        assert_eq!(
            judge(Threshold::Above(0.05), &[0.01]),
            Ok(Passed::Value(0.01))
        );
        assert_eq!(
            judge(Threshold::Below(1.0), &[3.0, 0.0]),
            Err(CheckError::Threshold("value 0 is below 1".into()))
        );
        assert!(matches!(
            judge(Threshold::Below(1.0), &[]),
            Err(CheckError::NoData(_))
        ));
    }
}
