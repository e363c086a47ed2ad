//! DNSSEC key files in BIND's format, read and written: the public half
//! `Kzone.+013+12345.key` (a DNSKEY record, with `;` comments) and the
//! private half `Kzone.+013+12345.private` (`Private-key-format: v1.3`,
//! `Algorithm:`, `PrivateKey:` in base64), as `dnssec-keygen` writes them.
//!
//! Two algorithms: ECDSA P-256 with SHA-256 (13, the default) and Ed25519
//! (15). A loaded key is checked against its public half (ring refuses a
//! private key that does not give the public key), so a `.key` and a
//! `.private` from different key pairs are an error. The private key never
//! leaves this module in text: `Debug` shows the key tag, not the key.

use std::fmt;
use std::path::{Path, PathBuf};

use data_encoding::BASE64;
use hickory_proto::dnssec::crypto::{EcdsaSigningKey, Ed25519SigningKey};
use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKeyBuf, SigningKey};
use hickory_proto::rr::{LowerName, Name};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};

/// DNSKEY flags: Zone Key.
pub const FLAG_ZONE: u16 = 0x0100;
/// DNSKEY flags: Secure Entry Point (a KSK, or a combined key).
pub const FLAG_SEP: u16 = 0x0001;

/// Why a key could not be read or made. The message names the file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", file.display())]
pub struct KeyError {
    pub file: PathBuf,
    pub message: String,
}

impl KeyError {
    fn new(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            message: message.into(),
        }
    }
}

/// The algorithms meridian signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// 13: ECDSA P-256 with SHA-256 (RFC 6605).
    EcdsaP256,
    /// 15: Ed25519 (RFC 8080).
    Ed25519,
}

impl KeyAlgorithm {
    pub fn number(self) -> u8 {
        match self {
            Self::EcdsaP256 => 13,
            Self::Ed25519 => 15,
        }
    }

    /// The name BIND writes after the number in `.private` files.
    fn bind_name(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ECDSAP256SHA256",
            Self::Ed25519 => "ED25519",
        }
    }

    pub fn from_number(n: u8) -> Option<Self> {
        match n {
            13 => Some(Self::EcdsaP256),
            15 => Some(Self::Ed25519),
            _ => None,
        }
    }

    pub(crate) fn hickory(self) -> Algorithm {
        match self {
            Self::EcdsaP256 => Algorithm::ECDSAP256SHA256,
            Self::Ed25519 => Algorithm::ED25519,
        }
    }
}

/// The public half of a key: what a `.key` file holds.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKeyFile {
    pub zone: Name,
    pub flags: u16,
    pub algorithm: KeyAlgorithm,
    /// The public key as in the DNSKEY RDATA (P-256: x then y, 64 bytes).
    pub public: Vec<u8>,
}

impl fmt::Debug for PublicKeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKeyFile({} flags {} alg {} tag {})",
            self.zone,
            self.flags,
            self.algorithm.number(),
            self.key_tag()
        )
    }
}

impl PublicKeyFile {
    pub fn dnskey(&self) -> DNSKEY {
        DNSKEY::with_flags(
            self.flags,
            PublicKeyBuf::new(self.public.clone(), self.algorithm.hickory()),
        )
    }

    /// The key tag (RFC 4034 appendix B).
    pub fn key_tag(&self) -> u16 {
        let mut rdata = Vec::with_capacity(4 + self.public.len());
        rdata.extend_from_slice(&self.flags.to_be_bytes());
        rdata.push(3);
        rdata.push(self.algorithm.number());
        rdata.extend_from_slice(&self.public);
        DNSKEY::calculate_key_tag_internal(&rdata)
    }

    /// A Secure Entry Point: a KSK, or a combined signing key.
    pub fn is_sep(&self) -> bool {
        self.flags & FLAG_SEP != 0
    }

    /// The DS record for the parent, with `digest` 2 (SHA-256) or 4 (SHA-384).
    pub fn ds(&self, digest: DigestType) -> Result<DS, String> {
        let dnskey = self.dnskey();
        let d = dnskey
            .to_digest(&self.zone, digest)
            .map_err(|e| format!("cannot compute the digest: {e}"))?;
        Ok(DS::new(
            self.key_tag(),
            self.algorithm.hickory(),
            digest,
            d.as_ref().to_vec(),
        ))
    }

    /// The DS in presentation form, as `dnssec-dsfromkey` prints it.
    pub fn ds_line(&self, digest: DigestType) -> Result<String, String> {
        let ds = self.ds(digest)?;
        Ok(format!(
            "{} IN DS {} {} {} {}",
            self.zone,
            ds.key_tag(),
            self.algorithm.number(),
            u8::from(digest),
            data_encoding::HEXUPPER.encode(ds.digest())
        ))
    }
}

/// A key pair loaded for signing.
pub struct ZoneKey {
    pub public: PublicKeyFile,
    pub(crate) signer: Box<dyn SigningKey>,
    /// The `.private` file it came from (for messages).
    pub file: PathBuf,
}

impl fmt::Debug for ZoneKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the private key.
        write!(f, "ZoneKey({:?}, {})", self.public, self.file.display())
    }
}

/// The `.key` and `.private` paths for a configured key path, which may
/// name either file or their common stem `Kzone.+013+12345`.
pub fn key_paths(path: &Path) -> (PathBuf, PathBuf) {
    let s = path.to_string_lossy();
    let stem = s
        .strip_suffix(".private")
        .or_else(|| s.strip_suffix(".key"))
        .unwrap_or(&s);
    (
        PathBuf::from(format!("{stem}.key")),
        PathBuf::from(format!("{stem}.private")),
    )
}

fn read(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|e| KeyError::new(path, format!("cannot read: {e}")))
}

/// Parse a `.key` file's text (read from `file`).
pub fn parse_public(text: &str, file: &Path) -> Result<PublicKeyFile, KeyError> {
    let mut tokens = Vec::new();
    for line in text.lines() {
        let line = line.split(';').next().unwrap_or("");
        tokens.extend(line.split_whitespace());
    }
    let bad = |m: &str| KeyError::new(file, m.to_string());
    let Some((&owner, mut rest)) = tokens.split_first() else {
        return Err(bad("no DNSKEY record in the file"));
    };
    // Optional TTL and class, in either order, before the type.
    while let Some((&t, after)) = rest.split_first() {
        if t.eq_ignore_ascii_case("DNSKEY") {
            rest = after;
            break;
        }
        if t.eq_ignore_ascii_case("IN") || t.bytes().all(|b| b.is_ascii_digit()) {
            rest = after;
            continue;
        }
        return Err(bad(&format!(
            "expected a DNSKEY record, found {t:?} (is this a .key file?)"
        )));
    }
    let [flags, protocol, algorithm, key @ ..] = rest else {
        return Err(bad("the DNSKEY record is incomplete"));
    };
    let zone =
        Name::from_ascii(owner).map_err(|e| bad(&format!("bad owner name {owner:?}: {e}")))?;
    if !zone.is_fqdn() {
        return Err(bad(&format!("the owner {owner:?} must be fully qualified")));
    }
    let flags: u16 = flags
        .parse()
        .map_err(|_| bad(&format!("bad flags {flags:?}")))?;
    if *protocol != "3" {
        return Err(bad(&format!(
            "protocol {protocol} is not 3 (RFC 4034 2.1.2)"
        )));
    }
    let algorithm = algorithm
        .parse::<u8>()
        .ok()
        .and_then(KeyAlgorithm::from_number)
        .ok_or_else(|| {
            bad(&format!(
                "algorithm {algorithm} is not supported (13 ECDSAP256SHA256 or 15 ED25519)"
            ))
        })?;
    if flags & FLAG_ZONE == 0 {
        return Err(bad("the DNSKEY is not a zone key (flags lack 256)"));
    }
    let public = BASE64
        .decode(key.concat().as_bytes())
        .map_err(|e| bad(&format!("the public key is not valid base64: {e}")))?;
    let expected = match algorithm {
        KeyAlgorithm::EcdsaP256 => 64,
        KeyAlgorithm::Ed25519 => 32,
    };
    if public.len() != expected {
        return Err(bad(&format!(
            "the public key has {} bytes, algorithm {} needs {expected}",
            public.len(),
            algorithm.number()
        )));
    }
    Ok(PublicKeyFile {
        zone,
        flags,
        algorithm,
        public,
    })
}

/// Read the `.key` file at `path`.
pub fn read_public(path: &Path) -> Result<PublicKeyFile, KeyError> {
    parse_public(&read(path)?, path)
}

/// Load the key pair that `path` names (either file, or the stem) for
/// zone `zone`.
pub fn load(path: &Path, zone: &Name) -> Result<ZoneKey, KeyError> {
    let (key_path, private_path) = key_paths(path);
    let public = read_public(&key_path)?;
    if LowerName::new(&public.zone) != LowerName::new(zone) {
        return Err(KeyError::new(
            &key_path,
            format!("the key is for {}, not for the zone {zone}", public.zone),
        ));
    }
    let text = read(&private_path)?;
    let bad = |m: String| KeyError::new(&private_path, m);
    let mut algorithm = None;
    let mut private = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "Private-key-format" if !v.starts_with("v1.") => {
                return Err(bad(format!("unsupported Private-key-format {v}")));
            }
            "Algorithm" => {
                let n = v.split_whitespace().next().unwrap_or("");
                algorithm = Some(
                    n.parse::<u8>()
                        .ok()
                        .and_then(KeyAlgorithm::from_number)
                        .ok_or_else(|| bad(format!("algorithm {n} is not supported (13 or 15)")))?,
                );
            }
            "PrivateKey" => {
                private = Some(
                    BASE64
                        .decode(v.as_bytes())
                        .map_err(|_| bad("PrivateKey is not valid base64".into()))?,
                );
            }
            _ => {}
        }
    }
    let (Some(algorithm), Some(private)) = (algorithm, private) else {
        return Err(bad(
            "not a BIND private key file (Algorithm: and PrivateKey: are required)".into(),
        ));
    };
    if algorithm != public.algorithm {
        return Err(bad(format!(
            "algorithm {} does not match {} in {}",
            algorithm.number(),
            public.algorithm.number(),
            key_path.display()
        )));
    }
    let mismatch = || {
        bad(format!(
            "the private key does not match the public key in {}",
            key_path.display()
        ))
    };
    let signer: Box<dyn SigningKey> = match algorithm {
        KeyAlgorithm::EcdsaP256 => {
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(&public.public);
            // `dnssec-keygen` writes the scalar without its leading zero
            // bytes (about one key in 256 has 31 of them); ring takes 32.
            let mut scalar = vec![0u8; 32usize.saturating_sub(private.len())];
            scalar.extend_from_slice(&private);
            let pair = EcdsaKeyPair::from_private_key_and_public_key(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                &scalar,
                &point,
                &SystemRandom::new(),
            )
            .map_err(|_| mismatch())?;
            Box::new(EcdsaSigningKey::from_ecdsa(
                pair,
                Algorithm::ECDSAP256SHA256,
            ))
        }
        KeyAlgorithm::Ed25519 => {
            let pair = Ed25519KeyPair::from_seed_and_public_key(&private, &public.public)
                .map_err(|_| mismatch())?;
            Box::new(Ed25519SigningKey::from_ed25519(pair))
        }
    };
    Ok(ZoneKey {
        public,
        signer,
        file: private_path,
    })
}

/// What `generate` made: where the two files are.
#[derive(Debug)]
pub struct Generated {
    pub key_file: PathBuf,
    pub private_file: PathBuf,
    pub public: PublicKeyFile,
}

/// Make a new key pair for `zone` and write it to `dir` as BIND does
/// (`.private` readable by its owner only). `flags` is 257 (a combined key
/// or a KSK) or 256 (a ZSK).
pub fn generate(
    zone: &Name,
    algorithm: KeyAlgorithm,
    flags: u16,
    dir: &Path,
) -> Result<Generated, KeyError> {
    let rng = SystemRandom::new();
    let fail = |m: &str| KeyError::new(dir, m.to_string());
    let (private, public) = match algorithm {
        KeyAlgorithm::EcdsaP256 => {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| fail("cannot generate a key"))?;
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .map_err(|_| fail("cannot generate a key"))?;
            let scalar = p256_scalar(pkcs8.as_ref()).ok_or_else(|| fail("unexpected PKCS#8"))?;
            (scalar.to_vec(), pair.public_key().as_ref()[1..].to_vec())
        }
        KeyAlgorithm::Ed25519 => {
            let mut seed = [0u8; 32];
            ring::rand::SecureRandom::fill(&rng, &mut seed)
                .map_err(|_| fail("cannot generate a key"))?;
            let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| fail("bad seed"))?;
            (seed.to_vec(), pair.public_key().as_ref().to_vec())
        }
    };
    let mut zone = zone.to_lowercase();
    zone.set_fqdn(true);
    let public = PublicKeyFile {
        zone,
        flags,
        algorithm,
        public,
    };
    let tag = public.key_tag();
    let stem = format!("K{}+{:03}+{:05}", public.zone, algorithm.number(), tag);
    let key_file = dir.join(format!("{stem}.key"));
    let private_file = dir.join(format!("{stem}.private"));
    let now = crate::dnssec::now_unix();
    let stamp = timestamp(now);
    let role = if flags & FLAG_SEP != 0 {
        "key-signing key (or combined signing key)"
    } else {
        "zone-signing key"
    };
    let key_text = format!(
        "; This is a {role}, keyid {tag}, for {zone}\n; Created: {stamp}\n; Publish: {stamp}\n; Activate: {stamp}\n{zone} IN DNSKEY {flags} 3 {alg} {key}\n",
        zone = public.zone,
        alg = algorithm.number(),
        key = BASE64.encode(&public.public),
    );
    let private_text = format!(
        "Private-key-format: v1.3\nAlgorithm: {} ({})\nPrivateKey: {}\nCreated: {stamp}\nPublish: {stamp}\nActivate: {stamp}\n",
        algorithm.number(),
        algorithm.bind_name(),
        BASE64.encode(&private),
    );
    write_file(&key_file, &key_text, 0o644)?;
    write_file(&private_file, &private_text, 0o600)?;
    Ok(Generated {
        key_file,
        private_file,
        public,
    })
}

fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), KeyError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| KeyError::new(path, format!("cannot create: {e}")))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| KeyError::new(path, format!("cannot write: {e}")))
}

/// The private scalar in ring's P-256 PKCS#8 document: the OCTET STRING of
/// 32 bytes inside the ECPrivateKey (RFC 5915).
fn p256_scalar(pkcs8: &[u8]) -> Option<&[u8]> {
    // ECPrivateKey ::= SEQUENCE { version INTEGER 1, privateKey OCTET STRING, ... }
    let at = pkcs8
        .windows(5)
        .position(|w| w == [0x02, 0x01, 0x01, 0x04, 0x20])?;
    pkcs8.get(at + 5..at + 5 + 32)
}

/// `YYYYMMDDHHMMSS` in UTC, as BIND writes key timing metadata.
fn timestamp(unix: u64) -> String {
    let c = crate::clock::civil(unix);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_is_bind_style() {
        assert_eq!(timestamp(0), "19700101000000");
        assert_eq!(timestamp(1_796_067_673), "20261130194113");
    }

    #[test]
    fn generated_key_loads_and_mismatch_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let zone = Name::from_ascii("test.example.").expect("name");
        for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Ed25519] {
            let g = generate(&zone, alg, 257, dir.path()).expect("generate");
            let k = load(&g.private_file, &zone).expect("load");
            assert_eq!(k.public, g.public);
            assert!(!format!("{k:?}").contains("PrivateKey"));
        }
        let other = Name::from_ascii("other.example.").expect("name");
        let g = generate(&zone, KeyAlgorithm::EcdsaP256, 256, dir.path()).expect("generate");
        let err = load(&g.key_file, &other).expect_err("wrong zone");
        assert!(err.to_string().contains("not for the zone"), "{err}");
        // The private half of another key: a mismatch naming the file.
        let g2 = generate(&zone, KeyAlgorithm::EcdsaP256, 256, dir.path()).expect("generate");
        std::fs::copy(&g2.private_file, &g.private_file).expect("copy");
        let err = load(&g.key_file, &zone).expect_err("mismatch");
        assert!(err.to_string().contains("does not match"), "{err}");
        assert!(err.to_string().contains(".private"), "{err}");
    }

    /// `dnssec-keygen` writes an ECDSA scalar whose first byte is zero
    /// in 31 bytes (2 of 700 keys made with BIND 9.18): such a key loads.
    #[test]
    fn an_ecdsa_key_written_without_its_leading_zero_loads()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let zone = Name::from_ascii("test.example.")?;
        // One key in 256 starts with a zero byte: make keys until one does.
        for _ in 0..10_000 {
            let g = generate(&zone, KeyAlgorithm::EcdsaP256, 257, dir.path())?;
            let text = std::fs::read_to_string(&g.private_file)?;
            let line = text
                .lines()
                .find_map(|l| l.strip_prefix("PrivateKey: "))
                .ok_or("no PrivateKey line")?;
            let scalar = BASE64.decode(line.as_bytes())?;
            let Some((0, rest)) = scalar.split_first() else {
                std::fs::remove_file(&g.private_file)?;
                std::fs::remove_file(&g.key_file)?;
                continue;
            };
            let short = BASE64.encode(rest);
            std::fs::write(&g.private_file, text.replace(line, &short))?;
            let k = load(&g.private_file, &zone)?;
            assert_eq!(k.public, g.public);
            return Ok(());
        }
        Err("no key with a leading zero byte in 10,000".into())
    }
}
