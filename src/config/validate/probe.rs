//! The request a monitor sends and the small files it names: method,
//! headers (a value, `{env: VAR}` or `{file: path}`, read now and never
//! echoed), body patterns, TLS material (PEM files read and checked now,
//! so an unreadable one is an error at its line) and the gRPC service.
//! Header values are shared with `notify` webhooks.

use std::path::Path;

use super::common::{env_name, file_path};
use crate::config::model::{BodyRegex, HeaderValue, HttpMethod, Monitor};
use crate::config::tree::{Diag, Field, Kind, MapWalker, key_path};

/// The request settings of a monitor: method, headers, the body pattern,
/// TLS material and the gRPC service.
pub(super) fn probe_request(mon: &mut Monitor, m: &MapWalker<'_>, base: &Path, diag: &mut Diag) {
    if let Some(f) = m.get("method")
        && let Some(text) = f.string(diag)
    {
        mon.method = match text.to_ascii_uppercase().as_str() {
            "GET" => HttpMethod::Get,
            "HEAD" => HttpMethod::Head,
            _ => {
                f.error(
                    diag,
                    format!("unknown method {text:?} (methods: GET, HEAD)"),
                );
                HttpMethod::Get
            }
        };
    }
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
                mon.headers.push((key.name.to_string(), HeaderValue(value)));
            }
        }
    }
    if let Some(f) = m.get("expect_body_regex")
        && let Some(text) = f.nonempty_string(diag)
    {
        match regex::Regex::new(&text) {
            Ok(re) => mon.expect_body_regex = Some(BodyRegex(re)),
            Err(e) => f.error(diag, format!("{text:?} is not a regular expression: {e}")),
        }
    }
    if mon.method == HttpMethod::Head {
        for key in ["expect_body", "expect_body_regex"] {
            if let Some(loc) = m.key_loc(key) {
                diag.error(
                    loc,
                    &key_path(&m.path(), key),
                    format!("{key:?} needs a body, which method HEAD never gets"),
                );
            }
        }
    }
    if let Some(f) = m.get("tls_ca") {
        mon.tls_files.ca = pem_file(&f, base, diag, PemKind::Certs);
    }
    let cert = m.get("tls_client_cert");
    let key = m.get("tls_client_key");
    match (&cert, &key) {
        (Some(c), Some(k)) => {
            let cert = pem_file(c, base, diag, PemKind::Certs);
            let key = pem_file(k, base, diag, PemKind::Key);
            if let (Some(cert), Some(key)) = (cert, key) {
                let mut both = cert.clone();
                both.push(b'\n');
                both.extend_from_slice(&key);
                if let Err(e) = reqwest::Identity::from_pem(&both) {
                    c.error(diag, format!("certificate and key do not go together: {e}"));
                } else {
                    mon.tls_files.client = Some((cert, key));
                }
            }
        }
        (Some(f), None) | (None, Some(f)) => {
            f.error(diag, "set tls_client_cert and tls_client_key together");
        }
        (None, None) => {}
    }
    if let Some(f) = m.get("service") {
        mon.service = f.string(diag).unwrap_or_default();
    }
    if let Some(f) = m.get("tls") {
        mon.tls = f.boolean(diag).unwrap_or(false);
    }
}

/// A header value: a string, `{env: VAR}` or `{file: path}` (the file's
/// text without its trailing newline). Read now, so that a missing variable
/// or an unreadable file is an error at load; never echoed in messages.
pub(super) fn header_value(f: &Field<'_>, base: &Path, diag: &mut Diag) -> Option<String> {
    let value = if matches!(f.node.kind, Kind::Map(_)) {
        let m = f.map(diag, &["env", "file"])?;
        match (m.get("env"), m.get("file")) {
            (Some(e), None) => {
                let name = env_name(&e, diag)?;
                match std::env::var(&name) {
                    Ok(v) => v,
                    Err(_) => {
                        e.error(diag, format!("environment variable {name} is not set"));
                        return None;
                    }
                }
            }
            (None, Some(p)) => {
                let path = file_path(&p, base, diag)?;
                match std::fs::read_to_string(&path) {
                    Ok(text) => text.trim_end_matches(['\r', '\n']).to_owned(),
                    Err(e) => {
                        p.error(diag, format!("cannot read {}: {e}", path.display()));
                        return None;
                    }
                }
            }
            _ => {
                f.error(diag, "set one of env or file");
                return None;
            }
        }
    } else {
        f.string(diag)?
    };
    if reqwest::header::HeaderValue::from_str(&value).is_err() {
        f.error(
            diag,
            "the header value is not valid for HTTP (control characters or a line break)",
        );
        return None;
    }
    Some(value)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum PemKind {
    Certs,
    Key,
}

/// A PEM file of certificates or of one private key, read and checked now.
fn pem_file(f: &Field<'_>, base: &Path, diag: &mut Diag, kind: PemKind) -> Option<Vec<u8>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let path = file_path(f, base, diag)?;
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            f.error(diag, format!("cannot read {}: {e}", path.display()));
            return None;
        }
    };
    let ok = match kind {
        PemKind::Certs => {
            let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&bytes).collect();
            matches!(certs, Ok(c) if !c.is_empty())
        }
        PemKind::Key => PrivateKeyDer::from_pem_slice(&bytes).is_ok(),
    };
    if !ok {
        let what = match kind {
            PemKind::Certs => "PEM certificates",
            PemKind::Key => "a PEM private key",
        };
        f.error(diag, format!("{} holds no {what}", path.display()));
        return None;
    }
    Some(bytes)
}
