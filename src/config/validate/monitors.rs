//! `monitors:`: each monitor's type, port, timing (interval, timeout, rise,
//! fall) and the keys only some types take, with their defaults.

use std::path::Path;
use std::time::Duration;

use super::common::check_name;
use super::probe::probe_request;
use super::prometheus::prometheus;
use crate::config::duration::format_duration;
use crate::config::model::{HttpMethod, Monitor, MonitorKind, ProbeTls};
use crate::config::tree::{Diag, Field, key_path};

const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

const DEFAULT_RISE_FALL: u32 = 3;

const MONITOR_KEYS: &[&str] = &[
    "type",
    "port",
    "path",
    "host",
    "expect_status",
    "expect_body",
    "interval",
    "timeout",
    "rise",
    "fall",
    "tls_verify",
    "method",
    "headers",
    "expect_body_regex",
    "tls_ca",
    "tls_client_cert",
    "tls_client_key",
    "service",
    "tls",
    "url",
    "query",
    "unhealthy_above",
    "unhealthy_below",
    "on_no_data",
];

/// Monitor keys that only some types take, and which.
const TYPED_KEYS: &[(&str, &[MonitorKind], &str)] = &[
    ("path", HTTP_KINDS, "http and https monitors"),
    ("host", HTTP_KINDS, "http and https monitors"),
    ("expect_status", HTTP_KINDS, "http and https monitors"),
    ("expect_body", HTTP_KINDS, "http and https monitors"),
    ("expect_body_regex", HTTP_KINDS, "http and https monitors"),
    ("method", HTTP_KINDS, "http and https monitors"),
    ("headers", HTTP_KINDS, "http and https monitors"),
    ("tls_verify", &[MonitorKind::Https], "https monitors"),
    ("tls_ca", TLS_KINDS, "https and grpc monitors"),
    ("tls_client_cert", TLS_KINDS, "https and grpc monitors"),
    ("tls_client_key", TLS_KINDS, "https and grpc monitors"),
    ("service", &[MonitorKind::Grpc], "grpc monitors"),
    ("tls", &[MonitorKind::Grpc], "grpc monitors"),
    ("port", PORT_KINDS, "http, https, tcp and grpc monitors"),
    ("url", PROM_KINDS, "prometheus monitors"),
    ("query", PROM_KINDS, "prometheus monitors"),
    ("unhealthy_above", PROM_KINDS, "prometheus monitors"),
    ("unhealthy_below", PROM_KINDS, "prometheus monitors"),
    ("on_no_data", PROM_KINDS, "prometheus monitors"),
];

const PORT_KINDS: &[MonitorKind] = &[
    MonitorKind::Http,
    MonitorKind::Https,
    MonitorKind::Tcp,
    MonitorKind::Grpc,
];

const PROM_KINDS: &[MonitorKind] = &[MonitorKind::Prometheus];

const HTTP_KINDS: &[MonitorKind] = &[MonitorKind::Http, MonitorKind::Https];

const TLS_KINDS: &[MonitorKind] = &[MonitorKind::Https, MonitorKind::Grpc];

pub(super) fn monitors(f: &Field<'_>, base: &Path, diag: &mut Diag) -> Vec<Monitor> {
    let mut out = Vec::new();
    for (key, f) in f.entries(diag).unwrap_or_default() {
        check_name(diag, key, &f.path(), "monitor");
        out.push(monitor(&key.name, &f, base, diag));
    }
    out
}

fn monitor(name: &str, f: &Field<'_>, base: &Path, diag: &mut Diag) -> Monitor {
    let mut mon = Monitor {
        name: name.to_owned(),
        kind: MonitorKind::Http,
        port: 80,
        port_set: false,
        path: "/".to_owned(),
        host: None,
        expect_status: Vec::new(),
        expect_body: None,
        expect_body_regex: None,
        method: HttpMethod::Get,
        headers: Vec::new(),
        tls_files: ProbeTls::default(),
        service: String::new(),
        tls: false,
        interval: DEFAULT_INTERVAL,
        timeout: DEFAULT_TIMEOUT,
        rise: DEFAULT_RISE_FALL,
        fall: DEFAULT_RISE_FALL,
        tls_verify: true,
        prometheus: None,
    };
    let Some(m) = f.map(diag, MONITOR_KEYS) else {
        return mon;
    };
    let kind = m.require(diag, "type").and_then(|f| {
        let text = f.string(diag)?;
        let kind = match text.as_str() {
            "http" => MonitorKind::Http,
            "https" => MonitorKind::Https,
            "tcp" => MonitorKind::Tcp,
            "grpc" => MonitorKind::Grpc,
            "prometheus" => MonitorKind::Prometheus,
            _ => {
                f.error(
                    diag,
                    format!(
                        "unknown monitor type {text:?} (types: http, https, tcp, grpc, prometheus)"
                    ),
                );
                return None;
            }
        };
        Some(kind)
    });
    let port = m.get("port").and_then(|f| f.int_in::<u16>(diag, 1..=65535));
    mon.port_set = port.is_some();
    if let Some(kind) = kind {
        mon.kind = kind;
        mon.port = match (kind, port) {
            (_, Some(port)) => port,
            (MonitorKind::Http, None) => 80,
            (MonitorKind::Https, None) => 443,
            // Asks Prometheus, never the endpoint: no port.
            (MonitorKind::Prometheus, None) => 0,
            (MonitorKind::Tcp | MonitorKind::Grpc, None) => {
                if m.get("port").is_none() {
                    diag.error(
                        m.anchor(),
                        &m.path(),
                        format!(
                            "missing required key \"port\" ({} monitors have no default port)",
                            kind_name(kind)
                        ),
                    );
                }
                0
            }
        };
        for (key, kinds, which) in TYPED_KEYS {
            if let (false, Some(loc)) = (kinds.contains(&kind), m.key_loc(key)) {
                diag.error(
                    loc,
                    &key_path(&m.path(), key),
                    format!(
                        "{key:?} applies to {which} only, not to type {}",
                        kind_name(kind)
                    ),
                );
            }
        }
    }
    if let Some(f) = m.get("path")
        && let Some(path) = f.string(diag)
    {
        if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            f.error(
                diag,
                format!("{path:?} must start with '/' and hold no spaces, e.g. /ready"),
            );
        }
        mon.path = path;
    }
    mon.host = m.get("host").and_then(|f| {
        let host = f.nonempty_string(diag)?;
        if host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
        {
            f.error(diag, format!("{host:?} is not a host name"));
        }
        Some(host)
    });
    if let Some(f) = m.get("expect_status") {
        for item in f.seq(diag).unwrap_or_default() {
            if let Some(code) = item.int_in::<u16>(diag, 100..=599) {
                mon.expect_status.push(code);
            }
        }
    }
    mon.expect_body = m.get("expect_body").and_then(|f| f.nonempty_string(diag));
    let interval = m.get("interval");
    let timeout = m.get("timeout");
    if let Some(f) = &interval {
        mon.interval = f.duration(diag, false).unwrap_or(DEFAULT_INTERVAL);
    }
    if let Some(f) = &timeout {
        mon.timeout = f.duration(diag, false).unwrap_or(DEFAULT_TIMEOUT);
    }
    if mon.timeout > mon.interval {
        let message = format!(
            "timeout {} is longer than interval {}; a check must end before the next one starts",
            format_duration(mon.timeout),
            format_duration(mon.interval)
        );
        if let Some(f) = timeout.as_ref().or(interval.as_ref()) {
            f.error(diag, message);
        }
    }
    if let Some(f) = m.get("rise") {
        mon.rise = f
            .int_in(diag, 1..=i128::from(u32::MAX))
            .unwrap_or(DEFAULT_RISE_FALL);
    }
    if let Some(f) = m.get("fall") {
        mon.fall = f
            .int_in(diag, 1..=i128::from(u32::MAX))
            .unwrap_or(DEFAULT_RISE_FALL);
    }
    if let Some(f) = m.get("tls_verify") {
        mon.tls_verify = f.boolean(diag).unwrap_or(true);
    }
    probe_request(&mut mon, &m, base, diag);
    if mon.kind == MonitorKind::Prometheus {
        mon.prometheus = prometheus(&m, diag);
    }
    mon
}

const fn kind_name(kind: MonitorKind) -> &'static str {
    match kind {
        MonitorKind::Http => "http",
        MonitorKind::Https => "https",
        MonitorKind::Tcp => "tcp",
        MonitorKind::Grpc => "grpc",
        MonitorKind::Prometheus => "prometheus",
    }
}
