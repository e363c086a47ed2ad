//! Who may change things (SPEC 5.1): a bearer token from the environment
//! variable named by `admin.token_env` or the file named by
//! `admin.token_file`, compared in constant time. Without a token, changes
//! are accepted only when the admin API listens on loopback alone.

use std::net::SocketAddr;

use crate::config::AdminConfig;

/// The token a change must carry, if any.
#[derive(Clone, Default)]
pub struct Token(Option<Vec<u8>>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.write_str(if self.0.is_some() {
            "Token(set)"
        } else {
            "Token(none)"
        })
    }
}

/// Why the admin API cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("admin.token_env names {0}, which is not set or is empty")]
    EnvMissing(String),
    #[error("{}: cannot read admin token: {source}", path.display())]
    File {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: admin token file is empty", .0.display())]
    FileEmpty(std::path::PathBuf),
    #[error(
        "admin.listen {0} is not a loopback address and no token is configured \
         (set admin.token_env or admin.token_file)"
    )]
    OpenToTheNetwork(SocketAddr),
}

impl Token {
    /// Read the token the configuration names, and refuse a non-loopback
    /// listener without one.
    pub fn from_config(admin: &AdminConfig) -> Result<Self, AuthError> {
        let token = if let Some(var) = &admin.token_env {
            match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Some(v.trim().as_bytes().to_vec()),
                _ => return Err(AuthError::EnvMissing(var.clone())),
            }
        } else if let Some(path) = &admin.token_file {
            let text = std::fs::read_to_string(path).map_err(|source| AuthError::File {
                path: path.clone(),
                source,
            })?;
            let t = text.trim();
            if t.is_empty() {
                return Err(AuthError::FileEmpty(path.clone()));
            }
            Some(t.as_bytes().to_vec())
        } else {
            None
        };
        if token.is_none() && !admin.listen.ip().is_loopback() {
            return Err(AuthError::OpenToTheNetwork(admin.listen));
        }
        Ok(Self(token))
    }

    /// A token for tests and for configurations built in code.
    pub fn new(token: Option<&str>) -> Self {
        Self(token.map(|t| t.as_bytes().to_vec()))
    }

    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// Whether an `Authorization` header value allows a change.
    pub fn allows(&self, header: Option<&str>) -> bool {
        let Some(expected) = &self.0 else {
            // No token: the listener is loopback-only (checked at start).
            return true;
        };
        // RFC 7235 2.1: the scheme name is case-insensitive.
        let Some((scheme, given)) = header.and_then(|h| h.trim().split_once([' ', '\t'])) else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return false;
        }
        constant_time_eq(given.trim().as_bytes(), expected)
    }
}

/// Whether a change may come with this `Host` header (DNS rebinding): a
/// web page on a name the attacker controls, once that name resolves to
/// the admin address, reaches the API with its own name in `Host`. The
/// host part (the port is not looked at) must be the listen address, any
/// IP address when the API listens on every address, `localhost` when it
/// listens on loopback, or one of `admin.allowed_hosts`. An IP literal
/// cannot be rebound: a page can only name it if it was served from it.
/// Refused changes logged at most once per this long; the line counts the
/// ones not logged in between (a scanner must not flood the log).
const REFUSALS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// When the last refusal was logged, and how many were left out since.
static REFUSALS: std::sync::Mutex<Option<(std::time::Instant, u64)>> = std::sync::Mutex::new(None);

/// Log a change refused for its credentials or Host (WARN, rate-limited).
pub fn log_refusal(client: &str, status: u16, method: &axum::http::Method, path: &str, why: &str) {
    let now = std::time::Instant::now();
    let mut last = REFUSALS.lock().unwrap_or_else(|e| e.into_inner());
    let left_out = match *last {
        Some((at, n)) if now.duration_since(at) < REFUSALS_EVERY => {
            *last = Some((at, n + 1));
            return;
        }
        Some((_, n)) => n,
        None => 0,
    };
    *last = Some((now, 0));
    drop(last);
    tracing::warn!(
        client,
        status,
        %method,
        path,
        reason = why,
        left_out,
        "admin: refused {method} {path} from {client}: {why} ({status}); \
         {left_out} more refusal(s) not logged since the last line"
    );
}

pub fn host_allowed(host: Option<&str>, admin: &AdminConfig) -> bool {
    let Some(name) = host.and_then(host_part) else {
        return false;
    };
    let listen = admin.listen.ip();
    if let Ok(ip) = name.parse::<std::net::IpAddr>() {
        let same = |a: std::net::IpAddr, b: std::net::IpAddr| a == b || a.to_canonical() == b;
        return listen.is_unspecified()
            || same(ip, listen)
            || (listen.is_loopback() && ip.is_loopback())
            || admin.allowed_hosts.iter().any(|h| h == &ip.to_string());
    }
    (name == "localhost" && listen.is_loopback()) || admin.allowed_hosts.contains(&name)
}

/// The host of a `Host` header value, lower case, without port, brackets
/// or a final dot; None when it is not a plausible host.
fn host_part(value: &str) -> Option<String> {
    let value = value.trim();
    let host = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        inside
    } else {
        match value.rsplit_once(':') {
            Some((h, port)) if is_port(port) => h,
            Some(_) => return None,
            None => value,
        }
    };
    let host = host.trim_end_matches('.');
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a `Content-Type` value is JSON (`application/json`, any case,
/// parameters allowed). Changes require it: a page in a browser can send a
/// cross-origin `text/plain` or form POST without asking, but JSON needs a
/// CORS preflight, which this API never grants.
pub fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// Compare without an early exit on the first differing byte, so the time
/// taken does not tell an attacker how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_must_match_exactly() {
        let t = Token::new(Some("s3cret"));
        assert!(t.allows(Some("Bearer s3cret")));
        assert!(!t.allows(Some("Bearer s3cre")));
        assert!(!t.allows(Some("Bearer s3cret2")));
        assert!(!t.allows(Some("s3cret")));
        assert!(!t.allows(None));
        assert!(Token::new(None).allows(None));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let t = Token::new(Some("s3cret"));
        assert!(t.allows(Some("bearer s3cret")));
        assert!(t.allows(Some("BEARER  s3cret ")));
        assert!(!t.allows(Some("Basic s3cret")));
        assert!(!t.allows(Some("bearers3cret")));
        assert!(!t.allows(Some("bearer")));
    }

    fn admin(listen: &str, allowed: &[&str]) -> AdminConfig {
        AdminConfig {
            listen: listen.parse().unwrap(),
            token_env: None,
            token_file: None,
            allowed_hosts: allowed.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn host_must_be_the_listen_address_localhost_or_allowed() {
        let a = admin("127.0.0.1:8053", &["gslb-admin.example"]);
        for ok in [
            "127.0.0.1:8053",
            "127.0.0.1",
            "localhost:8053",
            "LOCALHOST",
            "gslb-admin.example:9",
            "GSLB-admin.example.",
            "[::1]:8053",
        ] {
            assert!(host_allowed(Some(ok), &a), "{ok}");
        }
        for bad in [
            "rebind.evil.example",
            "rebind.evil.example:8053",
            "192.0.2.1:8053",
            "localhost.evil.example",
            "",
            ":8053",
            "127.0.0.1:80x",
            "[::1",
        ] {
            assert!(!host_allowed(Some(bad), &a), "{bad}");
        }
        assert!(!host_allowed(None, &a));
        let any = admin("0.0.0.0:8053", &[]);
        assert!(host_allowed(Some("192.0.2.1:8053"), &any));
        assert!(!host_allowed(Some("localhost"), &any));
        assert!(!host_allowed(Some("admin.example"), &any));
    }

    #[test]
    fn only_json_content_types_are_json() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/jsonp",
            "",
        ] {
            assert!(!is_json(Some(bad)), "{bad}");
        }
        assert!(!is_json(None));
    }

    #[test]
    fn non_loopback_listener_without_token_is_refused() {
        let admin = AdminConfig {
            listen: "0.0.0.0:8053".parse().unwrap(),
            token_env: None,
            token_file: None,
            allowed_hosts: Vec::new(),
        };
        assert!(matches!(
            Token::from_config(&admin),
            Err(AuthError::OpenToTheNetwork(_))
        ));
        let admin = AdminConfig {
            listen: "127.0.0.1:8053".parse().unwrap(),
            ..admin
        };
        assert!(!Token::from_config(&admin).unwrap().is_set());
    }

    #[test]
    fn token_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc\n").unwrap();
        let admin = AdminConfig {
            listen: "0.0.0.0:8053".parse().unwrap(),
            token_env: None,
            token_file: Some(path),
            allowed_hosts: Vec::new(),
        };
        let t = Token::from_config(&admin).unwrap();
        assert!(t.allows(Some("Bearer abc")));
    }
}
