//! What `meridian run` refuses at start beyond the configuration itself,
//! checked so that `meridian check` can refuse it first: the state file
//! (unreadable, empty, not JSON, a directory; overrides naming what the
//! configuration lacks are warnings), the admin token (variable or file
//! missing), and, with `--bind-check`, every listen address.
//!
//! It also words those failures for `run`, one line each, saying which
//! file or key, what is wrong and what to do. It never changes anything:
//! sockets bound to check are closed again at once.

use std::io;
use std::net::SocketAddr;
use std::path::Path;

use crate::config::Config;
use crate::state::OverrideSet;
use crate::state::overrides::StateError;

/// What was found: errors (run would refuse) and warnings (run would go on).
#[derive(Debug, Default)]
pub struct Findings {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// Check what `run` checks at start, after the configuration: the state
/// file and the admin token; with `bind`, also every listen address.
/// `config_path` is the file as the operator named it.
pub fn check(config: &Config, config_path: &Path, bind: bool) -> Findings {
    let mut f = Findings::default();
    if let Some(file) = &config.state_file {
        match load_state_file(file) {
            Ok(set) => {
                // Kept, dormant (SPEC 5.3): `run` starts, and warns.
                for w in set.dormant(config) {
                    f.warnings.push(format!("{}: {w}", file.display()));
                }
            }
            Err(e) => f.errors.push(e),
        }
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            f.warnings.push(format!(
                "{}: state_file's directory {} does not exist: every admin change would \
                 fail with 500 (create it, writable by the user meridian runs as)",
                config_path.display(),
                dir.display()
            ));
        }
    }
    if let Some(admin) = &config.admin
        && let Err(e) = crate::admin::auth::Token::from_config(admin)
    {
        f.errors
            .push(format!("{}: admin: {e}", config_path.display()));
    }
    if bind {
        f.errors.extend(bind_check(config, config_path));
    }
    f
}

/// Bind every address `run` would (UDP and TCP on each `dns.listen`, TCP on
/// `admin.listen`) and close them again; one line per failure.
pub fn bind_check(config: &Config, config_path: &Path) -> Vec<String> {
    let mut errors = Vec::new();
    for (i, &addr) in config.dns.listen.iter().enumerate() {
        if let Err(e) = crate::dns::bind(std::slice::from_ref(&addr), 1) {
            errors.push(bind_problem(
                config_path,
                &format!("dns.listen[{i}]"),
                addr,
                e.transport,
                &e.source,
            ));
        }
    }
    if let Some(admin) = &config.admin
        && let Err(e) = crate::admin::bind(admin.listen)
    {
        errors.push(bind_problem(
            config_path,
            "admin.listen",
            admin.listen,
            "TCP",
            &e,
        ));
    }
    errors
}

/// `run`'s wording of a DNS socket that could not be bound: which
/// `dns.listen[i]` it was (found by address among `listen`).
pub fn dns_bind_problem(
    config_path: &Path,
    listen: &[SocketAddr],
    e: &crate::dns::BindError,
) -> String {
    let index = listen.iter().position(|a| *a == e.addr).or_else(|| {
        listen
            .iter()
            .position(|a| a.ip() == e.addr.ip() && a.port() == 0)
    });
    let key = index.map_or_else(|| "dns.listen".to_string(), |i| format!("dns.listen[{i}]"));
    bind_problem(config_path, &key, e.addr, e.transport, &e.source)
}

/// One line: the file, the key and address, what the kernel said in words,
/// and the fix.
pub fn bind_problem(
    config_path: &Path,
    key: &str,
    addr: SocketAddr,
    transport: &str,
    e: &io::Error,
) -> String {
    let file = config_path.display();
    let port = addr.port();
    match e.kind() {
        io::ErrorKind::AddrInUse => format!(
            "{file}: {key}: {addr} ({transport}) is already in use by another process; \
             stop it (`ss -lntup 'sport = :{port}'` shows which) or change {key} in {file}"
        ),
        io::ErrorKind::PermissionDenied => format!(
            "{file}: {key}: {addr} ({transport}): permission denied: ports below 1024 need \
             CAP_NET_BIND_SERVICE; run the packaged service (its unit grants it), or \
             `setcap cap_net_bind_service=+ep` the binary, or use a port above 1023 in {key}"
        ),
        io::ErrorKind::AddrNotAvailable => format!(
            "{file}: {key}: {addr} ({transport}): no interface of this machine has that \
             address; use one it has (`ip -brief address`) or 0.0.0.0 / [::] in {key} in {file}"
        ),
        _ => format!("{file}: {key}: cannot bind {transport} on {addr}: {e}"),
    }
}

/// Read the state file as `run` does (a missing file is no overrides),
/// with a refusal that says which file, what is wrong, and what moving it
/// aside costs.
pub fn load_state_file(path: &Path) -> Result<OverrideSet, String> {
    let p = path.display();
    let aside = format!(
        "restore it from a backup, or move it aside (`mv {p} {p}.bad`) to start without \
         it, which loses the overrides (forced regions, weights) it held"
    );
    if path.is_dir() {
        return Err(format!(
            "{p}: state_file is a directory, not a file; name a file in it \
             (state_file: {}) in the configuration",
            path.join("state.json").display()
        ));
    }
    match std::fs::metadata(path) {
        Ok(m) if m.len() == 0 => {
            return Err(format!(
                "{p}: state file is empty (0 bytes), not the overrides meridian writes \
                 (a full disk or a copy gone wrong?); meridian will not start with it \
                 rather than silently undo a drain: {aside}"
            ));
        }
        _ => {}
    }
    OverrideSet::load(path).map_err(|e| match e {
        StateError::Invalid { message, .. } => {
            // Not JSON at all (garbage), or JSON of another shape.
            let what = match std::fs::read(path)
                .ok()
                .map(|b| serde_json::from_slice::<serde_json::Value>(&b))
            {
                Some(Err(_)) => "is not JSON",
                _ => "is not a meridian state file",
            };
            format!(
                "{p}: state file {what} ({message}); meridian will not start with it \
                 rather than silently undo a drain: {aside}"
            )
        }
        StateError::Read { source, .. } if source.kind() == io::ErrorKind::PermissionDenied => {
            format!(
                "{p}: cannot read the state file: permission denied; it must be readable and \
                 writable by the user meridian runs as (packaged: `chown meridian: {p}`)"
            )
        }
        other => other.to_string(),
    })
}
