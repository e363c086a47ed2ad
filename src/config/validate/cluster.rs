//! `cluster:` and `discovery:`: etcd endpoints, key prefix, this
//! instance's name, quorum and lease, and the connection settings (TLS,
//! credentials) both sections share.

use std::path::Path;
use std::time::Duration;

use super::common::{env_name, file_path, second_of};
use crate::config::duration::format_duration;
use crate::config::model::{ClusterConfig, ClusterTls, EtcdConnection};
use crate::config::tree::{Diag, Field, MapWalker, key_path};

const DEFAULT_CLUSTER_PREFIX: &str = "/meridian/";

const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);

const MIN_LEASE_TTL: Duration = Duration::from_secs(2);

const MAX_LEASE_TTL: Duration = Duration::from_secs(300);

/// `cluster`: etcd endpoints, key prefix, this instance's name, quorum,
/// lease, TLS and credentials.
pub(super) fn cluster(f: &Field<'_>, base: &Path, diag: &mut Diag) -> Option<ClusterConfig> {
    let m = f.map(
        diag,
        &[
            "endpoints",
            "prefix",
            "instance",
            "quorum",
            "lease_ttl",
            "tls",
            "username",
            "password_env",
        ],
    )?;
    let prefix = m.get("prefix").map_or_else(
        || Some(DEFAULT_CLUSTER_PREFIX.to_string()),
        |f| {
            let p = f.nonempty_string(diag)?;
            if !p.starts_with('/') || !p.ends_with('/') || p.len() < 2 {
                f.error(
                    diag,
                    format!("{p:?} must start and end with '/', e.g. {DEFAULT_CLUSTER_PREFIX:?}"),
                );
                return None;
            }
            Some(p)
        },
    );
    let instance = m.require(diag, "instance").and_then(|f| {
        let name = f.nonempty_string(diag)?;
        let valid = name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid {
            f.error(
                diag,
                format!(
                    "{name:?} is not an instance name \
                     (up to 63 letters, digits, '-', '_' and '.')"
                ),
            );
            return None;
        }
        Some(name)
    });
    let quorum = match m.get("quorum") {
        None => Some(None),
        Some(f) => f.int_in(diag, 1..=1000).map(Some),
    };
    let lease_ttl = match m.get("lease_ttl") {
        None => Some(DEFAULT_LEASE_TTL),
        Some(f) => f.duration(diag, false).and_then(|d| {
            if (MIN_LEASE_TTL..=MAX_LEASE_TTL).contains(&d) && d.subsec_nanos() == 0 {
                Some(d)
            } else {
                f.error(
                    diag,
                    format!(
                        "{} is outside {}..={} or not whole seconds",
                        format_duration(d),
                        format_duration(MIN_LEASE_TTL),
                        format_duration(MAX_LEASE_TTL)
                    ),
                );
                None
            }
        }),
    };
    let connection = connection(&m, base, diag);
    Some(ClusterConfig {
        endpoints: connection.as_ref()?.endpoints.clone(),
        prefix: prefix?,
        instance: instance?,
        quorum: quorum?,
        lease_ttl: lease_ttl?,
        tls: connection.as_ref()?.tls.clone(),
        username: connection.as_ref()?.username.clone(),
        password_env: connection?.password_env,
    })
}

/// `discovery`: where pools with `discover` find their registry when it
/// is not the cluster's etcd.
pub(super) fn discovery(f: &Field<'_>, base: &Path, diag: &mut Diag) -> Option<EtcdConnection> {
    let top = f.map(diag, &["etcd"])?;
    let f = top.require(diag, "etcd")?;
    let m = f.map(diag, &["endpoints", "tls", "username", "password_env"])?;
    connection(&m, base, diag)
}

/// The connection keys shared by `cluster` and `discovery.etcd`:
/// endpoints, TLS and credentials.
fn connection(m: &MapWalker<'_>, base: &Path, diag: &mut Diag) -> Option<EtcdConnection> {
    let endpoints = m.require(diag, "endpoints").and_then(|f| {
        let items = f.seq(diag)?;
        if items.is_empty() {
            f.error(diag, "must list at least one etcd endpoint (http://host:port)");
            return None;
        }
        let mut out = Vec::new();
        for item in &items {
            let Some(url) = item.nonempty_string(diag) else {
                continue;
            };
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            let host_port_ok = rest.is_some_and(|r| {
                r.rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0))
                    && !r.contains('/')
            });
            if !host_port_ok {
                item.error(
                    diag,
                    format!("{url:?} is not an etcd endpoint; write http://host:port or https://host:port"),
                );
            } else if out.contains(&url) {
                item.error(diag, format!("{url} is listed twice"));
            } else {
                out.push(url);
            }
        }
        Some(out)
    });
    let tls = m.get("tls").and_then(|f| {
        let t = f.map(diag, &["ca_file", "cert_file", "key_file"])?;
        let tls = ClusterTls {
            ca_file: t.get("ca_file").and_then(|f| file_path(&f, base, diag)),
            cert_file: t.get("cert_file").and_then(|f| file_path(&f, base, diag)),
            key_file: t.get("key_file").and_then(|f| file_path(&f, base, diag)),
        };
        if tls.cert_file.is_some() != tls.key_file.is_some() {
            let (present, missing) = if tls.cert_file.is_some() {
                ("cert_file", "key_file")
            } else {
                ("key_file", "cert_file")
            };
            diag.error(
                t.key_loc(present).unwrap_or_default(),
                &key_path(&t.path(), present),
                format!(
                    "a client certificate needs both cert_file and key_file; {missing} is missing"
                ),
            );
        }
        Some(tls)
    });
    let username = m.get("username").and_then(|f| f.nonempty_string(diag));
    let password_env = m.get("password_env").and_then(|f| env_name(&f, diag));
    if username.is_some() != password_env.is_some() {
        let present = if username.is_some() {
            "username"
        } else {
            "password_env"
        };
        diag.error(
            m.key_loc(present).unwrap_or_default(),
            &key_path(&m.path(), present),
            "set username and password_env together",
        );
    }
    if let (Some(endpoints), Some(_)) = (&endpoints, &tls)
        && let Some(plain) = endpoints.iter().find(|e| e.starts_with("http://"))
    {
        let (loc, path) = second_of(m, "endpoints", "tls");
        diag.error(
            loc,
            &path,
            format!("tls is set but {plain} is plain http; use https:// endpoints with tls"),
        );
    }
    Some(EtcdConnection {
        endpoints: endpoints?,
        tls,
        username,
        password_env,
    })
}
