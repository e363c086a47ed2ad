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
        let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
            return false;
        };
        constant_time_eq(given.trim().as_bytes(), expected)
    }
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
    fn non_loopback_listener_without_token_is_refused() {
        let admin = AdminConfig {
            listen: "0.0.0.0:8053".parse().unwrap(),
            token_env: None,
            token_file: None,
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
        };
        let t = Token::from_config(&admin).unwrap();
        assert!(t.allows(Some("Bearer abc")));
    }
}
