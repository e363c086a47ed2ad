//! `admin:`: the admin API's listen address, its bearer token (from an
//! environment variable or a file, not both), and the hosts it answers.

use std::path::Path;

use super::common::{env_name, file_path, second_of};
use super::dns::socket_addr;
use crate::config::model::AdminConfig;
use crate::config::tree::{Diag, Field};

pub(super) fn admin(f: &Field<'_>, base: &Path, diag: &mut Diag) -> Option<AdminConfig> {
    let m = f.map(
        diag,
        &["listen", "token_env", "token_file", "allowed_hosts"],
    )?;
    let listen_field = m.require(diag, "listen");
    let listen = listen_field.as_ref().and_then(|f| socket_addr(f, diag));
    let token_env = m.get("token_env").and_then(|f| env_name(&f, diag));
    let token_file = m.get("token_file").and_then(|f| file_path(&f, base, diag));
    if let (Some(_), Some(_)) = (&token_env, &token_file) {
        let (loc, path) = second_of(&m, "token_env", "token_file");
        diag.error(loc, &path, "set token_env or token_file, not both");
    }
    let listen = listen?;
    if token_env.is_none()
        && token_file.is_none()
        && !listen.ip().is_loopback()
        && let Some(f) = &listen_field
    {
        f.error(
            diag,
            format!(
                "{listen} is not a loopback address, so changes need a token: \
                 set token_env or token_file"
            ),
        );
    }
    let allowed_hosts = m
        .get("allowed_hosts")
        .and_then(|f| f.seq(diag))
        .unwrap_or_default()
        .iter()
        .filter_map(|f| host_name(f, diag))
        .collect();
    Some(AdminConfig {
        listen,
        token_env,
        token_file,
        allowed_hosts,
    })
}

/// One `admin.allowed_hosts` entry: a DNS name or an IP address, without
/// a port (any port is allowed); kept in lower case without a final dot.
fn host_name(f: &Field<'_>, diag: &mut Diag) -> Option<String> {
    let text = f.nonempty_string(diag)?;
    let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let valid = name.parse::<std::net::IpAddr>().is_ok()
        || (name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            }));
    if !valid {
        f.error(
            diag,
            format!("{text:?} is not a host name or IP address (give no scheme, port or path)"),
        );
        return None;
    }
    Some(name)
}
